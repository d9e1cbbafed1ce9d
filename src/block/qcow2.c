/* qcow2: QEMU's copy-on-write image format, versions 2 and 3.
 *
 * This file: probing, the header (reading and validating it, rewriting
 * it), opening with the backing chain, creating, info, resize, backing
 * changes, flush and close.  Guest I/O is in qcow2_rw.c, metadata in
 * qcow2_meta.c, check/repair in qcow2_check.c.
 *
 * Refused with a clear error: encryption, external data files, extended
 * L2 entries, unknown incompatible features, and writing to an image
 * marked corrupt.  Internal snapshots are kept untouched (shared clusters
 * are copied before a write); resizing an image that has them is refused.
 * A dirty image (lazy refcounts) gets its refcounts rebuilt before it is
 * written. */
#include "block/qcow2_int.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int q2_probe(const uint8_t *buf, size_t len, const char *filename)
{
    /* Version 1 is the older qcow format (block/foreign.c refuses it). */
    return len >= 8 && q2_be32(buf) == QCOW2_MAGIC && q2_be32(buf + 4) >= 2 ? 100 : 0;
}

/* Images being opened, to catch a backing chain that loops.  The stack
 * lives only while one vk_bd_open() recurses down a chain, always in one
 * thread, so it is per thread: opens in other threads do not see it. */
static _Thread_local struct { dev_t dev; ino_t ino; } opening[64];
static _Thread_local int nopening;

static const char *feature_name(int type, int bit)
{
    static const char *const incompat[] = { "dirty bit", "corrupt bit", "external data file",
                                            "compression type", "extended L2 entries" };
    if (type == 0 && bit < 5)
        return incompat[bit];
    if (type == 1 && bit == 0)
        return "lazy refcounts";
    if (type == 2 && bit == 0)
        return "bitmaps";
    if (type == 2 && bit == 1)
        return "raw external data";
    return NULL;
}

/* Build the header cluster from s and write it at offset 0. */
int q2_write_header(struct q2 *s)
{
    uint8_t *h = calloc(1, s->cs);
    if (!h)
        return vk_error(-ENOMEM, "out of memory");
    uint32_t hl = s->version >= 3 ? QCOW2_HEADER_V3_LEN + s->hdr_extra_len : 72;
    q2_put32(h, QCOW2_MAGIC);
    q2_put32(h + 4, s->version);
    q2_put32(h + 20, s->cluster_bits);
    q2_put64(h + 24, s->bd->size);
    q2_put32(h + 36, s->l1_size);
    q2_put64(h + 40, s->l1_off);
    q2_put64(h + 48, s->rt_off);
    q2_put32(h + 56, s->rt_clusters);
    q2_put32(h + 60, s->nb_snapshots);
    q2_put64(h + 64, s->snapshots_off);
    if (s->version >= 3) {
        q2_put64(h + 72, s->incompat);
        q2_put64(h + 80, s->compat);
        q2_put64(h + 88, s->autoclear);
        q2_put32(h + 96, s->refcount_order);
        q2_put32(h + 100, hl);
        h[104] = (uint8_t)s->compression;
        if (s->hdr_extra_len)
            memcpy(h + QCOW2_HEADER_V3_LEN, s->hdr_extra, s->hdr_extra_len);
    }
    size_t p = hl, blen = s->backing_file ? strlen(s->backing_file) : 0;
    int r = 0;
#define ROOM(n) (p + (n) + 8 + blen <= s->cs)
    if (s->backing_file && s->backing_fmt) {
        size_t l = strlen(s->backing_fmt);
        if (!ROOM(8 + (l + 7) / 8 * 8))
            goto full;
        q2_put32(h + p, QCOW2_EXT_BACKING_FORMAT);
        q2_put32(h + p + 4, (uint32_t)l);
        memcpy(h + p + 8, s->backing_fmt, l);
        p += 8 + (l + 7) / 8 * 8;
    }
    for (int i = 0; i < s->next; i++) {
        size_t l = (s->ext[i].len + 7) / 8 * 8;
        /* Bitmaps are valid only with their autoclear bit; a writer that
         * cleared it drops the extension, as QEMU does on its next open
         * (the bitmap clusters become leaks, never dangling). */
        if (s->ext[i].type == QCOW2_EXT_BITMAPS && !(s->autoclear & QCOW2_AUTOCLEAR_BITMAPS))
            continue;
        if (!ROOM(8 + l))
            goto full;
        q2_put32(h + p, s->ext[i].type);
        q2_put32(h + p + 4, s->ext[i].len);
        memcpy(h + p + 8, s->ext[i].data, s->ext[i].len);
        p += 8 + l;
    }
    if (s->version >= 3) {
        /* The feature name table, when it fits (QEMU writes one too). */
        static const uint8_t feats[][2] = { {0,0},{0,1},{0,2},{0,3},{0,4},{1,0},{2,0},{2,1} };
        size_t n = sizeof feats / sizeof feats[0];
        if (ROOM(8 + 48 * n)) {
            q2_put32(h + p, QCOW2_EXT_FEATURE_TABLE);
            q2_put32(h + p + 4, (uint32_t)(48 * n));
            for (size_t i = 0; i < n; i++) {
                uint8_t *f = h + p + 8 + 48 * i;
                f[0] = feats[i][0];
                f[1] = feats[i][1];
                snprintf((char *)f + 2, 46, "%s", feature_name(feats[i][0], feats[i][1]));
            }
            p += 8 + 48 * n;
        }
    }
    if (!ROOM(0))
        goto full;
#undef ROOM
    p += 8;   /* end of extensions */
    if (s->backing_file) {
        q2_put64(h + 8, p);
        q2_put32(h + 16, (uint32_t)blen);
        memcpy(h + p, s->backing_file, blen);
    }
    r = q2_host_write(s, h, s->cs, 0);
    free(h);
    return r;
full:
    free(h);
    return vk_error(-ENOSPC, "%s: the header and its extensions do not fit in one %u-byte cluster",
                    s->bd->name, s->cs);
}

