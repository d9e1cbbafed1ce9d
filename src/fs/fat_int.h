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
/* Resize in place (fat_resize.c): vk_fs_type.resize. */
int vk_fat_resize(struct vk_blockdev *bd, uint64_t size, char **output);

#include "fs/fs.h"
#include "fs/path.h"

/* The sectors in use (fat_used.c): vk_fs_type.used. */
int vk_fat_used(struct vk_blockdev *bd, vk_used_cb cb, void *ctx, uint64_t *span);

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#define PMAX 4096
#define DIR_MAX_ENTRIES 65536u

struct fat_vol {
    struct fat_geom g;
    uint8_t *fat;               /* first FAT copy */
    size_t fat_bytes;
    uint8_t *fat_dirty;         /* a bit per FAT sector changed since written */
    bool any_dirty;
    uint32_t nfree, next_free;  /* free clusters, allocation hint */
    /* The write-back queue of fat_commit.c: directory writes waiting for
     * the next commit, in order (their bytes in pbuf), chains to free only
     * once those writes are durable, and whether file data was written
     * since the last barrier. */
    struct fat_pend {
        uint64_t off;
        size_t at, len;
    } *pend;
    size_t npend, cappend;
    uint8_t *pbuf;
    size_t pbuf_len, pbuf_cap;
    uint32_t *dfree;
    size_t ndfree, capdfree;
    bool data_dirty;
    /* DOS code page of 8.3 names (fat_cp.c): characters of bytes 0x80+ */
    int codepage;
    bool cp_ready;
    uint32_t cp_uni[128];
    /* Recently read directories, kept in step with every write to them,
     * so putting many files does not re-read the same directory. */
    struct dcache {
        bool valid;
        uint32_t dircl;         /* as passed to read_dir: 0 for the root */
        uint8_t *buf;
        size_t len;
        uint32_t *cls;          /* NULL for the fixed root */
    } dc[8];
    unsigned dc_next;
};

/* One directory entry as seen by lookups. */
struct fat_ent {
    char name[VK_NAME_MAX * 3 + 1];   /* UTF-8 (long name if any) */
    uint8_t attr;
    uint32_t cluster;
    uint32_t size;
    uint16_t cdate, ctime, adate, mdate, mtime;
    uint8_t ctime_cs;
    uint64_t pos;               /* byte offset of the short entry: inode number */
    uint32_t dircl;             /* first cluster of the containing dir, 0 root */
    uint64_t slot_off[21];      /* disk offsets: long-name slots, then the short entry */
    int nslots;
    uint8_t raw[32];            /* the short entry as on disk */
};

struct fat_file {
    struct fat_ent e;
    char path[PMAX];
    uint32_t cur_index, cur_cluster;   /* cache: cluster number of chain index */
    bool dirty, writable;
    /* A new version (created, or opened with VK_O_TRUNC): its chain is
     * new and becomes visible at close with one directory write (create:
     * the whole entry is added then); the old chain is freed only once
     * that write is durable.  failed: a write failed, so close drops the
     * new version and the file keeps its old content. */
    bool fresh, create, failed;
    uint32_t old_cluster;
    /* The chain's length and last cluster, once walked (growing). */
    bool tail_known;
    uint64_t ncl;
    uint32_t tail;
};

#define VOL(fs) ((struct fat_vol *)(fs)->priv)

typedef int (*ent_cb)(void *ctx, const struct fat_ent *e);

struct find_ctx {
    const char *name;
    struct fat_ent *out;
};

/* Shared between fat_vol.c, fat_dir.c, fat_ro.c.  int functions return
 * 0 or -errno with a message naming the image and path, as fs.h does.
 *
 * fat_vol.c, the FAT: fat_get/fat_set read/change entry n of the in-memory
 * table (n must be < clusters+2); fat_next follows a chain one step and
 * fails on anything but a valid cluster or end of chain; fat_alloc takes a
 * free cluster (marked end of chain), fat_free_chain releases a chain
 * (bounded); fat_flush writes the changed bytes to every FAT copy,
 * fat_flush_fsinfo the FAT32 free count and hint.
 * Directories: fat_read_dir returns malloc'd copies of a whole directory
 * (first cluster c, 0 = root) and its cluster list (NULL for the fixed
 * root); fat_dir_write writes into a directory on disk and its cached
 * copy; fat_slot_off maps a byte of such a copy to its disk offset.
 *
 * fat_dir.c: fat_walk calls cb for each live entry of a directory (1 from
 * cb stops); fat_lookup resolves a normalized path; fat_add_entry inserts
 * name with the 32-byte short entry template d into dir (long name slots,
 * short name generated), fat_delete_slots marks an entry's slots deleted,
 * fat_write_short rewrites its short entry from e->raw. */
