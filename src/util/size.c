#include "util/size.h"

#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* floor(0.<digits> * 2^shift) exactly: the first shift bits of the binary
 * expansion of a decimal fraction, by doubling the digit string. */
static uint64_t frac_bits(const char *digits, size_t n, int shift)
{
    unsigned char d[VK_SIZE_FRAC_DIGITS];
    uint64_t bits = 0;
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)(digits[i] - '0');
    for (int b = 0; b < shift; b++) {
        unsigned carry = 0;
        for (size_t i = n; i-- > 0;) {
            unsigned x = d[i] * 2u + carry;
            d[i] = (unsigned char)(x % 10);
            carry = x / 10;
        }
        bits = bits << 1 | carry;
    }
    return bits;
}

int vk_parse_size(const char *s, uint64_t *out)
{
    const char *p = s, *frac = NULL;
    uint64_t whole = 0;
    size_t nfrac = 0;
    int shift = 0;

    if (!isdigit((unsigned char)*p))
        return vk_error(-EINVAL, "%s: not a size (expected e.g. 4G, 3950M, 1440K)", s);
    for (; isdigit((unsigned char)*p); p++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return vk_error(-ERANGE, "%s: size too large (at most 2^63-1 bytes)", s);
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        frac = ++p;
        while (isdigit((unsigned char)*p))
            p++;
        nfrac = (size_t)(p - frac);
        if (nfrac > VK_SIZE_FRAC_DIGITS)
            return vk_error(-EINVAL, "%s: more than %d digits after the decimal point", s,
                            VK_SIZE_FRAC_DIGITS);
    }
    switch (toupper((unsigned char)*p)) {
    case 0: break;
    case 'B': shift = 0; p++; break;
    case 'K': shift = 10; p++; break;
    case 'M': shift = 20; p++; break;
    case 'G': shift = 30; p++; break;
    case 'T': shift = 40; p++; break;
    case 'P': shift = 50; p++; break;
    case 'E': shift = 60; p++; break;
    default:
        return vk_error(-EINVAL, "%s: unknown size suffix '%c'", s, *p);
    }
    if (shift && (!strcasecmp(p, "iB") || !strcasecmp(p, "B")))
        p += strlen(p);
    if (*p)
        return vk_error(-EINVAL, "%s: trailing characters in size", s);
    /* as qemu-img: a fraction needs a unit above bytes ("1.5" is refused) */
    if (frac && !shift)
        return vk_error(-EINVAL, "%s: a fraction needs a unit (K, M, G, T, P, E)", s);
    if (whole > (UINT64_MAX >> 1) >> shift)
        return vk_error(-ERANGE, "%s: size too large (at most 2^63-1 bytes)", s);
    /* The fraction is exact; the part below one byte is dropped, as
     * qemu-img does (1.0005K is 1024 bytes). */
    uint64_t v = (whole << shift) + (frac ? frac_bits(frac, nfrac, shift) : 0);
    if (v > (UINT64_MAX >> 1))
        return vk_error(-ERANGE, "%s: size too large (at most 2^63-1 bytes)", s);
    *out = v;
    return 0;
}

const char *vk_human_size(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    int u = 0;
    double v = (double)n;

    /* Bytes stay exact below 1024; above, move up a unit before %.3g
     * would round to 1000 and switch to an exponent ("1.01e+03 KiB"):
     * 1000 KiB prints as "0.977 MiB", as qemu-img prints it. */
    while (u < 6 && (u == 0 ? v >= 1024 : v >= 999.5)) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, len, "%.3g %s", v, units[u]);
    return buf;
}
