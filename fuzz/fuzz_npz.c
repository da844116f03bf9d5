/*
 * fuzz_npz.c: the .npz reader (ZIP end record and ZIP64, central
 * directory, local headers, stored and deflated members, the npy header of
 * each member) through the memory-buffer entry points.  The archive is
 * listed and its first members opened by name (fuzz_list), and opened
 * without a key (the single-array case).
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_list(data, size, SIMREP_FORMAT_NPZ);
    fuzz_source(data, size, SIMREP_FORMAT_NPZ, NULL);
    return 0;
}
