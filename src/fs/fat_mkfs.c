/* mkfs for FAT12/16/32, choosing geometry the way dosfstools' mkfs.fat 4.2
 * does for an image file of the same size, so `mkfs -t vfat` on a 1440K
 * image is a standard 1.44 MB floppy and larger images get the cluster size
 * and FAT type users expect.
 *
 * Layout written: boot sector (FAT32: + FSInfo at 1, backup boot sector at
 * 6 and its FSInfo at 7), reserved area zeroed, every FAT copy identical
 * (media entry, end-of-chain entry 1, FAT32 root cluster 2 = end of
 * chain), root directory zeroed with the volume label entry when a label
 * is given. */
#include "fs/fat_int.h"
#include "fs/fs.h"
#include "fs/fs_util.h"

#include "util/err.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECTOR 512u
#define MAX_CLUST_12 4084u
#define MIN_CLUST_16 4087u
#define MAX_CLUST_16 65524u
#define MIN_CLUST_32 65525u
#define MAX_CLUST_32 268435446u

struct mkparams {
    uint32_t spt, heads, media, spc, root_entries, num_sectors, reserved, nfats;
    uint32_t fat_len, clusters;
    int bits;
};

static uint32_t cdiv(uint64_t a, uint64_t b) { return (uint32_t)((a + b - 1) / b); }

static uint32_t align_obj(bool align, uint32_t n, uint32_t spc)
{
    return align ? (n + spc - 1) & ~(spc - 1) : n;
}

/* establish_params() + the cluster-size loop of setup_tables() from
 * mkfs.fat.  Returns 0 or -EINVAL/-ENOSPC with a message. */
