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

static void run_threads(int threads, int64_t block, int blas, simrep_stats_result *res)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    const int blas_was = simrep_blas_threads();
    simrep_set_blas_threads(blas); /* the pass's bucket updates run on the BLAS threads (stats.c fold_buckets) */
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
    simrep_set_blas_threads(blas_was);
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
    run_threads(1, 256, 1, a);
    run_threads(3, 256, 1, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    run_threads(1, 256, 2, b); /* buckets folded side by side: the same bits */
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* A bucket's sums do not depend on how the rows were blocked, up to
     * the order of additions: 1e-12, not bit for bit. */
    run_threads(2, 96, 1, b);
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
    /* One resample: no standard error. */
    o.bootstrap = 1;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 3, 3, 100, &o, &s), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "from 2") != NULL && s == NULL);
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
    /* Memory: 16 buckets of (p+q)(p+q+1)/2 doubles do not fit in 1 MiB. */
    simrep_stats_options_init(&o);
    o.bootstrap = 10;
    o.max_memory = 1024 * 1024;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 100, 100, 10000, &o, &s), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "MiB") != NULL);
    simrep_error_info e;
    simrep_ctx_error(ctx, &e); /* the option at fault, for callers that name their own flag */
    CHECK(strcmp(e.option, "max_memory") == 0);
    CHECK_STATUS(ctx, simrep_stats_new(ctx, 0, 100, 10000, &o, &s), SIMREP_E_INVALID);
    simrep_ctx_error(ctx, &e);
    CHECK(strcmp(e.option, "") == 0);
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

/* Feed only the rows of one share (simrep_stats_set_share). */
static simrep_stats *share_state(simrep_ctx *ctx, const simrep_stats_options *o, const double *x, const double *y,
                                 int64_t n, int64_t p, int64_t q, int64_t part, int64_t parts, int64_t block,
                                 unsigned char *seen)
{
    simrep_stats *s = NULL;
    simrep_moments *m = NULL;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, p, q, n, o, &s), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_stats_set_share(ctx, s, part, parts), SIMREP_OK);
    simrep_moments_new(ctx, p, q, &m);
    CHECK_STATUS(ctx, feed(ctx, s, m, x, y, p, q, block, seen), SIMREP_OK);
    simrep_moments_free(ctx, m);
    return s;
}

/* Parts read their shares about their own origins (x far from 0 and
 * scaled: the merge must move the sums exactly); merged in a tree they give
 * one state's numbers to round-off, whatever the number of parts and the
 * order of the merges. */
