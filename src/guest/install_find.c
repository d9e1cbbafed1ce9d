/* Finding an installer's kernel and initrd in an ISO or a directory tree
 * (contract in install.h): the medium's own boot menus first, then the
 * layouts the distributions use. */
#include "guest/install.h"
#include "guest/install_int.h"

#include "block/blockdev.h"
#include "boot/bootcfg.h"
#include "fs/fs.h"
#include "fs/path.h"
#include "util/err.h"
#include "util/str.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Boot menus tried in order: syslinux's (isolinux on a CD, pxelinux in a
 * netboot tree), then GRUB's. */
static const char *const menus[] = {
    "/isolinux/isolinux.cfg", "/boot/isolinux/isolinux.cfg", "/isolinux.cfg",
    "/syslinux/syslinux.cfg", "/boot/syslinux/syslinux.cfg", "/syslinux.cfg",
    "/pxelinux.cfg/default", "/extlinux/extlinux.conf",
    "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/EFI/BOOT/grub.cfg", "/grub/grub.cfg",
    "/debian-installer/amd64/grub/grub.cfg", NULL,
};

/* Where the distributions put the installer when no menu says. */
static const struct { const char *kernel, *initrd, *what; } layouts[] = {
    { "/install.amd/vmlinuz", "/install.amd/initrd.gz", "the Debian layout (install.amd)" },
    { "/casper/vmlinuz", "/casper/initrd", "the Ubuntu layout (casper)" },
    { "/casper/vmlinuz", "/casper/initrd.gz", "the Ubuntu layout (casper)" },
    { "/casper/vmlinuz", "/casper/initrd.lz", "the Ubuntu layout (casper)" },
    { "/images/pxeboot/vmlinuz", "/images/pxeboot/initrd.img", "the Fedora layout (images/pxeboot)" },
    { "/isolinux/vmlinuz", "/isolinux/initrd.img", "the Fedora layout (isolinux)" },
    { "/debian-installer/amd64/linux", "/debian-installer/amd64/initrd.gz",
      "the Debian netboot layout (debian-installer/amd64)" },
    { "/install/vmlinuz", "/install/initrd.gz", "the Debian layout (install)" },
    { "/boot/x86_64/loader/linux", "/boot/x86_64/loader/initrd", "the openSUSE layout" },
    { "/linux", "/initrd.gz", "the Debian mini.iso layout" },
};

#define MAX_INCLUDES 64   /* files one syslinux menu may pull in */

/* Contract in install_int.h. */
int vk_media_open(const char *location, struct vk_media *m)
{
    memset(m, 0, sizeof *m);
    m->loc = location;
    struct stat st;
    if (stat(location, &st) < 0)
        return vk_error(-errno, "%s: %s", location, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        m->isdir = 1;
        return 0;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return vk_error(-EINVAL, "%s: not an ISO image or a directory", location);
    int err = vk_bd_open(location, "raw", VK_OPEN_NOLOCK, &m->bd);
    if (err)
        return err;
    if ((err = vk_fs_mount(m->bd, false, &m->fs)) < 0) {
        vk_error_prefix(err, "%s: not an installer ISO (no filesystem vmkit reads): ", location);
        vk_bd_close(m->bd);
        m->bd = NULL;
    }
    return err;
}

/* Contract in install_int.h. */
void vk_media_close(struct vk_media *m)
{
    if (m->fs)
        vk_fs_unmount(m->fs);
    if (m->bd)
        vk_bd_close(m->bd);
    memset(m, 0, sizeof *m);
}

/* The host path of path (normalized, absolute) in a directory medium. */
static int host_path(const struct vk_media *m, const char *path, char *buf, size_t len)
{
    return vk_pathf(buf, len, "%s%s", m->loc, path);
}

/* 1 when path is a regular file of the medium, 0 when not (or absent). */
static int media_isfile(const struct vk_media *m, const char *path)
{
    if (m->isdir) {
        char h[4096];
        struct stat st;
        return host_path(m, path, h, sizeof h) == 0 && stat(h, &st) == 0 && S_ISREG(st.st_mode);
    }
    struct vk_stat st;
    int r = vk_fs_stat(m->fs, path, &st, true);
    vk_error_clear();
    return r == 0 && (st.mode & S_IFMT) == S_IFREG;
}

/* Contract in install_int.h. */
int vk_media_read(const struct vk_media *m, const char *path, size_t max, char **buf,
                  size_t *len)
{
    if (!m->isdir)
        return vk_fs_read_all(m->fs, path, max, buf, len);
    char h[4096];
    int err = host_path(m, path, h, sizeof h);
    if (err)
        return err;
    int fd = open(h, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        err = vk_error(-errno, "%s: %s", h, strerror(errno));
        if (fd >= 0)
            close(fd);
        return err;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        return vk_error(-EFBIG, "%s: too large (%lld bytes, at most %zu)", h,
                        (long long)st.st_size, max);
    }
    char *b = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    if (!b)
        err = vk_error(-ENOMEM, "%s: out of memory", h);
    while (!err && got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n <= 0)
            err = vk_error(n < 0 ? -errno : -EIO, "%s: %s", h, n < 0 ? strerror(errno) : "short read");
        else
            got += (size_t)n;
    }
    close(fd);
    if (err) {
        free(b);
        return err;
    }
    b[got] = 0;
    *buf = b;
    *len = got;
    return 0;
}

