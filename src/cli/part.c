/* vmkit part: partition tables (MBR incl. legacy CHS, GPT) inside images. */
#include "cli/cli.h"

#include "block/blockdev.h"
#include "part/part.h"
#include "part/target.h"
#include "util/err.h"
#include "util/size.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --format FMT, taken off the command line of any part verb by cmd_part. */
static const char *opt_format;

static int open_disk(const char *spec, bool rw, struct vk_blockdev **bd)
{
    return vk_open_disk_spec(spec, opt_format, rw ? VK_OPEN_RDWR : 0, bd);
}

static int finish(struct vk_blockdev *bd, int r)
{
    int c = vk_bd_close(bd);
    if (r < 0)
        return cli_fail(r);
    if (c < 0)
        return cli_fail(c);
    return EXIT_OK;
}

/* Read, let edit() change the table, write it back. */
static int edit_table(const char *spec, int (*edit)(struct vk_ptable *, const char *, void *), void *ctx)
{
    struct vk_blockdev *bd;
    struct vk_ptable t;
    int r = open_disk(spec, true, &bd);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_ptable_read(bd, &t)) < 0) {
        if (r == -ENOENT) {
            cli_failf("%s; create one with 'vmkit part init %s mbr|gpt'", vk_errmsg(), spec);
            vk_bd_close(bd);
            return EXIT_FAIL;
        }
        return finish(bd, r);
    }
    r = edit(&t, bd->name, ctx);
    if (r >= 0)
        r = vk_ptable_write(bd, &t);
    vk_ptable_free(&t);
    return finish(bd, r);
}

static int parse_sectors(const char *s, bool plain_is_sectors, uint64_t *out)
{
    uint64_t v;
    int r;
    size_t n = strspn(s, "0123456789");
    if (plain_is_sectors && n && !s[n]) {
        *out = strtoull(s, NULL, 10);
        return 0;
    }
    if ((r = vk_parse_size(s, &v)) < 0)
        return r;
    if (plain_is_sectors && v % VK_SECTOR)
        return vk_error(-EINVAL, "%s: not a multiple of 512 bytes", s);
    *out = (v + VK_SECTOR - 1) / VK_SECTOR;
    return 0;
}

static int parse_number(const char *cmd, const char *s, unsigned *n)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v == 0 || v > 100000)
        return cli_usage(cmd, "'%s' is not a partition number", s);
    *n = (unsigned)v;
    return 0;
}

/* --- init --- */
static int cmd_init(int argc, char **argv)
{
    static const struct option o[] = { { "legacy-chs", no_argument, NULL, 'l' }, { "help", no_argument, NULL, 'h' }, { 0 } };
    bool legacy = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        if (c == 'l')
            legacy = true;
        else if (c == 'h') {
            printf("usage: vmkit part init DISK mbr|gpt [--legacy-chs]\n"
                   "Write an empty partition table.  --legacy-chs: MBR with the old fdisk\n"
                   "geometry (255 heads, 63 sectors/track), partitions on cylinders.\n");
            return EXIT_OK;
        } else
            return cli_usage("part init", "bad option");
    }
    if (argc - optind != 2)
        return cli_usage("part init", "expected DISK mbr|gpt");
    enum vk_label_type l;
    if (!strcmp(argv[optind + 1], "mbr") || !strcmp(argv[optind + 1], "dos"))
        l = VK_LABEL_MBR;
    else if (!strcmp(argv[optind + 1], "gpt"))
        l = VK_LABEL_GPT;
    else
        return cli_usage("part init", "label must be mbr or gpt, not '%s'", argv[optind + 1]);
    struct vk_blockdev *bd;
    struct vk_ptable t;
    int r = open_disk(argv[optind], true, &bd);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_ptable_init(bd, &t, l, legacy)) == 0)
        r = vk_ptable_write(bd, &t);
    vk_ptable_free(&t);
    return finish(bd, r);
}

/* --- add --- */
struct add_ctx { struct vk_part_req req; unsigned number; };

static int do_add(struct vk_ptable *t, const char *name, void *ctx)
{
    struct add_ctx *a = ctx;
    return vk_part_add(t, &a->req, name, &a->number);
}

