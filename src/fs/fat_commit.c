/* FAT crash ordering: a small write-back queue between the in-memory
 * volume and the disk, so that a writer killed at any point leaves every
 * file with its old content or its new one.
 *
 * The rule is the one every careful FAT driver follows, made explicit:
 *   1. file data and freshly zeroed directory clusters are written at once
 *      (fat_data_write) into clusters that the FAT on disk calls free;
 *   2. a barrier (vk_bd_flush: for qcow2 it also writes the tables that map
 *      those new clusters), then the changed FAT sectors, every copy, and a
 *      barrier again: the chains exist before anything points at them;
 *   3. the directory writes, in the order the operations made them: one
 *      32-byte short entry switches a replaced file to its new chain (first
 *      cluster, size and mtime sit in the same entry), a new entry is its
 *      long-name slots then the short entry, a removal marks the short
 *      entry first;
 *   4. a barrier, and only then are the chains those writes stopped using
 *      freed (in memory; on disk with the next FAT write), so no cluster is
 *      reused while a durable entry still names it.
 * Steps 2-4 are fat_commit.  Directory writes wait for it in a queue (the
 * cached directory copies see them at once, reads from disk get them laid
 * over), so putting a thousand files costs a few barriers, not thousands.
 * A crash leaves at worst lost chains and a stale FSInfo hint, which
 * fsck.fat reports and frees. */
#include "fs/fat_int.h"

#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Commit when this many directory writes or bytes wait. */
#define PEND_MAX 8192
#define PBUF_MAX (4u << 20)

/* Lay the queued directory writes over buf, which holds len bytes read
 * from disk at off (later writes win, as on disk). */
void fat_pend_overlay(const struct fat_vol *v, uint8_t *buf, size_t len, uint64_t off)
{
    for (size_t i = 0; i < v->npend; i++) {
        const struct fat_pend *p = &v->pend[i];
        if (p->off >= off + len || p->off + p->len <= off)
            continue;
        uint64_t lo = p->off > off ? p->off : off;
        uint64_t hi = p->off + p->len < off + len ? p->off + p->len : off + len;
        memcpy(buf + (lo - off), v->pbuf + p->at + (lo - p->off), (size_t)(hi - lo));
    }
}

/* Read directory bytes from disk as they will be once the queue is
 * written. */
int fat_meta_pread(struct vk_fs *fs, void *buf, size_t len, uint64_t off)
{
    int r = vk_bd_pread(fs->bd, buf, len, off);
    if (r == 0)
        fat_pend_overlay(VOL(fs), buf, len, off);
    return r;
}

/* Queue len bytes for disk offset off inside directory dircl, and change
 * the cached copies of that directory (a copy that does not hold the
 * offset is dropped and read again later, queue laid over). */
int fat_dir_write(struct vk_fs *fs, uint32_t dircl, const void *data, size_t len, uint64_t off)
{
    struct fat_vol *v = VOL(fs);
    struct fat_pend *np = vk_grow(v->pend, &v->cappend, v->npend + 1, sizeof *np, 64);
    if (!np)
        return vk_error(-ENOMEM, "out of memory");
    v->pend = np;
    uint8_t *nb = vk_grow(v->pbuf, &v->pbuf_cap, v->pbuf_len + len, 1, 4096);
    if (!nb)
        return vk_error(-ENOMEM, "out of memory");
    v->pbuf = nb;
    memcpy(v->pbuf + v->pbuf_len, data, len);
    v->pend[v->npend++] = (struct fat_pend){ .off = off, .at = v->pbuf_len, .len = len };
    v->pbuf_len += len;

    uint32_t cb = fat_cbytes(v);
    for (unsigned i = 0; i < 8; i++) {
        struct dcache *d = &v->dc[i];
        if (!d->valid || d->dircl != dircl)
            continue;
        bool done = false;
        if (!d->cls) {
            uint64_t base = (uint64_t)v->g.root_sector * v->g.bps;
            if (off >= base && off + len <= base + d->len) {
                memcpy(d->buf + (off - base), data, len);
                done = true;
            }
        } else {
            for (size_t k = 0; k < d->len / cb && !done; k++) {
                uint64_t co = fat_coff(v, d->cls[k]);
                if (off >= co && off + len <= co + cb) {
                    memcpy(d->buf + k * cb + (off - co), data, len);
                    done = true;
                }
            }
        }
        if (!done)
            fat_dc_drop(d);
    }
    return 0;
}

/* Write file data or a new directory cluster: straight to disk, into
 * clusters nothing on disk references yet. */
