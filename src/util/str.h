/* Small string helpers shared by the text parsers (sfdisk scripts, boot
 * configurations). */
#ifndef VK_UTIL_STR_H
#define VK_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Strip leading and trailing white space from s in place: returns the
 * first non-blank character, the string ending after the last one. */
char *vk_trim(char *s);

/* snprintf into a path buffer that must hold the whole result: a path cut
 * short names another file.  Returns 0, or -ENAMETOOLONG after vk_error()
 * naming the start of the path and the limit. */
int vk_pathf(char *buf, size_t len, const char *fmt, ...) VK_PRINTF(3, 4);

/* The largest user or group id: 2^32-1 is (uid_t)-1, "no change" to
 * chown(2), and no file can be owned by it. */
#define VK_ID_MAX 4294967294u

/* Parse a decimal user or group id (0..VK_ID_MAX) into *out.  Returns 0,
 * or -EINVAL (not a number) / -ERANGE (too large) after vk_error() naming
 * s and what ("uid", "gid"). */
int vk_parse_id(const char *s, const char *what, uint32_t *out);

/* Parse "UID:GID" (both numeric, each as vk_parse_id) into *uid, *gid.
 * Returns 0 or -EINVAL / -ERANGE after vk_error() naming s. */
int vk_parse_owner(const char *s, uint32_t *uid, uint32_t *gid);

/* The n bytes at in as 2n lowercase hex digits and a NUL into out. */
void vk_hex_encode(const uint8_t *in, size_t n, char *out);
/* Exactly 2n lowercase hex digits (the one spelling vmkit writes) into
 * the n bytes at out; false for anything else (s may be NULL). */
bool vk_hex_decode(const char *s, uint8_t *out, size_t n);

#endif
