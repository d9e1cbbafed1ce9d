/* qcow2 internal snapshots: create, list, apply, delete
 * (docs/interop/qcow2.txt "Snapshots"; QEMU's block/qcow2-snapshot.c is
 * the reference for what the fields hold and how refcounts move).
 *
 * Refcounts: a data cluster or L2 table counts once per L1 tree (the
 * active one and each snapshot's) that reaches it, so taking a snapshot
 * adds one to everything the active tree names and clears the COPIED
 * flags (the write path then copies before writing, qcow2_rw.c).
 *
 * Crash order, for every operation: the new structures (L1 copy, raised
 * refcounts, cleared COPIED flags, the new snapshot table) reach the disk
 * first and are synced; the header naming them is the commit point; only
 * then do refcounts drop and COPIED flags come back (refcount blocks
 * before the L2 tables, q2_flush_meta's order).  A crash at any point
 * leaves the old or the new image, at worst with leaked clusters.  One
 * window the format cannot close (QEMU has it too): a refcount and the
 * COPIED flag naming it live in different clusters.  Raised refcounts go
 * first, so a crash before the flags are cleared leaves COPIED set on a
 * cluster counted twice; harmless, as the snapshot that would share it is
 * not committed yet.  After the commit, lowered refcounts go before the
 * flags are set again: COPIED clear on a cluster counted once only costs
 * a needless copy.  Check reports both; check -r all fixes them.  On a
 * version 3 image the operation runs under the dirty bit (set and synced
 * before the first change, cleared after the last): after a crash QEMU
 * and vmkit repair the image when they next open it for writing, as for
 * lazy refcounts, so the window heals itself. */
#include "block/qcow2_int.h"
#include "block/snapshot.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One snapshot table entry in memory.  Extra data is kept verbatim. */
struct sent {
    uint64_t l1_off, vm_clock;
    uint32_t l1_size, date_sec, date_nsec, vm_state32, extra_len;
    uint8_t *extra;
    char *id, *name;
};

struct stable {
    struct sent *e;
    uint32_t n;
    uint64_t bytes;     /* what the table took on disk */
};

static void table_free(struct stable *t)
{
    for (uint32_t i = 0; i < t->n; i++) {
        free(t->e[i].extra);
        free(t->e[i].id);
        free(t->e[i].name);
    }
    free(t->e);
    t->e = NULL;
    t->n = 0;
}

/* Read the whole snapshot table; every entry must lie inside the file. */
static int table_read(struct q2 *s, struct stable *t)
{
    memset(t, 0, sizeof *t);
    if (!(t->e = calloc(s->nb_snapshots ? s->nb_snapshots : 1, sizeof *t->e)))
        return vk_error(-ENOMEM, "out of memory");
    uint64_t pos = s->snapshots_off;
    for (uint32_t i = 0; i < s->nb_snapshots; i++) {
        uint8_t h[40];
        int r = 0;
        if (!q2_in_file(s, pos, sizeof h))
            goto beyond;
        if ((r = q2_host_read(s, h, sizeof h, pos)) < 0)
            goto fail_r;
        struct sent *e = &t->e[t->n];
        uint32_t idl = q2_be16(h + 12), nl = q2_be16(h + 14), xl = q2_be32(h + 36);
        if (xl > QCOW2_MAX_SNAPSHOT_EXTRA) {
            r = vk_error(-EINVAL, "%s: snapshot table entry %u has %u bytes of extra data (at most %u)",
                         s->bd->name, i, xl, QCOW2_MAX_SNAPSHOT_EXTRA);
            goto fail_r;
        }
        uint64_t body = (uint64_t)xl + idl + nl;
        if (!q2_in_file(s, pos + sizeof h, body))
            goto beyond;
        uint8_t *b = malloc(body + 1);
        e->extra = malloc(xl + 1);
        if (b && e->extra && (r = q2_host_read(s, b, (size_t)body, pos + sizeof h)) == 0) {
            memcpy(e->extra, b, xl);
            e->id = strndup((const char *)b + xl, idl);
            e->name = strndup((const char *)b + xl + idl, nl);
        }
        free(b);
        t->n++;   /* owns what was allocated, for table_free */
        if (!b || !e->extra || !e->id || !e->name) {
            r = r < 0 ? r : vk_error(-ENOMEM, "out of memory");
            goto fail_r;
        }
        e->l1_off = q2_be64(h);
        e->l1_size = q2_be32(h + 8);
        e->date_sec = q2_be32(h + 16);
        e->date_nsec = q2_be32(h + 20);
        e->vm_clock = q2_be64(h + 24);
        e->vm_state32 = q2_be32(h + 32);
        e->extra_len = xl;
        pos += (sizeof h + body + 7) / 8 * 8;
        if (pos - s->snapshots_off > QCOW2_MAX_SNAPSHOT_TABLE) {
            r = vk_error(-EFBIG, "%s: the snapshot table is larger than %u MiB", s->bd->name,
                         QCOW2_MAX_SNAPSHOT_TABLE >> 20);
            goto fail_r;
        }
        continue;
    beyond:
        r = vk_error(-EINVAL, "%s: snapshot table entry %u (offset %llu) lies beyond the end of the file",
                     s->bd->name, i, (unsigned long long)pos);
    fail_r:
        table_free(t);
        return r;
    }
    t->bytes = pos - s->snapshots_off;
    return 0;
}

