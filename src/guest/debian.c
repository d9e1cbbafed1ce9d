/* vmkit guest build --distro debian: a full Debian system.
 *
 * mmdebstrap (root mode as root, unshare mode for anyone else) installs
 * the packages into its own temporary chroot and writes the result as a
 * tar stream on its stdout; vmkit reads that stream straight into the
 * fresh ext4 filesystem (vk_populate_tar_fd: owners, modes, hard links,
 * device nodes, xattrs such as security.capability), so no tarball and no
 * extracted tree ever touch the host's disk.  What the system needs to
 * know of its disk comes in through mmdebstrap's hooks: /etc/fstab names
 * the root by the UUID vmkit gives the filesystem, written before the
 * kernel is installed so the guest's own initramfs-tools sees it; the
 * rest (hostname, network, getty, accounts, ssh key) is a shell script run
 * in the chroot at the end.  Downloaded packages and package lists are
 * kept in CACHE/debian/SUITE-amd64/{archives,lists}, synced in and out
 * with mmdebstrap's sync-in/sync-out hooks. */
#include "guest/guest_int.h"

#include "guest/guest_files.h"
#include "fs/populate.h"
#include "util/err.h"
#include "util/file.h"
#include "util/str.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAX (64u << 10)
#define MAX_ARGS 64

/* Suites vmkit knows: Debian's codenames and their aliases. */
static const char *const suites[] = { "bullseye", "bookworm", "trixie", "forky", "sid",
                                      "oldstable", "stable", "testing", "unstable", NULL };
/* ...and those with -updates and -security suites next to them. */
static const char *const released[] = { "bullseye", "bookworm", "trixie", "oldstable",
                                        "stable", NULL };
/* mmdebstrap's variants. */
static const char *const variants[] = { "extract", "custom", "essential", "apt", "required",
                                        "minbase", "buildd", "important", "debootstrap", "-",
                                        "standard", NULL };

static bool in_list(const char *const *l, const char *s)
{
    for (; *l; l++)
        if (!strcmp(*l, s))
            return true;
    return false;
}

/* Is c allowed in a package name or an apt version/release suffix? */
static bool pkg_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("+.-:=~/_", c);
}

/* The next package of a comma- or space-separated list (into buf). */
static const char *next_pkg(const char *s, char *buf, size_t len)
{
    s += strspn(s, ", \t\n");
    size_t l = strcspn(s, ", \t\n");
    if (!l)
        return NULL;
    snprintf(buf, len, "%.*s", (int)l, s);
    return s + l;
}

/* The public keys of an authorized_keys-style file, one per line, comments
 * and blank lines dropped; refuses a private key and anything that is not
 * a key line ("ssh-ed25519 AAAA... comment", options not accepted). */
static int read_keys(const char *path, char **keys)
{
    char *d = NULL;
    size_t len = 0;
    int r = vk_read_small_file(path, KEY_MAX, &d, &len);
    if (r < 0)
        return vk_error_prefix(r, "--ssh-key: ");
    if (strstr(d, "PRIVATE KEY")) {
        free(d);
        return vk_error(-EINVAL, "--ssh-key %s: a private key; give the public one (.pub)", path);
    }
    if (strlen(d) != len) {
        free(d);
        return vk_error(-EINVAL, "--ssh-key %s: binary data, not a public key", path);
    }
    char *out = calloc(1, strlen(d) + 2);
    size_t n = 0, lineno = 0;
    char *save = NULL;
    for (char *l = strtok_r(d, "\n", &save); out && l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        l += strspn(l, " \t\r");
        len = strlen(l);
        while (len && strchr(" \t\r", l[len - 1]))
            l[--len] = '\0';
        if (!len || *l == '#')
            continue;
        bool good = !strncmp(l, "ssh-", 4) || !strncmp(l, "ecdsa-sha2-", 11) ||
                    !strncmp(l, "sk-", 3);
        size_t t = strcspn(l, " \t");
        good = good && l[t] && l[t + 1 + strspn(l + t + 1, " \t")] &&
               !strncmp(l + t + strspn(l + t, " \t"), "AAAA", 4);
        if (!good) {
            free(out);
            free(d);
            return vk_error(-EINVAL, "--ssh-key %s: line %zu is not an OpenSSH public key "
                            "(TYPE BASE64 [COMMENT])", path, lineno);
        }
        n += (size_t)sprintf(out + n, "%s\n", l);
    }
    free(d);
    if (!out)
        return vk_error(-ENOMEM, "out of memory");
    if (!n) {
        free(out);
        return vk_error(-EINVAL, "--ssh-key %s: no public key in it", path);
    }
    *keys = out;
    return 0;
}

