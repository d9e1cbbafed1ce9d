/* libFuzzer entry point: the boot configuration readers.  The first byte
 * picks the syntax, the rest is the config; every entry is then selected
 * by path and by title, and the default. */
#include "boot/bootcfg.h"
#include "util/err.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct vk_bootcfg c;
    if (vk_bootcfg_parse(data[0] % 3, (const char *)data + 1, size - 1, "fuzz", &c) == 0) {
        const struct vk_boot_entry *e;
        vk_bootcfg_select(&c, NULL, "fuzz", &e);
        for (unsigned i = 0; i < c.n; i++) {
            vk_bootcfg_select(&c, c.e[i].path, "fuzz", &e);
            vk_bootcfg_select(&c, c.e[i].title, "fuzz", &e);
        }
        vk_bootcfg_select(&c, "99>99", "fuzz", &e);
        vk_bootcfg_free(&c);
    }
    vk_error_clear();
    return 0;
}
