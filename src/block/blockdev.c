/* Generic block-device code: the format registry, probing, opening, and
 * the thin wrappers every caller goes through. */
#include "block/blockdev.h"

#include "util/err.h"
#include "util/file.h"
#include "util/writeback.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/falloc.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const struct vk_format *const formats[] = {
    &vk_format_qcow2,
    &vk_format_vmdk,
    &vk_format_vdi,
    &vk_format_vpc,
    &vk_format_vhdx,
    &vk_format_raw,
};

const struct vk_format *vk_format_by_name(const char *name)
{
    if (!strcmp(name, "vhd"))   /* xl.cfg's name for QEMU's vpc */
        name = "vpc";
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (!strcmp(formats[i]->name, name))
            return formats[i];
    return NULL;
}

int vk_fd_pread_full(int fd, void *buf, size_t len, uint64_t off, const char *name)
{
    char *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return vk_error(-errno, "%s: read at offset %llu: %s", name,
                            (unsigned long long)off, strerror(errno));
        }
        if (n == 0)
            return vk_error(-EIO, "%s: unexpected end of file at offset %llu",
                            name, (unsigned long long)off);
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int vk_fd_pwrite_full(int fd, const void *buf, size_t len, uint64_t off, const char *name)
{
    const char *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return vk_error(-errno, "%s: write at offset %llu: %s", name,
                            (unsigned long long)off, strerror(errno));
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

bool vk_probe_is_image(const uint8_t *buf, size_t len, const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (formats[i] != &vk_format_raw && formats[i]->probe(buf, len, name) > 1)
            return true;
    return false;
}

int vk_fd_write_zeroes(int fd, uint64_t off, uint64_t len, bool punch, const char *name)
{
    static const char zero[65536];
    int mode = punch ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE;
    if (len == 0 || fallocate(fd, mode, (off_t)off, (off_t)len) == 0)
        return 0;
    while (len) {
        size_t n = len < sizeof zero ? (size_t)len : sizeof zero;
        int r = vk_fd_pwrite_full(fd, zero, n, off, name);
        if (r < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

void vk_uuid_random(uint8_t uuid[16])
{
    size_t got = 0;
    while (got < 16) {
        ssize_t n = getrandom(uuid + got, 16 - got, 0);
        if (n <= 0) {
            /* no entropy source: a time-based value is still unique enough */
            uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
            memcpy(uuid, &t, 8);
            memcpy(uuid + 8, &t, 8);
            break;
        }
        got += (size_t)n;
    }
    uuid[6] = (uint8_t)((uuid[6] & 0x0f) | 0x40);
    uuid[8] = (uint8_t)((uuid[8] & 0x3f) | 0x80);
}

static int probe_fd(int fd, const char *path, const struct vk_format **fmt)
{
    uint8_t buf[4096];
    ssize_t n;
    int best = -1;

    do
        n = pread(fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        int score = formats[i]->probe(buf, (size_t)n, path);
        if (score > best) {
            best = score;
            *fmt = formats[i];
        }
    }
    /* Raw only as the last resort: not for a format we cannot read. */
    return best <= 1 ? vk_foreign_probe(fd, path, buf, (size_t)n) : 0;
}

int vk_format_probe(const char *path, const struct vk_format **fmt)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    int r = probe_fd(fd, path, fmt);
    close(fd);
    return r;
}

int vk_bd_open(const char *path, const char *fmtname, int flags, struct vk_blockdev **out)
{
    const struct vk_format *fmt = NULL;
    struct stat st;
    int fd, r;

    *out = NULL;
    if (fmtname && !(fmt = vk_format_by_name(fmtname)))
        return vk_error(-EINVAL, "%s: unknown image format '%s'", path, fmtname);
    fd = open(path, ((flags & VK_OPEN_RDWR) ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        close(fd);
        return vk_error(-EISDIR, "%s: is a directory, not a disk image", path);
    }
    if (!(flags & VK_OPEN_NOLOCK)) {
        r = vk_lock_image(fd, path, flags & VK_OPEN_RDWR);
        if (r < 0) {
            close(fd);
            return r;
        }
    }
    if (!fmt) {
        r = probe_fd(fd, path, &fmt);
        if (r < 0) {
            close(fd);
            return r;
        }
    }
    /* VK_OPEN_BULK: the helper gets a descriptor of its own (the driver
     * owns fd) */
    int wfd = (flags & VK_OPEN_BULK) && (flags & VK_OPEN_RDWR) && S_ISREG(st.st_mode)
              ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    r = fmt->open(fd, path, flags, out);
    if (r < 0) {
        if (wfd >= 0)
            close(wfd);
        return r;
    }
    (*out)->format_guessed = (fmtname == NULL);
    (*out)->flags = flags;
    if (wfd >= 0 && !((*out)->wb = vk_writeback_start(wfd)))
        close(wfd);     /* no thread: the kernel writes back in its time */
    (*out)->wb_fd = wfd;
    return 0;
}

/* Contract in blockdev.h. */
char *vk_tmp_name(const char *path, unsigned n)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
    size_t len = strlen(path) + 64;
    char *t = malloc(len);
    if (t)
        snprintf(t, len, "%.*s.%s.vmkit-%ld-%u", (int)dirlen, path, path + dirlen, (long)getpid(), n);
    return t;
}

int vk_bd_create_tmp(const char *path, const char *fmtname, const struct vk_create_opts *opts, char **tmp)
{
    const struct vk_format *fmt = vk_format_by_name(fmtname ? fmtname : "raw");
    struct stat st;
    static unsigned counter;
    int r = -EEXIST;

    *tmp = NULL;
    if (!fmt)
        return vk_error(-EINVAL, "%s: unknown image format '%s'", path, fmtname);
    if (!fmt->create)
        return vk_error(-ENOTSUP, "%s: format %s cannot be created", path, fmt->name);
    if (lstat(path, &st) == 0)
        return vk_error(-EEXIST, "%s: file exists (remove it first)", path);
    for (int tries = 0; r == -EEXIST && tries < 100; tries++) {
        free(*tmp);
        if (!(*tmp = vk_tmp_name(path, counter++)))
            return vk_error(-ENOMEM, "out of memory");
        struct vk_create_opts o = *opts;
        o.final_path = path;
        r = fmt->create(*tmp, &o);
    }
    if (r < 0) {
        /* The message names the temporary file: name the user's. */
        const char *m = vk_errmsg();
        size_t tl = strlen(*tmp);
        if (!strncmp(m, *tmp, tl)) {
            char *copy = strdup(m + tl);
            if (copy)
                vk_error(r, "%s%s", path, copy);
            free(copy);
        }
        free(*tmp);
        *tmp = NULL;
    }
    return r;
}

/* vk_publish and vk_publish_unsynced: the rename, with or without the
 * syncs around it. */
static int publish(const char *tmp, const char *path, bool durable)
{
    int r = 0;
    if (durable) {
        int fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) < 0)
            r = vk_error(-errno, "%s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    /* Never over a file that appeared meanwhile: the name is the user's. */
    if (r == 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
        if (errno == EINVAL || errno == ENOSYS) {   /* no RENAME_NOREPLACE here */
            if (link(tmp, path) < 0)
                r = vk_error(-errno, "%s: %s", path, strerror(errno));
            else
                unlink(tmp);
        } else {
            r = vk_error(-errno, "%s: %s", path, errno == EEXIST ? "file exists (remove it first)" : strerror(errno));
        }
    }
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    if (!durable)
        return 0;
    return vk_fsync_parent(path);   /* the rename itself durable */
}

int vk_publish(const char *tmp, const char *path)
{
    return publish(tmp, path, true);
}

int vk_publish_unsynced(const char *tmp, const char *path)
{
    return publish(tmp, path, false);
}

int vk_bd_create(const char *path, const char *fmtname, const struct vk_create_opts *opts)
{
    char *tmp;
    int r = vk_bd_create_tmp(path, fmtname, opts, &tmp);
    if (r == 0)
        r = vk_publish(tmp, path);
    free(tmp);
    return r;
}

int vk_bd_remove(const char *path, const char *fmtname)
{
    const struct vk_format *fmt = vk_format_by_name(fmtname ? fmtname : "raw");
    if (fmt && fmt->remove)
        return fmt->remove(path);
    if (unlink(path) < 0 && errno != ENOENT)
        return vk_error(-errno, "%s: %s", path, strerror(errno));
    return 0;
}

struct vk_blockdev *vk_bd_alloc(const struct vk_blockdev_ops *ops,
                                const struct vk_format *fmt,
                                const char *name, size_t priv_size)
{
    struct vk_blockdev *bd = calloc(1, sizeof *bd + priv_size);
    if (!bd)
        return NULL;
    bd->name = strdup(name);
    if (!bd->name) {
        free(bd);
        return NULL;
    }
    bd->ops = ops;
    bd->format = fmt;
    bd->cluster_size = 512;
    if (priv_size)
        bd->priv = (char *)bd + sizeof *bd;
    return bd;
}

void vk_bd_free(struct vk_blockdev *bd)
{
    if (!bd)
        return;
    free(bd->name);
    free(bd);
}

static int range_ok(struct vk_blockdev *bd, uint64_t off, uint64_t len, const char *what)
{
    if (off > bd->size || len > bd->size - off)
        return vk_error(-EINVAL, "%s: %s of %llu bytes at offset %llu is beyond the end of the disk (%llu bytes)",
                        bd->name, what, (unsigned long long)len,
                        (unsigned long long)off, (unsigned long long)bd->size);
    return 0;
}

static int unsupported(struct vk_blockdev *bd, const char *what)
{
    return vk_error(-ENOTSUP, "%s: %s is not supported for this %s", bd->name, what,
                    bd->format ? bd->format->name : "device");
}

static int need_writable(struct vk_blockdev *bd)
{
    if (!(bd->flags & VK_OPEN_RDWR))
        return vk_error(-EROFS, "%s: opened read-only", bd->name);
    return 0;
}

int vk_bd_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    int r = range_ok(bd, off, len, "read");
    if (r < 0 || len == 0)
        return r;
    return bd->ops->pread(bd, buf, len, off);
}

int vk_bd_pwrite(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    int r = range_ok(bd, off, len, "write");
    if (r < 0 || len == 0)
        return r;
    if ((r = need_writable(bd)) < 0)
        return r;
    if (!bd->ops->pwrite)
        return unsupported(bd, "writing");
    return bd->ops->pwrite(bd, buf, len, off);
}

int vk_bd_pwrite_compressed(struct vk_blockdev *bd, const void *buf, size_t len, uint64_t off)
{
    int r = range_ok(bd, off, len, "write");
    if (r < 0)
        return r;
    if ((r = need_writable(bd)) < 0)
        return r;
    if (!bd->ops->pwrite_compressed)
        return unsupported(bd, "compression");
    return bd->ops->pwrite_compressed(bd, buf, len, off);
}

int vk_bd_flush(struct vk_blockdev *bd)
{
    if (!bd->ops->flush || !(bd->flags & VK_OPEN_RDWR))
        return 0;
    return bd->ops->flush(bd);
}

int vk_bd_write_zeroes(struct vk_blockdev *bd, uint64_t off, uint64_t len, int flags)
{
    int r = range_ok(bd, off, len, "write");
    if (r < 0 || len == 0)
        return r;
    if ((r = need_writable(bd)) < 0)
        return r;
    if (bd->ops->write_zeroes)
        return bd->ops->write_zeroes(bd, off, len, flags);
    /* Fallback: write zero buffers. */
    static const char zero[65536];
    while (len) {
        size_t n = len < sizeof zero ? (size_t)len : sizeof zero;
        if ((r = bd->ops->pwrite(bd, zero, n, off)) < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

int vk_bd_block_status(struct vk_blockdev *bd, uint64_t off, uint64_t len,
                       uint64_t *pnum, uint64_t *host_off)
{
    int r = range_ok(bd, off, len, "status query");
    if (r < 0)
        return r;
    if (len == 0)
        return vk_error(-EINVAL, "%s: empty status query", bd->name);
    if (!bd->ops->block_status) {
        *pnum = len;
        return VK_BS_DATA | VK_BS_ALLOCATED;
    }
    uint64_t dummy;
    return bd->ops->block_status(bd, off, len, pnum, host_off ? host_off : &dummy);
}

int vk_bd_truncate(struct vk_blockdev *bd, uint64_t size, bool allow_shrink)
{
    int r = need_writable(bd);
    if (r < 0)
        return r;
    if (!bd->ops->truncate)
        return unsupported(bd, "resizing");
    return bd->ops->truncate(bd, size, allow_shrink);
}

int vk_bd_info(struct vk_blockdev *bd, struct vk_imginfo *info)
{
    memset(info, 0, sizeof *info);
    info->format = bd->format ? bd->format->name : "slice";
    info->virtual_size = bd->size;
    if (!bd->ops->info)
        return 0;
    return bd->ops->info(bd, info);
}

int vk_bd_check(struct vk_blockdev *bd, struct vk_check_report *r, int repair)
{
    memset(r, 0, sizeof *r);
    if (!bd->ops->check)
        return 0;   /* nothing to check: raw has no metadata */
    if (repair && !(bd->flags & VK_OPEN_RDWR))
        return need_writable(bd);
    return bd->ops->check(bd, r, repair);
}

int vk_bd_set_backing(struct vk_blockdev *bd, const char *file, const char *fmt)
{
    int r = need_writable(bd);
    if (r < 0)
        return r;
    if (!bd->ops->set_backing)
        return unsupported(bd, "a backing file");
    return bd->ops->set_backing(bd, file, fmt);
}

int vk_bd_close(struct vk_blockdev *bd)
{
    if (!bd)
        return 0;
    struct vk_blockdev *backing = bd->backing;
    if (bd->wb) {
        vk_writeback_stop(bd->wb);
        close(bd->wb_fd);
    }
    int r = bd->ops->close(bd);
    int r2 = vk_bd_close(backing);
    return r < 0 ? r : r2;
}

char *vk_backing_path(const char *image_path, const char *backing)
{
    if (backing[0] == '/' || !strchr(image_path, '/'))
        return strdup(backing);
    const char *slash = strrchr(image_path, '/');
    size_t dirlen = (size_t)(slash - image_path) + 1;
    char *p = malloc(dirlen + strlen(backing) + 1);
    if (!p)
        return NULL;
    memcpy(p, image_path, dirlen);
    strcpy(p + dirlen, backing);
    return p;
}
