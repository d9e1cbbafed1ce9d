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
    size_t dirty_lo, dirty_hi;  /* FAT bytes changed since the last flush */
    uint32_t nfree, next_free;  /* free clusters, allocation hint */
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
static int read_dir_disk(struct vk_fs *fs, uint32_t c, const char *path, uint8_t **out, size_t *len,
                         uint32_t **cls_out)
{
    struct fat_vol *v = VOL(fs);
    size_t cap, n = 0;
    uint8_t *buf;
    uint32_t *cls = NULL;
    int r;

    *cls_out = NULL;
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
            free(cls);
            return vk_error(-EIO, "%s:%s: directory cluster chain loops or exceeds %u entries",
                            fs->bd->name, path, DIR_MAX_ENTRIES);
        }
        if (n + cb > cap || !cls) {
            if (n + cb > cap)
                cap *= 2;
            uint8_t *nb = realloc(buf, cap);
            uint32_t *nc = nb ? realloc(cls, cap / cb * sizeof *cls) : NULL;
            if (!nb || !nc) {
                free(nb ? nb : buf);
                free(cls);
                return vk_error(-ENOMEM, "out of memory");
            }
            buf = nb;
            cls = nc;
        }
        cls[n / cb] = c;
        if ((r = vk_bd_pread(fs->bd, buf + n, cb, cluster_off(v, c))) < 0 ||
            (r = next_cluster(fs, c, &c, path)) < 0) {
            free(buf);
            free(cls);
            return r;
        }
        n += cb;
    }
    *out = buf;
    *len = n;
    *cls_out = cls;
    return 0;
}

static void dc_drop(struct dcache *d)
{
    free(d->buf);
    free(d->cls);
    memset(d, 0, sizeof *d);
}

/* Forget the cached copy of directory dircl. */
static void dc_invalidate(struct fat_vol *v, uint32_t dircl)
{
    for (unsigned i = 0; i < 8; i++)
        if (v->dc[i].valid && v->dc[i].dircl == dircl)
            dc_drop(&v->dc[i]);
}

static void *dup_mem(const void *p, size_t n)
{
    void *q = malloc(n ? n : 1);
    if (q && n)
        memcpy(q, p, n);
    return q;
}

/* read_dir_disk through the cache; the caller gets its own copies. */
static int read_dir(struct vk_fs *fs, uint32_t c, const char *path, uint8_t **out, size_t *len,
                    uint32_t **cls_out)
{
    struct fat_vol *v = VOL(fs);
    uint32_t cb = v->g.spc * v->g.bps;
    struct dcache *d = NULL;
    for (unsigned i = 0; i < 8; i++)
        if (v->dc[i].valid && v->dc[i].dircl == c)
            d = &v->dc[i];
    if (!d) {
        uint8_t *b = NULL;
        size_t l = 0;
        uint32_t *cl = NULL;
        int r = read_dir_disk(fs, c, path, &b, &l, &cl);
        if (r < 0)
            return r;
        d = &v->dc[v->dc_next++ % 8];
        dc_drop(d);
        d->valid = true;
        d->dircl = c;
        d->buf = b;
        d->len = l;
        d->cls = cl;
    }
    *out = dup_mem(d->buf, d->len);
    *cls_out = d->cls ? dup_mem(d->cls, d->len / cb * sizeof *d->cls) : NULL;
    *len = d->len;
    if (!*out || (d->cls && !*cls_out)) {
        free(*out);
        free(*cls_out);
        return vk_error(-ENOMEM, "out of memory");
    }
    return 0;
}

/* Write len bytes of directory dircl at disk offset off, and into its
 * cached copy. */
static int dir_write(struct vk_fs *fs, uint32_t dircl, const void *data, size_t len, uint64_t off)
{
    struct fat_vol *v = VOL(fs);
    int r = vk_bd_pwrite(fs->bd, data, len, off);
    if (r < 0) {
        dc_invalidate(v, dircl);
        return r;
    }
    uint32_t cb = v->g.spc * v->g.bps;
    for (unsigned i = 0; i < 8; i++) {
        struct dcache *d = &v->dc[i];
        if (!d->valid || d->dircl != dircl)
            continue;
        if (!d->cls) {
            uint64_t base = (uint64_t)v->g.root_sector * v->g.bps;
            if (off >= base && off + len <= base + d->len)
                memcpy(d->buf + (off - base), data, len);
            else
                dc_drop(d);
            continue;
        }
        bool done = false;
        for (size_t k = 0; k < d->len / cb; k++) {
            uint64_t co = ((uint64_t)v->g.data_sector + (uint64_t)(d->cls[k] - 2) * v->g.spc) * v->g.bps;
            if (off >= co && off + len <= co + cb) {
                memcpy(d->buf + k * cb + (off - co), data, len);
                done = true;
                break;
            }
        }
        if (!done)
            dc_drop(d);
    }
    return 0;
}

/* Disk offset of byte idx of a directory read by read_dir (cls NULL: the
 * fixed root). */
