/* The install run (contracts in install.h): the installer's config made
 * from the domain's, and waiting for the installer to end. */
#include "guest/install.h"
#include "guest/guest.h"
#include "guest/install_int.h"

#include "fs/path.h"
#include "util/err.h"
#include "util/str.h"
#include "vm/control.h"
#include "vm/runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PRESEED_MAX (1u << 20)     /* a preseed file carried from a floppy */

static int set(char **dst, const char *s)
{
    char *n = s ? strdup(s) : NULL;
    if (s && !n)
        return vk_error(-ENOMEM, "out of memory");
    free(*dst);
    *dst = n;
    return 0;
}

/* A regular file that can be read, or an error naming what. */
static int readable(const char *what, const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return vk_error(-errno, "%s %s: %s", what, path, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return vk_error(-EINVAL, "%s %s: not a file", what, path);
    if (access(path, R_OK) < 0)
        return vk_error(-errno, "%s %s: %s", what, path, strerror(errno));
    return 0;
}

/* Add the disk spec to c. */
static int add_disk(struct vk_domcfg *c, const char *spec)
{
    struct vk_diskspec *nd = realloc(c->disks, (c->n_disks + 1) * sizeof *nd);
    if (!nd)
        return vk_error(-ENOMEM, "out of memory");
    c->disks = nd;
    int err = vk_diskspec_parse(spec, &c->disks[c->n_disks]);
    if (!err)
        c->n_disks++;
    return err;
}

/* The absolute path of file: QEMU runs in "/" (the monitor's directory). */
static int absolute(const char *file, char **out)
{
    *out = realpath(file, NULL);
    return *out ? 0 : vk_error(-errno, "%s: %s", file, strerror(errno));
}

static int attach_cdrom_at(struct vk_domcfg *c, const char *iso);

/* Put iso into a cdrom drive of c: the config's first empty one, else a
 * new one on the first free IDE unit (hdc first, where PCs had it). */
static int attach_cdrom(struct vk_domcfg *c, const char *file)
{
    char *iso;
    int err = absolute(file, &iso);
    if (err)
        return err;
    err = attach_cdrom_at(c, iso);
    free(iso);
    return err;
}

static int attach_cdrom_at(struct vk_domcfg *c, const char *iso)
{
    for (unsigned i = 0; i < c->n_disks; i++) {
        struct vk_diskspec *d = &c->disks[i];
        if (d->cdrom && !d->target) {
            free(d->format);
            d->format = NULL;
            return set(&d->target, iso);
        }
        if (d->cdrom && !strcmp(d->target, iso))
            return 0;                   /* already there */
    }
    static const int order[] = { 2, 3, 1, 0 };
    for (int k = 0; k < 4; k++) {
        int used = 0;
        for (unsigned i = 0; i < c->n_disks; i++)
            used |= c->disks[i].bus == VK_BUS_IDE && c->disks[i].index == order[k];
        if (used)
            continue;
        char *spec;
        if (asprintf(&spec, "format=raw,vdev=hd%c,access=ro,devtype=cdrom,target=%s",
                     'a' + order[k], iso) < 0)
            return vk_error(-ENOMEM, "out of memory");
        int err = add_disk(c, spec);
        free(spec);
        return err;
    }
    return vk_error(-ENOSPC, "%s: all four IDE units (hda..hdd) are taken: no drive left for "
                    "the installer's CD %s", c->name, iso);
}

/* Put the floppy image into drive fda (an empty fda of the config takes
 * it; one holding another image is an error). */
static int attach_floppy_at(struct vk_domcfg *c, const char *img);

static int attach_floppy(struct vk_domcfg *c, const char *file)
{
    char *img;
    int err = absolute(file, &img);
    if (err)
        return err;
    err = attach_floppy_at(c, img);
    free(img);
    return err;
}

static int attach_floppy_at(struct vk_domcfg *c, const char *img)
{
    for (unsigned i = 0; i < c->n_disks; i++) {
        struct vk_diskspec *d = &c->disks[i];
        if (d->bus != VK_BUS_FLOPPY || d->index != 0)
            continue;
        if (!d->target)
            return set(&d->target, img);
        if (strcmp(d->target, img))
            return vk_error(-EBUSY, "%s: drive fda already holds %s; --floppy %s would replace "
                            "it", c->name, d->target, img);
        return 0;
    }
    char *spec;
    if (asprintf(&spec, "format=raw,vdev=fda,access=rw,target=%s", img) < 0)
        return vk_error(-ENOMEM, "out of memory");
    int err = add_disk(c, spec);
    free(spec);
    return err;
}

/* The word of args naming a file on the floppy, as the lab's command line
 * does ("preseed/file=/floppy/aso_virt.cfg"; d-i's alias "file="): a
 * pointer to the word, its length in *wl, the path on the floppy in *path
 * ("/aso_virt.cfg", malloc'd).  NULL when there is none. */
static const char *floppy_word(const char *args, size_t *wl, char **path)
{
    for (const char *p = args; p && *p;) {
        p += strspn(p, " \t");
        size_t l = strcspn(p, " \t");
        const char *v = NULL;
        if (l > 13 && !strncmp(p, "preseed/file=", 13))
            v = p + 13;
        else if (l > 5 && !strncmp(p, "file=", 5))
            v = p + 5;
        if (v && !strncmp(v, "/floppy/", 8) && (size_t)(p + l - v) > 8) {
            *wl = l;
            *path = strndup(v + 7, (size_t)(p + l - v - 7));
            return *path ? p : NULL;
        }
        p += l;
    }
    return NULL;
}

/* The installer's command line: console=ttyS0 (vmkit's console is the
 * serial port) unless extra has a console=, then extra without the word
 * drop (drop_len bytes, may be NULL). */
static char *kernel_args(const char *extra, const char *drop, size_t drop_len)
{
    char *out = NULL;
    const char *e = extra ? extra : "";
    int has_console = !strncmp(e, "console=", 8) || strstr(e, " console=") || strstr(e, "\tconsole=");
    size_t pre = drop ? (size_t)(drop - e) : strlen(e);
    const char *post = drop ? drop + drop_len : "";
    if (asprintf(&out, "%s%s%.*s%s", has_console ? "" : "console=ttyS0",
                 has_console || !*e ? "" : " ", (int)pre, e, post) < 0)
        return NULL;
    /* collapse the blanks the dropped word leaves */
    char *w = out;
    for (char *r = out; *r; r++)
        if (!(*r == ' ' && (w == out || w[-1] == ' ')))
            *w++ = *r;
    while (w > out && w[-1] == ' ')
        w--;
    *w = 0;
    return out;
}

/* Read path from the floppy image img (its FAT filesystem) into *data. */
static int floppy_file(const char *img, const char *path, char **data)
{
    struct vk_media m;
    int err = vk_media_open(img, &m);
    if (err)
        return vk_error_prefix(err, "--floppy: ");
    if (m.isdir)
        err = vk_error(-EINVAL, "--floppy %s: a directory, not a floppy image", img);
    size_t len = 0;
    if (!err && (err = vk_media_read(&m, path, PRESEED_MAX, data, &len)) < 0)
        vk_error_prefix(err, "--floppy: the command line names %s on the floppy: ", path);
    if (!err && memchr(*data, 0, len)) {
        free(*data);
        *data = NULL;
        err = vk_error(-EINVAL, "%s:%s: holds a NUL byte: not a preseed file", img, path);
    }
    vk_media_close(&m);
    return err;
}

/* The files for the initrd: --preseed as preseed.cfg, each --initrd-inject
 * by its base name, the floppy's preseed file as preseed.cfg. */
static int inject_files(const struct vk_install_opts *o, const char *fdata, const char *fpath,
                        const char *initrd)
{
    size_t n = 0, cap = o->n_inject + 2;
    struct vk_cpio_file *f = calloc(cap, sizeof *f);
    if (!f)
        return vk_error(-ENOMEM, "out of memory");
    if (o->preseed)
        f[n++] = (struct vk_cpio_file){ .path = "preseed.cfg", .host = o->preseed,
                                        .mode = S_IFREG | 0644 };
    if (fdata)
        f[n++] = (struct vk_cpio_file){ .path = "preseed.cfg", .data = fdata,
                                        .mode = S_IFREG | 0644 };
    for (size_t i = 0; i < o->n_inject; i++) {
        const char *b = strrchr(o->inject[i], '/');
        f[n++] = (struct vk_cpio_file){ .path = b ? b + 1 : o->inject[i], .host = o->inject[i],
                                        .mode = S_IFREG | 0644 };
    }
    int err = 0;
    for (size_t i = 0; i < n && !err; i++) {
        if (!vk_path_name_safe(f[i].path))
            err = vk_error(-EINVAL, "--initrd-inject %s: not a file name", f[i].host);
        for (size_t j = 0; j < i && !err; j++)
            if (!strcmp(f[i].path, f[j].path))
                err = vk_error(-EINVAL, "two files would be /%s in the initrd (%s and %s)",
                               f[i].path, f[j].host ? f[j].host : fpath,
                               f[i].host ? f[i].host : fpath);
    }
    if (!err && n)
        err = vk_initramfs_append(initrd, f, n);
    free(f);
    return err;
}

/* Contract in install.h. */
int vk_install_prepare(struct vk_domcfg *c, const struct vk_install_opts *o,
                       const char *workdir, char **found, char **note)
{
    if (note)
        *note = NULL;
    if (found)
        *found = NULL;
    if (!o->location == !o->cdrom)
        return vk_error(-EINVAL, "give the installer as --location ISO|DIR or --cdrom ISO "
                        "(one of them)");
    if (o->cdrom && (o->preseed || o->n_inject || o->extra_args))
        return vk_error(-EINVAL, "--cdrom boots the ISO's own boot menu through the BIOS: "
                        "--preseed, --initrd-inject and --extra-args need --location");
    int err = 0;
    if (o->preseed)
        err = readable("--preseed", o->preseed);
    for (size_t i = 0; i < o->n_inject && !err; i++)
        err = readable("--initrd-inject", o->inject[i]);
    if (!err && o->floppy)
        err = readable("--floppy", o->floppy);
    if (!err && o->cdrom)
        err = readable("--cdrom", o->cdrom);
    if (err)
        return err;
    /* the lab's flow: the command line names the preseed file on the floppy */
    char *fpath = NULL, *fdata = NULL;
    size_t dl = 0;
    const char *drop = o->floppy ? floppy_word(o->extra_args, &dl, &fpath) : NULL;
    if (drop && o->preseed)
        err = vk_error(-EINVAL, "both --preseed %s and the floppy's %s give the preseed file",
                       o->preseed, fpath);
    if (!err && drop && !(err = floppy_file(o->floppy, fpath, &fdata)) && note &&
        asprintf(note, "the Debian installer has no floppy driver: %s:%s goes into the "
                 "initrd as /preseed.cfg and '%.*s' is left off the command line",
                 o->floppy, fpath, (int)dl, drop) < 0)
        *note = NULL;
    if (!err && o->floppy)
        err = attach_floppy(c, o->floppy);
    if (!err && o->location) {
        struct vk_install_media im;
        char kernel[4200], initrd[4200];
        char *args = NULL;
        if (!(err = vk_install_find(o->location, &im))) {
            if (!(err = vk_pathf(kernel, sizeof kernel, "%s/kernel", workdir)) &&
                !(err = vk_pathf(initrd, sizeof initrd, "%s/initrd", workdir)) &&
                !(err = vk_install_extract(o->location, &im, kernel, initrd)))
                err = inject_files(o, fdata, fpath, initrd);
            if (!err && im.iso)
                err = attach_cdrom(c, o->location);
            if (!err && found) {
                for (char *q = im.initrd; *q; q++)
                    if (*q == '\n')
                        *q = '+';
                if (asprintf(found, "kernel %s, initrd %s (%s)", im.kernel, im.initrd,
                             im.found_by) < 0)
                    *found = NULL;
            }
            vk_install_media_free(&im);
        }
        if (!err && !(args = kernel_args(o->extra_args, drop, dl)))
            err = vk_error(-ENOMEM, "out of memory");
        if (!err && !(err = set(&c->kernel, kernel)) && !(err = set(&c->ramdisk, initrd)))
            err = set(&c->cmdline, args);
        free(args);
        if (!err)
            err = set(&c->boot, NULL);
    } else if (!err) {
        err = attach_cdrom(c, o->cdrom);
        if (!err && !(err = set(&c->kernel, NULL)) && !(err = set(&c->ramdisk, NULL)) &&
            !(err = set(&c->cmdline, NULL)))
            err = set(&c->boot, "dc");
    }
    if (!err) {
        /* the domain's own boot is not the installer's */
        set(&c->bootloader, NULL);
        set(&c->root, NULL);
        set(&c->extra, NULL);
        for (unsigned i = 0; i < c->bootloader_args.n; i++)
            free(c->bootloader_args.v[i]);
        free(c->bootloader_args.v);
        memset(&c->bootloader_args, 0, sizeof c->bootloader_args);
        c->hvmloader = 0;
        c->on_poweroff = c->on_reboot = c->on_crash = VK_ACT_PRESERVE;
    }
    free(fpath);
    free(fdata);
    if (err && note) {
        free(*note);
        *note = NULL;
    }
    if (err && found) {
        free(*found);
        *found = NULL;
    }
    return err;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The last lines of the console log in dir, with terminal escape
 * sequences and control characters taken out (an installer's screen
 * drawing would make them unreadable).  malloc'd, or NULL. */
static char *console_tail(const char *dir, int lines)
{
    char p[4200];
    if (vk_pathf(p, sizeof p, "%s/console.log", dir))
        return NULL;
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    off_t end = lseek(fd, 0, SEEK_END);
    size_t want = end > 65536 ? 65536 : (size_t)(end > 0 ? end : 0);
    char *raw = malloc(want + 1), *out = malloc(want + 1);
    ssize_t n = raw ? pread(fd, raw, want, end - (off_t)want) : -1;
    close(fd);
    if (n < 0 || !out) {
        free(raw);
        free(out);
        return NULL;
    }
    size_t o = 0;
    for (ssize_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)raw[i];
        if (ch == 0x1b) {               /* ESC [ params final, or ESC x */
            if (i + 1 < n && raw[i + 1] == '[') {
                i += 2;
                while (i < n && !((unsigned char)raw[i] >= 0x40 && (unsigned char)raw[i] <= 0x7e))
                    i++;
            } else {
                i++;
            }
            continue;
        }
        if (ch == '\r')
            continue;
        if (ch == '\n' || ch == '\t' || ch >= 0x20)
            out[o++] = (char)ch;
    }
    out[o] = 0;
    free(raw);
    /* keep the last `lines` non-blank lines */
    int seen = 0;
    char *start = out;
    for (char *q = out + o; q > out; q--)
        if (q[-1] == '\n' && q[0] && q[0] != '\n' && ++seen > lines) {
            start = q;
            break;
        }
    memmove(out, start, strlen(start) + 1);
    return out;
}

/* Copy dir/console.log to the host file log (replaced). */
static int save_log(const char *dir, const char *log)
{
    char p[4200], buf[65536];
    int err = vk_pathf(p, sizeof p, "%s/console.log", dir);
    if (err)
        return err;
    int in = open(p, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? 0 : vk_error(-errno, "%s: %s", p, strerror(errno));
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
        err = vk_error(-errno, "%s: %s", log, strerror(errno));
    for (ssize_t n; !err && (n = read(in, buf, sizeof buf)) != 0;) {
        if (n < 0 || write(out, buf, (size_t)n) != n)
            err = vk_error(-errno ? -errno : -EIO, "%s: %s", log, strerror(errno ? errno : EIO));
    }
    if (out >= 0 && close(out) < 0 && !err)
        err = vk_error(-errno, "%s: %s", log, strerror(errno));
    close(in);
    return err;
}

/* Contract in install.h. */
int vk_install_wait(const char *name, int timeout_ms, const volatile int *stop,
                    const char *log, enum vk_install_end *end, char **tail)
{
    long long deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
    char dir[4200] = "";
    if (tail)
        *tail = NULL;
    for (;;) {
        struct vk_vminfo info;
        int err = vk_rt_info(name, 0, &info);
        if (err == -ENOENT) {
            vk_error_clear();
            *end = VK_INSTALL_GONE;
            return 0;
        }
        if (err)
            return err;
        enum vk_vm_state st = info.state;
        /* a shutdown is over only once its monitor is gone: while QEMU is
         * gone and the monitor lives it is deciding (or being destroyed);
         * a panic preserved keeps QEMU, stopped, and "crashed" is final */
        int over = (!info.monitor && !info.pid) || st == VK_ST_CRASHED;
        snprintf(dir, sizeof dir, "%s", info.dir);
        vk_vminfo_free(&info);
        if (over && (st == VK_ST_SHUTDOWN || st == VK_ST_CRASHED))
            *end = st == VK_ST_SHUTDOWN ? VK_INSTALL_DONE : VK_INSTALL_CRASHED;
        else if (stop && *stop)
            *end = VK_INSTALL_STOPPED;
        else if (deadline >= 0 && now_ms() >= deadline)
            *end = VK_INSTALL_TIMEOUT;
        else {
            poll(NULL, 0, 100);
            continue;
        }
        break;
    }
    int err = 0;
    if (tail)
        *tail = console_tail(dir, 15);
    if (log)
        err = save_log(dir, log);
    int derr = vk_vm_destroy(name);
    if (derr == -ENOENT)
        vk_error_clear();              /* it went away by itself meanwhile */
    else if (derr && !err)
        err = derr;
    return err;
}
