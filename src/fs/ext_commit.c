/* Crash ordering of the ext driver (the scheme is in ext_int.h): the
 * barrier, work deferred until after it, and the shadow inodes that new
 * file content is built in before it is published.
 *
 * A shadow inode is allocated in the inode bitmap but is not in use: its
 * link count is 0 and its deletion time set.  e2fsck skips such an inode
 * (its blocks are not counted as in use, so a crash leaves at worst a
 * leak that e2fsck -fy gives back), and the kernel never looks at it.
 * Publishing it is one commit write: for a new file the inode made live
 * plus its directory entry; for a replaced file the target inode's block
 * map, size and block count swapped for the shadow's in one inode write,
 * which keeps the inode number, links, owner and extended attributes.
 * The old block map moves into the shadow, which is freed after the
 * next barrier. */
#include "fs/ext_int.h"

#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* More than this many held blocks or deferred inodes: barrier now, so
 * memory stays bounded (a batch of a few thousand files per barrier). */
#define HELD_MAX 2048
#define DEFER_MAX 1024

static int rd(struct vk_fs *fs, ext2_ino_t ino, struct ext2_inode_large *in, const char *p)
{
    memset(in, 0, sizeof *in);
    errcode_t e = ext2fs_read_inode_full(EXTFS(fs), ino, (struct ext2_inode *)in, sizeof *in);
    return e ? ext_err(fs, e, p, "reading inode") : 0;
}

static int wr(struct vk_fs *fs, ext2_ino_t ino, struct ext2_inode_large *in, const char *p)
{
    errcode_t e = ext2fs_write_inode_full(EXTFS(fs), ino, (struct ext2_inode *)in, sizeof *in);
    return e ? ext_err(fs, e, p, "writing inode") : 0;
}

void ext_commit(struct vk_fs *fs, bool on)
{
    ext_io_commit(EXTFS(fs)->io, on);
}

int ext_defer(struct vk_fs *fs, ext2_ino_t ino, bool isdir, bool shadow)
{
    struct ext_priv *pv = fs->priv;
    struct ext_deferred *v = vk_grow(pv->dq, &pv->capdq, pv->ndq + 1, sizeof *v, 64);
    if (!v)
        return vk_error(-ENOMEM, "%s: out of memory", fs->bd->name);
    pv->dq = v;
    pv->dq[pv->ndq++] = (struct ext_deferred){ .ino = ino, .isdir = isdir, .shadow = shadow };
    return 0;
}

static void free_range(ext2_filsys e, blk64_t b, blk64_t n)
{
    blk64_t first = e->super->s_first_data_block, end = ext2fs_blocks_count(e->super);
    if (b < first || b >= end || n > end - b)
        return;     /* not ours to free: leave it to e2fsck */
    while (n) {
        blk_t k = n > (1u << 30) ? 1u << 30 : (blk_t)n;
        ext2fs_block_alloc_stats_range(e, b, k, -1);
        b += k;
        n -= k;
    }
}

static int free_block_proc(ext2_filsys e, blk64_t *b, e2_blkcnt_t cnt, blk64_t ref, int off,
                           void *priv)
{
    (void)cnt; (void)ref; (void)off; (void)priv;
    free_range(e, *b, 1);
    return 0;
}

/* Free every block a shadow inode maps, walking its map read-only (the
 * tree may be half-built after a failed write, or carry the checksums of
 * the inode it came from), then write it empty. */
static errcode_t release_blocks(ext2_filsys e, ext2_ino_t ino, struct ext2_inode_large *in)
{
    errcode_t err = 0;
    int ign = e->flags & EXT2_FLAG_IGNORE_CSUM_ERRORS;
    e->flags |= EXT2_FLAG_IGNORE_CSUM_ERRORS;
    if (in->i_flags & EXT4_INLINE_DATA_FL) {
        /* no blocks */
    } else if (in->i_flags & EXT4_EXTENTS_FL) {
        ext2_extent_handle_t h;
        if (!(err = ext2fs_extent_open2(e, ino, (struct ext2_inode *)in, &h))) {
            struct ext2fs_extent ex;
            int op = EXT2_EXTENT_ROOT;
            while (!ext2fs_extent_get(h, op, &ex)) {
                op = EXT2_EXTENT_NEXT;
                if (ex.e_flags & EXT2_EXTENT_FLAGS_SECOND_VISIT)
                    continue;
                free_range(e, ex.e_pblk, ex.e_flags & EXT2_EXTENT_FLAGS_LEAF ? ex.e_len : 1);
            }
            ext2fs_extent_free(h);
        }
    } else if (ext2fs_inode_has_valid_blocks2(e, (struct ext2_inode *)in)) {
        err = ext2fs_block_iterate3(e, ino, BLOCK_FLAG_READ_ONLY, NULL, free_block_proc, NULL);
    }
    e->flags = (e->flags & ~EXT2_FLAG_IGNORE_CSUM_ERRORS) | ign;
    if (err)
        return err;
    memset(in->i_block, 0, sizeof in->i_block);
    in->i_flags &= ~(EXT4_EXTENTS_FL | EXT4_INLINE_DATA_FL);
    in->i_blocks = 0;
    in->osd2.linux2.l_i_blocks_hi = 0;
    in->i_size = in->i_size_high = 0;
    return ext2fs_write_inode_full(e, ino, (struct ext2_inode *)in, sizeof *in);
}

