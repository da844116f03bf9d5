/*
 * fuzz_common.h: what every fuzz target does with its bytes, so that one
 * input exercises a parser as the CLI would use it: list the arrays, open
 * one, read every sample in a few block sizes and both layouts (touching
 * each element of every view, so ASan sees a view that points outside its
 * buffer), and, on failure, check the message names the input.
 *
 * Each target defines LLVMFuzzerTestOneInput and nothing else; built with
 * clang -fsanitize=fuzzer it is a libFuzzer binary, built with
 * fuzz/replay.c it is a plain program that runs files through it (what
 * `make check` does with the corpus, without a fuzzer).
 *
 * Invariant violations abort(): libFuzzer and the replay driver both report
 * an abort as a crash with the input that caused it.
 */
#ifndef SIMREP_FUZZ_COMMON_H
#define SIMREP_FUZZ_COMMON_H

#include "simrep.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                               \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

/* A failed call left a status and a message starting with label. */
static inline void fuzz_check_failure(simrep_ctx *ctx, simrep_status st, const char *label)
{
    FUZZ_ASSERT(st != SIMREP_OK);
    FUZZ_ASSERT(simrep_ctx_status(ctx) == st);
    FUZZ_ASSERT(strncmp(simrep_ctx_message(ctx), label, strlen(label)) == 0);
    FUZZ_ASSERT(strlen(simrep_ctx_message(ctx)) > strlen(label));
}

/* Every element of the view is readable (ASan) and converts to a double. */
static inline double fuzz_touch(const simrep_matrix *v)
{
    double sum = 0;
    if (v->rows == 0 || v->cols == 0)
        return 0;
    double *row = malloc((size_t)v->cols * sizeof *row);
    FUZZ_ASSERT(row);
    for (int64_t i = 0; i < v->rows; i++) {
        simrep_matrix one = *v;
        one.data = (const char *)v->data + (size_t)(i * v->row_stride) * simrep_dtype_size(v->dtype);
        one.rows = 1;
        simrep_matrix_to_double(&one, row, v->cols);
        for (int64_t j = 0; j < v->cols; j++)
            sum += row[j] == row[j] ? 0 : 1; /* NaN count: keeps the loads */
    }
    free(row);
    return sum;
}

/* Read every sample of src in blocks of `block` (forward), then one block
 * backwards (the restart path of deflated members). */
static inline void fuzz_read_all(simrep_ctx *ctx, simrep_source *src, int64_t block, const char *label)
{
    int64_t n = simrep_source_samples(src), p = simrep_source_features(src);
    simrep_matrix v;
    for (int64_t r = 0; r < n; r += block) {
        simrep_status st = simrep_source_read(ctx, src, r, block, &v);
        if (st) {
            fuzz_check_failure(ctx, st, label);
            return;
        }
        FUZZ_ASSERT(v.rows == (n - r < block ? n - r : block));
        FUZZ_ASSERT(v.cols == p);
        fuzz_touch(&v);
    }
    if (n > 1) {
        simrep_status st = simrep_source_read(ctx, src, 0, 1, &v);
        if (st)
            fuzz_check_failure(ctx, st, label);
        else
            fuzz_touch(&v);
    }
    simrep_status st = simrep_source_read(ctx, src, n, 1, &v);
    FUZZ_ASSERT(st == SIMREP_OK && v.rows == 0);
}

/* Samples times features are at most this many elements for the reads:
 * larger arrays (a deflated member may legitimately inflate ~1000-fold)
 * are opened and read in part only, so one input cannot take seconds. */
#define FUZZ_READ_MAX_ELEMS 4000000

/* Open the array key (NULL: the only one) of data as format; read it. */
static inline void fuzz_source(const uint8_t *data, size_t size, simrep_format format, const char *key)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    FUZZ_ASSERT(ctx);
    simrep_source *src = NULL;
    simrep_status st = simrep_source_open_buffer(ctx, data, size, format, key, &src);
    if (st) {
        FUZZ_ASSERT(src == NULL);
        fuzz_check_failure(ctx, st, "<buffer>");
        simrep_ctx_free(ctx);
        return;
    }
    const simrep_array_info *info = simrep_source_info(src);
    FUZZ_ASSERT(info && info->dtype_supported);
    FUZZ_ASSERT(info->ndim >= 0 && info->ndim <= SIMREP_MAX_NDIM);
    for (int ff = 0; ff < 2; ff++) {
        st = simrep_source_set_layout(ctx, src, ff);
        if (st) {
            FUZZ_ASSERT(st == SIMREP_E_SHAPE && info->ndim != 2);
            fuzz_check_failure(ctx, st, "<buffer>");
            simrep_matrix v;
            st = simrep_source_read(ctx, src, 0, 1, &v);
            FUZZ_ASSERT(st == SIMREP_E_SHAPE);
            break;
        }
        int64_t n = simrep_source_samples(src), p = simrep_source_features(src);
        FUZZ_ASSERT(n >= 0 && p >= 0);
        /* p = 0 still costs a call per block: a few thousand samples of
         * nothing exercise that path as well as billions. */
        if (n > (p > 0 ? FUZZ_READ_MAX_ELEMS / p : 10000))
            n = p > 0 ? FUZZ_READ_MAX_ELEMS / p : 10000;
        if (n == 0 && p > FUZZ_READ_MAX_ELEMS)
            continue;
        static const int64_t blocks[] = {1, 3, 8192};
        for (size_t b = 0; b < sizeof blocks / sizeof *blocks; b++) {
            if (n > FUZZ_READ_MAX_ELEMS / 64 && blocks[b] < 64)
                continue;
            if (simrep_source_samples(src) == n)
                fuzz_read_all(ctx, src, blocks[b], "<buffer>");
            else { /* a large array: its first samples only */
                simrep_matrix v;
                st = simrep_source_read(ctx, src, 0, n < blocks[b] ? n : blocks[b], &v);
                if (st)
                    fuzz_check_failure(ctx, st, "<buffer>");
                else
                    fuzz_touch(&v);
            }
        }
    }
    simrep_source_free(ctx, src);
    simrep_ctx_free(ctx);
}

/* List the arrays of data as format (a small cap and the full list). */
static inline void fuzz_list(const uint8_t *data, size_t size, simrep_format format)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    FUZZ_ASSERT(ctx);
    simrep_array_info infos[4];
    int count = -1;
    simrep_status st = simrep_buffer_list(ctx, data, size, format, infos, 4, &count);
    if (st)
        fuzz_check_failure(ctx, st, "<buffer>");
    else
        FUZZ_ASSERT(count >= 0 && (format != SIMREP_FORMAT_NPY || count == 1));
    for (int i = 0; st == SIMREP_OK && i < count && i < 4; i++) {
        FUZZ_ASSERT(infos[i].ndim >= 0 && infos[i].ndim <= SIMREP_MAX_NDIM);
        FUZZ_ASSERT(memchr(infos[i].name, '\0', sizeof infos[i].name));
        FUZZ_ASSERT(memchr(infos[i].dtype_text, '\0', sizeof infos[i].dtype_text));
        /* Every listed array opens by its name (or fails cleanly). */
        if (format != SIMREP_FORMAT_NPY && i < 2)
            fuzz_source(data, size, format, infos[i].name);
    }
    int count0 = -1;
    simrep_status st0 = simrep_buffer_list(ctx, data, size, format, NULL, 0, &count0);
    /* Listing without infos opens no member: it cannot fail where the full
     * listing succeeded, and counts the same. */
    FUZZ_ASSERT(st != SIMREP_OK || (st0 == SIMREP_OK && count0 == count));
    simrep_ctx_free(ctx);
}

#endif
