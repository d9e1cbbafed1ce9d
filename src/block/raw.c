/* raw: the image file is the disk, byte for byte.
 *
 * Sparse files keep holes where nothing was written; SEEK_DATA/SEEK_HOLE
 * give the allocation map; fallocate punches and zeroes ranges.  Also
 * works on host block devices. */
#include "block/blockdev.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct raw {
    int fd;
};

static int raw_probe(const uint8_t *buf, size_t len, const char *filename)
{
    return 1;   /* anything can be a raw disk: the last resort */
}

static int raw_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    struct raw *s = bd->priv;
    return vk_fd_pread_full(s->fd, buf, len, off, bd->name);
}

/* A guessed raw image must not have a header of another format written
 * into its first sector (the guest could then make the host read any file
 * as a backing image). */
static int guarded_first_sector(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    uint8_t sector[512];
    int r;

    if (!bd->format_guessed || off >= sizeof sector)
        return 0;
    if ((r = raw_pread(bd, sector, sizeof sector < bd->size ? sizeof sector : bd->size, 0)) < 0)
        return r;
    size_t n = len < sizeof sector - off ? len : sizeof sector - (size_t)off;
    memcpy(sector + off, buf, n);
    if (vk_probe_is_image(sector, sizeof sector, bd->name))
        return vk_error(-EPERM, "%s: refusing to write an image header into a raw image whose format was guessed (use --format raw)",
                        bd->name);
    return 0;
}

static int raw_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    struct raw *s = bd->priv;
    int r = guarded_first_sector(bd, buf, len, off);
    if (r < 0)
        return r;
    return vk_fd_pwrite_full(s->fd, buf, len, off, bd->name);
}

static int raw_flush(struct vk_blockdev *bd)
{
    struct raw *s = bd->priv;
    if (fdatasync(s->fd) < 0)
        return vk_error(-errno, "%s: flush: %s", bd->name, strerror(errno));
    return 0;
}

static int raw_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags)
{
    struct raw *s = bd->priv;
    return vk_fd_write_zeroes(s->fd, off, len, flags & VK_ZERO_MAY_UNMAP, bd->name);
}

static int raw_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                            uint64_t *pnum, uint64_t *host_off)
{
    struct raw *s = bd->priv;
    off_t data = lseek(s->fd, (off_t)off, SEEK_DATA);

    *host_off = off;
    if (data < 0 && errno == ENXIO) {
        /* No data from off to the end of the file: a hole. */
        *pnum = len;
        return VK_BS_ZERO | VK_BS_OFFSET_VALID;
    }
    if (data < 0) {   /* no SEEK_DATA support: all data */
        *pnum = len;
        return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID;
    }
    if ((uint64_t)data > off) {
        uint64_t n = (uint64_t)data - off;
        *pnum = n < len ? n : len;
        return VK_BS_ZERO | VK_BS_OFFSET_VALID;
    }
    off_t hole = lseek(s->fd, (off_t)off, SEEK_HOLE);
    uint64_t n = hole < 0 ? len : (uint64_t)hole - off;
    *pnum = n < len && n > 0 ? n : len;
    return VK_BS_DATA | VK_BS_ALLOCATED | VK_BS_OFFSET_VALID;
}

static int raw_truncate(struct vk_blockdev *bd, uint64_t size, bool allow_shrink)
{
    struct raw *s = bd->priv;

    if (size < bd->size && !allow_shrink) {
        off_t data = lseek(s->fd, (off_t)size, SEEK_DATA);
        if (data >= 0 && (uint64_t)data < bd->size)
            return vk_error(-ENOTEMPTY, "%s: shrinking would discard data at offset %llu (use --shrink)",
                            bd->name, (unsigned long long)data);
    }
    if (ftruncate(s->fd, (off_t)size) < 0)
        return vk_error(-errno, "%s: resize: %s", bd->name, strerror(errno));
    bd->size = size;
    return 0;
}

static int raw_info(struct vk_blockdev *bd, struct vk_imginfo *info)
{
    struct raw *s = bd->priv;
    struct stat st;
    if (fstat(s->fd, &st) == 0)
        info->disk_size = (uint64_t)st.st_blocks * 512;
    return 0;
}

static int raw_close(struct vk_blockdev *bd)
{
    struct raw *s = bd->priv;
    int r = 0;
    if ((bd->flags & VK_OPEN_RDWR) && !(bd->flags & VK_OPEN_NOFLUSH) &&
        fdatasync(s->fd) < 0 && errno != EINVAL)
        r = vk_error(-errno, "%s: flush: %s", bd->name, strerror(errno));
    close(s->fd);
    vk_bd_free(bd);
    return r;
}

static const struct vk_blockdev_ops raw_ops = {
    .pread = raw_pread,
    .pwrite = raw_pwrite,
    .flush = raw_flush,
    .write_zeroes = raw_write_zeroes,
    .block_status = raw_block_status,
    .truncate = raw_truncate,
    .info = raw_info,
    .close = raw_close,
};

static int raw_open(int fd, const char *name, int flags, struct vk_blockdev **out)
{
    struct stat st;
    struct vk_blockdev *bd;
    uint64_t size;

    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return vk_error(-e, "%s: %s", name, strerror(e));
    }
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        size = end < 0 ? 0 : (uint64_t)end;
    } else {
        size = (uint64_t)st.st_size;
    }
    bd = vk_bd_alloc(&raw_ops, &vk_format_raw, name, sizeof(struct raw));
    if (!bd) {
        close(fd);
        return vk_error(-ENOMEM, "%s: out of memory", name);
    }
    struct raw *s = bd->priv;
    s->fd = fd;
    bd->size = size;
    bd->flags = flags;
    *out = bd;
    return 0;
}

static int raw_create(const char *path, const struct vk_create_opts *o)
{
    const char *pre = o->prealloc ? o->prealloc : "off";
    int fd, r = 0;

    if (o->backing_file)
        return vk_error(-EINVAL, "%s: raw images cannot have a backing file", path);
    if (strcmp(pre, "off") && strcmp(pre, "falloc") && strcmp(pre, "full"))
        return vk_error(-EINVAL, "%s: preallocation '%s' is not one of off, falloc, full", path, pre);
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    if (ftruncate(fd, (off_t)o->size) < 0) {
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    } else if (!strcmp(pre, "falloc") && o->size) {
        int e = posix_fallocate(fd, 0, (off_t)o->size);
        if (e)
            r = vk_error(-e, "%s: preallocating %llu bytes: %s", path,
                         (unsigned long long)o->size, strerror(e));
    } else if (!strcmp(pre, "full")) {
        static const char zero[1 << 16];
        for (uint64_t off = 0; off < o->size && r == 0; off += sizeof zero) {
            size_t n = o->size - off < sizeof zero ? (size_t)(o->size - off) : sizeof zero;
            r = vk_fd_pwrite_full(fd, zero, n, off, path);
        }
    }
    if (r == 0 && fsync(fd) < 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    close(fd);
    if (r < 0)
        unlink(path);   /* we created it: leave nothing half-made behind */
    return r;
}

const struct vk_format vk_format_raw = {
    .name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .create = raw_create,
};
