/* FAT file operations behind fs.h: mount, statfs, stat, readdir, open,
 * read, write, truncate, mkdir, unlink, rmdir, rename, setattr, sync.
 * Crash-safe order for writes: data clusters first, then every FAT copy,
 * then the directory entry; removal goes entry first, then FAT.  A file's
 * chain is checked (loops, range, length against the size) at open. */
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

static struct timespec dos_ts(uint16_t date, uint16_t time, unsigned cs)
{
    struct timespec ts = { 0, 0 };
    if (!date)
        return ts;
    struct tm tm = { 0 };
    tm.tm_year = (date >> 9) + 80;
    tm.tm_mon = ((date >> 5) & 15) - 1;
    tm.tm_mday = date & 31;
    tm.tm_hour = time >> 11;
    tm.tm_min = (time >> 5) & 63;
    tm.tm_sec = (time & 31) * 2 + (int)(cs / 100);
    tm.tm_isdst = -1;
    ts.tv_sec = mktime(&tm);        /* FAT keeps local time */
    ts.tv_nsec = (long)(cs % 100) * 10000000L;
    if (ts.tv_sec == (time_t)-1)
        ts.tv_sec = 0;
    return ts;
}

static void fill_stat(const struct fat_vol *v, const struct fat_ent *e, struct vk_stat *st)
{
    memset(st, 0, sizeof *st);
    st->ino = e->pos;
    bool dir = e->attr & 0x10;
    st->mode = (dir ? S_IFDIR | 0755 : S_IFREG | 0644) & ~((e->attr & 0x01) ? 0222u : 0u);
    st->nlink = dir ? 2 : 1;
    st->size = dir ? 0 : e->size;
    uint64_t cb = fat_cbytes(v);
    st->blocks = (st->size + cb - 1) / cb * cb / 512;
    st->mtime = dos_ts(e->mdate, e->mtime, 0);
    st->ctime = st->mtime;
    st->atime = dos_ts(e->adate, 0, 0);
    st->crtime = dos_ts(e->cdate, e->ctime, e->ctime_cs);
}

static int fat_stat(struct vk_fs *fs, const char *path, struct vk_stat *st, bool follow)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if ((r = fat_norm(fs, path, np)) < 0 || (r = fat_lookup(fs, np, &e)) < 0)
        return r;
    fill_stat(VOL(fs), &e, st);
    return 0;
}

/* What a node keeps of a directory entry: enough to stat, read and list
 * it without finding it again. */
struct fat_node {
    uint32_t cluster, size, dircl;
    uint16_t cdate, ctime, adate, mdate, mtime;
    uint8_t attr, ctime_cs;
};
_Static_assert(sizeof(struct fat_node) <= sizeof(((struct vk_node *)0)->drv), "fat_node too big");

static void node_of(struct vk_fs *fs, const struct fat_ent *e, struct vk_node *n)
{
    struct fat_node fn = { e->cluster, e->size, e->dircl, e->cdate, e->ctime, e->adate,
                           e->mdate, e->mtime, e->attr, e->ctime_cs };
    memset(n, 0, sizeof *n);
    n->ino = e->pos;
    n->type = (e->attr & 0x10) ? S_IFDIR : S_IFREG;
    /* A directory is its first cluster; 0 in an entry means the root. */
    struct fat_vol *v = VOL(fs);
    n->id = e->cluster ? e->cluster : v->g.bits == 32 ? v->g.root_cluster : 0;
    memcpy(n->drv, &fn, sizeof fn);
}

static void ent_of(const struct vk_node *n, struct fat_ent *e)
{
    struct fat_node fn;
    memcpy(&fn, n->drv, sizeof fn);
    memset(e, 0, sizeof *e);
    e->cluster = fn.cluster;
    e->size = fn.size;
    e->dircl = fn.dircl;
    e->cdate = fn.cdate;
    e->ctime = fn.ctime;
    e->adate = fn.adate;
    e->mdate = fn.mdate;
    e->mtime = fn.mtime;
    e->attr = fn.attr;
    e->ctime_cs = fn.ctime_cs;
    e->pos = n->ino;
}

struct rd_ctx {
    vk_dirent_cb cb;
    void *ctx;
    struct vk_fs *fs;
};

static int rd_cb(void *ctx, const struct fat_ent *e)
{
    struct rd_ctx *c = ctx;
    struct vk_node n;
    node_of(c->fs, e, &n);
    struct vk_dirent de = { e->name, e->pos, n.type, &n };
    return c->cb(c->ctx, &de);
}