static int choose(struct vk_blockdev *bd, const struct vk_mkfs_opts *o, struct mkparams *p)
{
    uint64_t size = bd->size;
    bool align = true;
    int bits = o->fat_bits;
    uint32_t user_spc = 0;

    memset(p, 0, sizeof *p);
    if (bits && bits != 12 && bits != 16 && bits != 32)
        return vk_error(-EINVAL, "%s: FAT size must be 12, 16 or 32, not %d", bd->name, bits);
    if (o->cluster_size) {
        uint32_t c = o->cluster_size;
        if (c < SECTOR || c > 128 * SECTOR || (c & (c - 1)))
            return vk_error(-EINVAL, "%s: FAT cluster size %u is not a power of two from 512 to 64K",
                            bd->name, c);
        user_spc = c / SECTOR;
    }
    /* No disk geometry for an image: mkfs.fat's choice then, the SD card
     * specification's CHS below 256 MiB, LBA-assist translation above. */
    uint64_t ts = size / SECTOR;
    if (ts <= 524288) {
        p->heads = ts <= 32768 ? 2 : ts <= 65536 ? 4 : ts <= 262144 ? 8 : 16;
        p->spt = ts <= 4096 ? 16 : 32;
    } else {
        p->heads = ts <= 16 * 63 * 1024 ? 16 : ts <= 32 * 63 * 1024 ? 32
                 : ts <= 64 * 63 * 1024 ? 64 : ts <= 128 * 63 * 1024 ? 128 : 255;
        p->spt = 63;
    }
    p->media = 0xf8; p->spc = 4; p->root_entries = 512;
    switch (size / 1024) {     /* standard floppy formats */
    case 360:  p->spt = 9;  p->heads = 2; p->media = 0xfd; p->spc = 2; p->root_entries = 112; break;
    case 720:  p->spt = 9;  p->heads = 2; p->media = 0xf9; p->spc = 2; p->root_entries = 112; break;
    case 1200: p->spt = 15; p->heads = 2; p->media = 0xf9; p->spc = 1; p->root_entries = 224; break;
    case 1440: p->spt = 18; p->heads = 2; p->media = 0xf0; p->spc = 1; p->root_entries = 224; break;
    case 2880: p->spt = 36; p->heads = 2; p->media = 0xf0; p->spc = 2; p->root_entries = 224; break;
    }
    if (!bits && size >= 512ull << 20)
        bits = 32;
    uint64_t secs64 = size / SECTOR;
    if (bits == 32)
        p->spc = secs64 > 32ull * 1024 * 1024 * 2 ? 64 : secs64 > 16ull * 1024 * 1024 * 2 ? 32
               : secs64 > 8ull * 1024 * 1024 * 2 ? 16 : secs64 > 260ull * 1024 * 2 ? 8 : 1;
    if (secs64 > UINT32_MAX)
        secs64 = UINT32_MAX;    /* as mkfs.fat: the space beyond stays unused */
    p->num_sectors = (uint32_t)(secs64 / p->spt * p->spt);
    if (p->num_sectors < 64)
        return vk_error(-ENOSPC, "%s: too small for a FAT filesystem (%llu bytes)", bd->name,
                        (unsigned long long)size);
    p->nfats = 2;
    p->reserved = bits == 32 ? 32 : 1;
    if (bits == 32)
        p->root_entries = 0;
    if (p->num_sectors <= 8192)
        align = false;

    uint32_t root_secs = cdiv((uint64_t)p->root_entries * 32, SECTOR);
    uint32_t maxspc = 128;
    if (user_spc)
        p->spc = maxspc = user_spc;
    uint32_t c12 = 0, c16 = 0, c32 = 0, f12 = 0, f16 = 0, f32 = 0;
    for (; p->spc && p->spc <= maxspc; p->spc <<= 1) {
        uint32_t spc = p->spc, nf = p->nfats;
        uint32_t fd32 = p->num_sectors - align_obj(align, p->reserved, spc);
        uint32_t rs = align_obj(align, root_secs, spc);
        uint32_t fd1216 = fd32 > rs ? fd32 - rs : 0;
        uint32_t max;

        c12 = (uint32_t)(2 * ((uint64_t)fd1216 * SECTOR + nf * 3) / (2 * spc * SECTOR + nf * 3));
        f12 = align_obj(align, cdiv(((uint64_t)(c12 + 2) * 3 + 1) >> 1, SECTOR), spc);
        c12 = fd1216 > nf * f12 ? (fd1216 - nf * f12) / spc : 0;
        max = f12 * 2 * SECTOR / 3;
        if (max > MAX_CLUST_12)
            max = MAX_CLUST_12;
        if (c12 > max)
            c12 = 0;

        c16 = (uint32_t)(((uint64_t)fd1216 * SECTOR + nf * 4) / (spc * SECTOR + nf * 2));
        f16 = align_obj(align, cdiv((uint64_t)(c16 + 2) * 2, SECTOR), spc);
        c16 = fd1216 > nf * f16 ? (fd1216 - nf * f16) / spc : 0;
        max = f16 * SECTOR / 2;
        if (max > MAX_CLUST_16)
            max = MAX_CLUST_16;
        if (c16 > max || (c16 && c16 < MIN_CLUST_16))
            c16 = 0;

        c32 = (uint32_t)(((uint64_t)fd32 * SECTOR + nf * 8) / (spc * SECTOR + nf * 4));
        f32 = align_obj(align, cdiv((uint64_t)(c32 + 2) * 4, SECTOR), spc);
        c32 = fd32 > nf * f32 ? (fd32 - nf * f32) / spc : 0;
        max = f32 * SECTOR / 4;
        if (max > MAX_CLUST_32)
            max = MAX_CLUST_32;
        if (c32 > max || (c32 && c32 < MIN_CLUST_32 && bits != 32))
            c32 = 0;

        if ((c12 && (!bits || bits == 12)) || (c16 && (!bits || bits == 16)) || (c32 && bits == 32))
            break;
    }
    if (!bits)
        bits = c16 > c12 ? 16 : 12;
    p->bits = bits;
    p->clusters = bits == 12 ? c12 : bits == 16 ? c16 : c32;
    p->fat_len = bits == 12 ? f12 : bits == 16 ? f16 : f32;
    if (!p->spc || p->spc > maxspc || !p->clusters)
        return vk_error(-EINVAL, "%s: %llu bytes cannot hold a FAT%d filesystem%s", bd->name,
                        (unsigned long long)size, bits,
                        user_spc ? " with this cluster size" : "");
    p->reserved = align_obj(align, p->reserved, p->spc);
    if (align && bits != 32)
        p->root_entries = align_obj(align, root_secs, p->spc) * (SECTOR / 32);
    return 0;
}

/* The 11-byte label field: as given, blank-padded; "NO NAME    " if none. */
static int make_label(struct vk_blockdev *bd, const char *label, char out[11])
{
    memcpy(out, "NO NAME    ", 11);
    if (!label || !*label)
        return 0;
    size_t n = strlen(label);
    if (n > 11)
        return vk_error(-EINVAL, "%s: FAT label '%s' longer than 11 characters", bd->name, label);
    if (label[0] == ' ')
        return vk_error(-EINVAL, "%s: FAT label cannot start with a space", bd->name);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)label[i];
        if (c < 0x20 || c >= 0x7f || strchr("\"*+,./:;<=>?[\\]|", c))
            return vk_error(-EINVAL, "%s: FAT label '%s': character '%c' not allowed "
                            "(ASCII letters, digits, blanks and !#$%%&'()-@^_`{}~ only)",
                            bd->name, label, c >= 0x20 && c < 0x7f ? c : '?');
    }
    memset(out, ' ', 11);
    memcpy(out, label, n);
    return 0;
}

