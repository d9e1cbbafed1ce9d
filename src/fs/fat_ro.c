/* Reading a FAT filesystem: mount (read-only), statfs, stat, readdir, open
 * and read.  Every structure comes from an untrusted image, so:
 *   - the first FAT copy is loaded into memory once and every entry is
 *     range-checked before use;
 *   - cluster chains are walked with a bound of the cluster count, so a
 *     chain that loops fails instead of hanging;
 *   - a directory is read whole but never beyond 65536 entries (the FAT
 *     limit) and a file's chain must cover its size;
 * and each failure names the image and the path. */
#include "fs/fat_int.h"
#include "fs/fs.h"
#include "fs/fs_util.h"
#include "fs/path.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define PMAX 4096
#define DIR_MAX_ENTRIES 65536u

struct fat_vol {
    struct fat_geom g;
    uint8_t *fat;               /* first FAT copy */
    size_t fat_bytes;
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
};

struct fat_file {
    struct fat_ent e;
    char path[PMAX];
    uint32_t cur_index, cur_cluster;   /* cache: cluster number of chain index */
};

#define VOL(fs) ((struct fat_vol *)(fs)->priv)

static uint32_t entry(const struct fat_vol *v, uint32_t n)
{
    const uint8_t *fat = v->fat;
    if (v->g.bits == 12) {
        uint32_t x = vk_fsu_get16(fat + n * 3 / 2);
        return n & 1 ? x >> 4 : x & 0xfff;
    }
    if (v->g.bits == 16)
        return vk_fsu_get16(fat + n * 2);
    return vk_fsu_get32(fat + n * 4) & 0x0fffffff;
}

static bool is_eoc(const struct fat_vol *v, uint32_t e)
{
    return e >= (v->g.bits == 12 ? 0xff8u : v->g.bits == 16 ? 0xfff8u : 0x0ffffff8u);
}

static bool valid_cluster(const struct fat_vol *v, uint32_t c)
{
    return c >= 2 && c <= v->g.clusters + 1;
}

/* Next cluster after c: 0 with *next = 0 at end of chain, or -EIO. */
static int next_cluster(struct vk_fs *fs, uint32_t c, uint32_t *next, const char *path)
{
    struct fat_vol *v = VOL(fs);
    uint32_t e = entry(v, c);
    if (is_eoc(v, e)) {
        *next = 0;
        return 0;
    }
    if (!valid_cluster(v, e))
        return vk_error(-EIO, "%s:%s: cluster chain broken at cluster %u (FAT entry 0x%x)",
                        fs->bd->name, path, c, e);
    *next = e;
    return 0;
}

static uint64_t cluster_off(const struct fat_vol *v, uint32_t c)
{
    return ((uint64_t)v->g.data_sector + (uint64_t)(c - 2) * v->g.spc) * v->g.bps;
}

static uint32_t cluster_bytes(const struct fat_vol *v)
{
    return v->g.spc * v->g.bps;
}

/* Read a whole directory (first cluster c, 0 = the root) into a malloc'd
 * buffer. */
static int read_dir(struct vk_fs *fs, uint32_t c, const char *path, uint8_t **out, size_t *len)
{
    struct fat_vol *v = VOL(fs);
    size_t cap, n = 0;
    uint8_t *buf;
    int r;

    if (c == 0 && v->g.bits != 32) {
        cap = (size_t)v->g.root_entries * 32;
        if (!(buf = malloc(cap ? cap : 1)))
            return vk_error(-ENOMEM, "out of memory");
        if ((r = vk_bd_pread(fs->bd, buf, cap, (uint64_t)v->g.root_sector * v->g.bps)) < 0) {
            free(buf);
            return r;
        }
        *out = buf;
        *len = cap;
        return 0;
    }
    if (c == 0)
        c = v->g.root_cluster;
    if (!valid_cluster(v, c))
        return vk_error(-EIO, "%s:%s: directory starts at cluster %u, outside 2..%u", fs->bd->name,
                        path, c, v->g.clusters + 1);
    uint32_t cb = cluster_bytes(v);
    size_t max = (size_t)DIR_MAX_ENTRIES * 32;
    cap = cb;
    if (!(buf = malloc(cap)))
        return vk_error(-ENOMEM, "out of memory");
    for (uint32_t steps = 0; c; steps++) {
        if (steps > v->g.clusters || n >= max) {
            free(buf);
            return vk_error(-EIO, "%s:%s: directory cluster chain loops or exceeds %u entries",
                            fs->bd->name, path, DIR_MAX_ENTRIES);
        }
        if (n + cb > cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return vk_error(-ENOMEM, "out of memory");
            }
            buf = nb;
            cap *= 2;
        }
        if ((r = vk_bd_pread(fs->bd, buf + n, cb, cluster_off(v, c))) < 0 ||
            (r = next_cluster(fs, c, &c, path)) < 0) {
            free(buf);
            return r;
        }
        n += cb;
    }
    *out = buf;
    *len = n;
    return 0;
}

