/* Whole small host files (keys, seeds, modules, configs) read into memory. */
#ifndef VK_UTIL_FILE_H
#define VK_UTIL_FILE_H

#include <stddef.h>

/* Read the regular file path, at most max bytes, into *data (malloc'd,
 * NUL-terminated; *len bytes before the NUL).  Returns 0, or a negative
 * errno with a message naming path: missing or unreadable, not a regular
 * file or larger than max (-EINVAL), a short read (-EIO). */
int vk_read_small_file(const char *path, size_t max, char **data, size_t *len);

/* fsync directory dir (what makes a rename or a new name in it durable).
 * 0 or a negative errno naming dir; EINVAL (a filesystem that cannot
 * sync directories) counts as done. */
int vk_fsync_dir(const char *dir);

/* fsync the directory that holds path (what makes path's name durable).
 * 0 or a negative errno naming the directory. */
int vk_fsync_parent(const char *path);

/* Write len bytes of data as the file path, atomically: into a temporary
 * file beside it (created 0600, so a key is never readable by others even
 * for a moment; then set to mode), fsync'd, then rename()d over path when
 * replace, else link()ed to it, which fails -EEXIST without touching an
 * existing path (a concurrent writer cannot be overwritten).  The
 * directory is fsync'd after.  0 or a negative errno naming path. */
int vk_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode,
                         int replace);

#endif
