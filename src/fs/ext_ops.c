/* ext file operations through libext2fs (path based, see fs.h). */
#include "fs/ext_int.h"
#include "fs/path.h"

#include "util/err.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PMAX 4096

/* An open file.  Opened to replace its content (VK_O_TRUNC) or to create
 * it, the writes go to a shadow inode (ext_commit.c) published at close:
 * target is the inode replaced, or 0 for a new file linked as name in
 * dir. */
struct extfile {
    ext2_file_t f;
    ext2_ino_t ino;         /* the inode written: the shadow, if any */
    bool dirty;
    bool shadow;
    bool failed;            /* a write failed: never publish */
    ext2_ino_t target, dir;
    char path[PMAX];
};

/* Normalize path into buf; errors carry the device name. */
static int norm(struct vk_fs *fs, const char *path, char *buf)
{
    int r = vk_path_normalize(path, buf, PMAX);
    if (r < 0)
        return vk_error_prefix(r, "%s:", fs->bd->name);
    return 0;
}

static unsigned dc_hash(const char *p)
{
    unsigned h = 2166136261u;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % EXT_DCACHE;
}

static void dc_clear(struct vk_fs *fs)
{
    struct ext_priv *pv = fs->priv;
    for (unsigned i = 0; i < EXT_DCACHE; i++) {
        free(pv->dc[i].path);
        pv->dc[i].path = NULL;
    }
}

/* Remember that npath leads to ino (followed: through a final symlink). */
static void dc_put(struct vk_fs *fs, const char *npath, ext2_ino_t ino, bool followed)
{
    struct ext_priv *pv = fs->priv;
    struct ext_dcache *d = &pv->dc[dc_hash(npath)];
    char *c = strdup(npath);
    if (c) {
        free(d->path);
        d->path = c;
        d->ino = ino;
        d->followed = followed;
    }
}

static bool dc_get(struct vk_fs *fs, const char *npath, bool follow, ext2_ino_t *ino)
{
    struct ext_priv *pv = fs->priv;
    struct ext_dcache *d = &pv->dc[dc_hash(npath)];
    if (d->path && !strcmp(d->path, npath) && (follow || !d->followed)) {
        *ino = d->ino;
        return true;
    }
    return false;
}

static errcode_t link_target(ext2_filsys e, ext2_ino_t ino, struct ext2_inode_large *in,
                             uint64_t size, char tmp[PATH_MAX]);

/* Linux's limit on symbolic links followed in one lookup. */
#define EXT_MAX_LINKS 40

/* namei from the root for the normalized path npath, following symbolic
 * links in the middle of it, and at its end when follow: as
 * ext2fs_namei_follow, whose link reader trusts i_size (see link_target).
 * A link's target replaces the components read so far ("/" for an
 * absolute target) and the walk starts again, at most EXT_MAX_LINKS
 * times. */
static errcode_t walk_namei(ext2_filsys e, const char *npath, bool follow, ext2_ino_t *ino)
{
    char path[PMAX], target[PATH_MAX], joined[2 * PMAX + PATH_MAX];
    if (strlen(npath) >= sizeof path)
        return EXT2_ET_FILE_NOT_FOUND;
    strcpy(path, npath);
    int hops = 0;
restart:;
    ext2_ino_t cur = EXT2_ROOT_INO;
    const char *p = path;
    while (*p) {
        p += *p == '/';
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        ext2_ino_t child;
        errcode_t err = ext2fs_lookup(e, cur, p, (int)n, NULL, &child);
        if (err)
            return err;
        const char *rest = p + n;
        struct ext2_inode_large in;
        if (rest[strspn(rest, "/")] || follow) {
            if ((err = ext2fs_read_inode_full(e, child, (struct ext2_inode *)&in, sizeof in)))
                return err;
            if (LINUX_S_ISLNK(in.i_mode)) {
                uint64_t size = EXT2_I_SIZE(&in);
                if (++hops > EXT_MAX_LINKS)
                    return EXT2_ET_SYMLINK_LOOP;
                if (size == 0 || size > e->blocksize || size >= PATH_MAX)
                    return EXT2_ET_INODE_CORRUPTED;
                if ((err = link_target(e, child, &in, size, target)))
                    return err;
                target[size] = 0;
                /* the directory part read so far, then the target, then the rest */
                int len = target[0] == '/'
                              ? snprintf(joined, sizeof joined, "%s/%s", target, rest)
                              : snprintf(joined, sizeof joined, "%.*s/%s/%s", (int)(p - path),
                                         path, target, rest);
                if (len < 0 || (size_t)len >= sizeof joined ||
                    vk_path_normalize(joined, path, sizeof path) < 0) {
                    vk_error_clear();
                    return EXT2_ET_FILE_NOT_FOUND;
                }
                goto restart;
            }
        }
        cur = child;
        p = rest;
    }
    *ino = cur;
    return 0;
}

/* Resolve the directory at npath (symlinks followed) through the cache. */
static errcode_t dir_ino(struct vk_fs *fs, const char *npath, ext2_ino_t *ino)
{
    struct ext_priv *pv = fs->priv;
    if (!strcmp(npath, "/")) {
        *ino = EXT2_ROOT_INO;
        return 0;
    }
    if (dc_get(fs, npath, true, ino))
        return 0;
    errcode_t err = walk_namei(pv->e, npath, true, ino);
    if (err)
        return err;
    dc_put(fs, npath, *ino, true);
    return 0;
}

/* namei through the directory cache: parent from the cache, then one
 * directory scan for the last name; a final symlink to follow goes the
 * slow way. */
static errcode_t fast_namei(struct vk_fs *fs, const char *npath, bool follow, ext2_ino_t *ino)
{
    ext2_filsys e = EXTFS(fs);
    if (!strcmp(npath, "/")) {
        *ino = EXT2_ROOT_INO;
        return 0;
    }
    /* Only non-symlinks are cached, so a hit needs no following. */
    if (dc_get(fs, npath, follow, ino))
        return 0;
    char parent[PMAX];
    const char *name;
    if (vk_path_split(npath, parent, sizeof parent, &name) < 0)
        return EXT2_ET_FILE_NOT_FOUND;
    ext2_ino_t dir;
    errcode_t err = dir_ino(fs, parent, &dir);
    if (err)
        return err;
    err = ext2fs_lookup(e, dir, name, (int)strlen(name), NULL, ino);
    if (err || !follow)
        return err;
    struct ext2_inode in;
    if ((err = ext2fs_read_inode(e, *ino, &in)))
        return err;
    if (LINUX_S_ISLNK(in.i_mode))
        return walk_namei(e, npath, true, ino);
    return 0;
}

