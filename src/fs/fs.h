/* Filesystems inside a block device, without mounting.
 *
 * Each filesystem is one driver (ext.c through libext2fs, fat.c our own,
 * swap.c) exporting a `struct vk_fs_type`: probe, mkfs, mount.  A mounted
 * filesystem is a `struct vk_fs` whose ops are path-based; paths are
 * absolute inside the filesystem ("/etc/fstab").  Generic code (the CLI,
 * populate, pygrub) uses only this interface and never asks which
 * filesystem it holds.
 *
 * Contract: int functions return 0 (or a count) or a negative errno with a
 * message recorded by vk_error() that names the device and the path.
 * Unsupported operations (symlinks on FAT) are NULL in the ops struct; the
 * vk_fs_* wrappers turn that into -ENOTSUP/-EPERM with a message.
 */
#ifndef VK_FS_FS_H
#define VK_FS_FS_H

#include "block/blockdev.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct vk_fs;
struct vk_file;

struct vk_stat {
    uint64_t ino;
    uint32_t mode;          /* S_IFREG|0644 etc., as in struct stat */
    uint32_t nlink;
    uint32_t uid, gid;
    uint64_t size;
    uint64_t blocks;        /* 512-byte units allocated */
    uint32_t rdev_major, rdev_minor;
    struct timespec atime, mtime, ctime, crtime;
};

struct vk_statfs {
    char type[16];          /* "ext2", "ext3", "ext4", "vfat", "swap" */
    char label[64];
    char uuid[40];          /* as blkid prints it */
    uint32_t block_size;
    uint64_t blocks, blocks_free, blocks_avail;
    uint64_t files, files_free;
};

/* A file named without a path, so a walk over a whole tree reaches each
 * object once and never looks a name up again (path lookups scan whole
 * directories: a tree walk by paths is quadratic in the directory size).
 * Filled by vk_fs_lookup_node() and by readdir; the driver finds the
 * object again from it alone.  Valid until the file or its directory is
 * removed or renamed; removing other entries leaves it valid. */
struct vk_node {
    uint64_t ino;           /* as vk_stat.ino */
    uint32_t type;          /* S_IFDIR, S_IFREG, ... (0 if unknown) */
    /* Two directory entries with equal ids are the same directory (ext:
     * the inode; FAT: the first cluster): how walks detect loops. */
    uint64_t id;
    uint64_t drv[4];        /* the driver's (FAT: the directory entry) */
};

struct vk_dirent {
    const char *name;       /* bytes, not necessarily UTF-8 */
    uint64_t ino;
    uint32_t type;          /* S_IFREG, S_IFDIR, ... (0 if unknown) */
    const struct vk_node *node;     /* the entry as a node */
};
/* Return 0 to continue, 1 to stop early (not an error), <0 to fail. */
typedef int (*vk_dirent_cb)(void *ctx, const struct vk_dirent *de);

/* open() flags */
enum {
    VK_O_RDONLY = 0,
    VK_O_WRONLY = 1 << 0,
    VK_O_CREAT  = 1 << 1,
    VK_O_TRUNC  = 1 << 2,
    VK_O_EXCL   = 1 << 3,
};

/* setattr() mask */
enum {
    VK_SET_MODE  = 1 << 0,  /* permission bits of st->mode */
    VK_SET_UID   = 1 << 1,
    VK_SET_GID   = 1 << 2,
    VK_SET_ATIME = 1 << 3,
    VK_SET_MTIME = 1 << 4,
    VK_SET_SIZE  = 1 << 5,  /* truncate/extend to st->size */
};

