/* libFuzzer entry point: what `guest usbkey` reads from an ISO it does not
 * control.  The bytes are an ISO image: its files are indexed and its boot
 * menus (grub.cfg, isolinux.cfg with INCLUDEs) read (vk_isomenu_read), and
 * the entry found goes into the key's grub.cfg (vk_usbkey_config), which
 * must quote everything the ISO wrote: every line of it is one of the
 * lines vmkit writes, so a title, path or argument never starts a command
 * of its own. */
#include "boot/isomenu.h"
#include "guest/usbkey.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const starts[] = {
    "#", "serial ", "terminal_", "set ", "insmod ", "search ", "menuentry ", "\tloopback ",
    "\tlinux ", "\tinitrd ", "}", NULL,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_isomenu m;
    if (vk_isomenu_read(NULL, data, size, "fuzz.iso", &m) == 0) {
        struct vk_usbkey_iso k = { .file = "/isos/fuzz.iso", .m = &m };
        char *text = NULL;
        if (vk_usbkey_config(&k, 1, "1234-ABCD", 5, "quiet", &text) == 0) {
            char *save = NULL;
            for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                const char *const *s = starts;
                while (*s && strncmp(l, *s, strlen(*s)))
                    s++;
                if (!*s)
                    abort();            /* an ISO's words made a line of their own */
            }
            free(text);
        }
        vk_isomenu_free(&m);
    }
    vk_error_clear();
    return 0;
}