static void test_shares_merge(double scale)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng r = {21};
    const int64_t n = 903, p = 5, q = 4;
    double *x = malloc(sizeof(double) * n * p), *y = malloc(sizeof(double) * n * q);
    make_data(&r, n, p, q, x, y);
    for (int64_t i = 0; i < n * p; i++)
        x[i] *= scale;
    simrep_stats_options o;
    simrep_stats_options_init(&o);
    o.bootstrap = 30;
    o.buckets = 40; /* random groups: units hashed to buckets across parts */
    o.permutations = 25;
    o.segments = 5;
    o.unit_rows = 2; /* 451 whole units and a short one */
    o.seed = 99;
    simrep_stats *one = NULL;
    simrep_moments *m = NULL;
    simrep_stats_new(ctx, p, q, n, &o, &one);
    simrep_moments_new(ctx, p, q, &m);
    CHECK_STATUS(ctx, feed(ctx, one, m, x, y, p, q, 64, NULL), SIMREP_OK);
    simrep_stats_result want[NM], got[NM];
    CHECK_STATUS(ctx, simrep_stats_compute(ctx, one, m, NULL, MOMENT_MEASURES, NM, want), SIMREP_OK);
    for (int parts = 2; parts <= 7; parts += 5) {
        simrep_stats *s[7];
        unsigned char *seen = calloc((size_t)n, 1);
        for (int k = 0; k < parts; k++)
            s[k] = share_state(ctx, &o, x, y, n, p, q, k, parts, 50, seen);
        int once = 1;
        for (int64_t i = 0; i < n; i++)
            once &= seen[i] == 1;
        CHECK(once);
        /* A binomial tree: k + 2^b into k. */
        const int64_t len = simrep_stats_state_len(s[0]);
        double *buf = malloc(sizeof(double) * (size_t)len);
        for (int b = 1; b < parts; b *= 2)
            for (int k = 0; k + b < parts; k += 2 * b) {
                simrep_stats_save(s[k + b], buf);
                CHECK_STATUS(ctx, simrep_stats_merge(ctx, s[k], buf), SIMREP_OK);
            }
        /* More rows than n: refused. */
        simrep_stats_save(s[1], buf);
        CHECK_STATUS(ctx, simrep_stats_merge(ctx, s[0], buf), SIMREP_E_INVALID);
        CHECK(strstr(simrep_ctx_message(ctx), "more than") != NULL);
        simrep_moments *mm = NULL;
        simrep_moments_new(ctx, p, q, &mm);
        CHECK_STATUS(ctx, simrep_stats_moments(ctx, s[0], mm), SIMREP_OK);
        CHECK_STATUS(ctx, simrep_stats_compute(ctx, s[0], mm, NULL, MOMENT_MEASURES, NM, got), SIMREP_OK);
        for (int i = 0; i < NM; i++) {
            CHECK_CLOSE(got[i].similarity, want[i].similarity, 1e-9);
            CHECK_CLOSE(got[i].ci_low, want[i].ci_low, 1e-9);
            CHECK_CLOSE(got[i].ci_high, want[i].ci_high, 1e-9);
            CHECK_CLOSE(got[i].se, want[i].se, 1e-9);
            CHECK_CLOSE(got[i].null_mean, want[i].null_mean, 1e-9);
            CHECK_CLOSE(got[i].null_sd, want[i].null_sd, 1e-9);
            CHECK(got[i].p_value == want[i].p_value && got[i].bootstrap == 30 && got[i].permutations == 25);
        }
        simrep_moments_free(ctx, mm);
        for (int k = 0; k < parts; k++)
            simrep_stats_free(ctx, s[k]);
        free(buf);
        free(seen);
    }
    /* States of other statistics are refused, naming the difference. */
    simrep_stats_options o2 = o;
    o2.seed = 100;
    simrep_stats *other = NULL;
    simrep_stats_new(ctx, p, q, n, &o2, &other);
    double *buf = malloc(sizeof(double) * (size_t)simrep_stats_state_len(other));
    simrep_stats_save(other, buf);
    CHECK_STATUS(ctx, simrep_stats_merge(ctx, one, buf), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "seed") != NULL);
    buf[0] = 1;
    CHECK_STATUS(ctx, simrep_stats_merge(ctx, one, buf), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_stats_set_share(ctx, other, 3, 3), SIMREP_E_INVALID);
    int64_t r0, rows;
    simrep_stats_next(other, 64, &r0, &rows);
    CHECK_STATUS(ctx, simrep_stats_set_share(ctx, other, 0, 2), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "before") != NULL);
    free(buf);
    simrep_stats_free(ctx, other);
    simrep_stats_free(ctx, one);
    simrep_moments_free(ctx, m);
    free(x);
    free(y);
    simrep_ctx_free(ctx);
}

/* Units of different sizes: reads hold whole units, every row once (also
 * for a unit longer than a block); one bucket gives the data in every
 * resample; evenly spaced offsets are units of one size; permutations of
 * uneven units and bad offsets are refused. */
