/*
 * shape.c: the generalized shape metrics of Williams, Kunz, Kornblith &
 * Linderman 2021 ("Generalized shape metrics on neural representations",
 * NeurIPS), as netrep's LinearMetric(alpha, center_columns=True,
 * zero_pad=True) computes them: shape_angular (score_method="angular") and
 * shape_euclidean ("euclidean"), with alpha = --shape-alpha.
 *
 * netrep centres each side, zero-pads the one with fewer features to
 * m = max(p, q) columns, partially whitens each with
 * Z = V diag(d) Vᵀ from the eigendecomposition X'X = V diag(lambda) Vᵀ of
 * its scatter: lambda clipped below at 1e-7, d = alpha + (1 - alpha)
 * lambda^(-1/2), rescaled by sqrt(sum lambda / sum (alpha^2 lambda +
 * 2 alpha (1 - alpha) lambda^(1/2) + (1 - alpha)^2)) so the variance is
 * kept (all sums over the m padded eigenvalues, clipped); alpha > 1 - 1e-7
 * skips the whitening (Z = I).  It then rotates both by the SVD
 * U S Vᵀ = (X Zx)ᵀ (Y Zy) and scores X Zx U against Y Zy V: the angle
 * arccos(<A, B> / (|A| |B|)), or the Frobenius norm |A - B|.
 *
 * All of it is a function of the moments, so nothing is formed n x p:
 * <A, B> = |Zx Sxy Zy|_* (the nuclear norm, as U and V are the SVD's),
 * |A|^2 = tr(Zx Sxx Zx) = sum d_i^2 lambda_i, and the singular values of
 * Zx Sxy Zy are those of diag(dx) (Vxᵀ Sxy Vy) diag(dy), so one product in
 * the two eigenbases (shared per input: SIMREP__PREP_EIG) and one dgesdd
 * without vectors serve both scores.  Padding adds zero rows/columns (no
 * change to the norms) and only enters through the variance rescaling.
 * At alpha = 1 both reduce to orthogonal Procrustes (shape_angular equals
 * procrustes_angular); at alpha = 0 to a CCA-like metric (invariant to
 * invertible linear maps).  netrep's 1e-7 clip is on the scatter in the
 * data's units, so it is applied in those (the moments keep a power-of-
 * two unit per input: moments.h); so is the Euclidean distance, which is
 * in data units (not scale invariant, as in netrep).
 * The similarity of both is the cosine <A, B> / (|A| |B|) in [0, 1] (a sum
 * of singular values, never negative); shape_angular's distance is its
 * arccos, shape_euclidean's |A - B|, each clamped at round-off (cos <= 1,
 * |A - B|^2 >= 0).
 */
#include "linalg.h"
#include "measures.h"

#include <math.h>
#include <string.h>

/* netrep.utils.whiten's eigval_tol: eigenvalues are clipped to it, and
 * alpha above 1 - it means no whitening at all. */
#define SHAPE_TOL 1e-7

/* One side's whitening factors d (k of them, in its eigenbasis) and its
 * transformed squared norm |X Z|^2 in the state's units (x 4^expo: the
 * data's); m is the padded width.  d itself is computed from the data's
 * eigenvalues, as netrep's clip is in those. */
static void side_factors(const simrep__eig *e, int expo, int64_t m, double alpha, double *d, double *norm2)
{
    const int64_t k = e->k;
    double sum_lam = 0, new_var = 0;
    *norm2 = 0;
    for (int64_t i = 0; i < m; i++) {
        const double lam = i < k ? ldexp(e->vals[i], 2 * expo) : 0; /* padded columns: 0 */
        const double lc = lam > SHAPE_TOL ? lam : SHAPE_TOL;
        sum_lam += lc;
        new_var += alpha * alpha * lc + 2 * alpha * (1 - alpha) * sqrt(lc) + (1 - alpha) * (1 - alpha);
        if (i < k)
            d[i] = alpha + (1 - alpha) / sqrt(lc);
    }
    const double rescale = sqrt(sum_lam / new_var);
    for (int64_t i = 0; i < k; i++) {
        d[i] *= rescale;
        *norm2 += d[i] * d[i] * e->vals[i];
    }
}