static uint64_t slot_off(const struct fat_vol *v, const uint32_t *cls, size_t idx)
{
    if (!cls)
        return (uint64_t)v->g.root_sector * v->g.bps + idx;
    return cluster_off(v, cls[idx / cluster_bytes(v)]) + idx % cluster_bytes(v);
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
    uint32_t *cls = NULL;
    int r = read_dir(fs, dircl, path, &buf, &len, &cls);
    if (r < 0)
        return r;
    size_t lfn_start = 0;
    uint16_t lfn[20 * 13];
    int lfn_seq = 0, lfn_len = 0;
    uint8_t lfn_sum = 0;
    struct fat_ent *e = malloc(sizeof *e);
    if (!e) {
        free(buf);
        free(cls);
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
                lfn_start = off;
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
        size_t first = off;
        if (lfn_seq == 1 && lfn_checksum(d) == lfn_sum) {
            first = lfn_start;
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
        e->dircl = dircl;
        memcpy(e->raw, d, 32);
        for (size_t o = first; o <= off && e->nslots < 21; o += 32)
            e->slot_off[e->nslots++] = slot_off(VOL(fs), cls, o);
        if ((r = cb(ctx, e)) != 0)
            break;
    }
    free(e);
    free(buf);
    free(cls);
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

static int count_cb(void *ctx, const struct fat_ent *e)
{
    struct find_ctx *f = ctx;
    f->name = "x";
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

static int open_for_write(struct vk_fs *fs, const char *np, int flags, struct fat_ent *e);

static int fat_open(struct vk_fs *fs, const char *path, int flags, uint32_t mode, struct vk_file **out)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    bool wr = flags & (VK_O_WRONLY | VK_O_CREAT | VK_O_TRUNC);
    if ((r = norm(fs, path, np)) < 0)
        return r;
    if (wr && !fs->writable)
        return vk_error(-EROFS, "%s:%s: filesystem opened read-only", fs->bd->name, np);
    if ((r = wr ? open_for_write(fs, np, flags, &e) : lookup(fs, np, &e)) < 0)
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
    ff->writable = wr;
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

static int flush_fat(struct vk_fs *fs);
static int flush_fsinfo(struct vk_fs *fs);

static int fat_unmount(struct vk_fs *fs)
{
    struct fat_vol *v = VOL(fs);
    int r = 0;
    if (fs->writable && (r = flush_fat(fs)) == 0 && (r = flush_fsinfo(fs)) == 0)
        r = vk_bd_flush(fs->bd);
    for (unsigned i = 0; i < 8; i++)
        dc_drop(&v->dc[i]);
    free(v->fat);
    free(v);
    free(fs);
    return r;
}

/* ---- writing ----
 * Order for crash safety: data clusters are written at once; the FAT (all
 * copies, from the in-memory table) is flushed next; the directory entry
 * that makes the new data reachable is written last.  Deleting goes the
 * other way (entry first, then FAT), so a crash leaks clusters at worst. */

static void set_entry(struct fat_vol *v, uint32_t n, uint32_t val)
{
    size_t at;
    if (v->g.bits == 12) {
        at = n * 3 / 2;
        uint16_t x = vk_fsu_get16(v->fat + at);
        x = n & 1 ? (uint16_t)((x & 0x000f) | (val & 0xfff) << 4) : (uint16_t)((x & 0xf000) | (val & 0xfff));
        vk_fsu_put16(v->fat + at, x);
        at += 2;
    } else if (v->g.bits == 16) {
        at = n * 2;
        vk_fsu_put16(v->fat + at, (uint16_t)val);
        at += 2;
    } else {
        at = n * 4;
        uint32_t old = vk_fsu_get32(v->fat + at);
        vk_fsu_put32(v->fat + at, (old & 0xf0000000u) | (val & 0x0fffffffu));
        at += 4;
    }
    size_t lo = at >= 4 ? at - 4 : 0;
    if (v->dirty_hi == 0 || lo < v->dirty_lo)
        v->dirty_lo = lo;
    if (at > v->dirty_hi)
        v->dirty_hi = at > v->fat_bytes ? v->fat_bytes : at;
}

static uint32_t eoc(const struct fat_vol *v)
{
    return v->g.bits == 12 ? 0xfff : v->g.bits == 16 ? 0xffff : 0x0fffffff;
}

/* Write the changed part of the FAT to every copy. */
static int flush_fat(struct vk_fs *fs)
{
    struct fat_vol *v = VOL(fs);
    int r;
    if (v->dirty_hi > v->dirty_lo) {
        for (uint32_t i = 0; i < v->g.nfats; i++) {
            uint64_t base = ((uint64_t)v->g.reserved + (uint64_t)i * v->g.fat_sectors) * v->g.bps;
            if ((r = vk_bd_pwrite(fs->bd, v->fat + v->dirty_lo, v->dirty_hi - v->dirty_lo,
                                  base + v->dirty_lo)) < 0)
                return r;
        }
        v->dirty_lo = v->dirty_hi = 0;
    }
    return 0;
}

/* FSInfo's free count and hint, written at sync and unmount only: it is a
 * hint that fsck.fat corrects, so a crash in between costs nothing. */
static int flush_fsinfo(struct vk_fs *fs)
{
    struct fat_vol *v = VOL(fs);
    int r;
    if (v->g.bits == 32 && v->g.fsinfo_sector) {
        uint8_t fi[512];
        uint64_t off = (uint64_t)v->g.fsinfo_sector * v->g.bps;
        if ((r = vk_bd_pread(fs->bd, fi, sizeof fi, off)) < 0)
            return r;
        if (vk_fsu_get32(fi) == 0x41615252 && vk_fsu_get32(fi + 484) == 0x61417272) {
            vk_fsu_put32(fi + 488, v->nfree);
            vk_fsu_put32(fi + 492, v->next_free);
            if ((r = vk_bd_pwrite(fs->bd, fi, sizeof fi, off)) < 0)
                return r;
        }
    }
    return 0;
}

/* Allocate one free cluster, marked end-of-chain (in memory). */
static int alloc_cluster(struct vk_fs *fs, uint32_t *out, const char *path)
{
    struct fat_vol *v = VOL(fs);
    uint32_t n = v->g.clusters, start = v->next_free;
    if (start < 2 || start > n + 1)
        start = 2;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = start + i;
        if (c > n + 1)
            c -= n;
        if (entry(v, c) == 0) {
            set_entry(v, c, eoc(v));
            v->nfree--;
            v->next_free = c + 1 > n + 1 ? 2 : c + 1;
            *out = c;
            return 0;
        }
    }
    return vk_error(-ENOSPC, "%s:%s: no space left on the FAT filesystem", fs->bd->name, path);
}

/* Free the chain from c (in memory; bounded). */
static void free_chain(struct fat_vol *v, uint32_t c)
{
    for (uint32_t steps = 0; valid_cluster(v, c) && steps <= v->g.clusters; steps++) {
        uint32_t nx = entry(v, c);
        if (nx == 0)
            break;
        set_entry(v, c, 0);
        v->nfree++;
        c = is_eoc(v, nx) ? 0 : nx;
    }
}

static void to_dos(time_t t, uint16_t *date, uint16_t *tm, uint8_t *cs)
{
    struct tm lt;
    localtime_r(&t, &lt);
    if (lt.tm_year < 80) {
        *date = 1 << 5 | 1;
        *tm = 0;
        if (cs)
            *cs = 0;
        return;
    }
    if (lt.tm_year > 207)
        lt.tm_year = 207;
    *date = (uint16_t)((lt.tm_year - 80) << 9 | (lt.tm_mon + 1) << 5 | lt.tm_mday);
    *tm = (uint16_t)(lt.tm_hour << 11 | lt.tm_min << 5 | lt.tm_sec / 2);
    if (cs)
        *cs = (uint8_t)(lt.tm_sec % 2 * 100);
}

static void ent_set_cluster(struct fat_vol *v, uint8_t *d, uint32_t c)
{
    vk_fsu_put16(d + 26, (uint16_t)c);
    vk_fsu_put16(d + 20, v->g.bits == 32 ? (uint16_t)(c >> 16) : 0);
}

/* Rewrite the short entry of e (e->raw) on disk. */
static int write_short(struct vk_fs *fs, const struct fat_ent *e)
{
    return dir_write(fs, e->dircl, e->raw, 32, e->slot_off[e->nslots - 1]);
}

/* Mark all slots of e deleted. */
static int delete_slots(struct vk_fs *fs, const struct fat_ent *e)
{
    uint8_t m = 0xe5;
    for (int i = 0; i < e->nslots; i++) {
        int r = dir_write(fs, e->dircl, &m, 1, e->slot_off[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

/* UTF-8 to UTF-16; returns units or -EINVAL. */
static int utf8_to_utf16(const char *s, uint16_t *out, int max)
{
    int n = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        int k;
        if (*p < 0x80) { c = *p; k = 0; }
        else if ((*p & 0xe0) == 0xc0) { c = *p & 0x1f; k = 1; }
        else if ((*p & 0xf0) == 0xe0) { c = *p & 0x0f; k = 2; }
        else if ((*p & 0xf8) == 0xf0) { c = *p & 0x07; k = 3; }
        else return -EINVAL;
        p++;
        for (int i = 0; i < k; i++, p++) {
            if ((*p & 0xc0) != 0x80)
                return -EINVAL;
            c = c << 6 | (*p & 0x3f);
        }
        if (c >= 0x10000) {
            if (n + 2 > max)
                return -ENAMETOOLONG;
            c -= 0x10000;
            out[n++] = (uint16_t)(0xd800 + (c >> 10));
            out[n++] = (uint16_t)(0xdc00 + (c & 0x3ff));
        } else {
            if (n + 1 > max)
                return -ENAMETOOLONG;
            out[n++] = (uint16_t)c;
        }
    }
    return n;
}

static bool short_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c && strchr("!#$%&'()-@^_`{}~", c));
}

/* If name is a plain 8.3 name (one case per part), its 11 bytes and NT
 * case flags. */
static bool fits_83(const char *name, uint8_t sn[11], uint8_t *flags)
{
    const char *dot = strchr(name, '.');
    size_t bl = dot ? (size_t)(dot - name) : strlen(name);
    size_t el = dot ? strlen(dot + 1) : 0;
    if (!bl || bl > 8 || el > 3 || (dot && (strchr(dot + 1, '.') || !el)))
        return false;
    memset(sn, ' ', 11);
    *flags = 0;
    for (int part = 0; part < 2; part++) {
        const char *p = part ? dot + 1 : name;
        size_t l = part ? el : bl;
        bool up = false, low = false;
        for (size_t i = 0; i < l; i++) {
            unsigned char c = (unsigned char)p[i];
            if (!short_char(c))
                return false;
            up |= c >= 'A' && c <= 'Z';
            low |= c >= 'a' && c <= 'z';
            sn[(part ? 8 : 0) + i] = (uint8_t)(c >= 'a' && c <= 'z' ? c - 32 : c);
        }
        if (up && low)
            return false;
        if (low)
            *flags |= part ? 0x10 : 0x08;
        if (!part && !dot)
            break;
    }
    return sn[0] != 0xe5;
}

static void short_part(const char *s, size_t len, char *out, size_t max, bool *lossy)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '.') {
            *lossy = true;
            continue;
        }
        if (c >= 0x80) {        /* one '_' per UTF-8 character */
            if ((c & 0xc0) == 0x80)
                continue;
            c = '_';
            *lossy = true;
        } else if (c >= 'a' && c <= 'z') {
            c = (unsigned char)(c - 32);
        } else if (!short_char(c)) {
            c = '_';
            *lossy = true;
        }
        out[o++] = (char)c;
    }
    out[o] = 0;
}

