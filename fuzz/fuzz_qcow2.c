/* libFuzzer entry point: the qcow2 header and metadata parser.
 * The passes are in fuzz_image.h; then the internal snapshot table
 * (block/qcow2_snap.c): listed, and on a writable open a snapshot taken,
 * the first one applied and deleted, the new one deleted, and the result
 * checked, so every table walk meets hostile offsets. */
#include "fuzz_image.h"

#include "block/snapshot.h"

#include <stdio.h>

static void fuzz_snapshots(const uint8_t *data, size_t size)
{
    struct vk_blockdev *bd = fuzz_open_mem(data, size, FUZZ_MAX_FILE, "qcow2", VK_OPEN_NOBACKING | VK_OPEN_RDWR);
    if (!bd)
        return;
    struct vk_snapshot *v;
    size_t n;
    if (vk_snapshot_list(bd, &v, &n) == 0) {
        char first[64] = "";
        if (n)
            snprintf(first, sizeof first, "%s", v[0].id);
        vk_snapshots_free(v, n);
        (void)vk_snapshot_create(bd, "fuzz");
        if (*first) {
            (void)vk_snapshot_apply(bd, first);
            (void)vk_snapshot_delete(bd, first);
        }
        (void)vk_snapshot_delete(bd, "fuzz");
        struct vk_check_report rep;
        memset(&rep, 0, sizeof rep);
        (void)vk_bd_check(bd, &rep, 0);
    }
    vk_bd_close(bd);
    vk_error_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_image(data, size, "qcow2");
    fuzz_snapshots(data, size);
    return 0;
}