static void q2_free_state(struct q2 *s)
{
    q2_cache_free(&s->l2c);
    q2_cache_free(&s->rbc);
    free(s->l1);
    free(s->rt);
    free(s->frees);
    free(s->zbuf);
    free(s->dbuf);
    free(s->backing_file);
    free(s->backing_fmt);
    free(s->hdr_extra);
    for (int i = 0; i < s->next; i++)
        free(s->ext[i].data);
    free(s->ext);
}

static int q2_close(struct vk_blockdev *bd)
{
    struct q2 *s = bd->priv;
    int r = 0;
    if (s->writable) {
        r = q2_flush_meta(s);
        if (r == 0)
            r = q2_sync(s);
    }
    q2_free_state(s);
    close(s->fd);
    vk_bd_free(bd);
    return r;
}

static int q2_flush(struct vk_blockdev *bd)
{
    struct q2 *s = bd->priv;
    int r = q2_flush_meta(s);
    if (r < 0)
        return r;
    if (s->writable && fdatasync(s->fd) < 0 && errno != EINVAL)
        return vk_error(-errno, "%s: flush: %s", bd->name, strerror(errno));
    return 0;
}

static int q2_info(struct vk_blockdev *bd, struct vk_imginfo *info)
{
    struct q2 *s = bd->priv;
    struct stat st;
    if (fstat(s->fd, &st) == 0)
        info->disk_size = (uint64_t)st.st_blocks * 512;
    info->cluster_size = s->cs;
    info->version = (int)s->version;
    info->backing_file = s->backing_file;
    info->backing_format = s->backing_fmt;
    info->compression = s->version >= 3 ? (s->compression == QCOW2_COMP_ZSTD ? "zstd" : "zlib") : NULL;
    info->dirty = s->incompat & QCOW2_INCOMPAT_DIRTY;
    info->corrupt = s->incompat & QCOW2_INCOMPAT_CORRUPT;
    info->lazy_refcounts = s->compat & QCOW2_COMPAT_LAZY_REFCOUNTS;
    info->refcount_bits = 1 << s->refcount_order;
    info->nb_snapshots = (int)s->nb_snapshots;
    info->extended_l2 = false;
    return 0;
}

static int q2_set_backing(struct vk_blockdev *bd, const char *file, const char *fmt)
{
    struct q2 *s = bd->priv;
    char *nf = file && *file ? strdup(file) : NULL, *nfmt = nf && fmt ? strdup(fmt) : NULL;
    if ((file && *file && !nf) || (nf && fmt && !nfmt)) {
        free(nf);
        return vk_error(-ENOMEM, "out of memory");
    }
    if (nf && strlen(nf) > 1023) {
        free(nf);
        free(nfmt);
        return vk_error(-ENAMETOOLONG, "%s: backing file name longer than 1023 bytes", bd->name);
    }
    char *of = s->backing_file, *ofmt = s->backing_fmt;
    s->backing_file = nf;
    s->backing_fmt = nfmt;
    int r = q2_flush_meta(s);
    if (r == 0)
        r = q2_write_header(s);
    if (r < 0) {
        s->backing_file = of;
        s->backing_fmt = ofmt;
        free(nf);
        free(nfmt);
        return r;
    }
    free(of);
    free(ofmt);
    return q2_sync(s);
}

