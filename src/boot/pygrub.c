/* pygrub: find a disk's boot configuration and copy out its kernel and
 * initrd (contract in pygrub.h).  Partition tables come from part/, files
 * from fs/ mounted read-only; the configuration is only parsed. */
#include "boot/pygrub.h"
#include "fs/iso9660.h"

#include "boot/bootcfg.h"
#include "fs/fs.h"
#include "part/part.h"
#include "util/dirs.h"
#include "util/err.h"
#include "util/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Xen's pygrub's list, in its order (tools/pygrub/src/pygrub,
 * read_config): every GRUB2 location first, then extlinux/isolinux, then
 * GRUB legacy; the paths without /boot are a separate /boot partition. */
static const char *const config_paths[] = {
    "/boot/grub/grub.cfg", "/grub/grub.cfg", "/boot/grub2/grub.cfg", "/grub2/grub.cfg",
    "/boot/isolinux/isolinux.cfg", "/boot/extlinux/extlinux.conf", "/boot/extlinux.conf",
    "/extlinux/extlinux.conf", "/extlinux.conf",
    "/boot/grub/menu.lst", "/boot/grub/grub.conf", "/grub/menu.lst", "/grub/grub.conf",
    NULL,
};

void vk_boot_result_free(struct vk_boot_result *r)
{
    free(r->kernel);
    free(r->initrd);
    free(r->cmdline);
    free(r->title);
    free(r->config);
    memset(r, 0, sizeof *r);
}

/* Lexically normalise path (relative to dir when not absolute): "." and
 * ".." are resolved with ".." clamping at the root, as the kernel does at
 * "/", so a config can never name anything outside its filesystem. */
static char *normalise(const char *dir, const char *path)
{
    size_t n = strlen(dir) + strlen(path) + 3;
    char *in = malloc(n), *out = malloc(n);
    if (!in || !out) {
        free(in);
        free(out);
        return NULL;
    }
    if (path[0] == '/')
        snprintf(in, n, "%s", path);
    else
        snprintf(in, n, "%s/%s", dir, path);
    size_t o = 0;
    char *save = NULL;
    for (char *c = strtok_r(in, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            continue;
        }
        out[o++] = '/';
        size_t l = strlen(c);
        memcpy(out + o, c, l);
        o += l;
    }
    if (!o)
        out[o++] = '/';
    out[o] = '\0';
    free(in);
    return out;
}

/* Copy file src of fs into fd (host file dst, for messages) at offset
 * *total, starting the file afresh when *total is 0, refusing non-regular
 * files and more than VK_PYGRUB_FILE_MAX bytes in total. */
static int copy_out(struct vk_fs *fs, const char *where, const char *src, int fd,
                    const char *dst, uint64_t *total)
{
    struct vk_stat st;
    int r = vk_fs_stat(fs, src, &st, true);
    if (r < 0)
        return vk_error(r, "%s:%s: %s", where, src,
                        r == -ENOENT ? "no such file (named by the boot configuration)"
                                     : vk_errmsg_for(r));
    if ((st.mode & S_IFMT) != S_IFREG)
        return vk_error(-EINVAL, "%s:%s: not a regular file", where, src);
    if (st.size + *total > VK_PYGRUB_FILE_MAX)
        return vk_error(-EFBIG, "%s:%s: too large (%llu bytes, at most %llu)", where, src,
                        (unsigned long long)(st.size + *total), VK_PYGRUB_FILE_MAX);
    if (*total == 0 && ftruncate(fd, 0) < 0)
        return vk_error(-errno, "%s: %s", dst, strerror(errno));
    struct vk_file *f;
    if ((r = vk_fs_open(fs, src, VK_O_RDONLY, 0, &f)) < 0)
        return r;
    size_t bufsz = 1 << 20;
    char *buf = malloc(bufsz);
    uint64_t off = 0;
    if (!buf)
        r = vk_error(-ENOMEM, "%s: out of memory", dst);
    while (r == 0 && off < st.size) {
        int64_t n = vk_fs_read(f, buf, bufsz, off);
        if (n < 0) {
            r = (int)n;
            break;
        }
        if (n == 0)
            break;
        if (off + n > VK_PYGRUB_FILE_MAX) {
            r = vk_error(-EFBIG, "%s:%s: grew past %llu bytes while reading", where, src,
                         VK_PYGRUB_FILE_MAX);
            break;
        }
        for (int64_t w = 0; w < n;) {
            ssize_t k = pwrite(fd, buf + w, n - w, (off_t)(*total + off + w));
            if (k < 0) {
                r = vk_error(-errno, "%s: %s%s", dst, strerror(errno),
                             errno == EFBIG ? " (beyond the boot reader's file size limit)"
                                            : "");
                break;
            }
            w += k;
        }
        off += n;
    }
    free(buf);
    vk_fs_close_file(f);
    *total += off;
    return r;
}

