/* qcow2 driver internals, shared by qcow2.c (header, open, create),
 * qcow2_meta.c (metadata cache, refcounts, allocation), qcow2_rw.c
 * (guest reads and writes) and qcow2_check.c (check and repair).
 *
 * The format is qemu/qemu docs/interop/qcow2.txt.  All on-disk integers
 * are big-endian; the in-memory copies of the L1 and refcount tables are
 * in host order.
 *
 * Crash safety.  Metadata lives in a write-back cache and reaches the disk
 * only in q2_flush_meta(), in this order, each step synced before the
 * next (a power cut may keep the writes made between two syncs in any
 * order, so an order without a sync between is no order):
 *   1. refcount blocks (new allocations are counted before anything
 *      references them), then fdatasync - which also makes durable the
 *      guest data written to new clusters;
 *   2. L2 tables, fdatasync, then the L1 table (an L2 table is on disk
 *      before the L1 entry naming it), then fdatasync;
 *   3. only now are clusters that stopped being referenced given back
 *      (q2_defer_free: their refcounts drop), and those refcount blocks are
 *      written and synced.
 * Guest data is written to freshly allocated clusters before the L2 entry
 * that points to it.  So at any crash point a refcount is never lower than
 * the references to its cluster: the worst outcome is a leak.
 * VK_OPEN_NOFLUSH drops the fdatasyncs (qemu-img's cache=unsafe), keeping
 * the order. */
#ifndef VK_BLOCK_QCOW2_INT_H
#define VK_BLOCK_QCOW2_INT_H

#include "block/blockdev.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QCOW2_MAGIC            0x514649fbu
#define QCOW2_OFLAG_COPIED     (1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO       1ULL
#define QCOW2_OFFSET_MASK      0x00fffffffffffe00ULL  /* L1, L2 entries */
#define QCOW2_RT_OFFSET_MASK   0xfffffffffffffe00ULL  /* refcount table */
#define QCOW2_MAX_L1_BYTES     (32u << 20)            /* as QEMU */
#define QCOW2_MAX_RT_BYTES     (8u << 20)
#define QCOW2_MAX_SNAPSHOTS    65536
#define QCOW2_MAX_HOST_OFFSET  (1ULL << 56)
#define QCOW2_MAX_SNAPSHOT_EXTRA 1024u                /* QEMU's limits */
#define QCOW2_MAX_SNAPSHOT_TABLE (64u << 20)
#define QCOW2_MAX_BITMAPS      65535u
#define QCOW2_MAX_BITMAP_DIR   (1024u * QCOW2_MAX_BITMAPS)
#define QCOW2_MAX_BITMAP_TABLE 0x8000000u

enum {
    QCOW2_INCOMPAT_DIRTY       = 1 << 0,
    QCOW2_INCOMPAT_CORRUPT     = 1 << 1,
    QCOW2_INCOMPAT_DATA_FILE   = 1 << 2,
    QCOW2_INCOMPAT_COMPRESSION = 1 << 3,
    QCOW2_INCOMPAT_EXTL2       = 1 << 4,
    QCOW2_COMPAT_LAZY_REFCOUNTS = 1 << 0,
    QCOW2_AUTOCLEAR_BITMAPS    = 1 << 0,
    QCOW2_AUTOCLEAR_DATA_FILE_RAW = 1 << 1,
};

/* Header extension types (docs/interop/qcow2.txt). */
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE  0x6803f857u
#define QCOW2_EXT_BITMAPS        0x23852875u
#define QCOW2_EXT_CRYPTO         0x0537be77u
#define QCOW2_EXT_DATA_FILE      0x44415441u
#define QCOW2_HEADER_V3_LEN      112u   /* the fields this driver knows */

enum { QCOW2_COMP_ZLIB = 0, QCOW2_COMP_ZSTD = 1 };

