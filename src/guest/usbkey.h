/* A multi-ISO USB key image (`vmkit guest usbkey`): an MBR disk with one
 * bootable FAT32 partition (label VMKIT-USB) holding the ISO files in
 * /isos and GRUB for BIOS (boot/grub_install.h) whose /boot/grub/grub.cfg
 * has one menu entry per ISO:
 *
 *     menuentry 'debian-live.iso: Live system' --id iso-1 {
 *         loopback loop /isos/debian-live.iso
 *         linux (loop)/live/vmlinuz boot=live quiet findiso=/isos/debian-live.iso
 *         initrd (loop)/live/initrd.img
 *     }
 *
 * The kernel, initrd and arguments are those of the ISO's own default
 * boot entry (boot/isomenu.h).  So that the booted system finds its ISO
 * on the key, the argument its initramfs reads is set to the ISO's path:
 *     findiso=PATH              live-boot (boot=live: Debian live)
 *     iso-scan/filename=PATH    casper (boot=casper: Ubuntu), dracut
 *                               (root=live:...: Fedora), debian-installer
 *                               and anything not recognised
 *     img_dev=/dev/disk/by-uuid/UUID img_loop=PATH   archiso
 * (a value the ISO's menu already gives, like live-build's
 * findiso=${iso_path}, is replaced; before a "---" separator, so
 * debian-installer does not copy it into the installed system).
 * All int functions return 0 or a negative errno after vk_error(). */
#ifndef VK_GUEST_USBKEY_H
#define VK_GUEST_USBKEY_H

#include "boot/isomenu.h"

#include <stdbool.h>
#include <stdint.h>

struct vk_usbkey_opts {
    const char *out;            /* the image to create (must not exist) */
    const char *format;         /* "raw" (NULL) or "qcow2" */
    uint64_t size;              /* 0: the ISOs plus room for GRUB and FAT */
    const char *const *isos;    /* host paths */
    unsigned n_isos;
    const char *append;         /* NULL or arguments added to every entry */
    int timeout;                /* menu seconds; < 0: wait; 0 means 10 unless timeout_set */
    bool timeout_set;
    void (*progress)(const char *msg, void *ctx);
    void *ctx;
};

/* Build the key.  Every ISO's menu is read before anything is created; an
 * ISO with no usable boot entry, two ISOs with the same file name or a
 * --size too small for them refuse the build.  On failure nothing is left
 * at o->out. */
int vk_usbkey_build(const struct vk_usbkey_opts *o);

/* One ISO on the key. */
struct vk_usbkey_iso {
    const char *file;           /* its path on the key, "/isos/a.iso" */
    const struct vk_isomenu *m; /* what it boots */
};

/* The text of the key's grub.cfg (malloc'd) for isos[0..n): uuid is the
 * FAT filesystem's (GRUB searches it), timeout as in the options.  Words
 * from the ISO menus are quoted for GRUB's script syntax; append must be
 * plain words (no quotes, $, ;, braces...). */
int vk_usbkey_config(const struct vk_usbkey_iso *isos, unsigned n, const char *uuid, int timeout,
                     const char *append, char **text);

#endif
