/* libFuzzer entry point: the VMDK parsers.
 *
 * The input is taken twice.  As a text descriptor: vmdk_desc_parse() must
 * refuse or accept it without crashing (extent names leaving the
 * directory refused).  As an image file (a memfd; writes never reach the
 * corpus): a monolithic sparse or stream-optimized file - header, footer,
 * grain directory and tables, embedded descriptor - opened read-only and
 * read the way the commands read (info, block status over the disk, data
 * runs), then opened for check, then read-write and written at a few
 * places (grain allocation; a stream image refuses), and grown by 64 MiB
 * (img resize).  The descriptor text is also rewritten as a resize does.  Errors are expected
 * outcomes; only crashes, hangs and sanitizer reports are findings. */
#include "fuzz_mem.h"
#include "block/vmdk_int.h"
#include "util/err.h"

#include <stdlib.h>
#include <string.h>

#define MAX_FILE (4u << 20)
#define MAX_RUNS 2048

static uint8_t buf[256 << 10];

static void read_some(struct vk_blockdev *bd)
{
    struct vk_imginfo info;
    uint64_t off = 0, pnum, host, reads = 0;
    (void)vk_bd_info(bd, &info);
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
    struct vmdk_desc d;

    if (size <= VMDK_MAX_DESC) {
        (void)vmdk_desc_parse("fuzz.vmdk", (const char *)data, size, &d);
        vmdk_desc_free(&d);
        free(vmdk_desc_regrow((const char *)data, size, 123456, "RW 1 FLAT \"x.vmdk\" 0\n", 1ULL << 33));
    }
    if ((bd = fuzz_open_mem(data, size, MAX_FILE, "vmdk", 0))) {
        read_some(bd);
        vk_bd_close(bd);
    }
    if ((bd = fuzz_open_mem(data, size, MAX_FILE, "vmdk", VK_OPEN_CHECK))) {
        memset(&rep, 0, sizeof rep);
        (void)vk_bd_check(bd, &rep, 0);
        read_some(bd);
        vk_bd_close(bd);
    }
    if ((bd = fuzz_open_mem(data, size, MAX_FILE, "vmdk", VK_OPEN_RDWR | VK_OPEN_NOFLUSH))) {
        memset(buf, 0xa5, 70000);
        if (bd->size > 70000) {
            (void)vk_bd_pwrite(bd, buf, 70000, 1000);
            (void)vk_bd_pwrite(bd, buf, 4096, bd->size / 2 / 512 * 512);
            (void)vk_bd_write_zeroes(bd, 0, 512, VK_ZERO_MAY_UNMAP);
            (void)vk_bd_pwrite_compressed(bd, buf, 65536, bd->size / 65536 * 65536 > 65536 ? 65536 : 0);
            (void)vk_bd_pread(bd, buf, 70000, 0);
        }
        uint64_t old = bd->size;    /* grow: new grain tables, maybe moved directories */
        if (vk_bd_truncate(bd, old + (64u << 20), false) == 0 && bd->size != old + (64u << 20))
            abort();
        if (bd->size > old && vk_bd_pwrite(bd, buf, 4096, bd->size - 4096) == 0)
            (void)vk_bd_pread(bd, buf, 8192, bd->size - 8192);
        vk_bd_close(bd);
    }
    vk_error_clear();
    return 0;
}
