/* libFuzzer entry point: the xl disk-spec and vif-spec parsers
 * (vm/diskspec.c), as they read `disk = [...]` and `vif = [...]`
 * entries of a config file. */
#include "vm/config.h"
#include "util/err.h"

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
    struct vk_diskspec d;
    if (vk_diskspec_parse(s, &d) == 0) {
        if (!d.vdev || d.index < 0)
            abort();
        vk_diskspec_free(&d);
    }
    struct vk_vifspec v;
    if (vk_vifspec_parse(s, &v) == 0)
        vk_vifspec_free(&v);
    free(s);
    vk_error_clear();
    return 0;
}