static int grow_l1(struct q2 *s, uint64_t entries)
{
    if (entries * 8 > QCOW2_MAX_L1_BYTES)
        return vk_error(-EFBIG, "%s: the L1 table would exceed %u MiB", s->bd->name, QCOW2_MAX_L1_BYTES >> 20);
    uint64_t nc = (entries * 8 + s->cs - 1) / s->cs, h;
    int r = q2_alloc(s, nc, &h);
    if (r < 0)
        return r;
    uint64_t *nl = calloc((size_t)(nc * s->cs / 8), sizeof *nl);
    if (!nl)
        return vk_error(-ENOMEM, "out of memory");
    memcpy(nl, s->l1, (size_t)s->l1_size * 8);
    /* The L2 tables it names, its own refcounts, then the new table, on
     * disk before the header names it. */
    if ((r = q2_flush_meta(s)) < 0 || (r = q2_write_table(s, nl, nc * s->cs / 8, h)) < 0 ||
        (r = q2_sync(s)) < 0) {
        free(nl);
        return r;
    }
    uint64_t old = s->l1_off, oldc = ((uint64_t)s->l1_size * 8 + s->cs - 1) / s->cs;
    free(s->l1);
    s->l1 = nl;
    s->l1_size = (uint32_t)entries;
    s->l1_off = h;
    if ((r = q2_write_header(s)) < 0 || (r = q2_sync(s)) < 0)
        return r;
    return old && s->l1_size ? q2_defer_free(s, old, oldc) : 0;
}

static int q2_truncate(struct vk_blockdev *bd, uint64_t size, bool allow_shrink)
{
    struct q2 *s = bd->priv;
    int r;
    /* Snapshots keep their own L1 tables and sizes (version 3 records
     * each snapshot's disk size): growing leaves them as they are. */
    if (s->nb_snapshots && (size < bd->size || s->version < 3))
        return vk_error(-ENOTSUP, "%s: cannot %s an image that has internal snapshots", bd->name,
                        size < bd->size ? "shrink" : "resize a version 2");
    uint64_t span = s->l2_entries * s->cs, from = (size + s->cs - 1) / s->cs * s->cs;
    bool had = false;
    if (size > bd->size) {
        uint64_t need = size / span + (size % span != 0);
        if (need > s->l1_size && (r = grow_l1(s, need)) < 0)
            return r;
    } else if (size < bd->size) {
        if ((r = q2_discard_tail(s, from, &had, true)) < 0)
            return r;
        if (had && !allow_shrink)
            return vk_error(-ENOTEMPTY, "%s: shrinking would discard allocated data beyond %llu bytes (use --shrink)",
                            bd->name, (unsigned long long)size);
    }
    /* The new size reaches the disk first: a crash after it leaves the new
     * disk (clusters past the end are harmless until they are dropped); a
     * crash before it the old one, with its tail intact. */
    uint64_t old = bd->size;
    bd->size = size;
    if ((r = q2_flush_meta(s)) < 0 || (r = q2_write_header(s)) < 0 || (r = q2_sync(s)) < 0) {
        bd->size = old;
        return r;
    }
    if (had && ((r = q2_discard_tail(s, from, &had, false)) < 0 || (r = q2_flush_meta(s)) < 0 ||
                (r = q2_sync(s)) < 0))
        return r;
    return 0;
}

static const struct vk_blockdev_ops q2_ops = {
    .pread = q2_pread,
    .pwrite = q2_pwrite,
    .pwrite_compressed = q2_pwrite_compressed,
    .flush = q2_flush,
    .write_zeroes = q2_write_zeroes,
    .block_status = q2_block_status,
    .truncate = q2_truncate,
    .info = q2_info,
    .check = q2_check,
    .set_backing = q2_set_backing,
    .close = q2_close,
};

#define BAD(...) do { r = vk_error(-EINVAL, __VA_ARGS__); goto fail; } while (0)

/* Header extensions between start and end of the header cluster h. */
static int read_extensions(struct q2 *s, const uint8_t *h, size_t start, size_t end, char **unknown_names,
                           const char *name)
{
    size_t p = start;
    while (p + 8 <= end) {
        uint32_t type = q2_be32(h + p), len = q2_be32(h + p + 4);
        if (type == 0)
            return 0;
        if (len > end - p - 8)
            return vk_error(-EINVAL, "%s: header extension 0x%08x runs past the header", name, type);
        const uint8_t *d = h + p + 8;
        if (type == QCOW2_EXT_BACKING_FORMAT) {
            if (len >= 16)   /* QEMU's limit: it refuses the image */
                return vk_error(-EINVAL, "%s: backing format name of %u bytes is too long", name, len);
            free(s->backing_fmt);
            if (!(s->backing_fmt = strndup((const char *)d, len)))
                return vk_error(-ENOMEM, "out of memory");
        } else if (type == QCOW2_EXT_FEATURE_TABLE) {
            /* Names for incompatible bits we do not know, for the error. */
            for (uint32_t i = 0; i + 48 <= len; i += 48) {
                if (d[i] != 0 || d[i + 1] >= 64 || !(s->incompat >> d[i + 1] & 1) || d[i + 1] < 5)
                    continue;
                char nm[48];
                snprintf(nm, sizeof nm, "%.46s", (const char *)d + i + 2);
                size_t ol = *unknown_names ? strlen(*unknown_names) : 0;
                char *n = realloc(*unknown_names, ol + strlen(nm) + 3);
                if (!n)
                    return vk_error(-ENOMEM, "out of memory");
                snprintf(n + ol, strlen(nm) + 3, "%s%s", ol ? ", " : "", nm);
                *unknown_names = n;
            }
        } else {
            struct q2_ext *v = realloc(s->ext, (size_t)(s->next + 1) * sizeof *v);
            if (!v)
                return vk_error(-ENOMEM, "out of memory");
            s->ext = v;
            v[s->next].type = type;
            v[s->next].len = len;
            if (!(v[s->next].data = malloc(len ? len : 1)))
                return vk_error(-ENOMEM, "out of memory");
            memcpy(v[s->next].data, d, len);
            s->next++;
        }
        p += 8 + ((size_t)len + 7) / 8 * 8;
    }
    return 0;
}

