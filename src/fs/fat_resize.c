/* Growing and shrinking a FAT filesystem in place (vmkit fs resize), as
 * libparted's FAT resizer does when nothing has to move:
 *  - the FAT type follows from the cluster count (FAT12 below 4085, FAT16
 *    below 65525), so a size that would change it is refused;
 *  - growing needs FAT entries for the new clusters: within the space the
 *    FAT already has (mkfs.fat leaves room up to its sector boundary, and
 *    a filesystem once shrunk keeps its FAT), it is a matter of the total
 *    sector count.  A bigger FAT would push the data area, and every
 *    cluster with it, further out: that is refused with the limit;
 *  - shrinking drops clusters at the end, which must all be free (the
 *    limit where the last used cluster ends is in the message).
 * Order: the entries of new clusters are made free in every FAT copy and
 * flushed before the boot sector (primary, then the FAT32 backup) names
 * the new size; FSInfo's free count follows (a hint fsck.fat corrects). */
#include "fs/fat_int.h"
#include "fs/fs.h"
#include "fs/fs_util.h"

#include "util/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX12 4084u
#define MAX16 65524u
#define MAX32 0x0ffffff5u

/* Entry n of a FAT piece that starts at entry base (even for FAT12). */
static uint32_t ent_get(const uint8_t *b, int bits, uint32_t n)
{
    if (bits == 12) {
        uint32_t x = vk_fsu_get16(b + n * 3 / 2);
        return n & 1 ? x >> 4 : x & 0xfff;
    }
    return bits == 16 ? vk_fsu_get16(b + n * 2) : vk_fsu_get32(b + n * 4) & 0x0fffffff;
}

static void ent_clear(uint8_t *b, int bits, uint32_t n)
{
    if (bits == 12) {
        uint16_t x = vk_fsu_get16(b + n * 3 / 2);
        vk_fsu_put16(b + n * 3 / 2, (uint16_t)(n & 1 ? x & 0x000f : x & 0xf000));
    } else if (bits == 16) {
        vk_fsu_put16(b + n * 2, 0);
    } else {
        vk_fsu_put32(b + n * 4, vk_fsu_get32(b + n * 4) & 0xf0000000u);
    }
}

/* The FAT bytes holding entries [from, to) of copy `copy`: *base is the
 * first entry the buffer starts with.  Freed by the caller. */
static int read_entries(struct vk_blockdev *bd, const struct fat_geom *g, uint32_t copy, uint32_t from,
                        uint32_t to, uint8_t **out, size_t *len, uint64_t *off, uint32_t *base)
{
    unsigned bits = (unsigned)g->bits;
    *base = bits == 12 ? from & ~1u : from;
    uint64_t lo = (uint64_t)*base * bits / 8, hi = ((uint64_t)to * bits + 7) / 8;
    if (bits == 12)
        hi = ((uint64_t)(to + 1) / 2) * 3;
    uint64_t fat_len = (uint64_t)g->fat_sectors * g->bps;
    if (hi > fat_len)
        hi = fat_len;
    *len = (size_t)(hi - lo);
    *off = ((uint64_t)g->reserved + (uint64_t)copy * g->fat_sectors) * g->bps + lo;
    if (!(*out = calloc(1, *len + 4)))
        return vk_error(-ENOMEM, "out of memory");
    int r = vk_bd_pread(bd, *out, *len, *off);
    if (r < 0)
        free(*out);
    return r;
}

/* The highest cluster in use (not free, not bad) at or after from, or 0. */
static int last_used(struct vk_blockdev *bd, const struct fat_geom *g, uint32_t from, uint32_t *last)
{
    uint8_t *b;
    size_t len;
    uint64_t off;
    uint32_t base, bad = g->bits == 12 ? 0xff7 : g->bits == 16 ? 0xfff7 : 0x0ffffff7;
    *last = 0;
    int r = read_entries(bd, g, 0, from, g->clusters + 2, &b, &len, &off, &base);
    if (r < 0)
        return r;
    for (uint32_t n = from; n < g->clusters + 2; n++) {
        uint32_t e = ent_get(b, g->bits, n - base);
        if (e != 0 && e != bad)
            *last = n;
    }
    free(b);
    return 0;
}

/* Free entries [from, to) in every FAT copy (they lie past the old end:
 * normally zero already). */