/* Where the kernel path of a config at cfgpath points: as written, or,
 * when the config sits under /boot and the path does not exist, under
 * /boot (grub.cfg written for a separate /boot partition). */
static char *find_file(struct vk_fs *fs, const char *cfgpath, const char *p)
{
    char dir[256];
    snprintf(dir, sizeof dir, "%s", cfgpath);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    char *n = normalise(dir, p);
    struct vk_stat st;
    if (!n || vk_fs_stat(fs, n, &st, true) == 0)
        return n;
    if (!strncmp(cfgpath, "/boot/", 6) && strncmp(n, "/boot/", 6)) {
        char *b = malloc(strlen(n) + 6);
        if (b) {
            sprintf(b, "/boot%s", n);
            if (vk_fs_stat(fs, b, &st, true) == 0) {
                free(n);
                return b;
            }
            free(b);
        }
    }
    vk_error_clear();
    return n;
}

/* What a config at cfgpath reads besides itself: for GRUB2 the grubenv
 * next to it and the BLS entries in loader/entries beside its grub
 * directory ("/boot/grub2/grub.cfg": /boot/loader/entries); for GRUB
 * legacy the `default` file next to it.  Missing files are no error. */
struct extra {
    struct vk_bootcfg_env env;
    char *saved;
    struct vk_bls_file *bls;
    char **texts;
};

static void extra_free(struct extra *x)
{
    for (unsigned i = 0; i < x->env.n_bls; i++) {
        free((char *)x->bls[i].name);
        free(x->texts[i]);
    }
    free(x->bls);
    free(x->texts);
    free(x->saved);
    memset(x, 0, sizeof *x);
}

static int read_extra(struct vk_fs *fs, const char *cfgpath, int kind, struct extra *x)
{
    memset(x, 0, sizeof *x);
    char dir[256], p[512];
    snprintf(dir, sizeof dir, "%s", cfgpath);
    *strrchr(dir, '/') = '\0';                   /* "/boot/grub2" */
    if (kind == VK_BOOTCFG_EXTLINUX)
        return 0;
    snprintf(p, sizeof p, "%s/%s", dir, kind == VK_BOOTCFG_GRUB2 ? "grubenv" : "default");
    size_t len = 0;
    struct vk_stat st;
    if (vk_fs_stat(fs, p, &st, true) == 0 && (st.mode & S_IFMT) == S_IFREG) {
        int r = vk_fs_read_all(fs, p, VK_BOOTCFG_MAX, &x->saved, &len);
        if (r < 0)
            return r;
        x->env.saved = x->saved;
        x->env.saved_len = len;
    }
    vk_error_clear();
    if (kind != VK_BOOTCFG_GRUB2)
        return 0;
    char *up = strrchr(dir, '/');              /* "/boot" */
    *up = '\0';
    snprintf(p, sizeof p, "%s/loader/entries", dir);
    struct vk_names names = { 0 };
    if (vk_fs_list(fs, p, &names) < 0) {
        vk_error_clear();
        return 0;
    }
    int r = 0;
    x->bls = calloc(names.n + 1, sizeof *x->bls);
    x->texts = calloc(names.n + 1, sizeof *x->texts);
    if (!x->bls || !x->texts)
        r = -ENOMEM;
    for (size_t i = 0; i < names.n && r == 0; i++) {
        size_t l = strlen(names.v[i]);
        if (l <= 5 || strcmp(names.v[i] + l - 5, ".conf"))
            continue;
        if (x->env.n_bls >= VK_BOOTCFG_ENTRIES)
            return vk_error(-E2BIG, "%s: more than %d boot entries", p, VK_BOOTCFG_ENTRIES);
        char f[1024];
        snprintf(f, sizeof f, "%s/%s", p, names.v[i]);
        char *t = NULL;
        size_t tl = 0;
        if ((r = vk_fs_read_all(fs, f, VK_BOOTCFG_MAX, &t, &tl)) < 0)
            break;
        unsigned k = x->env.n_bls++;
        x->texts[k] = t;
        x->bls[k].text = t;
        x->bls[k].len = tl;
        if (!(x->bls[k].name = strdup(names.v[i])))
            r = -ENOMEM;
    }
    x->env.bls = x->bls;
    vk_names_free(&names);
    return r;
}