static int fat_readdir(struct vk_fs *fs, const char *path, vk_dirent_cb cb, void *ctx)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if ((r = fat_norm(fs, path, np)) < 0 || (r = fat_lookup(fs, np, &e)) < 0)
        return r;
    if (!(e.attr & 0x10))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, np);
    struct rd_ctx c = { cb, ctx, fs };
    return fat_walk(fs, e.cluster, np, rd_cb, &c);
}

static int fat_open_for_write(struct vk_fs *fs, const char *np, int flags, struct fat_ent *e);

/* A file handle on entry e (np names it), after checking that its chain
 * covers its size and ends. */
static int open_ent(struct vk_fs *fs, const struct fat_ent *e, const char *np, bool wr,
                    struct vk_file **out)
{
    int r;
    if (e->attr & 0x10)
        return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
    if (e->size && !fat_valid(VOL(fs), e->cluster))
        return vk_error(-EIO, "%s:%s: first cluster %u outside 2..%u", fs->bd->name, np, e->cluster,
                        VOL(fs)->g.clusters + 1);
    /* The chain must cover the size and end; a loop shows as more steps
     * than there are clusters. */
    struct fat_vol *v = VOL(fs);
    uint64_t need = ((uint64_t)e->size + fat_cbytes(v) - 1) / fat_cbytes(v);
    uint64_t have = 0;
    for (uint32_t c = e->size ? e->cluster : 0; c; have++) {
        if (have > v->g.clusters)
            return vk_error(-EIO, "%s:%s: cluster chain loops", fs->bd->name, np);
        if ((r = fat_next(fs, c, &c, np)) < 0)
            return r;
    }
    if (have < need)
        return vk_error(-EIO, "%s:%s: cluster chain of %llu clusters too short for %u bytes",
                        fs->bd->name, np, (unsigned long long)have, e->size);
    struct vk_file *f = calloc(1, sizeof *f);
    struct fat_file *ff = calloc(1, sizeof *ff);
    if (!f || !ff) {
        free(f);
        free(ff);
        return vk_error(-ENOMEM, "out of memory");
    }
    ff->e = *e;
    snprintf(ff->path, sizeof ff->path, "%s", np);
    ff->cur_cluster = e->cluster;
    ff->writable = wr;
    f->fs = fs;
    f->priv = ff;
    *out = f;
    return 0;
}

static int fat_open(struct vk_fs *fs, const char *path, int flags, uint32_t mode, struct vk_file **out)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    bool wr = flags & (VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC);
    if ((r = fat_norm(fs, path, np)) < 0)
        return r;
    if (wr && !fs->writable)
        return vk_error(-EROFS, "%s:%s: filesystem opened read-only", fs->bd->name, np);
    if ((r = wr ? fat_open_for_write(fs, np, flags, &e) : fat_lookup(fs, np, &e)) < 0)
        return r;
    return open_ent(fs, &e, np, wr, out);
}

/* Move ff's cursor to the idx-th cluster of its chain (rewinding when
 * idx is behind it).  Fails with -EIO when the chain is broken or ends
 * before idx: the directory entry's size promised more clusters. */
static int seek_cluster(struct vk_fs *fs, struct fat_file *ff, uint32_t idx)
{
    if (idx < ff->cur_index) {
        ff->cur_index = 0;
        ff->cur_cluster = ff->e.cluster;
    }
    while (ff->cur_index < idx) {
        uint32_t nx;
        int r = fat_next(fs, ff->cur_cluster, &nx, ff->path);
        if (r < 0)
            return r;
        if (!nx)
            return vk_error(-EIO, "%s:%s: cluster chain ends before the file size (%u bytes)",
                            fs->bd->name, ff->path, ff->e.size);
        ff->cur_cluster = nx;
        ff->cur_index++;
    }
    return 0;
}

/* Transfer len bytes at file offset off (inside the chain's extent) to or
 * from buf, one device request per run of contiguous clusters. */
