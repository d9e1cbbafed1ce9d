/* Running an operating system's installer in a VM: virt-install's job.
 *
 * --location (an installer ISO or its tree as a directory): the
 * installer's kernel and initrd are found by reading the medium's own boot
 * menus (isolinux/syslinux/pxelinux configs with their includes, GRUB's
 * grub.cfg) through boot/bootcfg.h, else in the layouts Debian
 * (install.amd), Ubuntu (casper), Fedora (images/pxeboot) and Debian's
 * netboot tree (debian-installer/amd64) use; copied out; files injected
 * into the initrd as virt-install's --initrd-inject does (a gzip'd newc
 * cpio appended: concatenated initramfs archives are one to the kernel);
 * and booted directly with the console on the serial port.  --cdrom boots
 * an ISO through the BIOS instead.
 *
 * The install runs as a transient VM made from the domain's config with
 * only the boot changed, and every on_* action "preserve", so its end is
 * seen and told apart: a power-off or a reboot ends the install, a crash
 * fails it.  The domain's own config is never changed: its next start
 * boots the installed disk as it always would.
 *
 * All int functions return 0 or a negative errno after vk_error().
 */
#ifndef VK_GUEST_INSTALL_H
#define VK_GUEST_INSTALL_H

#include "vm/config.h"

#include <stddef.h>

#define VK_INSTALL_FILE_MAX (1ull << 30)   /* a kernel or initrd larger is refused */

/* Where an installer's kernel and initrd are inside a medium. */
struct vk_install_media {
    char *kernel;       /* path inside the medium ("/install.amd/vmlinuz") */
    char *initrd;       /* path(s) inside it, newline-separated when the menu
                         * names several (they are concatenated, as GRUB does) */
    char *found_by;     /* "/isolinux/isolinux.cfg: label install" or
                         * "the Debian layout (install.amd)" */
    int iso;            /* the medium is an image file (ISO), not a directory */
};

/* Find the installer in location (an ISO 9660 image, or a directory
 * holding an installer tree).  The boot menus come first (the text
 * installer preferred: an entry labelled "install", then the menu's
 * default, then the first entry that is not a graphical, expert, rescue or
 * speech entry, whose kernel and initrd both exist); then the known
 * layouts.  -ENOENT "LOCATION: no installer kernel found: ..." when
 * nothing fits; -EINVAL when location is neither a directory nor a
 * filesystem image vmkit reads.  Free *m with vk_install_media_free. */
int vk_install_find(const char *location, struct vk_install_media *m);
void vk_install_media_free(struct vk_install_media *m);

/* Copy m's kernel and initrd (the initrds concatenated) out of location
 * into the host files kernel and initrd (created, mode 0600).  Files over
 * VK_INSTALL_FILE_MAX are refused. */
int vk_install_extract(const char *location, const struct vk_install_media *m,
                       const char *kernel, const char *initrd);

/* What `vmkit install` was asked to do. */
struct vk_install_opts {
    const char *location;       /* --location ISO|DIR, or NULL */
    const char *cdrom;          /* --cdrom ISO (BIOS boot), or NULL */
    const char *preseed;        /* --preseed FILE: /preseed.cfg in the initrd */
    const char *const *inject;  /* --initrd-inject FILE...: /BASENAME */
    size_t n_inject;
    const char *extra_args;     /* --extra-args: the kernel command line */
    const char *floppy;         /* --floppy FILE: attached as fda */
};

/* Turn c (a checked domain config) into the install run's config, with the
 * installer's files in workdir (an existing private directory):
 *  --location: kernel, ramdisk = the installer's (initrd with the injected
 *    files), cmdline = "console=ttyS0" (unless --extra-args has a
 *    console=) and --extra-args, as virt-install adds nothing of its own;
 *    pygrub and boot= dropped; an ISO also goes into a free IDE cdrom
 *    drive (the config's empty one if it has one), as virt-install
 *    attaches it, for installers that read packages from their CD.
 *  --cdrom: the ISO in a cdrom drive, BIOS boot with boot = "dc", no
 *    kernel.
 *  --floppy: the image as fda.  When the command line names a file on it
 *    (preseed/file=/floppy/F or file=/floppy/F, the lab's flow), that
 *    file is read from the floppy's FAT filesystem and goes into the
 *    initrd as /preseed.cfg, and the argument is dropped: the Debian
 *    installer has no floppy driver (see README), but reads /preseed.cfg
 *    first thing.  *note (may be NULL) gets a malloc'd line saying so.
 *  on_poweroff, on_reboot, on_crash = "preserve", so the end is seen.
 * *found (may be NULL) gets a malloc'd line naming the kernel and initrd
 * and how they were found (--location only; else NULL).  Returns 0, or
 * an error naming the location, preseed or floppy file. */
int vk_install_prepare(struct vk_domcfg *c, const struct vk_install_opts *o,
                       const char *workdir, char **found, char **note);

enum vk_install_end {
    VK_INSTALL_DONE,      /* the installer powered off or rebooted */
    VK_INSTALL_CRASHED,   /* the guest panicked or QEMU died */
    VK_INSTALL_TIMEOUT,   /* still running after the timeout: destroyed */
    VK_INSTALL_GONE,      /* destroyed by someone else (vmkit destroy) */
    VK_INSTALL_STOPPED,   /* *stop became nonzero: destroyed */
};

/* Wait for the install VM name to end (timeout_ms <= 0: no limit; stop,
 * if not NULL, is polled: a signal handler sets it), copy its console log
 * to log (a host file, may be NULL) and destroy what is left of it.
 * *tail (may be NULL) gets the console's last lines (malloc'd).  Returns 0
 * with *end set, or a negative errno. */
int vk_install_wait(const char *name, int timeout_ms, const volatile int *stop,
                    const char *log, enum vk_install_end *end, char **tail);

#endif
