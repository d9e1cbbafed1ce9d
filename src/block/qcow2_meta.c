/* qcow2 metadata: the cluster cache, refcounts, cluster allocation and
 * the ordered metadata flush (see the crash-safety note in qcow2_int.h). */
#include "block/qcow2_int.h"

#include "util/err.h"
#include "util/vec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

int q2_host_read(struct q2 *s, void *buf, size_t len, uint64_t off)
{
    /* Past the end of the file reads as zeroes, as in QEMU: preallocated
     * and compressed clusters may reach beyond it. */
    char *p = buf;
    while (len) {
        ssize_t n = pread(s->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return vk_error(-errno, "%s: read at host offset %llu: %s", s->bd->name,
                            (unsigned long long)off, strerror(errno));
        if (n == 0) {
            memset(p, 0, len);
            return 0;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int q2_host_write(struct q2 *s, const void *buf, size_t len, uint64_t off)
{
    int r = vk_fd_pwrite_full(s->fd, buf, len, off, s->bd->name);
    if (r == 0 && off + len > s->file_size)
        s->file_size = off + len;
    return r;
}

int q2_host_writev(struct q2 *s, struct iovec *iov, int n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwritev(s->fd, iov, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return vk_error(-errno, "%s: write at host offset %llu: %s", s->bd->name,
                            (unsigned long long)off, strerror(errno));
        off += (uint64_t)w;
        if (off > s->file_size)
            s->file_size = off;
        while (n > 0 && (size_t)w >= iov->iov_len) {   /* drop what was written */
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

int q2_read_table(struct q2 *s, uint64_t off, uint64_t n, uint64_t **out)
{
    uint8_t *raw = malloc((size_t)(n ? n : 1) * 8);
    uint64_t *t = malloc((size_t)(n ? n : 1) * 8);
    if (!raw || !t) {
        free(raw);
        free(t);
        return vk_error(-ENOMEM, "out of memory");
    }
    int r = q2_host_read(s, raw, (size_t)n * 8, off);
    for (uint64_t i = 0; r == 0 && i < n; i++)
        t[i] = q2_be64(raw + 8 * i);
    free(raw);
    if (r < 0) {
        free(t);
        return r;
    }
    *out = t;
    return 0;
}

int q2_write_table(struct q2 *s, const uint64_t *t, uint64_t n, uint64_t off)
{
    uint8_t *raw = malloc((size_t)(n ? n : 1) * 8);
    if (!raw)
        return vk_error(-ENOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i++)
        q2_put64(raw + 8 * i, t[i]);
    int r = q2_host_write(s, raw, (size_t)n * 8, off);
    free(raw);
    return r;
}

int q2_sync(struct q2 *s)
{
    if (s->nosync)
        return 0;
    if (fdatasync(s->fd) < 0 && errno != EINVAL)
        return vk_error(-errno, "%s: flush: %s", s->bd->name, strerror(errno));
    return 0;
}

/* ---- cache ---------------------------------------------------------- */

int q2_cache_init(struct q2 *s, struct q2_cache *c, size_t budget)
{
    /* Lookups scan the entries: keep them few (small clusters would
     * otherwise give thousands). */
    int n = (int)(budget / s->cs);
    if (n < 16)
        n = 16;
    if (n > 256)
        n = 256;
    c->e = calloc((size_t)n, sizeof *c->e);
    if (!c->e)
        return vk_error(-ENOMEM, "out of memory");
    c->n = n;
    return 0;
}

void q2_cache_free(struct q2_cache *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->e[i].data);
    free(c->e);
    c->e = NULL;
    c->n = 0;
}

static bool cache_dirty(const struct q2_cache *c)
{
    for (int i = 0; i < c->n; i++)
        if (c->e[i].off && c->e[i].dirty)
            return true;
    return false;
}

/* Write the dirty entries of c (in offset order, for sequential I/O). */
static int cache_write(struct q2 *s, struct q2_cache *c)
{
    for (;;) {
        struct q2_centry *best = NULL;
        for (int i = 0; i < c->n; i++)
            if (c->e[i].off && c->e[i].dirty && (!best || c->e[i].off < best->off))
                best = &c->e[i];
        if (!best)
            return 0;
        int r = q2_host_write(s, best->data, s->cs, best->off);
        if (r < 0)
            return r;
        best->dirty = false;
    }
}

void q2_cache_drop(struct q2_cache *c, uint64_t off)
{
    for (int i = 0; i < c->n; i++)
        if (c->e[i].off == off) {
            c->e[i].off = 0;
            c->e[i].dirty = false;
        }
}

int q2_cache_get(struct q2 *s, struct q2_cache *c, uint64_t off, bool load,
                 struct q2_centry **out)
{
    /* Lookups come in runs on the same table (a scan over a refcount
     * block, consecutive clusters of one L2 table): try the last entry
     * before scanning a cache that may hold thousands of small clusters. */
    if (off && c->last < c->n && c->e[c->last].off == off && load) {
        c->e[c->last].used = ++c->tick;
        *out = &c->e[c->last];
        return 0;
    }
    for (;;) {
        struct q2_centry *victim = NULL;
        for (int i = 0; i < c->n; i++) {
            struct q2_centry *e = &c->e[i];
            if (e->off == off) {
                c->last = i;
                e->used = ++c->tick;
                if (!load) {
                    memset(e->data, 0, s->cs);
                    e->dirty = false;
                }
                *out = e;
                return 0;
            }
            if (!victim || (victim->off && (!e->off || e->used < victim->used)))
                victim = e;
        }
        if (victim->off && victim->dirty) {
            /* Evicting dirty metadata: write all of it in the safe order.
             * The flush itself may use this cache: choose again after. */
            int r = q2_flush_meta(s);
            if (r < 0)
                return r;
            continue;
        }
        if (!victim->data && !(victim->data = malloc(s->cs)))
            return vk_error(-ENOMEM, "out of memory");
        victim->off = 0;
        if (load) {
            int r = q2_host_read(s, victim->data, s->cs, off);
            if (r < 0)
                return r;
        } else {
            memset(victim->data, 0, s->cs);
        }
        victim->off = off;
        victim->dirty = false;
        victim->used = ++c->tick;
        c->last = (int)(victim - c->e);
        *out = victim;
        return 0;
    }
}

/* ---- refcounts ------------------------------------------------------ */

static uint64_t rb_get(const struct q2 *s, const uint8_t *b, uint64_t i)
{
    switch (s->refcount_order) {
    case 0: return b[i / 8] >> (i % 8) & 1;
    case 1: return b[i / 4] >> (2 * (i % 4)) & 3;
    case 2: return b[i / 2] >> (4 * (i % 2)) & 15;
    case 3: return b[i];
    case 4: return (uint64_t)b[2 * i] << 8 | b[2 * i + 1];
    case 5: return q2_be32(b + 4 * i);
    default: return q2_be64(b + 8 * i);
    }
}

void q2_rb_set(uint32_t order, uint8_t *b, uint64_t i, uint64_t v)
{
    unsigned sh;
    switch (order) {
    case 0: sh = i % 8; b[i / 8] = (uint8_t)((b[i / 8] & ~(1u << sh)) | (unsigned)v << sh); break;
    case 1: sh = 2 * (i % 4); b[i / 4] = (uint8_t)((b[i / 4] & ~(3u << sh)) | (unsigned)v << sh); break;
    case 2: sh = 4 * (i % 2); b[i / 2] = (uint8_t)((b[i / 2] & ~(15u << sh)) | (unsigned)v << sh); break;
    case 3: b[i] = (uint8_t)v; break;
    case 4: b[2 * i] = (uint8_t)(v >> 8); b[2 * i + 1] = (uint8_t)v; break;
    case 5: q2_put32(b + 4 * i, (uint32_t)v); break;
    default: q2_put64(b + 8 * i, v); break;
    }
}

/* The refcount block covering block index b, or 0 when there is none. */
static int rb_offset(struct q2 *s, uint64_t b, uint64_t *off)
{
    *off = b < s->rt_entries ? s->rt[b] & QCOW2_RT_OFFSET_MASK : 0;
    if (*off && (*off & (s->cs - 1)))
        return vk_error(-EINVAL, "%s: refcount block %llu at unaligned offset %llu", s->bd->name,
                        (unsigned long long)b, (unsigned long long)*off);
    return 0;
}

int q2_get_refcount(struct q2 *s, uint64_t cluster, uint64_t *rc)
{
    uint64_t off;
    int r = rb_offset(s, cluster / s->rb_entries, &off);
    if (r < 0)
        return r;
    if (!off) {
        *rc = 0;
        return 0;
    }
    struct q2_centry *e;
    if ((r = q2_cache_get(s, &s->rbc, off, true, &e)) < 0)
        return r;
    *rc = rb_get(s, e->data, cluster % s->rb_entries);
    return 0;
}

/* Resize the in-memory refcount table to exactly entries (new ones 0). */
static int rt_resize(struct q2 *s, uint64_t entries)
{
    if (entries > QCOW2_MAX_RT_BYTES / 8 * 2)
        return vk_error(-ENOSPC, "%s: refcount table would exceed %u MiB", s->bd->name,
                        QCOW2_MAX_RT_BYTES >> 20);
    uint64_t *nt = realloc(s->rt, (size_t)(entries ? entries : 1) * sizeof *nt);
    if (!nt)
        return vk_error(-ENOMEM, "out of memory");
    if (entries > s->rt_entries)
        memset(nt + s->rt_entries, 0, (size_t)(entries - s->rt_entries) * sizeof *nt);
    s->rt = nt;
    s->rt_entries = entries;
    return 0;
}

/* Give block index b a refcount block at cluster x.  x is free and lies
 * either in block b itself (the block counts itself) or in a block that
 * already has a refcount block (which counts x and goes to disk now, so
 * no table entry ever names a block whose own cluster is counted free).
 * An index past the on-disk table grows the in-memory table; q2_alloc()
 * then relocates the table on disk. */
static int new_refblock_at(struct q2 *s, uint64_t b, uint64_t x)
{
    int r;
    if (b >= s->rt_entries && (r = rt_resize(s, b + 1)) < 0)
        return r;
    uint64_t off = x * s->cs;
    if (off >= QCOW2_MAX_HOST_OFFSET)
        return vk_error(-ENOSPC, "%s: image would grow past the qcow2 limit", s->bd->name);
    struct q2_centry *e;
    if ((r = q2_cache_get(s, &s->rbc, off, false, &e)) < 0)
        return r;
    if (x / s->rb_entries == b)
        q2_rb_set(s->refcount_order, e->data, x % s->rb_entries, 1);
    /* On disk before any table entry names it. */
    if ((r = q2_host_write(s, e->data, s->cs, off)) < 0)
        return r;
    e->dirty = false;
    if (x / s->rb_entries != b) {
        uint64_t xb = x / s->rb_entries, xoff;
        if ((r = rb_offset(s, xb, &xoff)) < 0)
            return r;
        if (!xoff)
            return vk_error(-EIO, "%s: no refcount block for cluster %llu", s->bd->name,
                            (unsigned long long)x);
        if ((r = q2_cache_get(s, &s->rbc, xoff, true, &e)) < 0)
            return r;
        q2_rb_set(s->refcount_order, e->data, x % s->rb_entries, 1);
        if ((r = q2_host_write(s, e->data, s->cs, xoff)) < 0)
            return r;
        e->dirty = false;
    }
    s->rt[b] = off;
    if (b < s->rt_disk_entries) {
        uint8_t be[8];
        q2_put64(be, off);
        if ((r = q2_sync(s)) < 0 || (r = q2_host_write(s, be, 8, s->rt_off + 8 * b)) < 0)
            return r;
    }
    return 0;
}

/* Give block index b a refcount block in the first cluster it covers
 * (every cluster of a block without refcount block is free). */
static int new_refblock(struct q2 *s, uint64_t b)
{
    return new_refblock_at(s, b, b * s->rb_entries);
}

int q2_set_refcount(struct q2 *s, uint64_t cluster, uint64_t rc)
{
    uint64_t b = cluster / s->rb_entries, off;
    int r;
    if (rc > q2_rc_max(s))
        return vk_error(-ERANGE, "%s: refcount of cluster %llu would overflow %u bits", s->bd->name,
                        (unsigned long long)cluster, 1u << s->refcount_order);
    if ((r = rb_offset(s, b, &off)) < 0)
        return r;
    if (!off) {
        if (!rc)
            return 0;
        if ((r = new_refblock(s, b)) < 0)
            return r;
        off = s->rt[b];
        if (cluster % s->rb_entries == 0)   /* the block itself */
            return vk_error(-EIO, "%s: cluster %llu is needed for a refcount block", s->bd->name,
                            (unsigned long long)cluster);
    }
    struct q2_centry *e;
    if ((r = q2_cache_get(s, &s->rbc, off, true, &e)) < 0)
        return r;
    q2_rb_set(s->refcount_order, e->data, cluster % s->rb_entries, rc);
    e->dirty = true;
    if (!rc && cluster < s->free_hint)
        s->free_hint = cluster;
    return 0;
}

/* The first run of n free clusters from free_hint, in *start_out. */
static int find_free(struct q2 *s, uint64_t n, uint64_t *start_out)
{
    uint64_t start = s->free_hint, run = 0;
    for (uint64_t i = start; run < n; i++) {
        uint64_t rc;
        if (i * s->cs >= QCOW2_MAX_HOST_OFFSET)
            return vk_error(-ENOSPC, "%s: image would grow past the qcow2 limit", s->bd->name);
        int r = q2_get_refcount(s, i, &rc);
        if (r < 0)
            return r;
        if (rc) {
            if (i == s->free_hint)
                s->free_hint = i + 1;
            run = 0;
            start = i + 1;
        } else {
            run++;
        }
    }
    *start_out = start;
    return 0;
}

/* alloc_run() when the run needs new refcount blocks.  Putting each in
 * the first cluster it covers would cut the free space into pieces of
 * rb_entries - 1 clusters (a longer run could never be contiguous, and
 * the tail of each piece is wasted): instead the missing refcount blocks
 * go, in ascending block order, at the start of a free stretch and the
 * run follows them.  The j-th new block lands in a block at most j past the
 * first, so the block counting it is itself or already has its block. */
static int alloc_run_long(struct q2 *s, uint64_t n, uint64_t *start_out)
{
    uint64_t rbe = s->rb_entries;
    uint64_t extra = (n + 2 * rbe) / (rbe - 1) + 1;   /* >= blocks the stretch spans */
    uint64_t start;
    int r = find_free(s, n + extra, &start);
    if (r < 0)
        return r;
    uint64_t m = 0;
    for (uint64_t b = start / rbe; b <= (start + n + extra - 1) / rbe; b++) {
        uint64_t boff;
        if ((r = rb_offset(s, b, &boff)) < 0)
            return r;
        if (boff)
            continue;
        if (m == extra)
            return vk_error(-EIO, "%s: internal error placing refcount blocks", s->bd->name);
        if ((r = new_refblock_at(s, b, start + m)) < 0)
            return r;
        m++;
    }
    for (uint64_t c = start + m; c < start + m + n; c++)
        if ((r = q2_set_refcount(s, c, 1)) < 0)
            return r;
    *start_out = start + m;
    return 0;
}

/* Find n contiguous free clusters from free_hint and count them (refcount
 * 1).  Creates the refcount blocks they need (possibly growing the
 * in-memory refcount table); *start is the first cluster index. */
static int alloc_run(struct q2 *s, uint64_t n, uint64_t *start_out)
{
    uint64_t start;
    int r = find_free(s, n, &start);
    if (r < 0)
        return r;
    for (uint64_t b = start / s->rb_entries; b <= (start + n - 1) / s->rb_entries; b++) {
        uint64_t boff;
        if ((r = rb_offset(s, b, &boff)) < 0)
            return r;
        if (!boff)   /* new refcount blocks needed: they go before the run */
            return alloc_run_long(s, n, start_out);
    }
    for (uint64_t c = start; c < start + n; c++)
        if ((r = q2_set_refcount(s, c, 1)) < 0)
            return r;
    /* Free clusters skipped before start stay reachable for smaller runs. */
    if (s->free_hint == start)
        s->free_hint = start + n;
    *start_out = start;
    return 0;
}

/* The in-memory refcount table outgrew the one on disk: write it to fresh
 * clusters (refcount blocks first, then the table, then the header) and
 * free the old table after the next flush. */
static int relocate_rt(struct q2 *s)
{
    for (;;) {
        uint64_t need = (s->rt_entries * 8 + s->cs - 1) / s->cs;
        need += need / 2 + 1;   /* room to grow */
        if (need * s->cs > QCOW2_MAX_RT_BYTES)
            return vk_error(-ENOSPC, "%s: refcount table would exceed %u MiB", s->bd->name,
                            QCOW2_MAX_RT_BYTES >> 20);
        uint64_t start;
        int r = alloc_run(s, need, &start);
        if (r < 0)
            return r;
        if (s->rt_entries > need * s->cs / 8) {
            /* Its own refcount blocks outgrew it: give it back, retry. */
            for (uint64_t c = start; c < start + need; c++)
                if ((r = q2_set_refcount(s, c, 0)) < 0)
                    return r;
            continue;
        }
        if ((r = cache_write(s, &s->rbc)) < 0 || (r = q2_sync(s)) < 0)
            return r;
        uint64_t old_off = s->rt_off, old_n = s->rt_clusters;
        if ((r = rt_resize(s, need * s->cs / 8)) < 0 ||
            (r = q2_write_table(s, s->rt, s->rt_entries, start * s->cs)) < 0 || (r = q2_sync(s)) < 0)
            return r;
        s->rt_off = start * s->cs;
        s->rt_clusters = (uint32_t)need;
        s->rt_disk_entries = need * s->cs / 8;
        if ((r = q2_write_header(s)) < 0 || (r = q2_sync(s)) < 0)
            return r;
        return q2_defer_free(s, old_off, old_n);
    }
}

int q2_alloc(struct q2 *s, uint64_t n, uint64_t *off)
{
    uint64_t start;
    int r = alloc_run(s, n, &start);
    if (r < 0)
        return r;
    if (s->rt_entries > s->rt_disk_entries && (r = relocate_rt(s)) < 0)
        return r;
    *off = start * s->cs;
    /* Allocated clusters belong to the file even before they are written
     * (an L2 table waits in the cache until the next flush). */
    if (*off + n * s->cs > s->file_size)
        s->file_size = *off + n * s->cs;
    return 0;
}

int q2_defer_free(struct q2 *s, uint64_t off, uint64_t n)
{
    if (!n)
        return 0;
    if (s->nfrees && s->frees[s->nfrees - 1].off + s->frees[s->nfrees - 1].n * s->cs == off) {
        s->frees[s->nfrees - 1].n += n;
        return 0;
    }
    struct q2_free *v = vk_grow(s->frees, &s->capfrees, s->nfrees + 1, sizeof *v, 16);
    if (!v)
        return vk_error(-ENOMEM, "out of memory");
    s->frees = v;
    s->frees[s->nfrees++] = (struct q2_free){ off, n };
    return 0;
}

int q2_defer_free_l2e(struct q2 *s, uint64_t l2e)
{
    if (l2e & QCOW2_OFLAG_COMPRESSED) {
        uint64_t co = q2_coffset(s, l2e);
        uint64_t end = (co & ~511ULL) + q2_csectors(s, l2e) * 512;
        uint64_t first = co & ~(uint64_t)(s->cs - 1);
        uint64_t last = (end - 1) & ~(uint64_t)(s->cs - 1);
        /* One reference per host cluster the compressed bytes touch. */
        for (uint64_t c = first; c <= last; c += s->cs) {
            int r = q2_defer_free(s, c, 1);
            if (r < 0)
                return r;
        }
        return 0;
    }
    uint64_t host = l2e & QCOW2_OFFSET_MASK;
    return host ? q2_defer_free(s, host, 1) : 0;
}

static int apply_frees(struct q2 *s)
{
    /* Take the list first: setting refcounts may flush, and the flush
     * must not apply these again. */
    struct q2_free *list = s->frees;
    size_t n = s->nfrees;
    s->frees = NULL;
    s->nfrees = s->capfrees = 0;
    int r = 0;
    for (size_t i = 0; i < n && r == 0; i++) {
        for (uint64_t k = 0; k < list[i].n && r == 0; k++) {
            uint64_t c = list[i].off / s->cs + k, rc;
            if ((r = q2_get_refcount(s, c, &rc)) < 0)
                break;
            if (!rc)
                r = vk_error(-EIO, "%s: freeing cluster %llu whose refcount is already 0",
                             s->bd->name, (unsigned long long)c);
            else
                r = q2_set_refcount(s, c, rc - 1);
            if (s->cbyte_off && c == s->cbyte_off / s->cs)
                s->cbyte_off = 0;   /* no more packing into a cluster given back */
        }
    }
    free(list);
    return r;
}

int q2_flush_meta(struct q2 *s)
{
    int r;
    if (!s->writable)
        return 0;
    for (int round = 0; round < 2; round++) {
        bool rb = cache_dirty(&s->rbc);
        bool l2 = cache_dirty(&s->l2c) || s->l1_dirty;
        if (rb && (r = cache_write(s, &s->rbc)) < 0)
            return r;
        if (l2) {
            /* The refcounts just written, and guest data written to new
             * clusters since the last sync (their refcounts may have
             * reached the disk in an earlier flush), are on disk before
             * any L2 entry that uses them: a power cut keeps writes made
             * between two syncs in any order. */
            if ((r = q2_sync(s)) < 0 || (r = cache_write(s, &s->l2c)) < 0)
                return r;
            if (s->l1_dirty) {
                /* ... and the L2 tables before the L1 entries naming them */
                if ((r = q2_sync(s)) < 0 || (r = q2_write_table(s, s->l1, s->l1_size, s->l1_off)) < 0)
                    return r;
                s->l1_dirty = false;
            }
        }
        if ((rb || l2) && (r = q2_sync(s)) < 0)
            return r;
        if (!s->nfrees)
            break;
        if ((r = apply_frees(s)) < 0)
            return r;
    }
    return 0;
}
