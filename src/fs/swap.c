/* Placeholder: the swap driver lands with issue 4. Recognises nothing. */
#include "fs/fs.h"

static const char *const names[] = { "swap", NULL };

const struct vk_fs_type vk_fs_swap = {
    .name = "swap",
    .mkfs_names = names,
};
