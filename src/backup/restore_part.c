/* backup restore --part N DISK:M: one partition of a snapshot into a
 * partition of another, existing disk, through a slice of it (nothing
 * outside partition M can be written).  There is no .partial to rename
 * here, so an interrupted restore is made recognisable instead: the
 * partition's head (where every filesystem keeps its signature) is zeroed
 * first and written last. */
#include "backup/backup.h"

#include "block/blockdev.h"
#include "part/target.h"
#include "util/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_MAX (1u << 20)     /* the head written last */

/* The snapshot's partition n, or NULL. */
static const struct vk_bk_part *snap_part(const struct vk_bk_snap *s, unsigned n)
{
    for (size_t i = 0; i < s->nparts; i++)
        if (s->parts[i].number == n)
            return &s->parts[i];
    return NULL;
}

/* Refuse before writing anything: every chunk under [ps, ps+pl) must be
 * in the repository. */
static int chunks_present(struct vk_bk_repo *r, const struct vk_bk_snap *s, uint64_t ps, uint64_t pl)
{
    for (size_t i = 0; i < s->next; i++) {
        const struct vk_bk_extent *x = &s->ext[i];
        if (x->off + x->len <= ps || x->off >= ps + pl)
            continue;
        int e = vk_bk_chunk_exists(r, x->id);
        if (e < 0)
            return e;
        if (!e) {
            char hex[65];
            vk_bk_hex(x->id, hex);
            return vk_error(-ENOENT, "snapshot %s, disk offset %llu: chunk %s is missing", s->id,
                            (unsigned long long)x->off, hex);
        }
    }
    return 0;
}

/* Copy [ps, ps+pl) of the snapshot to [0, pl) of bd, holding back the
 * first hl bytes in head. */
static int copy_range(struct vk_bk_repo *r, const struct vk_bk_snap *s, uint64_t ps, uint64_t pl,
                      struct vk_blockdev *bd, uint8_t *head, uint64_t hl,
                      const struct vk_bk_restore_opts *o)
{
    uint64_t cs = s->chunk_size;
    uint8_t *buf = malloc(cs);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    size_t i = 0;
    int e = 0;
    for (uint64_t c = ps / cs * cs; e >= 0 && c < ps + pl; c += cs) {
        uint64_t clen = s->size - c < cs ? s->size - c : cs;
        uint64_t lo = c > ps ? c : ps, hi = c + clen < ps + pl ? c + clen : ps + pl;
        while (i < s->next && s->ext[i].off < c)
            i++;
        bool hole = i >= s->next || s->ext[i].off != c;
        if (o->progress)
            o->progress(lo - ps, pl, o->pctx);
        if (!hole && (e = vk_bk_chunk_get(r, s->ext[i].id, buf, s->ext[i].len)) < 0) {
            e = vk_error_prefix(e, "snapshot %s, disk offset %llu: ", s->id, (unsigned long long)c);
            break;
        }
        uint64_t t = lo - ps, n = hi - lo;
        const uint8_t *d = buf + (lo - c);
        if (t < hl) {           /* the part under the head waits */
            uint64_t k = hl - t < n ? hl - t : n;
            if (hole)
                memset(head + t, 0, k);
            else
                memcpy(head + t, d, k);
            t += k, d += k, n -= k;
        }
        if (n)
            e = hole ? vk_bd_write_zeroes(bd, t, n, VK_ZERO_MAY_UNMAP) : vk_bd_pwrite(bd, d, n, t);
    }
    free(buf);
    return e;
}

int vk_bk_restore_part(struct vk_bk_repo *r, const struct vk_bk_snap *s, unsigned n,
                       const char *dest, const struct vk_bk_restore_opts *o,
                       struct vk_bk_grown *g)
{
    struct vk_bk_grown gdummy;
    if (!g)
        g = &gdummy;
    memset(g, 0, sizeof *g);
    const struct vk_bk_part *sp = snap_part(s, n);
    if (!sp)
        return vk_error(-ENOENT, "snapshot %s has no partition %u", s->id, n);
    uint64_t ps = sp->start, pl = sp->size;
    if (!pl || ps > s->size || pl > s->size - ps)
        return vk_error(-EINVAL, "snapshot %s: partition %u lies outside the disk", s->id, n);
    struct vk_target t;
    int e = vk_target_parse(dest, false, &t);
    if (e < 0)
        return e;
    if (!t.part) {
        vk_target_free(&t);
        return vk_error(-EINVAL, "%s: name a partition of the destination disk (DISK:M)", dest);
    }
    struct vk_blockdev *bd;
    e = vk_target_open(&t, NULL, VK_OPEN_RDWR, &bd);
    vk_target_free(&t);
    if (e < 0)
        return e;
    if (bd->size < pl) {
        e = vk_error(-ENOSPC, "%s: partition %u of snapshot %s (%llu bytes) does not fit in %s (%llu bytes)",
                     bd->name, n, s->id, (unsigned long long)pl, bd->name,
                     (unsigned long long)bd->size);
        vk_bd_close(bd);
        return e;
    }
    uint64_t hl = pl < HEAD_MAX ? pl : HEAD_MAX;
    uint8_t *head = malloc(hl);
    if (!head)
        e = vk_error(-ENOMEM, "out of memory");
    if (e >= 0)
        e = chunks_present(r, s, ps, pl);
    if (e >= 0 && (e = vk_bd_write_zeroes(bd, 0, hl, 0)) >= 0 && (e = vk_bd_flush(bd)) >= 0) {
        /* From here on a failure leaves a partition with no signature. */
        e = copy_range(r, s, ps, pl, bd, head, hl, o);
        if (e >= 0)
            e = vk_bd_flush(bd);        /* the body durable before the head */
        if (e >= 0)
            e = vk_bd_pwrite(bd, head, hl, 0);
        if (e >= 0)
            e = vk_bd_flush(bd);
        if (e < 0)
            e = vk_error_prefix(e, "%s: restore incomplete, its first %llu bytes left zero (no "
                                "filesystem): ", bd->name, (unsigned long long)hl);
    }
    free(head);
    if (e >= 0 && o->grow && bd->size > pl) {
        g->part = n;
        g->part_size = bd->size;
        e = vk_bk_grow_fs(bd, 0, bd->size, bd->name, g);
    }
    int c = vk_bd_close(bd);
    if (e >= 0 && c < 0)
        e = c;
    if (e >= 0 && o->progress)
        o->progress(pl, pl, o->pctx);
    return e < 0 ? e : 0;
}