/* Where the kernel and initrd go: files the parent opened for the child. */
struct outputs {
    const char *kernel, *initrd;   /* host paths, for messages and the result */
    int fd[2];                     /* kernel, initrd */
};

/* Copy the kernel and initrds of entry e out of fs (named where in
 * messages), their paths relative to the config at cfgpath. */
static int copy_entry(struct vk_fs *fs, const char *where, const char *cfgpath,
                      const struct vk_boot_entry *e, const struct outputs *o)
{
    uint64_t total = 0;
    char *k = find_file(fs, cfgpath, e->kernel);
    int r = k ? copy_out(fs, where, k, o->fd[0], o->kernel, &total) : -ENOMEM;
    free(k);
    if (r < 0 || !e->initrd)
        return r;
    total = 0;
    char *list = strdup(e->initrd), *save = NULL;
    if (!list)
        return -ENOMEM;
    for (char *i = strtok_r(list, "\n", &save); i && r == 0; i = strtok_r(NULL, "\n", &save)) {
        char *p = find_file(fs, cfgpath, i);
        r = p ? copy_out(fs, where, p, o->fd[1], o->initrd, &total) : -ENOMEM;
        free(p);
    }
    free(list);
    return r;
}

/* The same for an entry that boots from a `loopback` image (an ISO file
 * on a multi-ISO USB key, as GRUB does): the image is opened read-only
 * inside fs and its own filesystem read. */
static int copy_entry_loop(struct vk_fs *fs, const char *where, const char *cfgpath,
                           const struct vk_boot_entry *e, const struct outputs *o)
{
    char *img = find_file(fs, cfgpath, e->loop), *name = NULL;
    if (!img || asprintf(&name, "%s:%s", where, img) < 0) {
        free(img);
        return -ENOMEM;
    }
    struct vk_blockdev *lbd;
    struct vk_fs *lfs;
    int r = vk_fs_file_bd_open(fs, img, name, &lbd);
    if (r == 0) {
        if ((r = vk_fs_mount(lbd, false, &lfs)) == 0) {
            r = copy_entry(lfs, name, "/", e, o);
            vk_fs_unmount(lfs);
        } else {
            r = vk_error_prefix(r, "%s: the loopback image holds no filesystem vmkit reads: ",
                                name);
        }
        vk_bd_close(lbd);
    }
    free(img);
    free(name);
    return r;
}

/* One filesystem: 1 if a config was found and used, 0 if none, <0 error. */
static int try_fs(struct vk_blockdev *bd, unsigned part, const char *sel,
                  const struct outputs *o, struct vk_boot_result *out)
{
    struct vk_fs *fs;
    int m = vk_fs_mount(bd, false, &fs);
    if (m == -ENOMEM)
        return m;   /* the sandbox's memory limit: not "no filesystem" */
    if (m < 0) {
        vk_error_clear();
        return 0;   /* no filesystem we can read: not this one */
    }
    int r = 0;
    for (const char *const *cp = config_paths; *cp && r == 0; cp++) {
        struct vk_stat st;
        if (vk_fs_stat(fs, *cp, &st, true) < 0 || (st.mode & S_IFMT) != S_IFREG)
            continue;
        char where[1024];
        snprintf(where, sizeof where, "%s:%s", bd->name, *cp);
        char *text = NULL;
        size_t len = 0;
        r = vk_fs_read_all(fs, *cp, VK_BOOTCFG_MAX, &text, &len);
        if (r == -EFBIG) {
            r = vk_error(r, "%s: boot configuration too large (%llu bytes, at most %u)", where,
                         (unsigned long long)st.size, VK_BOOTCFG_MAX);
            break;
        }
        if (r < 0)
            break;
        struct vk_bootcfg cfg;
        struct extra x;
        int kind = vk_bootcfg_kind_for_path(*cp);
        if ((r = read_extra(fs, *cp, kind, &x)) == 0)
            r = vk_bootcfg_parse(kind, text, len, where, &x.env, &cfg);
        extra_free(&x);
        free(text);
        if (r < 0)
            break;
        const struct vk_boot_entry *e;
        if ((r = vk_bootcfg_select(&cfg, sel, where, &e)) == 0)
            r = e->loop ? copy_entry_loop(fs, bd->name, *cp, e, o)
                        : copy_entry(fs, bd->name, *cp, e, o);
        if (r == 0 && e->initrd && !(out->initrd = strdup(o->initrd)))
            r = -ENOMEM;
        if (r == 0) {
            out->kernel = strdup(o->kernel);
            out->cmdline = strdup(e->args ? e->args : "");
            out->title = strdup(e->title ? e->title : "");
            out->config = strdup(where);
            out->part = part;
            if (!out->kernel || !out->cmdline || !out->title || !out->config)
                r = -ENOMEM;
        }
        vk_bootcfg_free(&cfg);
        if (r == 0)
            r = 1;
    }
    vk_fs_unmount(fs);
    if (r == -ENOMEM)
        vk_error(r, "%s: out of memory", bd->name);
    return r;
}

