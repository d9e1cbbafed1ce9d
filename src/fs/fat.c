/* FAT12/16/32: the driver entry (probe, BPB validation).  mkfs lives in
 * fat_mkfs.c. */
#include "fs/fat_int.h"
#include "fs/fs.h"
#include "fs/fs_util.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = { "vfat", "fat", "msdos", NULL };

static bool pow2(uint32_t v) { return v && !(v & (v - 1)); }

int fat_parse_bpb(struct vk_blockdev *bd, const uint8_t *bs, struct fat_geom *g)
{
    memset(g, 0, sizeof *g);
    if (bs[0] != 0xeb && bs[0] != 0xe9)
        return vk_error(-EINVAL, "%s: no FAT boot sector (no jump instruction)", bd->name);
    g->bps = vk_fsu_get16(bs + 11);
    g->spc = bs[13];
    g->reserved = vk_fsu_get16(bs + 14);
    g->nfats = bs[16];
    g->root_entries = vk_fsu_get16(bs + 17);
    g->total_sectors = vk_fsu_get16(bs + 19);
    if (!g->total_sectors)
        g->total_sectors = vk_fsu_get32(bs + 32);
    g->fat_sectors = vk_fsu_get16(bs + 22);
    bool f32 = !g->fat_sectors;
    if (f32)
        g->fat_sectors = vk_fsu_get32(bs + 36);

    if (g->bps < 512 || g->bps > 4096 || !pow2(g->bps))
        return vk_error(-EINVAL, "%s: FAT bytes per sector %u is not a power of two from 512 to 4096",
                        bd->name, g->bps);
    if (!pow2(g->spc))
        return vk_error(-EINVAL, "%s: FAT sectors per cluster %u is not a power of two", bd->name, g->spc);
    if (!g->reserved)
        return vk_error(-EINVAL, "%s: FAT reserved sector count is 0", bd->name);
    if (!g->nfats)
        return vk_error(-EINVAL, "%s: FAT count is 0", bd->name);
    if (!g->fat_sectors)
        return vk_error(-EINVAL, "%s: FAT size is 0 sectors", bd->name);
    /* The media byte is not checked: Linux ignores it too. */
    g->root_sectors = (uint32_t)(((uint64_t)g->root_entries * 32 + g->bps - 1) / g->bps);
    uint64_t meta = (uint64_t)g->reserved + (uint64_t)g->nfats * g->fat_sectors + g->root_sectors;
    if (!g->total_sectors || meta >= g->total_sectors)
        return vk_error(-EINVAL, "%s: FAT total sector count %u leaves no data area (metadata %llu sectors)",
                        bd->name, g->total_sectors, (unsigned long long)meta);
    if ((uint64_t)g->total_sectors * g->bps > bd->size)
        return vk_error(-EINVAL, "%s: FAT filesystem (%llu bytes) larger than the device (%llu bytes)",
                        bd->name, (unsigned long long)g->total_sectors * g->bps,
                        (unsigned long long)bd->size);
    g->root_sector = (uint32_t)(g->reserved + (uint64_t)g->nfats * g->fat_sectors);
    g->data_sector = (uint32_t)meta;
    g->clusters = (g->total_sectors - g->data_sector) / g->spc;
    /* As Linux: a 16-bit FAT size of 0 means FAT32 (mkfs.fat -F 32 makes
     * small ones too); otherwise the cluster count decides 12 or 16. */
    g->bits = f32 ? 32 : g->clusters < 4085 ? 12 : 16;
    if (!f32 && g->clusters > 65524)
        return vk_error(-EINVAL, "%s: FAT12/16 layout with %u clusters (over 65524) is inconsistent",
                        bd->name, g->clusters);
    if (f32 && g->clusters > 0x0ffffff5)
        return vk_error(-EINVAL, "%s: FAT32 with %u clusters (over 268435445)", bd->name, g->clusters);
    const uint8_t *vi = bs + 36;
    if (f32) {
        if (g->root_entries)
            return vk_error(-EINVAL, "%s: FAT32 with %u fixed root entries", bd->name, g->root_entries);
        g->root_cluster = vk_fsu_get32(bs + 44);
        g->fsinfo_sector = vk_fsu_get16(bs + 48);
        if (g->fsinfo_sector >= g->reserved || g->fsinfo_sector == 0xffff)
            g->fsinfo_sector = 0;
        if (g->root_cluster < 2 || g->root_cluster > g->clusters + 1)
            return vk_error(-EINVAL, "%s: FAT32 root cluster %u out of range (2..%u)", bd->name,
                            g->root_cluster, g->clusters + 1);
        vi = bs + 64;
    } else if (!g->root_entries) {
        return vk_error(-EINVAL, "%s: FAT%d with no root directory entries", bd->name, g->bits);
    }
    /* The FAT must be able to address every cluster. */
    uint64_t entries = (uint64_t)g->fat_sectors * g->bps * 8 / (unsigned)g->bits;
    if (entries < (uint64_t)g->clusters + 2)
        return vk_error(-EINVAL, "%s: FAT of %u sectors too small for %u clusters", bd->name,
                        g->fat_sectors, g->clusters);
    if (vi[2] == 0x29) {
        g->serial = vk_fsu_get32(vi + 3);
        memcpy(g->label, vi + 7, 11);
        int n = 11;
        while (n > 0 && g->label[n - 1] == ' ')
            n--;
        g->label[n] = 0;
        if (!strcmp(g->label, "NO NAME"))
            g->label[0] = 0;
    }
    return 0;
}

