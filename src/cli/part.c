/* vmkit part: partition tables (MBR incl. legacy CHS, GPT) inside images. */
#include "cli/cli.h"
#include "cli/opt.h"

#include "block/blockdev.h"
#include "part/part.h"
#include "part/target.h"
#include "util/err.h"
#include "util/size.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --format FMT: a group option (before the verb or after it). */
static const char *opt_format;
static const struct cli_opt group_opts[] = {
    OPT_STRING(0, "format", &opt_format, "FMT", "the image's format (default: probe; raw: the bytes as they are)"),
    OPT_END(),
};

static int open_disk(const char *spec, bool rw, struct vk_blockdev **bd)
{
    return vk_open_disk_spec(spec, opt_format, rw ? VK_OPEN_RDWR : 0, bd);
}

/* Parse a verb that takes only the group options: its operands in *a. */
static int parse_plain(const struct cli_spec *spec, int argc, char **argv, struct cli_args *a)
{
    const struct cli_opt opts[] = { OPT_INCLUDE(group_opts), OPT_END() };
    return cli_parse(spec, opts, argc, argv, a);
}

/* Parse argv against spec and opts (NULL: the group options alone), then
 * open the disk a->v[0] (rw: for writing).  CLI_PARSED with the disk in
 * *bd (finish() closes it), or the exit status to return at once:
 * cli_parse()'s for --help or a usage error, EXIT_FAIL after printing why
 * the disk did not open. */
