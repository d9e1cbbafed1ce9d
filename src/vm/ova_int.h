/* Shared by ova_out.c and ova_in.c. */
#ifndef VK_VM_OVA_INT_H
#define VK_VM_OVA_INT_H

#include <stdbool.h>
#include <stdint.h>

/* Convert image src (format sfmt, NULL = probe) into a new image dst of
 * format dfmt (subformat for VMDK, or NULL), as `img convert` does:
 * built under a temporary name and published only when complete.  size 0
 * = the source's size.  scratch: dst is a temporary file that is read
 * once and removed (export-ova's disks before they go into the archive),
 * so it is not synced.  0 or negative errno. */
int ova_convert(const char *src, const char *sfmt, const char *dst, const char *dfmt,
                const char *subformat, uint64_t size, bool scratch);

/* Remove the flat temporary directory dir and every file in it. */
void ova_rmdir(const char *dir);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void ova_hex(const unsigned char *b, unsigned n, char *out);

#endif
