/*
 * fuzz_safetensors.c: the safetensors reader (header length, the JSON
 * header, dtypes, shapes and data offsets) through the memory-buffer entry
 * points.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_list(data, size, SIMREP_FORMAT_SAFETENSORS);
    fuzz_source(data, size, SIMREP_FORMAT_SAFETENSORS, NULL);
    return 0;
}
