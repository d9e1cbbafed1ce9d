/* vmkit backup: whole-disk backups into a repository directory
 * (backup/backup.h; the format is README's "Backup repository format"). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "backup/backup.h"
#include "backup/retain.h"
#include "block/blockdev.h"
#include "part/target.h"
#include "util/err.h"
#include "util/file.h"
#include "util/progress.h"
#include "util/size.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* --key-file, which every command that opens a repository takes. */
static const char *key_file;
static const struct cli_opt key_opts[] = {
    OPT_STRING(0, "key-file", &key_file, "FILE",
               "an encrypted repository's key: FILE's bytes, not a passphrase"),
    OPT_END(),
};

/* Read one line, not echoed, from the terminal after prompt into buf
 * (NUL-terminated, the newline dropped).  0, or a negative errno after
 * vk_error(): -ENXIO when there is no terminal. */
static int read_tty_line(const char *prompt, char *buf, size_t cap)
{
    buf[0] = 0;
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -ENXIO;
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) { /* the prompt is a courtesy */ }
    size_t n = 0;
    int e = 0;
    for (;;) {
        char c;
        ssize_t k = read(fd, &c, 1);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0 || c == '\n')
            break;
        if (n + 1 >= cap) {
            e = vk_error(-E2BIG, "passphrase longer than %zu bytes", cap - 1);
            break;
        }
        buf[n++] = c;
    }
    buf[n] = 0;
    if (restore)
        tcsetattr(fd, TCSAFLUSH, &old);
    if (write(fd, "\n", 1) < 0) { /* likewise */ }
    close(fd);
    return e;
}

/* The secret of encrypted repository repo: --key-file's bytes (a final
 * newline dropped, so `echo word >FILE` equals typing word), else
 * $VMKIT_BACKUP_PASSPHRASE, else a passphrase typed on the terminal
 * (twice when confirm).  0 with a malloc'd *out the caller cleanses and
 * frees, or a negative errno after vk_error(). */
static int bk_secret(const char *repo, bool confirm, char **out, size_t *len)
{
    const char *env = getenv("VMKIT_BACKUP_PASSPHRASE");
    int e = 0;
    *out = NULL;
    if (key_file) {
        if ((e = vk_read_small_file(key_file, VK_BK_SECRET_MAX, out, len)) < 0)
            return e;
        if (*len && (*out)[*len - 1] == '\n')
            (*out)[--*len] = 0;
    } else if (env) {
        *len = strlen(env);
        if (!(*out = strdup(env)))
            return vk_error(-ENOMEM, "out of memory");
    } else {
        char prompt[PATH_MAX + 64], again[1024];
        if (!(*out = malloc(sizeof again)))
            return vk_error(-ENOMEM, "out of memory");
        snprintf(prompt, sizeof prompt, "Passphrase for %s: ", repo);
        e = read_tty_line(prompt, *out, sizeof again);
        if (e == 0 && confirm && (e = read_tty_line("Again: ", again, sizeof again)) == 0 &&
            strcmp(*out, again))
            e = vk_error(-EINVAL, "%s: the passphrases differ", repo);
        OPENSSL_cleanse(again, sizeof again);
        if (e == -ENXIO)
            e = vk_error(-EACCES, "%s: encrypted repository: give --key-file FILE or "
                         "VMKIT_BACKUP_PASSPHRASE (there is no terminal to ask on)", repo);
        *len = e == 0 ? strlen(*out) : 0;
    }
    if (e == 0 && !*len)
        e = vk_error(-EINVAL, "%s: empty passphrase or key file", repo);
    if (e < 0) {
        if (*out)
            OPENSSL_cleanse(*out, *len);
        free(*out);
        *out = NULL;
    }
    return e;
}

/* vk_bk_open, then vk_bk_unlock with bk_secret when it is encrypted. */
static int bk_open(const char *path, bool writable, struct vk_bk_repo *repo)
{
    int r = vk_bk_open(path, writable, repo);
    if (r < 0 || !repo->cfg.encrypted)
        return r;
    char *secret;
    size_t len;
    if ((r = bk_secret(path, false, &secret, &len)) == 0) {
        r = vk_bk_unlock(repo, secret, len);
        OPENSSL_cleanse(secret, len);
        free(secret);
    }
    if (r < 0)
        vk_bk_close(repo);
    return r;
}

/* Parse argv against spec and opts into *a, then open the repository
 * named by operand a->v[repo_arg] (writable: under the writer's lock).
 * CLI_PARSED with the repository open in *repo (the caller closes it), or
 * the exit status to return at once: cli_parse()'s for --help or a usage
 * error, EXIT_FAIL after printing why the repository did not open. */
