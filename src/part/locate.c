/* vk_part_locate: partition n of a disk, whatever its label, through the
 * label drivers (part.h), so DISK:N works for MBR primary and logical
 * partitions and GPT alike. */
#include "part/target.h"

#include "part/part.h"
#include "util/err.h"

#include <errno.h>

int vk_part_locate(struct vk_blockdev *disk, unsigned n, uint64_t *offset, uint64_t *length)
{
    struct vk_ptable t;
    int r = vk_ptable_read(disk, &t);

    if (r < 0)
        return r;
    struct vk_part *p = vk_ptable_find(&t, n);
    if (!p || (t.label == VK_LABEL_MBR && !p->logical && vk_mbr_is_extended(p->mbr_type))) {
        r = vk_error(-ENOENT, p ? "%s: partition %u is an extended partition (a container, no data)"
                                : "%s: no partition %u", disk->name, n);
    } else {
        *offset = p->start * VK_SECTOR;
        *length = p->size * VK_SECTOR;
        if (*offset > disk->size || *length > disk->size - *offset)
            r = vk_error(-EINVAL, "%s: partition %u (sectors %llu-%llu) lies beyond the end of the disk",
                         disk->name, n, (unsigned long long)p->start,
                         (unsigned long long)(p->start + p->size - 1));
    }
    vk_ptable_free(&t);
    return r;
}