/* Free the blocks of a removed inode (in memory; written at the next
 * barrier). */
static errcode_t punch_all(ext2_filsys e, ext2_ino_t ino, struct ext2_inode_large *in)
{
    if (!ext2fs_inode_has_valid_blocks2(e, (struct ext2_inode *)in) &&
        !(in->i_flags & EXT4_INLINE_DATA_FL))
        return 0;
    return ext2fs_punch(e, ino, (struct ext2_inode *)in, NULL, 0, ~0ULL);
}

int ext_shadow_free(struct vk_fs *fs, ext2_ino_t ino)
{
    ext2_filsys e = EXTFS(fs);
    struct ext2_inode_large in;
    int r = rd(fs, ino, &in, "(new content)");
    if (r < 0)
        return r;
    errcode_t err = release_blocks(e, ino, &in);
    if (err)
        return ext_err(fs, err, "(new content)", "freeing blocks");
    ext2fs_inode_alloc_stats2(e, ino, -1, 0);
    return 0;
}

int ext_drop_inode(struct vk_fs *fs, ext2_ino_t ino, const char *np, bool isdir)
{
    ext2_filsys e = EXTFS(fs);
    struct ext2_inode_large in;
    int r = rd(fs, ino, &in, np);
    if (r < 0)
        return r;
    in.i_ctime = (uint32_t)time(NULL);
    if (!isdir && in.i_links_count > 1) {
        in.i_links_count--;
        return wr(fs, ino, &in, np);
    }
    in.i_links_count = 0;
    errcode_t err = punch_all(e, ino, &in);
    if (err)
        return ext_err(fs, err, np, "freeing blocks");
    blk64_t acl = ext2fs_file_acl_block(e, (struct ext2_inode *)&in);
    if (acl) {
        __u32 count = 0;
        err = ext2fs_adjust_ea_refcount3(e, acl, NULL, -1, &count, ino);
        if (err)
            return ext_err(fs, err, np, "releasing extended attributes");
        if (!count)
            ext2fs_block_alloc_stats2(e, acl, -1);
        ext2fs_file_acl_block_set(e, (struct ext2_inode *)&in, 0);
    }
    in.i_dtime = (uint32_t)time(NULL);
    in.i_size = 0;
    in.i_size_high = 0;
    if ((r = wr(fs, ino, &in, np)) < 0)
        return r;
    ext2fs_inode_alloc_stats2(e, ino, -1, isdir);
    return 0;
}

int ext_barrier(struct vk_fs *fs)
{
    struct ext_priv *pv = fs->priv;
    ext2_filsys e = pv->e;
    /* Nothing changed (a command that failed early): write nothing. */
    if (!(e->flags & EXT2_FLAG_DIRTY) && !ext_io_held(e->io) && !pv->ndq)
        return 0;
    /* Bitmaps, group descriptors and the primary superblock (backups are
     * for the final close), then the io manager's barrier. */
    int master = e->flags & EXT2_FLAG_MASTER_SB_ONLY;
    e->flags |= EXT2_FLAG_MASTER_SB_ONLY;
    errcode_t err = ext2fs_flush2(e, EXT2_FLAG_FLUSH_NO_SYNC);
    e->flags = (e->flags & ~EXT2_FLAG_MASTER_SB_ONLY) | master;
    if (!err)
        err = io_channel_flush(e->io);
    e->flags |= EXT2_FLAG_DIRTY;
    if (err)
        return ext_err(fs, err, "/", "writing the filesystem metadata");
    /* What the commit writes stopped referencing can go now. */
    int r = 0;
    size_t n = pv->ndq;
    pv->ndq = 0;
    for (size_t i = 0; i < n; i++) {
        struct ext_deferred *d = &pv->dq[i];
        int k = d->shadow ? ext_shadow_free(fs, d->ino) : ext_drop_inode(fs, d->ino, "(removed)", d->isdir);
        if (k < 0 && r >= 0)
            r = k;
    }
    return r;
}