static int cmd_add(int argc, char **argv)
{
    static const struct option o[] = {
        { "start", required_argument, NULL, 's' }, { "size", required_argument, NULL, 'z' },
        { "type", required_argument, NULL, 't' }, { "bootable", no_argument, NULL, 'b' },
        { "name", required_argument, NULL, 'n' }, { "logical", no_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' }, { 0 } };
    struct add_ctx a = { { 0 }, 0 };
    int c, r;
    while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        switch (c) {
        case 's':
            if ((r = parse_sectors(optarg, true, &a.req.start)) < 0)
                return cli_usage("part add", "--start: %s", vk_errmsg());
            if (!a.req.start)
                return cli_usage("part add", "--start: sector 0 holds the partition table");
            break;
        case 'z':
            if (strcmp(optarg, "rest") && ((r = parse_sectors(optarg, false, &a.req.size)) < 0 || !a.req.size))
                return cli_usage("part add", "--size: '%s' is not a size", optarg);
            break;
        case 't': a.req.type = optarg; break;
        case 'b': a.req.bootable = true; break;
        case 'n': a.req.name = optarg; break;
        case 'l': a.req.logical = true; break;
        case 'h':
            printf("usage: vmkit part add DISK [--start S] [--size SIZE|rest] [--type T] [--bootable]\n"
                   "                          [--name N] [--logical]\n"
                   "T: linux swap fat32 fat16 efi lvm bios extended, an MBR hex id or a GPT GUID.\n"
                   "--start: sectors, or a size with a suffix (1M).  Prints the new number.\n");
            return EXIT_OK;
        default:
            return cli_usage("part add", "bad option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("part add", "expected DISK");
    r = edit_table(argv[optind], do_add, &a);
    if (r == EXIT_OK)
        printf("%u\n", a.number);
    return r;
}

/* --- list --- */
static json_t *list_json(const struct vk_ptable *t, const char *dev)
{
    json_t *pt = json_object(), *parts = json_array();
    char g[37], buf[64];
    json_object_set_new(pt, "label", json_string(vk_label_ops(t->label)->name));
    if (t->label == VK_LABEL_GPT) {
        vk_guid_to_str(t->disk_guid, g);
        json_object_set_new(pt, "id", json_string(g));
    } else {
        snprintf(buf, sizeof buf, "0x%08x", t->disk_sig);
        json_object_set_new(pt, "id", json_string(buf));
    }
    json_object_set_new(pt, "device", json_string(dev));
    json_object_set_new(pt, "unit", json_string("sectors"));
    if (t->label == VK_LABEL_GPT) {
        json_object_set_new(pt, "firstlba", json_integer((json_int_t)t->first_lba));
        json_object_set_new(pt, "lastlba", json_integer((json_int_t)t->last_lba));
    }
    json_object_set_new(pt, "sectorsize", json_integer(512));
    if (t->label == VK_LABEL_MBR && t->legacy_chs)
        json_object_set_new(pt, "geometry", json_pack("{s:i,s:i,s:I}", "heads", VK_HEADS, "sectors", VK_SPT,
                                                       "cylinders", (json_int_t)(t->disk_sectors / VK_CYL)));
    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *p = &t->p[i];
        json_t *e = json_object();
        snprintf(buf, sizeof buf, "%s%u", dev, p->number);
        json_object_set_new(e, "node", json_string(buf));
        json_object_set_new(e, "start", json_integer((json_int_t)p->start));
        json_object_set_new(e, "size", json_integer((json_int_t)p->size));
        if (t->label == VK_LABEL_GPT) {
            vk_guid_to_str(p->type_guid, g);
            json_object_set_new(e, "type", json_string(g));
            vk_guid_to_str(p->uuid, g);
            json_object_set_new(e, "uuid", json_string(g));
            if (p->name[0])
                json_object_set_new(e, "name", json_string(p->name));
            if (p->attrs) {
                char a[600];
                vk_gpt_attrs_str(p->attrs, a, sizeof a);
                json_object_set_new(e, "attrs", json_string(a));
            }
        } else {
            snprintf(buf, sizeof buf, "%x", p->mbr_type);
            json_object_set_new(e, "type", json_string(buf));
            if (p->bootable)
                json_object_set_new(e, "bootable", json_true());
        }
        json_array_append_new(parts, e);
    }
    json_object_set_new(pt, "partitions", parts);
    return json_pack("{s:o}", "partitiontable", pt);
}

static void list_text(const struct vk_ptable *t, const char *dev, uint64_t bytes)
{
    char h[32], node[300];
    int w = (int)strlen(dev) + 3;
    if (w < 10)
        w = 10;
    vk_human_size(bytes, h, sizeof h);
    if (t->label == VK_LABEL_MBR && t->legacy_chs) {
        /* The classic fdisk view: units are cylinders of 255 x 63 sectors. */
        printf("Disk %s: %s, %llu bytes\n", dev, h, (unsigned long long)bytes);
        printf("%u heads, %u sectors/track, %llu cylinders\n", VK_HEADS, VK_SPT,
               (unsigned long long)(t->disk_sectors / VK_CYL));
        printf("Units = cylinders of %u * 512 = %u bytes\n", VK_CYL, VK_CYL * 512);
        printf("Disk identifier: 0x%08x\n\n", t->disk_sig);
        printf("%-*s Boot      Start         End      Blocks   Id  System\n", w, "Device");
        for (unsigned i = 0; i < t->n; i++) {
            const struct vk_part *p = &t->p[i];
            snprintf(node, sizeof node, "%s%u", dev, p->number);
            printf("%-*s %c   %11llu %11llu %11llu%c %3x  %s\n", w, node, p->bootable ? '*' : ' ',
                   (unsigned long long)(p->start / VK_CYL + 1),
                   (unsigned long long)((p->start + p->size - 1) / VK_CYL + 1),
                   (unsigned long long)(p->size / 2), p->size % 2 ? '+' : ' ', p->mbr_type,
                   vk_part_type_name(t, p));
        }
        return;
    }
    printf("Disk %s: %s, %llu bytes, %llu sectors\n", dev, h, (unsigned long long)bytes,
           (unsigned long long)t->disk_sectors);
    printf("Units: sectors of 1 * 512 = 512 bytes\n");
    printf("Disklabel type: %s\n", vk_label_ops(t->label)->name);
    if (t->label == VK_LABEL_GPT) {
        char g[37];
        vk_guid_to_str(t->disk_guid, g);
        printf("Disk identifier: %s\nFirst usable sector: %llu, last usable sector: %llu\n\n", g,
               (unsigned long long)t->first_lba, (unsigned long long)t->last_lba);
        printf("%-*s %10s %10s %10s %8s %s\n", w, "Device", "Start", "End", "Sectors", "Size", "Type");
    } else {
        printf("Disk identifier: 0x%08x\n\n", t->disk_sig);
        printf("%-*s Boot %10s %10s %10s %8s %2s %s\n", w, "Device", "Start", "End", "Sectors", "Size", "Id", "Type");
    }
    for (unsigned i = 0; i < t->n; i++) {
        const struct vk_part *p = &t->p[i];
        snprintf(node, sizeof node, "%s%u", dev, p->number);
        vk_human_size(p->size * VK_SECTOR, h, sizeof h);
        if (t->label == VK_LABEL_GPT)
            printf("%-*s %10llu %10llu %10llu %8s %s%s%s\n", w, node, (unsigned long long)p->start,
                   (unsigned long long)(p->start + p->size - 1), (unsigned long long)p->size, h,
                   vk_part_type_name(t, p), p->name[0] ? "  name=" : "", p->name);
        else
            printf("%-*s %-4s %10llu %10llu %10llu %8s %2x %s\n", w, node, p->bootable ? "*" : "",
                   (unsigned long long)p->start, (unsigned long long)(p->start + p->size - 1),
                   (unsigned long long)p->size, h, p->mbr_type, vk_part_type_name(t, p));
    }
}

static int cmd_list(int argc, char **argv)
{
    static const struct option o[] = { { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }, { 0 } };
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'h') {
            printf("usage: vmkit part list [--json] DISK\n");
            return EXIT_OK;
        } else
            return cli_usage("part list", "bad option");
    }
    if (argc - optind != 1)
        return cli_usage("part list", "expected DISK");
    struct vk_blockdev *bd;
    struct vk_ptable t;
    int r = open_disk(argv[optind], false, &bd);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_ptable_read(bd, &t)) < 0)
        return finish(bd, r);
    if (json)
        r = cli_print_json(list_json(&t, argv[optind])) ? -EIO : 0;
    else
        list_text(&t, argv[optind], bd->size);
    vk_ptable_free(&t);
    if (r == -EIO) {
        vk_bd_close(bd);
        return EXIT_FAIL;
    }
    return finish(bd, 0);
}