/* Contract in install_int.h. */
int vk_media_copy(const struct vk_media *m, const char *path, int fd, const char *dst,
                  uint64_t *total)
{
    struct vk_file *f = NULL;
    int hfd = -1, err = 0;
    char h[4096];
    if (m->isdir) {
        if ((err = host_path(m, path, h, sizeof h)))
            return err;
        if ((hfd = open(h, O_RDONLY | O_CLOEXEC)) < 0)
            return vk_error(-errno, "%s: %s", h, strerror(errno));
    } else if ((err = vk_fs_open(m->fs, path, VK_O_RDONLY, 0, &f)) < 0) {
        return err;
    }
    size_t bufsz = 1 << 20;
    char *buf = malloc(bufsz);
    if (!buf)
        err = vk_error(-ENOMEM, "out of memory");
    for (uint64_t off = 0; !err;) {
        int64_t n = m->isdir ? read(hfd, buf, bufsz) : vk_fs_read(f, buf, bufsz, off);
        if (n < 0) {
            err = m->isdir ? vk_error(-errno, "%s: %s", h, strerror(errno)) : (int)n;
            break;
        }
        if (n == 0)
            break;
        if (*total + (uint64_t)n > VK_INSTALL_FILE_MAX) {
            err = vk_error(-EFBIG, "%s:%s: the installer's files are larger than %llu bytes",
                           m->loc, path, VK_INSTALL_FILE_MAX);
            break;
        }
        for (int64_t w = 0; w < n && !err;) {
            ssize_t k = pwrite(fd, buf + w, (size_t)(n - w), (off_t)(*total + w));
            if (k < 0)
                err = vk_error(-errno, "%s: %s", dst, strerror(errno));
            else
                w += k;
        }
        off += (uint64_t)n;
        *total += (uint64_t)n;
    }
    free(buf);
    if (f)
        vk_fs_close_file(f);
    if (hfd >= 0)
        close(hfd);
    return err;
}

/* name resolved as syslinux does: absolute from the root, else from its
 * working directory cwd (the config's directory: isolinux's), else from
 * the root (pxelinux's, whose paths are relative to the TFTP root).
 * *out is a normalized absolute path; 0 when it names a file, else
 * -ENOENT (no message). */