/* Volume serial: "XXXX-XXXX" or 8 hex digits, else random. */
static int make_serial(struct vk_blockdev *bd, const char *uuid, uint32_t *out)
{
    if (!uuid) {
        int r = vk_fsu_random(out, sizeof *out);
        return r < 0 ? vk_error(r, "%s: cannot get random bytes for the volume ID", bd->name) : 0;
    }
    uint32_t v = 0;
    int n = 0;
    for (const char *s = uuid; *s; s++) {
        if (*s == '-' && n == 4 && s - uuid == 4)
            continue;
        char c = *s;
        int h = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (h < 0 || n == 8)
            return vk_error(-EINVAL, "%s: bad FAT volume ID '%s' (want XXXX-XXXX, hex)", bd->name, uuid);
        v = v << 4 | (uint32_t)h;
        n++;
    }
    if (n != 8)
        return vk_error(-EINVAL, "%s: bad FAT volume ID '%s' (want XXXX-XXXX, hex)", bd->name, uuid);
    *out = v;
    return 0;
}

static int zero_range(struct vk_blockdev *bd, uint64_t off, uint64_t len)
{
    static const uint8_t zeros[65536];
    int r = vk_bd_write_zeroes(bd, off, len, 0);
    if (r != -ENOTSUP)
        return r;
    vk_error_clear();
    while (len) {
        size_t n = len < sizeof zeros ? (size_t)len : sizeof zeros;
        if ((r = vk_bd_pwrite(bd, zeros, n, off)) < 0)
            return r;
        off += n;
        len -= n;
    }
    return 0;
}

/* Fill the boot sector bs (512 bytes). */
static void boot_sector(uint8_t *bs, const struct mkparams *p, uint32_t serial, const char label[11])
{
    memset(bs, 0, SECTOR);
    bool f32 = p->bits == 32;
    uint32_t code = f32 ? 90 : 62;      /* offset of the boot code */
    bs[0] = 0xeb; bs[1] = (uint8_t)(code - 2); bs[2] = 0x90;
    memcpy(bs + 3, "mkfs.fat", 8);
    vk_fsu_put16(bs + 11, SECTOR);
    bs[13] = (uint8_t)p->spc;
    vk_fsu_put16(bs + 14, (uint16_t)p->reserved);
    bs[16] = (uint8_t)p->nfats;
    vk_fsu_put16(bs + 17, (uint16_t)p->root_entries);
    if (p->num_sectors < 65536)
        vk_fsu_put16(bs + 19, (uint16_t)p->num_sectors);
    else
        vk_fsu_put32(bs + 32, p->num_sectors);
    bs[21] = (uint8_t)p->media;
    vk_fsu_put16(bs + 22, f32 ? 0 : (uint16_t)p->fat_len);
    vk_fsu_put16(bs + 24, (uint16_t)p->spt);
    vk_fsu_put16(bs + 26, (uint16_t)p->heads);
    uint8_t *vi = bs + 36;
    if (f32) {
        vk_fsu_put32(bs + 36, p->fat_len);
        vk_fsu_put32(bs + 44, 2);       /* root cluster */
        vk_fsu_put16(bs + 48, 1);       /* FSInfo sector */
        vk_fsu_put16(bs + 50, 6);       /* backup boot sector */
        vi = bs + 64;
    }
    vi[0] = p->media == 0xf8 ? 0x80 : 0x00;     /* BIOS drive number */
    vi[2] = 0x29;                               /* extended boot signature */
    vk_fsu_put32(vi + 3, serial);
    memcpy(vi + 7, label, 11);
    memcpy(vi + 18, p->bits == 12 ? "FAT12   " : p->bits == 16 ? "FAT16   " : "FAT32   ", 8);
    /* Not bootable: int 18h (boot failure, the BIOS tries the next device). */
    bs[code] = 0xcd; bs[code + 1] = 0x18; bs[code + 2] = 0xeb; bs[code + 3] = 0xfe;
    bs[510] = 0x55; bs[511] = 0xaa;
}

