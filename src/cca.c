/*
 * cca.c: the CCA family from the joint covariance: cca, cca_r2, svcca,
 * pwcca (google/svcca weights and Ding et al.'s), all from moments.
 *
 * Canonical correlations follow google/svcca cca_core.get_cca_similarity
 * (Raghu et al. 2017), step by step, because users compare against it:
 *   1. rescale Sxx /= max|Sxx|, Syy /= max|Syy|, Sxy /= sqrt(both);
 *   2. W = (S + eps I)^(-1/2) by a symmetric eigendecomposition (dsyevd, as
 *      numpy's eigh); eigenvalues made negative by round-off are clamped to
 *      0 first, so W is never NaN (the reference takes pinv then sqrt and can
 *      produce NaN there);
 *   3. rho = singular values of Wx Sxy Wy (dgesdd, as numpy's svd).
 * The reference's pinv-then-sqrt and our direct inverse square root agree
 * to round-off for the positive definite matrix S + eps I.
 *
 * svcca projects each side on its top principal directions first (SVCCA,
 * Raghu et al. 2017): from moments the projected covariance is diagonal
 * (the eigenvalues) and the cross block is Vxᵀ Sxy Vy, so no data pass.
 *
 * pwcca (Morcos et al. 2018, reference pwcca.compute_pwcca) needs the data
 * only through n, the means and the scatter of the smaller side S:
 * dirns = Uᵀ(S_k - mu) + mu has Gram G = Uᵀ Scat U + n mu muᵀ = RᵀR, the QR
 * basis is P = dirnsᵀ R^-1 and Pᵀ s_j = R^-ᵀ (Uᵀ Scat + n mu muᵀ) e_j, so the
 * weights alpha_i = sum_j |Pᵀ s_j|_i come from one Cholesky and one
 * triangular solve.  The "+ mu" term makes the result depend on the signs
 * LAPACK gives U, which is why the matrix is formed and decomposed exactly as
 * the reference does, with the smaller side first.
 * Ding et al. 2021 (sim_metric pwcca_dist) weight by |Uᵀ Wx (XcᵀXc)| row
 * sums on x's side with an unregularized inverse square root.
 */
#include "linalg.h"
#include "measures.h"

#include <math.h>
#include <string.h>

typedef struct cca_fit {
    int64_t kx, ky, k;
    double *rho; /* k canonical correlations, descending */
    double *u;   /* kx x kx left singular vectors (column-major), if asked */
    double *wx;  /* kx x kx whitening of x (rescaled units), if asked */
} cca_fit;

static void cca_fit_free(simrep_ctx *ctx, cca_fit *f)
{
    simrep__free(ctx, f->rho);
    simrep__free(ctx, f->u);
    simrep__free(ctx, f->wx);
    memset(f, 0, sizeof *f);
}

static double max_abs(const double *a, int64_t rows, int64_t cols, int64_t ld)
{
    double m = 0;
    for (int64_t j = 0; j < cols; j++)
        for (int64_t i = 0; i < rows; i++)
            if (fabs(a[i + j * ld]) > m)
                m = fabs(a[i + j * ld]);
    return m;
}

/*
 * w = (s + eps I)^(-1/2), s k x k symmetric (overwritten).  With eps == 0
 * (Ding's variant) eigenvalues <= 0 get an inverse of 0, as sim_metric does.
 */
static simrep_status inverse_sqrt(simrep_ctx *ctx, double *s, int64_t k, double eps, double *w)
{
    double *lam = simrep__alloc_array(ctx, (size_t)k, sizeof(double), "eigenvalues");
    double *vs = lam ? simrep__alloc_array(ctx, (size_t)(k * k), sizeof(double), "eigenvectors") : NULL;
    simrep_status st = vs ? simrep__syevd(ctx, k, s, k, lam) : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < k; j++) {
            double l = lam[j] > 0 ? lam[j] : 0; /* round-off negatives: clamp (SPEC step 2) */
            double f = (l + eps) > 0 ? 1.0 / sqrt(l + eps) : 0.0;
            for (int64_t i = 0; i < k; i++)
                vs[i + j * k] = s[i + j * k] * f;
        }
        st = simrep__gemm(ctx, 'N', 'T', k, k, k, 1.0, vs, k, s, k, 0.0, w, k);
    }
    simrep__free(ctx, lam);
    simrep__free(ctx, vs);
    return st;
}

