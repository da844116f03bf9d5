/*
 * test_errors.c: structured errors (simrep_ctx_error, simrep_ctx_set_names).
 * The library says where a failure happened (the input at fault: x = 0,
 * y = 1, input k of a K-input call, i or j of a pair; the file and the
 * bytes of a failed read; the sample and feature of a NaN) so that callers
 * never parse message text.  Checked here for each kind of call that
 * reports an input: two-input compare (moments and rows measures), the
 * K-input moments, a pair of a simrep_pairs (its failure raised inside a
 * worker thread's context and copied back), the rank test, a truncated
 * .npy file, and the names a caller gives the inputs.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "simrep.h"

static void fill(double *v, int n, unsigned seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (double)(seed >> 8 & 0xffff) / 65536.0 - 0.5;
    }
}

/* Two-input calls: the side, the cell and the detail without the name. */
static void test_two_inputs(simrep_ctx *ctx)
{
    double x[40 * 3], y[40 * 4];
    fill(x, 40 * 3, 1);
    fill(y, 40 * 4, 2);
    y[7 * 4 + 2] = NAN;
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, 40, 3), Y = simrep_matrix_c(y, SIMREP_F64, 40, 4);
    simrep_measure cka = SIMREP_CKA, rbf = SIMREP_CKA_RBF;
    simrep_result r;
    simrep_error_info e;
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y, NULL, &cka, 1, &r), SIMREP_E_NONFINITE);
    simrep_ctx_error(ctx, &e);
    CHECK(e.status == SIMREP_E_NONFINITE && e.input == 1 && e.row == 7 && e.column == 2);
    CHECK(strcmp(e.detail, "NaN at row 7, column 2") == 0);
    CHECK(strcmp(simrep_ctx_message(ctx), "y: NaN at row 7, column 2") == 0);
    CHECK(e.file && e.file[0] == 0 && e.byte_begin == 0 && e.byte_end == 0);

    /* A rows measure (its own reader of the rows) says the same. */
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y, NULL, &rbf, 1, &r), SIMREP_E_NONFINITE);
    simrep_ctx_error(ctx, &e);
    CHECK(e.input == 1 && e.row == 7 && e.column == 2 && strcmp(e.detail, "NaN at row 7, column 2") == 0);

    /* The caller's names in the message; the detail is unchanged. */
    const char *names[2] = {"a.npy", "dir/b.npy"};
    simrep_ctx_set_names(ctx, names, 2);
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y, NULL, &cka, 1, &r), SIMREP_E_NONFINITE);
    simrep_ctx_error(ctx, &e);
    CHECK(strcmp(simrep_ctx_message(ctx), "dir/b.npy: NaN at row 7, column 2") == 0);
    CHECK(e.input == 1 && strcmp(e.detail, "NaN at row 7, column 2") == 0);
    /* Rows that do not pair: the second input is at fault. */
    y[7 * 4 + 2] = 0.25;
    simrep_matrix Y39 = simrep_matrix_c(y, SIMREP_F64, 39, 4);
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y39, NULL, &cka, 1, &r), SIMREP_E_SHAPE);
    simrep_ctx_error(ctx, &e);
    CHECK(e.input == 1 && strcmp(simrep_ctx_message(ctx), "a.npy has 40 rows but dir/b.npy has 39") == 0);
    simrep_ctx_set_names(ctx, NULL, 0);

    /* A degenerate side: every feature of x constant. */
    double c[40 * 3];
    for (int i = 0; i < 40 * 3; i++)
        c[i] = 2.0;
    simrep_matrix C = simrep_matrix_c(c, SIMREP_F64, 40, 3);
    CHECK_STATUS(ctx, simrep_compare(ctx, &C, &Y, NULL, &cka, 1, &r), SIMREP_E_DEGENERATE);
    simrep_ctx_error(ctx, &e);
    CHECK(e.input == 0 && e.row == -1 && strncmp(simrep_ctx_message(ctx), "x: ", 3) == 0 &&
          strcmp(e.detail, simrep_ctx_message(ctx) + 3) == 0);

    /* A failure that is nobody's input: -1 and the whole message. */
    simrep_measure bad = (simrep_measure)999;
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y, NULL, &bad, 1, &r), SIMREP_E_INVALID);
    simrep_ctx_error(ctx, &e);
    CHECK(e.input == -1 && strcmp(e.detail, simrep_ctx_message(ctx)) == 0);

    /* The rank test: the constant side. */
    double a[5] = {1, 1, 1, 1, 1}, b[5] = {1, 2, 3, 4, 5};
    simrep_rank_options ro;
    simrep_rank_options_init(&ro);
    simrep_rank_result rr;
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 5, b, a, &ro, &rr), SIMREP_E_DEGENERATE);
    simrep_ctx_error(ctx, &e);
    CHECK(e.input == 1);
    b[3] = INFINITY;
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 5, b, b, &ro, &rr), SIMREP_E_NONFINITE);
    simrep_ctx_error(ctx, &e);
    CHECK(e.input == 0 && e.row == 3 && strcmp(e.detail, "value 3 is infinite") == 0);
}

