/* FAT writing behind fs.h: write, open for writing, close, mkdir, unlink,
 * rmdir, rename, setattr, sync.  Every change follows the order of
 * fat_commit.c (data, then FAT, then the directory entry; frees last), and
 * each operation is shaped so that any prefix of its directory writes
 * leaves every file old or new:
 *  - a file opened with VK_O_TRUNC gets a new chain; close switches the
 *    short entry to it in one 32-byte write and frees the old chain after;
 *  - a created file gets its entry only at close, with its chain and size;
 *  - removal marks the short entry deleted before anything else;
 *  - rename adds the new entry before removing the old (a crash in between
 *    shows the file twice, never zero times), and over an existing file it
 *    rewrites that file's short entry in place.
 * Writing into the middle of an existing file without VK_O_TRUNC changes
 * its clusters in place, as on any filesystem. */
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

#define FAT_MAX_SIZE 0xffffffffull

/* Walk ff's chain once to learn its length and last cluster (bounded). */
static int chain_tail(struct vk_fs *fs, struct fat_file *ff)
{
    struct fat_vol *v = VOL(fs);
    if (ff->tail_known)
        return 0;
    ff->ncl = 0;
    ff->tail = 0;
    for (uint32_t c = ff->e.size || ff->e.cluster ? ff->e.cluster : 0; c && fat_valid(v, c); ff->ncl++) {
        if (ff->ncl > v->g.clusters)
            return vk_error(-EIO, "%s:%s: cluster chain loops", fs->bd->name, ff->path);
        ff->tail = c;
        int r = fat_next(fs, c, &c, ff->path);
        if (r < 0)
            return r;
    }
    ff->tail_known = true;
    return 0;
}

/* Zero the file bytes [from, to) (inside the chain). */
static int zero_span(struct vk_fs *fs, struct fat_file *ff, uint64_t from, uint64_t to)
{
    static const uint8_t zeros[65536];
    while (from < to) {
        size_t n = to - from < sizeof zeros ? (size_t)(to - from) : sizeof zeros;
        int r = fat_transfer(fs, ff, (void *)zeros, n, from, true);
        if (r < 0)
            return r;
        from += n;
    }
    return 0;
}

/* Grow ff's chain to hold size bytes (the size becomes size) and make the
 * bytes [old size, zero_to) read as zeroes; the caller writes the rest.
 * -ENOSPC changes nothing. */
static int grow(struct vk_fs *fs, struct fat_file *ff, uint64_t size, uint64_t zero_to)
{
    struct fat_vol *v = VOL(fs);
    uint32_t cb = fat_cbytes(v);
    int r = chain_tail(fs, ff);
    if (r < 0)
        return r;
    uint64_t need = (size + cb - 1) / cb;
    if (need > ff->ncl) {
        if ((r = fat_reserve(fs, need - ff->ncl, ff->path)) < 0)
            return r;
        for (uint64_t i = ff->ncl; i < need; i++) {
            uint32_t c;
            if ((r = fat_alloc(fs, &c, ff->path)) < 0)
                return r;
            if (ff->tail) {
                fat_set(v, ff->tail, c);
            } else {
                ff->e.cluster = ff->cur_cluster = c;
                ff->cur_index = 0;
            }
            ff->tail = c;
            ff->ncl++;
        }
    }
    uint64_t old = ff->e.size;
    ff->e.size = (uint32_t)size;
    if (zero_to > old && (r = zero_span(fs, ff, old, zero_to < size ? zero_to : size)) < 0)
        return r;
    return 0;
}

/* vk_fs_ops.write: grows the chain as needed; a failure marks a new
 * version failed (close drops it). */
int64_t fat_write(struct vk_file *f, const void *buf, size_t len, uint64_t off)
{
    struct vk_fs *fs = f->fs;
    struct fat_file *ff = f->priv;
    int r;
    if (!ff->writable)
        return vk_error(-EBADF, "%s:%s: file not opened for writing", fs->bd->name, ff->path);
    if (off + len > FAT_MAX_SIZE)
        return vk_error(-EFBIG, "%s:%s: FAT files end at 4 GiB - 1", fs->bd->name, ff->path);
    if (off + len > ff->e.size && (r = grow(fs, ff, off + len, off)) < 0) {
        ff->failed = true;
        return r;
    }
    if ((r = fat_transfer(fs, ff, (void *)buf, len, off, true)) < 0) {
        ff->failed = true;
        return r;
    }
    ff->dirty = true;
    return (int64_t)len;
}

/* Open for writing: an existing file (a new chain with VK_O_TRUNC), or
 * one to create at close. */
