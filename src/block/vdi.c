/* vdi: VirtualBox Disk Image, dynamic and static (fixed), version 1.1.
 *
 * Layout (qemu/qemu block/vdi.c, little-endian): a 512-byte header, the
 * block map (one 32-bit entry per block of the disk: the index of its
 * data block after offset_data, or 0xffffffff unallocated, 0xfffffffe
 * discarded; both read as zeroes) and the data blocks, usually 1 MiB.
 *
 * Opening validates the map against the file: entries beyond the block
 * count, past the end of the file or shared by two blocks are refused
 * (tolerated, and counted, when opened for `img check`).
 *
 * Data blocks are kept dense, as VirtualBox and QEMU keep them: the
 * allocated entries name exactly the data blocks 0..allocated-1, because
 * both put a new block at index `allocated` (a hole would make them write
 * a new block over a used one).  Shrinking moves the last blocks into the
 * holes it leaves; growing past the room in the block map moves the map
 * (see grow_map()).
 *
 * Crash safety: a new block's data is written (past every used block)
 * before the map entry naming it; the map and the header's block count
 * live in memory and reach the disk in vdi_flush(), after an fdatasync of
 * the data, and are synced in turn - a growing block count before the
 * map, a shrinking one after it, so the count is never below the blocks
 * the map names, which QEMU needs (it places a new block at the count).
 * A crash loses at most unflushed
 * allocations, which then are unreferenced space reused by the next
 * allocation.  A moved block is copied, synced, and only then named by
 * the map; its old place is reused only after that map is synced.
 * VK_OPEN_NOFLUSH drops the syncs, keeping the order. */
#include "block/blockdev.h"

#include "util/endian.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VDI_SIGNATURE   0xbeda107fu
#define VDI_VERSION_1_1 0x00010001u
#define VDI_DYNAMIC     1
#define VDI_STATIC      2
#define VDI_UNALLOCATED 0xffffffffu
#define VDI_DISCARDED   0xfffffffeu
#define VDI_BLOCK_SIZE  (1u << 20)          /* the only size VirtualBox and QEMU write */
#define VDI_MIN_BLOCK   512u                /* what this driver reads */
#define VDI_MAX_BLOCK   (256u << 20)
#define VDI_MAX_BLOCKS  0x3fffffffu         /* QEMU's limit */
#define VDI_MOVE_SLACK  4096u              /* most blocks grow_map() moves (a 4 GiB map) */
#define VDI_TEXT        "<<< QEMU VM Virtual Disk Image >>>\n"

/* Header field offsets. */
enum {
    H_SIGNATURE = 64, H_VERSION = 68, H_HEADER_SIZE = 72, H_TYPE = 76,
    H_OFF_BMAP = 340, H_OFF_DATA = 344, H_SECTOR_SIZE = 360, H_DISK_SIZE = 368,
    H_BLOCK_SIZE = 376, H_BLOCK_EXTRA = 380, H_BLOCKS = 384, H_ALLOCATED = 388,
    H_UUID_IMAGE = 392, H_UUID_SNAP = 408, H_UUID_LINK = 424, H_UUID_PARENT = 440,
};

struct vdi {
    int fd;
    uint8_t hdr[512];
    uint32_t *bmap;         /* host order */
    uint32_t nblocks;       /* blocks_in_image */
    uint32_t bs;            /* block size */
    uint64_t off_bmap, off_data;
    uint64_t file_size;     /* bytes of the file (grows with allocations) */
    uint32_t allocated;     /* allocated entries */
    uint32_t next;          /* data index of the next new block */
    uint8_t *used;          /* per data index: some entry points at it */
    uint32_t ucap;          /* entries of used[]: nblocks + VDI_MOVE_SLACK */
    uint32_t dirty_lo, dirty_hi;  /* map entries [lo, hi) to write */
    bool hdr_dirty;
    uint64_t stale_off, stale_len;  /* an old block map, punched after the header moved */
    bool nosync;
    uint64_t corrupt;       /* damage tolerated under VK_OPEN_CHECK */
};

static bool is_alloc(uint32_t e) { return e < VDI_DISCARDED; }

static int vdi_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= 72 && vk_get_le32(buf + H_SIGNATURE) == VDI_SIGNATURE ? 100 : 0;
}

static int sync_fd(struct vdi *s, const char *name)
{
    if (!s->nosync && fdatasync(s->fd) < 0 && errno != EINVAL)
        return vk_error(-errno, "%s: flush: %s", name, strerror(errno));
    return 0;
}

