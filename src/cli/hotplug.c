/* vmkit block-attach, block-detach, block-list, network-attach,
 * network-detach, network-list, mem-set, vcpu-set: devices of a running
 * VM changed over QMP, as xl's commands of the same names. */
#include "cli/cli.h"
#include "cli/opt.h"

#include "util/err.h"
#include "util/size.h"
#include "vm/hotplug.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool persist, json;

static const struct cli_opt persist_opts[] = {
    OPT_BOOL(0, "persist", &persist, "also change the stored config of the defined VM (alone,\n"
             "when it does not run)"),
    OPT_END(),
};

static const struct cli_opt list_opts[] = {
    OPT_BOOL(0, "json", &json, "an array of objects"),
    OPT_END(),
};

/* The table of block-list, one row a disk; arr NULL: the text table on
 * stdout, else one object a disk appended to arr. */
static void list_disks(const struct vk_vminfo *info, json_t *arr)
{
    if (!arr)
        printf("%-8s %-6s %-6s %-7s %s\n", "Vdev", "Format", "Access", "Hotplug", "Target");
    for (unsigned i = 0; i < info->cfg.n_disks; i++) {
        const struct vk_diskspec *d = &info->cfg.disks[i];
        const char *fmt = d->format ? d->format : "raw";
        const char *acc = d->cdrom ? "cdrom" : d->readonly ? "ro" : "rw";
        int hot = vk_hp_is_hot(info, "disk", d->vdev);
        if (arr)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:s?}", "vdev", d->vdev,
                                                 "format", fmt, "access", acc, "hotplug", hot,
                                                 "target", d->target));
        else
            printf("%-8s %-6s %-6s %-7s %s\n", d->vdev, fmt, acc, hot ? "yes" : "no",
                   d->target ? d->target : "(empty)");
    }
}

/* The table of network-list, as list_disks for the NICs. */
static void list_nics(const struct vk_vminfo *info, json_t *arr)
{
    if (!arr)
        printf("%-4s %-17s %-14s %-7s %s\n", "Idx", "MAC", "Model", "Hotplug", "Network");
    for (unsigned i = 0; i < info->cfg.n_vifs; i++) {
        const struct vk_vifspec *v = &info->cfg.vifs[i];
        const char *model = v->model ? v->model : "virtio-net-pci";
        const char *mac = v->mac ? v->mac : "";
        char net[256];
        snprintf(net, sizeof net, "%s%s", v->type == VK_VIF_BRIDGE ? "bridge " : "user",
                 v->type == VK_VIF_BRIDGE ? v->bridge : "");
        int hot = vk_hp_is_hot(info, "nic", mac);
        if (arr)
            json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:b, s:s, s:s?}", "index",
                                                 (int)i, "mac", mac, "model", model, "hotplug",
                                                 hot, "type", v->type == VK_VIF_BRIDGE ? "bridge"
                                                 : "user", "bridge", v->bridge));
        else
            printf("%-4u %-17s %-14s %-7s %s\n", i, mac, model, hot ? "yes" : "no", net);
    }
}

/* mem-set's SIZE: MiB as xl takes it (512), or a vmkit size in whole MiB
 * (512M, 1G).  The exit status of the verb. */
static int set_mem(const char *name, const char *s)
{
    uint64_t bytes;
    long mib;
    if (*s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 10)
        mib = atol(s);                                  /* xl: MiB */
    else if (vk_parse_size(s, &bytes) < 0 || bytes % (1 << 20) || bytes >> 20 > 1L << 30)
        return cli_usage("mem-set", "'%s' is not a size in MiB (512, 512M, 1G)", s);
    else
        mib = (long)(bytes >> 20);
    int r = vk_hp_mem_set(name, mib);
    return r ? cli_fail(r) : EXIT_OK;
}

/* vcpu-set's N: a plain decimal count.  The exit status of the verb. */
static int set_vcpus(const char *name, const char *s)
{
    if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
        return cli_usage("vcpu-set", "'%s' is not a number of vCPUs", s);
    int r = vk_hp_vcpu_set(name, atol(s));
    return r ? cli_fail(r) : EXIT_OK;
}

static const struct cli_opt no_opts[] = { OPT_END() };

/* One verb: its name, operands and --help (spec), its options, and exactly
 * one of what runs it.  Every verb takes the VM's NAME first; they differ
 * only in the library call, so cmd_hotplug parses, looks the VM up and
 * reports errors the same way for all of them:
 *   change  attach/detach: NAME and the spec/device, with --persist;
 *   list    *-list: prints what vk_hp_info() found (arr: --json);
 *   set     mem-set, vcpu-set: checks the value, returns the exit status. */
