/* Whole small host files (keys, seeds, modules, configs) read into memory. */
#ifndef VK_UTIL_FILE_H
#define VK_UTIL_FILE_H

#include <stddef.h>

/* Read the regular file path, at most max bytes, into *data (malloc'd,
 * NUL-terminated; *len bytes before the NUL).  Returns 0, or a negative
 * errno with a message naming path: missing or unreadable, not a regular
 * file or larger than max (-EINVAL), a short read (-EIO). */
int vk_read_small_file(const char *path, size_t max, char **data, size_t *len);

#endif
