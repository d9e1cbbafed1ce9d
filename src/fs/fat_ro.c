/* FAT file operations behind fs.h, the reading half: mount, statfs,
 * stat, readdir, open, read, unmount (fat_rw.c has the writing half and
 * fat_commit.c the crash-safe write order).  A file's chain is checked
 * (loops, range, length against the size) at open. */
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

/* Finish a file handle on ff->e (np names it) after checking that its
 * chain covers its size and ends.  Takes ownership of ff (freed on
 * failure). */
static int open_ent(struct vk_fs *fs, struct fat_file *ff, const char *np, bool wr,
                    struct vk_file **out)
{
    int r;
    const struct fat_ent *e = &ff->e;
    struct fat_vol *v = VOL(fs);
    if (e->attr & 0x10) {
        r = vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
        goto fail;
    }
    if (e->size && !fat_valid(v, e->cluster)) {
        r = vk_error(-EIO, "%s:%s: first cluster %u outside 2..%u", fs->bd->name, np, e->cluster,
                     v->g.clusters + 1);
        goto fail;
    }
    /* The chain must cover the size and end; a loop shows as more steps
     * than there are clusters. */
    uint64_t need = ((uint64_t)e->size + fat_cbytes(v) - 1) / fat_cbytes(v);
    uint64_t have = 0;
    for (uint32_t c = e->size ? e->cluster : 0; c; have++) {
        if (have > v->g.clusters) {
            r = vk_error(-EIO, "%s:%s: cluster chain loops", fs->bd->name, np);
            goto fail;
        }
        if ((r = fat_next(fs, c, &c, np)) < 0)
            goto fail;
    }
    if (have < need) {
        r = vk_error(-EIO, "%s:%s: cluster chain of %llu clusters too short for %u bytes",
                     fs->bd->name, np, (unsigned long long)have, e->size);
        goto fail;
    }
    struct vk_file *f = calloc(1, sizeof *f);
    if (!f) {
        r = vk_error(-ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(ff->path, sizeof ff->path, "%s", np);
    ff->cur_cluster = e->cluster;
    ff->writable = wr;
    f->fs = fs;
    f->priv = ff;
    *out = f;
    return 0;
fail:
    free(ff);
    return r;
}

static int fat_open(struct vk_fs *fs, const char *path, int flags, uint32_t mode, struct vk_file **out)
{
    char np[PMAX];
    int r;
    bool wr = flags & (VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC);
    (void)mode;
    if ((r = fat_norm(fs, path, np)) < 0)
        return r;
    if (wr && !fs->writable)
        return vk_error(-EROFS, "%s:%s: filesystem opened read-only", fs->bd->name, np);
    struct fat_file *ff = calloc(1, sizeof *ff);
    if (!ff)
        return vk_error(-ENOMEM, "out of memory");
    if ((r = wr ? fat_open_for_write(fs, np, flags, ff) : fat_lookup(fs, np, &ff->e)) < 0) {
        free(ff);
        return r;
    }
    return open_ent(fs, ff, np, wr, out);
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

int fat_transfer(struct vk_fs *fs, struct fat_file *ff, void *buf, size_t len, uint64_t off, bool write)
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
        r = write ? fat_data_write(fs, p, n, fat_coff(v, c0) + in)
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
    int r = fat_transfer(f->fs, ff, buf, len, off, false);
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
    if (fs->writable)
        r = fat_sync(fs);
    for (unsigned i = 0; i < 8; i++)
        fat_dc_drop(&v->dc[i]);
    fat_wb_free(v);
    free(v->fat);
    free(v);
    free(fs);
    return r;
}

/* Options: "codepage" N, the DOS code page of 8.3 names (437). */
static int fat_set_option(struct vk_fs *fs, const char *name, const char *value)
{
    if (strcmp(name, "codepage"))
        return vk_error(-EINVAL, "%s: FAT has no option %s", fs->bd->name, name);
    char *end;
    long cp = strtol(value, &end, 10);
    if (*end || end == value || cp < 1 || cp > 9999)
        return vk_error(-EINVAL, "%s: bad DOS code page '%s'", fs->bd->name, value);
    for (unsigned i = 0; i < 8; i++)
        fat_dc_drop(&VOL(fs)->dc[i]);
    return fat_cp_set(VOL(fs), (int)cp, fs->bd->name);
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
    struct fat_file *ff = calloc(1, sizeof *ff);
    if (!ff)
        return vk_error(-ENOMEM, "out of memory");
    ent_of(n, &ff->e);
    return open_ent(fs, ff, path, false, out);
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
    .set_option = fat_set_option,
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
    .set_option = fat_set_option,
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
    size_t nsec = (v->fat_bytes + v->g.bps - 1) / v->g.bps;
    if (!(v->fat_dirty = calloc(1, (nsec + 7) / 8))) {
        r = vk_error(-ENOMEM, "out of memory");
        goto fail;
    }
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
    fat_wb_free(v);
    free(v->fat);
    free(v);
    free(fs);
    return r;
}