static uint8_t lfn_checksum(const uint8_t *sn)
{
    uint8_t s = 0;
    for (int i = 0; i < 11; i++)
        s = (uint8_t)(((s & 1) << 7) + (s >> 1) + sn[i]);
    return s;
}

static size_t put_utf8(char *o, uint32_t c)
{
    if (c < 0x80) { o[0] = (char)c; return 1; }
    if (c < 0x800) { o[0] = (char)(0xc0 | c >> 6); o[1] = (char)(0x80 | (c & 0x3f)); return 2; }
    if (c < 0x10000) {
        o[0] = (char)(0xe0 | c >> 12); o[1] = (char)(0x80 | (c >> 6 & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | c >> 18); o[1] = (char)(0x80 | (c >> 12 & 0x3f));
    o[2] = (char)(0x80 | (c >> 6 & 0x3f)); o[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* UTF-16 units u[0..n) to UTF-8 in out (room for n*3+1). */
static void utf16_to_utf8(const uint16_t *u, int n, char *out)
{
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        uint32_t c = u[i];
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < n && u[i + 1] >= 0xdc00 && u[i + 1] < 0xe000) {
            c = 0x10000 + ((c - 0xd800) << 10) + (u[i + 1] - 0xdc00);
            i++;
        } else if (c >= 0xd800 && c < 0xe000) {
            c = 0xfffd;
        }
        o += put_utf8(out + o, c);
    }
    out[o] = 0;
}

/* The 8.3 name as Windows NT shows it (lowercase flags 0x08/0x10). */
static void short_name(const uint8_t *d, char *out)
{
    size_t o = 0;
    int end = 8;
    while (end > 0 && d[end - 1] == ' ')
        end--;
    for (int i = 0; i < end; i++) {
        uint8_t c = i == 0 && d[0] == 0x05 ? 0xe5 : d[i];
        if ((d[12] & 0x08) && c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        o += put_utf8(out + o, c);    /* bytes >= 0x80 shown as Latin-1 */
    }
    int xe = 11;
    while (xe > 8 && d[xe - 1] == ' ')
        xe--;
    if (xe > 8) {
        out[o++] = '.';
        for (int i = 8; i < xe; i++) {
            uint8_t c = d[i];
            if ((d[12] & 0x10) && c >= 'A' && c <= 'Z')
                c = (uint8_t)(c + 32);
            o += put_utf8(out + o, c);
        }
    }
    out[o] = 0;
}

/* Walk the entries of buf; cb returns 1 to stop. Skips volume labels, "."
 * and "..", deleted entries; stops at the end marker. */
typedef int (*ent_cb)(void *ctx, const struct fat_ent *e);

static int walk(struct vk_fs *fs, uint32_t dircl, const char *path, ent_cb cb, void *ctx)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int r = read_dir(fs, dircl, path, &buf, &len);
    if (r < 0)
        return r;
    uint16_t lfn[20 * 13];
    int lfn_seq = 0, lfn_len = 0;
    uint8_t lfn_sum = 0;
    struct fat_ent *e = malloc(sizeof *e);
    if (!e) {
        free(buf);
        return vk_error(-ENOMEM, "out of memory");
    }
    r = 0;
    for (size_t off = 0; off + 32 <= len; off += 32) {
        const uint8_t *d = buf + off;
        if (d[0] == 0)
            break;
        if (d[0] == 0xe5) {
            lfn_seq = 0;
            continue;
        }
        if ((d[11] & 0x3f) == 0x0f) {       /* long name piece */
            int seq = d[0] & 0x1f;
            if (d[0] & 0x40) {
                if (seq < 1 || seq > 20) {
                    lfn_seq = 0;
                    continue;
                }
                lfn_seq = seq;
                lfn_sum = d[13];
                lfn_len = seq * 13;
            } else if (!lfn_seq || seq != lfn_seq - 1 || d[13] != lfn_sum) {
                lfn_seq = 0;
                continue;
            } else {
                lfn_seq = seq;
            }
            static const int pos[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
            for (int i = 0; i < 13; i++)
                lfn[(seq - 1) * 13 + i] = vk_fsu_get16(d + pos[i]);
            continue;
        }
        if (d[11] & 0x08) {                 /* volume label */
            lfn_seq = 0;
            continue;
        }
        memset(e, 0, sizeof *e);
        if (lfn_seq == 1 && lfn_checksum(d) == lfn_sum) {
            int n = 0;
            while (n < lfn_len && lfn[n] != 0)
                n++;
            if (n > 255)
                n = 255;
            utf16_to_utf8(lfn, n, e->name);
        } else {
            short_name(d, e->name);
        }
        lfn_seq = 0;
        if (!strcmp(e->name, ".") || !strcmp(e->name, "..") || !e->name[0])
            continue;
        e->attr = d[11];
        e->cluster = vk_fsu_get16(d + 26) | (VOL(fs)->g.bits == 32 ? (uint32_t)vk_fsu_get16(d + 20) << 16 : 0);
        e->size = vk_fsu_get32(d + 28);
        e->ctime_cs = d[13];
        e->ctime = vk_fsu_get16(d + 14);
        e->cdate = vk_fsu_get16(d + 16);
        e->adate = vk_fsu_get16(d + 18);
        e->mtime = vk_fsu_get16(d + 22);
        e->mdate = vk_fsu_get16(d + 24);
        e->pos = off + (uint64_t)dircl * 65536 * 32;
        if ((r = cb(ctx, e)) != 0)
            break;
    }
    free(e);
    free(buf);
    return r < 0 ? r : 0;
}

static int casecmp_utf8(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        int x = (unsigned char)*a, y = (unsigned char)*b;
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y)
            return 1;
    }
    return *a || *b;
}

struct find_ctx {
    const char *name;
    struct fat_ent *out;
};

static int find_cb(void *ctx, const struct fat_ent *e)
{
    struct find_ctx *f = ctx;
    if (casecmp_utf8(f->name, e->name))
        return 0;
    *f->out = *e;
    return 1;
}

/* Resolve npath (normalized); the root is an entry with attr 0x10 and
 * cluster 0. */
static int lookup(struct vk_fs *fs, const char *npath, struct fat_ent *out)
{
    memset(out, 0, sizeof *out);
    out->attr = 0x10;
    out->pos = 1;
    const char *p = npath;
    char comp[VK_NAME_MAX * 3 + 1];
    char sofar[PMAX] = "";
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        if (n >= sizeof comp)
            return vk_error(-ENAMETOOLONG, "%s:%s: name too long", fs->bd->name, npath);
        memcpy(comp, p, n);
        comp[n] = 0;
        p += n;
        if (!(out->attr & 0x10))
            return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, sofar);
        struct fat_ent found;
        struct find_ctx fc = { comp, &found };
        memset(&found, 0, sizeof found);
        int r = walk(fs, out->cluster, sofar[0] ? sofar : "/", find_cb, &fc);
        if (r < 0)
            return r;
        if (!found.name[0])
            return vk_error(-ENOENT, "%s:%s: no such file or directory", fs->bd->name, npath);
        size_t sl = strlen(sofar);
        snprintf(sofar + sl, sizeof sofar - sl, "/%s", found.name);
        if ((found.attr & 0x10) && found.cluster == 0)
            return vk_error(-EIO, "%s:%s: directory has no cluster (would alias the root)",
                            fs->bd->name, sofar);
        *out = found;
    }
    return 0;
}

