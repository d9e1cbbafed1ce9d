/* libFuzzer entry point: the OVF descriptor reader of import-ova
 * (vk_ovf_parse): any bytes either parse into a descriptor whose every
 * disk names a File, or fail with a message; never a crash or a leak. */
#include "vm/ova.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_ovf o;
    if (vk_ovf_parse((const char *)data, size, "fuzz.ovf", &o) == 0) {
        for (unsigned i = 0; i < o.n_disks; i++)
            if (!o.disks[i].file || !o.disks[i].capacity)
                abort();
        vk_ovf_free(&o);
    }
    vk_error_clear();
    return 0;
}
