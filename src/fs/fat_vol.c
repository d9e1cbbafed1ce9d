/* FAT volume internals: the in-memory FAT (range-checked reads, writes
 * tracked for flushing to every copy, allocation), FSInfo, and whole
 * directories read through a small cache kept in step with every write.
 * Chains are walked with a bound of the cluster count, directories never
 * beyond 65536 entries: the image is untrusted. */
#include "fs/fat_int.h"
#include "fs/fs.h"
#include "fs/fs_util.h"
#include "fs/path.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

uint32_t fat_get(const struct fat_vol *v, uint32_t n)
{
    const uint8_t *fat = v->fat;
    if (v->g.bits == 12) {
        uint32_t x = vk_fsu_get16(fat + n * 3 / 2);
        return n & 1 ? x >> 4 : x & 0xfff;
    }
    if (v->g.bits == 16)
        return vk_fsu_get16(fat + n * 2);
    return vk_fsu_get32(fat + n * 4) & 0x0fffffff;
}

bool fat_is_eoc(const struct fat_vol *v, uint32_t e)
{
    return e >= (v->g.bits == 12 ? 0xff8u : v->g.bits == 16 ? 0xfff8u : 0x0ffffff8u);
}

bool fat_valid(const struct fat_vol *v, uint32_t c)
{
    return c >= 2 && c <= v->g.clusters + 1;
}

/* Next cluster after c: 0 with *next = 0 at end of chain, or -EIO. */
int fat_next(struct vk_fs *fs, uint32_t c, uint32_t *next, const char *path)
{
    struct fat_vol *v = VOL(fs);
    uint32_t e = fat_get(v, c);
    if (fat_is_eoc(v, e)) {
        *next = 0;
        return 0;
    }
    if (!fat_valid(v, e))
        return vk_error(-EIO, "%s:%s: cluster chain broken at cluster %u (FAT entry 0x%x)",
                        fs->bd->name, path, c, e);
    *next = e;
    return 0;
}

uint64_t fat_coff(const struct fat_vol *v, uint32_t c)
{
    return ((uint64_t)v->g.data_sector + (uint64_t)(c - 2) * v->g.spc) * v->g.bps;
}

uint32_t fat_cbytes(const struct fat_vol *v)
{
    return v->g.spc * v->g.bps;
}

/* Read a whole directory (first cluster c, 0 = the root) into a malloc'd
 * buffer. */
static int read_dir_disk(struct vk_fs *fs, uint32_t c, const char *path, uint8_t **out, size_t *len,
                         uint32_t **cls_out)
{
    struct fat_vol *v = VOL(fs);
    size_t cap, n = 0;
    uint8_t *buf;
    uint32_t *cls = NULL;
    int r;

    *cls_out = NULL;
    if (c == 0 && v->g.bits != 32) {
        cap = (size_t)v->g.root_entries * 32;
        if (!(buf = malloc(cap ? cap : 1)))
            return vk_error(-ENOMEM, "out of memory");
        if ((r = fat_meta_pread(fs, buf, cap, (uint64_t)v->g.root_sector * v->g.bps)) < 0) {
            free(buf);
            return r;
        }
        *out = buf;
        *len = cap;
        return 0;
    }
    if (c == 0)
        c = v->g.root_cluster;
    if (!fat_valid(v, c))
        return vk_error(-EIO, "%s:%s: directory starts at cluster %u, outside 2..%u", fs->bd->name,
                        path, c, v->g.clusters + 1);
    uint32_t cb = fat_cbytes(v);
    size_t max = (size_t)DIR_MAX_ENTRIES * 32;
    cap = cb;
    if (!(buf = malloc(cap)))
        return vk_error(-ENOMEM, "out of memory");
    for (uint32_t steps = 0; c; steps++) {
        if (steps > v->g.clusters || n >= max) {
            free(buf);
            free(cls);
            return vk_error(-EIO, "%s:%s: directory cluster chain loops or exceeds %u entries",
                            fs->bd->name, path, DIR_MAX_ENTRIES);
        }
        if (n + cb > cap || !cls) {
            if (n + cb > cap)
                cap *= 2;
            uint8_t *nb = realloc(buf, cap);
            uint32_t *nc = nb ? realloc(cls, cap / cb * sizeof *cls) : NULL;
            if (!nb || !nc) {
                free(nb ? nb : buf);
                free(cls);
                return vk_error(-ENOMEM, "out of memory");
            }
            buf = nb;
            cls = nc;
        }
        cls[n / cb] = c;
        if ((r = fat_meta_pread(fs, buf + n, cb, fat_coff(v, c))) < 0 ||
            (r = fat_next(fs, c, &c, path)) < 0) {
            free(buf);
            free(cls);
            return r;
        }
        n += cb;
    }
    *out = buf;
    *len = n;
    *cls_out = cls;
    return 0;
}

void fat_dc_drop(struct dcache *d)
{
    free(d->buf);
    free(d->cls);
    memset(d, 0, sizeof *d);
}

/* Forget the cached copy of directory dircl. */
void fat_dc_invalidate(struct fat_vol *v, uint32_t dircl)
{
    for (unsigned i = 0; i < 8; i++)
        if (v->dc[i].valid && v->dc[i].dircl == dircl)
            fat_dc_drop(&v->dc[i]);
}

