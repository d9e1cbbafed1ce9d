/* ISO 9660 images (CDs, DVDs, installer ISOs).
 *
 * Reading goes through the fs layer like any other filesystem (vk_fs_iso,
 * read-only, iso9660.c): iso9660_vd.c reads the volume descriptors and the
 * El Torito boot catalog by hand (headers only, as blkid does); iso9660_idx.c lets
 * libarchive parse the directory tree (Rock Ridge, Joliet, plain ISO 9660
 * level 1-3) and keeps an in-memory index of it.  The El Torito catalog
 * and boot images also appear as files of a virtual directory "/[BOOT]"
 * (7-Zip's name for it), left out of the root's listing so the listed
 * tree is the ISO's own.
 *
 * Writing an ISO is not a mkfs over a device: the image is computed from a
 * source tree by libisofs (iso9660_mk.c), with Rock Ridge and Joliet.
 */
#ifndef VK_FS_ISO9660_H
#define VK_FS_ISO9660_H

#include "block/blockdev.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VK_ISO_BLOCK 2048u
#define VK_ISO_MAX_BOOT 8       /* boot catalog entries we report */

/* One boot image of the El Torito catalog. */
struct vk_iso_boot_entry {
    uint8_t platform;           /* 0 x86 BIOS, 1 PowerPC, 2 Mac, 0xef EFI */
    uint8_t media;              /* 0 no emulation, 1-3 floppy 1.2/1.44/2.88 MB, 4 hard disk */
    bool bootable;              /* boot indicator 0x88 */
    uint16_t load_segment;
    uint16_t sectors;           /* 512-byte sectors the BIOS loads */
    uint32_t lba;               /* 2048-byte block where the image starts */
    uint64_t size;              /* bytes exposed: the floppy size, else sectors * 512 */
};

struct vk_iso_boot {
    uint32_t catalog_lba;       /* 0: no El Torito boot record */
    int n;
    struct vk_iso_boot_entry e[VK_ISO_MAX_BOOT];
};

/* Read the El Torito boot record of the ISO on bd, if any.  0 with
 * out->catalog_lba == 0 when there is none; -EINVAL (message naming bd)
 * for a catalog that is damaged or lies past the end. */
int vk_iso_boot_read(struct vk_blockdev *bd, struct vk_iso_boot *out);

/* "bios", "efi", "ppc", "mac" or "0xNN"; "none", "floppy-1.2m" ... for
 * media.  Static or the thread's buffer. */
const char *vk_iso_platform_name(uint8_t platform);
const char *vk_iso_media_name(uint8_t media);

/* The name of boot image k (0-based) in /[BOOT]: "1-bios-none.img". */
void vk_iso_boot_name(const struct vk_iso_boot *b, int k, char *buf, size_t len);

/* Making an ISO (vmkit fs mkfs -t iso9660). */
struct vk_iso_mkfs_opts {
    const char *from;           /* host directory or tar archive (any compression) */
    const char *volid;          /* volume id (label), NULL: "CDROM" */
    const char *uuid;           /* "YYYY-MM-DD-HH-MM-SS-cc": the volume times, as blkid
                                   shows them; NULL: now */
    /* El Torito, as xorriso -as mkisofs -b BOOT -c CATALOG -no-emul-boot
     * -boot-load-size N [-boot-info-table]: */
    const char *boot;           /* path inside the tree of a no-emulation boot image */
    const char *boot_catalog;   /* path of the catalog; NULL: boot.cat next to boot */
    int boot_load_size;         /* 512-byte sectors; 0 means 4 */
    bool boot_info_table;       /* patch the image with the boot info table (isolinux) */
};

/* Load now what reading an ISO 9660 filesystem loads from the host on
 * first use (the C.UTF-8 locale, glibc's iconv module cache), so that a
 * sandboxed reader whose filter forbids open() can read ISOs. */
void vk_iso_warmup(void);

/* At most how many directory entries an ISO image of size bytes can
 * hold: each needs its own directory record of at least 34 bytes.  A
 * reader seeing more is looping in a damaged tree (libarchive can yield
 * one entry forever) and must stop. */
static inline uint64_t vk_iso_entry_limit(uint64_t size)
{
    return size / 34 + 64;
}

/* Reads len bytes at off of the image into buf: 0 or a negative errno
 * (message recorded); a short read is an error. */
typedef int (*vk_iso_pread_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* Check, before a reader trusts them, the volume descriptors of the ISO
 * image of size bytes that pread reads: the set ends with a terminator
 * within its first 64 blocks, and in the primary and Joliet descriptors
 * the logical block size is 512, 1024 or 2048, the volume fits in the
 * image and the root directory in the volume.  0, or -EINVAL with a
 * message naming name. */
int vk_iso_check_descriptors(vk_iso_pread_fn pread, void *ctx, uint64_t size, const char *name);

/* Write the ISO of o->from to the host file out: the image goes to a
 * temporary name next to it and is renamed over out only when complete,
 * so a failure leaves out as it was. */
int vk_iso_mkfs_file(const char *out, const struct vk_iso_mkfs_opts *o);

/* Write the ISO into the device bd (a partition); -ENOSPC before writing
 * anything when it does not fit. */
int vk_iso_mkfs_bd(struct vk_blockdev *bd, const struct vk_iso_mkfs_opts *o);

#endif