int fat_data_write(struct vk_fs *fs, const void *buf, size_t len, uint64_t off)
{
    VOL(fs)->data_dirty = true;
    return vk_bd_pwrite(fs->bd, buf, len, off);
}

/* fat_data_write of len zero bytes. */
int fat_data_zero(struct vk_fs *fs, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[65536];
    VOL(fs)->data_dirty = true;
    while (len) {
        size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
        int r = vk_bd_pwrite(fs->bd, zeros, n, off);
        if (r < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

/* Free the chain from c once the queued directory writes (which stopped
 * referencing it) are durable. */
int fat_defer_free(struct vk_fs *fs, uint32_t c)
{
    struct fat_vol *v = VOL(fs);
    if (!fat_valid(v, c))
        return 0;
    uint32_t *nd = vk_grow(v->dfree, &v->capdfree, v->ndfree + 1, sizeof *nd, 16);
    if (!nd)
        return vk_error(-ENOMEM, "out of memory");
    v->dfree = nd;
    v->dfree[v->ndfree++] = c;
    return 0;
}

/* Make sure n clusters are free, committing to release deferred chains
 * if that is what it takes; -ENOSPC (nothing changed) otherwise. */
int fat_reserve(struct vk_fs *fs, uint64_t n, const char *path)
{
    struct fat_vol *v = VOL(fs);
    int r;
    if (n > v->nfree && v->ndfree && (r = fat_commit(fs)) < 0)
        return r;
    if (n > v->nfree)
        return vk_error(-ENOSPC, "%s:%s: no space left on the FAT filesystem (need %llu clusters, %u free)",
                        fs->bd->name, path, (unsigned long long)n, v->nfree);
    return 0;
}

/* Write the changed FAT sectors to every copy, the first copy whole
 * before the second (fsck.fat trusts the first when they differ). */
static int write_fat(struct vk_fs *fs)
{
    struct fat_vol *v = VOL(fs);
    if (!v->any_dirty)
        return 0;
    uint32_t bps = v->g.bps;
    size_t nsec = (v->fat_bytes + bps - 1) / bps;
    for (uint32_t copy = 0; copy < v->g.nfats; copy++) {
        uint64_t base = ((uint64_t)v->g.reserved + (uint64_t)copy * v->g.fat_sectors) * bps;
        for (size_t s = 0; s < nsec;) {
            if (!(v->fat_dirty[s / 8] & (1u << (s % 8)))) {
                s++;
                continue;
            }
            size_t e = s;
            while (e < nsec && (v->fat_dirty[e / 8] & (1u << (e % 8))))
                e++;
            size_t lo = s * bps, hi = e * bps < v->fat_bytes ? e * bps : v->fat_bytes;
            int r = vk_bd_pwrite(fs->bd, v->fat + lo, hi - lo, base + lo);
            if (r < 0)
                return r;
            s = e;
        }
    }
    memset(v->fat_dirty, 0, (nsec + 7) / 8);
    v->any_dirty = false;
    return 0;
}

/* The barrier sequence described at the top of this file. */
int fat_commit(struct vk_fs *fs)
{
    struct fat_vol *v = VOL(fs);
    int r;
    if (v->data_dirty) {
        if ((r = vk_bd_flush(fs->bd)) < 0)
            return r;
        v->data_dirty = false;
    }
    if (v->any_dirty && ((r = write_fat(fs)) < 0 || (r = vk_bd_flush(fs->bd)) < 0))
        return r;
    for (size_t i = 0; i < v->npend; i++)
        if ((r = vk_bd_pwrite(fs->bd, v->pbuf + v->pend[i].at, v->pend[i].len, v->pend[i].off)) < 0)
            return r;
    v->npend = 0;
    v->pbuf_len = 0;
    if (v->ndfree) {
        if ((r = vk_bd_flush(fs->bd)) < 0)
            return r;
        for (size_t i = 0; i < v->ndfree; i++)
            fat_free_chain(v, v->dfree[i]);
        v->ndfree = 0;
        if ((r = write_fat(fs)) < 0)
            return r;
    }
    return 0;
}

/* Commit when the queue has grown big (called between operations). */
int fat_commit_maybe(struct vk_fs *fs)
{
    struct fat_vol *v = VOL(fs);
    return v->npend > PEND_MAX || v->pbuf_len > PBUF_MAX ? fat_commit(fs) : 0;
}

/* Release the queue's memory (unmount; nothing is written). */
void fat_wb_free(struct fat_vol *v)
{
    free(v->pend);
    free(v->pbuf);
    free(v->dfree);
    free(v->fat_dirty);
}
