/*
 * test_moments.c: the streaming moments engine against a two-pass
 * computation (long double accumulation of centered data), across block
 * splits, merges, layouts and dtypes, and its error behaviour.
 *
 * Tolerances: the engine accumulates in double, so agreement with the
 * long-double two-pass reference is limited by double round-off of sums of
 * n terms: 1e-12 relative is the target of docs/measures.md ("The
 * moments") and holds with margin for n <= 1e4 (errors grow like sqrt(n)
 * eps).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "simrep.h"
#include "test_util.h"

/* Two-pass reference scatter of the joint [x y] (n x d row-major). */
static void two_pass(const double *z, int64_t n, int64_t d, double *mean, double *scat)
{
    for (int64_t j = 0; j < d; j++) {
        long double s = 0;
        for (int64_t i = 0; i < n; i++)
            s += z[i * d + j];
        mean[j] = (double)(s / n);
    }
    for (int64_t a = 0; a < d; a++)
        for (int64_t b = 0; b < d; b++) {
            long double s = 0;
            for (int64_t i = 0; i < n; i++)
                s += ((long double)z[i * d + a] - mean[a]) * ((long double)z[i * d + b] - mean[b]);
            scat[a + b * d] = (double)s;
        }
}

static double max_rel_diff(const double *a, const double *b, int64_t len)
{
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < len; i++) {
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
        diff = fabs(a[i] - b[i]) > diff ? fabs(a[i] - b[i]) : diff;
    }
    return scale > 0 ? diff / scale : diff;
}

static void test_two_pass_large_mean(void)
{
    /* |mean| = 1e3 x std: the case where sum(z zᵀ) - n mu muᵀ fails. */
    const int64_t n = 3001, p = 5, q = 4, d = p + q;
    double *x = malloc(sizeof(double) * n * p), *y = malloc(sizeof(double) * n * q), *z = malloc(sizeof(double) * n * d);
    test_rng rng = {12345};
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < p; j++)
            x[i * p + j] = 1e3 * (j + 1) + test_normal(&rng);
        for (int64_t j = 0; j < q; j++)
            y[i * q + j] = -1e3 + 0.5 * x[i * p + j % p] + test_normal(&rng);
        memcpy(z + i * d, x + i * p, sizeof(double) * p);
        memcpy(z + i * d + p, y + i * q, sizeof(double) * q);
    }
    double mean[9], ref[81], got[81], gmx[5], gmy[4];
    two_pass(z, n, d, mean, ref);
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    /* Uneven blocks: 1, 7, 1000, rest. */
    int64_t cuts[] = {0, 1, 8, 1008, n};
    simrep_moments *m = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, p, q, &m), SIMREP_OK);
    for (int c = 0; c < 4; c++) {
        simrep_matrix vx = simrep_matrix_c(x + cuts[c] * p, SIMREP_F64, cuts[c + 1] - cuts[c], p);
        simrep_matrix vy = simrep_matrix_c(y + cuts[c] * q, SIMREP_F64, cuts[c + 1] - cuts[c], q);
        CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &vx, &vy), SIMREP_OK);
    }
    CHECK(simrep_moments_n(m) == n);
    simrep_moments_scatter(m, got, d);
    simrep_moments_means(m, gmx, gmy);
    CHECK(max_rel_diff(got, ref, d * d) < 1e-12);
    CHECK(max_rel_diff(gmx, mean, p) < 1e-14);
    CHECK(max_rel_diff(gmy, mean + p, q) < 1e-14);

    /* Merge of three partial moments equals the one-shot moments. */
    simrep_moments *parts[3] = {NULL, NULL, NULL};
    int64_t pc[] = {0, 500, 517, n};
    for (int c = 0; c < 3; c++) {
        CHECK_STATUS(ctx, simrep_moments_new(ctx, p, q, &parts[c]), SIMREP_OK);
        simrep_matrix vx = simrep_matrix_c(x + pc[c] * p, SIMREP_F64, pc[c + 1] - pc[c], p);
        simrep_matrix vy = simrep_matrix_c(y + pc[c] * q, SIMREP_F64, pc[c + 1] - pc[c], q);
        CHECK_STATUS(ctx, simrep_moments_update(ctx, parts[c], &vx, &vy), SIMREP_OK);
    }
    CHECK_STATUS(ctx, simrep_moments_merge(ctx, parts[2], parts[0]), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_merge(ctx, parts[2], parts[1]), SIMREP_OK);
    CHECK(simrep_moments_n(parts[2]) == n);
    simrep_moments_scatter(parts[2], got, d);
    CHECK(max_rel_diff(got, ref, d * d) < 1e-12);

    /* Every linear measure agrees between merged and one-shot moments,
     * including cka_debiased whose row sums were shifted by the merges. */
    simrep_measure ms[] = {SIMREP_CCA, SIMREP_PWCCA, SIMREP_CKA, SIMREP_CKA_DEBIASED, SIMREP_PROCRUSTES};
    simrep_result r1[5], r2[5];
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, m, NULL, ms, 5, r1), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, parts[2], NULL, ms, 5, r2), SIMREP_OK);
    for (int i = 0; i < 5; i++) {
        CHECK_CLOSE(r1[i].similarity, r2[i].similarity, 1e-10);
        simrep_result_clear(ctx, &r1[i]);
        simrep_result_clear(ctx, &r2[i]);
    }

    /* Save / load / clone round trips. */
    int64_t ss = simrep_moments_state_size(p, q);
    double *state = malloc(sizeof(double) * ss);
    simrep_moments_save(m, state);
    simrep_moments *loaded = NULL, *cloned = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, p, q, &loaded), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_load(ctx, loaded, state), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_clone(ctx, m, &cloned), SIMREP_OK);
    double *s2 = malloc(sizeof(double) * ss), *s3 = malloc(sizeof(double) * ss);
    simrep_moments_save(loaded, s2);
    simrep_moments_save(cloned, s3);
    CHECK(memcmp(state, s2, sizeof(double) * ss) == 0);
    CHECK(memcmp(state, s3, sizeof(double) * ss) == 0);
    state[0] = p + 1;
    CHECK_STATUS(ctx, simrep_moments_load(ctx, loaded, state), SIMREP_E_INVALID);
    /* A size whose state cannot exist is 0, not an overflow. */
    CHECK(simrep_moments_state_size(1000000000000LL, 4) == 0);
    CHECK(simrep_moments_state_size(INT64_MAX, INT64_MAX) == 0);

    for (int c = 0; c < 3; c++)
        simrep_moments_free(ctx, parts[c]);
    simrep_moments_free(ctx, m);
    simrep_moments_free(ctx, loaded);
    simrep_moments_free(ctx, cloned);
    simrep_moments_free(ctx, NULL);
    simrep_ctx_free(ctx);
    free(state);
    free(s2);
    free(s3);
    free(x);
    free(y);
    free(z);
}