static int transfer(struct vk_fs *fs, struct fat_file *ff, void *buf, size_t len, uint64_t off,
                    bool write)
{
    struct fat_vol *v = VOL(fs);
    uint32_t cb = fat_cbytes(v);
    size_t done = 0;
    while (done < len) {
        uint64_t pos = off + done;
        int r = seek_cluster(fs, ff, (uint32_t)(pos / cb));
        if (r < 0)
            return r;
        uint32_t in = (uint32_t)(pos % cb);
        size_t n = cb - in;
        if (n > len - done)
            n = len - done;
        uint32_t c0 = ff->cur_cluster;
        while (done + n < len && fat_get(v, ff->cur_cluster) == ff->cur_cluster + 1 &&
               fat_valid(v, ff->cur_cluster + 1)) {
            ff->cur_cluster++;
            ff->cur_index++;
            n += len - done - n < cb ? len - done - n : cb;
        }
        char *p = (char *)buf + done;
        r = write ? vk_bd_pwrite(fs->bd, p, n, fat_coff(v, c0) + in)
                  : vk_bd_pread(fs->bd, p, n, fat_coff(v, c0) + in);
        if (r < 0)
            return r;
        done += n;
    }
    return 0;
}

static int64_t fat_read(struct vk_file *f, void *buf, size_t len, uint64_t off)
{
    struct fat_file *ff = f->priv;
    if (off >= ff->e.size)
        return 0;
    if (len > ff->e.size - off)
        len = (size_t)(ff->e.size - off);
    int r = transfer(f->fs, ff, buf, len, off, false);
    return r < 0 ? r : (int64_t)len;
}

static int fat_close_file(struct vk_file *f)
{
    free(f->priv);
    free(f);
    return 0;
}

static int fat_statfs(struct vk_fs *fs, struct vk_statfs *out)
{
    struct fat_vol *v = VOL(fs);
    struct vk_fsprobe p;
    memset(&p, 0, sizeof p);
    int r = vk_fs_fat.probe(fs->bd, &p);
    if (r < 0)
        return r;
    uint64_t nfree = 0;
    for (uint32_t c = 2; c <= v->g.clusters + 1; c++)
        if (fat_get(v, c) == 0)
            nfree++;
    snprintf(out->type, sizeof out->type, "vfat");
    snprintf(out->label, sizeof out->label, "%s", p.label);
    snprintf(out->uuid, sizeof out->uuid, "%s", p.uuid);
    out->block_size = fat_cbytes(v);
    out->blocks = v->g.clusters;
    out->blocks_free = out->blocks_avail = nfree;
    return 0;
}

static int fat_unmount(struct vk_fs *fs)
{
    struct fat_vol *v = VOL(fs);
    int r = 0;
    if (fs->writable && (r = fat_flush(fs)) == 0 && (r = fat_flush_fsinfo(fs)) == 0)
        r = vk_bd_flush(fs->bd);
    for (unsigned i = 0; i < 8; i++)
        fat_dc_drop(&v->dc[i]);
    free(v->fat);
    free(v);
    free(fs);
    return r;
}

/* ---- writing ----
 * Order for crash safety: data clusters are written at once; the FAT (all
 * copies, from the in-memory table) is flushed next; the directory entry
 * that makes the new data reachable is written last.  Deleting goes the
 * other way (entry first, then FAT), so a crash leaks clusters at worst. */

/* Make the file's chain exactly long enough for size bytes, zeroing the
 * bytes between old and new size when growing.  On -ENOSPC nothing
 * changes. */
static int fat_resize_chain(struct vk_fs *fs, struct fat_ent *e, uint64_t size, const char *path)
{
    struct fat_vol *v = VOL(fs);
    uint32_t cb = fat_cbytes(v);
    uint64_t need = (size + cb - 1) / cb;
    uint64_t have = 0;
    uint32_t last = 0;
    int r;
    for (uint32_t c = e->size || e->cluster ? e->cluster : 0; c && fat_valid(v, c); have++) {
        if (have > v->g.clusters)
            return vk_error(-EIO, "%s:%s: cluster chain loops", fs->bd->name, path);
        last = c;
        if ((r = fat_next(fs, c, &c, path)) < 0)
            return r;
    }
    if (need < have) {
        if (need == 0) {
            fat_free_chain(v, e->cluster);
            e->cluster = 0;
        } else {
            uint32_t c = e->cluster;
            for (uint64_t i = 1; i < need; i++)
                c = fat_get(v, c);
            uint32_t rest = fat_get(v, c);
            fat_set(v, c, fat_eoc(v));
            if (!fat_is_eoc(v, rest))
                fat_free_chain(v, rest);
        }
    } else if (need > have) {
        if (need - have > v->nfree)
            return vk_error(-ENOSPC, "%s:%s: no space left on the FAT filesystem (need %llu clusters, %u free)",
                            fs->bd->name, path, (unsigned long long)(need - have), v->nfree);
        uint8_t *zero = calloc(1, cb);
        if (!zero)
            return vk_error(-ENOMEM, "out of memory");
        for (uint64_t i = have; i < need; i++) {
            uint32_t c;
            if ((r = fat_alloc(fs, &c, path)) < 0 ||
                (r = vk_bd_pwrite(fs->bd, zero, cb, fat_coff(v, c))) < 0) {
                free(zero);
                return r;
            }
            if (last)
                fat_set(v, last, c);
            else
                e->cluster = c;
            last = c;
        }
        free(zero);
    }
    /* Zero the tail of the old last cluster when growing inside it. */
    if (size > e->size && e->size % cb && have) {
        uint32_t c = e->cluster;
        for (uint64_t i = 1; i < (e->size + cb - 1) / cb; i++)
            c = fat_get(v, c);
        uint32_t in = e->size % cb;
        uint8_t *zero = calloc(1, cb);
        if (!zero)
            return vk_error(-ENOMEM, "out of memory");
        r = vk_bd_pwrite(fs->bd, zero, cb - in, fat_coff(v, c) + in);
        free(zero);
        if (r < 0)
            return r;
    }
    e->size = (uint32_t)size;
    return 0;
}

