#include "util/utf16.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

size_t vk_utf8_decode(const char *s, uint32_t *out)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t c;
    int k;
    if (!*p) return 0;
    if (*p < 0x80) { c = *p; k = 0; }
    else if ((*p & 0xe0) == 0xc0) { c = *p & 0x1f; k = 1; }
    else if ((*p & 0xf0) == 0xe0) { c = *p & 0x0f; k = 2; }
    else if ((*p & 0xf8) == 0xf0) { c = *p & 0x07; k = 3; }
    else return 0;
    for (int i = 1; i <= k; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    static const uint32_t min_for_len[4] = { 0, 0x80, 0x800, 0x10000 };
    if (c < min_for_len[k] || (c >= 0xd800 && c < 0xe000) || c > 0x10ffff)
        return 0;
    *out = c;
    return (size_t)k + 1;
}

int vk_utf8_to_utf16(const char *s, uint16_t *out, int max)
{
    const char *p = s;
    int n = 0;

    while (*p) {
        uint32_t c;
        size_t k = vk_utf8_decode(p, &c);
        if (!k)
            return -EINVAL;
        p += k;
        if (c >= 0x10000) {
            if (n + 2 > max)
                return -ENAMETOOLONG;
            c -= 0x10000;
            out[n++] = (uint16_t)(0xd800 + (c >> 10));
            out[n++] = (uint16_t)(0xdc00 + (c & 0x3ff));
        } else {
            if (n + 1 > max)
                return -ENAMETOOLONG;
            out[n++] = (uint16_t)c;
        }
    }
    return n;
}

size_t vk_utf8_put(char *b, uint32_t c)
{
    if (c < 0x80) { b[0] = (char)c; return 1; }
    if (c < 0x800) {
        b[0] = (char)(0xc0 | c >> 6); b[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        b[0] = (char)(0xe0 | c >> 12); b[1] = (char)(0x80 | (c >> 6 & 0x3f));
        b[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    b[0] = (char)(0xf0 | c >> 18); b[1] = (char)(0x80 | (c >> 12 & 0x3f));
    b[2] = (char)(0x80 | (c >> 6 & 0x3f)); b[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

static void from_utf16(const uint16_t *u, size_t n, char *out, size_t outlen, bool keep)
{
    size_t o = 0;

    if (!outlen)
        return;
    /* Room for the worst case (3 bytes a unit): no bound checks needed. */
    bool roomy = n < (outlen - 1) / 3;
    for (size_t i = 0; i < n && u[i]; i++) {
        uint32_t c = u[i];
        if (c < 0x80 && roomy) {   /* the common case, ASCII */
            out[o++] = (char)c;
            continue;
        }
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && u[i + 1] >= 0xdc00 && u[i + 1] < 0xe000) {
            c = 0x10000 + ((c - 0xd800) << 10) + (u[i + 1] - 0xdc00u);
            i++;
        } else if (c >= 0xd800 && c < 0xe000 && !keep) {
            c = 0xfffd;
        }
        if (roomy) {
            o += vk_utf8_put(out + o, c);
            continue;
        }
        char b[4];
        size_t k = vk_utf8_put(b, c);
        if (o + k >= outlen)
            break;
        memcpy(out + o, b, k);
        o += k;
    }
    out[o] = 0;
}

void vk_utf16_to_utf8(const uint16_t *u, size_t n, char *out, size_t outlen)
{
    from_utf16(u, n, out, outlen, false);
}

void vk_utf16_to_name(const uint16_t *u, size_t n, char *out, size_t outlen)
{
    from_utf16(u, n, out, outlen, true);
}