static uint64_t entry_len(const struct sent *e)
{
    return (40 + (uint64_t)e->extra_len + strlen(e->id) + strlen(e->name) + 7) / 8 * 8;
}

/* Serialise t into fresh clusters: *off (0 for an empty table). */
static int table_write(struct q2 *s, const struct stable *t, uint64_t *off)
{
    uint64_t len = 0;
    for (uint32_t i = 0; i < t->n; i++)
        len += entry_len(&t->e[i]);
    *off = 0;
    if (!len)
        return 0;
    if (len > QCOW2_MAX_SNAPSHOT_TABLE)
        return vk_error(-EFBIG, "%s: the snapshot table would exceed %u MiB", s->bd->name,
                        QCOW2_MAX_SNAPSHOT_TABLE >> 20);
    uint8_t *buf = calloc(1, (size_t)len);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    uint8_t *p = buf;
    for (uint32_t i = 0; i < t->n; i++) {
        const struct sent *e = &t->e[i];
        size_t idl = strlen(e->id), nl = strlen(e->name);
        q2_put64(p, e->l1_off);
        q2_put32(p + 8, e->l1_size);
        p[12] = (uint8_t)(idl >> 8);
        p[13] = (uint8_t)idl;
        p[14] = (uint8_t)(nl >> 8);
        p[15] = (uint8_t)nl;
        q2_put32(p + 16, e->date_sec);
        q2_put32(p + 20, e->date_nsec);
        q2_put64(p + 24, e->vm_clock);
        q2_put32(p + 32, e->vm_state32);
        q2_put32(p + 36, e->extra_len);
        memcpy(p + 40, e->extra, e->extra_len);
        memcpy(p + 40 + e->extra_len, e->id, idl);
        memcpy(p + 40 + e->extra_len + idl, e->name, nl);
        p += entry_len(e);
    }
    int r = q2_alloc(s, (len + s->cs - 1) / s->cs, off);
    if (r == 0)
        r = q2_host_write(s, buf, (size_t)len, *off);
    free(buf);
    return r;
}

/* The entry whose ID is name, else the first whose name is name (as
 * QEMU's bdrv_snapshot_find), or -1. */
static int table_find(const struct stable *t, const char *name)
{
    for (uint32_t i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].id, name))
            return (int)i;
    for (uint32_t i = 0; i < t->n; i++)
        if (!strcmp(t->e[i].name, name))
            return (int)i;
    return -1;
}

/* ---- refcounts of a whole L1 tree ------------------------------------ */

struct adj {
    int addend;         /* +1, -1, or 0: only validate */
    uint64_t max, done; /* stop after max changes; how many were made */
};

/* Change the refcount of cluster c by a->addend. */
static int adj_one(struct q2 *s, struct adj *a, uint64_t c)
{
    if (!a->addend)
        return 0;
    if (a->done >= a->max)
        return 1;
    uint64_t rc;
    int r = q2_get_refcount(s, c, &rc);
    if (r < 0)
        return r;
    if (a->addend < 0 && !rc)
        return vk_error(-EIO, "%s: freeing cluster %llu whose refcount is already 0", s->bd->name,
                        (unsigned long long)c);
    if ((r = q2_set_refcount(s, c, a->addend > 0 ? rc + 1 : rc - 1)) < 0)
        return r;
    if (a->addend < 0 && rc == 1 && s->cbyte_off && c == s->cbyte_off / s->cs)
        s->cbyte_off = 0;   /* no more packing into a cluster given back */
    a->done++;
    return 0;
}

