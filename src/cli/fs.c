/* vmkit fs: filesystems inside images, without mounting.  Every verb is
 * generic over fs/fs.h, so ext and FAT behave alike. */
#include "cli/cli.h"

#include "block/blockdev.h"
#include "fs/fs.h"
#include "fs/path.h"
#include "fs/populate.h"
#include "part/target.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
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

/* --codepage N, taken off the command line of any fs verb by cmd_fs. */
static const char *opt_codepage;

/* Apply the driver options given on the command line to a mount. */
static int fs_options(struct vk_fs *fs)
{
    return opt_codepage ? vk_fs_set_option(fs, "codepage", opt_codepage) : 0;
}

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
    r = vk_target_open(&vt, NULL, rw ? VK_OPEN_RDWR : 0, &t->bd);
    vk_target_free(&vt);
    if (r < 0)
        return r;
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

/* ---- mkfs, probe, df ---- */

static int fs_mkfs(int argc, char **argv)
{
    struct vk_mkfs_opts o = { .type = NULL, .reserved_pct = -1 };
    const char *from = NULL, *owner = NULL;
    static const struct option lo[] = {
        { "type", 1, 0, 't' }, { "label", 1, 0, 'L' }, { "uuid", 1, 0, 'U' },
        { "block-size", 1, 0, 'b' }, { "inodes", 1, 0, 'N' }, { "reserved", 1, 0, 'r' },
        { "from", 1, 0, 'f' }, { "owner", 1, 0, 'o' }, { "fat-bits", 1, 0, 'F' },
        { "cluster-size", 1, 0, 'c' }, { "force", 0, 0, 'X' }, { 0, 0, 0, 0 } };
    bool force = false;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "t:L:U:b:N:F:", lo, NULL)) != -1) {
        switch (c) {
        case 't': o.type = optarg; break;
        case 'L': o.label = optarg; break;
        case 'U': o.uuid = optarg; break;
        case 'b': o.block_size = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || !o.block_size) return cli_usage("fs mkfs", "bad block size '%s'", optarg);
            break;
        case 'N': o.inodes = strtoull(optarg, &end, 10);
            if (*end || !o.inodes) return cli_usage("fs mkfs", "bad inode count '%s'", optarg);
            break;
        case 'r': o.reserved_pct = strtod(optarg, &end);
            if (*end || o.reserved_pct < 0 || o.reserved_pct > 50)
                return cli_usage("fs mkfs", "bad reserved percentage '%s' (0-50)", optarg);
            break;
        case 'F': o.fat_bits = atoi(optarg); break;
        case 'c': o.cluster_size = (uint32_t)strtoul(optarg, NULL, 10); break;
        case 'f': from = optarg; break;
        case 'o': owner = optarg; break;
        case 'X': force = true; break;
        default: return cli_usage("fs mkfs", "unknown option");
        }
    }
    if (!o.type)
        return cli_usage("fs mkfs", "-t ext2|ext3|ext4|vfat|swap is required");
    if (optind + 1 != argc)
        return cli_usage("fs mkfs", "one TARGET expected");
    struct vk_populate_opts po = { .force_owner = false };
    if (owner) {
        unsigned u, g;
        if (sscanf(owner, "%u:%u", &u, &g) != 2)
            return cli_usage("fs mkfs", "--owner wants UID:GID, not '%s'", owner);
        po.force_owner = true;
        po.uid = u;
        po.gid = g;
    }
    struct vk_blockdev *bd;
    int r = vk_open_disk_spec(argv[optind], NULL, VK_OPEN_RDWR, &bd);
    if (r < 0)
        return cli_fail(r);
    /* A whole disk holding a partition table is almost always a mistake
     * for "disk:1": refuse to wipe the table unless told to. */
    uint64_t po_off, po_len;
    if (!force && !strchr(bd->name, ':') && vk_part_locate(bd, 1, &po_off, &po_len) == 0) {
        vk_bd_close(bd);
        return cli_failf("%s: holds a partition table; name a partition (%s:1) or pass --force "
                         "to make the filesystem over the whole disk", argv[optind], argv[optind]);
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
    bool json = argc > 1 && !strcmp(argv[1], "--json");
    if (argc != 2 + json)
        return cli_usage("fs probe", "usage: vmkit fs probe [--json] TARGET");
    struct vk_blockdev *bd;
    struct vk_fsprobe p;
    int r = vk_open_disk_spec(argv[1 + json], NULL, 0, &bd);
    if (r < 0)
        return cli_fail(r);
    memset(&p, 0, sizeof p);
    r = vk_fs_probe(bd, &p, NULL);
    vk_bd_close(bd);
    if (r < 0)
        return cli_fail(r);
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "type", p.type, "label", p.label,
                              "uuid", p.uuid, "size", (json_int_t)p.size);
        if (p.used_known)
            json_object_set_new(o, "used", json_integer((json_int_t)p.used));
        return cli_print_json(o);
    }
    printf("TYPE=\"%s\"\n", p.type);
    if (p.label[0])
        printf("LABEL=\"%s\"\n", p.label);
    if (p.uuid[0])
        printf("UUID=\"%s\"\n", p.uuid);
    printf("SIZE=%llu\n", (unsigned long long)p.size);
    if (p.used_known)
        printf("USED=%llu\n", (unsigned long long)p.used);
    return EXIT_OK;
}

