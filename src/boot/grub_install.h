/* GRUB for BIOS, written into a disk image without root, loop device or
 * mount: what `grub-install --target=i386-pc` does, with GRUB's own
 * grub-mkimage (package grub-pc-bin) building the core image and vmkit
 * writing everything else.
 *
 *   sector 0, bytes 0-439   boot.img, its BIOS parameter block hole kept
 *                           from the disk, the kernel sector pointing at
 *                           the core image (the disk signature at 440, the
 *                           partition table and 0x55AA stay untouched)
 *   MBR: sectors 1..        the core image (diskboot.img + kernel), in the
 *                           gap before the first partition;
 *   GPT: BIOS boot part.    the same, in the partition of type
 *                           21686148-6449-6E6F-744E-656564454649
 *   BOOT/grub/ on a         i386-pc/ (modules, lists, core.img, boot.img), a
 *   filesystem (ext, FAT)   grub.cfg with a serial console and one entry per
 *                           kernel found in BOOT (BOOT is /boot, or "" on a
 *                           separate boot partition)
 *
 * The core image holds biosdisk, the partition map, the filesystem driver
 * and (room permitting) search_fs_uuid, serial and terminal, with an early
 * config that finds the filesystem by UUID and sets prefix to BOOT/grub;
 * the rest (normal, linux...) GRUB loads from BOOT/grub/i386-pc.  When the
 * gap is small (the legacy disk's 62 sectors) the smallest core that fits
 * is used; when none fits, nothing is written.  No Reed-Solomon codes are
 * added (as grub-install --no-rs-codes).
 *
 * All int functions return 0 or a negative errno after vk_error(). */
#ifndef VK_BOOT_GRUB_INSTALL_H
#define VK_BOOT_GRUB_INSTALL_H

#include "block/blockdev.h"
#include "part/part.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Options; a zeroed struct means the defaults. */
struct vk_grub_opts {
    const char *grub_dir;   /* GRUB's i386-pc files; NULL: /usr/lib/grub/i386-pc */
    const char *mkimage;    /* NULL: grub-mkimage from PATH */
    const char *cache_dir;  /* core images cached here, keyed by their inputs;
                               NULL: $XDG_CACHE_HOME/vmkit/grub or
                               ~/.cache/vmkit/grub */
    bool no_cache;          /* always run grub-mkimage */
    int timeout;            /* menu seconds; < 0: none (wait); 0 means
                               the default, 5, unless timeout_set */
    bool timeout_set;
    const char *append;     /* extra kernel arguments for every entry */
    bool force_config;      /* replace an existing grub.cfg */
};

/* What was done, for the caller to report. */
struct vk_grub_result {
    unsigned part;          /* partition holding BOOT/grub */
    char fs_type[16];       /* its filesystem ("ext4", "vfat") */
    char uuid[40];          /* and UUID, which the early config searches */
    char grub_dir[64];      /* "/boot/grub" or "/grub" inside it */
    uint64_t core_lba;      /* first sector of the core image */
    unsigned core_sectors;  /* its length */
    uint64_t room;          /* sectors available where it went */
    unsigned bios_part;     /* GPT: the BIOS boot partition; 0 on MBR */
    const char *core_kind;  /* "full", "standard", "minimal" (modules) */
    bool cache_hit;         /* core image taken from the cache */
    bool config_kept;       /* an existing grub.cfg was left alone */
    unsigned entries;       /* menu entries written */
};

/* Make disk (opened VK_OPEN_RDWR) BIOS-bootable with GRUB.  part is the
 * partition whose filesystem gets BOOT/grub; 0 chooses: the first one
 * holding /boot (or kernels at its root), else the first Linux one.
 * Everything is checked and the core image built before the first write;
 * refusals (no partition table, no room, no BIOS boot partition on GPT,
 * swap or an unknown filesystem) leave the disk unchanged.  Writes the
 * filesystem files first, then the core image, and sector 0 last.
 * res may be NULL. */
int vk_grub_install(struct vk_blockdev *disk, unsigned part, const struct vk_grub_opts *o,
                    struct vk_grub_result *res);

/* ---- the pieces, for tests and the fuzzer ---- */

/* Where a core image can go on a disk with table t (name for messages):
 * MBR, the sectors between 1 and the first partition; GPT, the BIOS boot
 * partition (*bios_part gets its number).  -ENOSPC/-ENOENT with a message
 * saying what to do when there is none. */
int vk_grub_room(const struct vk_ptable *t, const char *name, uint64_t *lba,
                 uint64_t *sectors, unsigned *bios_part);

/* Patch as grub-bios-setup does: core (len bytes, from grub-mkimage: its
 * first sector is diskboot.img) gets the block list of the core image
 * written at core_lba; sector0 (the disk's current sector 0) gets boot_img
 * in bytes 0-439 except the BPB hole, the kernel sector, boot drive 0xff
 * and the hard-disk drive check.  Bytes 440-511 of sector0 stay as they
 * were.  -EINVAL naming name for a core image that is not one. */
int vk_grub_patch(uint8_t sector0[512], const uint8_t boot_img[512], uint8_t *core,
                  size_t len, uint64_t core_lba, const char *name);

/* One kernel found in the boot directory. */
struct vk_grub_kernel {
    char *kernel;           /* "vmlinuz-6.1.0-18-cloud-amd64" */
    char *initrd;           /* "initrd.img-6.1.0-18-cloud-amd64" or NULL */
    char *version;          /* "6.1.0-18-cloud-amd64", "" for plain vmlinuz */
};

/* The kernels among the n names of a boot directory (vmlinuz-VER with
 * initrd.img-VER, initrd-VER.img, initramfs-VER.img or initrd-VER; plain
 * vmlinuz with initrd.img or initrd), newest version first.  Names with
 * characters other than [A-Za-z0-9._+~-] are skipped (they would need
 * quoting in grub.cfg).  *out (free with vk_grub_kernels_free). */
int vk_grub_find_kernels(char *const *names, size_t n, struct vk_grub_kernel **out,
                         size_t *count);
void vk_grub_kernels_free(struct vk_grub_kernel *k, size_t count);

/* What grub.cfg needs to know. */
struct vk_grub_cfg {
    const char *uuid;       /* of the filesystem holding the kernels */
    const char *root_uuid;  /* root= of the kernel command line */
    const char *boot;       /* "/boot" or "" */
    const char *fs_module;  /* "ext2", "fat" */
    const char *part_module;/* "part_msdos", "part_gpt" */
    int timeout;            /* < 0: wait */
    const char *append;     /* NULL or extra kernel arguments */
};

/* The text of grub.cfg (malloc'd) for kernels k[0..n). */
int vk_grub_config(const struct vk_grub_cfg *c, const struct vk_grub_kernel *k, size_t n,
                   char **text);

#endif