static void *dup_mem(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

/* read_dir_disk through the cache; the caller gets its own copies. */
int fat_read_dir(struct vk_fs *fs, uint32_t c, const char *path, uint8_t **out, size_t *len,
                    uint32_t **cls_out)
{
    struct fat_vol *v = VOL(fs);
    uint32_t cb = v->g.spc * v->g.bps;
    struct dcache *d = NULL;
    for (unsigned i = 0; i < 8; i++)
        if (v->dc[i].valid && v->dc[i].dircl == c)
            d = &v->dc[i];
    if (!d) {
        uint8_t *b = NULL;
        size_t l = 0;
        uint32_t *cl = NULL;
        int r = read_dir_disk(fs, c, path, &b, &l, &cl);
        if (r < 0)
            return r;
        d = &v->dc[v->dc_next++ % 8];
        fat_dc_drop(d);
        d->valid = true;
        d->dircl = c;
        d->buf = b;
        d->len = l;
        d->cls = cl;
    }
    *out = dup_mem(d->buf, d->len);
    *cls_out = d->cls ? dup_mem(d->cls, d->len / cb * sizeof *d->cls) : NULL;
    *len = d->len;
    if (!*out || (d->cls && !*cls_out)) {
        free(*out);
        free(*cls_out);
        return vk_error(-ENOMEM, "out of memory");
    }
    return 0;
}

/* Disk offset of byte idx of a directory read by read_dir (cls NULL: the
 * fixed root). */
uint64_t fat_slot_off(const struct fat_vol *v, const uint32_t *cls, size_t idx)
{
    if (!cls)
        return (uint64_t)v->g.root_sector * v->g.bps + idx;
    return fat_coff(v, cls[idx / fat_cbytes(v)]) + idx % fat_cbytes(v);
}

void fat_set(struct fat_vol *v, uint32_t n, uint32_t val)
{
    size_t at;
    if (v->g.bits == 12) {
        at = n * 3 / 2;
        uint16_t x = vk_fsu_get16(v->fat + at);
        x = n & 1 ? (uint16_t)((x & 0x000f) | (val & 0xfff) << 4) : (uint16_t)((x & 0xf000) | (val & 0xfff));
        vk_fsu_put16(v->fat + at, x);
        at += 2;
    } else if (v->g.bits == 16) {
        at = n * 2;
        vk_fsu_put16(v->fat + at, (uint16_t)val);
        at += 2;
    } else {
        at = n * 4;
        uint32_t old = vk_fsu_get32(v->fat + at);
        vk_fsu_put32(v->fat + at, (old & 0xf0000000u) | (val & 0x0fffffffu));
        at += 4;
    }
    /* The entry spans bytes [at - width, at): mark their sectors. */
    size_t first = (at - (v->g.bits == 32 ? 4 : 2)) / v->g.bps, last = (at - 1) / v->g.bps;
    for (size_t s = first; s <= last && s * v->g.bps < v->fat_bytes; s++)
        v->fat_dirty[s / 8] |= (uint8_t)(1u << (s % 8));
    v->any_dirty = true;
}

uint32_t fat_eoc(const struct fat_vol *v)
{
    return v->g.bits == 12 ? 0xfff : v->g.bits == 16 ? 0xffff : 0x0fffffff;
}

/* FSInfo's free count and hint, written at sync and unmount only: it is a
 * hint that fsck.fat corrects, so a crash in between costs nothing. */
int fat_flush_fsinfo(struct vk_fs *fs)
{
    struct fat_vol *v = VOL(fs);
    int r;
    if (v->g.bits == 32 && v->g.fsinfo_sector) {
        uint8_t fi[512];
        uint64_t off = (uint64_t)v->g.fsinfo_sector * v->g.bps;
        if ((r = vk_bd_pread(fs->bd, fi, sizeof fi, off)) < 0)
            return r;
        if (vk_fsu_get32(fi) == 0x41615252 && vk_fsu_get32(fi + 484) == 0x61417272) {
            vk_fsu_put32(fi + 488, v->nfree);
            vk_fsu_put32(fi + 492, v->next_free);
            if ((r = vk_bd_pwrite(fs->bd, fi, sizeof fi, off)) < 0)
                return r;
        }
    }
    return 0;
}

/* Allocate one free cluster, marked end-of-chain (in memory). */
int fat_alloc(struct vk_fs *fs, uint32_t *out, const char *path)
{
    struct fat_vol *v = VOL(fs);
    uint32_t n = v->g.clusters, start = v->next_free;
    if (start < 2 || start > n + 1)
        start = 2;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = start + i;
        if (c > n + 1)
            c -= n;
        if (fat_get(v, c) == 0) {
            fat_set(v, c, fat_eoc(v));
            v->nfree--;
            v->next_free = c + 1 > n + 1 ? 2 : c + 1;
            *out = c;
            return 0;
        }
    }
    return vk_error(-ENOSPC, "%s:%s: no space left on the FAT filesystem", fs->bd->name, path);
}

/* Free the chain from c (in memory; bounded). */
void fat_free_chain(struct fat_vol *v, uint32_t c)
{
    for (uint32_t steps = 0; fat_valid(v, c) && steps <= v->g.clusters; steps++) {
        uint32_t nx = fat_get(v, c);
        if (nx == 0)
            break;
        fat_set(v, c, 0);
        v->nfree++;
        c = fat_is_eoc(v, nx) ? 0 : nx;
    }
}

