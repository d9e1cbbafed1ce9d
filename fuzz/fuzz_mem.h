/* Shared by the fuzz entry points: the fuzzer's bytes as a disk.
 *
 * fuzz_open_mem() copies data into a memory-backed file (memfd) padded
 * with zeroes to whole sectors, at least 1 KiB and at most max_len bytes
 * (fuzz_open_mem_min: at least min_len, a multiple of 512, so seeds can
 * leave out a filesystem's zero tail),
 * and opens it through the block layer as format fmt ("raw", "qcow2"),
 * without locking.  Returns the device or NULL (an error is an expected
 * outcome for most inputs; only crashes and sanitizer reports matter). */
#ifndef VK_FUZZ_MEM_H
#define VK_FUZZ_MEM_H

#include "block/blockdev.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static inline struct vk_blockdev *fuzz_open_mem_min(const uint8_t *data, size_t size, size_t min_len,
                                             size_t max_len, const char *fmt, int flags)
{
    char path[64];
    struct vk_blockdev *bd = NULL;
    size_t len = size < min_len ? min_len : (size + 511) / 512 * 512;
    if (len > max_len)
        len = max_len;
    int fd = memfd_create("fuzz-disk", 0);
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)len) < 0 || pwrite(fd, data, size < len ? size : len, 0) < 0) {
        close(fd);
        return NULL;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (vk_bd_open(path, fmt, flags | VK_OPEN_NOLOCK, &bd) < 0)
        bd = NULL;
    close(fd);
    return bd;
}

static inline struct vk_blockdev *fuzz_open_mem(const uint8_t *data, size_t size, size_t max_len,
                                         const char *fmt, int flags)
{
    return fuzz_open_mem_min(data, size, 1024, max_len, fmt, flags);
}

#endif