static int parse_open(const struct cli_spec *spec, const struct cli_opt *opts, int argc, char **argv,
                      struct cli_args *a, bool rw, struct vk_blockdev **bd)
{
    int r = opts ? cli_parse(spec, opts, argc, argv, a) : parse_plain(spec, argc, argv, a);
    if (r != CLI_PARSED)
        return r;
    if ((r = open_disk(a->v[0], rw, bd)) < 0)
        return cli_fail(r);
    return CLI_PARSED;
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
    bool legacy = false;
    const struct cli_opt opts[] = {
        OPT_BOOL(0, "legacy-chs", &legacy, "MBR with the old fdisk geometry (255 heads, 63 sectors/track),\n"
                 "partitions on cylinders"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "part init", "DISK mbr|gpt",
        "Write an empty partition table.", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    enum vk_label_type l;
    if (!strcmp(a.v[1], "mbr") || !strcmp(a.v[1], "dos"))
        l = VK_LABEL_MBR;
    else if (!strcmp(a.v[1], "gpt"))
        l = VK_LABEL_GPT;
    else
        return cli_usage("part init", "label must be mbr or gpt, not '%s'", a.v[1]);
    struct vk_blockdev *bd;
    struct vk_ptable t;
    if ((r = open_disk(a.v[0], true, &bd)) < 0)
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

/* --start S: sectors, or a size with a suffix. */
static int start_opt(const struct cli_opt *o, const char *arg)
{
    uint64_t *start = o->ctx;
    if (parse_sectors(arg, true, start) < 0) {
        char why[256];  /* vk_errmsg() is the buffer vk_error writes */
        snprintf(why, sizeof why, "%s", vk_errmsg());
        return vk_error(-EINVAL, "--start: %s", why);
    }
    if (!*start)
        return vk_error(-EINVAL, "--start: sector 0 holds the partition table");
    return 0;
}

/* --size SIZE|rest (0: rest). */
static int size_opt(const struct cli_opt *o, const char *arg)
{
    uint64_t *size = o->ctx;
    if (!strcmp(arg, "rest")) {
        *size = 0;
        return 0;
    }
    if (parse_sectors(arg, false, size) < 0 || !*size)
        return vk_error(-EINVAL, "--size: '%s' is not a size", arg);
    return 0;
}

static int cmd_add(int argc, char **argv)
{
    struct add_ctx a = { { 0 }, 0 };
    const struct cli_opt opts[] = {
        OPT_CALLBACK(0, "start", &a.req.start, "S", "first sector, or a size with a suffix (1M)", start_opt),
        OPT_CALLBACK(0, "size", &a.req.size, "SIZE|rest", "the size (default: the rest of the free space)", size_opt),
        OPT_STRING(0, "type", &a.req.type, "T", "linux swap fat32 fat16 efi lvm bios extended,\n"
                   "an MBR hex id or a GPT GUID"),
        OPT_BOOL(0, "bootable", &a.req.bootable, "set the boot flag"),
        OPT_STRING(0, "name", &a.req.name, "N", "the GPT partition name"),
        OPT_BOOL(0, "logical", &a.req.logical, "a logical partition in the MBR's extended one"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "part add", "DISK",
        "Add a partition; prints its number.", 1, 1 };
    struct cli_args args;
    int r = cli_parse(&spec, opts, argc, argv, &args);
    if (r != CLI_PARSED)
        return r;
    r = edit_table(args.v[0], do_add, &a);
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
    bool json = false;
    const struct cli_opt opts[] = {
        OPT_BOOL(0, "json", &json, "print JSON (as sfdisk --json)"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "part list", "DISK", "List the partitions.", 1, 1 };
    struct cli_args a;
    struct vk_blockdev *bd;
    int r = parse_open(&spec, opts, argc, argv, &a, false, &bd);
    if (r != CLI_PARSED)
        return r;
    struct vk_ptable t;
    if ((r = vk_ptable_read(bd, &t)) < 0)
        return finish(bd, r);
    if (json)
        r = cli_print_json(list_json(&t, a.v[0])) ? -EIO : 0;
    else
        list_text(&t, a.v[0], bd->size);
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
    struct num_ctx n = { 0 };
    static const struct cli_spec spec = { "part del", "DISK N",
        "Delete partition N.  Deleting an extended partition deletes its logical ones.", 2, 2 };
    struct cli_args a;
    int r = parse_plain(&spec, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    r = parse_number("part del", a.v[1], &n.n);
    return r ? r : edit_table(a.v[0], do_del, &n);
}

/* --bootable on|off (ctx: the int to set). */
static int bootable_opt(const struct cli_opt *o, const char *arg)
{
    if (strcmp(arg, "on") && strcmp(arg, "off"))
        return vk_error(-EINVAL, "--bootable takes on or off, not '%s'", arg);
    *(int *)o->ctx = !strcmp(arg, "on");
    return 0;
}

static int cmd_set(int argc, char **argv)
{
    struct num_ctx n = { .boot = -1 };
    const struct cli_opt opts[] = {
        OPT_STRING(0, "type", &n.type, "T", "the new type (as part add --type)"),
        OPT_CALLBACK(0, "bootable", &n.boot, "on|off", "the boot flag (GPT: LegacyBIOSBootable)", bootable_opt),
        OPT_STRING(0, "name", &n.name, "N", "the GPT partition name"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "part set", "DISK N",
        "Change a partition's type, boot flag or name.", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    r = parse_number("part set", a.v[1], &n.n);
    return r ? r : edit_table(a.v[0], do_set, &n);
}

static int cmd_resize(int argc, char **argv)
{
    struct num_ctx n = { 0 };
    static const struct cli_spec spec = { "part resize", "DISK N SIZE|max",
        "Change partition N's size (max: up to the next partition or the end).", 3, 3 };
    struct cli_args a;
    int r = parse_plain(&spec, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if ((r = parse_number("part resize", a.v[1], &n.n)))
        return r;
    if (strcmp(a.v[2], "max") && (parse_sectors(a.v[2], false, &n.size) < 0 || !n.size))
        return cli_usage("part resize", "'%s' is not a size", a.v[2]);
    return edit_table(a.v[0], do_resize, &n);
}

/* --- dump / load --- */
static int cmd_dump(int argc, char **argv)
{
    static const struct cli_spec spec = { "part dump", "DISK",
        "Print the table as an sfdisk script (sfdisk --dump format).", 1, 1 };
    struct cli_args a;
    struct vk_blockdev *bd;
    int r = parse_open(&spec, NULL, argc, argv, &a, false, &bd);
    if (r != CLI_PARSED)
        return r;
    struct vk_ptable t;
    if ((r = vk_ptable_read(bd, &t)) < 0)
        return finish(bd, r);
    r = vk_ptable_dump(&t, a.v[0], stdout);
    vk_ptable_free(&t);
    return finish(bd, r);
}

static int cmd_load(int argc, char **argv)
{
    static const struct cli_spec spec = { "part load", "DISK < SCRIPT",
        "Replace the table with an sfdisk script read from standard input.", 1, 1 };
    struct cli_args a;
    struct vk_blockdev *bd;
    int r = parse_open(&spec, NULL, argc, argv, &a, true, &bd);
    if (r != CLI_PARSED)
        return r;
    struct vk_ptable t;
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
    vk_ptable_fit_disk(&t, bd->size / VK_SECTOR);
    r = vk_ptable_write(bd, &t);
    vk_ptable_free(&t);
    return r;
}

static int cmd_verify(int argc, char **argv)
{
    bool repair = false;
    const struct cli_opt opts[] = {
        OPT_BOOL(0, "repair", &repair, "rewrite a damaged or misplaced GPT copy"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "part verify", "DISK",
        "Check the partition table (exit 1: problems found).", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    /* not parse_open(): whether to open for writing is known only now */
    struct vk_blockdev *bd;
    char *msgs;
    if ((r = open_disk(a.v[0], repair, &bd)) < 0)
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
    static const struct cli_spec spec = { "part fix", "DISK",
        "Move the GPT backup to the end of a grown disk and widen the usable range.", 1, 1 };
    struct cli_args a;
    struct vk_blockdev *bd;
    int r = parse_open(&spec, NULL, argc, argv, &a, true, &bd);
    if (r != CLI_PARSED)
        return r;
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
    return cli_dispatch_opts("part", part_cmds, group_opts, argc, argv);
}