int ext_maybe_barrier(struct vk_fs *fs)
{
    struct ext_priv *pv = fs->priv;
    if (ext_io_held(pv->e->io) > HELD_MAX || pv->ndq > DEFER_MAX)
        return ext_barrier(fs);
    return 0;
}

int ext_new_inode(struct vk_fs *fs, ext2_ino_t dir, uint32_t mode, bool shadow, const char *np,
                  ext2_ino_t *out, struct ext2_inode_large *in)
{
    ext2_filsys e = EXTFS(fs);
    ext2_ino_t ino;
    errcode_t err = ext2fs_new_inode(e, dir, (int)mode, NULL, &ino);
    if (err)
        return ext_err(fs, err, np, "allocating an inode");
    ext2fs_inode_alloc_stats2(e, ino, +1, 0);
    memset(in, 0, sizeof *in);
    in->i_mode = (uint16_t)mode;
    in->i_links_count = shadow ? 0 : 1;
    in->i_extra_isize = EXT2_INODE_SIZE(e->super) > EXT2_GOOD_OLD_INODE_SIZE
                            ? sizeof(struct ext2_inode_large) - EXT2_GOOD_OLD_INODE_SIZE : 0;
    if (in->i_extra_isize > EXT2_INODE_SIZE(e->super) - EXT2_GOOD_OLD_INODE_SIZE)
        in->i_extra_isize = (uint16_t)(EXT2_INODE_SIZE(e->super) - EXT2_GOOD_OLD_INODE_SIZE);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    bool x = in->i_extra_isize >= 24;
    ext_ts_set(&in->i_atime, &in->i_atime_extra, x, &now);
    ext_ts_set(&in->i_mtime, &in->i_mtime_extra, x, &now);
    ext_ts_set(&in->i_ctime, &in->i_ctime_extra, x, &now);
    ext_ts_set(&in->i_crtime, &in->i_crtime_extra, x, &now);
    if (shadow)
        in->i_dtime = (uint32_t)now.tv_sec;
    if (LINUX_S_ISREG(mode) && ext2fs_has_feature_extents(e->super)) {
        ext2_extent_handle_t h;
        if ((err = ext2fs_extent_open2(e, ino, (struct ext2_inode *)in, &h)))
            return ext_err(fs, err, np, "initialising extents");
        ext2fs_extent_free(h);
    }
    if ((err = ext2fs_write_new_inode(e, ino, (struct ext2_inode *)in)))
        return ext_err(fs, err, np, "writing the new inode");
    *out = ino;
    return 0;
}

/* Give the extent tree blocks of shadow the checksums they need under
 * target's inode number (metadata_csum seeds them with it). */
static int recsum_tree(struct vk_fs *fs, ext2_ino_t shadow, struct ext2_inode_large *sin,
                       ext2_ino_t target, const char *np)
{
    ext2_filsys e = EXTFS(fs);
    if (!ext2fs_has_feature_metadata_csum(e->super) || !(sin->i_flags & EXT4_EXTENTS_FL))
        return 0;
    ext2_extent_handle_t h;
    errcode_t err = ext2fs_extent_open2(e, shadow, (struct ext2_inode *)sin, &h);
    if (err)
        return ext_err(fs, err, np, "reading the new extent tree");
    blk64_t *blk = NULL;
    size_t n = 0, cap = 0;
    struct ext2fs_extent ex;
    int op = EXT2_EXTENT_ROOT, r = 0;
    while (!(err = ext2fs_extent_get(h, op, &ex))) {
        op = EXT2_EXTENT_NEXT;
        if (ex.e_flags & (EXT2_EXTENT_FLAGS_LEAF | EXT2_EXTENT_FLAGS_SECOND_VISIT))
            continue;
        blk64_t *nb = vk_grow(blk, &cap, n + 1, sizeof *nb, 16);
        if (!nb) {
            r = vk_error(-ENOMEM, "%s: out of memory", fs->bd->name);
            break;
        }
        blk = nb;
        blk[n++] = ex.e_pblk;
    }
    ext2fs_extent_free(h);
    if (!r && err != EXT2_ET_EXTENT_NO_NEXT && err != EXT2_ET_EXTENT_NO_DOWN)
        r = ext_err(fs, err, np, "reading the new extent tree");
    char *buf = NULL;
    if (!r && n && (err = ext2fs_get_mem(e->blocksize, &buf)))
        r = ext_err(fs, err, np, "checksumming the extent tree");
    for (size_t i = 0; !r && i < n; i++) {
        if ((err = io_channel_read_blk64(e->io, blk[i], 1, buf)) ||
            (err = ext2fs_extent_block_csum_set(e, target, (struct ext3_extent_header *)buf)) ||
            (err = io_channel_write_blk64(e->io, blk[i], 1, buf)))
            r = ext_err(fs, err, np, "checksumming the extent tree");
    }
    ext2fs_free_mem(&buf);
    free(blk);
    return r;
}

