/* The block allocation table overlap sweep shared by vpc.c and vhdx.c
 * (see bat_check.h). */
#include "block/bat_check.h"

#include <stdlib.h>

static int cmp_extent(const void *a, const void *b)
{
    const struct vk_bat_extent *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

int vk_bat_check_overlaps(struct vk_bat_extent *x, size_t n, vk_bat_overlap_fn overlap, void *ctx)
{
    if (n < 2)
        return 0;
    qsort(x, n, sizeof *x, cmp_extent);
    size_t top = 0;   /* the extent reaching furthest so far */
    for (size_t k = 1; k < n; k++) {
        if (x[k].start >= x[top].end) {
            top = k;
            continue;
        }
        /* of two overlapping extents, the block is the bad one (the later
         * one when both are): dropping it keeps the metadata */
        const struct vk_bat_extent *bad = x[k].idx != VK_BAT_META ? &x[k] : &x[top];
        int r = overlap(ctx, bad);
        if (r < 0)
            return r;
        if (bad == &x[top] && bad->idx != VK_BAT_META)
            top = k;    /* x[top] dropped: x[k] (metadata) is kept */
    }
    return 0;
}
