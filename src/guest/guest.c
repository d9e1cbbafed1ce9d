/* vmkit guest build (contract in guest.h): Debian cloud kernel + busybox
 * into an MBR disk with one ext4 partition, plus an xl.cfg that boots it.
 *
 * The root tree is assembled in a host temp dir, the partition table is
 * written with part/, and the ext4 filesystem is made and filled from the
 * tree with fs/ (vk_fs_mkfs, vk_populate; everything owned by root). */
#include "guest/guest.h"

#include "guest/guest_files.h"
#include "guest/guest_int.h"
#include "block/blockdev.h"
#include "fs/fs.h"
#include "fs/populate.h"
#include "part/part.h"
#include "boot/grub_install.h"
#include "util/dirs.h"
#include "util/err.h"
#include "util/file.h"
#include "util/str.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXMODS 64
#define KO_MAX (64u << 20)

/* Contract in guest_int.h. */
void vk_guest_say(const struct vk_guest_opts *o, const char *fmt, ...)
{
    if (!o->progress)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    o->progress(buf, o->ctx);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    return remove(p) < 0 ? -1 : 0;
}

/* Contract in guest_int.h. */
void vk_guest_rm_rf(const char *dir)
{
    nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static int mkdirs(const char *root, const char *rel)
{
    char p[PATH_MAX];
    int r = vk_pathf(p, sizeof p, "%s/%s", root, rel);
    if (r < 0)
        return r;
    return vk_mkdirs(p, 0755);
}

/* Contract in guest_int.h. */
int vk_guest_write_file(const char *p, const void *data, size_t len, mode_t mode)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return vk_error(-errno, "%s: %s", p, strerror(errno));
    int r = 0;
    for (size_t w = 0; w < len;) {
        ssize_t n = write(fd, (const char *)data + w, len - w);
        if (n < 0) {
            r = vk_error(-errno, "%s: %s", p, strerror(errno));
            break;
        }
        w += n;
    }
    if (close(fd) < 0 && r == 0)
        r = vk_error(-errno, "%s: %s", p, strerror(errno));
    if (r == 0 && chmod(p, mode) < 0)
        r = vk_error(-errno, "%s: %s", p, strerror(errno));
    return r;
}

/* fsync the file p; a whole tree: syncfs of the filesystem holding it
 * (a 9p root built in place has too many files to sync one by one). */
static int sync_path(const char *p, bool tree)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC), r = 0;
    if (fd < 0 || (tree ? syncfs(fd) : fsync(fd)) < 0)
        r = vk_error(-errno, "%s: %s", p, strerror(errno));
    if (fd >= 0)
        close(fd);
    return r;
}

/* root "" means rel is a path of its own. */
static int write_file(const char *root, const char *rel, const char *data, size_t len, mode_t mode)
{
    char p[3 * PATH_MAX];
    int pr = *root ? vk_pathf(p, sizeof p, "%s/%s", root, rel) : vk_pathf(p, sizeof p, "%s", rel);
    return pr < 0 ? pr : vk_guest_write_file(p, data, len, mode);
}

static int put_text(const char *root, const char *rel, const char *text, mode_t mode)
{
    return write_file(root, rel, text, strlen(text), mode);
}

static int copy_file(const char *src, const char *dst, mode_t mode)
{
    char *d;
    size_t l;
    int r = vk_read_small_file(src, 1u << 30, &d, &l);
    if (r < 0)
        return r;
    r = write_file("", dst, d, l, mode);
    free(d);
    return r;
}

/* ---- kernel modules: find by name, order by the depends= of .modinfo ---- */

struct mods {
    char *name[MAXMODS];
    char *path[MAXMODS];
    unsigned n;
};

/* Is directory entry b the module name's .ko ('-' and '_' alike)? */
static bool is_module(const char *b, const char *name)
{
    size_t l = strlen(name);
    if (strlen(b) != l + 3 || strcmp(b + l, ".ko"))
        return false;
    for (size_t i = 0; i < l; i++) {
        char a = b[i] == '-' ? '_' : b[i], c = name[i] == '-' ? '_' : name[i];
        if (a != c)
            return false;
    }
    return true;
}

