/* Writing partclone images (format 0002; partclone.h has the layout). */
#include "backup/partclone.h"

#include "block/blockdev.h"
#include "util/endian.h"
#include "util/err.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CSM_CRC32 0x20
#define BM_BIT 0x01
#define READ_BUF (1u << 20)     /* partclone's buffer: its default checksum group */

uint32_t vk_pc_crc32(uint32_t crc, const void *buf, size_t len)
{
    /* zlib inverts on entry and exit; partclone does neither. */
    uLong z = ~crc & 0xffffffffu;
    const Bytef *p = buf;
    while (len) {
        uInt n = len > (1u << 30) ? 1u << 30 : (uInt)len;
        z = crc32(z, p, n);
        p += n;
        len -= n;
    }
    return ~(uint32_t)z;
}

static bool bit(const uint8_t *bm, uint64_t i)
{
    return bm[i / 8] >> (i % 8) & 1;
}

/* The data part: used blocks in runs of at most READ_BUF, a checksum
 * after every bpc used blocks and after the last group. */
static int write_data(struct vk_blockdev *bd, const struct vk_pc_info *in, const uint8_t *bitmap,
                      vk_pc_out_fn out, void *ctx)
{
    uint32_t bs = in->block_size, bpc = in->blocks_per_checksum, cap = READ_BUF / bs;
    uint8_t *buf = malloc(READ_BUF), cs[4];
    if (!buf)
        return vk_error(-ENOMEM, "out of memory");
    uint32_t crc = 0xffffffffu, in_group = 0;
    int r = 0;
    uint64_t b = 0;
    while (r >= 0 && b < in->totalblock) {
        if (!bit(bitmap, b)) {
            b++;
            continue;
        }
        uint32_t n = 0;
        while (n < cap && b + n < in->totalblock && bit(bitmap, b + n))
            n++;
        if ((r = vk_bd_pread(bd, buf, (size_t)n * bs, b * bs)) < 0) {
            r = vk_error_prefix(r, "%s, block %llu: ", bd->name, (unsigned long long)b);
            break;
        }
        /* Emit blocks up to each group's end, then its checksum. */
        uint32_t done = 0;
        while (r >= 0 && done < n) {
            uint32_t k = n - done < bpc - in_group ? n - done : bpc - in_group;
            crc = vk_pc_crc32(crc, buf + (size_t)done * bs, (size_t)k * bs);
            r = out(ctx, buf + (size_t)done * bs, (size_t)k * bs);
            done += k;
            in_group += k;
            if (r >= 0 && in_group == bpc) {
                vk_put_le32(cs, crc);
                r = out(ctx, cs, 4);
                crc = 0xffffffffu;
                in_group = 0;
            }
        }
        b += n;
    }
    if (r >= 0 && in_group) {
        vk_put_le32(cs, crc);
        r = out(ctx, cs, 4);
    }
    free(buf);
    return r;
}

int vk_pc_write(struct vk_blockdev *bd, struct vk_pc_info *info, const uint8_t *bitmap,
                vk_pc_out_fn out, void *ctx)
{
    uint32_t bs = info->block_size;
    if (bs < 512 || bs > VK_PC_MAX_BLOCK || (bs & (bs - 1)) || !info->totalblock ||
        info->totalblock > bd->size / bs)
        return vk_error(-EINVAL, "%s: %llu blocks of %u bytes do not fit a partclone image of "
                        "the partition", bd->name, (unsigned long long)info->totalblock, bs);
    if (!info->blocks_per_checksum)
        info->blocks_per_checksum = READ_BUF / bs;
    uint64_t bmlen = (info->totalblock + 7) / 8, used = 0;
    for (uint64_t i = 0; i < info->totalblock; i++)
        used += bit(bitmap, i);
    info->usedblocks = used;

    uint8_t h[VK_PC_HEAD_SIZE] = { 0 };
    memcpy(h, "partclone-image", 15);
    memcpy(h + 16, "vmkit", 5);     /* "the partclone version that made it" */
    memcpy(h + 30, "0002", 4);
    vk_put_le16(h + 34, 0xC0DE);
    memcpy(h + 36, info->fs, strnlen(info->fs, 15));
    vk_put_le64(h + 52, info->device_size);
    vk_put_le64(h + 60, info->totalblock);
    vk_put_le64(h + 68, used);
    vk_put_le64(h + 76, used);
    vk_put_le32(h + 84, bs);
    vk_put_le32(h + 88, 18);
    vk_put_le16(h + 92, 2);
    vk_put_le16(h + 94, 64);
    vk_put_le16(h + 96, CSM_CRC32);
    vk_put_le16(h + 98, 4);
    vk_put_le32(h + 100, info->blocks_per_checksum);
    h[104] = 1;
    h[105] = BM_BIT;
    vk_put_le32(h + 106, vk_pc_crc32(0xffffffffu, h, 106));
    int r = out(ctx, h, sizeof h);
    if (r < 0)
        return r;
    /* The bits past totalblock in the last byte stay clear, as partclone's. */
    if ((r = out(ctx, bitmap, bmlen)) < 0)
        return r;
    uint8_t cs[4];
    vk_put_le32(cs, vk_pc_crc32(0xffffffffu, bitmap, bmlen));
    if ((r = out(ctx, cs, 4)) < 0)
        return r;
    return write_data(bd, info, bitmap, out, ctx);
}
