/* vmkit img: create, info, check, map, convert, resize, compare, rebase,
 * commit.  Argument parsing and printing only; the work is in
 * block/blockdev.h and block/imgops.h. */
#include "cli/cli.h"
#include "cli/opt.h"

#include "block/blockdev.h"
#include "block/imgops.h"
#include "block/snapshot.h"
#include "part/target.h"
#include "util/err.h"
#include "util/progress.h"
#include "util/size.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *human(uint64_t n, char *buf, size_t len)
{
    return vk_human_size(n, buf, len);
}

/* -o key=value,... into opts (an OPT_CALLBACK; ctx is the struct
 * vk_create_opts).  The values are kept: they point into arg, which is
 * argv's own (writable) string.  0, or -EINVAL after vk_error. */
static int create_opts(const struct cli_opt *opt, const char *arg)
{
    struct vk_create_opts *o = opt->ctx;
    char *s = (char *)arg;
    for (char *save = NULL, *kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *v = strchr(kv, '=');
        uint64_t n;
        if (!v)
            return vk_error(-EINVAL, "-o %s: expected key=value", kv);
        *v++ = 0;
        if (!strcmp(kv, "cluster_size")) {
            if (vk_parse_size(v, &n) < 0 || n < 512 || n > (2u << 20) || (n & (n - 1)))
                return vk_error(-EINVAL, "cluster_size=%s: must be a power of two from 512 to 2M", v);
            o->cluster_size = (uint32_t)n;
        } else if (!strcmp(kv, "block_size")) {   /* vhdx: the payload block size */
            if (vk_parse_size(v, &n) < 0 || (n && (n < (1u << 20) || n > (256u << 20) || (n & (n - 1)))))
                return vk_error(-EINVAL, "block_size=%s: must be 0 (automatic) or a power of two from 1M to 256M", v);
            o->cluster_size = (uint32_t)n;
        } else if (!strcmp(kv, "compat")) {
            if (!strcmp(v, "0.10") || !strcmp(v, "v2"))
                o->version = 2;
            else if (!strcmp(v, "1.1") || !strcmp(v, "v3"))
                o->version = 3;
            else
                return vk_error(-EINVAL, "compat=%s: expected 0.10 or 1.1", v);
        } else if (!strcmp(kv, "lazy_refcounts")) {
            if (strcmp(v, "on") && strcmp(v, "off"))
                return vk_error(-EINVAL, "lazy_refcounts=%s: expected on or off", v);
            o->lazy_refcounts = !strcmp(v, "on");
        } else if (!strcmp(kv, "compression_type")) {
            if (strcmp(v, "zlib") && strcmp(v, "zstd"))
                return vk_error(-EINVAL, "compression_type=%s: expected zlib or zstd", v);
            o->compression = v;
        } else if (!strcmp(kv, "refcount_bits")) {
            char *end;
            unsigned long b = strtoul(v, &end, 10);
            if (*end || !b || b > 64 || (b & (b - 1)))
                return vk_error(-EINVAL, "refcount_bits=%s: expected a power of two up to 64", v);
            o->refcount_bits = (int)b;
        } else if (!strcmp(kv, "backing_file")) {
            o->backing_file = v;
        } else if (!strcmp(kv, "backing_fmt")) {
            o->backing_format = v;
        } else if (!strcmp(kv, "preallocation")) {
            o->prealloc = v;
        } else if (!strcmp(kv, "subformat")) {
            o->subformat = v;
        } else if (!strcmp(kv, "adapter_type")) {
            o->adapter_type = v;
        } else if (!strcmp(kv, "hwversion")) {
            o->hwversion = v;
        } else if (!strcmp(kv, "compat6") || !strcmp(kv, "zeroed_grain")) {
            if (strcmp(v, "on") && strcmp(v, "off"))
                return vk_error(-EINVAL, "%s=%s: expected on or off", kv, v);
            if (kv[0] == 'z')
                o->zeroed_grain = !strcmp(v, "on");
            else if (!strcmp(v, "on"))
                o->hwversion = "6";     /* qemu-img's compat6 */
        } else if (!strcmp(kv, "static") || !strcmp(kv, "force_size")) {
            if (strcmp(v, "on") && strcmp(v, "off"))
                return vk_error(-EINVAL, "%s=%s: expected on or off", kv, v);
            *(kv[0] == 's' ? &o->static_image : &o->force_size) = !strcmp(v, "on");
        } else {
            return vk_error(-EINVAL, "-o %s: unknown option", kv);
        }
    }
    return 0;
}

/* -f, -F, -O (OPT_CALLBACK, ctx a const char *): a format vmkit knows. */
static int format_as(const struct cli_opt *o, const char *arg, const char *what)
{
    if (!vk_format_by_name(arg))
        return vk_error(-EINVAL, "unknown %s format '%s' (raw, qcow2, vmdk, vdi, vpc, vhdx)", what, arg);
    *(const char **)o->ctx = arg;
    return 0;
}

static int image_format(const struct cli_opt *o, const char *arg)
{
    return format_as(o, arg, "image");
}

static int output_format(const struct cli_opt *o, const char *arg)
{
    return format_as(o, arg, "output");
}

