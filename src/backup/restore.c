/* backup restore and verify: reading snapshots back, every chunk checked
 * against its name (SHA-256, or HMAC-SHA-256) before it is used. */
#include "backup/backup.h"

#include "block/blockdev.h"
#include "util/err.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZERO_GRAIN (64u << 10)  /* runs of zeroes this long are not written */
#define VK_SMALLEST_DISK (1u << 20)

static bool all_zero(const uint8_t *p, size_t len)
{
    return !len || (!p[0] && !memcmp(p, p + 1, len - 1));
}

/* Write buf to [off, off+len) of a new (all-zero) image, leaving the
 * zero grains unwritten so holes stay holes. */
static int write_sparse(struct vk_blockdev *bd, const uint8_t *buf, size_t len, uint64_t off)
{
    size_t i = 0;
    while (i < len) {
        size_t n = len - i < ZERO_GRAIN ? len - i : ZERO_GRAIN;
        if (all_zero(buf + i, n)) {
            i += n;
            continue;
        }
        size_t j = i + n;       /* extend over the following data grains */
        while (j < len) {
            size_t k = len - j < ZERO_GRAIN ? len - j : ZERO_GRAIN;
            if (all_zero(buf + j, k))
                break;
            j += k;
        }
        int r = vk_bd_pwrite(bd, buf + i, j - i, off + i);
        if (r < 0)
            return r;
        i = j;
    }
    return 0;
}

int vk_bk_restore(struct vk_bk_repo *r, const struct vk_bk_snap *s, const char *dest,
                  const struct vk_bk_restore_opts *o, struct vk_bk_grown *g)
{
    char partial[PATH_MAX];
    struct stat st;
    struct vk_bk_grown gdummy;
    const char *fmt = o->fmt ? o->fmt : "raw";
    bool force = o->force;
    vk_bk_progress_fn progress = o->progress;
    void *pctx = o->pctx;
    if (!g)
        g = &gdummy;
    memset(g, 0, sizeof *g);
    if (strcmp(fmt, "raw") && strcmp(fmt, "qcow2"))
        return vk_error(-EINVAL, "%s: cannot restore to format '%s' (raw, qcow2)", dest, fmt);
    bool shrink = o->size && o->size < s->size;
    if (shrink && o->size < VK_SMALLEST_DISK)
        return vk_error(-EINVAL, "%s: %llu bytes is too small for a disk", dest,
                        (unsigned long long)o->size);
    if (o->size % 512u)
        return vk_error(-EINVAL, "%s: size %llu is not a multiple of 512 bytes", dest,
                        (unsigned long long)o->size);
    if (!force && lstat(dest, &st) == 0)
        return vk_error(-EEXIST, "%s: exists (--force replaces it)", dest);
    if (snprintf(partial, sizeof partial, "%s.partial", dest) >= (int)sizeof partial)
        return vk_error(-ENAMETOOLONG, "%s: name too long", dest);
    /* A .partial is what an interrupted restore left: ours to replace. */
    int e = 0;
    if (lstat(partial, &st) == 0 && (e = vk_bd_remove(partial, fmt)) < 0)
        return vk_error_prefix(e, "%s: cannot remove the leftover: ", partial);
    /* A smaller disk is restored whole first, then cut (sparse: only the
     * chunks in use are written either way). */
    struct vk_create_opts co = { .size = o->size && !shrink ? o->size : s->size };
    e = vk_bd_create(partial, fmt, &co);
    if (e < 0)
        return e;
    struct vk_blockdev *bd = NULL;
    uint8_t *buf = malloc(s->chunk_size);
    if (!buf)
        e = vk_error(-ENOMEM, "out of memory");
    if (e >= 0)
        e = vk_bd_open(partial, fmt, VK_OPEN_RDWR | VK_OPEN_BULK, &bd);
    for (size_t i = 0; e >= 0 && i < s->next; i++) {
        const struct vk_bk_extent *x = &s->ext[i];
        if (progress)
            progress(x->off, s->size, pctx);
        if ((e = vk_bk_chunk_get(r, x->id, buf, x->len)) < 0) {
            e = vk_error_prefix(e, "snapshot %s, disk offset %llu: ", s->id,
                                (unsigned long long)x->off);
            break;
        }
        e = write_sparse(bd, buf, x->len, x->off);
    }
    /* Before the rename: a grow that fails leaves no dest either. */
    if (e >= 0 && o->grow && co.size > s->size)
        e = vk_bk_grow_last(bd, dest, s->size, g);
    if (e >= 0 && shrink)
        e = vk_bk_shrink_last(bd, dest, o->size, g);
    if (bd) {
        int c = vk_bd_close(bd);    /* flushes: the data durable before the rename */
        if (e >= 0 && c < 0)
            e = c;
    }
    free(buf);
    if (e >= 0 && force && lstat(dest, &st) == 0 && unlink(dest) < 0)
        e = vk_error(-errno, "%s: %s", dest, strerror(errno));
    if (e >= 0)
        e = vk_publish(partial, dest);
    else
        vk_bd_remove(partial, fmt);     /* refused: nothing half-written stays */
    if (e >= 0 && progress)
        progress(s->size, s->size, pctx);
    return e < 0 ? e : 0;
}