/* Write the header with the block count, block total and disk size. */
static int write_header(struct vdi *s, struct vk_blockdev *bd)
{
    vk_put_le32(s->hdr + H_ALLOCATED, s->allocated);
    vk_put_le32(s->hdr + H_BLOCKS, s->nblocks);
    vk_put_le64(s->hdr + H_DISK_SIZE, bd->size);
    int r = vk_fd_pwrite_full(s->fd, s->hdr, sizeof s->hdr, 0, bd->name);
    if (r == 0)
        s->hdr_dirty = false;
    return r;
}

/* Write the dirty part of the map (whole sectors) and the header. */
static int vdi_flush(struct vk_blockdev *bd)
{
    struct vdi *s = bd->priv;
    int r;
    if (s->dirty_lo >= s->dirty_hi && !s->hdr_dirty)
        return sync_fd(s, bd->name);
    /* data blocks first: a map entry never names unwritten data */
    if ((r = sync_fd(s, bd->name)) < 0)
        return r;
    /* QEMU places a new block at the header's block count: after any
     * crash or power cut that count must not be below the blocks the map
     * names (two blocks would share a place).  So a count that grows is
     * written, and synced, before the map entries; one that shrinks after
     * them.  Between the two, the count is too high: space leaked. */
    bool grows = s->hdr_dirty && s->allocated >= vk_get_le32(s->hdr + H_ALLOCATED);
    if (grows && ((r = write_header(s, bd)) < 0 || (r = sync_fd(s, bd->name)) < 0))
        return r;
    if (s->dirty_lo < s->dirty_hi) {
        uint32_t lo = s->dirty_lo / 128 * 128, hi = s->dirty_hi;
        uint8_t *b = malloc((size_t)(hi - lo) * 4);
        if (!b)
            return vk_error(-ENOMEM, "out of memory");
        for (uint32_t i = lo; i < hi; i++)
            vk_put_le32(b + (size_t)(i - lo) * 4, s->bmap[i]);
        r = vk_fd_pwrite_full(s->fd, b, (size_t)(hi - lo) * 4, s->off_bmap + (uint64_t)lo * 4, bd->name);
        free(b);
        if (r < 0)
            return r;
        s->dirty_lo = UINT32_MAX;
        s->dirty_hi = 0;
    }
    if (s->hdr_dirty && ((r = sync_fd(s, bd->name)) < 0 || (r = write_header(s, bd)) < 0))
        return r;
    if ((r = sync_fd(s, bd->name)) < 0 || !s->stale_len)
        return r;
    (void)vk_fd_write_zeroes(s->fd, s->stale_off, s->stale_len, true, bd->name);  /* space only */
    s->stale_len = 0;
    return 0;
}

static void set_entry(struct vdi *s, uint32_t i, uint32_t v)
{
    s->bmap[i] = v;
    if (i < s->dirty_lo)
        s->dirty_lo = i;
    if (i + 1 > s->dirty_hi)
        s->dirty_hi = i + 1;
}

