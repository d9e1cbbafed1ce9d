/* What an ISO image boots: its own boot menu (GRUB2 grub.cfg or an
 * isolinux/syslinux config with its INCLUDEs), read without running
 * anything, for a multi-ISO USB key (guest/usbkey.h) whose GRUB boots
 * the ISO's kernel through `loopback`.
 *
 * The ISO's files are read with libarchive's ISO 9660 reader (Rock Ridge,
 * Joliet, plain names); the menus go through the parsers of bootcfg.h.
 * Configs are tried in this order, the first with a usable entry wins:
 *     /boot/grub/grub.cfg /boot/grub2/grub.cfg /EFI/BOOT/grub.cfg
 *     /isolinux/isolinux.cfg /boot/isolinux/isolinux.cfg /isolinux.cfg
 *     /syslinux/syslinux.cfg /boot/syslinux/syslinux.cfg /syslinux.cfg
 * The entry is the menu's default (as the ISO boots unattended); when
 * that is not a Linux entry (a submenu, a .c32 module, memtest), the
 * first Linux entry.  Its kernel and initrds must be files of the ISO.
 *
 * Bounds: configs over VK_BOOTCFG_MAX bytes and include chains deeper
 * than 8 are refused; at most VK_ISOMENU_FILES files are indexed. */
#ifndef VK_BOOT_ISOMENU_H
#define VK_BOOT_ISOMENU_H

#include <stddef.h>

#define VK_ISOMENU_FILES 200000

struct vk_isomenu {
    char *config;   /* the config it came from, "/isolinux/isolinux.cfg" */
    char *title;    /* the entry's title */
    char *kernel;   /* absolute path inside the ISO, "/live/vmlinuz" */
    char *initrd;   /* absolute paths, newline-separated; NULL if none */
    char *args;     /* the entry's kernel arguments, initrd= removed ("" if none) */
};

/* Read the boot entry of the ISO at path (or, when path is NULL, of the
 * len bytes at mem: the fuzzer's way in).  name prefixes messages.
 * 0 and *out filled (free with vk_isomenu_free); -ENOENT with a message
 * naming the ISO and the configs looked at when no config has a Linux
 * entry whose files exist; -EINVAL when it is not a readable ISO. */
int vk_isomenu_read(const char *path, const void *mem, size_t len, const char *name,
                    struct vk_isomenu *out);

void vk_isomenu_free(struct vk_isomenu *m);

#endif
