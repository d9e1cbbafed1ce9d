/* Paths inside a filesystem image, shared by the fs drivers and the CLI. */
#ifndef VK_FS_PATH_H
#define VK_FS_PATH_H

#include <stddef.h>

/* Longest name of one component every driver accepts (ext: 255 bytes). */
#define VK_NAME_MAX 255

/* Normalize path into out (size outlen): absolute, no "//", no ".", ".."
 * removed lexically and clamped at the root ("/../etc" is "/etc").  An
 * empty or relative path is taken from the root.  Returns the length, or
 * -ENAMETOOLONG if a component exceeds VK_NAME_MAX or out is too small,
 * with a message naming the path. */
int vk_path_normalize(const char *path, char *out, size_t outlen);

/* Split a normalized path into its parent (malloc'd-free: written to
 * parent, size len) and final name (pointer into path).  "/" has no name:
 * *name is "".  Returns 0 or -ENAMETOOLONG. */
int vk_path_split(const char *path, char *parent, size_t len, const char **name);

/* True if name is safe as one component on the host: not empty, not "."
 * or "..", no '/' and no NUL. */
int vk_path_name_safe(const char *name);

/* A path short enough for a message: path itself, or its first and last
 * VK_ABBREV_KEEP bytes joined by "..." in buf (VK_ABBREV_LEN bytes), so a
 * message about an entry 10,000 directories deep still says what went
 * wrong instead of being cut off inside the path. */
#define VK_ABBREV_KEEP 100
#define VK_ABBREV_LEN (2 * VK_ABBREV_KEEP + 4)
const char *vk_path_abbrev(const char *path, char *buf);

#endif