static int lookup(struct vk_fs *fs, const char *npath, bool follow, ext2_ino_t *ino)
{
    errcode_t err = fast_namei(fs, npath, follow, ino);
    if (err == EXT2_ET_FILE_NOT_FOUND || err == EXT2_ET_NO_DIRECTORY)
        return vk_error(err == EXT2_ET_NO_DIRECTORY ? -ENOTDIR : -ENOENT,
                        "%s:%s: %s", fs->bd->name, npath,
                        err == EXT2_ET_NO_DIRECTORY ? "not a directory" : "no such file or directory");
    if (err)
        return ext_err(fs, err, npath, "lookup");
    return 0;
}

static int read_inode(struct vk_fs *fs, ext2_ino_t ino, struct ext2_inode_large *in, const char *p)
{
    memset(in, 0, sizeof *in);
    errcode_t e = ext2fs_read_inode_full(EXTFS(fs), ino, (struct ext2_inode *)in, sizeof *in);
    return e ? ext_err(fs, e, p, "reading inode") : 0;
}

/* Normalize path into np (PMAX bytes, for messages) and look it up (follow:
 * through a final symlink): 0 with the inode number in *ino, or a negative
 * errno after vk_error().  The first step of every by-path operation. */
static int resolve(struct vk_fs *fs, const char *path, bool follow, char *np, ext2_ino_t *ino)
{
    int r = norm(fs, path, np);
    return r < 0 ? r : lookup(fs, np, follow, ino);
}

/* resolve(), then read the inode into *in. */
static int resolve_inode(struct vk_fs *fs, const char *path, bool follow, char *np, ext2_ino_t *ino,
                         struct ext2_inode_large *in)
{
    int r = resolve(fs, path, follow, np, ino);
    return r < 0 ? r : read_inode(fs, *ino, in, np);
}

static int write_inode(struct vk_fs *fs, ext2_ino_t ino, struct ext2_inode_large *in, const char *p)
{
    errcode_t e = ext2fs_write_inode_full(EXTFS(fs), ino, (struct ext2_inode *)in, sizeof *in);
    return e ? ext_err(fs, e, p, "writing inode") : 0;
}

/* Resolve the parent directory of npath; *name points into npath. */
static int parent_of(struct vk_fs *fs, const char *npath, ext2_ino_t *dir, const char **name)
{
    char parent[PMAX];
    int r = vk_path_split(npath, parent, sizeof parent, name);
    if (r < 0)
        return r;
    if (!**name)
        return vk_error(-EEXIST, "%s:/: the root directory", fs->bd->name);
    errcode_t err = dir_ino(fs, parent, dir);
    if (err == EXT2_ET_FILE_NOT_FOUND || err == EXT2_ET_NO_DIRECTORY)
        return vk_error(err == EXT2_ET_NO_DIRECTORY ? -ENOTDIR : -ENOENT, "%s:%s: %s",
                        fs->bd->name, parent,
                        err == EXT2_ET_NO_DIRECTORY ? "not a directory" : "no such file or directory");
    if (err)
        return ext_err(fs, err, parent, "lookup");
    struct ext2_inode_large in;
    if ((r = read_inode(fs, *dir, &in, parent)) < 0)
        return r;
    if (!LINUX_S_ISDIR(in.i_mode))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, parent);
    return 0;
}

static int child(struct vk_fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t *ino)
{
    errcode_t e = ext2fs_lookup(EXTFS(fs), dir, name, (int)strlen(name), NULL, ino);
    if (e == EXT2_ET_FILE_NOT_FOUND)
        return -ENOENT;
    return e ? ext_err(fs, e, name, "lookup") : 0;
}

static void ts_get(struct timespec *ts, uint32_t lo, uint32_t extra, bool has_extra)
{
    ts->tv_sec = (int32_t)lo;
    ts->tv_nsec = 0;
    if (has_extra) {
        ts->tv_sec += (int64_t)(extra & 3) << 32;
        ts->tv_nsec = extra >> 2;
    }
}

#define HAS(in, field) ((in)->i_extra_isize >= offsetof(struct ext2_inode_large, field) + \
                        sizeof((in)->field) - EXT2_GOOD_OLD_INODE_SIZE && \
                        EXT2_INODE_SIZE(EXTFS(fs)->super) > EXT2_GOOD_OLD_INODE_SIZE)

void ext_ts_set(uint32_t *lo, uint32_t *extra, bool has_extra, const struct timespec *ts)
{
    *lo = (uint32_t)ts->tv_sec;
    if (has_extra)
        *extra = (uint32_t)(((ts->tv_sec - (int32_t)*lo) >> 32) & 3) |
                 (uint32_t)ts->tv_nsec << 2;
}

static void touch_times(struct vk_fs *fs, struct ext2_inode_large *in, bool mtime, bool ctime)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (mtime)
        ext_ts_set(&in->i_mtime, &in->i_mtime_extra, HAS(in, i_mtime_extra), &now);
    if (ctime)
        ext_ts_set(&in->i_ctime, &in->i_ctime_extra, HAS(in, i_ctime_extra), &now);
}

static void fill_stat(struct vk_fs *fs, ext2_ino_t ino, struct ext2_inode_large *in, struct vk_stat *st)
{
    ext2_filsys e = EXTFS(fs);
    memset(st, 0, sizeof *st);
    st->ino = ino;
    st->mode = in->i_mode;
    st->nlink = in->i_links_count;
    st->uid = inode_uid(*in);
    st->gid = inode_gid(*in);
    st->size = EXT2_I_SIZE(in);
    st->blocks = ext2fs_get_stat_i_blocks(e, (struct ext2_inode *)in);
    if (LINUX_S_ISCHR(in->i_mode) || LINUX_S_ISBLK(in->i_mode)) {
        if (in->i_block[0]) {
            st->rdev_major = (in->i_block[0] >> 8) & 255;
            st->rdev_minor = in->i_block[0] & 255;
        } else {
            st->rdev_major = (in->i_block[1] & 0xfff00) >> 8;
            st->rdev_minor = (in->i_block[1] & 0xff) | ((in->i_block[1] >> 12) & 0xfff00);
        }
    }
    ts_get(&st->atime, in->i_atime, in->i_atime_extra, HAS(in, i_atime_extra));
    ts_get(&st->mtime, in->i_mtime, in->i_mtime_extra, HAS(in, i_mtime_extra));
    ts_get(&st->ctime, in->i_ctime, in->i_ctime_extra, HAS(in, i_ctime_extra));
    if (HAS(in, i_crtime_extra))
        ts_get(&st->crtime, in->i_crtime, in->i_crtime_extra, true);
}