static int vdi_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    struct vdi *s = bd->priv;
    uint8_t *p = buf;
    while (len) {
        uint64_t idx = off / s->bs, in = off % s->bs;
        size_t n = s->bs - in < len ? (size_t)(s->bs - in) : len;
        uint32_t e = s->bmap[idx];
        if (is_alloc(e)) {
            int r = vk_fd_pread_full(s->fd, p, n, s->off_data + (uint64_t)e * s->bs + in, bd->name);
            if (r < 0)
                return r;
        } else {
            memset(p, 0, n);
        }
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* Give block idx a data block: the first unused data index (`allocated`
 * in a dense image), so the map stays within blocks_in_image.  Its bytes outside [in, in+n) are made
 * zero: beyond the end of the file by extending it, inside the file (the
 * leftovers of an unflushed allocation) by zeroing them. */
static int alloc_block(struct vk_blockdev *bd, uint64_t idx, uint64_t in, size_t n)
{
    struct vdi *s = bd->priv;
    while (s->next < s->nblocks && s->used[s->next])
        s->next++;
    if (s->next >= s->nblocks)
        return vk_error(-ENOSPC, "%s: no free data block left", bd->name);
    uint32_t d = s->next;
    uint64_t host = s->off_data + (uint64_t)d * s->bs, end = host + s->bs;
    int r = 0;
    if (host < s->file_size) {
        r = vk_fd_write_zeroes(s->fd, host, in, false, bd->name);
        if (r == 0)
            r = vk_fd_write_zeroes(s->fd, host + in + n, s->bs - in - n, false, bd->name);
    }
    if (r == 0 && end > s->file_size) {
        if (ftruncate(s->fd, (off_t)end) < 0)
            return vk_error(-errno, "%s: growing the file: %s", bd->name, strerror(errno));
        s->file_size = end;
    }
    if (r < 0)
        return r;
    s->used[d] = 1;
    s->allocated++;
    s->hdr_dirty = true;
    set_entry(s, (uint32_t)idx, d);
    return 0;
}

static int vdi_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct vdi *s = bd->priv;
    const uint8_t *p = buf;
    while (len) {
        uint64_t idx = off / s->bs, in = off % s->bs;
        size_t n = s->bs - in < len ? (size_t)(s->bs - in) : len;
        int r;
        if (!is_alloc(s->bmap[idx])) {
            /* the data goes first, the entry is only in memory until flush */
            if ((r = alloc_block(bd, idx, in, n)) < 0)
                return r;
        }
        r = vk_fd_pwrite_full(s->fd, p, n, s->off_data + (uint64_t)s->bmap[idx] * s->bs + in, bd->name);
        if (r < 0)
            return r;
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static int vdi_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags)
{
    struct vdi *s = bd->priv;
    (void)flags;   /* VDI cannot give a block back; zeroes stay allocated */
    while (len) {
        uint64_t idx = off / s->bs, in = off % s->bs;
        uint64_t n = s->bs - in < len ? s->bs - in : len;
        uint32_t e = s->bmap[idx];
        if (is_alloc(e)) {
            int r = vk_fd_write_zeroes(s->fd, s->off_data + (uint64_t)e * s->bs + in, n, false, bd->name);
            if (r < 0)
                return r;
        }
        off += n;
        len -= n;
    }
    return 0;
}

static int vdi_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                            uint64_t *pnum, uint64_t *host_off)
{
    struct vdi *s = bd->priv;
    uint64_t idx = off / s->bs, in = off % s->bs;
    uint32_t e = s->bmap[idx];
    uint64_t n = s->bs - in;
    /* extend over following blocks with the same status (and, when
     * allocated, contiguous data) */
    for (uint64_t j = idx + 1; n < len && j < s->nblocks; j++) {
        uint32_t f = s->bmap[j];
        if (is_alloc(e) ? f != e + (j - idx) : is_alloc(f))
            break;
        n += s->bs;
    }
    *pnum = n < len ? n : len;
    if (!is_alloc(e))
        return VK_BS_ZERO;
    *host_off = s->off_data + (uint64_t)e * s->bs + in;
    return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID;
}

/* Make bmap hold n entries and used[] n + VDI_MOVE_SLACK data indexes
 * (never fewer than it has). */
static int grow_arrays(struct vdi *s, uint32_t n)
{
    uint32_t *nb = realloc(s->bmap, (size_t)n * sizeof *nb);
    if (!nb)
        return vk_error(-ENOMEM, "out of memory");
    s->bmap = nb;
    if (n + VDI_MOVE_SLACK > s->ucap) {
        uint8_t *nu = realloc(s->used, n + VDI_MOVE_SLACK);
        if (!nu)
            return vk_error(-ENOMEM, "out of memory");
        memset(nu + s->ucap, 0, n + VDI_MOVE_SLACK - s->ucap);
        s->used = nu;
        s->ucap = n + VDI_MOVE_SLACK;
    }
    return 0;
}

/* Copy data block `from` to the unused data block `to`, in pieces of at
 * most 1 MiB. */
static int copy_block(struct vk_blockdev *bd, uint32_t from, uint32_t to)
{
    struct vdi *s = bd->priv;
    size_t piece = s->bs < (1u << 20) ? s->bs : (1u << 20);
    uint8_t *buf = malloc(piece);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    uint64_t src = s->off_data + (uint64_t)from * s->bs, dst = s->off_data + (uint64_t)to * s->bs;
    int r = 0;
    for (uint64_t o = 0; o < s->bs && r == 0; o += piece) {
        r = vk_fd_pread_full(s->fd, buf, piece, src + o, bd->name);
        if (r == 0)
            r = vk_fd_pwrite_full(s->fd, buf, piece, dst + o, bd->name);
    }
    free(buf);
    if (r == 0 && dst + s->bs > s->file_size)
        s->file_size = dst + s->bs;
    return r;
}

/* Move the data of map entry i to the unused data block `to`: copied now,
 * named by the map at the next flush. */
