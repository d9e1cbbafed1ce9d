/* Shared by the image-format fuzz entry points (fuzz_qcow2, fuzz_vdi,
 * fuzz_vpc): the input is an image file (in a memfd, so writes never
 * reach the corpus).  It is opened read-only without its backing chain
 * and exercised the way the commands use it: info, block_status over the
 * whole disk (bounded number of runs), reads of the first bytes and of
 * data runs; then opened for check (no repair); then opened read-write,
 * written at two places (allocation over damaged tables), grown by
 * 64 MiB (img resize) and written at the new end (an entry point may
 * define FUZZ_FAR_GROW: then grown that much more, too), and checked
 * again.  Any error is an expected outcome; only crashes, hangs and
 * sanitizer reports are findings. */
#ifndef VK_FUZZ_IMAGE_H
#define VK_FUZZ_IMAGE_H

#include "fuzz_mem.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define FUZZ_MAX_FILE (8u << 20)
/* How the input becomes an open device; an entry point may define its
 * own (fuzz_vhdx unfolds a compact input) before including this file. */
#ifndef FUZZ_OPEN
#define FUZZ_OPEN(data, size, fmt, flags) fuzz_open_mem(data, size, FUZZ_MAX_FILE, fmt, flags)
#endif
#define FUZZ_MAX_RUNS 2048

static uint8_t fuzz_buf[256 << 10];

static void fuzz_read_some(struct vk_blockdev *bd)
{
    struct vk_imginfo info;
    uint64_t off = 0, pnum, host, reads = 0;
    (void)vk_bd_info(bd, &info);
    /* the first bytes, unaligned */
    if (bd->size)
        (void)vk_bd_pread(bd, fuzz_buf, bd->size < 5000 ? bd->size : 5000, 0);
    for (int i = 0; i < FUZZ_MAX_RUNS && off < bd->size; i++) {
        int st = vk_bd_block_status(bd, off, bd->size - off, &pnum, &host);
        if (st < 0 || pnum == 0)
            break;
        if ((st & VK_BS_DATA) && reads < 16) {
            size_t n = pnum < sizeof fuzz_buf ? pnum : sizeof fuzz_buf;
            (void)vk_bd_pread(bd, fuzz_buf, n, off);
            reads++;
        }
        if (pnum > bd->size - off)  /* a driver bug: pnum beyond the disk */
            abort();
        off += pnum;
    }
    vk_error_clear();
}

/* Run the three passes over data as an image of format fmt. */
static int fuzz_image(const uint8_t *data, size_t size, const char *fmt)
{
    struct vk_blockdev *bd;
    struct vk_check_report rep;

    if ((bd = FUZZ_OPEN(data, size, fmt, VK_OPEN_NOBACKING))) {
        fuzz_read_some(bd);
        vk_bd_close(bd);
    }
    if ((bd = FUZZ_OPEN(data, size, fmt, VK_OPEN_NOBACKING | VK_OPEN_CHECK))) {
        memset(&rep, 0, sizeof rep);
        (void)vk_bd_check(bd, &rep, 0);
        vk_bd_close(bd);
    }
    if ((bd = FUZZ_OPEN(data, size, fmt, VK_OPEN_NOBACKING | VK_OPEN_RDWR))) {
        memset(fuzz_buf, 0xa5, 70000);
        if (bd->size > 70000) {
            (void)vk_bd_pwrite(bd, fuzz_buf, 70000, 1000);
            (void)vk_bd_pwrite(bd, fuzz_buf, 4096, bd->size / 2 / 512 * 512);
            (void)vk_bd_write_zeroes(bd, 0, 512, VK_ZERO_MAY_UNMAP);
            (void)vk_bd_pread(bd, fuzz_buf, 70000, 0);
        }
        uint64_t old = bd->size;    /* img resize: grow by 64 MiB, write at the new end */
        if (vk_bd_truncate(bd, old + (64u << 20), false) == 0 && bd->size < old + (64u << 20))
            abort();
        if (bd->size > old && vk_bd_pwrite(bd, fuzz_buf, 4096, bd->size - 4096) == 0)
            (void)vk_bd_pread(bd, fuzz_buf, 8192, bd->size - 8192);
#ifdef FUZZ_FAR_GROW
        /* a grow past the format's table room (VHDX: the BAT moves) */
        if (vk_bd_truncate(bd, bd->size + FUZZ_FAR_GROW, false) == 0 &&
            vk_bd_pwrite(bd, fuzz_buf, 4096, bd->size - 4096) == 0)
            (void)vk_bd_pread(bd, fuzz_buf, 8192, bd->size - 8192);
#endif
        memset(&rep, 0, sizeof rep);
        (void)vk_bd_check(bd, &rep, 0);
        vk_bd_close(bd);
    }
    vk_error_clear();
    return 0;
}

#endif