static int ext_statfs(struct vk_fs *fs, struct vk_statfs *out)
{
    ext2_filsys e = EXTFS(fs);
    struct vk_fsprobe p;
    memset(&p, 0, sizeof p);
    memset(out, 0, sizeof *out);
    int r = vk_fs_ext.probe(fs->bd, &p);
    if (r < 0)
        return r;
    snprintf(out->type, sizeof out->type, "%s", p.type);
    snprintf(out->uuid, sizeof out->uuid, "%s", p.uuid);
    memcpy(out->label, e->super->s_volume_name, 16);
    out->label[16] = 0;
    out->block_size = e->blocksize;
    out->blocks = ext2fs_blocks_count(e->super);
    out->blocks_free = ext2fs_free_blocks_count(e->super);
    uint64_t res = ext2fs_r_blocks_count(e->super);
    out->blocks_avail = out->blocks_free > res ? out->blocks_free - res : 0;
    out->files = e->super->s_inodes_count;
    out->files_free = e->super->s_free_inodes_count;
    return 0;
}

static int ext_stat(struct vk_fs *fs, const char *path, struct vk_stat *st, bool follow)
{
    char np[PMAX];
    ext2_ino_t ino;
    struct ext2_inode_large in;
    int r;
    if ((r = resolve_inode(fs, path, follow, np, &ino, &in)) < 0)
        return r;
    fill_stat(fs, ino, &in, st);
    return 0;
}

static uint32_t ft_mode(int ft)
{
    switch (ft) {
    case EXT2_FT_REG_FILE: return S_IFREG;
    case EXT2_FT_DIR: return S_IFDIR;
    case EXT2_FT_CHRDEV: return S_IFCHR;
    case EXT2_FT_BLKDEV: return S_IFBLK;
    case EXT2_FT_FIFO: return S_IFIFO;
    case EXT2_FT_SOCK: return S_IFSOCK;
    case EXT2_FT_SYMLINK: return S_IFLNK;
    default: return 0;
    }
}

static int mode_ft(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFREG: return EXT2_FT_REG_FILE;
    case S_IFDIR: return EXT2_FT_DIR;
    case S_IFCHR: return EXT2_FT_CHRDEV;
    case S_IFBLK: return EXT2_FT_BLKDEV;
    case S_IFIFO: return EXT2_FT_FIFO;
    case S_IFSOCK: return EXT2_FT_SOCK;
    case S_IFLNK: return EXT2_FT_SYMLINK;
    default: return EXT2_FT_UNKNOWN;
    }
}

/* An inode as a node: the inode number is all ext needs. */
static void ext_node(ext2_ino_t ino, uint32_t type, struct vk_node *n)
{
    memset(n, 0, sizeof *n);
    n->ino = n->id = ino;
    n->type = type;
}

struct rd_ctx {
    vk_dirent_cb cb;
    void *ctx;
    int ret;
};

static int rd_proc(struct ext2_dir_entry *d, int offset, int blocksize, char *buf, void *priv)
{
    (void)offset; (void)blocksize; (void)buf;
    struct rd_ctx *c = priv;
    int len = ext2fs_dirent_name_len(d);
    char name[EXT2_NAME_LEN + 1];
    memcpy(name, d->name, (size_t)len);
    name[len] = 0;
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return 0;
    struct vk_node n;
    ext_node(d->inode, ft_mode(ext2fs_dirent_file_type(d)), &n);
    struct vk_dirent de = { .name = name, .ino = d->inode, .type = n.type, .node = &n };
    int r = c->cb(c->ctx, &de);
    if (r) {
        c->ret = r < 0 ? r : 0;
        return DIRENT_ABORT;
    }
    return 0;
}

/* cb for each entry of directory ino (np for messages). */
static int iterate_dir(struct vk_fs *fs, ext2_ino_t ino, const char *np, vk_dirent_cb cb, void *ctx)
{
    struct rd_ctx c = { cb, ctx, 0 };
    errcode_t e = ext2fs_dir_iterate(EXTFS(fs), ino, 0, NULL, rd_proc, &c);
    if (e == EXT2_ET_NO_DIRECTORY)
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, np);
    if (e)
        return ext_err(fs, e, np, "reading directory");
    return c.ret;
}

static int ext_readdir(struct vk_fs *fs, const char *path, vk_dirent_cb cb, void *ctx)
{
    char np[PMAX];
    ext2_ino_t ino;
    int r;
    if ((r = resolve(fs, path, true, np, &ino)) < 0)
        return r;
    return iterate_dir(fs, ino, np, cb, ctx);
}

/* The target of symlink ino (inode in, its size checked by the caller:
 * at most a block and below PATH_MAX) into tmp, never trusting more of the
 * inode than it can hold: libext2fs's own namei sizes its buffer from
 * i_size and lets an inline-data link write past it, so vmkit follows
 * links itself with this. */
static errcode_t link_target(ext2_filsys e, ext2_ino_t ino, struct ext2_inode_large *in,
                             uint64_t size, char tmp[PATH_MAX])
{
    errcode_t err = 0;
    if (in->i_flags & EXT4_INLINE_DATA_FL) {
        size_t got = 0;
        err = ext2fs_inline_data_size(e, ino, &got);
        if (!err && got > PATH_MAX)
            err = EXT2_ET_INLINE_DATA_NO_SPACE;
        if (!err)
            err = ext2fs_inline_data_get(e, ino, (struct ext2_inode *)in, tmp, &got);
        if (!err && got < size)
            memset(tmp + got, 0, size - got);   /* i_size claims more than the data */
    } else if (ext2fs_is_fast_symlink((struct ext2_inode *)in)) {
        memcpy(tmp, in->i_block, size);
    } else {
        ext2_file_t f;
        unsigned got = 0;
        err = ext2fs_file_open(e, ino, 0, &f);
        if (!err) {
            err = ext2fs_file_read(f, tmp, (unsigned)size, &got);
            ext2fs_file_close(f);
            if (!err && got != size)
                err = EXT2_ET_SHORT_READ;
        }
    }
    return err;
}

/* readlink of inode ino (np for messages). */
static int readlink_ino(struct vk_fs *fs, ext2_ino_t ino, const char *np, char *buf, size_t len)
{
    struct ext2_inode_large in;
    ext2_filsys e = EXTFS(fs);
    int r;
    if ((r = read_inode(fs, ino, &in, np)) < 0)
        return r;
    if (!LINUX_S_ISLNK(in.i_mode))
        return vk_error(-EINVAL, "%s:%s: not a symbolic link", fs->bd->name, np);
    uint64_t size = EXT2_I_SIZE(&in);
    if (size > e->blocksize || size >= PATH_MAX)
        return vk_error(-EUCLEAN, "%s:%s: symbolic link of %llu bytes", fs->bd->name, np,
                        (unsigned long long)size);
    char tmp[PATH_MAX];
    errcode_t err = link_target(e, ino, &in, size, tmp);
    if (err)
        return ext_err(fs, err, np, "reading symbolic link");
    memcpy(buf, tmp, size < len ? size : len);
    return (int)size;
}

