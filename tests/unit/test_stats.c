/*
 * test_stats.c: the resampling state of issue 11 (src/stats.c) through the
 * public API: exactness where it is exact (one bucket: every resample is
 * the data, to round-off, for every moment measure including the debiased
 * CKA row sums; a permutation of segments of a series that does not depend
 * on the pairing gives the observed value), the reading plan (every row
 * exactly once, whole units, segments side by side), the same numbers for
 * any number of threads, the closed-form chance levels against their
 * formulas, the group tests on a matrix worked by hand, and every misuse
 * and limit as an error with a message.  The statistical calibration
 * (coverage, uniform p-values, agreement with a brute-force bootstrap) is in
 * tests/python_pkg/test_stats_calibration.py, where numpy can check it.
 */
#include "harness.h"
#include "simrep.h"
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

static const simrep_measure MOMENT_MEASURES[] = {SIMREP_CCA,   SIMREP_CCA_R2,       SIMREP_SVCCA,
                                                 SIMREP_PWCCA, SIMREP_CKA,          SIMREP_CKA_DEBIASED,
                                                 SIMREP_PROCRUSTES, SIMREP_PROCRUSTES_ANGULAR};
#define NM ((int)(sizeof MOMENT_MEASURES / sizeof MOMENT_MEASURES[0]))

/* x (n x p) and y (n x q) sharing k latent columns, far from the origin. */
static void make_data(test_rng *r, int64_t n, int64_t p, int64_t q, double *x, double *y)
{
    for (int64_t i = 0; i < n; i++) {
        double z[2] = {test_normal(r), test_normal(r)};
        for (int64_t j = 0; j < p; j++)
            x[i * p + j] = 100.0 + (j < 2 ? z[j] : 0) + test_normal(r);
        for (int64_t j = 0; j < q; j++)
            y[i * q + j] = -50.0 + (j < 2 ? 0.8 * z[1 - j] : 0) + test_normal(r);
    }
}

/* Feed the data in the order the state asks for; moments too. */
static simrep_status feed(simrep_ctx *ctx, simrep_stats *s, simrep_moments *m, const double *x, const double *y,
                          int64_t p, int64_t q, int64_t block, unsigned char *seen)
{
    int64_t r0, rows;
    simrep_status st = SIMREP_OK;
    while (st == SIMREP_OK && simrep_stats_next(s, block, &r0, &rows)) {
        simrep_matrix mx = simrep_matrix_c(x + r0 * p, SIMREP_F64, rows, p);
        simrep_matrix my = simrep_matrix_c(y + r0 * q, SIMREP_F64, rows, q);
        if (seen)
            for (int64_t i = r0; i < r0 + rows; i++)
                seen[i]++;
        st = simrep_moments_update(ctx, m, &mx, &my);
        if (st == SIMREP_OK)
            st = simrep_stats_update(ctx, s, &mx, &my);
    }
    return st;
}

/* scale: x is multiplied by it, y divided (1e40: the moments keep their
 * state in units of 2^133, the resampling sums in the data's own). */
