/*
 * test_rounding.c: the CCA family's rank decision at the data's rounding
 * level (cca.c "Rank", docs/measures.md "Directions at the data's
 * rounding level"), through the C API.
 *
 * Table-driven over float32 inputs whose covariance has directions that
 * are exactly zero in exact arithmetic but rounding in float32: a
 * feature that is the float32 sum of two others, a duplicated feature,
 * LayerNorm-like rows (centred and scaled in float), and x W with W of
 * low rank.  Each gives rank = kept - (the dependent directions), the
 * warning for that side, canonical correlations beyond the rank exactly
 * 0, a layer against itself (k - dropped) / k exactly, and, for the same
 * numbers in float64, the rule off (rank = kept, the values the ridge
 * gives, which differ from the float32 ones by < 1e-6 for cca).  Also:
 * noise_ulps 0 turns the rule off; a side whose every direction is below
 * the floor is SIMREP_E_DEGENERATE naming it; the moments' unit roundoff
 * (note_dtype, merge, save/load, bad states) and the prepared pairs' state
 * (MPI) carry the rank; the ridge warning for a float64 input whose
 * covariance has condition number 1e14 (issue 10, item 19: the file
 * against itself gave 0.917 with no word of why).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "simrep.h"
#include "test_util.h"

enum { N = 600, PMAX = 12, Q = 5 };

typedef struct rcase {
    const char *name;
    int p;       /* features of x */
    int dropped; /* directions that are float32 rounding */
} rcase;

/* x (N x p, float32) for case c, from the generator; y (N x Q) depends on it. */
static void make_case(const rcase *c, test_rng *g, float *x, float *y)
{
    for (int i = 0; i < N; i++) {
        float *r = x + (size_t)i * c->p;
        double z[PMAX];
        for (int j = 0; j < PMAX; j++)
            z[j] = test_normal(g);
        if (strcmp(c->name, "sum") == 0) { /* a b c d (a+b) */
            for (int j = 0; j < 4; j++)
                r[j] = (float)z[j];
            r[4] = r[0] + r[1];
        } else if (strcmp(c->name, "duplicate") == 0) { /* a b c a d */
            for (int j = 0; j < 4; j++)
                r[j] = (float)z[j];
            r[4] = r[0];
        } else if (strcmp(c->name, "layernorm") == 0) { /* centred, unit variance, in float */
            float mean = 0, var = 0;
            for (int j = 0; j < c->p; j++)
                mean += (r[j] = (float)(z[j] + 0.5 * z[0] + 2.0));
            mean /= (float)c->p;
            for (int j = 0; j < c->p; j++)
                var += (r[j] - mean) * (r[j] - mean);
            const float inv = 1.0f / sqrtf(var / (float)c->p + 1e-5f);
            for (int j = 0; j < c->p; j++)
                r[j] = (r[j] - mean) * inv * (1.0f + 0.1f * (float)j) + 0.3f * (float)(j % 3);
        } else { /* "lowrank": 8 features from 5 latents through a float32 product */
            for (int j = 0; j < c->p; j++) {
                float s = 0;
                for (int l = 0; l < 5; l++)
                    s += (float)z[l] * (float)(0.3 + 0.1 * ((j * 7 + l * 3) % 11) - 0.5);
                r[j] = s;
            }
        }
        for (int j = 0; j < Q; j++)
            y[(size_t)i * Q + j] = (float)(0.7 * z[j] + 0.5 * test_normal(g));
    }
}

static const simrep_measure FAMILY[] = {SIMREP_CCA, SIMREP_CCA_R2, SIMREP_SVCCA, SIMREP_PWCCA};
enum { NF = 4 };

