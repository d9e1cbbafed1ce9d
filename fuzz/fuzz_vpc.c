/* libFuzzer entry point: the VHD footer, dynamic header and BAT parser (block/vpc.c).
 * The passes are in fuzz_image.h. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_image(data, size, "vpc");
}
