/* Which sectors a FAT filesystem uses, from its FAT: the reserved area,
 * the FATs and the FAT12/16 root directory always, then every cluster
 * whose FAT entry is not free.  What a block-level backup must keep. */
#include "fs/fat_int.h"

#include "util/err.h"

/* vk_fs_type.used for FAT (see fat_int.h). */
int vk_fat_used(struct vk_blockdev *bd, vk_used_cb cb, void *ctx, uint64_t *span)
{
    struct vk_fs *fs;
    int r = vk_fat_mount(bd, false, &fs);
    if (r < 0)
        return r;
    struct fat_vol *v = VOL(fs);
    uint64_t bps = v->g.bps, cb_bytes = fat_cbytes(v);
    *span = (uint64_t)v->g.total_sectors * bps;
    if (*span > bd->size)
        *span = bd->size;
    uint64_t run_off = 0, run_len = (uint64_t)v->g.data_sector * bps;
    for (uint32_t c = 2; c <= v->g.clusters + 1; c++) {
        if (!fat_get(v, c))
            continue;
        uint64_t off = fat_coff(v, c);
        if (off >= *span)
            break;
        if (off == run_off + run_len) {
            run_len += cb_bytes;
            continue;
        }
        if ((r = cb(ctx, run_off, run_len)) < 0)
            goto out;
        run_off = off;
        run_len = cb_bytes;
    }
    if (run_off + run_len > *span)
        run_len = *span > run_off ? *span - run_off : 0;
    r = run_len ? cb(ctx, run_off, run_len) : 0;
    if (r > 0)
        r = 0;
out:
    vk_fs_unmount(fs);
    return r;
}
