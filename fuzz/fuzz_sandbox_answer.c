/* libFuzzer entry point: the parent's reading of a sandboxed child's
 * answer (util/sandbox.c), which a subverted child controls entirely.
 * The first byte picks the child's wait status, the rest is what it wrote
 * on the pipe; a successful answer is then read back with the field
 * getters in an order the bytes themselves choose. */
#include "util/err.h"
#include "util/sandbox.h"

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

/* Wait statuses as waitpid() reports them. */
static const int statuses[] = {
    0,              /* exit 0 */
    1 << 8,         /* exit 1 */
    SIGSYS,         /* killed by the filter */
    SIGXCPU,        /* CPU limit */
    SIGKILL,
    SIGSEGV,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct vk_sandbox sb = { .name = "fuzz.img", .what = "boot reader" };
    struct vk_sbuf reply;
    int status = statuses[data[0] % (sizeof statuses / sizeof *statuses)];
    if (vk_sandbox_answer(&sb, status, data + 1, size - 1, &reply) >= 0) {
        for (size_t i = 1; i < size && !reply.bad; i++) {
            if (data[i] & 1)
                free(vk_sbuf_get_str(&reply));
            else
                vk_sbuf_get_u32(&reply);
        }
        vk_sbuf_free(&reply);
    }
    vk_error_clear();
    return 0;
}
