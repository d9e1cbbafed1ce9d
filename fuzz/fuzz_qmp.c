/* libFuzzer entry point: our handling of what QEMU sends on QMP.  The
 * input is fed to a socketless client in chunks whose sizes come from the
 * first byte (so lines split across reads are covered), every complete
 * message is taken out with vk_qmp_next and its fields are read as the
 * monitor and the CLI read them; finally vk_qmp_event drains the queue. */
#include "vm/qmp.h"
#include "util/err.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void use(const struct vk_qmp_msg *m)
{
    /* what the callers look at: kinds, names and typed fields */
    volatile size_t n = 0;
    if (m->event)
        n += strlen(m->event);
    if (m->kind == VK_QMP_ERROR)
        n += strlen(m->errclass) + strlen(m->errdesc);
    if (m->data && json_is_object(m->data)) {
        json_t *r = json_object_get(m->data, "reason");
        if (json_is_string(r))
            n += strlen(json_string_value(r));
        json_t *s = json_object_get(m->data, "status");
        if (json_is_string(s))
            n += strlen(json_string_value(s));
    }
    (void)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 64 + 1;
    data++, size--;
    struct vk_qmp *q = vk_qmp_new(-1, "fuzz");
    if (!q)
        return 0;
    for (size_t off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk;
        if (vk_qmp_feed(q, data + off, len) < 0)
            break;
        struct vk_qmp_msg m;
        int r;
        while ((r = vk_qmp_next(q, &m)) != 0) {
            if (r < 0) {
                if (r == -E2BIG)
                    goto out;
                continue;       /* a malformed line is consumed */
            }
            use(&m);
            vk_qmp_msg_free(&m);
        }
    }
    /* the one-shot parser on the whole input as one line */
    struct vk_qmp_msg m;
    if (vk_qmp_parse((const char *)data, size, &m) == 0) {
        use(&m);
        vk_qmp_msg_free(&m);
    }
out:
    vk_qmp_close(q);
    vk_error_clear();
    return 0;
}