static void test_uneven_units(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng r = {5};
    const int64_t p = 4, q = 3, units = 60;
    int64_t starts[61];
    starts[0] = 0;
    for (int64_t u = 0; u < units; u++)
        starts[u + 1] = starts[u] + 1 + (u * 7) % 11 + (u == 17 ? 90 : 0);
    const int64_t n = starts[units];
    double *x = malloc(sizeof(double) * n * p), *y = malloc(sizeof(double) * n * q);
    make_data(&r, n, p, q, x, y);
    simrep_stats_options o;
    simrep_stats_options_init(&o);
    o.bootstrap = 8;
    o.buckets = 1;
    o.unit_starts = starts;
    o.units = units;
    simrep_stats *s = NULL;
    simrep_moments *m = NULL;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, p, q, n, &o, &s), SIMREP_OK);
    simrep_moments_new(ctx, p, q, &m);
    unsigned char *seen = calloc((size_t)n, 1);
    int64_t r0, rows, whole = 1, u = 0, big = 0;
    while (simrep_stats_next(s, 40, &r0, &rows)) {
        /* whole units: r0 and r0 + rows are offsets */
        while (u < units && starts[u] < r0)
            u++;
        whole &= starts[u] == r0;
        int64_t e = u;
        while (e < units && starts[e] < r0 + rows)
            e++;
        whole &= starts[e] == r0 + rows;
        big |= rows > 40;
        for (int64_t i = r0; i < r0 + rows; i++)
            seen[i]++;
        simrep_matrix mx = simrep_matrix_c(x + r0 * p, SIMREP_F64, rows, p);
        simrep_matrix my = simrep_matrix_c(y + r0 * q, SIMREP_F64, rows, q);
        simrep_moments_update(ctx, m, &mx, &my);
        CHECK_STATUS(ctx, simrep_stats_update(ctx, s, &mx, &my), SIMREP_OK);
    }
    int once = 1;
    for (int64_t i = 0; i < n; i++)
        once &= seen[i] == 1;
    CHECK(once && whole && big);
    simrep_stats_info info;
    simrep_stats_get_info(s, &info);
    CHECK(info.units == units && info.unit_rows == 0 && info.min_unit_rows == 1 && info.max_unit_rows > 90);
    simrep_stats_result res[NM];
    CHECK_STATUS(ctx, simrep_stats_compute(ctx, s, m, NULL, MOMENT_MEASURES, NM, res), SIMREP_OK);
    for (int i = 0; i < NM; i++) {
        CHECK_CLOSE(res[i].ci_low, res[i].similarity, 1e-10);
        CHECK_CLOSE(res[i].ci_high, res[i].similarity, 1e-10);
    }
    simrep_stats_free(ctx, s);
    /* Permutations: refused for uneven units, fine for even ones. */
    o.permutations = 5;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, p, q, n, &o, &s), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "one size") != NULL && s == NULL);
    simrep_error_info e;
    simrep_ctx_error(ctx, &e);
    CHECK(strcmp(e.option, "unit_starts") == 0);
    int64_t even[41];
    for (int64_t k = 0; k <= 40; k++)
        even[k] = 3 * k;
    o.unit_starts = even;
    o.units = 40;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, p, q, 120, &o, &s), SIMREP_OK);
    simrep_stats_get_info(s, &info);
    CHECK(info.unit_rows == 3 && info.units == 40 && info.segments == 8);
    simrep_stats_free(ctx, s);
    even[7] = even[6];
    CHECK_STATUS(ctx, simrep_stats_new(ctx, p, q, 120, &o, &s), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "increase") != NULL);
    even[7] = 21;
    CHECK_STATUS(ctx, simrep_stats_new(ctx, p, q, 121, &o, &s), SIMREP_E_INVALID);
    simrep_moments_free(ctx, m);
    free(seen);
    free(x);
    free(y);
    simrep_ctx_free(ctx);
}

/* A curve of three steps: step 2 is step 0's data again, step 1 other
 * data.  Every step equals its own simrep_stats_compute, steps 0 and 2 are
 * identical, and the mean's interval comes from the mean of each
 * resample: with identical steps 0 = 1 = 2 it is theirs. */
static void test_steps(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    const int64_t n = 500, p = 4, q = 3, T = 3;
    double *x[3], *y[3];
    for (int t = 0; t < 2; t++) {
        test_rng r = {(uint64_t)(40 + t)};
        x[t] = malloc(sizeof(double) * n * p);
        y[t] = malloc(sizeof(double) * n * q);
        make_data(&r, n, p, q, x[t], y[t]);
    }
    x[2] = x[0];
    y[2] = y[0];
    simrep_stats_options o;
    simrep_stats_options_init(&o);
    o.bootstrap = 20;
    o.permutations = 15;
    o.seed = 4;
    o.threads = 2;
    simrep_stats *s[3];
    simrep_moments *m[3];
    simrep_stats_result alone[3][NM], per[3 * NM], mean[NM];
    for (int t = 0; t < T; t++) {
        simrep_stats_new(ctx, p, q, n, &o, &s[t]);
        simrep_moments_new(ctx, p, q, &m[t]);
        CHECK_STATUS(ctx, feed(ctx, s[t], m[t], x[t], y[t], p, q, 100, NULL), SIMREP_OK);
        CHECK_STATUS(ctx, simrep_stats_compute(ctx, s[t], m[t], NULL, MOMENT_MEASURES, NM, alone[t]), SIMREP_OK);
    }
    CHECK_STATUS(ctx, simrep_stats_compute_steps(ctx, s, (const simrep_moments *const *)m, T, NULL, MOMENT_MEASURES,
                                                 NM, per, mean),
                 SIMREP_OK);
    CHECK(memcmp(per, alone, sizeof per) == 0);
    CHECK(memcmp(&per[0], &per[2 * NM], NM * sizeof per[0]) == 0);
    for (int i = 0; i < NM; i++) {
        CHECK(mean[i].resampled && mean[i].bootstrap == 20 && mean[i].permutations == 15);
        CHECK_CLOSE(mean[i].similarity, (2 * per[i].similarity + per[NM + i].similarity) / 3, 1e-15);
        /* the mean of per-resample means is the mean of the steps' means */
        CHECK_CLOSE(mean[i].boot_mean, (2 * per[i].boot_mean + per[NM + i].boot_mean) / 3, 1e-12);
        CHECK_CLOSE(mean[i].null_mean, (2 * per[i].null_mean + per[NM + i].null_mean) / 3, 1e-12);
        CHECK(mean[i].ci_low <= mean[i].ci_high && mean[i].se > 0);
        CHECK(mean[i].has_chance == (per[i].has_chance && per[NM + i].has_chance));
    }
    /* States of different plans are refused. */
    simrep_stats_options o2 = o;
    o2.seed = 5;
    simrep_stats *bad[2] = {s[0], NULL};
    simrep_stats_new(ctx, p, q, n, &o2, &bad[1]);
    CHECK_STATUS(ctx, simrep_stats_compute_steps(ctx, bad, (const simrep_moments *const *)m, 2, NULL,
                                                 MOMENT_MEASURES, NM, per, mean),
                 SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "differ") != NULL);
    simrep_stats_free(ctx, bad[1]);
    for (int t = 0; t < T; t++) {
        simrep_stats_free(ctx, s[t]);
        simrep_moments_free(ctx, m[t]);
    }
    for (int t = 0; t < 2; t++) {
        free(x[t]);
        free(y[t]);
    }
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