static int adj_range(struct q2 *s, struct adj *a, uint64_t off, uint64_t len)
{
    for (uint64_t c = off / s->cs; len && c <= (off + len - 1) / s->cs; c++) {
        int r = adj_one(s, a, c);
        if (r)
            return r;
    }
    return 0;
}

/* Adjust (or with addend 0 only validate) every L2 table the n-entry L1
 * table l1 names and every host cluster their entries name, once per
 * reference.  Returns 0, 1 when a->max was reached, or -errno (offsets
 * that are unaligned or past the end of the file: -EINVAL, so a damaged
 * table is refused before anything changed). */
static int tree_adjust(struct q2 *s, const uint64_t *l1, uint32_t n, struct adj *a)
{
    uint8_t *l2 = malloc(s->cs);
    if (!l2)
        return vk_error(-ENOMEM, "out of memory");
    int r = 0;
    for (uint32_t i = 0; r == 0 && i < n; i++) {
        uint64_t off = l1[i] & QCOW2_OFFSET_MASK;
        if (!off)
            continue;
        if ((off & (s->cs - 1)) || !q2_in_file(s, off, s->cs)) {
            r = vk_error(-EINVAL, "%s: L1 entry %u names an invalid L2 table offset %llu (see vmkit img check)",
                         s->bd->name, i, (unsigned long long)off);
            break;
        }
        if ((r = q2_host_read(s, l2, s->cs, off)) < 0 || (r = adj_one(s, a, off / s->cs)))
            break;
        for (uint64_t j = 0; r == 0 && j < s->l2_entries; j++) {
            uint64_t e = q2_be64(l2 + 8 * j), h = e & QCOW2_OFFSET_MASK;
            if (e & QCOW2_OFLAG_COMPRESSED) {
                uint64_t co = q2_coffset(s, e), end = (co & ~511ULL) + q2_csectors(s, e) * 512;
                if (co >= s->file_size)
                    r = vk_error(-EINVAL, "%s: compressed cluster at host offset %llu is beyond the end of the file",
                                 s->bd->name, (unsigned long long)co);
                else
                    r = adj_range(s, a, co, end - co);
            } else if (h && ((h & (s->cs - 1)) || h >= s->file_size)) {
                r = vk_error(-EINVAL, "%s: L2 table at %llu names an invalid data cluster offset %llu",
                             s->bd->name, (unsigned long long)off, (unsigned long long)h);
            } else if (h) {
                r = adj_one(s, a, h / s->cs);
            }
        }
    }
    free(l2);
    return r;
}

/* Add one reference to everything tree l1 names; undone when it fails
 * part way (a refcount at its width's maximum, a damaged table). */
static int tree_ref(struct q2 *s, const uint64_t *l1, uint32_t n)
{
    struct adj a = { 0, UINT64_MAX, 0 };
    int r = tree_adjust(s, l1, n, &a);   /* validate first: no half work */
    if (r < 0)
        return r;
    a = (struct adj){ 1, UINT64_MAX, 0 };
    if ((r = tree_adjust(s, l1, n, &a)) >= 0)
        return 0;
    struct adj u = { -1, a.done, 0 };
    int saved = r;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", vk_errmsg());
    tree_adjust(s, l1, n, &u);
    return vk_error(saved, "%s", msg);
}

/* Drop one reference from tree l1 and from its own n_l1_clusters at
 * l1_off (after the commit point). */
static int tree_unref(struct q2 *s, const uint64_t *l1, uint32_t n, uint64_t l1_off)
{
    struct adj a = { -1, UINT64_MAX, 0 };
    int r = tree_adjust(s, l1, n, &a);
    if (r == 0 && n)
        r = adj_range(s, &a, l1_off, (uint64_t)n * 8);
    return r;
}

/* Clear the COPIED flags of tree l1's L2 entries in place (they are, or
 * are about to be, shared). */
