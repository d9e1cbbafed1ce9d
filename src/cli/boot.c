/* vmkit boot: boot loaders written into images (boot/grub_install.h). */
#include "cli/cli.h"

#include "block/blockdev.h"
#include "boot/grub_install.h"
#include "util/err.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void install_help(FILE *out)
{
    fprintf(out,
        "usage: vmkit boot install-grub [OPTIONS] DISK\n\n"
        "Make a raw or qcow2 disk BIOS-bootable with GRUB, without root, loop device or\n"
        "mount: boot.img into the MBR's code area (partition table and disk signature\n"
        "untouched), the core image (built by grub-mkimage, package grub-pc-bin) into\n"
        "the gap before the first partition (MBR) or the BIOS boot partition (GPT), and\n"
        "GRUB's modules and a grub.cfg into BOOT/grub of a filesystem (ext2/3/4, FAT).\n\n"
        "  --part N         the filesystem for BOOT/grub (default: the partition holding\n"
        "                   /boot, else the first Linux one)\n"
        "  --timeout S      menu timeout in seconds (default 5; -1 waits)\n"
        "  --append ARGS    extra kernel arguments for every menu entry\n"
        "  --force-config   replace an existing grub.cfg (default: keep it)\n"
        "  --grub-dir DIR   GRUB's i386-pc files (default /usr/lib/grub/i386-pc)\n"
        "  --no-cache       always run grub-mkimage (core images are cached under\n"
        "                   ~/.cache/vmkit/grub, keyed by their inputs)\n"
        "  --json           print what was done as JSON\n");
}

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

static int install_grub(int argc, char **argv)
{
    static const struct option lo[] = {
        { "part", required_argument, NULL, 'p' },
        { "timeout", required_argument, NULL, 't' },
        { "append", required_argument, NULL, 'a' },
        { "force-config", no_argument, NULL, 'f' },
        { "grub-dir", required_argument, NULL, 'd' },
        { "no-cache", no_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct vk_grub_opts o = { 0 };
    long part = 0, v;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_uint(optarg, 1, 256, &part) < 0)
                return cli_usage("boot install-grub", "--part %s: a partition number 1-256", optarg);
            break;
        case 't':
            if (parse_uint(optarg, -1, 86400, &v) < 0)
                return cli_usage("boot install-grub", "--timeout %s: seconds, -1 to wait", optarg);
            o.timeout = (int)v;
            o.timeout_set = true;
            break;
        case 'a': o.append = optarg; break;
        case 'f': o.force_config = true; break;
        case 'd': o.grub_dir = optarg; break;
        case 'n': o.no_cache = true; break;
        case 'j': json = true; break;
        case 'h': install_help(stdout); return EXIT_OK;
        default: return cli_usage("boot install-grub", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("boot install-grub", "usage: vmkit boot install-grub [--part N] DISK");
    const char *disk = argv[optind];
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