/*
 * CCA of covariance blocks sxx (kx x kx), syy (ky x ky), sxy (kx x ky), all
 * column-major with leading dimensions lx, ly, lxy (not modified).
 */
static simrep_status cca_fit_compute(simrep_ctx *ctx, const double *sxx, int64_t lx, int64_t kx, const double *syy,
                                     int64_t ly, int64_t ky, const double *sxy, int64_t lxy, double eps,
                                     int want_u, int want_wx, cca_fit *f)
{
    memset(f, 0, sizeof *f);
    f->kx = kx;
    f->ky = ky;
    f->k = kx < ky ? kx : ky;
    const double xmax = max_abs(sxx, kx, kx, lx), ymax = max_abs(syy, ky, ky, ly);
    if (!(xmax > 0) || !(ymax > 0))
        return simrep__fail(ctx, SIMREP_E_DEGENERATE, "%s: every feature has zero variance", xmax > 0 ? "y" : "x");
    const double sxym = sqrt(xmax) * sqrt(ymax);
    size_t big = (size_t)(kx > ky ? kx : ky);
    double *a = simrep__alloc_array(ctx, big * big, sizeof(double), "CCA work");
    double *wx = a ? simrep__alloc_array(ctx, (size_t)(kx * kx), sizeof(double), "CCA whitening") : NULL;
    double *wy = wx ? simrep__alloc_array(ctx, (size_t)(ky * ky), sizeof(double), "CCA whitening") : NULL;
    double *t = wy ? simrep__alloc_array(ctx, (size_t)(kx * ky), sizeof(double), "CCA work") : NULL;
    double *arr = t ? simrep__alloc_array(ctx, (size_t)(kx * ky), sizeof(double), "CCA matrix") : NULL;
    f->rho = arr ? simrep__alloc_array(ctx, (size_t)f->k, sizeof(double), "canonical correlations") : NULL;
    if (want_u && f->rho)
        f->u = simrep__alloc_array(ctx, (size_t)(kx * kx), sizeof(double), "CCA directions");
    simrep_status st = (!f->rho || (want_u && !f->u)) ? SIMREP_E_NOMEM : SIMREP_OK;
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < kx; j++)
            for (int64_t i = 0; i < kx; i++)
                a[i + j * kx] = sxx[i + j * lx] / xmax;
        st = inverse_sqrt(ctx, a, kx, eps, wx);
    }
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < ky; j++)
            for (int64_t i = 0; i < ky; i++)
                a[i + j * ky] = syy[i + j * ly] / ymax;
        st = inverse_sqrt(ctx, a, ky, eps, wy);
    }
    if (st == SIMREP_OK) {
        /* t = (sxy / sqrt(xmax ymax)) Wy; arr = Wx t (column-major kx x ky,
         * the same matrix numpy hands to LAPACK). */
        for (int64_t j = 0; j < ky; j++)
            for (int64_t i = 0; i < kx; i++)
                a[i + j * kx] = sxy[i + j * lxy] / sxym;
        st = simrep__gemm(ctx, 'N', 'N', kx, ky, ky, 1.0, a, kx, wy, ky, 0.0, t, kx);
    }
    if (st == SIMREP_OK)
        st = simrep__gemm(ctx, 'N', 'N', kx, ky, kx, 1.0, wx, kx, t, kx, 0.0, arr, kx);
    if (st == SIMREP_OK) {
        if (want_u) {
            /* Full U and Vᵀ as numpy.linalg.svd(full_matrices=True) asks. */
            double *vt = simrep__alloc_array(ctx, (size_t)(ky * ky), sizeof(double), "CCA directions");
            st = vt ? simrep__gesdd(ctx, 'A', kx, ky, arr, kx, f->rho, f->u, kx, vt, ky) : SIMREP_E_NOMEM;
            simrep__free(ctx, vt);
        } else {
            st = simrep__gesdd(ctx, 'N', kx, ky, arr, kx, f->rho, NULL, 1, NULL, 1);
        }
    }
    if (st == SIMREP_OK && want_wx) {
        f->wx = wx;
        wx = NULL;
    }
    simrep__free(ctx, a);
    simrep__free(ctx, wx);
    simrep__free(ctx, wy);
    simrep__free(ctx, t);
    simrep__free(ctx, arr);
    if (st != SIMREP_OK)
        cca_fit_free(ctx, f);
    return st;
}

