/*
 * test_edge.c: numerical edge cases of every measure through the C API,
 * beyond those of test_measures.c (which has per-feature 1e-30/1e30
 * scaling, a dead and a duplicate column, p > n and a constant y for the
 * CCA family and CKA):
 *   - the whole of x scaled by 1e-300 ... 1e300 (and near DBL_MAX) in
 *     float64, by powers of two in float32: every measure is invariant to
 *     isotropic scaling (simrep_measure_info's invariances), so each must
 *     equal the unscaled value to 1e-9, never NaN or an error (issue 10,
 *     item 2: sums of squares and fourth powers used to overflow or
 *     underflow from 1e75 and 1e-75);
 *   - streamed: blocks of one Moments at magnitudes growing from 1e-250 to
 *     1e250, and merges of Moments held in different units (moments.c
 *     "Scale"), equal one Moments of the same rows; DFT-CCA likewise;
 *   - float16 input at the format's largest values (+-65504): converted
 *     exactly, so every measure equals the float64 computation of the same
 *     numbers, and nothing overflows on the way (the sums are in double);
 *   - an all-zero y, x, or both: every measure on its own is a
 *     SIMREP_E_DEGENERATE error whose message names the side, never a NaN;
 *   - duplicate columns with p > n: finite values in [0, 1] and the
 *     few-samples warning for the CCA family;
 *   - resource limits: sizes whose products overflow, or that exceed the
 *     32-bit BLAS integer, are refused before anything is allocated or
 *     read, and sizes that merely do not fit in memory are SIMREP_E_NOMEM
 *     (an allocator capped at 1 GiB stands in for a machine's memory).
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "linalg.h"
#include "simrep.h"
#include "test_util.h"

#define N 80
#define P 6
#define Q 5

/* The measures of two sample x feature matrices (later measures, on
 * feature maps, have their own tests). */
#define NMEASURES (SIMREP_PROCRUSTES_ANGULAR + 1)

static void fill(test_rng *g, double *x, double *y, int64_t n, int64_t p, int64_t q)
{
    for (int64_t i = 0; i < n; i++) {
        double z1 = test_normal(g), z2 = test_normal(g);
        for (int64_t j = 0; j < p; j++)
            x[i * p + j] = (j % 2 ? z1 : z2) * (j + 1) + 0.7 * test_normal(g);
        for (int64_t j = 0; j < q; j++)
            y[i * q + j] = (j % 3 ? z2 : z1) - 0.5 * j + 0.9 * test_normal(g);
    }
}

/* One measure of x and y; on success *v is the similarity. */
static simrep_status one(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y, simrep_measure m,
                         double *v, unsigned *warnings)
{
    simrep_result r;
    simrep_status st = simrep_compare(ctx, x, y, NULL, &m, 1, &r);
    if (st == SIMREP_OK) {
        *v = r.similarity;
        if (warnings)
            *warnings = r.warnings;
        CHECK(isfinite(r.similarity) && isfinite(r.distance));
        for (int64_t i = 0; i < r.ncoefs; i++)
            CHECK(isfinite(r.coefs[i]));
        simrep_result_clear(ctx, &r);
    }
    return st;
}