static int backing_format(const struct cli_opt *o, const char *arg)
{
    return format_as(o, arg, "backing");
}

/* -t CACHE, qemu-img convert's names for the output's cache mode (ctx a
 * bool: unsafe or not).  unsafe leaves the result in the page cache, as
 * qemu-img's default does; every other mode makes it durable before it
 * gets its name, which is all a finished convert can promise (their
 * differences are about each write of a running guest). */
static int cache_opt(const struct cli_opt *o, const char *arg)
{
    static const char *const modes[] = { "none", "writeback", "writethrough", "directsync", "unsafe" };
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (!strcmp(arg, modes[i])) {
            *(bool *)o->ctx = !strcmp(arg, "unsafe");
            return 0;
        }
    return vk_error(-EINVAL, "-t %s: expected none, writeback, writethrough, directsync or unsafe", arg);
}

/* --output json|human (ctx a bool: JSON or not). */
static int output_opt(const struct cli_opt *o, const char *arg)
{
    if (strcmp(arg, "json") && strcmp(arg, "human"))
        return vk_error(-EINVAL, "--output=%s: expected json or human", arg);
    *(bool *)o->ctx = !strcmp(arg, "json");
    return 0;
}

#define OPT_FORMAT(v, h) OPT_CALLBACK('f', "format", (v), "FMT", (h), image_format)
#define OPT_JSON(v) OPT_BOOL(0, "json", (v), "print JSON (the fields of qemu-img's)"), \
    OPT_CALLBACK(0, "output", (v), "json|human", "the same as --json, or the default", output_opt)

#define CLI_CREATE_O_HELP \
    "format options key=value,... (repeatable):\n" \
    "qcow2: cluster_size=512..2M, compat=0.10|1.1,\n" \
    "lazy_refcounts=on|off, compression_type=zlib|zstd,\n" \
    "refcount_bits=1..64, preallocation=MODE;\n" \
    "vmdk: subformat=monolithicSparse|monolithicFlat|\n" \
    "twoGbMaxExtentSparse|twoGbMaxExtentFlat|streamOptimized,\n" \
    "adapter_type=ide|lsilogic|buslogic|legacyESX,\n" \
    "hwversion=N, compat6=on, zeroed_grain=on;\n" \
    "vdi: static=on (fixed); vpc: subformat=dynamic|fixed, force_size=on;\n" \
    "vhdx: subformat=dynamic|fixed, block_size=1M..256M"

/* --- create --- */
static int img_create(int argc, char **argv)
{
    struct vk_create_opts o = { 0 };
    const char *fmt = "raw";
    const struct cli_opt opts[] = {
        OPT_FORMAT(&fmt, "raw (the default), qcow2, vmdk, vdi, vpc (VHD) or vhdx"),
        OPT_STRING(0, "prealloc", &o.prealloc, "MODE", "off, metadata, falloc or full"),
        OPT_CALLBACK('o', NULL, &o, "OPTS", CLI_CREATE_O_HELP ",\nbacking_file=F, backing_fmt=FMT", create_opts),
        OPT_STRING('b', NULL, &o.backing_file, "BACKING", "backing file (relative: to FILE's directory)"),
        OPT_CALLBACK('F', NULL, &o.backing_format, "FMT", "the backing file's format (default: probe)",
                     backing_format),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img create", "FILE [SIZE]",
        "Create a disk image.  SIZE like 4G, 3950M or 4141875200; with -b it\n"
        "defaults to the backing file's size.  An existing FILE is never\n"
        "overwritten.", 1, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (o.backing_format && !vk_format_by_name(o.backing_format))   /* from -o backing_fmt= */
        return cli_usage("img create", "unknown backing format '%s'", o.backing_format);
    const char *file = a.v[0];
    if (a.n == 2) {
        if (vk_parse_size(a.v[1], &o.size) < 0)
            return cli_usage("img create", "%s", vk_errmsg());
    } else if (!o.backing_file) {
        return cli_usage("img create", "SIZE is needed without a backing file");
    }
    if (o.backing_file) {
        /* Check the backing file exists, take its size, record its format. */
        char *bpath = vk_backing_path(file, o.backing_file);
        struct vk_blockdev *b;
        if (!bpath)
            return cli_failf("out of memory");
        int r = vk_bd_open(bpath, o.backing_format, VK_OPEN_NOLOCK, &b);
        free(bpath);
        if (r < 0)
            return cli_failf("%s: backing file: %s", file, vk_errmsg_for(r));
        if (a.n == 1)
            o.size = b->size;
        if (!o.backing_format)
            o.backing_format = b->format ? b->format->name : NULL;
        vk_bd_close(b);
    }
    r = vk_bd_create(file, fmt, &o);
    if (r < 0)
        return cli_fail(r);
    char hb[32];
    printf("Formatting '%s', fmt=%s size=%llu (%s)\n", file, fmt,
           (unsigned long long)o.size, human(o.size, hb, sizeof hb));
    return EXIT_OK;
}

/* Internal snapshots, for info and snapshot -l. */
/* The listing as qemu-img snapshot -l prints it (block/qapi.c's
 * bdrv_snapshot_dump: dates in local time). */
static void snapshot_print(const struct vk_snapshot *v, size_t n)
{
    printf("Snapshot list:\n%-10s%-17s%8s%20s%13s%11s\n", "ID", "TAG", "VM SIZE", "DATE", "VM CLOCK", "ICOUNT");
    for (size_t i = 0; i < n; i++) {
        char size[32], date[32] = "", clock[48], icount[24] = "";
        time_t t = v[i].date_sec;
        struct tm tm;
        if (localtime_r(&t, &tm))
            strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", &tm);
        uint64_t ms = v[i].vm_clock_nsec / 1000000;
        snprintf(clock, sizeof clock, "%02llu:%02llu:%02llu.%03llu", (unsigned long long)(ms / 3600000),
                 (unsigned long long)(ms / 60000 % 60), (unsigned long long)(ms / 1000 % 60),
                 (unsigned long long)(ms % 1000));
        if (v[i].icount != UINT64_MAX)
            snprintf(icount, sizeof icount, "%llu", (unsigned long long)v[i].icount);
        printf("%-9s %-16s %8s%20s%13s%11s\n", v[i].id, v[i].name, human(v[i].vm_state_size, size, sizeof size),
               date, clock, icount);
    }
}

/* The "snapshots" array of qemu-img info --output=json. */
static json_t *snapshot_json(const struct vk_snapshot *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_object();
        if (v[i].icount != UINT64_MAX)
            json_object_set_new(j, "icount", cli_json_u64(v[i].icount));
        json_object_set_new(j, "vm-clock-nsec", json_integer((json_int_t)(v[i].vm_clock_nsec % 1000000000)));
        json_object_set_new(j, "name", json_string(v[i].name));
        json_object_set_new(j, "date-sec", json_integer(v[i].date_sec));
        json_object_set_new(j, "date-nsec", json_integer(v[i].date_nsec));
        json_object_set_new(j, "vm-clock-sec", json_integer((json_int_t)(v[i].vm_clock_nsec / 1000000000)));
        json_object_set_new(j, "id", json_string(v[i].id));
        json_object_set_new(j, "vm-state-size", cli_json_u64(v[i].vm_state_size));
        json_array_append_new(arr, j);
    }
    return arr;
}

