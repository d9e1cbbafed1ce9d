/* UTF-8 <-> UTF-16 for on-disk names (GPT partition names, FAT long names).
 * Both formats store UTF-16 code units; vmkit speaks UTF-8. */
#ifndef VK_UTIL_UTF16_H
#define VK_UTIL_UTF16_H

#include <stddef.h>
#include <stdint.h>

/* Encode the NUL-terminated UTF-8 string s as UTF-16 code units in
 * out[0..max).  Returns the number of units, -EINVAL when s is not valid
 * UTF-8, -ENAMETOOLONG when it needs more than max units.  Records no
 * message: callers know which name was wrong. */
int vk_utf8_to_utf16(const char *s, uint16_t *out, int max);

/* Decode the UTF-8 character at s into *c: its length (1-4), or 0 when
 * the bytes there are not valid UTF-8 (overlong, surrogate, past
 * U+10FFFF, cut short) or s is at its NUL. */
size_t vk_utf8_decode(const char *s, uint32_t *c);

/* Encode code point c as UTF-8 into b (room for 4 bytes); returns the
 * length, 1-4. */
size_t vk_utf8_put(char *b, uint32_t c);

/* Decode n UTF-16 units (stopping early at a 0 unit) into out as UTF-8,
 * NUL-terminated.  Unpaired surrogates become U+FFFD.  out has room for
 * outlen bytes; a name that does not fit is cut at a character boundary.
 * n * 3 + 1 bytes always suffice. */
void vk_utf16_to_utf8(const uint16_t *u, size_t n, char *out, size_t outlen);

/* The same for names that must stay distinct (file names): an unpaired
 * surrogate is encoded as its own three bytes (as WTF-8 does), so the
 * result is not valid UTF-8 but two names never decode alike. */
void vk_utf16_to_name(const uint16_t *u, size_t n, char *out, size_t outlen);

#endif
