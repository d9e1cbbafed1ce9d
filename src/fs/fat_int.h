/* FAT internals shared by fat.c (probe) and fat_mkfs.c. */
#ifndef VK_FS_FAT_INT_H
#define VK_FS_FAT_INT_H

#include "block/blockdev.h"

#include <stdbool.h>
#include <stdint.h>

struct vk_fs;

/* The parsed and validated BIOS parameter block. */
struct fat_geom {
    int bits;                   /* 12, 16, 32 */
    uint32_t bps;               /* bytes per sector, 512..4096, power of 2 */
    uint32_t spc;               /* sectors per cluster, power of 2 */
    uint32_t reserved;
    uint32_t nfats;
    uint32_t root_entries;      /* 0 on FAT32 */
    uint32_t total_sectors;
    uint32_t fat_sectors;       /* one FAT copy */
    uint32_t root_cluster;      /* FAT32 */
    uint32_t fsinfo_sector;     /* FAT32, 0 if none */
    uint32_t root_sector;       /* FAT12/16: first root dir sector */
    uint32_t root_sectors;
    uint32_t data_sector;       /* first sector of cluster 2 */
    uint32_t clusters;          /* data clusters: valid numbers 2..clusters+1 */
    uint32_t serial;
    char label[12];             /* from the boot sector, trailing blanks cut */
};

/* Parse the boot sector bs (512 bytes) of bd.  0 and g filled, or -EINVAL
 * with a message naming bd and the absurd field. */
int fat_parse_bpb(struct vk_blockdev *bd, const uint8_t *bs, struct fat_geom *g);

struct vk_mkfs_opts;
/* mkfs -t vfat (fat_mkfs.c). */
int vk_fat_mkfs(struct vk_blockdev *bd, const struct vk_mkfs_opts *o);
/* Mount (fat_ro.c). */
int vk_fat_mount(struct vk_blockdev *bd, bool writable, struct vk_fs **out);

#endif