static void test_cases(void)
{
    static const rcase cases[] = {
        {"sum", 5, 1}, {"duplicate", 5, 1}, {"layernorm", 10, 1}, {"lowrank", 8, 3},
    };
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        const rcase *c = &cases[t];
        test_rng g = {101 + t};
        float *x = malloc(sizeof(float) * N * (size_t)c->p), *y = malloc(sizeof(float) * N * Q);
        double *xd = malloc(sizeof(double) * N * (size_t)c->p), *yd = malloc(sizeof(double) * N * Q);
        make_case(c, &g, x, y);
        for (int i = 0; i < N * c->p; i++)
            xd[i] = x[i];
        for (int i = 0; i < N * Q; i++)
            yd[i] = y[i];
        const simrep_matrix X = simrep_matrix_c(x, SIMREP_F32, N, c->p), Y = simrep_matrix_c(y, SIMREP_F32, N, Q);
        const simrep_matrix XD = simrep_matrix_c(xd, SIMREP_F64, N, c->p), YD = simrep_matrix_c(yd, SIMREP_F64, N, Q);
        simrep_result r[NF], rd[NF], self;
        CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y, NULL, FAMILY, NF, r), SIMREP_OK);
        CHECK_STATUS(ctx, simrep_compare(ctx, &XD, &YD, NULL, FAMILY, NF, rd), SIMREP_OK);
        const int64_t rank = c->p - c->dropped;
        for (int m = 0; m < NF; m++) {
            CHECK(r[m].kept_p == c->p && r[m].rank_p == rank && r[m].rank_q == Q);
            CHECK((r[m].warnings & SIMREP_WARN_ROUNDING_X) && (r[m].warnings & SIMREP_WARN_ROUNDING) &&
                  !(r[m].warnings & SIMREP_WARN_ROUNDING_Y));
            CHECK(rd[m].rank_p == c->p && !(rd[m].warnings & SIMREP_WARN_ROUNDING));
            CHECK(isfinite(r[m].similarity) && r[m].similarity >= 0 && r[m].similarity <= 1);
        }
        /* k = min(kept) coefficients; beyond the rank exactly 0 (only when x is the smaller side) */
        CHECK(r[0].ncoefs == (c->p < Q ? c->p : Q));
        for (int64_t i = rank; i < r[0].ncoefs; i++)
            CHECK(r[0].coefs[i] == 0.0);
        CHECK(r[2].dims_p <= rank);
        /* float64 ridge-whitens the noise: its rho is sqrt(lambda / epsilon) x the noise's correlation
         * with y, up to ~1e-3 here, 1/k of it in the mean; the float32 values count it as 0 */
        CHECK_CLOSE(r[0].similarity, rd[0].similarity, 2e-4);
        CHECK_CLOSE(r[1].similarity, rd[1].similarity, 2e-4);
        /* against itself: the directions kept correlate 1, the noise 0 */
        const simrep_measure cca = SIMREP_CCA;
        CHECK_STATUS(ctx, simrep_compare(ctx, &X, &X, NULL, &cca, 1, &self), SIMREP_OK);
        CHECK_CLOSE(self.similarity, (double)rank / (double)c->p, 1e-9);
        simrep_result_clear(ctx, &self);
        /* noise_ulps 0: the rule is off, as for float64 */
        simrep_options o;
        simrep_options_init(&o);
        CHECK(o.noise_ulps == 4);
        o.noise_ulps = 0;
        CHECK_STATUS(ctx, simrep_compare(ctx, &X, &X, &o, &cca, 1, &self), SIMREP_OK);
        CHECK(self.rank_p == c->p && !(self.warnings & SIMREP_WARN_ROUNDING));
        simrep_result_clear(ctx, &self);
        for (int m = 0; m < NF; m++) {
            simrep_result_clear(ctx, &r[m]);
            simrep_result_clear(ctx, &rd[m]);
        }
        free(x);
        free(y);
        free(xd);
        free(yd);
    }
    simrep_ctx_free(ctx);
}

/* Every direction below the floor: data whose variation is far below the
 * float32 resolution of their offset (1e4 +- 1e-3, ~ulp-level steps). */
