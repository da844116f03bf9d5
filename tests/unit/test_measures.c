/*
 * test_measures.c: closed forms, invariances and degenerate cases of the
 * linear measures through the public API (simrep_compare).  Golden values
 * from the reference code and the randomized comparison with numpy live in
 * tests/python (they need numpy to read and to recompute).
 *
 * Tolerances: closed forms that hold exactly in real arithmetic are checked
 * to 1e-8; CCA's epsilon ridge (1e-10 relative to the largest variance)
 * moves canonical correlations of a perfect linear map by about that much
 * times the condition number, so "all ones" is checked to 1e-6.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "simrep.h"
#include "test_util.h"

#define N 400
#define P 8
#define Q 6

static simrep_measure all_linear[] = {SIMREP_CCA,          SIMREP_CCA_R2,    SIMREP_SVCCA,
                                      SIMREP_PWCCA,        SIMREP_CKA,       SIMREP_CKA_DEBIASED,
                                      SIMREP_PROCRUSTES,   SIMREP_PROCRUSTES_ANGULAR};
#define NLIN ((int)(sizeof all_linear / sizeof all_linear[0]))

static void random_data(test_rng *rng, double *x, double *y, int64_t n, int64_t p, int64_t q)
{
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < p; j++)
            x[i * p + j] = test_normal(rng) + 0.1 * j;
        for (int64_t j = 0; j < q; j++)
            y[i * q + j] = 0.7 * x[i * p + j % p] + 0.5 * test_normal(rng);
    }
}

static int compare(simrep_ctx *ctx, const double *x, int64_t p, const double *y, int64_t q, int64_t n,
                   const simrep_options *o, simrep_result *r)
{
    simrep_matrix vx = simrep_matrix_c(x, SIMREP_F64, n, p), vy = simrep_matrix_c(y, SIMREP_F64, n, q);
    return simrep_compare(ctx, &vx, &vy, o, all_linear, NLIN, r);
}

static void clear(simrep_ctx *ctx, simrep_result *r)
{
    for (int i = 0; i < NLIN; i++)
        simrep_result_clear(ctx, &r[i]);
}

/* CCA of X and X A (A invertible) is all ones; so are svcca and pwcca. */
static void test_invertible_map(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng rng = {7};
    double *x = malloc(sizeof(double) * N * P), *y = malloc(sizeof(double) * N * Q), *xa = malloc(sizeof(double) * N * P);
    double a[P * P];
    random_data(&rng, x, y, N, P, Q);
    for (int i = 0; i < P * P; i++)
        a[i] = test_normal(&rng) + (i % (P + 1) == 0 ? 3.0 : 0.0);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < P; j++) {
            double s = 0;
            for (int k = 0; k < P; k++)
                s += x[i * P + k] * a[k * P + j];
            xa[i * P + j] = s;
        }
    simrep_result r[NLIN];
    CHECK_STATUS(ctx, compare(ctx, x, P, xa, P, N, NULL, r), SIMREP_OK);
    CHECK_CLOSE(r[0].similarity, 1.0, 1e-6);
    CHECK_CLOSE(r[1].similarity, 1.0, 1e-6);
    CHECK_CLOSE(r[2].similarity, 1.0, 1e-6);
    CHECK_CLOSE(r[3].similarity, 1.0, 1e-6);
    CHECK(r[0].ncoefs == P);
    for (int64_t i = 0; i < r[0].ncoefs; i++)
        CHECK_CLOSE(r[0].coefs[i], 1.0, 1e-6);
    clear(ctx, r);
    /* CKA, Procrustes of X with itself: exactly 1 (distance 0). */
    CHECK_STATUS(ctx, compare(ctx, x, P, x, P, N, NULL, r), SIMREP_OK);
    CHECK_CLOSE(r[4].similarity, 1.0, 1e-12);
    CHECK_CLOSE(r[5].similarity, 1.0, 1e-12);
    CHECK_CLOSE(r[6].similarity, 1.0, 1e-12);
    CHECK_CLOSE(r[6].distance, 0.0, 1e-12);
    CHECK(r[7].distance >= 0 && r[7].distance < 1e-6); /* arccos near 1 amplifies round-off: sqrt(2 eps) */
    clear(ctx, r);
    simrep_ctx_free(ctx);
    free(x);
    free(y);
    free(xa);
}

/* CKA and Procrustes are invariant to an orthogonal map and isotropic
 * scaling of one side, and everything to translation and to permuting rows
 * of both sides together. */