static bool overlap(uint64_t a, uint64_t al, uint64_t b, uint64_t bl)
{
    return al && bl && a < b + bl && b < a + al;
}

const struct q2_ext *q2_find_ext(const struct q2 *s, uint32_t type)
{
    for (int i = 0; i < s->next; i++)
        if (s->ext[i].type == type)
            return &s->ext[i];
    return NULL;
}

/* What QEMU's qcow2_read_extensions() and qcow2_do_open() refuse in the
 * extensions: an image QEMU cannot open must not open here either, or
 * img check would call it clean. */
static int check_extensions(struct q2 *s, const char *name)
{
    const struct q2_ext *e;
    if (q2_find_ext(s, QCOW2_EXT_CRYPTO))
        return vk_error(-EINVAL, "%s: encryption header extension in an image that is not LUKS-encrypted", name);
    if ((s->autoclear & QCOW2_AUTOCLEAR_DATA_FILE_RAW) && !(s->incompat & QCOW2_INCOMPAT_DATA_FILE))
        return vk_error(-EINVAL, "%s: the raw external data bit is set but there is no external data file", name);
    if (!(s->autoclear & QCOW2_AUTOCLEAR_BITMAPS) || !(e = q2_find_ext(s, QCOW2_EXT_BITMAPS)))
        return 0;   /* without its autoclear bit the extension is void */
    if (e->len != 24)
        return vk_error(-EINVAL, "%s: bitmaps extension of %u bytes (24 expected)", name, e->len);
    uint32_t nb = q2_be32(e->data);
    uint64_t dsize = q2_be64(e->data + 8), doff = q2_be64(e->data + 16);
    if (q2_be32(e->data + 4))
        return vk_error(-EINVAL, "%s: bitmaps extension: reserved field is not zero", name);
    if (nb == 0 || nb > QCOW2_MAX_BITMAPS)
        return vk_error(-EINVAL, "%s: bitmaps extension: %u bitmaps (1 to %u allowed)", name, nb,
                        QCOW2_MAX_BITMAPS);
    if (doff & (s->cs - 1))
        return vk_error(-EINVAL, "%s: bitmap directory offset %llu is not cluster-aligned", name,
                        (unsigned long long)doff);
    if (dsize == 0 || dsize > QCOW2_MAX_BITMAP_DIR)
        return vk_error(-EINVAL, "%s: bitmap directory size %llu is invalid", name, (unsigned long long)dsize);
    return 0;
}

int q2_read_snapshot(struct q2 *s, uint64_t pos, struct q2_snap *sn)
{
    uint8_t h[40];
    int r = q2_host_read(s, h, sizeof h, pos);
    if (r < 0)
        return r;
    sn->l1_off = q2_be64(h);
    sn->l1_size = q2_be32(h + 8);
    uint32_t extra = q2_be32(h + 36);
    if (extra > QCOW2_MAX_SNAPSHOT_EXTRA)
        return vk_error(-EINVAL, "%s: snapshot table entry at offset %llu has %u bytes of extra data (at most %u)",
                        s->bd->name, (unsigned long long)pos, extra, QCOW2_MAX_SNAPSHOT_EXTRA);
    sn->len = (40 + (uint64_t)extra + q2_be16(h + 12) + q2_be16(h + 14) + 7) / 8 * 8;
    return 0;
}

/* The internal snapshot table within QEMU's limits (qcow2_read_snapshots:
 * extra data per entry, the table's total size). */
static int check_snapshot_table(struct q2 *s, const char *name)
{
    uint64_t pos = s->snapshots_off;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        struct q2_snap sn;
        int r = q2_read_snapshot(s, pos, &sn);
        if (r < 0)
            return r;
        pos += sn.len;
        if (pos - s->snapshots_off > QCOW2_MAX_SNAPSHOT_TABLE)
            return vk_error(-EFBIG, "%s: the snapshot table is larger than %u MiB", name,
                            QCOW2_MAX_SNAPSHOT_TABLE >> 20);
    }
    return 0;
}

