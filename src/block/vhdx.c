/* vhdx: Hyper-V VHDX ([MS-VHDX]; qemu/qemu block/vhdx.c), dynamic and
 * fixed disks, read and write.
 *
 * Layout (little-endian, GUIDs in Microsoft's mixed-endian byte order):
 * a 1 MiB header section - the file identifier "vhdxfile", two 4 KiB
 * headers at 64 and 128 KiB (CRC-32C; the valid one with the higher
 * sequence number is current), two copies of the 64 KiB region table at
 * 192 and 256 KiB naming the BAT and the metadata region -, the log, the
 * metadata region (a table of items: file parameters with the block size,
 * virtual disk size, logical and physical sector size, page 83 data), the
 * BAT and the payload blocks (1 to 256 MiB, at 1 MiB-aligned offsets).
 * The BAT has one 64-bit entry per payload block (the state in bits 0-2,
 * the file offset in MiB in bits 20-63) and, after every chunk_ratio of
 * them, one sector-bitmap entry; sector bitmaps only matter to
 * differencing disks, which are refused.  Payload states NOT_PRESENT,
 * UNDEFINED, ZERO and UNMAPPED read as zeroes.
 *
 * Opening validates everything against the file: both checksums, region
 * and metadata entries (inside the file, off each other), and every
 * FULLY_PRESENT BAT entry (inside the file, off the metadata and off every
 * other block); damage is refused, or tolerated and counted for `img
 * check` (VK_OPEN_CHECK), the bad entries then reading as zeroes.
 *
 * The log: a writer that crashed can leave changes in the log that the
 * image itself lacks.  Opening read-write replays them first
 * (vhdx_log.c) and then clears the log GUID, as QEMU does; opening
 * read-only refuses such an image, as QEMU does, naming the command that
 * replays it: taking the stale image bytes instead would silently show
 * the guest an older disk.
 *
 * Writing data needs no log (the header's log GUID is set to zero, "no
 * log"; only a resize that moves the BAT writes one entry: move_bat).
 * What the log protects in Hyper-V is a torn multi-sector metadata
 * update; vmkit's updates are ordered so that each step leaves a valid
 * image:
 *   1. before the first change, both headers are rewritten in turn (new
 *      file and data write GUIDs, sequence + 1, then + 2), each synced: a
 *      torn header fails its CRC and the other one is current;
 *   2. a new block goes past the end of the file (1 MiB aligned; the file
 *      is extended first, so the rest of the block reads as zeroes) and
 *      its data is written there;
 *   3. vhdx_flush() syncs the data, then writes the changed BAT entries
 *      (each 8 bytes inside one sector, turning a zero-reading state into
 *      FULLY_PRESENT) and syncs again.
 * A crash at any point leaves either the old entry (the block reads as
 * zeroes, as it did, and the space past it is reused by no one: a leak)
 * or the new entry with its data already durable.  VK_OPEN_NOFLUSH drops
 * the syncs, keeping the order. */
#include "block/bat_check.h"
#include "block/blockdev.h"
#include "block/vhdx_int.h"

#include "util/crc32c.h"
#include "util/endian.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vhdx {
    int fd;
    bool nosync;
    bool headers_done;      /* the headers were rewritten for this session */
    uint8_t hdr[VHDX_HDR_SIZE];   /* the current header */
    int cur;                /* its slot: 0 or 1 */
    uint64_t file_size;
    uint32_t bs;            /* payload block size */
    uint32_t lss, pss;      /* logical, physical sector size */
    bool fixed;             /* LeaveBlocksAllocated */
    uint64_t chunk;         /* payload entries per sector-bitmap entry */
    uint64_t nblocks;       /* payload blocks */
    uint64_t nbat;          /* BAT entries with the sector-bitmap ones */
    uint64_t bat_off, meta_off, log_off;
    uint64_t size_item;     /* file offset of the virtual disk size item */
    uint32_t bat_len, meta_len, log_len;
    uint64_t *bat;          /* host order */
    uint64_t dirty_lo, dirty_hi;  /* BAT entries [lo, hi) to write */
    uint64_t allocated;
    uint64_t corrupt;       /* damage tolerated under VK_OPEN_CHECK */
    uint8_t page83[16];
    char spec[320];         /* format-specific JSON for info */
};

/* Contract in vhdx_int.h. */
void vhdx_guid_bytes(const char *s, uint8_t out[16])
{
    static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };
    uint8_t b[16];
    for (int i = 0, k = 0; k < 16; i++) {
        if (s[i] == '-')
            continue;
        unsigned v;
        sscanf(s + i, "%2x", &v);
        b[k++] = (uint8_t)v;
        i++;
    }
    for (int k = 0; k < 16; k++)
        out[order[k]] = b[k];
}

static bool guid_is(const uint8_t *p, const char *s)
{
    uint8_t g[16];
    vhdx_guid_bytes(s, g);
    return !memcmp(p, g, 16);
}

/* The checksum at buf+4 over len bytes, counted as zero. */
static bool crc_ok(uint8_t *buf, size_t len)
{
    uint32_t want = vk_get_le32(buf + 4);
    vk_put_le32(buf + 4, 0);
    uint32_t got = vk_crc32c(buf, len);
    vk_put_le32(buf + 4, want);
    return got == want;
}