/* Look through disk (named disk_path) for a boot configuration and copy
 * out what its entry sel (NULL: the default) boots.  0 or negative errno;
 * *out is filled but for the kernel and initrd copies (in o's files). */
static int extract(struct vk_blockdev *disk, const char *disk_path, const char *sel,
                   const struct outputs *o, struct vk_boot_result *out)
{
    int r = 0, label = vk_ptable_probe(disk);
    if (label < 0)
        return label;
    if (label == VK_LABEL_NONE) {
        r = try_fs(disk, 0, sel, o, out);
    } else {
        struct vk_ptable t;
        memset(&t, 0, sizeof t);
        if ((r = vk_ptable_read(disk, &t)) < 0)
            return r;
        /* the active partition first, then the others in order */
        for (int pass = 0; pass < 2 && r == 0; pass++)
            for (unsigned i = 0; i < t.n && r == 0; i++) {
                struct vk_part *p = &t.p[i];
                bool active = t.label == VK_LABEL_GPT ? (p->attrs & 4) != 0 : p->bootable;
                if (active != (pass == 0))
                    continue;
                if (t.label == VK_LABEL_MBR && vk_mbr_is_extended(p->mbr_type))
                    continue;
                char name[1024];
                snprintf(name, sizeof name, "%s:%u", disk_path, p->number);
                struct vk_blockdev *s;
                if ((r = vk_slice_open(disk, p->start * VK_SECTOR, p->size * VK_SECTOR, name,
                                       false, &s)) < 0)
                    break;
                r = try_fs(s, p->number, sel, o, out);
                vk_bd_close(s);
            }
        /* a FAT boot sector carries the MBR signature: an "MBR" without
         * partitions is a bare filesystem */
        if (r == 0 && t.n == 0)
            r = try_fs(disk, 0, sel, o, out);
        vk_ptable_free(&t);
    }
    if (r == 0) {
        char tried[1024] = "";
        for (const char *const *cp = config_paths; *cp; cp++)
            snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s",
                     cp == config_paths ? "" : " ", *cp);
        r = vk_error(-ENOENT, "%s: no boot configuration found on %s (tried %s)", disk_path,
                     label == VK_LABEL_NONE ? "the bare filesystem" : "any partition", tried);
    }
    return r < 0 ? r : 0;
}

/* One pygrub run, shared by the parent and the sandboxed child. */
struct job {
    const char *disk_path, *format, *sel;
    struct outputs o;
    struct vk_blockdev *disk;   /* the child's */
};

/* In the child, before the filter: open the image and its backing chain. */
static int job_open(void *ctx)
{
    struct job *j = ctx;
    return vk_bd_open(j->disk_path, j->format, 0, &j->disk);
}

/* The child's warnings, newline-separated, for the parent to repeat (the
 * child has no stderr).  Bounded: a config cannot flood the answer. */
struct warnings { char buf[4096]; size_t n; };

static void keep_warning(const char *msg, void *ctx)
{
    struct warnings *w = ctx;
    int k = snprintf(w->buf + w->n, sizeof w->buf - w->n, "%s\n", msg);
    if (k > 0)
        w->n = w->n + (size_t)k < sizeof w->buf ? w->n + (size_t)k : sizeof w->buf - 1;
}

/* In the child, sandboxed: the answer is whether an initrd was written,
 * the cmdline, title, config, partition and warnings. */