static int move_block(struct vk_blockdev *bd, uint32_t i, uint32_t to)
{
    struct vdi *s = bd->priv;
    int r = copy_block(bd, s->bmap[i], to);
    if (r < 0)
        return r;
    s->used[s->bmap[i]] = 0;
    s->used[to] = 1;
    set_entry(s, i, to);
    return 0;
}

/* After a shrink: move the last data blocks into the holes below
 * `allocated`, so the image is dense again (see the top), then cut the
 * file after them.  The holes were freed by a flushed map, so the copies
 * overwrite nothing a map on disk names. */
static int compact(struct vk_blockdev *bd)
{
    struct vdi *s = bd->priv;
    if (vk_get_le32(s->hdr + H_TYPE) == VDI_STATIC)
        return 0;
    uint32_t hole = 0;
    bool moved = false;
    for (uint32_t i = 0; i < s->nblocks; i++) {
        if (!is_alloc(s->bmap[i]) || s->bmap[i] < s->allocated)
            continue;
        while (hole < s->allocated && s->used[hole])
            hole++;
        if (hole >= s->allocated)
            break;              /* cannot happen: a block past `allocated` means a hole below */
        int r = move_block(bd, i, hole);
        if (r < 0)
            return r;
        moved = true;
    }
    s->next = s->allocated;
    int r = moved ? vdi_flush(bd) : 0;
    uint64_t end = s->off_data + (uint64_t)s->allocated * s->bs;
    if (r == 0 && end < s->file_size) {
        if (ftruncate(s->fd, (off_t)end) < 0)
            return vk_error(-errno, "%s: cutting the file: %s", bd->name, strerror(errno));
        s->file_size = end;
    }
    return r;
}

/* Grow the map to `need` entries where it has no room left between its
 * offset and the data: the new map goes where data blocks 0..k-1 are
 * (k blocks hold it) and the data starts k blocks later, so every other
 * block stays where it is and is renumbered by -k.  The order keeps a
 * valid image on disk at each step:
 *   1. blocks 0..k-1 are copied past the used ones, and the old map names
 *      the copies (synced); blocks 0..k-1 are now free.  On a nearly full
 *      image a copy can have an index past the old block count, which
 *      vmkit and QEMU read (qemu-img check calls it too large; resizing
 *      again finishes the job);
 *   2. the new map is written into the free blocks 0..k-1 and synced;
 *   3. the header, naming the new map offset, data offset and block count,
 *      is written by the caller's flush: one sector, the switch.  The old
 *      map's sectors are punched after it (vdi_flush). */
static int grow_map(struct vk_blockdev *bd, uint32_t need)
{
    struct vdi *s = bd->priv;
    uint64_t mbytes = ((uint64_t)need * 4 + 511) / 512 * 512;
    uint32_t k = (uint32_t)((mbytes + s->bs - 1) / s->bs);
    uint64_t off_data = s->off_data + (uint64_t)k * s->bs;
    if (off_data > UINT32_MAX || k > VDI_MOVE_SLACK)
        return vk_error(-EFBIG, "%s: a block map of %u entries does not fit below the 4 GiB data offset VDI allows",
                        bd->name, need);
    int r = grow_arrays(s, need);
    if (r < 0)
        return r;
    /* 1: free data blocks 0..k-1 (ucap >= allocated + k: there is room) */
    uint32_t to = k;
    bool moved = false;
    for (uint32_t i = 0; i < s->nblocks; i++) {
        if (!is_alloc(s->bmap[i]) || s->bmap[i] >= k)
            continue;
        while (to < s->ucap && s->used[to])
            to++;
        if (to >= s->ucap)
            return vk_error(-EIO, "%s: no data block to move a block to", bd->name);
        if ((r = move_block(bd, i, to)) < 0)
            return r;
        moved = true;
    }
    if (moved && (r = vdi_flush(bd)) < 0)
        return r;
    /* 2: the new map, renumbered, where blocks 0..k-1 were */
    uint8_t *b = calloc(1, mbytes);
    if (!b)
        return vk_error(-ENOMEM, "out of memory");
    for (uint32_t i = 0; i < need; i++) {
        uint32_t e = i < s->nblocks ? s->bmap[i] : VDI_UNALLOCATED;
        vk_put_le32(b + (size_t)i * 4, is_alloc(e) ? e - k : e);
    }
    r = vk_fd_pwrite_full(s->fd, b, mbytes, s->off_data, bd->name);
    free(b);
    if (r == 0)
        r = sync_fd(s, bd->name);
    if (r < 0)
        return r;
    /* 3: the new layout in memory; the header goes with the caller's flush */
    s->stale_off = s->off_bmap;
    s->stale_len = s->off_data - s->off_bmap;
    for (uint32_t i = 0; i < s->nblocks; i++)
        if (is_alloc(s->bmap[i]))
            s->bmap[i] -= k;
    memmove(s->used, s->used + k, s->ucap - k);
    memset(s->used + s->ucap - k, 0, k);
    s->off_bmap = s->off_data;
    s->off_data = off_data;
    s->next = 0;
    s->dirty_lo = UINT32_MAX;
    s->dirty_hi = 0;
    vk_put_le32(s->hdr + H_OFF_BMAP, (uint32_t)s->off_bmap);
    vk_put_le32(s->hdr + H_OFF_DATA, (uint32_t)s->off_data);
    s->hdr_dirty = true;
    return 0;
}