static int ext_readlink(struct vk_fs *fs, const char *path, char *buf, size_t len)
{
    char np[PMAX];
    ext2_ino_t ino;
    int r;
    if ((r = resolve(fs, path, false, np, &ino)) < 0)
        return r;
    return readlink_ino(fs, ino, np, buf, len);
}

/* Add name -> ino in dir, growing the directory when full. */
static errcode_t add_link(ext2_filsys e, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft)
{
    errcode_t err = ext2fs_link(e, dir, name, ino, ft);
    if (err == EXT2_ET_DIR_NO_SPACE) {
        if ((err = ext2fs_expand_dir(e, dir)))
            return err;
        err = ext2fs_link(e, dir, name, ino, ft);
    }
    return err;
}

/* Make a new inode of mode (any type but directory) named name in dir:
 * the inode, then the entry, both held until the next barrier. */
static int new_node(struct vk_fs *fs, ext2_ino_t dir, const char *name, const char *np,
                    uint32_t mode, ext2_ino_t *out, struct ext2_inode_large *in)
{
    ext_commit(fs, true);
    int r = ext_new_inode(fs, dir, mode, false, np, out, in);
    if (r >= 0) {
        errcode_t err = add_link(EXTFS(fs), dir, name, *out, mode_ft(mode));
        if (err)
            r = ext_err(fs, err, np, "adding the directory entry");
    }
    ext_commit(fs, false);
    if (r >= 0)
        dc_put(fs, np, *out, false);
    return r;
}

static int ext_open(struct vk_fs *fs, const char *path, int flags, uint32_t mode, struct vk_file **out)
{
    ext2_filsys e = EXTFS(fs);
    char np[PMAX];
    ext2_ino_t dir, ino, target = 0;
    const char *name;
    struct ext2_inode_large in;
    bool shadow = false;
    int r;
    if ((r = norm(fs, path, np)) < 0)
        return r;
    if (!strcmp(np, "/"))
        return vk_error(-EISDIR, "%s:/: is a directory", fs->bd->name);
    if ((r = parent_of(fs, np, &dir, &name)) < 0)
        return r;
    r = child(fs, dir, name, &ino);
    if (r == 0) {
        if ((flags & VK_O_CREAT) && (flags & VK_O_EXCL))
            return vk_error(-EEXIST, "%s:%s: already exists", fs->bd->name, np);
        /* A final symlink is followed, like open(2). */
        if ((r = lookup(fs, np, true, &ino)) < 0 || (r = read_inode(fs, ino, &in, np)) < 0)
            return r;
        if (LINUX_S_ISDIR(in.i_mode))
            return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
        if (!LINUX_S_ISREG(in.i_mode))
            return vk_error(-EINVAL, "%s:%s: not a regular file", fs->bd->name, np);
        if ((flags & VK_O_TRUNC) && (flags & VK_O_WRONLY)) {
            /* New content in a shadow, switched in at close. */
            target = ino;
            if ((r = ext_new_inode(fs, dir, in.i_mode, true, np, &ino, &in)) < 0)
                return r;
            shadow = true;
        }
    } else if (r == -ENOENT) {
        if (!(flags & VK_O_CREAT))
            return vk_error(-ENOENT, "%s:%s: no such file or directory", fs->bd->name, np);
        /* Built unlinked, linked at close. */
        if ((r = ext_new_inode(fs, dir, S_IFREG | (mode & 07777), true, np, &ino, &in)) < 0)
            return r;
        shadow = true;
    } else {
        return r;
    }
    struct vk_file *vf = calloc(1, sizeof *vf);
    struct extfile *ef = calloc(1, sizeof *ef);
    errcode_t err = 0;
    if (vf && ef)
        err = ext2fs_file_open2(e, ino, (struct ext2_inode *)&in,
                                (flags & VK_O_WRONLY) ? EXT2_FILE_WRITE : 0, &ef->f);
    if (!vf || !ef || err) {
        if (ef && ef->f)
            ext2fs_file_close(ef->f);
        free(vf); free(ef);
        if (shadow)
            ext_shadow_free(fs, ino);
        return err ? ext_err(fs, err, np, "opening")
                   : vk_error(-ENOMEM, "%s:%s: out of memory", fs->bd->name, np);
    }
    ef->ino = ino;
    ef->shadow = shadow;
    ef->dirty = shadow;
    ef->target = target;
    ef->dir = dir;
    snprintf(ef->path, sizeof ef->path, "%s", np);
    vf->fs = fs;
    vf->priv = ef;
    *out = vf;
    return 0;
}

static int64_t ext_read(struct vk_file *vf, void *buf, size_t len, uint64_t off)
{
    struct extfile *ef = vf->priv;
    /* Never past i_size: libext2fs reads inline data to the end of its
     * buffer, not of the file. */
    __u64 size = 0;
    ext2fs_file_get_lsize(ef->f, &size);
    if (off >= size)
        return 0;
    if (len > size - off)
        len = (size_t)(size - off);
    errcode_t err = ext2fs_file_llseek(ef->f, off, EXT2_SEEK_SET, NULL);
    size_t done = 0;
    while (!err && done < len) {
        unsigned got = 0, want = len - done > (1u << 30) ? 1u << 30 : (unsigned)(len - done);
        err = ext2fs_file_read(ef->f, (char *)buf + done, want, &got);
        if (err || !got)
            break;
        done += got;
    }
    if (err)
        return ext_err(vf->fs, err, ef->path, "reading");
    return (int64_t)done;
}

static int64_t ext_write(struct vk_file *vf, const void *buf, size_t len, uint64_t off)
{
    struct extfile *ef = vf->priv;
    ef->dirty = true;
    errcode_t err = ext2fs_file_llseek(ef->f, off, EXT2_SEEK_SET, NULL);
    size_t done = 0;
    while (!err && done < len) {
        unsigned got = 0, want = len - done > (1u << 30) ? 1u << 30 : (unsigned)(len - done);
        err = ext2fs_file_write(ef->f, (const char *)buf + done, want, &got);
        if (!err && !got)
            err = EXT2_ET_BLOCK_ALLOC_FAIL;
        done += got;
    }
    if (err) {
        ef->failed = true;
        return ext_err(vf->fs, err, ef->path, "writing");
    }
    return (int64_t)len;
}

