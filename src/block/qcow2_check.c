/* qcow2 check and repair, as `qemu-img check [-r leaks|all]`.
 *
 * Every cluster the metadata names is counted (header, L1 and L2 tables
 * of the image and of each internal snapshot, data clusters, compressed
 * byte ranges, the snapshot table, the refcount table and blocks) and the
 * counts compared with the stored refcounts: a stored count above the
 * real one is a leak, below it a corruption (the cluster could be handed
 * out twice).  Unaligned or impossible offsets and wrong COPIED flags
 * are corruptions too.  Repairing leaks lowers counts in place; repairing
 * everything rebuilds the refcount structures from the real counts at the
 * end of the file and fixes the COPIED flags. */
#include "block/qcow2_int.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct refs {
    uint32_t *c;        /* references per cluster (saturating) */
    uint64_t n;         /* clusters counted so far */
    uint64_t limit;     /* no cluster index at or past this is plausible */
    uint64_t top;       /* 1 + the highest cluster index referenced */
    struct vk_check_report *rep;
    bool skip_refcount_structs;
    /* Why the count may miss references (a structure this driver does not
     * interpret): then nothing may be freed.  Empty when the count is
     * complete. */
    char unsure[160];
};

static int ref_cluster(struct refs *R, uint64_t idx)
{
    if (idx >= R->limit) {
        R->rep->corruptions++;
        return 0;
    }
    if (idx >= R->n) {
        uint64_t nn = R->n ? R->n : 1024;
        while (nn <= idx)
            nn *= 2;
        if (nn > R->limit)
            nn = R->limit;
        uint32_t *v = realloc(R->c, (size_t)nn * sizeof *v);
        if (!v)
            return vk_error(-ENOMEM, "out of memory");
        memset(v + R->n, 0, (size_t)(nn - R->n) * sizeof *v);
        R->c = v;
        R->n = nn;
    }
    if (R->c[idx] != UINT32_MAX)
        R->c[idx]++;
    if (idx >= R->top)
        R->top = idx + 1;
    return 0;
}