static int vdi_truncate(struct vk_blockdev *bd, uint64_t size, bool allow_shrink)
{
    struct vdi *s = bd->priv;
    if (vk_get_le32(s->hdr + H_TYPE) == VDI_STATIC)
        return vk_error(-ENOTSUP, "%s: a fixed (static) VDI cannot be resized; convert it to a dynamic one first",
                        bd->name);
    if (size % 512)
        return vk_error(-EINVAL, "%s: the size must be a multiple of 512 bytes", bd->name);
    uint64_t need = (size + s->bs - 1) / s->bs;
    bool shrunk = size < bd->size;
    if (shrunk) {
        /* blocks_in_image stays: data indexes must stay below it */
        uint64_t first = (size + s->bs - 1) / s->bs, oldn = (bd->size + s->bs - 1) / s->bs;
        for (uint64_t i = first; i < oldn; i++)
            if (is_alloc(s->bmap[i]) && !allow_shrink)
                return vk_error(-ENOTEMPTY, "%s: shrinking would discard data at offset %llu (use --shrink)",
                                bd->name, (unsigned long long)(i * s->bs));
        /* the new size reaches the disk first: past it nothing is read,
         * so freeing the blocks there and zeroing the cut tail (below)
         * change nothing a crash could show under the old size */
        bd->size = size;
        s->hdr_dirty = true;
        int r = vdi_flush(bd);
        if (r < 0)
            return r;
        for (uint64_t i = first; i < oldn; i++)
            if (s->bmap[i] != VDI_UNALLOCATED) {
                if (is_alloc(s->bmap[i])) {
                    s->used[s->bmap[i]] = 0;
                    s->allocated--;
                    if (s->bmap[i] < s->next)
                        s->next = s->bmap[i];
                }
                set_entry(s, (uint32_t)i, VDI_UNALLOCATED);
            }
        /* what is cut off a block must not come back when it grows again */
        uint64_t in = size % s->bs;
        if (in && is_alloc(s->bmap[size / s->bs])) {
            r = vk_fd_write_zeroes(s->fd, s->off_data + (uint64_t)s->bmap[size / s->bs] * s->bs + in,
                                       s->bs - in, false, bd->name);
            if (r < 0)
                return r;
        }
    } else if (need > s->nblocks) {
        if (need > VDI_MAX_BLOCKS)
            return vk_error(-EFBIG, "%s: %llu bytes is too large for a VDI image", bd->name,
                            (unsigned long long)size);
        int r = need * 4 > s->off_data - s->off_bmap ? grow_map(bd, (uint32_t)need)
                                                     : grow_arrays(s, (uint32_t)need);
        if (r < 0)
            return r;
        uint32_t old = s->nblocks;
        s->nblocks = (uint32_t)need;
        for (uint32_t i = old; i < s->nblocks; i++)
            set_entry(s, i, VDI_UNALLOCATED);
    }
    bd->size = size;
    s->hdr_dirty = true;
    int r = vdi_flush(bd);
    return r < 0 || !shrunk ? r : compact(bd);
}

static int vdi_info(struct vk_blockdev *bd, struct vk_imginfo *info)
{
    struct vdi *s = bd->priv;
    struct stat st;
    if (fstat(s->fd, &st) == 0)
        info->disk_size = (uint64_t)st.st_blocks * 512;
    info->cluster_size = s->bs;
    return 0;
}