/* The cosine <A, B> / (|A| |B|) and the squared distance |A - B|^2 (data units). */
static simrep_status shape(simrep_ctx *ctx, const simrep__prepared *pr, double *cosine, double *dist2)
{
    const int64_t p = pr->p, q = pr->q, m = p > q ? p : q, k = p < q ? p : q;
    if (!(pr->tr_sxx > 0) || !(pr->tr_syy > 0))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, pr->tr_sxx > 0 ? 1 : 0, "every feature is constant, so the shape metrics are "
                            "undefined");
    const double alpha = pr->opt->shape_alpha, scale = (double)(pr->n - 1);
    const int whiten = !(alpha > 1 - SHAPE_TOL);
    double *c = simrep__alloc_array(ctx, (size_t)(p * q), sizeof(double), "shape cross-scatter");
    double *t = c ? simrep__alloc_array(ctx, (size_t)(p * q), sizeof(double), "shape work") : NULL;
    double *s = t ? simrep__alloc_array(ctx, (size_t)k, sizeof(double), "singular values") : NULL;
    double *dx = s ? simrep__alloc_array(ctx, (size_t)p, sizeof(double), "whitening") : NULL;
    double *dy = dx ? simrep__alloc_array(ctx, (size_t)q, sizeof(double), "whitening") : NULL;
    simrep_status st = dy ? SIMREP_OK : SIMREP_E_NOMEM;
    double nx2 = pr->tr_sxx, ny2 = pr->tr_syy; /* |A|^2, |B|^2 in the state's units */
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < q; j++) /* Sxy in the state's units */
            for (int64_t i = 0; i < p; i++)
                c[i + j * p] = pr->cov[i + (p + j) * pr->d] * scale;
        if (whiten) { /* into the eigenbases, then the factors */
            side_factors(pr->eig_x, pr->expo_x, m, alpha, dx, &nx2);
            side_factors(pr->eig_y, pr->expo_y, m, alpha, dy, &ny2);
            st = simrep__gemm(ctx, 'T', 'N', p, q, p, 1.0, pr->eig_x->vecs, p, c, p, 0.0, t, p);
            if (st == SIMREP_OK)
                st = simrep__gemm(ctx, 'N', 'N', p, q, q, 1.0, t, p, pr->eig_y->vecs, q, 0.0, c, p);
            for (int64_t j = 0; j < q && st == SIMREP_OK; j++)
                for (int64_t i = 0; i < p; i++)
                    c[i + j * p] *= dx[i] * dy[j];
        }
    }
    if (st == SIMREP_OK)
        st = simrep__gesdd(ctx, 'N', p, q, c, p, s, NULL, 1, NULL, 1);
    if (st == SIMREP_OK) {
        double nuc = 0;
        for (int64_t i = 0; i < k; i++)
            nuc += s[i];
        /* The cosine in the state's units (their powers of two cancel, so
         * any finite scale works); the distance in the data's. */
        const double cosv = nuc / (sqrt(nx2) * sqrt(ny2));
        *cosine = cosv > 1 ? 1 : cosv;
        const double d2 = ldexp(nx2, 2 * pr->expo_x) + ldexp(ny2, 2 * pr->expo_y) -
                          2 * ldexp(nuc, pr->expo_x + pr->expo_y);
        *dist2 = d2 > 0 ? d2 : 0;
    }
    simrep__free(ctx, c);
    simrep__free(ctx, t);
    simrep__free(ctx, s);
    simrep__free(ctx, dx);
    simrep__free(ctx, dy);
    return st;
}

/* Both forms: the similarity is the cosine, the distance its angle or the
 * Euclidean distance of the aligned, normalised sides. */
static simrep_status shape_result(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r, int euclidean)
{
    double cosv = 0, d2 = 0;
    simrep_status st = shape(ctx, pr, &cosv, &d2);
    r->similarity = cosv;
    r->distance = euclidean ? sqrt(d2) : acos(cosv);
    return st;
}

simrep_status simrep__shape_angular(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    return shape_result(ctx, pr, r, 0);
}

simrep_status simrep__shape_euclidean(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    return shape_result(ctx, pr, r, 1);
}

/* The whitening needs each side's eigendecomposition unless alpha skips it. */
unsigned simrep__shape_prep(const simrep_options *opt)
{
    return opt->shape_alpha > 1 - SHAPE_TOL ? 0 : SIMREP__PREP_EIG;
}
