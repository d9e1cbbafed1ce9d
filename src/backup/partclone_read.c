/* Reading partclone images (format 0002; partclone.h has the layout):
 * untrusted bytes, so every length is checked before it is used. */
#include "backup/partclone.h"

#include "util/endian.h"
#include "util/err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CSM_NONE 0x00
#define CSM_CRC32 0x20
#define BM_BIT 0x01
#define RUN_MAX (1u << 20)      /* bytes read and handed on at once */
#define NONE (~0ull)            /* get(): no number to name */

/* Exactly len bytes of the stream, or -EIO naming where it ended. */
static int get(vk_pc_in_fn in, void *ctx, void *buf, size_t len, const char *what,
               const char *where, unsigned long long n)
{
    size_t got = 0;
    while (got < len) {
        long k = in(ctx, (uint8_t *)buf + got, len - got);
        if (k < 0)
            return (int)k;
        if (k == 0 && n == NONE)
            return vk_error(-EIO, "%s: truncated in %s (the image ends early)", what, where);
        if (k == 0)
            return vk_error(-EIO, "%s: truncated at %s%llu (the image ends early)", what, where, n);
        got += (size_t)k;
    }
    return 0;
}

static bool bit(const uint8_t *bm, uint64_t i)
{
    return bm[i / 8] >> (i % 8) & 1;
}

/* The header's fields into *info, every one checked. */
static int parse_head(const uint8_t *h, const char *what, uint64_t max_size,
                      struct vk_pc_info *info, uint16_t *csm, bool *reseed)
{
    if (memcmp(h, "partclone-image", 16))
        return vk_error(-EINVAL, "%s: not a partclone image (no \"partclone-image\" magic)", what);
    if (memcmp(h + 30, "0002", 4))
        return vk_error(-EINVAL, "%s: partclone image version \"%.4s\" (only 0002 is read)", what,
                        (const char *)h + 30);
    if (vk_get_le16(h + 34) != 0xC0DE)
        return vk_error(-EINVAL, "%s: a big-endian partclone image (not read)", what);
    if (vk_get_le32(h + 106) != vk_pc_crc32(0xffffffffu, h, 106))
        return vk_error(-EINVAL, "%s: the partclone header's checksum is wrong", what);
    memset(info, 0, sizeof *info);
    memcpy(info->fs, h + 36, 15);
    info->device_size = vk_get_le64(h + 52);
    info->totalblock = vk_get_le64(h + 60);
    info->usedblocks = vk_get_le64(h + 68);
    info->block_size = vk_get_le32(h + 84);
    info->blocks_per_checksum = vk_get_le32(h + 100);
    uint32_t bs = info->block_size;
    *csm = vk_get_le16(h + 96);
    *reseed = h[104] != 0;
    if (bs < 512 || bs > VK_PC_MAX_BLOCK || (bs & (bs - 1)))
        return vk_error(-EINVAL, "%s: partclone block size %u", what, bs);
    if (info->device_size > max_size)
        return vk_error(-EINVAL, "%s: the image is of a device of %llu bytes, the partition "
                        "holds %llu", what, (unsigned long long)info->device_size,
                        (unsigned long long)max_size);
    if (!info->totalblock || info->totalblock > info->device_size / bs)
        return vk_error(-EINVAL, "%s: %llu blocks of %u bytes do not fit the device's %llu bytes",
                        what, (unsigned long long)info->totalblock, bs,
                        (unsigned long long)info->device_size);
    if (info->usedblocks > info->totalblock || vk_get_le64(h + 76) != info->usedblocks)
        return vk_error(-EINVAL, "%s: %llu used blocks (bitmap count %llu) of %llu", what,
                        (unsigned long long)info->usedblocks,
                        (unsigned long long)vk_get_le64(h + 76),
                        (unsigned long long)info->totalblock);
    if (h[105] != BM_BIT)
        return vk_error(-EINVAL, "%s: partclone bitmap mode %u (only 1, a bit per block)", what,
                        h[105]);
    if (*csm == CSM_CRC32) {
        if (vk_get_le16(h + 98) != 4 || !info->blocks_per_checksum)
            return vk_error(-EINVAL, "%s: CRC32 of %u bytes every %u blocks", what,
                            vk_get_le16(h + 98), info->blocks_per_checksum);
    } else if (*csm != CSM_NONE || vk_get_le16(h + 98) != 0) {
        return vk_error(-EINVAL, "%s: partclone checksum mode 0x%x of %u bytes", what, *csm,
                        vk_get_le16(h + 98));
    }
    return 0;
}

