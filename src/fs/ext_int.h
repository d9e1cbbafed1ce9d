/* Private to the ext driver (ext.c, ext_io.c, ext_ops.c). */
#ifndef VK_FS_EXT_INT_H
#define VK_FS_EXT_INT_H

#include "fs/fs.h"

#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>

/* The io_manager that reads and writes through a vk_blockdev.  The device
 * is named by ext_io_name(): "vkbd:<pointer>", so libext2fs, which only
 * passes names around, reaches the device we opened: all per-filesystem
 * state hangs off the channel, and the manager itself is never written,
 * so filesystems open in different threads share nothing here. */
extern io_manager const vk_ext_io_manager;
void ext_io_name(struct vk_blockdev *bd, char *buf, size_t len);

/* Turn a libext2fs error code into a negative errno and record a message
 * "<dev>:<path>: <what>: <com_err text>".  Returns the errno. */
int ext_err(struct vk_fs *fs, errcode_t e, const char *path, const char *what);
int ext_errno(errcode_t e);

extern const struct vk_fs_ops vk_ext_ops;

/* Directory lookups are the cost of every path operation (libext2fs scans
 * and checksums each directory block): remember which inode each recently
 * resolved directory path names.  Cleared by anything that removes or
 * renames a name. */
#define EXT_DCACHE 4096
struct ext_dcache {
    char *path;
    ext2_ino_t ino;
    bool followed;      /* path may be a symlink; ino is where it leads */
};

struct ext_priv {
    ext2_filsys e;
    struct ext_dcache dc[EXT_DCACHE];
};

static inline ext2_filsys EXTFS(struct vk_fs *fs) { return ((struct ext_priv *)fs->priv)->e; }

#endif
