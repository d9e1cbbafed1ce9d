#include "util/str.h"

#include "util/err.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

char *vk_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Digits up to end (or the string's end when end is NULL). */
static int parse_id_n(const char *s, const char *end, const char *what, const char *all,
                      uint32_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (!end)
        end = s + strlen(s);
    if (p == end)
        return vk_error(-EINVAL, "%s: empty %s", all, what);
    for (; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return vk_error(-EINVAL, "%s: %s must be a decimal number", all, what);
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > VK_ID_MAX)
            return vk_error(-ERANGE, "%s: %s out of range (0-%u)", all, what, VK_ID_MAX);
    }
    *out = (uint32_t)v;
    return 0;
}

int vk_parse_id(const char *s, const char *what, uint32_t *out)
{
    return parse_id_n(s, NULL, what, s, out);
}

int vk_parse_owner(const char *s, uint32_t *uid, uint32_t *gid)
{
    const char *colon = strchr(s, ':');
    if (!colon)
        return vk_error(-EINVAL, "owner '%s' must be UID:GID", s);
    int r = parse_id_n(s, colon, "uid", s, uid);
    if (r == 0)
        r = parse_id_n(colon + 1, NULL, "gid", s, gid);
    return r < 0 ? vk_error_prefix(r, "owner ") : 0;
}

int vk_pathf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < len)
        return 0;
    if (len)
        buf[len - 1] = 0;
    return vk_error(-ENAMETOOLONG, "%.60s...: path too long (%d bytes, at most %zu)",
                    len ? buf : "", n, len ? len - 1 : 0);
}

void vk_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = 0;
}

static int lower_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool vk_hex_decode(const char *s, uint8_t *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int h = lower_hex_digit(s[2 * i]), l = lower_hex_digit(s[2 * i + 1]);
        if (h < 0 || l < 0)
            return false;
        out[i] = (uint8_t)(h << 4 | l);
    }
    return true;
}
