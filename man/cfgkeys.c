/* Prints the key list of vmkit.cfg(5) in scdoc, from the parser's own key
 * table (vk_cfg_key_name, vk_cfg_key_status), so the manual lists exactly
 * the keys vmkit honours, ignores and refuses.  Built and run by
 * mk/man.mk; its output replaces @KEYS@ in man/vmkit.cfg.5.scd.in. */
#include "vm/config.h"
#include "vm/devspec.h"

#include <stdio.h>
#include <string.h>

/* s with scdoc's markup characters escaped, and `code` in bold. */
static void put_text(const char *s)
{
    int code = 0;
    for (; *s; s++) {
        if (*s == '`') {
            putchar('*');
            code = !code;
        } else {
            if (strchr("*_\\", *s))
                putchar('\\');
            putchar(*s);
        }
    }
    if (code)
        putchar('*');
}

int main(void)
{
    static const struct { enum vk_key_status st; const char *title, *intro; } sections[] = {
        { VK_KEY_HONOURED, "HONOURED KEYS", "What each key becomes under QEMU." },
        { VK_KEY_IGNORED, "IGNORED KEYS",
          "Accepted with a warning (as xl ignores keys it does not know); the reason." },
        { VK_KEY_REFUSED, "REFUSED KEYS",
          "An error naming the key and the reason (some accept the value 0 or \"\", which "
          "asks for nothing)." },
    };
    for (size_t s = 0; s < sizeof sections / sizeof *sections; s++) {
        printf("# %s\n\n%s\n\n", sections[s].title, sections[s].intro);
        const char *key;
        for (unsigned i = 0; (key = vk_cfg_key_name(i)); i++) {
            const char *what = NULL;
            if (vk_cfg_key_status(key, &what) != sections[s].st)
                continue;
            putchar('*');
            put_text(key);
            printf("*\n\t");
            put_text(what ? what : "");
            printf("\n\n");
        }
    }
    return 0;
}