static int fs_df(int argc, char **argv)
{
    bool json = argc > 1 && !strcmp(argv[1], "--json");
    if (argc != 2 + json)
        return cli_usage("fs df", "usage: vmkit fs df [--json] TARGET");
    struct tgt t;
    struct vk_statfs s;
    int r = tgt_open(argv[1 + json], false, false, &t);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_fs_statfs(t.fs, &s)) < 0)
        return done(&t, r);
    tgt_close(&t, 0);
    uint64_t bs = s.block_size;
    if (json)
        return cli_print_json(json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I}",
            "type", s.type, "label", s.label, "uuid", s.uuid, "block_size", (int)s.block_size,
            "size", (json_int_t)(s.blocks * bs), "used", (json_int_t)((s.blocks - s.blocks_free) * bs),
            "free", (json_int_t)(s.blocks_free * bs), "avail", (json_int_t)(s.blocks_avail * bs),
            "inodes", (json_int_t)s.files, "inodes_free", (json_int_t)s.files_free));
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

static json_t *stat_json(struct vk_fs *fs, const char *path, const char *name, const struct vk_stat *st)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:i, s:s, s:i, s:I, s:I, s:I, s:I, s:I}",
        "name", name, "path", path, "ino", (json_int_t)st->ino, "mode", (int)(st->mode & 07777),
        "type", type_name(st->mode), "nlink", (int)st->nlink, "uid", (json_int_t)st->uid,
        "gid", (json_int_t)st->gid, "size", (json_int_t)st->size,
        "blocks", (json_int_t)st->blocks, "mtime", (json_int_t)st->mtime.tv_sec);
    if (S_ISLNK(st->mode)) {
        char buf[4097];
        int n = vk_fs_readlink(fs, path, buf, sizeof buf - 1);
        if (n >= 0) {
            buf[n < 4096 ? n : 4096] = 0;
            json_object_set_new(o, "target", json_string(buf));
        }
    }
    if (S_ISCHR(st->mode) || S_ISBLK(st->mode)) {
        json_object_set_new(o, "major", json_integer(st->rdev_major));
        json_object_set_new(o, "minor", json_integer(st->rdev_minor));
    }
    return o;
}

