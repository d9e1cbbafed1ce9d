/* vmkit screenshot, cd-insert, cd-eject: a running VM's screen and
 * removable media (virsh screenshot, xl cd-insert / cd-eject). */
#include "cli/cli.h"

#include "vm/screen.h"

#include <stdio.h>
#include <string.h>

static int do_screenshot(int argc, char **argv)
{
    if (argc != 3)
        return cli_usage(argv[0], "usage: vmkit screenshot NAME OUT.png");
    int err = vk_vm_screenshot(argv[1], argv[2]);
    return err ? cli_fail(err) : EXIT_OK;
}

static int do_insert(int argc, char **argv)
{
    if (argc != 4)
        return cli_usage(argv[0], "usage: vmkit cd-insert NAME VDEV FILE");
    int err = vk_vm_media_insert(argv[1], argv[2], argv[3]);
    return err ? cli_fail(err) : EXIT_OK;
}

static int do_eject(int argc, char **argv)
{
    if (argc != 3)
        return cli_usage(argv[0], "usage: vmkit cd-eject NAME VDEV");
    int err = vk_vm_media_eject(argv[1], argv[2]);
    return err ? cli_fail(err) : EXIT_OK;
}

static const struct { const char *name; int (*run)(int, char **); const char *help; } verbs[] = {
    { "screenshot", do_screenshot,
      "usage: vmkit screenshot NAME OUT.png\n\n"
      "Save the VM's screen as a PNG image (QEMU's own PNG writer), as\n"
      "virsh screenshot does.  A VM without a display (nographic = 1,\n"
      "vga = \"none\") has no screen to save.\n" },
    { "cd-insert", do_insert,
      "usage: vmkit cd-insert NAME VDEV FILE\n\n"
      "Put FILE (an ISO, or a floppy image) into the VM's removable drive VDEV\n"
      "(hdc, sda ...: a cdrom of its config; fda, fdb: a floppy drive), as\n"
      "xl cd-insert.  An empty drive (',,hdc:cdrom,r', fda = \"\") takes it; a\n"
      "medium already there is replaced.  Lasts until QEMU ends.\n" },
    { "cd-eject", do_eject,
      "usage: vmkit cd-eject NAME VDEV\n\n"
      "Take the medium out of the VM's cdrom or floppy drive VDEV, as xl cd-eject.\n" },
};

int cmd_screen(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (strcmp(verbs[i].name, argv[0]))
            continue;
        if (cli_wants_help(argc, argv)) {
            fputs(verbs[i].help, stdout);
            return EXIT_OK;
        }
        return verbs[i].run(argc, argv);
    }
    return cli_failf("%s: not a screen or media command", argv[0]);
}
