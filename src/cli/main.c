/* vmkit: one command for disk images, partitions, filesystems and VMs. */
#include "cli/cli.h"

#include "util/err.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct cli_command commands[] = {
    { "img",      cmd_img,   "disk images: create, info, check, map, convert, resize, compare" },
    { "part",     cmd_part,  "partition tables (MBR, GPT) inside images" },
    { "fs",       cmd_fs,    "filesystems (ext2/3/4, FAT, swap) inside images, no mounting" },
    { "create",   cmd_vm,    "start a VM from an xl.cfg file" },
    { "define",   cmd_vm,    "store a VM's xl.cfg" },
    { "undefine", cmd_vm,    "forget a stored VM" },
    { "start",    cmd_vm,    "start a stored VM" },
    { "list",     cmd_vm,    "list VMs" },
    { "console",  cmd_vm,    "attach to a VM's serial console (Ctrl-] leaves)" },
    { "shutdown", cmd_vm,    "ask a VM to power off" },
    { "reboot",   cmd_vm,    "ask a VM to reboot" },
    { "destroy",  cmd_vm,    "stop a VM at once" },
    { "pause",    cmd_vm,    "pause a VM" },
    { "unpause",  cmd_vm,    "resume a paused VM" },
    { "config",   cmd_vm,    "print a VM's effective xl.cfg" },
    { "edit",     cmd_vm,    "edit a defined VM's xl.cfg in $EDITOR" },
    { "guest",    cmd_guest, "build a small bootable Linux guest disk" },
    { "demo",     cmd_demo,  "build a guest, boot it, show it working" },
    { "doctor",   cmd_doctor, "what this host can do (KVM, bridge, fuse...) and the fixes" },
    { NULL, NULL, NULL },
};

static void print_warning(const char *msg, void *ctx)
{
    fprintf(stderr, "vmkit: warning: %s\n", msg);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: vmkit [--version] [--help] COMMAND [ARGS...]\n\ncommands:\n");
    for (const struct cli_command *c = commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nRun 'vmkit COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    vk_set_warn_handler(print_warning, NULL);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        return cli_version();
    }
    for (const struct cli_command *c = commands; c->name; c++)
        if (!strcmp(c->name, argv[1]))
            return c->run(argc - 1, argv + 1);
    fprintf(stderr, "vmkit: '%s' is not a vmkit command; see 'vmkit --help'\n", argv[1]);
    return EXIT_USAGE;
}
