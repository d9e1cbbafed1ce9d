/* libFuzzer entry point: filesystem probing (vk_fs_probe over every type:
 * ext, FAT, swap) on a memory-backed disk, as `fs probe` and every mount
 * run it on a disk a guest controls.  The first byte picks the disk
 * size (the input padded with zeroes), since probes look at the end and
 * at page-size offsets; the rest is the disk. */
#include "block/blockdev.h"
#include "fuzz_mem.h"
#include "fs/fs.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t min[] = { 1024, 4096, 65536, 1u << 20 };
    struct vk_blockdev *bd = fuzz_open_mem_min(data + 1, size - 1, min[data[0] % 4], 4u << 20,
                                               "raw", 0);
    if (!bd)
        return 0;
    struct vk_fsprobe p;
    const struct vk_fs_type *t = NULL;
    memset(&p, 0, sizeof p);
    if (vk_fs_probe(bd, &p, &t) == 0) {
        /* what blkid-style output relies on: terminated, sane strings */
        if (!t || !memchr(p.type, 0, sizeof p.type) || !memchr(p.label, 0, sizeof p.label) ||
            !memchr(p.uuid, 0, sizeof p.uuid) || !p.type[0])
            abort();
    }
    vk_bd_close(bd);
    vk_error_clear();
    return 0;
}
