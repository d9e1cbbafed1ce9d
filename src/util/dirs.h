/* Directories. */
#ifndef VK_UTIL_DIRS_H
#define VK_UTIL_DIRS_H

#include <sys/types.h>

/* mkdir -p: create path and its missing parents with mode (existing ones
 * are left as they are); the last component must end up a directory.
 * 0, or a negative errno naming the component that failed. */
int vk_mkdirs(const char *path, mode_t mode);

#endif