/* Everything a directory scan for insertion collects. */
struct ins_scan {
    uint8_t *buf;
    size_t len;
    uint32_t *cls;
};

/* Is short name sn used in the directory? */
static bool sn_taken(const struct ins_scan *s, const uint8_t sn[11])
{
    for (size_t o = 0; o + 32 <= s->len; o += 32) {
        const uint8_t *d = s->buf + o;
        if (!d[0])
            break;
        if (d[0] != 0xe5 && (d[11] & 0x3f) != 0x0f && !memcmp(d, sn, 11))
            return true;
    }
    return false;
}

/* Make the NAME~N.EXT short name for a long name. */
static int gen_short(struct vk_fs *fs, const struct ins_scan *s, const char *name, uint8_t sn[11],
                     const char *path)
{
    const char *dot = strrchr(name, '.');
    if (dot == name)
        dot = NULL;
    char base[9], ext[4];
    bool lossy = false;
    short_part(name, dot ? (size_t)(dot - name) : strlen(name), base, 8, &lossy);
    short_part(dot ? dot + 1 : "", dot ? strlen(dot + 1) : 0, ext, 3, &lossy);
    if (!base[0])
        snprintf(base, sizeof base, "_");
    /* Only the case differs ("Sub Dir" no, "Sub" yes): the plain upper-
     * case name without a ~N tail, as Windows and Linux do. */
    size_t braw = dot ? (size_t)(dot - name) : strlen(name);
    if (!lossy && braw <= 8 && (!dot || strlen(dot + 1) <= 3)) {
        memset(sn, ' ', 11);
        memcpy(sn, base, strlen(base));
        memcpy(sn + 8, ext, strlen(ext));
        if (!sn_taken(s, sn))
            return 0;
    }
    for (int n = 1; n < 1000000; n++) {
        char tail[9], b[9];
        int tl = snprintf(tail, sizeof tail, "~%d", n);
        size_t keep = strlen(base);
        if (keep > (size_t)(8 - tl))
            keep = (size_t)(8 - tl);
        memcpy(b, base, keep);
        memcpy(b + keep, tail, (size_t)tl);
        memset(sn, ' ', 11);
        memcpy(sn, b, keep + (size_t)tl);
        memcpy(sn + 8, ext, strlen(ext));
        if (!sn_taken(s, sn))
            return 0;
    }
    return vk_error(-EEXIST, "%s:%s: no free short name", fs->bd->name, path);
}