static int ref_range(struct q2 *s, struct refs *R, uint64_t off, uint64_t len)
{
    if (!len)
        return 0;
    /* Implausible or wrapping ranges: one error, not one per cluster. */
    if (len - 1 > UINT64_MAX - off || (off + len - 1) / s->cs >= R->limit) {
        R->rep->corruptions++;
        return 0;
    }
    for (uint64_t c = off / s->cs; c <= (off + len - 1) / s->cs; c++) {
        int r = ref_cluster(R, c);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Count an L1 table and everything below it.  active: the image's own
 * table (its statistics go into the report). */
static int walk_l1(struct q2 *s, struct refs *R, uint64_t l1_off, uint64_t l1_size,
                   const uint64_t *l1, bool active)
{
    struct vk_check_report *rep = R->rep;
    int r = ref_range(s, R, l1_off, l1_size * 8);
    uint8_t *l2 = malloc(s->cs);
    if (!l2)
        return vk_error(-ENOMEM, "out of memory");
    uint64_t prev_end = 0;
    for (uint64_t i = 0; r == 0 && i < l1_size; i++) {
        uint64_t off = l1[i] & QCOW2_OFFSET_MASK;
        if (!off) {
            if (l1[i])
                rep->corruptions++;   /* flags without a table, or cluster 0 */
            continue;
        }
        if ((off & (s->cs - 1)) || !q2_in_file(s, off, s->cs)) {
            rep->corruptions++;   /* unaligned or past the end: unusable */
            continue;
        }
        if ((r = ref_range(s, R, off, s->cs)) < 0 || (r = q2_host_read(s, l2, s->cs, off)) < 0)
            break;
        for (uint64_t j = 0; r == 0 && j < s->l2_entries; j++) {
            uint64_t e = q2_be64(l2 + 8 * j);
            if (e & QCOW2_OFLAG_COMPRESSED) {
                uint64_t co = q2_coffset(s, e);
                uint64_t end = (co & ~511ULL) + q2_csectors(s, e) * 512;
                if (co >= s->file_size) {
                    rep->corruptions++;
                    continue;
                }
                r = ref_range(s, R, co, end - co);
                if (active) {
                    rep->allocated_clusters++;
                    rep->compressed_clusters++;
                }
                continue;
            }
            uint64_t h = e & QCOW2_OFFSET_MASK;
            if (!h)
                continue;
            if ((h & (s->cs - 1)) || h >= s->file_size) {
                rep->corruptions++;   /* unaligned, or past the end of the file */
                continue;
            }
            r = ref_range(s, R, h, s->cs);
            if (active) {
                rep->allocated_clusters++;
                if (prev_end && h != prev_end)
                    rep->fragmented_clusters++;
                prev_end = h + s->cs;
            }
        }
    }
    free(l2);
    return r;
}

/* The internal snapshots: their table and their L1 trees.  Open has
 * checked the table against QEMU's limits. */
static int walk_snapshots(struct q2 *s, struct refs *R)
{
    uint64_t off = s->snapshots_off;
    int r = 0;
    for (uint32_t i = 0; r == 0 && i < s->nb_snapshots; i++) {
        struct q2_snap sn;
        if (!q2_in_file(s, off, 40)) {
            R->rep->corruptions++;
            return 0;
        }
        if ((r = q2_read_snapshot(s, off, &sn)) < 0)
            return r;
        uint64_t l1_bytes = (uint64_t)sn.l1_size * 8;
        if (l1_bytes > QCOW2_MAX_L1_BYTES || (sn.l1_off & (s->cs - 1)) || !q2_in_file(s, sn.l1_off, l1_bytes)) {
            R->rep->corruptions++;
        } else if (sn.l1_size) {
            uint64_t *t;
            if ((r = q2_read_table(s, sn.l1_off, sn.l1_size, &t)) < 0)
                return r;
            r = walk_l1(s, R, sn.l1_off, sn.l1_size, t, false);
            free(t);
        }
        off += sn.len;
    }
    /* The table as a whole: entries share clusters. */
    return r < 0 ? r : ref_range(s, R, s->snapshots_off, off - s->snapshots_off);
}

static void set_unsure(struct refs *R, const char *fmt, unsigned long long v)
{
    if (!R->unsure[0])
        snprintf(R->unsure, sizeof R->unsure, fmt, v);
}

/* One bitmap's table and the data clusters it names
 * (docs/interop/qcow2.txt, "Bitmaps extension"). */
static int walk_bitmap_table(struct q2 *s, struct refs *R, uint64_t off, uint32_t n)
{
    if (!n || n > QCOW2_MAX_BITMAP_TABLE || (off & (s->cs - 1)) || !q2_in_file(s, off, (uint64_t)n * 8)) {
        R->rep->corruptions++;
        set_unsure(R, "an invalid bitmap table at offset %llu", (unsigned long long)off);
        return 0;
    }
    uint64_t *t;
    int r = ref_range(s, R, off, (uint64_t)n * 8);
    if (r < 0 || (r = q2_read_table(s, off, n, &t)) < 0)
        return r;
    for (uint32_t i = 0; r == 0 && i < n; i++) {
        uint64_t h = t[i] & QCOW2_OFFSET_MASK;
        if ((t[i] & 0xff000000000001feULL) || (h && ((t[i] & 1) || (h & (s->cs - 1))))) {
            R->rep->corruptions++;   /* reserved bits, or an unaligned cluster */
            continue;
        }
        if (h)
            r = ref_range(s, R, h, s->cs);
    }
    free(t);
    return r;
}

/* The persistent dirty bitmaps: directory, tables, data clusters.  They
 * count only while their autoclear bit is set (as in QEMU); open has
 * checked the extension's fields. */
static int walk_bitmaps(struct q2 *s, struct refs *R)
{
    const struct q2_ext *e = q2_find_ext(s, QCOW2_EXT_BITMAPS);
    if (!e || !(s->autoclear & QCOW2_AUTOCLEAR_BITMAPS))
        return 0;
    uint32_t nb = q2_be32(e->data);
    uint64_t dsize = q2_be64(e->data + 8), doff = q2_be64(e->data + 16);
    if (!q2_in_file(s, doff, dsize)) {
        R->rep->corruptions++;
        set_unsure(R, "a bitmap directory beyond the end of the file (offset %llu)",
                   (unsigned long long)doff);
        return 0;
    }
    int r = ref_range(s, R, doff, dsize);
    uint8_t *dir = malloc((size_t)dsize);
    if (!dir)
        return vk_error(-ENOMEM, "out of memory");
    if (r < 0 || (r = q2_host_read(s, dir, (size_t)dsize, doff)) < 0) {
        free(dir);
        return r;
    }
    uint64_t p = 0;
    uint32_t i;
    for (i = 0; r == 0 && i < nb && dsize - p >= 24; i++) {
        const uint8_t *d = dir + p;
        uint64_t len = (24 + (uint64_t)q2_be32(d + 20) + q2_be16(d + 18) + 7) / 8 * 8;
        if (len > dsize - p)
            break;
        r = walk_bitmap_table(s, R, q2_be64(d), q2_be32(d + 8));
        p += len;
    }
    free(dir);
    if (r == 0 && (i != nb || p != dsize)) {
        R->rep->corruptions++;
        set_unsure(R, "a broken bitmap directory at offset %llu", (unsigned long long)doff);
    }
    return r;
}

/* Header extensions, feature bits and header fields this driver does not
 * interpret may name clusters it cannot see. */
static void find_unknown(struct q2 *s, struct refs *R)
{
    for (int i = 0; i < s->next; i++) {
        uint32_t t = s->ext[i].type;
        if (t != QCOW2_EXT_BITMAPS && t != QCOW2_EXT_DATA_FILE)
            set_unsure(R, "an unknown header extension 0x%08llx", t);
    }
    if (s->compat & ~(uint64_t)QCOW2_COMPAT_LAZY_REFCOUNTS)
        set_unsure(R, "unknown compatible feature bits 0x%llx",
                   (unsigned long long)(s->compat & ~(uint64_t)QCOW2_COMPAT_LAZY_REFCOUNTS));
    uint64_t ac = QCOW2_AUTOCLEAR_BITMAPS | QCOW2_AUTOCLEAR_DATA_FILE_RAW;
    if (s->autoclear & ~ac)
        set_unsure(R, "unknown autoclear feature bits 0x%llx", (unsigned long long)(s->autoclear & ~ac));
    for (uint32_t i = 0; i < s->hdr_extra_len; i++)
        if (s->hdr_extra[i]) {
            set_unsure(R, "an unknown header field at byte %llu", (unsigned long long)QCOW2_HEADER_V3_LEN + i);
            break;
        }
}

static int count_refs(struct q2 *s, struct refs *R)
{
    int r = ref_range(s, R, 0, s->cs);   /* the header */
    if (r == 0)
        r = walk_l1(s, R, s->l1_off, s->l1_size, s->l1, true);
    if (r == 0)
        r = walk_snapshots(s, R);
    if (r == 0)
        r = walk_bitmaps(s, R);
    find_unknown(s, R);
    if (r == 0 && !R->skip_refcount_structs) {
        r = ref_range(s, R, s->rt_off, (uint64_t)s->rt_clusters * s->cs);
        for (uint64_t b = 0; r == 0 && b < s->rt_entries; b++) {
            uint64_t o = s->rt[b] & QCOW2_RT_OFFSET_MASK;
            if (!o)
                continue;
            if ((o & (s->cs - 1)) || o >= s->file_size)
                R->rep->corruptions++;
            else
                r = ref_range(s, R, o, s->cs);
        }
    }
    return r;
}

/* Check (and with fix, correct) the COPIED flags of the active tables:
 * set exactly when the cluster's refcount is 1. */
static int check_copied(struct q2 *s, struct vk_check_report *rep, bool fix)
{
    for (uint64_t i = 0; i < s->l1_size; i++) {
        uint64_t off = s->l1[i] & QCOW2_OFFSET_MASK, rc;
        if (!off || (off & (s->cs - 1)) || !q2_in_file(s, off, s->cs))
            continue;
        int r = q2_get_refcount(s, off / s->cs, &rc);
        if (r < 0)
            return r;
        if ((rc == 1) != !!(s->l1[i] & QCOW2_OFLAG_COPIED)) {
            rep->corruptions++;
            if (fix) {
                s->l1[i] = off | (rc == 1 ? QCOW2_OFLAG_COPIED : 0);
                s->l1_dirty = true;
                rep->corruptions_fixed++;
            }
        }
        struct q2_centry *t;
        if ((r = q2_cache_get(s, &s->l2c, off, true, &t)) < 0)
            return r;
        for (uint64_t j = 0; j < s->l2_entries; j++) {
            uint64_t e = q2_be64(t->data + 8 * j), h = e & QCOW2_OFFSET_MASK;
            bool want;
            if (e & QCOW2_OFLAG_COMPRESSED) {
                want = false;
                h = 0;
            } else if (!h || (h & (s->cs - 1))) {
                continue;
            } else {
                if ((r = q2_get_refcount(s, h / s->cs, &rc)) < 0)
                    return r;
                /* q2_get_refcount may have evicted the table: fetch again */
                if ((r = q2_cache_get(s, &s->l2c, off, true, &t)) < 0)
                    return r;
                want = rc == 1;
            }
            if (want != !!(e & QCOW2_OFLAG_COPIED)) {
                rep->corruptions++;
                if (fix) {
                    q2_put64(t->data + 8 * j, want ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED);
                    t->dirty = true;
                    rep->corruptions_fixed++;
                }
            }
        }
    }
    return 0;
}

int q2_fix_copied(struct q2 *s)
{
    struct vk_check_report tmp = { 0 };
    return check_copied(s, &tmp, true);
}

/* Repairs lower refcounts to the counted references: refused when the
 * count may have missed some. */
static int refuse_repair(struct q2 *s, const struct refs *R)
{
    return vk_error(-ENOTSUP, "%s: not repairing: the image has %s, which may use clusters vmkit "
                    "cannot see (freeing them could destroy data)", s->bd->name, R->unsure);
}

static void refs_init(struct q2 *s, struct refs *R, struct vk_check_report *rep)
{
    memset(R, 0, sizeof *R);
    R->rep = rep;
    /* References must lie in the file; compressed data may run a little
     * past its end (sector rounding of the last compressed cluster). */
    R->limit = s->file_size / s->cs + 4;
}

int q2_rebuild_refcounts(struct q2 *s, struct vk_check_report *rep)
{
    struct vk_check_report dummy = { 0 };
    struct refs R;
    refs_init(s, &R, rep ? rep : &dummy);
    R.skip_refcount_structs = true;
    int r = q2_flush_meta(s);
    if (r == 0)
        r = count_refs(s, &R);
    if (r == 0 && R.unsure[0])
        r = refuse_repair(s, &R);
    if (r < 0) {
        free(R.c);
        return r;
    }
    /* New refcount blocks and table after everything referenced. */
    uint64_t end = R.n;
    while (end && !R.c[end - 1])
        end--;
    uint64_t a = end > (s->file_size + s->cs - 1) / s->cs ? end : (s->file_size + s->cs - 1) / s->cs;
    uint64_t nb = 1, nt = 1;
    for (;;) {
        uint64_t b = (a + nb + nt + s->rb_entries - 1) / s->rb_entries;
        uint64_t t = (b * 8 + s->cs - 1) / s->cs;
        if (b == nb && t == nt)
            break;
        nb = b;
        nt = t;
    }
    if (nt * s->cs > QCOW2_MAX_RT_BYTES) {
        free(R.c);
        return vk_error(-EFBIG, "%s: refcount table would be too large", s->bd->name);
    }
    size_t bytes = (size_t)((nb + nt) * s->cs);
    uint8_t *buf = calloc(1, bytes);
    uint64_t *rt = calloc((size_t)(nt * s->cs / 8), sizeof *rt);
    if (!buf || !rt) {
        free(buf);
        free(rt);
        free(R.c);
        return vk_error(-ENOMEM, "out of memory");
    }
    uint64_t maxrc = q2_rc_max(s);
    for (uint64_t c = 0; c < a + nb + nt; c++) {
        uint64_t v = c >= a ? 1 : c < R.n ? R.c[c] : 0;
        if (v)
            q2_rb_set(s->refcount_order, buf + (c / s->rb_entries) * s->cs, c % s->rb_entries,
                      v > maxrc ? maxrc : v);
    }
    for (uint64_t b = 0; b < nb; b++) {
        rt[b] = (a + b) * s->cs;
        q2_put64(buf + nb * s->cs + 8 * b, rt[b]);
    }
    free(R.c);
    r = q2_host_write(s, buf, bytes, a * s->cs);
    free(buf);
    if (r == 0)
        r = q2_sync(s);
    if (r < 0) {
        free(rt);
        return r;
    }
    free(s->rt);
    s->rt = rt;
    s->rt_entries = s->rt_disk_entries = nt * s->cs / 8;
    s->rt_off = (a + nb) * s->cs;
    s->rt_clusters = (uint32_t)nt;
    for (int i = 0; i < s->rbc.n; i++) {   /* the old blocks are gone */
        s->rbc.e[i].off = 0;
        s->rbc.e[i].dirty = false;
    }
    s->free_hint = 0;
    s->cbyte_off = 0;
    s->nfrees = 0;
    if ((r = q2_write_header(s)) < 0 || (r = q2_sync(s)) < 0)
        return r;
    return 0;
}

/* Compare counted references with the stored refcounts. */
static int compare(struct q2 *s, struct refs *R, int repair)
{
    struct vk_check_report *rep = R->rep;
    /* The clusters of the file, and any referenced past its end (a
     * compressed cluster's last sectors), as QEMU's check: a refcount for
     * a cluster past both is no leak (a power cut can leave the refcount
     * block of an allocation that extended the file, and not the data). */
    uint64_t n = (s->file_size + s->cs - 1) / s->cs;
    if (R->top > n)
        n = R->top;
    for (uint64_t c = 0; c < n; c++) {
        uint64_t b = c / s->rb_entries;
        if (c >= R->n && (b >= s->rt_entries || !(s->rt[b] & QCOW2_RT_OFFSET_MASK))) {
            c = (c / s->rb_entries + 1) * s->rb_entries - 1;   /* skip an absent block */
            continue;
        }
        uint64_t want = c < R->n ? R->c[c] : 0, have;
        int r = q2_get_refcount(s, c, &have);
        if (r < 0) {
            /* The refcount block is unreadable: one error for the block,
             * not a failed read per cluster (a damaged image could make
             * that a million reads; found by fuzz_qcow2). */
            rep->check_errors++;
            vk_error_clear();
            c = (c / s->rb_entries + 1) * s->rb_entries - 1;
            continue;
        }
        if (have > want) {
            rep->leaks++;
            if (repair & VK_REPAIR_LEAKS) {
                if ((r = q2_set_refcount(s, c, want)) < 0)
                    return r;
                rep->leaks_fixed++;
            }
        } else if (have < want) {
            rep->corruptions++;
        }
        if (want)
            rep->image_end_offset = (c + 1) * s->cs;
    }
    return 0;
}

static int check_once(struct q2 *s, struct vk_check_report *rep, int repair)
{
    struct refs R;
    memset(rep, 0, sizeof *rep);
    refs_init(s, &R, rep);
    int r = q2_flush_meta(s);
    if (r == 0)
        r = count_refs(s, &R);
    if (r == 0)
        r = compare(s, &R, R.unsure[0] ? 0 : repair & VK_REPAIR_LEAKS);
    if (r == 0 && R.unsure[0] && repair && rep->leaks)
        r = refuse_repair(s, &R);
    else if (r == 0 && R.unsure[0] && rep->leaks && s->bd->flags & VK_OPEN_CHECK)
        vk_warn("%s: the image has %s: some leaked clusters may be in use by it", s->bd->name, R.unsure);
    free(R.c);
    if (r == 0)
        r = check_copied(s, rep, false);
    uint64_t span = s->cs;
    rep->total_clusters = (s->bd->size + span - 1) / span;
    if (r == 0)
        r = q2_flush_meta(s);
    return r;
}

int q2_verify(struct q2 *s)
{
    uint64_t tables = 0;
    for (uint32_t i = 0; i < s->l1_size; i++)
        tables += s->l1[i] != 0;
    if (tables > 16384)
        return 0;   /* a big image: trust it, as QEMU does */
    struct vk_check_report rep;
    int r = check_once(s, &rep, 0);
    if (r < 0)
        return r;
    if (rep.corruptions)
        return vk_error(-EUCLEAN, "%s: %llu metadata errors (refcounts or tables); not writing to it "
                        "(see vmkit img check; repair: vmkit img check -r all)",
                        s->bd->name, (unsigned long long)rep.corruptions);
    return 0;
}

int q2_check(struct vk_blockdev *bd, struct vk_check_report *rep, int repair)
{
    struct q2 *s = bd->priv;
    if (repair && !s->writable)
        return vk_error(-EROFS, "%s: opened read-only, cannot repair", bd->name);
    int r = check_once(s, rep, repair == VK_REPAIR_LEAKS ? VK_REPAIR_LEAKS : 0);
    if (r < 0 || !repair)
        return r;
    uint64_t leaks = rep->leaks, corr = rep->corruptions;
    uint64_t lf = rep->leaks_fixed, cf = 0;
    if ((repair & VK_REPAIR_ALL) == VK_REPAIR_ALL && (leaks || corr || (s->incompat & QCOW2_INCOMPAT_DIRTY))) {
        struct vk_check_report tmp = { 0 };
        if ((r = q2_rebuild_refcounts(s, &tmp)) < 0)
            return r;
        if ((r = check_copied(s, &tmp, true)) < 0 || (r = q2_flush_meta(s)) < 0)
            return r;
        lf = leaks;
        cf = corr;
    }
    if (s->incompat & (QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)) {
        if ((repair & VK_REPAIR_ALL) == VK_REPAIR_ALL) {
            s->incompat &= ~(uint64_t)(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT);
            if ((r = q2_write_header(s)) < 0 || (r = q2_sync(s)) < 0)
                return r;
        }
    }
    /* Double-check: what is left is what the report shows. */
    if ((r = check_once(s, rep, 0)) < 0)
        return r;
    rep->leaks_fixed = lf;
    rep->corruptions_fixed = cf;
    return 0;
}
