/* vmkit screenshot, cd-insert, cd-eject: a running VM's screen and
 * removable media (virsh screenshot, xl cd-insert / cd-eject). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "vm/screen.h"

#include <stdio.h>
#include <string.h>

/* The operands of a verb without options: argv[1..n], exactly n of them. */
static int operands(const char *cmd, const char *ops, const char *help, int n, int argc, char **argv)
{
    static const struct cli_opt none[] = { OPT_END() };
    const struct cli_spec spec = { cmd, ops, help, n, n };
    struct cli_args a;
    return cli_parse(&spec, none, argc, argv, &a);
}

static int do_screenshot(int argc, char **argv)
{
    int r = operands("screenshot", "NAME OUT.png",
                     "Save the VM's screen as a PNG image (QEMU's own PNG writer), as\n"
                     "virsh screenshot does.  A VM without a display (nographic = 1,\n"
                     "vga = \"none\") has no screen to save.", 2, argc, argv);
    if (r != CLI_PARSED)
        return r;
    int err = vk_vm_screenshot(argv[1], argv[2]);
    return err ? cli_fail(err) : EXIT_OK;
}

static int do_insert(int argc, char **argv)
{
    int r = operands("cd-insert", "NAME VDEV FILE",
                     "Put FILE (an ISO, or a floppy image) into the VM's removable drive VDEV\n"
                     "(hdc, sda ...: a cdrom of its config; fda, fdb: a floppy drive), as\n"
                     "xl cd-insert.  An empty drive (',,hdc:cdrom,r', fda = \"\") takes it; a\n"
                     "medium already there is replaced.  Lasts until QEMU ends.", 3, argc, argv);
    if (r != CLI_PARSED)
        return r;
    int err = vk_vm_media_insert(argv[1], argv[2], argv[3]);
    return err ? cli_fail(err) : EXIT_OK;
}

static int do_eject(int argc, char **argv)
{
    int r = operands("cd-eject", "NAME VDEV",
                     "Take the medium out of the VM's cdrom or floppy drive VDEV, as xl cd-eject.",
                     2, argc, argv);
    if (r != CLI_PARSED)
        return r;
    int err = vk_vm_media_eject(argv[1], argv[2]);
    return err ? cli_fail(err) : EXIT_OK;
}

static const struct { const char *name; int (*run)(int, char **); } verbs[] = {
    { "screenshot", do_screenshot },
    { "cd-insert", do_insert },
    { "cd-eject", do_eject },
};

int cmd_screen(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(verbs[i].name, argv[0]))
            continue;
        return verbs[i].run(argc, argv);
    }
    return cli_failf("%s: not a screen or media command", argv[0]);
}
