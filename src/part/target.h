/* Naming a disk, a partition of it, and a path inside its filesystem:
 *
 *   disk.qcow2              the whole disk
 *   disk.qcow2:2            partition 2
 *   disk.qcow2:2:/etc/fstab a path inside partition 2's filesystem
 *   root.img:/etc           a path inside a disk that holds a filesystem
 *                           directly (no partition table)
 *
 * If a file whose name is the whole spec (or a longer prefix) exists, the
 * file wins: "a:1" names the file "a:1" if there is one. */
#ifndef VK_PART_TARGET_H
#define VK_PART_TARGET_H

#include "block/blockdev.h"

struct vk_target {
    char *file;      /* image file path */
    unsigned part;   /* partition number, 0 for the whole disk */
    char *path;      /* path inside the filesystem; NULL when not given */
};

/* Split spec into t (all strings malloc'd; free with vk_target_free).
 * A path is accepted only when allow_path.  Fails with -ENOENT when no
 * prefix of spec names an existing file, -EINVAL for a malformed rest. */
int vk_target_parse(const char *spec, bool allow_path, struct vk_target *t);
void vk_target_free(struct vk_target *t);

/* Open the image t->file (format fmt, NULL to probe; VK_OPEN_* flags) and,
 * when t->part is set, return partition t->part of it as a slice that owns
 * the disk.  The device's name is "file" or "file:N" for messages. */
int vk_target_open(const struct vk_target *t, const char *fmt, int flags,
                   struct vk_blockdev **out);

/* Both steps at once, for callers that accept no path. */
int vk_open_disk_spec(const char *spec, const char *fmt, int flags,
                      struct vk_blockdev **out);

/* Byte offset and length of partition n (1-based, Linux numbering: 1-4
 * primary, 5+ logical) of disk, whatever its label.  -ENOENT with a
 * message when the disk has no partition table or no partition n. */
int vk_part_locate(struct vk_blockdev *disk, unsigned n, uint64_t *offset, uint64_t *length);

#endif
