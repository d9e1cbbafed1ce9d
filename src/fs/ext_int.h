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

/* Crash ordering.  Every write path builds what is new where nothing
 * points at it yet (new blocks, an inode that is not in use: links 0 and
 * a deletion time, so e2fsck and the kernel ignore it), then publishes it
 * with "commit" writes: the inode switch of a replaced file, a directory
 * entry, a live inode.  Commit writes are held by the io manager until
 * the next barrier, which writes everything else (data, extent blocks,
 * bitmaps, group descriptors), syncs the device, then writes the held
 * blocks and syncs again.  Blocks that stop being referenced are freed
 * only after that barrier (ext_defer), so nothing committed can be
 * overwritten by a later allocation while its old owner is on disk.
 * A crash can leave leaked blocks and inodes, never a file pointing at
 * blocks that do not hold its data. */
void ext_io_commit(io_channel io, bool on);   /* on: writes are held */
size_t ext_io_held(io_channel io);            /* held blocks waiting */

/* Turn a libext2fs error code into a negative errno and record a message
 * "<dev>:<path>: <what>: <com_err text>".  Returns the errno. */
int ext_err(struct vk_fs *fs, errcode_t e, const char *path, const char *what);
int ext_errno(errcode_t e);

extern const struct vk_fs_ops vk_ext_ops;

/* vk_fs_type.used (ext_used.c): the blocks the bitmaps mark in use. */
int ext_used(struct vk_blockdev *bd, vk_used_cb cb, void *ctx, uint64_t *span);

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

/* Work that must wait for the next barrier: releasing an inode that lost
 * its last directory entry, or the blocks a replaced file held. */
struct ext_deferred {
    ext2_ino_t ino;
    bool isdir;         /* drop a directory (rmdir) */
    bool shadow;        /* an unused inode holding blocks to free */
};

struct ext_priv {
    ext2_filsys e;
    struct ext_deferred *dq;
    size_t ndq, capdq;
    struct ext_dcache dc[EXT_DCACHE];
};

/* ext_commit.c (see the crash ordering above).  int functions return 0
 * or a negative errno with a message naming the device and np. */
/* Commit mode on the filesystem's io channel. */
void ext_commit(struct vk_fs *fs, bool on);
/* Write the allocation state, then everything but the held blocks, sync,
 * then the held blocks, sync; then run the deferred work. */
int ext_barrier(struct vk_fs *fs);
/* ext_barrier when enough has been held or deferred to bound memory. */
int ext_maybe_barrier(struct vk_fs *fs);
/* Queue ino for after the next barrier: shadow, free a shadow inode and
 * its blocks; else drop one link of ino (a directory: all), freeing it
 * when none remain. */
int ext_defer(struct vk_fs *fs, ext2_ino_t ino, bool isdir, bool shadow);
/* Drop a link of ino now (the entry naming it must already be gone). */
int ext_drop_inode(struct vk_fs *fs, ext2_ino_t ino, const char *np, bool isdir);
/* Allocate and write a new inode of mode (not a directory) near dir:
 * live (1 link) or a shadow (not in use, see ext_commit.c).  The caller
 * links a live one. */
int ext_new_inode(struct vk_fs *fs, ext2_ino_t dir, uint32_t mode, bool shadow, const char *np,
                  ext2_ino_t *out, struct ext2_inode_large *in);
/* Free a shadow inode that was never published (a failed write). */
int ext_shadow_free(struct vk_fs *fs, ext2_ino_t shadow);
/* Publish shadow's content as target's (one held inode write); the old
 * blocks are freed after the next barrier. */
int ext_shadow_switch(struct vk_fs *fs, ext2_ino_t target, ext2_ino_t shadow, const char *np);

/* Store ts in an inode time field pair (extra: the _extra field exists). */
void ext_ts_set(uint32_t *lo, uint32_t *extra, bool has_extra, const struct timespec *ts);

static inline ext2_filsys EXTFS(struct vk_fs *fs) { return ((struct ext_priv *)fs->priv)->e; }

#endif