static void test_all_noise(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng g = {7};
    enum { p = 6 };
    float x[N * p], y[N * Q];
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < p; j++)
            x[i * p + j] = (float)(1e4 + 1e-3 * test_normal(&g));
        for (int j = 0; j < Q; j++)
            y[i * Q + j] = (float)test_normal(&g);
    }
    const simrep_matrix X = simrep_matrix_c(x, SIMREP_F32, N, p), Y = simrep_matrix_c(y, SIMREP_F32, N, Q);
    simrep_result r[2];
    const simrep_measure ms[2] = {SIMREP_CCA, SIMREP_CKA};
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y, NULL, ms, 1, r), SIMREP_E_DEGENERATE);
    CHECK(strstr(simrep_ctx_message(ctx), "x: every direction") != NULL &&
          strstr(simrep_ctx_message(ctx), "float32") != NULL);
    simrep_error_info e; /* structured: the input at fault is x */
    simrep_ctx_error(ctx, &e);
    CHECK(e.input == 0 && strncmp(e.detail, "every direction", 15) == 0);
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y, NULL, ms + 1, 1, r), SIMREP_OK); /* CKA reads every feature */
    simrep_result_clear(ctx, &r[0]);
    simrep_ctx_free(ctx);
}

/* The unit roundoff the moments keep, and where it travels. */
static void test_moments_units(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng g = {5};
    float xf[40 * 3];
    double xd[40 * 3], yd[40 * 2];
    for (int i = 0; i < 40 * 3; i++)
        xd[i] = xf[i] = (float)test_normal(&g);
    for (int i = 0; i < 40 * 2; i++)
        yd[i] = test_normal(&g);
    simrep_moments *a = NULL, *b = NULL, *c = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, 3, 2, &a), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_new(ctx, 3, 2, &b), SIMREP_OK);
    CHECK(simrep_moments_unit_roundoff(a, 0) == 0 && simrep_moments_unit_roundoff(a, 5) == 0 &&
          simrep_moments_unit_roundoff(NULL, 0) == 0);
    const simrep_matrix XF = simrep_matrix_c(xf, SIMREP_F32, 40, 3), XD = simrep_matrix_c(xd, SIMREP_F64, 40, 3),
                        YD = simrep_matrix_c(yd, SIMREP_F64, 40, 2);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, a, &XF, &YD), SIMREP_OK);
    CHECK(simrep_moments_unit_roundoff(a, 0) == 0x1p-24 && simrep_moments_unit_roundoff(a, 1) == 0x1p-53);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, b, &XD, &YD), SIMREP_OK);
    CHECK(simrep_moments_unit_roundoff(b, 0) == 0x1p-53);
    CHECK_STATUS(ctx, simrep_moments_note_dtype(ctx, b, 1, SIMREP_BF16), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_note_dtype(ctx, b, 1, SIMREP_F16), SIMREP_OK); /* the coarser stays */
    CHECK(simrep_moments_unit_roundoff(b, 1) == 0x1p-8);
    CHECK_STATUS(ctx, simrep_moments_note_dtype(ctx, b, 2, SIMREP_F32), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_moments_note_dtype(ctx, b, -1, SIMREP_F32), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_moments_note_dtype(ctx, b, 0, (simrep_dtype)9), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_moments_note_dtype(ctx, NULL, 0, SIMREP_F32), SIMREP_E_INVALID);
    /* a failed update (NaN) changes nothing, the unit included */
    double bad[3] = {1, NAN, 2}, ybad[2] = {0, 0};
    const simrep_matrix B1 = simrep_matrix_c(bad, SIMREP_F64, 1, 3), B2 = simrep_matrix_c(ybad, SIMREP_F64, 1, 2);
    simrep_moments *e = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, 3, 2, &e), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, e, &B1, &B2), SIMREP_E_NONFINITE);
    CHECK(simrep_moments_unit_roundoff(e, 0) == 0);
    /* merge: the coarser; clone and save/load carry it */
    CHECK_STATUS(ctx, simrep_moments_merge(ctx, b, a), SIMREP_OK);
    CHECK(simrep_moments_unit_roundoff(b, 0) == 0x1p-24 && simrep_moments_unit_roundoff(b, 1) == 0x1p-8);
    CHECK_STATUS(ctx, simrep_moments_clone(ctx, b, &c), SIMREP_OK);
    CHECK(simrep_moments_unit_roundoff(c, 1) == 0x1p-8);
    const int64_t len = simrep_moments_state_len(b);
    double *st = malloc(sizeof(double) * (size_t)len);
    simrep_moments_save(b, st);
    CHECK(st[len - 2] == 0x1p-24 && st[len - 1] == 0x1p-8);
    CHECK_STATUS(ctx, simrep_moments_load(ctx, e, st), SIMREP_OK);
    CHECK(simrep_moments_unit_roundoff(e, 0) == 0x1p-24 && simrep_moments_unit_roundoff(e, 1) == 0x1p-8);
    static const double corrupt[] = {-0x1p-24, 3e-8, 0.5, 1, INFINITY};
    for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
        st[len - 1] = corrupt[i];
        CHECK_STATUS(ctx, simrep_moments_load(ctx, e, st), SIMREP_E_FORMAT);
    }
    CHECK(simrep_moments_unit_roundoff(e, 1) == 0x1p-8); /* unchanged by the refused loads */
    free(st);
    simrep_moments_free(ctx, a);
    simrep_moments_free(ctx, b);
    simrep_moments_free(ctx, c);
    simrep_moments_free(ctx, e);
    simrep_ctx_free(ctx);
}