static void test_one_bucket(double scale)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng r = {7};
    const int64_t n = 700, p = 5, q = 4;
    double *x = malloc(sizeof(double) * n * p), *y = malloc(sizeof(double) * n * q);
    make_data(&r, n, p, q, x, y);
    for (int64_t i = 0; i < n * p; i++)
        x[i] *= scale;
    for (int64_t i = 0; i < n * q; i++)
        y[i] /= scale;
    simrep_stats_options o;
    simrep_stats_options_init(&o);
    o.bootstrap = 12;
    o.buckets = 1; /* every resample draws the one bucket once: the data */
    o.permutations = 10;
    o.segments = 4;
    o.unit_rows = 3; /* 233 whole units and a short one: the remainder */
    simrep_stats *s = NULL;
    simrep_moments *m = NULL;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, p, q, n, &o, &s), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_new(ctx, p, q, &m), SIMREP_OK);
    unsigned char *seen = calloc((size_t)n, 1);
    CHECK_STATUS(ctx, feed(ctx, s, m, x, y, p, q, 50, seen), SIMREP_OK);
    int once = 1;
    for (int64_t i = 0; i < n; i++)
        once &= seen[i] == 1;
    CHECK(once);
    simrep_stats_info info;
    simrep_stats_get_info(s, &info);
    CHECK(info.units == 234 && info.unit_rows == 3 && info.buckets == 1 && !info.exact_bootstrap);
    CHECK(info.segments == 4 && info.segment_units == 58);
    simrep_stats_result res[NM];
    CHECK_STATUS(ctx, simrep_stats_compute(ctx, s, m, NULL, MOMENT_MEASURES, NM, res), SIMREP_OK);
    for (int i = 0; i < NM; i++) {
        CHECK(res[i].resampled && res[i].bootstrap == 12 && res[i].permutations == 10);
        /* Shifted sums about the first block's mean against the Chan
         * update of the moments: round-off only, even at |mean| = 100 sd. */
        CHECK_CLOSE(res[i].ci_low, res[i].similarity, 1e-10);
        CHECK_CLOSE(res[i].ci_high, res[i].similarity, 1e-10);
        CHECK(res[i].se < 1e-10);
        CHECK(res[i].p_value > 0 && res[i].p_value <= 1);
    }
    /* Chance levels: cca_r2 max(p, q) / (n - 1), cka_debiased 0, none for cca. */
    CHECK(res[1].has_chance && fabs(res[1].chance - 5.0 / 699.0) < 1e-15);
    CHECK(res[5].has_chance && res[5].chance == 0);
    CHECK(!res[0].has_chance && !res[6].has_chance);
    /* cka: tr Sxx tr Syy / ((n - 1) |Sxx| |Syy|) from the scatter. */
    double S[81];
    simrep_moments_scatter(m, S, 9);
    double tx = 0, ty = 0, fx = 0, fy = 0;
    for (int a = 0; a < 9; a++)
        for (int b = 0; b < 9; b++) {
            if (a < 5 && b < 5)
                fx += S[a * 9 + b] * S[a * 9 + b];
            if (a >= 5 && b >= 5)
                fy += S[a * 9 + b] * S[a * 9 + b];
        }
    for (int a = 0; a < 9; a++) {
        if (a < 5)
            tx += S[a * 9 + a];
        else
            ty += S[a * 9 + a];
    }
    CHECK_CLOSE(res[4].chance, tx * ty / (699.0 * sqrt(fx) * sqrt(fy)), 1e-12 * res[4].chance);
    /* Every result from moments carries it, resampling or not. */
    simrep_result plain[NM];
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, m, NULL, MOMENT_MEASURES, NM, plain), SIMREP_OK);
    for (int i = 0; i < NM; i++) {
        CHECK(plain[i].has_chance == res[i].has_chance && plain[i].chance == res[i].chance);
        simrep_result_clear(ctx, &plain[i]);
    }
    simrep_stats_free(ctx, s);
    simrep_moments_free(ctx, m);
    free(seen);
    free(x);
    free(y);
    simrep_ctx_free(ctx);
}

/* y a function of nothing shared: re-pairing whole units of identical rows
 * changes nothing, so every null equals the observed value and p = 1. */
