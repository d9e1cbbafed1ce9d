/* FAT directories: parsing entries (VFAT long names with checksums,
 * UTF-16 <-> UTF-8, 8.3 names with the Windows NT case flags), path
 * lookup (case-insensitive), and inserting entries (NAME~N.EXT short
 * names, free-slot runs, growing the directory). */
#include "fs/fat_int.h"
#include "fs/fs.h"
#include "fs/fs_util.h"
#include "fs/path.h"

#include "util/err.h"
#include "util/utf16.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static uint8_t lfn_checksum(const uint8_t *sn)
{
    uint8_t s = 0;
    for (int i = 0; i < 11; i++)
        s = (uint8_t)(((s & 1) << 7) + (s >> 1) + sn[i]);
    return s;
}

/* The 8.3 name as Windows NT shows it (lowercase flags 0x08/0x10), bytes
 * >= 0x80 in the volume's DOS code page. */
static void short_name(struct fat_vol *v, const uint8_t *d, char *out)
{
    size_t o = 0;
    int end = 8;
    while (end > 0 && d[end - 1] == ' ')
        end--;
    for (int i = 0; i < end; i++) {
        uint8_t c = i == 0 && d[0] == 0x05 ? 0xe5 : d[i];
        if ((d[12] & 0x08) && c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        o += vk_utf8_put(out + o, fat_cp_decode(v, c));
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
            o += vk_utf8_put(out + o, fat_cp_decode(v, c));
        }
    }
    out[o] = 0;
}

/* Walk the entries of buf; cb returns 1 to stop. Skips volume labels, "."
 * and "..", deleted entries; stops at the end marker. */
int fat_walk(struct vk_fs *fs, uint32_t dircl, const char *path, ent_cb cb, void *ctx)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    uint32_t *cls = NULL;
    int r = fat_read_dir(fs, dircl, path, &buf, &len, &cls);
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
            vk_utf16_to_name(lfn, (size_t)n, e->name, sizeof e->name);
        } else {
            short_name(VOL(fs), d, e->name);
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
        e->pos = off / 32 + (uint64_t)dircl * 65536 + 2;   /* inode number; root is 1 */
        e->dircl = dircl;
        memcpy(e->raw, d, 32);
        for (size_t o = first; o <= off && e->nslots < 21; o += 32)
            e->slot_off[e->nslots++] = fat_slot_off(VOL(fs), cls, o);
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

static int find_cb(void *ctx, const struct fat_ent *e)
{
    struct find_ctx *f = ctx;
    if (casecmp_utf8(f->name, e->name))
        return 0;
    *f->out = *e;
    return 1;
}

int fat_count_cb(void *ctx, const struct fat_ent *e)
{
    struct find_ctx *f = ctx;
    f->name = "x";
    return 1;
}

/* Resolve npath (normalized); the root is an entry with attr 0x10 and
 * cluster 0. */
int fat_lookup(struct vk_fs *fs, const char *npath, struct fat_ent *out)
{
    memset(out, 0, sizeof *out);
    out->attr = 0x10;
    out->pos = 1;
    const char *p = npath;
    char comp[VK_NAME_MAX * 3 + 1];
    char sofar[PMAX] = "";
    /* Clusters of the directories on the way: an entry pointing back to
     * one of them would make the tree infinite. */
    static _Thread_local uint32_t seen[PMAX / 2];
    int nseen = 0;
    struct fat_vol *v = VOL(fs);
    if (v->g.bits == 32)
        seen[nseen++] = v->g.root_cluster;
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
        int r = fat_walk(fs, out->cluster, sofar[0] ? sofar : "/", find_cb, &fc);
        if (r < 0)
            return r;
        if (!found.name[0])
            return vk_error(-ENOENT, "%s:%s: no such file or directory", fs->bd->name, npath);
        size_t sl = strlen(sofar);
        snprintf(sofar + sl, sizeof sofar - sl, "/%s", found.name);
        if ((found.attr & 0x10) && found.cluster == 0)
            return vk_error(-EIO, "%s:%s: directory has no cluster (would alias the root)",
                            fs->bd->name, sofar);
        if (found.attr & 0x10) {
            for (int i = 0; i < nseen; i++)
                if (seen[i] == found.cluster)
                    return vk_error(-ELOOP, "%s:%s: directory loop (cluster %u is also a parent)",
                                    fs->bd->name, sofar, found.cluster);
            if (nseen < (int)(sizeof seen / sizeof seen[0]))
                seen[nseen++] = found.cluster;
        }
        *out = found;
    }
    return 0;
}

int fat_norm(struct vk_fs *fs, const char *path, char *buf)
{
    int r = vk_path_normalize(path, buf, PMAX);
    return r < 0 ? vk_error_prefix(r, "%s:", fs->bd->name) : 0;
}

