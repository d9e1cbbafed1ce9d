/* libFuzzer entry point: a backup repository's config (REPO/config) as
 * read from disk, encrypted ones with their scrypt parameters and sealed
 * key included.  What parses is dumped and parsed again: the writer and
 * the reader must agree on everything the parser accepts. */
#include "backup/backup.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_bk_config c, d;
    if (vk_bk_config_parse((const char *)data, size, "fuzz", &c) == 0) {
        char *text = vk_bk_config_dump(&c);
        if (text) {
            if (vk_bk_config_parse(text, strlen(text), "fuzz-dump", &d) < 0 ||
                memcmp(&c, &d, sizeof c))
                abort();    /* what we write, we must read back the same */
            free(text);
        }
        /* A sealed key that is not whole or not authentic never opens. */
        uint8_t key[32] = { 0 }, w[VK_BK_WRAPPED];
        memcpy(w, c.wrapped, sizeof w);
        if (vk_bk_unseal(key, "fuzz", 4, w, (size_t)(data[0] % (sizeof w + 1))) == 0)
            abort();
    }
    vk_error_clear();
    return 0;
}