/* --- del / set / resize --- */
struct num_ctx { unsigned n; const char *type; int boot; const char *name; uint64_t size; };

static int do_del(struct vk_ptable *t, const char *name, void *ctx)
{
    return vk_part_del(t, ((struct num_ctx *)ctx)->n, name);
}

static int do_set(struct vk_ptable *t, const char *name, void *ctx)
{
    struct num_ctx *a = ctx;
    struct vk_part *p = vk_ptable_find(t, a->n);
    int r;
    if (!p)
        return vk_error(-ENOENT, "%s: no partition %u", name, a->n);
    struct vk_part np = *p;
    if (a->type && (r = vk_part_parse_type(t, a->type, &np)) < 0)
        return r;
    if (t->label == VK_LABEL_MBR && a->type && vk_mbr_is_extended(np.mbr_type) != vk_mbr_is_extended(p->mbr_type))
        return vk_error(-EINVAL, "%s: partition %u: cannot turn a partition into an extended one or back; delete and add it",
                        name, a->n);
    if (a->boot >= 0) {
        /* On GPT the boot flag is the LegacyBIOSBootable attribute. */
        if (t->label == VK_LABEL_GPT)
            np.attrs = a->boot ? np.attrs | VK_GPT_ATTR_BIOS_BOOTABLE : np.attrs & ~VK_GPT_ATTR_BIOS_BOOTABLE;
        else
            np.bootable = a->boot;
    }
    if (a->name) {
        if (t->label != VK_LABEL_GPT)
            return vk_error(-EINVAL, "%s: partition names exist on GPT tables only", name);
        if (strlen(a->name) >= sizeof np.name)
            return vk_error(-EINVAL, "%s: partition name too long", name);
        strcpy(np.name, a->name);
    }
    *p = np;
    return 0;
}

