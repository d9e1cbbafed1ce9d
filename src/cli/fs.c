/* vmkit fs: filesystems inside images, without mounting.  Every verb is
 * generic over fs/fs.h, so ext and FAT behave alike. */
#include "cli/cli.h"
#include "cli/opt.h"

#include "block/blockdev.h"
#include "fs/fs.h"
#include "fs/fsck.h"
#include "fs/iso9660.h"
#include "fs/path.h"
#include "fs/populate.h"
#include "fs/walk.h"
#include "part/target.h"
#include "util/err.h"
#include "util/size.h"
#include "util/str.h"
#include "util/utf16.h"
#include "util/vec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* An open TARGET[:PATH]: the device, its mounted filesystem, the path. */
struct tgt {
    struct vk_blockdev *bd;
    struct vk_fs *fs;
    char path[4096];
};

/* The group's options, accepted before the verb or after it by every verb:
 * --codepage N (FAT short names), --format FMT (the image's format, e.g.
 * raw for bytes that look like another). */
static const char *opt_codepage, *opt_format;
static const struct cli_opt group_opts[] = {
    OPT_STRING(0, "codepage", &opt_codepage, "N", "DOS code page of FAT short names (default: 437)"),
    OPT_STRING(0, "format", &opt_format, "FMT", "the image's format (default: probe; raw: the bytes as they are)"),
    OPT_END(),
};

/* Parse a verb's argv against opts (which include group_opts).  On
 * CLI_PARSED the operands are argv[1..*argc); otherwise the exit status. */
static int parse(const struct cli_spec *spec, const struct cli_opt *opts, int *argc, char **argv)
{
    struct cli_args a;
    int r = cli_parse(spec, opts, *argc, argv, &a);
    if (r == CLI_PARSED)
        *argc = a.n + 1;
    return r;
}

/* A verb with only the group's options. */
static int parse_plain(const struct cli_spec *spec, int *argc, char **argv)
{
    const struct cli_opt opts[] = { OPT_INCLUDE(group_opts), OPT_END() };
    return parse(spec, opts, argc, argv);
}

#define PARSE(spec, opts)                                   \
    do {                                                    \
        int parsed_ = parse((spec), (opts), &argc, argv);   \
        if (parsed_ != CLI_PARSED)                          \
            return parsed_;                                 \
    } while (0)
#define PARSE_PLAIN(spec)                                   \
    do {                                                    \
        int parsed_ = parse_plain((spec), &argc, argv);     \
        if (parsed_ != CLI_PARSED)                          \
            return parsed_;                                 \
    } while (0)

/* Apply the driver options given on the command line to a mount. */
static int fs_options(struct vk_fs *fs)
{
    return opt_codepage ? vk_fs_set_option(fs, "codepage", opt_codepage) : 0;
}

static int tgt_mount(struct tgt *t, bool rw);

static int tgt_open(const char *spec, bool rw, bool need_path, struct tgt *t)
{
    struct vk_target vt;
    memset(t, 0, sizeof *t);
    int r = vk_target_parse(spec, true, &vt);
    if (r < 0)
        return r;
    if (need_path && !vt.path) {
        vk_target_free(&vt);
        return vk_error(-EINVAL, "%s: no path inside the image (write TARGET:/PATH)", spec);
    }
    if (vt.path && (r = vk_path_normalize(vt.path, t->path, sizeof t->path)) < 0) {
        vk_target_free(&vt);
        return r;
    }
    if (!vt.path)
        strcpy(t->path, "/");
    r = vk_target_open(&vt, opt_format, rw ? VK_OPEN_RDWR : 0, &t->bd);
    vk_target_free(&vt);
    return r < 0 ? r : tgt_mount(t, rw);
}

/* Mount t->bd (closed here on failure) into t->fs. */
static int tgt_mount(struct tgt *t, bool rw)
{
    int r;
    if ((r = vk_fs_mount(t->bd, rw, &t->fs)) < 0 || (r = fs_options(t->fs)) < 0) {
        if (t->fs)
            vk_fs_unmount(t->fs);
        t->fs = NULL;
        vk_bd_close(t->bd);
        t->bd = NULL;
        return r;
    }
    return 0;
}

/* Unmount and close; returns r, or the first error of closing. */
static int tgt_close(struct tgt *t, int r)
{
    if (t->fs) {
        int u = vk_fs_unmount(t->fs);
        if (r >= 0 && u < 0)
            r = u;
    }
    if (t->bd) {
        int c = vk_bd_close(t->bd);
        if (r >= 0 && c < 0)
            r = c;
    }
    return r;
}

static int done(struct tgt *t, int r)
{
    r = tgt_close(t, r);
    return r < 0 ? cli_fail(r) : EXIT_OK;
}

/* ---- names: bytes, shown escaped ----
 * A name is any bytes but '/' and NUL.  Plain output escapes what a
 * terminal or a line-based script cannot take as it is, as GNU ls
 * --quoting-style=escape does (except spaces, kept): bytes that are not
 * UTF-8 and control characters as \ooo or \n-style, a backslash as \\.
 * Bash's $'...' turns such a name back into its bytes.  In JSON a name
 * that is not UTF-8 (which JSON cannot carry) is given escaped the same
 * way, with its exact bytes in base64 in a second member KEY_base64. */

static bool is_utf8(const char *s)
{
    uint32_t c;
    for (size_t k; *s; s += k)
        if (!(k = vk_utf8_decode(s, &c)))
            return false;
    return true;
}

/* s escaped (malloc'd; NULL when out of memory). */
static char *escape_name(const char *s)
{
    size_t cap = strlen(s) * 4 + 1, o = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    while (*s) {
        uint32_t c;
        size_t k = vk_utf8_decode(s, &c);
        const char *esc = NULL;
        switch (k == 1 ? c : 0x100) {
        case '\\': esc = "\\\\"; break;
        case '\a': esc = "\\a"; break;
        case '\b': esc = "\\b"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\v': esc = "\\v"; break;
        case '\f': esc = "\\f"; break;
        case '\r': esc = "\\r"; break;
        }
        if (esc) {
            o += (size_t)sprintf(out + o, "%s", esc);
            s++;
        } else if (!k || (k == 1 && (c < 0x20 || c == 0x7f))) {
            o += (size_t)sprintf(out + o, "\\%03o", (unsigned char)*s);
            s++;
        } else {
            memcpy(out + o, s, k);
            o += k;
            s += k;
        }
    }
    out[o] = 0;
    return out;
}

/* Print s escaped (see above). */
static void put_name(const char *s)
{
    char *e = escape_name(s);
    fputs(e ? e : "?", stdout);
    free(e);
}

/* o[key] = s, as described above.  -ENOMEM when out of memory. */
static int json_set_name(json_t *o, const char *key, const char *s)
{
    if (is_utf8(s))
        return json_object_set_new(o, key, json_string(s)) < 0 ? -ENOMEM : 0;
    char *e = escape_name(s);
    size_t n = strlen(s);
    unsigned char *b = malloc(4 * ((n + 2) / 3) + 1);
    char k[64];
    snprintf(k, sizeof k, "%s_base64", key);
    int r = -ENOMEM;
    if (e && b) {
        EVP_EncodeBlock(b, (const unsigned char *)s, (int)n);
        if (json_object_set_new(o, key, json_string(e)) == 0 &&
            json_object_set_new(o, k, json_string((char *)b)) == 0)
            r = 0;
    }
    free(e);
    free(b);
    return r;
}

/* ---- mkfs, probe, df ---- */

/* mkfs's number options: each callback range-checks into its field. */
static int block_size_opt(const struct cli_opt *o, const char *arg)
{
    char *end;
    unsigned long v = strtoul(arg, &end, 10);
    if (*end || !v || v > 65536)
        return vk_error(-EINVAL, "bad block size '%s'", arg);
    *(uint32_t *)o->ctx = (uint32_t)v;
    return 0;
}

