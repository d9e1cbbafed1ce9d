/* backup export: a snapshot as a Clonezilla image directory, the files
 * Clonezilla's savedisk writes for a disk it calls sda:
 *
 *   disk, parts                 "sda", "sda1 sda2 ..." (one line each)
 *   sda-pt.sf                   sfdisk --dump
 *   sda-chs.sf                  the geometry Clonezilla records
 *   sda-mbr                     the first sector
 *   sda-hidden-data-after-mbr   MBR disks: sectors 1 up to the first
 *                               partition (GRUB's core image lives
 *                               there), when that is at most 64 MiB
 *   sda-gpt-1st, sda-gpt-2nd    GPT disks: the first 34 and last 33 sectors
 *   sdaN.ext4-ptcl-img.zst.aa   ext2/3/4 (EXTFS) and vfat (FAT12/16/32):
 *   sdaN.vfat-ptcl-img.zst.aa   partclone images (partclone.h), zstd, split
 *   sdaN.dd-ptcl-img.zst.aa     anything else: the raw partition, as
 *                               partclone.dd writes it
 *   swappt-sdaN.info            swap: its UUID and label (Clonezilla
 *                               re-makes swap rather than storing it)
 *   dev-fs.list, clonezilla-img, Info-saved-by-cmd.txt
 *
 * The directory is built as DIR.tmp-XXXXXX and renamed to DIR when every
 * file is durable, so DIR never exists half-written; a failure removes
 * the temporary directory. */
#include "backup/backup.h"
#include "backup/partclone.h"

#include "block/blockdev.h"
#include "fs/fs.h"
#include "part/part.h"
#include "util/endian.h"
#include "util/err.h"
#include "util/strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define DISK "sda"
#define ZLEVEL 3
#define IO_BUF (1u << 20)
#define HIDDEN_MAX (64u << 20)

/* A zstd stream written as NAME.aa, NAME.ab ... of at most split bytes. */
struct zout {
    int dirfd;
    const char *dir;            /* for messages */
    char base[96];
    uint64_t split, in_piece;
    unsigned piece;
    int fd;
    ZSTD_CCtx *z;
    uint8_t *obuf;
    size_t ocap;
};

static int close_fd(const struct zout *o, int fd, const char *name)
{
    int r = 0;
    if (fsync(fd) < 0)
        r = vk_error(-errno, "%s/%s: %s", o->dir, name, strerror(errno));
    if (close(fd) < 0 && r >= 0)
        r = vk_error(-errno, "%s/%s: %s", o->dir, name, strerror(errno));
    return r;
}

static void piece_name(const struct zout *o, unsigned i, char *buf, size_t len)
{
    snprintf(buf, len, "%s.%c%c", o->base, 'a' + i / 26, 'a' + i % 26);
}