static int vdi_check(struct vk_blockdev *bd, struct vk_check_report *r, int repair)
{
    struct vdi *s = bd->priv;
    if (repair)
        return vk_error(-ENOTSUP, "%s: VDI images cannot be repaired (convert the readable data instead)",
                        bd->name);
    r->corruptions = s->corrupt;
    if (s->allocated != vk_get_le32(s->hdr + H_ALLOCATED) && !s->hdr_dirty) {
        vk_warn("%s: the header counts %u allocated blocks, the map %u", bd->name,
                vk_get_le32(s->hdr + H_ALLOCATED), s->allocated);
        r->corruptions++;
    }
    for (uint32_t i = 0; i < s->nblocks; i++)
        if (is_alloc(s->bmap[i]) && s->bmap[i] >= s->nblocks) {
            vk_warn("%s: block map entry %u names data block %u, past the block count %u "
                    "(an interrupted resize? resizing again finishes it)", bd->name, i, s->bmap[i], s->nblocks);
            r->corruptions++;
        }
    r->allocated_clusters = s->allocated;
    r->total_clusters = s->nblocks;
    uint64_t end = s->off_data;
    for (uint32_t i = 0; i < s->nblocks; i++)
        if (is_alloc(s->bmap[i]) && s->off_data + ((uint64_t)s->bmap[i] + 1) * s->bs > end)
            end = s->off_data + ((uint64_t)s->bmap[i] + 1) * s->bs;
    r->image_end_offset = end;
    return 0;
}

static int vdi_close(struct vk_blockdev *bd)
{
    struct vdi *s = bd->priv;
    int r = 0;
    if (bd->flags & VK_OPEN_RDWR)
        r = vdi_flush(bd);
    close(s->fd);
    free(s->bmap);
    free(s->used);
    vk_bd_free(bd);
    return r;
}

static const struct vk_blockdev_ops vdi_ops = {
    .pread = vdi_pread,
    .pwrite = vdi_pwrite,
    .flush = vdi_flush,
    .write_zeroes = vdi_write_zeroes,
    .block_status = vdi_block_status,
    .truncate = vdi_truncate,
    .info = vdi_info,
    .check = vdi_check,
    .close = vdi_close,
};

static bool uuid_null(const uint8_t *u)
{
    for (int i = 0; i < 16; i++)
        if (u[i])
            return false;
    return true;
}

/* The header's promises, checked against the file size. */
static int check_header(struct vk_blockdev *bd, struct vdi *s, uint64_t *size)
{
    const uint8_t *h = s->hdr;
    const char *n = bd->name;
    uint32_t type = vk_get_le32(h + H_TYPE), ver = vk_get_le32(h + H_VERSION);
    if (vk_get_le32(h + H_SIGNATURE) != VDI_SIGNATURE)
        return vk_error(-EINVAL, "%s: not a VDI image (no signature at offset 64)", n);
    if (ver != VDI_VERSION_1_1)
        return vk_error(-ENOTSUP, "%s: VDI version %u.%u is not supported (only 1.1)", n, ver >> 16, ver & 0xffff);
    if (type != VDI_DYNAMIC && type != VDI_STATIC)
        return vk_error(-ENOTSUP, "%s: VDI image type %u is not supported (only dynamic and fixed; differencing and undo images are not)",
                        n, type);
    if (!uuid_null(h + H_UUID_LINK) || !uuid_null(h + H_UUID_PARENT))
        return vk_error(-ENOTSUP, "%s: differencing VDI images (with a parent) are not supported", n);
    if (vk_get_le32(h + H_SECTOR_SIZE) != 512)
        return vk_error(-EINVAL, "%s: sector size %u at offset %d is not 512", n,
                        vk_get_le32(h + H_SECTOR_SIZE), H_SECTOR_SIZE);
    s->bs = vk_get_le32(h + H_BLOCK_SIZE);
    if (s->bs < VDI_MIN_BLOCK || s->bs > VDI_MAX_BLOCK || (s->bs & (s->bs - 1)))
        return vk_error(-EINVAL, "%s: block size %u at offset %d is out of range (a power of two from 512 bytes to 256 MiB)",
                        n, s->bs, H_BLOCK_SIZE);
    if (vk_get_le32(h + H_BLOCK_EXTRA))
        return vk_error(-ENOTSUP, "%s: VDI blocks with extra data (%u bytes) are not supported", n,
                        vk_get_le32(h + H_BLOCK_EXTRA));
    s->nblocks = vk_get_le32(h + H_BLOCKS);
    s->off_bmap = vk_get_le32(h + H_OFF_BMAP);
    s->off_data = vk_get_le32(h + H_OFF_DATA);
    if (s->nblocks > VDI_MAX_BLOCKS)
        return vk_error(-EINVAL, "%s: %u blocks (offset %d) is more than VDI allows", n, s->nblocks, H_BLOCKS);
    if (s->off_bmap < 512 || s->off_bmap % 512 || s->off_data % 512)
        return vk_error(-EINVAL, "%s: block map offset %llu or data offset %llu (offset %d) is not a sector past the header",
                        n, (unsigned long long)s->off_bmap, (unsigned long long)s->off_data, H_OFF_BMAP);
    if (s->off_bmap + (uint64_t)s->nblocks * 4 > s->off_data)
        return vk_error(-EINVAL, "%s: the block map at offset %llu (%u entries) runs into the data at offset %llu",
                        n, (unsigned long long)s->off_bmap, s->nblocks, (unsigned long long)s->off_data);
    if (s->off_bmap + (uint64_t)s->nblocks * 4 > s->file_size)
        return vk_error(-EINVAL, "%s: the block map at offset %llu (%u entries) runs past the end of the file (%llu bytes): truncated?",
                        n, (unsigned long long)s->off_bmap, s->nblocks, (unsigned long long)s->file_size);
    *size = vk_get_le64(h + H_DISK_SIZE);
    if (*size > (uint64_t)s->nblocks * s->bs)
        return vk_error(-EINVAL, "%s: disk size %llu (offset %d) is more than the %u blocks of the map hold",
                        n, (unsigned long long)*size, H_DISK_SIZE, s->nblocks);
    *size = (*size + 511) / 512 * 512;   /* VBoxManage makes odd sizes; QEMU rounds up */
    return 0;
}