/* K inputs, and a pair of them (input i or j, not x or y). */
static void test_many_inputs(simrep_ctx *ctx)
{
    enum { N = 30 };
    const int64_t feat[3] = {2, 3, 2};
    double a[N * 2], b[N * 3], c[N * 2];
    fill(a, N * 2, 3);
    fill(b, N * 3, 4);
    fill(c, N * 2, 5);
    c[11 * 2 + 1] = -INFINITY;
    simrep_matrix blocks[3] = {simrep_matrix_c(a, SIMREP_F64, N, 2), simrep_matrix_c(b, SIMREP_F64, N, 3),
                               simrep_matrix_c(c, SIMREP_F64, N, 2)};
    simrep_moments *m = NULL;
    simrep_error_info e;
    CHECK_STATUS(ctx, simrep_moments_new_multi(ctx, 3, feat, &m), SIMREP_OK);
    if (!m)
        return;
    CHECK_STATUS(ctx, simrep_moments_update_multi(ctx, m, blocks), SIMREP_E_NONFINITE);
    simrep_ctx_error(ctx, &e);
    CHECK(e.input == 2 && e.row == 11 && e.column == 1 && strcmp(e.detail, "Inf at row 11, column 1") == 0);
    CHECK(strcmp(simrep_ctx_message(ctx), "input 2: Inf at row 11, column 1") == 0);

    /* Input 1 constant: the CCA family of pair (2, 1) names input 1. */
    c[11 * 2 + 1] = 0.125;
    for (int i = 0; i < N * 3; i++)
        b[i] = 1.0;
    const char *names[3] = {"first", "second", "third"};
    CHECK_STATUS(ctx, simrep_moments_update_multi(ctx, m, blocks), SIMREP_OK);
    simrep_measure ms[2] = {SIMREP_CKA, SIMREP_CCA};
    simrep_pairs *pairs = NULL;
    CHECK_STATUS(ctx, simrep_pairs_prepare(ctx, m, NULL, ms, 2, &pairs), SIMREP_OK);
    simrep_result res[2];
    if (pairs) {
        CHECK_STATUS(ctx, simrep_pairs_compare(ctx, pairs, 2, 1, ms + 1, 1, res), SIMREP_E_DEGENERATE);
        simrep_ctx_error(ctx, &e);
        CHECK(e.input == 1 && strncmp(simrep_ctx_message(ctx), "y: ", 3) == 0);
        /* Two families at once (each a task with its own context): the
         * failure keeps its input when copied back. */
        simrep_ctx_set_names(ctx, names, 3);
        CHECK_STATUS(ctx, simrep_pairs_compare(ctx, pairs, 1, 0, ms, 2, res), SIMREP_E_DEGENERATE);
        simrep_ctx_error(ctx, &e);
        CHECK(e.input == 1 && strncmp(simrep_ctx_message(ctx), "second: ", 8) == 0 &&
              strcmp(e.detail, simrep_ctx_message(ctx) + 8) == 0);
        simrep_ctx_set_names(ctx, NULL, 0);
        simrep_pairs_free(ctx, pairs);
    }
    /* Rows that do not pair: the input with the other count. */
    blocks[1].rows = N - 1;
    CHECK_STATUS(ctx, simrep_moments_update_multi(ctx, m, blocks), SIMREP_E_SHAPE);
    simrep_ctx_error(ctx, &e);
    CHECK(e.input == 1 && strcmp(simrep_ctx_message(ctx), "input 0 has 30 rows but input 1 has 29") == 0);
    simrep_moments_free(ctx, m);
}

/* A .npy file shorter than its header says: the file and the missing
 * bytes, the detail without the path. */
static void test_file(simrep_ctx *ctx)
{
    char dir[] = "/tmp/simrep_errors_XXXXXX", path[128];
    if (!mkdtemp(dir)) {
        CHECK(!"mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/short.npy", dir);
    char header[128]; /* magic, version 1.0, header length 118 */
    memset(header, ' ', sizeof header);
    memcpy(header, "\x93NUMPY\x01\x00\x76\x00", 10);
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (10, 3), }";
    memcpy(header + 10, dict, strlen(dict));
    header[127] = '\n';
    double data[20] = {0};
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    fwrite(header, 1, sizeof header, f);
    fwrite(data, sizeof(double), 20, f);
    fclose(f);
    simrep_source *src = NULL;
    simrep_status st = simrep_source_open(ctx, path, &src);
    if (st == SIMREP_OK) { /* the reader may accept the header and fail on reading */
        simrep_matrix v;
        st = simrep_source_read(ctx, src, 0, 10, &v);
        simrep_source_free(ctx, src);
    }
    CHECK(st == SIMREP_E_FORMAT);
    simrep_error_info e;
    simrep_ctx_error(ctx, &e);
    CHECK(strcmp(e.file, path) == 0);
    CHECK(e.byte_begin == 128 + 160 && e.byte_end == 128 + 240); /* the 80 bytes the header promises, not there */
    CHECK(strncmp(e.detail, "truncated", 9) == 0 && strstr(simrep_ctx_message(ctx), path) == simrep_ctx_message(ctx));
    unlink(path);
    rmdir(dir);
}

void suite_errors(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    CHECK(simrep_struct_size("simrep_error_info") == sizeof(simrep_error_info));
    simrep_error_info e;
    simrep_ctx_error(ctx, &e); /* nothing failed yet */
    CHECK(e.status == SIMREP_OK && e.input == -1 && e.row == -1 && e.column == -1 && e.file[0] == 0 &&
          e.detail[0] == 0);
    test_two_inputs(ctx);
    test_many_inputs(ctx);
    test_file(ctx);
    simrep_ctx_free(ctx);
}
