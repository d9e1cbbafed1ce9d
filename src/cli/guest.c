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

static int guest_build(int argc, char **argv)
{
    static const struct option o[] = {
        { "kernel", required_argument, NULL, 'k' },
        { "size", required_argument, NULL, 's' },
        { "format", required_argument, NULL, 'f' },
        { "hostname", required_argument, NULL, 'n' },
        { "rootfs-dir", no_argument, NULL, 'r' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct vk_guest_opts g = { .progress = progress };
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
        case 'q': g.progress = NULL; break;
        case 'h':
            printf("usage: vmkit guest build [--kernel PKG|DEB|VMLINUZ] [--size SIZE] [-f raw|qcow2]\n"
                   "                         [--hostname NAME] [--rootfs-dir] [-q] OUT\n"
                   "Make a small bootable Linux disk OUT (MBR, one ext4 partition) from the\n"
                   "Debian cloud kernel and busybox-static (fetched with apt-get download and\n"
                   "cached in ~/.cache/vmkit/debs), and OUT.cfg, an xl.cfg that boots it\n"
                   "(vmkit create OUT.cfg).  The guest prints VMKIT-READY on ttyS0 and gives a\n"
                   "root shell there.  Default size 256M.  --kernel names a kernel package\n"
                   "(linux-image-amd64), a .deb or a vmlinuz.  --rootfs-dir: OUT is a new\n"
                   "directory holding the guest's root tree, and OUT.cfg boots its kernel with\n"
                   "the root on OUT shared over 9p (default kernel linux-image-amd64).\n");
            return EXIT_OK;
        default:
            return cli_usage("guest build", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("guest build", "need OUT, the image to create");
    g.out = argv[optind];
    char *kver = NULL;
    int r = vk_guest_build(&g, &kver);
    if (r < 0)
        return cli_fail(r);
    printf("%s: Linux %s, busybox; boot it with: vmkit create %s.cfg\n", g.out, kver, g.out);
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

static const struct cli_command guest_cmds[] = {
    { "build", guest_build, "make a small bootable Linux disk and its xl.cfg" },
    { "usbkey", guest_usbkey, "make a USB key image whose GRUB menu boots ISO files" },
    { "pygrub", guest_pygrub, "extract the kernel and initrd a disk boots, as Xen's pygrub" },
    { NULL, NULL, NULL },
};

int cmd_guest(int argc, char **argv)
{
    return cli_dispatch("guest", guest_cmds, argc, argv);
}
