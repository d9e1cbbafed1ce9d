/* vhdx_create.c: a new VHDX image, laid out as qemu-img lays it out (the
 * header section, a 1 MiB log at 1 MiB, the BAT at 2 MiB, 1 MiB of
 * metadata after it, payload blocks from 5 MiB after the metadata on), so
 * Hyper-V and QEMU read it as one of their own.  block/vhdx.c reads it. */
#include "block/vhdx_int.h"

#include "util/endian.h"
#include "util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put_region(uint8_t *e, const char *guid, uint64_t off, uint32_t len)
{
    vhdx_guid_bytes(guid, e);
    vk_put_le64(e + 16, off);
    vk_put_le32(e + 24, len);
    vk_put_le32(e + 28, 1);   /* required */
}

static void put_meta(uint8_t *e, const char *guid, uint32_t off, uint32_t len, uint32_t flags)
{
    vhdx_guid_bytes(guid, e);
    vk_put_le32(e + 16, off);
    vk_put_le32(e + 20, len);
    vk_put_le32(e + 24, flags);
}

/* The first bat_off + bat_len + 1 MiB of metadata bytes of a new image. */
static uint8_t *build(uint64_t size, uint32_t bs, bool fixed, uint64_t bat_len, uint64_t data_off, uint64_t *len)
{
    const uint64_t log_off = MiB, bat_off = 2 * MiB, meta_off = bat_off + bat_len;
    uint64_t nblocks = (size + bs - 1) / bs, chunk = (1ULL << 23) * 512 / bs;
    *len = meta_off + MiB;
    uint8_t *m = calloc(1, *len);
    if (!m)
        return NULL;
    memcpy(m, "vhdxfile", 8);
    static const char creator[] = "vmkit";
    for (size_t i = 0; i < sizeof creator - 1; i++)
        m[8 + 2 * i] = (uint8_t)creator[i];
    uint8_t *h = m + VHDX_HDR1;
    memcpy(h, "head", 4);
    vk_put_le64(h + H_SEQ, 1);
    vk_uuid_random(h + H_FILE_GUID);
    vk_uuid_random(h + H_DATA_GUID);
    vk_put_le16(h + H_VERSION, 1);
    vk_put_le32(h + H_LOG_LEN, (uint32_t)MiB);
    vk_put_le64(h + H_LOG_OFF, log_off);
    vhdx_crc_set(h, VHDX_HDR_SIZE);
    memcpy(h + VHDX_HDR1, h, VHDX_HDR_SIZE);
    vk_put_le64(h + VHDX_HDR1 + H_SEQ, 2);
    vhdx_crc_set(h + VHDX_HDR1, VHDX_HDR_SIZE);
    uint8_t *t = m + VHDX_RT1;
    memcpy(t, "regi", 4);
    vk_put_le32(t + 8, 2);
    put_region(t + 16, GUID_BAT, bat_off, (uint32_t)bat_len);
    put_region(t + 48, GUID_METADATA, meta_off, (uint32_t)MiB);
    vhdx_crc_set(t, VHDX_RT_SIZE);
    memcpy(m + VHDX_RT2, t, VHDX_RT_SIZE);
    for (uint64_t b = 0; fixed && b < nblocks; b++)
        vk_put_le64(m + bat_off + (b + b / chunk) * 8, (data_off + b * bs) | PB_FULL);
    uint8_t *md = m + meta_off;
    memcpy(md, "metadata", 8);
    vk_put_le16(md + 10, 5);
    uint32_t o = 64u << 10;
    put_meta(md + 32, GUID_FILE_PARAM, o, 8, 4);
    put_meta(md + 64, GUID_DISK_SIZE, o + 8, 8, 6);
    put_meta(md + 96, GUID_PAGE83, o + 16, 16, 6);
    put_meta(md + 128, GUID_LOGICAL, o + 32, 4, 6);
    put_meta(md + 160, GUID_PHYSICAL, o + 36, 4, 6);
    vk_put_le32(md + o, bs);
    vk_put_le32(md + o + 4, fixed ? 1 : 0);
    vk_put_le64(md + o + 8, size);
    vk_uuid_random(md + o + 16);
    vk_put_le32(md + o + 32, 512);
    vk_put_le32(md + o + 36, 512);
    return m;
}

/* Contract in vhdx_int.h. */
int vhdx_create(const char *path, const struct vk_create_opts *o)
{
    const char *sub = o->subformat ? o->subformat : "dynamic";
    bool fixed = !strcmp(sub, "fixed");
    uint64_t size = (o->size + 511) / 512 * 512;
    uint32_t bs = o->cluster_size;

    if (o->backing_file)
        return vk_error(-ENOTSUP, "%s: VHDX images made here cannot have a backing file (differencing disks are not supported)", path);
    if (!fixed && strcmp(sub, "dynamic"))
        return vk_error(-EINVAL, "%s: VHDX subformat '%s' is not dynamic or fixed", path, sub);
    if (o->prealloc && strcmp(o->prealloc, "off"))
        return vk_error(-EINVAL, "%s: VHDX has no preallocation option (use -o subformat=fixed)", path);
    if (size > VHDX_MAX_SIZE)
        return vk_error(-EFBIG, "%s: the disk is too large for VHDX (at most 64 TiB)", path);
    if (!bs)   /* qemu-img's choice: small BATs for large disks */
        bs = size > (32ULL << 40) ? 64u << 20 : size > (100ULL << 30) ? 32u << 20 : size > (1ULL << 30) ? 16u << 20 : 8u << 20;
    if (bs < VHDX_MIN_BLOCK || bs > VHDX_MAX_BLOCK || (bs & (bs - 1)))
        return vk_error(-EINVAL, "%s: the VHDX block size must be a power of two from 1 MiB to 256 MiB", path);
    uint64_t nblocks = (size + bs - 1) / bs, chunk = (1ULL << 23) * 512 / bs;
    uint64_t nbat = nblocks ? nblocks + (nblocks - 1) / chunk : 0;
    uint64_t bat_len = (nbat * 8 + MiB - 1) / MiB * MiB;
    if (!bat_len)
        bat_len = MiB;
    uint64_t data_off = 2 * MiB + bat_len + 5 * MiB;   /* as qemu-img: room after the metadata */
    uint64_t len;
    uint8_t *m = build(size, bs, fixed, bat_len, data_off, &len);
    if (!m)
        return vk_error(-ENOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644), r = 0;
    if (fd < 0) {
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
        free(m);
        return r;
    }
    /* only the chunks with something in them: the rest stays a hole */
    static const uint8_t zero[64u << 10];
    for (uint64_t at = 0; r == 0 && at < len; at += sizeof zero)
        if (memcmp(m + at, zero, sizeof zero))
            r = vk_fd_pwrite_full(fd, m + at, sizeof zero, at, path);
    free(m);
    uint64_t end = data_off + (fixed ? nblocks * bs : 0);
    if (r == 0 && ftruncate(fd, (off_t)end) < 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    if (r == 0 && fsync(fd) < 0)
        r = vk_error(-errno, "%s: %s", path, strerror(errno));
    close(fd);
    if (r < 0)
        unlink(path);
    return r;
}
