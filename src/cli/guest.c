/* vmkit guest: build a small bootable Linux disk; pygrub (look inside a
 * disk for the kernel it would boot and copy it out). */
#include "cli/cli.h"
#include "cli/opt.h"

#include "guest/guest.h"
#include "guest/usbkey.h"
#include "boot/pygrub.h"
#include "util/size.h"
#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --entry=N|TITLE: kept as pygrub's own argument (ctx: a char[1024]). */
static int entry_opt(const struct cli_opt *o, const char *arg)
{
    if (snprintf(o->ctx, 1024, "--entry=%s", arg) >= 1024)
        return vk_error(-EINVAL, "--entry: too long");
    return 0;
}

static int guest_pygrub(int argc, char **argv)
{
    const char *fmt = NULL;
    char entry[1024] = "";
    bool json = false;
    const struct cli_opt opts[] = {
        OPT_STRING('f', "format", &fmt, "FMT", "the disk's image format (default: probe)"),
        OPT_CALLBACK('e', "entry", entry, "N|TITLE", "the menu entry to boot (default: the menu's)", entry_opt),
        OPT_BOOL(0, "json", &json, "print JSON"),
        OPT_END(),
    };
    static const struct cli_spec spec = { "guest pygrub", "DISK OUTDIR",
        "Find the boot configuration inside DISK (GRUB2, GRUB legacy, extlinux, BLS),\n"
        "as Xen's pygrub does, and copy the kernel and initrd it boots to\n"
        "OUTDIR/kernel and OUTDIR/initrd.  Nothing in the disk is executed.", 2, 2 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    const char *args[] = { entry, NULL };
    struct vk_boot_result res;
    r = vk_pygrub_extract(a.v[0], fmt, entry[0] ? args : NULL, a.v[1], &res);
    if (r < 0)
        return cli_fail(r);
    if (json) {
        json_t *j = json_pack("{s:s, s:s?, s:s, s:s, s:s, s:i}", "kernel", res.kernel,
                              "initrd", res.initrd, "cmdline", res.cmdline, "title", res.title,
                              "config", res.config, "partition", (int)res.part);
        vk_boot_result_free(&res);
        return cli_print_json(j);
    }
    printf("config:  %s\ntitle:   %s\nkernel:  %s\ninitrd:  %s\ncmdline: %s\n", res.config,
           res.title, res.kernel, res.initrd ? res.initrd : "(none)", res.cmdline);
    vk_boot_result_free(&res);
    return EXIT_OK;
}


static void progress(const char *msg, void *ctx)
{
    fprintf(stderr, "vmkit: %s\n", msg);
}

/* -f raw|qcow2 (ctx: the const char * to set). */
static int raw_or_qcow2(const struct cli_opt *o, const char *arg)
{
    if (strcmp(arg, "raw") && strcmp(arg, "qcow2"))
        return vk_error(-EINVAL, "format must be raw or qcow2, not '%s'", arg);
    *(const char **)o->ctx = arg;
    return 0;
}

/* --bootloader grub|pygrub. */
static int bootloader_opt(const struct cli_opt *o, const char *arg)
{
    if (strcmp(arg, "grub") && strcmp(arg, "pygrub"))
        return vk_error(-EINVAL, "--bootloader must be grub or pygrub, not '%s'", arg);
    *(const char **)o->ctx = arg;
    return 0;
}

/* -q: no progress lines. */
static int quiet_opt(const struct cli_opt *o, const char *arg)
{
    *(void (**)(const char *, void *))o->ctx = NULL;
    return 0;
}

#define BUILD_HELP \
    "Make a bootable Linux disk OUT (MBR, one ext4 partition at 1 MiB) and OUT.cfg,\n" \
    "an xl.cfg that boots it (vmkit create OUT.cfg).  OUT is built under a temporary\n" \
    "name and appears only when complete.\n" \
    "\n" \
    "busybox (the default): the Debian cloud kernel and busybox-static (fetched with\n" \
    "apt-get download, cached in ~/.cache/vmkit/debs); it prints VMKIT-READY on ttyS0\n" \
    "and gives a root shell there.  Seconds to build and to boot.  Default size 256M.\n" \
    "\n" \
    "debian[:SUITE] (SUITE: bookworm by default, bullseye, trixie, forky, sid, stable...):\n" \
    "a full Debian system made by mmdebstrap (root mode as root, unshare mode\n" \
    "otherwise; packages cached in ~/.cache/vmkit/debian): systemd, apt, the kernel\n" \
    "package (linux-image-cloud-amd64) with an initramfs from its initramfs-tools,\n" \
    "DHCP on every NIC (systemd-networkd), a login prompt on ttyS0, fstab by UUID.\n" \
    "Without --root-password, root has no password on the console unless a key is\n" \
    "given (then it is locked).  Default size 2G (sparse).\n" \
    "\n" \
    "--bootloader grub (Debian's default) puts GRUB into the MBR: the disk boots in\n" \
    "any PC or hypervisor, and OUT.cfg boots it with boot=\"c\".  pygrub (busybox's\n" \
    "default) leaves the MBR empty, and OUT.cfg says bootloader=\"pygrub\".  Both read\n" \
    "the same /boot/grub/grub.cfg."

static int guest_build(int argc, char **argv)
{
    struct vk_guest_opts g = { .progress = progress };
    const char *distro_arg = "";
    bool rootfs_dir = false;
    const struct cli_opt opts[] = {
        OPT_STRING(0, "distro", &distro_arg, "busybox|debian[:SUITE]", "what to build (default: busybox)"),
        OPT_SIZE('s', "size", &g.size, "SIZE", "the disk's size"),
        OPT_CALLBACK('f', "format", &g.format, "raw|qcow2", "the image format (default: raw)", raw_or_qcow2),
        OPT_STRING(0, "hostname", &g.hostname, "NAME", "the guest's host name"),
        OPT_CALLBACK(0, "bootloader", &g.bootloader, "grub|pygrub", "GRUB in the MBR, or none (pygrub reads the disk)",
                     bootloader_opt),
        OPT_STRING('k', "kernel", &g.kernel, "PKG|DEB|VMLINUZ", "the kernel (debian: a package, or none)"),
        OPT_BOOL(0, "rootfs-dir", &rootfs_dir, "busybox: OUT is a directory, the root shared over 9p"),
        OPT_STRING(0, "packages", &g.packages, "A,B", "debian: more packages"),
        OPT_STRING(0, "root-password", &g.root_password, "P", "debian: root's password"),
        OPT_STRING(0, "ssh-key", &g.ssh_key, "FILE", "debian: public keys for root (or --user), and openssh-server"),
        OPT_STRING(0, "user", &g.user, "U", "debian: an account with passwordless sudo"),
        OPT_STRING(0, "variant", &g.variant, "V", "debian: mmdebstrap's variant (default minbase)"),
        OPT_STRING(0, "mirror", &g.mirror, "URL", "debian: the package mirror"),
        OPT_CALLBACK('q', "quiet", &g.progress, NULL, "print nothing but errors", quiet_opt),
        OPT_END(),
    };
    static const struct cli_spec spec = { "guest build", "OUT", BUILD_HELP, 0, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (a.n != 1)
        return cli_usage("guest build", "need OUT, the image to create");
    g.rootfs_dir = rootfs_dir;
    const char *debian_only = g.packages ? "--packages" : g.root_password ? "--root-password" :
                              g.ssh_key ? "--ssh-key" : g.user ? "--user" :
                              g.variant ? "--variant" : g.mirror ? "--mirror" : NULL;
    char distro[64];
    if (strlen(distro_arg) >= sizeof distro)
        return cli_usage("guest build", "--distro '%s' unknown: busybox or debian[:SUITE]", distro_arg);
    snprintf(distro, sizeof distro, "%s", distro_arg);
    char *colon = strchr(distro, ':');
    if (colon) {
        *colon = '\0';
        g.suite = colon + 1;
    }
    if (distro[0] && strcmp(distro, "busybox") && strcmp(distro, "debian"))
        return cli_usage("guest build", "--distro '%s' unknown: busybox or debian[:SUITE]", distro);
    if (g.suite && strcmp(distro, "debian"))
        return cli_usage("guest build", "--distro %s takes no suite", distro);
    if (g.suite && !*g.suite)
        return cli_usage("guest build", "--distro debian: empty suite after ':'");
    bool debian = !strcmp(distro, "debian");
    if (debian_only && !debian)
        return cli_usage("guest build", "%s is for Debian guests: add --distro debian", debian_only);
    g.distro = distro[0] ? distro : NULL;
    g.out = a.v[0];
    char *kver = NULL;
    r = vk_guest_build(&g, &kver);
    if (r < 0)
        return cli_fail(r);
    if (!debian)
        printf("%s: Linux %s, busybox; boot it with: vmkit create %s.cfg\n", g.out, kver, g.out);
    else if (!strcmp(kver, "none"))
        printf("%s: Debian %s without a kernel\n", g.out, g.suite ? g.suite : "bookworm");
    else
        printf("%s: Debian %s, Linux %s; boot it with: vmkit create %s.cfg\n", g.out,
               g.suite ? g.suite : "bookworm", kver, g.out);
    free(kver);
    return EXIT_OK;
}

/* --timeout S: -1 (wait) .. 3600 seconds. */
static int menu_timeout_opt(const struct cli_opt *o, const char *arg)
{
    struct vk_usbkey_opts *k = o->ctx;
    char *end;
    long v = strtol(arg, &end, 10);
    if (!*arg || *end || v < -1 || v > 3600)
        return vk_error(-EINVAL, "--timeout %s: seconds, -1 to wait", arg);
    k->timeout = (int)v;
    k->timeout_set = true;
    return 0;
}

static int guest_usbkey(int argc, char **argv)
{
    struct vk_usbkey_opts k = { .progress = progress };
    struct cli_list isos = { 0 };
    const struct cli_opt opts[] = {
        OPT_LIST('i', "iso", &isos, "FILE", "an ISO to put on the key (repeatable)"),
        OPT_SIZE('s', "size", &k.size, "SIZE", "the key's size (default: the ISOs plus 48M)"),
        OPT_CALLBACK('f', "format", &k.format, "raw|qcow2", "the image format (default: raw)", raw_or_qcow2),
        OPT_STRING(0, "append", &k.append, "ARGS", "kernel arguments added to every entry"),
        OPT_CALLBACK(0, "timeout", &k, "S", "the menu's timeout (default 10; -1: wait)", menu_timeout_opt),
        OPT_CALLBACK('q', "quiet", &k.progress, NULL, "print nothing but errors", quiet_opt),
        OPT_END(),
    };
    static const struct cli_spec spec = { "guest usbkey", "OUT --iso A.iso [--iso B.iso ...]",
        "Make OUT, a USB key image that boots ISO files: MBR, one bootable FAT32\n"
        "partition (label VMKIT-USB) with the ISOs in /isos and GRUB for BIOS, whose\n"
        "menu has one entry per ISO booting, by loopback, the kernel and initrd of\n"
        "the ISO's own default boot entry with its arguments, plus the one that\n"
        "tells its initramfs where the ISO is (findiso= for live-boot,\n"
        "iso-scan/filename= for debian-installer, casper and dracut).  Write it to\n"
        "a stick with dd, or boot it: disk = [ 'format=raw, vdev=hda, target=OUT' ]\n"
        "with boot = \"c\".", 0, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r == CLI_PARSED && a.n != 1)
        r = cli_usage("guest usbkey", "need OUT, the image to create");
    else if (r == CLI_PARSED && !isos.n)
        r = cli_usage("guest usbkey", "need at least one --iso FILE");
    else if (r == CLI_PARSED) {
        k.out = a.v[0];
        k.isos = isos.v;
        k.n_isos = (unsigned)isos.n;
        if ((r = vk_usbkey_build(&k)) < 0)
            r = cli_fail(r);
        else {
            printf("%s: %u ISO(s) behind GRUB's menu\n", k.out, k.n_isos);
            r = EXIT_OK;
        }
    }
    cli_list_free(&isos);
    return r;
}

static int guest_seed(int argc, char **argv)
{
    struct vk_guest_seed_opts s = { .out = NULL };
    const struct cli_opt opts[] = {
        OPT_STRING(0, "user-data", &s.user_data, "FILE", "cloud-init user-data (required)"),
        OPT_STRING(0, "meta-data", &s.meta_data, "FILE", "meta-data (default: a fresh instance-id)"),
        OPT_STRING(0, "network-config", &s.network_config, "FILE", "network-config"),
        OPT_STRING(0, "hostname", &s.hostname, "H", "local-hostname of a generated meta-data (default: OUT's name)"),
        OPT_END(),
    };
    static const struct cli_spec spec = { "guest seed", "OUT.iso",
        "Make a cloud-init NoCloud seed: an ISO 9660 image labelled cidata holding\n"
        "user-data, meta-data and network-config.  Attach it as a CD-ROM to a\n"
        "cloud image (Debian, Ubuntu, Fedora) and cloud-init applies it at first\n"
        "boot.", 0, 1 };
    struct cli_args a;
    int r = cli_parse(&spec, opts, argc, argv, &a);
    if (r != CLI_PARSED)
        return r;
    if (a.n != 1)
        return cli_usage("guest seed", "need OUT.iso, the seed to create");
    if (!s.user_data)
        return cli_usage("guest seed", "--user-data FILE is required");
    if (s.meta_data && s.hostname)
        return cli_usage("guest seed", "--hostname goes into a generated meta-data: not with --meta-data");
    s.out = a.v[0];
    if ((r = vk_guest_seed(&s)) < 0)
        return cli_fail(r);
    printf("%s: cloud-init NoCloud seed (volume id cidata)\n", s.out);
    return EXIT_OK;
}

static const struct cli_command guest_cmds[] = {
    { "build", guest_build, "make a small bootable Linux disk and its xl.cfg" },
    { "usbkey", guest_usbkey, "make a USB key image whose GRUB menu boots ISO files" },
    { "pygrub", guest_pygrub, "extract the kernel and initrd a disk boots, as Xen's pygrub" },
    { "seed", guest_seed, "make a cloud-init NoCloud seed ISO (volume id cidata)" },
    { NULL, NULL, NULL },
};

int cmd_guest(int argc, char **argv)
{
    return cli_dispatch("guest", guest_cmds, argc, argv);
}
