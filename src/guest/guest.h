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
    uint64_t size;          /* bytes; 0: 256 MiB */
    const char *kernel;     /* NULL: the Debian cloud kernel (the generic one,
                               linux-image-amd64, for rootfs_dir: the cloud
                               kernel has no 9p); a package name
                               "linux-image-..."; a .deb; or a vmlinuz file (its
                               drivers must then be built in) */
    int rootfs_dir;         /* out is a directory: the guest's root filesystem,
                               shared over 9p (no disk image) */
    const char *hostname;   /* NULL: from OUT's name */
    const char *cachedir;   /* NULL: $XDG_CACHE_HOME/vmkit or ~/.cache/vmkit */
    /* progress lines ("fetching linux-image-cloud-amd64"), may be NULL */
    void (*progress)(const char *msg, void *ctx);
    void *ctx;
};

/* Make opts->out: MBR with one bootable ext4 partition holding busybox,
 * /boot/vmlinuz-VER, /boot/initrd.img-VER (loads virtio/ACPI/pvpanic
 * modules, and 9p when the kernel has it; mounts root=, switch_root),
 * /boot/grub/grub.cfg and a busybox init that prints "VMKIT-READY" with a
 * root shell on ttyS0; and OUT.cfg, an xl.cfg with bootloader="pygrub"
 * that boots it.  With rootfs_dir, OUT is instead a new directory holding
 * that tree, and OUT.cfg boots the kernel and initramfs in it directly
 * with its root on OUT shared over 9p (p9 = [ 'tag=root,...' ], extra
 * "root=root rootfstype=9p rootflags=trans=virtio,..."): the rootless
 * counterpart of an NFS root.  On failure nothing is left behind.  *kver
 * (if not NULL) gets the kernel version (malloc'd). */
int vk_guest_build(const struct vk_guest_opts *o, char **kver);


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
