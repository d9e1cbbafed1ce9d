/* LUKS headers, probed only: vmkit cannot open an encrypted volume, but
 * must not take one for what its payload area happens to hold (a leftover
 * swap signature at the end of the first page, say).  As blkid does
 * (libblkid superblocks/luks.c): the primary header "LUKS\xba\xbe" at 0,
 * or a LUKS2 secondary header "SKUL\xba\xbe" at one of the offsets
 * cryptsetup uses; a LUKS2 header must name its own offset.  Big-endian
 * fields:
 *   0 magic[6], 6 u16 version, LUKS1: 168 uuid[40];
 *   LUKS2: 8 u64 hdr_size, 24 label[48], 168 uuid[40], 256 u64 hdr_offset.
 * blkid stops at a crypto signature, so the score beats every filesystem. */
#include "fs/fs.h"

#include <stdio.h>
#include <string.h>

static uint64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The header at off if valid there: 1, else 0; <0 on a read error. */
static int header_at(struct vk_blockdev *bd, uint64_t off, const char *magic, uint8_t h[512])
{
    if (bd->size < off + 512)
        return 0;
    int r = vk_bd_pread(bd, h, 512, off);
    if (r < 0)
        return r;
    if (memcmp(h, magic, 6))
        return 0;
    return be(h + 6, 2) != 2 || be(h + 256, 8) == off;
}

static int luks_probe(struct vk_blockdev *bd, struct vk_fsprobe *out)
{
    static const uint64_t second[] = { 0x4000, 0x8000, 0x10000, 0x20000, 0x40000,
                                       0x80000, 0x100000, 0x200000, 0x400000 };
    uint8_t h[512];
    int r = header_at(bd, 0, "LUKS\xba\xbe", h);
    for (size_t i = 0; r == 0 && i < sizeof second / sizeof *second; i++)
        r = header_at(bd, second[i], "SKUL\xba\xbe", h);
    if (r <= 0)
        return r;
    memset(out, 0, sizeof *out);
    snprintf(out->type, sizeof out->type, "crypto_LUKS");
    snprintf(out->uuid, sizeof out->uuid, "%.*s", (int)sizeof out->uuid - 1, (const char *)h + 168);
    if (be(h + 6, 2) == 2)
        snprintf(out->label, sizeof out->label, "%.*s", 48, (const char *)h + 24);
    out->size = bd->size;
    return 200;
}

const struct vk_fs_type vk_fs_luks = {
    .name = "crypto_LUKS",
    .probe = luks_probe,
};