/* i_blocks in 512-byte units, huge_file aware. */
static int set_blocks(ext2_filsys e, struct ext2_inode_large *in, blk64_t b512)
{
    in->i_flags &= ~EXT4_HUGE_FILE_FL;
    in->i_blocks = (uint32_t)b512;
    if (ext2fs_has_feature_huge_file(e->super))
        in->osd2.linux2.l_i_blocks_hi = (uint16_t)(b512 >> 32);
    else if (b512 >> 32)
        return -EFBIG;
    return (b512 >> 48) ? -EFBIG : 0;
}

#define MAP_FLAGS (EXT4_EXTENTS_FL | EXT4_INLINE_DATA_FL | EXT4_HUGE_FILE_FL)

int ext_shadow_switch(struct vk_fs *fs, ext2_ino_t target, ext2_ino_t shadow, const char *np)
{
    ext2_filsys e = EXTFS(fs);
    struct ext2_inode_large t, s;
    int r;
    if ((r = rd(fs, target, &t, np)) < 0 || (r = rd(fs, shadow, &s, np)) < 0 ||
        (r = recsum_tree(fs, shadow, &s, target, np)) < 0)
        return r;
    blk64_t acl = ext2fs_file_acl_block(e, (struct ext2_inode *)&t) ? e->blocksize / 512 : 0;
    blk64_t tb = ext2fs_get_stat_i_blocks(e, (struct ext2_inode *)&t);
    blk64_t sb = ext2fs_get_stat_i_blocks(e, (struct ext2_inode *)&s);
    bool inline_data = t.i_flags & EXT4_INLINE_DATA_FL;
    struct ext2_inode_large nt = t, ns = s;
    memcpy(nt.i_block, s.i_block, sizeof nt.i_block);
    nt.i_size = s.i_size;
    nt.i_size_high = s.i_size_high;
    nt.i_flags = (t.i_flags & ~MAP_FLAGS) | (s.i_flags & MAP_FLAGS);
    if (set_blocks(e, &nt, sb + acl) < 0)
        return vk_error(-EFBIG, "%s:%s: file too big", fs->bd->name, np);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    bool x = nt.i_extra_isize >= 24;
    ext_ts_set(&nt.i_mtime, &nt.i_mtime_extra, x, &now);
    ext_ts_set(&nt.i_ctime, &nt.i_ctime_extra, x, &now);
    /* The shadow takes the old map (inline data has no blocks to free). */
    memcpy(ns.i_block, inline_data ? (uint32_t[EXT2_N_BLOCKS]){ 0 } : t.i_block, sizeof ns.i_block);
    ns.i_size = inline_data ? 0 : t.i_size;
    ns.i_size_high = inline_data ? 0 : t.i_size_high;
    ns.i_flags = (s.i_flags & ~MAP_FLAGS) | (inline_data ? 0 : t.i_flags & MAP_FLAGS);
    set_blocks(e, &ns, inline_data ? 0 : tb - (tb >= acl ? acl : tb));
    /* The switch: one inode write, held until the data is on disk. */
    ext_commit(fs, true);
    r = wr(fs, target, &nt, np);
    if (r >= 0 && inline_data) {
        /* Inline content also lives in the system.data attribute: drop it
         * in the same (held) inode block. */
        struct ext2_xattr_handle *h;
        errcode_t err = ext2fs_xattrs_open(e, target, &h);
        if (!err) {
            if (!(err = ext2fs_xattrs_read(h)))
                err = ext2fs_xattr_remove(h, "system.data");
            errcode_t e2 = ext2fs_xattrs_close(&h);
            if (!err)
                err = e2;
        }
        if (err)
            r = ext_err(fs, err, np, "dropping the inline data");
    }
    ext_commit(fs, false);
    if (r >= 0)
        r = wr(fs, shadow, &ns, np);
    if (r >= 0)
        r = ext_defer(fs, shadow, false, true);
    return r;
}
