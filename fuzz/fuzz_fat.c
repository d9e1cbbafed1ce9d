/* libFuzzer entry point: FAT images.  Probe, mount read-only, walk the
 * directory tree (bounded depth and entry count), stat and read every
 * file (fuzz_walk.h), the same through vk_fs_walk (by node, loops
 * refused); also run the swap probe, and resize a writable copy. */
#include "block/blockdev.h"
#include "fuzz_mem.h"
#include "fuzz_walk.h"
#include "fs/fs.h"
#include "fs/walk.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct wctx {
    struct vk_fs *fs;
    int budget;
};

static int on_visit(void *ctx, const struct vk_walk_visit *v)
{
    struct wctx *c = ctx;
    if (--c->budget < 0)
        return -ECANCELED;
    if (v->ev != VK_WALK_FILE || !S_ISREG(v->e->st.mode))
        return 0;
    struct vk_file *f;
    if (vk_fs_open_node(c->fs, &v->e->node, v->path, &f) < 0)
        return 0;
    char buf[4096];
    vk_fs_read(f, buf, sizeof buf, 0);
    vk_fs_close_file(f);
    return 0;
}

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
            struct wctx c = { fs, 2000 };
            vk_fs_walk(fs, "/", VK_WALK_STAT, on_visit, &c);
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
