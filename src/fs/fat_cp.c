/* The DOS code page of FAT 8.3 names.  Bytes 0x80-0xff of a short name
 * are characters of an OEM code page, not Latin-1: Linux reads them as
 * code page 437 unless mounted with codepage=N, and so does vmkit unless
 * told otherwise (fs --codepage N).  The table comes from the C library's
 * iconv ("CP437", "CP850", ...), built the first time a name needs it. */
#include "fs/fat_int.h"

#include "util/err.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <string.h>

/* Build v->cp_uni for code page cp; -EINVAL when iconv does not know it. */
static int build(struct fat_vol *v, int cp, const char *devname)
{
    char name[16];
    snprintf(name, sizeof name, "CP%d", cp);
    iconv_t ic = iconv_open("UTF-32LE", name);
    if (ic == (iconv_t)-1)
        return vk_error(-EINVAL, "%s: DOS code page %d is not known to iconv", devname, cp);
    for (unsigned b = 0x80; b <= 0xff; b++) {
        char in = (char)b;
        uint8_t out[8];
        char *ip = &in, *op = (char *)out;
        size_t il = 1, ol = sizeof out;
        iconv(ic, NULL, NULL, NULL, NULL);
        if (iconv(ic, &ip, &il, &op, &ol) == (size_t)-1 || ol != sizeof out - 4)
            v->cp_uni[b - 0x80] = 0;    /* unassigned in this code page */
        else
            v->cp_uni[b - 0x80] = (uint32_t)out[0] | (uint32_t)out[1] << 8 | (uint32_t)out[2] << 16 |
                                  (uint32_t)out[3] << 24;
    }
    iconv_close(ic);
    v->codepage = cp;
    v->cp_ready = true;
    return 0;
}

/* Use code page cp for v's short names from now on. */
int fat_cp_set(struct fat_vol *v, int cp, const char *devname)
{
    if (cp < 1 || cp > 9999)
        return vk_error(-EINVAL, "%s: bad DOS code page %d", devname, cp);
    return build(v, cp, devname);
}

static void ready(struct fat_vol *v)
{
    if (!v->cp_ready && build(v, 437, "FAT") < 0) {
        /* No iconv module: bytes >= 0x80 show as U+FFFD and never match. */
        vk_error_clear();
        memset(v->cp_uni, 0, sizeof v->cp_uni);
        v->cp_ready = true;
    }
}

/* The character of short-name byte b. */
uint32_t fat_cp_decode(struct fat_vol *v, uint8_t b)
{
    if (b < 0x80)
        return b;
    ready(v);
    return v->cp_uni[b - 0x80] ? v->cp_uni[b - 0x80] : 0xfffd;
}

/* Upper case of the letters the DOS code pages hold (Latin-1, Latin
 * Extended-A, Greek); the C library's towupper would need a locale. */
static uint32_t upper(uint32_t c)
{
    if ((c >= 0xe0 && c <= 0xfe && c != 0xf7) || (c >= 0x3b1 && c <= 0x3c9 && c != 0x3c2))
        return c - 0x20;
    if (c == 0xff)
        return 0x178;
    if (c >= 0x100 && c <= 0x17e && c != 0x130 && c != 0x131 && c != 0x138 && c != 0x149 &&
        !((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e)))
        return c & ~1u;
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17e))
        return c & 1 ? c : c - 1;
    return c;
}

/* The short-name byte for character c (upper-cased when the code page has
 * the capital), or -1 when the code page lacks it. */
int fat_cp_encode(struct fat_vol *v, uint32_t c)
{
    if (c < 0x80)
        return c >= 'a' && c <= 'z' ? (int)c - 32 : (int)c;
    ready(v);
    uint32_t u = upper(c);
    int lower = -1;
    for (int i = 0; i < 128; i++) {
        if (v->cp_uni[i] == u)
            return 0x80 + i;
        if (v->cp_uni[i] == c)
            lower = 0x80 + i;
    }
    return lower;
}