/* Add an entry called name to the directory dir (an entry, cluster 0 =
 * root) with the given short-entry template d (attr, cluster, size, times
 * already set); fills *out as lookup would. */
static int add_entry(struct vk_fs *fs, const struct fat_ent *dir, const char *name, uint8_t *d,
                     const char *path, struct fat_ent *out)
{
    struct fat_vol *v = VOL(fs);
    uint16_t u[260];
    int units = utf8_to_utf16(name, u, 255);
    if (units == -ENAMETOOLONG)
        return vk_error(-ENAMETOOLONG, "%s:%s: name longer than 255 UTF-16 units", fs->bd->name, path);
    if (units < 0)
        return vk_error(-EINVAL, "%s:%s: name is not valid UTF-8", fs->bd->name, path);
    size_t nl = strlen(name);
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] < 0x20 || strchr("\"*/:<>?\\|", name[i]))
            return vk_error(-EINVAL, "%s:%s: character '%c' not allowed in FAT names", fs->bd->name,
                            path, name[i] >= 0x20 ? name[i] : '?');
    if (name[nl - 1] == '.' || name[nl - 1] == ' ')
        return vk_error(-EINVAL, "%s:%s: FAT names cannot end with a dot or a blank", fs->bd->name, path);

    struct ins_scan s = { 0 };
    int r = read_dir(fs, dir->cluster, path, &s.buf, &s.len, &s.cls);
    if (r < 0)
        return r;
    uint8_t sn[11], flags = 0;
    int need = 1;
    if (fits_83(name, sn, &flags) && !sn_taken(&s, sn)) {
        d[12] = flags;
    } else {
        if ((r = gen_short(fs, &s, name, sn, path)) < 0)
            goto out;
        d[12] = 0;
        need += (units + 12) / 13;
    }
    memcpy(d, sn, 11);

    /* A run of need free slots; else append clusters to the directory. */
    size_t run = 0, at = 0;
    bool found = false;
    for (size_t o = 0; o + 32 <= s.len; o += 32) {
        uint8_t b = s.buf[o];
        if (b == 0 || b == 0xe5) {
            if (!run)
                at = o;
            if (++run == (size_t)need) {
                found = true;
                break;
            }
            if (b == 0) {   /* everything after the end marker is free */
                size_t rest = (s.len - o) / 32;
                if (run - 1 + rest >= (size_t)need) {
                    found = true;
                    break;
                }
                run = run - 1 + rest;
                break;
            }
        } else {
            run = 0;
        }
    }
    if (!found) {
        if (!s.cls) {
            r = vk_error(-ENOSPC, "%s:%s: root directory full (%u entries)", fs->bd->name, path,
                         v->g.root_entries);
            goto out;
        }
        if (!run)
            at = s.len;
        uint32_t cb = cluster_bytes(v);
        size_t missing = (size_t)need - run;
        size_t add = (missing * 32 + cb - 1) / cb;
        if ((s.len + add * cb) / 32 > DIR_MAX_ENTRIES) {
            r = vk_error(-ENOSPC, "%s:%s: directory full (65536 entries)", fs->bd->name, path);
            goto out;
        }
        uint8_t *nb = realloc(s.buf, s.len + add * cb);
        uint32_t *nc = nb ? realloc(s.cls, (s.len / cb + add) * sizeof *nc) : NULL;
        if (!nb || !nc) {
            if (nb)
                s.buf = nb;
            r = vk_error(-ENOMEM, "out of memory");
            goto out;
        }
        s.buf = nb;
        s.cls = nc;
        uint8_t *zero = calloc(1, cb);
        if (!zero) {
            r = vk_error(-ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < add; i++) {
            uint32_t c, last = s.cls[s.len / cb - 1];
            if ((r = alloc_cluster(fs, &c, path)) < 0 ||
                (r = vk_bd_pwrite(fs->bd, zero, cb, cluster_off(v, c))) < 0) {
                free(zero);
                goto out;
            }
            set_entry(v, last, c);
            s.cls[s.len / cb] = c;
            memset(s.buf + s.len, 0, cb);
            s.len += cb;
        }
        free(zero);
        dc_invalidate(v, dir->cluster);
        if ((r = flush_fat(fs)) < 0)
            goto out;
    }

    /* Long-name slots, last piece first, then the short entry: one write
     * when they are contiguous on disk (same cluster), else one each. */
    uint8_t sum = lfn_checksum(d);
    memset(out, 0, sizeof *out);
    static const int pos[13] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
    uint8_t slots[21 * 32];
    for (int k = need - 1, i = 0; k >= 1; k--, i++) {
        uint8_t *l = slots + i * 32;
        memset(l, 0, 32);
        l[0] = (uint8_t)(k | (k == need - 1 ? 0x40 : 0));
        l[11] = 0x0f;
        l[13] = sum;
        for (int j = 0; j < 13; j++) {
            int idx = (k - 1) * 13 + j;
            uint16_t c = idx < units ? u[idx] : idx == units ? 0 : 0xffff;
            vk_fsu_put16(l + pos[j], c);
        }
    }
    memcpy(slots + (need - 1) * 32, d, 32);
    for (int i = 0; i < need; i++)
        out->slot_off[out->nslots++] = slot_off(v, s.cls, at + (size_t)i * 32);
    if (out->slot_off[need - 1] == out->slot_off[0] + (uint64_t)(need - 1) * 32) {
        if ((r = dir_write(fs, dir->cluster, slots, (size_t)need * 32, out->slot_off[0])) < 0)
            goto out;
    } else {
        for (int i = 0; i < need; i++)
            if ((r = dir_write(fs, dir->cluster, slots + i * 32, 32, out->slot_off[i])) < 0)
                goto out;
    }
    size_t so = at + (size_t)(need - 1) * 32;
    snprintf(out->name, sizeof out->name, "%s", name);
    memcpy(out->raw, d, 32);
    out->attr = d[11];
    out->cluster = vk_fsu_get16(d + 26) | (v->g.bits == 32 ? (uint32_t)vk_fsu_get16(d + 20) << 16 : 0);
    out->size = vk_fsu_get32(d + 28);
    out->dircl = dir->cluster;
    out->pos = so + (uint64_t)dir->cluster * 65536 * 32;
    r = 0;
out:
    free(s.buf);
    free(s.cls);
    return r;
}

