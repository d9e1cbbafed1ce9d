/* The VHDX metadata log ([MS-VHDX] 2.3; qemu/qemu block/vhdx-log.c):
 * finding the active sequence of log entries and replaying it.
 *
 * The log is a circular buffer of 4 KiB sectors.  An entry starts on a
 * sector with a 64-byte header - "loge", CRC-32C of the whole entry,
 * entry length, tail (the log offset where the active sequence starts),
 * sequence number, descriptor count, log GUID, flushed and last file
 * offsets -, then 32-byte descriptors (126 in the first sector, 128 in
 * each further one): "desc" (one 4 KiB sector of data to write at a file
 * offset: its first 8 and last 4 bytes are in the descriptor, the middle
 * 4084 in the entry's next "data" sector) or "zero" (a run of zeroes).
 * Entries belong to the log only when they carry the header's log GUID.
 *
 * The active sequence ends with the valid entry of the highest sequence
 * number; it starts at that entry's tail, and every entry from there on
 * must be valid and number one more than the one before.  Everything is
 * checked before the first byte is written, so a damaged log is refused
 * with the image untouched; a replay that is interrupted is done again
 * in full on the next open (the writes are idempotent), because the log
 * GUID is cleared (vhdx.c) only after the replayed data is synced.
 * QEMU replays the same way when it opens an image read-write; opened
 * read-only, it refuses an image with a pending log (vhdx.c does too).
 */
#include "block/vhdx_int.h"

#include "util/crc32c.h"
#include "util/endian.h"
#include "util/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECTOR      4096u
#define MAX_FILE    (1ULL << 47)    /* past any VHDX (64 TiB of data + metadata) */

/* Entry header and descriptor fields. */
enum { E_CRC = 4, E_LEN = 8, E_TAIL = 12, E_SEQ = 16, E_NDESC = 24, E_GUID = 32,
       E_FLUSHED = 48, E_LAST = 56 };
enum { D_TRAIL = 4, D_ZLEN = 8, D_LEAD = 8, D_OFF = 16, D_SEQ = 24 };

struct entry {
    bool valid;
    uint32_t sectors;       /* entry length / 4096 */
    uint64_t seq;
};

struct log {
    const struct vhdx_log *l;
    uint8_t *buf;           /* the whole log */
    uint32_t nsec;
};

/* The byte at entry-relative offset rel of the entry starting at sector k
 * (the buffer is circular; a sector never straddles the end). */
static uint8_t *at(const struct log *g, uint32_t k, uint64_t rel)
{
    return g->buf + ((uint64_t)k * SECTOR + rel) % ((uint64_t)g->nsec * SECTOR);
}

static uint32_t desc_sectors(uint32_t ndesc)
{
    return (uint32_t)(((uint64_t)ndesc + 2 + 127) / 128);
}

/* Whether an entry for this log starts at sector k: header, CRC,
 * descriptors and data sectors all valid. */
static struct entry check_entry(const struct log *g, uint32_t k)
{
    struct entry e = { 0 };
    const uint8_t *h = at(g, k, 0);
    uint32_t len = vk_get_le32(h + E_LEN), ndesc = vk_get_le32(h + E_NDESC);
    uint64_t seq = vk_get_le64(h + E_SEQ);
    if (memcmp(h, "loge", 4) || !len || len % SECTOR || len / SECTOR > g->nsec || !seq ||
        memcmp(h + E_GUID, g->l->guid, 16) || desc_sectors(ndesc) > len / SECTOR)
        return e;
    uint32_t c = 0xffffffffu;
    for (uint32_t s = 0; s < len / SECTOR; s++) {
        uint8_t *p = at(g, k, (uint64_t)s * SECTOR);
        if (s == 0) {
            uint8_t zero[4] = { 0 };
            c = vk_crc32c_update(c, p, E_CRC);
            c = vk_crc32c_update(c, zero, 4);
            c = vk_crc32c_update(c, p + E_CRC + 4, SECTOR - E_CRC - 4);
        } else {
            c = vk_crc32c_update(c, p, SECTOR);
        }
    }
    if (~c != vk_get_le32(h + E_CRC))
        return e;
    uint32_t ndata = 0;
    for (uint32_t i = 0; i < ndesc; i++) {
        const uint8_t *d = at(g, k, 64 + (uint64_t)i * 32);
        if (vk_get_le64(d + D_SEQ) != seq || vk_get_le64(d + D_OFF) % SECTOR)
            return e;
        if (!memcmp(d, "desc", 4)) {
            uint64_t rel = (uint64_t)(desc_sectors(ndesc) + ndata++) * SECTOR;
            const uint8_t *p = at(g, k, rel);
            if (rel >= len || memcmp(p, "data", 4) || vk_get_le32(p + 4) != (uint32_t)(seq >> 32) ||
                vk_get_le32(p + SECTOR - 4) != (uint32_t)seq)
                return e;
        } else if (memcmp(d, "zero", 4) || vk_get_le64(d + D_ZLEN) % SECTOR) {
            return e;
        }
    }
    e.valid = true;
    e.sectors = len / SECTOR;
    e.seq = seq;
    return e;
}

