/* pygrub: find the kernel a disk image would boot, without running it.
 *
 * As Xen's pygrub does: look at the partition table (MBR or GPT; the
 * active/bootable partition first, then the others in number order) or,
 * when there is none, the bare filesystem of the whole disk.  On each
 * filesystem, the first of Xen's pygrub's list, in its order:
 *     /boot/grub/grub.cfg /grub/grub.cfg /boot/grub2/grub.cfg /grub2/grub.cfg
 *     /boot/isolinux/isolinux.cfg /boot/extlinux/extlinux.conf
 *     /boot/extlinux.conf /extlinux/extlinux.conf /extlinux.conf
 *     /boot/grub/menu.lst /boot/grub/grub.conf /grub/menu.lst /grub/grub.conf
 * (the paths without "/boot" are a separate /boot partition, whose kernel
 * paths like "/vmlinuz-6.1" are relative to that partition) is parsed —
 * never executed — by the matching reader in bootcfg.h, with the grubenv
 * (GRUB2) or `default` file (GRUB legacy) next to it and, for GRUB2, the
 * BLS entries in loader/entries beside its grub directory.  Warnings of
 * the reader (a default that names no entry) reach vk_warn().  The
 * selected entry's kernel and initrd are copied out through vmkit's fs
 * layer (mounted read-only) into outdir.
 *
 * Bounds: configuration files larger than VK_BOOTCFG_MAX or holding NUL
 * bytes are refused; kernels and initrds larger than VK_PYGRUB_FILE_MAX
 * are refused.  Paths are resolved inside the filesystem (".." clamps at
 * its root), so nothing outside the guest disk is ever read.
 */
#ifndef VK_BOOT_PYGRUB_H
#define VK_BOOT_PYGRUB_H

#include <stdint.h>

#define VK_PYGRUB_FILE_MAX (512ull << 20)

struct vk_boot_result {
    char *kernel;    /* host path of the extracted kernel (in outdir) */
    char *initrd;    /* host path of the extracted initrd, NULL if none */
    char *cmdline;   /* the entry's kernel arguments ("" if none) */
    char *title;     /* the entry's title */
    char *config;    /* where the config was found, "disk.img:1:/boot/grub/grub.cfg" */
    unsigned part;   /* partition number it came from, 0 for a bare filesystem */
};

/* Extract the boot entry of the disk image at disk_path into outdir
 * (created 0700 with its parents when missing, as Xen's pygrub does;
 * files "kernel" and "initrd" are created there, mode 0600).
 *
 * format: image format ("raw", "qcow2") or NULL to probe.
 * bootloader_args: NULL or a NULL-terminated list as in xl.cfg's
 *   bootloader_args; "--entry=N" (0-based, "1>2" for submenu entries) or
 *   "--entry=TITLE" selects an entry other than the config's default.
 *   "-q"/"--quiet" and unknown "--" options of Xen's pygrub are ignored.
 *
 * Returns 0 and fills *out (free with vk_boot_result_free), or a negative
 * errno with a message naming the disk, the partition, the config file or
 * the kernel path ("web.qcow2:1:/boot/vmlinuz-6.1: no such file"). */
int vk_pygrub_extract(const char *disk_path, const char *format,
                      const char *const *bootloader_args, const char *outdir,
                      struct vk_boot_result *out);

void vk_boot_result_free(struct vk_boot_result *r);

#endif