static int inodes_opt(const struct cli_opt *o, const char *arg)
{
    char *end;
    unsigned long long v = strtoull(arg, &end, 10);
    if (*end || !v || arg[0] == '-')
        return vk_error(-EINVAL, "bad inode count '%s'", arg);
    *(uint64_t *)o->ctx = v;
    return 0;
}

static int reserved_opt(const struct cli_opt *o, const char *arg)
{
    char *end;
    double v = strtod(arg, &end);
    if (end == arg || *end || !(v >= 0 && v <= 50))
        return vk_error(-EINVAL, "bad reserved percentage '%s' (0-50)", arg);
    *(double *)o->ctx = v;
    return 0;
}

static int fat_bits_opt(const struct cli_opt *o, const char *arg)
{
    if (strcmp(arg, "12") && strcmp(arg, "16") && strcmp(arg, "32"))
        return vk_error(-EINVAL, "-F wants 12, 16 or 32, not '%s'", arg);
    *(int *)o->ctx = atoi(arg);
    return 0;
}

static int cluster_size_opt(const struct cli_opt *o, const char *arg)
{
    uint64_t cs;
    if (vk_parse_size(arg, &cs) < 0 || !cs || cs > UINT32_MAX)
        return vk_error(-EINVAL, "bad cluster size '%s' (bytes, e.g. 4096 or 4K)", arg);
    *(uint32_t *)o->ctx = (uint32_t)cs;
    return 0;
}

static int boot_load_size_opt(const struct cli_opt *o, const char *arg)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*end || v < 1 || v > 65535)
        return vk_error(-EINVAL, "bad boot load size '%s' (1-65535 sectors)", arg);
    *(int *)o->ctx = (int)v;
    return 0;
}

static int fs_mkfs(int argc, char **argv)
{
    struct vk_mkfs_opts o = { .type = NULL, .reserved_pct = -1 };
    const char *from = NULL, *owner = NULL;
    struct vk_iso_mkfs_opts iso = { .boot_info_table = true };
    bool force = false, no_info = false;
    const struct cli_opt opts[] = {
        OPT_STRING('t', "type", &o.type, "TYPE", "ext2, ext3, ext4, vfat, swap or iso9660 (required)"),
        OPT_STRING('L', "label", &o.label, "LABEL", "volume label (ISO: volume id)"),
        OPT_STRING('U', "uuid", &o.uuid, "UUID", "filesystem UUID (vfat: XXXX-XXXX; ISO: YYYY-MM-DD-HH-MM-SS-cc)"),
        OPT_CALLBACK('b', "block-size", &o.block_size, "BS", "ext block size in bytes", block_size_opt),
        OPT_CALLBACK('N', "inodes", &o.inodes, "INODES", "ext inode count", inodes_opt),
        OPT_CALLBACK(0, "reserved", &o.reserved_pct, "PCT", "ext blocks reserved for root, 0-50 %", reserved_opt),
        OPT_CALLBACK('F', "fat-bits", &o.fat_bits, "12|16|32", "FAT type (default: by size, as mkfs.fat)", fat_bits_opt),
        OPT_CALLBACK('c', "cluster-size", &o.cluster_size, "BYTES", "FAT cluster size (4096 or 4K)", cluster_size_opt),
        OPT_STRING(0, "from", &from, "DIR|TAR", "fill it from a directory or a tar (.gz/.xz/.zst)"),
        OPT_STRING(0, "owner", &owner, "U:G", "every file owned by U:G (rootless builds)"),
        OPT_BOOL(0, "force", &force, "make it over a whole disk that holds a partition table"),
        OPT_STRING(0, "boot", &iso.boot, "IMG", "ISO: El Torito no-emulation boot image (a path in the ISO)"),
        OPT_STRING(0, "boot-catalog", &iso.boot_catalog, "CAT", "ISO: the boot catalog's path"),
        OPT_CALLBACK(0, "boot-load-size", &iso.boot_load_size, "N", "ISO: sectors the BIOS loads (1-65535)", boot_load_size_opt),
        OPT_BOOL(0, "no-boot-info-table", &no_info, "ISO: do not patch isolinux's boot info table"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "fs mkfs", "TARGET",
        "Make a filesystem on TARGET (an image, DISK:N, or OUT.iso for iso9660),\n"
        "sized to exactly the partition.", 1, 1 };
    PARSE(&spec, opts);
    if (no_info)
        iso.boot_info_table = false;
    if (!o.type)
        return cli_usage("fs mkfs", "-t ext2|ext3|ext4|vfat|swap|iso9660 is required");
    const int first = 1;    /* the first operand */
    if (!strcmp(o.type, "iso9660")) {
        if (owner)
            return cli_usage("fs mkfs", "--owner is not supported with -t iso9660 (owners come from the source)");
        iso.from = from;
        iso.volid = o.label;
        iso.uuid = o.uuid;
        return cli_fs_mkfs_iso(argv[first], opt_format, &iso, force);
    }
    if (iso.boot || iso.boot_catalog)
        return cli_usage("fs mkfs", "--boot is for -t iso9660");
    struct vk_populate_opts po = { .force_owner = false };
    if (owner) {
        if (vk_parse_owner(owner, &po.uid, &po.gid) < 0)
            return cli_usage("fs mkfs", "--owner: %s", vk_errmsg());
        po.force_owner = true;
    }
    struct vk_blockdev *bd;
    int r = vk_open_disk_spec(argv[first], opt_format, VK_OPEN_RDWR, &bd);
    if (r < 0)
        return cli_fail(r);
    /* A whole disk holding a partition table is almost always a mistake
     * for "disk:1": refuse to wipe the table unless told to. */
    uint64_t po_off, po_len;
    if (!force && !strchr(bd->name, ':') && vk_part_locate(bd, 1, &po_off, &po_len) == 0) {
        vk_bd_close(bd);
        return cli_failf("%s: holds a partition table; name a partition (%s:1) or pass --force "
                         "to make the filesystem over the whole disk", argv[first], argv[first]);
    }
    vk_error_clear();
    r = vk_fs_mkfs(bd, &o);
    if (r >= 0 && from) {
        struct tgt t = { .bd = bd };
        if ((r = vk_fs_mount(bd, true, &t.fs)) >= 0) {
            po.fresh = true;
            if ((r = fs_options(t.fs)) >= 0)
                r = vk_populate(t.fs, "/", from, &po);
            int u = vk_fs_unmount(t.fs);
            if (r >= 0)
                r = u;
        }
    }
    int cl = vk_bd_close(bd);
    if (r >= 0)
        r = cl;
    return r < 0 ? cli_fail(r) : EXIT_OK;
}

static int fs_probe(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = { OPT_BOOL(0, "json", &json, "print JSON"), OPT_INCLUDE(group_opts), OPT_END() };
    static const struct cli_spec spec = { "fs probe", "TARGET", "Type, label, UUID, size and space used (as blkid).", 1, 1 };
    PARSE(&spec, opts);
    struct vk_blockdev *bd;
    struct vk_fsprobe p;
    int r = vk_open_disk_spec(argv[1], opt_format, 0, &bd);
    if (r < 0)
        return cli_fail(r);
    memset(&p, 0, sizeof p);
    r = vk_fs_probe(bd, &p, NULL);
    if (r < 0) {
        vk_bd_close(bd);
        return cli_fail(r);
    }
    bool iso = !strcmp(p.type, "iso9660");
    if (json) {
        json_t *o = json_pack("{s:s}", "type", p.type);
        if (o && (json_set_name(o, "label", p.label) < 0 ||
                  json_object_update_new(o, json_pack("{s:s, s:o}", "uuid", p.uuid,
                                                      "size", cli_json_u64(p.size))) < 0)) {
            json_decref(o);
            o = NULL;
        }
        if (o && p.used_known)
            json_object_set_new(o, "used", cli_json_u64(p.used));
        if (iso)
            cli_fs_probe_iso(bd, o);
        vk_bd_close(bd);
        return cli_print_json(o);
    }
    printf("TYPE=\"%s\"\n", p.type);
    if (p.label[0]) {
        fputs("LABEL=\"", stdout);
        put_name(p.label);
        fputs("\"\n", stdout);
    }
    if (p.uuid[0])
        printf("UUID=\"%s\"\n", p.uuid);
    printf("SIZE=%llu\n", (unsigned long long)p.size);
    if (p.used_known)
        printf("USED=%llu\n", (unsigned long long)p.used);
    if (iso)
        cli_fs_probe_iso(bd, NULL);
    vk_bd_close(bd);
    return EXIT_OK;
}

static int fs_df(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = { OPT_BOOL(0, "json", &json, "print JSON"), OPT_INCLUDE(group_opts), OPT_END() };
    static const struct cli_spec spec = { "fs df", "TARGET", "Space and inodes, total, used and free (as df).", 1, 1 };
    PARSE(&spec, opts);
    struct tgt t;
    struct vk_statfs s;
    int r = tgt_open(argv[1], false, false, &t);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_fs_statfs(t.fs, &s)) < 0)
        return done(&t, r);
    tgt_close(&t, 0);
    uint64_t bs = s.block_size;
    if (json) {
        json_t *o = json_pack("{s:s}", "type", s.type);
        if (o && json_set_name(o, "label", s.label) < 0) {
            json_decref(o);
            return cli_print_json(NULL);
        }
        json_object_update_new(o, json_pack("{s:s, s:i, s:o, s:o, s:o, s:o, s:o, s:o}",
            "uuid", s.uuid, "block_size", (int)s.block_size,
            "size", cli_json_u64(s.blocks * bs), "used", cli_json_u64((s.blocks - s.blocks_free) * bs),
            "free", cli_json_u64(s.blocks_free * bs), "avail", cli_json_u64(s.blocks_avail * bs),
            "inodes", cli_json_u64(s.files), "inodes_free", cli_json_u64(s.files_free)));
        return cli_print_json(o);
    }
    printf("%-8s %14s %14s %14s %5s %10s %10s\n", "Type", "Size", "Used", "Avail", "Use%", "Inodes", "IFree");
    uint64_t used = s.blocks - s.blocks_free;
    printf("%-8s %14llu %14llu %14llu %4llu%% %10llu %10llu\n", s.type,
           (unsigned long long)(s.blocks * bs), (unsigned long long)(used * bs),
           (unsigned long long)(s.blocks_avail * bs),
           (unsigned long long)(s.blocks ? (used * 100 + s.blocks - 1) / s.blocks : 0),
           (unsigned long long)s.files, (unsigned long long)s.files_free);
    return EXIT_OK;
}