/* Split np into parent entry and final name. */
static int parent_of(struct vk_fs *fs, const char *np, struct fat_ent *dir, const char **name)
{
    char parent[PMAX];
    int r = vk_path_split(np, parent, sizeof parent, name);
    if (r < 0)
        return r;
    if (!**name)
        return vk_error(-EEXIST, "%s:/: is the root directory", fs->bd->name);
    if ((r = lookup(fs, parent, dir)) < 0)
        return r;
    if (!(dir->attr & 0x10))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, parent);
    return 0;
}

static void new_short(uint8_t *d, uint8_t attr, uint32_t cluster, struct fat_vol *v)
{
    memset(d, 0, 32);
    d[11] = attr;
    ent_set_cluster(v, d, cluster);
    uint16_t date, tm;
    uint8_t cs;
    to_dos(time(NULL), &date, &tm, &cs);
    d[13] = cs;
    vk_fsu_put16(d + 14, tm);
    vk_fsu_put16(d + 16, date);
    vk_fsu_put16(d + 18, date);
    vk_fsu_put16(d + 22, tm);
    vk_fsu_put16(d + 24, date);
}

static void refresh_raw(struct fat_vol *v, struct fat_ent *e, bool touch)
{
    ent_set_cluster(v, e->raw, e->cluster);
    vk_fsu_put32(e->raw + 28, e->size);
    e->raw[11] = e->attr;
    if (touch) {
        uint16_t date, tm;
        to_dos(time(NULL), &date, &tm, NULL);
        vk_fsu_put16(e->raw + 22, tm);
        vk_fsu_put16(e->raw + 24, date);
        vk_fsu_put16(e->raw + 18, date);
    }
}