/* Contract in guest_int.h. */
int vk_guest_debian_check(const struct vk_guest_opts *o)
{
    const char *suite = o->suite ? o->suite : "bookworm";
    if (!in_list(suites, suite))
        return vk_error(-EINVAL, "debian suite '%s' unknown: one of bullseye, bookworm, trixie, "
                        "forky, sid (or oldstable, stable, testing, unstable)", suite);
    if (o->variant && !in_list(variants, o->variant))
        return vk_error(-EINVAL, "--variant '%s' unknown: one of mmdebstrap's (extract, custom, "
                        "essential, apt, required, minbase, buildd, important, standard)",
                        o->variant);
    char p[256];
    for (const char *s = o->packages; s && (s = next_pkg(s, p, sizeof p));) {
        bool good = (p[0] >= 'a' && p[0] <= 'z') || (p[0] >= '0' && p[0] <= '9');
        for (const char *c = p; good && *c; c++)
            good = pkg_char(*c);
        if (!good || strlen(p) > 200)
            return vk_error(-EINVAL, "--packages: '%s' is not a package name", p);
    }
    if (o->kernel && strcmp(o->kernel, "none")) {
        bool good = strlen(o->kernel) < 200 && o->kernel[0] >= 'a' && o->kernel[0] <= 'z';
        for (const char *c = o->kernel; good && *c; c++)
            good = pkg_char(*c) && *c != '/';
        if (!good)
            return vk_error(-EINVAL, "--kernel '%s': a Debian kernel package name or none",
                            o->kernel);
    }
    if (o->user) {
        size_t l = strlen(o->user);
        bool good = l && l <= 32 && ((o->user[0] >= 'a' && o->user[0] <= 'z') || o->user[0] == '_');
        for (const char *c = o->user; good && *c; c++)
            good = (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-';
        if (!good || !strcmp(o->user, "root"))
            return vk_error(-EINVAL, "--user '%s': a login name (a-z, 0-9, _ and -, not root)",
                            o->user);
    }
    if (o->root_password && (strchr(o->root_password, '\n') || !*o->root_password))
        return vk_error(-EINVAL, "--root-password: empty or holding a newline");
    if (o->mirror && (strncmp(o->mirror, "http://", 7) && strncmp(o->mirror, "https://", 8) &&
                      strncmp(o->mirror, "file:/", 6)))
        return vk_error(-EINVAL, "--mirror '%s': an http://, https:// or file:/ URL", o->mirror);
    if (o->mirror && strpbrk(o->mirror, " \t\n'\"\\"))
        return vk_error(-EINVAL, "--mirror '%s': blanks or quotes in the URL", o->mirror);
    if (o->ssh_key) {
        char *k;
        int r = read_keys(o->ssh_key, &k);
        if (r < 0)
            return r;
        free(k);
    }
    return 0;
}

/* ---- the mmdebstrap command line ---- */

struct argv {
    const char *v[MAX_ARGS + 1];
    char *own[MAX_ARGS];
    int n, nown;
};

static int add(struct argv *a, const char *s)
{
    if (a->n >= MAX_ARGS)
        return vk_error(-E2BIG, "mmdebstrap: too many arguments");
    a->v[a->n++] = s;
    a->v[a->n] = NULL;
    return 0;
}

static int addf(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int addf(struct argv *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0 || a->nown >= MAX_ARGS) {
        if (n >= 0)
            free(s);
        return vk_error(-ENOMEM, "out of memory");
    }
    a->own[a->nown++] = s;
    return add(a, s);
}

static void argv_free(struct argv *a)
{
    for (int i = 0; i < a->nown; i++)
        free(a->own[i]);
}

/* The package cache of this suite: CACHE/debian/SUITE-amd64. */
static int cache_dir(const struct vk_guest_opts *o, const char *suite, char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int r;
    if (o->cachedir)
        r = vk_pathf(buf, len, "%s/debian/%s-amd64", o->cachedir, suite);
    else if (xdg && *xdg)
        r = vk_pathf(buf, len, "%s/vmkit/debian/%s-amd64", xdg, suite);
    else if (home && *home)
        r = vk_pathf(buf, len, "%s/.cache/vmkit/debian/%s-amd64", home, suite);
    else
        return vk_error(-ENOENT, "no cache directory: neither XDG_CACHE_HOME nor HOME is set");
    if (r < 0)
        return r;
    /* mmdebstrap's special hooks split their arguments at blanks */
    if (strpbrk(buf, " \t\n'\"\\"))
        return vk_error(-EINVAL, "%s: the package cache path holds blanks or quotes, which "
                        "mmdebstrap's hooks cannot take; set XDG_CACHE_HOME", buf);
    char sub[4200];
    for (const char *s = buf + 1;; s++) {
        if (*s && *s != '/')
            continue;
        snprintf(sub, sizeof sub, "%.*s", (int)(s - buf), buf);
        if (mkdir(sub, 0755) < 0 && errno != EEXIST)
            return vk_error(-errno, "%s: %s", sub, strerror(errno));
        if (!*s)
            break;
    }
    static const char *const subs[] = { "archives", "lists", NULL };
    for (const char *const *s = subs; *s; s++) {
        snprintf(sub, sizeof sub, "%s/%s", buf, *s);
        if (mkdir(sub, 0755) < 0 && errno != EEXIST)
            return vk_error(-errno, "%s: %s", sub, strerror(errno));
    }
    return 0;
}

/* The shell script run in the chroot at the end (quoting: every value in
 * it is checked to hold only [A-Za-z0-9_-], see vk_guest_debian_check). */
static char *customize_script(const struct vk_guest_opts *o, const char *host, bool key)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f)
        return NULL;
    const char *u = o->user;
    fprintf(f,
            "#!/bin/sh\n"
            "# Run by vmkit guest build inside the new system (mmdebstrap customize hook).\n"
            "set -e\n"
            "echo %s >/etc/hostname\n"
            "printf '127.0.0.1\\tlocalhost\\n127.0.1.1\\t%s\\n::1\\tlocalhost ip6-localhost "
            "ip6-loopback\\nff02::1\\tip6-allnodes\\nff02::2\\tip6-allrouters\\n' >/etc/hosts\n"
            "mkdir -p /etc/systemd/network\n"
            "cat >/etc/systemd/network/80-vmkit-dhcp.network <<'EOF'\n"
            "# Written by vmkit guest build: DHCP on every Ethernet NIC, whatever its\n"
            "# name (ens3, enp0s3, eth0...).\n"
            "[Match]\n"
            "Name=en* eth*\n"
            "\n"
            "[Network]\n"
            "DHCP=yes\n"
            "EOF\n"
            "unit() { [ -e /lib/systemd/system/$1 ] || [ -e /usr/lib/systemd/system/$1 ]; }\n"
            "if unit systemd-networkd.service; then systemctl enable systemd-networkd.service; fi\n"
            "if unit systemd-resolved.service; then\n"
            "    systemctl enable systemd-resolved.service\n"
            "    ln -sf ../run/systemd/resolve/stub-resolv.conf /etc/resolv.conf\n"
            "fi\n"
            "if unit serial-getty@.service; then systemctl enable serial-getty@ttyS0.service; fi\n"
            "mkdir -p /etc/systemd/system/dev-ttyS0.device.d\n"
            "cat >/etc/systemd/system/dev-ttyS0.device.d/vmkit.conf <<'EOF'\n"
            "# Written by vmkit guest build: wait for the serial port however slow the\n"
            "# boot (TCG on a busy host), or its getty fails with 'dependency' after\n"
            "# the default 90 s and the console has no login prompt.\n"
            "[Unit]\n"
            "JobRunningTimeoutSec=infinity\n"
            "EOF\n",
            host, host);
    if (u)
        fprintf(f,
                "useradd -m -s /bin/bash %s\n"
                "if getent group sudo >/dev/null; then usermod -aG sudo %s; fi\n"
                "if [ -d /etc/sudoers.d ]; then\n"
                "    echo '%s ALL=(ALL) NOPASSWD:ALL' >/etc/sudoers.d/90-vmkit-%s\n"
                "    chmod 440 /etc/sudoers.d/90-vmkit-%s\n"
                "fi\n",
                u, u, u, u, u);
    if (o->root_password)
        fprintf(f, "chpasswd </tmp/vmkit-secret\nrm -f /tmp/vmkit-secret\n");
    else if (!key)
        /* nothing else to log in with: no password on the console (sshd
         * refuses empty passwords) */
        fprintf(f, "passwd -d root >/dev/null\n%s%s%s", u ? "passwd -d " : "", u ? u : "",
                u ? " >/dev/null\n" : "");
    if (key) {
        const char *home = u ? "/home/" : "/root", *who = u ? u : "root";
        fprintf(f,
                "install -d -m 700 -o %s -g %s %s%s/.ssh\n"
                "install -m 600 -o %s -g %s /tmp/vmkit-keys %s%s/.ssh/authorized_keys\n"
                "rm -f /tmp/vmkit-keys\n",
                who, who, home, u ? u : "", who, who, home, u ? u : "");
    }
    fprintf(f, "rm -f /tmp/vmkit-customize\n");
    if (ferror(f) | fclose(f)) {
        free(s);
        return NULL;
    }
    return s;
}