/* ---- ls, stat ---- */

static void mode_string(uint32_t m, char out[11])
{
    const char *t = "?";
    switch (m & S_IFMT) {
    case S_IFREG: t = "-"; break; case S_IFDIR: t = "d"; break; case S_IFLNK: t = "l"; break;
    case S_IFCHR: t = "c"; break; case S_IFBLK: t = "b"; break; case S_IFIFO: t = "p"; break;
    case S_IFSOCK: t = "s"; break;
    }
    snprintf(out, 11, "%s%c%c%c%c%c%c%c%c%c", t, m & 0400 ? 'r' : '-', m & 0200 ? 'w' : '-',
             m & 04000 ? (m & 0100 ? 's' : 'S') : (m & 0100 ? 'x' : '-'),
             m & 040 ? 'r' : '-', m & 020 ? 'w' : '-',
             m & 02000 ? (m & 010 ? 's' : 'S') : (m & 010 ? 'x' : '-'),
             m & 04 ? 'r' : '-', m & 02 ? 'w' : '-',
             m & 01000 ? (m & 01 ? 't' : 'T') : (m & 01 ? 'x' : '-'));
}

static const char *type_name(uint32_t m)
{
    switch (m & S_IFMT) {
    case S_IFREG: return "file"; case S_IFDIR: return "dir"; case S_IFLNK: return "symlink";
    case S_IFCHR: return "chardev"; case S_IFBLK: return "blockdev"; case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket"; default: return "unknown";
    }
}

/* The target of the symlink at path (by node n when not NULL) into buf
 * (4097 bytes), or -errno. */
static int link_target(struct vk_fs *fs, const char *path, const struct vk_node *n, char *buf)
{
    char ab[VK_ABBREV_LEN];
    int r = n ? vk_fs_readlink_node(fs, n, vk_path_abbrev(path, ab), buf, 4096)
              : vk_fs_readlink(fs, path, buf, 4096);
    if (r >= 0)
        buf[r < 4096 ? r : 4096] = 0;
    return r;
}

/* The JSON of an entry; n (may be NULL) is its node.  NULL when out of
 * memory (with a message). */
static json_t *stat_json(struct vk_fs *fs, const char *path, const struct vk_node *n,
                         const char *name, const struct vk_stat *st)
{
    json_t *o = json_object();
    if (!o || json_set_name(o, "name", name) < 0 || json_set_name(o, "path", path) < 0) {
        json_decref(o);
        vk_error(-ENOMEM, "out of memory");
        return NULL;
    }
    json_object_update_new(o, json_pack("{s:o, s:i, s:s, s:i, s:I, s:I, s:o, s:o, s:I}",
        "ino", cli_json_u64(st->ino), "mode", (int)(st->mode & 07777),
        "type", type_name(st->mode), "nlink", (int)st->nlink, "uid", (json_int_t)st->uid,
        "gid", (json_int_t)st->gid, "size", cli_json_u64(st->size),
        "blocks", cli_json_u64(st->blocks), "mtime", (json_int_t)st->mtime.tv_sec));
    char buf[4097];
    if (S_ISLNK(st->mode) && link_target(fs, path, n, buf) >= 0 && json_set_name(o, "target", buf) < 0) {
        json_decref(o);
        vk_error(-ENOMEM, "out of memory");
        return NULL;
    }
    if (S_ISCHR(st->mode) || S_ISBLK(st->mode)) {
        json_object_set_new(o, "major", json_integer(st->rdev_major));
        json_object_set_new(o, "minor", json_integer(st->rdev_minor));
    }
    return o;
}

static void print_long(struct vk_fs *fs, const char *path, const struct vk_node *n,
                       const char *name, const struct vk_stat *st)
{
    char m[11], tbuf[32];
    struct tm tm;
    time_t t = st->mtime.tv_sec;
    mode_string(st->mode, m);
    gmtime_r(&t, &tm);
    strftime(tbuf, sizeof tbuf, "%Y-%m-%d %H:%M", &tm);
    if (S_ISCHR(st->mode) || S_ISBLK(st->mode))
        printf("%s %3u %5u %5u %6u, %4u %s ", m, st->nlink, st->uid, st->gid, st->rdev_major,
               st->rdev_minor, tbuf);
    else
        printf("%s %3u %5u %5u %12llu %s ", m, st->nlink, st->uid, st->gid,
               (unsigned long long)st->size, tbuf);
    put_name(name);
    char buf[4097];
    if (S_ISLNK(st->mode) && link_target(fs, path, n, buf) >= 0) {
        fputs(" -> ", stdout);
        put_name(buf);
    }
    putchar('\n');
}