void fat_to_dos(time_t t, uint16_t *date, uint16_t *tm, uint8_t *cs)
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

void fat_ent_set_cluster(struct fat_vol *v, uint8_t *d, uint32_t c)
{
    vk_fsu_put16(d + 26, (uint16_t)c);
    vk_fsu_put16(d + 20, v->g.bits == 32 ? (uint16_t)(c >> 16) : 0);
}

/* Rewrite the short entry of e (e->raw) on disk. */
int fat_write_short(struct vk_fs *fs, const struct fat_ent *e)
{
    return fat_dir_write(fs, e->dircl, e->raw, 32, e->slot_off[e->nslots - 1]);
}

/* Mark all slots of e deleted: the short entry first, so that a crash
 * in between leaves orphaned long-name slots (which fsck.fat drops),
 * never the file under its short name alone. */
int fat_delete_slots(struct vk_fs *fs, const struct fat_ent *e)
{
    uint8_t m = 0xe5;
    for (int i = e->nslots; i-- > 0;) {
        int r = fat_dir_write(fs, e->dircl, &m, 1, e->slot_off[i]);
        if (r < 0)
            return r;
    }
    return 0;
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

/* The code point of the UTF-8 sequence at s[*i] (valid: the name passed
 * fat_check_name); *i moves past it. */
static uint32_t utf8_next(const char *s, size_t len, size_t *i)
{
    unsigned char c = (unsigned char)s[(*i)++];
    int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    uint32_t cp = more ? c & (0x3f >> more) : c;
    for (; more && *i < len; more--)
        cp = cp << 6 | ((unsigned char)s[(*i)++] & 0x3f);
    return cp;
}

/* Part of a short name for len bytes of UTF-8 at s: upper case, other
 * characters in the DOS code page, '_' for what it cannot hold. */
static void short_part(struct fat_vol *v, const char *s, size_t len, char *out, size_t max, bool *lossy)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o < max;) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            int b = fat_cp_encode(v, utf8_next(s, len, &i));
            if (b < 0) {
                b = '_';
                *lossy = true;
            }
            out[o++] = (char)b;
            continue;
        }
        i++;
        if (c == ' ' || c == '.') {
            *lossy = true;
            continue;
        }
        if (c >= 'a' && c <= 'z') {
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

/* Characters in len bytes of UTF-8. */
static size_t nchars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
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
    short_part(VOL(fs), name, dot ? (size_t)(dot - name) : strlen(name), base, 8, &lossy);
    short_part(VOL(fs), dot ? dot + 1 : "", dot ? strlen(dot + 1) : 0, ext, 3, &lossy);
    if (!base[0])
        snprintf(base, sizeof base, "_");
    /* Only the case differs ("Sub Dir" no, "Sub" yes): the plain upper-
     * case name without a ~N tail, as Windows and Linux do. */
    size_t braw = nchars(name, dot ? (size_t)(dot - name) : strlen(name));
    if (!lossy && braw <= 8 && (!dot || nchars(dot + 1, strlen(dot + 1)) <= 3)) {
        memset(sn, ' ', 11);
        memcpy(sn, base, strlen(base));
        memcpy(sn + 8, ext, strlen(ext));
        if (sn[0] == 0xe5)
            sn[0] = 0x05;   /* 0xe5 would mark the entry deleted */
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
        if (sn[0] == 0xe5)
            sn[0] = 0x05;
        if (!sn_taken(s, sn))
            return 0;
    }
    return vk_error(-EEXIST, "%s:%s: no free short name", fs->bd->name, path);
}

/* Refuse a name FAT cannot hold (bad UTF-8, over 255 UTF-16 units,
 * reserved characters, a trailing dot or blank); else its UTF-16 length. */
int fat_check_name(struct vk_fs *fs, const char *name, const char *path)
{
    uint16_t u[260];
    int units = vk_utf8_to_utf16(name, u, 255);
    if (units == -ENAMETOOLONG)
        return vk_error(-ENAMETOOLONG, "%s:%s: name longer than 255 UTF-16 units", fs->bd->name, path);
    if (units < 0)
        return vk_error(-EINVAL, "%s:%s: name is not valid UTF-8", fs->bd->name, path);
    size_t nl = strlen(name);
    for (size_t i = 0; i < nl; i++)
        if ((unsigned char)name[i] < 0x20 || strchr("\"*/:<>?\\|", name[i]))
            return vk_error(-EINVAL, "%s:%s: character '%c' not allowed in FAT names", fs->bd->name,
                            path, name[i] >= 0x20 ? name[i] : '?');
    if (!nl || name[nl - 1] == '.' || name[nl - 1] == ' ')
        return vk_error(-EINVAL, "%s:%s: FAT names cannot end with a dot or a blank", fs->bd->name, path);
    return units;
}