/* The packages vmkit adds to the variant's. */
static int includes(const struct vk_guest_opts *o, const char *suite, char **out)
{
    char *s = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&s, &len);
    if (!f)
        return vk_error(-ENOMEM, "out of memory");
    bool extract = o->variant && (!strcmp(o->variant, "extract") || !strcmp(o->variant, "custom"));
    if (!extract) {
        fprintf(f, "systemd-sysv,udev,dbus,iproute2,netbase,ca-certificates");
        /* bullseye's systemd still holds resolved */
        if (strcmp(suite, "bullseye") && strcmp(suite, "oldoldstable"))
            fprintf(f, ",systemd-resolved");
        if (!o->kernel || strcmp(o->kernel, "none"))
            fprintf(f, ",initramfs-tools,%s", o->kernel ? o->kernel : "linux-image-cloud-amd64");
        if (o->ssh_key)
            fprintf(f, ",openssh-server");
        if (o->user)
            fprintf(f, ",sudo");
    }
    char p[256];
    for (const char *q = o->packages; q && (q = next_pkg(q, p, sizeof p));)
        fprintf(f, "%s%s", ftell(f) ? "," : "", p);
    if (ferror(f) | fclose(f)) {
        free(s);
        return vk_error(-ENOMEM, "out of memory");
    }
    *out = s;
    return 0;
}

