/* libFuzzer entry point: ISO 9660 images.  Probe (volume descriptors,
 * blkid's label), read the El Torito catalog, mount read-only (libarchive
 * walks the tree into the index), then walk it through the fs layer
 * (bounded depth and entry count): stat, readlink and read every file,
 * forwards and once backwards (which reopens the archive). */
#include "block/blockdev.h"
#include "fuzz_mem.h"
#include "fs/fs.h"
#include "fs/iso9660.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

struct walk {
    struct vk_fs *fs;
    char path[1024];
    int depth, budget;
};

static void visit(struct walk *w);

static int on_entry(void *ctx, const struct vk_dirent *de)
{
    struct walk *w = ctx;
    if (--w->budget < 0)
        return 1;
    size_t l = strlen(w->path), n = strlen(de->name);
    if (l + n + 2 > sizeof w->path)
        return 0;
    size_t at = l;
    if (l > 1)
        w->path[at++] = '/';
    memcpy(w->path + at, de->name, n + 1);
    visit(w);
    w->path[l] = 0;
    return 0;
}

static void visit(struct walk *w)
{
    struct vk_stat st;
    char buf[4096];
    if (vk_fs_stat(w->fs, w->path, &st, false) < 0)
        return;
    if (S_ISLNK(st.mode)) {
        vk_fs_readlink(w->fs, w->path, buf, sizeof buf);
        vk_fs_stat(w->fs, w->path, &st, true);  /* follow: loops must end */
        return;
    }
    if (S_ISDIR(st.mode)) {
        if (w->depth >= 8)
            return;
        w->depth++;
        vk_fs_readdir(w->fs, w->path, on_entry, w);
        w->depth--;
        return;
    }
    struct vk_file *f;
    if (vk_fs_open(w->fs, w->path, VK_O_RDONLY, 0, &f) < 0)
        return;
    for (uint64_t off = 0; off < (1u << 20); off += sizeof buf)
        if (vk_fs_read(f, buf, sizeof buf, off) <= 0)
            break;
    vk_fs_read(f, buf, 10, 3);
    vk_fs_close_file(f);
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
            struct walk w = { .fs = fs, .path = "/", .budget = 2000 };
            struct vk_statfs sf;
            vk_fs_statfs(fs, &sf);
            visit(&w);
            snprintf(w.path, sizeof w.path, "/[BOOT]");
            visit(&w);
            vk_fs_unmount(fs);
        }
    }
    vk_bd_close(bd);
    vk_error_clear();
    return 0;
}