static int clear_copied(struct q2 *s, const uint64_t *l1, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t off = l1[i] & QCOW2_OFFSET_MASK;
        if (!off)
            continue;
        struct q2_centry *t;
        int r = q2_cache_get(s, &s->l2c, off, true, &t);
        if (r < 0)
            return r;
        for (uint64_t j = 0; j < s->l2_entries; j++) {
            uint64_t e = q2_be64(t->data + 8 * j);
            if (e & QCOW2_OFLAG_COPIED) {
                q2_put64(t->data + 8 * j, e & ~QCOW2_OFLAG_COPIED);
                t->dirty = true;
            }
        }
    }
    return 0;
}

/* ---- the operations -------------------------------------------------- */

static int open_q2(struct vk_blockdev *bd, bool write, struct q2 **out)
{
    if (bd->format != &vk_format_qcow2)
        return vk_error(-ENOTSUP, "%s: internal snapshots need qcow2 (this image is %s)", bd->name,
                        bd->format ? bd->format->name : "not an image file");
    struct q2 *s = bd->priv;
    if (write && !s->writable)
        return vk_error(-EROFS, "%s: image is open read-only", bd->name);
    *out = s;
    return write ? q2_flush_meta(s) : 0;
}

/* Set or clear the dirty bit (version 3; a no-op on version 2, which has
 * none), synced: see the crash order above. */
static int mark_dirty(struct q2 *s, bool dirty)
{
    if (s->version < 3)
        return 0;
    if (dirty)
        s->incompat |= QCOW2_INCOMPAT_DIRTY;
    else
        s->incompat &= ~(uint64_t)QCOW2_INCOMPAT_DIRTY;
    int r = q2_write_header(s);
    return r == 0 ? q2_sync(s) : r;
}

/* Everything written so far on disk, then the header: the commit point. */
static int commit_header(struct q2 *s)
{
    int r = q2_flush_meta(s);
    if (r == 0)
        r = q2_sync(s);
    if (r == 0)
        r = q2_write_header(s);
    if (r == 0)
        r = q2_sync(s);
    return r;
}

/* After the commit: give back the old snapshot table, set the COPIED
 * flags where refcounts dropped to 1, write it all. */
static int finish(struct q2 *s, uint64_t old_table, uint64_t old_bytes, int r)
{
    struct adj a = { -1, UINT64_MAX, 0 };
    if (r == 0 && old_bytes)
        r = adj_range(s, &a, old_table, old_bytes);
    if (r == 0)
        r = q2_fix_copied(s);
    if (r == 0)
        r = q2_flush_meta(s);
    s->dbuf_l2e = 0;
    return r;
}

static uint64_t extra_u64(const struct sent *e, uint32_t at, uint64_t dflt)
{
    return e->extra_len >= at + 8 ? q2_be64(e->extra + at) : dflt;
}

int vk_snapshot_list(struct vk_blockdev *bd, struct vk_snapshot **out, size_t *n)
{
    struct q2 *s;
    struct stable t;
    int r = open_q2(bd, false, &s);
    if (r < 0 || (r = table_read(s, &t)) < 0)
        return r;
    struct vk_snapshot *v = calloc(t.n ? t.n : 1, sizeof *v);
    if (!v) {
        table_free(&t);
        return vk_error(-ENOMEM, "out of memory");
    }
    for (uint32_t i = 0; i < t.n; i++) {
        struct sent *e = &t.e[i];
        v[i].id = e->id;
        v[i].name = e->name;
        e->id = e->name = NULL;
        v[i].vm_state_size = extra_u64(e, 0, e->vm_state32);
        v[i].disk_size = extra_u64(e, 8, bd->size);
        v[i].icount = extra_u64(e, 16, UINT64_MAX);
        v[i].vm_clock_nsec = e->vm_clock;
        v[i].date_sec = e->date_sec;
        v[i].date_nsec = e->date_nsec;
    }
    *out = v;
    *n = t.n;
    table_free(&t);
    return 0;
}

void vk_snapshots_free(struct vk_snapshot *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].id);
        free(v[i].name);
    }
    free(v);
}