uint32_t fat_get(const struct fat_vol *v, uint32_t n);
bool fat_is_eoc(const struct fat_vol *v, uint32_t e);
bool fat_valid(const struct fat_vol *v, uint32_t c);
int fat_next(struct vk_fs *fs, uint32_t c, uint32_t *next, const char *path);
uint64_t fat_coff(const struct fat_vol *v, uint32_t c);
uint32_t fat_cbytes(const struct fat_vol *v);
void fat_dc_drop(struct dcache *d);
void fat_dc_invalidate(struct fat_vol *v, uint32_t dircl);
int fat_read_dir(struct vk_fs *fs, uint32_t c, const char *path, uint8_t **out, size_t *len,
                    uint32_t **cls_out);
uint64_t fat_slot_off(const struct fat_vol *v, const uint32_t *cls, size_t idx);
void fat_set(struct fat_vol *v, uint32_t n, uint32_t val);
uint32_t fat_eoc(const struct fat_vol *v);
int fat_flush_fsinfo(struct vk_fs *fs);
int fat_alloc(struct vk_fs *fs, uint32_t *out, const char *path);
void fat_free_chain(struct fat_vol *v, uint32_t c);

int fat_dir_write(struct vk_fs *fs, uint32_t dircl, const void *data, size_t len, uint64_t off);
int fat_meta_pread(struct vk_fs *fs, void *buf, size_t len, uint64_t off);
void fat_pend_overlay(const struct fat_vol *v, uint8_t *buf, size_t len, uint64_t off);
int fat_data_write(struct vk_fs *fs, const void *buf, size_t len, uint64_t off);
int fat_data_zero(struct vk_fs *fs, uint64_t off, uint64_t len);
int fat_defer_free(struct vk_fs *fs, uint32_t c);
int fat_reserve(struct vk_fs *fs, uint64_t n, const char *path);
int fat_commit(struct vk_fs *fs);
int fat_commit_maybe(struct vk_fs *fs);
void fat_wb_free(struct fat_vol *v);

/* fat_ro.c reads, fat_rw.c writes: the ops behind fs.h, and
 * fat_transfer, which moves len bytes at file offset off (inside the
 * chain) between buf and the disk, one request per contiguous run. */
int fat_transfer(struct vk_fs *fs, struct fat_file *ff, void *buf, size_t len, uint64_t off, bool write);
int fat_open_for_write(struct vk_fs *fs, const char *np, int flags, struct fat_file *ff);
int64_t fat_write(struct vk_file *f, const void *buf, size_t len, uint64_t off);
int fat_close_rw(struct vk_file *f);
int fat_sync(struct vk_fs *fs);
int fat_mkdir(struct vk_fs *fs, const char *path, uint32_t mode);
int fat_unlink(struct vk_fs *fs, const char *path);
int fat_rmdir(struct vk_fs *fs, const char *path);
int fat_rename(struct vk_fs *fs, const char *from, const char *to);
int fat_setattr(struct vk_fs *fs, const char *path, int mask, const struct vk_stat *st);
int fat_check_name(struct vk_fs *fs, const char *name, const char *path);

/* fat_cp.c: the DOS code page of short names (437 unless set). */
int fat_cp_set(struct fat_vol *v, int cp, const char *devname);
uint32_t fat_cp_decode(struct fat_vol *v, uint8_t b);
int fat_cp_encode(struct fat_vol *v, uint32_t c);
int fat_walk(struct vk_fs *fs, uint32_t dircl, const char *path, ent_cb cb, void *ctx);
int fat_count_cb(void *ctx, const struct fat_ent *e);
int fat_lookup(struct vk_fs *fs, const char *npath, struct fat_ent *out);
int fat_norm(struct vk_fs *fs, const char *path, char *buf);
void fat_to_dos(time_t t, uint16_t *date, uint16_t *tm, uint8_t *cs);
void fat_ent_set_cluster(struct fat_vol *v, uint8_t *d, uint32_t c);
int fat_write_short(struct vk_fs *fs, const struct fat_ent *e);
int fat_delete_slots(struct vk_fs *fs, const struct fat_ent *e);
int fat_add_entry(struct vk_fs *fs, const struct fat_ent *dir, const char *name, uint8_t *d,
                     const char *path, struct fat_ent *out);
int fat_parent_of(struct vk_fs *fs, const char *np, struct fat_ent *dir, const char **name);
void fat_new_short(uint8_t *d, uint8_t attr, uint32_t cluster, struct fat_vol *v);
void fat_refresh_raw(struct fat_vol *v, struct fat_ent *e, bool touch);

#endif
