/* ISO 9660 volume descriptors, read by hand because probing must not run
 * libarchive: the probe (as blkid reads them), the terminator check, and
 * the El Torito boot catalog.
 *
 * Layout (ECMA-119 8.4): volume descriptors are 2048-byte blocks
 * from block 16; byte 0 is the type (0 boot record, 1 primary, 2
 * supplementary, 255 terminator), bytes 1-5 "CD001".  In the primary:
 * volume id at 40 (32 bytes), volume space size at 80 (LE32), creation
 * and modification dates at 813 and 830 (17 bytes "YYYYMMDDHHMMSScc" and
 * a zone).  blkid's UUID is the modification date (else the creation
 * date) as "YYYY-MM-DD-HH-MM-SS-cc"; its label is the Joliet volume id
 * when that differs from the primary's.
 */
#include "fs/iso9660_int.h"

#include "fs/fs_util.h"
#include "util/err.h"
#include "util/utf16.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define VD_START (16 * VK_ISO_BLOCK)
#define VD_MAX 16               /* descriptors blkid looks at */

static void trim_copy(char *out, size_t outlen, const uint8_t *p, size_t n)
{
    while (n && (p[n - 1] == ' ' || p[n - 1] == 0))
        n--;
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

/* blkid's UUID from a 17-byte date; false when the date is unset. */
static bool date_uuid(const uint8_t *d, char *out, size_t len)
{
    int zeros = 0;
    for (int i = 0; i < 16; i++)
        zeros += d[i] == '0';
    if (zeros == 16 && d[16] == 0)
        return false;
    snprintf(out, len, "%.4s-%.2s-%.2s-%.2s-%.2s-%.2s-%.2s", (const char *)d,
             (const char *)d + 4, (const char *)d + 6, (const char *)d + 8,
             (const char *)d + 10, (const char *)d + 12, (const char *)d + 14);
    return true;
}

int iso_probe(struct vk_blockdev *bd, struct vk_fsprobe *out)
{
    uint8_t pvd[VK_ISO_BLOCK], vd[VK_ISO_BLOCK];
    if (bd->size < VD_START + VK_ISO_BLOCK)
        return 0;
    int r = vk_bd_pread(bd, pvd, sizeof pvd, VD_START);
    if (r < 0)
        return r;
    if (pvd[0] != 1 || memcmp(pvd + 1, "CD001", 5))
        return 0;
    snprintf(out->type, sizeof out->type, "iso9660");
    trim_copy(out->label, sizeof out->label, pvd + 40, 32);
    if (!date_uuid(pvd + 830, out->uuid, sizeof out->uuid))
        date_uuid(pvd + 813, out->uuid, sizeof out->uuid);
    out->size = (uint64_t)vk_fsu_get32(pvd + 80) * VK_ISO_BLOCK;
    out->used = out->size;
    out->used_known = true;
    /* The Joliet label, as blkid looks for it: among the 16 descriptors
     * after the primary, up to the terminator. */
    uint64_t off = VD_START + VK_ISO_BLOCK;
    for (int i = 0; i < VD_MAX && off + VK_ISO_BLOCK <= bd->size; i++, off += VK_ISO_BLOCK) {
        if ((r = vk_bd_pread(bd, vd, sizeof vd, off)) < 0)
            return r;
        if (vd[0] == 255)
            break;
        if (vd[0] != 2)
            continue;
        if (!memcmp(vd + 88, "%/@", 3) || !memcmp(vd + 88, "%/C", 3) || !memcmp(vd + 88, "%/E", 3)) {
            uint16_t u[16];
            bool same = true;
            for (int k = 0; k < 16; k++) {
                u[k] = (uint16_t)(vd[40 + 2 * k] << 8 | vd[41 + 2 * k]);
                same = same && vd[40 + 2 * k] == 0 && vd[41 + 2 * k] == pvd[40 + k];
            }
            if (!same) {
                char l[sizeof out->label];
                vk_utf16_to_utf8(u, 16, l, sizeof l);
                trim_copy(out->label, sizeof out->label, (const uint8_t *)l, strlen(l));
            }
            break;
        }
    }
    return 40;
}

const char *vk_iso_platform_name(uint8_t p)
{
    static _Thread_local char buf[8];
    switch (p) {
    case 0: return "bios";
    case 1: return "ppc";
    case 2: return "mac";
    case 0xef: return "efi";
    }
    snprintf(buf, sizeof buf, "0x%02x", p);
    return buf;
}

const char *vk_iso_media_name(uint8_t m)
{
    static const char *const n[] = { "none", "floppy-1.2m", "floppy-1.44m", "floppy-2.88m", "hard-disk" };
    return m < 5 ? n[m] : "unknown";
}

void vk_iso_boot_name(const struct vk_iso_boot *b, int k, char *buf, size_t len)
{
    snprintf(buf, len, "%d-%s-%s.img", k + 1, vk_iso_platform_name(b->e[k].platform),
             vk_iso_media_name(b->e[k].media));
}

static int bad_catalog(struct vk_blockdev *bd, uint32_t lba, const char *what)
{
    return vk_error(-EINVAL, "%s: El Torito boot catalog at block %u: %s", bd->name, lba, what);
}

/* One 32-byte initial/section entry (El Torito 2.2, 2.4). */
static int boot_entry(struct vk_blockdev *bd, const uint8_t *e, uint8_t platform,
                      struct vk_iso_boot *out)
{
    static const uint64_t floppy[] = { 0, 1200 * 1024, 1440 * 1024, 2880 * 1024 };
    if (out->n >= VK_ISO_MAX_BOOT)
        return 0;
    struct vk_iso_boot_entry *b = &out->e[out->n];
    b->platform = platform;
    b->bootable = e[0] == 0x88;
    b->media = e[1] & 0x0f;
    b->load_segment = vk_fsu_get16(e + 2);
    b->sectors = vk_fsu_get16(e + 6);
    b->lba = vk_fsu_get32(e + 8);
    b->size = b->media >= 1 && b->media <= 3 ? floppy[b->media] : (uint64_t)b->sectors * 512;
    if (((uint64_t)b->lba * VK_ISO_BLOCK + b->size) > bd->size)
        return bad_catalog(bd, out->catalog_lba, "a boot image lies past the end of the image");
    out->n++;
    return 0;
}

int vk_iso_boot_read(struct vk_blockdev *bd, struct vk_iso_boot *out)
{
    uint8_t vd[VK_ISO_BLOCK], cat[VK_ISO_BLOCK];
    int r;
    memset(out, 0, sizeof *out);
    uint64_t off = VD_START;
    for (int i = 0; i < 64 && off + VK_ISO_BLOCK <= bd->size; i++, off += VK_ISO_BLOCK) {
        if ((r = vk_bd_pread(bd, vd, sizeof vd, off)) < 0)
            return r;
        if (memcmp(vd + 1, "CD001", 5) || vd[0] == 255)
            break;
        if (vd[0] == 0 && !memcmp(vd + 7, "EL TORITO SPECIFICATION", 23))
            break;
    }
    if (vd[0] != 0 || memcmp(vd + 1, "CD001", 5) || memcmp(vd + 7, "EL TORITO SPECIFICATION", 23))
        return 0;
    uint32_t lba = vk_fsu_get32(vd + 0x47);
    out->catalog_lba = lba;
    if ((uint64_t)lba * VK_ISO_BLOCK + VK_ISO_BLOCK > bd->size)
        return bad_catalog(bd, lba, "past the end of the image");
    if ((r = vk_bd_pread(bd, cat, sizeof cat, (uint64_t)lba * VK_ISO_BLOCK)) < 0)
        return r;
    uint16_t sum = 0;
    for (int i = 0; i < 32; i += 2)
        sum = (uint16_t)(sum + vk_fsu_get16(cat + i));
    if (cat[0] != 1 || cat[30] != 0x55 || cat[31] != 0xaa || sum)
        return bad_catalog(bd, lba, "bad validation entry");
    if ((r = boot_entry(bd, cat + 32, cat[1], out)) < 0)
        return r;
    /* Section headers (0x90, last 0x91), each followed by its entries. */
    for (size_t p = 64; p + 32 <= sizeof cat;) {
        uint8_t id = cat[p];
        if (id != 0x90 && id != 0x91)
            break;
        uint8_t platform = cat[p + 1];
        unsigned count = vk_fsu_get16(cat + p + 2);
        p += 32;
        for (unsigned k = 0; k < count && p + 32 <= sizeof cat; k++, p += 32) {
            if (cat[p] == 0x44)         /* extension entries carry no image */
                continue;
            if ((r = boot_entry(bd, cat + p, platform, out)) < 0)
                return r;
        }
        if (id == 0x91)
            break;
    }
    return 0;
}

/* Contract in fs/iso9660.h.  libarchive takes the logical block size, the
 * volume size and the root directory's extent from the first primary
 * descriptor and from a Joliet supplementary one, and trusts them: it
 * reads the root directory (and each directory below) into one buffer of
 * the size the record states, so a record claiming 4 GiB allocates
 * 4 GiB.  Bounding every such size by the image's own bounds them all. */
int vk_iso_check_descriptors(vk_iso_pread_fn pread, void *ctx, uint64_t size, const char *name)
{
    uint8_t vd[VK_ISO_BLOCK];
    for (uint64_t off = VD_START; off < VD_START + 64 * VK_ISO_BLOCK; off += VK_ISO_BLOCK) {
        int r = off + VK_ISO_BLOCK <= size ? pread(ctx, vd, sizeof vd, off) : 0;
        if (r < 0)
            return r;
        if (off + VK_ISO_BLOCK > size || memcmp(vd + 1, "CD001", 5)) {
            if (off == VD_START)
                return vk_error(-EINVAL, "%s: not a readable ISO 9660 image (no volume "
                                "descriptor at offset %u)", name, (unsigned)VD_START);
            break;
        }
        if (vd[0] == 255)
            return 0;
        bool joliet = vd[0] == 2 && vd[88] == '%' && vd[89] == '/';
        if (vd[0] != 1 && !joliet)
            continue;
        const char *what = vd[0] == 1 ? "primary" : "Joliet";
        uint32_t lbs = vk_fsu_get16(vd + 128), blocks = vk_fsu_get32(vd + 80);
        uint32_t root = vk_fsu_get32(vd + 156 + 2), root_size = vk_fsu_get32(vd + 156 + 10);
        uint64_t volume = (uint64_t)lbs * blocks;
        /* Linux's isofs takes 512, 1024 and 2048 (ECMA-119 6.2.2: a
         * power of two from 512 up to the 2048-byte sector). */
        if (lbs != 512 && lbs != 1024 && lbs != 2048)
            return vk_error(-EINVAL, "%s: the %s volume descriptor's logical block size %u "
                            "is not 512, 1024 or 2048", name, what, lbs);
        if (volume > size)
            return vk_error(-EINVAL, "%s: truncated ISO image: the %s volume descriptor gives "
                            "%llu bytes, the image has %llu", name, what,
                            (unsigned long long)volume, (unsigned long long)size);
        if ((uint64_t)root * VK_ISO_BLOCK + root_size > volume)
            return vk_error(-EINVAL, "%s: the %s volume's root directory (block %u, %u bytes) "
                            "lies past the end of the volume", name, what, root, root_size);
    }
    return vk_error(-EINVAL, "%s: the volume descriptor set has no terminator", name);
}