static int resolve(const struct vk_media *m, const char *cwd, const char *name, char *out,
                   size_t len)
{
    char t[4096];
    if (name[0] != '/' && (size_t)snprintf(t, sizeof t, "%s/%s", cwd, name) < sizeof t &&
        vk_path_normalize(t, out, len) > 0 && media_isfile(m, out))
        return 0;
    vk_error_clear();
    if (vk_path_normalize(name, out, len) > 0 && media_isfile(m, out))
        return 0;
    vk_error_clear();
    return -ENOENT;
}

/* Contract in install_int.h. */
int vk_menu_expand(const struct vk_menu_io *io, const char *path, const char *cwd, int depth,
                   int *files, struct vk_mbuf *out)
{
    if (depth > 8 || ++*files > MAX_INCLUDES)
        return vk_error(-ELOOP, "%s: the menu's includes nest deeper than 8 or name more "
                        "than %d files", path, MAX_INCLUDES);
    char *text = NULL;
    size_t len = 0;
    int err = io->read(io->ctx, path, VK_BOOTCFG_MAX, &text, &len);
    if (err)
        return err;
    if (memchr(text, 0, len)) {
        free(text);
        return vk_error(-EINVAL, "%s: a NUL byte in a boot menu", path);
    }
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l && !err; l = strtok_r(NULL, "\n", &save)) {
        char *w = l + strspn(l, " \t\r");
        size_t kl = strcspn(w, " \t\r");
        char *arg = NULL;
        if (kl == 7 && !strncasecmp(w, "include", 7)) {
            arg = w + kl;
        } else if (kl == 4 && !strncasecmp(w, "menu", 4)) {
            char *s = w + kl + strspn(w + kl, " \t");
            if (!strncasecmp(s, "include", 7) && s[7] && strchr(" \t", s[7]))
                arg = s + 7;
        }
        if (kl == 4 && !strncasecmp(w, "menu", 4)) {
            /* `menu begin` opens a submenu whose `menu label` is its own
             * title: a placeholder entry (no kernel, never chosen) takes
             * it, so it does not rename the entry before */
            char *s = w + kl + strspn(w + kl, " \t");
            if (!strncasecmp(s, "begin", 5) && (!s[5] || strchr(" \t\r", s[5])))
                l = "label vmkit-submenu";
        }
        if (arg) {
            arg += strspn(arg, " \t");
            arg[strcspn(arg, " \t\r")] = 0;   /* "menu include F TAG": the file */
            char inc[4096];
            if (!*arg)
                continue;
            if (io->resolve(io->ctx, cwd, arg, inc, sizeof inc) < 0)
                continue;                 /* syslinux skips a missing include too */
            err = vk_menu_expand(io, inc, cwd, depth + 1, files, out);
            continue;
        }
        size_t n = strlen(l);
        if (out->len + n + 2 > VK_BOOTCFG_MAX) {
            err = vk_error(-EFBIG, "%s: the menu with its includes is larger than %u bytes",
                           path, VK_BOOTCFG_MAX);
            break;
        }
        if (out->len + n + 2 > out->cap) {
            size_t nc = (out->cap ? out->cap * 2 : 8192) + n + 2;
            char *nb = realloc(out->text, nc);
            if (!nb) {
                err = vk_error(-ENOMEM, "out of memory");
                break;
            }
            out->text = nb;
            out->cap = nc;
        }
        memcpy(out->text + out->len, l, n);
        out->len += n;
        out->text[out->len++] = '\n';
        out->text[out->len] = 0;
    }
    free(text);
    return err;
}

/* The medium as vk_menu_io. */
static int media_reader(void *ctx, const char *path, size_t max, char **buf, size_t *len)
{
    return vk_media_read(ctx, path, max, buf, len);
}

static int media_resolver(void *ctx, const char *cwd, const char *name, char *out, size_t len)
{
    return resolve(ctx, cwd, name, out, len);
}

/* Lower-case s without syslinux's '^' hotkey marks into buf. */
static void plain(const char *s, char *buf, size_t len)
{
    size_t o = 0;
    for (; s && *s && o + 1 < len; s++)
        if (*s != '^')
            buf[o++] = (char)tolower((unsigned char)*s);
    buf[o] = 0;
}

