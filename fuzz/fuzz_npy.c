/*
 * fuzz_npy.c: the .npy parser (header dict, versions 1-3, data fit, byte
 * order, Fortran order) through the memory-buffer entry points.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_list(data, size, SIMREP_FORMAT_NPY);
    fuzz_source(data, size, SIMREP_FORMAT_NPY, NULL);
    return 0;
}
