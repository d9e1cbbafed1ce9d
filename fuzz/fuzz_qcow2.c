/* libFuzzer entry point: the qcow2 header and metadata parser.
 * The passes are in fuzz_image.h. */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_image(data, size, "qcow2");
}
