/* vk_part_locate: until the label drivers land (issue 3), primary MBR
 * partitions only. */
#include "part/target.h"

#include "util/err.h"

#include <errno.h>
#include <string.h>

int vk_part_locate(struct vk_blockdev *disk, unsigned n, uint64_t *offset, uint64_t *length)
{
    uint8_t mbr[512];
    int r;

    if (disk->size < 512)
        return vk_error(-ENOENT, "%s: too small to hold a partition table", disk->name);
    if ((r = vk_bd_pread(disk, mbr, sizeof mbr, 0)) < 0)
        return r;
    if (mbr[510] != 0x55 || mbr[511] != 0xaa)
        return vk_error(-ENOENT, "%s: no partition table", disk->name);
    if (n < 1 || n > 4)
        return vk_error(-ENOENT, "%s: no partition %u", disk->name, n);
    const uint8_t *e = mbr + 446 + 16 * (n - 1);
    uint32_t start = e[8] | e[9] << 8 | e[10] << 16 | (uint32_t)e[11] << 24;
    uint32_t count = e[12] | e[13] << 8 | e[14] << 16 | (uint32_t)e[15] << 24;
    if (e[4] == 0 || count == 0)
        return vk_error(-ENOENT, "%s: no partition %u", disk->name, n);
    *offset = (uint64_t)start * 512;
    *length = (uint64_t)count * 512;
    if (*offset > disk->size || *length > disk->size - *offset)
        return vk_error(-EINVAL, "%s: partition %u (sectors %u-%llu) lies beyond the end of the disk",
                        disk->name, n, start, (unsigned long long)start + count - 1);
    return 0;
}
