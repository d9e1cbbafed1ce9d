/* A read-only block device over one snapshot, straight from the
 * repository: a read finds the chunks under it in the snapshot's index
 * (binary search), fetches each through vk_bk_chunk_get (decompressed and
 * checked against its SHA-256, so damaged data is refused, never served)
 * and reads holes as zeroes.  The last two chunks stay decoded: the fs
 * layer reads metadata in small, nearby pieces. */
#include "backup/backup.h"

#include "block/blockdev.h"
#include "util/err.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAPBD_CACHE 2

struct snapbd {
    struct vk_bk_repo *repo;
    const struct vk_bk_snap *snap;
    struct {
        size_t ext;             /* index into snap->ext; SIZE_MAX: empty */
        uint8_t *buf;
        unsigned long use;      /* for least-recently-used */
    } c[SNAPBD_CACHE];
    unsigned long clock;
};

/* The extent holding the chunk at aligned offset off, or NULL (a hole). */
static const struct vk_bk_extent *find_ext(const struct vk_bk_snap *s, uint64_t off, size_t *idx)
{
    size_t lo = 0, hi = s->next;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->ext[mid].off == off) {
            *idx = mid;
            return &s->ext[mid];
        }
        if (s->ext[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The decoded bytes of extent idx, from the cache or the repository. */
static int chunk(struct vk_blockdev *bd, size_t idx, const uint8_t **out)
{
    struct snapbd *p = bd->priv;
    int victim = 0;
    for (int i = 0; i < SNAPBD_CACHE; i++) {
        if (p->c[i].ext == idx) {
            p->c[i].use = ++p->clock;
            *out = p->c[i].buf;
            return 0;
        }
        if (p->c[i].use < p->c[victim].use)
            victim = i;
    }
    const struct vk_bk_extent *x = &p->snap->ext[idx];
    p->c[victim].ext = SIZE_MAX;
    int r = vk_bk_chunk_get(p->repo, x->id, p->c[victim].buf, x->len);
    if (r < 0)
        return vk_error_prefix(r, "%s, disk offset %llu: ", bd->name, (unsigned long long)x->off);
    p->c[victim].ext = idx;
    p->c[victim].use = ++p->clock;
    *out = p->c[victim].buf;
    return 0;
}

static int snapbd_pread(struct vk_blockdev *bd, void *buf, size_t len, uint64_t off)
{
    struct snapbd *p = bd->priv;
    uint64_t cs = p->snap->chunk_size;
    uint8_t *b = buf;
    while (len) {
        uint64_t base = off - off % cs, in = off - base;
        size_t n = cs - in < len ? (size_t)(cs - in) : len;
        size_t idx;
        const struct vk_bk_extent *x = find_ext(p->snap, base, &idx);
        const uint8_t *data = NULL;
        if (!x) {
            memset(b, 0, n);
        } else {
            int r = chunk(bd, idx, &data);
            if (r < 0)
                return r;
            /* The index parser checked len; the disk's tail chunk is short. */
            size_t have = in < x->len ? x->len - (size_t)in : 0;
            memcpy(b, data + in, n < have ? n : have);
            if (n > have)
                memset(b + have, 0, n - have);
        }
        b += n;
        off += n;
        len -= n;
    }
    return 0;
}

static int snapbd_close(struct vk_blockdev *bd)
{
    struct snapbd *p = bd->priv;
    for (int i = 0; i < SNAPBD_CACHE; i++)
        free(p->c[i].buf);
    vk_bd_free(bd);
    return 0;
}

static const struct vk_blockdev_ops snapbd_ops = {
    .pread = snapbd_pread,
    .close = snapbd_close,
};

int vk_bk_snap_bd_open(struct vk_bk_repo *r, const struct vk_bk_snap *s, struct vk_blockdev **out)
{
    char name[VK_BK_ID_MAX + 16];
    snprintf(name, sizeof name, "snapshot %s", s->id);
    struct vk_blockdev *bd = vk_bd_alloc(&snapbd_ops, NULL, name, sizeof(struct snapbd));
    if (!bd)
        return vk_error(-ENOMEM, "out of memory");
    struct snapbd *p = bd->priv;
    p->repo = r;
    p->snap = s;
    for (int i = 0; i < SNAPBD_CACHE; i++) {
        p->c[i].ext = SIZE_MAX;
        if (!(p->c[i].buf = malloc(s->chunk_size))) {
            snapbd_close(bd);
            return vk_error(-ENOMEM, "out of memory");
        }
    }
    bd->size = s->size;
    bd->cluster_size = 512;
    *out = bd;
    return 0;
}