static void test_isotropic_scale(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng g = {77};
    double x[N * P], y[N * Q], xs[N * P], ys[N * Q];
    float xf[N * P], x32[N * P];
    fill(&g, x, y, N, P, Q);
    double xmax = 0, ymax = 0;
    for (int i = 0; i < N * P; i++) {
        x32[i] = (float)x[i];
        xmax = fabs(x[i]) > xmax ? fabs(x[i]) : xmax;
    }
    for (int i = 0; i < N * Q; i++)
        ymax = fabs(y[i]) > ymax ? fabs(y[i]) : ymax;
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, N, P), Y = simrep_matrix_c(y, SIMREP_F64, N, Q);
    simrep_matrix X32 = simrep_matrix_c(x32, SIMREP_F32, N, P);
    /* x's scale, y's scale (0: y unscaled); the last row puts both near
     * DBL_MAX, where even the column sums overflow. */
    const double scales[][2] = {{1e-300, 0}, {1e-150, 0}, {1e-75, 0}, {1e-30, 0}, {1e30, 0}, {1e75, 0},
                                {1e150, 0},  {1e300, 0},  {1e-300, 1e300}, {1e300, 1e-300},
                                {1.7e308 / xmax, 1.7e308 / ymax}};
    /* float32: powers of two, exact while the values stay normal
     * (|x| in [1e-3, 5] here, float32's normal range 1.2e-38 .. 3.4e38). */
    static const int pow2[] = {-100, -40, 40, 100};
    for (int m = 0; m < NMEASURES; m++) {
        double want = NAN, want32 = NAN;
        CHECK_STATUS(ctx, one(ctx, &X, &Y, (simrep_measure)m, &want, NULL), SIMREP_OK);
        CHECK_STATUS(ctx, one(ctx, &X32, &Y, (simrep_measure)m, &want32, NULL), SIMREP_OK);
        for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
            for (int i = 0; i < N * P; i++)
                xs[i] = x[i] * scales[s][0];
            for (int i = 0; i < N * Q; i++)
                ys[i] = scales[s][1] ? y[i] * scales[s][1] : y[i];
            simrep_matrix XS = simrep_matrix_c(xs, SIMREP_F64, N, P), YS = simrep_matrix_c(ys, SIMREP_F64, N, Q);
            double got = NAN;
            CHECK_STATUS(ctx, one(ctx, &XS, &YS, (simrep_measure)m, &got, NULL), SIMREP_OK);
            /* Scaling by a power of ten is not exact in binary: the data
             * change by one rounding (2^-53 relative), and the measures are
             * well conditioned here, so 1e-9 is far above round-off. */
            CHECK_CLOSE(got, want, 1e-9);
        }
        for (size_t s = 0; s < sizeof pow2 / sizeof pow2[0]; s++) {
            for (int i = 0; i < N * P; i++)
                xf[i] = (float)ldexp(x32[i], pow2[s]);
            simrep_matrix XF = simrep_matrix_c(xf, SIMREP_F32, N, P);
            double gotf = NAN;
            CHECK_STATUS(ctx, one(ctx, &XF, &Y, (simrep_measure)m, &gotf, NULL), SIMREP_OK);
            CHECK_CLOSE(gotf, want32, 1e-12); /* exactly scaled data: round-off only */
        }
    }
    simrep_ctx_free(ctx);
}

/* The linear measures of moments m against the reference results want. */
static void check_moments(simrep_ctx *ctx, const simrep_moments *m, const double *want)
{
    simrep_measure ms[NMEASURES - 1];
    simrep_result r[NMEASURES - 1];
    int k = 0;
    for (int i = 0; i < NMEASURES; i++)
        if (i != SIMREP_CKA_RBF)
            ms[k++] = (simrep_measure)i;
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, m, NULL, ms, k, r), SIMREP_OK);
    for (int i = 0; i < k; i++) {
        CHECK_CLOSE(r[i].similarity, want[i], 1e-9);
        simrep_result_clear(ctx, &r[i]);
    }
}

/* Moments fed rows whose magnitude grows block by block from 1e-250 to
 * 1e250 (rescaled on the way), and Moments merged from parts at different
 * scales, equal one Moments of the rows at a single scale: at the largest
 * block's scale every other block is 1e-50 of it and less, below
 * round-off, so the reference is the last block after rows of zeros. */