int vk_snapshot_create(struct vk_blockdev *bd, const char *name)
{
    struct q2 *s;
    struct stable t;
    int r = open_q2(bd, true, &s);
    if (r < 0)
        return r;
    if (!*name || strlen(name) > VK_SNAPSHOT_NAME_MAX)
        return vk_error(-EINVAL, "%s: snapshot name must be 1 to %d bytes", bd->name, VK_SNAPSHOT_NAME_MAX);
    if ((r = table_read(s, &t)) < 0)
        return r;
    unsigned long long maxid = 0;
    for (uint32_t i = 0; i < t.n; i++) {
        unsigned long long id = strtoull(t.e[i].id, NULL, 10);
        if (id > maxid)
            maxid = id;
        if (!strcmp(t.e[i].name, name)) {
            r = vk_error(-EEXIST, "%s: a snapshot named '%s' exists already (ID %s)", bd->name, name, t.e[i].id);
            goto out;
        }
    }
    if (t.n >= QCOW2_MAX_SNAPSHOTS) {
        r = vk_error(-EFBIG, "%s: the image has %u snapshots already (the most qcow2 allows)", bd->name, t.n);
        goto out;
    }
    struct sent *nv = realloc(t.e, (t.n + 1) * sizeof *nv);
    if (!nv) {
        r = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    t.e = nv;
    struct sent *e = &t.e[t.n];
    memset(e, 0, sizeof *e);
    char idbuf[24];
    snprintf(idbuf, sizeof idbuf, "%llu", maxid + 1);
    e->id = strdup(idbuf);
    e->name = strdup(name);
    e->extra = calloc(1, 24);
    t.n++;
    if (!e->id || !e->name || !e->extra) {
        r = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    /* What qemu-img writes: vm_state_size_large 0, the disk size, icount 0. */
    e->extra_len = 24;
    q2_put64(e->extra + 8, bd->size);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e->date_sec = (uint32_t)ts.tv_sec;
    e->date_nsec = (uint32_t)(ts.tv_nsec / 1000 * 1000);
    e->l1_size = s->l1_size;

    /* The L1 copy and the raised refcounts, COPIED cleared. */
    uint64_t nc = ((uint64_t)s->l1_size * 8 + s->cs - 1) / s->cs;
    if ((r = mark_dirty(s, true)) < 0 || (nc && (r = q2_alloc(s, nc, &e->l1_off)) < 0))
        goto out;
    uint64_t *copy = malloc((s->l1_size ? s->l1_size : 1) * sizeof *copy);
    if (!copy) {
        r = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < s->l1_size; i++)
        copy[i] = s->l1[i] & ~QCOW2_OFLAG_COPIED;
    if ((r = tree_ref(s, copy, s->l1_size)) < 0) {
        /* Nothing was shared: the copy's clusters go back at once. */
        struct adj a = { -1, UINT64_MAX, 0 };
        free(copy);
        adj_range(s, &a, e->l1_off, nc * s->cs);
        goto out;
    }
    if ((r = q2_fix_copied(s)) == 0 && nc)
        r = q2_write_table(s, copy, s->l1_size, e->l1_off);
    free(copy);
    uint64_t off, old_off = s->snapshots_off;
    if (r < 0 || (r = table_write(s, &t, &off)) < 0)
        goto out;
    s->nb_snapshots = t.n;
    s->snapshots_off = off;
    if ((r = commit_header(s)) < 0) {
        s->nb_snapshots = t.n - 1;
        s->snapshots_off = old_off;
        goto out;
    }
    r = finish(s, old_off, t.bytes, 0);
    if (r == 0)
        r = mark_dirty(s, false);
out:
    table_free(&t);
    return r;
}

/* The snapshot's L1 table, checked against the limits open applies to
 * the active one. */
static int read_snap_l1(struct q2 *s, const struct sent *e, uint64_t disk_size, uint64_t **l1)
{
    uint64_t bytes = (uint64_t)e->l1_size * 8, span = s->l2_entries * s->cs;
    if (bytes > QCOW2_MAX_L1_BYTES || (e->l1_off & (s->cs - 1)) || (bytes && !q2_in_file(s, e->l1_off, bytes)) ||
        e->l1_size < disk_size / span + (disk_size % span != 0))
        return vk_error(-EINVAL, "%s: snapshot '%s' has an invalid L1 table (offset %llu, %u entries)",
                        s->bd->name, e->name, (unsigned long long)e->l1_off, e->l1_size);
    return q2_read_table(s, e->l1_off, e->l1_size, l1);
}

int vk_snapshot_apply(struct vk_blockdev *bd, const char *name)
{
    struct q2 *s;
    struct stable t;
    int r = open_q2(bd, true, &s);
    if (r < 0 || (r = table_read(s, &t)) < 0)
        return r;
    int k = table_find(&t, name);
    uint64_t *sl1 = NULL, *nl1 = NULL, nw = 0;
    if (k < 0) {
        r = vk_error(-ENOENT, "%s: no snapshot with the ID or name '%s'", bd->name, name);
        goto out;
    }
    const struct sent *e = &t.e[k];
    uint64_t size = extra_u64(e, 8, bd->size);
    if ((r = read_snap_l1(s, e, size, &sl1)) < 0)
        goto out;
    uint64_t nc = ((uint64_t)e->l1_size * 8 + s->cs - 1) / s->cs;
    if (!nc)
        nc = 1;
    if (!(nl1 = calloc(nc * s->cs / 8, sizeof *nl1))) {
        r = vk_error(-ENOMEM, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < e->l1_size; i++)
        nl1[i] = sl1[i] & ~QCOW2_OFLAG_COPIED;
    /* The snapshot's tree gains the active table's reference; its flags
     * say shared before the header makes it active. */
    if ((r = mark_dirty(s, true)) < 0 || (r = tree_ref(s, sl1, e->l1_size)) < 0)
        goto out;
    /* (An I/O error from here to the commit leaves leaked clusters.) */
    if ((r = clear_copied(s, sl1, e->l1_size)) < 0 || (r = q2_alloc(s, nc, &nw)) < 0 ||
        (r = q2_write_table(s, nl1, nc * s->cs / 8, nw)) < 0)
        goto out;
    uint64_t *ol1 = s->l1, oo = s->l1_off, osize = bd->size;
    uint32_t on = s->l1_size;
    s->l1 = nl1;
    s->l1_off = nw;
    s->l1_size = e->l1_size;
    bd->size = size;
    if ((r = commit_header(s)) < 0) {
        s->l1 = ol1;
        s->l1_off = oo;
        s->l1_size = on;
        bd->size = osize;
        goto out;
    }
    nl1 = ol1;   /* freed below */
    r = finish(s, 0, 0, tree_unref(s, ol1, on, oo));
    if (r == 0)
        r = mark_dirty(s, false);
out:
    free(sl1);
    free(nl1);
    table_free(&t);
    return r;
}

int vk_snapshot_delete(struct vk_blockdev *bd, const char *name)
{
    struct q2 *s;
    struct stable t;
    int r = open_q2(bd, true, &s);
    if (r < 0 || (r = table_read(s, &t)) < 0)
        return r;
    int k = table_find(&t, name);
    uint64_t *sl1 = NULL;
    if (k < 0) {
        r = vk_error(-ENOENT, "%s: no snapshot with the ID or name '%s'", bd->name, name);
        goto out;
    }
    struct sent gone = t.e[k];
    struct adj check = { 0, UINT64_MAX, 0 };
    if ((r = read_snap_l1(s, &gone, 0, &sl1)) < 0 || (r = tree_adjust(s, sl1, gone.l1_size, &check)) < 0)
        goto out;
    memmove(&t.e[k], &t.e[k + 1], (t.n - (uint32_t)k - 1) * sizeof *t.e);
    t.n--;
    uint64_t off, old_off = s->snapshots_off;
    if ((r = mark_dirty(s, true)) < 0 || (r = table_write(s, &t, &off)) < 0)
        goto restore;
    s->nb_snapshots = t.n;
    s->snapshots_off = off;
    if ((r = commit_header(s)) < 0) {
        s->nb_snapshots = t.n + 1;
        s->snapshots_off = old_off;
        goto restore;
    }
    r = finish(s, old_off, t.bytes, tree_unref(s, sl1, gone.l1_size, gone.l1_off));
    if (r == 0)
        r = mark_dirty(s, false);
restore:
    t.e[t.n++] = gone;   /* for table_free */
out:
    free(sl1);
    table_free(&t);
    return r;
}