static void test_constant_pairing(double scale)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng r = {11};
    const int64_t n = 400, p = 3, q = 3, ur = 4;
    double *x = malloc(sizeof(double) * n * p), *y = malloc(sizeof(double) * n * q);
    make_data(&r, n, p, q, x, y);
    for (int64_t i = 0; i < n * p; i++)
        x[i] *= scale;
    for (int64_t i = 0; i < n * q; i++)
        y[i] /= scale;
    /* every unit of y is the same 4 rows */
    for (int64_t i = ur; i < n; i++)
        memcpy(y + i * q, y + (i % ur) * q, sizeof(double) * q);
    simrep_stats_options o;
    simrep_stats_options_init(&o);
    o.permutations = 20;
    o.unit_rows = ur;
    simrep_stats *s = NULL;
    simrep_moments *m = NULL;
    simrep_stats_new(ctx, p, q, n, &o, &s);
    simrep_moments_new(ctx, p, q, &m);
    CHECK_STATUS(ctx, feed(ctx, s, m, x, y, p, q, 64, NULL), SIMREP_OK);
    simrep_stats_result res[NM];
    CHECK_STATUS(ctx, simrep_stats_compute(ctx, s, m, NULL, MOMENT_MEASURES, NM, res), SIMREP_OK);
    for (int i = 0; i < NM; i++) {
        CHECK_CLOSE(res[i].null_mean, res[i].similarity, 1e-9);
        CHECK(res[i].null_sd < 1e-9);
    }
    simrep_stats_free(ctx, s);
    simrep_moments_free(ctx, m);
    free(x);
    free(y);
    simrep_ctx_free(ctx);
}

static void run_threads(int threads, int64_t block, simrep_stats_result *res)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng r = {3};
    const int64_t n = 1000, p = 6, q = 5;
    double *x = malloc(sizeof(double) * n * p), *y = malloc(sizeof(double) * n * q);
    make_data(&r, n, p, q, x, y);
    simrep_stats_options o;
    simrep_stats_options_init(&o);
    o.bootstrap = 40;
    o.permutations = 30;
    o.seed = 12345;
    o.threads = threads;
    simrep_stats *s = NULL;
    simrep_moments *m = NULL;
    simrep_stats_new(ctx, p, q, n, &o, &s);
    simrep_moments_new(ctx, p, q, &m);
    feed(ctx, s, m, x, y, p, q, block, NULL);
    CHECK_STATUS(ctx, simrep_stats_compute(ctx, s, m, NULL, MOMENT_MEASURES, NM, res), SIMREP_OK);
    simrep_stats_free(ctx, s);
    simrep_moments_free(ctx, m);
    free(x);
    free(y);
    simrep_ctx_free(ctx);
}

static void test_threads(void)
{
    simrep_stats_result a[NM], b[NM];
    run_threads(1, 256, a);
    run_threads(3, 256, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* A bucket's sums do not depend on how the rows were blocked, up to
     * the order of additions: 1e-12, not bit for bit. */
    run_threads(2, 96, b);
    for (int i = 0; i < NM; i++) {
        CHECK_CLOSE(a[i].ci_low, b[i].ci_low, 1e-10);
        CHECK_CLOSE(a[i].se, b[i].se, 1e-10);
        CHECK(a[i].se > 0 && a[i].ci_low < a[i].ci_high);
    }
}

static void test_errors(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_stats_options o;
    simrep_stats *s = NULL;
    simrep_stats_options_init(&o);
    o.ci = 1.0;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 3, 3, 100, &o, &s), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "ci") != NULL && s == NULL);
    simrep_stats_options_init(&o);
    o.bootstrap = -1;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 3, 3, 100, &o, &s), SIMREP_E_INVALID);
    simrep_stats_options_init(&o);
    o.unit_rows = 101;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 3, 3, 100, &o, &s), SIMREP_E_INVALID);
    simrep_stats_options_init(&o);
    o.segments = 1;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 3, 3, 100, &o, &s), SIMREP_E_INVALID);
    simrep_stats_options_init(&o);
    o.interval = (simrep_interval)7;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 3, 3, 100, &o, &s), SIMREP_E_INVALID);
    /* Too few units for 8 segments of 2. */
    simrep_stats_options_init(&o);
    o.permutations = 10;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 3, 3, 15, &o, &s), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "units") != NULL);
    /* Memory: 16 buckets of (p+q)^2 doubles do not fit in 1 MiB. */
    simrep_stats_options_init(&o);
    o.bootstrap = 10;
    o.max_memory = 1024 * 1024;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 100, 100, 10000, &o, &s), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "MiB") != NULL);
    /* Fewer buckets to fit: 2 MiB holds 16 buckets of 50 + 50 features. */
    o.max_memory = 2.0 * 1024 * 1024;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 50, 50, 10000, &o, &s), SIMREP_OK);
    simrep_stats_info info;
    simrep_stats_get_info(s, &info);
    CHECK(info.buckets >= 16 && info.buckets < 128 && info.memory <= o.max_memory);
    /* Rows other than those asked for; compute before every row; NaN. */
    double xs[40 * 50] = {0}, ys[40 * 50] = {0};
    simrep_matrix mx = simrep_matrix_c(xs, SIMREP_F64, 40, 50), my = simrep_matrix_c(ys, SIMREP_F64, 40, 50);
    CHECK_STATUS(ctx, simrep_stats_update(ctx, s, &mx, &my), SIMREP_E_INVALID);
    int64_t r0, rows;
    CHECK(simrep_stats_next(s, 40, &r0, &rows) == 1 && r0 == 0 && rows == 40);
    xs[3 * 50 + 7] = NAN;
    CHECK_STATUS(ctx, simrep_stats_update(ctx, s, &mx, &my), SIMREP_E_NONFINITE);
    CHECK(strstr(simrep_ctx_message(ctx), "x: NaN at row 3, column 7") != NULL);
    simrep_moments *m = NULL;
    simrep_moments_new(ctx, 50, 50, &m);
    simrep_stats_result res[1];
    const simrep_measure cca = SIMREP_CCA;
    CHECK_STATUS(ctx, simrep_stats_compute(ctx, s, m, NULL, &cca, 1, res), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "of the 10000 rows") != NULL);
    simrep_moments_free(ctx, m);
    simrep_stats_free(ctx, s);
    simrep_stats_free(ctx, NULL);
    simrep_ctx_free(ctx);
}