static int norm(struct vk_fs *fs, const char *path, char *buf)
{
    int r = vk_path_normalize(path, buf, PMAX);
    return r < 0 ? vk_error_prefix(r, "%s:", fs->bd->name) : 0;
}

static struct timespec dos_ts(uint16_t date, uint16_t time, unsigned cs)
{
    struct timespec ts = { 0, 0 };
    if (!date)
        return ts;
    struct tm tm = { 0 };
    tm.tm_year = (date >> 9) + 80;
    tm.tm_mon = ((date >> 5) & 15) - 1;
    tm.tm_mday = date & 31;
    tm.tm_hour = time >> 11;
    tm.tm_min = (time >> 5) & 63;
    tm.tm_sec = (time & 31) * 2 + (int)(cs / 100);
    tm.tm_isdst = -1;
    ts.tv_sec = mktime(&tm);        /* FAT keeps local time */
    ts.tv_nsec = (long)(cs % 100) * 10000000L;
    if (ts.tv_sec == (time_t)-1)
        ts.tv_sec = 0;
    return ts;
}

static void fill_stat(const struct fat_vol *v, const struct fat_ent *e, struct vk_stat *st)
{
    memset(st, 0, sizeof *st);
    st->ino = e->pos;
    bool dir = e->attr & 0x10;
    st->mode = (dir ? S_IFDIR | 0755 : S_IFREG | 0644) & ~((e->attr & 0x01) ? 0222u : 0u);
    st->nlink = dir ? 2 : 1;
    st->size = dir ? 0 : e->size;
    uint64_t cb = cluster_bytes(v);
    st->blocks = (st->size + cb - 1) / cb * cb / 512;
    st->mtime = dos_ts(e->mdate, e->mtime, 0);
    st->ctime = st->mtime;
    st->atime = dos_ts(e->adate, 0, 0);
    st->crtime = dos_ts(e->cdate, e->ctime, e->ctime_cs);
}