/* Contract in install_int.h. */
int vk_menu_rank(const struct vk_bootcfg *c, unsigned i)
{
    static const char *const avoid[] = {
        "gui", "graphical", "gtk", "expert", "rescue", "speech", "auto", "check", "test",
        "memtest", "hd", "hard disk", "local", "dark", "braille", "safe", "basic graphics",
        "troubleshoot", NULL,
    };
    const struct vk_boot_entry *e = &c->e[i];
    if (e->submenu || e->other || !e->kernel || !*e->kernel || !e->initrd || !*e->initrd)
        return -1;
    size_t kl = strlen(e->kernel);
    if ((kl > 4 && !strcasecmp(e->kernel + kl - 4, ".c32")) || strstr(e->kernel, "memtest") ||
        (kl > 2 && !strcmp(e->kernel + kl - 2, ".0")))
        return -1;                      /* a syslinux module, memtest, a PXE chain */
    /* syslinux: label is the LABEL name, title its MENU LABEL; GRUB:
     * label is the entry's own title in its submenu */
    char t[256], l[256];
    plain(e->title, t, sizeof t);
    plain(e->label, l, sizeof l);
    if (!strcmp(t, "install") || !strcmp(l, "install"))
        return 4;
    for (int k = 0; avoid[k]; k++)
        if (strstr(t, avoid[k]) || strstr(l, avoid[k]))
            return 1;
    if (strstr(e->initrd, "/gtk/"))
        return 1;                       /* Debian's graphical installer */
    const char *d = c->def;
    if (d && ((e->path && !strcmp(d, e->path)) || (e->title && !strcmp(d, e->title))))
        return 3;
    return 2;
}

/* The best entry of the config at path (kind) whose files exist. */
static int try_menu(struct vk_media *m, const char *path, enum vk_bootcfg_kind kind,
                    struct vk_install_media *out)
{
    char cwd[4096];
    snprintf(cwd, sizeof cwd, "%.*s", (int)(strrchr(path, '/') - path), path);
    struct vk_mbuf text = { 0 };
    int files = 0, err;
    struct vk_menu_io io = { media_reader, media_resolver, m };
    if (kind == VK_BOOTCFG_EXTLINUX)
        err = vk_menu_expand(&io, path, cwd, 0, &files, &text);
    else
        err = vk_media_read(m, path, VK_BOOTCFG_MAX, &text.text, &text.len);
    if (err)
        return err;
    char name[4400];
    snprintf(name, sizeof name, "%s:%s", m->loc, path);
    struct vk_bootcfg c = { 0 };
    err = vk_bootcfg_parse(kind, text.text ? text.text : "", text.len, name, NULL, &c);
    free(text.text);
    if (err)
        return err;
    err = -ENOENT;
    for (int want = 4; want >= 1 && err == -ENOENT; want--) {
        for (unsigned i = 0; i < c.n && err == -ENOENT; i++) {
            const struct vk_boot_entry *e = &c.e[i];
            if (vk_menu_rank(&c, i) != want)
                continue;
            char k[4096];
            if (resolve(m, cwd, e->kernel, k, sizeof k))
                continue;
            /* the initrds, each resolved, newline-separated */
            char *rd = NULL, *list = strdup(e->initrd), *save = NULL;
            int ok = list != NULL;
            for (char *w = list ? strtok_r(list, "\n", &save) : NULL; w && ok;
                 w = strtok_r(NULL, "\n", &save)) {
                char r[4096], *n = NULL;
                ok = resolve(m, cwd, vk_trim(w), r, sizeof r) == 0 &&
                     asprintf(&n, "%s%s%s", rd ? rd : "", rd ? "\n" : "", r) >= 0;
                if (ok) {
                    free(rd);
                    rd = n;
                }
            }
            free(list);
            if (!ok || !rd) {
                free(rd);
                continue;
            }
            out->kernel = strdup(k);
            out->initrd = rd;
            char t[256];
            plain(e->title, t, sizeof t);
            if (asprintf(&out->found_by, "%s: entry \"%s\"", path, e->title ? e->title : t) < 0)
                out->found_by = NULL;
            err = out->kernel && out->found_by ? 0 : vk_error(-ENOMEM, "out of memory");
        }
    }
    vk_bootcfg_free(&c);
    return err;
}