/* --- info --- */
static json_t *info_json(struct vk_blockdev *bd, const struct vk_imginfo *in)
{
    json_t *j = json_object();
    json_object_set_new(j, "virtual-size", json_integer((json_int_t)in->virtual_size));
    json_object_set_new(j, "filename", json_string(bd->name));
    if (in->cluster_size)
        json_object_set_new(j, "cluster-size", json_integer(in->cluster_size));
    json_object_set_new(j, "format", json_string(in->format));
    json_object_set_new(j, "actual-size", json_integer((json_int_t)in->disk_size));
    if (in->backing_file) {
        char *full = vk_backing_path(bd->name, in->backing_file);
        json_object_set_new(j, "backing-filename", json_string(in->backing_file));
        if (full)
            json_object_set_new(j, "full-backing-filename", json_string(full));
        free(full);
        if (in->backing_format)
            json_object_set_new(j, "backing-filename-format", json_string(in->backing_format));
    }
    if (in->version) {
        json_t *d = json_object(), *fs = json_object();
        json_object_set_new(d, "compat", json_string(in->version >= 3 ? "1.1" : "0.10"));
        if (in->version >= 3) {
            json_object_set_new(d, "compression-type",
                                json_string(in->compression ? in->compression : "zlib"));
            json_object_set_new(d, "lazy-refcounts", json_boolean(in->lazy_refcounts));
            json_object_set_new(d, "corrupt", json_boolean(in->corrupt));
            json_object_set_new(d, "extended-l2", json_boolean(in->extended_l2));
        }
        json_object_set_new(d, "refcount-bits", json_integer(in->refcount_bits ? in->refcount_bits : 16));
        json_object_set_new(fs, "type", json_string(in->format));
        json_object_set_new(fs, "data", d);
        json_object_set_new(j, "format-specific", fs);
    } else if (in->format_specific) {
        json_t *d = json_loads(in->format_specific, 0, NULL), *fs = json_object();
        json_object_set_new(fs, "type", json_string(in->format));
        json_object_set_new(fs, "data", d ? d : json_object());
        json_object_set_new(j, "format-specific", fs);
    }
    json_object_set_new(j, "dirty-flag", json_boolean(in->dirty));
    struct vk_snapshot *v;
    size_t n;
    if (in->nb_snapshots > 0 && vk_snapshot_list(bd, &v, &n) == 0) {
        json_object_set_new(j, "snapshots", snapshot_json(v, n));
        vk_snapshots_free(v, n);
    }
    return j;
}

/* qemu-img's human form of format-specific data: "key-name" as "key
 * name", nested objects and arrays indented by 4. */
