/* vpc: VHD (Virtual PC, Hyper-V, Azure), fixed and dynamic disks.
 *
 * Layout (qemu/qemu block/vpc.c, big-endian): a 512-byte footer with a
 * checksum at the end of the file.  A fixed disk is the raw bytes followed
 * by the footer.  A dynamic disk has a copy of the footer at offset 0, a
 * 1 KiB dynamic header naming the block allocation table (BAT: one 32-bit
 * sector number per block, 0xffffffff unallocated), and blocks of (usually)
 * 2 MiB, each preceded by a sector bitmap; new blocks go where the footer
 * was, and the footer moves behind them.
 *
 * The disk size follows QEMU: the CHS geometry for images that Virtual PC
 * and QEMU made, the footer's current_size for Hyper-V ("win "), Disk2vhd,
 * XenServer and `-o force_size` ("qem2"), and whenever the geometry is the
 * maximum.  Creating rounds the size up to a geometry unless force_size.
 *
 * Opening validates the BAT: blocks past the end of the file, on top of
 * the metadata or of each other are refused (tolerated and counted under
 * VK_OPEN_CHECK).
 *
 * Crash safety: a new block's footer is written behind it first, then its
 * bitmap and data; the BAT entry stays in memory until vpc_flush() writes
 * it after an fdatasync of the data, and syncs again.  A crash leaves at
 * most unreferenced space, reused by the next allocation; the footer copy
 * at offset 0 changes only when the disk grows (vpc_truncate).
 * VK_OPEN_NOFLUSH drops the syncs. */
#include "block/bat_check.h"
#include "block/blockdev.h"

#include "util/endian.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define VHD_FIXED        2
#define VHD_DYNAMIC      3
#define VHD_DIFFERENCING 4
#define VHD_UNALLOCATED  0xffffffffu
#define VHD_BLOCK_SIZE   (2u << 20)
#define VHD_MIN_BLOCK    512u
#define VHD_MAX_BLOCK    (256u << 20)
#define VHD_MAX_SECTORS  0xff000000ULL               /* 2040 GiB, as QEMU */
#define VHD_MAX_GEOMETRY (65535ULL * 16 * 255)
#define VHD_TIME_BASE    946684800                   /* 2000-01-01 */

/* Footer and dynamic header field offsets. */
enum {
    F_FEATURES = 8, F_VERSION = 12, F_DATA_OFFSET = 16, F_TIMESTAMP = 24, F_APP = 28,
    F_APP_VER = 32, F_OS = 36, F_ORIG_SIZE = 40, F_SIZE = 48, F_CYLS = 56, F_HEADS = 58,
    F_SECS = 59, F_TYPE = 60, F_CHECKSUM = 64, F_UUID = 68,
    D_DATA_OFFSET = 8, D_TABLE_OFFSET = 16, D_VERSION = 24, D_ENTRIES = 28, D_BLOCK_SIZE = 32,
    D_CHECKSUM = 36,
};

struct vpc {
    int fd;
    uint8_t footer[512];
    bool dynamic;
    bool nosync;
    uint64_t file_size;
    uint32_t *bat;          /* host order */
    uint32_t nbat;
    uint32_t bs, bitmap;    /* block size, bytes of its sector bitmap */
    uint64_t bat_off;
    uint64_t free_off;      /* where the next block goes */
    uint32_t dirty_lo, dirty_hi;
    uint32_t allocated;
    uint64_t corrupt;       /* damage tolerated under VK_OPEN_CHECK */
};

/* One's complement of the byte sum, the checksum field counted as zero. */
static void geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *secs);
static void fit_geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *secs);
static bool sized_by_chs(const uint8_t *f);
static uint64_t footer_size(const uint8_t *f);

static uint32_t checksum(const uint8_t *b, size_t len, size_t field)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        if (i < field || i >= field + 4)
            sum += b[i];
    return ~sum;
}

static int vpc_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    /* a fixed disk's footer is only at the end: like QEMU, it probes as raw */
    return len >= 8 && !memcmp(buf, "conectix", 8) ? 100 : 0;
}

static int sync_fd(struct vpc *s, const char *name)
{
    if (!s->nosync && fdatasync(s->fd) < 0 && errno != EINVAL)
        return vk_error(-errno, "%s: flush: %s", name, strerror(errno));
    return 0;
}