/* Copy the kept sub-blocks of the joint covariance: rows idx_r (nr of them,
 * indices relative to offset off_r) x columns idx_c (relative to off_c). */
static void gather_block(const simrep__prepared *pr, const int64_t *idx_r, int64_t nr, int64_t off_r,
                         const int64_t *idx_c, int64_t nc, int64_t off_c, double *out)
{
    for (int64_t j = 0; j < nc; j++)
        for (int64_t i = 0; i < nr; i++)
            out[i + j * nr] = pr->cov[(off_r + idx_r[i]) + (off_c + idx_c[j]) * pr->d];
}

/* The kept-feature covariance blocks, gathered once. */
typedef struct kept_blocks {
    double *sxx, *syy, *sxy, *syx;
} kept_blocks;

static void kept_blocks_free(simrep_ctx *ctx, kept_blocks *b)
{
    simrep__free(ctx, b->sxx);
    simrep__free(ctx, b->syy);
    simrep__free(ctx, b->sxy);
    simrep__free(ctx, b->syx);
}

static simrep_status kept_blocks_make(simrep_ctx *ctx, const simrep__prepared *pr, kept_blocks *b)
{
    const int64_t kp = pr->kp, kq = pr->kq;
    const int64_t *ix = pr->kept, *iy = pr->kept + kp;
    memset(b, 0, sizeof *b);
    b->sxx = simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "covariance block");
    b->syy = b->sxx ? simrep__alloc_array(ctx, (size_t)(kq * kq), sizeof(double), "covariance block") : NULL;
    b->sxy = b->syy ? simrep__alloc_array(ctx, (size_t)(kp * kq), sizeof(double), "covariance block") : NULL;
    b->syx = b->sxy ? simrep__alloc_array(ctx, (size_t)(kp * kq), sizeof(double), "covariance block") : NULL;
    if (!b->syx) {
        kept_blocks_free(ctx, b);
        return SIMREP_E_NOMEM;
    }
    gather_block(pr, ix, kp, 0, ix, kp, 0, b->sxx);
    gather_block(pr, iy, kq, pr->p, iy, kq, pr->p, b->syy);
    gather_block(pr, ix, kp, 0, iy, kq, pr->p, b->sxy);
    gather_block(pr, iy, kq, pr->p, ix, kp, 0, b->syx);
    return SIMREP_OK;
}

/* google/svcca's summary "mean": the mean of the leading rho whose sum first
 * reaches threshold (0.98) of the total, as cca_core.sum_threshold. */
static double reference_mean(const double *rho, int64_t k)
{
    const double threshold = 0.98;
    double total = 0;
    for (int64_t i = 0; i < k; i++)
        total += rho[i];
    int64_t upto = k;
    if (total > 0) {
        double run = 0;
        for (int64_t i = 0; i < k; i++) {
            if (run / total >= threshold) {
                upto = i;
                break;
            }
            run += rho[i];
        }
    }
    if (upto == 0)
        upto = k;
    double s = 0;
    for (int64_t i = 0; i < upto; i++)
        s += rho[i];
    return s / (double)upto;
}

static simrep_status copy_coefs(simrep_ctx *ctx, simrep_result *r, const double *rho, int64_t k)
{
    r->coefs = simrep__alloc_array(ctx, (size_t)k, sizeof(double), "canonical correlations");
    if (!r->coefs)
        return SIMREP_E_NOMEM;
    memcpy(r->coefs, rho, (size_t)k * sizeof(double));
    r->ncoefs = k;
    return SIMREP_OK;
}

/*
 * The projection weighting both pwcca variants share: alpha_i = sum_j |m_ij|
 * over the k x k matrix m (row i: canonical direction i against the data's
 * columns), normalized over all k rows; the first dim weights multiply the
 * canonical correlations rho (dim <= k; Ding's pwcca_dist keeps
 * min(len(weights), len(rho))).  Fills similarity, distance, coefs, weights.
 */
