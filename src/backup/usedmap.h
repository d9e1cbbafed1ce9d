/* The used-block map of a disk for backup (usedmap.c). */
#ifndef VK_BACKUP_USEDMAP_H
#define VK_BACKUP_USEDMAP_H

#include "backup/backup.h"
#include "block/blockdev.h"

struct vk_bk_range {
    uint64_t off, len;
};

/* The free ranges of a disk: ascending, not overlapping. */
struct vk_bk_map {
    struct vk_bk_range *v;
    size_t n, cap;
};

/* Map disk: *m gets its free ranges, table "mbr"/"gpt"/"none", *parts
 * (malloc'd) what was found in each partition (for "none": the whole disk
 * as partition 0).  A partition vmkit cannot map is kept whole, with a
 * warning when its filesystem is damaged.  Free m with vk_bk_map_free. */
int vk_bk_map_disk(struct vk_blockdev *disk, struct vk_bk_map *m, char table[8],
                   struct vk_bk_part **parts, size_t *nparts);
void vk_bk_map_free(struct vk_bk_map *m);

#endif