/* The rank travels with a prepared input's state (MPI: simrep_pairs_input_save/load). */
static void test_pairs_state(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    const rcase lr = {"lowrank", 8, 3};
    test_rng g = {9};
    float x[N * 8], y[N * Q];
    make_case(&lr, &g, x, y);
    const simrep_matrix X = simrep_matrix_c(x, SIMREP_F32, N, 8), Y = simrep_matrix_c(y, SIMREP_F32, N, Q);
    simrep_moments *m = NULL;
    CHECK_STATUS(ctx, simrep_moments_new(ctx, 8, Q, &m), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_moments_update(ctx, m, &X, &Y), SIMREP_OK);
    const unsigned char mine[2] = {0, 1}, theirs[2] = {1, 0};
    simrep_pairs *a = NULL, *b = NULL;
    CHECK_STATUS(ctx, simrep_pairs_prepare_some(ctx, m, NULL, FAMILY, NF, mine, &a), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_pairs_prepare_some(ctx, m, NULL, FAMILY, NF, theirs, &b), SIMREP_OK);
    double *st = malloc(sizeof(double) * (size_t)simrep_pairs_input_state_len(b, 0));
    simrep_pairs_input_save(b, 0, st);
    CHECK_STATUS(ctx, simrep_pairs_input_load(ctx, a, 0, st), SIMREP_OK);
    simrep_result r[NF], want[NF];
    CHECK_STATUS(ctx, simrep_pairs_compare(ctx, a, 0, 1, FAMILY, NF, r), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_compare_moments(ctx, m, NULL, FAMILY, NF, want), SIMREP_OK);
    /* The rank exactly; the values to round-off, not bit for bit: an input
     * prepared alone is eigendecomposed on every BLAS thread, two prepared
     * together are two tasks of one BLAS thread each (tasks.c), and
     * LAPACK's last bits follow the BLAS thread count (4e-16 .. 1.4e-15
     * apart with OPENBLAS_NUM_THREADS=2; identical with 1, as make check
     * runs it). */
    for (int i = 0; i < NF; i++) {
        CHECK(r[i].rank_p == 5);
        CHECK_CLOSE(r[i].similarity, want[i].similarity, 1e-12);
        simrep_result_clear(ctx, &r[i]);
        simrep_result_clear(ctx, &want[i]);
    }
    free(st);
    simrep_pairs_free(ctx, a);
    simrep_pairs_free(ctx, b);
    simrep_moments_free(ctx, m);
    simrep_ctx_free(ctx);
}

