/* Building a small bootable Linux guest disk from Debian packages, and the
 * helpers it needs (package fetching, running tools, the initramfs).
 *
 * All int functions return 0 or a negative errno after vk_error(). */
#ifndef VK_GUEST_GUEST_H
#define VK_GUEST_GUEST_H

#include "util/run.h"

#include <stddef.h>
#include <stdint.h>

struct vk_guest_opts {
    const char *out;        /* image to create (must not exist) */
    const char *format;     /* "raw" (default) or "qcow2" */
    uint64_t size;          /* bytes; 0: 256 MiB (busybox), 2 GiB (debian) */
    const char *kernel;     /* busybox: NULL: the Debian cloud kernel (the
                               generic one, linux-image-amd64, for rootfs_dir:
                               the cloud kernel has no 9p); a package name
                               "linux-image-..."; a .deb; or a vmlinuz file
                               (its drivers must then be built in).
                               debian: the kernel package (NULL:
                               linux-image-cloud-amd64), "none" for no kernel */
    int rootfs_dir;         /* busybox only: out is a directory, the guest's
                               root filesystem shared over 9p (no disk image) */
    const char *hostname;   /* NULL: from OUT's name */
    const char *cachedir;   /* NULL: $XDG_CACHE_HOME/vmkit or ~/.cache/vmkit */
    /* progress lines ("fetching linux-image-cloud-amd64"), may be NULL;
     * the Debian build calls it from a second thread (mmdebstrap's lines) */
    void (*progress)(const char *msg, void *ctx);
    void *ctx;
    const char *distro;     /* NULL or "busybox": the small busybox guest;
                               "debian": a full Debian system (mmdebstrap) */
    const char *bootloader; /* "grub" (GRUB in the MBR, BIOS boot) or "pygrub";
                               NULL: pygrub for busybox; for debian grub
                               where this vmkit has it */
    /* debian only: */
    const char *suite;      /* NULL: bookworm */
    const char *variant;    /* mmdebstrap's --variant; NULL: minbase */
    const char *packages;   /* more packages, comma- or space-separated */
    const char *root_password;  /* NULL: none on the console (no ssh key),
                                   locked (ssh key) */
    const char *ssh_key;    /* file of public keys for root (or user) */
    const char *user;       /* an account with passwordless sudo */
    const char *mirror;     /* NULL: http://deb.debian.org/debian */
    const char *mmdebstrap; /* the program; NULL: mmdebstrap from PATH */
};

/* Make opts->out and OUT.cfg, an xl.cfg that boots it (bootloader =
 * "pygrub", or boot = "c" with GRUB in the MBR).  The disk has an MBR
 * with one bootable ext4 partition at 1 MiB.
 *
 * busybox: /boot/vmlinuz-VER, /boot/initrd.img-VER (loads virtio/ACPI/
 * pvpanic modules, and 9p when the kernel has it; mounts root=,
 * switch_root), /boot/grub/grub.cfg and a busybox init that prints
 * "VMKIT-READY" with a root shell on ttyS0.  With rootfs_dir, OUT is
 * instead a new directory holding that tree, and OUT.cfg boots the kernel
 * and initramfs in it directly with its root on OUT shared over 9p (p9 = [
 * 'tag=root,...' ], extra "root=root rootfstype=9p ..."): the rootless
 * counterpart of an NFS root.
 *
 * debian: the tree mmdebstrap makes (systemd, apt, the kernel package
 * with an initramfs from the guest's own initramfs-tools), poured into
 * the filesystem with owners, modes, links, devices and xattrs; fstab and
 * grub.cfg name the root by UUID; DHCP through systemd-networkd, a getty
 * on ttyS0, sshd and the key when ssh_key is given.  Downloaded packages
 * are kept in CACHE/debian/SUITE-amd64.
 *
 * OUT is built under a temporary name next to it and renamed at the end:
 * on failure nothing is left behind.  *kver (if not NULL) gets the kernel
 * version, "none" for a Debian tree without one (malloc'd). */
int vk_guest_build(const struct vk_guest_opts *o, char **kver);


/* A cloud-init NoCloud seed. */
struct vk_guest_seed_opts {
    const char *out;            /* the ISO to create (must not exist) */
    const char *user_data;      /* host file: #cloud-config YAML or a script */
    const char *meta_data;      /* host file, or NULL: an instance-id and
                                   local-hostname (hostname, else OUT's name) */
    const char *network_config; /* host file or NULL */
    const char *hostname;       /* for the generated meta-data */
};

/* Write o->out, an ISO 9660 image with volume id "cidata" and the files
 * user-data, meta-data and network-config at its root (cloud-init's
 * NoCloud data source).  Each input must be a text file of at most 1 MiB.
 * OUT appears only when complete. */
int vk_guest_seed(const struct vk_guest_seed_opts *o);

/* The cache directory for downloads ($XDG_CACHE_HOME/vmkit/debs or
 * ~/.cache/vmkit/debs), created if missing.  malloc'd. */
int vk_deb_cachedir(const char *base, char **dir);
/* Path of package pkg's .deb in cachedir, running `apt-get download pkg`
 * (in a temp dir, then moved into the cache) when none is cached. */
int vk_deb_fetch(const char *cachedir, const char *pkg, char **deb);
/* Control field (dpkg-deb -f) of a .deb, malloc'd, trailing newline cut. */
int vk_deb_field(const char *deb, const char *field, char **value);
/* dpkg-deb -x deb dir */
int vk_deb_extract(const char *deb, const char *dir);

/* One file of the initramfs. */
struct vk_cpio_file {
    const char *path;       /* inside the archive, no leading '/' */
    const char *host;       /* host file to copy, or NULL */
    const char *data;       /* or literal content (if host is NULL) */
    unsigned mode;          /* S_IFREG|0755, S_IFDIR|0755, S_IFCHR|0600, S_IFLNK|0777 */
    unsigned rmajor, rminor;/* character devices */
    const char *link;       /* symlink target */
};
/* Write a gzip-compressed newc cpio archive of files (n of them) to path. */
int vk_initramfs_write(const char *path, const struct vk_cpio_file *files, size_t n);
/* The same archive appended to the file at path (an initrd: the kernel
 * unpacks concatenated archives one after the other, a later file
 * replacing an earlier one of the same name), as virt-install's
 * --initrd-inject does. */
int vk_initramfs_append(const char *path, const struct vk_cpio_file *files, size_t n);

#endif
