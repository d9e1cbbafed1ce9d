/* Generic filesystem code: the driver table, probing, and the wrappers. */
#include "fs/fs.h"

#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct vk_fs_type *const types[] = { &vk_fs_luks, &vk_fs_ext, &vk_fs_fat,
                                                   &vk_fs_swap, &vk_fs_swsuspend,
                                                   &vk_fs_iso };
#define NTYPES (sizeof types / sizeof types[0])

int vk_fs_probe(struct vk_blockdev *bd, struct vk_fsprobe *out, const struct vk_fs_type **type)
{
    int best = 0;
    struct vk_fsprobe cand;

    for (size_t i = 0; i < NTYPES; i++) {
        if (!types[i]->probe)
            continue;
        memset(&cand, 0, sizeof cand);
        int score = types[i]->probe(bd, &cand);
        if (score < 0 && score != -ENOENT && score != -EINVAL)
            return score;
        if (score > best) {
            best = score;
            *out = cand;
            if (type)
                *type = types[i];
        }
    }
    if (!best)
        return vk_error(-ENOENT, "%s: no filesystem found", bd->name);
    return 0;
}

int vk_fs_mkfs(struct vk_blockdev *bd, const struct vk_mkfs_opts *o)
{
    for (size_t i = 0; i < NTYPES; i++)
        for (const char *const *n = types[i]->mkfs_names; n && *n; n++)
            if (!strcmp(*n, o->type) && types[i]->mkfs)
                return types[i]->mkfs(bd, o);
    return vk_error(-EINVAL, "%s: cannot make a filesystem of type '%s' (ext2, ext3, ext4, vfat, swap, iso9660)",
                    bd->name, o->type);
}

int vk_fs_mount(struct vk_blockdev *bd, bool writable, struct vk_fs **out)
{
    const struct vk_fs_type *type = NULL;
    struct vk_fsprobe p;
    int r = vk_fs_probe(bd, &p, &type);
    if (r < 0)
        return r;
    if (!type->mount)
        return vk_error(-ENOTSUP, "%s: a %s area holds no files", bd->name, p.type);
    if (writable && !(bd->flags & VK_OPEN_RDWR))
        return vk_error(-EROFS, "%s: opened read-only", bd->name);
    return type->mount(bd, writable, out);
}

int vk_fs_used(struct vk_blockdev *bd, const struct vk_fs_type *type, vk_used_cb cb, void *ctx,
               uint64_t *span)
{
    if (!type->used)
        return vk_error(-ENOTSUP, "%s: cannot tell which blocks a %s filesystem uses", bd->name,
                        type->name);
    return type->used(bd, cb, ctx, span);
}

static int unsupported(struct vk_fs *fs, const char *path, const char *what)
{
    return vk_error(-EPERM, "%s:%s: %s is not supported on %s", fs->bd->name, path, what,
                    fs->type ? fs->type->name : "this filesystem");
}

static int readonly(struct vk_fs *fs, const char *path)
{
    if (fs->writable)
        return 0;
    return vk_error(-EROFS, "%s:%s: filesystem opened read-only", fs->bd->name, path);
}

#define WRITE_OP(op, path, what, ...)                          \
    do {                                                       \
        int r_ = readonly(fs, path);                           \
        if (r_ < 0)                                            \
            return r_;                                         \
        if (!fs->ops->op)                                      \
            return unsupported(fs, path, what);                \
        return fs->ops->op(fs, __VA_ARGS__);                   \
    } while (0)

int vk_fs_statfs(struct vk_fs *fs, struct vk_statfs *out)
{
    memset(out, 0, sizeof *out);
    if (!fs->ops->statfs)
        return unsupported(fs, "/", "statfs");
    return fs->ops->statfs(fs, out);
}

int vk_fs_stat(struct vk_fs *fs, const char *path, struct vk_stat *st, bool follow)
{
    memset(st, 0, sizeof *st);
    return fs->ops->stat(fs, path, st, follow);
}

int vk_fs_readdir(struct vk_fs *fs, const char *path, vk_dirent_cb cb, void *ctx)
{
    return fs->ops->readdir(fs, path, cb, ctx);
}

static int add_name(void *ctx, const struct vk_dirent *de)
{
    struct vk_names *l = ctx;
    char **nv = vk_grow(l->v, &l->cap, l->n + 1, sizeof *l->v, 32);
    if (!nv)
        return vk_error(-ENOMEM, "out of memory");
    l->v = nv;
    if (!(l->v[l->n] = strdup(de->name)))
        return vk_error(-ENOMEM, "out of memory");
    l->n++;
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int vk_fs_list(struct vk_fs *fs, const char *path, struct vk_names *out)
{
    memset(out, 0, sizeof *out);
    int r = vk_fs_readdir(fs, path, add_name, out);
    if (r < 0) {
        vk_names_free(out);
        return r;
    }
    if (out->n)     /* an empty directory leaves v NULL: qsort(NULL) is undefined */
        qsort(out->v, out->n, sizeof *out->v, cmp_name);
    return 0;
}

void vk_names_free(struct vk_names *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i]);
    free(n->v);
    memset(n, 0, sizeof *n);
}