static int vpc_flush(struct vk_blockdev *bd)
{
    struct vpc *s = bd->priv;
    int r = sync_fd(s, bd->name);   /* data before the BAT entries naming it */
    if (r < 0 || s->dirty_lo >= s->dirty_hi)
        return r;
    uint32_t lo = s->dirty_lo / 128 * 128, hi = s->dirty_hi;
    uint8_t *b = malloc((size_t)(hi - lo) * 4);
    if (!b)
        return vk_error(-ENOMEM, "out of memory");
    for (uint32_t i = lo; i < hi; i++)
        vk_put_be32(b + (size_t)(i - lo) * 4, s->bat[i]);
    r = vk_fd_pwrite_full(s->fd, b, (size_t)(hi - lo) * 4, s->bat_off + (uint64_t)lo * 4, bd->name);
    free(b);
    if (r < 0)
        return r;
    s->dirty_lo = UINT32_MAX;
    s->dirty_hi = 0;
    return sync_fd(s, bd->name);
}

/* Where guest offset off is in the file, or 0 when its block is not
 * allocated (offset 0 is always the footer copy, never data). */
static uint64_t host_of(struct vpc *s, uint64_t off)
{
    if (!s->dynamic)
        return off;
    uint32_t e = s->bat[off / s->bs];
    return e == VHD_UNALLOCATED ? 0 : (uint64_t)e * 512 + s->bitmap + off % s->bs;
}

static size_t in_block(struct vpc *s, uint64_t off, size_t len)
{
    if (!s->dynamic)
        return len;
    uint64_t left = s->bs - off % s->bs;
    return left < len ? (size_t)left : len;
}

