/*
 * procrustes.c: orthogonal Procrustes similarity and distances from moments
 * (Ding, Denain & Steinhardt 2021; Williams et al. 2021).
 *
 * With Xc, Yc centered and scaled to unit Frobenius norm, the best
 * orthogonal alignment leaves |Xc - Yc Q|_F^2 = 2 - 2 |XcᵀYc|_* (nuclear
 * norm), so similarity = |Sxy|_* / sqrt(tr Sxx tr Syy) needs only the
 * singular values of the p x q cross-scatter (dgesdd without vectors); p
 * and q may differ.  procrustes distance = 2 - 2 sim (Ding et al.'s squared
 * distance); procrustes_angular = arccos(sim) (Williams et al.'s metric).
 * sim <= 1 holds exactly (Cauchy-Schwarz for the nuclear norm); round-off
 * can push it a few ulps above 1, where arccos would be NaN, so it is
 * clamped to [0, 1] (it is a sum of singular values, so never negative).
 */
#include "linalg.h"
#include "measures.h"

#include <math.h>

static simrep_status procrustes(simrep_ctx *ctx, const simrep__prepared *pr, int angular, simrep_result *r)
{
    const int64_t p = pr->p, q = pr->q, k = p < q ? p : q;
    if (!(pr->tr_sxx > 0) || !(pr->tr_syy > 0))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, pr->tr_sxx > 0 ? 1 : 0, "every feature is constant, so Procrustes is undefined");
    double *a = simrep__alloc_array(ctx, (size_t)(p * q), sizeof(double), "Procrustes cross-covariance");
    double *s = a ? simrep__alloc_array(ctx, (size_t)k, sizeof(double), "singular values") : NULL;
    simrep_status st = s ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        const double scale = (double)(pr->n - 1);
        for (int64_t j = 0; j < q; j++)
            for (int64_t i = 0; i < p; i++)
                a[i + j * p] = pr->cov[i + (p + j) * pr->d] * scale;
        st = simrep__gesdd(ctx, 'N', p, q, a, p, s, NULL, 1, NULL, 1);
    }
    if (st == SIMREP_OK) {
        double nuc = 0;
        for (int64_t i = 0; i < k; i++)
            nuc += s[i];
        double sim = nuc / (sqrt(pr->tr_sxx) * sqrt(pr->tr_syy));
        if (sim > 1)
            sim = 1;
        r->similarity = sim;
        r->distance = angular ? acos(sim) : 2 - 2 * sim;
    }
    simrep__free(ctx, a);
    simrep__free(ctx, s);
    return st;
}

simrep_status simrep__procrustes(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    return procrustes(ctx, pr, 0, r);
}

simrep_status simrep__procrustes_angular(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    return procrustes(ctx, pr, 1, r);
}