/* out = dir/name; -ENAMETOOLONG (with message) if it does not fit. */
static int join(char *out, size_t len, const char *dir, const char *name)
{
    int n = snprintf(out, len, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
    if (n < 0 || (size_t)n >= len)
        return vk_error(-ENAMETOOLONG, "%s/%s: path too long", dir, name);
    return 0;
}

/* An error met during a walk that goes on: printed now; the command
 * fails at the end. */
static int walk_error(int *errors)
{
    fflush(stdout);
    fprintf(stderr, "vmkit: %s\n", vk_errmsg());
    (*errors)++;
    return 0;
}

struct ls {
    struct vk_fs *fs;
    bool lng, rec;
    json_t *arr;
    int dirs, errors;
    char *path;             /* scratch for dir/name */
    size_t cap;
};

/* dir/name in l's scratch buffer, or NULL (with a message). */
static const char *ls_path(struct ls *l, const char *dir, const char *name)
{
    size_t need = strlen(dir) + strlen(name) + 2;
    char *p = vk_grow(l->path, &l->cap, need, 1, 256);
    if (!p) {
        vk_error(-ENOMEM, "out of memory");
        return NULL;
    }
    l->path = p;
    snprintf(p, need, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
    return p;
}

/* One entry at path p. */
static int ls_one(struct ls *l, const char *p, const struct vk_walk_ent *e)
{
    if (l->arr) {
        json_t *o = stat_json(l->fs, p, &e->node, e->name, &e->st);
        if (!o || json_array_append_new(l->arr, o) < 0)
            return vk_error(-ENOMEM, "out of memory");
    } else if (l->lng) {
        print_long(l->fs, p, &e->node, e->name, &e->st);
    } else {
        put_name(e->name);
        putchar('\n');
    }
    return 0;
}

static int ls_visit(void *ctx, const struct vk_walk_visit *v)
{
    struct ls *l = ctx;
    switch (v->ev) {
    case VK_WALK_ERROR:
        return walk_error(&l->errors);
    case VK_WALK_FILE:
        /* Entries were listed with their directory; only a file named on
         * the command line is listed here. */
        return v->depth ? 0 : ls_one(l, v->path, v->e);
    case VK_WALK_ENTER:
        if (l->rec && !l->arr) {
            if (l->dirs++)
                putchar('\n');
            put_name(v->path);
            fputs(":\n", stdout);
        }
        for (size_t i = 0; i < v->nkids; i++) {
            const char *p = ls_path(l, v->path, v->kids[i].name);
            int r = p ? ls_one(l, p, &v->kids[i]) : -ENOMEM;
            if (r < 0)
                return r;
        }
        return l->rec ? 0 : 1;
    case VK_WALK_LEAVE:
        return 0;
    }
    return 0;
}

/* ls of t->path (t closed here): the exit status. */
static int ls_tgt(struct tgt *t, bool lng, bool rec, bool json)
{
    struct vk_stat st;
    int r;
    /* A symlink to a directory lists the directory (as ls does); a
     * dangling or file symlink lists itself. */
    bool follow = vk_fs_stat(t->fs, t->path, &st, true) >= 0;
    vk_error_clear();
    struct ls l = { .fs = t->fs, .lng = lng, .rec = rec, .arr = json ? json_array() : NULL };
    int flags = (follow ? VK_WALK_FOLLOW : 0) | (lng || json ? VK_WALK_STAT : 0);
    r = vk_fs_walk(t->fs, t->path, flags, ls_visit, &l);
    free(l.path);
    r = tgt_close(t, r);
    if (r < 0) {
        json_decref(l.arr);
        return cli_fail(r);
    }
    /* What could be listed is printed, even when some entries failed. */
    int st_out = l.arr ? cli_print_json(l.arr) : EXIT_OK;
    return l.errors ? EXIT_FAIL : st_out;
}

static int fs_ls(int argc, char **argv)
{
    bool lng = false, rec = false, json = false;
    const struct cli_opt opts[] = {
        OPT_BOOL('l', NULL, &lng, "long listing: mode, links, owner, size, time"),
        OPT_BOOL('R', NULL, &rec, "recursive"),
        OPT_BOOL(0, "json", &json, "print JSON (byte names that are not UTF-8 in name_base64)"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "fs ls", "TARGET[:PATH]", "List a directory (or show a file).", 1, 1 };
    PARSE(&spec, opts);
    const int first = 1;    /* the first operand */
    struct tgt t;
    int r = tgt_open(argv[first], false, false, &t);
    if (r < 0)
        return cli_fail(r);
    return ls_tgt(&t, lng, rec, json);
}

static int fs_stat(int argc, char **argv)
{
    bool json = false;
    const struct cli_opt opts[] = { OPT_BOOL(0, "json", &json, "print JSON"), OPT_INCLUDE(group_opts), OPT_END() };
    static const struct cli_spec spec = { "fs stat", "TARGET:PATH", "A file's type, size, mode, owner, times and links (as stat).", 1, 1 };
    PARSE(&spec, opts);
    struct tgt t;
    struct vk_stat st;
    int r = tgt_open(argv[1], false, true, &t);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_fs_stat(t.fs, t.path, &st, false)) < 0)
        return done(&t, r);
    if (json) {
        json_t *o = stat_json(t.fs, t.path, NULL, t.path, &st);
        if (!o)
            return done(&t, -ENOMEM);
        json_object_set_new(o, "atime", json_integer(st.atime.tv_sec));
        json_object_set_new(o, "ctime", json_integer(st.ctime.tv_sec));
        tgt_close(&t, 0);
        return cli_print_json(o);
    }
    char m[11];
    mode_string(st.mode, m);
    fputs("  Path: ", stdout);
    put_name(t.path);
    printf("\n  Type: %s\n  Size: %llu\tBlocks: %llu\tLinks: %u\tInode: %llu\n"
           "  Mode: %04o/%s\tUid: %u\tGid: %u\n", type_name(st.mode),
           (unsigned long long)st.size, (unsigned long long)st.blocks, st.nlink,
           (unsigned long long)st.ino, st.mode & 07777, m, st.uid, st.gid);
    if (S_ISCHR(st.mode) || S_ISBLK(st.mode))
        printf("Device: %u,%u\n", st.rdev_major, st.rdev_minor);
    const struct timespec *ts[] = { &st.atime, &st.mtime, &st.ctime, &st.crtime };
    const char *nm[] = { "Access", "Modify", "Change", " Birth" };
    for (int i = 0; i < 4; i++) {
        char b[40];
        struct tm tm;
        time_t tt = ts[i]->tv_sec;
        gmtime_r(&tt, &tm);
        strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s: %s.%09ld UTC\n", nm[i], b, ts[i]->tv_nsec);
    }
    return done(&t, 0);
}

/* ---- cat, write, get, put ---- */

#define COPY_BUF (128 << 10)    /* as cp; a larger buffer is only more pages to fault in */

/* Copy the open file f to fd (its end) through buf (COPY_BUF bytes), then
 * close f.  A write error names hostname, and what is copied when from is
 * not NULL. */
static int copy_file(struct vk_file *f, int fd, const char *hostname, const char *from, char *buf)
{
    int r = 0;
    uint64_t off = 0;
    int64_t n = 0;
    while ((n = vk_fs_read(f, buf, COPY_BUF, off)) > 0) {
        for (int64_t w = 0; w < n;) {
            ssize_t k = write(fd, buf + w, (size_t)(n - w));
            if (k < 0) {
                r = vk_error(-errno, "%s: %s%s%s%s", hostname, strerror(errno),
                             from ? " (copying " : "", from ? from : "", from ? ")" : "");
                n = -1;
                break;
            }
            w += k;
        }
        if (n < 0)
            break;
        off += (uint64_t)n;
    }
    if (n < 0 && r >= 0)
        r = (int)n;
    int c = vk_fs_close_file(f);
    return r < 0 ? r : c;
}

static int copy_out(struct vk_fs *fs, const char *path, int fd, const char *hostname)
{
    struct vk_file *f;
    int r = vk_fs_open(fs, path, VK_O_RDONLY, 0, &f);
    if (r < 0)
        return r;
    char *buf = malloc(COPY_BUF);
    if (!buf) {
        vk_fs_close_file(f);
        return vk_error(-ENOMEM, "out of memory");
    }
    r = copy_file(f, fd, hostname, NULL, buf);
    free(buf);
    return r;
}

/* Copy fd (to its end) into path, created or truncated with mode. */
static int copy_in(struct vk_fs *fs, const char *path, int fd, uint32_t mode, const char *hostname)
{
    struct vk_file *f;
    int r = vk_fs_open(fs, path, VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC, mode, &f);
    if (r < 0)
        return r;
    size_t bs = 1 << 20;
    char *buf = malloc(bs);
    uint64_t off = 0;
    if (!buf)
        r = vk_error(-ENOMEM, "out of memory");
    while (r >= 0) {
        size_t got = 0;
        while (got < bs) {
            ssize_t k = read(fd, buf + got, bs - got);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0) {
                r = vk_error(-errno, "%s: %s", hostname, strerror(errno));
                break;
            }
            if (!k)
                break;
            got += (size_t)k;
        }
        if (r < 0 || !got)
            break;
        int64_t w = vk_fs_write(f, buf, got, off);
        if (w < 0)
            r = (int)w;
        off += got;
        if (got < bs)
            break;
    }
    free(buf);
    int c = vk_fs_close_file(f);
    return r < 0 ? r : c;
}

