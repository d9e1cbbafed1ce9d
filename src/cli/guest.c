/* vmkit guest: build a small bootable Linux disk; pygrub (look inside a
 * disk for the kernel it would boot and copy it out). */
#include "cli/cli.h"

#include "guest/guest.h"
#include "guest/usbkey.h"
#include "boot/pygrub.h"
#include "util/size.h"
#include "util/err.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int guest_pygrub(int argc, char **argv)
{
    static const struct option o[] = {
        { "entry", required_argument, NULL, 'e' },
        { "format", required_argument, NULL, 'f' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *fmt = NULL;
    char entry[1024] = "";
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "e:f:h", o, NULL)) != -1) {
        switch (c) {
        case 'e': snprintf(entry, sizeof entry, "--entry=%s", optarg); break;
        case 'f': fmt = optarg; break;
        case 'j': json = true; break;
        case 'h':
            printf("usage: vmkit guest pygrub [-f FORMAT] [--entry=N|TITLE] [--json] DISK OUTDIR\n"
                   "Find the boot configuration inside DISK (GRUB2, GRUB legacy, extlinux), as\n"
                   "Xen's pygrub does, and copy the kernel and initrd it boots to OUTDIR/kernel\n"
                   "and OUTDIR/initrd.  Nothing in the disk is executed.\n");
            return EXIT_OK;
        default:
            return cli_usage("guest pygrub", "unknown option");
        }
    }
    if (argc - optind != 2)
        return cli_usage("guest pygrub", "need DISK and OUTDIR");
    const char *args[] = { entry, NULL };
    struct vk_boot_result res;
    int r = vk_pygrub_extract(argv[optind], fmt, entry[0] ? args : NULL, argv[optind + 1], &res);
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

static void build_help(void)
{
    printf("usage: vmkit guest build [--distro busybox|debian[:SUITE]] [--size SIZE] [-f raw|qcow2]\n"
           "                         [--hostname NAME] [--bootloader grub|pygrub] [-q] OUT\n"
           "  debian:                [--packages A,B] [--root-password P] [--ssh-key FILE]\n"
           "                         [--user U] [--kernel PKG|none] [--variant V] [--mirror URL]\n"
           "  busybox:               [--kernel PKG|DEB|VMLINUZ] [--rootfs-dir]\n"
           "Make a bootable Linux disk OUT (MBR, one ext4 partition at 1 MiB) and OUT.cfg,\n"
           "an xl.cfg that boots it (vmkit create OUT.cfg).  OUT is built under a temporary\n"
           "name and appears only when complete.\n"
           "\n"
           "busybox (the default): the Debian cloud kernel and busybox-static (fetched with\n"
           "apt-get download, cached in ~/.cache/vmkit/debs); it prints VMKIT-READY on ttyS0\n"
           "and gives a root shell there.  Seconds to build and to boot.  Default size 256M.\n"
           "--kernel names a kernel package (linux-image-amd64), a .deb or a vmlinuz.\n"
           "--rootfs-dir: OUT is a new directory holding the guest's root tree, and OUT.cfg\n"
           "boots its kernel with the root on OUT shared over 9p (default kernel\n"
           "linux-image-amd64).\n"
           "\n"
           "debian[:SUITE] (SUITE: bookworm by default, bullseye, trixie, forky, sid, stable...):\n"
           "a full Debian system made by mmdebstrap (root mode as root, unshare mode\n"
           "otherwise; packages cached in ~/.cache/vmkit/debian): systemd, apt, the kernel\n"
           "package (linux-image-cloud-amd64) with an initramfs from its initramfs-tools,\n"
           "DHCP on every NIC (systemd-networkd), a login prompt on ttyS0, fstab by UUID.\n"
           "--ssh-key FILE installs those public keys for root (or --user) and openssh-server;\n"
           "--user U makes an account with passwordless sudo.  Without --root-password, root\n"
           "has no password on the console unless a key is given (then it is locked).\n"
           "--variant: mmdebstrap's (default minbase).  Default size 2G (sparse).\n"
           "\n"
           "--bootloader grub (Debian's default where this vmkit installs GRUB) puts\n"
           "GRUB into the MBR: the disk boots in any PC or hypervisor, and OUT.cfg boots\n"
           "it with boot=\"c\".  pygrub (busybox's default) leaves the MBR empty, and\n"
           "OUT.cfg says bootloader=\"pygrub\".  Both read the same /boot/grub/grub.cfg.\n");
}