/* The same data as C order, Fortran order, a strided view and float32 give
 * the same moments. */
static void test_layouts(void)
{
    const int64_t n = 700, p = 6, q = 3, d = p + q;
    test_rng rng = {99};
    double *xc = malloc(sizeof(double) * n * p), *xf = malloc(sizeof(double) * n * p);
    double *xs = malloc(sizeof(double) * n * p * 2), *y = malloc(sizeof(double) * n * q);
    float *x32 = malloc(sizeof(float) * n * p);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < p; j++) {
            float v = (float)(test_normal(&rng) + j);
            xc[i * p + j] = v;
            xf[i + j * n] = v;
            xs[2 * (i * p + j)] = v;
            x32[i * p + j] = v;
        }
        for (int64_t j = 0; j < q; j++)
            y[i * q + j] = test_normal(&rng);
    }
    simrep_matrix views[4] = {
        simrep_matrix_c(xc, SIMREP_F64, n, p),
        {xf, SIMREP_F64, n, p, 1, n},
        {xs, SIMREP_F64, n, p, 2 * p, 2},
        simrep_matrix_c(x32, SIMREP_F32, n, p),
    };
    simrep_matrix vy = simrep_matrix_c(y, SIMREP_F64, n, q);
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    double ref[81], got[81];
    for (int v = 0; v < 4; v++) {
        simrep_moments *m = NULL;
        CHECK_STATUS(ctx, simrep_moments_new(ctx, p, q, &m), SIMREP_OK);
        CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &views[v], &vy), SIMREP_OK);
        simrep_moments_scatter(m, v == 0 ? ref : got, d);
        if (v > 0)
            CHECK(max_rel_diff(got, ref, d * d) < 1e-14);
        simrep_moments_free(ctx, m);
    }
    simrep_ctx_free(ctx);
    free(xc);
    free(xf);
    free(xs);
    free(y);
    free(x32);
}