struct hp_verb {
    struct cli_spec spec;
    const struct cli_opt *opts;
    int (*change)(const char *name, const char *arg, int persist);
    void (*list)(const struct vk_vminfo *info, json_t *arr);
    int (*set)(const char *name, const char *value);
};

static const struct hp_verb verbs[] = {
    { { "block-attach", "[--persist] NAME DISKSPEC",
        "Attach a disk to the running VM, as xl block-attach.  DISKSPEC is an xl\n"
        "disk spec, as in the config's disk list: 'data.img,xvdb,w' or\n"
        "'format=qcow2,vdev=xvdc,access=ro,target=data.qcow2'.  xvdX and vdX are\n"
        "virtio disks; sdX needs an SCSI disk in the VM already; IDE, floppy and\n"
        "cdrom drives cannot be hot-plugged.  An image another process holds open\n"
        "for writing is refused.", 2, 2 },
      persist_opts, vk_hp_block_attach, NULL, NULL },
    { { "block-detach", "[--persist] NAME VDEV",
        "Detach the disk VDEV (xvdb ...) from the running VM, as xl block-detach:\n"
        "QEMU unplugs it once the guest lets it go (ACPI hot-unplug; at most 30 s).", 2, 2 },
      persist_opts, vk_hp_block_detach, NULL, NULL },
    { { "block-list", "[--json] NAME",
        "The disks of the running VM, as xl block-list: those of its config and\n"
        "those attached since it started (Hotplug yes).", 1, 1 },
      list_opts, NULL, list_disks, NULL },
    { { "network-attach", "[--persist] NAME VIFSPEC",
        "Attach a NIC to the running VM, as xl network-attach.  VIFSPEC is an xl\n"
        "vif spec, as in the config's vif list: 'mac=00:16:3e:01:02:03,bridge=br0',\n"
        "'model=e1000', 'hostfwd=tcp::2222-:22', or '' (user networking, a new\n"
        "MAC).", 2, 2 },
      persist_opts, vk_hp_nic_attach, NULL, NULL },
    { { "network-detach", "[--persist] NAME MAC|INDEX",
        "Detach a NIC from the running VM, as xl network-detach: by its MAC or by\n"
        "its index in network-list.", 2, 2 },
      persist_opts, vk_hp_nic_detach, NULL, NULL },
    { { "network-list", "[--json] NAME",
        "The NICs of the running VM, as xl network-list: Idx is what\n"
        "network-detach takes.", 1, 1 },
      list_opts, NULL, list_nics, NULL },
    { { "mem-set", "NAME SIZE",
        "Set the running VM's memory target through its virtio balloon, as xl\n"
        "mem-set: SIZE in MiB (512), or with a unit (512M, 1G).  From 32 MiB up\n"
        "to the memory it started with; the guest gives the memory back in its\n"
        "own time.", 2, 2 },
      no_opts, NULL, NULL, set_mem },
    { { "vcpu-set", "NAME N",
        "Bring the running VM to N vCPUs, as xl vcpu-set: CPUs are hot-plugged up\n"
        "to the config's maxvcpus, and those vcpu-set added can be unplugged\n"
        "again.  A VM without maxvcpus > vcpus has no room for more.", 2, 2 },
      no_opts, NULL, NULL, set_vcpus },
};

/* Run the verb in argv[0] (one of verbs[]).  Exit status as every verb:
 * 0, 1 after printing the library's error, 2 for a usage error. */
static int run_verb(const struct hp_verb *v, int argc, char **argv)
{
    struct cli_args a;
    int r = cli_parse(&v->spec, v->opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (v->change)
        return (r = v->change(a.v[0], a.v[1], persist)) ? cli_fail(r) : EXIT_OK;
    if (v->set)
        return v->set(a.v[0], a.v[1]);
    struct vk_vminfo info;
    if ((r = vk_hp_info(a.v[0], &info)))
        return cli_fail(r);
    json_t *arr = json ? json_array() : NULL;
    v->list(&info, arr);
    vk_vminfo_free(&info);
    return json ? cli_print_json(arr) : EXIT_OK;
}

int cmd_hotplug(int argc, char **argv)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (!strcmp(verbs[i].spec.cmd, argv[0]))
            return run_verb(&verbs[i], argc, argv);
    return cli_failf("%s: not a hot-plug command", argv[0]);
}