static int64_t fat_write(struct vk_file *f, const void *buf, size_t len, uint64_t off)
{
    struct vk_fs *fs = f->fs;
    struct fat_file *ff = f->priv;
    int r;
    if (!ff->writable)
        return vk_error(-EBADF, "%s:%s: file not opened for writing", fs->bd->name, ff->path);
    if (off + len > 0xffffffffull)
        return vk_error(-EFBIG, "%s:%s: FAT files end at 4 GiB - 1", fs->bd->name, ff->path);
    if (off + len > ff->e.size) {
        if ((r = fat_resize_chain(fs, &ff->e, off + len, ff->path)) < 0)
            return r;
        ff->cur_index = 0;
        ff->cur_cluster = ff->e.cluster;
    }
    if ((r = transfer(fs, ff, (void *)buf, len, off, true)) < 0)
        return r;
    ff->dirty = true;
    return (int64_t)len;
}

static int fat_sync(struct vk_fs *fs)
{
    int r = fat_flush(fs);
    if (r == 0)
        r = fat_flush_fsinfo(fs);
    return r < 0 ? r : vk_bd_flush(fs->bd);
}

/* Create or truncate for open(). */
static int fat_open_for_write(struct vk_fs *fs, const char *np, int flags, struct fat_ent *e)
{
    int r = fat_lookup(fs, np, e);
    if (r == 0) {
        if (flags & VK_O_EXCL)
            return vk_error(-EEXIST, "%s:%s: file exists", fs->bd->name, np);
        if (e->attr & 0x10)
            return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
        if (e->attr & 0x01)
            return vk_error(-EACCES, "%s:%s: read-only file", fs->bd->name, np);
        if (flags & VK_O_TRUNC && e->size) {
            /* Entry first (size 0, no cluster), then free the chain. */
            uint32_t old = e->cluster;
            e->size = 0;
            e->cluster = 0;
            fat_refresh_raw(VOL(fs), e, true);
            if ((r = fat_write_short(fs, e)) < 0)
                return r;
            fat_free_chain(VOL(fs), old);
            return fat_flush(fs);
        }
        return 0;
    }
    if (r != -ENOENT || !(flags & VK_O_CREAT))
        return r;
    vk_error_clear();
    struct fat_ent dir;
    const char *name;
    if ((r = fat_parent_of(fs, np, &dir, &name)) < 0)
        return r;
    uint8_t d[32];
    fat_new_short(d, 0x20, 0, VOL(fs));
    return fat_add_entry(fs, &dir, name, d, np, e);
}

static int fat_close_rw(struct vk_file *f)
{
    struct fat_file *ff = f->priv;
    int r = 0;
    if (ff->dirty) {
        /* Data is on disk already; FAT next, the entry last. */
        fat_refresh_raw(VOL(f->fs), &ff->e, true);
        if ((r = fat_flush(f->fs)) == 0)
            r = fat_write_short(f->fs, &ff->e);
    }
    free(ff);
    free(f);
    return r;
}

