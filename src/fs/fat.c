/* Placeholder: the fat driver lands with issue 4. Recognises nothing. */
#include "fs/fs.h"

static const char *const names[] = { "vfat", NULL };

const struct vk_fs_type vk_fs_fat = {
    .name = "fat",
    .mkfs_names = names,
};