/* A random version 4 UUID, as mke2fs would pick. */
static int random_uuid(char *out)
{
    uint8_t u[16];
    if (getrandom(u, sizeof u, 0) != sizeof u)
        return vk_error(-errno, "getrandom: %s", strerror(errno));
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
            u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
            u[14], u[15]);
    return 0;
}

struct files {
    char fstab[4200], script[4200], keys[4200], secret[4200];
};

/* The host files the hooks upload into the chroot (tmp is private). */
static int write_inputs(const struct vk_guest_opts *o, const char *tmp, const char *host,
                        const char *uuid, struct files *fl)
{
    char *text = NULL;
    int r = 0;
    snprintf(fl->fstab, sizeof fl->fstab, "%s/fstab", tmp);
    snprintf(fl->script, sizeof fl->script, "%s/customize", tmp);
    snprintf(fl->keys, sizeof fl->keys, "%s/keys", tmp);
    snprintf(fl->secret, sizeof fl->secret, "%s/secret", tmp);
    if (asprintf(&text, "# /etc/fstab written by vmkit guest build: the root by its UUID\n"
                        "UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n", uuid) < 0)
        return vk_error(-ENOMEM, "out of memory");
    r = vk_guest_write_file(fl->fstab, text, strlen(text), 0644);
    free(text);
    if (r == 0 && !(text = customize_script(o, host, o->ssh_key != NULL)))
        r = vk_error(-ENOMEM, "out of memory");
    if (r == 0) {
        r = vk_guest_write_file(fl->script, text, strlen(text), 0644);
        free(text);
    }
    if (r == 0 && o->ssh_key && (r = read_keys(o->ssh_key, &text)) == 0) {
        r = vk_guest_write_file(fl->keys, text, strlen(text), 0600);
        free(text);
    }
    if (r == 0 && o->root_password) {
        if (asprintf(&text, "root:%s\n", o->root_password) < 0)
            return vk_error(-ENOMEM, "out of memory");
        r = vk_guest_write_file(fl->secret, text, strlen(text), 0600);
        free(text);
    }
    return r;
}