/* Make the file's chain exactly long enough for size bytes, zeroing the
 * bytes between old and new size when growing.  On -ENOSPC nothing
 * changes. */
static int resize_chain(struct vk_fs *fs, struct fat_ent *e, uint64_t size, const char *path)
{
    struct fat_vol *v = VOL(fs);
    uint32_t cb = cluster_bytes(v);
    uint64_t need = (size + cb - 1) / cb;
    uint64_t have = 0;
    uint32_t last = 0;
    int r;
    for (uint32_t c = e->size || e->cluster ? e->cluster : 0; c && valid_cluster(v, c); have++) {
        if (have > v->g.clusters)
            return vk_error(-EIO, "%s:%s: cluster chain loops", fs->bd->name, path);
        last = c;
        if ((r = next_cluster(fs, c, &c, path)) < 0)
            return r;
    }
    if (need < have) {
        if (need == 0) {
            free_chain(v, e->cluster);
            e->cluster = 0;
        } else {
            uint32_t c = e->cluster;
            for (uint64_t i = 1; i < need; i++)
                c = entry(v, c);
            uint32_t rest = entry(v, c);
            set_entry(v, c, eoc(v));
            if (!is_eoc(v, rest))
                free_chain(v, rest);
        }
    } else if (need > have) {
        if (need - have > v->nfree)
            return vk_error(-ENOSPC, "%s:%s: no space left on the FAT filesystem (need %llu clusters, %u free)",
                            fs->bd->name, path, (unsigned long long)(need - have), v->nfree);
        uint8_t *zero = calloc(1, cb);
        if (!zero)
            return vk_error(-ENOMEM, "out of memory");
        for (uint64_t i = have; i < need; i++) {
            uint32_t c;
            if ((r = alloc_cluster(fs, &c, path)) < 0 ||
                (r = vk_bd_pwrite(fs->bd, zero, cb, cluster_off(v, c))) < 0) {
                free(zero);
                return r;
            }
            if (last)
                set_entry(v, last, c);
            else
                e->cluster = c;
            last = c;
        }
        free(zero);
    }
    /* Zero the tail of the old last cluster when growing inside it. */
    if (size > e->size && e->size % cb && have) {
        uint32_t c = e->cluster;
        for (uint64_t i = 1; i < (e->size + cb - 1) / cb; i++)
            c = entry(v, c);
        uint32_t in = e->size % cb;
        uint8_t *zero = calloc(1, cb);
        if (!zero)
            return vk_error(-ENOMEM, "out of memory");
        r = vk_bd_pwrite(fs->bd, zero, cb - in, cluster_off(v, c) + in);
        free(zero);
        if (r < 0)
            return r;
    }
    e->size = (uint32_t)size;
    return 0;
}

static int64_t fat_write(struct vk_file *f, const void *buf, size_t len, uint64_t off)
{
    struct vk_fs *fs = f->fs;
    struct fat_vol *v = VOL(fs);
    struct fat_file *ff = f->priv;
    int r;
    if (!ff->writable)
        return vk_error(-EBADF, "%s:%s: file not opened for writing", fs->bd->name, ff->path);
    if (off + len > 0xffffffffull)
        return vk_error(-EFBIG, "%s:%s: FAT files end at 4 GiB - 1", fs->bd->name, ff->path);
    if (off + len > ff->e.size) {
        if ((r = resize_chain(fs, &ff->e, off + len, ff->path)) < 0)
            return r;
        ff->cur_index = 0;
        ff->cur_cluster = ff->e.cluster;
    }
    uint32_t cb = cluster_bytes(v);
    size_t done = 0;
    while (done < len) {
        uint64_t pos = off + done;
        uint32_t idx = (uint32_t)(pos / cb);
        if (idx < ff->cur_index) {
            ff->cur_index = 0;
            ff->cur_cluster = ff->e.cluster;
        }
        while (ff->cur_index < idx) {
            ff->cur_cluster = entry(v, ff->cur_cluster);
            ff->cur_index++;
        }
        uint32_t in = (uint32_t)(pos % cb);
        size_t n = cb - in;
        if (n > len - done)
            n = len - done;
        uint32_t c0 = ff->cur_cluster;
        /* One write over a run of contiguous clusters. */
        while (done + n < len) {
            uint32_t nx = entry(v, ff->cur_cluster);
            if (nx != ff->cur_cluster + 1)
                break;
            ff->cur_cluster = nx;
            ff->cur_index++;
            n += len - done - n < cb ? len - done - n : cb;
        }
        if ((r = vk_bd_pwrite(fs->bd, (const char *)buf + done, n, cluster_off(v, c0) + in)) < 0)
            return r;
        done += n;
    }
    ff->dirty = true;
    return (int64_t)len;
}