static int vpc_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    struct vpc *s = bd->priv;
    uint8_t *p = buf;
    while (len) {
        size_t n = in_block(s, off, len);
        uint64_t h = host_of(s, off);
        if (s->dynamic && !h)
            memset(p, 0, n);
        else {
            int r = vk_fd_pread_full(s->fd, p, n, h, bd->name);
            if (r < 0)
                return r;
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* Give the block holding off a place at free_off: the footer behind it
 * first (the file never lacks one at its end), then the bitmap (every
 * sector present, as QEMU writes it), and zeroes where the caller's
 * write [in, in+n) does not cover and old bytes may lie. */
static int alloc_block(struct vk_blockdev *bd, uint64_t off, size_t n)
{
    struct vpc *s = bd->priv;
    uint64_t start = s->free_off, data = start + s->bitmap, end = data + s->bs;
    uint64_t idx = off / s->bs, in = off % s->bs;
    int r;
    if (end / 512 > 0xffffffffULL)
        return vk_error(-EFBIG, "%s: the image file would outgrow what a VHD BAT can address", bd->name);
    if ((r = vk_fd_pwrite_full(s->fd, s->footer, 512, end, bd->name)) < 0)
        return r;
    if (s->file_size > end + 512 && ftruncate(s->fd, (off_t)(end + 512)) < 0)
        return vk_error(-errno, "%s: %s", bd->name, strerror(errno));
    uint64_t old = s->file_size;
    s->file_size = end + 512;
    uint8_t *bm = malloc(s->bitmap);
    if (!bm)
        return vk_error(-ENOMEM, "out of memory");
    memset(bm, 0xff, s->bitmap);
    r = vk_fd_pwrite_full(s->fd, bm, s->bitmap, start, bd->name);
    free(bm);
    if (r == 0 && data < old)
        r = vk_fd_write_zeroes(s->fd, data, in, false, bd->name);
    if (r == 0 && data + in + n < old)
        r = vk_fd_write_zeroes(s->fd, data + in + n, s->bs - in - n, false, bd->name);
    if (r < 0)
        return r;
    s->bat[idx] = (uint32_t)(start / 512);
    if (idx < s->dirty_lo)
        s->dirty_lo = (uint32_t)idx;
    if (idx + 1 > s->dirty_hi)
        s->dirty_hi = (uint32_t)idx + 1;
    s->free_off = end;
    s->allocated++;
    return 0;
}

static int vpc_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct vpc *s = bd->priv;
    const uint8_t *p = buf;
    while (len) {
        size_t n = in_block(s, off, len);
        int r;
        if (s->dynamic && !host_of(s, off) && (r = alloc_block(bd, off, n)) < 0)
            return r;
        if ((r = vk_fd_pwrite_full(s->fd, p, n, host_of(s, off), bd->name)) < 0)
            return r;
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static int vpc_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags)
{
    struct vpc *s = bd->priv;
    (void)flags;   /* blocks are never given back: zeroes stay allocated */
    while (len) {
        size_t n = in_block(s, off, len > SIZE_MAX ? SIZE_MAX : (size_t)len);
        uint64_t h = host_of(s, off);
        if (!s->dynamic || h) {
            int r = vk_fd_write_zeroes(s->fd, h, n, false, bd->name);
            if (r < 0)
                return r;
        }
        off += n;
        len -= n;
    }
    return 0;
}

static int vpc_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                            uint64_t *pnum, uint64_t *host_off)
{
    struct vpc *s = bd->priv;
    if (!s->dynamic) {
        *pnum = len;
        *host_off = off;
        return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID;
    }
    uint64_t idx = off / s->bs, n = s->bs - off % s->bs;
    if (s->bat[idx] != VHD_UNALLOCATED) {
        *pnum = n < len ? n : len;
        *host_off = host_of(s, off);
        return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID;
    }
    for (uint64_t j = idx + 1; n < len && j < s->nbat && s->bat[j] == VHD_UNALLOCATED; j++)
        n += s->bs;
    *pnum = n < len ? n : len;
    return VK_BS_ZERO;
}

static int vpc_info(struct vk_blockdev *bd, struct vk_imginfo *info)
{
    struct vpc *s = bd->priv;
    struct stat st;
    if (fstat(s->fd, &st) == 0)
        info->disk_size = (uint64_t)st.st_blocks * 512;
    info->cluster_size = s->dynamic ? s->bs : 0;
    return 0;
}

static int vpc_check(struct vk_blockdev *bd, struct vk_check_report *r, int repair)
{
    struct vpc *s = bd->priv;
    if (repair)
        return vk_error(-ENOTSUP, "%s: VHD images cannot be repaired (convert the readable data instead)",
                        bd->name);
    r->corruptions = s->corrupt;
    r->allocated_clusters = s->dynamic ? s->allocated : 0;
    r->total_clusters = s->dynamic ? s->nbat : 0;
    r->image_end_offset = s->dynamic ? s->free_off + 512 : s->file_size;
    return 0;
}

static int vpc_close(struct vk_blockdev *bd)
{
    struct vpc *s = bd->priv;
    int r = 0;
    if (bd->flags & VK_OPEN_RDWR)
        r = vpc_flush(bd);
    close(s->fd);
    free(s->bat);
    vk_bd_free(bd);
    return r;
}

/* The sectors a disk of footer f's kind has when asked for `sectors`,
 * and its geometry: images sized by CHS round up to the first geometry
 * that holds it (as vpc_create); the others keep the size, with the
 * geometry the specification computes from it (as Hyper-V), or the
 * maximum that says "use current_size" kept. */
static uint64_t size_geometry(const uint8_t *f, uint64_t sectors, uint16_t *cyls, uint8_t *heads,
                              uint8_t *secs)
{
    *cyls = vk_get_be16(f + F_CYLS);
    *heads = f[F_HEADS];
    *secs = f[F_SECS];
    if (sized_by_chs(f)) {
        fit_geometry(sectors, cyls, heads, secs);
        uint64_t chs = (uint64_t)*cyls * *heads * *secs;
        return chs == VHD_MAX_GEOMETRY ? sectors : chs;   /* the maximum: current_size */
    }
    if ((uint64_t)*cyls * *heads * *secs != VHD_MAX_GEOMETRY)
        geometry(sectors, cyls, heads, secs);
    return sectors;
}

/* Write the footer with size sectors and geometry (size_geometry's) at
 * end_off and, for a dynamic disk, at offset 0; synced. */
static int write_footers(struct vk_blockdev *bd, uint64_t sectors, uint16_t cyls, uint8_t heads,
                         uint8_t secs, uint64_t end_off)
{
    struct vpc *s = bd->priv;
    uint8_t *f = s->footer;
    vk_put_be64(f + F_SIZE, sectors * 512);
    vk_put_be16(f + F_CYLS, cyls);
    f[F_HEADS] = heads;
    f[F_SECS] = secs;
    vk_put_be32(f + F_CHECKSUM, checksum(f, 512, F_CHECKSUM));
    int r = vk_fd_pwrite_full(s->fd, f, 512, end_off, bd->name);
    if (r == 0 && s->dynamic)
        r = vk_fd_pwrite_full(s->fd, f, 512, 0, bd->name);
    if (r == 0 && end_off + 512 > s->file_size)
        s->file_size = end_off + 512;
    if (r == 0)
        r = sync_fd(s, bd->name);
    if (r == 0)
        bd->size = footer_size(f);
    return r;
}

/* A dynamic disk's BAT for `need` entries.  Where the sectors after the
 * BAT are free up to the first block (or the footer) it grows in place;
 * else a new BAT is written where the footer is (the footer behind it),
 * synced, and only then does the dynamic header name it: its table offset,
 * entry count and checksum are all in its first sector, one write.  Each
 * step leaves a valid image; the old BAT's sectors stay unused. */
static int grow_bat(struct vk_blockdev *bd, uint32_t need)
{
    struct vpc *s = bd->priv;
    uint64_t dyn = vk_get_be64(s->footer + F_DATA_OFFSET), room = s->free_off;
    for (uint32_t i = 0; i < s->nbat; i++) {
        uint64_t b = (uint64_t)s->bat[i] * 512;
        if (s->bat[i] != VHD_UNALLOCATED && b > s->bat_off && b < room)
            room = b;
    }
    if (dyn > s->bat_off && dyn < room)
        room = dyn;
    uint32_t *nb = realloc(s->bat, (size_t)need * sizeof *nb);
    if (!nb)
        return vk_error(-ENOMEM, "out of memory");
    s->bat = nb;
    for (uint32_t i = s->nbat; i < need; i++)
        s->bat[i] = VHD_UNALLOCATED;
    uint64_t len = ((uint64_t)need * 4 + 511) / 512 * 512, at = s->bat_off;
    int r;
    if (s->bat_off + (uint64_t)need * 4 > room) {
        at = s->free_off;
        if ((at + len + 512) / 512 > 0xffffffffULL)
            return vk_error(-EFBIG, "%s: the image file would outgrow what a VHD can address", bd->name);
        if ((r = vk_fd_pwrite_full(s->fd, s->footer, 512, at + len, bd->name)) < 0)
            return r;
        s->file_size = at + len + 512;
    }
    /* the whole table: the new location, or the new entries in place */
    uint32_t from = at == s->bat_off ? s->nbat / 128 * 128 : 0;
    uint8_t *b = malloc((size_t)(need - from) * 4);
    if (!b)
        return vk_error(-ENOMEM, "out of memory");
    for (uint32_t i = from; i < need; i++)
        vk_put_be32(b + (size_t)(i - from) * 4, s->bat[i]);
    r = vk_fd_pwrite_full(s->fd, b, (size_t)(need - from) * 4, at + (uint64_t)from * 4, bd->name);
    free(b);
    if (r == 0)
        r = sync_fd(s, bd->name);
    uint8_t d[1024];
    if (r == 0)
        r = vk_fd_pread_full(s->fd, d, sizeof d, dyn, bd->name);
    if (r < 0)
        return r;
    vk_put_be64(d + D_TABLE_OFFSET, at);
    vk_put_be32(d + D_ENTRIES, need);
    vk_put_be32(d + D_CHECKSUM, checksum(d, sizeof d, D_CHECKSUM));
    if ((r = vk_fd_pwrite_full(s->fd, d, 512, dyn, bd->name)) < 0 || (r = sync_fd(s, bd->name)) < 0)
        return r;
    if (at != s->bat_off)
        s->free_off = at + len;
    s->bat_off = at;
    s->nbat = need;
    return 0;
}

/* Grow the disk (a smaller size is refused: Hyper-V shrinks only over
 * unpartitioned space, which vmkit does not look for).  The BAT first
 * (grow_bat), then the footers (the end, then the copy at offset 0 that
 * readers take first), so a crash leaves the old size or the new one. */
static int vpc_truncate(struct vk_blockdev *bd, uint64_t size, bool allow_shrink)
{
    struct vpc *s = bd->priv;
    (void)allow_shrink;
    if (size % 512)
        return vk_error(-EINVAL, "%s: the size must be a multiple of 512 bytes", bd->name);
    if (size < bd->size)
        return vk_error(-ENOTSUP, "%s: VHD images are not shrunk (convert the data to a smaller image instead)",
                        bd->name);
    if (size / 512 > VHD_MAX_SECTORS)
        return vk_error(-EFBIG, "%s: %llu bytes is more than VHD's 2040 GiB", bd->name,
                        (unsigned long long)size);
    int r;
    uint16_t c;
    uint8_t h, k;
    uint64_t want = size_geometry(s->footer, size / 512, &c, &h, &k);
    if (want == bd->size / 512)
        return 0;
    if (!s->dynamic) {
        /* the old footer at the new end first (still the old disk, in a
         * file longer than it needs), then everything between the old
         * disk and it zeroed (the old footer, or what an interrupted
         * resize left), then the new size: one sector */
        if ((r = vk_fd_pwrite_full(s->fd, s->footer, 512, want * 512, bd->name)) < 0 ||
            (r = sync_fd(s, bd->name)) < 0 ||
            (r = vk_fd_write_zeroes(s->fd, bd->size, want * 512 - bd->size, false, bd->name)) < 0 ||
            (r = sync_fd(s, bd->name)) < 0)
            return r;
        return write_footers(bd, want, c, h, k, want * 512);
    }
    uint64_t need = (want * 512 + s->bs - 1) / s->bs;
    if (need > 0xffffffffULL)
        return vk_error(-EFBIG, "%s: too many blocks for a VHD", bd->name);
    if ((r = vpc_flush(bd)) < 0 ||
        (need > s->nbat && (r = grow_bat(bd, (uint32_t)need)) < 0))
        return r;
    return write_footers(bd, want, c, h, k, s->free_off);
}

static const struct vk_blockdev_ops vpc_ops = {
    .pread = vpc_pread,
    .pwrite = vpc_pwrite,
    .flush = vpc_flush,
    .write_zeroes = vpc_write_zeroes,
    .block_status = vpc_block_status,
    .truncate = vpc_truncate,
    .info = vpc_info,
    .check = vpc_check,
    .close = vpc_close,
};

/* Whether QEMU takes footer f's disk size from its CHS geometry (see the
 * top of the file) rather than from current_size. */
static bool sized_by_chs(const uint8_t *f)
{
    static const char *const by_size[] = { "win ", "qem2", "d2v ", "CTXS" };
    uint64_t chs = (uint64_t)vk_get_be16(f + F_CYLS) * f[F_HEADS] * f[F_SECS];
    bool use_chs = memcmp(f + F_APP, "tap", 4) != 0;
    for (size_t i = 0; i < sizeof by_size / sizeof by_size[0]; i++)
        if (!memcmp(f + F_APP, by_size[i], 4))
            use_chs = false;
    return use_chs && chs != VHD_MAX_GEOMETRY;
}

/* The disk size as QEMU reads it. */
static uint64_t footer_size(const uint8_t *f)
{
    if (!sized_by_chs(f))
        return vk_get_be64(f + F_SIZE) / 512 * 512;
    return (uint64_t)vk_get_be16(f + F_CYLS) * f[F_HEADS] * f[F_SECS] * 512;
}

/* What check_bat's overlap callback needs. */
struct bat_ctx {
    struct vk_blockdev *bd;
    struct vpc *s;
    bool tolerate;
};

/* An overlap vk_bat_check_overlaps() found: the BAT on the dynamic header
 * is refused; a block on anything else too, or (tolerate) counted and
 * read as zeroes. */
static int bat_overlap(void *ctx, const struct vk_bat_extent *bad)
{
    struct bat_ctx *c = ctx;
    struct vpc *s = c->s;
    const char *n = c->bd->name;
    if (bad->idx == VK_BAT_META)
        return vk_error(-EINVAL, "%s: the BAT at offset %llu overlaps the dynamic header", n,
                        (unsigned long long)s->bat_off);
    uint32_t i = (uint32_t)bad->idx;
    if (!c->tolerate)
        return vk_error(-EINVAL, "%s: BAT entry %u (offset %llu) points at offset %llu, which is already in use",
                        n, i, (unsigned long long)(s->bat_off + (uint64_t)i * 4),
                        (unsigned long long)bad->start);
    vk_warn("%s: BAT entry %u overlaps other data", n, i);
    s->corrupt++;
    s->bat[i] = VHD_UNALLOCATED;
    return 0;
}

/* Every allocated block lies in the file, off the metadata and off every
 * other block. */
static int check_bat(struct vk_blockdev *bd, struct vpc *s, uint64_t dyn_off, bool tolerate)
{
    struct vk_bat_extent *x = malloc(((size_t)s->nbat + 3) * sizeof *x);
    struct bat_ctx c = { bd, s, tolerate };
    size_t nx = 0;
    int r = 0;
    if (!x)
        return vk_error(-ENOMEM, "out of memory");
    x[nx++] = (struct vk_bat_extent){ 0, 512, VK_BAT_META };
    x[nx++] = (struct vk_bat_extent){ dyn_off, dyn_off + 1024, VK_BAT_META };
    x[nx++] = (struct vk_bat_extent){ s->bat_off, s->bat_off + (uint64_t)s->nbat * 4, VK_BAT_META };
    s->free_off = (s->bat_off + (uint64_t)s->nbat * 4 + 511) / 512 * 512;
    if (dyn_off + 1024 > s->free_off)
        s->free_off = (dyn_off + 1024 + 511) / 512 * 512;
    for (uint32_t i = 0; i < s->nbat; i++) {
        uint64_t start = (uint64_t)s->bat[i] * 512, end = start + s->bitmap + s->bs;
        if (s->bat[i] == VHD_UNALLOCATED)
            continue;
        if (end > s->file_size) {
            if (!tolerate) {
                r = vk_error(-EINVAL, "%s: BAT entry %u (offset %llu) points past the end of the file, at offset %llu",
                             bd->name, i, (unsigned long long)(s->bat_off + (uint64_t)i * 4),
                             (unsigned long long)start);
                goto out;
            }
            vk_warn("%s: BAT entry %u points past the end of the file", bd->name, i);
            s->corrupt++;
            s->bat[i] = VHD_UNALLOCATED;
            continue;
        }
        x[nx++] = (struct vk_bat_extent){ start, end, i };
    }
    if ((r = vk_bat_check_overlaps(x, nx, bat_overlap, &c)) < 0)
        goto out;
    for (uint32_t i = 0; i < s->nbat; i++) {
        if (s->bat[i] == VHD_UNALLOCATED)
            continue;
        s->allocated++;
        uint64_t end = (uint64_t)s->bat[i] * 512 + s->bitmap + s->bs;
        if (end > s->free_off)
            s->free_off = end;
    }
out:
    free(x);
    return r;
}

static int open_dynamic(struct vk_blockdev *bd, struct vpc *s, bool tolerate)
{
    uint8_t d[1024];
    const char *n = bd->name;
    uint64_t off = vk_get_be64(s->footer + F_DATA_OFFSET);
    int r;
    if (off < 512 || off > s->file_size || s->file_size - off < 1024)
        return vk_error(-EINVAL, "%s: the dynamic header offset %llu (footer offset %d) is outside the file: truncated?",
                        n, (unsigned long long)off, F_DATA_OFFSET);
    if ((r = vk_fd_pread_full(s->fd, d, sizeof d, off, n)) < 0)
        return r;
    if (memcmp(d, "cxsparse", 8))
        return vk_error(-EINVAL, "%s: no dynamic disk header at offset %llu", n, (unsigned long long)off);
    if (checksum(d, sizeof d, D_CHECKSUM) != vk_get_be32(d + D_CHECKSUM))
        return vk_error(-EINVAL, "%s: bad checksum in the dynamic header at offset %llu", n, (unsigned long long)off);
    s->bs = vk_get_be32(d + D_BLOCK_SIZE);
    if (s->bs < VHD_MIN_BLOCK || s->bs > VHD_MAX_BLOCK || (s->bs & (s->bs - 1)))
        return vk_error(-EINVAL, "%s: block size %u (offset %llu) is out of range (a power of two from 512 bytes to 256 MiB)",
                        n, s->bs, (unsigned long long)(off + D_BLOCK_SIZE));
    s->bitmap = (s->bs / (8 * 512) + 511) / 512 * 512;
    s->nbat = vk_get_be32(d + D_ENTRIES);
    s->bat_off = vk_get_be64(d + D_TABLE_OFFSET);
    if ((uint64_t)s->nbat * s->bs < bd->size)
        return vk_error(-EINVAL, "%s: the BAT's %u entries (offset %llu) cover less than the disk size %llu",
                        n, s->nbat, (unsigned long long)(off + D_ENTRIES), (unsigned long long)bd->size);
    if (s->bat_off < 512 || s->bat_off % 512 || s->bat_off > s->file_size ||
        (s->file_size - s->bat_off) / 4 < s->nbat)
        return vk_error(-EINVAL, "%s: the BAT at offset %llu (%u entries) is not inside the file: truncated?",
                        n, (unsigned long long)s->bat_off, s->nbat);
    uint8_t *raw = malloc(s->nbat ? (size_t)s->nbat * 4 : 1);
    s->bat = malloc(s->nbat ? (size_t)s->nbat * sizeof *s->bat : 1);
    if (!raw || !s->bat) {
        free(raw);
        return vk_error(-ENOMEM, "%s: out of memory for a BAT of %u entries", n, s->nbat);
    }
    r = vk_fd_pread_full(s->fd, raw, (size_t)s->nbat * 4, s->bat_off, n);
    for (uint32_t i = 0; r == 0 && i < s->nbat; i++)
        s->bat[i] = vk_get_be32(raw + (size_t)i * 4);
    free(raw);
    if (r < 0)
        return r;
    bd->cluster_size = s->bs;
    return check_bat(bd, s, off, tolerate);
}

static int vpc_open(int fd, const char *name, int flags, struct vk_blockdev **out)
{
    struct vk_blockdev *bd = vk_bd_alloc(&vpc_ops, &vk_format_vpc, name, sizeof(struct vpc));
    struct stat st;
    int r;
    if (!bd) {
        close(fd);
        return vk_error(-ENOMEM, "%s: out of memory", name);
    }
    struct vpc *s = bd->priv;
    s->fd = fd;
    s->dirty_lo = UINT32_MAX;
    s->nosync = flags & VK_OPEN_NOFLUSH;
    bd->flags = flags;
    if (fstat(fd, &st) < 0) {
        r = vk_error(-errno, "%s: %s", name, strerror(errno));
        goto fail;
    }
    s->file_size = (uint64_t)st.st_size;
    if (s->file_size < 512) {
        r = vk_error(-EINVAL, "%s: truncated VHD image (%llu bytes, no footer)", name,
                     (unsigned long long)s->file_size);
        goto fail;
    }
    /* the copy at offset 0 (dynamic disks) first, as QEMU; else the end */
    if ((r = vk_fd_pread_full(fd, s->footer, 512, 0, name)) < 0)
        goto fail;
    uint64_t foff = 0;
    if (memcmp(s->footer, "conectix", 8)) {
        foff = s->file_size / 512 * 512 - 512;
        if ((r = vk_fd_pread_full(fd, s->footer, 512, foff, name)) < 0)
            goto fail;
        if (memcmp(s->footer, "conectix", 8)) {
            r = vk_error(-EINVAL, "%s: not a VHD image (no \"conectix\" footer at offset 0 or %llu)", name,
                         (unsigned long long)foff);
            goto fail;
        }
    }
    if (checksum(s->footer, 512, F_CHECKSUM) != vk_get_be32(s->footer + F_CHECKSUM)) {
        r = vk_error(-EINVAL, "%s: bad footer checksum (footer at offset %llu)", name, (unsigned long long)foff);
        goto fail;
    }
    uint32_t type = vk_get_be32(s->footer + F_TYPE);
    if (type != VHD_FIXED && type != VHD_DYNAMIC) {
        r = vk_error(-ENOTSUP, "%s: VHD disk type %u is not supported (only fixed and dynamic%s)", name, type,
                     type == VHD_DIFFERENCING ? "; differencing disks are not" : "");
        goto fail;
    }
    s->dynamic = type == VHD_DYNAMIC;
    bd->size = footer_size(s->footer);
    if (bd->size > VHD_MAX_SECTORS * 512) {
        r = vk_error(-EFBIG, "%s: disk size %llu is more than VHD's 2040 GiB", name, (unsigned long long)bd->size);
        goto fail;
    }
    if (s->dynamic) {
        if ((r = open_dynamic(bd, s, flags & VK_OPEN_CHECK)) < 0)
            goto fail;
    } else if (bd->size > foff) {
        r = vk_error(-EINVAL, "%s: the disk size %llu is more than the %llu bytes before the footer: truncated?",
                     name, (unsigned long long)bd->size, (unsigned long long)foff);
        goto fail;
    }
    *out = bd;
    return 0;
fail:
    close(fd);
    free(s->bat);
    vk_bd_free(bd);
    return r;
}

/* QEMU's calculate_geometry(): the VHD specification's CHS algorithm. */
static void geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *secs)
{
    uint64_t ch;
    if (sectors > VHD_MAX_GEOMETRY)
        sectors = VHD_MAX_GEOMETRY;
    if (sectors >= 65535ULL * 16 * 63) {
        *secs = 255;
        *heads = 16;
        ch = sectors / *secs;
    } else {
        *secs = 17;
        ch = sectors / *secs;
        uint64_t h = (ch + 1023) / 1024;
        if (h < 4)
            h = 4;
        if (ch >= h * 1024 || h > 16) {
            *secs = 31;
            h = 16;
            ch = sectors / *secs;
        }
        if (ch >= h * 1024) {
            *secs = 63;
            h = 16;
            ch = sectors / *secs;
        }
        *heads = (uint8_t)h;
    }
    *cyls = (uint16_t)(ch / *heads);
}