static int fat_stat(struct vk_fs *fs, const char *path, struct vk_stat *st, bool follow)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if ((r = norm(fs, path, np)) < 0 || (r = lookup(fs, np, &e)) < 0)
        return r;
    fill_stat(VOL(fs), &e, st);
    return 0;
}

struct rd_ctx {
    vk_dirent_cb cb;
    void *ctx;
};

static int rd_cb(void *ctx, const struct fat_ent *e)
{
    struct rd_ctx *c = ctx;
    struct vk_dirent de = { e->name, e->pos, (e->attr & 0x10) ? S_IFDIR : S_IFREG };
    return c->cb(c->ctx, &de);
}

static int fat_readdir(struct vk_fs *fs, const char *path, vk_dirent_cb cb, void *ctx)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if ((r = norm(fs, path, np)) < 0 || (r = lookup(fs, np, &e)) < 0)
        return r;
    if (!(e.attr & 0x10))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, np);
    struct rd_ctx c = { cb, ctx };
    return walk(fs, e.cluster, np, rd_cb, &c);
}

static int fat_open(struct vk_fs *fs, const char *path, int flags, uint32_t mode, struct vk_file **out)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if (flags & (VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC))
        return vk_error(-EROFS, "%s:%s: writing FAT files is not supported yet", fs->bd->name, path);
    if ((r = norm(fs, path, np)) < 0 || (r = lookup(fs, np, &e)) < 0)
        return r;
    if (e.attr & 0x10)
        return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
    if (e.size && !valid_cluster(VOL(fs), e.cluster))
        return vk_error(-EIO, "%s:%s: first cluster %u outside 2..%u", fs->bd->name, np, e.cluster,
                        VOL(fs)->g.clusters + 1);
    /* The chain must cover the size and end; a loop shows as more steps
     * than there are clusters. */
    struct fat_vol *v = VOL(fs);
    uint64_t need = ((uint64_t)e.size + cluster_bytes(v) - 1) / cluster_bytes(v);
    uint64_t have = 0;
    for (uint32_t c = e.size ? e.cluster : 0; c; have++) {
        if (have > v->g.clusters)
            return vk_error(-EIO, "%s:%s: cluster chain loops", fs->bd->name, np);
        if ((r = next_cluster(fs, c, &c, np)) < 0)
            return r;
    }
    if (have < need)
        return vk_error(-EIO, "%s:%s: cluster chain of %llu clusters too short for %u bytes",
                        fs->bd->name, np, (unsigned long long)have, e.size);
    struct vk_file *f = calloc(1, sizeof *f);
    struct fat_file *ff = calloc(1, sizeof *ff);
    if (!f || !ff) {
        free(f);
        free(ff);
        return vk_error(-ENOMEM, "out of memory");
    }
    ff->e = e;
    snprintf(ff->path, sizeof ff->path, "%s", np);
    ff->cur_cluster = e.cluster;
    f->fs = fs;
    f->priv = ff;
    *out = f;
    return 0;
}

