/* The public API (include/vmkit/vmkit.h): files inside filesystems;
 * the only symbols libvmkit.so exports (mk/libvmkit.map).  Everything else
 * in the library is compiled with hidden visibility. */
#include "vmkit/vmkit.h"

#include "block/blockdev.h"
#include "fs/fs.h"
#include "fs/path.h"
#include "part/target.h"
#include "util/err.h"

#include <errno.h>
#include <limits.h>

/* spec "IMAGE[:N]:PATH" opened and its filesystem mounted; *path gets
 * the normalized path inside it. */
static int fs_open(const char *spec, bool rw, struct vk_blockdev **bd, struct vk_fs **fs,
                   char path[PATH_MAX])
{
    struct vk_target t;
    int r = vk_target_parse(spec, true, &t);
    if (r < 0)
        return r;
    if (!t.path)
        r = vk_error(-EINVAL, "%s: no path inside the image (IMAGE[:N]:/PATH)", spec);
    else if ((r = vk_path_normalize(t.path, path, PATH_MAX)) >= 0)
        r = vk_target_open(&t, NULL, rw ? VK_OPEN_RDWR : 0, bd);
    vk_target_free(&t);
    if (r < 0)
        return r;
    if ((r = vk_fs_mount(*bd, rw, fs)) < 0)
        vk_bd_close(*bd);
    return r;
}

/* Unmount and close; r, or the first error of doing so. */
static int fs_close(struct vk_blockdev *bd, struct vk_fs *fs, int r)
{
    int u = vk_fs_unmount(fs);
    int c = vk_bd_close(bd);
    return r < 0 ? r : u < 0 ? u : c;
}

int vmkit_file_read(const char *spec, size_t max_size, char **data, size_t *len)
{
    struct vk_blockdev *bd;
    struct vk_fs *fs;
    char path[PATH_MAX];
    *data = NULL;
    *len = 0;
    int r = fs_open(spec, false, &bd, &fs, path);
    if (r < 0)
        return r;
    return fs_close(bd, fs, vk_fs_read_all(fs, path, max_size, data, len));
}

int vmkit_file_write(const char *spec, const void *data, size_t len, unsigned mode)
{
    struct vk_blockdev *bd;
    struct vk_fs *fs;
    struct vk_file *f;
    char path[PATH_MAX];
    int r = fs_open(spec, true, &bd, &fs, path);
    if (r < 0)
        return r;
    r = vk_fs_open(fs, path, VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC, mode & 07777, &f);
    if (r >= 0) {
        int64_t w = len ? vk_fs_write(f, data, len, 0) : 0;
        int c = vk_fs_close_file(f);
        r = w < 0 ? (int)w : c;
    }
    return fs_close(bd, fs, r);
}