/* The path of module name's .ko under dir (malloc'd; NULL if none), found
 * in directory order without following symlinks.  All state is on the
 * stack: two guest builds may run in two threads. */
static char *find_module(const char *dir, const char *name, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char *found = NULL;
    for (struct dirent *e; !found && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[PATH_MAX];
        struct stat st;
        if ((size_t)snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= sizeof p ||
            lstat(p, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth < 32)
            found = find_module(p, name, depth + 1);
        else if (S_ISREG(st.st_mode) && is_module(e->d_name, name))
            found = strdup(p);
    }
    closedir(d);
    return found;
}

static int add_module(struct mods *m, const char *moddir, const char *name, int depth)
{
    for (unsigned i = 0; i < m->n; i++)
        if (!strcmp(m->name[i], name))
            return 0;
    if (depth > 16 || m->n >= MAXMODS)
        return vk_error(-E2BIG, "%s: module dependencies too deep or too many", name);
    char *path = find_module(moddir, name, 0);
    if (!path)
        return 1;  /* built into the kernel (or absent): nothing to load */
    char *ko;
    size_t len;
    int r = vk_read_small_file(path, KO_MAX, &ko, &len);
    if (r < 0) {
        free(path);
        return r;
    }
    /* .modinfo holds NUL-separated "key=value" strings */
    const char *dep = NULL;
    for (size_t i = 0; i + 8 < len; i++)
        if (!memcmp(ko + i, "depends=", 8) && (i == 0 || ko[i - 1] == '\0')) {
            dep = ko + i + 8;
            break;
        }
    char deps[1024] = "";
    if (dep)
        snprintf(deps, sizeof deps, "%s", dep);
    free(ko);
    char *save = NULL;
    for (char *d = strtok_r(deps, ",", &save); d && r >= 0; d = strtok_r(NULL, ",", &save))
        r = add_module(m, moddir, d, depth + 1);
    if (r < 0) {
        free(path);
        return r;
    }
    if (m->n >= MAXMODS) {
        free(path);
        return vk_error(-E2BIG, "too many modules");
    }
    m->name[m->n] = strdup(name);
    m->path[m->n++] = path;
    return 0;
}

static void free_mods(struct mods *m)
{
    for (unsigned i = 0; i < m->n; i++) {
        free(m->name[i]);
        free(m->path[i]);
    }
}

/* ---- the image ---- */

/* Contract in guest_int.h. */
int vk_guest_disk_make(const struct vk_guest_opts *o, const char *shown, const char *label,
                       const char *uuid, struct vk_guest_disk *d)
{
    const char *fmt = o->format ? o->format : "raw";
    struct vk_create_opts co = { .size = o->size };
    memset(d, 0, sizeof *d);
    int r = vk_bd_create(o->out, fmt, &co);
    if (r < 0 || (r = vk_bd_open(o->out, fmt, VK_OPEN_RDWR | VK_OPEN_BULK, &d->bd)) < 0)
        return r;
    struct vk_ptable t;
    memset(&t, 0, sizeof t);
    struct vk_part_req req = { .type = "linux", .bootable = true };
    if ((r = vk_ptable_init(d->bd, &t, VK_LABEL_MBR, false)) == 0 &&
        (r = vk_part_add(&t, &req, o->out, &d->num)) == 0)
        r = vk_ptable_write(d->bd, &t);
    struct vk_part *p = r == 0 ? vk_ptable_find(&t, d->num) : NULL;
    if (r == 0 && !p)
        r = vk_error(-EIO, "%s: partition %u vanished", o->out, d->num);
    if (r == 0) {
        uint64_t off = p->start * VK_SECTOR, len = p->size * VK_SECTOR;
        snprintf(d->name, sizeof d->name, "%s:%u", shown, d->num);
        vk_guest_say(o, "making ext4 on %s (%llu MiB) and filling it", d->name,
                     (unsigned long long)(len >> 20));
        struct vk_mkfs_opts mo = { .type = "ext4", .label = label, .uuid = uuid,
                                   .reserved_pct = -1 };
        if ((r = vk_slice_open(d->bd, off, len, d->name, false, &d->part)) == 0 &&
            (r = vk_fs_mkfs(d->part, &mo)) == 0)
            r = vk_fs_mount(d->part, true, &d->fs);
    }
    vk_ptable_free(&t);
    if (r < 0)
        vk_guest_disk_close(d);
    return r;
}

/* Contract in guest_int.h. */
int vk_guest_disk_close(struct vk_guest_disk *d)
{
    int r = 0, c;
    if (d->fs && (c = vk_fs_unmount(d->fs)) < 0)
        r = c;
    d->fs = NULL;
    if (d->part && (c = vk_bd_close(d->part)) < 0 && r == 0)
        r = c;
    d->part = NULL;
    if (d->bd && (c = vk_bd_close(d->bd)) < 0 && r == 0)
        r = c;
    d->bd = NULL;
    return r;
}

/* GRUB into the finished image's MBR gap (boot/grub_install), keeping the
 * builder's grub.cfg: pygrub and GRUB then read the same menu. */
static int install_grub(const struct vk_guest_opts *o, const char *shown)
{
    struct vk_blockdev *bd;
    int r = vk_bd_open(o->out, o->format ? o->format : "raw", VK_OPEN_RDWR, &bd);
    if (r < 0)
        return r;
    char cache[PATH_MAX];
    struct vk_grub_opts go = { .timeout = 1, .timeout_set = true };
    if (o->cachedir && vk_pathf(cache, sizeof cache, "%s/grub", o->cachedir) == 0)
        go.cache_dir = cache;
    vk_guest_say(o, "installing GRUB into %s's MBR", shown);
    r = vk_grub_install(bd, 1, &go, NULL);
    if (r < 0)
        r = vk_error_prefix(r, "%s: GRUB: ", shown);
    int c = vk_bd_close(bd);
    return r < 0 ? r : c;
}

/* The busybox guest's image, filled from the host tree root. */
static int make_image(const struct vk_guest_opts *o, const char *shown, const char *root)
{
    struct vk_guest_disk d;
    struct vk_populate_opts po = { .force_owner = true, .uid = 0, .gid = 0 };
    int r = vk_guest_disk_make(o, shown, "vmkit-root", NULL, &d);
    if (r == 0)
        r = vk_populate(d.fs, "/", root, &po);
    int c = vk_guest_disk_close(&d);
    return r < 0 ? r : c;
}

/* The xl.cfg text for the guest at abs (the final, absolute path).  The
 * disk names its format, so QEMU neither probes it nor guards its sector
 * 0, and target= (last) lets the path hold commas.  A 9p root: the kernel
 * and initramfs in OUT booted directly. */
static char *cfg_text(const struct vk_guest_opts *o, const char *host, const char *abs,
                      const char *kver, bool debian)
{
    char *text = NULL;
    bool grub = o->bootloader && !strcmp(o->bootloader, "grub");
    if (o->rootfs_dir ? asprintf(&text,
                 "# xl.cfg written by vmkit guest build --rootfs-dir\n"
                 "name = \"%s\"\n"
                 "memory = 256\n"
                 "vcpus = 1\n"
                 "kernel = \"%s/boot/vmlinuz-%s\"\n"
                 "ramdisk = \"%s/boot/initrd.img-%s\"\n"
                 "extra = \"root=root rootfstype=9p rootflags=trans=virtio,version=9p2000.L,"
                 "msize=262144 console=ttyS0\"\n"
                 "p9 = [ 'tag=root,security_model=none,path=%s' ]\n"
                 "serial = \"pty\"\n"
                 "on_poweroff = \"destroy\"\n"
                 "on_reboot = \"restart\"\n"
                 "on_crash = \"destroy\"\n",
                 host, abs, kver, abs, kver, abs) < 0 : asprintf(&text,
                 "# xl.cfg written by vmkit guest build\n"
                 "name = \"%s\"\n"
                 "memory = %d\n"
                 "vcpus = 1\n"
                 "%s\n"
                 "disk = [ 'format=%s, vdev=xvda, access=rw, target=%s' ]\n"
                 "serial = \"pty\"\n"
                 "on_poweroff = \"destroy\"\n"
                 "on_reboot = \"restart\"\n"
                 "on_crash = \"destroy\"\n",
                 host, debian ? 512 : 256,
                 grub ? "boot = \"c\"                     # GRUB in the disk's MBR"
                      : "bootloader = \"pygrub\"",
                 o->format ? o->format : "raw", abs) < 0)
        return NULL;
    return text;
}

/* Fill root (a host dir) and tmp/initrd; *kver gets the version. */
static int make_tree(const struct vk_guest_opts *o, const char *root, const char *tmp,
                     const char *host, char **kver_out)
{
    char *cache = NULL, *kdeb = NULL, *bbdeb = NULL, *meta = NULL, *dep = NULL, *kver = NULL;
    struct mods mods = { .n = 0 };
    char x[PATH_MAX + 16], p[3 * PATH_MAX], q[3 * PATH_MAX];
    int r = vk_deb_cachedir(o->cachedir, &cache);
    const char *kernel_file = NULL;
    if (r == 0)
        r = vk_pathf(x, sizeof x, "%s/x", tmp);

    /* the kernel */
    bool kpkg = o->kernel && !strncmp(o->kernel, "linux-image-", 12) && !strchr(o->kernel, '/') &&
                !strstr(o->kernel, ".deb") && access(o->kernel, F_OK) < 0;
    if (r == 0 && o->kernel && !kpkg && !strstr(o->kernel, ".deb")) {
        kernel_file = o->kernel;
        const char *b = strrchr(o->kernel, '/');
        b = b ? b + 1 : o->kernel;
        kver = strdup(!strncmp(b, "vmlinuz-", 8) ? b + 8 : "custom");
    } else if (r == 0) {
        if (o->kernel && !kpkg) {
            kdeb = strdup(o->kernel);
        } else {
            /* a package name, or the default: the cloud kernel, or the
             * generic one for a 9p root (the cloud kernel has no 9p) */
            const char *pkg = o->kernel ? o->kernel
                            : o->rootfs_dir ? "linux-image-amd64" : "linux-image-cloud-amd64";
            vk_guest_say(o, "fetching %s (cached in %s)", pkg, cache);
            if ((r = vk_deb_fetch(cache, pkg, &meta)) == 0 &&
                (r = vk_deb_field(meta, "Depends", &dep)) == 0) {
                /* "linux-image-6.1.0-18-cloud-amd64 (= 6.1.76-1)" */
                char *s = strstr(dep, "linux-image-");
                if (!s)
                    r = vk_error(-EINVAL, "%s: no linux-image dependency in '%s'", meta, dep);
                else {
                    s[strcspn(s, " ,(|")] = '\0';
                    vk_guest_say(o, "fetching %s", s);
                    r = vk_deb_fetch(cache, s, &kdeb);
                }
            }
        }
        if (r == 0 && !kdeb)
            r = vk_error(-ENOMEM, "out of memory");
        char *pkg = NULL;
        if (r == 0 && (r = vk_deb_field(kdeb, "Package", &pkg)) == 0) {
            if (strncmp(pkg, "linux-image-", 12))
                r = vk_error(-EINVAL, "%s: package %s is not a linux-image package", kdeb, pkg);
            else
                kver = strdup(pkg + 12);
        }
        free(pkg);
        if (r == 0) {
            vk_guest_say(o, "unpacking %s", strrchr(kdeb, '/') ? strrchr(kdeb, '/') + 1 : kdeb);
            r = vk_deb_extract(kdeb, x);
        }
    }
    if (r == 0 && !kver)
        r = vk_error(-ENOMEM, "out of memory");
    /* busybox */
    if (r == 0) {
        vk_guest_say(o, "fetching busybox-static");
        if ((r = vk_deb_fetch(cache, "busybox-static", &bbdeb)) == 0)
            r = vk_deb_extract(bbdeb, x);
    }
    /* the tree */
    static const char *const dirs[] = { "bin", "sbin", "usr/bin", "usr/sbin", "etc/init.d",
        "etc/acpi/PWRF", "dev", "proc", "sys", "run", "tmp", "root", "boot/grub", "var/log",
        "lib/modules", NULL };
    for (const char *const *d = dirs; *d && r == 0; d++)
        r = mkdirs(root, *d);
    if (r == 0) {
        snprintf(p, sizeof p, "%s/bin/busybox", x);
        snprintf(q, sizeof q, "%s/bin/busybox", root);
        r = copy_file(p, q, 0755);
    }
    /* applet links, as busybox itself lists them */
    if (r == 0) {
        size_t lsize = 65536;
        char *list = malloc(lsize);
        const char *argv[] = { q, "--list-full", NULL };
        r = list ? vk_run(argv, NULL, list, lsize) : vk_error(-ENOMEM, "out of memory");
        char *save = NULL;
        for (char *l = r == 0 ? strtok_r(list, "\n", &save) : NULL; l && r == 0;
             l = strtok_r(NULL, "\n", &save)) {
            char lp[3 * PATH_MAX], target[PATH_MAX] = "";
            if (!strcmp(l, "bin/busybox"))
                continue;
            /* relative link: ../../bin/busybox from usr/sbin */
            for (const char *c = l; *c; c++)
                if (*c == '/')
                    strcat(target, "../");
            strcat(target, "bin/busybox");
            snprintf(lp, sizeof lp, "%s/%s", root, l);
            if (symlink(target, lp) < 0 && errno != EEXIST)
                r = vk_error(-errno, "%s: %s", lp, strerror(errno));
        }
        free(list);
    }
    /* kernel, config, modules */
    if (r == 0) {
        snprintf(p, sizeof p, "%s/boot/vmlinuz-%s", x, kver);
        snprintf(q, sizeof q, "%s/boot/vmlinuz-%s", root, kver);
        r = copy_file(kernel_file ? kernel_file : p, q, 0644);
    }
    if (r == 0 && !kernel_file) {
        snprintf(p, sizeof p, "%s/boot/config-%s", x, kver);
        snprintf(q, sizeof q, "%s/boot/config-%s", root, kver);
        if (access(p, R_OK) == 0)
            r = copy_file(p, q, 0644);
        snprintf(p, sizeof p, "%s/lib/modules/%s", x, kver);
        /* virtio_net pulls in net_failover and failover through its depends= */
        /* pvpanic_mmio drives QEMU's ISA pvpanic device: a panic reaches
         * the monitor (on_crash); 9p, USB (usb = 1 is QEMU's UHCI; the
         * tablet is a HID device) and the i6300esb of on_watchdog where
         * the kernel has them (the generic one; the cloud kernel has none
         * of the three: each is skipped when absent) */
        static const char *const want[] = { "virtio_pci", "virtio_blk", "virtio_net", "ext4",
                                            "crc16", "mbcache", "jbd2", "crc32c_generic",
                                            "button", "evdev", "pvpanic", "pvpanic_mmio",
                                            "9pnet_virtio", "9p", "uhci_hcd", "usbhid",
                                            "hid_generic", "i6300esb", NULL };
        struct stat st;
        if (stat(p, &st) == 0)
            for (const char *const *w = want; *w && r >= 0; w++)
                r = add_module(&mods, p, *w, 0);
        if (r > 0)
            r = 0;
        for (unsigned i = 0; i < mods.n && r == 0; i++) {
            const char *rel = mods.path[i] + strlen(x) + 1;   /* lib/modules/VER/kernel/... */
            char *dir = strdup(rel);
            if (!dir) {
                r = -ENOMEM;
                break;
            }
            if ((r = mkdirs(root, dirname(dir))) == 0) {
                snprintf(q, sizeof q, "%s/%s", root, rel);
                r = copy_file(mods.path[i], q, 0644);
            }
            free(dir);
        }
    }
    /* the initramfs */
    if (r == 0) {
        vk_guest_say(o, "writing initramfs (%u modules)", mods.n);
        char order[MAXMODS * 64] = "";
        struct vk_cpio_file f[16 + MAXMODS];
        char names[MAXMODS][96];
        size_t n = 0;
        f[n++] = (struct vk_cpio_file){ .path = "bin", .mode = S_IFDIR | 0755 };
        f[n++] = (struct vk_cpio_file){ .path = "dev", .mode = S_IFDIR | 0755 };
        f[n++] = (struct vk_cpio_file){ .path = "dev/console", .mode = S_IFCHR | 0600, .rmajor = 5, .rminor = 1 };
        f[n++] = (struct vk_cpio_file){ .path = "dev/null", .mode = S_IFCHR | 0666, .rmajor = 1, .rminor = 3 };
        f[n++] = (struct vk_cpio_file){ .path = "proc", .mode = S_IFDIR | 0755 };
        f[n++] = (struct vk_cpio_file){ .path = "sys", .mode = S_IFDIR | 0755 };
        f[n++] = (struct vk_cpio_file){ .path = "newroot", .mode = S_IFDIR | 0755 };
        f[n++] = (struct vk_cpio_file){ .path = "lib", .mode = S_IFDIR | 0755 };
        f[n++] = (struct vk_cpio_file){ .path = "lib/modules", .mode = S_IFDIR | 0755 };
        char bb[PATH_MAX + 128];
        snprintf(bb, sizeof bb, "%s/bin/busybox", root);
        f[n++] = (struct vk_cpio_file){ .path = "bin/busybox", .host = bb, .mode = S_IFREG | 0755 };
        f[n++] = (struct vk_cpio_file){ .path = "bin/sh", .link = "busybox", .mode = S_IFLNK | 0777 };
        f[n++] = (struct vk_cpio_file){ .path = "init", .data = vk_guest_init, .mode = S_IFREG | 0755 };
        for (unsigned i = 0; i < mods.n; i++) {
            snprintf(names[i], sizeof names[i], "lib/modules/%s.ko", mods.name[i]);
            f[n++] = (struct vk_cpio_file){ .path = names[i], .host = mods.path[i], .mode = S_IFREG | 0644 };
            strcat(order, mods.name[i]);
            strcat(order, "\n");
        }
        f[n++] = (struct vk_cpio_file){ .path = "modules", .data = order, .mode = S_IFREG | 0644 };
        snprintf(q, sizeof q, "%s/boot/initrd.img-%s", root, kver);
        r = vk_initramfs_write(q, f, n);
    }
    /* configuration */
    char *grub = r == 0 ? vk_guest_grubcfg(kver, VK_GUEST_CMDLINE) : NULL;
    if (r == 0 && !grub)
        r = vk_error(-ENOMEM, "out of memory");
    char hostline[256];
    snprintf(hostline, sizeof hostline, "%s\n", host);
    if (r == 0 && (r = put_text(root, "boot/grub/grub.cfg", grub, 0644)) == 0 &&
        (r = put_text(root, "etc/inittab", vk_guest_inittab, 0644)) == 0 &&
        (r = put_text(root, "etc/init.d/rcS", vk_guest_rcs, 0755)) == 0 &&
        (r = put_text(root, "etc/profile", vk_guest_profile, 0644)) == 0 &&
        (r = put_text(root, "etc/acpi/PWRF/00000080", vk_guest_acpi_power, 0755)) == 0 &&
        (r = put_text(root, "etc/udhcpc.script", vk_guest_udhcpc, 0755)) == 0 &&
        (r = put_text(root, "etc/hostname", hostline, 0644)) == 0 &&
        (r = put_text(root, "etc/passwd", "root::0:0:root:/root:/bin/sh\n", 0644)) == 0 &&
        (r = put_text(root, "etc/group", "root:x:0:\n", 0644)) == 0)
        r = put_text(root, "etc/fstab", o->rootfs_dir ? "root / 9p rw,trans=virtio 0 0\n"
                                                      : "/dev/vda1 / ext4 rw 0 1\n", 0644);
    free(grub);
    free_mods(&mods);
    free(cache);
    free(kdeb);
    free(bbdeb);
    free(meta);
    free(dep);
    if (r == 0)
        *kver_out = kver;
    else
        free(kver);
    return r;
}

/* The absolute name out will have once it exists (its directory must). */
static int abs_name(const char *out, char *abs, size_t len)
{
    char dir[PATH_MAX], d2[PATH_MAX];
    snprintf(d2, sizeof d2, "%s", out);
    const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
    if (!*base)
        return vk_error(-EINVAL, "%s: names a directory, not an image file", out);
    if (!realpath(strrchr(out, '/') ? dirname(d2) : ".", dir))
        return vk_error(-errno, "%s: %s", out, strerror(errno));
    return vk_pathf(abs, len, "%s/%s", strcmp(dir, "/") ? dir : "", base);
}

/* Is c a character a hostname may hold? */
static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

int vk_guest_build(const struct vk_guest_opts *in, char **kver)
{
    struct vk_guest_opts o = *in;
    bool debian = o.distro && strcmp(o.distro, "busybox");
    if (debian && strcmp(o.distro, "debian"))
        return vk_error(-EINVAL, "distribution '%s' unknown: vmkit builds busybox and debian",
                        o.distro);
    /* busybox keeps pygrub by default: the VM tests boot it by the dozen,
     * and pygrub's direct boot skips the BIOS and GRUB's menu */
    if (!o.bootloader)
        o.bootloader = debian ? "grub" : "pygrub";
    if (strcmp(o.bootloader, "grub") && strcmp(o.bootloader, "pygrub"))
        return vk_error(-EINVAL, "boot loader '%s' unknown: grub or pygrub", o.bootloader);
    if (!o.size)
        o.size = debian ? 2048ull << 20 : 256ull << 20;
    if (o.size < (32ull << 20))
        return vk_error(-EINVAL, "%s: size %llu too small for a guest (at least 32M)", o.out,
                        (unsigned long long)o.size);
    if (o.hostname) {
        size_t l = strlen(o.hostname);
        bool good = l > 0 && l <= 63 && o.hostname[0] != '-' && o.hostname[l - 1] != '-';
        for (size_t i = 0; good && i < l; i++)
            good = host_char(o.hostname[i]);
        if (!good)
            return vk_error(-EINVAL, "hostname '%s': 1-63 letters, digits and '-' "
                            "(not first or last)", o.hostname);
    }
    if (debian && o.rootfs_dir)
        return vk_error(-ENOTSUP, "--rootfs-dir: only the busybox guest can be a 9p root");
    if (debian) {
        int c = vk_guest_debian_check(&o);
        if (c < 0)
            return c;
    }
    struct stat st;
    if (lstat(o.out, &st) == 0)
        return vk_error(-EEXIST, "%s: already exists; not overwriting it", o.out);
    char abs[PATH_MAX + 8];
    int pr = abs_name(o.out, abs, sizeof abs);
    if (pr < 0)
        return pr;
    if (o.rootfs_dir && strpbrk(abs, ",'\"\\"))
        return vk_error(-EINVAL, "%s: a 9p root's path cannot hold , ' \" or \\ (p9 specs "
                        "are comma-separated)", abs);
    char host[64];
    const char *b = strrchr(o.out, '/');
    snprintf(host, sizeof host, "%s", o.hostname ? o.hostname : b ? b + 1 : o.out);
    if (!o.hostname)
        host[strcspn(host, ".")] = '\0';
    for (char *c = host; *c; c++)
        if (!host_char(*c))
            *c = '-';
    if (!*host)
        strcpy(host, "vmkit");

    char tmp[PATH_MAX];
    const char *td = getenv("TMPDIR");
    pr = vk_pathf(tmp, sizeof tmp, "%s/vmkit-guest.XXXXXX", td && *td ? td : "/tmp");
    if (pr < 0)
        return vk_error_prefix(pr, "TMPDIR: ");
    if (!mkdtemp(tmp))
        return vk_error(-errno, "%s: %s", tmp, strerror(errno));
    /* Built under a temporary name next to OUT and renamed at the end:
     * OUT appears whole or not at all. */
    char part[PATH_MAX + 64], cfgtmp[PATH_MAX + 64], cfg[PATH_MAX + 8];
    size_t dl = strrchr(abs, '/') - abs;
    snprintf(part, sizeof part, "%.*s/.%s.vmkit-%s", (int)dl, abs, abs + dl + 1,
             strrchr(tmp, '.') + 1);
    if ((pr = vk_pathf(cfgtmp, sizeof cfgtmp, "%s.cfg", part)) < 0 ||
        (pr = vk_pathf(cfg, sizeof cfg, "%s.cfg", abs)) < 0) {
        vk_guest_rm_rf(tmp);
        return pr;
    }
    o.out = part;
    char root[PATH_MAX + 72];
    /* a 9p root is built in place (under the temporary name); a disk's
     * tree in the temp dir */
    snprintf(root, sizeof root, "%s%s", o.rootfs_dir ? part : tmp, o.rootfs_dir ? "" : "/root");
    char *v = NULL, *text = NULL;
    int r = 0;
    bool made = false;
    if (debian) {
        r = vk_guest_build_debian(&o, in->out, tmp, host, &v);
    } else {
        r = mkdir(root, 0755) < 0 ? vk_error(-errno, "%s: %s", root, strerror(errno)) : 0;
        made = r == 0;
        if (r == 0)
            r = make_tree(&o, root, tmp, host, &v);
        if (r == 0 && !o.rootfs_dir)
            r = make_image(&o, in->out, root);
    }
    if (r == 0 && !o.rootfs_dir && !strcmp(o.bootloader, "grub"))
        r = install_grub(&o, in->out);
    vk_guest_rm_rf(tmp);
    if (r == 0 && !(text = cfg_text(&o, host, abs, v, debian)))
        r = vk_error(-ENOMEM, "out of memory");
    if (r == 0)
        r = vk_guest_write_file(cfgtmp, text, strlen(text), 0644);
    free(text);
    /* The disk (or the 9p tree) and its config durable before they get
     * their names, the names after: a power cut leaves no OUT or a whole
     * one. */
    if (r == 0)
        r = sync_path(cfgtmp, false);
    if (r == 0)
        r = sync_path(part, o.rootfs_dir);
    if (r == 0 && renameat2(AT_FDCWD, part, AT_FDCWD, abs, RENAME_NOREPLACE) < 0)
        r = vk_error(-errno, "%s: %s", in->out,
                     errno == EEXIST ? "appeared while the guest was built; not overwriting it"
                                     : strerror(errno));
    if (r == 0 && rename(cfgtmp, cfg) < 0) {
        r = vk_error(-errno, "%s: %s", cfg, strerror(errno));
        if (o.rootfs_dir)
            vk_guest_rm_rf(abs);
        else
            unlink(abs);
    }
    if (r == 0)
        r = vk_fsync_parent(abs);
    if (r < 0) {
        if (o.rootfs_dir && made)
            vk_guest_rm_rf(part);
        else if (!o.rootfs_dir)
            unlink(part);
        unlink(cfgtmp);
        free(v);
        return r;
    }
    if (kver)
        *kver = v;
    else
        free(v);
    return 0;
}