static void test_invariances(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng rng = {11};
    double *x = malloc(sizeof(double) * N * P), *y = malloc(sizeof(double) * N * Q);
    double *xr = malloc(sizeof(double) * N * P), *xp = malloc(sizeof(double) * N * P), *yp = malloc(sizeof(double) * N * Q);
    random_data(&rng, x, y, N, P, Q);
    /* A Givens rotation of columns 0 and 1 by 0.7 rad, scaled by 3.5, shifted by 100. */
    const double c = cos(0.7), s = sin(0.7);
    for (int i = 0; i < N; i++) {
        memcpy(xr + i * P, x + i * P, sizeof(double) * P);
        xr[i * P + 0] = c * x[i * P] - s * x[i * P + 1];
        xr[i * P + 1] = s * x[i * P] + c * x[i * P + 1];
        for (int j = 0; j < P; j++)
            xr[i * P + j] = 3.5 * xr[i * P + j] + 100.0;
    }
    /* Rows reversed. */
    for (int i = 0; i < N; i++) {
        memcpy(xp + i * P, x + (N - 1 - i) * P, sizeof(double) * P);
        memcpy(yp + i * Q, y + (N - 1 - i) * Q, sizeof(double) * Q);
    }
    simrep_result r0[NLIN], r1[NLIN], r2[NLIN];
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, N, NULL, r0), SIMREP_OK);
    CHECK_STATUS(ctx, compare(ctx, xr, P, y, Q, N, NULL, r1), SIMREP_OK);
    CHECK_STATUS(ctx, compare(ctx, xp, P, yp, Q, N, NULL, r2), SIMREP_OK);
    for (int i = 0; i < NLIN; i++) {
        CHECK_CLOSE(r2[i].similarity, r0[i].similarity, 1e-10);
        if (all_linear[i] != SIMREP_PWCCA) /* pwcca weights depend on basis and mean */
            CHECK_CLOSE(r1[i].similarity, r0[i].similarity, 1e-8);
        CHECK(r0[i].similarity == r0[i].similarity); /* never NaN */
    }
    clear(ctx, r0);
    clear(ctx, r1);
    clear(ctx, r2);
    /* Symmetric measures do not depend on the argument order; pwcca uses
     * the smaller side first whichever order it is given in. */
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, N, NULL, r0), SIMREP_OK);
    CHECK_STATUS(ctx, compare(ctx, y, Q, x, P, N, NULL, r1), SIMREP_OK);
    for (int i = 0; i < NLIN; i++)
        if (all_linear[i] != SIMREP_SVCCA)
            CHECK_CLOSE(r1[i].similarity, r0[i].similarity, 1e-10);
    clear(ctx, r0);
    clear(ctx, r1);
    simrep_ctx_free(ctx);
    free(x);
    free(y);
    free(xr);
    free(xp);
    free(yp);
}