int fat_open_for_write(struct vk_fs *fs, const char *np, int flags, struct fat_file *ff)
{
    struct fat_ent *e = &ff->e;
    int r = fat_lookup(fs, np, e);
    if (r == 0) {
        if (flags & VK_O_EXCL)
            return vk_error(-EEXIST, "%s:%s: file exists", fs->bd->name, np);
        if (e->attr & 0x10)
            return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
        if (e->attr & 0x01)
            return vk_error(-EACCES, "%s:%s: read-only file", fs->bd->name, np);
        if (flags & VK_O_TRUNC) {
            ff->fresh = ff->dirty = true;
            ff->old_cluster = e->cluster;
            e->cluster = 0;
            e->size = 0;
        }
        return 0;
    }
    if (r != -ENOENT || !(flags & VK_O_CREAT))
        return r;
    vk_error_clear();
    struct fat_ent dir;
    const char *name;
    if ((r = fat_parent_of(fs, np, &dir, &name)) < 0 || (r = fat_check_name(fs, name, np)) < 0)
        return r;
    memset(e, 0, sizeof *e);
    e->attr = 0x20;
    ff->fresh = ff->create = ff->dirty = true;
    return 0;
}

/* Make a created file visible: its whole entry, chain and size in it. */
static int add_created(struct vk_fs *fs, struct fat_file *ff)
{
    struct fat_ent dir, out;
    const char *name;
    int r = fat_parent_of(fs, ff->path, &dir, &name);
    if (r < 0)
        return r;
    uint8_t d[32];
    fat_new_short(d, 0x20, ff->e.cluster, VOL(fs));
    vk_fsu_put32(d + 28, ff->e.size);
    return fat_add_entry(fs, &dir, name, d, ff->path, &out);
}

/* vk_fs_ops.close_file for writable files: publishes the new version
 * (see the top of this file), or drops it after a failed write. */
int fat_close_rw(struct vk_file *f)
{
    struct vk_fs *fs = f->fs;
    struct fat_file *ff = f->priv;
    struct fat_vol *v = VOL(fs);
    int r = 0;
    if (ff->fresh && ff->failed) {
        /* The new version never became visible: drop it whole. */
        fat_free_chain(v, ff->e.cluster);
    } else if (ff->create) {
        if ((r = add_created(fs, ff)) < 0)
            fat_free_chain(v, ff->e.cluster);
    } else if (ff->dirty) {
        /* One short-entry write switches cluster, size and mtime. */
        fat_refresh_raw(v, &ff->e, true);
        if ((r = fat_write_short(fs, &ff->e)) == 0 && ff->fresh)
            r = fat_defer_free(fs, ff->old_cluster);
    }
    if (r == 0)
        r = fat_commit_maybe(fs);
    free(ff);
    free(f);
    return r;
}

/* vk_fs_ops.sync: commit, FSInfo, barrier. */
int fat_sync(struct vk_fs *fs)
{
    int r = fat_commit(fs);
    if (r == 0)
        r = fat_flush_fsinfo(fs);
    return r < 0 ? r : vk_bd_flush(fs->bd);
}

/* vk_fs_ops.mkdir: the new cluster (".", "..") as data, then the entry. */
int fat_mkdir(struct vk_fs *fs, const char *path, uint32_t mode)
{
    struct fat_vol *v = VOL(fs);
    char np[PMAX];
    struct fat_ent dir, e;
    const char *name;
    int r;
    (void)mode;
    if ((r = fat_norm(fs, path, np)) < 0 || (r = fat_parent_of(fs, np, &dir, &name)) < 0)
        return r;
    if (fat_lookup(fs, np, &e) == 0)
        return vk_error(-EEXIST, "%s:%s: file exists", fs->bd->name, np);
    vk_error_clear();
    if ((r = fat_check_name(fs, name, np)) < 0)
        return r;
    uint32_t c, cb = fat_cbytes(v);
    if ((r = fat_reserve(fs, 1, np)) < 0 || (r = fat_alloc(fs, &c, np)) < 0)
        return r;
    uint8_t *blk = calloc(1, cb);
    if (!blk) {
        fat_free_chain(v, c);
        return vk_error(-ENOMEM, "out of memory");
    }
    fat_new_short(blk, 0x10, c, v);
    memcpy(blk, ".          ", 11);
    fat_new_short(blk + 32, 0x10, dir.cluster == v->g.root_cluster && v->g.bits == 32 ? 0 : dir.cluster, v);
    memcpy(blk + 32, "..         ", 11);
    r = fat_data_write(fs, blk, cb, fat_coff(v, c));
    free(blk);
    fat_dc_invalidate(v, c);
    uint8_t d[32];
    fat_new_short(d, 0x10, c, v);
    if (r < 0 || (r = fat_add_entry(fs, &dir, name, d, np, &e)) < 0) {
        fat_free_chain(v, c);   /* never referenced */
        return r;
    }
    return fat_commit_maybe(fs);
}

