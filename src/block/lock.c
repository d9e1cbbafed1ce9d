/* Image locking compatible with QEMU's file-posix driver.
 *
 * QEMU takes open-file-description read locks on single bytes of the image:
 * byte 100+i while it holds permission i, byte 200+i while it refuses to
 * share permission i with others (i: 0 consistent-read, 1 write,
 * 2 write-unchanged, 3 resize).  A VM with a writable disk holds 101 and
 * 201.  We speak the same protocol, so a running QEMU and vmkit each see
 * the other: vmkit refuses to write an image QEMU is writing, and QEMU
 * refuses to start on an image vmkit is writing. */
#include "block/blockdev.h"

#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

enum { PERM_BASE = 100, SHARED_BASE = 200, PERM_READ = 0, PERM_WRITE = 1, PERM_RESIZE = 3 };

/* 1 if another open file description holds a lock on byte, 0 if not,
 * negative errno if the query failed. */
static int byte_locked(int fd, off_t byte)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
        return -errno;
    return fl.l_type != F_UNLCK;
}

static int lock_byte(int fd, off_t byte)
{
    struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1 };
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
        return -errno;
    return 0;
}

int vk_lock_image(int fd, const char *name, bool writable)
{
    int r;

    if ((r = byte_locked(fd, PERM_BASE + PERM_READ)) < 0) {
        /* Filesystems without OFD locks (some network ones): like QEMU,
         * go on without locking rather than fail. */
        if (r == -EINVAL || r == -ENOLCK || r == -EOPNOTSUPP)
            return 0;
        return vk_error(r, "%s: querying locks: %s", name, strerror(-r));
    }
    if (writable) {
        /* Someone (a running QEMU) is writing the image, or refuses to
         * let anyone else write it. */
        if (byte_locked(fd, PERM_BASE + PERM_WRITE) == 1 ||
            byte_locked(fd, SHARED_BASE + PERM_WRITE) == 1)
            return vk_error(-EBUSY, "%s: image is in use by another process (a running VM?): "
                            "cannot write it", name);
        if ((r = lock_byte(fd, PERM_BASE + PERM_READ)) < 0 ||
            (r = lock_byte(fd, PERM_BASE + PERM_WRITE)) < 0 ||
            (r = lock_byte(fd, PERM_BASE + PERM_RESIZE)) < 0 ||
            (r = lock_byte(fd, SHARED_BASE + PERM_WRITE)) < 0 ||
            (r = lock_byte(fd, SHARED_BASE + PERM_RESIZE)) < 0)
            return vk_error(-EBUSY, "%s: cannot lock image: %s", name, strerror(-r));
        return 0;
    }
    /* Readers take the consistent-read permission only and share
     * everything, like `qemu-img -U`: reading a disk in use is allowed. */
    lock_byte(fd, PERM_BASE + PERM_READ);
    return 0;
}
