/* libFuzzer entry point: ext2/3/4 images read through libext2fs on
 * vmkit's io manager (fs/ext_io.c).  Probe, mount read-only, walk the
 * tree (bounded depth and entry count), stat and read every file,
 * readlink every symlink (fuzz_walk.h).  The input is the start of a
 * 4 MiB disk (the rest zeroes), so seeds leave out the zero tail. */
#include "block/blockdev.h"
#include "fuzz_mem.h"
#include "fuzz_walk.h"
#include "fs/fs.h"
#include "util/err.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_blockdev *bd = fuzz_open_mem_min(data, size, 4u << 20, 4u << 20, "raw", 0);
    if (!bd)
        return 0;
    struct vk_fsprobe p;
    memset(&p, 0, sizeof p);
    if (vk_fs_ext.probe(bd, &p) > 0) {
        struct vk_fs *fs;
        if (vk_fs_ext.mount(bd, false, &fs) == 0) {
            fuzz_walk_fs(fs, 2000);
            vk_fs_unmount(fs);
        }
    }
    vk_bd_close(bd);
    vk_error_clear();
    return 0;
}