static void test_degenerate(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng rng = {5};
    double *x = malloc(sizeof(double) * N * P), *y = malloc(sizeof(double) * N * Q);
    random_data(&rng, x, y, N, P, Q);
    simrep_result r[NLIN];
    /* Every feature of y constant: the CCA family is an error, not NaN. */
    double *yc = malloc(sizeof(double) * N * Q);
    for (int i = 0; i < N * Q; i++)
        yc[i] = 2.5;
    CHECK_STATUS(ctx, compare(ctx, x, P, yc, Q, N, NULL, r), SIMREP_E_DEGENERATE);
    CHECK(strncmp(simrep_ctx_message(ctx), "y: every one of its 6 features is constant", 41) == 0);
    /* ... and for CKA alone too. */
    simrep_measure cka = SIMREP_CKA;
    simrep_matrix vx = simrep_matrix_c(x, SIMREP_F64, N, P), vyc = simrep_matrix_c(yc, SIMREP_F64, N, Q);
    CHECK_STATUS(ctx, simrep_compare(ctx, &vx, &vyc, NULL, &cka, 1, r), SIMREP_E_DEGENERATE);
    /* n = 1: nothing to center. */
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, 1, NULL, r), SIMREP_E_DEGENERATE);
    CHECK(strstr(simrep_ctx_message(ctx), "at least 2 samples") != NULL);
    /* Dead features are dropped and counted; duplicate columns give no NaN. */
    double *xd = malloc(sizeof(double) * N * P);
    for (int i = 0; i < N; i++) {
        memcpy(xd + i * P, x + i * P, sizeof(double) * P);
        xd[i * P + 2] = 0.0;             /* dead */
        xd[i * P + 3] = xd[i * P + 4];   /* duplicate */
    }
    CHECK_STATUS(ctx, compare(ctx, xd, P, y, Q, N, NULL, r), SIMREP_OK);
    CHECK(r[0].kept_p == P - 1 && r[0].kept_q == Q);
    CHECK(r[0].warnings & SIMREP_WARN_DEAD_FEATURES);
    for (int i = 0; i < NLIN; i++)
        CHECK(isfinite(r[i].similarity) && isfinite(r[i].distance));
    clear(ctx, r);
    /* p > n: a warning, finite values. */
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, 5, NULL, r), SIMREP_OK);
    CHECK(r[0].warnings & SIMREP_WARN_FEW_SAMPLES);
    for (int i = 0; i < NLIN; i++)
        CHECK(isfinite(r[i].similarity) && isfinite(r[i].distance));
    clear(ctx, r);
    /* cka_debiased needs n >= 4. */
    simrep_measure deb = SIMREP_CKA_DEBIASED;
    simrep_matrix v3x = simrep_matrix_c(x, SIMREP_F64, 3, P), v3y = simrep_matrix_c(y, SIMREP_F64, 3, Q);
    CHECK_STATUS(ctx, simrep_compare(ctx, &v3x, &v3y, NULL, &deb, 1, r), SIMREP_E_DEGENERATE);
    /* Features scaled by 1e-30 and 1e30: the CCA family does not notice. */
    double *xs = malloc(sizeof(double) * N * P);
    for (int i = 0; i < N * P; i++)
        xs[i] = x[i] * (i % 2 ? 1e30 : 1e-30);
    simrep_result rs[NLIN];
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, N, NULL, r), SIMREP_OK);
    CHECK_STATUS(ctx, compare(ctx, xs, P, y, Q, N, NULL, rs), SIMREP_OK);
    /* Per-feature scaling spans 60 orders of magnitude; only the features at
     * 1e30 survive the dead-feature rule relative to the largest variance. */
    CHECK(rs[0].kept_p == P / 2);
    for (int i = 0; i < NLIN; i++)
        CHECK(isfinite(rs[i].similarity));
    clear(ctx, r);
    clear(ctx, rs);
    /* Bad options are argument errors. */
    simrep_options o;
    simrep_options_init(&o);
    o.svcca_keep = 1.5;
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, N, &o, r), SIMREP_E_INVALID);
    /* dftcca needs conv maps, not a matrix: refused, never a zeroed result. */
    simrep_measure dft = SIMREP_DFTCCA;
    CHECK_STATUS(ctx, simrep_compare(ctx, &vx, &vyc, NULL, &dft, 1, r), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "conv feature maps") != NULL);
    /* Moments cannot give a kernel measure. */
    simrep_moments *m = NULL;
    simrep_measure rbf = SIMREP_CKA_RBF;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, P, Q, &m), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, m, NULL, &rbf, 1, r), SIMREP_E_INVALID);
    simrep_moments_free(ctx, m);
    simrep_ctx_free(ctx);
    free(x);
    free(y);
    free(yc);
    free(xd);
    free(xs);
}

/* svcca options: fixed dims and the two thresholding rules. */
static void test_svcca_options(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng rng = {3};
    double *x = malloc(sizeof(double) * N * P), *y = malloc(sizeof(double) * N * Q);
    random_data(&rng, x, y, N, P, Q);
    simrep_options o;
    simrep_options_init(&o);
    o.svcca_dims = 3;
    simrep_result r[NLIN];
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, N, &o, r), SIMREP_OK);
    CHECK(r[2].dims_p == 3 && r[2].dims_q == 3 && r[2].ncoefs == 3);
    clear(ctx, r);
    o.svcca_dims = 100; /* capped at the features kept */
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, N, &o, r), SIMREP_OK);
    CHECK(r[2].dims_p == P && r[2].dims_q == Q);
    /* With every direction kept, svcca equals cca (CCA is invariant to the
     * invertible PCA rotation). */
    CHECK_CLOSE(r[2].similarity, r[0].similarity, 1e-9);
    clear(ctx, r);
    o.svcca_dims = 0;
    o.svcca_keep = 0.5;
    o.svcca_rule = SIMREP_SVCCA_SINGULAR_VALUES;
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, N, &o, r), SIMREP_OK);
    int64_t sv_dims = r[2].dims_p;
    clear(ctx, r);
    o.svcca_rule = SIMREP_SVCCA_VARIANCE;
    CHECK_STATUS(ctx, compare(ctx, x, P, y, Q, N, &o, r), SIMREP_OK);
    /* Singular values are the square roots of the variances, flatter, so
     * reaching half their sum takes at least as many directions. */
    CHECK(sv_dims >= r[2].dims_p);
    clear(ctx, r);
    simrep_ctx_free(ctx);
    free(x);
    free(y);
}

/* The progress callback sees every cka_rbf stage, fractions in [0, 1]
 * rising within a stage; without a callback nothing is called. */
typedef struct progress_log {
    int calls, bad;
    char stage[64];
    double last;
} progress_log;