/* What the options alone say: too few resamples for the level (numpy's
 * linear quantile needs (B - 1) (1 - ci) / 2 >= 1 to leave the two most
 * extreme resamples of each tail), too few permutations for p < 0.05. */
static void test_option_warnings(void)
{
    static const struct {
        int64_t bootstrap, permutations;
        double ci;
        unsigned want;
    } cases[] = {
        {0, 0, 0.95, 0},
        {40, 0, 0.95, SIMREP_STATS_WARN_FEW_RESAMPLES},
        {41, 0, 0.95, 0},
        {2, 0, 0.95, SIMREP_STATS_WARN_FEW_RESAMPLES},
        {20, 0, 0.9, SIMREP_STATS_WARN_FEW_RESAMPLES},
        {21, 0, 0.9, 0},
        {200, 0, 0.999, SIMREP_STATS_WARN_FEW_RESAMPLES}, /* 0.999 needs 2,001 */
        {2001, 0, 0.999, 0},
        {0, 18, 0.95, SIMREP_STATS_WARN_FEW_PERMUTATIONS},
        {0, 19, 0.95, 0},
        {0, 1, 0.95, SIMREP_STATS_WARN_FEW_PERMUTATIONS},
        {5, 5, 0.95, SIMREP_STATS_WARN_FEW_RESAMPLES | SIMREP_STATS_WARN_FEW_PERMUTATIONS},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        simrep_stats_options o;
        simrep_stats_options_init(&o);
        o.bootstrap = cases[k].bootstrap;
        o.permutations = cases[k].permutations;
        o.ci = cases[k].ci;
        CHECK(simrep_stats_options_warnings(&o) == cases[k].want);
    }
    CHECK(simrep_stats_options_warnings(NULL) == 0);
    simrep_stats_options o;
    simrep_stats_options_init(&o);
    o.bootstrap = 40;
    o.permutations = 9;
    char buf[512];
    int len = simrep_stats_warning_text(SIMREP_STATS_WARN_FEW_RESAMPLES, &o, buf, sizeof buf);
    CHECK(len == (int)strlen(buf) && strstr(buf, "40 resamples") && strstr(buf, "95% interval") &&
          strstr(buf, "at least 41"));
    len = simrep_stats_warning_text(SIMREP_STATS_WARN_FEW_PERMUTATIONS, &o, buf, sizeof buf);
    CHECK(len == (int)strlen(buf) && strstr(buf, "1/10 = 0.100") && strstr(buf, "at least 19"));
    /* Short buffers are cut and terminated; no buffer, no flag: nothing. */
    len = simrep_stats_warning_text(SIMREP_STATS_WARN_FEW_PERMUTATIONS, &o, buf, 8);
    CHECK(len == 7 && strlen(buf) == 7);
    CHECK(simrep_stats_warning_text(SIMREP_STATS_WARN_FEW_PERMUTATIONS, &o, NULL, 0) == 0);
    CHECK(simrep_stats_warning_text(0, &o, buf, sizeof buf) == 0 && buf[0] == 0);
    CHECK(simrep_stats_warning_text(SIMREP_STATS_WARN_FEW_RESAMPLES, NULL, buf, sizeof buf) == 0 && buf[0] == 0);
}

void suite_stats(void)
{
    test_option_warnings();
    test_one_bucket(1.0);
    test_one_bucket(1e40);
    test_constant_pairing(1.0);
    test_constant_pairing(1e40);
    test_threads();
    test_shares_merge(1.0);
    test_shares_merge(1e30);
    test_uneven_units();
    test_steps();
    test_errors();
    test_groups();
}
