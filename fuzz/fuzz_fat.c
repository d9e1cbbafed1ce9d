/* libFuzzer entry point: FAT images.  Probe, mount read-only, walk the
 * directory tree (bounded depth and entry count), stat and read every
 * file (fuzz_walk.h); also run the swap probe, and resize a writable copy. */
#include "block/blockdev.h"
#include "fuzz_mem.h"
#include "fuzz_walk.h"
#include "fs/fs.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_blockdev *bd = fuzz_open_mem(data, size, 4u << 20, "raw", 0);
    if (!bd)
        return 0;
    struct vk_fsprobe p;
    memset(&p, 0, sizeof p);
    if (vk_fs_fat.probe(bd, &p) > 0) {
        struct vk_fs *fs;
        if (vk_fs_fat.mount(bd, false, &fs) == 0) {
            fuzz_walk_fs(fs, 2000);
            vk_fs_unmount(fs);
        }
    }
    memset(&p, 0, sizeof p);
    vk_fs_swap.probe(bd, &p);
    vk_bd_close(bd);
    vk_error_clear();
    /* Resizing reads the BPB and the FAT past the last cluster: shrink to
     * half the device, then grow back to all of it. */
    if ((bd = fuzz_open_mem(data, size, 4u << 20, "raw", VK_OPEN_RDWR))) {
        char *out = NULL;
        vk_fs_fat.resize(bd, bd->size / 2, &out);
        vk_fs_fat.resize(bd, 0, &out);
        vk_bd_close(bd);
        vk_error_clear();
    }
    return 0;
}