static void test_errors(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_moments *m = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, 0, 3, &m), SIMREP_E_INVALID);
    CHECK(m == NULL);
    CHECK_STATUS(ctx, simrep_moments_new(ctx, 2, 2, &m), SIMREP_OK);
    double x[6] = {1, 2, 3, 4, 5, 6}, y[6] = {1, 0, 0, 1, 1, 1};
    simrep_matrix vx = simrep_matrix_c(x, SIMREP_F64, 3, 2), vy = simrep_matrix_c(y, SIMREP_F64, 3, 2);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &vx, &vy), SIMREP_OK);
    /* NaN in y, second update: row counted from the first row ever seen. */
    double y2[4] = {0, 1, 2, NAN}, x2[4] = {1, 1, 2, 2};
    simrep_matrix vx2 = simrep_matrix_c(x2, SIMREP_F64, 2, 2), vy2 = simrep_matrix_c(y2, SIMREP_F64, 2, 2);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &vx2, &vy2), SIMREP_E_NONFINITE);
    CHECK(strstr(simrep_ctx_message(ctx), "y: NaN at row 4, column 1") != NULL);
    CHECK(simrep_moments_n(m) == 3); /* unchanged by the failed update */
    x2[0] = INFINITY;
    y2[3] = 0;
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &vx2, &vy2), SIMREP_E_NONFINITE);
    CHECK(strstr(simrep_ctx_message(ctx), "x: Inf at row 3, column 0") != NULL);
    /* Mismatched rows and feature counts. */
    simrep_matrix short_y = simrep_matrix_c(y, SIMREP_F64, 2, 2);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &vx, &short_y), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "x has 3 rows but y has 2") != NULL);
    simrep_matrix wide = simrep_matrix_c(x, SIMREP_F64, 2, 3);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &wide, &short_y), SIMREP_E_SHAPE);
    simrep_moments *other = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, 3, 2, &other), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_merge(ctx, m, other), SIMREP_E_SHAPE);
    /* Zero rows is a no-op; merging an empty moments too. */
    simrep_matrix none_x = simrep_matrix_c(x, SIMREP_F64, 0, 2), none_y = simrep_matrix_c(y, SIMREP_F64, 0, 2);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &none_x, &none_y), SIMREP_OK);
    CHECK(simrep_moments_n(m) == 3);
    simrep_moments_free(ctx, other);
    simrep_moments_free(ctx, m);
    simrep_ctx_free(ctx);
}

/* K = 3 inputs: every pair from one joint pass equals the two-input
 * compare of that pair, merges and save/load keep it, and errors name the
 * input. */