static int mmdebstrap_argv(const struct vk_guest_opts *o, const char *suite, const char *cache,
                           const char *incl, const struct files *fl, struct argv *a)
{
    const char *mirror = o->mirror ? o->mirror : "http://deb.debian.org/debian";
    bool extract = o->variant && (!strcmp(o->variant, "extract") || !strcmp(o->variant, "custom"));
    int r = add(a, o->mmdebstrap ? o->mmdebstrap : "mmdebstrap");
    if (r == 0)
        r = addf(a, "--mode=%s", geteuid() == 0 ? "root" : "unshare");
    if (r == 0)
        r = addf(a, "--variant=%s", o->variant ? o->variant : "minbase");
    if (r == 0 && *incl)
        r = addf(a, "--include=%s", incl);
    if (r == 0)
        r = add(a, "--format=tar");
    /* no fsync per file: the result goes into a tarball anyway */
    if (r == 0)
        r = add(a, "--dpkgopt=force-unsafe-io");
    /* keep the .debs of the essential set for the cache */
    if (r == 0)
        r = add(a, "--skip=essential/unlink");
    if (r == 0)
        r = add(a, "--setup-hook=mkdir -p \"$1/var/cache/apt/archives\" \"$1/var/lib/apt/lists\"");
    if (r == 0)
        r = addf(a, "--setup-hook=sync-in %s/archives /var/cache/apt/archives", cache);
    if (r == 0)
        r = addf(a, "--setup-hook=sync-in %s/lists /var/lib/apt/lists", cache);
    /* fstab before the kernel: initramfs-tools reads the root's type there */
    if (r == 0)
        r = add(a, "--essential-hook=mkdir -p \"$1/etc\"");
    if (r == 0)
        r = addf(a, "--essential-hook=upload %s /etc/fstab", fl->fstab);
    if (r == 0)
        r = addf(a, "--customize-hook=sync-out /var/cache/apt/archives %s/archives", cache);
    if (r == 0)
        r = addf(a, "--customize-hook=sync-out /var/lib/apt/lists %s/lists", cache);
    if (r == 0 && extract && (r = add(a, "--customize-hook=mkdir -p \"$1/etc\"")) == 0)
        r = addf(a, "--customize-hook=upload %s /etc/fstab", fl->fstab);
    if (r == 0 && !extract) {
        if ((r = add(a, "--customize-hook=mkdir -p \"$1/tmp\"")) == 0)
            r = addf(a, "--customize-hook=upload %s /tmp/vmkit-customize", fl->script);
        if (r == 0 && o->ssh_key)
            r = addf(a, "--customize-hook=upload %s /tmp/vmkit-keys", fl->keys);
        if (r == 0 && o->root_password)
            r = addf(a, "--customize-hook=upload %s /tmp/vmkit-secret", fl->secret);
        if (r == 0)
            r = add(a, "--customize-hook=chroot \"$1\" /bin/sh /tmp/vmkit-customize");
    }
    if (r == 0)
        r = add(a, suite);
    if (r == 0)
        r = add(a, "-");
    if (r == 0)
        r = addf(a, "deb %s %s main", mirror, suite);
    if (r == 0 && in_list(released, suite) && !o->mirror)
        r = addf(a, "deb %s %s-updates main", mirror, suite);
    if (r == 0 && in_list(released, suite) && !o->mirror)
        r = addf(a, "deb http://security.debian.org/debian-security %s-security main", suite);
    return r;
}

