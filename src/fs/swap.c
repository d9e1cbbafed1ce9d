/* Linux swap areas: mkswap's version-1 header and probing it.
 *
 * Layout (util-linux mkswap, include/swapheader.h), for page size P:
 *   0..1023      boot bits (left zero)
 *   1024         u32 version (1), u32 last_page, u32 nr_badpages,
 *                u8 uuid[16], char volume_name[16], u32 padding[117],
 *                u32 badpages[]
 *   P-10..P-1    "SWAPSPACE2"
 * All fields little-endian on the machines we care about (mkswap writes
 * host order; blkid accepts both).  last_page = size/P - 1.  A swap area
 * holds no files, so there is no mount.
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

/* Recognises a version-1 header at any page size blkid knows (4K..64K). */
static int swap_probe(struct vk_blockdev *bd, struct vk_fsprobe *out)
{
    uint8_t hdr[1024 + 64];
    char sig[10];

    for (uint32_t ps = 4096; ps <= 65536; ps <<= 1) {
        if (bd->size < ps)
            break;
        int r = vk_bd_pread(bd, sig, sizeof sig, ps - 10);
        if (r < 0)
            return r;
        if (memcmp(sig, "SWAPSPACE2", 10) && memcmp(sig, "SWAP-SPACE", 10))
            continue;
        memset(out, 0, sizeof *out);
        snprintf(out->type, sizeof out->type, "swap");
        if (!memcmp(sig, "SWAP-SPACE", 10)) {      /* version 0: no label/UUID */
            out->size = bd->size;
            return 100;
        }
        if ((r = vk_bd_pread(bd, hdr, sizeof hdr, 0)) < 0)
            return r;
        uint32_t version = vk_fsu_get32(hdr + 1024);
        uint32_t last = vk_fsu_get32(hdr + 1028);
        if (version != 1)
            continue;
        memcpy(out->label, hdr + 1052, 16);
        out->label[16] = 0;
        vk_fsu_format_uuid(hdr + 1036, out->uuid, sizeof out->uuid);
        out->size = ((uint64_t)last + 1) * ps;
        if (out->size > bd->size)
            out->size = bd->size;
        return 100;
    }
    return 0;
}

const struct vk_fs_type vk_fs_swap = {
    .name = "swap",
    .mkfs_names = names,
    .probe = swap_probe,
    .mkfs = swap_mkfs,
};