static simrep_status projection_weighted(simrep_ctx *ctx, const double *m, int64_t k, const double *rho,
                                         int64_t dim, simrep_result *r)
{
    r->weights = simrep__alloc_array(ctx, (size_t)dim, sizeof(double), "pwcca weights");
    simrep_status st = r->weights ? copy_coefs(ctx, r, rho, dim) : SIMREP_E_NOMEM;
    if (st != SIMREP_OK)
        return st;
    double total = 0, sim = 0;
    for (int64_t i = 0; i < k; i++) {
        double a = 0;
        for (int64_t j = 0; j < k; j++)
            a += fabs(m[i + j * k]);
        if (i < dim)
            r->weights[i] = a;
        total += a;
    }
    if (!(total > 0))
        return simrep__fail(ctx, SIMREP_E_DEGENERATE, "pwcca: every projection weight is zero");
    for (int64_t i = 0; i < dim; i++) {
        r->weights[i] /= total;
        sim += r->weights[i] * rho[i];
    }
    r->similarity = sim;
    r->distance = 1 - sim;
    return SIMREP_OK;
}

/*
 * pwcca with google/svcca's weights.  s_* are the smaller side's blocks
 * (first), o_* the other's; idx/off locate the smaller side's kept features
 * in the joint means.
 */
static simrep_status pwcca_google(simrep_ctx *ctx, const simrep__prepared *pr, const double *sss, int64_t ks,
                                  const double *soo, int64_t ko, const double *sso, const int64_t *idx, int64_t off,
                                  double eps, const cca_fit *shared, simrep_result *r)
{
    /* The CCA with the smaller side first; shared when cca already made it. */
    cca_fit own = {0};
    simrep_status st = shared ? SIMREP_OK : cca_fit_compute(ctx, sss, ks, ks, soo, ko, ko, sso, ks, eps, 1, 0, &own);
    if (st != SIMREP_OK)
        return st;
    const cca_fit f = shared ? *shared : own;
    const double n = (double)pr->n, nm1 = (double)(pr->n - 1);
    double *scat = simrep__alloc_array(ctx, (size_t)(ks * ks), sizeof(double), "pwcca work");
    double *g = scat ? simrep__alloc_array(ctx, (size_t)(ks * ks), sizeof(double), "pwcca Gram") : NULL;
    double *mm = g ? simrep__alloc_array(ctx, (size_t)(ks * ks), sizeof(double), "pwcca work") : NULL;
    double *mu = mm ? simrep__alloc_array(ctx, (size_t)ks, sizeof(double), "pwcca means") : NULL;
    st = mu ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        for (int64_t i = 0; i < ks; i++)
            mu[i] = pr->mean[off + idx[i]];
        for (int64_t i = 0; i < ks * ks; i++)
            scat[i] = sss[i] * nm1; /* back to the raw scatter the reference's data give */
        /* g = Scat U for now */
        st = simrep__gemm(ctx, 'N', 'N', ks, ks, ks, 1.0, scat, ks, f.u, ks, 0.0, g, ks);
    }
    if (st == SIMREP_OK) {
        /* mm = Uᵀ Scat + n mu muᵀ = (Scat U)ᵀ + n mu muᵀ: the inner products
         * of the reference's dirns with its raw data columns. */
        for (int64_t j = 0; j < ks; j++)
            for (int64_t i = 0; i < ks; i++)
                mm[i + j * ks] = g[j + i * ks] + n * mu[i] * mu[j];
        /* scat <- Uᵀ (Scat U) + n mu muᵀ = dirns dirnsᵀ, the Gram of the QR. */
        st = simrep__gemm(ctx, 'T', 'N', ks, ks, ks, 1.0, f.u, ks, g, ks, 0.0, scat, ks);
    }
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < ks; j++)
            for (int64_t i = 0; i < ks; i++)
                scat[i + j * ks] += n * mu[i] * mu[j];
        memcpy(g, scat, (size_t)(ks * ks) * sizeof(double));
        st = simrep__potrf(ctx, ks, scat, ks, "the Gram matrix of the pwcca directions");
    }
    if (st == SIMREP_E_NUMERIC) {
        /* The directions are linearly dependent (n <= k, or duplicated
         * features): the reference's QR would complete the basis with
         * arbitrary vectors.  mm lies in the range of the Gram matrix, so a
         * ridge of 1e-12 of its largest diagonal (far below any direction
         * the data span, far above round-off) gives the limit value.  Only
         * taken when the plain Cholesky fails, so well-posed data are exact. */
        double dmax = 0;
        for (int64_t i = 0; i < ks; i++)
            dmax = g[i + i * ks] > dmax ? g[i + i * ks] : dmax;
        memcpy(scat, g, (size_t)(ks * ks) * sizeof(double));
        for (int64_t i = 0; i < ks; i++)
            scat[i + i * ks] += 1e-12 * dmax;
        st = simrep__potrf(ctx, ks, scat, ks, "the Gram matrix of the pwcca directions");
    }
    if (st == SIMREP_OK)
        st = simrep__trsm_upper(ctx, 'T', ks, ks, scat, ks, mm, ks); /* mm <- R^-ᵀ mm = Pᵀ S_raw */
    if (st == SIMREP_OK)
        st = projection_weighted(ctx, mm, ks, f.rho, ks, r);
    simrep__free(ctx, scat);
    simrep__free(ctx, g);
    simrep__free(ctx, mm);
    simrep__free(ctx, mu);
    cca_fit_free(ctx, &own);
    return st;
}