static int fat_sync(struct vk_fs *fs)
{
    int r = flush_fat(fs);
    if (r == 0)
        r = flush_fsinfo(fs);
    return r < 0 ? r : vk_bd_flush(fs->bd);
}

/* Create or truncate for open(). */
static int open_for_write(struct vk_fs *fs, const char *np, int flags, struct fat_ent *e)
{
    int r = lookup(fs, np, e);
    if (r == 0) {
        if (flags & VK_O_EXCL)
            return vk_error(-EEXIST, "%s:%s: file exists", fs->bd->name, np);
        if (e->attr & 0x10)
            return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
        if (e->attr & 0x01)
            return vk_error(-EACCES, "%s:%s: read-only file", fs->bd->name, np);
        if (flags & VK_O_TRUNC && e->size) {
            /* Entry first (size 0, no cluster), then free the chain. */
            uint32_t old = e->cluster;
            e->size = 0;
            e->cluster = 0;
            refresh_raw(VOL(fs), e, true);
            if ((r = write_short(fs, e)) < 0)
                return r;
            free_chain(VOL(fs), old);
            return flush_fat(fs);
        }
        return 0;
    }
    if (r != -ENOENT || !(flags & VK_O_CREAT))
        return r;
    vk_error_clear();
    struct fat_ent dir;
    const char *name;
    if ((r = parent_of(fs, np, &dir, &name)) < 0)
        return r;
    uint8_t d[32];
    new_short(d, 0x20, 0, VOL(fs));
    return add_entry(fs, &dir, name, d, np, e);
}

static int fat_close_rw(struct vk_file *f)
{
    struct fat_file *ff = f->priv;
    int r = 0;
    if (ff->dirty) {
        /* Data is on disk already; FAT next, the entry last. */
        refresh_raw(VOL(f->fs), &ff->e, true);
        if ((r = flush_fat(f->fs)) == 0)
            r = write_short(f->fs, &ff->e);
    }
    free(ff);
    free(f);
    return r;
}

static int fat_mkdir(struct vk_fs *fs, const char *path, uint32_t mode)
{
    struct fat_vol *v = VOL(fs);
    char np[PMAX];
    struct fat_ent dir, e;
    const char *name;
    int r;
    if ((r = norm(fs, path, np)) < 0 || (r = parent_of(fs, np, &dir, &name)) < 0)
        return r;
    if (lookup(fs, np, &e) == 0)
        return vk_error(-EEXIST, "%s:%s: file exists", fs->bd->name, np);
    vk_error_clear();
    uint32_t c, cb = cluster_bytes(v);
    if ((r = alloc_cluster(fs, &c, np)) < 0)
        return r;
    uint8_t *blk = calloc(1, cb);
    if (!blk)
        return vk_error(-ENOMEM, "out of memory");
    new_short(blk, 0x10, c, v);
    memcpy(blk, ".          ", 11);
    new_short(blk + 32, 0x10, dir.cluster == v->g.root_cluster && v->g.bits == 32 ? 0 : dir.cluster, v);
    memcpy(blk + 32, "..         ", 11);
    r = vk_bd_pwrite(fs->bd, blk, cb, cluster_off(v, c));
    free(blk);
    dc_invalidate(v, c);
    if (r < 0 || (r = flush_fat(fs)) < 0)
        return r;
    uint8_t d[32];
    new_short(d, 0x10, c, v);
    if ((r = add_entry(fs, &dir, name, d, np, &e)) < 0) {
        free_chain(v, c);
        flush_fat(fs);
        return r;
    }
    return 0;
}

static int remove_entry(struct vk_fs *fs, const char *path, bool want_dir)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if ((r = norm(fs, path, np)) < 0 || (r = lookup(fs, np, &e)) < 0)
        return r;
    if (!strcmp(np, "/"))
        return vk_error(-EBUSY, "%s:/: cannot remove the root directory", fs->bd->name);
    if (want_dir && !(e.attr & 0x10))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, np);
    if (!want_dir && (e.attr & 0x10))
        return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
    if (want_dir) {
        struct fat_ent any;
        struct find_ctx fc = { NULL, &any };
        int n = walk(fs, e.cluster, np, count_cb, &fc);
        if (n < 0)
            return n;
        if (fc.name)
            return vk_error(-ENOTEMPTY, "%s:%s: directory not empty", fs->bd->name, np);
    }
    if ((r = delete_slots(fs, &e)) < 0)
        return r;
    if (want_dir)
        dc_invalidate(VOL(fs), e.cluster);
    if (e.cluster)
        free_chain(VOL(fs), e.cluster);
    return flush_fat(fs);
}

static int fat_unlink(struct vk_fs *fs, const char *path)
{
    return remove_entry(fs, path, false);
}

static int fat_rmdir(struct vk_fs *fs, const char *path)
{
    return remove_entry(fs, path, true);
}

