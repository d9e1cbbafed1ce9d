/* partclone's image format, version 0002 (what partclone 0.3 writes with
 * its defaults and what Clonezilla stores, compressed, as
 * sdaN.<fs>-ptcl-img.zst.aa...).  The layout, all little-endian:
 *
 *   header, 110 bytes (partclone.h image_desc_v2, packed):
 *     0   "partclone-image\0"        16
 *     16  partclone version, "0.3.23" 14 (NUL-padded)
 *     30  "0002"                      4
 *     34  0xC0DE (endianness)         2
 *     36  fs: "EXTFS", "FAT32"...    16 (NUL-padded)
 *     52  device_size (bytes)         8
 *     60  totalblock                  8
 *     68  usedblocks                  8
 *     76  used_bitmap (bits set)      8
 *     84  block_size                  4
 *     88  feature_size = 18           4
 *     92  image_version = 2           2
 *     94  cpu_bits = 64               2
 *     96  checksum_mode (0x20 CRC32)  2
 *     98  checksum_size = 4           2
 *     100 blocks_per_checksum         4
 *     104 reseed_checksum = 1         1
 *     105 bitmap_mode (1 = bit)       1
 *     106 CRC32 of bytes 0..105       4
 *   bitmap: ceil(totalblock / 8) bytes, block i is bit i % 8 of byte i / 8;
 *     then the CRC32 of those bytes (4)
 *   data: every used block in order, block_size bytes each; after every
 *     blocks_per_checksum of them (counting used blocks only, across gaps)
 *     the CRC32 of those blocks, and a last CRC32 after a final, shorter
 *     group.  The CRC restarts for each group (reseed).
 *
 * partclone's CRC32 is zlib's polynomial with the seed 0xFFFFFFFF and no
 * final inversion: the bitwise NOT of zlib's crc32() of the same bytes. */
#ifndef VK_BACKUP_PARTCLONE_H
#define VK_BACKUP_PARTCLONE_H

#include <stddef.h>
#include <stdint.h>

#define VK_PC_HEAD_SIZE 110
#define VK_PC_MAX_BLOCK (1u << 20)

struct vk_blockdev;

struct vk_pc_info {
    char fs[16];                /* "EXTFS", "FAT32", "FAT16", "FAT12" */
    uint64_t device_size;       /* the partition's bytes */
    uint64_t totalblock;
    uint64_t usedblocks;        /* filled in by vk_pc_write from the bitmap */
    uint32_t block_size;        /* a power of two, 512 .. VK_PC_MAX_BLOCK */
    uint32_t blocks_per_checksum; /* 0: partclone's default (1 MiB of blocks) */
};

/* Where the image's bytes go; 0 or a negative errno after vk_error(). */
typedef int (*vk_pc_out_fn)(void *ctx, const void *buf, size_t len);

/* Write the partclone image of bd (the partition) to out: the header
 * from *info, the bitmap (totalblock bits, block i set when bit i % 8 of
 * bitmap[i / 8]) and every block the bitmap marks, read from bd, with its
 * checksums.  Sets info->usedblocks.  0 or a negative errno after
 * vk_error() naming bd and the block. */
int vk_pc_write(struct vk_blockdev *bd, struct vk_pc_info *info, const uint8_t *bitmap,
                vk_pc_out_fn out, void *ctx);

/* Reading an image (partclone_read.c).  in fills buf with up to len
 * bytes of the stream and returns how many (fewer only at its end), or a
 * negative errno after vk_error(). */
typedef long (*vk_pc_in_fn)(void *ctx, void *buf, size_t len);
/* Where a used block goes: len bytes at byte off of the partition. */
typedef int (*vk_pc_put_fn)(void *ctx, uint64_t off, const void *buf, size_t len);

/* Read a partclone image (the stream in, untrusted) of a partition of
 * max_size bytes: check the header (magic, version 0002, little-endian,
 * its CRC, a block size partclone can write, totalblock blocks inside
 * device_size, device_size at most max_size), the bitmap (its CRC, as many
 * bits set as usedblocks says) and the CRC of every group of data blocks,
 * and hand each used block to put (ascending, inside [0, device_size)).
 * *info gets the header.  -EINVAL naming what (the image file) and the
 * field or the block on anything malformed, -EIO when it ends early. */
int vk_pc_read(vk_pc_in_fn in, void *ictx, const char *what, uint64_t max_size,
               struct vk_pc_info *info, vk_pc_put_fn put, void *pctx);

/* partclone's CRC32 (see above) of len bytes continuing crc (start with
 * 0xFFFFFFFF). */
uint32_t vk_pc_crc32(uint32_t crc, const void *buf, size_t len);

#endif