static int q2_open(int fd, const char *name, int flags, struct vk_blockdev **out)
{
    struct stat st;
    uint8_t *h = NULL;
    char *unknown = NULL;
    int r;
    struct vk_blockdev *bd = vk_bd_alloc(&q2_ops, &vk_format_qcow2, name, sizeof(struct q2));
    if (!bd) {
        close(fd);
        return vk_error(-ENOMEM, "%s: out of memory", name);
    }
    struct q2 *s = bd->priv;
    s->bd = bd;
    s->fd = fd;
    s->writable = flags & VK_OPEN_RDWR;
    s->nosync = flags & VK_OPEN_NOFLUSH;
    bd->flags = flags;
    bool pushed = false;

    if (fstat(fd, &st) < 0)
        BAD("%s: %s", name, strerror(errno));
    s->file_size = (uint64_t)st.st_size;
    uint8_t fixed[104] = { 0 };
    if (s->file_size < 72)
        BAD("%s: truncated qcow2 header (%llu bytes)", name, (unsigned long long)s->file_size);
    if ((r = q2_host_read(s, fixed, sizeof fixed, 0)) < 0)
        goto fail;
    if (q2_be32(fixed) != QCOW2_MAGIC)
        BAD("%s: not a qcow2 image", name);
    s->version = q2_be32(fixed + 4);
    if (s->version != 2 && s->version != 3)
        BAD("%s: unsupported qcow2 version %u", name, s->version);
    if (s->version == 3 && s->file_size < 104)
        BAD("%s: truncated qcow2 version 3 header (%llu bytes)", name, (unsigned long long)s->file_size);
    s->cluster_bits = q2_be32(fixed + 20);
    if (s->cluster_bits < 9 || s->cluster_bits > 21)
        BAD("%s: cluster size 2^%u is outside 512 B - 2 MiB", name, s->cluster_bits);
    s->cs = 1u << s->cluster_bits;
    s->l2_entries = s->cs / 8;
    if (!(h = malloc(s->cs)))
        BAD("%s: out of memory", name);
    if ((r = q2_host_read(s, h, s->cs, 0)) < 0)
        goto fail;
    if (q2_be32(h + 32))
        BAD("%s: encrypted qcow2 images are not supported", name);
    bd->size = q2_be64(h + 24);
    s->header_length = 72;
    s->refcount_order = 4;
    if (s->version == 3) {
        s->incompat = q2_be64(h + 72);
        s->compat = q2_be64(h + 80);
        s->autoclear = q2_be64(h + 88);
        s->refcount_order = q2_be32(h + 96);
        s->header_length = q2_be32(h + 100);
        if (s->header_length < 104 || s->header_length > s->cs)
            BAD("%s: header length %u is invalid", name, s->header_length);
        if (s->refcount_order > 6)
            BAD("%s: refcount width 2^%u bits is invalid", name, s->refcount_order);
        s->compression = s->header_length > 104 ? h[104] : 0;
        if (s->header_length > QCOW2_HEADER_V3_LEN) {
            s->hdr_extra_len = s->header_length - QCOW2_HEADER_V3_LEN;
            if (!(s->hdr_extra = malloc(s->hdr_extra_len)))
                BAD("%s: out of memory", name);
            memcpy(s->hdr_extra, h + QCOW2_HEADER_V3_LEN, s->hdr_extra_len);
        }
    }
    s->rb_entries = (uint64_t)s->cs * 8 >> s->refcount_order;

    uint64_t bf_off = q2_be64(h + 8);
    uint32_t bf_len = q2_be32(h + 16);
    if (bf_off) {
        if (bf_len > 1023)
            BAD("%s: backing file name too long (%u bytes)", name, bf_len);
        if (bf_off > s->cs || bf_len > s->cs - bf_off || !q2_in_file(s, bf_off, bf_len))
            BAD("%s: backing file name lies outside the header cluster", name);
        if (!(s->backing_file = strndup((const char *)h + bf_off, bf_len)))
            BAD("%s: out of memory", name);
    }
    if ((r = read_extensions(s, h, s->header_length, bf_off ? bf_off : s->cs, &unknown, name)) < 0)
        goto fail;

    uint64_t known = QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DATA_FILE |
                     QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2;
    if (s->incompat & ~known)
        BAD("%s: unsupported incompatible feature%s: %s (bits 0x%llx)", name, unknown && strchr(unknown, ',') ? "s" : "",
            unknown ? unknown : "unknown", (unsigned long long)(s->incompat & ~known));
    if (s->incompat & QCOW2_INCOMPAT_DATA_FILE)
        BAD("%s: qcow2 images with an external data file are not supported", name);
    if (s->incompat & QCOW2_INCOMPAT_EXTL2)
        BAD("%s: qcow2 images with extended L2 entries (extended_l2=on) are not supported", name);
    if (s->compression > QCOW2_COMP_ZSTD)
        BAD("%s: unknown compression type %d", name, s->compression);
    if (s->compression && !(s->incompat & QCOW2_INCOMPAT_COMPRESSION))
        BAD("%s: compression type set without its incompatible feature bit", name);
    if (!s->compression && (s->incompat & QCOW2_INCOMPAT_COMPRESSION))
        BAD("%s: compression type feature bit set for the default (zlib) compression", name);
    if ((r = check_extensions(s, name)) < 0)
        goto fail;
    if (s->writable && (s->incompat & QCOW2_INCOMPAT_CORRUPT) && !(flags & VK_OPEN_CHECK))
        BAD("%s: image is marked corrupt; it can only be opened read-only (repair: vmkit img check -r all)", name);

    /* Tables: aligned, inside the file, not over the header or each other. */
    s->l1_size = q2_be32(h + 36);
    s->l1_off = q2_be64(h + 40);
    s->rt_off = q2_be64(h + 48);
    s->rt_clusters = q2_be32(h + 56);
    s->nb_snapshots = q2_be32(h + 60);
    s->snapshots_off = q2_be64(h + 64);
    uint64_t span = s->l2_entries * s->cs;
    if (bd->size > QCOW2_MAX_HOST_OFFSET * 4)
        BAD("%s: virtual size %llu is absurd", name, (unsigned long long)bd->size);
    if ((uint64_t)s->l1_size * 8 > QCOW2_MAX_L1_BYTES)
        BAD("%s: L1 table size %u is absurd", name, s->l1_size);
    if ((uint64_t)s->l1_size < bd->size / span + (bd->size % span != 0))
        BAD("%s: L1 table (%u entries) too small for the virtual size", name, s->l1_size);
    uint64_t l1_bytes = (uint64_t)s->l1_size * 8, rt_bytes = (uint64_t)s->rt_clusters * s->cs;
    /* Offsets are checked even for empty tables: QEMU refuses such an
     * image, so check must not call it clean. */
    if (s->l1_off & (s->cs - 1))
        BAD("%s: L1 table offset %llu is not cluster-aligned", name, (unsigned long long)s->l1_off);
    if (s->l1_off > INT64_MAX - l1_bytes)   /* QEMU's qcow2_validate_table() */
        BAD("%s: L1 table offset %llu is invalid", name, (unsigned long long)s->l1_off);
    if (s->l1_size && !q2_in_file(s, s->l1_off, l1_bytes))
        BAD("%s: L1 table offset beyond end of file", name);
    if (!s->rt_clusters || rt_bytes > QCOW2_MAX_RT_BYTES)
        BAD("%s: refcount table size (%u clusters) is invalid", name, s->rt_clusters);
    if (s->rt_off & (s->cs - 1))
        BAD("%s: refcount table offset %llu is not cluster-aligned", name, (unsigned long long)s->rt_off);
    if (!q2_in_file(s, s->rt_off, rt_bytes))
        BAD("%s: refcount table offset beyond end of file", name);
    if (overlap(s->l1_off, l1_bytes, 0, s->cs))
        BAD("%s: L1 table overlaps the image header", name);
    if (overlap(s->rt_off, rt_bytes, 0, s->cs))
        BAD("%s: refcount table overlaps the image header", name);
    if (overlap(s->l1_off, l1_bytes, s->rt_off, rt_bytes))
        BAD("%s: L1 table and refcount table overlap", name);
    if (s->nb_snapshots > QCOW2_MAX_SNAPSHOTS)
        BAD("%s: %u snapshots is absurd", name, s->nb_snapshots);
    if ((s->snapshots_off & (s->cs - 1)) || s->snapshots_off > INT64_MAX - (uint64_t)s->nb_snapshots * 40 ||
        (s->nb_snapshots && (s->snapshots_off >= s->file_size || s->snapshots_off < s->cs)))
        BAD("%s: snapshot table offset %llu is invalid", name, (unsigned long long)s->snapshots_off);
    if ((r = check_snapshot_table(s, name)) < 0)
        goto fail;
    if ((r = q2_read_table(s, s->l1_off, s->l1_size, &s->l1)) < 0)
        goto fail;
    s->rt_disk_entries = s->rt_entries = rt_bytes / 8;
    if ((r = q2_read_table(s, s->rt_off, s->rt_entries, &s->rt)) < 0)
        goto fail;
    if ((r = q2_cache_init(s, &s->l2c, 4u << 20)) < 0 || (r = q2_cache_init(s, &s->rbc, 1u << 20)) < 0)
        goto fail;
    bd->cluster_size = s->cs;

    if (s->backing_file && !(flags & VK_OPEN_NOBACKING)) {
        for (int i = 0; i < nopening; i++)
            if (opening[i].dev == st.st_dev && opening[i].ino == st.st_ino)
                BAD("%s: the backing file chain loops back to this image", name);
        if (nopening == (int)(sizeof opening / sizeof opening[0]))
            BAD("%s: backing file chain deeper than %d images", name, nopening);
        opening[nopening].dev = st.st_dev;
        opening[nopening].ino = st.st_ino;
        nopening++;
        pushed = true;
        char *path = vk_backing_path(name, s->backing_file);
        if (!path)
            BAD("%s: out of memory", name);
        const char *fmt = s->backing_fmt && vk_format_by_name(s->backing_fmt) ? s->backing_fmt : NULL;
        r = vk_bd_open(path, fmt, (flags & VK_OPEN_NOLOCK), &bd->backing);
        free(path);
        nopening--;
        pushed = false;
        if (r < 0) {
            if (!strstr(vk_errmsg(), "backing file chain"))
                vk_error_prefix(r, "%s: backing file: ", name);
            goto fail;
        }
    }

    if (s->writable && !(flags & VK_OPEN_CHECK)) {
        bool rewrite = s->autoclear != 0;
        s->autoclear = 0;   /* we keep no bitmaps in step: tell QEMU so */
        if (s->incompat & QCOW2_INCOMPAT_DIRTY) {
            /* Lazy refcounts left them stale: rebuild before writing. */
            if ((r = q2_rebuild_refcounts(s, NULL)) < 0)
                goto fail;
            s->incompat &= ~(uint64_t)QCOW2_INCOMPAT_DIRTY;
            rewrite = true;
        }
        if ((r = q2_verify(s)) < 0)
            goto fail;
        if (rewrite && ((r = q2_write_header(s)) < 0 || (r = q2_sync(s)) < 0))
            goto fail;
    }
    free(h);
    free(unknown);
    *out = bd;
    return 0;
fail:
    if (pushed)
        nopening--;
    free(h);
    free(unknown);
    vk_bd_close(bd->backing);
    q2_free_state(s);
    close(fd);
    vk_bd_free(bd);
    return r;
}

