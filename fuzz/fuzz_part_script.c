/* libFuzzer entry point: sfdisk scripts as `vmkit part load` reads them,
 * against an empty 64 MiB disk (nothing is written). */
#include "block/blockdev.h"
#include "part/part.h"
#include "util/err.h"

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct vk_blockdev *bd;
    char path[64];

    if (!bd) {
        int fd = memfd_create("fuzz-script-disk", 0);
        if (fd < 0 || ftruncate(fd, 64 << 20) < 0)
            return 0;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        if (vk_bd_open(path, "raw", VK_OPEN_NOLOCK, &bd) < 0)
            bd = NULL;
        close(fd);
        if (!bd)
            return 0;
    }
    FILE *in = fmemopen((void *)data, size ? size : 1, "r");
    if (!in)
        return 0;
    struct vk_ptable t;
    if (size && vk_ptable_load(bd, in, "fuzz", &t) == 0) {
        FILE *null = fopen("/dev/null", "w");
        if (null) {
            vk_ptable_dump(&t, "fuzz", null);
            fclose(null);
        }
        vk_ptable_free(&t);
    }
    fclose(in);
    vk_error_clear();
    return 0;
}
