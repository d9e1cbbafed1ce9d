/* Whole-file helpers over fs/fs.h: make a directory path, write a file
 * from memory.  Shared by the CLI (fs mkdir -p) and library code that
 * fills a filesystem (boot/grub_install.c). */
#include "fs/fs.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* Contract in fs/fs.h. */
int vk_fs_mkdir_p(struct vk_fs *fs, const char *path, uint32_t mode)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return vk_error(-ENAMETOOLONG, "%s:%s: path too long", fs->bd->name, path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char save = *p;
        *p = 0;
        struct vk_stat st;
        if (vk_fs_stat(fs, buf, &st, true) < 0) {
            int r = vk_fs_mkdir(fs, buf, mode);
            if (r < 0)
                return r;
        } else if (!S_ISDIR(st.mode)) {
            return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, buf);
        }
        if (!save)
            break;
        *p = save;
    }
    vk_error_clear();
    return 0;
}

/* Contract in fs/fs.h. */
int vk_fs_write_file(struct vk_fs *fs, const char *path, const void *data, size_t len,
                     uint32_t mode)
{
    struct vk_file *f;
    int r = vk_fs_open(fs, path, VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC, mode, &f);
    if (r < 0)
        return r;
    int64_t n = len ? vk_fs_write(f, data, len, 0) : 0;
    r = vk_fs_close_file(f);
    return n < 0 ? (int)n : r;
}