/* A group's checksum, compared with the one computed. */
static int check_crc(vk_pc_in_fn in, void *ictx, const char *what, uint32_t crc, uint64_t first,
                     uint64_t last)
{
    uint8_t cs[4];
    int r = get(in, ictx, cs, 4, what, "the checksum after block ", last);
    if (r >= 0 && vk_get_le32(cs) != crc)
        r = vk_error(-EINVAL, "%s: checksum error in blocks %llu-%llu (data damaged)", what,
                     (unsigned long long)first, (unsigned long long)last);
    return r;
}

/* The data part: every used block, in runs of at most RUN_MAX bytes
 * that end at each checksum group's end. */
static int read_data(vk_pc_in_fn in, void *ictx, const char *what, const struct vk_pc_info *info,
                     const uint8_t *bm, bool crc32, bool reseed, vk_pc_put_fn put, void *pctx)
{
    uint32_t bs = info->block_size, bpc = crc32 ? info->blocks_per_checksum : UINT32_MAX;
    uint32_t cap = RUN_MAX / bs, in_group = 0, crc = 0xffffffffu;
    uint64_t group_first = 0, last = 0;
    if (info->usedblocks < cap)     /* a small image: a small buffer */
        cap = (uint32_t)info->usedblocks;
    uint8_t *buf = malloc((size_t)(cap ? cap : 1) * bs);
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    int r = 0;
    for (uint64_t b = 0; r >= 0 && b < info->totalblock;) {
        if (!bit(bm, b)) {
            b++;
            continue;
        }
        uint32_t n = 0;
        while (n < cap && n < bpc - in_group && b + n < info->totalblock && bit(bm, b + n))
            n++;
        if (!in_group)
            group_first = b;
        if ((r = get(in, ictx, buf, (size_t)n * bs, what, "block ", b)) < 0)
            break;
        if (crc32)
            crc = vk_pc_crc32(crc, buf, (size_t)n * bs);
        if ((r = put(pctx, b * bs, buf, (size_t)n * bs)) < 0)
            break;
        in_group += n;
        b += n;
        last = b - 1;
        if (crc32 && in_group == bpc) {
            r = check_crc(in, ictx, what, crc, group_first, last);
            in_group = 0;
            if (reseed)
                crc = 0xffffffffu;
        }
    }
    if (r >= 0 && crc32 && in_group)
        r = check_crc(in, ictx, what, crc, group_first, last);
    free(buf);
    return r;
}

int vk_pc_read(vk_pc_in_fn in, void *ictx, const char *what, uint64_t max_size,
               struct vk_pc_info *info, vk_pc_put_fn put, void *pctx)
{
    uint8_t h[VK_PC_HEAD_SIZE], cs[4];
    uint16_t csm = 0;
    bool reseed = true;
    int r = get(in, ictx, h, sizeof h, what, "the header", NONE);
    if (r < 0 || (r = parse_head(h, what, max_size, info, &csm, &reseed)) < 0)
        return r;
    /* totalblock <= max_size / 512: the bitmap is at most max_size / 4096. */
    uint64_t bmlen = (info->totalblock + 7) / 8;
    uint8_t *bm = malloc(bmlen);
    if (!bm)
        return vk_error(-ENOMEM, "%s: out of memory for a bitmap of %llu bytes", what,
                        (unsigned long long)bmlen);
    if ((r = get(in, ictx, bm, bmlen, what, "the bitmap", NONE)) < 0 ||
        (r = get(in, ictx, cs, 4, what, "the bitmap's checksum", NONE)) < 0)
        goto out;
    if (vk_get_le32(cs) != vk_pc_crc32(0xffffffffu, bm, bmlen)) {
        r = vk_error(-EINVAL, "%s: the bitmap's checksum is wrong", what);
        goto out;
    }
    if (info->totalblock % 8)       /* bits past the end mean nothing */
        bm[bmlen - 1] &= (uint8_t)((1u << (info->totalblock % 8)) - 1);
    uint64_t used = 0;
    for (uint64_t i = 0; i < bmlen; i++)
        used += (unsigned)__builtin_popcount(bm[i]);
    if (used != info->usedblocks) {
        r = vk_error(-EINVAL, "%s: the bitmap marks %llu blocks used, the header says %llu", what,
                     (unsigned long long)used, (unsigned long long)info->usedblocks);
        goto out;
    }
    r = read_data(in, ictx, what, info, bm, csm == CSM_CRC32, reseed, put, pctx);
out:
    free(bm);
    return r;
}