static void test_multi(void)
{
    const int64_t n = 900, f[3] = {5, 3, 4};
    const int64_t d = f[0] + f[1] + f[2];
    test_rng rng = {4242};
    double *z[3];
    for (int k = 0; k < 3; k++)
        z[k] = malloc(sizeof(double) * n * f[k]);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < f[0]; j++)
            z[0][i * f[0] + j] = 50.0 + test_normal(&rng) * (1 + j);
        for (int k = 1; k < 3; k++)
            for (int64_t j = 0; j < f[k]; j++)
                z[k][i * f[k] + j] = -20.0 * k + z[0][i * f[0] + (j + k) % f[0]] + test_normal(&rng);
    }
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_moments *m = NULL, *part[2] = {NULL, NULL};
    CHECK_STATUS(ctx, simrep_moments_new_multi(ctx, 3, f, &m), SIMREP_OK);
    CHECK(simrep_moments_inputs(m) == 3 && simrep_moments_features(m, 2) == 4);
    simrep_matrix b[3];
    for (int k = 0; k < 3; k++)
        b[k] = simrep_matrix_c(z[k], SIMREP_F64, n, f[k]);
    CHECK_STATUS(ctx, simrep_moments_update_multi(ctx, m, b), SIMREP_OK);
    /* The same rows in two uneven parts, merged. */
    int64_t cut = 333;
    for (int h = 0; h < 2; h++) {
        CHECK_STATUS(ctx, simrep_moments_new_multi(ctx, 3, f, &part[h]), SIMREP_OK);
        simrep_matrix pb[3];
        for (int k = 0; k < 3; k++)
            pb[k] = simrep_matrix_c(z[k] + (h ? cut * f[k] : 0), SIMREP_F64, h ? n - cut : cut, f[k]);
        CHECK_STATUS(ctx, simrep_moments_update_multi(ctx, part[h], pb), SIMREP_OK);
    }
    CHECK_STATUS(ctx, simrep_moments_merge(ctx, part[1], part[0]), SIMREP_OK);
    /* Save and load the merged state into a fresh K = 3 moments. */
    simrep_moments *loaded = NULL;
    CHECK_STATUS(ctx, simrep_moments_new_multi(ctx, 3, f, &loaded), SIMREP_OK);
    double *state = malloc(sizeof(double) * simrep_moments_state_len(part[1]));
    simrep_moments_save(part[1], state);
    CHECK_STATUS(ctx, simrep_moments_load(ctx, loaded, state), SIMREP_OK);
    CHECK(simrep_moments_state_len(m) == 2 + 3 * 3 + 9 + d + 3 * d + d * d);

    simrep_measure ms[] = {SIMREP_CCA,        SIMREP_CCA_R2,      SIMREP_SVCCA,
                           SIMREP_PWCCA,      SIMREP_CKA,         SIMREP_CKA_DEBIASED,
                           SIMREP_PROCRUSTES, SIMREP_PROCRUSTES_ANGULAR};
    const int nm = (int)(sizeof ms / sizeof ms[0]);
    simrep_pairs *pp = NULL, *pl = NULL;
    CHECK_STATUS(ctx, simrep_pairs_prepare(ctx, m, NULL, ms, nm, &pp), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_pairs_prepare(ctx, loaded, NULL, ms, nm, &pl), SIMREP_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            if (i == j)
                continue;
            simrep_result rp[8], rl[8], r2[8];
            simrep_matrix x = simrep_matrix_c(z[i], SIMREP_F64, n, f[i]), y = simrep_matrix_c(z[j], SIMREP_F64, n, f[j]);
            CHECK_STATUS(ctx, simrep_pairs_compare(ctx, pp, i, j, ms, nm, rp), SIMREP_OK);
            CHECK_STATUS(ctx, simrep_pairs_compare(ctx, pl, i, j, ms, nm, rl), SIMREP_OK);
            CHECK_STATUS(ctx, simrep_compare(ctx, &x, &y, NULL, ms, nm, r2), SIMREP_OK);
            for (int c = 0; c < nm; c++) {
                /* One joint pass vs a two-input pass: the same arithmetic up
                 * to the order of the DSYRK's sums. */
                CHECK_CLOSE(rp[c].similarity, r2[c].similarity, 1e-11);
                CHECK_CLOSE(rl[c].similarity, r2[c].similarity, 1e-10);
                simrep_result_clear(ctx, &rp[c]);
                simrep_result_clear(ctx, &rl[c]);
                simrep_result_clear(ctx, &r2[c]);
            }
        }
    /* The per-input work split between two "processes": each prepares some
     * inputs, the other's states are sent over as doubles and loaded. */
    {
        const unsigned char mine[3] = {1, 0, 1}, theirs[3] = {0, 1, 0};
        simrep_pairs *a = NULL, *other = NULL;
        CHECK_STATUS(ctx, simrep_pairs_prepare_some(ctx, m, NULL, ms, nm, mine, &a), SIMREP_OK);
        CHECK_STATUS(ctx, simrep_pairs_prepare_some(ctx, m, NULL, ms, nm, theirs, &other), SIMREP_OK);
        simrep_result ra[8], rp[8];
        CHECK_STATUS(ctx, simrep_pairs_compare(ctx, a, 0, 1, ms, nm, ra), SIMREP_E_INVALID);
        CHECK(strstr(simrep_ctx_message(ctx), "input 1 was not prepared here") != NULL);
        const int64_t len = simrep_pairs_input_state_len(other, 1);
        CHECK(len == simrep_pairs_input_state_len(a, 1) && len > 0);
        const int64_t len0 = simrep_pairs_input_state_len(other, 0);
        double *st = malloc(sizeof(double) * (len > len0 ? len : len0));
        simrep_pairs_input_save(other, 1, st);
        CHECK_STATUS(ctx, simrep_pairs_input_load(ctx, a, 1, st), SIMREP_OK);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                if (i == j)
                    continue;
                CHECK_STATUS(ctx, simrep_pairs_compare(ctx, a, i, j, ms, nm, ra), SIMREP_OK);
                CHECK_STATUS(ctx, simrep_pairs_compare(ctx, pp, i, j, ms, nm, rp), SIMREP_OK);
                for (int c = 0; c < nm; c++) {
                    /* The same arithmetic; bit for bit on one BLAS thread (make check),
                     * to round-off on more, where an input decomposed alone uses every
                     * BLAS thread and one decomposed beside others one (tasks.c). */
                    if (simrep_blas_threads() == 1)
                        CHECK(ra[c].similarity == rp[c].similarity);
                    else
                        CHECK_CLOSE(ra[c].similarity, rp[c].similarity, 1e-12);
                    simrep_result_clear(ctx, &ra[c]);
                    simrep_result_clear(ctx, &rp[c]);
                }
            }
        /* An unprepared input's state is refused. */
        simrep_pairs_input_save(other, 0, st);
        CHECK_STATUS(ctx, simrep_pairs_input_load(ctx, a, 0, st), SIMREP_E_INVALID);
        free(st);
        simrep_pairs_free(ctx, a);
        simrep_pairs_free(ctx, other);
    }
    simrep_result r[8];
    CHECK_STATUS(ctx, simrep_pairs_compare(ctx, pp, 1, 1, ms, nm, r), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_pairs_compare(ctx, pp, 0, 3, ms, nm, r), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, m, NULL, ms, nm, r), SIMREP_E_INVALID);
    /* Errors name the input. */
    z[2][7 * f[2] + 1] = NAN;
    CHECK_STATUS(ctx, simrep_moments_update_multi(ctx, m, b), SIMREP_E_NONFINITE);
    CHECK(strstr(simrep_ctx_message(ctx), "input 2: NaN at row 907, column 1") != NULL);
    b[1].rows = n - 1;
    CHECK_STATUS(ctx, simrep_moments_update_multi(ctx, m, b), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "input 0 has 900 rows but input 1 has 899") != NULL);
    const int64_t bad[2] = {3, 0};
    simrep_moments *none = NULL;
    CHECK_STATUS(ctx, simrep_moments_new_multi(ctx, 2, bad, &none), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_moments_new_multi(ctx, 1, f, &none), SIMREP_E_INVALID);
    simrep_pairs_free(ctx, pp);
    simrep_pairs_free(ctx, pl);
    simrep_pairs_free(ctx, NULL);
    simrep_moments_free(ctx, m);
    simrep_moments_free(ctx, part[0]);
    simrep_moments_free(ctx, part[1]);
    simrep_moments_free(ctx, loaded);
    simrep_ctx_free(ctx);
    free(state);
    for (int k = 0; k < 3; k++)
        free(z[k]);
}