static int do_resize(struct vk_ptable *t, const char *name, void *ctx)
{
    struct num_ctx *a = ctx;
    return vk_part_resize(t, a->n, a->size, name);
}

static int cmd_del(int argc, char **argv)
{
    struct num_ctx a = { 0 };
    if (cli_wants_help(argc, argv)) {
        printf("usage: vmkit part del DISK N\nDeleting an extended partition deletes its logical ones.\n");
        return EXIT_OK;
    }
    if (argc != 3)
        return cli_usage("part del", "expected DISK N");
    int r = parse_number("part del", argv[2], &a.n);
    return r ? r : edit_table(argv[1], do_del, &a);
}

static int cmd_set(int argc, char **argv)
{
    static const struct option o[] = {
        { "type", required_argument, NULL, 't' }, { "bootable", required_argument, NULL, 'b' },
        { "name", required_argument, NULL, 'n' }, { "help", no_argument, NULL, 'h' }, { 0 } };
    struct num_ctx a = { .boot = -1 };
    int c;
    while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        switch (c) {
        case 't': a.type = optarg; break;
        case 'n': a.name = optarg; break;
        case 'b':
            if (!strcmp(optarg, "on")) a.boot = 1;
            else if (!strcmp(optarg, "off")) a.boot = 0;
            else return cli_usage("part set", "--bootable takes on or off");
            break;
        case 'h':
            printf("usage: vmkit part set DISK N [--type T] [--bootable on|off] [--name N]\n");
            return EXIT_OK;
        default:
            return cli_usage("part set", "bad option");
        }
    }
    if (argc - optind != 2)
        return cli_usage("part set", "expected DISK N");
    int r = parse_number("part set", argv[optind + 1], &a.n);
    return r ? r : edit_table(argv[optind], do_set, &a);
}

static int cmd_resize(int argc, char **argv)
{
    struct num_ctx a = { 0 };
    if (cli_wants_help(argc, argv)) {
        printf("usage: vmkit part resize DISK N SIZE|max\n");
        return EXIT_OK;
    }
    if (argc != 4)
        return cli_usage("part resize", "expected DISK N SIZE|max");
    int r = parse_number("part resize", argv[2], &a.n);
    if (r)
        return r;
    if (strcmp(argv[3], "max") && (parse_sectors(argv[3], false, &a.size) < 0 || !a.size))
        return cli_usage("part resize", "'%s' is not a size", argv[3]);
    return edit_table(argv[1], do_resize, &a);
}

