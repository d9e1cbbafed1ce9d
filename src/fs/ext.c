/* ext2/ext3/ext4 through libext2fs: probe, mkfs, mount.  File operations
 * are in ext_ops.c, the io_manager over vk_blockdev in ext_io.c. */
#include "fs/ext_int.h"

#include "fs/fsck.h"
#include "util/err.h"
#include "util/run.h"

#include <et/com_err.h>
#include <ext2fs/ext2_err.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

int ext_errno(errcode_t e)
{
    switch (e) {
    case 0: return 0;
    case EXT2_ET_BLOCK_ALLOC_FAIL:
    case EXT2_ET_INODE_ALLOC_FAIL:
    case EXT2_ET_DIR_NO_SPACE_FOR_CSUM:
    case EXT2_ET_EA_NO_SPACE:
        return -ENOSPC;
    case EXT2_ET_NO_MEMORY: return -ENOMEM;
    case EXT2_ET_FILE_NOT_FOUND: return -ENOENT;
    case EXT2_ET_NO_DIRECTORY: return -ENOTDIR;
    case EXT2_ET_DIR_EXISTS: return -EEXIST;
    case EXT2_ET_RO_FILSYS: return -EROFS;
    case EXT2_ET_FILE_TOO_BIG: return -EFBIG;
    case EXT2_ET_SYMLINK_LOOP: return -ELOOP;
    case EXT2_ET_SHORT_READ:
    case EXT2_ET_SHORT_WRITE:
        return -EIO;
    default:
        if (e > 0 && e < 4096)
            return -(int)e;
        return -EIO;
    }
}

static void register_table(void)
{
    initialize_ext2_error_table();
}

/* com_err prints "Unknown code ext2 60" until the table is registered;
 * registering edits com_err's global list, so once, whatever the thread. */
static const char *emsg(errcode_t e)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_table);
    return error_message(e);
}

int ext_err(struct vk_fs *fs, errcode_t e, const char *path, const char *what)
{
    int r = ext_errno(e);
    if (r == -ENOSPC)
        return vk_error(r, "%s:%s: %s: no space left on the filesystem", fs->bd->name, path, what);
    /* The I/O channel recorded why the device failed (a damaged backup
     * chunk, a read past the end): that says more than "short read". */
    if ((e == EXT2_ET_SHORT_READ || e == EXT2_ET_SHORT_WRITE) && *vk_errmsg()) {
        char dev[512];
        snprintf(dev, sizeof dev, "%s", vk_errmsg());
        return vk_error(r, "%s:%s: %s: %s", fs->bd->name, path, what, dev);
    }
    return vk_error(r, "%s:%s: %s: %s", fs->bd->name, path, what, emsg(e));
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static void uuid_unparse_lower(const uint8_t u[16], char *out)
{
    static const int dash[16] = { [4] = 1, [6] = 1, [8] = 1, [10] = 1 };
    for (int i = 0; i < 16; i++)
        out += sprintf(out, "%s%02x", dash[i] ? "-" : "", u[i]);
}

/* Random version-4 UUID (libuuid is not linked). */
static void uuid_generate(uint8_t u[16])
{
    if (getrandom(u, 16, 0) != 16) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (int i = 0; i < 16; i++)
            u[i] = (uint8_t)((ts.tv_nsec >> (i % 4 * 8)) ^ (ts.tv_sec >> i) ^ (i * 37));
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
}

static int uuid_parse(const char *s, uint8_t u[16])
{
    for (int i = 0; i < 16; i++) {
        if (*s == '-' && (i == 4 || i == 6 || i == 8 || i == 10))
            s++;
        unsigned v;
        if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]) ||
            sscanf(s, "%2x", &v) != 1)
            return -1;
        u[i] = (uint8_t)v;
        s += 2;
    }
    return *s ? -1 : 0;
}

/* The name blkid gives: ext4 if anything beyond ext3's feature set is on,
 * ext3 with a journal, ext2 otherwise. */
static const char *ext_kind(uint32_t compat, uint32_t incompat, uint32_t ro_compat)
{
    if (incompat & ~(uint32_t)(EXT2_FEATURE_INCOMPAT_FILETYPE | EXT3_FEATURE_INCOMPAT_RECOVER |
                               EXT2_FEATURE_INCOMPAT_META_BG) ||
        ro_compat & ~(uint32_t)(EXT2_FEATURE_RO_COMPAT_SPARSE_SUPER |
                                EXT2_FEATURE_RO_COMPAT_LARGE_FILE))
        return "ext4";
    return compat & EXT3_FEATURE_COMPAT_HAS_JOURNAL ? "ext3" : "ext2";
}