/*
 * Issue 10, item 6: a saved state is checked before it is loaded.  Each
 * row corrupts one value of a valid state (offsets in the layout of
 * simrep_moments_save: K, features, n, T, mean, U, scatter, exponents) and
 * names the status; the Moments keeps its own state, and the merge refuses
 * counts beyond 2^53 (62 self-merges wrapped n to 0).
 */
static void test_corrupt_states(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    enum { P = 3, Q = 2, D = P + Q, NR = 20 };
    test_rng g = {5};
    double x[NR * P], y[NR * Q];
    for (int i = 0; i < NR * P; i++)
        x[i] = test_normal(&g);
    for (int i = 0; i < NR * Q; i++)
        y[i] = test_normal(&g) + x[i];
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, NR, P), Y = simrep_matrix_c(y, SIMREP_F64, NR, Q);
    simrep_moments *m = NULL, *into = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, P, Q, &m), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_new(ctx, P, Q, &into), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &X, &Y), SIMREP_OK);
    const int64_t len = simrep_moments_state_len(m);
    double *good = malloc(sizeof(double) * (size_t)len), *bad = malloc(sizeof(double) * (size_t)len);
    double *kept = malloc(sizeof(double) * (size_t)len);
    simrep_moments_save(m, good);
    simrep_moments_save(into, kept); /* empty */
    const int64_t N_AT = 3, T_AT = 4, MEAN = T_AT + 4, U_AT = MEAN + D, S_AT = U_AT + 2 * D, E_AT = S_AT + D * D;
    const struct {
        int64_t at;
        double value;
        simrep_status want;
    } rows[] = {
        {0, 3, SIMREP_E_INVALID},            /* 3 inputs */
        {1, P + 1, SIMREP_E_INVALID},        /* other features */
        {N_AT, -1, SIMREP_E_FORMAT},         /* negative count */
        {N_AT, 2.5, SIMREP_E_FORMAT},        /* not whole */
        {N_AT, 1e17, SIMREP_E_FORMAT},       /* beyond 2^53 */
        {N_AT, NAN, SIMREP_E_FORMAT},
        {T_AT, INFINITY, SIMREP_E_FORMAT},   /* the case: cka = inf */
        {MEAN + 1, NAN, SIMREP_E_FORMAT},
        {U_AT + 3, -INFINITY, SIMREP_E_FORMAT},
        {S_AT + 0, -1, SIMREP_E_FORMAT},     /* a negative variance */
        {S_AT + 1, 1e300, SIMREP_E_FORMAT},  /* asymmetric, and beyond Cauchy-Schwarz */
        {S_AT + D * D - 1, INFINITY, SIMREP_E_FORMAT},
        {E_AT, 0.5, SIMREP_E_FORMAT},        /* exponent not whole */
        {E_AT + 1, 1e6, SIMREP_E_FORMAT},
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        memcpy(bad, good, sizeof(double) * (size_t)len);
        bad[rows[r].at] = rows[r].value;
        CHECK_STATUS(ctx, simrep_moments_load(ctx, into, bad), rows[r].want);
        CHECK(strlen(simrep_ctx_message(ctx)) > 20);
        simrep_moments_save(into, bad);
        CHECK(memcmp(bad, kept, sizeof(double) * (size_t)len) == 0); /* unchanged */
    }
    /* Both triangles forged alike beyond Cauchy-Schwarz. */
    memcpy(bad, good, sizeof(double) * (size_t)len);
    bad[S_AT + 1] = bad[S_AT + D] = 1e300;
    CHECK_STATUS(ctx, simrep_moments_load(ctx, into, bad), SIMREP_E_FORMAT);
    /* An empty state with something in it. */
    memcpy(bad, kept, sizeof(double) * (size_t)len);
    bad[MEAN] = 1;
    CHECK_STATUS(ctx, simrep_moments_load(ctx, into, bad), SIMREP_E_FORMAT);
    CHECK_STATUS(ctx, simrep_moments_load(ctx, into, good), SIMREP_OK);

    /* Self-merges double n: the 49th would pass 2^53 (20 x 2^48 < 2^53 <
     * 20 x 2^49) and is refused, leaving n as it was. */
    int merges = 0;
    simrep_status st = SIMREP_OK;
    while (merges < 62 && (st = simrep_moments_merge(ctx, m, into)) == SIMREP_OK) {
        merges++;
        simrep_moments_free(ctx, into);
        CHECK_STATUS(ctx, simrep_moments_clone(ctx, m, &into), SIMREP_OK);
    }
    CHECK(st == SIMREP_E_INVALID && merges == 48);
    CHECK(simrep_moments_n(m) == ((int64_t)NR << 48));
    free(good);
    free(bad);
    free(kept);
    simrep_moments_free(ctx, m);
    simrep_moments_free(ctx, into);
    simrep_ctx_free(ctx);
}