static int job_run(void *ctx, struct vk_sbuf *ans)
{
    struct job *j = ctx;
    struct vk_boot_result res = { 0 };
    struct warnings w = { .n = 0 };
    w.buf[0] = '\0';
    vk_set_warn_handler(keep_warning, &w);   /* this process is the child's alone */
    int r = extract(j->disk, j->disk_path, j->sel, &j->o, &res);
    vk_bd_close(j->disk);
    if (r == 0) {
        vk_sbuf_put_u32(ans, res.initrd != NULL);
        vk_sbuf_put_str(ans, res.cmdline);
        vk_sbuf_put_str(ans, res.title);
        vk_sbuf_put_str(ans, res.config);
        vk_sbuf_put_u32(ans, res.part);
        vk_sbuf_put_str(ans, w.buf);
    }
    vk_boot_result_free(&res);
    return r;
}

/* In the parent: *out from the child's answer. */
static int job_result(const struct job *j, struct vk_sbuf *ans, struct vk_boot_result *out)
{
    bool initrd = vk_sbuf_get_u32(ans) != 0;
    out->cmdline = vk_sbuf_get_str(ans);
    out->title = vk_sbuf_get_str(ans);
    out->config = vk_sbuf_get_str(ans);
    out->part = vk_sbuf_get_u32(ans);
    char *warn = vk_sbuf_get_str(ans);
    for (char *l = warn, *nl; l && *l; l = nl) {
        if ((nl = strchr(l, '\n')))
            *nl++ = '\0';
        vk_warn("%s", l);
        if (!nl)
            break;
    }
    free(warn);
    out->kernel = strdup(j->o.kernel);
    if (initrd)
        out->initrd = strdup(j->o.initrd);
    if (ans->bad || !out->cmdline || !out->title || !out->config || !out->kernel ||
        (initrd && !out->initrd))
        return vk_error(-EIO, "%s: boot reader: malformed answer", j->disk_path);
    return 0;
}

/* Contract in pygrub.h.  The disk is read in a sandboxed child (util/
 * sandbox.h): the parent creates the output files, the child opens the
 * image and writes into them. */
int vk_pygrub_extract(const char *disk_path, const char *format,
                      const char *const *bootloader_args, const char *outdir,
                      struct vk_boot_result *out)
{
    memset(out, 0, sizeof *out);
    struct job j = { .disk_path = disk_path, .format = format, .o.fd = { -1, -1 } };
    for (const char *const *a = bootloader_args; a && *a; a++) {
        if (!strncmp(*a, "--entry=", 8))
            j.sel = *a + 8;
        /* other pygrub options (-q, --kernel=, --args=) do not apply */
    }
    int r = vk_mkdirs(outdir, 0700);     /* as Xen's pygrub makes its output directory */
    if (r < 0)
        return r;
    char kpath[4096], ipath[4096];
    if ((size_t)snprintf(kpath, sizeof kpath, "%s/kernel", outdir) >= sizeof kpath ||
        (size_t)snprintf(ipath, sizeof ipath, "%s/initrd", outdir) >= sizeof ipath)
        return vk_error(-ENAMETOOLONG, "%s: path too long", outdir);
    j.o.kernel = kpath;
    j.o.initrd = ipath;
    const char *paths[2] = { kpath, ipath };
    for (int i = 0; i < 2 && r == 0; i++)
        if ((j.o.fd[i] = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
            r = vk_error(-errno, "%s: %s", paths[i], strerror(errno));
    struct vk_sbuf ans = { 0 };
    /* What reading an ISO loads from the host (a bare ISO, or one a
     * `loopback` entry boots) is loaded here, before the fork: the filter
     * forbids open(), and the child's memory limit counts from what it
     * inherits. */
    vk_iso_warmup();
    if (r == 0) {
        struct vk_sandbox sb = { .name = disk_path, .what = "boot reader",
                                 .keep = j.o.fd, .n_keep = 2, .fsize = VK_PYGRUB_FILE_MAX,
                                 .prepare = job_open, .run = job_run };
        r = vk_sandbox_run(&sb, &j, &ans);
    }
    if (r == 0)
        r = job_result(&j, &ans, out);
    vk_sbuf_free(&ans);
    for (int i = 0; i < 2; i++) {
        if (j.o.fd[i] >= 0 && close(j.o.fd[i]) < 0 && r == 0)
            r = vk_error(-errno, "%s: %s", paths[i], strerror(errno));
        /* no initrd, or nothing at all: leave no file behind */
        if (j.o.fd[i] >= 0 && (r < 0 || (i == 1 && !out->initrd)))
            unlink(paths[i]);
    }
    if (r < 0) {
        vk_boot_result_free(out);
        return r;
    }
    return 0;
}