/* Contract in vhdx_int.h. */
void vhdx_crc_set(uint8_t *buf, size_t len)
{
    vk_put_le32(buf + 4, 0);
    vk_put_le32(buf + 4, vk_crc32c(buf, len));
}

static int vhdx_probe(const uint8_t *buf, size_t len, const char *filename)
{
    (void)filename;
    return len >= 8 && !memcmp(buf, "vhdxfile", 8) ? 100 : 0;
}

static int sync_fd(struct vhdx *s, const char *name)
{
    if (!s->nosync && fdatasync(s->fd) < 0 && errno != EINVAL)
        return vk_error(-errno, "%s: flush: %s", name, strerror(errno));
    return 0;
}

static uint64_t bat_index(const struct vhdx *s, uint64_t block)
{
    return block + block / s->chunk;
}

static bool present(uint64_t e) { return (e & 7) == PB_FULL; }

static int vhdx_flush(struct vk_blockdev *bd)
{
    struct vhdx *s = bd->priv;
    int r = sync_fd(s, bd->name);   /* the data before the entries naming it */
    if (r < 0 || s->dirty_lo >= s->dirty_hi)
        return r;
    size_t n = (size_t)(s->dirty_hi - s->dirty_lo);
    uint8_t *b = malloc(n * 8);
    if (!b)
        return vk_error(-ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        vk_put_le64(b + i * 8, s->bat[s->dirty_lo + i]);
    r = vk_fd_pwrite_full(s->fd, b, n * 8, s->bat_off + s->dirty_lo * 8, bd->name);
    free(b);
    if (r < 0)
        return r;
    s->dirty_lo = UINT64_MAX;
    s->dirty_hi = 0;
    return sync_fd(s, bd->name);
}

/* Step 1 of the write order (top of the file): both header slots, the
 * other one first, each with a higher sequence number and synced. */
/* Write the current header, sequence + 1, with log GUID log (NULL: none)
 * into the other slot, and sync: it is current from then on. */
static int write_header(struct vk_blockdev *bd, struct vhdx *s, const uint8_t *log)
{
    int slot = 1 - s->cur;
    vk_put_le64(s->hdr + H_SEQ, vk_get_le64(s->hdr + H_SEQ) + 1);
    if (log)
        memcpy(s->hdr + H_LOG_GUID, log, 16);
    else
        memset(s->hdr + H_LOG_GUID, 0, 16);
    vhdx_crc_set(s->hdr, VHDX_HDR_SIZE);
    int r = vk_fd_pwrite_full(s->fd, s->hdr, VHDX_HDR_SIZE, VHDX_HDR1 + (uint64_t)slot * VHDX_HDR1, bd->name);
    if (r < 0 || (r = sync_fd(s, bd->name)) < 0)
        return r;
    s->cur = slot;
    return 0;
}

static int update_headers(struct vk_blockdev *bd, struct vhdx *s)
{
    vk_uuid_random(s->hdr + H_FILE_GUID);
    vk_uuid_random(s->hdr + H_DATA_GUID);
    for (int k = 0; k < 2; k++) {
        int r = write_header(bd, s, NULL);   /* no log: see the top */
        if (r < 0)
            return r;
    }
    s->headers_done = true;
    return 0;
}

/* Where guest offset off lies in the file (0: its block reads as zeroes)
 * and how many bytes of len stay in the block. */
static uint64_t locate(const struct vhdx *s, uint64_t off, size_t len, size_t *n)
{
    uint64_t blk = off / s->bs, in = off % s->bs;
    *n = s->bs - in < len ? (size_t)(s->bs - in) : len;
    uint64_t e = s->bat[bat_index(s, blk)];
    return present(e) ? (e & BAT_OFF_MASK) + in : 0;
}

static int vhdx_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    struct vhdx *s = bd->priv;
    uint8_t *p = buf;
    while (len) {
        size_t n;
        uint64_t h = locate(s, off, len, &n);
        if (!h) {
            memset(p, 0, n);
        } else {
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

/* Step 2: a new block for block number blk past the end of the file. */
static int alloc_block(struct vk_blockdev *bd, struct vhdx *s, uint64_t blk)
{
    uint64_t at = (s->file_size + MiB - 1) / MiB * MiB;
    if (at > (1ULL << 62))
        return vk_error(-EFBIG, "%s: the image file is too large to grow", bd->name);
    if (ftruncate(s->fd, (off_t)(at + s->bs)) < 0)
        return vk_error(-errno, "%s: growing the file: %s", bd->name, strerror(errno));
    s->file_size = at + s->bs;
    uint64_t i = bat_index(s, blk);
    s->bat[i] = at | PB_FULL;
    if (i < s->dirty_lo)
        s->dirty_lo = i;
    if (i + 1 > s->dirty_hi)
        s->dirty_hi = i + 1;
    s->allocated++;
    return 0;
}

static int vhdx_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct vhdx *s = bd->priv;
    const uint8_t *p = buf;
    int r;
    if (!s->headers_done && (r = update_headers(bd, s)) < 0)
        return r;
    while (len) {
        size_t n;
        uint64_t h = locate(s, off, len, &n);
        if (!h) {
            if ((r = alloc_block(bd, s, off / s->bs)) < 0)
                return r;
            h = locate(s, off, len, &n);
        }
        if ((r = vk_fd_pwrite_full(s->fd, p, n, h, bd->name)) < 0)
            return r;
        p += n;
        off += n;
        len -= n;
    }
    return 0;
}

static int vhdx_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags)
{
    struct vhdx *s = bd->priv;
    int r;
    (void)flags;   /* blocks are never given back: zeroes stay allocated */
    if (!s->headers_done && (r = update_headers(bd, s)) < 0)
        return r;
    while (len) {
        size_t n;
        uint64_t h = locate(s, off, len > SIZE_MAX ? SIZE_MAX : (size_t)len, &n);
        if (h && (r = vk_fd_write_zeroes(s->fd, h, n, false, bd->name)) < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

static int vhdx_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                             uint64_t *pnum, uint64_t *host_off)
{
    struct vhdx *s = bd->priv;
    uint64_t blk = off / s->bs, n = s->bs - off % s->bs;
    uint64_t e = s->bat[bat_index(s, blk)];
    /* following blocks with the same status (and, when present, data
     * following on in the file) */
    for (uint64_t j = blk + 1; n < len && j < s->nblocks; j++) {
        uint64_t f = s->bat[bat_index(s, j)];
        if (present(e) ? f != e + (j - blk) * s->bs : present(f))
            break;
        n += s->bs;
    }
    *pnum = n < len ? n : len;
    if (!present(e))
        return VK_BS_ZERO;
    *host_off = (e & BAT_OFF_MASK) + off % s->bs;
    return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID;
}

static int vhdx_info(struct vk_blockdev *bd, struct vk_imginfo *info)
{
    struct vhdx *s = bd->priv;
    struct stat st;
    if (fstat(s->fd, &st) == 0)
        info->disk_size = (uint64_t)st.st_blocks * 512;
    info->cluster_size = s->bs;
    const uint8_t *g = s->page83;
    snprintf(s->spec, sizeof s->spec,
             "{\"subformat\": \"%s\", \"block-size\": %u, \"logical-sector-size\": %u, "
             "\"physical-sector-size\": %u, \"log-size\": %u, "
             "\"page83-data\": \"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x\"}",
             s->fixed ? "fixed" : "dynamic", s->bs, s->lss, s->pss, s->log_len,
             g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
             g[14], g[15]);
    info->format_specific = s->spec;
    return 0;
}

static int vhdx_check(struct vk_blockdev *bd, struct vk_check_report *r, int repair)
{
    struct vhdx *s = bd->priv;
    /* a pending log was replayed when the image was opened for the
     * repair; damage beyond that is not repaired */
    if (repair && s->corrupt)
        return vk_error(-ENOTSUP, "%s: VHDX images cannot be repaired (convert the readable data instead)",
                        bd->name);
    r->corruptions = s->corrupt;
    r->allocated_clusters = s->allocated;
    r->total_clusters = s->nblocks;
    uint64_t end = s->meta_off + s->meta_len;
    if (s->bat_off + s->bat_len > end)
        end = s->bat_off + s->bat_len;
    for (uint64_t i = 0; i < s->nblocks; i++) {
        uint64_t e = s->bat[bat_index(s, i)];
        if (present(e) && (e & BAT_OFF_MASK) + s->bs > end)
            end = (e & BAT_OFF_MASK) + s->bs;
    }
    r->image_end_offset = end;
    return 0;
}

static int vhdx_close(struct vk_blockdev *bd)
{
    struct vhdx *s = bd->priv;
    int r = 0;
    if (bd->flags & VK_OPEN_RDWR)
        r = vhdx_flush(bd);
    close(s->fd);
    free(s->bat);
    vk_bd_free(bd);
    return r;
}

/* Move the BAT to a region of len bytes (MiB multiple) at the end of the
 * file, for a larger disk.  The region tables (two 64 KiB copies with
 * one checksum each) must switch to it at once, which the log makes so:
 *   1. the entries are copied to the new region, behind everything (the
 *      file grows), synced: nothing names it yet;
 *   2. one log entry holding the changed 4 KiB sectors of both tables is
 *      written at the start of the log under a new log GUID, synced;
 *   3. a header naming that GUID is written (synced): from here on a
 *      crash is finished by the replay that opening read-write does (in
 *      vmkit and in QEMU);
 *   4. the sectors are written in place, synced;
 *   5. both headers are written without a log GUID, each synced.
 * The old region is left unused. */
static int move_bat(struct vk_blockdev *bd, struct vhdx *s, uint32_t len)
{
    uint64_t at = (s->file_size + MiB - 1) / MiB * MiB;
    uint8_t *t = malloc(2 * VHDX_RT_SIZE), *raw = calloc(s->nbat ? s->nbat : 1, 8);
    int r = !t || !raw ? vk_error(-ENOMEM, "out of memory") : 0;
    for (uint64_t i = 0; r == 0 && i < s->nbat; i++)
        vk_put_le64(raw + i * 8, s->bat[i]);
    if (r == 0 && ftruncate(s->fd, (off_t)(at + len)) < 0)
        r = vk_error(-errno, "%s: growing the file: %s", bd->name, strerror(errno));
    if (r == 0)
        s->file_size = at + len;
    if (r == 0 && (r = vk_fd_pwrite_full(s->fd, raw, s->nbat * 8, at, bd->name)) == 0)
        r = sync_fd(s, bd->name);
    /* the new table: read_regions found a valid copy; it is written to
     * both places, as the new one */
    uint8_t *nt = t + VHDX_RT_SIZE;
    bool found = false;
    for (int copy = 0; r == 0 && copy < 2 && !found; copy++) {
        if ((r = vk_fd_pread_full(s->fd, t, VHDX_RT_SIZE, copy ? VHDX_RT2 : VHDX_RT1, bd->name)) < 0)
            break;
        if (memcmp(t, "regi", 4) || !crc_ok(t, VHDX_RT_SIZE) || vk_get_le32(t + 8) > 2047)
            continue;
        memcpy(nt, t, VHDX_RT_SIZE);
        for (uint32_t i = 0; i < vk_get_le32(t + 8); i++) {
            uint8_t *e = nt + 16 + (size_t)i * 32;
            if (guid_is(e, GUID_BAT) && vk_get_le64(e + 16) == s->bat_off) {
                vk_put_le64(e + 16, at);
                vk_put_le32(e + 24, len);
                found = true;
            }
        }
    }
    if (r == 0 && !found)
        r = vk_error(-EIO, "%s: the region table changed under vmkit", bd->name);
    if (r == 0)
        vhdx_crc_set(nt, VHDX_RT_SIZE);
    /* the log entry: every 4 KiB sector of the new table that differs from
     * what each copy holds now */
    uint64_t offs[32];
    uint8_t *secs[32];
    uint32_t n = 0;
    for (int copy = 0; r == 0 && copy < 2; copy++) {
        uint64_t base = copy ? VHDX_RT2 : VHDX_RT1;
        if ((r = vk_fd_pread_full(s->fd, t, VHDX_RT_SIZE, base, bd->name)) < 0)
            break;
        for (uint32_t k = 0; k < VHDX_RT_SIZE / 4096; k++)
            if (memcmp(t + k * 4096, nt + k * 4096, 4096)) {
                offs[n] = base + k * 4096;
                secs[n++] = nt + k * 4096;
            }
    }
    uint8_t guid[16];
    vk_uuid_random(guid);
    struct vhdx_log lg = { .fd = s->fd, .name = bd->name, .off = s->log_off, .len = s->log_len,
                           .guid = guid, .sync = !s->nosync };
    if (r == 0)
        r = vhdx_log_write(&lg, offs, secs, n, 1, s->file_size);
    if (r == 0)
        r = write_header(bd, s, guid);
    for (uint32_t i = 0; r == 0 && i < n; i++)
        r = vk_fd_pwrite_full(s->fd, secs[i], 4096, offs[i], bd->name);
    /* both headers without it, as QEMU leaves them: the older one must
     * not name a log either */
    if (r == 0 && (r = sync_fd(s, bd->name)) == 0 && (r = write_header(bd, s, NULL)) == 0)
        r = write_header(bd, s, NULL);
    if (r == 0) {
        s->bat_off = at;
        s->bat_len = len;
    }
    free(t);
    free(raw);
    return r;
}

/* Grow the disk, as Hyper-V's Resize-VHD (qemu-img has no resize for
 * VHDX).  In order, each step synced: the headers get new write GUIDs
 * (as before any write); a BAT region without room for the new entries
 * moves to the end of the file, through the log (move_bat); the old
 * last block's bytes past the old end are zeroed; the
 * BAT entries past the old end are written (zero; a fixed disk's new
 * blocks, allocated at the end of the file, FULLY_PRESENT), unread while
 * the size is the old one; then the 8-byte virtual disk size item.  A
 * crash leaves the old disk or the new one.  Shrinking is refused. */
static int vhdx_truncate(struct vk_blockdev *bd, uint64_t size, bool allow_shrink)
{
    struct vhdx *s = bd->priv;
    (void)allow_shrink;
    size = (size + s->lss - 1) / s->lss * s->lss;
    if (size < bd->size)
        return vk_error(-ENOTSUP, "%s: VHDX images are not shrunk by vmkit (convert to qcow2 or raw and resize that)",
                        bd->name);
    if (size > VHDX_MAX_SIZE)
        return vk_error(-EFBIG, "%s: a VHDX holds at most 64 TiB", bd->name);
    uint64_t nblocks = (size + s->bs - 1) / s->bs;
    uint64_t nbat = nblocks ? nblocks + (nblocks - 1) / s->chunk : 0;
    if (nbat > s->bat_len / 8 && s->log_len < 16 * 4096)
        return vk_error(-ENOTSUP, "%s: the BAT region must move to grow this far, and the image's log (%u bytes) "
                        "is too small to do it safely", bd->name, s->log_len);
    int r = vhdx_flush(bd);
    if (r == 0 && !s->headers_done)
        r = update_headers(bd, s);
    if (r == 0 && nbat > s->bat_len / 8)
        r = move_bat(bd, s, (uint32_t)((nbat * 8 + MiB - 1) / MiB * MiB));
    if (r < 0)
        return r;
    uint64_t *bat = realloc(s->bat, (nbat ? nbat : 1) * sizeof *bat);
    if (!bat)
        return vk_error(-ENOMEM, "%s: out of memory for a BAT of %llu entries", bd->name, (unsigned long long)nbat);
    s->bat = bat;
    memset(bat + s->nbat, 0, (nbat - s->nbat) * sizeof *bat);
    /* what lay past the old end in its last block must read as zeroes */
    uint64_t in = bd->size % s->bs;
    if (in && s->nblocks) {
        uint64_t e = bat[bat_index(s, s->nblocks - 1)];
        if (present(e) && (r = vk_fd_write_zeroes(s->fd, (e & BAT_OFF_MASK) + in, s->bs - in, false, bd->name)) < 0)
            return r;
    }
    if (s->fixed && nblocks > s->nblocks) {
        uint64_t at = (s->file_size + MiB - 1) / MiB * MiB;
        if (ftruncate(s->fd, (off_t)(at + (nblocks - s->nblocks) * s->bs)) < 0)
            return vk_error(-errno, "%s: growing the file: %s", bd->name, strerror(errno));
        s->file_size = at + (nblocks - s->nblocks) * s->bs;
        for (uint64_t b = s->nblocks; b < nblocks; b++, at += s->bs)
            bat[bat_index(s, b)] = at | PB_FULL;
    }
    if (nbat > s->nbat) {
        uint8_t *raw = malloc((nbat - s->nbat) * 8);
        if (!raw)
            return vk_error(-ENOMEM, "out of memory");
        for (uint64_t i = s->nbat; i < nbat; i++)
            vk_put_le64(raw + (i - s->nbat) * 8, bat[i]);
        r = vk_fd_pwrite_full(s->fd, raw, (nbat - s->nbat) * 8, s->bat_off + s->nbat * 8, bd->name);
        free(raw);
    }
    if (r == 0)
        r = sync_fd(s, bd->name);
    uint8_t le[8];
    vk_put_le64(le, size);
    if (r == 0)
        r = vk_fd_pwrite_full(s->fd, le, 8, s->size_item, bd->name);
    if (r == 0)
        r = sync_fd(s, bd->name);
    if (r < 0)
        return r;
    s->allocated += s->fixed ? nblocks - s->nblocks : 0;
    s->nblocks = nblocks;
    s->nbat = nbat;
    bd->size = size;
    return 0;
}

static const struct vk_blockdev_ops vhdx_ops = {
    .pread = vhdx_pread,
    .pwrite = vhdx_pwrite,
    .flush = vhdx_flush,
    .write_zeroes = vhdx_write_zeroes,
    .block_status = vhdx_block_status,
    .info = vhdx_info,
    .check = vhdx_check,
    .truncate = vhdx_truncate,
    .close = vhdx_close,
};

/* --- opening --- */

/* The two headers: the valid one (CRC, "head", version 1) with the
 * higher sequence number. */
static int read_headers(struct vk_blockdev *bd, struct vhdx *s)
{
    uint8_t h[2][VHDX_HDR_SIZE];
    bool valid[2];
    int r;
    for (int k = 0; k < 2; k++) {
        if ((r = vk_fd_pread_full(s->fd, h[k], VHDX_HDR_SIZE, VHDX_HDR1 + (uint64_t)k * VHDX_HDR1, bd->name)) < 0)
            return r;
        valid[k] = !memcmp(h[k], "head", 4) && crc_ok(h[k], VHDX_HDR_SIZE) && vk_get_le16(h[k] + H_VERSION) == 1;
    }
    if (!valid[0] && !valid[1])
        return vk_error(-EINVAL, "%s: no valid VHDX header (both headers, at offsets 65536 and 131072, have a bad checksum, signature or version)",
                        bd->name);
    uint64_t q0 = vk_get_le64(h[0] + H_SEQ), q1 = vk_get_le64(h[1] + H_SEQ);
    if (valid[0] && valid[1] && q0 == q1 && memcmp(h[0], h[1], VHDX_HDR_SIZE))
        return vk_error(-EINVAL, "%s: the two VHDX headers differ but have the same sequence number %llu",
                        bd->name, (unsigned long long)q0);
    s->cur = !valid[0] || (valid[1] && q1 > q0);
    memcpy(s->hdr, h[s->cur], VHDX_HDR_SIZE);
    s->log_off = vk_get_le64(s->hdr + H_LOG_OFF);
    s->log_len = vk_get_le32(s->hdr + H_LOG_LEN);
    if (s->log_off % MiB || s->log_len % MiB || s->log_off < MiB || s->log_off > s->file_size ||
        s->log_len > s->file_size - s->log_off)
        return vk_error(-EINVAL, "%s: the log at offset %llu (%u bytes) is not a MiB-aligned part of the file",
                        bd->name, (unsigned long long)s->log_off, s->log_len);
    return 0;
}

/* The region table (the second copy if the first is damaged): where the
 * BAT and the metadata are. */
static int read_regions(struct vk_blockdev *bd, struct vhdx *s)
{
    uint8_t *t = malloc(VHDX_RT_SIZE);
    const char *why = NULL;
    int r = 0;
    if (!t)
        return vk_error(-ENOMEM, "out of memory");
    for (int copy = 0; copy < 2; copy++) {
        uint64_t at = copy ? VHDX_RT2 : VHDX_RT1;
        bool bat = false, meta = false;
        if ((r = vk_fd_pread_full(s->fd, t, VHDX_RT_SIZE, at, bd->name)) < 0)
            break;
        uint32_t n = vk_get_le32(t + 8);
        if (memcmp(t, "regi", 4) || !crc_ok(t, VHDX_RT_SIZE)) {
            why = "has a bad signature or checksum";
            continue;
        }
        if (n > 2047) {
            why = "has more than 2047 entries";
            continue;
        }
        why = NULL;
        for (uint32_t i = 0; i < n && !why && r == 0; i++) {
            const uint8_t *e = t + 16 + (size_t)i * 32;
            uint64_t off = vk_get_le64(e + 16);
            uint32_t len = vk_get_le32(e + 24);
            bool is_bat = guid_is(e, GUID_BAT), is_meta = guid_is(e, GUID_METADATA);
            if (!is_bat && !is_meta) {
                if (vk_get_le32(e + 28) & 1)
                    r = vk_error(-ENOTSUP, "%s: the region table names a required region vmkit does not know (entry %u)",
                                 bd->name, i);
                continue;
            }
            if ((is_bat && bat) || (is_meta && meta))
                why = "names the BAT or the metadata twice";
            else if (off % MiB || off < MiB || !len || len % MiB || off > s->file_size || len > s->file_size - off)
                why = "names a region that is not a MiB-aligned part of the file";
            else if (is_bat) {
                bat = true;
                s->bat_off = off;
                s->bat_len = len;
            } else {
                meta = true;
                s->meta_off = off;
                s->meta_len = len;
            }
        }
        if (r < 0)
            break;
        if (!why && (!bat || !meta))
            why = "lacks the BAT or the metadata region";
        if (!why)
            break;
    }
    free(t);
    if (r == 0 && why)
        r = vk_error(-EINVAL, "%s: the region table (offsets 196608 and 262144) %s", bd->name, why);
    return r;
}

/* One metadata item: its bytes (len of them, exactly want long). */
static int meta_item(struct vk_blockdev *bd, struct vhdx *s, const uint8_t *e, uint32_t want, void *out)
{
    uint32_t off = vk_get_le32(e + 16), len = vk_get_le32(e + 20);
    if (off < (64u << 10) || len != want || off > s->meta_len || len > s->meta_len - off)
        return vk_error(-EINVAL, "%s: metadata item at offset %u (%u bytes) is out of place in the metadata region at offset %llu",
                        bd->name, off, len, (unsigned long long)s->meta_off);
    return vk_fd_pread_full(s->fd, out, want, s->meta_off + off, bd->name);
}

static int read_metadata(struct vk_blockdev *bd, struct vhdx *s)
{
    static const char *const ids[] = { GUID_FILE_PARAM, GUID_DISK_SIZE, GUID_PAGE83, GUID_LOGICAL,
                                       GUID_PHYSICAL, GUID_PARENT };
    const uint8_t *found[6] = { 0 };
    uint8_t fp[8], ds[8], ls[4], ps[4];
    uint8_t *t = malloc(64u << 10);
    int r;
    if (!t)
        return vk_error(-ENOMEM, "out of memory");
    if ((r = vk_fd_pread_full(s->fd, t, 64u << 10, s->meta_off, bd->name)) < 0)
        goto out;
    uint16_t n = vk_get_le16(t + 10);
    if (memcmp(t, "metadata", 8) || n > 2047) {
        r = vk_error(-EINVAL, "%s: no metadata table at offset %llu (bad signature or entry count)", bd->name,
                     (unsigned long long)s->meta_off);
        goto out;
    }
    for (uint16_t i = 0; i < n; i++) {
        const uint8_t *e = t + 32 + (size_t)i * 32;
        size_t k = 0;
        while (k < 6 && !guid_is(e, ids[k]))
            k++;
        if (k == 6 && (vk_get_le32(e + 24) & 4)) {
            r = vk_error(-ENOTSUP, "%s: metadata entry %u is required but unknown to vmkit", bd->name, i);
            goto out;
        }
        if (k < 6 && found[k]) {
            r = vk_error(-EINVAL, "%s: metadata entry %u repeats an item", bd->name, i);
            goto out;
        }
        if (k < 6)
            found[k] = e;
    }
    for (size_t k = 0; k < 5; k++)
        if (!found[k]) {
            r = vk_error(-EINVAL, "%s: the metadata lacks a required item (%s)", bd->name, ids[k]);
            goto out;
        }
    if ((r = meta_item(bd, s, found[0], 8, fp)) < 0 || (r = meta_item(bd, s, found[1], 8, ds)) < 0 ||
        (r = meta_item(bd, s, found[2], 16, s->page83)) < 0 || (r = meta_item(bd, s, found[3], 4, ls)) < 0 ||
        (r = meta_item(bd, s, found[4], 4, ps)) < 0)
        goto out;
    s->size_item = s->meta_off + vk_get_le32(found[1] + 16);
    uint32_t flags = vk_get_le32(fp + 4);
    if (flags & 2) {
        r = vk_error(-ENOTSUP, "%s: differencing VHDX images (with a parent) are not supported; "
                     "convert the chain with qemu-img first", bd->name);
        goto out;
    }
    s->fixed = flags & 1;
    s->bs = vk_get_le32(fp);
    s->lss = vk_get_le32(ls);
    s->pss = vk_get_le32(ps);
    uint64_t size = vk_get_le64(ds);
    if (s->bs < VHDX_MIN_BLOCK || s->bs > VHDX_MAX_BLOCK || (s->bs & (s->bs - 1)))
        r = vk_error(-EINVAL, "%s: block size %u is out of range (a power of two from 1 to 256 MiB)", bd->name, s->bs);
    else if ((s->lss != 512 && s->lss != 4096) || (s->pss != 512 && s->pss != 4096))
        r = vk_error(-EINVAL, "%s: sector sizes %u/%u (logical/physical) are not 512 or 4096", bd->name, s->lss, s->pss);
    else if (size % s->lss || size > VHDX_MAX_SIZE)
        r = vk_error(-EINVAL, "%s: virtual disk size %llu is not a multiple of the sector size %u up to 64 TiB",
                     bd->name, (unsigned long long)size, s->lss);
    if (r < 0)
        goto out;
    bd->size = size;
    s->chunk = (1ULL << 23) * s->lss / s->bs;
    s->nblocks = (size + s->bs - 1) / s->bs;
    s->nbat = s->nblocks ? s->nblocks + (s->nblocks - 1) / s->chunk : 0;
out:
    free(t);
    return r;
}

/* The header section, the log, the BAT and the metadata off each other. */
static int regions_apart(struct vk_blockdev *bd, const struct vhdx *s)
{
    const uint64_t r[4][2] = { { 0, MiB }, { s->log_off, s->log_off + s->log_len },
                               { s->bat_off, s->bat_off + s->bat_len }, { s->meta_off, s->meta_off + s->meta_len } };
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (r[i][0] < r[j][1] && r[j][0] < r[i][1] && r[i][0] < r[i][1] && r[j][0] < r[j][1])
                return vk_error(-EINVAL, "%s: the header section, log, BAT and metadata regions overlap (at offset %llu)",
                                bd->name, (unsigned long long)(r[i][0] > r[j][0] ? r[i][0] : r[j][0]));
    return 0;
}

/* A BAT entry gone bad: refused, or (tolerate) counted and read as zeroes. */
static int bad_entry(struct vk_blockdev *bd, struct vhdx *s, uint64_t i, bool tolerate, const char *what)
{
    uint64_t at = s->bat_off + i * 8;
    if (!tolerate)
        return vk_error(-EINVAL, "%s: BAT entry %llu (offset %llu, value 0x%llx) %s", bd->name,
                        (unsigned long long)i, (unsigned long long)at, (unsigned long long)s->bat[i], what);
    vk_warn("%s: BAT entry %llu (offset %llu) %s", bd->name, (unsigned long long)i,
            (unsigned long long)at, what);
    s->corrupt++;
    s->bat[i] = PB_NOT_PRESENT;
    return 0;
}

/* What check_bat's overlap callback needs. */
struct bat_ctx {
    struct vk_blockdev *bd;
    struct vhdx *s;
    bool tolerate;
};

/* An overlap vk_bat_check_overlaps() found: a block on the metadata or on
 * another block is a bad entry.  Two metadata regions cannot overlap:
 * regions_apart() refused that before. */
static int bat_overlap(void *ctx, const struct vk_bat_extent *bad)
{
    struct bat_ctx *c = ctx;
    if (bad->idx == VK_BAT_META)
        return 0;
    return bad_entry(c->bd, c->s, bad->idx, c->tolerate, "points at space already in use");
}

/* The metadata regions off each other; every present block inside the
 * file and off the metadata and the other blocks; states valid. */
static int check_bat(struct vk_blockdev *bd, struct vhdx *s, bool tolerate)
{
    struct vk_bat_extent *x = malloc((size_t)(s->nblocks + 4) * sizeof *x);
    struct bat_ctx c = { bd, s, tolerate };
    size_t nx = 0;
    int r = 0;
    if (!x)
        return vk_error(-ENOMEM, "out of memory");
    x[nx++] = (struct vk_bat_extent){ 0, MiB, VK_BAT_META };
    if (s->log_len)
        x[nx++] = (struct vk_bat_extent){ s->log_off, s->log_off + s->log_len, VK_BAT_META };
    x[nx++] = (struct vk_bat_extent){ s->bat_off, s->bat_off + s->bat_len, VK_BAT_META };
    x[nx++] = (struct vk_bat_extent){ s->meta_off, s->meta_off + s->meta_len, VK_BAT_META };
    for (uint64_t b = 0; b < s->nblocks && r == 0; b++) {
        uint64_t i = bat_index(s, b), e = s->bat[i], st = e & 7;
        uint64_t start = e & BAT_OFF_MASK, len = bd->size - b * s->bs < s->bs ? bd->size - b * s->bs : s->bs;
        if (st == PB_PARTIAL || st == 4)
            r = bad_entry(bd, s, i, tolerate, st == 4 ? "has an invalid state" :
                          "is partially present, which only a differencing disk may be");
        else if (st == PB_FULL && (start > s->file_size || len > s->file_size - start))
            r = bad_entry(bd, s, i, tolerate, "points past the end of the file: truncated?");
        else if (st == PB_FULL)
            x[nx++] = (struct vk_bat_extent){ start, start + len, i };
    }
    if (r < 0 || (r = vk_bat_check_overlaps(x, nx, bat_overlap, &c)) < 0)
        goto out;
    for (uint64_t b = 0; b < s->nblocks; b++)
        s->allocated += present(s->bat[bat_index(s, b)]);
out:
    free(x);
    return r;
}

static int vhdx_open(int fd, const char *name, int flags, struct vk_blockdev **out)
{
    struct vk_blockdev *bd = vk_bd_alloc(&vhdx_ops, &vk_format_vhdx, name, sizeof(struct vhdx));
    struct stat st;
    uint8_t id[8];
    bool pending;
    int r;
    if (!bd) {
        close(fd);
        return vk_error(-ENOMEM, "%s: out of memory", name);
    }
    struct vhdx *s = bd->priv;
    s->fd = fd;
    s->dirty_lo = UINT64_MAX;
    s->nosync = flags & VK_OPEN_NOFLUSH;
    bd->flags = flags;
    if (fstat(fd, &st) < 0) {
        r = vk_error(-errno, "%s: %s", name, strerror(errno));
        goto fail;
    }
    s->file_size = (uint64_t)st.st_size;
    if ((r = vk_fd_pread_full(fd, id, 8, 0, name)) < 0)
        goto fail;
    if (memcmp(id, "vhdxfile", 8)) {
        r = vk_error(-EINVAL, "%s: not a VHDX image (no \"vhdxfile\" at offset 0)", name);
        goto fail;
    }
    if (s->file_size < 2 * MiB) {
        r = vk_error(-EINVAL, "%s: truncated VHDX image (%llu bytes)", name, (unsigned long long)s->file_size);
        goto fail;
    }
    if ((r = read_headers(bd, s)) < 0)
        goto fail;
    /* a pending log is replayed before anything else is read: the
     * regions, metadata and BAT it holds changes to */
    struct vhdx_log lg = { .fd = fd, .name = name, .off = s->log_off, .len = s->log_len,
                           .guid = s->hdr + H_LOG_GUID, .sync = !s->nosync };
    if ((r = vhdx_log_replay(&lg, &s->file_size, flags & VK_OPEN_RDWR, &pending)) < 0)
        goto fail;
    if (pending && !(flags & VK_OPEN_RDWR)) {
        r = vk_error(-EPERM, "%s: the VHDX log holds changes not yet in the image (it was not closed "
                     "cleanly); opened read-only, they cannot be replayed: replay them with "
                     "'vmkit img check -r all %s' (or 'qemu-img check -r all')", name, name);
        goto fail;
    }
    if (pending && (r = update_headers(bd, s)) < 0)   /* log GUID cleared */
        goto fail;
    if ((r = read_regions(bd, s)) < 0 || (r = regions_apart(bd, s)) < 0 || (r = read_metadata(bd, s)) < 0)
        goto fail;
    if (s->nbat > s->bat_len / 8) {
        r = vk_error(-EINVAL, "%s: the BAT region at offset %llu (%u bytes) is too small for %llu entries",
                     name, (unsigned long long)s->bat_off, s->bat_len, (unsigned long long)s->nbat);
        goto fail;
    }
    uint8_t *raw = malloc(s->nbat ? s->nbat * 8 : 1);
    s->bat = malloc(s->nbat ? s->nbat * sizeof *s->bat : 1);
    if (!raw || !s->bat) {
        free(raw);
        r = vk_error(-ENOMEM, "%s: out of memory for a BAT of %llu entries", name, (unsigned long long)s->nbat);
        goto fail;
    }
    r = vk_fd_pread_full(fd, raw, s->nbat * 8, s->bat_off, name);
    for (uint64_t i = 0; r == 0 && i < s->nbat; i++)
        s->bat[i] = vk_get_le64(raw + i * 8);
    free(raw);
    if (r < 0 || (r = check_bat(bd, s, flags & VK_OPEN_CHECK)) < 0)
        goto fail;
    bd->cluster_size = s->bs;
    *out = bd;
    return 0;
fail:
    close(fd);
    free(s->bat);
    vk_bd_free(bd);
    return r;
}

const struct vk_format vk_format_vhdx = {
    .name = "vhdx",
    .probe = vhdx_probe,
    .open = vhdx_open,
    .create = vhdx_create,   /* vhdx_create.c */
};
