/* filebd: a read-only block device over a file inside a filesystem - an
 * ISO image on a USB key's FAT partition, as GRUB's `loopback` reads it.
 * The filesystem stays mounted while the device is open; closing the
 * device closes the file, not the filesystem. */
#include "fs/fs.h"
#include "block/blockdev.h"

#include "util/err.h"

#include <errno.h>
#include <sys/stat.h>

struct filebd {
    struct vk_file *f;
};

static int filebd_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    struct filebd *p = bd->priv;
    char *b = buf;
    while (len) {
        int64_t n = vk_fs_read(p->f, b, len, off);
        if (n < 0)
            return (int)n;
        if (n == 0)   /* the file shrank under us: the wrapper checked size */
            return vk_error(-EIO, "%s: short read at byte %llu", bd->name,
                            (unsigned long long)off);
        b += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int filebd_close(struct vk_blockdev *bd)
{
    struct filebd *p = bd->priv;
    int r = vk_fs_close_file(p->f);
    vk_bd_free(bd);
    return r;
}

static const struct vk_blockdev_ops filebd_ops = {
    .pread = filebd_pread,
    .close = filebd_close,
};

int vk_fs_file_bd_open(struct vk_fs *fs, const char *path, const char *name,
                       struct vk_blockdev **out)
{
    struct vk_stat st;
    int r = vk_fs_stat(fs, path, &st, true);
    if (r < 0)
        return vk_error(r, "%s: %s", name, r == -ENOENT ? "no such file" : vk_errmsg_for(r));
    if ((st.mode & S_IFMT) != S_IFREG)
        return vk_error(-EINVAL, "%s: not a regular file", name);
    struct vk_file *f;
    if ((r = vk_fs_open(fs, path, VK_O_RDONLY, 0, &f)) < 0)
        return r;
    struct vk_blockdev *bd = vk_bd_alloc(&filebd_ops, NULL, name, sizeof(struct filebd));
    if (!bd) {
        vk_fs_close_file(f);
        return vk_error(-ENOMEM, "%s: out of memory", name);
    }
    ((struct filebd *)bd->priv)->f = f;
    bd->size = st.size;
    bd->cluster_size = 512;
    bd->flags = 0;
    *out = bd;
    return 0;
}
