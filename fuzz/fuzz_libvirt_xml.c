/* libFuzzer entry point: the libvirt domain XML reader (define --xml),
 * then, for what it accepts, check, the XML writer (dumpxml), and the
 * reader again on the writer's output, which must always read back. */
#include "vm/config.h"
#include "vm/libvirt_xml.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_domcfg c, d;
    if (vk_libvirt_xml_read((const char *)data, size, "fuzz.xml", &c) == 0) {
        if (vk_domcfg_check(&c) == 0) {
            char *x = vk_libvirt_xml_write(&c, "tcg");
            if (x) {
                if (vk_libvirt_xml_read(x, strlen(x), "out.xml", &d) != 0)
                    abort();
                vk_domcfg_free(&d);
                free(x);
            }
        }
        vk_domcfg_free(&c);
    }
    vk_error_clear();
    return 0;
}