/* ---- create --------------------------------------------------------- */

/* Write zeroes over the holes of the file in [first, end): the data
 * clusters preallocation made.  Metadata (L2 tables, refcount blocks,
 * interleaved with the data for small clusters or big images) is already
 * on disk, so it is data, not a hole, and is left alone. */
static int write_zeroes_in_holes(struct q2 *s, uint64_t first, uint64_t end)
{
    static const uint8_t zero[1 << 16];
    uint64_t o = first;
    while (o < end) {
        off_t h = lseek(s->fd, (off_t)o, SEEK_HOLE);
        if (h < 0 && errno != ENXIO)
            return vk_error(-errno, "%s: %s", s->bd->name, strerror(errno));
        uint64_t hs = h < 0 ? o : (uint64_t)h;   /* ENXIO: o is past EOF */
        if (hs >= end)
            break;
        off_t d = lseek(s->fd, (off_t)hs, SEEK_DATA);
        if (d < 0 && errno != ENXIO)
            return vk_error(-errno, "%s: %s", s->bd->name, strerror(errno));
        uint64_t he = d < 0 || (uint64_t)d > end ? end : (uint64_t)d;
        for (uint64_t z = hs; z < he; z += sizeof zero) {
            int r = q2_host_write(s, zero, he - z < sizeof zero ? (size_t)(he - z) : sizeof zero, z);
            if (r < 0)
                return r;
        }
        o = he;
    }
    return 0;
}

