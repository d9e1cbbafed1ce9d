/* libFuzzer entry point: ISO 9660 images.  Probe (volume descriptors,
 * blkid's label), read the El Torito catalog, mount read-only (libarchive
 * walks the tree into the index), then walk it through the fs layer with
 * fuzz_walk.h (the libarchive path is taken by reading backwards, which
 * reopens the archive), and the virtual /[BOOT] directory. */
#include "block/blockdev.h"
#include "fuzz_mem.h"
#include "fuzz_walk.h"
#include "fs/fs.h"
#include "fs/iso9660.h"
#include "util/err.h"

#include <string.h>

/* libarchive trusts a directory's recorded size far enough to ask for a
 * read-ahead buffer of that size (up to 6 GiB on a crafted record whose
 * extent check wraps around 32 bits).  Without sanitizers that is address
 * space never touched, and the read then fails; under ASan such an
 * allocation is slow and libFuzzer calls it out of memory.  Let it fail
 * instead, as it may on a host without overcommit: libarchive reports
 * "No memory" and the mount fails cleanly. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "max_allocation_size_mb=1024:allocator_may_return_null=1";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_blockdev *bd = fuzz_open_mem(data, size, 4u << 20, "raw", 0);
    if (!bd)
        return 0;
    struct vk_fsprobe p;
    struct vk_iso_boot b;
    memset(&p, 0, sizeof p);
    if (vk_fs_iso.probe(bd, &p) > 0) {
        vk_iso_boot_read(bd, &b);
        struct vk_fs *fs;
        if (vk_fs_iso.mount(bd, false, &fs) == 0) {
            fuzz_walk_fs(fs, 2000);
            struct fuzz_walk w = { .fs = fs, .path = "/[BOOT]", .budget = 100 };
            fuzz_visit(&w);                 /* not in the root's listing */
            vk_fs_unmount(fs);
        }
    }
    vk_bd_close(bd);
    vk_error_clear();
    return 0;
}