/* Publish a new file's shadow: the inode made live, then its entry. */
static int publish_new(struct vk_fs *fs, struct extfile *ef)
{
    ext2_filsys e = EXTFS(fs);
    const char *name = strrchr(ef->path, '/') + 1;
    struct ext2_inode_large in;
    ext2_ino_t x;
    int r = child(fs, ef->dir, name, &x);
    if (r == 0)
        return vk_error(-EEXIST, "%s:%s: already exists", fs->bd->name, ef->path);
    if (r != -ENOENT || (r = read_inode(fs, ef->ino, &in, ef->path)) < 0)
        return r;
    in.i_links_count = 1;
    in.i_dtime = 0;
    touch_times(fs, &in, true, true);
    ext_commit(fs, true);
    r = write_inode(fs, ef->ino, &in, ef->path);
    if (r >= 0) {
        errcode_t err = add_link(e, ef->dir, name, ef->ino, EXT2_FT_REG_FILE);
        if (err)
            r = ext_err(fs, err, ef->path, "adding the directory entry");
    }
    ext_commit(fs, false);
    if (r >= 0)
        dc_put(fs, ef->path, ef->ino, false);
    return r;
}

static int close_shadow(struct vk_fs *fs, struct extfile *ef)
{
    /* After a failed write the handle's inode is the one that knows every
     * block allocated (a failed close may not write it). */
    struct ext2_inode last = *ext2fs_file_get_inode(ef->f);
    errcode_t err = ext2fs_file_close(ef->f);
    int r = err ? ext_err(fs, err, ef->path, "closing") : 0;
    if (r < 0 || ef->failed) {
        /* Never published: the old content (or no file) stays. */
        errcode_t e2 = ext2fs_write_inode(EXTFS(fs), ef->ino, &last);
        int k = e2 ? ext_err(fs, e2, ef->path, "writing inode") : ext_shadow_free(fs, ef->ino);
        if (r < 0 || k < 0)
            return r < 0 ? r : k;
        return vk_error(-EIO, "%s:%s: not written: an earlier write failed", fs->bd->name, ef->path);
    }
    r = ef->target ? ext_shadow_switch(fs, ef->target, ef->ino, ef->path) : publish_new(fs, ef);
    if (r < 0) {
        if (!ef->target)
            ext_shadow_free(fs, ef->ino);
        return r;
    }
    return ext_maybe_barrier(fs);
}

static int ext_close_file(struct vk_file *vf)
{
    struct extfile *ef = vf->priv;
    struct vk_fs *fs = vf->fs;
    int r = 0;
    errcode_t err = 0;
    if (ef->shadow) {
        r = close_shadow(fs, ef);
        free(ef);
        free(vf);
        return r;
    }
    if (ef->dirty)
        err = ext2fs_file_flush(ef->f);
    errcode_t e2 = ext2fs_file_close(ef->f);
    if (!err)
        err = e2;
    if (err)
        r = ext_err(fs, err, ef->path, "closing");
    if (!r && ef->dirty) {
        /* Nanoseconds of mtime/ctime (file_close wrote the small inode). */
        struct ext2_inode_large in;
        if ((r = read_inode(fs, ef->ino, &in, ef->path)) == 0) {
            touch_times(fs, &in, true, true);
            r = write_inode(fs, ef->ino, &in, ef->path);
        }
    }
    free(ef);
    free(vf);
    return r;
}

/* Set the size of an open file without writing data (a sparse tail). */
static int ext_set_size(struct vk_file *vf, uint64_t size)
{
    struct extfile *ef = vf->priv;
    ef->dirty = true;
    errcode_t err = ext2fs_file_set_size2(ef->f, size);
    if (err) {
        ef->failed = true;
        return ext_err(vf->fs, err, ef->path, "setting the size");
    }
    return 0;
}

static int ext_mkdir(struct vk_fs *fs, const char *path, uint32_t mode)
{
    ext2_filsys e = EXTFS(fs);
    char np[PMAX];
    ext2_ino_t dir, ino;
    const char *name;
    int r;
    if ((r = norm(fs, path, np)) < 0 || (r = parent_of(fs, np, &dir, &name)) < 0)
        return r;
    if ((r = child(fs, dir, name, &ino)) == 0)
        return vk_error(-EEXIST, "%s:%s: already exists", fs->bd->name, np);
    if (r != -ENOENT)
        return r;
    /* Its block, its inode, then the entry in dir: held, in that order. */
    ext_commit(fs, true);
    errcode_t err = ext2fs_mkdir(e, dir, 0, name);
    if (err == EXT2_ET_DIR_NO_SPACE) {
        if (!(err = ext2fs_expand_dir(e, dir)))
            err = ext2fs_mkdir(e, dir, 0, name);
    }
    struct ext2_inode_large in;
    r = err ? ext_err(fs, err, np, "making directory") : 0;
    if (r >= 0 && (r = child(fs, dir, name, &ino)) >= 0 && (r = read_inode(fs, ino, &in, np)) >= 0) {
        in.i_mode = (uint16_t)(LINUX_S_IFDIR | (mode & 07777));
        touch_times(fs, &in, true, true);
        dc_put(fs, np, ino, false);
        r = write_inode(fs, ino, &in, np);
    }
    ext_commit(fs, false);
    return r < 0 ? r : ext_maybe_barrier(fs);
}

/* Change the link count of directory ino by delta (dir_nlink: 1 sticks). */
static int dir_links(struct vk_fs *fs, ext2_ino_t ino, int delta, const char *np)
{
    struct ext2_inode_large in;
    int r = read_inode(fs, ino, &in, np);
    if (r < 0)
        return r;
    if (delta > 0) {
        if (in.i_links_count >= 65000 || in.i_links_count == 1)
            in.i_links_count = 1;
        else
            in.i_links_count++;
    } else if (in.i_links_count > 2) {
        in.i_links_count--;
    }
    touch_times(fs, &in, true, true);
    return write_inode(fs, ino, &in, np);
}

/* Remove the entry name -> ino from dir (held), and drop ino's link
 * after the barrier that makes the removal durable: a crash in between
 * leaves the file whole, with the entry or leaked, never an entry
 * pointing at freed blocks. */
