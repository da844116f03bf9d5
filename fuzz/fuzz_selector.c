/*
 * fuzz_selector.c: the CLI's "file:key" selector.  The input is a spec (up
 * to the first newline) followed by the bytes of the file it names, and
 * the target does what simrep_source_open does with a real file: split the
 * spec (simrep__split_spec), choose the format from the path's extension,
 * and open the key in the bytes.  It also hands the spec, under a
 * directory that does not exist, to simrep_source_open itself, for its
 * error paths (no such file, ".npy:key", over-long paths and keys).
 */
#include "fuzz_common.h"

#include "io.h"

#define MISSING_DIR "/nonexistent-simrep-fuzz/"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t spec_len = nl ? (size_t)(nl - data) : size;
    const uint8_t *file = nl ? nl + 1 : data + size;
    size_t file_len = (size_t)(data + size - file);

    char *spec = malloc(sizeof MISSING_DIR + spec_len);
    FUZZ_ASSERT(spec);
    memcpy(spec, MISSING_DIR, sizeof MISSING_DIR - 1);
    memcpy(spec + sizeof MISSING_DIR - 1, data, spec_len);
    spec[sizeof MISSING_DIR - 1 + spec_len] = '\0';
    const char *rel = spec + sizeof MISSING_DIR - 1; /* the spec as given */

    const char *key;
    size_t len = simrep__split_spec(rel, &key);
    FUZZ_ASSERT(len <= strlen(rel));
    if (key) {
        FUZZ_ASSERT(rel[len] == ':' && key == rel + len + 1 && !strchr(key, ':'));
        FUZZ_ASSERT(simrep_format_from_path(rel) == SIMREP_FORMAT_NPZ ||
                    simrep_format_from_path(rel) == SIMREP_FORMAT_SAFETENSORS);
    } else {
        FUZZ_ASSERT(len == strlen(rel));
    }

    int format = simrep_format_from_path(rel);
    if (format >= 0)
        fuzz_source(file, file_len, (simrep_format)format, key && *key ? key : NULL);

    simrep_ctx *ctx = simrep_ctx_new(NULL);
    FUZZ_ASSERT(ctx);
    simrep_source *src = NULL;
    simrep_status st = simrep_source_open(ctx, spec, &src);
    FUZZ_ASSERT(st == SIMREP_E_IO || st == SIMREP_E_INVALID || st == SIMREP_E_NOTFOUND);
    FUZZ_ASSERT(src == NULL && simrep_ctx_status(ctx) == st && simrep_ctx_message(ctx)[0]);
    if (st == SIMREP_E_IO)
        FUZZ_ASSERT(strncmp(simrep_ctx_message(ctx), spec, strlen(MISSING_DIR)) == 0);
    simrep_ctx_free(ctx);
    free(spec);
    return 0;
}
