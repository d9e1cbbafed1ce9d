/* libFuzzer entry point: the VDI header and block map parser (block/vdi.c).
 * The passes are in fuzz_image.h. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_image(data, size, "vdi");
}
