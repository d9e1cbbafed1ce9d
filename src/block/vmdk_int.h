/* VMDK driver internals, shared by vmdk.c (the format: open, create, the
 * guest I/O spread over extents, info), vmdk_desc.c (the text descriptor)
 * and vmdk_sparse.c (hosted sparse extents, "KDMV", plain and
 * stream-optimized).
 *
 * The format is VMware's "Virtual Disk Format 5.0" as qemu/qemu
 * block/vmdk.c implements it.  A disk is a list of extents laid end to end;
 * a descriptor (a text file of its own, or embedded at sector 1 of a
 * monolithic sparse file) names them.  A sparse extent maps grains
 * (granularity sectors each) through a grain directory (GD) of grain
 * tables (GT, num_gtes_per_gt 32-bit sector numbers each); 0 is "not
 * allocated", 1 (with the zeroed-grain flag) "reads as zeroes".  All
 * on-disk integers are little-endian; the in-memory tables are in host
 * order.
 *
 * Crash safety: a new grain is written (and, unless VK_OPEN_NOFLUSH,
 * synced) before the grain-table entries that point at it, in the primary
 * and the redundant table.  A crash can leak a grain, never map garbage.
 * Stream-optimized extents take whole grains, each once, appended
 * compressed at the end of the file (qemu-img convert's way). */
#ifndef VK_BLOCK_VMDK_INT_H
#define VK_BLOCK_VMDK_INT_H

#include "block/blockdev.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VMDK_SECTOR      512u
#define VMDK4_MAGIC      0x564d444bu   /* "KDMV" read as little-endian */
#define VMDK_GD_AT_END   0xffffffffffffffffULL
#define VMDK_GTE_ZEROED  1u
#define VMDK_MAX_GRAIN_SECTORS 0x200000u /* 1 GiB: as QEMU */
#define VMDK_MAX_GTES    512u           /* entries per grain table, as QEMU */
#define VMDK_MAX_GD      (32u << 20)    /* grain directory entries, as QEMU */
#define VMDK_MAX_DESC    (1u << 20)     /* a descriptor file is read whole */
#define VMDK_MAX_EXTENTS 4096u
#define VMDK_SPLIT_SIZE  0x80000000ULL  /* twoGbMaxExtent* extent size */

enum {
    VMDK_FLAG_NL_DETECT = 1u << 0,
    VMDK_FLAG_RGD       = 1u << 1,
    VMDK_FLAG_ZERO_GRAIN = 1u << 2,
    VMDK_FLAG_COMPRESS  = 1u << 16,
    VMDK_FLAG_MARKER    = 1u << 17,
};

enum { VMDK_MARKER_EOS = 0, VMDK_MARKER_GT = 1, VMDK_MARKER_GD = 2, VMDK_MARKER_FOOTER = 3 };

/* The sparse extent header after the 4-byte magic (79 bytes, packed). */
struct vmdk4_header {
    uint32_t version;
    uint32_t flags;
    uint64_t capacity;          /* sectors */
    uint64_t granularity;       /* sectors per grain */
    uint64_t desc_offset;       /* sectors */
    uint64_t desc_size;
    uint32_t num_gtes_per_gt;
    uint64_t rgd_offset;
    uint64_t gd_offset;
    uint64_t grain_offset;
    char     filler;
    char     check_bytes[4];    /* "\n \r\n": detects text-mode transfers */
    uint16_t compress_algorithm;
} __attribute__((packed));

enum vmdk_ext_type { VMDK_EXT_FLAT, VMDK_EXT_SPARSE, VMDK_EXT_ZERO };

struct vmdk_extent {
    char    *path;              /* the file, for messages and info */
    char    *type_name;         /* as in the descriptor ("FLAT"); "" embedded */
    int      fd;                /* -1 for ZERO extents */
    bool     own_fd;            /* false: the image's own fd (monolithic) */
    bool     rw;                /* opened for writing */
    enum vmdk_ext_type type;
    uint64_t start;             /* guest byte where the extent begins */
    uint64_t size;              /* guest bytes it covers */
    uint64_t flat_off;          /* FLAT: byte offset of its data in the file */
    /* SPARSE only */
    uint32_t version, flags;
    bool     compressed, markers, zero_grain;
    uint64_t grain;             /* bytes per grain */
    uint32_t gtes;              /* entries per grain table */
    uint32_t n_gt;              /* grain directory entries */
    uint64_t cap;               /* the header's capacity (sectors) */
    uint64_t gd_off, rgd_off;   /* bytes; rgd_off 0: no redundant directory */
    uint64_t grain_start;       /* header's grain_offset, bytes */
    uint32_t *gd, *rgd;         /* n_gt sector numbers */
    uint32_t *gt;               /* n_gt * gtes entries: every table, in order */
    uint64_t next;              /* where the next new grain goes (bytes) */
    uint64_t file_size;
    uint8_t *cache;             /* one decompressed grain (compressed extents) */
    uint64_t cache_idx;         /* its grain number + 1; 0: empty */
    uint8_t *zbuf;              /* marker + deflated grain being written */
    void    *zs;                /* the deflate stream, reused grain to grain */
    void    *zi;                /* the inflate stream, likewise */
    uint64_t dirty_lo, dirty_hi;/* grain entries changed in memory only */
};

