/* Linux swap areas: mkswap's version-1 header and probing it.
 *
 * Layout (util-linux mkswap, include/swapheader.h), for page size P:
 *   0..1023      boot bits (left zero)
 *   1024         u32 version (1), u32 last_page, u32 nr_badpages,
 *                u8 uuid[16], char volume_name[16], u32 padding[117],
 *                u32 badpages[]
 *   P-10..P-1    "SWAPSPACE2"
 * mkswap writes host order: little-endian here; probing accepts both, as
 * blkid does.  last_page = size/P - 1.  A swap area holds no files, so
 * there is no mount.  Hibernation images written over a swap area are
 * probed here too (vk_fs_swsuspend), as blkid does.
 */
#include "fs/fs.h"
#include "fs/fs_util.h"

#include "util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWAP_PAGE 4096u
#define SWAP_MIN_PAGES 10u      /* mkswap refuses fewer */

static const char *const names[] = { "swap", NULL };

static int swap_mkfs(struct vk_blockdev *bd, const struct vk_mkfs_opts *o)
{
    uint64_t pages = bd->size / SWAP_PAGE;
    uint8_t uuid[16];
    int r;

    if (pages < SWAP_MIN_PAGES)
        return vk_error(-ENOSPC, "%s: too small for a swap area (%llu bytes, need at least %u)",
                        bd->name, (unsigned long long)bd->size, SWAP_MIN_PAGES * SWAP_PAGE);
    if (pages - 1 > UINT32_MAX)
        pages = (uint64_t)UINT32_MAX + 1;   /* the header counts pages in 32 bits */
    if (o->label && strlen(o->label) > 16)
        return vk_error(-EINVAL, "%s: swap label '%s' longer than 16 bytes", bd->name, o->label);
    if (o->uuid) {
        if ((r = vk_fsu_parse_uuid(o->uuid, uuid)) < 0)
            return vk_error(r, "%s: bad UUID '%s' (want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                            bd->name, o->uuid);
    } else if ((r = vk_fsu_random_uuid(uuid)) < 0) {
        return vk_error(r, "%s: cannot get random bytes for the UUID", bd->name);
    }

    uint8_t page[SWAP_PAGE];
    memset(page, 0, sizeof page);
    vk_fsu_put32(page + 1024, 1);
    vk_fsu_put32(page + 1028, (uint32_t)(pages - 1));
    vk_fsu_put32(page + 1032, 0);
    memcpy(page + 1036, uuid, 16);
    if (o->label)
        memcpy(page + 1052, o->label, strlen(o->label));
    memcpy(page + SWAP_PAGE - 10, "SWAPSPACE2", 10);
    if ((r = vk_bd_pwrite(bd, page, sizeof page, 0)) < 0)
        return r;
    return vk_bd_flush(bd);
}

/* What the signature slot at the end of the first page holds, for the
 * page sizes blkid knows (4K..64K), as libblkid superblocks/swap.c reads
 * it: a swap area (v0 "SWAP-SPACE", v1 "SWAPSPACE2") or a hibernation
 * image written over one (swsuspend: "S1SUSPEND", "S2SUSPEND",
 * "ULSUSPEND", "LINHIB0001", or TuxOnIce's magic at offset 0).  An image
 * is not a swap area: the kernel would refuse to swapon it, and it holds
 * a suspended system. */
enum sig { SIG_NONE, SIG_SWAP0, SIG_SWAP1, SIG_SUSPEND };

#define TOI_MAGIC "\xed\xc3\x02\xe9\x98\x56\xe5\x0c"

static int find_sig(struct vk_blockdev *bd, uint32_t *page)
{
    char buf[10];
    /* blkid looks at nothing smaller than 10 pages */
    if (bd->size < SWAP_MIN_PAGES * SWAP_PAGE)
        return SIG_NONE;
    int r = vk_bd_pread(bd, buf, 8, 0);
    if (r < 0)
        return r;
    if (!memcmp(buf, TOI_MAGIC, 8)) {
        *page = SWAP_PAGE;
        return SIG_SUSPEND;
    }
    for (uint32_t ps = 4096; ps <= 65536 && ps <= bd->size; ps <<= 1) {
        if ((r = vk_bd_pread(bd, buf, sizeof buf, ps - 10)) < 0)
            return r;
        *page = ps;
        if (!memcmp(buf, "SWAP-SPACE", 10))
            return SIG_SWAP0;
        if (!memcmp(buf, "SWAPSPACE2", 10))
            return SIG_SWAP1;
        if (!memcmp(buf, "S1SUSPEND", 9) || !memcmp(buf, "S2SUSPEND", 9) ||
            !memcmp(buf, "ULSUSPEND", 9) || !memcmp(buf, "LINHIB0001", 10))
            return SIG_SUSPEND;
    }
    return SIG_NONE;
}

static uint32_t swab32(uint32_t v)
{
    return v >> 24 | (v >> 8 & 0xff00) | (v << 8 & 0xff0000) | v << 24;
}

/* The v1 header at 1024 (swap and swsuspend): label and UUID, only when
 * the padding blkid checks is clean; size from last_page, in the byte
 * order the version field shows (mkswap writes host order).  Returns
 * 100, or 0 if a v1 swap header is not valid. */
static int read_header(struct vk_blockdev *bd, uint32_t ps, bool swap, struct vk_fsprobe *out)
{
    uint8_t hdr[1024 + 208];
    int r = vk_bd_pread(bd, hdr, sizeof hdr, 0);
    if (r < 0)
        return r;
    uint32_t version = vk_fsu_get32(hdr + 1024), last = vk_fsu_get32(hdr + 1028);
    bool big = swab32(version) == 1 && version != 1;
    if (swap && ((version != 1 && !big) || last == 0))
        return 0;
    if (big)
        last = swab32(last);
    /* padding[32] and [33] (after version, last_page, nr_badpages, uuid, volume) */
    if (!vk_fsu_get32(hdr + 1068 + 128) && !vk_fsu_get32(hdr + 1068 + 132)) {
        memcpy(out->label, hdr + 1052, 16);
        out->label[16] = 0;
        vk_fsu_format_uuid(hdr + 1036, out->uuid, sizeof out->uuid);
    }
    out->size = bd->size;
    if (swap && ((uint64_t)last + 1) * ps < bd->size)
        out->size = ((uint64_t)last + 1) * ps;
    return 100;
}

static int swap_probe(struct vk_blockdev *bd, struct vk_fsprobe *out)
{
    uint32_t ps;
    int k = find_sig(bd, &ps);
    if (k != SIG_SWAP0 && k != SIG_SWAP1)
        return k < 0 ? k : 0;
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "swap");
    if (k == SIG_SWAP0) {                   /* version 0: no label/UUID */
        out->size = bd->size;
        return 100;
    }
    return read_header(bd, ps, true, out);
}