struct vk_fs_ops {
    int (*statfs)(struct vk_fs *fs, struct vk_statfs *out);
    /* follow: resolve a final symlink (stat) or not (lstat). */
    int (*stat)(struct vk_fs *fs, const char *path, struct vk_stat *st, bool follow);
    /* Calls cb for each entry except "." and "..". */
    int (*readdir)(struct vk_fs *fs, const char *path, vk_dirent_cb cb, void *ctx);
    /* Returns the target's length; copies at most len bytes, no NUL. */
    int (*readlink)(struct vk_fs *fs, const char *path, char *buf, size_t len);
    int (*open)(struct vk_fs *fs, const char *path, int flags, uint32_t mode,
                struct vk_file **out);
    /* Bytes read (0 at end of file) or negative errno. */
    int64_t (*read)(struct vk_file *f, void *buf, size_t len, uint64_t off);
    /* Writes all len bytes or fails; returns len. -ENOSPC leaves the
     * filesystem consistent. */
    int64_t (*write)(struct vk_file *f, const void *buf, size_t len, uint64_t off);
    int (*close_file)(struct vk_file *f);
    /* Set an open file's size without writing data (a sparse tail), so it
     * is part of what close publishes.  NULL: use setattr after close. */
    int (*set_size)(struct vk_file *f, uint64_t size);
    int (*mkdir)(struct vk_fs *fs, const char *path, uint32_t mode);
    int (*unlink)(struct vk_fs *fs, const char *path);     /* not directories */
    int (*rmdir)(struct vk_fs *fs, const char *path);      /* empty dirs */
    int (*rename)(struct vk_fs *fs, const char *from, const char *to);
    int (*symlink)(struct vk_fs *fs, const char *target, const char *linkpath);
    int (*link)(struct vk_fs *fs, const char *existing, const char *newpath);
    int (*mknod)(struct vk_fs *fs, const char *path, uint32_t mode,
                 uint32_t major, uint32_t minor);
    int (*setattr)(struct vk_fs *fs, const char *path, int mask, const struct vk_stat *st);
    int (*setxattr)(struct vk_fs *fs, const char *path, const char *name,
                    const void *value, size_t size);
    /* Write everything out so the image is consistent. */
    int (*sync)(struct vk_fs *fs);
    /* By node (see struct vk_node); path is for messages only.  lookup
     * resolves path to a node (follow: through a final symlink); the
     * others are readdir, lstat, readlink and a read-only open. */
    int (*lookup_node)(struct vk_fs *fs, const char *path, bool follow, struct vk_node *out);
    int (*readdir_node)(struct vk_fs *fs, const struct vk_node *dir, const char *path,
                        vk_dirent_cb cb, void *ctx);
    int (*stat_node)(struct vk_fs *fs, const struct vk_node *n, const char *path,
                     struct vk_stat *st);
    int (*readlink_node)(struct vk_fs *fs, const struct vk_node *n, const char *path,
                         char *buf, size_t len);
    int (*open_node)(struct vk_fs *fs, const struct vk_node *n, const char *path,
                     struct vk_file **out);
    const char *node_id_name;       /* what vk_node.id counts: "inode", "cluster" */
    /* sync, then free. */
    int (*unmount)(struct vk_fs *fs);
    /* A driver option, set after mounting ("codepage" "850" on FAT).
     * NULL: the driver has none. */
    int (*set_option)(struct vk_fs *fs, const char *name, const char *value);
};

struct vk_fs {
    const struct vk_fs_ops *ops;
    const struct vk_fs_type *type;
    struct vk_blockdev *bd;  /* not owned */
    bool writable;
    void *priv;
};

struct vk_file {
    struct vk_fs *fs;
    void *priv;
};

/* What probe found (blkid + df). */
struct vk_fsprobe {
    char type[16];
    char label[64];
    char uuid[40];
    uint64_t size;          /* bytes the filesystem spans */
    uint64_t used;          /* bytes in use, when known */
    bool used_known;
};

struct vk_mkfs_opts {
    const char *type;       /* "ext2" "ext3" "ext4" "vfat" "swap" */
    const char *label;      /* NULL: none */
    const char *uuid;       /* NULL: random */
    uint32_t block_size;    /* 0: default */
    uint64_t inodes;        /* 0: default */
    double reserved_pct;    /* < 0: default */
    int fat_bits;           /* 0: choose as mkfs.fat does; 12, 16, 32 */
    uint32_t cluster_size;  /* FAT bytes per cluster, 0: default */
};

/* One byte range [off, off+len) a filesystem uses (vk_fs_type.used):
 * handed out in ascending order, not overlapping.  0 goes on, <0 stops. */
typedef int (*vk_used_cb)(void *ctx, uint64_t off, uint64_t len);

struct vk_fs_type {
    const char *name;                 /* "ext", "vfat", "swap" */
    const char *const *mkfs_names;    /* -t names it makes, NULL-terminated */
    /* 0 not this filesystem, >0 confidence; fills out. */
    int (*probe)(struct vk_blockdev *bd, struct vk_fsprobe *out);
    int (*mkfs)(struct vk_blockdev *bd, const struct vk_mkfs_opts *o);
    /* writable needs bd opened VK_OPEN_RDWR. */
    int (*mount)(struct vk_blockdev *bd, bool writable, struct vk_fs **out);
    /* Grow or shrink the (unmounted) filesystem to size bytes, <= bd->size
     * (0: all of bd); *output (free it) gets what a tool printed.  NULL:
     * not supported.  Called through vk_fs_resize (fs/fsck.h). */
    int (*resize)(struct vk_blockdev *bd, uint64_t size, char **output);
    /* Hand cb every range of bd the filesystem needs kept (metadata and
     * allocated data; what a block-level backup must store), and set
     * *span to the bytes it spans (what lies beyond is not its own).
     * NULL: unknown, every byte may matter.  Through vk_fs_used. */
    int (*used)(struct vk_blockdev *bd, vk_used_cb cb, void *ctx, uint64_t *span);
};

extern const struct vk_fs_type vk_fs_ext, vk_fs_fat, vk_fs_swap, vk_fs_iso;
/* Probed only (type names as blkid's): LUKS headers (luks.c) and
 * hibernation images over a swap area (swap.c); never mounted. */
extern const struct vk_fs_type vk_fs_luks, vk_fs_swsuspend;