static int bk_parse_open(const struct cli_spec *spec, const struct cli_opt *opts, int argc,
                         char **argv, struct cli_args *a, int repo_arg, bool writable,
                         struct vk_bk_repo *repo)
{
    int r = cli_parse(spec, opts, argc, argv, a);
    if (r != CLI_PARSED)
        return r;
    if ((r = bk_open(a->v[repo_arg], writable, repo)) < 0)
        return cli_fail(r);
    return CLI_PARSED;
}

/* Open repository path (read-only) and load its snapshot snap (an id,
 * 'latest' or a name).  0 with both in *repo and *s (the caller frees
 * both), or a negative errno after vk_error() with nothing left open. */
static int bk_open_snap(const char *path, const char *snap, struct vk_bk_repo *repo,
                        struct vk_bk_snap *s)
{
    int r = bk_open(path, false, repo);
    if (r < 0)
        return r;
    if ((r = vk_bk_snap_load(repo, snap, s)) < 0)
        vk_bk_close(repo);
    return r;
}

/* --json for list and info. */
static bool json_out;
static const struct cli_opt json_opts[] = {
    OPT_BOOL(0, "json", &json_out, "print JSON"),
    OPT_INCLUDE(key_opts),
    OPT_END(),
};

static int bk_init(int argc, char **argv)
{
    uint64_t cs = 0;
    bool encrypt = false;
    const struct cli_opt opts[] = {
        OPT_SIZE(0, "chunk-size", &cs, "SIZE", "chunk size, a power of two from 64K to 64M (default 1M)"),
        OPT_BOOL(0, "encrypt", &encrypt, "encrypt chunks and snapshots (AES-256-GCM, a key from "
                 "a passphrase or --key-file)"),
        OPT_INCLUDE(key_opts),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "backup init", "[--chunk-size SIZE] [--encrypt [--key-file FILE]] REPO",
        "Make REPO (a new or empty directory) a backup repository: its config, a\n"
        "lock file, chunks/ and snapshots/.  With --encrypt every chunk and\n"
        "snapshot is sealed with AES-256-GCM and chunks are named by keyed\n"
        "HMAC-SHA-256, under a random key kept in the config sealed by scrypt of\n"
        "the passphrase: typed twice on the terminal, or $VMKIT_BACKUP_PASSPHRASE,\n"
        "or --key-file FILE's bytes.  Every later command needs the same.", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (cs > VK_BK_CHUNK_MAX)
        return cli_usage("backup init", "--chunk-size %llu: at most 64M", (unsigned long long)cs);
    if (key_file && !encrypt)
        return cli_usage("backup init", "--key-file is for --encrypt");
    char *secret = NULL;
    size_t len = 0;
    if (encrypt && (r = bk_secret(a.v[0], true, &secret, &len)) < 0)
        return cli_fail(r);
    r = vk_bk_init(a.v[0], (uint32_t)cs, secret, len);
    if (secret)
        OPENSSL_cleanse(secret, len);
    free(secret);
    if (r < 0)
        return cli_fail(r);
    if (isatty(1))
        printf("Initialized backup repository %s\n", a.v[0]);
    return EXIT_OK;
}

/* A published snapshot: its id (for scripts), and on a terminal what it
 * kept and added. */
static void print_saved(const struct vk_bk_snap *s, const char *vdev, void *ctx)
{
    char kept[32], added[32], size[32];
    printf("%s\n", s->id);
    if (isatty(1))
        printf("Saved '%s'%s%s: %s of %s kept; %zu chunks, %llu new (%s written)\n", s->name,
               vdev ? ", disk " : "", vdev ? vdev : "",
               vk_human_size(s->kept, kept, sizeof kept), vk_human_size(s->size, size, sizeof size),
               s->next, (unsigned long long)s->new_chunks,
               vk_human_size(s->new_bytes, added, sizeof added));
    fflush(stdout);
}

static int bk_save(int argc, char **argv)
{
    const char *name = NULL;
    bool progress = false;
    const struct cli_opt opts[] = {
        OPT_STRING(0, "name", &name, "N", "the snapshot's name (default: the disk's file name)"),
        OPT_BOOL('p', "progress", &progress, "draw a progress bar (default: on a terminal)"),
        OPT_INCLUDE(key_opts),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "backup save", "[--name N] DISK|VM REPO",
        "Back the disk image DISK (any format vmkit reads) up into REPO: the\n"
        "partition table, the boot code and the gap before the first partition\n"
        "whole; in each partition only the blocks its filesystem uses (ext: block\n"
        "bitmaps, FAT: the FAT, swap: its header; anything else: every non-zero\n"
        "block).  Fixed chunks, named by their SHA-256, stored once per repository,\n"
        "zstd-compressed.  The snapshot appears only once all its chunks are on\n"
        "disk.  Prints the new snapshot's id.  Given the name of a VM (not a\n"
        "file), every writable local disk of it is saved, one snapshot each (named\n"
        "N, or N-VDEV when it has several); a running VM's disks are frozen at one\n"
        "instant (qcow2 overlays taken together over QMP, merged back after) while\n"
        "the guest runs on.", 2, 2 };
    struct cli_args a;
    struct vk_bk_repo repo;
    int r = bk_parse_open(&spec, opts, argc, argv, &a, 1, true, &repo);
    if (r != CLI_PARSED)
        return r;
    struct vk_progress pb;
    struct vk_bk_snap s;
    struct stat st;
    vk_progress_init(&pb, STDERR_FILENO, progress);
    if (lstat(a.v[0], &st) < 0 && errno == ENOENT && !strchr(a.v[0], '/')) {
        /* not a file: a VM's name */
        struct vk_bk_vm_report rep = { vk_progress_update, &pb, print_saved, NULL };
        r = vk_bk_save_vm(&repo, a.v[0], name, &rep);
        vk_progress_end(&pb);
        vk_bk_close(&repo);
        if (r == -ENOENT)
            return cli_failf("%s: no such disk image or VM", a.v[0]);
        return r < 0 ? cli_fail(r) : EXIT_OK;
    }
    r = vk_bk_save(&repo, a.v[0], name, vk_progress_update, &pb, &s);
    vk_progress_end(&pb);
    vk_bk_close(&repo);
    if (r < 0)
        return cli_fail(r);
    print_saved(&s, NULL, NULL);
    vk_bk_snap_free(&s);
    return EXIT_OK;
}

static json_t *snap_json(const struct vk_bk_snap *s, bool full)
{
    json_t *j = json_pack("{ss ss ss ss ss ss so sI so so so so}", "id", s->id, "name", s->name,
                          "time", s->time, "source", s->source, "source_format",
                          s->source_format, "table", s->table, "size", cli_json_u64(s->size),
                          "chunk_size", (json_int_t)s->chunk_size, "kept", cli_json_u64(s->kept),
                          "chunks", cli_json_u64(s->next), "new_chunks",
                          cli_json_u64(s->new_chunks), "new_bytes", cli_json_u64(s->new_bytes));
    if (full && j) {
        json_t *parts = json_array();
        for (size_t i = 0; i < s->nparts; i++)
            json_array_append_new(parts, json_pack("{sI so so ss so}", "number",
                                                   (json_int_t)s->parts[i].number, "start",
                                                   cli_json_u64(s->parts[i].start), "size",
                                                   cli_json_u64(s->parts[i].size), "fs",
                                                   s->parts[i].fs, "kept",
                                                   cli_json_u64(s->parts[i].kept)));
        json_object_set_new(j, "partitions", parts);
    }
    return j;
}

static int bk_list(int argc, char **argv)
{
    static const struct cli_spec spec = {
        "backup list", "[--json] REPO",
        "List the snapshots in REPO, oldest first.", 1, 1 };
    struct cli_args a;
    struct vk_bk_repo repo;
    int r = bk_parse_open(&spec, json_opts, argc, argv, &a, 0, false, &repo);
    if (r != CLI_PARSED)
        return r;
    bool json = json_out;
    char **ids;
    size_t n;
    if ((r = vk_bk_snap_ids(&repo, &ids, &n)) < 0) {
        vk_bk_close(&repo);
        return cli_fail(r);
    }
    json_t *arr = json ? json_array() : NULL;
    int status = EXIT_OK;
    if (!json)
        printf("%-26s %-20s %10s %10s %s\n", "ID", "TIME", "SIZE", "KEPT", "NAME");
    for (size_t i = 0; i < n; i++) {
        struct vk_bk_snap s;
        if (vk_bk_snap_load(&repo, ids[i], &s) < 0) {
            fprintf(stderr, "vmkit: %s\n", vk_errmsg());
            status = EXIT_FAIL;
            continue;
        }
        if (json) {
            json_array_append_new(arr, snap_json(&s, false));
        } else {
            char sz[32], kept[32];
            printf("%-26s %-20s %10s %10s %s\n", s.id, s.time, vk_human_size(s.size, sz, sizeof sz),
                   vk_human_size(s.kept, kept, sizeof kept), s.name);
        }
        vk_bk_snap_free(&s);
    }
    if (json)
        cli_print_json(arr);
    vk_bk_ids_free(ids, n);
    vk_bk_close(&repo);
    return status;
}

static int bk_info(int argc, char **argv)
{
    static const struct cli_spec spec = {
        "backup info", "[--json] REPO SNAP",
        "Show one snapshot: SNAP is its id, 'latest', or a name (the newest\n"
        "snapshot of that name).", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, json_opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    struct vk_bk_repo repo;
    struct vk_bk_snap s;
    if ((r = bk_open_snap(a.v[0], a.v[1], &repo, &s)) < 0)
        return cli_fail(r);
    vk_bk_close(&repo);
    if (json_out) {
        cli_print_json(snap_json(&s, true));
    } else {
        char b[4][32];
        printf("id:          %s\nname:        %s\ntime:        %s\nsource:      %s (%s)\n"
               "size:        %s\ntable:       %s\nkept:        %s in %zu chunks of %s\n"
               "added:       %llu chunks, %s\n", s.id, s.name, s.time, s.source,
               s.source_format, vk_human_size(s.size, b[0], 32), s.table,
               vk_human_size(s.kept, b[1], 32), s.next, vk_human_size(s.chunk_size, b[2], 32),
               (unsigned long long)s.new_chunks, vk_human_size(s.new_bytes, b[3], 32));
        for (size_t i = 0; i < s.nparts; i++)
            printf("partition %u: %s at %llu, %s, %s kept\n", s.parts[i].number,
                   s.parts[i].fs[0] ? s.parts[i].fs : "unknown",
                   (unsigned long long)s.parts[i].start, vk_human_size(s.parts[i].size, b[0], 32),
                   vk_human_size(s.parts[i].kept, b[1], 32));
    }
    vk_bk_snap_free(&s);
    return EXIT_OK;
}

static void print_bad(const char *msg, void *ctx)
{
    fprintf(stderr, "vmkit: %s\n", msg);
}

static int bk_verify(int argc, char **argv)
{
    bool read_data = false, progress = false;
    const struct cli_opt opts[] = {
        OPT_BOOL(0, "read-data", &read_data, "decrypt and decompress every chunk and check it against its name"),
        OPT_BOOL('p', "progress", &progress, "draw a progress bar (default: on a terminal)"),
        OPT_INCLUDE(key_opts),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "backup verify", "[--read-data] REPO",
        "Check that every snapshot in REPO reads and every chunk it names exists;\n"
        "with --read-data, that every chunk decompresses and hashes to its name.\n"
        "Each problem is printed with the snapshots it touches; exit 1 if any.", 1, 1 };
    struct cli_args a;
    struct vk_bk_repo repo;
    int r = bk_parse_open(&spec, opts, argc, argv, &a, 0, false, &repo);
    if (r != CLI_PARSED)
        return r;
    struct vk_progress pb;
    struct vk_bk_verify_stats st;
    vk_progress_init(&pb, STDERR_FILENO, progress);
    r = vk_bk_verify(&repo, read_data, print_bad, NULL, vk_progress_update, &pb, &st);
    vk_progress_end(&pb);
    vk_bk_close(&repo);
    if (r < 0)
        return cli_fail(r);
    printf("%zu snapshots, %zu chunks%s: %zu bad snapshots, %zu bad chunks\n", st.snapshots,
           st.chunks, read_data ? " read" : "", st.bad_snapshots, st.bad_chunks);
    return r ? EXIT_FAIL : EXIT_OK;
}

/* What --grow did, for the user (stderr: stdout stays the report). */
/* What --grow or a smaller --size did (verb: "grown", "shrunk"). */
static void print_grown(const char *dest, const struct vk_bk_grown *g, const char *verb)
{
    char sz[32];
    vk_human_size(g->part_size, sz, sizeof sz);
    if (g->part)
        fprintf(stderr, "vmkit: %s: partition %u %s to %s\n", dest, g->part, verb, sz);
    if (g->fs_grown)
        fprintf(stderr, "vmkit: %s: filesystem %s to %s\n", dest, verb, sz);
    else if (g->note[0])
        fprintf(stderr, "vmkit: %s: filesystem not %s: %s\n", dest, verb, g->note);
}

static int bk_restore(int argc, char **argv)
{
    const char *fmt = NULL;
    bool force = false, progress = false, grow = false;
    uint64_t size = 0;
    long part = 0;
    const struct cli_opt opts[] = {
        OPT_STRING('f', "format", &fmt, "FMT", "raw (default) or qcow2"),
        OPT_BOOL(0, "force", &force, "replace an existing DEST"),
        OPT_SIZE(0, "size", &size, "SIZE", "make DEST this large (smaller: the last partition shrinks)"),
        OPT_BOOL(0, "grow", &grow, "grow the last partition and its filesystem to DEST's end"),
        OPT_INT(0, "part", &part, "N", "restore only partition N, into DEST = DISK:M"),
        OPT_BOOL('p', "progress", &progress, "draw a progress bar (default: on a terminal)"),
        OPT_INCLUDE(key_opts),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "backup restore",
        "[--format raw|qcow2] [--force] [--size SIZE] [--grow] REPO SNAP DEST\n"
        "       vmkit backup restore --part N [--grow] REPO SNAP DISK:M",
        "Write snapshot SNAP (an id, 'latest' or a name) of REPO to a new image\n"
        "DEST.  It is written as DEST.partial and renamed when complete, so an\n"
        "interrupted restore never looks finished; every chunk is checked against\n"
        "its name (its hash) before it is written, and a damaged one stops the restore\n"
        "(DEST.partial removed).  Free blocks stay holes.  --size makes a larger\n"
        "image; --grow then grows the last partition (GPT: its backup moved to\n"
        "the end) and its ext or FAT filesystem to the end.  A --size smaller\n"
        "than the disk shrinks the partition that ends last and its filesystem\n"
        "(resize2fs's rules; FAT: its last clusters must be free) to fit, or is\n"
        "refused when the data does not fit.  --part N writes\n"
        "partition N alone into partition M of an existing disk, nothing else\n"
        "of it, refused when it does not fit; --grow grows its filesystem to\n"
        "fill partition M.", 3, 3 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (fmt && strcmp(fmt, "raw") && strcmp(fmt, "qcow2"))
        return cli_usage("backup restore", "--format %s: raw or qcow2", fmt);
    if (part < 0 || part > 4096)
        return cli_usage("backup restore", "--part %ld: not a partition number", part);
    if (part && (fmt || force || size))
        return cli_usage("backup restore", "--part writes into an existing partition: "
                         "no --format, --force or --size");
    if (size % 512)
        return cli_usage("backup restore", "--size: not a multiple of 512 bytes");
    struct vk_bk_repo repo;
    struct vk_bk_snap s;
    if ((r = bk_open_snap(a.v[0], a.v[1], &repo, &s)) < 0)
        return cli_fail(r);
    struct vk_progress pb;
    vk_progress_init(&pb, STDERR_FILENO, progress);
    struct vk_bk_restore_opts o = { .fmt = fmt, .force = force, .size = size, .grow = grow,
                                    .progress = vk_progress_update, .pctx = &pb };
    struct vk_bk_grown g;
    if (part)
        r = vk_bk_restore_part(&repo, &s, (unsigned)part, a.v[2], &o, &g);
    else
        r = vk_bk_restore(&repo, &s, a.v[2], &o, &g);
    vk_progress_end(&pb);
    vk_bk_close(&repo);
    if (r < 0 && g.note[0])
        fprintf(stderr, "%s\n", g.note);      /* resize2fs's output */
    if (r >= 0 && grow)
        print_grown(a.v[2], &g, "grown");
    else if (r >= 0 && size && size < s.size)
        print_grown(a.v[2], &g, "shrunk");
    if (r >= 0 && isatty(1))
        printf("Restored %s (%s) to %s\n", s.id, s.name, a.v[2]);
    vk_bk_snap_free(&s);
    return r < 0 ? cli_fail(r) : EXIT_OK;
}

static int bk_export(int argc, char **argv)
{
    uint64_t split = VK_BK_SPLIT_DEFAULT;
    bool progress = false;
    const struct cli_opt opts[] = {
        OPT_SIZE(0, "split", &split, "SIZE", "split each image into pieces of SIZE (default 4G, at least 1M)"),
        OPT_BOOL('p', "progress", &progress, "draw a progress bar (default: on a terminal)"),
        OPT_INCLUDE(key_opts),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "backup export", "[--split SIZE] REPO SNAP DIR",
        "Write snapshot SNAP (an id, 'latest' or a name) of REPO as a new Clonezilla\n"
        "image directory DIR, the disk named sda: the partition table (sda-pt.sf),\n"
        "the MBR and the hidden data after it, the disk and parts files, and for\n"
        "each partition a partclone image (ext2/3/4, vfat: used blocks only) or\n"
        "a dd image (anything else), zstd-compressed and split as .aa, .ab ...\n"
        "(swap: swappt-sdaN.info, as Clonezilla).  DIR is written as\n"
        "DIR.tmp-XXXXXX and renamed when complete; an existing DIR is refused.", 3, 3 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    char cmd[1024];
    int n = snprintf(cmd, sizeof cmd, "vmkit backup");
    for (int i = 0; i < argc && n >= 0 && (size_t)n < sizeof cmd; i++)
        n += snprintf(cmd + n, sizeof cmd - (size_t)n, " %s", argv[i]);
    if (n >= 0 && (size_t)n < sizeof cmd - 1)
        snprintf(cmd + n, sizeof cmd - (size_t)n, "\n");
    struct vk_bk_repo repo;
    struct vk_bk_snap s;
    if ((r = bk_open_snap(a.v[0], a.v[1], &repo, &s)) < 0)
        return cli_fail(r);
    struct vk_progress pb;
    vk_progress_init(&pb, STDERR_FILENO, progress);
    r = vk_bk_export(&repo, &s, a.v[2], split, cmd, vk_progress_update, &pb);
    vk_progress_end(&pb);
    vk_bk_close(&repo);
    if (r >= 0 && isatty(1))
        printf("Exported %s (%s) to %s\n", s.id, s.name, a.v[2]);
    vk_bk_snap_free(&s);
    return r < 0 ? cli_fail(r) : EXIT_OK;
}

static int bk_import(int argc, char **argv)
{
    const char *name = NULL;
    bool progress = false;
    const struct cli_opt opts[] = {
        OPT_STRING(0, "name", &name, "SNAP", "the snapshot's name (default: DIR's name)"),
        OPT_BOOL('p', "progress", &progress, "draw a progress bar (default: on a terminal)"),
        OPT_INCLUDE(key_opts),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "backup import", "[--name SNAP] REPO DIR",
        "Read the Clonezilla image directory DIR (one disk: disk, parts, the\n"
        "<disk>-pt.sf table, the MBR, hidden data and GPT copies, partclone or dd\n"
        "images split .aa, .ab ..., zstd, gzip or uncompressed) into REPO as a new\n"
        "snapshot, stored as save would store the disk: used blocks only, in the\n"
        "repository's chunks.  Every partclone checksum is checked; nothing is\n"
        "published unless all of DIR reads cleanly.  Prints the new snapshot's id.", 2, 2 };
    struct cli_args a;
    struct vk_bk_repo repo;
    int r = bk_parse_open(&spec, opts, argc, argv, &a, 0, true, &repo);
    if (r != CLI_PARSED)
        return r;
    struct vk_progress pb;
    struct vk_bk_snap s;
    vk_progress_init(&pb, STDERR_FILENO, progress);
    r = vk_bk_import(&repo, a.v[1], name, vk_progress_update, &pb, &s);
    vk_progress_end(&pb);
    vk_bk_close(&repo);
    if (r < 0)
        return cli_fail(r);
    printf("%s\n", s.id);
    vk_bk_snap_free(&s);
    return EXIT_OK;
}

/* ---- ls, cat, get: files straight from a snapshot ---- */

/* An open SNAP[:PART][:PATH] of a repository. */
struct bk_file {
    struct vk_bk_repo repo;
    struct vk_bk_snap snap;
    struct vk_blockdev *bd;     /* the partition (or the whole disk) */
    char *path;                 /* NULL when none was given */
    bool parted;                /* a table and no PART: list partitions */
};

/* Split spec "SNAP[:PART][:PATH]" (snapshot ids hold no ':'; a PATH
 * starts with '/'), open the repository, the snapshot and partition PART
 * of its disk ("none" tables: the disk itself).  need_path: PATH must be
 * there. */
static int bk_file_open(const char *repo, const char *spec, bool need_path, struct bk_file *f)
{
    memset(f, 0, sizeof *f);
    char *snap = strdup(spec);
    if (!snap)
        return vk_error(-ENOMEM, "out of memory");
    char *rest = strchr(snap, ':'), *path = NULL;
    unsigned part = 0;
    bool has_part = false;
    if (rest) {
        *rest++ = 0;
        if (*rest != '/') {
            char *end;
            errno = 0;
            unsigned long n = strtoul(rest, &end, 10);
            if (end == rest || errno || n == 0 || n > 128 || (*end && *end != ':')) {
                int r = vk_error(-EINVAL, "%s: bad partition '%s' (write SNAP:N:/PATH)", spec, rest);
                free(snap);
                return r;
            }
            part = (unsigned)n;
            has_part = true;
            rest = *end ? end + 1 : NULL;
        }
        path = rest;
    }
    int r;
    if (need_path && !path)
        r = vk_error(-EINVAL, "%s: no path inside the snapshot (write SNAP:N:/PATH)", spec);
    else if (path && !(f->path = strdup(path)))
        r = vk_error(-ENOMEM, "out of memory");
    else
        r = bk_open_snap(repo, snap, &f->repo, &f->snap);
    if (r < 0) {
        free(f->path);
        free(snap);
        return r;
    }
    struct vk_blockdev *disk = NULL;
    uint64_t off, len;
    char name[VK_BK_ID_MAX + 16];
    snprintf(name, sizeof name, "%s:%u", f->snap.id, part);
    bool table = strcmp(f->snap.table, "none") != 0;
    if ((r = vk_bk_snap_bd_open(&f->repo, &f->snap, &disk)) >= 0) {
        if (!has_part) {
            f->bd = disk;
            f->parted = table;
        } else if (!table) {
            r = vk_error(-ENOENT, "%s: snapshot %s has no partition table (write SNAP:/PATH)",
                         spec, f->snap.id);
        } else if ((r = vk_part_locate(disk, part, &off, &len)) >= 0) {
            r = vk_slice_open(disk, off, len, name, true, &f->bd);
        }
        if (r < 0)
            vk_bd_close(disk);
    }
    free(snap);
    if (r < 0) {
        vk_bk_snap_free(&f->snap);
        vk_bk_close(&f->repo);
        free(f->path);
    }
    return r;
}

/* After the fs verb closed f->bd. */
static int bk_file_close(struct bk_file *f, int status)
{
    vk_bk_snap_free(&f->snap);
    vk_bk_close(&f->repo);
    free(f->path);
    return status;
}

static int bk_ls(int argc, char **argv)
{
    bool lng = false, rec = false, json = false;
    const struct cli_opt opts[] = {
        OPT_BOOL('l', NULL, &lng, "long listing: mode, links, owner, size, time"),
        OPT_BOOL('R', NULL, &rec, "recursive"),
        OPT_BOOL(0, "json", &json, "print JSON (as fs ls --json)"),
        OPT_INCLUDE(key_opts),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "backup ls", "[-l] [-R] [--json] REPO SNAP[:PART][:PATH]",
        "List a directory of partition PART of snapshot SNAP as 'fs ls' does,\n"
        "read straight from the repository's chunks (no restore).  Without PART,\n"
        "a partitioned disk lists its partitions.", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    struct bk_file f;
    if ((r = bk_file_open(a.v[0], a.v[1], false, &f)) < 0)
        return cli_fail(r);
    if (f.parted && !f.path) {
        char sz[32];
        vk_bd_close(f.bd);
        for (size_t i = 0; i < f.snap.nparts; i++)
            printf("%s:%u\t%s\t%s\n", f.snap.id, f.snap.parts[i].number,
                   f.snap.parts[i].fs[0] ? f.snap.parts[i].fs : "unknown",
                   vk_human_size(f.snap.parts[i].size, sz, sizeof sz));
        return bk_file_close(&f, EXIT_OK);
    }
    return bk_file_close(&f, cli_fs_ls_dev(f.bd, f.path, lng, rec, json));
}

static int bk_cat(int argc, char **argv)
{
    static const struct cli_spec spec = {
        "backup cat", "REPO SNAP:PART:PATH",
        "Print a file of snapshot SNAP, read straight from the repository's\n"
        "chunks (each checked against its name).", 2, 2 };
    const struct cli_opt opts[] = { OPT_INCLUDE(key_opts), OPT_END() };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    struct bk_file f;
    if ((r = bk_file_open(a.v[0], a.v[1], true, &f)) < 0)
        return cli_fail(r);
    return bk_file_close(&f, cli_fs_cat_dev(f.bd, f.path));
}

static int bk_get(int argc, char **argv)
{
    bool rec = false;
    const struct cli_opt opts[] = {
        OPT_BOOL('r', "recursive", &rec, "copy directories and what they hold"),
        OPT_INCLUDE(key_opts),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "backup get", "[-r] REPO SNAP:PART:PATH HOSTDEST|-",
        "Copy a file (-r: a tree) of snapshot SNAP out to the host as 'fs get'\n"
        "does, read straight from the repository's chunks; - writes a tar on\n"
        "stdout.", 3, 3 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    struct bk_file f;
    if ((r = bk_file_open(a.v[0], a.v[1], true, &f)) < 0)
        return cli_fail(r);
    return bk_file_close(&f, cli_fs_get_dev(f.bd, f.path, a.v[2], rec));
}

/* ---- prune, gc ---- */

struct prune_out {
    bool list, dry_run;
};

/* One line per snapshot removed (--list: per snapshot, with the rule
 * that kept it, as borg prune --list). */
static void print_verdict(const char *id, const struct vk_bk_verdict *v, void *ctx)
{
    const struct prune_out *o = ctx;
    if (v->rule < 0)
        printf("%s %s\n", o->dry_run ? "would remove" : "removed", id);
    else if (o->list)
        printf("keep %s (%s%s #%lu)\n", id, vk_bk_rule_name(v->rule), v->oldest ? "[oldest]" : "",
               v->nth);
}

static int bk_prune(int argc, char **argv)
{
    /* LONG_MIN: not given (0 is a rule that keeps nothing) */
    long keep[VK_BK_NRULES] = { LONG_MIN, LONG_MIN, LONG_MIN, LONG_MIN, LONG_MIN, LONG_MIN };
    struct prune_out o = { false, false };
    const struct cli_opt opts[] = {
        OPT_INT(0, "keep-last", &keep[VK_BK_KEEP_LAST], "N", "keep the newest N snapshots"),
        OPT_INT('H', "keep-hourly", &keep[VK_BK_KEEP_HOURLY], "N",
                "keep the newest snapshot of each of the N newest hours with one"),
        OPT_INT('d', "keep-daily", &keep[VK_BK_KEEP_DAILY], "N", "likewise for days (UTC)"),
        OPT_INT('w', "keep-weekly", &keep[VK_BK_KEEP_WEEKLY], "N",
                "likewise for ISO weeks (Monday to Sunday)"),
        OPT_INT('m', "keep-monthly", &keep[VK_BK_KEEP_MONTHLY], "N", "likewise for months"),
        OPT_INT('y', "keep-yearly", &keep[VK_BK_KEEP_YEARLY], "N", "likewise for years"),
        OPT_BOOL('n', "dry-run", &o.dry_run, "print what would be removed; change nothing"),
        OPT_BOOL(0, "list", &o.list, "print every snapshot kept too, with the rule that kept it"),
        OPT_INCLUDE(key_opts),
        OPT_END(),
    };
    static const struct cli_spec spec = {
        "backup prune", "REPO",
        "Remove the snapshots of REPO that no retention rule keeps (their chunks\n"
        "stay until 'backup gc'), as borg prune does: periods are UTC, from the\n"
        "time each snapshot was made; the rules apply from last to yearly, and\n"
        "a period whose newest snapshot an earlier rule kept does not count;\n"
        "a rule short of N periods also keeps the oldest snapshot.  At least\n"
        "one keep option is required.  Prints each id removed (oldest first).\n"
        "Holds the writer's lock, except with --dry-run.", 1, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    struct vk_bk_policy pol = { { 0 } };
    bool any = false;
    for (int i = 0; i < VK_BK_NRULES; i++) {
        if (keep[i] == LONG_MIN)
            continue;
        if (keep[i] < 0)
            return cli_usage("backup prune", "--keep-%s: N must be 0 or more, not %ld",
                             vk_bk_rule_name(i), keep[i]);
        pol.keep[i] = (unsigned long)keep[i];
        any = true;
    }
    if (!any)
        return cli_usage("backup prune", "a retention rule is required: --keep-last, --keep-hourly, "
                         "--keep-daily, --keep-weekly, --keep-monthly or --keep-yearly N");
    struct vk_bk_repo repo;
    if ((r = bk_open(a.v[0], !o.dry_run, &repo)) < 0)
        return cli_fail(r);
    r = vk_bk_prune(&repo, &pol, o.dry_run, print_verdict, &o);
    vk_bk_close(&repo);
    return r < 0 ? cli_fail(r) : EXIT_OK;
}

static int bk_gc(int argc, char **argv)
{
    static const struct cli_spec spec = {
        "backup gc", "REPO",
        "Delete the chunks of REPO that no snapshot names (after 'backup prune')\n"
        "and the temporary files an interrupted save left.  Refused when any\n"
        "snapshot cannot be read.  Holds the writer's lock.", 1, 1 };
    const struct cli_opt opts[] = { OPT_INCLUDE(key_opts), OPT_END() };
    struct cli_args a;
    struct vk_bk_repo repo;
    int r = bk_parse_open(&spec, opts, argc, argv, &a, 0, true, &repo);
    if (r != CLI_PARSED)
        return r;
    struct vk_bk_gc_stats st;
    r = vk_bk_gc(&repo, &st);
    vk_bk_close(&repo);
    if (r < 0)
        return cli_fail(r);
    printf("%zu chunks removed, %zu temporary files removed\n", st.chunks_removed, st.temp_files);
    return EXIT_OK;
}

static const struct cli_command backup_cmds[] = {
    { "init",    bk_init,    "make a directory a backup repository" },
    { "save",    bk_save,    "back a disk image up (used blocks, deduplicated, zstd)" },
    { "list",    bk_list,    "list the snapshots of a repository" },
    { "info",    bk_info,    "show one snapshot" },
    { "verify",  bk_verify,  "check every snapshot and chunk (--read-data: their contents)" },
    { "restore", bk_restore, "write a snapshot to a new raw or qcow2 image" },
    { "export",  bk_export,  "write a snapshot as a Clonezilla image directory (partclone, zstd)" },
    { "import",  bk_import,  "read a Clonezilla image directory in as a new snapshot" },
    { "ls",      bk_ls,      "list files of a snapshot without restoring it" },
    { "cat",     bk_cat,     "print a file of a snapshot" },
    { "get",     bk_get,     "copy files (-r: a tree) out of a snapshot" },
    { "prune",   bk_prune,   "forget snapshots by --keep-last/hourly/daily/weekly/monthly/yearly rules" },
    { "gc",      bk_gc,      "delete the chunks no snapshot names" },
    { NULL, NULL, NULL },
};

/* vmkit backup COMMAND: see backup_cmds. */
int cmd_backup(int argc, char **argv)
{
    return cli_dispatch("backup", backup_cmds, argc, argv);
}
