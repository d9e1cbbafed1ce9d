/* Hosted sparse VMDK extents ("KDMV"): header, grain directory and
 * tables, grain reads and writes, plain and stream-optimized (deflate
 * grains behind a 12-byte marker).  See vmdk_int.h for the layout and the
 * write order. */
#include "block/vmdk_int.h"

#include "util/err.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_TABLE_ENTRIES (1u << 26)   /* every grain table in memory: 256 MiB */

void vmdk_extent_free(struct vmdk_extent *e)
{
    free(e->gd);
    free(e->rgd);
    free(e->gt);
    free(e->cache);
    free(e->zbuf);
    if (e->zs) {
        deflateEnd(e->zs);
        free(e->zs);
    }
    if (e->zi) {
        inflateEnd(e->zi);
        free(e->zi);
    }
    free(e->path);
    free(e->type_name);
    if (e->own_fd && e->fd >= 0)
        close(e->fd);
    memset(e, 0, sizeof *e);
    e->fd = -1;
}

static uint64_t gt_bytes(const struct vmdk_extent *e)
{
    return ((uint64_t)e->gtes * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
}

/* Read n little-endian 32-bit entries at off into host order. */
static int read_table(struct vmdk_extent *e, uint32_t *t, size_t n, uint64_t off)
{
    int r = vk_fd_pread_full(e->fd, t, n * 4, off, e->path);
    for (size_t i = 0; r == 0 && i < n; i++)
        t[i] = le32toh(t[i]);
    return r;
}

/* The footer of a stream-optimized file: the header copy that holds the
 * real directory offset, between a footer marker and end-of-stream. */
static int read_footer(struct vmdk_extent *e, struct vmdk4_header *h)
{
    uint8_t f[1536];
    if (e->file_size < 1536 + VMDK_SECTOR)
        return vk_error(-EINVAL, "%s: stream-optimized file too short for its footer", e->path);
    uint64_t at = e->file_size / VMDK_SECTOR * VMDK_SECTOR - 1536;
    int r = vk_fd_pread_full(e->fd, f, sizeof f, at, e->path);
    if (r < 0)
        return r;
    if (vmdk_le32(f + 8) != 0 || vmdk_le32(f + 12) != VMDK_MARKER_FOOTER ||
        vmdk_le32(f + 512) != VMDK4_MAGIC || vmdk_le64(f + 1024) != 0 ||
        vmdk_le32(f + 1032) != 0 || vmdk_le32(f + 1036) != VMDK_MARKER_EOS)
        return vk_error(-EINVAL, "%s: invalid stream-optimized footer at offset %llu", e->path,
                        (unsigned long long)at);
    memcpy(h, f + 516, sizeof *h);
    return 0;
}

/* An area of the file that must not overlap another. */
struct area {
    uint64_t start, end;
    uint64_t what;      /* grain number + 1, or 0 for metadata */
};

static int cmp_area(const void *a, const void *b)
{
    const struct area *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

/* Check every table entry: inside the file, no two areas sharing bytes.
 * With tolerate, bad grain entries are counted and dropped (read as
 * unallocated) instead of refused. */
static int validate(struct vmdk_extent *e, uint64_t desc_off, uint64_t desc_size,
                    bool tolerate, uint64_t *bad)
{
    uint64_t n_grains = (e->size + e->grain - 1) / e->grain;
    size_t cap = n_grains + 2 * (size_t)e->n_gt + 4, n = 0;
    struct area *a = malloc(cap * sizeof *a);
    int r = 0;
    if (!a)
        return vk_error(-ENOMEM, "out of memory");
    a[n++] = (struct area){ 0, VMDK_SECTOR, 0 };
    if (desc_off && desc_size)
        a[n++] = (struct area){ desc_off * VMDK_SECTOR, (desc_off + desc_size) * VMDK_SECTOR, 0 };
    a[n++] = (struct area){ e->gd_off, e->gd_off + (uint64_t)e->n_gt * 4, 0 };
    if (e->rgd_off)
        a[n++] = (struct area){ e->rgd_off, e->rgd_off + (uint64_t)e->n_gt * 4, 0 };
    for (uint32_t i = 0; i < e->n_gt; i++) {
        uint32_t t[2] = { e->gd[i], e->rgd ? e->rgd[i] : 0 };
        for (int k = 0; k < 2; k++) {
            if (!t[k])
                continue;
            uint64_t at = (uint64_t)t[k] * VMDK_SECTOR;
            if (at + gt_bytes(e) > e->file_size) {
                r = vk_error(-EINVAL, "%s: %sgrain table %u at offset %llu is past the end of the file",
                             e->path, k ? "redundant " : "", i, (unsigned long long)at);
                goto out;
            }
            a[n++] = (struct area){ at, at + gt_bytes(e), 0 };
        }
    }
    for (uint64_t g = 0; g < n_grains; g++) {
        uint32_t s = e->gt[g];
        if (s == 0 || (s == VMDK_GTE_ZEROED && e->zero_grain))
            continue;
        uint64_t at = (uint64_t)s * VMDK_SECTOR;
        uint64_t need = e->compressed ? 1 : e->size - g * e->grain < e->grain ? e->size - g * e->grain : e->grain;
        if (at + need > e->file_size) {
            if (tolerate) {
                ++*bad;
                e->gt[g] = 0;
                continue;
            }
            r = vk_error(-EINVAL, "%s: grain %llu (disk offset %llu) points at file offset %llu, past the end of the file (%llu bytes)",
                         e->path, (unsigned long long)g, (unsigned long long)(e->start + g * e->grain),
                         (unsigned long long)at, (unsigned long long)e->file_size);
            goto out;
        }
        a[n++] = (struct area){ at, at + (e->compressed ? 1 : e->grain), g + 1 };
    }
    qsort(a, n, sizeof *a, cmp_area);
    for (size_t i = 1; i < n; i++) {
        if (a[i].start >= a[i - 1].end)
            continue;
        uint64_t g = a[i].what ? a[i].what : a[i - 1].what;
        if (tolerate && g) {
            ++*bad;
            e->gt[g - 1] = 0;
            continue;
        }
        r = vk_error(-EINVAL, "%s: %s at file offset %llu overlaps %s at offset %llu",
                     e->path, a[i].what ? "grain" : "metadata", (unsigned long long)a[i].start,
                     a[i - 1].what ? "a grain" : "metadata", (unsigned long long)a[i - 1].start);
        goto out;
    }
out:
    free(a);
    return r;
}

int vmdk_sparse_open(struct vmdk_extent *e, uint64_t *capacity, uint64_t *desc_off,
                     uint64_t *desc_size, bool tolerate, uint64_t *bad)
{
    uint8_t sec[VMDK_SECTOR];
    struct vmdk4_header h;
    off_t end = lseek(e->fd, 0, SEEK_END);
    int r;

    if (end < 0)
        return vk_error(-errno, "%s: %s", e->path, strerror(errno));
    e->file_size = (uint64_t)end;
    if (e->file_size < VMDK_SECTOR)
        return vk_error(-EINVAL, "%s: truncated: %llu bytes, shorter than a VMDK header",
                        e->path, (unsigned long long)e->file_size);
    if ((r = vk_fd_pread_full(e->fd, sec, sizeof sec, 0, e->path)) < 0)
        return r;
    if (vmdk_le32(sec) != VMDK4_MAGIC)
        return vk_error(-ENOTSUP, "%s: not a hosted sparse VMDK extent (KDMV); COWD and seSparse are not supported", e->path);
    memcpy(&h, sec + 4, sizeof h);
    *desc_off = le64toh(h.desc_offset);
    *desc_size = le64toh(h.desc_size);
    if (le64toh(h.gd_offset) == VMDK_GD_AT_END && (r = read_footer(e, &h)) < 0)
        return r;
    e->version = le32toh(h.version);
    e->flags = le32toh(h.flags);
    uint16_t alg = le16toh(h.compress_algorithm);
    uint64_t cap = le64toh(h.capacity), gran = le64toh(h.granularity);
    e->gtes = le32toh(h.num_gtes_per_gt);
    if (e->version < 1 || e->version > 3)
        return vk_error(-ENOTSUP, "%s: VMDK version %u is not supported", e->path, e->version);
    if (alg > 1)
        return vk_error(-ENOTSUP, "%s: compression algorithm %u is not supported (only deflate)", e->path, alg);
    e->compressed = alg == 1;
    e->markers = e->flags & VMDK_FLAG_MARKER;
    e->zero_grain = e->flags & VMDK_FLAG_ZERO_GRAIN;
    if (gran == 0 || gran > VMDK_MAX_GRAIN_SECTORS)
        return vk_error(-EINVAL, "%s: grain size %llu sectors out of range (1..%u)", e->path,
                        (unsigned long long)gran, VMDK_MAX_GRAIN_SECTORS);
    if (e->gtes == 0 || e->gtes > VMDK_MAX_GTES)
        return vk_error(-EINVAL, "%s: %u entries per grain table out of range (1..%u)", e->path,
                        e->gtes, VMDK_MAX_GTES);
    if (cap > (1ULL << 40))
        return vk_error(-EINVAL, "%s: capacity %llu sectors out of range", e->path, (unsigned long long)cap);
    e->grain = gran * VMDK_SECTOR;
    uint64_t per_gt = gran * e->gtes;
    uint64_t n_gt = (cap + per_gt - 1) / per_gt;
    if (n_gt > VMDK_MAX_GD || n_gt * e->gtes > MAX_TABLE_ENTRIES)
        return vk_error(-EFBIG, "%s: grain directory of %llu tables is too large", e->path,
                        (unsigned long long)n_gt);
    e->n_gt = (uint32_t)n_gt;
    e->cap = cap;
    *capacity = cap;
    if (!e->size)
        e->size = cap * VMDK_SECTOR;
    if (e->size > cap * VMDK_SECTOR)
        return vk_error(-EINVAL, "%s: the descriptor gives the extent %llu bytes, its header %llu",
                        e->path, (unsigned long long)e->size, (unsigned long long)(cap * VMDK_SECTOR));
    e->grain_start = le64toh(h.grain_offset) * VMDK_SECTOR;
    if (le64toh(h.grain_offset) > e->file_size / VMDK_SECTOR)
        return vk_error(-EINVAL, "%s: truncated: grains start at offset %llu, the file has %llu bytes",
                        e->path, (unsigned long long)e->grain_start, (unsigned long long)e->file_size);
    uint64_t gd = le64toh(h.gd_offset), rgd = le64toh(h.rgd_offset);
    if (gd > e->file_size / VMDK_SECTOR || (gd * VMDK_SECTOR + n_gt * 4) > e->file_size || gd == 0)
        return vk_error(-EINVAL, "%s: grain directory at sector %llu is outside the file",
                        e->path, (unsigned long long)gd);
    e->gd_off = gd * VMDK_SECTOR;
    if ((e->flags & VMDK_FLAG_RGD) && (rgd || !e->compressed)) {
        if (rgd == 0 || rgd > e->file_size / VMDK_SECTOR || rgd * VMDK_SECTOR + n_gt * 4 > e->file_size)
            return vk_error(-EINVAL, "%s: redundant grain directory at sector %llu is outside the file",
                            e->path, (unsigned long long)rgd);
        e->rgd_off = rgd * VMDK_SECTOR;
    }
    e->gd = calloc(n_gt ? n_gt : 1, 4);
    e->rgd = e->rgd_off ? calloc(n_gt ? n_gt : 1, 4) : NULL;
    e->gt = calloc(n_gt ? n_gt * e->gtes : 1, 4);
    if (!e->gd || !e->gt || (e->rgd_off && !e->rgd))
        return vk_error(-ENOMEM, "%s: out of memory for the grain tables", e->path);
    if ((r = read_table(e, e->gd, n_gt, e->gd_off)) < 0)
        return r;
    if (e->rgd && (r = read_table(e, e->rgd, n_gt, e->rgd_off)) < 0)
        return r;
    for (uint32_t i = 0; i < e->n_gt; i++) {
        uint64_t at = (uint64_t)e->gd[i] * VMDK_SECTOR;
        if (!e->gd[i])
            continue;
        if (at + gt_bytes(e) > e->file_size)
            return vk_error(-EINVAL, "%s: grain table %u at offset %llu is past the end of the file",
                            e->path, i, (unsigned long long)at);
        if ((r = read_table(e, e->gt + (size_t)i * e->gtes, e->gtes, at)) < 0)
            return r;
    }
    if ((r = validate(e, *desc_off, *desc_size, tolerate, bad)) < 0)
        return r;
    uint64_t round = e->compressed ? VMDK_SECTOR : e->grain;
    e->next = (e->file_size + round - 1) / round * round;
    return 0;
}

/* e->zbuf holds a marker and deflated data read (at most 2 grains + 1 KiB,
 * the bound load_compressed accepts) or written (compressBound + a sector). */
static size_t zbuf_size(const struct vmdk_extent *e)
{
    return 12 + 2 * e->grain + 2048;
}

/* The decompressed grain g of a compressed extent, in e->cache.  The
 * marker and the data come in one read into e->zbuf (a deflated grain is
 * nearly always shorter than the grain); the inflate state is reused. */
static int load_compressed(struct vmdk_extent *e, uint64_t g, size_t *got)
{
    uint64_t at = (uint64_t)e->gt[g] * VMDK_SECTOR;
    size_t hdr = e->markers ? 12 : 0;
    uint64_t clen;
    int r;

    if (!e->cache && !(e->cache = malloc(e->grain)))
        return vk_error(-ENOMEM, "out of memory");
    if (e->cache_idx == g + 1) {
        *got = e->grain;
        return 0;
    }
    e->cache_idx = 0;
    if (!e->zbuf && !(e->zbuf = malloc(zbuf_size(e))))
        return vk_error(-ENOMEM, "out of memory");
    size_t first = e->file_size - at < hdr + e->grain ? (size_t)(e->file_size - at) : hdr + e->grain;
    if ((r = vk_fd_pread_full(e->fd, e->zbuf, first, at, e->path)) < 0)
        return r;
    if (e->markers)
        clen = first >= 12 ? vmdk_le32(e->zbuf + 8) : 0;
    else
        clen = e->file_size - at < 2 * e->grain ? e->file_size - at : 2 * e->grain;
    if (clen == 0 || clen > 2 * e->grain + 1024 || at + hdr + clen > e->file_size)
        return vk_error(-EINVAL, "%s: compressed grain at offset %llu has a bad length (%llu bytes)",
                        e->path, (unsigned long long)at, (unsigned long long)clen);
    if (hdr + clen > first &&
        (r = vk_fd_pread_full(e->fd, e->zbuf + first, hdr + clen - first, at + first, e->path)) < 0)
        return r;
    if (!e->zi) {
        z_stream *z = calloc(1, sizeof *z);
        if (!z || inflateInit(z) != Z_OK) {
            free(z);
            return vk_error(-ENOMEM, "out of memory");
        }
        e->zi = z;
    }
    z_stream *z = e->zi;
    inflateReset(z);
    z->next_in = e->zbuf + hdr;
    z->avail_in = (uInt)clen;
    z->next_out = e->cache;
    z->avail_out = (uInt)e->grain;
    int zr = inflate(z, Z_FINISH);
    *got = z->total_out;
    if (zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && z->avail_out == 0))
        return vk_error(-EINVAL, "%s: compressed grain at offset %llu does not inflate (zlib error %d)",
                        e->path, (unsigned long long)at, zr);
    if (*got == e->grain)
        e->cache_idx = g + 1;
    return 0;
}

int vmdk_sparse_read(struct vmdk_extent *e, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        uint64_t g = off / e->grain, in = off % e->grain;
        size_t n = e->grain - in < len ? (size_t)(e->grain - in) : len;
        uint32_t s = e->gt[g];
        int r = 0;
        if (s == 0 || (s == VMDK_GTE_ZEROED && e->zero_grain)) {
            memset(p, 0, n);
        } else if (e->compressed) {
            size_t got = 0;
            if ((r = load_compressed(e, g, &got)) == 0 && in + n > got)
                r = vk_error(-EINVAL, "%s: compressed grain %llu inflates to %zu bytes, short of %llu",
                             e->path, (unsigned long long)g, got, (unsigned long long)(in + n));
            if (r == 0)
                memcpy(p, e->cache + in, n);
        } else {
            r = vk_fd_pread_full(e->fd, p, n, (uint64_t)s * VMDK_SECTOR + in, e->path);
        }
        if (r < 0)
            return r;
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* Write the entries [first, last] of the in-memory tables to the primary
 * and redundant grain tables on disk (all within one table). */
static int store_entries(struct vmdk_extent *e, uint64_t first, uint64_t last)
{
    uint32_t t = (uint32_t)(first / e->gtes), buf[VMDK_MAX_GTES];
    size_t n = (size_t)(last - first + 1);
    for (size_t i = 0; i < n; i++)
        buf[i] = htole32(e->gt[first + i]);
    uint64_t in = (first % e->gtes) * 4;
    int r = vk_fd_pwrite_full(e->fd, buf, n * 4, (uint64_t)e->gd[t] * VMDK_SECTOR + in, e->path);
    if (r == 0 && e->rgd && e->rgd[t])
        r = vk_fd_pwrite_full(e->fd, buf, n * 4, (uint64_t)e->rgd[t] * VMDK_SECTOR + in, e->path);
    return r;
}

/* Write the entries of grains [g0, g1) to the tables on disk. */
static int store_range(struct vmdk_extent *e, uint64_t g0, uint64_t g1)
{
    while (g0 < g1) {
        uint64_t end = (g0 / e->gtes + 1) * e->gtes;
        if (end > g1)
            end = g1;
        int r = store_entries(e, g0, end - 1);
        if (r < 0)
            return r;
        g0 = end;
    }
    return 0;
}

/* Point grains [g0, g1) at the values now in e->gt, once the data they
 * point to is on disk: with sync at once, after an fdatasync; without,
 * at the next vmdk_sparse_flush (fewer, larger table writes; the order
 * data-then-table stays). */
static int commit_entries(struct vmdk_extent *e, uint64_t g0, uint64_t g1, bool sync)
{
    if (g0 >= g1)
        return 0;
    if (!sync) {
        if (e->dirty_hi == 0 || g0 < e->dirty_lo)
            e->dirty_lo = g0;
        if (g1 > e->dirty_hi)
            e->dirty_hi = g1;
        return 0;
    }
    if (fdatasync(e->fd) < 0)
        return vk_error(-errno, "%s: flush: %s", e->path, strerror(errno));
    return store_range(e, g0, g1);
}

int vmdk_sparse_flush(struct vmdk_extent *e, bool sync)
{
    uint64_t lo = e->dirty_lo, hi = e->dirty_hi;
    if (hi == 0)
        return 0;
    if (sync && fdatasync(e->fd) < 0)
        return vk_error(-errno, "%s: flush: %s", e->path, strerror(errno));
    e->dirty_lo = e->dirty_hi = 0;
    return store_range(e, lo, hi);
}

static int new_grain_at(struct vmdk_extent *e, uint64_t bytes, uint64_t *at)
{
    uint64_t a = e->next;
    if (a / VMDK_SECTOR >= 0xffffffffULL)
        return vk_error(-EFBIG, "%s: the extent is full (grains end at 2 TiB)", e->path);
    *at = a;
    e->next = (a + bytes + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    if (!e->compressed)
        e->next = (e->next + e->grain - 1) / e->grain * e->grain;
    return 0;
}

/* Append grain g, compressed behind its marker (zlib format, as qemu
 * and VMware write it).  The buffer and deflate state live with the
 * extent: a convert compresses every grain. */
static int write_compressed(struct vmdk_extent *e, uint64_t g, const void *data, size_t n)
{
    size_t cap = zbuf_size(e);
    uint64_t at;
    int r;

    if (!e->zbuf && !(e->zbuf = malloc(cap)))
        return vk_error(-ENOMEM, "out of memory");
    if (!e->zs) {
        z_stream *z = calloc(1, sizeof *z);
        if (!z || deflateInit(z, Z_DEFAULT_COMPRESSION) != Z_OK) {
            free(z);
            return vk_error(-ENOMEM, "out of memory");
        }
        e->zs = z;
    }
    if (n < e->grain) {     /* the tail of the disk: pad the grain */
        if (!e->cache && !(e->cache = malloc(e->grain)))
            return vk_error(-ENOMEM, "out of memory");
        memcpy(e->cache, data, n);
        memset(e->cache + n, 0, e->grain - n);
        e->cache_idx = 0;
        data = e->cache;
    }
    z_stream *z = e->zs;
    deflateReset(z);
    z->next_in = (Bytef *)data;
    z->avail_in = (uInt)e->grain;
    z->next_out = e->zbuf + 12;
    z->avail_out = (uInt)(cap - 12 - VMDK_SECTOR);
    if (deflate(z, Z_FINISH) != Z_STREAM_END)
        return vk_error(-EIO, "%s: compressing grain %llu failed", e->path, (unsigned long long)g);
    size_t zlen = z->total_out;
    uint64_t lba = htole64((e->start + g * e->grain) / VMDK_SECTOR);
    uint32_t sz = htole32((uint32_t)zlen);
    memcpy(e->zbuf, &lba, 8);
    memcpy(e->zbuf + 8, &sz, 4);
    size_t total = (12 + zlen + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    memset(e->zbuf + 12 + zlen, 0, total - 12 - zlen);
    if ((r = new_grain_at(e, total, &at)) < 0)
        return r;
    if ((r = vk_fd_pwrite_full(e->fd, e->zbuf, total, at, e->path)) < 0)
        return r;
    e->gt[g] = (uint32_t)(at / VMDK_SECTOR);
    e->file_size = at + total;
    return 0;
}

int vmdk_sparse_write(struct vmdk_extent *e, const void *buf, size_t len, uint64_t off, bool sync)
{
    const uint8_t *p = buf;
    uint64_t g0 = off / e->grain, pend0 = UINT64_MAX, pend1 = 0;
    uint8_t *tmp = NULL;
    int r = 0;

    (void)g0;
    while (len && r == 0) {
        uint64_t g = off / e->grain, in = off % e->grain;
        size_t n = e->grain - in < len ? (size_t)(e->grain - in) : len;
        uint32_t s = e->gt[g];
        bool hole = s == 0 || (s == VMDK_GTE_ZEROED && e->zero_grain);
        if (!e->gd[g / e->gtes]) {
            r = vk_error(-ENOTSUP, "%s: grain table %llu is not allocated; writing there is not supported",
                         e->path, (unsigned long long)(g / e->gtes));
            break;
        }
        if (e->compressed) {
            bool whole = in == 0 && (n == e->grain || off + n == e->size);
            if (!hole || !whole) {
                r = vk_error(-ENOTSUP, "%s: a stream-optimized image takes each grain once and whole "
                             "(disk offset %llu); convert to another subformat to modify it",
                             e->path, (unsigned long long)(e->start + off));
                break;
            }
            r = write_compressed(e, g, p, n);
        } else if (!hole) {
            r = vk_fd_pwrite_full(e->fd, p, n, (uint64_t)s * VMDK_SECTOR + in, e->path);
            goto next;
        } else {
            uint64_t at;
            const void *data = p;
            if (n < e->grain) {
                if (!tmp && !(tmp = malloc(e->grain))) {
                    r = vk_error(-ENOMEM, "out of memory");
                    break;
                }
                memset(tmp, 0, e->grain);
                memcpy(tmp + in, p, n);
                data = tmp;
            }
            if ((r = new_grain_at(e, e->grain, &at)) < 0 ||
                (r = vk_fd_pwrite_full(e->fd, data, e->grain, at, e->path)) < 0)
                break;
            e->gt[g] = (uint32_t)(at / VMDK_SECTOR);
            if (at + e->grain > e->file_size)
                e->file_size = at + e->grain;
        }
        if (r < 0)
            break;
        /* A run of new entries is committed together, after the data. */
        if (pend0 != UINT64_MAX && g != pend1) {
            r = commit_entries(e, pend0, pend1, sync);
            pend0 = UINT64_MAX;
        }
        if (pend0 == UINT64_MAX)
            pend0 = g;
        pend1 = g + 1;
    next:
        p += n;
        off += n;
        len -= n;
    }
    if (r == 0 && pend0 != UINT64_MAX)
        r = commit_entries(e, pend0, pend1, sync);
    free(tmp);
    return r;
}

int vmdk_sparse_zero(struct vmdk_extent *e, uint64_t off, uint64_t len, bool sync)
{
    static const uint8_t zero[65536];
    while (len) {
        uint64_t g = off / e->grain, in = off % e->grain;
        uint64_t n = e->grain - in < len ? e->grain - in : len;
        uint32_t s = e->gt[g];
        int r = 0;
        if (s == 0 || (s == VMDK_GTE_ZEROED && e->zero_grain)) {
            /* reads as zeroes already: VMDK has no backing here */
        } else if (e->zero_grain && in == 0 && n == e->grain && !e->compressed) {
            e->gt[g] = VMDK_GTE_ZEROED;
            r = commit_entries(e, g, g + 1, false);
        } else if (e->compressed) {
            r = vk_error(-ENOTSUP, "%s: a stream-optimized image cannot rewrite grain %llu",
                         e->path, (unsigned long long)g);
        } else {
            for (uint64_t done = 0; done < n && r == 0; done += sizeof zero) {
                size_t k = n - done < sizeof zero ? (size_t)(n - done) : sizeof zero;
                r = vmdk_sparse_write(e, zero, k, off + done, sync);
            }
        }
        if (r < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

static int grain_status(const struct vmdk_extent *e, uint64_t g, uint64_t *host)
{
    uint32_t s = e->gt[g];
    if (s == 0)
        return VK_BS_ZERO;
    if (s == VMDK_GTE_ZEROED && e->zero_grain)
        return VK_BS_ZERO | VK_BS_ALLOCATED;
    *host = (uint64_t)s * VMDK_SECTOR;
    if (e->compressed)
        return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_COMPRESSED;
    return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID;
}

int vmdk_sparse_status(struct vmdk_extent *e, uint64_t off, uint64_t len,
                       uint64_t *pnum, uint64_t *host)
{
    uint64_t g = off / e->grain, in = off % e->grain, h = 0;
    int st = grain_status(e, g, &h);
    uint64_t n = e->grain - in;
    *host = h + in;
    /* Extend over following grains with the same status (and, for data,
     * the next bytes in the file). */
    while (n < len) {
        uint64_t h2 = 0;
        if (grain_status(e, g + 1, &h2) != st)
            break;
        if ((st & VK_BS_OFFSET_VALID) && h2 != h + e->grain)
            break;
        g++;
        h = h2;
        n += e->grain;
    }
    *pnum = n < len ? n : len;
    return st;
}

/* Write n directory entries (host order) at off, little-endian. */
static int write_dir(struct vmdk_extent *e, const uint32_t *t, size_t n, uint64_t off)
{
    uint32_t buf[1024];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < 1024 ? n - done : 1024;
        for (size_t i = 0; i < k; i++)
            buf[i] = htole32(t[done + i]);
        int r = vk_fd_pwrite_full(e->fd, buf, k * 4, off + done * 4, e->path);
        if (r < 0)
            return r;
        done += k;
    }
    return 0;
}

static void *grow_array(uint32_t **p, size_t old_n, size_t new_n)
{
    uint32_t *q = realloc(*p, new_n * 4);
    if (!q)
        return NULL;
    memset(q + old_n, 0, (new_n - old_n) * 4);
    return *p = q;
}

int vmdk_sparse_grow(struct vmdk_extent *e, uint64_t bytes)
{
    uint64_t cap = (bytes + VMDK_SECTOR - 1) / VMDK_SECTOR;
    if (cap <= e->cap)
        return 0;
    if (e->compressed || e->markers)
        return vk_error(-ENOTSUP, "%s: a stream-optimized VMDK cannot be resized; convert it to "
                        "monolithicSparse first", e->path);
    uint64_t per_gt = e->grain / VMDK_SECTOR * e->gtes;
    uint64_t n_new = (cap + per_gt - 1) / per_gt;
    if (cap > (1ULL << 40) || n_new > VMDK_MAX_GD || n_new * e->gtes > MAX_TABLE_ENTRIES)
        return vk_error(-EFBIG, "%s: %llu bytes is more than a sparse VMDK extent holds here",
                        e->path, (unsigned long long)bytes);
    uint32_t n_old = e->n_gt, k = (uint32_t)(n_new - n_old);
    uint64_t gtb = gt_bytes(e), room = (n_old * 4ULL + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR / 4;
    uint64_t dir_bytes = (n_new * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR * VMDK_SECTOR;
    bool move = n_new > room;
    uint64_t gt_at = e->next, rgt_at = gt_at + (uint64_t)k * gtb;
    uint64_t end = e->rgd ? rgt_at + (uint64_t)k * gtb : rgt_at;
    uint64_t gd_off = e->gd_off, rgd_off = e->rgd_off;
    if (move) {
        if (e->rgd) {
            rgd_off = end;
            end += dir_bytes;
        }
        gd_off = end;
        end += dir_bytes;
    }
    if (end / VMDK_SECTOR >= 0xffffffffULL)
        return vk_error(-EFBIG, "%s: the extent file would pass 2 TiB", e->path);
    if (!grow_array(&e->gd, n_old, n_new) || (e->rgd && !grow_array(&e->rgd, n_old, n_new)) ||
        !grow_array(&e->gt, (size_t)n_old * e->gtes, (size_t)n_new * e->gtes))
        return vk_error(-ENOMEM, "%s: out of memory for the grain tables", e->path);
    for (uint32_t i = 0; i < k; i++) {
        e->gd[n_old + i] = (uint32_t)((gt_at + (uint64_t)i * gtb) / VMDK_SECTOR);
        if (e->rgd)
            e->rgd[n_old + i] = (uint32_t)((rgt_at + (uint64_t)i * gtb) / VMDK_SECTOR);
    }
    /* the new tables are zeroes: the file's new end, a hole */
    int r = 0;
    if (end > e->file_size && ftruncate(e->fd, (off_t)end) < 0)
        return vk_error(-errno, "%s: growing the file: %s", e->path, strerror(errno));
    if (move) {
        if (e->rgd)
            r = write_dir(e, e->rgd, n_new, rgd_off);
        if (r == 0)
            r = write_dir(e, e->gd, n_new, gd_off);
    } else {    /* past the old directory's last entry: unread until the header says so */
        if (e->rgd)
            r = write_dir(e, e->rgd + n_old, k, rgd_off + n_old * 4ULL);
        if (r == 0)
            r = write_dir(e, e->gd + n_old, k, gd_off + n_old * 4ULL);
    }
    if (r == 0 && fdatasync(e->fd) < 0)
        r = vk_error(-errno, "%s: flush: %s", e->path, strerror(errno));
    uint8_t sec[VMDK_SECTOR];
    if (r == 0)
        r = vk_fd_pread_full(e->fd, sec, sizeof sec, 0, e->path);
    if (r < 0)
        return r;
    uint64_t v[3] = { htole64(cap), htole64(rgd_off / VMDK_SECTOR), htole64(gd_off / VMDK_SECTOR) };
    memcpy(sec + 4 + offsetof(struct vmdk4_header, capacity), &v[0], 8);
    if (e->rgd)
        memcpy(sec + 4 + offsetof(struct vmdk4_header, rgd_offset), &v[1], 8);
    memcpy(sec + 4 + offsetof(struct vmdk4_header, gd_offset), &v[2], 8);
    if ((r = vk_fd_pwrite_full(e->fd, sec, sizeof sec, 0, e->path)) < 0)
        return r;
    if (fdatasync(e->fd) < 0)
        return vk_error(-errno, "%s: flush: %s", e->path, strerror(errno));
    e->n_gt = (uint32_t)n_new;
    e->cap = cap;
    e->gd_off = gd_off;
    e->rgd_off = rgd_off;
    if (end > e->file_size)
        e->file_size = end;
    e->next = (end + e->grain - 1) / e->grain * e->grain;
    return 0;
}

int vmdk_sparse_create(int fd, const char *name, uint64_t size, bool desc,
                       bool compress, bool zeroed_grain)
{
    uint8_t sec[VMDK_SECTOR] = { 0 };
    struct vmdk4_header h = { 0 };
    const uint64_t gran = 128, gtes = VMDK_SECTOR;
    uint64_t grains = (size / VMDK_SECTOR + gran - 1) / gran;
    uint64_t gt_size = gtes * 4 / VMDK_SECTOR;              /* sectors */
    uint64_t gt_count = (grains + gtes - 1) / gtes;
    uint64_t gd_sectors = (gt_count * 4 + VMDK_SECTOR - 1) / VMDK_SECTOR;
    int r;

    (void)desc;     /* qemu-img leaves room for a descriptor in every extent */
    h.version = htole32(compress ? 3 : zeroed_grain ? 2 : 1);
    h.flags = htole32(VMDK_FLAG_RGD | VMDK_FLAG_NL_DETECT |
                      (compress ? VMDK_FLAG_COMPRESS | VMDK_FLAG_MARKER : 0) |
                      (zeroed_grain ? VMDK_FLAG_ZERO_GRAIN : 0));
    h.compress_algorithm = htole16(compress ? 1 : 0);
    h.capacity = htole64(size / VMDK_SECTOR);
    h.granularity = htole64(gran);
    h.num_gtes_per_gt = htole32((uint32_t)gtes);
    uint64_t rgd = 1 + 20, gd = rgd + gd_sectors + gt_size * gt_count;
    uint64_t grain_off = (gd + gd_sectors + gt_size * gt_count + gran - 1) / gran * gran;
    h.desc_offset = htole64(1);
    h.desc_size = htole64(20);
    h.rgd_offset = htole64(rgd);
    h.gd_offset = htole64(gd);
    h.grain_offset = htole64(grain_off);
    memcpy(h.check_bytes, "\n \r\n", 4);
    uint32_t magic = htole32(VMDK4_MAGIC);
    memcpy(sec, &magic, 4);
    memcpy(sec + 4, &h, sizeof h);
    if ((r = vk_fd_pwrite_full(fd, sec, sizeof sec, 0, name)) < 0)
        return r;
    if (ftruncate(fd, (off_t)(grain_off * VMDK_SECTOR)) < 0)
        return vk_error(-errno, "%s: %s", name, strerror(errno));
    uint32_t *buf = calloc(gd_sectors ? gd_sectors : 1, VMDK_SECTOR);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    for (int k = 0; k < 2 && r == 0; k++) {
        uint64_t dir = k ? gd : rgd;
        for (uint64_t i = 0; i < gt_count; i++)
            buf[i] = htole32((uint32_t)(dir + gd_sectors + i * gt_size));
        r = vk_fd_pwrite_full(fd, buf, gd_sectors * VMDK_SECTOR, dir * VMDK_SECTOR, name);
    }
    free(buf);
    return r;
}