/* Mixed precision (simrep_moments_set_precision): the scatter of float32
 * data with |mean| = 100 x std within 1e-6 of float64 relative to its
 * largest entry (the centred rows are rounded to float, 2^-24, and summed
 * in float over at most SIMREP_MIXED_ROWS rows), in blocks that cross the
 * sub-block boundary; merge and clone carry the mode; a bad value is
 * refused. */
static void test_mixed(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng rng = {21};
    const int64_t n = 3 * SIMREP_MIXED_ROWS + 17, p = 7, q = 5, d = p + q;
    float *x = malloc(sizeof(float) * n * p), *y = malloc(sizeof(float) * n * q);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < p; j++)
            x[i * p + j] = (float)(100.0 + test_normal(&rng));
        for (int64_t j = 0; j < q; j++)
            y[i * q + j] = (float)(0.5 * x[i * p + j] + test_normal(&rng));
    }
    simrep_moments *a = NULL, *b = NULL, *c = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, p, q, &a), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_new(ctx, p, q, &b), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_set_precision(ctx, b, SIMREP_PRECISION_MIXED), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_set_precision(ctx, b, (simrep_precision)7), SIMREP_E_INVALID);
    const int64_t cut = SIMREP_MIXED_ROWS + 5;
    simrep_matrix vx = simrep_matrix_c(x, SIMREP_F32, cut, p), vy = simrep_matrix_c(y, SIMREP_F32, cut, q);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, a, &vx, &vy), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, b, &vx, &vy), SIMREP_OK);
    vx = simrep_matrix_c(x + cut * p, SIMREP_F32, n - cut, p);
    vy = simrep_matrix_c(y + cut * q, SIMREP_F32, n - cut, q);
    CHECK_STATUS(ctx, simrep_moments_new(ctx, p, q, &c), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_set_precision(ctx, c, SIMREP_PRECISION_MIXED), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, a, &vx, &vy), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, c, &vx, &vy), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_merge(ctx, b, c), SIMREP_OK);
    double *sa = malloc(sizeof(double) * d * d), *sb = malloc(sizeof(double) * d * d);
    simrep_moments_scatter(a, sa, d);
    simrep_moments_scatter(b, sb, d);
    double top = 0, err = 0;
    for (int64_t i = 0; i < d * d; i++) {
        top = fabs(sa[i]) > top ? fabs(sa[i]) : top;
        err = fabs(sa[i] - sb[i]) > err ? fabs(sa[i] - sb[i]) : err;
    }
    CHECK(err <= 1e-6 * top);
    CHECK(err > 0); /* it did take the single-precision path */
    const simrep_measure cka = SIMREP_CKA;
    simrep_result ra, rb;
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, a, NULL, &cka, 1, &ra), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, b, NULL, &cka, 1, &rb), SIMREP_OK);
    CHECK_CLOSE(ra.similarity, rb.similarity, 1e-6);
    simrep_moments_free(ctx, a);
    simrep_moments_free(ctx, b);
    simrep_moments_free(ctx, c);
    simrep_ctx_free(ctx);
    free(x);
    free(y);
    free(sa);
    free(sb);
}