int vk_fs_readlink(struct vk_fs *fs, const char *path, char *buf, size_t len)
{
    if (!fs->ops->readlink)
        return vk_error(-EINVAL, "%s:%s: not a symbolic link", fs->bd->name, path);
    return fs->ops->readlink(fs, path, buf, len);
}

int vk_fs_open(struct vk_fs *fs, const char *path, int flags, uint32_t mode, struct vk_file **out)
{
    if (flags & (VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC)) {
        int r = readonly(fs, path);
        if (r < 0)
            return r;
    }
    return fs->ops->open(fs, path, flags, mode, out);
}

int64_t vk_fs_read(struct vk_file *f, void *buf, size_t len, uint64_t off)
{
    return f->fs->ops->read(f, buf, len, off);
}

int64_t vk_fs_write(struct vk_file *f, const void *buf, size_t len, uint64_t off)
{
    if (!f->fs->ops->write)
        return unsupported(f->fs, "", "writing");
    return f->fs->ops->write(f, buf, len, off);
}

int vk_fs_close_file(struct vk_file *f)
{
    return f ? f->fs->ops->close_file(f) : 0;
}

int vk_fs_mkdir(struct vk_fs *fs, const char *path, uint32_t mode)
{
    WRITE_OP(mkdir, path, "mkdir", path, mode);
}

int vk_fs_unlink(struct vk_fs *fs, const char *path)
{
    WRITE_OP(unlink, path, "unlink", path);
}

int vk_fs_rmdir(struct vk_fs *fs, const char *path)
{
    WRITE_OP(rmdir, path, "rmdir", path);
}

int vk_fs_rename(struct vk_fs *fs, const char *from, const char *to)
{
    WRITE_OP(rename, from, "rename", from, to);
}

int vk_fs_symlink(struct vk_fs *fs, const char *target, const char *linkpath)
{
    WRITE_OP(symlink, linkpath, "a symbolic link", target, linkpath);
}

int vk_fs_link(struct vk_fs *fs, const char *existing, const char *newpath)
{
    WRITE_OP(link, newpath, "a hard link", existing, newpath);
}

int vk_fs_mknod(struct vk_fs *fs, const char *path, uint32_t mode, uint32_t major, uint32_t minor)
{
    WRITE_OP(mknod, path, "a device node or FIFO", path, mode, major, minor);
}

int vk_fs_setattr(struct vk_fs *fs, const char *path, int mask, const struct vk_stat *st)
{
    WRITE_OP(setattr, path, "changing attributes", path, mask, st);
}

int vk_fs_setxattr(struct vk_fs *fs, const char *path, const char *name, const void *value, size_t size)
{
    WRITE_OP(setxattr, path, "extended attributes", path, name, value, size);
}

int vk_fs_sync(struct vk_fs *fs)
{
    if (!fs->writable || !fs->ops->sync)
        return 0;
    return fs->ops->sync(fs);
}

int vk_fs_unmount(struct vk_fs *fs)
{
    return fs ? fs->ops->unmount(fs) : 0;
}

int vk_fs_set_option(struct vk_fs *fs, const char *name, const char *value)
{
    if (!fs->ops->set_option)
        return vk_error(-EINVAL, "%s: %s has no option %s", fs->bd->name, fs->type->name, name);
    return fs->ops->set_option(fs, name, value);
}

int vk_fs_read_all(struct vk_fs *fs, const char *path, size_t max_size, char **data, size_t *len)
{
    struct vk_stat st;
    struct vk_file *f;
    int r;

    if ((r = vk_fs_stat(fs, path, &st, true)) < 0)
        return r;
    if (!S_ISREG(st.mode))
        return vk_error(-EINVAL, "%s:%s: not a regular file", fs->bd->name, path);
    if (st.size > max_size)
        return vk_error(-EFBIG, "%s:%s: file too large (%llu bytes, limit %zu)",
                        fs->bd->name, path, (unsigned long long)st.size, max_size);
    if ((r = vk_fs_open(fs, path, VK_O_RDONLY, 0, &f)) < 0)
        return r;
    char *buf = malloc((size_t)st.size + 1);
    if (!buf) {
        vk_fs_close_file(f);
        return vk_error(-ENOMEM, "out of memory");
    }
    size_t got = 0;
    while (got < st.size) {
        int64_t n = vk_fs_read(f, buf + got, (size_t)st.size - got, got);
        if (n < 0) {
            free(buf);
            vk_fs_close_file(f);
            return (int)n;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    vk_fs_close_file(f);
    buf[got] = 0;
    *data = buf;
    *len = got;
    return 0;
}