/* Identify the filesystem on bd. -ENOENT (with message) if none. */
int vk_fs_probe(struct vk_blockdev *bd, struct vk_fsprobe *out,
                const struct vk_fs_type **type);
int vk_fs_mkfs(struct vk_blockdev *bd, const struct vk_mkfs_opts *o);
int vk_fs_mount(struct vk_blockdev *bd, bool writable, struct vk_fs **out);
/* The used ranges of type's filesystem on bd (see vk_fs_type.used):
 * -ENOTSUP with a message when the type cannot tell. */
int vk_fs_used(struct vk_blockdev *bd, const struct vk_fs_type *type, vk_used_cb cb, void *ctx,
               uint64_t *span);

/* Wrappers: NULL ops become clear errors; writes on a read-only mount are
 * refused with -EROFS. */
int vk_fs_statfs(struct vk_fs *fs, struct vk_statfs *out);
int vk_fs_stat(struct vk_fs *fs, const char *path, struct vk_stat *st, bool follow);
int vk_fs_readdir(struct vk_fs *fs, const char *path, vk_dirent_cb cb, void *ctx);
int vk_fs_readlink(struct vk_fs *fs, const char *path, char *buf, size_t len);
int vk_fs_open(struct vk_fs *fs, const char *path, int flags, uint32_t mode, struct vk_file **out);
int64_t vk_fs_read(struct vk_file *f, void *buf, size_t len, uint64_t off);
int64_t vk_fs_write(struct vk_file *f, const void *buf, size_t len, uint64_t off);
int vk_fs_close_file(struct vk_file *f);
int vk_fs_mkdir(struct vk_fs *fs, const char *path, uint32_t mode);
int vk_fs_unlink(struct vk_fs *fs, const char *path);
int vk_fs_rmdir(struct vk_fs *fs, const char *path);
int vk_fs_rename(struct vk_fs *fs, const char *from, const char *to);
int vk_fs_symlink(struct vk_fs *fs, const char *target, const char *linkpath);
int vk_fs_link(struct vk_fs *fs, const char *existing, const char *newpath);
int vk_fs_mknod(struct vk_fs *fs, const char *path, uint32_t mode, uint32_t major, uint32_t minor);
int vk_fs_setattr(struct vk_fs *fs, const char *path, int mask, const struct vk_stat *st);
int vk_fs_setxattr(struct vk_fs *fs, const char *path, const char *name, const void *value, size_t size);
int vk_fs_sync(struct vk_fs *fs);
int vk_fs_unmount(struct vk_fs *fs);
/* A read-only block device over the regular file at path in fs (GRUB's
 * `loopback`: an ISO image inside a partition), named name in messages.
 * fs must stay mounted until the device is closed, which closes the file.
 * 0, or a negative errno after vk_error() (missing, not a regular file). */
int vk_fs_file_bd_open(struct vk_fs *fs, const char *path, const char *name,
                       struct vk_blockdev **out);
/* Set a driver option (-EINVAL naming the filesystem type when the
 * driver has no such option). */
int vk_fs_set_option(struct vk_fs *fs, const char *name, const char *value);

/* The same by node: path names the object in messages only and may be
 * longer than any path the path-based calls accept. */
int vk_fs_lookup_node(struct vk_fs *fs, const char *path, bool follow, struct vk_node *out);
int vk_fs_readdir_node(struct vk_fs *fs, const struct vk_node *dir, const char *path,
                       vk_dirent_cb cb, void *ctx);
int vk_fs_stat_node(struct vk_fs *fs, const struct vk_node *n, const char *path, struct vk_stat *st);
int vk_fs_readlink_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                        char *buf, size_t len);
/* Read-only. */
int vk_fs_open_node(struct vk_fs *fs, const struct vk_node *n, const char *path,
                    struct vk_file **out);

/* The names in a directory. */
struct vk_names {
    char **v;
    size_t n, cap;
};

/* The entries of directory path (as readdir gives them: no "." or "..")
 * sorted by strcmp.  0 (free *out with vk_names_free) or a negative errno
 * (*out is left empty). */
int vk_fs_list(struct vk_fs *fs, const char *path, struct vk_names *out);
void vk_names_free(struct vk_names *n);

/* Read a whole file into a malloc'd buffer, refusing files larger than
 * max_size (-EFBIG).  *len gets the size; the buffer is NUL-terminated. */
int vk_fs_read_all(struct vk_fs *fs, const char *path, size_t max_size,
                   char **data, size_t *len);

/* Make directory path and any missing parents (mode for the new ones);
 * existing directories are fine, an existing non-directory is -ENOTDIR. */
int vk_fs_mkdir_p(struct vk_fs *fs, const char *path, uint32_t mode);

/* Create or replace the regular file path with len bytes of data (mode
 * for a new file).  0 or a negative errno. */
int vk_fs_write_file(struct vk_fs *fs, const char *path, const void *data, size_t len,
                     uint32_t mode);

#endif