/* The file offsets an entry writes must lie below limit. */
static int check_writes(const struct log *g, uint32_t k, uint64_t limit)
{
    const uint8_t *h = at(g, k, 0);
    uint32_t ndesc = vk_get_le32(h + E_NDESC);
    for (uint32_t i = 0; i < ndesc; i++) {
        const uint8_t *d = at(g, k, 64 + (uint64_t)i * 32);
        uint64_t off = vk_get_le64(d + D_OFF);
        uint64_t n = memcmp(d, "zero", 4) ? SECTOR : vk_get_le64(d + D_ZLEN);
        if (off > limit || n > limit - off)
            return vk_error(-EINVAL, "%s: a VHDX log entry writes %llu bytes at offset %llu, past "
                            "the file's last offset %llu", g->l->name, (unsigned long long)n,
                            (unsigned long long)off, (unsigned long long)limit);
    }
    return 0;
}

/* Write the changes of the entry at sector k into the file. */
static int apply_entry(const struct log *g, uint32_t k)
{
    const uint8_t *h = at(g, k, 0);
    uint32_t ndesc = vk_get_le32(h + E_NDESC), ndata = 0;
    uint8_t sec[SECTOR];
    for (uint32_t i = 0; i < ndesc; i++) {
        const uint8_t *d = at(g, k, 64 + (uint64_t)i * 32);
        uint64_t off = vk_get_le64(d + D_OFF);
        int r;
        if (!memcmp(d, "desc", 4)) {
            const uint8_t *p = at(g, k, (uint64_t)(desc_sectors(ndesc) + ndata++) * SECTOR);
            memcpy(sec, d + D_LEAD, 8);
            memcpy(sec + 8, p + 8, SECTOR - 12);
            memcpy(sec + SECTOR - 4, d + D_TRAIL, 4);
            r = vk_fd_pwrite_full(g->l->fd, sec, SECTOR, off, g->l->name);
        } else {
            memset(sec, 0, sizeof sec);
            r = 0;
            for (uint64_t n = vk_get_le64(d + D_ZLEN); r == 0 && n; n -= SECTOR, off += SECTOR)
                r = vk_fd_pwrite_full(g->l->fd, sec, SECTOR, off, g->l->name);
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* Contract in vhdx_int.h. */
int vhdx_log_replay(const struct vhdx_log *l, uint64_t *file_size, bool apply, bool *pending)
{
    static const uint8_t none[16];
    *pending = false;
    if (!memcmp(l->guid, none, 16) || !l->len)
        return 0;
    struct log g = { .l = l, .buf = malloc(l->len), .nsec = l->len / SECTOR };
    struct entry *e = calloc(g.nsec ? g.nsec : 1, sizeof *e);
    int r = !g.buf || !e ? vk_error(-ENOMEM, "%s: out of memory for a log of %u bytes", l->name, l->len)
                         : vk_fd_pread_full(l->fd, g.buf, l->len, l->off, l->name);
    uint32_t head = UINT32_MAX;
    for (uint32_t k = 0; r == 0 && k < g.nsec; k++)
        if ((e[k] = check_entry(&g, k)).valid && (head == UINT32_MAX || e[k].seq > e[head].seq))
            head = k;
    if (r < 0 || head == UINT32_MAX)
        goto out;
    *pending = true;
    /* the active sequence: from the head's tail on, one entry after the
     * other, each numbered one more, up to the head */
    uint32_t tail = vk_get_le32(at(&g, head, E_TAIL)), k = tail / SECTOR, n = 0;
    uint64_t limit = *file_size;
    while (r == 0) {
        if (tail % SECTOR || k >= g.nsec || !e[k].valid || e[k].seq > e[head].seq) {
            r = vk_error(-EINVAL, "%s: the VHDX log is damaged: its newest entry (sequence %llu at log "
                         "offset %u) has no unbroken run of entries from its tail at offset %u",
                         l->name, (unsigned long long)e[head].seq, head * SECTOR, tail);
            break;
        }
        const uint8_t *h = at(&g, k, 0);
        uint64_t flushed = vk_get_le64(h + E_FLUSHED), last = vk_get_le64(h + E_LAST);
        if (flushed > *file_size || last > MAX_FILE) {
            r = vk_error(-EINVAL, "%s: a VHDX log entry says the file had %llu bytes, it has %llu "
                         "(truncated?)", l->name, (unsigned long long)(flushed > *file_size ? flushed : last),
                         (unsigned long long)*file_size);
            break;
        }
        if (last > limit)
            limit = last;
        if ((r = check_writes(&g, k, limit)) < 0 || k == head)
            break;
        uint32_t next = (k + e[k].sectors) % g.nsec;
        if (!e[next].valid || e[next].seq != e[k].seq + 1 || ++n >= g.nsec) {
            r = vk_error(-EINVAL, "%s: the VHDX log is damaged: the entry after sequence %llu "
                         "(log offset %u) is missing or out of order", l->name,
                         (unsigned long long)e[k].seq, k * SECTOR);
            break;
        }
        k = next;
    }
    if (r < 0 || !apply)
        goto out;
    for (k = tail / SECTOR;; k = (k + e[k].sectors) % g.nsec) {
        if ((r = apply_entry(&g, k)) < 0)
            goto out;
        uint64_t last = vk_get_le64(at(&g, k, E_LAST));
        if (last > *file_size) {
            /* the file as the entry knew it, rounded up to a MiB */
            uint64_t size = (last + MiB - 1) / MiB * MiB;
            if (ftruncate(l->fd, (off_t)size) < 0) {
                r = vk_error(-errno, "%s: growing the file to %llu bytes: %s", l->name,
                             (unsigned long long)size, strerror(errno));
                goto out;
            }
            *file_size = size;
        }
        if (k == head)
            break;
    }
    if (l->sync && fsync(l->fd) < 0)
        r = vk_error(-errno, "%s: fsync: %s", l->name, strerror(errno));
out:
    free(g.buf);
    free(e);
    return r;
}

/* Contract in vhdx_int.h. */
int vhdx_log_write(const struct vhdx_log *l, const uint64_t *offs, uint8_t *const *secs, uint32_t n,
                   uint64_t seq, uint64_t file_size)
{
    uint32_t nsec = desc_sectors(n) + n;
    if (!n || n > 126 || !seq || (uint64_t)nsec * SECTOR > l->len)
        return vk_error(-EINVAL, "%s: a VHDX log entry of %u sectors does not fit the log", l->name, n);
    uint8_t *e = calloc(nsec, SECTOR);
    if (!e)
        return vk_error(-ENOMEM, "out of memory");
    memcpy(e, "loge", 4);
    vk_put_le32(e + E_LEN, nsec * SECTOR);
    vk_put_le32(e + E_TAIL, 0);             /* the sequence is this entry alone */
    vk_put_le64(e + E_SEQ, seq);
    vk_put_le32(e + E_NDESC, n);
    memcpy(e + E_GUID, l->guid, 16);
    vk_put_le64(e + E_FLUSHED, file_size);
    vk_put_le64(e + E_LAST, file_size);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t *d = e + 64 + (size_t)i * 32, *p = e + (size_t)(desc_sectors(n) + i) * SECTOR;
        memcpy(d, "desc", 4);
        memcpy(d + D_TRAIL, secs[i] + SECTOR - 4, 4);
        memcpy(d + D_LEAD, secs[i], 8);
        vk_put_le64(d + D_OFF, offs[i]);
        vk_put_le64(d + D_SEQ, seq);
        memcpy(p, "data", 4);
        vk_put_le32(p + 4, (uint32_t)(seq >> 32));
        memcpy(p + 8, secs[i] + 8, SECTOR - 12);
        vk_put_le32(p + SECTOR - 4, (uint32_t)seq);
    }
    vk_put_le32(e + E_CRC, vk_crc32c(e, (size_t)nsec * SECTOR));
    int r = vk_fd_pwrite_full(l->fd, e, (size_t)nsec * SECTOR, l->off, l->name);
    if (r == 0 && l->sync && fdatasync(l->fd) < 0)
        r = vk_error(-errno, "%s: flush: %s", l->name, strerror(errno));
    free(e);
    return r;
}