/* pwcca with Ding et al.'s weights: row sums of |Uᵀ Wx Cxx| on x's side,
 * unregularized whitening (their cca_decomp). */
static simrep_status pwcca_ding(simrep_ctx *ctx, const simrep__prepared *pr, const kept_blocks *b, simrep_result *r)
{
    const int64_t kp = pr->kp, kq = pr->kq;
    cca_fit f;
    simrep_status st = cca_fit_compute(ctx, b->sxx, kp, kp, b->syy, kq, kq, b->sxy, kp, 0.0, 1, 1, &f);
    if (st != SIMREP_OK)
        return st;
    /* Ding's data are unit-Frobenius: the scale cancels in the normalized
     * weights, and cca_fit's wx is in units of Cxx / max|Cxx|, so use the
     * same units for the covariance. */
    const double xmax = max_abs(b->sxx, kp, kp, kp);
    double *c = simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "pwcca work");
    double *t = c ? simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "pwcca work") : NULL;
    double *ip = t ? simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "pwcca work") : NULL;
    st = ip ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        for (int64_t i = 0; i < kp * kp; i++)
            c[i] = b->sxx[i] / xmax;
        st = simrep__gemm(ctx, 'N', 'N', kp, kp, kp, 1.0, f.wx, kp, c, kp, 0.0, t, kp);
    }
    if (st == SIMREP_OK)
        st = simrep__gemm(ctx, 'T', 'N', kp, kp, kp, 1.0, f.u, kp, t, kp, 0.0, ip, kp);
    if (st == SIMREP_OK)
        st = projection_weighted(ctx, ip, kp, f.rho, f.k, r);
    simrep__free(ctx, c);
    simrep__free(ctx, t);
    simrep__free(ctx, ip);
    cca_fit_free(ctx, &f);
    return st;
}

/*
 * Principal directions of one side for svcca: eigendecomposition of its
 * kept covariance block c (k x k), returning the number of directions kept
 * and, in vecs (k x k, columns by descending eigenvalue), the directions;
 * lam gets the eigenvalues in the same order.
 */