struct vmdk {
    int      fd;                /* the image file: descriptor or monolithic */
    struct vmdk_extent *ext;
    size_t   n_ext;
    char    *create_type;
    uint32_t cid, parent_cid;
    uint64_t desc_off;          /* where the descriptor text is in fd */
    uint64_t desc_len;          /* room for it (bytes); 0: none (a monolithic
                                   file without one) or a descriptor file */
    char    *specific;          /* format-specific info, JSON text */
};

/* One extent line of a descriptor. */
struct vmdk_desc_extent {
    bool     rw;                /* RW (RDONLY and NOACCESS are read only) */
    uint64_t sectors;
    char     type[12];          /* FLAT, SPARSE, ZERO, VMFS, VMFSSPARSE... */
    char    *file;              /* NULL for ZERO */
    uint64_t offset;            /* FLAT: sectors into the file */
};

struct vmdk_desc {
    char    *create_type;
    uint32_t cid, parent_cid;
    bool     has_parent;        /* parentFileNameHint present */
    struct vmdk_desc_extent *ext;
    size_t   n_ext;
};

/* Parse descriptor text (len bytes, need not be NUL-terminated) of the
 * image name into d.  Refuses extent file names that would leave the
 * descriptor's directory (absolute paths, "..") and malformed extent
 * lines.  Returns 0 or -errno after vk_error; free d with
 * vmdk_desc_free() in both cases. */
int vmdk_desc_parse(const char *name, const char *text, size_t len, struct vmdk_desc *d);
void vmdk_desc_free(struct vmdk_desc *d);

/* The descriptor text (len bytes, NUL padding allowed) of a disk grown
 * to size bytes: the last extent line says last_sectors, the lines in
 * extra (each ending in '\n', may be "") follow it, and
 * ddb.geometry.cylinders is recomputed from the heads and sectors lines.
 * Every other byte is kept.  Returns malloc'd text, or NULL (out of
 * memory, or no extent line). */
char *vmdk_desc_regrow(const char *text, size_t len, uint64_t last_sectors, const char *extra,
                       uint64_t size);

/* Options of a new image, as qemu-img's -o. */
struct vmdk_create {
    const char *subformat;      /* monolithicSparse (default), monolithicFlat,
                                   twoGbMaxExtentSparse/Flat, streamOptimized */
    const char *adapter_type;   /* ide (default), lsilogic, buslogic, legacyESX */
    const char *hwversion;      /* "4" by default */
    bool zeroed_grain;
};

/* The descriptor text qemu-img writes (malloc'd).  extents holds the
 * extent lines, each ending in '\n'. */
char *vmdk_desc_make(uint32_t cid, const char *create_type, const char *extents,
                     uint64_t size, const struct vmdk_create *o);

/* Open the sparse extent in e->fd (e->path for messages): header (or the
 * footer of a stream-optimized file), directories and every grain table,
 * all checked against the file size and each other.  capacity (sectors)
 * is returned for monolithic files; desc_off/desc_size (sectors) name an
 * embedded descriptor.  With tolerate (img check), grain entries pointing
 * past the end or at other data are counted in *bad instead of refused. */
int vmdk_sparse_open(struct vmdk_extent *e, uint64_t *capacity, uint64_t *desc_off,
                     uint64_t *desc_size, bool tolerate, uint64_t *bad);

/* Read len bytes at extent byte offset off (within one extent). */
int vmdk_sparse_read(struct vmdk_extent *e, void *buf, size_t len, uint64_t off);

/* Write len bytes at extent offset off, allocating grains as needed
 * (data first, then the grain-table entries).  sync: fdatasync between. */
int vmdk_sparse_write(struct vmdk_extent *e, const void *buf, size_t len, uint64_t off, bool sync);

/* Write the grain-table entries changed in memory only (writes made
 * without sync defer them: the data they point to is already written).
 * sync: fdatasync the data first. */
int vmdk_sparse_flush(struct vmdk_extent *e, bool sync);

/* Make [off, off+len) of the extent read as zeroes. */
int vmdk_sparse_zero(struct vmdk_extent *e, uint64_t off, uint64_t len, bool sync);

/* VK_BS_* status of the run at extent offset off (at most len bytes, the
 * length in *pnum); *host the file offset when VK_BS_OFFSET_VALID. */
int vmdk_sparse_status(struct vmdk_extent *e, uint64_t off, uint64_t len,
                       uint64_t *pnum, uint64_t *host);

/* Lay out a new, empty sparse extent of size bytes in fd: header, room for
 * an embedded descriptor if desc, redundant and primary directories and
 * tables, rounded up to a grain.  compress: stream-optimized. */
int vmdk_sparse_create(int fd, const char *name, uint64_t size, bool desc,
                       bool compress, bool zeroed_grain);

/* Grow the sparse extent e so its header holds `bytes` (e->size, what the
 * guest sees of it, is the caller's).  New zeroed grain tables go behind
 * the last grain (primary and redundant); each directory takes their
 * entries in its last sector's room, or moves behind them.  Written and
 * synced first; then the header sector (capacity and directory offsets,
 * one write), synced: a crash leaves the old extent, with unused space at
 * its end, or the new one.  A header that already holds bytes (an
 * interrupted resize) is left as it is.  Stream-optimized extents are
 * refused. */
int vmdk_sparse_grow(struct vmdk_extent *e, uint64_t bytes);

/* Free what vmdk_sparse_open allocated. */
void vmdk_extent_free(struct vmdk_extent *e);

/* Little-endian helpers. */
static inline uint32_t vmdk_le32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t vmdk_le64(const void *p)
{
    return vmdk_le32(p) | (uint64_t)vmdk_le32((const uint8_t *)p + 4) << 32;
}

#endif