static void print_long(struct vk_fs *fs, const char *path, const char *name, const struct vk_stat *st)
{
    char m[11], tbuf[32];
    struct tm tm;
    time_t t = st->mtime.tv_sec;
    mode_string(st->mode, m);
    gmtime_r(&t, &tm);
    strftime(tbuf, sizeof tbuf, "%Y-%m-%d %H:%M", &tm);
    if (S_ISCHR(st->mode) || S_ISBLK(st->mode))
        printf("%s %3u %5u %5u %6u, %4u %s %s", m, st->nlink, st->uid, st->gid, st->rdev_major,
               st->rdev_minor, tbuf, name);
    else
        printf("%s %3u %5u %5u %12llu %s %s", m, st->nlink, st->uid, st->gid,
               (unsigned long long)st->size, tbuf, name);
    if (S_ISLNK(st->mode)) {
        char buf[4097];
        int n = vk_fs_readlink(fs, path, buf, sizeof buf - 1);
        if (n >= 0) {
            buf[n < 4096 ? n : 4096] = 0;
            printf(" -> %s", buf);
        }
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

static int ls_dir(struct vk_fs *fs, const char *path, bool lng, bool rec, json_t *arr, bool header)
{
    struct vk_names n;
    int r = vk_fs_list(fs, path, &n);
    if (r < 0)
        return r;
    if (header && !arr)
        printf("%s:\n", path);
    for (size_t i = 0; i < n.n && r >= 0; i++) {
        char p[4096];
        struct vk_stat st;
        if ((r = join(p, sizeof p, path, n.v[i])) < 0)
            break;
        if ((lng || arr) && (r = vk_fs_stat(fs, p, &st, false)) < 0)
            break;
        if (arr)
            json_array_append_new(arr, stat_json(fs, p, n.v[i], &st));
        else if (lng)
            print_long(fs, p, n.v[i], &st);
        else
            printf("%s\n", n.v[i]);
    }
    for (size_t i = 0; rec && i < n.n && r >= 0; i++) {
        char p[4096];
        struct vk_stat st;
        if ((r = join(p, sizeof p, path, n.v[i])) < 0 || (r = vk_fs_stat(fs, p, &st, false)) < 0)
            break;
        if (S_ISDIR(st.mode)) {
            if (!arr)
                putchar('\n');
            r = ls_dir(fs, p, lng, rec, arr, true);
        }
    }
    vk_names_free(&n);
    return r;
}

static int fs_ls(int argc, char **argv)
{
    bool lng = false, rec = false, json = false;
    static const struct option lo[] = { { "json", 0, 0, 'j' }, { 0, 0, 0, 0 } };
    int c;
    while ((c = getopt_long(argc, argv, "lR", lo, NULL)) != -1) {
        if (c == 'l') lng = true;
        else if (c == 'R') rec = true;
        else if (c == 'j') json = true;
        else return cli_usage("fs ls", "unknown option");
    }
    if (optind + 1 != argc)
        return cli_usage("fs ls", "usage: vmkit fs ls [-l] [-R] [--json] TARGET:PATH");
    struct tgt t;
    struct vk_stat st;
    int r = tgt_open(argv[optind], false, false, &t);
    if (r < 0)
        return cli_fail(r);
    /* A symlink to a directory lists the directory (as ls does); a
     * dangling or file symlink lists itself. */
    if (vk_fs_stat(t.fs, t.path, &st, true) < 0 && (r = vk_fs_stat(t.fs, t.path, &st, false)) < 0)
        return done(&t, r);
    vk_error_clear();
    json_t *arr = json ? json_array() : NULL;
    if (!S_ISDIR(st.mode)) {
        const char *base = strrchr(t.path, '/') + 1;
        if ((r = vk_fs_stat(t.fs, t.path, &st, false)) >= 0) {
            if (arr)
                json_array_append_new(arr, stat_json(t.fs, t.path, base, &st));
            else if (lng)
                print_long(t.fs, t.path, base, &st);
            else
                printf("%s\n", base);
        }
    } else {
        r = ls_dir(t.fs, t.path, lng, rec, arr, rec);
    }
    r = tgt_close(&t, r);
    if (r < 0) {
        json_decref(arr);
        return cli_fail(r);
    }
    return arr ? cli_print_json(arr) : EXIT_OK;
}

static int fs_stat(int argc, char **argv)
{
    bool json = argc > 1 && !strcmp(argv[1], "--json");
    if (argc != 2 + json)
        return cli_usage("fs stat", "usage: vmkit fs stat [--json] TARGET:PATH");
    struct tgt t;
    struct vk_stat st;
    int r = tgt_open(argv[1 + json], false, true, &t);
    if (r < 0)
        return cli_fail(r);
    if ((r = vk_fs_stat(t.fs, t.path, &st, false)) < 0)
        return done(&t, r);
    if (json) {
        json_t *o = stat_json(t.fs, t.path, t.path, &st);
        json_object_set_new(o, "atime", json_integer(st.atime.tv_sec));
        json_object_set_new(o, "ctime", json_integer(st.ctime.tv_sec));
        tgt_close(&t, 0);
        return cli_print_json(o);
    }
    char m[11];
    mode_string(st.mode, m);
    printf("  Path: %s\n  Type: %s\n  Size: %llu\tBlocks: %llu\tLinks: %u\tInode: %llu\n"
           "  Mode: %04o/%s\tUid: %u\tGid: %u\n", t.path, type_name(st.mode),
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

static int copy_out(struct vk_fs *fs, const char *path, int fd, const char *hostname)
{
    struct vk_file *f;
    int r = vk_fs_open(fs, path, VK_O_RDONLY, 0, &f);
    if (r < 0)
        return r;
    size_t bs = 1 << 20;
    char *buf = malloc(bs);
    uint64_t off = 0;
    int64_t n = 0;
    if (!buf)
        r = vk_error(-ENOMEM, "out of memory");
    while (buf && (n = vk_fs_read(f, buf, bs, off)) > 0) {
        for (int64_t w = 0; w < n;) {
            ssize_t k = write(fd, buf + w, (size_t)(n - w));
            if (k < 0) {
                r = vk_error(-errno, "%s: %s", hostname, strerror(errno));
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
    free(buf);
    int c = vk_fs_close_file(f);
    return r < 0 ? r : c;
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
    if (argc < 2)
        return cli_usage("fs cat", "usage: vmkit fs cat TARGET:PATH...");
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
    if (argc != 2)
        return cli_usage("fs write", "usage: vmkit fs write TARGET:PATH < DATA");
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
    int c;
    while ((c = getopt(argc, argv, "r")) != -1) {
        if (c == 'r') o.recursive = true;
        else return cli_usage("fs put", "unknown option");
    }
    if (argc - optind < 2)
        return cli_usage("fs put", "usage: vmkit fs put [-r] HOSTSRC... TARGET:PATH");
    const char *dstspec = argv[argc - 1];
    struct tgt t;
    int r = tgt_open(dstspec, true, true, &t);
    if (r < 0)
        return cli_fail(r);
    struct vk_stat st;
    bool dst_dir = vk_fs_stat(t.fs, t.path, &st, true) >= 0 && S_ISDIR(st.mode);
    vk_error_clear();
    int nsrc = argc - 1 - optind;
    if (nsrc > 1 && !dst_dir)
        return done(&t, vk_error(-ENOTDIR, "%s: not a directory", dstspec));
    for (int i = optind; i < argc - 1 && r >= 0; i++) {
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

/* Copy image path into directory dirfd as name.  Never follows a host
 * symlink: every host object is reached by openat/mkdirat/symlinkat on a
 * directory fd we opened with O_NOFOLLOW, and names from the image that
 * could climb ("..", "/") are refused, so nothing lands outside HOSTDEST. */
static int get_tree(struct vk_fs *fs, const char *path, int dirfd, const char *name, bool rec)
{
    struct vk_stat st;
    int r = vk_fs_stat(fs, path, &st, false);
    if (r < 0)
        return r;
    if (!vk_path_name_safe(name))
        return vk_error(-EINVAL, "%s: unsafe name '%s' refused", path, name);
    if (S_ISREG(st.mode)) {
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                        st.mode & 0777);
        if (fd < 0)
            return vk_error(-errno, "%s: %s", name, strerror(errno));
        r = copy_out(fs, path, fd, name);
        struct timespec ts[2] = { st.atime, st.mtime };
        if (r >= 0)
            futimens(fd, ts);
        if (close(fd) < 0 && r >= 0)
            r = vk_error(-errno, "%s: %s", name, strerror(errno));
        return r;
    }
    if (S_ISLNK(st.mode)) {
        char buf[4097];
        int n = vk_fs_readlink(fs, path, buf, sizeof buf - 1);
        if (n < 0)
            return n;
        buf[n < 4096 ? n : 4096] = 0;
        if (symlinkat(buf, dirfd, name) < 0)
            return vk_error(-errno, "%s: %s", name, strerror(errno));
        return 0;
    }
    if (!S_ISDIR(st.mode)) {
        /* Device nodes and FIFOs need root on the host; a tar keeps them. */
        vk_warn("%s: %s skipped (use 'get %s -' for a tar that keeps it)", path,
                type_name(st.mode), path);
        return 0;
    }
    if (!rec)
        return vk_error(-EISDIR, "%s: is a directory (use get -r)", path);
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
        return vk_error(-errno, "%s: %s", name, strerror(errno));
    int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return vk_error(-errno, "%s: %s", name, strerror(errno));
    struct vk_names n;
    if ((r = vk_fs_list(fs, path, &n)) < 0) {
        close(sub);
        return r;
    }
    for (size_t i = 0; i < n.n && r >= 0; i++) {
        char p[4096];
        if ((r = join(p, sizeof p, path, n.v[i])) >= 0)
            r = get_tree(fs, p, sub, n.v[i], true);
    }
    vk_names_free(&n);
    fchmod(sub, st.mode & 07777);
    close(sub);
    return r;
}

static int fs_get(int argc, char **argv)
{
    bool rec = false;
    int c;
    while ((c = getopt(argc, argv, "r")) != -1) {
        if (c == 'r') rec = true;
        else return cli_usage("fs get", "unknown option");
    }
    if (argc - optind != 2)
        return cli_usage("fs get", "usage: vmkit fs get [-r] TARGET:PATH HOSTDEST");
    const char *dest = argv[optind + 1];
    struct tgt t;
    int r = tgt_open(argv[optind], false, true, &t);
    if (r < 0)
        return cli_fail(r);
    if (!strcmp(dest, "-"))
        return done(&t, vk_export_tar_fd(t.fs, t.path, 1, "stdout"));
    struct stat hs;
    const char *base = strrchr(t.path, '/') + 1;
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
        return done(&t, vk_error(-errno, "%s: %s", dir, strerror(errno)));
    r = get_tree(t.fs, t.path, dfd, name, rec);
    close(dfd);
    return done(&t, r);
}

/* ---- mkdir, rm, mv, ln, chmod, chown, touch, edit ---- */

static int fs_mkdir(int argc, char **argv)
{
    bool p = false;
    int c;
    while ((c = getopt(argc, argv, "p")) != -1) {
        if (c == 'p') p = true;
        else return cli_usage("fs mkdir", "unknown option");
    }
    if (optind >= argc)
        return cli_usage("fs mkdir", "usage: vmkit fs mkdir [-p] TARGET:PATH...");
    for (int i = optind; i < argc; i++) {
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

static int rm_tree(struct vk_fs *fs, const char *path, bool rec)
{
    struct vk_stat st;
    int r = vk_fs_stat(fs, path, &st, false);
    if (r < 0)
        return r;
    if (!S_ISDIR(st.mode))
        return vk_fs_unlink(fs, path);
    if (!rec)
        return vk_error(-EISDIR, "%s:%s: is a directory (use rm -r)", fs->bd->name, path);
    struct vk_names n;
    if ((r = vk_fs_list(fs, path, &n)) < 0)
        return r;
    for (size_t i = 0; i < n.n && r >= 0; i++) {
        char p[4096];
        if ((r = join(p, sizeof p, path, n.v[i])) >= 0)
            r = rm_tree(fs, p, true);
    }
    vk_names_free(&n);
    return r < 0 ? r : vk_fs_rmdir(fs, path);
}

static int fs_rm(int argc, char **argv)
{
    bool rec = false;
    int c;
    while ((c = getopt(argc, argv, "rf")) != -1) {
        if (c == 'r') rec = true;
        else if (c != 'f') return cli_usage("fs rm", "unknown option");
    }
    if (optind >= argc)
        return cli_usage("fs rm", "usage: vmkit fs rm [-r] TARGET:PATH...");
    for (int i = optind; i < argc; i++) {
        struct tgt t;
        int r = tgt_open(argv[i], true, true, &t);
        if (r < 0)
            return cli_fail(r);
        if (!strcmp(t.path, "/"))
            r = vk_error(-EBUSY, "%s: refusing to remove the root directory", argv[i]);
        else
            r = rm_tree(t.fs, t.path, rec);
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
    if (argc != 3)
        return cli_usage("fs mv", "usage: vmkit fs mv TARGET:FROM TARGET:TO");
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
    bool sym = argc > 1 && !strcmp(argv[1], "-s");
    if (argc != 3 + sym)
        return cli_usage("fs ln", "usage: vmkit fs ln [-s] TARGET TARGET:LINKPATH");
    struct tgt t;
    int r = tgt_open(argv[2 + sym], true, true, &t);
    if (r < 0)
        return cli_fail(r);
    if (sym)
        return done(&t, vk_fs_symlink(t.fs, argv[1 + sym], t.path));
    char ex[4096];
    if ((r = second_path(argv[1], ex)) < 0)
        return done(&t, r);
    return done(&t, vk_fs_link(t.fs, ex, t.path));
}

static int fs_chmod(int argc, char **argv)
{
    if (argc < 3)
        return cli_usage("fs chmod", "usage: vmkit fs chmod MODE TARGET:PATH...");
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
    unsigned u, g;
    char extra;
    if (argc < 3)
        return cli_usage("fs chown", "usage: vmkit fs chown UID:GID TARGET:PATH...");
    if (sscanf(argv[1], "%u:%u%c", &u, &g, &extra) != 2)
        return cli_usage("fs chown", "UID:GID must be numeric, not '%s'", argv[1]);
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
    if (argc < 2)
        return cli_usage("fs touch", "usage: vmkit fs touch TARGET:PATH...");
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
    if (argc != 2)
        return cli_usage("fs edit", "usage: vmkit fs edit TARGET:PATH");
    struct tgt t;
    char tmp[] = "/tmp/vmkit-edit-XXXXXX";
    int r = tgt_open(argv[1], false, true, &t);
    if (r < 0)
        return cli_fail(r);
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

static const struct cli_command fs_cmds[] = {
    { "mkfs",  fs_mkfs,  "mkfs -t ext2|ext3|ext4|vfat|swap [-L LABEL] [-U UUID] [-b BS] [-N INODES] [--reserved PCT] [--from DIR|TAR] [--owner U:G] TARGET" },
    { "probe", fs_probe, "probe [--json] TARGET: type, label, UUID, size, used" },
    { "df",    fs_df,    "df [--json] TARGET: space and inodes" },
    { "ls",    fs_ls,    "ls [-l] [-R] [--json] TARGET:PATH" },
    { "cat",   fs_cat,   "cat TARGET:PATH..." },
    { "stat",  fs_stat,  "stat [--json] TARGET:PATH" },
    { "get",   fs_get,   "get [-r] TARGET:PATH HOSTDEST|- (tar on stdout)" },
    { "put",   fs_put,   "put [-r] HOSTSRC...|- TARGET:PATH (- is a tar on stdin)" },
    { "write", fs_write, "write TARGET:PATH < DATA" },
    { "edit",  fs_edit,  "edit TARGET:PATH ($EDITOR on a copy)" },
    { "mkdir", fs_mkdir, "mkdir [-p] TARGET:PATH..." },
    { "rm",    fs_rm,    "rm [-r] TARGET:PATH..." },
    { "mv",    fs_mv,    "mv TARGET:FROM TARGET:TO" },
    { "ln",    fs_ln,    "ln [-s] TARGET TARGET:LINKPATH" },
    { "chmod", fs_chmod, "chmod MODE TARGET:PATH..." },
    { "chown", fs_chown, "chown UID:GID TARGET:PATH..." },
    { "touch", fs_touch, "touch TARGET:PATH..." },
    { NULL, NULL, NULL },
};

int cmd_fs(int argc, char **argv)
{
    (void)is_image_spec;
    /* --codepage N (FAT short names) applies to every verb: take it off
     * before the verb parses its own options. */
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--codepage") && i + 1 < argc)
            opt_codepage = argv[++i];
        else if (!strncmp(argv[i], "--codepage=", 11))
            opt_codepage = argv[i] + 11;
        else
            argv[n++] = argv[i];
    }
    argc = n;
    argv[argc] = NULL;
    if (argc >= 3 && cli_wants_help(argc - 1, argv + 1))
        for (const struct cli_command *c = fs_cmds; c->name; c++)
            if (!strcmp(c->name, argv[1])) {
                printf("usage: vmkit fs %s\n", c->summary);
                return EXIT_OK;
            }
    return cli_dispatch("fs", fs_cmds, argc, argv);
}
