/* libFuzzer entry point: the qcow2 header and metadata parser.
 *
 * The input is an image file (stored in a memfd, so writes never reach
 * the corpus).  It is opened read-only without its backing chain and
 * exercised the way the commands use it: info, block_status over the
 * whole disk (bounded number of runs), reads of the first clusters and of
 * data runs; then opened for check (no repair); then opened read-write,
 * written at two places (allocation over damaged refcounts and tables)
 * and checked again.  Any error is an expected outcome; only crashes,
 * hangs and sanitizer reports are findings. */
#include "fuzz_mem.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FILE (8u << 20)
#define MAX_RUNS 2048

static uint8_t buf[256 << 10];

static void read_some(struct vk_blockdev *bd)
{
    struct vk_imginfo info;
    uint64_t off = 0, pnum, host, reads = 0;
    (void)vk_bd_info(bd, &info);
    /* the first bytes, unaligned */
    if (bd->size)
        (void)vk_bd_pread(bd, buf, bd->size < 5000 ? bd->size : 5000, 0);
    for (int i = 0; i < MAX_RUNS && off < bd->size; i++) {
        int st = vk_bd_block_status(bd, off, bd->size - off, &pnum, &host);
        if (st < 0 || pnum == 0)
            break;
        if ((st & VK_BS_DATA) && reads < 16) {
            size_t n = pnum < sizeof buf ? pnum : sizeof buf;
            (void)vk_bd_pread(bd, buf, n, off);
            reads++;
        }
        if (pnum > bd->size - off)  /* a driver bug: pnum beyond the disk */
            abort();
        off += pnum;
    }
    vk_error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_blockdev *bd;
    struct vk_check_report rep;

    if ((bd = fuzz_open_mem(data, size, MAX_FILE, "qcow2", VK_OPEN_NOBACKING))) {
        read_some(bd);
        vk_bd_close(bd);
    }
    if ((bd = fuzz_open_mem(data, size, MAX_FILE, "qcow2", VK_OPEN_NOBACKING | VK_OPEN_CHECK))) {
        memset(&rep, 0, sizeof rep);
        (void)vk_bd_check(bd, &rep, 0);
        vk_bd_close(bd);
    }
    if ((bd = fuzz_open_mem(data, size, MAX_FILE, "qcow2", VK_OPEN_NOBACKING | VK_OPEN_RDWR))) {
        memset(buf, 0xa5, 70000);
        if (bd->size > 70000) {
            (void)vk_bd_pwrite(bd, buf, 70000, 1000);
            (void)vk_bd_pwrite(bd, buf, 4096, bd->size / 2 / 512 * 512);
            (void)vk_bd_write_zeroes(bd, 0, 512, VK_ZERO_MAY_UNMAP);
            (void)vk_bd_pread(bd, buf, 70000, 0);
        }
        memset(&rep, 0, sizeof rep);
        (void)vk_bd_check(bd, &rep, 0);
        vk_bd_close(bd);
    }
    vk_error_clear();
    return 0;
}
