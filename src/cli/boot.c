/* vmkit boot: boot loaders written into images (boot/grub_install.h). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "block/blockdev.h"
#include "boot/grub_install.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_uint(const char *s, long min, long max, long *v)
{
    char *end;
    errno = 0;
    *v = strtol(s, &end, 10);
    return !*s || *end || errno || *v < min || *v > max ? -1 : 0;
}

static void report(const char *disk, const struct vk_grub_result *r, bool json)
{
    if (json) {
        json_t *o = json_pack("{s:s, s:i, s:s, s:s, s:s, s:I, s:i, s:I, s:s, s:b, s:b, s:i}",
                              "disk", disk, "part", r->part, "fs", r->fs_type,
                              "uuid", r->uuid, "grub_dir", r->grub_dir,
                              "core_lba", (json_int_t)r->core_lba, "core_sectors",
                              r->core_sectors, "room", (json_int_t)r->room, "core_modules",
                              r->core_kind, "cache_hit", r->cache_hit, "config_kept",
                              r->config_kept, "entries", r->entries);
        if (o && r->bios_part)
            json_object_set_new(o, "bios_boot_part", json_integer(r->bios_part));
        cli_print_json(o);
        return;
    }
    printf("%s: GRUB installed for BIOS\n", disk);
    printf("  core image: %u sectors at %llu-%llu (%s modules%s), in ", r->core_sectors,
           (unsigned long long)r->core_lba,
           (unsigned long long)(r->core_lba + r->core_sectors - 1), r->core_kind,
           r->cache_hit ? ", from the cache" : "");
    if (r->bios_part)
        printf("BIOS boot partition %u (%llu sectors)\n", r->bios_part,
               (unsigned long long)r->room);
    else
        printf("the %llu-sector gap before the first partition\n", (unsigned long long)r->room);
    printf("  files:      %s:%u:%s (%s, UUID %s)\n", disk, r->part, r->grub_dir, r->fs_type,
           r->uuid);
    if (r->config_kept)
        printf("  grub.cfg:   kept the existing %s/grub.cfg (--force-config rewrites it)\n",
               r->grub_dir);
    else
        printf("  grub.cfg:   written, %u menu entr%s\n", r->entries, r->entries == 1 ? "y" : "ies");
}

/* --part N: 1..256 (ctx: the long). */
static int part_opt(const struct cli_opt *o, const char *arg)
{
    if (parse_uint(arg, 1, 256, o->ctx) < 0)
        return vk_error(-EINVAL, "--part %s: a partition number 1-256", arg);
    return 0;
}

/* --timeout S: -1 (wait) .. 86400 (ctx: the vk_grub_opts). */
static int grub_timeout_opt(const struct cli_opt *o, const char *arg)
{
    struct vk_grub_opts *g = o->ctx;
    long v;
    if (parse_uint(arg, -1, 86400, &v) < 0)
        return vk_error(-EINVAL, "--timeout %s: seconds, -1 to wait", arg);
    g->timeout = (int)v;
    g->timeout_set = true;
    return 0;
}

static int install_grub(int argc, char **argv)
{
    struct vk_grub_opts o = { 0 };
    long part = 0;
    bool json = false;
    const struct cli_opt opts[] = {
        OPT_CALLBACK(0, "part", &part, "N", "the filesystem for BOOT/grub (default: the partition\n"
                     "holding /boot, else the first Linux one)", part_opt),
        OPT_CALLBACK(0, "timeout", &o, "S", "menu timeout in seconds (default 5; -1 waits)", grub_timeout_opt),
        OPT_STRING(0, "append", &o.append, "ARGS", "extra kernel arguments for every menu entry"),
        OPT_BOOL(0, "force-config", &o.force_config, "replace an existing grub.cfg (default: keep it)"),
        OPT_STRING(0, "grub-dir", &o.grub_dir, "DIR", "GRUB's i386-pc files (default /usr/lib/grub/i386-pc)"),
        OPT_BOOL(0, "no-cache", &o.no_cache, "always run grub-mkimage (core images are cached under\n"
                 "~/.cache/vmkit/grub, keyed by their inputs)"),
        OPT_BOOL(0, "json", &json, "print what was done as JSON"),
        OPT_END(),
    };
    static const struct cli_spec spec = { "boot install-grub", "DISK",
        "Make a raw or qcow2 disk BIOS-bootable with GRUB, without root, loop device or\n"
        "mount: boot.img into the MBR's code area (partition table and disk signature\n"
        "untouched), the core image (built by grub-mkimage, package grub-pc-bin) into\n"
        "the gap before the first partition (MBR) or the BIOS boot partition (GPT), and\n"
        "GRUB's modules and a grub.cfg into BOOT/grub of a filesystem (ext2/3/4, FAT).", 1, 1 };
    struct cli_args a;
    int pr = cli_parse(&spec, opts, argc, argv, &a);
    if (pr != CLI_PARSED)
        return pr;
    const char *disk = a.v[0];
    struct vk_blockdev *bd;
    int r = vk_bd_open(disk, NULL, VK_OPEN_RDWR, &bd);
    if (r < 0)
        return cli_fail(r);
    struct vk_grub_result res;
    r = vk_grub_install(bd, (unsigned)part, &o, &res);
    int cr = vk_bd_close(bd);
    if (r < 0)
        return cli_fail(r);
    if (cr < 0)
        return cli_fail(cr);
    report(disk, &res, json);
    return EXIT_OK;
}

static const struct cli_command boot_cmds[] = {
    { "install-grub", install_grub, "make a disk BIOS-bootable with GRUB (rootless)" },
    { NULL, NULL, NULL },
};

/* vmkit boot COMMAND: see boot_cmds. */
int cmd_boot(int argc, char **argv)
{
    return cli_dispatch("boot", boot_cmds, argc, argv);
}