/* Issue 10, item 19: a float64 input whose covariance spans 1e14 compared
 * with itself: the ridge shrinks the small directions' correlations, and
 * the result says how many and why. */
static void test_ridge_warning(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng g = {13};
    enum { p = 8 };
    double x[N * p];
    for (int i = 0; i < N; i++) { /* latent l with variance 10^-2l, mixed by a Hadamard rotation: */
        double z[p];              /* no feature is small (each ~0.126), the covariance spans 1e14 */
        for (int l = 0; l < p; l++)
            z[l] = test_normal(&g) * pow(10.0, -l);
        for (int j = 0; j < p; j++) {
            double v = 0;
            for (int l = 0; l < p; l++)
                v += (__builtin_popcount((unsigned)(j & l)) % 2 ? -z[l] : z[l]) / sqrt((double)p);
            x[i * p + j] = v;
        }
    }
    const simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, N, p);
    const simrep_measure cca = SIMREP_CCA;
    simrep_result r;
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &X, NULL, &cca, 1, &r), SIMREP_OK);
    /* directions 1e-10 .. 1e-14 (/ 0.126, the largest feature variance) are below 99 epsilon, 1e-8 is not */
    CHECK(r.shrunk_p == 3 && r.shrunk_q == 3 && (r.warnings & SIMREP_WARN_RIDGE_X) &&
          (r.warnings & SIMREP_WARN_RIDGE_Y) && (r.warnings & SIMREP_WARN_RIDGE));
    CHECK(r.rank_p == p && r.similarity < 0.9);
    simrep_result_clear(ctx, &r);
    simrep_options o;
    simrep_options_init(&o);
    o.epsilon = 1e-18; /* a smaller ridge: nothing shrunk; what is left of 1 is float64's resolution of a
                        * direction at 1e-13 of the largest (its cross-covariance's round-off, whitened) */
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &X, &o, &cca, 1, &r), SIMREP_OK);
    CHECK(r.shrunk_p == 0 && !(r.warnings & SIMREP_WARN_RIDGE));
    CHECK(r.similarity > 0.999);
    simrep_result_clear(ctx, &r);
    simrep_ctx_free(ctx);
}

/* n <= kept (issue 10, item 19): the bound's flag, not the ridge's; cca = (n - 1) / k against itself. */
static void test_few_samples_rank(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng g = {17};
    enum { n = 20, p = 40 };
    double x[n * p];
    for (int i = 0; i < n * p; i++)
        x[i] = test_normal(&g);
    const simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, n, p);
    const simrep_measure cca = SIMREP_CCA;
    simrep_result r;
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &X, NULL, &cca, 1, &r), SIMREP_OK);
    const unsigned rank = SIMREP_WARN_FEW_SAMPLES_RANK | SIMREP_WARN_FEW_SAMPLES_RANK_X | SIMREP_WARN_FEW_SAMPLES_RANK_Y;
    CHECK((r.warnings & rank) == rank && (r.warnings & SIMREP_WARN_FEW_SAMPLES));
    CHECK(!(r.warnings & (SIMREP_WARN_RIDGE | SIMREP_WARN_ROUNDING)) && r.shrunk_p == 0);
    CHECK(fabs(r.similarity - (n - 1.0) / p) < 1e-6);
    simrep_result_clear(ctx, &r);
    simrep_ctx_free(ctx);
}

void suite_rounding(void)
{
    test_cases();
    test_all_noise();
    test_moments_units();
    test_pairs_state();
    test_ridge_warning();
    test_few_samples_rank();
}