static simrep_status svcca_directions(simrep_ctx *ctx, const double *c, int64_t k, const simrep_options *opt,
                                      double *vecs, double *lam, int64_t *dims)
{
    double *a = simrep__alloc_array(ctx, (size_t)(k * k), sizeof(double), "svcca work");
    double *w = a ? simrep__alloc_array(ctx, (size_t)k, sizeof(double), "svcca eigenvalues") : NULL;
    simrep_status st = w ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        memcpy(a, c, (size_t)(k * k) * sizeof(double));
        st = simrep__syevd(ctx, k, a, k, w);
    }
    if (st == SIMREP_OK) {
        /* Descending order; clamp round-off negatives to 0. */
        for (int64_t j = 0; j < k; j++) {
            lam[j] = w[k - 1 - j] > 0 ? w[k - 1 - j] : 0;
            memcpy(vecs + j * k, a + (k - 1 - j) * k, (size_t)k * sizeof(double));
        }
        int64_t keep = k;
        if (opt->svcca_dims > 0) {
            keep = opt->svcca_dims < k ? opt->svcca_dims : k;
        } else {
            /* Variance rule: eigenvalues of the covariance are the variances
             * along the principal directions.  Singular-value rule: the
             * singular values of the centered data are their square roots. */
            double total = 0, run = 0;
            for (int64_t j = 0; j < k; j++)
                total += opt->svcca_rule == SIMREP_SVCCA_SINGULAR_VALUES ? sqrt(lam[j]) : lam[j];
            for (int64_t j = 0; j < k; j++) {
                run += opt->svcca_rule == SIMREP_SVCCA_SINGULAR_VALUES ? sqrt(lam[j]) : lam[j];
                if (run >= opt->svcca_keep * total) {
                    keep = j + 1;
                    break;
                }
            }
        }
        *dims = keep;
    }
    simrep__free(ctx, a);
    simrep__free(ctx, w);
    return st;
}

static simrep_status svcca(simrep_ctx *ctx, const simrep__prepared *pr, const kept_blocks *b,
                           const simrep_options *opt, simrep_result *r)
{
    const int64_t kp = pr->kp, kq = pr->kq;
    double *vx = simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "svcca directions");
    double *vy = vx ? simrep__alloc_array(ctx, (size_t)(kq * kq), sizeof(double), "svcca directions") : NULL;
    double *lx = vy ? simrep__alloc_array(ctx, (size_t)kp, sizeof(double), "svcca eigenvalues") : NULL;
    double *ly = lx ? simrep__alloc_array(ctx, (size_t)kq, sizeof(double), "svcca eigenvalues") : NULL;
    double *t = ly ? simrep__alloc_array(ctx, (size_t)(kp * kq), sizeof(double), "svcca work") : NULL;
    double *cxy = t ? simrep__alloc_array(ctx, (size_t)(kp * kq), sizeof(double), "svcca work") : NULL;
    double *dxx = cxy ? simrep__calloc_array(ctx, (size_t)(kp * kp), sizeof(double), "svcca work") : NULL;
    double *dyy = dxx ? simrep__calloc_array(ctx, (size_t)(kq * kq), sizeof(double), "svcca work") : NULL;
    int64_t dx = 0, dy = 0;
    cca_fit f = {0};
    simrep_status st = dyy ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK)
        st = svcca_directions(ctx, b->sxx, kp, opt, vx, lx, &dx);
    if (st == SIMREP_OK)
        st = svcca_directions(ctx, b->syy, kq, opt, vy, ly, &dy);
    if (st == SIMREP_OK) {
        /* The reference's get_cca_similarity on the projections drops
         * components whose variance is below epsilon of the largest. */
        while (dx > 1 && !(lx[dx - 1] > opt->epsilon * lx[0]))
            dx--;
        while (dy > 1 && !(ly[dy - 1] > opt->epsilon * ly[0]))
            dy--;
        /* cxy = Vxᵀ Cxy Vy restricted to the kept directions. */
        st = simrep__gemm(ctx, 'N', 'N', kp, dy, kq, 1.0, b->sxy, kp, vy, kq, 0.0, t, kp);
    }
    if (st == SIMREP_OK)
        st = simrep__gemm(ctx, 'T', 'N', dx, dy, kp, 1.0, vx, kp, t, kp, 0.0, cxy, dx);
    if (st == SIMREP_OK) {
        for (int64_t i = 0; i < dx; i++)
            dxx[i + i * dx] = lx[i];
        for (int64_t i = 0; i < dy; i++)
            dyy[i + i * dy] = ly[i];
        st = cca_fit_compute(ctx, dxx, dx, dx, dyy, dy, dy, cxy, dx, opt->epsilon, 0, 0, &f);
    }
    if (st == SIMREP_OK) {
        double s = 0;
        for (int64_t i = 0; i < f.k; i++)
            s += f.rho[i];
        r->similarity = s / (double)f.k;
        r->distance = 1 - r->similarity;
        r->dims_p = dx;
        r->dims_q = dy;
        st = copy_coefs(ctx, r, f.rho, f.k);
    }
    cca_fit_free(ctx, &f);
    simrep__free(ctx, vx);
    simrep__free(ctx, vy);
    simrep__free(ctx, lx);
    simrep__free(ctx, ly);
    simrep__free(ctx, t);
    simrep__free(ctx, cxy);
    simrep__free(ctx, dxx);
    simrep__free(ctx, dyy);
    return st;
}

