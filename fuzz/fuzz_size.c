/* libFuzzer entry point: the size parser (util/size.c), the human size
 * formatter and the uid/gid parsers (util/str.c).  Checks: a parsed size
 * is below 2^63, a plain number parses to itself, a size with a unit
 * and no fraction is the number shifted; formatting any value never
 * gives an exponent or overflows its buffer; ids are at most VK_ID_MAX. */
#include "util/err.h"
#include "util/size.h"
#include "util/str.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = 0;
    uint64_t v;
    if (vk_parse_size(s, &v) == 0) {
        if (v > (uint64_t)INT64_MAX)
            abort();
        /* digits only, or digits and one unit letter: exact integers */
        size_t nd = strspn(s, "0123456789");
        if (nd && nd <= 18) {
            uint64_t n = strtoull(s, NULL, 10);
            const char *u = strchr("BKMGTPE", toupper((unsigned char)s[nd]));
            if (s[nd] == 0 && v != n)
                abort();
            if (s[nd] && u && s[nd + 1] == 0 && v != n << (10 * (u - "BKMGTPE")))
                abort();
        }
    }
    char buf[32];
    uint64_t raw = 0;
    memcpy(&raw, data, size < 8 ? size : 8);
    vk_human_size(raw, buf, sizeof buf);
    if (strchr(buf, 'e') || strchr(buf, '+') || strlen(buf) > 10)
        abort();
    uint32_t uid, gid;
    if (vk_parse_id(s, "uid", &uid) == 0 && uid > VK_ID_MAX)
        abort();
    if (vk_parse_owner(s, &uid, &gid) == 0 && (uid > VK_ID_MAX || gid > VK_ID_MAX))
        abort();
    free(s);
    vk_error_clear();
    return 0;
}
