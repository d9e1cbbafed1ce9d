/* Shared by the filesystem fuzz entry points: walk a mounted filesystem
 * from "/" with bounded depth and entry count, stat every entry, read
 * every file (up to 1 MiB, then once backwards), readlink every symlink.
 * Errors are expected outcomes; only crashes and sanitizer reports
 * matter. */
#ifndef VK_FUZZ_WALK_H
#define VK_FUZZ_WALK_H

#include "fs/fs.h"

#include <string.h>
#include <sys/stat.h>

struct fuzz_walk {
    struct vk_fs *fs;
    char path[1024];
    int depth, budget;
};

static inline void fuzz_visit(struct fuzz_walk *w);

static inline int fuzz_on_entry(void *ctx, const struct vk_dirent *de)
{
    struct fuzz_walk *w = ctx;
    if (--w->budget < 0)
        return 1;
    size_t l = strlen(w->path), n = strlen(de->name);
    if (l + n + 2 > sizeof w->path)
        return 0;
    size_t at = l;
    if (l > 1)
        w->path[at++] = '/';
    memcpy(w->path + at, de->name, n + 1);
    fuzz_visit(w);
    w->path[l] = 0;
    return 0;
}

static inline void fuzz_visit(struct fuzz_walk *w)
{
    struct vk_stat st;
    if (vk_fs_stat(w->fs, w->path, &st, false) < 0)
        return;
    if (S_ISLNK(st.mode)) {
        char target[4096];
        vk_fs_readlink(w->fs, w->path, target, sizeof target);
        vk_fs_readlink(w->fs, w->path, target, 3);   /* a short buffer */
        if (vk_fs_stat(w->fs, w->path, &st, true) < 0 || S_ISDIR(st.mode))
            return;
    }
    if (S_ISDIR(st.mode)) {
        if (w->depth >= 6)
            return;
        w->depth++;
        vk_fs_readdir(w->fs, w->path, fuzz_on_entry, w);
        w->depth--;
        return;
    }
    if (!S_ISREG(st.mode))
        return;
    struct vk_file *f;
    if (vk_fs_open(w->fs, w->path, VK_O_RDONLY, 0, &f) < 0)
        return;
    char buf[4096];
    for (uint64_t off = 0; off < (1u << 20); off += sizeof buf)
        if (vk_fs_read(f, buf, sizeof buf, off) <= 0)
            break;
    vk_fs_read(f, buf, 10, 3);     /* backwards: caches restart */
    vk_fs_read(f, buf, 10, st.size > 5 ? st.size - 5 : 0);   /* across the end */
    vk_fs_close_file(f);
}

/* Walk fs from "/" reading at most budget entries. */
static inline void fuzz_walk_fs(struct vk_fs *fs, int budget)
{
    struct fuzz_walk w = { .fs = fs, .path = "/", .budget = budget };
    struct vk_statfs sf;
    vk_fs_statfs(fs, &sf);
    fuzz_visit(&w);
}

#endif