simrep_status simrep__cca_family(simrep_ctx *ctx, const simrep__prepared *pr, const simrep_options *opt,
                                 const simrep_measure *measures, int count, simrep_result *results)
{
    int want[SIMREP_MEASURE_COUNT] = {0};
    for (int i = 0; i < count; i++)
        want[measures[i]] = 1;
    if (!want[SIMREP_CCA] && !want[SIMREP_CCA_R2] && !want[SIMREP_SVCCA] && !want[SIMREP_PWCCA])
        return SIMREP_OK;
    if (pr->kp == 0 || pr->kq == 0)
        return simrep__fail(ctx, SIMREP_E_DEGENERATE,
                            "%s: every one of its %lld features is constant (dead), so the CCA family is undefined",
                            pr->kp == 0 ? "x" : "y", (long long)(pr->kp == 0 ? pr->p : pr->q));
    kept_blocks b;
    simrep_status st = kept_blocks_make(ctx, pr, &b);
    if (st != SIMREP_OK)
        return st;
    unsigned warn = 0;
    int64_t kmax = pr->kp > pr->kq ? pr->kp : pr->kq;
    if (pr->n < 10 * kmax)
        warn |= SIMREP_WARN_FEW_SAMPLES;
    if (pr->kp < pr->p || pr->kq < pr->q)
        warn |= SIMREP_WARN_DEAD_FEATURES;

    /* The CCA of x against y; with the google pwcca weights on x's side it
     * is also pwcca's CCA (x first, full U), so compute U once for both. */
    cca_fit f = {0};
    const int pwcca_on_x = want[SIMREP_PWCCA] && opt->pwcca_variant == SIMREP_PWCCA_GOOGLE && pr->kp <= pr->kq;
    if (want[SIMREP_CCA] || want[SIMREP_CCA_R2] || pwcca_on_x)
        st = cca_fit_compute(ctx, b.sxx, pr->kp, pr->kp, b.syy, pr->kq, pr->kq, b.sxy, pr->kp, opt->epsilon,
                             pwcca_on_x, 0, &f);
    for (int i = 0; i < count && st == SIMREP_OK; i++) {
        simrep_result *r = &results[i];
        switch (measures[i]) {
        case SIMREP_CCA:
        case SIMREP_CCA_R2: {
            double s = 0;
            for (int64_t j = 0; j < f.k; j++)
                s += measures[i] == SIMREP_CCA ? f.rho[j] : f.rho[j] * f.rho[j];
            r->similarity = s / (double)f.k;
            r->distance = 1 - r->similarity;
            if (measures[i] == SIMREP_CCA)
                r->reference_mean = reference_mean(f.rho, f.k);
            st = copy_coefs(ctx, r, f.rho, f.k);
            break;
        }
        case SIMREP_SVCCA:
            st = svcca(ctx, pr, &b, opt, r);
            break;
        case SIMREP_PWCCA:
            if (opt->pwcca_variant == SIMREP_PWCCA_DING)
                st = pwcca_ding(ctx, pr, &b, r);
            else if (pr->kp <= pr->kq) /* smaller kept side first; ties: x */
                st = pwcca_google(ctx, pr, b.sxx, pr->kp, b.syy, pr->kq, b.sxy, pr->kept, 0, opt->epsilon, &f, r);
            else
                st = pwcca_google(ctx, pr, b.syy, pr->kq, b.sxx, pr->kp, b.syx, pr->kept + pr->kp, pr->p,
                                  opt->epsilon, NULL, r);
            break;
        default:
            continue;
        }
        r->kept_p = pr->kp;
        r->kept_q = pr->kq;
        r->warnings |= warn;
    }
    cca_fit_free(ctx, &f);
    kept_blocks_free(ctx, &b);
    return st;
}