static int fat_mkdir(struct vk_fs *fs, const char *path, uint32_t mode)
{
    struct fat_vol *v = VOL(fs);
    char np[PMAX];
    struct fat_ent dir, e;
    const char *name;
    int r;
    if ((r = fat_norm(fs, path, np)) < 0 || (r = fat_parent_of(fs, np, &dir, &name)) < 0)
        return r;
    if (fat_lookup(fs, np, &e) == 0)
        return vk_error(-EEXIST, "%s:%s: file exists", fs->bd->name, np);
    vk_error_clear();
    uint32_t c, cb = fat_cbytes(v);
    if ((r = fat_alloc(fs, &c, np)) < 0)
        return r;
    uint8_t *blk = calloc(1, cb);
    if (!blk)
        return vk_error(-ENOMEM, "out of memory");
    fat_new_short(blk, 0x10, c, v);
    memcpy(blk, ".          ", 11);
    fat_new_short(blk + 32, 0x10, dir.cluster == v->g.root_cluster && v->g.bits == 32 ? 0 : dir.cluster, v);
    memcpy(blk + 32, "..         ", 11);
    r = vk_bd_pwrite(fs->bd, blk, cb, fat_coff(v, c));
    free(blk);
    fat_dc_invalidate(v, c);
    if (r < 0 || (r = fat_flush(fs)) < 0)
        return r;
    uint8_t d[32];
    fat_new_short(d, 0x10, c, v);
    if ((r = fat_add_entry(fs, &dir, name, d, np, &e)) < 0) {
        fat_free_chain(v, c);
        fat_flush(fs);
        return r;
    }
    return 0;
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
    if (want_dir) {
        struct fat_ent any;
        struct find_ctx fc = { NULL, &any };
        int n = fat_walk(fs, e.cluster, np, fat_count_cb, &fc);
        if (n < 0)
            return n;
        if (fc.name)
            return vk_error(-ENOTEMPTY, "%s:%s: directory not empty", fs->bd->name, np);
    }
    if ((r = fat_delete_slots(fs, &e)) < 0)
        return r;
    if (want_dir)
        fat_dc_invalidate(VOL(fs), e.cluster);
    if (e.cluster)
        fat_free_chain(VOL(fs), e.cluster);
    return fat_flush(fs);
}

static int fat_unlink(struct vk_fs *fs, const char *path)
{
    return remove_entry(fs, path, false);
}

static int fat_rmdir(struct vk_fs *fs, const char *path)
{
    return remove_entry(fs, path, true);
}

static int fat_rename(struct vk_fs *fs, const char *from, const char *to)
{
    struct fat_vol *v = VOL(fs);
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
    if (fat_lookup(fs, nt, &dst) == 0) {
        if (dst.pos == e.pos) {
            if (!strcmp(dst.name, name))
                return 0;
            /* case change only: fall through, the old entry goes away */
        } else if (dst.attr & 0x10) {
            if (!(e.attr & 0x10))
                return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, nt);
            if ((r = fat_rmdir(fs, nt)) < 0)
                return r;
        } else {
            if (e.attr & 0x10)
                return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, nt);
            if ((r = fat_unlink(fs, nt)) < 0)
                return r;
        }
    }
    vk_error_clear();
    uint8_t d[32];
    memcpy(d, e.raw, 32);
    /* New entry first (both exist for a moment: fsck would see a
     * cross-link, never a lost file), then the old one goes. */
    if ((r = fat_add_entry(fs, &dir, name, d, nt, &ne)) < 0)
        return r;
    if ((r = fat_delete_slots(fs, &e)) < 0)
        return r;
    if ((e.attr & 0x10) && e.dircl != dir.cluster && e.cluster) {
        uint8_t dd[32];
        uint64_t off = fat_coff(v, e.cluster) + 32;
        if ((r = vk_bd_pread(fs->bd, dd, 32, off)) < 0)
            return r;
        if (!memcmp(dd, "..         ", 11)) {
            fat_ent_set_cluster(v, dd, dir.cluster == v->g.root_cluster && v->g.bits == 32 ? 0 : dir.cluster);
            if ((r = fat_dir_write(fs, e.cluster, dd, 32, off)) < 0)
                return r;
        }
    }
    return 0;
}

static int fat_setattr(struct vk_fs *fs, const char *path, int mask, const struct vk_stat *st)
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
    if (mask & VK_SET_SIZE) {
        if (e.attr & 0x10)
            return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
        if (st->size > 0xffffffffull)
            return vk_error(-EFBIG, "%s:%s: FAT files end at 4 GiB - 1", fs->bd->name, np);
        if ((r = fat_resize_chain(fs, &e, st->size, np)) < 0)
            return r;
    }
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
    if ((r = fat_flush(fs)) < 0)
        return r;
    return fat_write_short(fs, &e);
}