/* Reads only the superblock, so a damaged filesystem still probes. */
static int ext_probe(struct vk_blockdev *bd, struct vk_fsprobe *out)
{
    uint8_t sb[1024];
    if (bd->size < 2048)
        return 0;
    int r = vk_bd_pread(bd, sb, sizeof sb, 1024);
    if (r < 0)
        return r;
    if (le16(sb + 56) != EXT2_SUPER_MAGIC)
        return 0;
    uint32_t log = le32(sb + 24);
    uint32_t compat = le32(sb + 92), incompat = le32(sb + 96), ro = le32(sb + 100);
    if (log > 6 || incompat & EXT3_FEATURE_INCOMPAT_JOURNAL_DEV)
        return 0;
    uint64_t bs = 1024ull << log;
    uint64_t blocks = le32(sb + 4), freeb = le32(sb + 12);
    if (incompat & EXT4_FEATURE_INCOMPAT_64BIT) {
        blocks |= (uint64_t)le32(sb + 0x150) << 32;
        freeb |= (uint64_t)le32(sb + 0x158) << 32;
    }
    snprintf(out->type, sizeof out->type, "%s", ext_kind(compat, incompat, ro));
    memcpy(out->label, sb + 120, 16);
    out->label[16] = 0;
    uuid_unparse_lower(sb + 104, out->uuid);
    out->size = blocks * bs;
    out->used = (blocks - (freeb > blocks ? blocks : freeb)) * bs;
    out->used_known = true;
    return 50;
}

static int parse_uuid(const char *s, uint8_t u[16])
{
    if (!strcmp(s, "clear")) {
        memset(u, 0, 16);
        return 0;
    }
    if (!strcmp(s, "random") || !strcmp(s, "time")) {
        uuid_generate(u);
        return 0;
    }
    return uuid_parse(s, u) ? -1 : 0;
}

static errcode_t make_lost_found(ext2_filsys fs)
{
    ext2_ino_t ino;
    errcode_t e = ext2fs_mkdir(fs, EXT2_ROOT_INO, 0, "lost+found");
    if (e)
        return e;
    if ((e = ext2fs_lookup(fs, EXT2_ROOT_INO, "lost+found", 10, 0, &ino)))
        return e;
    /* e2fsck wants room for orphans without allocating: 16 KiB as mke2fs. */
    for (unsigned lpf = 2; lpf * fs->blocksize <= 16384; lpf++)
        if ((e = ext2fs_expand_dir(fs, ino)))
            return e;
    return 0;
}

