/* Small string helpers shared by the text parsers (sfdisk scripts, boot
 * configurations). */
#ifndef VK_UTIL_STR_H
#define VK_UTIL_STR_H

/* Strip leading and trailing white space from s in place: returns the
 * first non-blank character, the string ending after the last one. */
char *vk_trim(char *s);

#endif