/* Read entry n of the in-memory FAT. */
static uint32_t fat_entry(const uint8_t *fat, int bits, uint32_t n)
{
    if (bits == 12) {
        uint32_t v = vk_fsu_get16(fat + n * 3 / 2);
        return n & 1 ? v >> 4 : v & 0xfff;
    }
    if (bits == 16)
        return vk_fsu_get16(fat + n * 2);
    return vk_fsu_get32(fat + n * 4) & 0x0fffffff;
}

/* Count free clusters by reading the first FAT copy in pieces. */
static int count_free(struct vk_blockdev *bd, const struct fat_geom *g, uint64_t *free_out)
{
    const uint32_t chunk = 3 * 4096 * 4;  /* divisible by 3 (FAT12 pairs) and 4 */
    uint8_t *buf = malloc(chunk + 4);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    uint64_t fat_bytes = (uint64_t)g->fat_sectors * g->bps, nfree = 0;
    uint64_t per_chunk = (uint64_t)chunk * 8 / (unsigned)g->bits;
    int r = 0;
    for (uint64_t base = 0; base < (uint64_t)g->clusters + 2; base += per_chunk) {
        uint64_t off = base * (unsigned)g->bits / 8;
        size_t len = (size_t)(fat_bytes - off < chunk ? fat_bytes - off : chunk);
        memset(buf, 0, chunk + 4);
        if ((r = vk_bd_pread(bd, buf, len, (uint64_t)g->reserved * g->bps + off)) < 0)
            break;
        for (uint64_t i = 0; i < per_chunk && base + i < (uint64_t)g->clusters + 2; i++)
            if (base + i >= 2 && fat_entry(buf, g->bits, (uint32_t)i) == 0)
                nfree++;
    }
    free(buf);
    *free_out = nfree;
    return r;
}

/* The label as blkid reports it: the root directory's volume entry when
 * there is one (FAT12/16: fixed root area; FAT32: first root cluster),
 * else the boot sector's. */
static void root_label(struct vk_blockdev *bd, const struct fat_geom *g, char *label, size_t len)
{
    uint64_t off, n;
    if (g->bits == 32) {
        off = ((uint64_t)g->data_sector + (uint64_t)(g->root_cluster - 2) * g->spc) * g->bps;
        n = (uint64_t)g->spc * g->bps / 32;
    } else {
        off = (uint64_t)g->root_sector * g->bps;
        n = g->root_entries;
    }
    uint8_t de[32];
    for (uint64_t i = 0; i < n && i < 4096; i++) {
        if (vk_bd_pread(bd, de, 32, off + i * 32) < 0) {
            vk_error_clear();
            return;
        }
        if (!de[0])
            return;
        if (de[0] == 0xe5 || (de[11] & 0x3f) == 0x0f || (de[11] & 0x18) != 0x08)
            continue;
        char l[12];
        memcpy(l, de, 11);
        if (l[0] == 0x05)
            l[0] = (char)0xe5;
        int k = 11;
        while (k > 0 && l[k - 1] == ' ')
            k--;
        l[k] = 0;
        snprintf(label, len, "%s", l);
        return;
    }
}

static int fat_probe(struct vk_blockdev *bd, struct vk_fsprobe *out)
{
    uint8_t bs[512];
    struct fat_geom g;
    int r;

    if (bd->size < 512)
        return 0;
    if ((r = vk_bd_pread(bd, bs, sizeof bs, 0)) < 0)
        return r;
    if (bs[510] != 0x55 || bs[511] != 0xaa)
        return 0;
    if (fat_parse_bpb(bd, bs, &g) < 0) {
        vk_error_clear();
        return 0;
    }
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "vfat");
    snprintf(out->label, sizeof out->label, "%s", g.label);
    root_label(bd, &g, out->label, sizeof out->label);
    snprintf(out->uuid, sizeof out->uuid, "%04X-%04X", g.serial >> 16, g.serial & 0xffff);
    out->size = (uint64_t)g.total_sectors * g.bps;
    uint64_t nfree = 0;
    if (count_free(bd, &g, &nfree) == 0) {
        out->used = ((uint64_t)g.clusters - nfree) * g.spc * g.bps;
        out->used_known = true;
    } else {
        vk_error_clear();
    }
    return 60;
}

const struct vk_fs_type vk_fs_fat = {
    .name = "vfat",
    .mkfs_names = names,
    .probe = fat_probe,
    .mkfs = vk_fat_mkfs,
    .mount = vk_fat_mount,
    .resize = vk_fat_resize,
    .used = vk_fat_used,
};
