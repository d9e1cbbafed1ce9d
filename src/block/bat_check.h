/* The overlap check that VHD (vpc.c) and VHDX (vhdx.c) run over their
 * block allocation tables when opening: every block a table entry points
 * at must lie off the format's own metadata and off every other block, or
 * a write to one would change another (and a fuzzed image could make two
 * guest blocks one).  The formats differ in what they do with a bad entry
 * (refuse, or drop it under VK_OPEN_CHECK) and in their messages, so that
 * part is a callback; the sort and the sweep are here, once. */
#ifndef VK_BLOCK_BAT_CHECK_H
#define VK_BLOCK_BAT_CHECK_H

#include <stddef.h>
#include <stdint.h>

/* idx of an extent that is the format's metadata, not a table entry */
#define VK_BAT_META UINT64_MAX

/* The file bytes [start, end) that table entry idx (or metadata) takes. */
struct vk_bat_extent {
    uint64_t start, end, idx;
};

/* Called for each overlap found, with the extent to blame: of two that
 * overlap, the table entry (the later one when both are); idx VK_BAT_META
 * when two metadata extents overlap.  Returns 0 to go on (the entry was
 * dropped, or the overlap is accepted) or a negative errno after
 * vk_error(), which ends the check. */
typedef int (*vk_bat_overlap_fn)(void *ctx, const struct vk_bat_extent *bad);

/* Sort x[0..n) by start (in place) and sweep it, calling overlap() for
 * every extent that overlaps one kept before it; a blamed table entry is
 * not kept (the caller drops it), so those kept are apart.  Two metadata
 * extents that overlap are both kept (the format checked its metadata
 * before, or refuses).  0, or what overlap() returned. */
int vk_bat_check_overlaps(struct vk_bat_extent *x, size_t n, vk_bat_overlap_fn overlap, void *ctx);

#endif