static void dos_time(time_t t, uint16_t *date, uint16_t *tm)
{
    struct tm lt;
    localtime_r(&t, &lt);
    if (lt.tm_year < 80) {
        *date = (0 << 9) | (1 << 5) | 1;
        *tm = 0;
        return;
    }
    *date = (uint16_t)((lt.tm_year - 80) << 9 | (lt.tm_mon + 1) << 5 | lt.tm_mday);
    *tm = (uint16_t)(lt.tm_hour << 11 | lt.tm_min << 5 | lt.tm_sec / 2);
}

static int fat_mkfs(struct vk_blockdev *bd, const struct vk_mkfs_opts *o)
{
    struct mkparams p;
    char label[11];
    uint32_t serial;
    int r;

    if (o->block_size && o->block_size != SECTOR)
        return vk_error(-EINVAL, "%s: FAT sector size %u not supported (512)", bd->name, o->block_size);
    if ((r = make_label(bd, o->label, label)) < 0 || (r = make_serial(bd, o->uuid, &serial)) < 0)
        return r;
    if ((r = choose(bd, o, &p)) < 0)
        return r;

    uint32_t root_secs = p.root_entries * 32 / SECTOR;
    uint32_t data = p.reserved + p.nfats * p.fat_len + root_secs;
    uint64_t meta_end = (uint64_t)data * SECTOR;
    if (p.bits == 32)
        meta_end += (uint64_t)p.spc * SECTOR;   /* the root directory cluster */
    if ((r = zero_range(bd, 0, meta_end)) < 0)
        return r;

    /* FAT heads: media, end of chain, FAT32 root cluster. */
    uint8_t head[12];
    memset(head, 0, sizeof head);
    size_t headlen;
    if (p.bits == 12) {
        head[0] = (uint8_t)p.media; head[1] = 0xff; head[2] = 0xff;
        headlen = 3;
    } else if (p.bits == 16) {
        head[0] = (uint8_t)p.media; head[1] = 0xff; head[2] = 0xff; head[3] = 0xff;
        headlen = 4;
    } else {
        vk_fsu_put32(head, 0x0fffff00u | p.media);
        vk_fsu_put32(head + 4, 0x0fffffffu);
        vk_fsu_put32(head + 8, 0x0ffffff8u);
        headlen = 12;
    }
    for (uint32_t i = 0; i < p.nfats; i++)
        if ((r = vk_bd_pwrite(bd, head, headlen, (uint64_t)(p.reserved + i * p.fat_len) * SECTOR)) < 0)
            return r;

    /* The label entry, first in the root directory. */
    if (memcmp(label, "NO NAME    ", 11)) {
        uint8_t de[32];
        uint16_t d, t;
        memset(de, 0, sizeof de);
        memcpy(de, label, 11);
        de[11] = 0x08;
        dos_time(time(NULL), &d, &t);
        vk_fsu_put16(de + 22, t);
        vk_fsu_put16(de + 24, d);
        uint64_t root = (uint64_t)(p.reserved + p.nfats * p.fat_len) * SECTOR;
        if ((r = vk_bd_pwrite(bd, de, sizeof de, root)) < 0)
            return r;
    }

    /* The boot sector last, once everything it describes is durable: a
     * crash before it leaves no filesystem rather than a half-made one. */
    uint8_t bs[SECTOR];
    boot_sector(bs, &p, serial, label);
    if (p.bits == 32) {
        uint8_t fi[SECTOR];
        memset(fi, 0, sizeof fi);
        vk_fsu_put32(fi, 0x41615252);
        vk_fsu_put32(fi + 484, 0x61417272);
        vk_fsu_put32(fi + 488, p.clusters - 1);  /* all free but the root */
        vk_fsu_put32(fi + 492, 3);               /* next free cluster */
        vk_fsu_put32(fi + 508, 0xaa550000);
        if ((r = vk_bd_pwrite(bd, fi, SECTOR, 1 * SECTOR)) < 0 ||
            (r = vk_bd_pwrite(bd, bs, SECTOR, 6 * SECTOR)) < 0 ||
            (r = vk_bd_pwrite(bd, fi, SECTOR, 7 * SECTOR)) < 0)
            return r;
    }
    if ((r = vk_bd_flush(bd)) < 0 || (r = vk_bd_pwrite(bd, bs, SECTOR, 0)) < 0)
        return r;
    return vk_bd_flush(bd);
}

int vk_fat_mkfs(struct vk_blockdev *bd, const struct vk_mkfs_opts *o)
{
    return fat_mkfs(bd, o);
}