static void log_progress(void *user, const char *stage, double fraction)
{
    progress_log *l = user;
    l->calls++;
    if (!(fraction >= 0 && fraction <= 1))
        l->bad++;
    if (strcmp(stage, l->stage) == 0 && fraction < l->last)
        l->bad++;
    snprintf(l->stage, sizeof l->stage, "%s", stage);
    l->last = fraction;
}

static void test_progress(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng rng = {9};
    const int64_t n = 700;
    double *x = malloc(sizeof(double) * n * P), *y = malloc(sizeof(double) * n * Q);
    random_data(&rng, x, y, n, P, Q);
    simrep_matrix vx = simrep_matrix_c(x, SIMREP_F64, n, P), vy = simrep_matrix_c(y, SIMREP_F64, n, Q);
    progress_log log = {0, 0, "", 0};
    simrep_ctx_set_progress(ctx, log_progress, &log);
    double s = 0;
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &vx, &vy, 1.0, &s), SIMREP_OK);
    CHECK(log.calls >= 3 * ((n + 255) / 256)); /* >= 3 passes, one call per tile row */
    CHECK(log.bad == 0);
    CHECK(strcmp(log.stage, "cka_rbf centred HSIC") == 0);
    simrep_ctx_set_progress(ctx, NULL, NULL);
    log.calls = 0;
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &vx, &vy, 1.0, &s), SIMREP_OK);
    CHECK(log.calls == 0);
    simrep_ctx_free(ctx);
    free(x);
    free(y);
}

/* The decompositions run as tasks side by side when BLAS has more than one
 * thread (tasks.c): the same values as one after the other (1e-12: only
 * the BLAS thread count differs), for both pwcca variants and both orders
 * of the smaller side; the first family in the caller's order names an
 * error. */
static void test_tasks(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng rng = {11};
    const int before = simrep_blas_threads();
    double *x = malloc(sizeof(double) * N * P), *y = malloc(sizeof(double) * N * Q);
    random_data(&rng, x, y, N, P, Q);
    for (int variant = 0; variant < 2; variant++)
        for (int swap = 0; swap < 2; swap++) {
            simrep_options o;
            simrep_options_init(&o);
            o.pwcca_variant = variant ? SIMREP_PWCCA_DING : SIMREP_PWCCA_GOOGLE;
            simrep_result serial[NLIN], tasks[NLIN];
            simrep_set_blas_threads(1);
            CHECK_STATUS(ctx, swap ? compare(ctx, y, Q, x, P, N, &o, serial) : compare(ctx, x, P, y, Q, N, &o, serial),
                         SIMREP_OK);
            simrep_set_blas_threads(2);
            CHECK_STATUS(ctx, swap ? compare(ctx, y, Q, x, P, N, &o, tasks) : compare(ctx, x, P, y, Q, N, &o, tasks),
                         SIMREP_OK);
            for (int i = 0; i < NLIN; i++) {
                CHECK_CLOSE(tasks[i].similarity, serial[i].similarity, 1e-12);
                CHECK_CLOSE(tasks[i].distance, serial[i].distance, 1e-12);
                CHECK(tasks[i].kept_p == serial[i].kept_p && tasks[i].warnings == serial[i].warnings);
            }
            clear(ctx, serial);
            clear(ctx, tasks);
        }
    for (int64_t i = 0; i < N * Q; i++)
        y[i] = 3.0;
    simrep_result r[NLIN];
    simrep_set_blas_threads(2);
    simrep_matrix vx = simrep_matrix_c(x, SIMREP_F64, N, P), vy = simrep_matrix_c(y, SIMREP_F64, N, Q);
    const simrep_measure pc[2] = {SIMREP_PROCRUSTES, SIMREP_CCA};
    CHECK_STATUS(ctx, simrep_compare(ctx, &vx, &vy, NULL, pc, 2, r), SIMREP_E_DEGENERATE);
    CHECK(strstr(simrep_ctx_message(ctx), "Procrustes") != NULL);
    simrep_set_blas_threads(before);
    simrep_ctx_free(ctx);
    free(x);
    free(y);
}

void suite_measures(void)
{
    test_invertible_map();
    test_invariances();
    test_degenerate();
    test_svcca_options();
    test_progress();
    test_tasks();
    /* The ABI checks a binding makes. */
    CHECK(strcmp(simrep_version(), SIMREP_VERSION) == 0);
    CHECK(simrep_struct_size("simrep_result") == sizeof(simrep_result));
    CHECK(simrep_struct_size("simrep_options") == sizeof(simrep_options));
    CHECK(simrep_struct_size("simrep_cca_details") == sizeof(simrep_cca_details));
    CHECK(simrep_struct_size("no_such_struct") == 0 && simrep_struct_size(NULL) == 0);
}