/* --- dump / load --- */
static int cmd_dump(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: vmkit part dump DISK      (sfdisk --dump format)\n");
        return EXIT_OK;
    }
    if (argc != 2)
        return cli_usage("part dump", "expected DISK");
    struct vk_blockdev *bd;
    struct vk_ptable t;
    int r = open_disk(argv[1], false, &bd);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_ptable_read(bd, &t)) < 0)
        return finish(bd, r);
    r = vk_ptable_dump(&t, argv[1], stdout);
    vk_ptable_free(&t);
    return finish(bd, r);
}

static int cmd_load(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: vmkit part load DISK < SCRIPT      (sfdisk script format)\n");
        return EXIT_OK;
    }
    if (argc != 2)
        return cli_usage("part load", "expected DISK (the script comes on standard input)");
    struct vk_blockdev *bd;
    struct vk_ptable t;
    int r = open_disk(argv[1], true, &bd);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_ptable_load(bd, stdin, bd->name, &t)) < 0)
        return finish(bd, r);
    r = vk_ptable_write(bd, &t);
    vk_ptable_free(&t);
    return finish(bd, r);
}

/* --- verify / fix --- */
static int rewrite(struct vk_blockdev *bd)
{
    struct vk_ptable t;
    int r = vk_ptable_read(bd, &t);
    if (r < 0)
        return r;
    t.disk_sectors = bd->size / VK_SECTOR;
    if (t.label == VK_LABEL_GPT) {
        uint64_t asec = ((uint64_t)t.gpt_nentries * t.gpt_entry_size + VK_SECTOR - 1) / VK_SECTOR;
        t.last_lba = t.disk_sectors - 2 - asec;
    }
    r = vk_ptable_write(bd, &t);
    vk_ptable_free(&t);
    return r;
}

static int cmd_verify(int argc, char **argv)
{
    static const struct option o[] = { { "repair", no_argument, NULL, 'r' }, { "help", no_argument, NULL, 'h' }, { 0 } };
    bool repair = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        if (c == 'r')
            repair = true;
        else if (c == 'h') {
            printf("usage: vmkit part verify [--repair] DISK\n--repair rewrites a damaged or misplaced GPT copy.\n");
            return EXIT_OK;
        } else
            return cli_usage("part verify", "bad option");
    }
    if (argc - optind != 1)
        return cli_usage("part verify", "expected DISK");
    struct vk_blockdev *bd;
    char *msgs;
    int r = open_disk(argv[optind], repair, &bd);
    if (r < 0)
        return cli_fail(r);
    r = vk_ptable_verify(bd, &msgs);
    if (r < 0)
        return finish(bd, r);
    if (r == 0) {
        printf("No problems found.\n");
        return finish(bd, 0);
    }
    fputs(msgs, stdout);
    free(msgs);
    if (!repair) {
        vk_bd_close(bd);
        return EXIT_FAIL;
    }
    if ((r = rewrite(bd)) < 0)
        return finish(bd, r);
    printf("Repaired: both GPT copies rewritten.\n");
    return finish(bd, 0);
}

static int cmd_fix(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        printf("usage: vmkit part fix DISK\nMove the GPT backup to the end of a grown disk and widen the usable range.\n");
        return EXIT_OK;
    }
    if (argc != 2)
        return cli_usage("part fix", "expected DISK");
    struct vk_blockdev *bd;
    int r = open_disk(argv[1], true, &bd);
    if (r < 0)
        return cli_fail(r);
    return finish(bd, rewrite(bd));
}

static const struct cli_command part_cmds[] = {
    { "init",   cmd_init,   "write an empty MBR or GPT (--legacy-chs: old fdisk geometry)" },
    { "add",    cmd_add,    "add a partition; prints its number" },
    { "list",   cmd_list,   "list the partitions (--json)" },
    { "del",    cmd_del,    "delete a partition" },
    { "set",    cmd_set,    "change type, boot flag or name" },
    { "resize", cmd_resize, "change a partition's size (SIZE or max)" },
    { "dump",   cmd_dump,   "print the table as an sfdisk script" },
    { "load",   cmd_load,   "replace the table with an sfdisk script from stdin" },
    { "verify", cmd_verify, "check the table (--repair: rewrite GPT copies)" },
    { "fix",    cmd_fix,    "move the GPT backup to the end after growing the image" },
    { NULL, NULL, NULL },
};

int cmd_part(int argc, char **argv)
{
    opt_format = cli_take_option(&argc, argv, "--format");
    return cli_dispatch("part", part_cmds, argc, argv);
}
