/* libFuzzer entry point: the boot configuration readers.  The first byte
 * picks the syntax; the rest is split at lines "----": the config, then
 * the saved default (grubenv / GRUB legacy's default file), then BLS
 * entry files.  Every entry is then selected by path and by title, and
 * the default. */
#include "boot/bootcfg.h"
#include "util/err.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define MAXPARTS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    const char *part[MAXPARTS];
    size_t len[MAXPARTS];
    unsigned n = 0;
    while (n < MAXPARTS) {
        const char *sep = memmem(p, (size_t)(end - p), "\n----\n", 6);
        part[n] = p;
        len[n++] = sep ? (size_t)(sep - p) : (size_t)(end - p);
        if (!sep)
            break;
        p = sep + 6;
    }
    struct vk_bls_file bls[MAXPARTS];
    char names[MAXPARTS][24];
    for (unsigned i = 2; i < n; i++) {
        snprintf(names[i], sizeof names[i], "e%u.conf", i);
        bls[i - 2] = (struct vk_bls_file){ .name = names[i], .text = part[i], .len = len[i] };
    }
    struct vk_bootcfg_env env = { .saved = n > 1 ? part[1] : NULL, .saved_len = n > 1 ? len[1] : 0,
                                  .bls = bls, .n_bls = n > 2 ? n - 2 : 0 };
    struct vk_bootcfg c;
    if (vk_bootcfg_parse(data[0] % 3, part[0], len[0], "fuzz", &env, &c) == 0) {
        const struct vk_boot_entry *e;
        vk_bootcfg_select(&c, NULL, "fuzz", &e);
        for (unsigned i = 0; i < c.n; i++) {
            vk_bootcfg_select(&c, c.e[i].path, "fuzz", &e);
            vk_bootcfg_select(&c, c.e[i].title, "fuzz", &e);
            if (c.e[i].id)
                vk_bootcfg_select(&c, c.e[i].id, "fuzz", &e);
        }
        vk_bootcfg_select(&c, "99>99", "fuzz", &e);
        vk_bootcfg_select(&c, "0>>1>x", "fuzz", &e);
        vk_bootcfg_free(&c);
    }
    vk_error_clear();
    return 0;
}