/* Remove e's entry (queued), then its chain once that is durable. */
static int drop_entry(struct vk_fs *fs, const struct fat_ent *e)
{
    int r = fat_delete_slots(fs, e);
    if (r < 0)
        return r;
    if (e->attr & 0x10)
        fat_dc_invalidate(VOL(fs), e->cluster);
    return fat_defer_free(fs, e->cluster);
}

/* 0 when directory e holds nothing but "." and "..". */
static int dir_empty(struct vk_fs *fs, const struct fat_ent *e, const char *np)
{
    struct fat_ent any;
    struct find_ctx fc = { NULL, &any };
    int r = fat_walk(fs, e->cluster, np, fat_count_cb, &fc);
    if (r < 0)
        return r;
    return fc.name ? vk_error(-ENOTEMPTY, "%s:%s: directory not empty", fs->bd->name, np) : 0;
}

static int remove_entry(struct vk_fs *fs, const char *path, bool want_dir)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if ((r = fat_norm(fs, path, np)) < 0 || (r = fat_lookup(fs, np, &e)) < 0)
        return r;
    if (!strcmp(np, "/"))
        return vk_error(-EBUSY, "%s:/: cannot remove the root directory", fs->bd->name);
    if (want_dir && !(e.attr & 0x10))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, np);
    if (!want_dir && (e.attr & 0x10))
        return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
    if (want_dir && (r = dir_empty(fs, &e, np)) < 0)
        return r;
    if ((r = drop_entry(fs, &e)) < 0)
        return r;
    return fat_commit_maybe(fs);
}

/* vk_fs_ops.unlink and rmdir (empty directories only). */
int fat_unlink(struct vk_fs *fs, const char *path)
{
    return remove_entry(fs, path, false);
}

int fat_rmdir(struct vk_fs *fs, const char *path)
{
    return remove_entry(fs, path, true);
}

/* Point the ".." of directory e (moved into parent dircl) at it. */
static int fix_dotdot(struct vk_fs *fs, const struct fat_ent *e, uint32_t dircl)
{
    struct fat_vol *v = VOL(fs);
    uint8_t dd[32];
    uint64_t off = fat_coff(v, e->cluster) + 32;
    int r = fat_meta_pread(fs, dd, 32, off);
    if (r < 0 || memcmp(dd, "..         ", 11))
        return r;
    fat_ent_set_cluster(v, dd, dircl == v->g.root_cluster && v->g.bits == 32 ? 0 : dircl);
    return fat_dir_write(fs, e->cluster, dd, 32, off);
}

/* vk_fs_ops.rename: see the top of this file. */
int fat_rename(struct vk_fs *fs, const char *from, const char *to)
{
    char nf[PMAX], nt[PMAX];
    struct fat_ent e, dst, dir, ne;
    const char *name;
    int r;
    if ((r = fat_norm(fs, from, nf)) < 0 || (r = fat_norm(fs, to, nt)) < 0 || (r = fat_lookup(fs, nf, &e)) < 0)
        return r;
    if (!strcmp(nf, "/"))
        return vk_error(-EBUSY, "%s:/: cannot rename the root directory", fs->bd->name);
    size_t fl = strlen(nf);
    if ((e.attr & 0x10) && !strncmp(nt, nf, fl) && (nt[fl] == '/' || !nt[fl]) && strcmp(nt, nf))
        return vk_error(-EINVAL, "%s:%s: cannot move a directory into itself", fs->bd->name, nf);
    if ((r = fat_parent_of(fs, nt, &dir, &name)) < 0)
        return r;
    bool over = false;
    if (fat_lookup(fs, nt, &dst) == 0) {
        if (dst.pos == e.pos) {
            if (!strcmp(dst.name, name))
                return 0;
            /* case change only: a new entry, the old one goes */
        } else if (dst.attr & 0x10) {
            if (!(e.attr & 0x10))
                return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, nt);
            if ((r = dir_empty(fs, &dst, nt)) < 0)
                return r;
            over = true;
        } else {
            if (e.attr & 0x10)
                return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, nt);
            over = true;
        }
    }
    vk_error_clear();
    if (over) {
        /* dst's short entry takes e's attributes, chain, size and times
         * in one write (its name stays), then e's entry goes, then dst's
         * old chain. */
        uint32_t old = dst.cluster;
        memcpy(dst.raw + 11, e.raw + 11, 1);
        memcpy(dst.raw + 13, e.raw + 13, 32 - 13);
        if ((r = fat_write_short(fs, &dst)) < 0 || (r = fat_delete_slots(fs, &e)) < 0)
            return r;
        if (dst.attr & 0x10)
            fat_dc_invalidate(VOL(fs), old);
        if ((r = fat_defer_free(fs, old)) < 0)
            return r;
    } else {
        uint8_t d[32];
        memcpy(d, e.raw, 32);
        if ((r = fat_add_entry(fs, &dir, name, d, nt, &ne)) < 0 || (r = fat_delete_slots(fs, &e)) < 0)
            return r;
    }
    if ((e.attr & 0x10) && e.dircl != dir.cluster && e.cluster && (r = fix_dotdot(fs, &e, dir.cluster)) < 0)
        return r;
    return fat_commit_maybe(fs);
}