static int clear_entries(struct vk_blockdev *bd, const struct fat_geom *g, uint32_t from, uint32_t to)
{
    for (uint32_t copy = 0; copy < g->nfats; copy++) {
        uint8_t *b;
        size_t len;
        uint64_t off;
        uint32_t base;
        int r = read_entries(bd, g, copy, from, to, &b, &len, &off, &base);
        if (r < 0)
            return r;
        bool dirty = false;
        for (uint32_t n = from; n < to; n++)
            if (ent_get(b, g->bits, n - base)) {
                ent_clear(b, g->bits, n - base);
                dirty = true;
            }
        r = dirty ? vk_bd_pwrite(bd, b, len, off) : 0;
        free(b);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Set the total sector count in boot sector bs. */
static void set_total(uint8_t *bs, int bits, uint32_t total)
{
    if (bits != 32 && total < 65536) {
        vk_fsu_put16(bs + 19, (uint16_t)total);
        vk_fsu_put32(bs + 32, 0);
    } else {
        vk_fsu_put16(bs + 19, 0);
        vk_fsu_put32(bs + 32, total);
    }
}

/* FSInfo: free count moved by delta clusters, hint kept inside. */
static int fix_fsinfo(struct vk_blockdev *bd, const struct fat_geom *g, int64_t delta, uint32_t clusters)
{
    if (g->bits != 32 || !g->fsinfo_sector)
        return 0;
    uint8_t fi[512];
    uint64_t off = (uint64_t)g->fsinfo_sector * g->bps;
    int r = vk_bd_pread(bd, fi, sizeof fi, off);
    if (r < 0 || vk_fsu_get32(fi) != 0x41615252 || vk_fsu_get32(fi + 484) != 0x61417272)
        return r;
    uint32_t nfree = vk_fsu_get32(fi + 488);
    if (nfree != 0xffffffff)
        vk_fsu_put32(fi + 488, (uint32_t)((int64_t)nfree + delta));
    if (vk_fsu_get32(fi + 492) != 0xffffffff && vk_fsu_get32(fi + 492) > clusters + 1)
        vk_fsu_put32(fi + 492, 2);
    return vk_bd_pwrite(bd, fi, sizeof fi, off);
}

/* vk_fs_type.resize for FAT: see the top of this file.  *output stays
 * NULL (no tool runs). */
int vk_fat_resize(struct vk_blockdev *bd, uint64_t size, char **output)
{
    uint8_t bs[512];
    struct fat_geom g;
    int r;
    *output = NULL;
    if ((r = vk_bd_pread(bd, bs, sizeof bs, 0)) < 0 || (r = fat_parse_bpb(bd, bs, &g)) < 0)
        return r;
    if (!size)
        size = bd->size;
    if (size > bd->size)
        return vk_error(-ENOSPC, "%s: %llu bytes do not fit in the %llu bytes of the device", bd->name,
                        (unsigned long long)size, (unsigned long long)bd->size);
    uint64_t total64 = size / g.bps;
    if (total64 > UINT32_MAX)
        total64 = UINT32_MAX;   /* the most a FAT boot sector can say */
    uint32_t total = (uint32_t)total64;
    uint64_t cb = (uint64_t)g.spc * g.bps;
    uint32_t newcl = total > g.data_sector ? (total - g.data_sector) / g.spc : 0;
    if (newcl == g.clusters && total == g.total_sectors)
        return 0;

    /* How far this FAT reaches: its own size and its type's range. */
    uint64_t cap = (uint64_t)g.fat_sectors * g.bps * 8 / (unsigned)g.bits - 2;
    uint32_t tmax = g.bits == 12 ? MAX12 : g.bits == 16 ? MAX16 : MAX32;
    uint32_t tmin = g.bits == 16 ? MAX12 + 1 : g.bits == 32 && g.clusters > MAX16 ? MAX16 + 1 : 1;
    uint64_t maxcl = cap < tmax ? cap : tmax;
    if (newcl > maxcl) {
        uint64_t most = ((uint64_t)g.data_sector + maxcl * g.spc) * g.bps;
        return vk_error(-ENOSPC, "%s: this FAT%d (%u sectors per FAT) addresses at most %llu clusters, so the "
                        "filesystem can grow to %llu bytes at most; a larger FAT would move the data "
                        "area, which fs resize does not do (copy the files to a new filesystem instead)",
                        bd->name, g.bits, g.fat_sectors, (unsigned long long)maxcl,
                        (unsigned long long)most);
    }
    if (newcl < tmin) {
        uint64_t least = ((uint64_t)g.data_sector + (uint64_t)tmin * g.spc) * g.bps;
        return vk_error(-ENOSPC, "%s: FAT%d needs at least %u clusters (%llu bytes); below that it "
                        "would read as another FAT type", bd->name, g.bits, tmin, (unsigned long long)least);
    }
    if (newcl < g.clusters) {
        uint32_t last;
        if ((r = last_used(bd, &g, newcl + 2, &last)) < 0)
            return r;
        if (last) {
            uint64_t least = (uint64_t)g.data_sector * g.bps + (uint64_t)(last - 1) * cb;
            return vk_error(-ENOSPC, "%s: cluster %u is in use beyond the new end (cluster %u): the "
                            "filesystem can shrink to %llu bytes at least without moving data",
                            bd->name, last, newcl + 1, (unsigned long long)least);
        }
    } else if ((r = clear_entries(bd, &g, g.clusters + 2, newcl + 2)) < 0 || (r = vk_bd_flush(bd)) < 0) {
        return r;
    }
    set_total(bs, g.bits, total);
    if ((r = vk_bd_pwrite(bd, bs, sizeof bs, 0)) < 0)
        return r;
    uint32_t backup = g.bits == 32 ? vk_fsu_get16(bs + 50) : 0;
    if (backup && backup != 0xffff && backup < g.reserved) {
        uint8_t bb[512];
        if ((r = vk_bd_pread(bd, bb, sizeof bb, (uint64_t)backup * g.bps)) < 0)
            return r;
        if (bb[510] == 0x55 && bb[511] == 0xaa) {
            set_total(bb, g.bits, total);
            if ((r = vk_bd_pwrite(bd, bb, sizeof bb, (uint64_t)backup * g.bps)) < 0)
                return r;
        }
    }
    if ((r = fix_fsinfo(bd, &g, (int64_t)newcl - g.clusters, newcl)) < 0)
        return r;
    return vk_bd_flush(bd);
}
