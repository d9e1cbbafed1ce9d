/* libFuzzer entry point: image format probing (block/blockdev.c with the
 * foreign-format table of block/foreign.c).
 *
 * The input is a whole file, stored as is in a memfd (its tail matters:
 * VHD footers and DMG trailers are at the end).  It is probed and opened
 * with the format left to probing, read-only without a backing chain; a
 * device that opens is read at its start and end.  Errors are expected;
 * only crashes, hangs and sanitizer reports are findings. */
#include "block/blockdev.h"
#include "util/err.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_FILE (4u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    uint8_t buf[4096];
    const struct vk_format *fmt;
    struct vk_blockdev *bd;

    if (size > MAX_FILE)
        size = MAX_FILE;
    int fd = memfd_create("fuzz-probe", 0);
    if (fd < 0)
        return 0;
    if (pwrite(fd, data, size, 0) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    (void)vk_format_probe(path, &fmt);
    if (vk_bd_open(path, NULL, VK_OPEN_NOLOCK | VK_OPEN_NOBACKING, &bd) == 0) {
        size_t n = bd->size < sizeof buf ? (size_t)bd->size : sizeof buf;
        (void)vk_bd_pread(bd, buf, n, 0);
        (void)vk_bd_pread(bd, buf, n, bd->size - n);
        vk_bd_close(bd);
    }
    vk_error_clear();
    close(fd);
    return 0;
}