/* Every allocated entry names a distinct data block inside the file. */
static int check_map(struct vk_blockdev *bd, struct vdi *s, bool tolerate)
{
    for (uint32_t i = 0; i < s->nblocks; i++) {
        uint32_t e = s->bmap[i];
        uint64_t at = s->off_bmap + (uint64_t)i * 4;
        const char *what = NULL;
        if (!is_alloc(e))
            continue;
        if (e >= s->ucap)
            what = "names a data block beyond the block count";
        else if (s->off_data + ((uint64_t)e + 1) * s->bs > s->file_size)
            what = "points past the end of the file";
        else if (s->used[e])
            what = "points at a data block another entry uses";
        if (what && !tolerate)
            return vk_error(-EINVAL, "%s: block map entry %u (offset %llu, value %u) %s", bd->name, i,
                            (unsigned long long)at, e, what);
        if (what) {
            vk_warn("%s: block map entry %u (offset %llu, value %u) %s", bd->name, i,
                    (unsigned long long)at, e, what);
            s->corrupt++;
            s->bmap[i] = VDI_UNALLOCATED;   /* read as zeroes */
            continue;
        }
        s->used[e] = 1;
        s->allocated++;
    }
    return 0;
}

static int vdi_open(int fd, const char *name, int flags, struct vk_blockdev **out)
{
    struct vk_blockdev *bd = vk_bd_alloc(&vdi_ops, &vk_format_vdi, name, sizeof(struct vdi));
    struct stat st;
    uint64_t size = 0;
    int r;
    if (!bd) {
        close(fd);
        return vk_error(-ENOMEM, "%s: out of memory", name);
    }
    struct vdi *s = bd->priv;
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
        r = vk_error(-EINVAL, "%s: truncated VDI image (%llu bytes, no complete header)", name,
                     (unsigned long long)s->file_size);
        goto fail;
    }
    if ((r = vk_fd_pread_full(fd, s->hdr, sizeof s->hdr, 0, name)) < 0 ||
        (r = check_header(bd, s, &size)) < 0)
        goto fail;
    size_t mlen = (size_t)s->nblocks * 4;
    uint8_t *raw = malloc(mlen ? mlen : 1);
    s->bmap = malloc((s->nblocks ? s->nblocks : 1) * sizeof *s->bmap);
    /* data blocks just past the block count are read (an interrupted
     * grow_map() leaves them) */
    s->ucap = s->nblocks + VDI_MOVE_SLACK;
    s->used = calloc(s->ucap, 1);
    if (!raw || !s->bmap || !s->used) {
        free(raw);
        r = vk_error(-ENOMEM, "%s: out of memory for a block map of %u entries", name, s->nblocks);
        goto fail;
    }
    r = vk_fd_pread_full(fd, raw, mlen, s->off_bmap, name);
    for (uint32_t i = 0; r == 0 && i < s->nblocks; i++)
        s->bmap[i] = vk_get_le32(raw + (size_t)i * 4);
    free(raw);
    if (r < 0 || (r = check_map(bd, s, flags & VK_OPEN_CHECK)) < 0)
        goto fail;
    bd->size = size;
    bd->cluster_size = vk_get_le32(s->hdr + H_TYPE) == VDI_STATIC ? 512 : s->bs;
    *out = bd;
    return 0;
