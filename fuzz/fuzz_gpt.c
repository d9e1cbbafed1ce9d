/* libFuzzer entry point: GPT headers and entry arrays (both copies). */
#include "fuzz_part_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vk_blockdev *bd = fuzz_open_mem(data, size, 1u << 20, "raw", 0);
    if (!bd)
        return 0;
    struct vk_ptable t = { .label = VK_LABEL_GPT, .disk_sectors = bd->size / 512 };
    /* The GPT driver directly, whatever the protective MBR says. */
    if (vk_label_gpt.read(bd, &t) == 0 && vk_ptable_validate(&t, "fuzz") == 0)
        fuzz_exercise(bd, &t);
    vk_ptable_free(&t);
    fuzz_generic(bd);
    vk_bd_close(bd);
    vk_error_clear();
    return 0;
}