static int swsuspend_probe(struct vk_blockdev *bd, struct vk_fsprobe *out)
{
    uint32_t ps;
    int k = find_sig(bd, &ps);
    if (k != SIG_SUSPEND)
        return k < 0 ? k : 0;
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "swsuspend");
    return read_header(bd, ps, false, out);
}

/* vk_fs_type.used: the header page alone; the rest of a swap area is
 * scratch space nothing needs after a restore. */
static int swap_used(struct vk_blockdev *bd, vk_used_cb cb, void *ctx, uint64_t *span)
{
    uint32_t ps;
    struct vk_fsprobe p;
    int k = find_sig(bd, &ps);
    if (k < 0)
        return k;
    if (k != SIG_SWAP0 && k != SIG_SWAP1)
        return vk_error(-EINVAL, "%s: no swap signature", bd->name);
    *span = bd->size;
    if (k == SIG_SWAP1 && read_header(bd, ps, true, &p) > 0)
        *span = p.size;
    return cb(ctx, 0, ps);
}

/* No mkfs and no mount: a hibernation image is left alone. */
const struct vk_fs_type vk_fs_swsuspend = {
    .name = "swsuspend",
    .probe = swsuspend_probe,
};

const struct vk_fs_type vk_fs_swap = {
    .name = "swap",
    .mkfs_names = names,
    .probe = swap_probe,
    .mkfs = swap_mkfs,
    .used = swap_used,
};