static int fat_rename(struct vk_fs *fs, const char *from, const char *to)
{
    struct fat_vol *v = VOL(fs);
    char nf[PMAX], nt[PMAX];
    struct fat_ent e, dst, dir, ne;
    const char *name;
    int r;
    if ((r = norm(fs, from, nf)) < 0 || (r = norm(fs, to, nt)) < 0 || (r = lookup(fs, nf, &e)) < 0)
        return r;
    if (!strcmp(nf, "/"))
        return vk_error(-EBUSY, "%s:/: cannot rename the root directory", fs->bd->name);
    size_t fl = strlen(nf);
    if ((e.attr & 0x10) && !strncmp(nt, nf, fl) && (nt[fl] == '/' || !nt[fl]) && strcmp(nt, nf))
        return vk_error(-EINVAL, "%s:%s: cannot move a directory into itself", fs->bd->name, nf);
    if ((r = parent_of(fs, nt, &dir, &name)) < 0)
        return r;
    if (lookup(fs, nt, &dst) == 0) {
        if (dst.pos == e.pos) {
            if (!strcmp(dst.name, name))
                return 0;
            /* case change only: fall through, the old entry goes away */
        } else if (dst.attr & 0x10) {
            if (!(e.attr & 0x10))
                return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, nt);
            if ((r = fat_rmdir(fs, nt)) < 0)
                return r;
        } else {
            if (e.attr & 0x10)
                return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, nt);
            if ((r = fat_unlink(fs, nt)) < 0)
                return r;
        }
    }
    vk_error_clear();
    uint8_t d[32];
    memcpy(d, e.raw, 32);
    /* New entry first (both exist for a moment: fsck would see a
     * cross-link, never a lost file), then the old one goes. */
    if ((r = add_entry(fs, &dir, name, d, nt, &ne)) < 0)
        return r;
    if ((r = delete_slots(fs, &e)) < 0)
        return r;
    if ((e.attr & 0x10) && e.dircl != dir.cluster && e.cluster) {
        uint8_t dd[32];
        uint64_t off = cluster_off(v, e.cluster) + 32;
        if ((r = vk_bd_pread(fs->bd, dd, 32, off)) < 0)
            return r;
        if (!memcmp(dd, "..         ", 11)) {
            ent_set_cluster(v, dd, dir.cluster == v->g.root_cluster && v->g.bits == 32 ? 0 : dir.cluster);
            if ((r = dir_write(fs, e.cluster, dd, 32, off)) < 0)
                return r;
        }
    }
    return 0;
}

static int fat_setattr(struct vk_fs *fs, const char *path, int mask, const struct vk_stat *st)
{
    char np[PMAX];
    struct fat_ent e;
    int r;
    if ((r = norm(fs, path, np)) < 0 || (r = lookup(fs, np, &e)) < 0)
        return r;
    if (!strcmp(np, "/"))
        return mask & (VK_SET_UID | VK_SET_GID) ? vk_error(-EPERM, "%s:/: FAT has no owners", fs->bd->name) : 0;
    if (mask & (VK_SET_UID | VK_SET_GID))
        return vk_error(-EPERM, "%s:%s: FAT has no owners", fs->bd->name, np);
    if (mask & VK_SET_SIZE) {
        if (e.attr & 0x10)
            return vk_error(-EISDIR, "%s:%s: is a directory", fs->bd->name, np);
        if (st->size > 0xffffffffull)
            return vk_error(-EFBIG, "%s:%s: FAT files end at 4 GiB - 1", fs->bd->name, np);
        if ((r = resize_chain(fs, &e, st->size, np)) < 0)
            return r;
    }
    if (mask & VK_SET_MODE)
        e.attr = (uint8_t)((e.attr & ~0x01) | (st->mode & 0222 ? 0 : 0x01));
    refresh_raw(VOL(fs), &e, false);
    if (mask & VK_SET_MTIME) {
        uint16_t date, tm;
        to_dos(st->mtime.tv_sec, &date, &tm, NULL);
        vk_fsu_put16(e.raw + 22, tm);
        vk_fsu_put16(e.raw + 24, date);
    }
    if (mask & VK_SET_ATIME) {
        uint16_t date, tm;
        to_dos(st->atime.tv_sec, &date, &tm, NULL);
        vk_fsu_put16(e.raw + 18, date);
    }
    if ((r = flush_fat(fs)) < 0)
        return r;
    return write_short(fs, &e);
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

static const struct vk_fs_ops fat_rw_ops = {
    .statfs = fat_statfs,
    .stat = fat_stat,
    .readdir = fat_readdir,
    .open = fat_open,
    .read = fat_read,
    .write = fat_write,
    .close_file = fat_close_rw,
    .mkdir = fat_mkdir,
    .unlink = fat_unlink,
    .rmdir = fat_rmdir,
    .rename = fat_rename,
    .setattr = fat_setattr,
    .sync = fat_sync,
    .unmount = fat_unmount,
};

int vk_fat_mount(struct vk_blockdev *bd, bool writable, struct vk_fs **out)
{
    uint8_t bs[512];
    int r;
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
    for (uint32_t c = 2; c <= v->g.clusters + 1; c++)
        if (entry(v, c) == 0)
            v->nfree++;
    v->next_free = 2;
    fs->ops = writable ? &fat_rw_ops : &fat_ro_ops;
    fs->type = &vk_fs_fat;
    fs->bd = bd;
    fs->writable = writable;
    fs->priv = v;
    *out = fs;
    return 0;
fail:
    for (unsigned i = 0; i < 8; i++)
        dc_drop(&v->dc[i]);
    free(v->fat);
    free(v);
    free(fs);
    return r;
}
