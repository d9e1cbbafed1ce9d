/* libFuzzer entry point: path normalization and splitting (fs/path.c).
 * Checks the invariants every fs driver relies on: the result is absolute,
 * has no "." or ".." component, no "//", no component over VK_NAME_MAX,
 * normalizing twice changes nothing, and splitting gives back the path. */
#include "fs/path.h"
#include "util/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = 0;
    size_t outlen = 1 + (size ? data[0] : 0) * 64;   /* also small buffers */
    char *out = malloc(outlen), *again = malloc(outlen);
    int r = vk_path_normalize(in, out, outlen);
    if (r >= 0) {
        if (out[0] != '/' || strlen(out) != (size_t)r)
            abort();
        if (strstr(out, "//") || strstr(out, "/./") || strstr(out, "/../"))
            abort();
        size_t l = strlen(out);
        if ((l >= 2 && !strcmp(out + l - 2, "/.")) || (l >= 3 && !strcmp(out + l - 3, "/..")))
            abort();
        if (l > 1 && out[l - 1] == '/')
            abort();
        for (const char *c = out + 1; *c;) {
            size_t n = strcspn(c, "/");
            if (n > VK_NAME_MAX)
                abort();
            c += n + (c[n] == '/');
        }
        if (vk_path_normalize(out, again, outlen) != r || strcmp(out, again))
            abort();
        char parent[4096];
        const char *name;
        if (l < sizeof parent && vk_path_split(out, parent, sizeof parent, &name) == 0) {
            if (strcmp(out, "/") && (!vk_path_name_safe(name) || strchr(name, '/')))
                abort();
            char joined[8192];
            snprintf(joined, sizeof joined, "%s%s%s", parent, strcmp(parent, "/") ? "/" : "", name);
            if (strcmp(out, "/") && strcmp(joined, out))
                abort();
        }
    }
    free(in);
    free(out);
    free(again);
    vk_error_clear();
    return 0;
}
