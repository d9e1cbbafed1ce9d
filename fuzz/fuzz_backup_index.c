/* libFuzzer entry point: a backup snapshot index (REPO/snapshots/ID.json)
 * as read from disk.  What parses is dumped and parsed again: the writer
 * and the reader must agree on everything the parser accepts. */
#include "backup/backup.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_bk_snap s, t;
    if (vk_bk_index_parse((const char *)data, size, "fuzz", &s) < 0)
        return 0;
    char *text = vk_bk_index_dump(&s);
    if (text) {
        if (vk_bk_index_parse(text, strlen(text), "fuzz-dump", &t) < 0)
            abort();        /* what we write, we must read */
        if (t.next != s.next || t.size != s.size || t.nparts != s.nparts ||
            (s.next && memcmp(t.ext, s.ext, s.next * sizeof *s.ext)))
            abort();
        vk_bk_snap_free(&t);
        free(text);
    }
    vk_bk_snap_free(&s);
    vk_error_clear();
    return 0;
}
