/* Filling a filesystem from the host: a directory tree or a tar archive
 * (plain or compressed), and writing a tree out as a tar.  Generic over
 * fs/fs.h (ext, FAT).  Uses libarchive for reading both directories
 * (archive_read_disk) and archives, so sparse files, hard links, device
 * nodes, FIFOs, symlinks, owners, modes, timestamps and extended
 * attributes travel the same way from either source. */
#ifndef VK_FS_POPULATE_H
#define VK_FS_POPULATE_H

#include "fs/fs.h"

struct vk_populate_opts {
    bool force_owner;       /* give everything uid:gid below */
    uint32_t uid, gid;
    /* dst is an empty, freshly made filesystem: a directory source cannot
     * collide with anything, so existing names are not looked for. */
    bool fresh;
};

/* Copy the host directory or tar archive src into directory dst of fs
 * (dst must exist).  Existing files are replaced.  Returns 0 or a negative
 * errno with a message naming the host path. */
int vk_populate(struct vk_fs *fs, const char *dst, const char *src,
                const struct vk_populate_opts *o);

/* Same from a tar stream on fd (name for messages). */
int vk_populate_tar_fd(struct vk_fs *fs, const char *dst, int fd, const char *name,
                       const struct vk_populate_opts *o);

/* Write the tree at path in fs as a POSIX (pax) tar to fd. */
int vk_export_tar_fd(struct vk_fs *fs, const char *path, int fd, const char *name);

#endif
