/* libFuzzer entry point: the xl.cfg parser, then (when it parses) the
 * writer, a re-parse of the writer's output, check, and the QEMU argv
 * builder with a fixed setup. */
#include "vm/config.h"
#include "vm/qemu_args.h"
#include "util/err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_domcfg c, d;
    if (vk_domcfg_parse((const char *)data, size, "fuzz.cfg", &c) == 0) {
        char *t = vk_domcfg_format(&c);
        if (t) {
            /* the writer's output must always parse back */
            if (vk_domcfg_parse(t, strlen(t), "fmt.cfg", &d) != 0)
                abort();
            vk_domcfg_free(&d);
            free(t);
        }
        vk_domcfg_set(&c, "memory=256");
        if (vk_domcfg_check(&c) == 0) {
            struct vk_qemu_setup s = { .qemu = "/bin/true", .accel = "tcg",
                                       .qmp_monitor = "/tmp/q,m", .console_sock = "/tmp/c",
                                       .rundir = "/tmp/r" };
            char **argv;
            if (vk_qemu_argv(&c, &s, &argv) == 0)
                vk_argv_free(argv);
        }
        vk_domcfg_free(&c);
    }
    vk_error_clear();
    return 0;
}