/* Truncate or extend e to size (in e; the caller writes the entry, then
 * hands *drop, a chain the entry stops using, to fat_defer_free). */
static int set_size(struct vk_fs *fs, struct fat_ent *e, uint64_t size, const char *np, uint32_t *drop)
{
    struct fat_vol *v = VOL(fs);
    uint32_t cb = fat_cbytes(v);
    if (e->attr & 0x10)
        return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
    if (size > FAT_MAX_SIZE)
        return vk_error(-EFBIG, "%s:%s: FAT files end at 4 GiB - 1", fs->bd->name, np);
    if (size >= e->size) {
        struct fat_file *ff = calloc(1, sizeof *ff);
        if (!ff)
            return vk_error(-ENOMEM, "out of memory");
        ff->e = *e;
        ff->cur_cluster = e->cluster;
        snprintf(ff->path, sizeof ff->path, "%s", np);
        int r = grow(fs, ff, size, size);
        e->cluster = ff->e.cluster;
        e->size = ff->e.size;
        free(ff);
        return r;
    }
    uint64_t keep = (size + cb - 1) / cb;
    if (keep == 0) {
        *drop = e->cluster;
        e->cluster = 0;
        e->size = 0;
        return 0;
    }
    if (keep == ((uint64_t)e->size + cb - 1) / cb) {
        e->size = (uint32_t)size;
        return 0;
    }
    /* Fewer clusters: the smaller size must be durable before the chain
     * is cut (a longer chain is harmless, a shorter one loses data). */
    uint32_t c = e->cluster;
    for (uint64_t i = 1; i < keep && fat_valid(v, c); i++)
        c = fat_get(v, c);
    if (!fat_valid(v, c))
        return vk_error(-EIO, "%s:%s: cluster chain broken", fs->bd->name, np);
    e->size = (uint32_t)size;
    fat_refresh_raw(v, e, false);
    int r = fat_write_short(fs, e);
    if (r < 0 || (r = fat_commit(fs)) < 0)
        return r;
    uint32_t rest = fat_get(v, c);
    fat_set(v, c, fat_eoc(v));
    if (fat_valid(v, rest))
        fat_free_chain(v, rest);
    return 0;
}

/* vk_fs_ops.setattr: attribute (read-only bit), times, size; one
 * short-entry write (a shrink to fewer clusters commits it before the cut). */
int fat_setattr(struct vk_fs *fs, const char *path, int mask, const struct vk_stat *st)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if ((r = fat_norm(fs, path, np)) < 0 || (r = fat_lookup(fs, np, &e)) < 0)
        return r;
    if (!strcmp(np, "/"))
        return mask & (VK_SET_UID | VK_SET_GID) ? vk_error(-EPERM, "%s:/: FAT has no owners", fs->bd->name) : 0;
    if (mask & (VK_SET_UID | VK_SET_GID))
        return vk_error(-EPERM, "%s:%s: FAT has no owners", fs->bd->name, np);
    uint32_t drop = 0;
    if ((mask & VK_SET_SIZE) && (r = set_size(fs, &e, st->size, np, &drop)) < 0)
        return r;
    if (mask & VK_SET_MODE)
        e.attr = (uint8_t)((e.attr & ~0x01) | (st->mode & 0222 ? 0 : 0x01));
    fat_refresh_raw(VOL(fs), &e, false);
    if (mask & VK_SET_MTIME) {
        uint16_t date, tm;
        fat_to_dos(st->mtime.tv_sec, &date, &tm, NULL);
        vk_fsu_put16(e.raw + 22, tm);
        vk_fsu_put16(e.raw + 24, date);
    }
    if (mask & VK_SET_ATIME) {
        uint16_t date, tm;
        fat_to_dos(st->atime.tv_sec, &date, &tm, NULL);
        vk_fsu_put16(e.raw + 18, date);
    }
    if ((r = fat_write_short(fs, &e)) < 0 || (r = fat_defer_free(fs, drop)) < 0)
        return r;
    return fat_commit_maybe(fs);
}