/* An in-memory input of several internal blocks is folded in one pass;
 * a NaN in its last block puts the state back bit for bit and names the
 * row counted from the first row ever seen. */
static void test_multi_block_rollback(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng rng = {23};
    const int64_t n = 20000, p = 2, q = 2; /* 8192 rows per internal block at d = 4 */
    double *x = malloc(sizeof(double) * n * p), *y = malloc(sizeof(double) * n * q);
    for (int64_t i = 0; i < n * p; i++)
        x[i] = test_normal(&rng);
    for (int64_t i = 0; i < n * q; i++)
        y[i] = test_normal(&rng) + x[i];
    simrep_moments *m = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, p, q, &m), SIMREP_OK);
    simrep_matrix vx = simrep_matrix_c(x, SIMREP_F64, 100, p), vy = simrep_matrix_c(y, SIMREP_F64, 100, q);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &vx, &vy), SIMREP_OK);
    const int64_t len = simrep_moments_state_len(m);
    double *before = malloc(sizeof(double) * (size_t)len), *after = malloc(sizeof(double) * (size_t)len);
    simrep_moments_save(m, before);
    y[(n - 5) * q + 1] = NAN;
    vx = simrep_matrix_c(x, SIMREP_F64, n, p);
    vy = simrep_matrix_c(y, SIMREP_F64, n, q);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &vx, &vy), SIMREP_E_NONFINITE);
    CHECK(strstr(simrep_ctx_message(ctx), "y: NaN at row 20095, column 1") != NULL);
    simrep_moments_save(m, after);
    CHECK(memcmp(before, after, sizeof(double) * (size_t)len) == 0);
    y[(n - 5) * q + 1] = 0;
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &vx, &vy), SIMREP_OK);
    CHECK(simrep_moments_n(m) == n + 100);
    simrep_moments_free(ctx, m);
    simrep_ctx_free(ctx);
    free(x);
    free(y);
    free(before);
    free(after);
}

void suite_moments(void)
{
    test_corrupt_states();
    test_two_pass_large_mean();
    test_layouts();
    test_errors();
    test_multi();
    test_mixed();
    test_multi_block_rollback();
}