static void test_streamed_scales(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng g = {91};
    enum { B = 40, K = 6 };
    static const double mags[K] = {1e-250, 1e-120, 1.0, 1e100, 1e200, 1e250};
    double x[K * B * P], y[K * B * Q];
    fill(&g, x, y, K * B, P, Q);
    simrep_measure ms[NMEASURES - 1];
    int nm = 0;
    for (int i = 0; i < NMEASURES; i++)
        if (i != SIMREP_CKA_RBF)
            ms[nm++] = (simrep_measure)i;
    double want[NMEASURES], zx[K * B * P] = {0}, zy[K * B * Q] = {0};
    simrep_moments *ref = NULL, *all = NULL, *merged = NULL, *part = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, P, Q, &ref), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_new(ctx, P, Q, &all), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_new(ctx, P, Q, &merged), SIMREP_OK);
    memcpy(zx + (K - 1) * B * P, x + (K - 1) * B * P, sizeof(double) * B * P);
    memcpy(zy + (K - 1) * B * Q, y + (K - 1) * B * Q, sizeof(double) * B * Q);
    simrep_matrix XR = simrep_matrix_c(zx, SIMREP_F64, K * B, P), YR = simrep_matrix_c(zy, SIMREP_F64, K * B, Q);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, ref, &XR, &YR), SIMREP_OK);
    simrep_result r[NMEASURES];
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, ref, NULL, ms, nm, r), SIMREP_OK);
    for (int i = 0; i < nm; i++) {
        want[i] = r[i].similarity;
        simrep_result_clear(ctx, &r[i]);
    }
    for (int b = 0; b < K; b++) {
        double *xb = x + b * B * P, *yb = y + b * B * Q;
        for (int i = 0; i < B * P; i++)
            xb[i] *= mags[b];
        for (int i = 0; i < B * Q; i++)
            yb[i] *= mags[b] * 1e-30; /* y in other units than x */
        simrep_matrix XB = simrep_matrix_c(xb, SIMREP_F64, B, P), YB = simrep_matrix_c(yb, SIMREP_F64, B, Q);
        CHECK_STATUS(ctx, simrep_moments_update(ctx, all, &XB, &YB), SIMREP_OK);
        /* parts merged in the reverse order: the large ones first */
        CHECK_STATUS(ctx, simrep_moments_new(ctx, P, Q, &part), SIMREP_OK);
        CHECK_STATUS(ctx, simrep_moments_update(ctx, part, &XB, &YB), SIMREP_OK);
        simrep_moments *tmp = part;
        part = NULL;
        if (b == 0) {
            simrep_moments_free(ctx, merged);
            merged = tmp;
        } else {
            CHECK_STATUS(ctx, simrep_moments_merge(ctx, tmp, merged), SIMREP_OK);
            simrep_moments_free(ctx, merged);
            merged = tmp;
        }
    }
    check_moments(ctx, all, want);
    check_moments(ctx, merged, want);
    /* a saved and loaded state keeps its units */
    double *state = malloc(sizeof(double) * (size_t)simrep_moments_state_len(all));
    simrep_moments_save(all, state);
    CHECK_STATUS(ctx, simrep_moments_load(ctx, ref, state), SIMREP_OK);
    check_moments(ctx, ref, want);
    /* the accessors give the data's own units: the means of 1e250 rows */
    double mx[P], my[Q];
    simrep_moments_means(all, mx, my);
    CHECK(fabs(mx[0]) > 1e240 && isfinite(mx[0]));
    free(state);
    simrep_moments_free(ctx, ref);
    simrep_moments_free(ctx, all);
    simrep_moments_free(ctx, merged);
    simrep_ctx_free(ctx);
}

static uint16_t f16_bits(double v)
{
    /* Only the values used below: exact in binary16. */
    if (v == 65504.0)
        return 0x7bff;
    if (v == -65504.0)
        return 0xfbff;
    /* Integers of magnitude < 2048 are exact in binary16. */
    int neg = v < 0;
    double a = neg ? -v : v;
    if (a == 0)
        return neg ? 0x8000 : 0;
    int e = 0;
    while (a >= 2.0)
        a /= 2, e++;
    uint16_t mant = (uint16_t)((a - 1.0) * 1024.0 + 0.5);
    return (uint16_t)((neg ? 0x8000 : 0) | ((e + 15) << 10) | mant);
}

static void test_float16_extremes(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng g = {65504};
    uint16_t xh[N * P];
    double xd[N * P], y[N * Q], dummy[N * P];
    fill(&g, dummy, y, N, P, Q);
    /* Integer values in (-2048, 2048), plus +-65504 spread over every
     * column, a column of only +-65504 and the largest value in a column
     * otherwise small. */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < P; j++) {
            double v = floor(test_uniform(&g) * 4000.0) - 2000.0;
            if (j == 0)
                v = (i % 3) ? 65504.0 : -65504.0;
            else if ((i + j) % 17 == 0)
                v = (i % 2) ? 65504.0 : -65504.0;
            xd[i * P + j] = v;
            xh[i * P + j] = f16_bits(v);
        }
    for (int i = 0; i < N * P; i++)
        CHECK(simrep__f16_to_double(xh[i]) == xd[i]);
    simrep_matrix XH = simrep_matrix_c(xh, SIMREP_F16, N, P), XD = simrep_matrix_c(xd, SIMREP_F64, N, P);
    simrep_matrix Y = simrep_matrix_c(y, SIMREP_F64, N, Q);
    for (int m = 0; m < NMEASURES; m++) {
        double a = NAN, b = NAN;
        CHECK_STATUS(ctx, one(ctx, &XH, &Y, (simrep_measure)m, &a, NULL), SIMREP_OK);
        CHECK_STATUS(ctx, one(ctx, &XD, &Y, (simrep_measure)m, &b, NULL), SIMREP_OK);
        /* Same numbers, same code path after conversion: equal. */
        CHECK(a == b);
    }
    /* x against itself in float16 is an identity for every measure. */
    for (int m = 0; m < NMEASURES; m++) {
        double a = NAN;
        CHECK_STATUS(ctx, one(ctx, &XH, &XH, (simrep_measure)m, &a, NULL), SIMREP_OK);
        /* 1 up to the round-off of an eigendecomposition of a 6 x 6
         * covariance whose entries reach 4e9 * N. */
        CHECK_CLOSE(a, 1.0, 1e-7);
    }
    simrep_ctx_free(ctx);
}

