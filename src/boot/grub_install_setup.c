/* The part of GRUB's util/setup.c (grub-bios-setup) that vmkit does
 * itself: where the core image goes, the block list in its first sector
 * (diskboot.img), and boot.img in the MBR's code area.  Offsets from GRUB's
 * include/grub/i386/pc/boot.h and kernel.h. */
#include "boot/grub_install.h"

#include "fs/fs_util.h"
#include "util/err.h"

#include <errno.h>
#include <string.h>

#define BOOT_BPB_START      0x03    /* the DOS BPB hole: kept from the disk */
#define BOOT_BPB_END        0x5a
#define BOOT_KERNEL_SECTOR  0x5c    /* u64: first sector of the core image */
#define BOOT_BOOT_DRIVE     0x64    /* 0xff: the drive the BIOS passed in %dl */
#define BOOT_DRIVE_CHECK    0x66    /* a 2-byte jmp; nops for hard disks */
#define BOOT_NT_MAGIC       0x1b8   /* disk signature: vmkit writes below it */
#define KERNEL_SEG          0x800   /* where diskboot loads the kernel */
#define NO_RS_LENGTH        0x14    /* u16 in the core's second sector */
#define BLOCKLIST_SIZE      12      /* u64 start, u16 len, u16 segment */
#define SECTOR              512u

static void put64(uint8_t *p, uint64_t v)
{
    vk_fsu_put32(p, (uint32_t)v);
    vk_fsu_put32(p + 4, (uint32_t)(v >> 32));
}

/* Contract in boot/grub_install.h. */
int vk_grub_room(const struct vk_ptable *t, const char *name, uint64_t *lba,
                 uint64_t *sectors, unsigned *bios_part)
{
    *bios_part = 0;
    if (t->label == VK_LABEL_GPT) {
        uint8_t bios[16];
        vk_guid_from_str("21686148-6449-6E6F-744E-656564454649", bios);
        for (unsigned i = 0; i < t->n; i++)
            if (!memcmp(t->p[i].type_guid, bios, 16)) {
                *lba = t->p[i].start;
                *sectors = t->p[i].size;
                *bios_part = t->p[i].number;
                return 0;
            }
        return vk_error(-ENOENT, "%s: GPT disk without a BIOS boot partition: GRUB has no "
                        "place for its core image (it does not use the gap before the first "
                        "partition on GPT); add one of 1 MiB: vmkit part add %s --size 1M "
                        "--type bios_grub", name, name);
    }
    if (t->label != VK_LABEL_MBR)
        return vk_error(-EINVAL, "%s: no partition table", name);
    /* The gap ends at the first sector any partition (or EBR, which lies
     * inside the extended partition) uses. */
    uint64_t first = t->disk_sectors;
    for (unsigned i = 0; i < t->n; i++)
        if (t->p[i].start < first)
            first = t->p[i].start;
    *lba = 1;
    *sectors = first > 1 ? first - 1 : 0;
    return 0;
}

/* Contract in boot/grub_install.h. */
int vk_grub_patch(uint8_t sector0[512], const uint8_t boot_img[512], uint8_t *core,
                  size_t len, uint64_t core_lba, const char *name)
{
    if (boot_img[510] != 0x55 || boot_img[511] != 0xaa)
        return vk_error(-EINVAL, "%s: boot.img has no 0x55AA signature", name);
    if (len < 2 * SECTOR || len % SECTOR || len / SECTOR > 0xffff)
        return vk_error(-EINVAL, "%s: core image of %zu bytes: not a whole number of "
                        "sectors between 2 and 65535", name, len);
    if (vk_fsu_get16(core + SECTOR + NO_RS_LENGTH) == 0xffff)
        return vk_error(-EINVAL, "%s: core image version mismatch (no Reed-Solomon length)", name);
    /* diskboot.img's block list runs down from the end of its sector;
     * grub-mkimage leaves one entry loading at KERNEL_SEG + 0x20. */
    uint8_t *bl = core + SECTOR - BLOCKLIST_SIZE;
    if (vk_fsu_get16(bl + 10) != KERNEL_SEG + (SECTOR >> 4))
        return vk_error(-EINVAL, "%s: core image does not start with diskboot.img "
                        "(block list segment %#x)", name, vk_fsu_get16(bl + 10));
    /* Clear the old entries (bounded: the list never reaches below the
     * middle of the sector, where diskboot's code is). */
    for (uint8_t *p = bl; p >= core + SECTOR / 2 && vk_fsu_get16(p + 8); p -= BLOCKLIST_SIZE)
        memset(p, 0, BLOCKLIST_SIZE);
    /* One contiguous run: everything after diskboot's own sector. */
    put64(bl, core_lba + 1);
    vk_fsu_put16(bl + 8, (uint16_t)(len / SECTOR - 1));
    vk_fsu_put16(bl + 10, KERNEL_SEG + (SECTOR >> 4));
    memset(bl - BLOCKLIST_SIZE, 0, BLOCKLIST_SIZE);     /* the terminator */

    uint8_t img[SECTOR];
    memcpy(img, boot_img, SECTOR);
    memcpy(img + BOOT_BPB_START, sector0 + BOOT_BPB_START, BOOT_BPB_END - BOOT_BPB_START);
    put64(img + BOOT_KERNEL_SECTOR, core_lba);
    img[BOOT_BOOT_DRIVE] = 0xff;
    img[BOOT_DRIVE_CHECK] = 0x90;   /* buggy BIOSes pass 0 even for a hard disk */
    img[BOOT_DRIVE_CHECK + 1] = 0x90;
    memcpy(sector0, img, BOOT_NT_MAGIC);
    return 0;
}