/* Two groups {0, 1, 2} and {3, 4}: within pairs (0,1) 1, (0,2) 2, (1,2) 3,
 * (3,4) 4; every between pair 10.  Within mean 2.5, between 10. */
static void test_groups(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    double d[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++)
            d[i * 5 + j] = i == j ? 0 : ((i < 3) != (j < 3)) ? 10 : 0;
    d[1] = d[5] = 1;
    d[2] = d[10] = 2;
    d[7] = d[11] = 3;
    d[19] = d[23] = 4;
    const int labels[5] = {0, 0, 0, 1, 1};
    simrep_group_test t[2];
    double wci[4], bci[8];
    CHECK_STATUS(ctx, simrep_group_tests(ctx, 5, d, 5, labels, 2, 200, 100, 0.9, 1, t, wci, bci), SIMREP_OK);
    CHECK(t[0].a == 0 && t[0].b == 1 && t[1].a == -1);
    CHECK_CLOSE(t[0].within, 2.5, 1e-15);
    CHECK_CLOSE(t[0].between, 10, 1e-15);
    CHECK_CLOSE(t[0].statistic, 7.5, 1e-15);
    /* 10 labelings of 5 inputs into 3 + 2; only the observed one (of 10)
     * reaches 7.5: p -> about 1/10 with 200 draws. */
    CHECK(t[0].permutations == 200 && t[0].p_value > 0.05 && t[0].p_value < 0.16);
    CHECK(t[1].statistic == t[0].statistic && t[1].p_value > 0.05 && t[1].p_value < 0.16);
    /* Between pairs are all 10: every resample's between mean is 10. */
    CHECK(bci[2] == 10 && bci[3] == 10);
    CHECK(wci[0] >= 1 && wci[1] <= 3 && wci[2] == 4 && wci[3] == 4);
    int bad[5] = {0, 0, 2, 1, 1};
    CHECK_STATUS(ctx, simrep_group_tests(ctx, 5, d, 5, bad, 2, 10, 0, 0.9, 1, t, NULL, NULL), SIMREP_E_INVALID);
    simrep_ctx_free(ctx);
}

void suite_stats(void)
{
    test_one_bucket(1.0);
    test_one_bucket(1e40);
    test_constant_pairing(1.0);
    test_constant_pairing(1e40);
    test_threads();
    test_errors();
    test_groups();
}
