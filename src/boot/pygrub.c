/* pygrub: find a disk's boot configuration and copy out its kernel and
 * initrd (contract in pygrub.h).  Partition tables come from part/, files
 * from fs/ mounted read-only; the configuration is only parsed. */
#include "boot/pygrub.h"

#include "boot/bootcfg.h"
#include "fs/fs.h"
#include "part/part.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const config_paths[] = {
    "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/boot/extlinux/extlinux.conf",
    "/extlinux.conf", "/boot/grub/menu.lst", "/boot/grub/grub.conf",
    /* a separate /boot partition */
    "/grub/grub.cfg", "/grub2/grub.cfg", "/extlinux/extlinux.conf",
    "/grub/menu.lst", "/grub/grub.conf",
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

/* Copy file src of fs to host path dst (appending when append), refusing
 * non-regular files and more than VK_PYGRUB_FILE_MAX bytes in total. */
static int copy_out(struct vk_fs *fs, const char *where, const char *src, const char *dst,
                    bool append, uint64_t *total)
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
    struct vk_file *f;
    if ((r = vk_fs_open(fs, src, VK_O_RDONLY, 0, &f)) < 0)
        return r;
    int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0600);
    if (fd < 0) {
        r = vk_error(-errno, "%s: %s", dst, strerror(errno));
        vk_fs_close_file(f);
        return r;
    }
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
            ssize_t k = write(fd, buf + w, n - w);
            if (k < 0) {
                r = vk_error(-errno, "%s: %s", dst, strerror(errno));
                break;
            }
            w += k;
        }
        off += n;
    }
    free(buf);
    vk_fs_close_file(f);
    if (close(fd) < 0 && r == 0)
        r = vk_error(-errno, "%s: %s", dst, strerror(errno));
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

/* One filesystem: 1 if a config was found and used, 0 if none, <0 error. */
static int try_fs(struct vk_blockdev *bd, unsigned part, const char *sel, const char *outdir,
                  struct vk_boot_result *out)
{
    struct vk_fs *fs;
    if (vk_fs_mount(bd, false, &fs) < 0) {
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
        r = vk_bootcfg_parse(vk_bootcfg_kind_for_path(*cp), text, len, where, &cfg);
        free(text);
        if (r < 0)
            break;
        const struct vk_boot_entry *e;
        if ((r = vk_bootcfg_select(&cfg, sel, where, &e)) == 0) {
            uint64_t total = 0;
            size_t ol = strlen(outdir) + 16;
            out->kernel = malloc(ol);
            if (!out->kernel) {
                r = -ENOMEM;
            } else {
                snprintf(out->kernel, ol, "%s/kernel", outdir);
                char *k = find_file(fs, *cp, e->kernel);
                r = k ? copy_out(fs, bd->name, k, out->kernel, false, &total) : -ENOMEM;
                free(k);
            }
            if (r == 0 && e->initrd) {
                total = 0;
                if (!(out->initrd = malloc(ol)))
                    r = -ENOMEM;
                else
                    snprintf(out->initrd, ol, "%s/initrd", outdir);
                char *list = r == 0 ? strdup(e->initrd) : NULL, *save = NULL;
                bool first = true;
                for (char *i = list ? strtok_r(list, "\n", &save) : NULL; i && r == 0;
                     i = strtok_r(NULL, "\n", &save), first = false) {
                    char *p = find_file(fs, *cp, i);
                    r = p ? copy_out(fs, bd->name, p, out->initrd, !first, &total) : -ENOMEM;
                    free(p);
                }
                free(list);
            }
            if (r == 0) {
                out->cmdline = strdup(e->args ? e->args : "");
                out->title = strdup(e->title ? e->title : "");
                out->config = strdup(where);
                out->part = part;
                if (!out->cmdline || !out->title || !out->config)
                    r = -ENOMEM;
            }
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

int vk_pygrub_extract(const char *disk_path, const char *format,
                      const char *const *bootloader_args, const char *outdir,
                      struct vk_boot_result *out)
{
    memset(out, 0, sizeof *out);
    const char *sel = NULL;
    for (const char *const *a = bootloader_args; a && *a; a++) {
        if (!strncmp(*a, "--entry=", 8))
            sel = *a + 8;
        /* other pygrub options (-q, --kernel=, --args=) do not apply */
    }
    struct vk_blockdev *disk;
    int r = vk_bd_open(disk_path, format, 0, &disk);
    if (r < 0)
        return r;
    int label = vk_ptable_probe(disk);
    if (label < 0) {
        vk_bd_close(disk);
        return label;
    }
    r = 0;
    if (label == VK_LABEL_NONE) {
        r = try_fs(disk, 0, sel, outdir, out);
    } else {
        struct vk_ptable t;
        memset(&t, 0, sizeof t);
        if ((r = vk_ptable_read(disk, &t)) < 0) {
            vk_bd_close(disk);
            return r;
        }
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
                r = try_fs(s, p->number, sel, outdir, out);
                vk_bd_close(s);
            }
        vk_ptable_free(&t);
    }
    vk_bd_close(disk);
    if (r == 0)
        r = vk_error(-ENOENT, "%s: no boot configuration found (looked for /boot/grub/grub.cfg, "
                     "/boot/grub2/grub.cfg, extlinux.conf, menu.lst, grub.conf on %s)",
                     disk_path, label == VK_LABEL_NONE ? "the bare filesystem" : "every partition");
    if (r < 0) {
        if (out->kernel)
            unlink(out->kernel);
        if (out->initrd)
            unlink(out->initrd);
        vk_boot_result_free(out);
        return r;
    }
    return 0;
}
