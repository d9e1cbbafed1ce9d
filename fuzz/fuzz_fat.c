/* libFuzzer entry point: FAT images.  Probe, mount read-only, walk the
 * directory tree (bounded depth and entry count), stat and read every
 * file; the same through vk_fs_walk (by node, loops refused); also run the
 * swap probe. */
#include "block/blockdev.h"
#include "fuzz_mem.h"
#include "fs/fs.h"
#include "fs/walk.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    size_t l = strlen(w->path);
    if (l + strlen(de->name) + 2 > sizeof w->path)
        return 0;
    size_t at = l;
    if (l > 1)
        w->path[at++] = '/';
    memcpy(w->path + at, de->name, strlen(de->name) + 1);
    visit(w);
    w->path[l] = 0;
    return 0;
}

static void visit(struct walk *w)
{
    struct vk_stat st;
    if (vk_fs_stat(w->fs, w->path, &st, true) < 0)
        return;
    if (S_ISDIR(st.mode)) {
        if (w->depth >= 6)
            return;
        w->depth++;
        vk_fs_readdir(w->fs, w->path, on_entry, w);
        w->depth--;
        return;
    }
    struct vk_file *f;
    if (vk_fs_open(w->fs, w->path, VK_O_RDONLY, 0, &f) < 0)
        return;
    char buf[4096];
    for (uint64_t off = 0; off < (1u << 20); off += sizeof buf)
        if (vk_fs_read(f, buf, sizeof buf, off) <= 0)
            break;
    vk_fs_read(f, buf, 10, 3);     /* backwards: the chain cache restarts */
    vk_fs_close_file(f);
}

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
            struct walk w = { .fs = fs, .path = "/", .budget = 2000 };
            struct vk_statfs sf;
            vk_fs_statfs(fs, &sf);
            visit(&w);
            struct wctx c = { fs, 2000 };
            vk_fs_walk(fs, "/", VK_WALK_STAT, on_visit, &c);
            vk_fs_unmount(fs);
        }
    }
    memset(&p, 0, sizeof p);
    vk_fs_swap.probe(bd, &p);
    vk_bd_close(bd);
    vk_error_clear();
    return 0;
}