static void print_specific(const json_t *v, int depth)
{
    const char *key;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, key, x) {
            printf("%*s", depth * 4, "");
            for (const char *k = key; *k; k++)
                putchar(*k == '-' ? ' ' : *k);
            putchar(':');
            if (json_is_object(x) || json_is_array(x)) {
                putchar('\n');
                print_specific(x, depth + 1);
            } else {
                putchar(' ');
                print_specific(x, 0);
            }
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) {
            printf("%*s[%zu]:\n", depth * 4, "", i);
            print_specific(x, depth + 1);
        }
    } else if (json_is_string(v)) {
        printf("%s\n", json_string_value(v));
    } else if (json_is_integer(v)) {
        printf("%lld\n", (long long)json_integer_value(v));
    } else {
        printf("%s\n", json_is_true(v) ? "true" : "false");
    }
}

static void info_print(struct vk_blockdev *bd, const struct vk_imginfo *in)
{
    char hb[32];
    printf("image: %s\n", bd->name);
    printf("file format: %s\n", in->format);
    printf("virtual size: %s (%llu bytes)\n", human(in->virtual_size, hb, sizeof hb),
           (unsigned long long)in->virtual_size);
    printf("disk size: %s\n", human(in->disk_size, hb, sizeof hb));
    if (in->cluster_size)
        printf("cluster_size: %u\n", in->cluster_size);
    if (in->backing_file) {
        char *full = vk_backing_path(bd->name, in->backing_file);
        if (full && strcmp(full, in->backing_file))
            printf("backing file: %s (actual path: %s)\n", in->backing_file, full);
        else
            printf("backing file: %s\n", in->backing_file);
        free(full);
        if (in->backing_format)
            printf("backing file format: %s\n", in->backing_format);
    }
    struct vk_snapshot *v;
    size_t n;
    if (in->nb_snapshots > 0 && vk_snapshot_list(bd, &v, &n) == 0) {
        snapshot_print(v, n);
        vk_snapshots_free(v, n);
    }
    if (in->version) {
        printf("Format specific information:\n");
        printf("    compat: %s\n", in->version >= 3 ? "1.1" : "0.10");
        if (in->version >= 3) {
            printf("    compression type: %s\n", in->compression ? in->compression : "zlib");
            printf("    lazy refcounts: %s\n", in->lazy_refcounts ? "true" : "false");
        }
        printf("    refcount bits: %d\n", in->refcount_bits ? in->refcount_bits : 16);
        if (in->version >= 3) {
            printf("    corrupt: %s\n", in->corrupt ? "true" : "false");
            printf("    extended l2: %s\n", in->extended_l2 ? "true" : "false");
        }
        printf("    dirty: %s\n", in->dirty ? "true" : "false");
    } else if (in->format_specific) {
        json_t *d = json_loads(in->format_specific, 0, NULL);
        if (d) {
            printf("Format specific information:\n");
            print_specific(d, 1);
        }
        json_decref(d);
    }
}

/* A partition spec (disk.img:1): its size and where it starts. */
static int info_partition(const struct vk_target *t, const char *fmt, bool json)
{
    struct vk_blockdev *bd;
    uint64_t off, len;
    int r = vk_bd_open(t->file, fmt, 0, &bd);
    if (r < 0)
        return cli_fail(r);
    r = vk_part_locate(bd, t->part, &off, &len);
    vk_bd_close(bd);
    if (r < 0)
        return cli_fail(r);
    if (json) {
        json_t *j = json_object();
        json_object_set_new(j, "filename", json_string(t->file));
        json_object_set_new(j, "partition", json_integer(t->part));
        json_object_set_new(j, "offset", json_integer((json_int_t)off));
        json_object_set_new(j, "virtual-size", json_integer((json_int_t)len));
        return cli_print_json(j);
    }
    char hb[32];
    printf("image: %s:%u\npartition: %u of %s\n", t->file, t->part, t->part, t->file);
    printf("virtual size: %s (%llu bytes)\n", human(len, hb, sizeof hb), (unsigned long long)len);
    printf("offset: %llu bytes (sector %llu)\n", (unsigned long long)off,
           (unsigned long long)(off / 512));
    return EXIT_OK;
}