static int prealloc_image(const char *path, const char *mode, uint64_t size)
{
    struct vk_blockdev *bd;
    int r = vk_bd_open(path, "qcow2", VK_OPEN_RDWR | VK_OPEN_NOLOCK | VK_OPEN_NOBACKING, &bd);
    if (r < 0)
        return r;
    struct q2 *s = bd->priv;
    uint64_t first, end;
    r = q2_preallocate(s, 0, (size + s->cs - 1) / s->cs * s->cs, &first, &end);
    if (r == 0 && (r = q2_flush_meta(s)) == 0 && end > first) {
        if (!strcmp(mode, "falloc") && posix_fallocate(s->fd, (off_t)first, (off_t)(end - first)))
            r = vk_error(-EIO, "%s: cannot preallocate", path);
        else if (!strcmp(mode, "full"))
            r = write_zeroes_in_holes(s, first, end);
        if (r == 0 && end > s->file_size && ftruncate(s->fd, (off_t)end) < 0)
            r = vk_error(-errno, "%s: %s", path, strerror(errno));
    }
    int r2 = vk_bd_close(bd);
    return r < 0 ? r : r2;
}

static int q2_create(const char *path, const struct vk_create_opts *o)
{
    uint32_t cs = o->cluster_size ? o->cluster_size : 65536;
    int version = o->version ? o->version : 3;
    int rbits = o->refcount_bits ? o->refcount_bits : 16;
    const char *pre = o->prealloc ? o->prealloc : "off";
    if (cs < 512 || cs > (2u << 20) || (cs & (cs - 1)))
        return vk_error(-EINVAL, "%s: cluster size must be a power of two from 512 to 2M", path);
    if (version != 2 && version != 3)
        return vk_error(-EINVAL, "%s: qcow2 version must be 2 (compat=0.10) or 3 (compat=1.1)", path);
    if (rbits < 1 || rbits > 64 || (rbits & (rbits - 1)) || (version == 2 && rbits != 16))
        return vk_error(-EINVAL, "%s: refcount_bits must be a power of two up to 64 (16 for version 2)", path);
    int comp = !o->compression || !strcmp(o->compression, "zlib") ? QCOW2_COMP_ZLIB
             : !strcmp(o->compression, "zstd") ? QCOW2_COMP_ZSTD : -1;
    if (comp < 0)
        return vk_error(-EINVAL, "%s: compression type must be zlib or zstd", path);
    if (version == 2 && (comp || o->lazy_refcounts))
        return vk_error(-EINVAL, "%s: zstd compression and lazy refcounts need version 3", path);
    if (strcmp(pre, "off") && strcmp(pre, "metadata") && strcmp(pre, "falloc") && strcmp(pre, "full"))
        return vk_error(-EINVAL, "%s: preallocation must be off, metadata, falloc or full", path);
    if (o->backing_file && strlen(o->backing_file) > 1023)
        return vk_error(-ENAMETOOLONG, "%s: backing file name longer than 1023 bytes", path);

    struct vk_blockdev fake = { .name = (char *)path, .size = o->size };
    struct q2 s = { .bd = &fake, .version = (uint32_t)version, .cs = cs, .compression = comp };
    while ((1u << s.cluster_bits) < cs)
        s.cluster_bits++;
    s.l2_entries = cs / 8;
    for (s.refcount_order = 0; (1 << s.refcount_order) < rbits; s.refcount_order++)
        ;
    s.rb_entries = (uint64_t)cs * 8 / (uint64_t)rbits;
    uint64_t span = s.l2_entries * cs;
    uint64_t l1 = o->size / span + (o->size % span != 0);
    if (l1 * 8 > QCOW2_MAX_L1_BYTES)
        return vk_error(-EFBIG, "%s: virtual size too large for %u-byte clusters", path, cs);
    if (comp)
        s.incompat |= QCOW2_INCOMPAT_COMPRESSION;
    if (o->lazy_refcounts)
        s.compat |= QCOW2_COMPAT_LAZY_REFCOUNTS;
    s.backing_file = (char *)o->backing_file;
    s.backing_fmt = o->backing_file ? (char *)o->backing_format : NULL;

    /* Layout: header, refcount table, refcount blocks, L1 table. */
    uint64_t l1c = (l1 * 8 + cs - 1) / cs, rtc = 1, rbc = 1;
    if (!l1c)
        l1c = 1;
    for (;;) {
        uint64_t total = 1 + rtc + rbc + l1c;
        uint64_t nrb = (total + s.rb_entries - 1) / s.rb_entries;
        uint64_t nrt = (nrb * 8 + cs - 1) / cs;
        if (nrb == rbc && nrt == rtc)
            break;
        rbc = nrb;
        rtc = nrt;
    }
    uint64_t total = 1 + rtc + rbc + l1c;
    s.rt_off = cs;
    s.rt_clusters = (uint32_t)rtc;
    s.l1_off = (1 + rtc + rbc) * cs;
    s.l1_size = (uint32_t)l1;

    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    s.fd = fd;
    int r = 0;
    uint8_t *buf = calloc(1, (size_t)((total - 1) * cs));
    if (!buf) {
        r = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    uint8_t *rt = buf, *rb = buf + rtc * cs;
    for (uint64_t i = 0; i < rbc; i++)
        q2_put64(rt + 8 * i, (1 + rtc + i) * cs);
    for (uint64_t c = 0; c < total; c++)
        q2_rb_set(s.refcount_order, rb + (c / s.rb_entries) * cs, c % s.rb_entries, 1);
    if ((r = q2_write_header(&s)) < 0 ||
        (r = vk_fd_pwrite_full(fd, buf, (size_t)((total - 1) * cs), cs, path)) < 0)
        goto out;
    if (fdatasync(fd) < 0 && errno != EINVAL)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
out:
    free(buf);
    close(fd);
    if (r == 0 && strcmp(pre, "off"))
        r = prealloc_image(path, pre, o->size);
    if (r < 0)
        unlink(path);
    return r;
}

const struct vk_format vk_format_qcow2 = {
    .name = "qcow2",
    .probe = q2_probe,
    .open = q2_open,
    .create = q2_create,
};
