/* vmkit: one command for disk images, partitions, filesystems and VMs.
 * The command table below and vm.c's cli_vm_verbs are the one list of
 * top-level commands: dispatch and `vmkit --help` both read them. */
#include "cli/cli.h"
#include "cli/opt.h"

#include "util/err.h"

#include <stdio.h>
#include <string.h>

static const struct cli_command commands[] = {
    { "img",      cmd_img,   "disk images: create, info, check, map, convert, resize, compare" },
    { "part",     cmd_part,  "partition tables (MBR, GPT) inside images" },
    { "fs",       cmd_fs,    "filesystems (ext2/3/4, FAT, swap) inside images, no mounting" },
    { "screenshot", cmd_screen, "save a VM's screen as a PNG image" },
    { "cd-insert", cmd_screen, "put an ISO or floppy image into a VM's drive" },
    { "cd-eject", cmd_screen, "take the medium out of a VM's drive" },
    { "block-attach", cmd_hotplug, "attach a disk to a running VM (xl disk spec)" },
    { "block-detach", cmd_hotplug, "detach a disk from a running VM" },
    { "block-list", cmd_hotplug, "list a running VM's disks" },
    { "network-attach", cmd_hotplug, "attach a NIC to a running VM (xl vif spec)" },
    { "network-detach", cmd_hotplug, "detach a NIC from a running VM" },
    { "network-list", cmd_hotplug, "list a running VM's NICs" },
    { "mem-set", cmd_hotplug, "set a running VM's memory (virtio balloon)" },
    { "vcpu-set", cmd_hotplug, "set a running VM's vCPU count (up to maxvcpus)" },
    { "install",  cmd_install, "run an OS installer (virt-install --location / --cdrom)" },
    { "save",     cmd_save,  "save a running VM's state to a file and stop it" },
    { "restore",  cmd_restore, "restore a VM saved by save" },
    { "migrate",  cmd_migrate, "move a running VM to another host (xl migrate)" },
    { "migrate-receive", cmd_migrate_receive, "the receiving end of migrate (run over ssh)" },
    { "clone",    cmd_clone, "define a copy of a shut-off VM (new uuid, MACs, disks)" },
    { "top",      cmd_top,   "every running VM's CPU, memory, disk and network use (xentop)" },
    { "snapshot", cmd_snapshot, "create, list, revert, delete a VM's internal snapshots" },
    { "boot",     cmd_boot,  "boot loaders: install-grub writes GRUB for BIOS into an image" },
    { "backup",   cmd_backup, "whole-disk backups: used blocks, deduplicated, verified" },
    { "tls",      cmd_tls,   "the host CA and client certificates for the web console" },
    { "guest",    cmd_guest, "build a small bootable Linux guest disk" },
    { "demo",     cmd_demo,  "build a guest, boot it, show it working" },
    { "serve",    cmd_serve, "a web console: VM list, buttons, live state, JSON API" },
    { "doctor",   cmd_doctor, "what this host can do (KVM, bridge, fuse...) and the fixes" },
    { NULL, NULL, NULL },
};

static bool version;
static const struct cli_opt opts[] = {
    OPT_BOOL('V', "version", &version, "print vmkit's version"),
    OPT_END(),
};

static void print_warning(const char *msg, void *ctx)
{
    fprintf(stderr, "vmkit: warning: %s\n", msg);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: vmkit [--version] [--help] COMMAND [ARGS...]\n\ncommands:\n");
    for (const struct cli_command *c = commands; c->name; c++)
        fprintf(out, "  %-14s %s\n", c->name, c->summary);
    fprintf(out, "\nVM commands (as xl):\n");
    for (const struct cli_verb *v = cli_vm_verbs; v->name; v++)
        fprintf(out, "  %-10s %s\n", v->name, v->summary);
    cli_print_options(out, opts);
    fprintf(out, "\nRun 'vmkit COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    static const struct cli_spec spec = { "", "COMMAND [ARGS...]", NULL, 1, -1 };
    int i, r;
    vk_set_warn_handler(print_warning, NULL);
    r = cli_parse_head(&spec, opts, argc, argv, &i);
    if (r == CLI_HELP || (r == CLI_PARSED && i < argc && !strcmp(argv[i], "help"))) {
        usage(stdout);
        return EXIT_OK;
    }
    if (r != CLI_PARSED)
        return r;
    if (version)
        return cli_version();
    if (i == argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    for (const struct cli_command *c = commands; c->name; c++)
        if (!strcmp(c->name, argv[i]))
            return c->run(argc - i, argv + i);
    for (const struct cli_verb *v = cli_vm_verbs; v->name; v++)
        if (!strcmp(v->name, argv[i]))
            return cmd_vm(argc - i, argv + i);
    fprintf(stderr, "vmkit: '%s' is not a vmkit command; see 'vmkit --help'\n", argv[i]);
    return EXIT_USAGE;
}