static int img_info(int argc, char **argv)
{
    const char *fmt = NULL;
    bool json = false, chain = false;
    const struct cli_opt opts[] = {
        OPT_FORMAT(&fmt, "image format (default: probe)"),
        OPT_JSON(&json),
        OPT_BOOL(0, "backing-chain", &chain, "every image of the backing chain (JSON: an array)"),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img info", "FILE|FILE:N",
        "Show an image's format, sizes, cluster size, backing file and flags.\n"
        "FILE:N shows partition N's size and byte offset in the disk.", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    const char *file = a.v[0];
    struct stat st;
    if (stat(file, &st) < 0) {
        struct vk_target t;
        if ((r = vk_target_parse(file, false, &t)) < 0)
            return cli_fail(r);
        if (t.part) {
            r = info_partition(&t, fmt, json);
            vk_target_free(&t);
            return r;
        }
        vk_target_free(&t);
    }
    struct vk_blockdev *bd;
    if ((r = vk_bd_open(file, fmt, VK_OPEN_NOLOCK | (chain ? 0 : VK_OPEN_NOBACKING), &bd)) < 0)
        return cli_fail(r);
    json_t *arr = json_array();
    for (struct vk_blockdev *b = bd; b; b = chain ? b->backing : NULL) {
        struct vk_imginfo in;
        if ((r = vk_bd_info(b, &in)) < 0)
            break;
        if (json)
            json_array_append_new(arr, info_json(b, &in));
        else {
            if (b != bd)
                printf("\n");
            info_print(b, &in);
        }
    }
    vk_bd_close(bd);
    if (r < 0) {
        json_decref(arr);
        return cli_fail(r);
    }
    if (!json) {
        json_decref(arr);
        return EXIT_OK;
    }
    if (chain)
        return cli_print_json(arr);
    json_t *one = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    return cli_print_json(one);
}

/* --- check --- */
/* --repair leaks|all (ctx an int: VK_REPAIR_*). */
static int repair_opt(const struct cli_opt *o, const char *arg)
{
    if (strcmp(arg, "leaks") && strcmp(arg, "all"))
        return vk_error(-EINVAL, "--repair %s: expected leaks or all", arg);
    *(int *)o->ctx = !strcmp(arg, "leaks") ? VK_REPAIR_LEAKS : VK_REPAIR_ALL;
    return 0;
}

static int img_check(int argc, char **argv)
{
    const char *fmt = NULL;
    bool json = false;
    int repair = 0;
    const struct cli_opt opts[] = {
        OPT_FORMAT(&fmt, "image format (default: probe)"),
        OPT_JSON(&json),
        OPT_CALLBACK('r', "repair", &repair, "leaks|all", "repair leaked clusters, or everything", repair_opt),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img check", "FILE",
        "Check an image's metadata (qcow2 refcounts and tables).\n"
        "Exit status, as qemu-img check: 0 no errors, 1 the check could not\n"
        "be completed (or usage: 2 with a usage message), 2 corruptions\n"
        "were found, 3 only leaked clusters were found.", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    const char *file = a.v[0];
    struct vk_blockdev *bd;
    struct vk_check_report rep;
    int flags = VK_OPEN_CHECK | VK_OPEN_NOBACKING | (repair ? VK_OPEN_RDWR : 0);
    if ((r = vk_bd_open(file, fmt, flags, &bd)) < 0)
        return cli_fail(r);
    const char *fname = bd->format ? bd->format->name : "raw";
    r = vk_bd_check(bd, &rep, repair);
    int cl = vk_bd_close(bd);
    if (r < 0)
        return cli_fail(r);
    if (cl < 0)
        return cli_fail(cl);
    if (json) {
        json_t *j = json_object();
        json_object_set_new(j, "image-end-offset", json_integer((json_int_t)rep.image_end_offset));
        json_object_set_new(j, "total-clusters", json_integer((json_int_t)rep.total_clusters));
        json_object_set_new(j, "check-errors", json_integer((json_int_t)rep.check_errors));
        json_object_set_new(j, "allocated-clusters", json_integer((json_int_t)rep.allocated_clusters));
        json_object_set_new(j, "filename", json_string(file));
        json_object_set_new(j, "format", json_string(fname));
        json_object_set_new(j, "fragmented-clusters", json_integer((json_int_t)rep.fragmented_clusters));
        json_object_set_new(j, "compressed-clusters", json_integer((json_int_t)rep.compressed_clusters));
        json_object_set_new(j, "leaks", json_integer((json_int_t)rep.leaks));
        json_object_set_new(j, "leaks-fixed", json_integer((json_int_t)rep.leaks_fixed));
        json_object_set_new(j, "corruptions", json_integer((json_int_t)rep.corruptions));
        json_object_set_new(j, "corruptions-fixed", json_integer((json_int_t)rep.corruptions_fixed));
        cli_print_json(j);
    } else {
        if (rep.leaks_fixed || rep.corruptions_fixed)
            printf("The following inconsistencies were found and repaired:\n\n"
                   "    %llu leaked clusters\n    %llu corruptions\n\n"
                   "Double checking the fixed image now...\n",
                   (unsigned long long)rep.leaks_fixed, (unsigned long long)rep.corruptions_fixed);
        if (rep.corruptions)
            printf("\n%llu errors were found on the image.\n"
                   "Data may be corrupted, or further writes to the image may corrupt it.\n",
                   (unsigned long long)rep.corruptions);
        if (rep.leaks)
            printf("\n%llu leaked clusters were found on the image.\n"
                   "This means waste of disk space, but no harm to data.\n",
                   (unsigned long long)rep.leaks);
        if (rep.check_errors)
            printf("\n%llu internal errors have occurred during the check.\n",
                   (unsigned long long)rep.check_errors);
        if (!rep.corruptions && !rep.leaks && !rep.check_errors)
            printf("No errors were found on the image.\n");
        if (rep.total_clusters) {
            double t = (double)rep.total_clusters, a = (double)rep.allocated_clusters;
            printf("%llu/%llu = %.2f%% allocated, %.2f%% fragmented, %.2f%% compressed clusters\n",
                   (unsigned long long)rep.allocated_clusters, (unsigned long long)rep.total_clusters,
                   100.0 * a / t, a ? 100.0 * (double)rep.fragmented_clusters / a : 0.0,
                   a ? 100.0 * (double)rep.compressed_clusters / a : 0.0);
        }
        if (rep.image_end_offset)
            printf("Image end offset: %llu\n", (unsigned long long)rep.image_end_offset);
    }
    if (rep.check_errors)
        return 1;
    if (rep.corruptions)
        return 2;
    if (rep.leaks)
        return 3;
    return EXIT_OK;
}

/* --- map --- */
struct map_ctx {
    bool json;
    json_t *arr;
};

static int map_one(const struct vk_map_run *run, void *ctx)
{
    struct map_ctx *m = ctx;
    if (m->json) {
        json_t *j = json_object();
        json_object_set_new(j, "start", json_integer((json_int_t)run->start));
        json_object_set_new(j, "length", json_integer((json_int_t)run->length));
        json_object_set_new(j, "depth", json_integer(run->depth));
        json_object_set_new(j, "present", json_boolean(run->present));
        json_object_set_new(j, "zero", json_boolean(run->status & VK_BS_ZERO));
        json_object_set_new(j, "data", json_boolean(run->status & VK_BS_DATA));
        json_object_set_new(j, "compressed", json_boolean(run->status & VK_BS_COMPRESSED));
        if ((run->status & VK_BS_OFFSET_VALID) && !(run->status & VK_BS_COMPRESSED))
            json_object_set_new(j, "offset", json_integer((json_int_t)run->host_off));
        return json_array_append_new(m->arr, j) < 0 ? -ENOMEM : 0;
    }
    /* Human form, as qemu-img map: only ranges with data in some file. */
    if ((run->status & VK_BS_DATA) && (run->status & VK_BS_OFFSET_VALID) &&
        !(run->status & VK_BS_COMPRESSED))
        printf("%#-16llx%#-16llx%#-16llx%s\n", (unsigned long long)run->start,
               (unsigned long long)run->length, (unsigned long long)run->host_off, run->file);
    return 0;
}

static int img_map(int argc, char **argv)
{
    const char *fmt = NULL;
    struct map_ctx m = { 0 };
    const struct cli_opt opts[] = {
        OPT_FORMAT(&fmt, "image format (default: probe)"),
        OPT_JSON(&m.json),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img map", "FILE",
        "Show which ranges of the disk hold data, read as zeroes or come\n"
        "from a backing file, and where they are in the image file.", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    struct vk_blockdev *bd;
    if ((r = vk_open_disk_spec(a.v[0], fmt, VK_OPEN_NOLOCK, &bd)) < 0)
        return cli_fail(r);
    if (m.json)
        m.arr = json_array();
    else
        printf("%-16s%-16s%-16s%s\n", "Offset", "Length", "Mapped to", "File");
    r = vk_img_map(bd, map_one, &m);
    vk_bd_close(bd);
    if (r < 0) {
        json_decref(m.arr);
        return cli_fail(r);
    }
    return m.json ? cli_print_json(m.arr) : EXIT_OK;
}

/* --- convert --- */
/* The temporary output convert fills, removed if the user interrupts it
 * (DST itself appears only when the copy is complete). */
static const char *volatile convert_dst;

static void convert_interrupted(int sig)
{
    if (convert_dst)
        unlink(convert_dst);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int img_convert(int argc, char **argv)
{
    struct vk_create_opts o = { 0 };
    struct vk_copy_opts co = { 0 };
    const char *sfmt = NULL, *ofmt = "raw";
    bool progress = false;
    const struct cli_opt opts[] = {
        OPT_FORMAT(&sfmt, "SRC's format (default: probe)"),
        OPT_CALLBACK('O', NULL, &ofmt, "FMT", "DST's format: raw (the default), qcow2, vmdk, vdi, vpc (VHD) or vhdx", output_format),
        OPT_BOOL('c', NULL, &co.compress, "compress every cluster (qcow2)"),
        OPT_CALLBACK('o', NULL, &o, "OPTS", CLI_CREATE_O_HELP, create_opts),
        OPT_BOOL('p', NULL, &progress, "draw a progress bar (default: on a terminal)"),
        OPT_BOOL(0, "sync", &co.sync_each, "also sync each metadata update on the way (slower)"),
        OPT_CALLBACK('t', NULL, &co.unsafe, "CACHE", "unsafe: do not sync DST (qemu-img's default); "
                     "writeback (the default), none, writethrough, directsync: sync it", cache_opt),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img convert", "SRC DST",
        "Copy SRC (an image, or a partition as disk.img:N) into a new image DST.\n"
        "Holes and all-zero blocks are not written, so raw output stays sparse.\n"
        "The copy is written to a hidden temporary file next to DST\n"
        "(.DST.vmkit-PID-N), synced, and renamed to DST only when complete:\n"
        "an interrupted convert never leaves a file at DST, and a power cut\n"
        "leaves none or a complete one.  With -t unsafe nothing is synced\n"
        "(faster; as qemu-img convert by default): after a power cut DST may\n"
        "be missing, empty or partly written.\n"
        "An existing DST is refused.", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (o.backing_file)
        return cli_usage("img convert", "backing_file is not supported by convert");
    if (co.unsafe && co.sync_each)
        return cli_usage("img convert", "--sync and -t unsafe contradict each other");
    const char *src = a.v[0], *dst = a.v[1];
    struct stat st;
    if (lstat(dst, &st) == 0)
        return cli_failf("%s: file exists (convert never overwrites; remove it first)", dst);

    struct vk_blockdev *in;
    if ((r = vk_open_disk_spec(src, sfmt, 0, &in)) < 0)
        return cli_fail(r);
    o.size = in->size;
    struct vk_progress pb;
    vk_progress_init(&pb, STDERR_FILENO, progress);
    co.progress = vk_progress_update;
    co.progress_ctx = &pb;
    co.tmp_path = &convert_dst;
    signal(SIGINT, convert_interrupted);
    signal(SIGTERM, convert_interrupted);
    signal(SIGHUP, convert_interrupted);
    r = vk_img_copy_new(in, dst, ofmt, &o, &co);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    vk_progress_end(&pb);
    vk_bd_close(in);
    return r < 0 ? cli_fail(r) : EXIT_OK;
}

/* --- resize --- */
static int img_resize(int argc, char **argv)
{
    const char *fmt = NULL;
    bool shrink = false;
    const struct cli_opt opts[] = {
        OPT_FORMAT(&fmt, "image format (default: probe)"),
        OPT_BOOL(0, "shrink", &shrink, "allow shrinking over allocated data (it is lost)"),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img resize", "FILE [+|-]SIZE",
        "Set the virtual size to SIZE, or grow/shrink it by SIZE.  Shrinking\n"
        "over allocated data needs --shrink (the data past the end is lost).", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    const char *file = a.v[0], *sizearg = a.v[1];
    int sign = 0;
    if (*sizearg == '+' || *sizearg == '-')
        sign = *sizearg++ == '+' ? 1 : -1;
    uint64_t n;
    if (vk_parse_size(sizearg, &n) < 0)
        return cli_usage("img resize", "%s", vk_errmsg());

    struct vk_blockdev *bd;
    if ((r = vk_bd_open(file, fmt, VK_OPEN_RDWR | VK_OPEN_NOBACKING, &bd)) < 0)
        return cli_fail(r);
    uint64_t size = n, cur = bd->size;
    if (sign > 0)
        size = cur + n;
    if (sign < 0) {
        if (n > cur) {
            vk_bd_close(bd);
            return cli_failf("%s: cannot shrink %llu bytes by %llu bytes", file,
                             (unsigned long long)cur, (unsigned long long)n);
        }
        size = cur - n;
    }
    if (sign > 0 && size < n) {
        vk_bd_close(bd);
        return cli_failf("%s: size overflows", file);
    }
    r = vk_bd_truncate(bd, size, shrink);
    int cl = vk_bd_close(bd);
    if (r < 0)
        return cli_fail(r);
    if (cl < 0)
        return cli_fail(cl);
    printf("Image resized.\n");
    return EXIT_OK;
}

/* --- compare --- */
static int img_compare(int argc, char **argv)
{
    const char *fa = NULL, *fb = NULL;
    const struct cli_opt opts[] = {
        OPT_FORMAT(&fa, "A's format (default: probe)"),
        OPT_CALLBACK('F', NULL, &fb, "FMT", "B's format (default: -f, else probe)", image_format),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img compare", "A B",
        "Compare what a guest sees in A and B (a longer image must be zero\n"
        "past the end of the shorter).  Exit status as qemu-img compare:\n"
        "0 identical, 1 different (prints the offset of the first differing\n"
        "512-byte sector, as qemu-img does), 2 error or usage error.", 2, 2 };
    struct cli_args args;
    int r = cli_parse(&spec, opts, argc, argv, &args);
    if (r != CLI_PARSED)
        return r;
    struct vk_blockdev *a, *b;
    if ((r = vk_open_disk_spec(args.v[0], fa, 0, &a)) < 0) {
        cli_fail(r);
        return 2;
    }
    if ((r = vk_open_disk_spec(args.v[1], fb ? fb : fa, 0, &b)) < 0) {
        vk_bd_close(a);
        cli_fail(r);
        return 2;
    }
    uint64_t at = 0;
    bool size_differs = a->size != b->size;
    r = vk_img_compare(a, b, &at);
    vk_bd_close(a);
    vk_bd_close(b);
    if (r < 0) {
        cli_fail(r);
        return 2;
    }
    if (size_differs)
        printf("Warning: Image size mismatch!\n");
    if (r == 1) {
        /* The start of the first differing sector, as qemu-img reports it. */
        printf("Content mismatch at offset %llu!\n", (unsigned long long)(at / 512 * 512));
        return 1;
    }
    printf("Images are identical.\n");
    return EXIT_OK;
}

/* --- rebase --- */
static int img_rebase(int argc, char **argv)
{
    const char *fmt = NULL, *nb = NULL, *nf = NULL;
    bool unsafe = false;
    const struct cli_opt opts[] = {
        OPT_FORMAT(&fmt, "FILE's format (default: probe)"),
        OPT_STRING('b', NULL, &nb, "NEWBACKING", "the new backing file (\"\": none)"),
        OPT_CALLBACK('F', NULL, &nf, "FMT", "NEWBACKING's format (default: probe)", image_format),
        OPT_BOOL('u', NULL, &unsafe, "unsafe: only rewrite the header"),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img rebase", "-b NEWBACKING FILE",
        "Make FILE use NEWBACKING (\"\" for none).  Safe mode first copies\n"
        "into FILE every range where the old and new backing differ, so the\n"
        "guest sees the same disk; -u only rewrites the header.  A relative\n"
        "NEWBACKING is relative to FILE's directory.", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (!nb)
        return cli_usage("img rebase", "expected -b NEWBACKING and one FILE");
    if ((r = vk_img_rebase(a.v[0], fmt, nb, nf, unsafe)) < 0)
        return cli_fail(r);
    return EXIT_OK;
}

/* --- commit --- */
static int img_commit(int argc, char **argv)
{
    const char *fmt = NULL;
    bool progress = false, keep = false;
    const struct cli_opt opts[] = {
        OPT_FORMAT(&fmt, "FILE's format (default: probe)"),
        OPT_BOOL('p', NULL, &progress, "draw a progress bar"),
        OPT_BOOL('d', NULL, &keep, "leave FILE unchanged (the default; as qemu-img -d)"),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img commit", "FILE",
        "Write everything FILE holds itself into its backing file.  FILE is\n"
        "left unchanged (like qemu-img commit -d), so it still shows the same\n"
        "disk; delete or recreate it if it is no longer wanted.", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    struct vk_progress pb;
    vk_progress_init(&pb, STDERR_FILENO, progress);
    r = vk_img_commit(a.v[0], fmt, vk_progress_update, &pb);
    vk_progress_end(&pb);
    if (r < 0)
        return cli_fail(r);
    printf("Image committed.\n");
    return EXIT_OK;
}

/* --- snapshot --- */
static int img_snapshot(int argc, char **argv)
{
    const char *fmt = NULL, *create = NULL, *apply = NULL, *del = NULL;
    bool list = false, json = false;
    const struct cli_opt opts[] = {
        OPT_STRING('c', "create", &create, "NAME", "take a snapshot called NAME"),
        OPT_BOOL('l', "list", &list, "list the snapshots"),
        OPT_STRING('a', "apply", &apply, "NAME", "revert the disk to snapshot NAME (an ID or a name)"),
        OPT_STRING('d', "delete", &del, "NAME", "delete snapshot NAME (an ID or a name)"),
        OPT_FORMAT(&fmt, "image format (default: probe; snapshots need qcow2)"),
        OPT_JSON(&json),
        OPT_END(),
    };
    static const struct cli_spec spec = { "img snapshot", "-c NAME|-l|-a NAME|-d NAME FILE",
        "Create, list, apply or delete internal snapshots of a qcow2 image,\n"
        "as qemu-img snapshot (each tool reads and applies the other's).\n"
        "-a reverts the disk to the snapshot, which stays; the image must not\n"
        "be in use.", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (!!create + list + !!apply + !!del != 1)
        return cli_usage("img snapshot", "give exactly one of -c, -l, -a, -d");
    if (json && !list)
        return cli_usage("img snapshot", "--json goes with -l");
    struct vk_blockdev *bd;
    int flags = VK_OPEN_NOBACKING | (list ? VK_OPEN_NOLOCK : VK_OPEN_RDWR);
    if ((r = vk_bd_open(a.v[0], fmt, flags, &bd)) < 0)
        return cli_fail(r);
    struct vk_snapshot *v = NULL;
    size_t n = 0;
    if (list)
        r = vk_snapshot_list(bd, &v, &n);
    else if (create)
        r = vk_snapshot_create(bd, create);
    else if (apply)
        r = vk_snapshot_apply(bd, apply);
    else
        r = vk_snapshot_delete(bd, del);
    int cl = vk_bd_close(bd);
    if (r < 0 || cl < 0) {
        vk_snapshots_free(v, n);
        return cli_fail(r < 0 ? r : cl);
    }
    if (list && json)
        r = cli_print_json(snapshot_json(v, n));
    else if (list && n)
        snapshot_print(v, n);
    vk_snapshots_free(v, n);
    return list && json ? r : EXIT_OK;
}

static const struct cli_command img_commands[] = {
    { "create",  img_create,  "create an image (raw, qcow2, vmdk, vdi, vpc, vhdx)" },
    { "info",    img_info,    "show format, sizes, backing chain (or a partition's place)" },
    { "check",   img_check,   "check (and repair) an image's metadata" },
    { "map",     img_map,     "show allocated, zero and backing ranges" },
    { "convert", img_convert, "copy an image into a new one (sparse, optionally compressed)" },
    { "resize",  img_resize,  "grow or shrink an image" },
    { "compare", img_compare, "compare what a guest sees in two images" },
    { "rebase",  img_rebase,  "change an image's backing file" },
    { "commit",  img_commit,  "write an overlay's data into its backing file" },
    { "snapshot", img_snapshot, "create, list, apply or delete internal snapshots (qcow2)" },
    { NULL, NULL, NULL },
};

int cmd_img(int argc, char **argv)
{
    return cli_dispatch("img", img_commands, argc, argv);
}
