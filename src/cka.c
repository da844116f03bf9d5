/*
 * cka.c: linear CKA and debiased linear CKA from moments (Kornblith,
 * Norouzi, Lee & Hinton 2019; reference: their demo notebook's
 * feature_space_linear_cka).
 *
 *   cka = |Sxy|_F^2 / (|Sxx|_F |Syy|_F),  S the centered scatter blocks.
 * The feature-space form is used (p x q products, never n x n): it is the
 * same number as the Gram-matrix form <HKH, HLH> / (|HKH| |HLH|) for the
 * linear kernel.
 *
 * Debiased: the unbiased HSIC estimator of Song et al. (2012), exactly as
 * the notebook's _debiased_dot_product_similarity_helper:
 *   h(x, y) = |Sxy|^2 - n/(n-2) sum_i a_i b_i + tr(Sxx) tr(Syy) / ((n-1)(n-2))
 * with a_i = |x_i - mu_x|^2, b_i = |y_i - mu_y|^2, streamed by moments.c;
 * cka_debiased = h(x, y) / sqrt(h(x, x) h(y, y)).  It can be negative and is
 * reported as computed.  h(x, x) <= 0 (possible for tiny n or near-constant
 * data) would make the notebook return NaN; here it is an error that says so.
 *
 * Angular: cka_angular's distance is arccos(cka), the angle between the
 * centred Gram matrices XcXcᵀ and YcYcᵀ as vectors (Williams et al. 2021;
 * netrep's LinearCKA, angular_distance of the two Gram matrices), which
 * is a metric; cka <= 1 is exact (Cauchy-Schwarz), so round-off above 1 is
 * clamped before the arccos.
 */
#include "measures.h"

#include <math.h>

/* Frobenius norm squared of the block rows [r0, r0+nr) x cols [c0, c0+nc)
 * of the full joint covariance, scaled back to the scatter. */
static double block_fro2(const simrep__prepared *pr, int64_t r0, int64_t nr, int64_t c0, int64_t nc)
{
    double s = 0, scale = (double)(pr->n - 1);
    for (int64_t j = 0; j < nc; j++)
        for (int64_t i = 0; i < nr; i++) {
            double v = pr->cov[(r0 + i) + (c0 + j) * pr->d] * scale;
            s += v * v;
        }
    return s;
}

static simrep_status cka_linear(simrep_ctx *ctx, const simrep__prepared *pr, int debiased, simrep_result *r)
{
    const int64_t p = pr->p, q = pr->q;
    double xy = block_fro2(pr, 0, p, p, q);
    double xx = block_fro2(pr, 0, p, 0, p);
    double yy = block_fro2(pr, p, q, p, q);
    if (!(pr->tr_sxx > 0) || !(pr->tr_syy > 0) || !(xx > 0) || !(yy > 0))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, pr->tr_sxx > 0 && xx > 0 ? 1 : 0, "every feature is constant, so %s is undefined", debiased ? "cka_debiased" : "CKA");
    if (!debiased) {
        r->similarity = xy / (sqrt(xx) * sqrt(yy));
        r->distance = 1 - r->similarity;
        return SIMREP_OK;
    }
    if (pr->n < 4)
        return simrep__fail(ctx, SIMREP_E_DEGENERATE, "cka_debiased needs n >= 4 samples (got %lld)",
                            (long long)pr->n);
    const double n = (double)pr->n, c1 = n / (n - 2), c2 = 1.0 / ((n - 1) * (n - 2));
    double hxy = xy - c1 * pr->t_ab + pr->tr_sxx * pr->tr_syy * c2;
    double hxx = xx - c1 * pr->t_aa + pr->tr_sxx * pr->tr_sxx * c2;
    double hyy = yy - c1 * pr->t_bb + pr->tr_syy * pr->tr_syy * c2;
    if (!(hxx > 0) || !(hyy > 0))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, hxx > 0 ? 1 : 0,
                            "the debiased HSIC of the data with itself is %g (not positive), so cka_debiased is "
                            "undefined (too few samples or constant features)", hxx > 0 ? hyy : hxx);
    r->similarity = hxy / (sqrt(hxx) * sqrt(hyy));
    r->distance = 1 - r->similarity;
    return SIMREP_OK;
}

simrep_status simrep__cka(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    return cka_linear(ctx, pr, 0, r);
}

simrep_status simrep__cka_debiased(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    return cka_linear(ctx, pr, 1, r);
}

/* Lange et al. 2023 (repsim's AngularCKA, use_unbiased_hsic=True): the
 * centered Gram matrices HKH, HLH with their diagonals set to zero, then
 * the cosine between them.  With a_i = |x~_i|^2 (the diagonal of HKH) and
 * <HKH, HLH> = |Sxy|^2, that is (|Sxy|^2 - Σ a_i b_i) /
 * sqrt((|Sxx|^2 - Σ a_i^2)(|Syy|^2 - Σ b_i^2)): the row sums cka_debiased
 * streams, without Song's n/(n-2) weight and trace term.  The distance is
 * the angle, as repsim reports it. */
simrep_status simrep__cka_lange(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    const int64_t p = pr->p, q = pr->q;
    const double xy = block_fro2(pr, 0, p, p, q) - pr->t_ab;
    const double xx = block_fro2(pr, 0, p, 0, p) - pr->t_aa;
    const double yy = block_fro2(pr, p, q, p, q) - pr->t_bb;
    if (!(xx > 0) || !(yy > 0))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, xx > 0 ? 1 : 0,
                            "the centered Gram matrix without its diagonal is 0 (%g), so cka_lange is undefined "
                            "(constant features, or n = 2)", xx > 0 ? yy : xx);
    const double s = xy / (sqrt(xx) * sqrt(yy));
    r->similarity = s > 1 ? 1 : s < -1 ? -1 : s; /* Cauchy-Schwarz, up to round-off */
    r->distance = acos(r->similarity);
    return SIMREP_OK;
}

simrep_status simrep__cka_angular(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    simrep_status st = cka_linear(ctx, pr, 0, r);
    if (st == SIMREP_OK) {
        r->similarity = r->similarity > 1 ? 1 : r->similarity;
        r->distance = acos(r->similarity);
    }
    return st;
}
