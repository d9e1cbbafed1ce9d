/* libFuzzer entry point: the VHDX parser (block/vhdx.c): headers, region
 * tables, metadata, the BAT, the log scan.  The passes are in
 * fuzz_image.h.
 *
 * A VHDX image is mostly holes: its structures sit at 64 KiB and 1 MiB
 * boundaries.  So the input is a folded image: its 512-byte chunk k is the
 * first 512 bytes of the image's 64 KiB page k, the rest of every page
 * zeroes (headers, region tables, metadata tables and BAT pages fit in
 * 512 bytes; their CRCs cover the zeroes too), and the image ends at the
 * next MiB boundary (blocks are whole MiBs).  fuzz/mk_vhdx_corpus.sh folds
 * real images into seeds. */
#include "fuzz_mem.h"

#include <string.h>

#define FOLD_CHUNK 512u
#define FOLD_PAGE  (64u << 10)
#define FOLD_MAX_PAGES 512u          /* a 32 MiB image */

static struct vk_blockdev *open_folded(const uint8_t *data, size_t size, int flags)
{
    char path[64];
    struct vk_blockdev *bd = NULL;
    size_t pages = (size + FOLD_CHUNK - 1) / FOLD_CHUNK;
    if (pages > FOLD_MAX_PAGES)
        pages = FOLD_MAX_PAGES;
    int fd = memfd_create("fuzz-vhdx", 0);
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)((pages + 16) / 16 * 16) * FOLD_PAGE) < 0)
        goto out;
    for (size_t k = 0; k < pages; k++) {
        size_t n = size - k * FOLD_CHUNK < FOLD_CHUNK ? size - k * FOLD_CHUNK : FOLD_CHUNK;
        if (pwrite(fd, data + k * FOLD_CHUNK, n, (off_t)(k * FOLD_PAGE)) != (ssize_t)n)
            goto out;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (vk_bd_open(path, "vhdx", flags | VK_OPEN_NOLOCK, &bd) < 0)
        bd = NULL;
out:
    close(fd);
    return bd;
}

#define FUZZ_OPEN(data, size, fmt, flags) open_folded(data, size, flags)
#define FUZZ_FAR_GROW (256ULL << 30)   /* past 1 MiB of BAT for 1 MiB blocks */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_image(data, size, "vhdx");
}
