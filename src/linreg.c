/*
 * linreg.c: linear regression (predictivity) from moments: the fraction of
 * y's total variance, summed over its features, that a least-squares fit
 * from x with an intercept explains, and the same of x from y ("reverse").
 * It is what numpy.linalg.lstsq([x, 1], y) leaves unexplained, as
 *   R^2 = 1 - |y - [x, 1] B|_F^2 / |yc|_F^2,
 * sklearn's r2_score(..., multioutput="variance_weighted") of a
 * LinearRegression (or, with --ridge r, of Ridge(alpha=r), fit_intercept:
 * the penalty r |B|_F^2 on the centred problem, in the data's units).  The
 * linear-regression row of ReSi (Klabunde et al. 2023) and of Kornblith et
 * al. 2019's comparisons uses this quantity.
 *
 * From moments.  With Sxx = V diag(lambda) Vᵀ (each input's whole scatter,
 * eigendecomposed once: SIMREP__PREP_EIG) and C = Vᵀ Sxy, the ridge fit
 * B = (Sxx + r I)^-1 Sxy leaves |Yc - Xc B|^2 = tr Syy - sum_i |C_i|^2
 * (lambda_i + 2 r) / (lambda_i + r)^2, so
 *   R^2 = sum_i |C_i|^2 (lambda_i + 2 r) / (lambda_i + r)^2 / tr Syy,
 * = sum_i |C_i|^2 / lambda_i / tr Syy for least squares (r = 0), summed
 * over the directions x actually spans.  Which those are: lstsq drops
 * singular values below eps max(n, p) of the largest; the moments resolve
 * an eigenvalue of the scatter only to about n eps of the largest (their
 * sums carry that much round-off), so directions with lambda_i <=
 * max(n, p) eps lambda_max are null here.  Data whose singular values fall
 * between the two rules (ratios between 1e-16 n and 1e-8 sqrt(n)) are
 * numerically rank deficient either way; elsewhere the two agree to
 * round-off.  With r > 0 every direction counts (the penalty regularizes).
 * The per-feature R^2 of y's features (the same sums column by column over
 * each Syy_jj; 0 for a constant feature) are the coefficients (--coefs).
 *
 * R^2 is in [0, 1]; distance = 1 - R^2.  With r = 0 it is invariant to any
 * invertible linear map of x (it only sees x's span), to orthogonal maps
 * and isotropic scaling of y, and to translations; with r > 0 the penalty
 * is in the data's units (the moments' powers of two are undone for it).
 * A side whose features are all constant has no variance to explain (or
 * explain with): SIMREP_E_DEGENERATE.
 */
#include <float.h>
#include <math.h>

#include "linalg.h"
#include "measures.h"

/* R^2 of the side "to" from the side "from": e is from's eigendecomposition
 * (k features, state units 2^(2 expo)), c the from x to cross-scatter
 * (k x m, column-major, state units), tr_to the trace of to's scatter;
 * per (m values, may be NULL) receives each of to's features' R^2 from
 * diag_to (m values). */
static simrep_status r2(simrep_ctx *ctx, const simrep__eig *e, int expo, const double *c, int64_t m, double tr_to,
                        const double *diag_to, double ridge, int64_t n, double *value, double *per)
{
    const int64_t k = e->k;
    double *t = simrep__alloc_array(ctx, (size_t)(k * m), sizeof(double), "linreg work");
    if (!t)
        return SIMREP_E_NOMEM;
    simrep_status st = simrep__gemm(ctx, 'T', 'N', k, m, k, 1.0, e->vecs, k, c, k, 0.0, t, k); /* C = Vᵀ S */
    if (st == SIMREP_OK) {
        const double r = ldexp(ridge, -2 * expo); /* the penalty in the state's units */
        const double lmax = k > 0 ? e->vals[0] : 0;
        const double cut = (double)(n > k ? n : k) * DBL_EPSILON * lmax;
        double total = 0;
        for (int64_t j = 0; j < m; j++) {
            double col = 0;
            for (int64_t i = 0; i < k; i++) {
                const double lam = e->vals[i];
                if (r == 0 ? !(lam > cut) : !(lam + r > 0))
                    continue;
                const double w = r == 0 ? 1.0 / lam : (lam + 2 * r) / ((lam + r) * (lam + r));
                col += t[i + j * k] * t[i + j * k] * w;
            }
            total += col;
            if (per)
                per[j] = diag_to[j] > 0 ? fmin(col / diag_to[j], 1.0) : 0;
        }
        const double v = total / tr_to;
        *value = v < 0 ? 0 : v > 1 ? 1 : v; /* round-off at the ends */
    }
    simrep__free(ctx, t);
    return st;
}

simrep_status simrep__linreg(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    const int64_t p = pr->p, q = pr->q;
    if (!(pr->tr_sxx > 0) || !(pr->tr_syy > 0))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, pr->tr_sxx > 0 ? 1 : 0, "every feature is constant, so linreg (the variance of "
                            "one side explained by the other) is undefined");
    const double scale = (double)(pr->n - 1), ridge = pr->opt->ridge;
    double *sxy = simrep__alloc_array(ctx, (size_t)(p * q), sizeof(double), "linreg cross-scatter");
    double *syx = sxy ? simrep__alloc_array(ctx, (size_t)(p * q), sizeof(double), "linreg cross-scatter") : NULL;
    double *diag = syx ? simrep__alloc_array(ctx, (size_t)q, sizeof(double), "linreg variances") : NULL;
    r->coefs = diag ? simrep__alloc_array(ctx, (size_t)q, sizeof(double), "linreg per-feature R^2") : NULL;
    simrep_status st = r->coefs ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        r->ncoefs = q;
        for (int64_t j = 0; j < q; j++) {
            diag[j] = pr->cov[(p + j) + (p + j) * pr->d] * scale;
            for (int64_t i = 0; i < p; i++) {
                const double v = pr->cov[i + (p + j) * pr->d] * scale;
                sxy[i + j * p] = v;
                syx[j + i * q] = v;
            }
        }
        st = r2(ctx, pr->eig_x, pr->expo_x, sxy, q, pr->tr_syy, diag, ridge, pr->n, &r->similarity, r->coefs);
    }
    if (st == SIMREP_OK)
        st = r2(ctx, pr->eig_y, pr->expo_y, syx, p, pr->tr_sxx, NULL, ridge, pr->n, &r->reverse, NULL);
    r->distance = 1 - r->similarity;
    r->reverse_distance = 1 - r->reverse;
    simrep__free(ctx, sxy);
    simrep__free(ctx, syx);
    simrep__free(ctx, diag);
    return st;
}