/* The first geometry that holds `sectors` (at most the maximum), so a
 * convert or a resize never cuts the disk. */
static void fit_geometry(uint64_t sectors, uint16_t *cyls, uint8_t *heads, uint8_t *secs)
{
    uint64_t want = sectors < VHD_MAX_GEOMETRY ? sectors : VHD_MAX_GEOMETRY;
    *cyls = 0;
    *heads = *secs = 0;
    for (uint64_t i = 0; want > (uint64_t)*cyls * *heads * *secs; i++)
        geometry(want + i, cyls, heads, secs);
}

static int vpc_create(const char *path, const struct vk_create_opts *o)
{
    const char *sub = o->subformat ? o->subformat : "dynamic";
    bool dynamic = !strcmp(sub, "dynamic");
    uint16_t cyls = 0;
    uint8_t heads = 0, secs = 0;
    uint64_t sectors = (o->size + 511) / 512;
    int fd, r = 0;

    if (o->backing_file)
        return vk_error(-ENOTSUP, "%s: VHD images made here cannot have a backing file", path);
    if (!dynamic && strcmp(sub, "fixed"))
        return vk_error(-EINVAL, "%s: VHD subformat '%s' is not dynamic or fixed", path, sub);
    if (o->prealloc && strcmp(o->prealloc, "off"))
        return vk_error(-EINVAL, "%s: VHD has no preallocation option (use -o subformat=fixed)", path);
    if (o->cluster_size && o->cluster_size != VHD_BLOCK_SIZE)
        return vk_error(-EINVAL, "%s: the VHD block size is 2 MiB", path);
    if (o->force_size) {
        cyls = 65535;
        heads = 16;
        secs = 255;
    } else {
        fit_geometry(sectors, &cyls, &heads, &secs);
    }
    if ((uint64_t)cyls * heads * secs != VHD_MAX_GEOMETRY)
        sectors = (uint64_t)cyls * heads * secs;
    if (sectors > VHD_MAX_SECTORS)
        return vk_error(-EFBIG, "%s: the disk is too large for VHD (at most 2040 GiB)", path);
    uint64_t size = sectors * 512;

    uint8_t f[512] = { 0 };
    memcpy(f, "conectix", 8);
    vk_put_be32(f + F_FEATURES, 2);
    vk_put_be32(f + F_VERSION, 0x00010000);
    vk_put_be64(f + F_DATA_OFFSET, dynamic ? 512 : UINT64_MAX);
    vk_put_be32(f + F_TIMESTAMP, (uint32_t)(time(NULL) - VHD_TIME_BASE));
    memcpy(f + F_APP, o->force_size ? "qem2" : "qemu", 4);
    vk_put_be32(f + F_APP_VER, 0x00050003);   /* Virtual PC 2007, as QEMU */
    memcpy(f + F_OS, "Wi2k", 4);
    vk_put_be64(f + F_ORIG_SIZE, size);
    vk_put_be64(f + F_SIZE, size);
    vk_put_be16(f + F_CYLS, cyls);
    f[F_HEADS] = heads;
    f[F_SECS] = secs;
    vk_put_be32(f + F_TYPE, dynamic ? VHD_DYNAMIC : VHD_FIXED);
    vk_uuid_random(f + F_UUID);
    vk_put_be32(f + F_CHECKSUM, checksum(f, sizeof f, F_CHECKSUM));

    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    if (!dynamic) {
        if (ftruncate(fd, (off_t)size) < 0)
            r = vk_error(-errno, "%s: %s", path, strerror(errno));
        else
            r = vk_fd_pwrite_full(fd, f, sizeof f, size, path);
    } else {
        uint64_t nbat = (size + VHD_BLOCK_SIZE - 1) / VHD_BLOCK_SIZE;
        uint64_t batlen = (nbat * 4 + 511) / 512 * 512;
        uint8_t *m = malloc(1536 + batlen);
        if (!m) {
            r = vk_error(-ENOMEM, "out of memory");
        } else {
            memcpy(m, f, 512);
            uint8_t *d = m + 512;
            memset(d, 0, 1024);
            memcpy(d, "cxsparse", 8);
            vk_put_be64(d + D_DATA_OFFSET, UINT64_MAX);
            vk_put_be64(d + D_TABLE_OFFSET, 1536);
            vk_put_be32(d + D_VERSION, 0x00010000);
            vk_put_be32(d + D_ENTRIES, (uint32_t)nbat);
            vk_put_be32(d + D_BLOCK_SIZE, VHD_BLOCK_SIZE);
            vk_put_be32(d + D_CHECKSUM, checksum(d, 1024, D_CHECKSUM));
            memset(m + 1536, 0xff, batlen);
            r = vk_fd_pwrite_full(fd, m, 1536 + batlen, 0, path);
            if (r == 0)
                r = vk_fd_pwrite_full(fd, f, 512, 1536 + batlen, path);
            free(m);
        }
    }
    if (r == 0 && fsync(fd) < 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    close(fd);
    if (r < 0)
        unlink(path);
    return r;
}

const struct vk_format vk_format_vpc = {
    .name = "vpc",
    .probe = vpc_probe,
    .open = vpc_open,
    .create = vpc_create,
};