static void test_all_zero(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng g = {3};
    double x[N * P], y[N * Q], zx[N * P], zy[N * Q], cx[N * P], cy[N * Q];
    float cf[N * P];
    fill(&g, x, y, N, P, Q);
    memset(zx, 0, sizeof zx);
    memset(zy, 0, sizeof zy);
    /* Constants that are not representable in binary (issue 10, item 3):
     * summed directly they leave a round-off variance of 1e-33. */
    for (int i = 0; i < N * P; i++)
        cf[i] = (float)(cx[i] = (i % P + 1) * 0.1);
    for (int i = 0; i < N * Q; i++)
        cy[i] = 1e10 + 0.1;
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, N, P), Y = simrep_matrix_c(y, SIMREP_F64, N, Q);
    simrep_matrix ZX = simrep_matrix_c(zx, SIMREP_F64, N, P), ZY = simrep_matrix_c(zy, SIMREP_F64, N, Q);
    simrep_matrix CX = simrep_matrix_c(cx, SIMREP_F64, N, P), CY = simrep_matrix_c(cy, SIMREP_F64, N, Q);
    simrep_matrix CF = simrep_matrix_c(cf, SIMREP_F32, N, P);
    const struct {
        const simrep_matrix *x, *y;
        const char *side;
    } cases[] = {{&X, &ZY, "y"}, {&ZX, &Y, "x"}, {&ZX, &ZY, NULL}, {&CX, &Y, "x"}, {&X, &CY, "y"},
                 {&CF, &Y, "x"}, {&CX, &CY, NULL}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
        for (int m = 0; m < NMEASURES; m++) {
            double v = NAN;
            simrep_status st = one(ctx, cases[c].x, cases[c].y, (simrep_measure)m, &v, NULL);
            if (st != SIMREP_E_DEGENERATE)
                fprintf(stderr, "FAIL all-zero %s, %s: status %d, similarity %g\n",
                        cases[c].side ? cases[c].side : "x and y", simrep_measure_get_info((simrep_measure)m)->id,
                        (int)st, v);
            CHECK(st == SIMREP_E_DEGENERATE);
            const char *msg = simrep_ctx_message(ctx);
            CHECK(strlen(msg) > 10);
            /* The message says which side: "y: ..." (or "x: ...") first. */
            if (cases[c].side && !(msg[0] == cases[c].side[0] && msg[1] == ':'))
                fprintf(stderr, "FAIL all-zero %s, %s: message does not start with the side: %s\n",
                        cases[c].side, simrep_measure_get_info((simrep_measure)m)->id, msg);
            if (cases[c].side)
                CHECK(msg[0] == cases[c].side[0] && msg[1] == ':');
        }
    simrep_ctx_free(ctx);
}

static void test_duplicates_p_above_n(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng g = {11};
    enum { n = 12, p = 30, q = 20 };
    double x[n * p], y[n * q];
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < p; j++)
            x[i * p + j] = j < 10 ? test_normal(&g) : x[i * p + j % 10]; /* columns 10.. repeat 0..9 */
        for (int j = 0; j < q; j++)
            y[i * q + j] = j < 5 ? x[i * p + j] + 0.1 * test_normal(&g) : test_normal(&g);
    }
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, n, p), Y = simrep_matrix_c(y, SIMREP_F64, n, q);
    for (int m = 0; m < NMEASURES; m++) {
        double v = NAN;
        unsigned w = 0;
        CHECK_STATUS(ctx, one(ctx, &X, &Y, (simrep_measure)m, &v, &w), SIMREP_OK);
        CHECK(v >= -1e-12 && v <= 1 + 1e-12);
        if (m <= SIMREP_PWCCA)
            CHECK(w & SIMREP_WARN_FEW_SAMPLES);
    }
    simrep_ctx_free(ctx);
}

/* An allocator that refuses blocks over 1 GiB, standing in for a machine
 * without the memory (a real malloc may overcommit, or ASan abort). */