/* ---- by node: a node is a copy of the directory entry ---- */

static int fat_lookup_node(struct vk_fs *fs, const char *path, bool follow, struct vk_node *out)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if ((r = fat_norm(fs, path, np)) < 0 || (r = fat_lookup(fs, np, &e)) < 0)
        return r;
    node_of(fs, &e, out);
    return 0;
}

static int fat_readdir_node(struct vk_fs *fs, const struct vk_node *dir, const char *path,
                            vk_dirent_cb cb, void *ctx)
{
    struct fat_ent e;
    ent_of(dir, &e);
    if (!(e.attr & 0x10))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, path);
    struct rd_ctx c = { cb, ctx, fs };
    return fat_walk(fs, e.cluster, path, rd_cb, &c);
}

static int fat_stat_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                         struct vk_stat *st)
{
    struct fat_ent e;
    ent_of(n, &e);
    fill_stat(VOL(fs), &e, st);
    return 0;
}

static int fat_open_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                         struct vk_file **out)
{
    struct fat_ent e;
    ent_of(n, &e);
    return open_ent(fs, &e, path, false, out);
}

#define FAT_NODE_OPS                    \
    .lookup_node = fat_lookup_node,     \
    .readdir_node = fat_readdir_node,   \
    .stat_node = fat_stat_node,         \
    .open_node = fat_open_node,         \
    .node_id_name = "cluster"

static const struct vk_fs_ops fat_ro_ops = {
    .statfs = fat_statfs,
    .stat = fat_stat,
    .readdir = fat_readdir,
    .open = fat_open,
    .read = fat_read,
    .close_file = fat_close_file,
    .unmount = fat_unmount,
    FAT_NODE_OPS,
};

static const struct vk_fs_ops fat_rw_ops = {
    .statfs = fat_statfs,
    .stat = fat_stat,
    .readdir = fat_readdir,
    .open = fat_open,
    .read = fat_read,
    .write = fat_write,
    .close_file = fat_close_rw,
    .mkdir = fat_mkdir,
    .unlink = fat_unlink,
    .rmdir = fat_rmdir,
    .rename = fat_rename,
    .setattr = fat_setattr,
    .sync = fat_sync,
    .unmount = fat_unmount,
    FAT_NODE_OPS,
};

int vk_fat_mount(struct vk_blockdev *bd, bool writable, struct vk_fs **out)
{
    uint8_t bs[512];
    int r;
    if (bd->size < 512)
        return vk_error(-EINVAL, "%s: too small for a FAT filesystem", bd->name);
    if ((r = vk_bd_pread(bd, bs, sizeof bs, 0)) < 0)
        return r;
    struct fat_vol *v = calloc(1, sizeof *v);
    struct vk_fs *fs = calloc(1, sizeof *fs);
    if (!v || !fs) {
        free(v);
        free(fs);
        return vk_error(-ENOMEM, "out of memory");
    }
    if ((r = fat_parse_bpb(bd, bs, &v->g)) < 0)
        goto fail;
    /* Only the bytes covering the clusters are needed; a FAT far larger
     * than that is read no further. */
    v->fat_bytes = (size_t)(((uint64_t)v->g.clusters + 2) * (unsigned)v->g.bits / 8 + 2);
    if (v->fat_bytes > (uint64_t)v->g.fat_sectors * v->g.bps)
        v->fat_bytes = (size_t)v->g.fat_sectors * v->g.bps;
    if (!(v->fat = calloc(1, v->fat_bytes + 4))) {
        r = vk_error(-ENOMEM, "%s: out of memory for the FAT (%zu bytes)", bd->name, v->fat_bytes);
        goto fail;
    }
    if ((r = vk_bd_pread(bd, v->fat, v->fat_bytes, (uint64_t)v->g.reserved * v->g.bps)) < 0)
        goto fail;
    for (uint32_t c = 2; c <= v->g.clusters + 1; c++)
        if (fat_get(v, c) == 0)
            v->nfree++;
    v->next_free = 2;
    fs->ops = writable ? &fat_rw_ops : &fat_ro_ops;
    fs->type = &vk_fs_fat;
    fs->bd = bd;
    fs->writable = writable;
    fs->priv = v;
    *out = fs;
    return 0;
fail:
    for (unsigned i = 0; i < 8; i++)
        fat_dc_drop(&v->dc[i]);
    free(v->fat);
    free(v);
    free(fs);
    return r;
}