fail:
    close(fd);
    free(s->bmap);
    free(s->used);
    vk_bd_free(bd);
    return r;
}

static int vdi_create(const char *path, const struct vk_create_opts *o)
{
    const char *pre = o->prealloc ? o->prealloc : "off";
    uint32_t bs = o->cluster_size ? o->cluster_size : VDI_BLOCK_SIZE;
    uint64_t size = (o->size + 511) / 512 * 512;
    uint64_t blocks = (size + bs - 1) / bs;
    bool fixed = o->static_image || !strcmp(pre, "metadata") || !strcmp(pre, "full") || !strcmp(pre, "falloc");
    int fd, r = 0;

    if (o->backing_file)
        return vk_error(-ENOTSUP, "%s: VDI images cannot have a backing file", path);
    if (o->subformat)
        return vk_error(-EINVAL, "%s: VDI has no subformat option (use -o static=on for a fixed image)", path);
    if (bs != VDI_BLOCK_SIZE)
        return vk_error(-EINVAL, "%s: VDI block size must be 1 MiB (VirtualBox and QEMU read no other)", path);
    if (strcmp(pre, "off") && !fixed)
        return vk_error(-EINVAL, "%s: preallocation '%s' is not one of off, metadata, falloc, full", path, pre);
    if (blocks > VDI_MAX_BLOCKS)
        return vk_error(-EFBIG, "%s: %llu bytes is too large for a VDI image", path, (unsigned long long)size);
    uint64_t mbytes = (blocks * 4 + 511) / 512 * 512;
    uint64_t off_data = 512 + mbytes;
    uint8_t *h = calloc(1, off_data);
    if (!h)
        return vk_error(-ENOMEM, "out of memory");
    memcpy(h, VDI_TEXT, strlen(VDI_TEXT));
    vk_put_le32(h + H_SIGNATURE, VDI_SIGNATURE);
    vk_put_le32(h + H_VERSION, VDI_VERSION_1_1);
    vk_put_le32(h + H_HEADER_SIZE, 0x180);
    vk_put_le32(h + H_TYPE, fixed ? VDI_STATIC : VDI_DYNAMIC);
    vk_put_le32(h + H_OFF_BMAP, 512);
    vk_put_le32(h + H_OFF_DATA, (uint32_t)off_data);
    vk_put_le32(h + H_SECTOR_SIZE, 512);
    vk_put_le64(h + H_DISK_SIZE, size);
    vk_put_le32(h + H_BLOCK_SIZE, bs);
    vk_put_le32(h + H_BLOCKS, (uint32_t)blocks);
    vk_put_le32(h + H_ALLOCATED, fixed ? (uint32_t)blocks : 0);
    /* VirtualBox keeps UUIDs little-endian in their first three fields;
     * random bytes need no conversion */
    vk_uuid_random(h + H_UUID_IMAGE);
    vk_uuid_random(h + H_UUID_SNAP);
    for (uint64_t i = 0; i < blocks; i++)
        vk_put_le32(h + 512 + i * 4, fixed ? (uint32_t)i : VDI_UNALLOCATED);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
        free(h);
        return r;
    }
    r = vk_fd_pwrite_full(fd, h, off_data, 0, path);
    free(h);
    uint64_t end = off_data + (fixed ? blocks * bs : 0);
    if (r == 0 && ftruncate(fd, (off_t)end) < 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    if (r == 0 && fixed && (!strcmp(pre, "falloc") || !strcmp(pre, "full"))) {
        int e = posix_fallocate(fd, (off_t)off_data, (off_t)(blocks * bs));
        if (e)
            r = vk_error(-e, "%s: preallocating: %s", path, strerror(e));
    }
    if (r == 0 && fsync(fd) < 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    close(fd);
    if (r < 0)
        unlink(path);
    return r;
}

const struct vk_format vk_format_vdi = {
    .name = "vdi",
    .probe = vdi_probe,
    .open = vdi_open,
    .create = vdi_create,
};
