/* Which blocks an ext2/3/4 filesystem uses, from libext2fs's block
 * bitmaps: what a block-level backup (backup/) must keep.  Everything a
 * bitmap marks in use is kept, metadata included (superblocks, group
 * descriptors, bitmaps, inode tables, the journal), so the copy is the
 * same filesystem block for block where it matters to e2fsck. */
#include "fs/ext_int.h"

#include "util/err.h"

#include <errno.h>

/* vk_fs_type.used for ext: the bitmap runs of set bits, as byte ranges.
 * A filesystem whose journal needs recovery is kept whole: the journal
 * may hold allocations the on-disk bitmaps do not show yet. */
int ext_used(struct vk_blockdev *bd, vk_used_cb cb, void *ctx, uint64_t *span)
{
    struct vk_fs *fs;
    int r = vk_fs_ext.mount(bd, false, &fs);
    if (r < 0)
        return r;
    ext2_filsys e = ((struct ext_priv *)fs->priv)->e;
    uint64_t bs = e->blocksize;
    blk64_t first = e->super->s_first_data_block, last = ext2fs_blocks_count(e->super) - 1;
    *span = (last + 1) * bs;
    if (*span > bd->size)
        *span = bd->size;   /* a truncated filesystem: what there is */
    if (ext2fs_has_feature_journal_needs_recovery(e->super)) {
        vk_warn("%s: the ext journal needs recovery: keeping every block", bd->name);
        r = cb(ctx, 0, *span);
        goto out;
    }
    /* The boot block before the first data block (1 KiB blocks) */
    if (first && (r = cb(ctx, 0, first * bs)) < 0)
        goto out;
    for (blk64_t b = first; b <= last;) {
        blk64_t a, z;
        errcode_t err = ext2fs_find_first_set_block_bitmap2(e->block_map, b, last, &a);
        if (err == ENOENT)
            break;
        if (err) {
            r = ext_err(fs, err, "/", "reading the block bitmap");
            goto out;
        }
        err = ext2fs_find_first_zero_block_bitmap2(e->block_map, a, last, &z);
        if (err == ENOENT)
            z = last + 1;
        else if (err) {
            r = ext_err(fs, err, "/", "reading the block bitmap");
            goto out;
        }
        uint64_t off = a * bs, len = (z - a) * bs;
        if (off >= *span)
            break;
        if (len > *span - off)
            len = *span - off;
        if ((r = cb(ctx, off, len)) < 0)
            goto out;
        b = z;
    }
    r = 0;
out:
    vk_fs_unmount(fs);
    return r;
}