static int64_t fat_read(struct vk_file *f, void *buf, size_t len, uint64_t off)
{
    struct vk_fs *fs = f->fs;
    struct fat_vol *v = VOL(fs);
    struct fat_file *ff = f->priv;
    uint32_t cb = cluster_bytes(v);
    if (off >= ff->e.size)
        return 0;
    if (len > ff->e.size - off)
        len = (size_t)(ff->e.size - off);
    size_t done = 0;
    while (done < len) {
        uint64_t pos = off + done;
        uint32_t idx = (uint32_t)(pos / cb);
        if (idx < ff->cur_index) {
            ff->cur_index = 0;
            ff->cur_cluster = ff->e.cluster;
        }
        while (ff->cur_index < idx) {
            uint32_t nx;
            int r = next_cluster(fs, ff->cur_cluster, &nx, ff->path);
            if (r < 0)
                return r;
            if (!nx)
                return vk_error(-EIO, "%s:%s: cluster chain ends before the file size (%u bytes)",
                                fs->bd->name, ff->path, ff->e.size);
            ff->cur_cluster = nx;
            ff->cur_index++;
        }
        uint32_t in = (uint32_t)(pos % cb);
        size_t n = cb - in;
        if (n > len - done)
            n = len - done;
        int r = vk_bd_pread(fs->bd, (char *)buf + done, n, cluster_off(v, ff->cur_cluster) + in);
        if (r < 0)
            return r;
        done += n;
    }
    return (int64_t)done;
}

static int fat_close_file(struct vk_file *f)
{
    free(f->priv);
    free(f);
    return 0;
}

static int fat_statfs(struct vk_fs *fs, struct vk_statfs *out)
{
    struct fat_vol *v = VOL(fs);
    struct vk_fsprobe p;
    memset(&p, 0, sizeof p);
    int r = vk_fs_fat.probe(fs->bd, &p);
    if (r < 0)
        return r;
    uint64_t nfree = 0;
    for (uint32_t c = 2; c <= v->g.clusters + 1; c++)
        if (entry(v, c) == 0)
            nfree++;
    snprintf(out->type, sizeof out->type, "vfat");
    snprintf(out->label, sizeof out->label, "%s", p.label);
    snprintf(out->uuid, sizeof out->uuid, "%s", p.uuid);
    out->block_size = cluster_bytes(v);
    out->blocks = v->g.clusters;
    out->blocks_free = out->blocks_avail = nfree;
    return 0;
}

static int fat_unmount(struct vk_fs *fs)
{
    struct fat_vol *v = VOL(fs);
    free(v->fat);
    free(v);
    free(fs);
    return 0;
}

static const struct vk_fs_ops fat_ro_ops = {
    .statfs = fat_statfs,
    .stat = fat_stat,
    .readdir = fat_readdir,
    .open = fat_open,
    .read = fat_read,
    .close_file = fat_close_file,
    .unmount = fat_unmount,
};

int vk_fat_mount(struct vk_blockdev *bd, bool writable, struct vk_fs **out)
{
    uint8_t bs[512];
    int r;
    if (writable)
        return vk_error(-EROFS, "%s: writing into FAT filesystems is not supported yet (read-only)",
                        bd->name);
    if (bd->size < 512)
        return vk_error(-EINVAL, "%s: too small for a FAT filesystem", bd->name);
    if ((r = vk_bd_pread(bd, bs, sizeof bs, 0)) < 0)
        return r;
    struct fat_vol *v = calloc(1, sizeof *v);
    struct vk_fs *fs = calloc(1, sizeof *fs);
    if (!v || !fs) {
        free(v);
        free(fs);
        return vk_error(-ENOMEM, "out of memory");
    }
    if ((r = fat_parse_bpb(bd, bs, &v->g)) < 0)
        goto fail;
    /* Only the bytes covering the clusters are needed; a FAT far larger
     * than that is read no further. */
    v->fat_bytes = (size_t)(((uint64_t)v->g.clusters + 2) * (unsigned)v->g.bits / 8 + 2);
    if (v->fat_bytes > (uint64_t)v->g.fat_sectors * v->g.bps)
        v->fat_bytes = (size_t)v->g.fat_sectors * v->g.bps;
    if (!(v->fat = calloc(1, v->fat_bytes + 4))) {
        r = vk_error(-ENOMEM, "%s: out of memory for the FAT (%zu bytes)", bd->name, v->fat_bytes);
        goto fail;
    }
    if ((r = vk_bd_pread(bd, v->fat, v->fat_bytes, (uint64_t)v->g.reserved * v->g.bps)) < 0)
        goto fail;
    fs->ops = &fat_ro_ops;
    fs->type = &vk_fs_fat;
    fs->bd = bd;
    fs->writable = false;
    fs->priv = v;
    *out = fs;
    return 0;
fail:
    free(v->fat);
    free(v);
    free(fs);
    return r;
}