static int do_mkfs(struct vk_blockdev *bd, const struct vk_mkfs_opts *o, ext2_filsys *out)
{
    const char *t = o->type;
    bool ext3 = !strcmp(t, "ext3"), ext4 = !strcmp(t, "ext4");
    struct ext2_super_block param;
    uint32_t bs = o->block_size;
    uint32_t ratio = 16384;
    uint64_t size = bd->size;
    char name[64];
    errcode_t e;

    if (size < 64 * 1024 || size / 1024 > (1ull << 48))
        return vk_error(-EINVAL, "%s: %llu bytes is not a sensible size for %s", bd->name,
                        (unsigned long long)size, t);
    if (!bs) {
        bs = size < 512ull << 20 ? 1024 : 4096;
        ratio = size < 3ull << 20 ? 8192 : size < 512ull << 20 ? 4096 : 16384;
    }
    if (bs != 1024 && bs != 2048 && bs != 4096 && bs != 65536 && bs != 8192 &&
        bs != 16384 && bs != 32768)
        return vk_error(-EINVAL, "%s: block size %u is not one of 1024, 2048, 4096 ... 65536",
                        bd->name, bs);
    if (o->reserved_pct > 50)
        return vk_error(-EINVAL, "%s: reserved blocks %.1f%% over 50%%", bd->name, o->reserved_pct);
    if (o->label && strlen(o->label) > 16)
        return vk_error(-EINVAL, "%s: label '%s' longer than 16 bytes", bd->name, o->label);
    uint8_t uuid[16];
    if (o->uuid ? parse_uuid(o->uuid, uuid) < 0 : (uuid_generate(uuid), 0))
        return vk_error(-EINVAL, "%s: '%s' is not a UUID", bd->name, o->uuid);

    memset(&param, 0, sizeof param);
    uint64_t nblocks = size / bs;
    ext2fs_blocks_count_set(&param, nblocks);
    param.s_log_block_size = (uint32_t)__builtin_ctz(bs) - 10;
    param.s_rev_level = EXT2_DYNAMIC_REV;
    param.s_inode_size = 256;
    ext2fs_set_feature_sparse_super(&param);
    ext2fs_set_feature_large_file(&param);
    ext2fs_set_feature_filetype(&param);
    ext2fs_set_feature_resize_inode(&param);
    ext2fs_set_feature_dir_index(&param);
    ext2fs_set_feature_xattr(&param);
    if (ext3 || ext4)
        ext2fs_set_feature_journal(&param);
    if (ext4) {
        ext2fs_set_feature_extents(&param);
        ext2fs_set_feature_huge_file(&param);
        ext2fs_set_feature_flex_bg(&param);
        ext2fs_set_feature_metadata_csum(&param);
        ext2fs_set_feature_64bit(&param);
        ext2fs_set_feature_dir_nlink(&param);
        ext2fs_set_feature_extra_isize(&param);
        param.s_log_groups_per_flex = 4;
        param.s_min_extra_isize = param.s_want_extra_isize = 32;
    }
    uint64_t inodes = o->inodes ? o->inodes : size / ratio;
    if (inodes > UINT32_MAX)
        inodes = UINT32_MAX;
    if (inodes < 16)
        inodes = 16;
    param.s_inodes_count = (uint32_t)inodes;
    double pct = o->reserved_pct < 0 ? 5.0 : o->reserved_pct;
    ext2fs_r_blocks_count_set(&param, (blk64_t)(pct * (double)nblocks / 100.0));

    ext_io_name(bd, name, sizeof name);
    ext2_filsys fs;
    e = ext2fs_initialize(name, EXT2_FLAG_64BITS, &param, vk_ext_io_manager, &fs);
    if (e)
        return vk_error(ext_errno(e) == -EIO ? -EINVAL : ext_errno(e),
                        "%s: cannot lay out %s in %llu bytes: %s", bd->name, t,
                        (unsigned long long)size, emsg(e));
    *out = fs;
    struct ext2_super_block *s = fs->super;
    memcpy(s->s_uuid, uuid, 16);
    if (ext2fs_has_feature_csum_seed(s))
        s->s_checksum_seed = ext2fs_crc32c_le(~0, s->s_uuid, sizeof s->s_uuid);
    if (ext4)
        s->s_checksum_type = EXT2_CRC32C_CHKSUM;
    ext2fs_init_csum_seed(fs);
    uuid_generate((uint8_t *)s->s_hash_seed);
    s->s_def_hash_version = EXT2_HASH_HALF_MD4;
    s->s_flags |= ((char)-1 < 0) ? EXT2_FLAGS_SIGNED_HASH : EXT2_FLAGS_UNSIGNED_HASH;
    if (o->label)
        strncpy((char *)s->s_volume_name, o->label, sizeof s->s_volume_name);
    s->s_max_mnt_count = (uint16_t)-1;
    s->s_checkinterval = 0;
    s->s_mkfs_time = s->s_lastcheck = (uint32_t)time(NULL);
    s->s_errors = EXT2_ERRORS_CONTINUE;
    if (ext4)
        s->s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;

    if ((e = ext2fs_allocate_tables(fs)))
        goto fail;
    if ((e = ext2fs_convert_subcluster_bitmap(fs, &fs->block_map)))
        goto fail;
    /* Zero the inode tables (cheap: write_zeroes punches holes), so the
     * kernel never has to and stale data from a previous filesystem in the
     * same partition cannot reappear as inodes. */
    for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
        e = ext2fs_zero_blocks2(fs, ext2fs_inode_table_loc(fs, g), (int)fs->inode_blocks_per_group,
                                NULL, NULL);
        if (e)
            goto fail;
        ext2fs_bg_flags_set(fs, g, EXT2_BG_INODE_ZEROED);
        ext2fs_group_desc_csum_set(fs, g);
    }
    if ((e = ext2fs_mkdir(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, 0)))
        goto fail;
    if ((e = make_lost_found(fs)))
        goto fail;
    for (ext2_ino_t i = EXT2_ROOT_INO + 1; i < EXT2_FIRST_INODE(s); i++)
        ext2fs_inode_alloc_stats2(fs, i, +1, 0);
    ext2fs_mark_inode_bitmap2(fs->inode_map, EXT2_BAD_INO);
    ext2fs_inode_alloc_stats2(fs, EXT2_BAD_INO, +1, 0);
    if ((e = ext2fs_update_bb_inode(fs, NULL)))
        goto fail;
    if (ext2fs_has_feature_resize_inode(s) && (e = ext2fs_create_resize_inode(fs)))
        goto fail;
    /* Clear the first sectors (old boot sectors and superblocks of other
     * filesystems) as mke2fs does, keeping a boot loader's sector 0 out of
     * it only for 1 KiB blocks where the superblock is block 1. */
    {
        static const uint8_t zero[1024];
        if (vk_bd_pwrite(bd, zero, sizeof zero, 0) < 0) {
            e = EXT2_ET_SHORT_WRITE;
            goto fail;
        }
    }
    if (ext2fs_has_feature_journal(s)) {
        struct ext2fs_journal_params jp;
        e = ext2fs_get_journal_params(&jp, fs);
        if (e == EXT2_ET_JOURNAL_TOO_SMALL) {
            /* As mke2fs: a floppy-sized filesystem gets no journal. */
            vk_warn("%s: filesystem too small for a journal; made without one", bd->name);
            ext2fs_clear_feature_journal(s);
            e = 0;
        } else if (e) {
            goto fail;
        } else if ((e = ext2fs_add_journal_inode3(fs, &jp, ~0ULL, EXT2_MKJOURNAL_NO_MNT_CHECK))) {
            goto fail;
        }
    }
    return 0;