static int fs_cat(int argc, char **argv)
{
    static const struct cli_spec spec = { "fs cat", "TARGET:PATH...", "Print files.", 1, -1 };
    PARSE_PLAIN(&spec);
    for (int i = 1; i < argc; i++) {
        struct tgt t;
        int r = tgt_open(argv[i], false, true, &t);
        if (r < 0)
            return cli_fail(r);
        r = copy_out(t.fs, t.path, 1, "stdout");
        if ((r = tgt_close(&t, r)) < 0)
            return cli_fail(r);
    }
    return EXIT_OK;
}

static int fs_write(int argc, char **argv)
{
    static const struct cli_spec spec = { "fs write", "TARGET:PATH < DATA", "Replace (or create) a file with standard input.", 1, 1 };
    PARSE_PLAIN(&spec);
    struct tgt t;
    int r = tgt_open(argv[1], true, true, &t);
    if (r < 0)
        return cli_fail(r);
    return done(&t, copy_in(t.fs, t.path, 0, 0644, "stdin"));
}

/* Is spec TARGET:PATH (an image path) rather than a host path? */
static bool is_image_spec(const char *s)
{
    struct vk_target vt;
    if (vk_target_parse(s, true, &vt) < 0) {
        vk_error_clear();
        return false;
    }
    bool p = vt.path != NULL;
    vk_target_free(&vt);
    return p;
}

static int set_meta(struct vk_fs *fs, const char *path, const struct stat *hs)
{
    struct vk_stat st = { .mode = hs->st_mode, .uid = hs->st_uid, .gid = hs->st_gid,
                          .atime = hs->st_atim, .mtime = hs->st_mtim };
    int r = vk_fs_setattr(fs, path, VK_SET_MODE | VK_SET_MTIME | VK_SET_ATIME, &st);
    /* FAT has no owners; ext keeps the host's. */
    if (r >= 0) {
        int o = vk_fs_setattr(fs, path, VK_SET_UID | VK_SET_GID, &st);
        if (o < 0 && o != -EPERM && o != -ENOTSUP)
            r = o;
        vk_error_clear();
    }
    return r;
}

struct put_opts {
    bool recursive;
};

static int put_one(struct vk_fs *fs, const char *host, const char *dst, const struct put_opts *o)
{
    struct stat hs;
    if (lstat(host, &hs) < 0)
        return vk_error(-errno, "%s: %s", host, strerror(errno));
    int r;
    if (S_ISDIR(hs.st_mode)) {
        if (!o->recursive)
            return vk_error(-EISDIR, "%s: is a directory (use put -r)", host);
        struct vk_populate_opts po = { .force_owner = false };
        struct vk_stat st;
        if (vk_fs_stat(fs, dst, &st, true) < 0) {
            vk_error_clear();
            if ((r = vk_fs_mkdir(fs, dst, hs.st_mode & 07777)) < 0)
                return r;
        }
        return vk_populate(fs, dst, host, &po);
    }
    if (S_ISLNK(hs.st_mode)) {
        char buf[PATH_MAX];
        ssize_t n = readlink(host, buf, sizeof buf - 1);
        if (n < 0)
            return vk_error(-errno, "%s: %s", host, strerror(errno));
        buf[n] = 0;
        return vk_fs_symlink(fs, buf, dst);
    }
    if (!S_ISREG(hs.st_mode))
        return vk_error(-EINVAL, "%s: not a regular file, directory or symlink", host);
    int fd = open(host, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", host, strerror(errno));
    r = copy_in(fs, dst, fd, hs.st_mode & 07777, host);
    close(fd);
    return r < 0 ? r : set_meta(fs, dst, &hs);
}

static int fs_put(int argc, char **argv)
{
    struct put_opts o = { false };
    const struct cli_opt opts[] = {
        OPT_BOOL('r', "recursive", &o.recursive, "copy directories and what they hold"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "fs put", "HOSTSRC...|- TARGET:PATH", "Copy host files in (cp order: sources first); - is a tar on stdin.", 2, -1 };
    PARSE(&spec, opts);
    const int first = 1;    /* the first operand */
    const char *dstspec = argv[argc - 1];
    struct tgt t;
    int r = tgt_open(dstspec, true, true, &t);
    if (r < 0)
        return cli_fail(r);
    struct vk_stat st;
    bool dst_dir = vk_fs_stat(t.fs, t.path, &st, true) >= 0 && S_ISDIR(st.mode);
    vk_error_clear();
    int nsrc = argc - 1 - first;
    if (nsrc > 1 && !dst_dir)
        return done(&t, vk_error(-ENOTDIR, "%s: not a directory", dstspec));
    for (int i = first; i < argc - 1 && r >= 0; i++) {
        if (!strcmp(argv[i], "-")) {
            r = vk_populate_tar_fd(t.fs, t.path, 0, "stdin", &(struct vk_populate_opts){ 0 });
            continue;
        }
        char dst[4096];
        if (dst_dir) {
            char tmp[4096];
            snprintf(tmp, sizeof tmp, "%s", argv[i]);
            size_t l = strlen(tmp);
            while (l > 1 && tmp[l - 1] == '/')
                tmp[--l] = 0;
            const char *base = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
            if ((r = join(dst, sizeof dst, t.path, base)) < 0)
                break;
        } else {
            snprintf(dst, sizeof dst, "%s", t.path);
        }
        r = put_one(t.fs, argv[i], dst, &o);
    }
    return done(&t, r);
}

/* get: copy a tree out to the host.  Never follows a host symlink: every
 * host object is reached by openat/mkdirat/symlinkat on a directory fd we
 * opened with O_NOFOLLOW, and the walk refuses names from the image that
 * could climb ("..", "/"), so nothing lands outside HOSTDEST.  Only the
 * deepest GET_FDS directories stay open; a tree deeper than that reopens
 * a parent by ".." from its child and checks it is the same directory. */
#define GET_FDS 64

struct getlvl {
    int fd;                 /* -1: closed (reopen from the child) */
    dev_t dev;
    ino_t ino;
};

struct get {
    struct vk_fs *fs;
    bool rec;
    int topfd;              /* the directory HOSTDEST names (not ours) */
    const char *topname;    /* the name to create in it */
    const char *hostdir;    /* for messages */
    size_t toplen;          /* length of the image path of the top */
    struct getlvl *lv;      /* lv[d]: the host directory of depth d */
    size_t nlv, cap;
    int errors;
    char *buf;              /* COPY_BUF bytes, for every file */
};

/* The host path of the entry at image path (malloc'd), or NULL. */
static char *get_host_path(const struct get *g, const char *path)
{
    size_t l = strlen(g->hostdir);
    char *host;
    if (asprintf(&host, "%s%s%s%s", g->hostdir, l && g->hostdir[l - 1] == '/' ? "" : "/",
                 g->topname, path + g->toplen) < 0)
        return NULL;
    return host;
}

/* A host error for the entry at image path (with its host path). */
static int get_host_error(struct get *g, const char *path)
{
    int e = errno;
    char *host = get_host_path(g, path), b1[VK_ABBREV_LEN], b2[VK_ABBREV_LEN];
    vk_error(-e, "%s: %s (copying %s:%s)", host ? vk_path_abbrev(host, b1) : g->topname,
             strerror(e), g->fs->bd->name, vk_path_abbrev(path, b2));
    free(host);
    return -e;
}

/* The host directory of depth d, reopened from depth d + 1 if needed. */
static int get_dirfd(struct get *g, size_t d, const char *path)
{
    if (g->lv[d].fd >= 0)
        return g->lv[d].fd;
    struct stat hs;
    int fd = openat(g->lv[d + 1].fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return get_host_error(g, path);
    if (fstat(fd, &hs) < 0 || hs.st_dev != g->lv[d].dev || hs.st_ino != g->lv[d].ino) {
        close(fd);
        errno = ESTALE;
        return get_host_error(g, path);
    }
    return g->lv[d].fd = fd;
}

static int get_file(struct get *g, int dirfd, const char *name, const struct vk_walk_visit *v)
{
    const struct vk_stat *st = &v->e->st;
    char ab[VK_ABBREV_LEN];
    const char *mp = vk_path_abbrev(v->path, ab);
    if (S_ISREG(st->mode)) {
        struct vk_file *f;
        int r = vk_fs_open_node(g->fs, &v->e->node, mp, &f);
        if (r < 0)
            return r;
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                        st->mode & 0777);
        if (fd < 0) {
            r = get_host_error(g, v->path);
            vk_fs_close_file(f);
            return r;
        }
        char *host = get_host_path(g, v->path), *from = NULL, hb[VK_ABBREV_LEN];
        if (asprintf(&from, "%s:%s", g->fs->bd->name, mp) < 0)
            from = NULL;
        r = copy_file(f, fd, host ? vk_path_abbrev(host, hb) : name, from, g->buf);
        free(host);
        free(from);
        struct timespec ts[2] = { st->atime, st->mtime };
        if (r >= 0)
            futimens(fd, ts);
        if (close(fd) < 0 && r >= 0)
            r = get_host_error(g, v->path);
        return r;
    }
    if (S_ISLNK(st->mode)) {
        char buf[4097];
        int n = link_target(g->fs, mp, &v->e->node, buf);
        if (n < 0)
            return n;
        if (symlinkat(buf, dirfd, name) < 0)
            return get_host_error(g, v->path);
        return 0;
    }
    /* Device nodes and FIFOs need root on the host; a tar keeps them. */
    vk_warn("%s:%s: %s skipped (use 'get %s:%s -' for a tar that keeps it)", g->fs->bd->name,
            mp, type_name(st->mode), g->fs->bd->name, mp);
    return 0;
}

static int get_enter(struct get *g, int dirfd, const char *name, const struct vk_walk_visit *v)
{
    if (!g->rec)
        return vk_error(-EISDIR, "%s:%s: is a directory (use get -r)", g->fs->bd->name, v->path);
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
        return get_host_error(g, v->path);
    struct getlvl *lv = vk_grow(g->lv, &g->cap, v->depth + 1, sizeof *lv, 64);
    if (!lv)
        return vk_error(-ENOMEM, "out of memory");
    g->lv = lv;
    struct stat hs;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &hs) < 0) {
        int r = get_host_error(g, v->path);
        if (fd >= 0)
            close(fd);
        return r;
    }
    lv[v->depth] = (struct getlvl){ fd, hs.st_dev, hs.st_ino };
    g->nlv = v->depth + 1;
    if (v->depth >= GET_FDS) {
        close(lv[v->depth - GET_FDS].fd);
        lv[v->depth - GET_FDS].fd = -1;
    }
    return 0;
}

