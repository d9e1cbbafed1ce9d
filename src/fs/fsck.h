/* Checking, repairing and resizing a filesystem with the real tools
 * (e2fsck, resize2fs, fsck.fat), on any device: a whole raw image, a
 * partition of one, a qcow2 disk or partition.  vmkit has no checker of
 * its own.
 *
 * The tools read files, so the filesystem's bytes are copied out to a
 * sparse temporary file (holes and all-zero ranges skipped), the tool runs
 * on that, and what it changed is written back: only the blocks that
 * differ, then the device is flushed.  The temporary file has the size of
 * the device, so "grow to fill the partition" is the tool's default. */
#ifndef VK_FS_FSCK_H
#define VK_FS_FSCK_H

#include "block/blockdev.h"

#include <stdbool.h>

/* What a check found. */
enum {
    VK_FSCK_CLEAN = 0,      /* no errors */
    VK_FSCK_FIXED = 1,      /* errors found and repaired (repair only) */
    VK_FSCK_ERRORS = 2,     /* errors found (and, repairing, left) */
};

/* Check the filesystem on bd with its real checker (e2fsck -fn, fsck.fat
 * -n); with repair (bd opened VK_OPEN_RDWR) let it fix what it can (-fy,
 * -a -w), write the fixes back and check again.  Returns a VK_FSCK_* value
 * or a negative errno (no filesystem, no checker for it, the tool could
 * not run).  *output (may be NULL on failure; free it) gets what the
 * tool printed. */
int vk_fs_check(struct vk_blockdev *bd, bool repair, char **output);

/* Grow or shrink the filesystem on bd to size bytes (0: the size of bd)
 * through its driver's resize op; -ENOTSUP when it has none. */
int vk_fs_resize(struct vk_blockdev *bd, uint64_t size, char **output);

/* The mechanism, for drivers' resize ops. */
struct vk_fs_copy {
    struct vk_blockdev *bd;
    int fd;
    char path[4096];
};

/* Copy bd to a new sparse temporary file (c->path, open as c->fd). */
int vk_fs_copy_out(struct vk_blockdev *bd, struct vk_fs_copy *c);
/* Write back the blocks of the copy that differ from bd; flush bd. */
int vk_fs_copy_in(struct vk_fs_copy *c);
/* Replace the temporary file's name by the device's in a tool's output. */
void vk_fs_copy_rename(const struct vk_fs_copy *c, char **output);
/* Close and remove the temporary file. */
void vk_fs_copy_free(struct vk_fs_copy *c);


#endif