/* Add an entry called name to the directory dir (an entry, cluster 0 =
 * root) with the given short-entry template d (attr, cluster, size, times
 * already set); fills *out as lookup would. */
int fat_add_entry(struct vk_fs *fs, const struct fat_ent *dir, const char *name, uint8_t *d,
                     const char *path, struct fat_ent *out)
{
    struct fat_vol *v = VOL(fs);
    uint16_t u[260];
    int units = fat_check_name(fs, name, path);
    if (units < 0)
        return units;
    vk_utf8_to_utf16(name, u, 255);

    struct ins_scan s = { 0 };
    int r = fat_read_dir(fs, dir->cluster, path, &s.buf, &s.len, &s.cls);
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
        uint32_t cb = fat_cbytes(v);
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
        /* Zeroed clusters linked to the directory's end: harmless to
         * fsck and to readers whenever the FAT reaches the disk. */
        if ((r = fat_reserve(fs, add, path)) < 0)
            goto out;
        fat_dc_invalidate(v, dir->cluster);
        for (size_t i = 0; i < add; i++) {
            uint32_t c, last = s.cls[s.len / cb - 1];
            if ((r = fat_alloc(fs, &c, path)) < 0 || (r = fat_data_zero(fs, fat_coff(v, c), cb)) < 0)
                goto out;
            fat_set(v, last, c);
            s.cls[s.len / cb] = c;
            memset(s.buf + s.len, 0, cb);
            s.len += cb;
        }
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
        out->slot_off[out->nslots++] = fat_slot_off(v, s.cls, at + (size_t)i * 32);
    if (out->slot_off[need - 1] == out->slot_off[0] + (uint64_t)(need - 1) * 32) {
        if ((r = fat_dir_write(fs, dir->cluster, slots, (size_t)need * 32, out->slot_off[0])) < 0)
            goto out;
    } else {
        for (int i = 0; i < need; i++)
            if ((r = fat_dir_write(fs, dir->cluster, slots + i * 32, 32, out->slot_off[i])) < 0)
                goto out;
    }
    size_t so = at + (size_t)(need - 1) * 32;
    snprintf(out->name, sizeof out->name, "%s", name);
    memcpy(out->raw, d, 32);
    out->attr = d[11];
    out->cluster = vk_fsu_get16(d + 26) | (v->g.bits == 32 ? (uint32_t)vk_fsu_get16(d + 20) << 16 : 0);
    out->size = vk_fsu_get32(d + 28);
    out->dircl = dir->cluster;
    out->pos = so / 32 + (uint64_t)dir->cluster * 65536 + 2;
    r = 0;
out:
    free(s.buf);
    free(s.cls);
    return r;
}

/* Split np into parent entry and final name. */
int fat_parent_of(struct vk_fs *fs, const char *np, struct fat_ent *dir, const char **name)
{
    char parent[PMAX];
    int r = vk_path_split(np, parent, sizeof parent, name);
    if (r < 0)
        return r;
    if (!**name)
        return vk_error(-EEXIST, "%s:/: is the root directory", fs->bd->name);
    if ((r = fat_lookup(fs, parent, dir)) < 0)
        return r;
    if (!(dir->attr & 0x10))
        return vk_error(-ENOTDIR, "%s:%s: not a directory", fs->bd->name, parent);
    return 0;
}

void fat_new_short(uint8_t *d, uint8_t attr, uint32_t cluster, struct fat_vol *v)
{
    memset(d, 0, 32);
    d[11] = attr;
    fat_ent_set_cluster(v, d, cluster);
    uint16_t date, tm;
    uint8_t cs;
    fat_to_dos(time(NULL), &date, &tm, &cs);
    d[13] = cs;
    vk_fsu_put16(d + 14, tm);
    vk_fsu_put16(d + 16, date);
    vk_fsu_put16(d + 18, date);
    vk_fsu_put16(d + 22, tm);
    vk_fsu_put16(d + 24, date);
}

void fat_refresh_raw(struct fat_vol *v, struct fat_ent *e, bool touch)
{
    fat_ent_set_cluster(v, e->raw, e->cluster);
    vk_fsu_put32(e->raw + 28, e->size);
    e->raw[11] = e->attr;
    if (touch) {
        uint16_t date, tm;
        fat_to_dos(time(NULL), &date, &tm, NULL);
        vk_fsu_put16(e->raw + 22, tm);
        vk_fsu_put16(e->raw + 24, date);
        vk_fsu_put16(e->raw + 18, date);
    }
}

