/* A minimal read-only ext2/3/4 reader for pygrub, through libext2fs on top
 * of a vk_blockdev, presenting the generic struct vk_fs (stat, open, read).
 *
 * Stopgap: pygrub uses vk_fs_mount() first and falls back to this only
 * while fs/ext.c cannot mount the filesystem; once the ext driver is in
 * place this file can go. */
#include "boot/ext_ro.h"

#include "util/err.h"

#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct chan { struct vk_blockdev *bd; };

static struct vk_blockdev *pending;   /* handed to io_open (single-threaded use) */

static errcode_t io_open(const char *name, int flags, io_channel *channel)
{
    if (!pending || (flags & IO_FLAG_RW))
        return EXT2_ET_BAD_DEVICE_NAME;
    io_channel ch = calloc(1, sizeof *ch);
    struct chan *c = calloc(1, sizeof *c);
    char *n = strdup(name);
    if (!ch || !c || !n) {
        free(ch);
        free(c);
        free(n);
        return EXT2_ET_NO_MEMORY;
    }
    extern struct struct_io_manager vk_boot_io_manager;
    c->bd = pending;
    ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    ch->manager = &vk_boot_io_manager;
    ch->name = n;
    ch->block_size = 1024;
    ch->refcount = 1;
    ch->private_data = c;
    *channel = ch;
    return 0;
}

static errcode_t io_close(io_channel ch)
{
    if (--ch->refcount > 0)
        return 0;
    free(ch->private_data);
    free(ch->name);
    free(ch);
    return 0;
}

static errcode_t io_set_blksize(io_channel ch, int blksize)
{
    ch->block_size = blksize;
    return 0;
}

static errcode_t io_read64(io_channel ch, unsigned long long block, int count, void *data)
{
    struct chan *c = ch->private_data;
    uint64_t len = count < 0 ? (uint64_t)-count : (uint64_t)count * ch->block_size;
    uint64_t off = block * ch->block_size;
    if (off > c->bd->size || len > c->bd->size - off)
        return EXT2_ET_SHORT_READ;
    return vk_bd_pread(c->bd, data, len, off) < 0 ? EXT2_ET_SHORT_READ : 0;
}

static errcode_t io_read(io_channel ch, unsigned long block, int count, void *data)
{
    return io_read64(ch, block, count, data);
}

static errcode_t io_write(io_channel ch, unsigned long block, int count, const void *data)
{
    return EXT2_ET_RO_FILSYS;
}

static errcode_t io_write64(io_channel ch, unsigned long long block, int count, const void *data)
{
    return EXT2_ET_RO_FILSYS;
}

static errcode_t io_flush(io_channel ch)
{
    return 0;
}

struct struct_io_manager vk_boot_io_manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "vmkit pygrub read-only",
    .open = io_open,
    .close = io_close,
    .set_blksize = io_set_blksize,
    .read_blk = io_read,
    .write_blk = io_write,
    .flush = io_flush,
    .read_blk64 = io_read64,
    .write_blk64 = io_write64,
};

struct efile { ext2_file_t f; };

static ext2_filsys X(struct vk_fs *fs) { return fs->priv; }

static int lookup(struct vk_fs *fs, const char *path, bool follow, ext2_ino_t *ino)
{
    errcode_t e = follow ? ext2fs_namei_follow(X(fs), EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino)
                         : ext2fs_namei(X(fs), EXT2_ROOT_INO, EXT2_ROOT_INO, path, ino);
    if (e == EXT2_ET_FILE_NOT_FOUND)
        return vk_error(-ENOENT, "%s:%s: no such file", fs->bd->name, path);
    if (e)
        return vk_error(-EIO, "%s:%s: %s", fs->bd->name, path, error_message(e));
    return 0;
}

static int ro_stat(struct vk_fs *fs, const char *path, struct vk_stat *st, bool follow)
{
    ext2_ino_t ino;
    int r = lookup(fs, path, follow, &ino);
    if (r < 0)
        return r;
    struct ext2_inode in;
    errcode_t e = ext2fs_read_inode(X(fs), ino, &in);
    if (e)
        return vk_error(-EIO, "%s:%s: %s", fs->bd->name, path, error_message(e));
    memset(st, 0, sizeof *st);
    st->ino = ino;
    st->mode = in.i_mode;
    st->nlink = in.i_links_count;
    st->uid = inode_uid(in);
    st->gid = inode_gid(in);
    st->size = EXT2_I_SIZE(&in);
    st->mtime.tv_sec = in.i_mtime;
    return 0;
}

static int ro_open(struct vk_fs *fs, const char *path, int flags, uint32_t mode,
                   struct vk_file **out)
{
    if (flags & (VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC))
        return vk_error(-EROFS, "%s:%s: read-only", fs->bd->name, path);
    ext2_ino_t ino;
    int r = lookup(fs, path, true, &ino);
    if (r < 0)
        return r;
    struct vk_file *f = calloc(1, sizeof *f + sizeof(struct efile));
    if (!f)
        return vk_error(-ENOMEM, "out of memory");
    f->fs = fs;
    f->priv = f + 1;
    errcode_t e = ext2fs_file_open(X(fs), ino, 0, &((struct efile *)f->priv)->f);
    if (e) {
        free(f);
        return vk_error(-EIO, "%s:%s: %s", fs->bd->name, path, error_message(e));
    }
    *out = f;
    return 0;
}

static int64_t ro_read(struct vk_file *f, void *buf, size_t len, uint64_t off)
{
    ext2_file_t ef = ((struct efile *)f->priv)->f;
    errcode_t e = ext2fs_file_llseek(ef, off, EXT2_SEEK_SET, NULL);
    unsigned int got = 0;
    if (len > (1u << 30))
        len = 1u << 30;
    if (!e)
        e = ext2fs_file_read(ef, buf, (unsigned int)len, &got);
    if (e)
        return vk_error(-EIO, "%s: read at %llu: %s", f->fs->bd->name, (unsigned long long)off,
                        error_message(e));
    return got;
}

static int ro_close_file(struct vk_file *f)
{
    ext2fs_file_close(((struct efile *)f->priv)->f);
    free(f);
    return 0;
}

static int ro_unmount(struct vk_fs *fs)
{
    ext2fs_close_free((ext2_filsys *)&fs->priv);
    free(fs);
    return 0;
}

static const struct vk_fs_ops ro_ops = {
    .stat = ro_stat,
    .open = ro_open,
    .read = ro_read,
    .close_file = ro_close_file,
    .unmount = ro_unmount,
};

int vk_boot_ext_ro_mount(struct vk_blockdev *bd, struct vk_fs **out)
{
    ext2_filsys xfs = NULL;
    pending = bd;
    errcode_t e = ext2fs_open2(bd->name, NULL, EXT2_FLAG_64BITS, 0, 0, &vk_boot_io_manager, &xfs);
    pending = NULL;
    if (e)
        return vk_error(-EINVAL, "%s: no ext2/3/4 filesystem (%s)", bd->name, error_message(e));
    struct vk_fs *fs = calloc(1, sizeof *fs);
    if (!fs) {
        ext2fs_close_free(&xfs);
        return vk_error(-ENOMEM, "out of memory");
    }
    fs->ops = &ro_ops;
    fs->bd = bd;
    fs->priv = xfs;
    *out = fs;
    return 0;
}