static int remove_entry(struct vk_fs *fs, ext2_ino_t dir, const char *name, ext2_ino_t ino,
                        const char *np, bool isdir)
{
    dc_clear(fs);
    ext_commit(fs, true);
    errcode_t err = ext2fs_unlink(EXTFS(fs), dir, name, ino, 0);
    int r = err ? ext_err(fs, err, np, "removing the directory entry") : 0;
    if (r >= 0 && isdir)
        r = dir_links(fs, dir, -1, np);
    ext_commit(fs, false);
    if (r >= 0)
        r = ext_defer(fs, ino, isdir, false);
    return r < 0 ? r : ext_maybe_barrier(fs);
}

static int ext_unlink(struct vk_fs *fs, const char *path)
{
    char np[PMAX];
    ext2_ino_t dir, ino;
    const char *name;
    struct ext2_inode_large in;
    int r;
    if ((r = norm(fs, path, np)) < 0 || (r = parent_of(fs, np, &dir, &name)) < 0)
        return r;
    if ((r = child(fs, dir, name, &ino)) < 0)
        return r == -ENOENT ? vk_error(r, "%s:%s: no such file or directory", fs->bd->name, np) : r;
    if ((r = read_inode(fs, ino, &in, np)) < 0)
        return r;
    if (LINUX_S_ISDIR(in.i_mode))
        return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
    return remove_entry(fs, dir, name, ino, np, false);
}

static int empty_proc(struct ext2_dir_entry *d, int o, int b, char *buf, void *priv)
{
    (void)o; (void)b; (void)buf;
    int len = ext2fs_dirent_name_len(d);
    if ((len == 1 && d->name[0] == '.') || (len == 2 && d->name[0] == '.' && d->name[1] == '.'))
        return 0;
    *(int *)priv = 1;
    return DIRENT_ABORT;
}

static int ext_rmdir(struct vk_fs *fs, const char *path)
{
    char np[PMAX];
    ext2_ino_t dir, ino;
    const char *name;
    struct ext2_inode_large in;
    int r;
    if ((r = norm(fs, path, np)) < 0)
        return r;
    if (!strcmp(np, "/"))
        return vk_error(-EBUSY, "%s:/: cannot remove the root directory", fs->bd->name);
    if ((r = parent_of(fs, np, &dir, &name)) < 0)
        return r;
    if ((r = child(fs, dir, name, &ino)) < 0)
        return r == -ENOENT ? vk_error(r, "%s:%s: no such file or directory", fs->bd->name, np) : r;
    if ((r = read_inode(fs, ino, &in, np)) < 0)
        return r;
    if (!LINUX_S_ISDIR(in.i_mode))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, np);
    int nonempty = 0;
    errcode_t err = ext2fs_dir_iterate(EXTFS(fs), ino, 0, NULL, empty_proc, &nonempty);
    if (err)
        return ext_err(fs, err, np, "reading directory");
    if (nonempty)
        return vk_error(-ENOTEMPTY, "%s:%s: directory not empty", fs->bd->name, np);
    return remove_entry(fs, dir, name, ino, np, true);
}

struct dotdot_ctx { ext2_ino_t parent; };

static int dotdot_proc(struct ext2_dir_entry *d, int o, int b, char *buf, void *priv)
{
    (void)o; (void)b; (void)buf;
    int len = ext2fs_dirent_name_len(d);
    if (len == 2 && d->name[0] == '.' && d->name[1] == '.') {
        d->inode = ((struct dotdot_ctx *)priv)->parent;
        return DIRENT_CHANGED | DIRENT_ABORT;
    }
    return 0;
}

struct retarget_ctx {
    const char *name;
    ext2_ino_t ino;
    int ft;
    bool done;
};

static int retarget_proc(struct ext2_dir_entry *d, int o, int b, char *buf, void *priv)
{
    (void)o; (void)b; (void)buf;
    struct retarget_ctx *c = priv;
    size_t len = (size_t)ext2fs_dirent_name_len(d);
    if (len != strlen(c->name) || memcmp(d->name, c->name, len))
        return 0;
    d->inode = c->ino;
    ext2fs_dirent_set_file_type(d, c->ft);
    c->done = true;
    return DIRENT_CHANGED | DIRENT_ABORT;
}

/* Point the existing entry name in dir at ino: one directory block write
 * switches the name from its old file to the new one. */
static errcode_t retarget(ext2_filsys e, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft)
{
    struct retarget_ctx c = { name, ino, ft, false };
    errcode_t err = ext2fs_dir_iterate(e, dir, 0, NULL, retarget_proc, &c);
    return err ? err : c.done ? 0 : EXT2_ET_FILE_NOT_FOUND;
}

static int ext_rename(struct vk_fs *fs, const char *from, const char *to)
{
    ext2_filsys e = EXTFS(fs);
    char nf[PMAX], nt[PMAX];
    ext2_ino_t fdir, tdir, ino, old;
    const char *fname, *tname;
    struct ext2_inode_large in, oin;
    int r;
    if ((r = norm(fs, from, nf)) < 0 || (r = norm(fs, to, nt)) < 0)
        return r;
    if (!strcmp(nf, nt))
        return 0;
    size_t lf = strlen(nf);
    if (!strncmp(nt, nf, lf) && nt[lf] == '/')
        return vk_error(-EINVAL, "%s:%s: cannot move a directory into itself", fs->bd->name, nf);
    if ((r = parent_of(fs, nf, &fdir, &fname)) < 0 || (r = parent_of(fs, nt, &tdir, &tname)) < 0)
        return r;
    if ((r = child(fs, fdir, fname, &ino)) < 0)
        return r == -ENOENT ? vk_error(r, "%s:%s: no such file or directory", fs->bd->name, nf) : r;
    if ((r = read_inode(fs, ino, &in, nf)) < 0)
        return r;
    bool isdir = LINUX_S_ISDIR(in.i_mode);
    bool replace = false;
    r = child(fs, tdir, tname, &old);
    if (r == 0) {
        if (old == ino)
            return 0;
        if ((r = read_inode(fs, old, &oin, nt)) < 0)
            return r;
        if (LINUX_S_ISDIR(oin.i_mode) != isdir)
            return vk_error(isdir ? -ENOTDIR : -EISDIR, "%s:%s: %s", fs->bd->name, nt,
                            isdir ? "not a directory" : "is a directory");
        /* An empty directory in the way goes first (nothing is lost if a
         * crash follows); a file is replaced by retargeting its entry. */
        if (isdir && (r = ext_rmdir(fs, nt)) < 0)
            return r;
        replace = !isdir;
    } else if (r != -ENOENT) {
        return r;
    }
    dc_clear(fs);
    /* The new name (held), a barrier, then the old name goes.  A crash
     * before the barrier leaves the old state; after it, both names may
     * point at the file: e2fsck then reports a wrong link count ("Inode
     * N ref count is 1, should be 2") and keeps both; a replaced file
     * whose entry was retargeted is unattached until the barrier after,
     * and e2fsck offers it to /lost+found.  Never a lost file. */
    ext_commit(fs, true);
    errcode_t err = replace ? retarget(e, tdir, tname, ino, mode_ft(in.i_mode))
                            : add_link(e, tdir, tname, ino, mode_ft(in.i_mode));
    ext_commit(fs, false);
    if (err)
        return ext_err(fs, err, nt, "adding the directory entry");
    if (replace && (r = ext_defer(fs, old, false, false)) < 0)
        return r;
    if ((r = ext_barrier(fs)) < 0)
        return r;
    ext_commit(fs, true);
    if ((err = ext2fs_unlink(e, fdir, fname, ino, 0)))
        r = ext_err(fs, err, nf, "removing the old directory entry");
    if (r >= 0 && isdir && fdir != tdir) {
        struct dotdot_ctx c = { tdir };
        if ((err = ext2fs_dir_iterate(e, ino, DIRENT_FLAG_INCLUDE_EMPTY, NULL, dotdot_proc, &c)))
            r = ext_err(fs, err, nt, "updating '..'");
        if (r >= 0 && (r = dir_links(fs, tdir, +1, nt)) >= 0)
            r = dir_links(fs, fdir, -1, nf);
    }
    if (r >= 0 && (r = read_inode(fs, ino, &in, nt)) >= 0) {
        touch_times(fs, &in, false, true);
        r = write_inode(fs, ino, &in, nt);
    }
    ext_commit(fs, false);
    return r;
}