static int piece_write(struct zout *o, const uint8_t *p, size_t len)
{
    char name[112];
    while (len) {
        if (o->fd < 0 || o->in_piece == o->split) {
            if (o->fd >= 0) {
                piece_name(o, o->piece - 1, name, sizeof name);
                int r = close_fd(o, o->fd, name);
                o->fd = -1;
                if (r < 0)
                    return r;
            }
            if (o->piece >= 26 * 26)
                return vk_error(-EFBIG, "%s/%s: more than 676 pieces (.aa to .zz); use a larger "
                                "--split", o->dir, o->base);
            piece_name(o, o->piece, name, sizeof name);
            o->fd = openat(o->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (o->fd < 0)
                return vk_error(-errno, "%s/%s: %s", o->dir, name, strerror(errno));
            o->piece++;
            o->in_piece = 0;
        }
        size_t n = len < o->split - o->in_piece ? len : (size_t)(o->split - o->in_piece);
        ssize_t w = write(o->fd, p, n);
        if (w <= 0) {
            piece_name(o, o->piece - 1, name, sizeof name);
            return vk_error(w < 0 ? -errno : -EIO, "%s/%s: %s", o->dir, name,
                            w < 0 ? strerror(errno) : "short write");
        }
        p += w;
        len -= (size_t)w;
        o->in_piece += (uint64_t)w;
    }
    return 0;
}

static int zstream(struct zout *o, const void *buf, size_t len, ZSTD_EndDirective end)
{
    ZSTD_inBuffer in = { buf, len, 0 };
    size_t left;
    do {
        ZSTD_outBuffer ob = { o->obuf, o->ocap, 0 };
        left = ZSTD_compressStream2(o->z, &ob, &in, end);
        if (ZSTD_isError(left))
            return vk_error(-EIO, "%s/%s: zstd: %s", o->dir, o->base, ZSTD_getErrorName(left));
        int r = piece_write(o, ob.dst, ob.pos);
        if (r < 0)
            return r;
    } while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
    return 0;
}

static int z_out(void *ctx, const void *buf, size_t len)
{
    return zstream(ctx, buf, len, ZSTD_e_continue);
}

static int z_open(struct zout *o, int dirfd, const char *dir, const char *base, uint64_t split)
{
    memset(o, 0, sizeof *o);
    o->dirfd = dirfd;
    o->dir = dir;
    o->fd = -1;
    o->split = split;
    snprintf(o->base, sizeof o->base, "%s", base);
    o->ocap = ZSTD_CStreamOutSize();
    o->obuf = malloc(o->ocap);
    o->z = ZSTD_createCCtx();
    if (!o->obuf || !o->z)
        return vk_error(-ENOMEM, "out of memory for zstd");
    ZSTD_CCtx_setParameter(o->z, ZSTD_c_compressionLevel, ZLEVEL);
    ZSTD_CCtx_setParameter(o->z, ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(o->z, ZSTD_c_nbWorkers, 2);  /* an error without threads: fine */
    return 0;
}

/* Finish the stream (when ok) and release o. */
static int z_close(struct zout *o, int r)
{
    if (r >= 0)
        r = zstream(o, NULL, 0, ZSTD_e_end);
    if (o->fd >= 0) {
        char name[112];
        piece_name(o, o->piece - 1, name, sizeof name);
        int c = close_fd(o, o->fd, name);
        if (r >= 0)
            r = c;
    }
    ZSTD_freeCCtx(o->z);
    free(o->obuf);
    return r;
}

/* A small file of the image directory. */
static int put_file(int dirfd, const char *dir, const char *name, const void *data, size_t len)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return vk_error(-errno, "%s/%s: %s", dir, name, strerror(errno));
    int r = 0;
    const uint8_t *p = data;
    while (r >= 0 && len) {
        ssize_t w = write(fd, p, len);
        if (w <= 0)
            r = vk_error(w < 0 ? -errno : -EIO, "%s/%s: %s", dir, name,
                         w < 0 ? strerror(errno) : "short write");
        else
            p += w, len -= (size_t)w;
    }
    if (fsync(fd) < 0 && r >= 0)
        r = vk_error(-errno, "%s/%s: %s", dir, name, strerror(errno));
    close(fd);
    return r;
}

/* Sectors [first, first+count) of disk as file name. */
static int put_sectors(struct vk_blockdev *disk, int dirfd, const char *dir, const char *name,
                       uint64_t first, uint64_t count)
{
    if (count > HIDDEN_MAX / VK_SECTOR || (first + count) * VK_SECTOR > disk->size)
        return vk_error(-EINVAL, "%s: %s: sectors %llu+%llu out of range", disk->name, name,
                        (unsigned long long)first, (unsigned long long)count);
    uint8_t *buf = malloc(count * VK_SECTOR + 1);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    int r = vk_bd_pread(disk, buf, count * VK_SECTOR, first * VK_SECTOR);
    if (r >= 0)
        r = put_file(dirfd, dir, name, buf, count * VK_SECTOR);
    free(buf);
    return r;
}

/* ---- one partition ---- */

struct bitmap_ctx {
    uint8_t *bm;
    uint64_t nblocks;           /* bits allocated */
    uint32_t bs;
};

static int set_used(void *ctx, uint64_t off, uint64_t len)
{
    struct bitmap_ctx *c = ctx;
    if (!len)
        return 0;
    for (uint64_t b = off / c->bs, e = (off + len - 1) / c->bs; b <= e && b < c->nblocks; b++)
        c->bm[b / 8] |= (uint8_t)(1u << (b % 8));
    return 0;
}

/* partclone's name and block size for the filesystem on part, from its
 * superblock or boot sector. */
static int pc_kind(struct vk_blockdev *part, const char *type, struct vk_pc_info *pi)
{
    uint8_t b[512];
    int r;
    if (!strncmp(type, "ext", 3)) {
        if ((r = vk_bd_pread(part, b, sizeof b, 1024)) < 0)
            return r;
        uint32_t log = vk_get_le32(b + 24);
        if (log > 6)
            return vk_error(-EINVAL, "%s: ext block size 2^%u KiB", part->name, log);
        snprintf(pi->fs, sizeof pi->fs, "EXTFS");
        pi->block_size = 1024u << log;
        return 0;
    }
    if ((r = vk_bd_pread(part, b, sizeof b, 0)) < 0)
        return r;
    uint32_t bps = vk_get_le16(b + 11), spc = b[13], res = vk_get_le16(b + 14), nfats = b[16];
    uint32_t rootsec = (vk_get_le16(b + 17) * 32u + bps - 1) / (bps ? bps : 1);
    uint32_t fatsz = vk_get_le16(b + 22), total = vk_get_le16(b + 19);
    if (!total)
        total = vk_get_le32(b + 32);
    if (bps < 512 || bps > 4096 || (bps & (bps - 1)) || !spc)
        return vk_error(-EINVAL, "%s: FAT boot sector: %u bytes per sector", part->name, bps);
    const char *kind = "FAT32";
    if (fatsz) {
        uint64_t meta = res + (uint64_t)nfats * fatsz + rootsec;
        uint64_t clusters = total > meta ? (total - meta) / spc : 0;
        kind = clusters < 4085 ? "FAT12" : "FAT16";
    }
    snprintf(pi->fs, sizeof pi->fs, "%s", kind);
    pi->block_size = bps;
    return 0;
}

/* The partclone header fields and used-block bitmap (*bm, malloc'd) of
 * the filesystem on part. */
static int ptcl_map(struct vk_blockdev *part, const struct vk_fs_type *type, const char *fstype,
                    struct vk_pc_info *pi, uint8_t **bm)
{
    memset(pi, 0, sizeof *pi);
    pi->device_size = part->size;
    int r = pc_kind(part, fstype, pi);
    if (r < 0)
        return r;
    struct bitmap_ctx c = { NULL, part->size / pi->block_size, pi->block_size };
    if (!(c.bm = calloc(c.nblocks / 8 + 1, 1)))
        return vk_error(-ENOMEM, "out of memory for the bitmap of %s", part->name);
    uint64_t span = 0;
    if ((r = vk_fs_used(part, type, set_used, &c, &span)) >= 0) {
        pi->totalblock = span / pi->block_size;
        if (!pi->totalblock || pi->totalblock > c.nblocks)
            r = vk_error(-EINVAL, "%s: the filesystem spans %llu bytes", part->name,
                         (unsigned long long)span);
    }
    if (r < 0) {
        free(c.bm);
        return r;
    }
    /* Nothing past the filesystem's end may be marked. */
    for (uint64_t b = pi->totalblock; b < c.nblocks; b++)
        c.bm[b / 8] &= (uint8_t)~(1u << (b % 8));
    *bm = c.bm;
    return 0;
}

/* part raw, as partclone.dd writes it. */
static int export_dd(struct vk_blockdev *part, struct zout *o)
{
    uint8_t *buf = malloc(IO_BUF);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    int r = 0;
    for (uint64_t off = 0; r >= 0 && off < part->size; off += IO_BUF) {
        size_t n = part->size - off < IO_BUF ? (size_t)(part->size - off) : IO_BUF;
        if ((r = vk_bd_pread(part, buf, n, off)) >= 0)
            r = z_out(o, buf, n);
    }
    free(buf);
    return r;
}

struct exp {
    struct vk_blockdev *disk;
    int dirfd;
    const char *dir;            /* the temporary directory */
    uint64_t split;
    struct vk_strbuf parts, devfs;
};

static int export_part(struct exp *e, const struct vk_part *p)
{
    char name[32], file[96];
    snprintf(name, sizeof name, DISK "%u", p->number);
    struct vk_blockdev *sl;
    int r = vk_slice_open(e->disk, p->start * VK_SECTOR, p->size * VK_SECTOR, name, false, &sl);
    if (r < 0)
        return r;
    struct vk_fsprobe fp;
    const struct vk_fs_type *type = NULL;
    if (vk_fs_probe(sl, &fp, &type) < 0) {
        vk_error_clear();
        type = NULL;
    }
    const char *fs = type ? fp.type : "";
    struct vk_pc_info pi;
    uint8_t *bm = NULL;
    if (type && type->used && (!strncmp(fs, "ext", 3) || !strcmp(fs, "vfat")) &&
        ptcl_map(sl, type, fs, &pi, &bm) < 0) {
        /* Unmappable (damaged): every byte, as save keeps it. */
        vk_warn("%s: %s: exported as a dd image", name, vk_errmsg());
        vk_error_clear();
    }
    vk_strbuf_printf(&e->parts, "%s%s", e->parts.n ? " " : "", name);
    vk_strbuf_printf(&e->devfs, "/dev/%s %s\n", name, type ? fs : "unknown");
    if (type && !strcmp(fs, "swap")) {
        char info[160];
        int n = snprintf(info, sizeof info, "UUID=\"%s\"\nLABEL=\"%s\"\n", fp.uuid, fp.label);
        snprintf(file, sizeof file, "swappt-%s.info", name);
        r = put_file(e->dirfd, e->dir, file, info, (size_t)n);
    } else {
        struct zout o;
        snprintf(file, sizeof file, "%s.%s-ptcl-img.zst", name, bm ? fs : "dd");
        r = z_open(&o, e->dirfd, e->dir, file, e->split);
        if (r >= 0)
            r = bm ? vk_pc_write(sl, &pi, bm, z_out, &o) : export_dd(sl, &o);
        r = z_close(&o, r);
    }
    free(bm);
    vk_bd_close(sl);
    return r;
}

/* The table's files: pt.sf, chs.sf, the MBR, the hidden data or the GPT
 * copies. */
static int export_table(struct exp *e, const struct vk_ptable *t)
{
    char *sf = NULL;
    size_t sflen = 0;
    FILE *f = open_memstream(&sf, &sflen);
    if (!f)
        return vk_error(-ENOMEM, "out of memory");
    int r = vk_ptable_dump(t, "/dev/" DISK, f);
    if (fclose(f) && r >= 0)
        r = vk_error(-ENOMEM, "out of memory");
    if (r >= 0)
        r = put_file(e->dirfd, e->dir, DISK "-pt.sf", sf, sflen);
    free(sf);
    char chs[96];
    uint64_t sectors = e->disk->size / VK_SECTOR;
    int n = snprintf(chs, sizeof chs, "cylinders=%llu\nheads=255\nsectors=63\n",
                     (unsigned long long)(sectors / (255 * 63)));
    if (r >= 0)
        r = put_file(e->dirfd, e->dir, DISK "-chs.sf", chs, (size_t)n);
    if (r >= 0)
        r = put_sectors(e->disk, e->dirfd, e->dir, DISK "-mbr", 0, 1);
    if (r >= 0 && t->label == VK_LABEL_GPT) {
        if (sectors < 67)
            return vk_error(-EINVAL, "%s: too small for GPT", e->disk->name);
        r = put_sectors(e->disk, e->dirfd, e->dir, DISK "-gpt-1st", 0, 34);
        if (r >= 0)
            r = put_sectors(e->disk, e->dirfd, e->dir, DISK "-gpt-2nd", sectors - 33, 33);
    } else if (r >= 0) {
        uint64_t first = sectors;
        for (unsigned i = 0; i < t->n; i++)
            if (t->p[i].start && t->p[i].start < first)
                first = t->p[i].start;
        /* The whole gap, as Clonezilla; a huge one is not boot code. */
        if (first > 1 && first - 1 <= HIDDEN_MAX / VK_SECTOR)
            r = put_sectors(e->disk, e->dirfd, e->dir, DISK "-hidden-data-after-mbr", 1, first - 1);
        else if (first > 1)
            vk_warn("%s: the %llu sectors before the first partition are not saved (over "
                    "64 MiB)", e->disk->name, (unsigned long long)(first - 1));
    }
    return r;
}

/* Make the rename of path durable. */
static void sync_parent(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    const char *dir = slash ? (slash == buf ? "/" : (*slash = 0, buf)) : ".";
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Remove what the temporary directory holds, then the directory. */
static void remove_tmp(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                unlinkat(dirfd(d), de->d_name, 0);
        closedir(d);
    }
    rmdir(path);
}

static int export_disk(struct exp *e, const struct vk_bk_snap *s, const char *cmdline,
                       vk_bk_progress_fn progress, void *pctx)
{
    struct vk_ptable t;
    memset(&t, 0, sizeof t);
    int r = vk_ptable_read(e->disk, &t);
    if (r < 0)
        return vk_error_prefix(r, "snapshot %s: ", s->id);
    r = export_table(e, &t);
    for (unsigned i = 0; r >= 0 && i < t.n; i++) {
        if (t.label == VK_LABEL_MBR && vk_mbr_is_extended(t.p[i].mbr_type))
            continue;       /* its EBRs: in pt.sf; Clonezilla saves none */
        if (progress)
            progress(t.p[i].start * VK_SECTOR, s->size, pctx);
        r = export_part(e, &t.p[i]);
    }
    vk_ptable_free(&t);
    if (r < 0)
        return r;
    struct vk_strbuf info = { 0 };
    vk_strbuf_printf(&e->parts, "\n");
    vk_strbuf_printf(&info, "This image was saved by vmkit backup export at %s\n"
                 "Snapshot %s (%s), taken %s of %s\n", s->time, s->id, s->name, s->time,
                 s->source);
    const char *devhead = "# <Device name>   <File system>\n";
    if (e->parts.oom || info.oom || e->devfs.oom || !e->devfs.p)
        r = vk_error(-ENOMEM, "out of memory");
    if (r >= 0)
        r = put_file(e->dirfd, e->dir, "disk", DISK "\n", strlen(DISK "\n"));
    if (r >= 0)
        r = put_file(e->dirfd, e->dir, "parts", e->parts.p, e->parts.n);
    if (r >= 0) {
        struct vk_strbuf d = { 0 };
        vk_strbuf_printf(&d, "%s%s", devhead, e->devfs.p);
        r = !d.oom ? put_file(e->dirfd, e->dir, "dev-fs.list", d.p, d.n)
                   : vk_error(-ENOMEM, "out of memory");
        free(d.p);
    }
    if (r >= 0)
        r = put_file(e->dirfd, e->dir, "clonezilla-img", info.p, info.n);
    if (r >= 0 && cmdline)
        r = put_file(e->dirfd, e->dir, "Info-saved-by-cmd.txt", cmdline, strlen(cmdline));
    free(info.p);
    return r;
}

int vk_bk_export(struct vk_bk_repo *repo, const struct vk_bk_snap *s, const char *dir,
                 uint64_t split, const char *cmdline, vk_bk_progress_fn progress, void *pctx)
{
    struct stat st;
    if (split < VK_BK_SPLIT_MIN)
        return vk_error(-EINVAL, "--split %llu: at least 1M", (unsigned long long)split);
    if (lstat(dir, &st) == 0)
        return vk_error(-EEXIST, "%s: exists (export makes a new directory)", dir);
    if (!strcmp(s->table, "none"))
        return vk_error(-ENOTSUP, "snapshot %s: no partition table (a Clonezilla image is of a "
                        "partitioned disk)", s->id);
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", dir) >= (int)sizeof tmp)
        return vk_error(-ENAMETOOLONG, "%s: name too long", dir);
    if (!mkdtemp(tmp))
        return vk_error(-errno, "%s: %s", tmp, strerror(errno));
    struct exp e = { .dir = tmp, .split = split };
    int r = 0;
    if ((e.dirfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        r = vk_error(-errno, "%s: %s", tmp, strerror(errno));
    if (r >= 0 && fchmod(e.dirfd, 0755) < 0)
        r = vk_error(-errno, "%s: %s", tmp, strerror(errno));
    if (r >= 0 && (r = vk_bk_snap_bd_open(repo, s, &e.disk)) >= 0) {
        r = export_disk(&e, s, cmdline, progress, pctx);
        vk_bd_close(e.disk);
    }
    if (r >= 0 && fsync(e.dirfd) < 0)
        r = vk_error(-errno, "%s: %s", tmp, strerror(errno));
    if (e.dirfd >= 0)
        close(e.dirfd);
    free(e.parts.p);
    free(e.devfs.p);
    /* Never over a directory that appeared meanwhile, even an empty one. */
    if (r >= 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_NOREPLACE) < 0)
        r = vk_error(-errno, "%s: %s", dir, strerror(errno));
    if (r < 0) {
        remove_tmp(tmp);
        return r;
    }
    sync_parent(dir);
    if (progress)
        progress(s->size, s->size, pctx);
    return 0;
}