/* One cached metadata cluster (an L2 table or a refcount block). */
struct q2_centry {
    uint64_t off;       /* host offset; 0 = empty slot */
    uint8_t *data;      /* one cluster, on-disk (big-endian) layout */
    uint64_t used;      /* LRU tick */
    bool dirty;
};

struct q2_cache {
    struct q2_centry *e;
    int n;
    uint64_t tick;
    int last;           /* index of the entry returned last (fast path) */
};

/* A header extension we keep verbatim when rewriting the header. */
struct q2_ext {
    uint32_t type, len;
    uint8_t *data;
};

/* A range of host clusters to give back after the next metadata flush. */
struct q2_free {
    uint64_t off, n;
};

struct q2 {
    struct vk_blockdev *bd;
    int fd;
    bool writable, nosync;

    /* header */
    uint32_t version;
    uint32_t cluster_bits, cs;      /* cluster size in bytes */
    uint64_t l2_entries;            /* entries per L2 table */
    uint64_t incompat, compat, autoclear;
    uint32_t refcount_order;        /* refcount_bits = 1 << order */
    uint64_t rb_entries;            /* refcounts per refcount block */
    uint32_t header_length;
    uint8_t *hdr_extra;             /* header fields past QCOW2_HEADER_V3_LEN
                                       that we do not know: kept verbatim */
    uint32_t hdr_extra_len;
    int compression;                /* QCOW2_COMP_* */
    uint32_t nb_snapshots;
    uint64_t snapshots_off;
    char *backing_file, *backing_fmt;
    struct q2_ext *ext;
    int next;

    /* L1 table, in memory (host order) */
    uint64_t l1_off;
    uint32_t l1_size;
    uint64_t *l1;
    bool l1_dirty;

    /* refcount table, in memory; may hold more entries than the on-disk
     * table while q2_alloc() is relocating it */
    uint64_t rt_off;
    uint32_t rt_clusters;
    uint64_t *rt;
    uint64_t rt_entries;            /* in memory */
    uint64_t rt_disk_entries;       /* fit in the table on disk */

    uint64_t file_size;             /* host file size as we extend it */
    uint64_t free_hint;             /* first cluster index that may be free */
    uint64_t cbyte_off;             /* next free byte for compressed data
                                       (0: none open) */

    struct q2_cache l2c, rbc;
    struct q2_free *frees;
    size_t nfrees, capfrees;

    /* decompression: the last cluster decompressed, by its L2 entry */
    uint8_t *zbuf, *dbuf;
    uint64_t dbuf_l2e;
};

