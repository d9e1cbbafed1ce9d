#include "util/size.h"

#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

int vk_parse_size(const char *s, uint64_t *out)
{
    const char *p = s;
    uint64_t whole = 0, frac_num = 0, frac_den = 1;
    int shift = 0;

    if (!isdigit((unsigned char)*p))
        return vk_error(-EINVAL, "%s: not a size (expected e.g. 4G, 3950M, 1440K)", s);
    for (; isdigit((unsigned char)*p); p++) {
        if (whole > (UINT64_MAX - 9) / 10)
            return vk_error(-ERANGE, "%s: size too large", s);
        whole = whole * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.') {
        for (p++; isdigit((unsigned char)*p); p++) {
            if (frac_den < 1000000000ULL) {
                frac_num = frac_num * 10 + (uint64_t)(*p - '0');
                frac_den *= 10;
            }
        }
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
    if (shift && whole > (UINT64_MAX >> 1) >> shift)
        return vk_error(-ERANGE, "%s: size too large", s);
    uint64_t v = (whole << shift) + ((frac_num << shift) / frac_den);
    if (v > (UINT64_MAX >> 1))
        return vk_error(-ERANGE, "%s: size too large", s);
    *out = v;
    return 0;
}

const char *vk_human_size(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    int u = 0;
    double v = (double)n;

    while (v >= 1024 && u < 6) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, len, "%.3g %s", v, units[u]);
    return buf;
}