/* Mode and times of a directory once everything is in it. */
static int get_leave(struct get *g, const struct vk_walk_visit *v)
{
    struct getlvl *lv = &g->lv[v->depth];
    const struct vk_stat *st = &v->e->st;
    struct timespec ts[2] = { st->atime, st->mtime };
    int r = v->depth ? get_dirfd(g, v->depth - 1, v->path) : 0;
    if (r >= 0 && (fchmod(lv->fd, st->mode & 07777) < 0 || futimens(lv->fd, ts) < 0))
        r = get_host_error(g, v->path);
    close(lv->fd);
    lv->fd = -1;
    g->nlv = v->depth;
    return r < 0 ? r : 0;
}

static int get_visit(void *ctx, const struct vk_walk_visit *v)
{
    struct get *g = ctx;
    if (v->ev == VK_WALK_ERROR)
        return walk_error(&g->errors);
    if (v->ev == VK_WALK_LEAVE)
        return get_leave(g, v);
    int dirfd = v->depth ? g->lv[v->depth - 1].fd : g->topfd;
    const char *name = v->depth ? v->e->name : g->topname;
    return v->ev == VK_WALK_FILE ? get_file(g, dirfd, name, v) : get_enter(g, dirfd, name, v);
}

/* get t->path to dest (t closed here): the exit status. */
static int get_tgt(struct tgt *t, const char *dest, bool rec)
{
    int r;
    if (!strcmp(dest, "-"))
        return done(t, vk_export_tar_fd(t->fs, t->path, 1, "stdout"));
    struct stat hs;
    const char *base = strrchr(t->path, '/') + 1;
    if (!*base)
        base = ".";
    char dir[PATH_MAX], name[PATH_MAX];
    if (stat(dest, &hs) == 0 && S_ISDIR(hs.st_mode)) {
        snprintf(dir, sizeof dir, "%s", dest);
        snprintf(name, sizeof name, "%s", strcmp(base, ".") ? base : "root");
    } else {
        snprintf(dir, sizeof dir, "%s", dest);
        char *sl = strrchr(dir, '/');
        if (sl) {
            snprintf(name, sizeof name, "%s", sl + 1);
            if (sl == dir)
                sl[1] = 0;
            else
                *sl = 0;
        } else {
            snprintf(name, sizeof name, "%s", dir);
            strcpy(dir, ".");
        }
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return done(t, vk_error(-errno, "%s: %s", dir, strerror(errno)));
    struct get g = { .fs = t->fs, .rec = rec, .topfd = dfd, .topname = name, .hostdir = dir,
                     .toplen = strcmp(t->path, "/") ? strlen(t->path) : 0, .buf = malloc(COPY_BUF) };
    r = g.buf ? vk_fs_walk(t->fs, t->path, VK_WALK_STAT, get_visit, &g)
              : vk_error(-ENOMEM, "out of memory");
    free(g.buf);
    for (size_t i = 0; i < g.nlv; i++)
        if (g.lv[i].fd >= 0)
            close(g.lv[i].fd);
    free(g.lv);
    close(dfd);
    r = tgt_close(t, r);
    if (r < 0)
        return cli_fail(r);
    return g.errors ? EXIT_FAIL : EXIT_OK;
}

static int fs_get(int argc, char **argv)
{
    bool rec = false;
    const struct cli_opt opts[] = {
        OPT_BOOL('r', "recursive", &rec, "copy directories and what they hold"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "fs get", "TARGET:PATH HOSTDEST|-", "Copy a file (-r: a tree) out; - writes a tar on stdout.", 2, 2 };
    PARSE(&spec, opts);
    const int first = 1;    /* the first operand */
    const char *dest = argv[first + 1];
    struct tgt t;
    int r = tgt_open(argv[first], false, true, &t);
    if (r < 0)
        return cli_fail(r);
    return get_tgt(&t, dest, rec);
}

/* Exported for backup ls/cat/get (cli.h): the same verbs over a device
 * that is not an image file. */
static int dev_tgt(struct vk_blockdev *bd, const char *path, struct tgt *t)
{
    memset(t, 0, sizeof *t);
    t->bd = bd;
    int r = vk_path_normalize(path ? path : "/", t->path, sizeof t->path);
    if (r < 0) {
        vk_bd_close(bd);
        t->bd = NULL;
        return r;
    }
    return tgt_mount(t, false);
}

int cli_fs_ls_dev(struct vk_blockdev *bd, const char *path, bool lng, bool rec, bool json)
{
    struct tgt t;
    int r = dev_tgt(bd, path, &t);
    return r < 0 ? cli_fail(r) : ls_tgt(&t, lng, rec, json);
}

int cli_fs_cat_dev(struct vk_blockdev *bd, const char *path)
{
    struct tgt t;
    int r = dev_tgt(bd, path, &t);
    return r < 0 ? cli_fail(r) : done(&t, copy_out(t.fs, t.path, 1, "stdout"));
}

int cli_fs_get_dev(struct vk_blockdev *bd, const char *path, const char *dest, bool rec)
{
    struct tgt t;
    int r = dev_tgt(bd, path, &t);
    return r < 0 ? cli_fail(r) : get_tgt(&t, dest, rec);
}

/* ---- mkdir, rm, mv, ln, chmod, chown, touch, edit ---- */

static int fs_mkdir(int argc, char **argv)
{
    bool p = false;
    const struct cli_opt opts[] = {
        OPT_BOOL('p', "parents", &p, "make parents as needed; an existing directory is no error"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "fs mkdir", "TARGET:PATH...", "Make directories.", 1, -1 };
    PARSE(&spec, opts);
    const int first = 1;    /* the first operand */
    for (int i = first; i < argc; i++) {
        struct tgt t;
        int r = tgt_open(argv[i], true, true, &t);
        if (r < 0)
            return cli_fail(r);
        r = p ? vk_fs_mkdir_p(t.fs, t.path, 0755) : vk_fs_mkdir(t.fs, t.path, 0755);
        if ((r = tgt_close(&t, r)) < 0)
            return cli_fail(r);
    }
    return EXIT_OK;
}

/* rm: files as the walk meets them, each directory once it is empty.  A
 * tree the walk cannot go through whole (a directory loop, an unreadable
 * directory) is refused before anything is removed: a first walk only
 * reads. */
struct rm {
    struct vk_fs *fs;
    bool rec, check;
};

static int rm_visit(void *ctx, const struct vk_walk_visit *v)
{
    struct rm *m = ctx;
    char ab[VK_ABBREV_LEN];
    /* Removing goes by path, and paths have a limit (a tree deeper than
     * that can still be read out with get -r). */
    if (m->check && v->ev != VK_WALK_ERROR && strlen(v->path) >= 4096)
        return vk_error(-ENAMETOOLONG, "%s:%s: path longer than 4095 bytes, which rm cannot "
                        "remove", m->fs->bd->name, vk_path_abbrev(v->path, ab));
    switch (v->ev) {
    case VK_WALK_ERROR:
        return v->err;
    case VK_WALK_FILE:
        return m->check ? 0 : vk_fs_unlink(m->fs, v->path);
    case VK_WALK_ENTER:
        if (!m->rec)
            return vk_error(-EISDIR, "%s:%s: is a directory (use rm -r)", m->fs->bd->name, v->path);
        return 0;
    case VK_WALK_LEAVE:
        return m->check ? 0 : vk_fs_rmdir(m->fs, v->path);
    }
    return 0;
}

static int rm_tree(struct vk_fs *fs, const char *path, bool rec)
{
    struct rm m = { fs, rec, true };
    int r = vk_fs_walk(fs, path, 0, rm_visit, &m);
    if (r < 0)
        return r == -ENOMEM || r == -EISDIR ? r : vk_error_prefix(r, "nothing removed: ");
    m.check = false;
    return vk_fs_walk(fs, path, 0, rm_visit, &m);
}

static int fs_rm(int argc, char **argv)
{
    bool rec = false, force = false;
    const struct cli_opt opts[] = {
        OPT_BOOL('r', "recursive", &rec, "remove directories and what they hold"),
        OPT_BOOL('f', "force", &force, "a path that does not exist is no error"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "fs rm", "TARGET:PATH...", "Remove files (-r: directories and what they hold).", 1, -1 };
    PARSE(&spec, opts);
    const int first = 1;    /* the first operand */
    for (int i = first; i < argc; i++) {
        struct tgt t;
        int r = tgt_open(argv[i], true, true, &t);
        if (r < 0)
            return cli_fail(r);
        if (!strcmp(t.path, "/"))
            r = vk_error(-EBUSY, "%s: refusing to remove the root directory", argv[i]);
        else {
            struct vk_stat st;
            /* -f: a missing path is skipped (a missing image is still an error). */
            if (force && vk_fs_stat(t.fs, t.path, &st, false) == -ENOENT) {
                vk_error_clear();
                r = 0;
            } else
                r = rm_tree(t.fs, t.path, rec);
        }
        if ((r = tgt_close(&t, r)) < 0)
            return cli_fail(r);
    }
    return EXIT_OK;
}

/* The image path of a second spec on the same target: "TARGET:PATH" or a
 * bare "/PATH". */
static int second_path(const char *spec, char *out)
{
    struct vk_target vt;
    if (vk_target_parse(spec, true, &vt) == 0) {
        int r = vt.path ? vk_path_normalize(vt.path, out, 4096)
                        : vk_error(-EINVAL, "%s: no path inside the image", spec);
        vk_target_free(&vt);
        return r;
    }
    if (spec[0] != '/')
        return vk_error(-EINVAL, "%s: not TARGET:PATH", spec);
    vk_error_clear();
    return vk_path_normalize(spec, out, 4096);
}

static int fs_mv(int argc, char **argv)
{
    static const struct cli_spec spec = { "fs mv", "TARGET:FROM TARGET:TO|/TO", "Rename or move within one filesystem.", 2, 2 };
    PARSE_PLAIN(&spec);
    struct tgt t;
    char to[4096];
    int r = second_path(argv[2], to);
    if (r < 0)
        return cli_fail(r);
    if ((r = tgt_open(argv[1], true, true, &t)) < 0)
        return cli_fail(r);
    struct vk_stat st;
    if (vk_fs_stat(t.fs, to, &st, true) >= 0 && S_ISDIR(st.mode)) {
        char tmp[4096];
        if ((r = join(tmp, sizeof tmp, to, strrchr(t.path, '/') + 1)) < 0)
            return done(&t, r);
        memcpy(to, tmp, sizeof to);
    }
    vk_error_clear();
    return done(&t, vk_fs_rename(t.fs, t.path, to));
}

static int fs_ln(int argc, char **argv)
{
    bool sym = false;
    const struct cli_opt opts[] = {
        OPT_BOOL('s', "symbolic", &sym, "a symbolic link holding TARGET as written"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec spec = { "fs ln", "TARGET TARGET:LINKPATH", "Make a hard link (TARGET: an image path) or, with -s, a symlink.", 2, 2 };
    PARSE(&spec, opts);
    struct tgt t;
    int r = tgt_open(argv[2], true, true, &t);
    if (r < 0)
        return cli_fail(r);
    if (sym)
        return done(&t, vk_fs_symlink(t.fs, argv[1], t.path));
    char ex[4096];
    if ((r = second_path(argv[1], ex)) < 0)
        return done(&t, r);
    return done(&t, vk_fs_link(t.fs, ex, t.path));
}

static int fs_chmod(int argc, char **argv)
{
    static const struct cli_spec spec = { "fs chmod", "MODE TARGET:PATH...", "Set the permission bits (octal MODE, e.g. 0644).", 2, -1 };
    PARSE_PLAIN(&spec);
    char *end;
    unsigned long m = strtoul(argv[1], &end, 8);
    if (*end || m > 07777)
        return cli_usage("fs chmod", "MODE must be octal (e.g. 0644), not '%s'", argv[1]);
    for (int i = 2; i < argc; i++) {
        struct tgt t;
        int r = tgt_open(argv[i], true, true, &t);
        if (r < 0)
            return cli_fail(r);
        struct vk_stat st = { .mode = (uint32_t)m };
        if ((r = tgt_close(&t, vk_fs_setattr(t.fs, t.path, VK_SET_MODE, &st))) < 0)
            return cli_fail(r);
    }
    return EXIT_OK;
}

static int fs_chown(int argc, char **argv)
{
    uint32_t u, g;
    static const struct cli_spec spec = { "fs chown", "UID:GID TARGET:PATH...", "Set the owner and group (numbers; UID: or :GID for one).", 2, -1 };
    PARSE_PLAIN(&spec);
    if (vk_parse_owner(argv[1], &u, &g) < 0)
        return cli_usage("fs chown", "%s", vk_errmsg());
    for (int i = 2; i < argc; i++) {
        struct tgt t;
        int r = tgt_open(argv[i], true, true, &t);
        if (r < 0)
            return cli_fail(r);
        struct vk_stat st = { .uid = u, .gid = g };
        if ((r = tgt_close(&t, vk_fs_setattr(t.fs, t.path, VK_SET_UID | VK_SET_GID, &st))) < 0)
            return cli_fail(r);
    }
    return EXIT_OK;
}

static int fs_touch(int argc, char **argv)
{
    static const struct cli_spec spec = { "fs touch", "TARGET:PATH...", "Create empty files or set their times to now.", 1, -1 };
    PARSE_PLAIN(&spec);
    for (int i = 1; i < argc; i++) {
        struct tgt t;
        int r = tgt_open(argv[i], true, true, &t);
        if (r < 0)
            return cli_fail(r);
        struct vk_stat st;
        if (vk_fs_stat(t.fs, t.path, &st, true) < 0) {
            struct vk_file *f;
            vk_error_clear();
            if ((r = vk_fs_open(t.fs, t.path, VK_O_WRONLY | VK_O_CREAT, 0644, &f)) >= 0)
                r = vk_fs_close_file(f);
        } else {
            clock_gettime(CLOCK_REALTIME, &st.mtime);
            st.atime = st.mtime;
            r = vk_fs_setattr(t.fs, t.path, VK_SET_MTIME | VK_SET_ATIME, &st);
        }
        if ((r = tgt_close(&t, r)) < 0)
            return cli_fail(r);
    }
    return EXIT_OK;
}

static int fs_edit(int argc, char **argv)
{
    static const struct cli_spec spec = { "fs edit", "TARGET:PATH", "Edit a file in $VISUAL/$EDITOR on a copy (in $TMPDIR, default /tmp);\n"
        "written back if changed.", 1, 1 };
    PARSE_PLAIN(&spec);
    struct tgt t;
    const char *td = getenv("TMPDIR");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/vmkit-edit-XXXXXX", td && *td ? td : "/tmp");
    int r = tgt_open(argv[1], false, true, &t);
    if (r < 0)
        return cli_fail(r);
    if (t.fs->type == &vk_fs_iso)       /* say so before the editor runs */
        return done(&t, vk_error(-EROFS, "%s: read-only filesystem (iso9660)", t.bd->name));
    int fd = mkstemp(tmp);
    if (fd < 0)
        return done(&t, vk_error(-errno, "%s: %s", tmp, strerror(errno)));
    struct vk_stat st;
    bool exists = vk_fs_stat(t.fs, t.path, &st, true) >= 0;
    vk_error_clear();
    r = exists ? copy_out(t.fs, t.path, fd, tmp) : 0;
    close(fd);
    r = tgt_close(&t, r);
    if (r < 0) {
        unlink(tmp);
        return cli_fail(r);
    }
    struct stat before;
    stat(tmp, &before);
    const char *ed = getenv("VISUAL") ? getenv("VISUAL") : getenv("EDITOR") ? getenv("EDITOR") : "vi";
    char *cmd;
    if (asprintf(&cmd, "%s \"$1\"", ed) < 0)
        return cli_failf("out of memory");
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, "sh", tmp, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    free(cmd);
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        unlink(tmp);
        return cli_failf("%s: editor failed; the file in the image is unchanged", argv[1]);
    }
    struct stat after;
    stat(tmp, &after);
    if (exists && after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
        after.st_mtim.tv_nsec == before.st_mtim.tv_nsec && after.st_size == before.st_size) {
        unlink(tmp);
        return EXIT_OK;
    }
    if ((r = tgt_open(argv[1], true, true, &t)) < 0) {
        unlink(tmp);
        return cli_fail(r);
    }
    fd = open(tmp, O_RDONLY | O_CLOEXEC);
    r = fd < 0 ? vk_error(-errno, "%s: %s", tmp, strerror(errno))
               : copy_in(t.fs, t.path, fd, exists ? st.mode & 07777 : 0644, tmp);
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return done(&t, r);
}

/* fs check [--repair] TARGET: the real checker, on a copy (fs/fsck.h).
 * Exit 0 clean (or fully repaired), 1 errors found or left. */
static int fs_check(int argc, char **argv)
{
    bool repair = false;
    const struct cli_opt opts[] = {
        OPT_BOOL(0, "repair", &repair, "repair what the checker can and write it back"),
        OPT_INCLUDE(group_opts), OPT_END(),
    };
    static const struct cli_spec cspec = { "fs check", "TARGET", "Run the real checker (e2fsck, fsck.fat) on a copy (exit 1: errors).", 1, 1 };
    PARSE(&cspec, opts);
    const int first = 1;    /* the first operand */
    const char *spec = argv[first];
    struct vk_blockdev *bd;
    int r = vk_open_disk_spec(spec, opt_format, repair ? VK_OPEN_RDWR : 0, &bd);
    if (r < 0)
        return cli_fail(r);
    char *out = NULL;
    r = vk_fs_check(bd, repair, &out);
    int cl = vk_bd_close(bd);
    if (out)
        fputs(out, stdout);
    free(out);
    if (r >= 0 && cl < 0)
        r = cl;
    if (r < 0)
        return cli_fail(r);
    if (r == VK_FSCK_FIXED)
        fprintf(stderr, "vmkit: %s: errors repaired\n", spec);
    if (r != VK_FSCK_ERRORS)
        return EXIT_OK;
    if (repair)
        return cli_failf("%s: errors left after repair", spec);
    return cli_failf("%s: the filesystem has errors; 'vmkit fs check --repair %s' repairs them",
                     spec, spec);
}

/* fs resize TARGET [SIZE]: grow (default: to the device) or shrink. */
static int fs_resize(int argc, char **argv)
{
    static const struct cli_spec spec = { "fs resize", "TARGET [SIZE]", "Grow (default: to the partition) or shrink a filesystem (resize2fs's logic).", 1, 2 };
    PARSE_PLAIN(&spec);
    uint64_t size = 0;
    if (argc == 3 && vk_parse_size(argv[2], &size) < 0)
        return cli_usage("fs resize", "%s", vk_errmsg());
    if (argc == 3 && !size)
        return cli_usage("fs resize", "size 0");
    struct vk_blockdev *bd;
    int r = vk_open_disk_spec(argv[1], opt_format, VK_OPEN_RDWR, &bd);
    if (r < 0)
        return cli_fail(r);
    char *out = NULL;
    r = vk_fs_resize(bd, size, &out);
    int cl = vk_bd_close(bd);
    if (r < 0 && out)
        fputs(out, stderr);
    free(out);
    if (r >= 0 && cl < 0)
        r = cl;
    return r < 0 ? cli_fail(r) : EXIT_OK;
}

static const struct cli_command fs_cmds[] = {
    { "mkfs",   fs_mkfs,   "make an ext2/3/4, vfat, swap or iso9660 filesystem" },
    { "probe",  fs_probe,  "type, label, UUID, size, used (as blkid)" },
    { "df",     fs_df,     "space and inodes" },
    { "ls",     fs_ls,     "list a directory (-l, -R, --json)" },
    { "cat",    fs_cat,    "print files" },
    { "stat",   fs_stat,   "a file's metadata" },
    { "get",    fs_get,    "copy files out (-r; - is a tar on stdout)" },
    { "put",    fs_put,    "copy host files in (-r; - is a tar on stdin)" },
    { "write",  fs_write,  "write standard input to a file" },
    { "edit",   fs_edit,   "edit a file in $EDITOR" },
    { "mkdir",  fs_mkdir,  "make directories (-p)" },
    { "rm",     fs_rm,     "remove files (-r, -f)" },
    { "mv",     fs_mv,     "rename or move" },
    { "ln",     fs_ln,     "hard or symbolic (-s) link" },
    { "chmod",  fs_chmod,  "set permission bits" },
    { "chown",  fs_chown,  "set owner and group" },
    { "touch",  fs_touch,  "create files or update their times" },
    { "check",  fs_check,  "e2fsck / fsck.fat on any target (--repair)" },
    { "resize", fs_resize, "grow or shrink a filesystem" },
    { NULL, NULL, NULL },
};

int cmd_fs(int argc, char **argv)
{
    (void)is_image_spec;
    return cli_dispatch_opts("fs", fs_cmds, group_opts, argc, argv);
}
