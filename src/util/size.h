/* Sizes as users write them: "4G", "3950M", "1440K", "4141875200", "512B".
 * Suffixes are binary (K = 1024), case-insensitive, as qemu-img and dd. */
#ifndef VK_UTIL_SIZE_H
#define VK_UTIL_SIZE_H

#include <stddef.h>
#include <stdint.h>

#define VK_SIZE_FRAC_DIGITS 40

/* Parse s into *out.  Accepts an unsigned decimal number, optionally with
 * a fraction of at most VK_SIZE_FRAC_DIGITS digits when a unit follows
 * ("1.5G"), followed by one of B K M G T P E (optionally "iB").  The
 * fraction is computed exactly and the part below a byte dropped, as
 * qemu-img does.  Returns 0, or -EINVAL (malformed) / -ERANGE (2^63 or
 * more) with a message naming s. */
int vk_parse_size(const char *s, uint64_t *out);

/* Format n as a short human size ("3.86 GiB", "512 B") into buf. */
const char *vk_human_size(uint64_t n, char *buf, size_t len);

/* Round n up to a multiple of align (a power of two or any non-zero). */
static inline uint64_t vk_round_up(uint64_t n, uint64_t align)
{
    return (n + align - 1) / align * align;
}

#endif