#define CAP ((size_t)1 << 30)
static long capped_live;
static void *capped_malloc(void *user, size_t size)
{
    (void)user;
    if (size > CAP)
        return NULL;
    void *p = malloc(size ? size : 1);
    capped_live += p != NULL;
    return p;
}
static void capped_free(void *user, void *ptr)
{
    (void)user;
    capped_live -= ptr != NULL;
    free(ptr);
}

static void test_resource_limits(void)
{
    simrep_allocator a = {capped_malloc, capped_free, NULL};
    simrep_ctx *ctx = simrep_ctx_new(&a);
    simrep_moments *m = NULL;
    /* (p + q)^2 overflows int64: refused as an argument error. */
    CHECK_STATUS(ctx, simrep_moments_new(ctx, INT64_MAX / 2, INT64_MAX / 2, &m), SIMREP_E_INVALID);
    CHECK(m == NULL);
    CHECK_STATUS(ctx, simrep_moments_new(ctx, (int64_t)1 << 32, 1, &m), SIMREP_E_INVALID);
    /* Beyond the BLAS integer but not int64: no memory for the scatter. */
    CHECK_STATUS(ctx, simrep_moments_new(ctx, (int64_t)1 << 31, 1, &m), SIMREP_E_NOMEM);
    CHECK(m == NULL);
    /* Merely large (0.4 TB of scatter): out of memory, with a message. */
    CHECK_STATUS(ctx, simrep_moments_new(ctx, 200000, 30000, &m), SIMREP_E_NOMEM);
    CHECK(strstr(simrep_ctx_message(ctx), "scatter") != NULL);
    int64_t feats[3] = {INT64_MAX, 1, 1};
    CHECK_STATUS(ctx, simrep_moments_new_multi(ctx, 3, feats, &m), SIMREP_E_INVALID);
    /* The 32-bit BLAS integer is checked at the one place BLAS is called;
     * nothing is read (the matrices are NULL) when a size does not fit. */
    const int64_t big = (int64_t)INT_MAX + 1;
    CHECK_STATUS(ctx, simrep__syrk(ctx, 'N', big, 4, 1.0, NULL, big, 0.0, NULL, big), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "32-bit BLAS") != NULL);
    CHECK_STATUS(ctx, simrep__gemm(ctx, 'N', 'N', 4, big, 4, 1.0, NULL, 4, NULL, big, 0.0, NULL, 4),
                 SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep__syevd(ctx, big, NULL, big, NULL), SIMREP_E_INVALID);
    /* cka_rbf of 3e9 rows: n^2 fits int64, the rows converted to double
     * (24 GB) do not fit the cap; NOMEM before any row is read (the view
     * points at one double). */
    double one = 1.0;
    simrep_matrix X = {&one, SIMREP_F64, 3000000000LL, 1, 0, 0};
    double v = -1;
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &X, 1.0, &v), SIMREP_E_NOMEM);
    X.rows = (int64_t)1 << 32; /* n^2 overflows */
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &X, 1.0, &v), SIMREP_E_INVALID);
    CHECK(v == -1);
    /* A source read of a block whose bytes overflow is refused. */
    static const char npy[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f8', 'fortran_order': False, "
                              "'shape': (0, 1000000000000000), }";
    char buf[128];
    memset(buf, ' ', sizeof buf);
    memcpy(buf, npy, sizeof npy - 1);
    buf[127] = '\n';
    simrep_source *src = NULL;
    CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, buf, sizeof buf, SIMREP_FORMAT_NPY, NULL, &src), SIMREP_OK);
    if (src) {
        simrep_matrix view;
        CHECK(simrep_source_samples(src) == 0 && simrep_source_features(src) == 1000000000000000LL);
        CHECK_STATUS(ctx, simrep_source_read(ctx, src, 0, 8192, &view), SIMREP_OK); /* 0 rows */
        CHECK(view.rows == 0);
        CHECK_STATUS(ctx, simrep_source_set_layout(ctx, src, 1), SIMREP_OK); /* now 1e15 samples of 0 features */
        CHECK_STATUS(ctx, simrep_source_read(ctx, src, 0, 8192, &view), SIMREP_OK);
        CHECK(view.rows == 8192 && view.cols == 0);
        simrep_source_free(ctx, src);
    }
    simrep_ctx_free(ctx);
    CHECK(capped_live == 0);
}

void suite_edge(void)
{
    test_resource_limits();
    test_isotropic_scale();
    test_streamed_scales();
    test_float16_extremes();
    test_all_zero();
    test_duplicates_p_above_n();
}