fail:
    return vk_error(ext_errno(e), "%s: making %s: %s", bd->name, t, emsg(e));
}

static int ext_mkfs(struct vk_blockdev *bd, const struct vk_mkfs_opts *o)
{
    ext2_filsys fs = NULL;
    int r = do_mkfs(bd, o, &fs);
    if (!fs)
        return r;
    if (r < 0) {
        ext2fs_free(fs);
        return r;
    }
    fs->flags &= ~EXT2_FLAG_MASTER_SB_ONLY;
    errcode_t e = ext2fs_close_free(&fs);
    if (e)
        return vk_error(ext_errno(e), "%s: writing the new filesystem: %s", bd->name,
                        emsg(e));
    return 0;
}

/* Damage an interrupted write can leave (a bitmap written, its group
 * descriptor not yet): reading goes on, writing waits for e2fsck. */
static bool csum_damage(errcode_t e)
{
    return e == EXT2_ET_SB_CSUM_INVALID ||
           e == EXT2_ET_BLOCK_BITMAP_CSUM_INVALID || e == EXT2_ET_INODE_BITMAP_CSUM_INVALID ||
           e == EXT2_ET_BAD_BLOCK_NUM || e == EXT2_ET_GDESC_BAD_BLOCK_MAP ||
           e == EXT2_ET_GDESC_BAD_INODE_MAP || e == EXT2_ET_GDESC_BAD_INODE_TABLE;
}

static int refuse_damaged(struct vk_blockdev *bd, const char *what, errcode_t e)
{
    return vk_error(-EUCLEAN, "%s: %s: %s; the filesystem can be read but not written until "
                    "it is repaired: run 'vmkit fs check --repair %s'", bd->name, what, emsg(e),
                    bd->name);
}

