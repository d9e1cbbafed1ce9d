/* vmkit guest: build a small bootable Linux disk; pygrub (look inside a
 * disk for the kernel it would boot and copy it out). */
#include "cli/cli.h"

#include "boot/pygrub.h"
#include "util/err.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int guest_pygrub(int argc, char **argv)
{
    static const struct option o[] = {
        { "entry", required_argument, NULL, 'e' },
        { "format", required_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *fmt = NULL;
    char entry[1024] = "";
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "e:f:h", o, NULL)) != -1) {
        switch (c) {
        case 'e': snprintf(entry, sizeof entry, "--entry=%s", optarg); break;
        case 'f': fmt = optarg; break;
        case 'j': json = true; break;
        case 'h':
            printf("usage: vmkit guest pygrub [-f FORMAT] [--entry=N|TITLE] [--json] DISK OUTDIR\n"
                   "Find the boot configuration inside DISK (GRUB2, GRUB legacy, extlinux), as\n"
                   "Xen's pygrub does, and copy the kernel and initrd it boots to OUTDIR/kernel\n"
                   "and OUTDIR/initrd.  Nothing in the disk is executed.\n");
            return EXIT_OK;
        default:
            return cli_usage("guest pygrub", "unknown option");
        }
    }
    if (argc - optind != 2)
        return cli_usage("guest pygrub", "need DISK and OUTDIR");
    const char *args[] = { entry, NULL };
    struct vk_boot_result res;
    int r = vk_pygrub_extract(argv[optind], fmt, entry[0] ? args : NULL, argv[optind + 1], &res);
    if (r < 0)
        return cli_fail(r);
    if (json) {
        json_t *j = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:i}", "kernel", res.kernel,
                              "initrd", res.initrd, "cmdline", res.cmdline, "title", res.title,
                              "config", res.config, "partition", (int)res.part);
        vk_boot_result_free(&res);
        return cli_print_json(j);
    }
    printf("config:  %s\ntitle:   %s\nkernel:  %s\ninitrd:  %s\ncmdline: %s\n", res.config,
           res.title, res.kernel, res.initrd ? res.initrd : "(none)", res.cmdline);
    vk_boot_result_free(&res);
    return EXIT_OK;
}


static const struct cli_command guest_cmds[] = {
    { "pygrub", guest_pygrub, "extract the kernel and initrd a disk boots, as Xen's pygrub" },
    { NULL, NULL, NULL },
};

int cmd_guest(int argc, char **argv)
{
    return cli_dispatch("guest", guest_cmds, argc, argv);
}
