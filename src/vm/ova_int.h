/* Shared by ova_out.c and ova_in.c. */
#ifndef VK_VM_OVA_INT_H
#define VK_VM_OVA_INT_H

#include <stdint.h>

/* Convert image src (format sfmt, NULL = probe) into a new image dst of
 * format dfmt (subformat for VMDK, or NULL), as `img convert` does:
 * built under a temporary name and published only when complete.  size 0
 * = the source's size.  0 or negative errno. */
int ova_convert(const char *src, const char *sfmt, const char *dst, const char *dfmt,
                const char *subformat, uint64_t size);

/* Remove the flat temporary directory dir and every file in it. */
void ova_rmdir(const char *dir);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void ova_hex(const unsigned char *b, unsigned n, char *out);

#endif