static int ext_symlink(struct vk_fs *fs, const char *target, const char *linkpath)
{
    ext2_filsys e = EXTFS(fs);
    char np[PMAX];
    ext2_ino_t dir, ino;
    const char *name;
    int r;
    if ((r = norm(fs, linkpath, np)) < 0 || (r = parent_of(fs, np, &dir, &name)) < 0)
        return r;
    size_t tl = strlen(target);
    if (!tl || tl >= e->blocksize || tl >= PATH_MAX)
        return vk_error(-ENAMETOOLONG, "%s:%s: symbolic link target of %zu bytes", fs->bd->name,
                        np, tl);
    if ((r = child(fs, dir, name, &ino)) == 0)
        return vk_error(-EEXIST, "%s:%s: already exists", fs->bd->name, np);
    if (r != -ENOENT)
        return r;
    ext_commit(fs, true);
    errcode_t err = ext2fs_symlink(e, dir, 0, name, target);
    if (err == EXT2_ET_DIR_NO_SPACE) {
        if (!(err = ext2fs_expand_dir(e, dir)))
            err = ext2fs_symlink(e, dir, 0, name, target);
    }
    ext_commit(fs, false);
    return err ? ext_err(fs, err, np, "making symbolic link") : ext_maybe_barrier(fs);
}

static int ext_link(struct vk_fs *fs, const char *existing, const char *newpath)
{
    ext2_filsys e = EXTFS(fs);
    char ne[PMAX], nn[PMAX];
    ext2_ino_t dir, ino, x;
    const char *name;
    struct ext2_inode_large in;
    int r;
    if ((r = norm(fs, existing, ne)) < 0 || (r = norm(fs, newpath, nn)) < 0 ||
        (r = lookup(fs, ne, false, &ino)) < 0 || (r = read_inode(fs, ino, &in, ne)) < 0 ||
        (r = parent_of(fs, nn, &dir, &name)) < 0)
        return r;
    if (LINUX_S_ISDIR(in.i_mode))
        return vk_error(-EPERM, "%s:%s: hard links to directories are not allowed", fs->bd->name, ne);
    if (in.i_links_count >= 65000)
        return vk_error(-EMLINK, "%s:%s: too many links", fs->bd->name, ne);
    if ((r = child(fs, dir, name, &x)) == 0)
        return vk_error(-EEXIST, "%s:%s: already exists", fs->bd->name, nn);
    if (r != -ENOENT)
        return r;
    /* The count first: a crash between leaves it one too high (e2fsck
     * fixes it), never an entry the count does not cover. */
    in.i_links_count++;
    touch_times(fs, &in, false, true);
    ext_commit(fs, true);
    r = write_inode(fs, ino, &in, ne);
    errcode_t err = r < 0 ? 0 : add_link(e, dir, name, ino, mode_ft(in.i_mode));
    ext_commit(fs, false);
    if (err)
        return ext_err(fs, err, nn, "adding the directory entry");
    return r < 0 ? r : ext_maybe_barrier(fs);
}

