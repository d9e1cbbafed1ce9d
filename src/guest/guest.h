/* Building a small bootable Linux guest disk from Debian packages, and the
 * helpers it needs (package fetching, running tools, the initramfs).
 *
 * All int functions return 0 or a negative errno after vk_error(). */
#ifndef VK_GUEST_GUEST_H
#define VK_GUEST_GUEST_H

#include <stddef.h>
#include <stdint.h>

struct vk_guest_opts {
    const char *out;        /* image to create (must not exist) */
    const char *format;     /* "raw" (default) or "qcow2" */
    uint64_t size;          /* bytes; 0: 256 MiB */
    const char *kernel;     /* NULL: the Debian cloud kernel; a .deb; or a vmlinuz
                               file (its drivers must then be built in) */
    const char *hostname;   /* NULL: from OUT's name */
    const char *cachedir;   /* NULL: $XDG_CACHE_HOME/vmkit or ~/.cache/vmkit */
    /* progress lines ("fetching linux-image-cloud-amd64"), may be NULL */
    void (*progress)(const char *msg, void *ctx);
    void *ctx;
};

/* Make opts->out: MBR with one bootable ext4 partition holding busybox,
 * /boot/vmlinuz-VER, /boot/initrd.img-VER (loads virtio/ACPI modules,
 * mounts /dev/vda1, switch_root), /boot/grub/grub.cfg and a busybox init
 * that prints "VMKIT-READY" with a root shell on ttyS0; and OUT.cfg, an
 * xl.cfg with bootloader="pygrub" that boots it.  On failure nothing is
 * left behind.  *kver (if not NULL) gets the kernel version (malloc'd). */
int vk_guest_build(const struct vk_guest_opts *o, char **kver);

/* Run argv (argv[0] searched in PATH) in directory cwd (NULL: current),
 * stdin from /dev/null, stdout+stderr captured into out (up to outlen-1
 * bytes, NUL-terminated; out may be NULL).  0 if it exited 0; otherwise
 * -EIO with a message naming argv[0], its status and its last output line. */
int vk_run(const char *const *argv, const char *cwd, char *out, size_t outlen);

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
