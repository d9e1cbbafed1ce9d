/* Read-only ext2/3/4 access for pygrub while fs/ext.c cannot mount (see
 * ext_ro.c).  Supports stat, open, read; nothing else. */
#ifndef VK_BOOT_EXT_RO_H
#define VK_BOOT_EXT_RO_H

#include "fs/fs.h"

/* Mount bd's ext filesystem read-only.  -EINVAL with a message if bd holds
 * none.  Free with vk_fs_unmount(). */
int vk_boot_ext_ro_mount(struct vk_blockdev *bd, struct vk_fs **out);

#endif