static int ext_mknod(struct vk_fs *fs, const char *path, uint32_t mode, uint32_t major, uint32_t minor)
{
    char np[PMAX];
    ext2_ino_t dir, ino;
    const char *name;
    struct ext2_inode_large in;
    int r;
    uint32_t t = mode & S_IFMT;
    if (t != S_IFCHR && t != S_IFBLK && t != S_IFIFO && t != S_IFSOCK)
        return vk_error(-EINVAL, "%s:%s: mknod of a type that is no device, FIFO or socket",
                        fs->bd->name, path);
    if ((r = norm(fs, path, np)) < 0 || (r = parent_of(fs, np, &dir, &name)) < 0)
        return r;
    if ((r = child(fs, dir, name, &ino)) == 0)
        return vk_error(-EEXIST, "%s:%s: already exists", fs->bd->name, np);
    if (r != -ENOENT)
        return r;
    if ((r = new_node(fs, dir, name, np, mode, &ino, &in)) < 0)
        return r;
    if (t == S_IFCHR || t == S_IFBLK) {
        if (major < 256 && minor < 256) {
            in.i_block[0] = major * 256 + minor;
            in.i_block[1] = 0;
        } else {
            in.i_block[0] = 0;
            in.i_block[1] = (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
        }
        return write_inode(fs, ino, &in, np);
    }
    return 0;
}

static int ext_setattr(struct vk_fs *fs, const char *path, int mask, const struct vk_stat *st)
{
    char np[PMAX];
    ext2_ino_t ino;
    struct ext2_inode_large in;
    int r;
    if ((r = resolve(fs, path, false, np, &ino)) < 0)
        return r;
    if (mask & VK_SET_SIZE) {
        if ((r = read_inode(fs, ino, &in, np)) < 0)
            return r;
        if (!LINUX_S_ISREG(in.i_mode))
            return vk_error(-EINVAL, "%s:%s: not a regular file", fs->bd->name, np);
        /* In place (not old-or-new): held, and blocks a shrink frees are
         * reused only after the barrier that makes it durable. */
        ext2_file_t f;
        bool shrink = st->size < EXT2_I_SIZE(&in);
        ext_commit(fs, true);
        errcode_t err = ext2fs_file_open(EXTFS(fs), ino, EXT2_FILE_WRITE, &f);
        if (!err) {
            err = ext2fs_file_set_size2(f, st->size);
            errcode_t e2 = ext2fs_file_close(f);
            if (!err)
                err = e2;
        }
        ext_commit(fs, false);
        if (err)
            return ext_err(fs, err, np, "changing the size");
        if (shrink && (r = ext_barrier(fs)) < 0)
            return r;
    }
    if ((r = read_inode(fs, ino, &in, np)) < 0)
        return r;
    if (mask & VK_SET_MODE)
        in.i_mode = (uint16_t)((in.i_mode & LINUX_S_IFMT) | (st->mode & 07777));
    if (mask & VK_SET_UID) {
        in.i_uid = (uint16_t)st->uid;
        ext2fs_set_i_uid_high(in, st->uid >> 16);
    }
    if (mask & VK_SET_GID) {
        in.i_gid = (uint16_t)st->gid;
        ext2fs_set_i_gid_high(in, st->gid >> 16);
    }
    if (mask & VK_SET_ATIME)
        ext_ts_set(&in.i_atime, &in.i_atime_extra, HAS(&in, i_atime_extra), &st->atime);
    if (mask & VK_SET_MTIME)
        ext_ts_set(&in.i_mtime, &in.i_mtime_extra, HAS(&in, i_mtime_extra), &st->mtime);
    touch_times(fs, &in, false, true);
    return write_inode(fs, ino, &in, np);
}

static int ext_setxattr(struct vk_fs *fs, const char *path, const char *name, const void *value,
                        size_t size)
{
    char np[PMAX];
    ext2_ino_t ino;
    int r;
    if ((r = resolve(fs, path, false, np, &ino)) < 0)
        return r;
    struct ext2_xattr_handle *h;
    errcode_t err = ext2fs_xattrs_open(EXTFS(fs), ino, &h);
    if (!err) {
        err = ext2fs_xattrs_read(h);
        if (!err)
            err = ext2fs_xattr_set(h, name, value, size);
        errcode_t e2 = ext2fs_xattrs_close(&h);
        if (!err)
            err = e2;
    }
    return err ? ext_err(fs, err, np, name) : 0;
}

static int ext_sync(struct vk_fs *fs)
{
    if (!fs->writable)
        return 0;
    int r = ext_barrier(fs);
    if (r < 0)
        return r;
    errcode_t err = ext2fs_flush(EXTFS(fs));
    return err ? ext_err(fs, err, "/", "writing the filesystem metadata") : 0;
}

static int ext_unmount(struct vk_fs *fs)
{
    struct ext_priv *pv = fs->priv;
    ext2_filsys e = pv->e;
    /* The last barrier, then the full flush (backup superblocks too). */
    int r = fs->writable ? ext_barrier(fs) : 0;
    dc_clear(fs);
    free(pv->dq);
    free(pv);
    errcode_t err = fs->writable ? ext2fs_close_free(&e) : (ext2fs_free(e), 0);
    if (err && r >= 0)
        r = ext_err(fs, err, "/", "writing the filesystem metadata");
    free(fs);
    return r;
}

/* ---- by node: a node is an inode number ---- */

static int ext_lookup_node(struct vk_fs *fs, const char *path, bool follow, struct vk_node *out)
{
    char np[PMAX];
    ext2_ino_t ino;
    struct ext2_inode_large in;
    int r;
    if ((r = resolve_inode(fs, path, follow, np, &ino, &in)) < 0)
        return r;
    ext_node(ino, in.i_mode & S_IFMT, out);
    return 0;
}

static int ext_readdir_node(struct vk_fs *fs, const struct vk_node *dir, const char *path,
                            vk_dirent_cb cb, void *ctx)
{
    return iterate_dir(fs, (ext2_ino_t)dir->ino, path, cb, ctx);
}

static int ext_stat_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                         struct vk_stat *st)
{
    struct ext2_inode_large in;
    int r = read_inode(fs, (ext2_ino_t)n->ino, &in, path);
    if (r < 0)
        return r;
    fill_stat(fs, (ext2_ino_t)n->ino, &in, st);
    return 0;
}

static int ext_readlink_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                             char *buf, size_t len)
{
    return readlink_ino(fs, (ext2_ino_t)n->ino, path, buf, len);
}

static int ext_open_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                         struct vk_file **out)
{
    ext2_ino_t ino = (ext2_ino_t)n->ino;
    struct ext2_inode_large in;
    int r = read_inode(fs, ino, &in, path);
    if (r < 0)
        return r;
    if (LINUX_S_ISDIR(in.i_mode))
        return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, path);
    if (!LINUX_S_ISREG(in.i_mode))
        return vk_error(-EINVAL, "%s:%s: not a regular file", fs->bd->name, path);
    struct vk_file *vf = calloc(1, sizeof *vf);
    struct extfile *ef = calloc(1, sizeof *ef);
    if (!vf || !ef) {
        free(vf);
        free(ef);
        return vk_error(-ENOMEM, "%s:%s: out of memory", fs->bd->name, path);
    }
    errcode_t err = ext2fs_file_open2(EXTFS(fs), ino, (struct ext2_inode *)&in, 0, &ef->f);
    if (err) {
        free(vf);
        free(ef);
        return ext_err(fs, err, path, "opening");
    }
    ef->ino = ino;
    snprintf(ef->path, sizeof ef->path, "%s", path);
    vf->fs = fs;
    vf->priv = ef;
    *out = vf;
    return 0;
}

const struct vk_fs_ops vk_ext_ops = {
    .statfs = ext_statfs,
    .stat = ext_stat,
    .readdir = ext_readdir,
    .readlink = ext_readlink,
    .open = ext_open,
    .read = ext_read,
    .write = ext_write,
    .close_file = ext_close_file,
    .set_size = ext_set_size,
    .mkdir = ext_mkdir,
    .unlink = ext_unlink,
    .rmdir = ext_rmdir,
    .rename = ext_rename,
    .symlink = ext_symlink,
    .link = ext_link,
    .mknod = ext_mknod,
    .setattr = ext_setattr,
    .setxattr = ext_setxattr,
    .sync = ext_sync,
    .unmount = ext_unmount,
    .lookup_node = ext_lookup_node,
    .readdir_node = ext_readdir_node,
    .stat_node = ext_stat_node,
    .readlink_node = ext_readlink_node,
    .open_node = ext_open_node,
    .node_id_name = "inode",
};