static int guest_build(int argc, char **argv)
{
    static const struct option o[] = {
        { "kernel", required_argument, NULL, 'k' },
        { "size", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'f' },
        { "hostname", required_argument, NULL, 'n' },
        { "distro", required_argument, NULL, 'd' },
        { "packages", required_argument, NULL, 'p' },
        { "root-password", required_argument, NULL, 'P' },
        { "ssh-key", required_argument, NULL, 'K' },
        { "user", required_argument, NULL, 'u' },
        { "bootloader", required_argument, NULL, 'b' },
        { "variant", required_argument, NULL, 'V' },
        { "mirror", required_argument, NULL, 'm' },
        { "rootfs-dir", no_argument, NULL, 'r' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct vk_guest_opts g = { .progress = progress };
    char distro[64] = "";
    const char *debian_only = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "k:s:f:qh", o, NULL)) != -1) {
        switch (c) {
        case 'k': g.kernel = optarg; break;
        case 's':
            if (vk_parse_size(optarg, &g.size) < 0)
                return cli_usage("guest build", "bad size '%s'", optarg);
            break;
        case 'f':
            if (strcmp(optarg, "raw") && strcmp(optarg, "qcow2"))
                return cli_usage("guest build", "format must be raw or qcow2, not '%s'", optarg);
            g.format = optarg;
            break;
        case 'n': g.hostname = optarg; break;
        case 'r': g.rootfs_dir = 1; break;
        case 'd':
            if (strlen(optarg) >= sizeof distro)
                return cli_usage("guest build", "--distro '%s' unknown: busybox or debian[:SUITE]", optarg);
            snprintf(distro, sizeof distro, "%s", optarg);
            break;
        case 'p': g.packages = optarg; debian_only = "--packages"; break;
        case 'P': g.root_password = optarg; debian_only = "--root-password"; break;
        case 'K': g.ssh_key = optarg; debian_only = "--ssh-key"; break;
        case 'u': g.user = optarg; debian_only = "--user"; break;
        case 'V': g.variant = optarg; debian_only = "--variant"; break;
        case 'm': g.mirror = optarg; debian_only = "--mirror"; break;
        case 'b':
            if (strcmp(optarg, "grub") && strcmp(optarg, "pygrub"))
                return cli_usage("guest build", "--bootloader must be grub or pygrub, not '%s'", optarg);
            g.bootloader = optarg;
            break;
        case 'q': g.progress = NULL; break;
        case 'h': build_help(); return EXIT_OK;
        default:
            return cli_usage("guest build", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("guest build", "need OUT, the image to create");
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
    g.out = argv[optind];
    char *kver = NULL;
    int r = vk_guest_build(&g, &kver);
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

static int guest_usbkey(int argc, char **argv)
{
    static const struct option o[] = {
        { "iso", required_argument, NULL, 'i' },
        { "size", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'f' },
        { "append", required_argument, NULL, 'a' },
        { "timeout", required_argument, NULL, 't' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct vk_usbkey_opts k = { .progress = progress };
    const char **isos = calloc((size_t)argc + 1, sizeof *isos);
    if (!isos)
        return cli_fail(vk_error(-ENOMEM, "out of memory"));
    int c, ret = -1;
    while (ret < 0 && (c = getopt_long(argc, argv, "i:s:f:qh", o, NULL)) != -1) {
        char *end;
        long v;
        switch (c) {
        case 'i': isos[k.n_isos++] = optarg; break;
        case 's':
            if (vk_parse_size(optarg, &k.size) < 0)
                ret = cli_usage("guest usbkey", "bad size '%s'", optarg);
            break;
        case 'f':
            if (strcmp(optarg, "raw") && strcmp(optarg, "qcow2"))
                ret = cli_usage("guest usbkey", "format must be raw or qcow2, not '%s'", optarg);
            k.format = optarg;
            break;
        case 'a': k.append = optarg; break;
        case 't':
            v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < -1 || v > 3600)
                ret = cli_usage("guest usbkey", "--timeout %s: seconds, -1 to wait", optarg);
            k.timeout = (int)v;
            k.timeout_set = true;
            break;
        case 'q': k.progress = NULL; break;
        case 'h':
            printf("usage: vmkit guest usbkey [--size SIZE] [-f raw|qcow2] [--append ARGS]\n"
                   "                          [--timeout S] [-q] OUT --iso A.iso [--iso B.iso ...]\n"
                   "Make OUT, a USB key image that boots ISO files: MBR, one bootable FAT32\n"
                   "partition (label VMKIT-USB) with the ISOs in /isos and GRUB for BIOS, whose\n"
                   "menu has one entry per ISO booting, by loopback, the kernel and initrd of\n"
                   "the ISO's own default boot entry with its arguments, plus the one that\n"
                   "tells its initramfs where the ISO is (findiso= for live-boot,\n"
                   "iso-scan/filename= for debian-installer, casper and dracut).  Write it to\n"
                   "a stick with dd, or boot it: disk = [ 'format=raw, vdev=hda, target=OUT' ]\n"
                   "with boot = \"c\".  Default size: the ISOs plus 48M.  --append adds\n"
                   "kernel arguments to every entry; --timeout is the menu's (default 10 s).\n");
            ret = EXIT_OK;
            break;
        default:
            ret = cli_usage("guest usbkey", "unknown option");
        }
    }
    if (ret < 0 && argc - optind != 1)
        ret = cli_usage("guest usbkey", "need OUT, the image to create");
    if (ret < 0 && !k.n_isos)
        ret = cli_usage("guest usbkey", "need at least one --iso FILE");
    if (ret < 0) {
        k.out = argv[optind];
        k.isos = isos;
        int r = vk_usbkey_build(&k);
        if (r < 0)
            ret = cli_fail(r);
        else {
            printf("%s: %u ISO(s) behind GRUB's menu\n", k.out, k.n_isos);
            ret = EXIT_OK;
        }
    }
    free(isos);
    return ret;
}

static int guest_seed(int argc, char **argv)
{
    static const struct option o[] = {
        { "user-data", required_argument, NULL, 'u' },
        { "meta-data", required_argument, NULL, 'm' },
        { "network-config", required_argument, NULL, 'n' },
        { "hostname", required_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct vk_guest_seed_opts s = { .out = NULL };
    int c;
    while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
        switch (c) {
        case 'u': s.user_data = optarg; break;
        case 'm': s.meta_data = optarg; break;
        case 'n': s.network_config = optarg; break;
        case 'H': s.hostname = optarg; break;
        case 'h':
            printf("usage: vmkit guest seed --user-data FILE [--meta-data FILE]\n"
                   "                        [--network-config FILE] [--hostname H] OUT.iso\n"
                   "Make a cloud-init NoCloud seed: an ISO 9660 image labelled cidata holding\n"
                   "user-data, meta-data and network-config.  Attach it as a CD-ROM to a\n"
                   "cloud image (Debian, Ubuntu, Fedora) and cloud-init applies it at first\n"
                   "boot.  Without --meta-data: a fresh instance-id and local-hostname H\n"
                   "(default: OUT's name).\n");
            return EXIT_OK;
        default:
            return cli_usage("guest seed", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("guest seed", "need OUT.iso, the seed to create");
    if (!s.user_data)
        return cli_usage("guest seed", "--user-data FILE is required");
    if (s.meta_data && s.hostname)
        return cli_usage("guest seed", "--hostname goes into a generated meta-data: not with --meta-data");
    s.out = argv[optind];
    int r = vk_guest_seed(&s);
    if (r < 0)
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