static inline uint64_t q2_be64(const uint8_t *p)
{
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
           (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
           (uint64_t)p[6] << 8 | p[7];
}
static inline uint32_t q2_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint16_t q2_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}
static inline void q2_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static inline void q2_put32(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* The largest refcount the image's refcount width holds. */
static inline uint64_t q2_rc_max(const struct q2 *s)
{
    return s->refcount_order == 6 ? UINT64_MAX : (1ULL << (1u << s->refcount_order)) - 1;
}

/* Compressed cluster descriptor fields (docs/interop/qcow2.txt). */
static inline int q2_csize_shift(const struct q2 *s) { return 62 - ((int)s->cluster_bits - 8); }
static inline uint64_t q2_coffset(const struct q2 *s, uint64_t l2e)
{
    return l2e & ((1ULL << q2_csize_shift(s)) - 1);
}
static inline uint64_t q2_csectors(const struct q2 *s, uint64_t l2e)
{
    return ((l2e & ~QCOW2_OFLAG_COPIED) >> q2_csize_shift(s) &
            ((1ULL << (s->cluster_bits - 8)) - 1)) + 1;
}

/* qcow2_meta.c */
int q2_cache_init(struct q2 *s, struct q2_cache *c, size_t budget);
void q2_cache_free(struct q2_cache *c);
/* The cached cluster at host offset off, read from disk unless load is
 * false (then zero-filled: a new table).  The pointer is valid until the
 * next q2_cache_get() on the same cache.  Mark changes with *dirty. */
int q2_cache_get(struct q2 *s, struct q2_cache *c, uint64_t off, bool load,
                 struct q2_centry **out);
void q2_cache_drop(struct q2_cache *c, uint64_t off);
int q2_flush_meta(struct q2 *s);
int q2_get_refcount(struct q2 *s, uint64_t cluster, uint64_t *rc);
/* Store refcount v as entry i of refcount block b, entries 2^order bits wide. */
void q2_rb_set(uint32_t order, uint8_t *b, uint64_t i, uint64_t v);
int q2_set_refcount(struct q2 *s, uint64_t cluster, uint64_t rc);
/* Allocate n contiguous free clusters (refcount 1 each): *off is the host
 * offset of the first. */
int q2_alloc(struct q2 *s, uint64_t n, uint64_t *off);
/* Give back n clusters at host offset off after the next flush. */
int q2_defer_free(struct q2 *s, uint64_t off, uint64_t n);
/* Give back what an L2 entry holds (normal, zero-allocated or compressed). */
int q2_defer_free_l2e(struct q2 *s, uint64_t l2e);
int q2_host_read(struct q2 *s, void *buf, size_t len, uint64_t off);
int q2_host_write(struct q2 *s, const void *buf, size_t len, uint64_t off);
/* Write the n buffers of iov one after the other at host offset off. */
struct iovec;
int q2_host_writev(struct q2 *s, struct iovec *iov, int n, uint64_t off);
/* A table of n big-endian 64-bit entries at host offset off, read into a
 * malloc'd host-order array / written from one (L1, refcount table). */
int q2_read_table(struct q2 *s, uint64_t off, uint64_t n, uint64_t **out);
int q2_write_table(struct q2 *s, const uint64_t *t, uint64_t n, uint64_t off);
int q2_sync(struct q2 *s);

/* qcow2.c */
int q2_write_header(struct q2 *s);
/* The header extension of this type, or NULL. */
const struct q2_ext *q2_find_ext(const struct q2 *s, uint32_t type);
/* One internal snapshot table entry. */
struct q2_snap {
    uint64_t l1_off;
    uint32_t l1_size;
    uint64_t len;       /* bytes the entry takes, padding included */
};
/* Read the snapshot table entry at host offset pos; refuses (-EINVAL) an
 * entry with more extra data than QEMU accepts. */
int q2_read_snapshot(struct q2 *s, uint64_t pos, struct q2_snap *sn);
/* True when [off, off+len) lies inside the file, without overflowing on
 * hostile values. */
static inline bool q2_in_file(const struct q2 *s, uint64_t off, uint64_t len)
{
    return off <= s->file_size && len <= s->file_size - off;
}

/* qcow2_rw.c */
int q2_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off);
int q2_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off);
int q2_pwrite_compressed(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off);
int q2_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags);
int q2_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                    uint64_t *pnum, uint64_t *host_off);
/* Make guest clusters [off, off+len) allocated without writing data
 * (preallocation); the clusters read as whatever the file holds there. */
int q2_preallocate(struct q2 *s, uint64_t off, uint64_t len, uint64_t *first_host,
                   uint64_t *end_host);
/* Drop every cluster from guest offset off (cluster-aligned) to the end. */
int q2_discard_tail(struct q2 *s, uint64_t off, bool *had_data, bool dry_run);

/* qcow2_check.c */
int q2_check(struct vk_blockdev *bd, struct vk_check_report *r, int repair);
/* Before the first write to an image of moderate size: refuse (-EUCLEAN)
 * when its metadata is inconsistent, so a write cannot land on a cluster
 * that is in use but counted free. */
int q2_verify(struct q2 *s);
/* Set the COPIED flags of the active L1 and L2 entries exactly where the
 * cluster's refcount (in the cache) is 1; changed tables are marked dirty. */
int q2_fix_copied(struct q2 *s);
/* Rebuild all refcounts from the metadata (dirty images, check -r all). */
int q2_rebuild_refcounts(struct q2 *s, struct vk_check_report *r);

#endif