static int ext_mount(struct vk_blockdev *bd, bool writable, struct vk_fs **out)
{
    char name[64];
    ext2_filsys efs;
    ext_io_name(bd, name, sizeof name);
    /* Read-only, checksum mismatches are no reason to refuse: after a
     * crash the data is still there to read. */
    int flags = EXT2_FLAG_64BITS | (writable ? EXT2_FLAG_RW : EXT2_FLAG_IGNORE_CSUM_ERRORS);
    errcode_t e = ext2fs_open2(name, NULL, flags, 0, 0, vk_ext_io_manager, &efs);
    if (e) {
        if (writable && csum_damage(e))
            return refuse_damaged(bd, "cannot open the ext filesystem for writing", e);
        int r = ext_errno(e);
        if (r == -EIO || e == EXT2_ET_BAD_MAGIC || e == EXT2_ET_SB_CSUM_INVALID ||
            e == EXT2_ET_CORRUPT_SUPERBLOCK)
            r = -EUCLEAN;
        return vk_error(r, "%s: cannot open the ext filesystem: %s", bd->name, emsg(e));
    }
    /* e2fsck's check libext2fs leaves out: with any other first data
     * block, reading the bitmaps overflows libext2fs's buffers
     * (fuzz/corpus/fuzz_ext/first_data_block). */
    unsigned want = efs->super->s_log_block_size == 0 && EXT2FS_CLUSTER_RATIO(efs) == 1;
    if (efs->super->s_first_data_block != want) {
        unsigned got = efs->super->s_first_data_block;
        ext2fs_close_free(&efs);
        return vk_error(-EUCLEAN, "%s: ext superblock: first data block %u, should be %u "
                        "(e2fsck refuses it too)", bd->name, got, want);
    }
    if (writable && ext2fs_has_feature_journal_needs_recovery(efs->super)) {
        ext2fs_close_free(&efs);
        return vk_error(-EBUSY, "%s: the ext journal needs recovery (mounted, or not cleanly "
                        "unmounted): run e2fsck first", bd->name);
    }
    if (!writable && ext2fs_has_feature_journal_needs_recovery(efs->super))
        vk_warn("%s: the ext journal needs recovery; recent changes may not be visible",
                bd->name);
    if ((e = ext2fs_read_bitmaps(efs))) {
        ext2fs_close_free(&efs);
        if (writable && csum_damage(e))
            return refuse_damaged(bd, "reading the ext allocation bitmaps", e);
        return vk_error(-EUCLEAN, "%s: reading the ext allocation bitmaps: %s", bd->name,
                        emsg(e));
    }
    struct vk_fs *fs = calloc(1, sizeof *fs);
    struct ext_priv *pv = calloc(1, sizeof *pv);
    if (!fs || !pv) {
        free(fs);
        free(pv);
        ext2fs_close_free(&efs);
        return vk_error(-ENOMEM, "%s: out of memory", bd->name);
    }
    fs->ops = &vk_ext_ops;
    fs->type = &vk_fs_ext;
    fs->bd = bd;
    fs->writable = writable;
    pv->e = efs;
    fs->priv = pv;
    *out = fs;
    return 0;
}

/* resize2fs on a copy (fs/fsck.h), after e2fsck -fn found it clean:
 * resize2fs refuses (or damages) a filesystem with errors. */
static int ext_resize(struct vk_blockdev *bd, uint64_t size, char **output)
{
    struct vk_fs_copy c;
    char *out = NULL, *more = NULL;
    int st = 0, r = vk_fs_copy_out(bd, &c);
    if (r >= 0)
        r = vk_run_capture((const char *[]){ "e2fsck", "-f", "-n", c.path, NULL }, NULL, &st, &out);
    if (r >= 0 && st)
        r = vk_error(-EUCLEAN, "%s: the filesystem has errors (e2fsck exit %d): run 'vmkit fs "
                     "check --repair %s' first", bd->name, st, bd->name);
    char sz[32] = "";
    if (size)
        snprintf(sz, sizeof sz, "%lluK", (unsigned long long)(size / 1024));
    if (r >= 0)
        r = vk_run_capture((const char *[]){ "resize2fs", "-f", c.path, size ? sz : NULL, NULL }, NULL,
                           &st, &more);
    if (r >= 0 && st)
        r = vk_error(-EIO, "%s: resize2fs failed (exit %d)", bd->name, st);
    if (r >= 0)
        r = vk_fs_copy_in(&c);
    if (more) {
        free(out);
        out = more;
    }
    vk_fs_copy_rename(&c, &out);
    vk_fs_copy_free(&c);
    *output = out;
    return r;
}

static const char *const names[] = { "ext2", "ext3", "ext4", NULL };

const struct vk_fs_type vk_fs_ext = {
    .name = "ext",
    .mkfs_names = names,
    .probe = ext_probe,
    .mkfs = ext_mkfs,
    .mount = ext_mount,
    .resize = ext_resize,
    .used = ext_used,
};