void vk_install_media_free(struct vk_install_media *m)
{
    free(m->kernel);
    free(m->initrd);
    free(m->found_by);
    memset(m, 0, sizeof *m);
}

/* Contract in install.h. */
int vk_install_find(const char *location, struct vk_install_media *out)
{
    memset(out, 0, sizeof *out);
    struct vk_media m;
    int err = vk_media_open(location, &m);
    if (err)
        return err;
    int iso = !m.isdir;
    err = -ENOENT;
    for (int i = 0; menus[i] && err == -ENOENT; i++) {
        if (!media_isfile(&m, menus[i]))
            continue;
        /* isolinux.cfg and pxelinux.cfg/default are syslinux's syntax */
        enum vk_bootcfg_kind kind = strstr(menus[i], "grub.cfg") ? VK_BOOTCFG_GRUB2
                                                                 : VK_BOOTCFG_EXTLINUX;
        err = try_menu(&m, menus[i], kind, out);
        if (err && err != -ENOMEM) {
            /* a menu that cannot be read is no reason to give up */
            vk_warn("%s", vk_errmsg());
            err = -ENOENT;
        }
    }
    for (size_t i = 0; i < sizeof layouts / sizeof layouts[0] && err == -ENOENT; i++) {
        if (!media_isfile(&m, layouts[i].kernel) || !media_isfile(&m, layouts[i].initrd))
            continue;
        out->kernel = strdup(layouts[i].kernel);
        out->initrd = strdup(layouts[i].initrd);
        out->found_by = strdup(layouts[i].what);
        err = out->kernel && out->initrd && out->found_by ? 0 : vk_error(-ENOMEM, "out of memory");
    }
    vk_media_close(&m);
    if (err == -ENOENT)
        err = vk_error(-ENOENT, "%s: no installer kernel found: no boot menu (isolinux.cfg, "
                       "pxelinux.cfg/default, grub.cfg) names a kernel and initrd that are "
                       "there, and none of the known layouts (install.amd/vmlinuz, "
                       "casper/vmlinuz, images/pxeboot/vmlinuz, "
                       "debian-installer/amd64/linux) is", location);
    if (err)
        vk_install_media_free(out);
    else
        out->iso = iso;
    return err;
}

/* Contract in install.h. */
int vk_install_extract(const char *location, const struct vk_install_media *im,
                       const char *kernel, const char *initrd)
{
    struct vk_media m;
    int err = vk_media_open(location, &m);
    if (err)
        return err;
    int kfd = open(kernel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ifd = open(initrd, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    uint64_t kt = 0, it = 0;
    if (kfd < 0 || ifd < 0)
        err = vk_error(-errno, "%s: %s", kfd < 0 ? kernel : initrd, strerror(errno));
    if (!err)
        err = vk_media_copy(&m, im->kernel, kfd, kernel, &kt);
    char *list = err ? NULL : strdup(im->initrd), *save = NULL;
    if (!err && !list)
        err = vk_error(-ENOMEM, "out of memory");
    for (char *w = list ? strtok_r(list, "\n", &save) : NULL; w && !err;
         w = strtok_r(NULL, "\n", &save))
        err = vk_media_copy(&m, w, ifd, initrd, &it);
    free(list);
    if (kfd >= 0 && close(kfd) < 0 && !err)
        err = vk_error(-errno, "%s: %s", kernel, strerror(errno));
    if (ifd >= 0 && close(ifd) < 0 && !err)
        err = vk_error(-errno, "%s: %s", initrd, strerror(errno));
    vk_media_close(&m);
    return err;
}