/* ---- into the filesystem ---- */

static void progress_line(const char *line, void *ctx)
{
    const struct vk_guest_opts *o = ctx;
    /* mmdebstrap's own steps ("I: downloading packages with apt...") */
    if (!strncmp(line, "I: ", 3))
        vk_guest_say(o, "mmdebstrap: %s", line + 3);
}

static int write_fs_file(struct vk_fs *fs, const char *path, const char *text)
{
    struct vk_file *f;
    int r = vk_fs_open(fs, path, VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC, 0644, &f);
    if (r < 0)
        return r;
    int64_t n = vk_fs_write(f, text, strlen(text), 0);
    r = vk_fs_close_file(f);
    return n < 0 ? (int)n : r;
}

struct kfind {
    char ver[256];
};

static int kernel_cb(void *ctx, const struct vk_dirent *de)
{
    struct kfind *k = ctx;
    if (!strncmp(de->name, "vmlinuz-", 8) && strlen(de->name) < 200 &&
        (!k->ver[0] || strverscmp(de->name + 8, k->ver) > 0))
        snprintf(k->ver, sizeof k->ver, "%s", de->name + 8);
    return 0;
}

/* grub.cfg (read by pygrub and by GRUB) for the newest /boot/vmlinuz-VER. */
static int boot_config(const struct vk_guest_opts *o, struct vk_guest_disk *d, const char *uuid,
                       char **kver)
{
    struct kfind k = { .ver = "" };
    int r = vk_fs_readdir(d->fs, "/boot", kernel_cb, &k);
    if (r < 0)
        return r;
    if (!k.ver[0])
        return vk_error(-ENOENT, "%s:/boot: no vmlinuz-VERSION after installing %s", d->name,
                        o->kernel ? o->kernel : "linux-image-cloud-amd64");
    char cmdline[200], *cfg;
    snprintf(cmdline, sizeof cmdline, "root=UUID=%s ro console=tty0 console=ttyS0,115200", uuid);
    if (!(cfg = vk_guest_grubcfg(k.ver, cmdline)) || !(*kver = strdup(k.ver))) {
        free(cfg);
        return vk_error(-ENOMEM, "out of memory");
    }
    struct vk_stat st;
    if (vk_fs_stat(d->fs, "/boot/grub", &st, true) < 0) {
        vk_error_clear();
        r = vk_fs_mkdir(d->fs, "/boot/grub", 0755);
    }
    if (r == 0)
        r = write_fs_file(d->fs, "/boot/grub/grub.cfg", cfg);
    free(cfg);
    return r;
}

/* Pour mmdebstrap's tar stream into the filesystem.  The child's failure
 * explains an empty or cut stream better than the reader can; a failure
 * of ours (no space) stops it. */
static int pour(const struct vk_guest_opts *o, const char *shown, struct argv *a,
                struct vk_guest_disk *d)
{
    struct vk_child c = { .line = progress_line, .ctx = (void *)o };
    int r = vk_child_start(a->v, &c);
    if (r < 0)
        return r == -ENOENT ? vk_error(r, "%s; install the Debian package mmdebstrap "
                                       "(scripts/deps.sh)", vk_errmsg()) : r;
    struct vk_populate_opts po = { .fresh = true };
    /* The names are UTF-8 (pax headers); in the C locale libarchive warns
     * about each one it cannot convert (ca-certificates has some).  This
     * thread reads them as UTF-8, keeping the bytes as they are. */
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    locale_t before = utf8 ? uselocale(utf8) : (locale_t)0;
    int p = vk_populate_tar_fd(d->fs, "/", c.out, "mmdebstrap's tar stream", &po);
    if (utf8) {
        uselocale(before);
        freelocale(utf8);
    }
    char pmsg[1024];
    snprintf(pmsg, sizeof pmsg, "%s", vk_errmsg());
    int w = vk_child_finish(&c, p < 0);
    if (p < 0 && (c.killed || w == 0 || p == -ENOSPC)) {
        if (p == -ENOSPC)
            return vk_error(p, "%s: the Debian system does not fit in %llu MiB (%s); give a "
                            "larger --size", shown, (unsigned long long)(o->size >> 20), pmsg);
        return vk_error(p, "%s", pmsg);
    }
    return w;
}

/* Contract in guest_int.h. */
int vk_guest_build_debian(const struct vk_guest_opts *o, const char *shown, const char *tmp,
                          const char *host, char **kver)
{
    const char *suite = o->suite ? o->suite : "bookworm";
    char cache[4096], uuid[40];
    struct files fl;
    struct argv a = { .n = 0 };
    char *incl = NULL;
    int r = cache_dir(o, suite, cache, sizeof cache);
    if (r == 0 && strpbrk(tmp, " \t\n'\"\\"))
        r = vk_error(-EINVAL, "%s: TMPDIR holds blanks or quotes, which mmdebstrap's hooks "
                     "cannot take", tmp);
    if (r == 0)
        r = random_uuid(uuid);
    if (r == 0)
        r = write_inputs(o, tmp, host, uuid, &fl);
    if (r == 0)
        r = includes(o, suite, &incl);
    if (r == 0)
        r = mmdebstrap_argv(o, suite, cache, incl, &fl, &a);
    free(incl);
    struct vk_guest_disk d = { .fs = NULL };
    bool made = false;
    if (r == 0) {
        /* the disk first: a bad --size or format fails before the download */
        r = vk_guest_disk_make(o, shown, "debian-root", uuid, &d);
        made = r == 0;
    }
    if (r == 0) {
        vk_guest_say(o, "building Debian %s with mmdebstrap (%s mode; packages cached in %s)",
                     suite, geteuid() == 0 ? "root" : "unshare", cache);
        r = pour(o, shown, &a, &d);
    }
    bool kernel = !o->kernel || strcmp(o->kernel, "none");
    bool extract = o->variant && (!strcmp(o->variant, "extract") || !strcmp(o->variant, "custom"));
    if (r == 0 && kernel && !extract)
        r = boot_config(o, &d, uuid, kver);
    else if (r == 0 && !(*kver = strdup("none")))
        r = vk_error(-ENOMEM, "out of memory");
    int c = made ? vk_guest_disk_close(&d) : 0;
    if (r == 0)
        r = c;
    argv_free(&a);
    return r;
}
