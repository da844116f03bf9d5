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
 * One side's covariance block C (k x k), rescaled as the reference does
 * (C / max|C|) and eigendecomposed once: the whitening of every CCA variant
 * and svcca's principal directions all read it, so each side costs one
 * dsyevd however many measures are asked for.  vecs == NULL means C was
 * diagonal (svcca's projected covariance) and vals are its diagonal.
 */
typedef struct side_eig {
    int64_t k;
    double scale; /* max |C_ij| */
    double *vals; /* eigenvalues of C / scale, descending, round-off negatives clamped to 0 */
    double *vecs; /* k x k, columns in the order of vals; NULL: identity */
} side_eig;

static void side_eig_free(simrep_ctx *ctx, side_eig *e)
{
    simrep__free(ctx, e->vals);
    simrep__free(ctx, e->vecs);
    memset(e, 0, sizeof *e);
}

static simrep_status side_eig_compute(simrep_ctx *ctx, const double *c, int64_t k, int64_t ld, side_eig *e)
{
    memset(e, 0, sizeof *e);
    e->k = k;
    e->scale = max_abs(c, k, k, ld);
    e->vals = simrep__alloc_array(ctx, (size_t)k, sizeof(double), "eigenvalues");
    double *a = e->vals ? simrep__alloc_array(ctx, (size_t)(k * k), sizeof(double), "eigenvectors") : NULL;
    double *w = a ? simrep__alloc_array(ctx, (size_t)k, sizeof(double), "eigenvalues") : NULL;
    e->vecs = w ? simrep__alloc_array(ctx, (size_t)(k * k), sizeof(double), "eigenvectors") : NULL;
    simrep_status st = e->vecs ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK && !(e->scale > 0))
        st = simrep__fail(ctx, SIMREP_E_DEGENERATE, "every feature has zero variance");
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < k; j++)
            for (int64_t i = 0; i < k; i++)
                a[i + j * k] = c[i + j * ld] / e->scale;
        st = simrep__syevd(ctx, k, a, k, w);
    }
    if (st == SIMREP_OK)
        for (int64_t j = 0; j < k; j++) { /* dsyevd's ascending order, reversed */
            e->vals[j] = w[k - 1 - j] > 0 ? w[k - 1 - j] : 0; /* SPEC step 2: clamp round-off negatives */
            memcpy(e->vecs + j * k, a + (k - 1 - j) * k, (size_t)k * sizeof(double));
        }
    simrep__free(ctx, a);
    simrep__free(ctx, w);
    if (st != SIMREP_OK)
        side_eig_free(ctx, e);
    return st;
}

/*
 * w = (C/scale + eps I)^(-1/2) from the eigendecomposition.  With eps == 0
 * (Ding's variant) eigenvalues <= 0 get an inverse of 0, as sim_metric does.
 */
static simrep_status whitening(simrep_ctx *ctx, const side_eig *e, double eps, double *w)
{
    const int64_t k = e->k;
    if (!e->vecs) {
        memset(w, 0, (size_t)(k * k) * sizeof(double));
        for (int64_t i = 0; i < k; i++)
            w[i + i * k] = e->vals[i] + eps > 0 ? 1.0 / sqrt(e->vals[i] + eps) : 0.0;
        return SIMREP_OK;
    }
    double *vs = simrep__alloc_array(ctx, (size_t)(k * k), sizeof(double), "whitening");
    if (!vs)
        return SIMREP_E_NOMEM;
    for (int64_t j = 0; j < k; j++) {
        double f = e->vals[j] + eps > 0 ? 1.0 / sqrt(e->vals[j] + eps) : 0.0;
        for (int64_t i = 0; i < k; i++)
            vs[i + j * k] = e->vecs[i + j * k] * f;
    }
    simrep_status st = simrep__gemm(ctx, 'N', 'T', k, k, k, 1.0, vs, k, e->vecs, k, 0.0, w, k);
    simrep__free(ctx, vs);
    return st;
}

/*
 * CCA of one side against the other from their eigendecompositions and the
 * cross-covariance cxy (ex->k x ey->k, column-major, leading dimension lxy;
 * not modified): rho = singular values of Wx (cxy / sqrt(sx sy)) Wy.
 */
static simrep_status cca_fit_compute(simrep_ctx *ctx, const side_eig *ex, const side_eig *ey, const double *cxy,
                                     int64_t lxy, double eps, int want_u, int want_wx, cca_fit *f)
{
    const int64_t kx = ex->k, ky = ey->k;
    memset(f, 0, sizeof *f);
    f->kx = kx;
    f->ky = ky;
    f->k = kx < ky ? kx : ky;
    const double sxym = sqrt(ex->scale) * sqrt(ey->scale);
    double *wx = simrep__alloc_array(ctx, (size_t)(kx * kx), sizeof(double), "CCA whitening");
    double *wy = wx ? simrep__alloc_array(ctx, (size_t)(ky * ky), sizeof(double), "CCA whitening") : NULL;
    double *a = wy ? simrep__alloc_array(ctx, (size_t)(kx * ky), sizeof(double), "CCA work") : NULL;
    double *t = a ? simrep__alloc_array(ctx, (size_t)(kx * ky), sizeof(double), "CCA work") : NULL;
    double *arr = t ? simrep__alloc_array(ctx, (size_t)(kx * ky), sizeof(double), "CCA matrix") : NULL;
    f->rho = arr ? simrep__alloc_array(ctx, (size_t)f->k, sizeof(double), "canonical correlations") : NULL;
    if (want_u && f->rho)
        f->u = simrep__alloc_array(ctx, (size_t)(kx * kx), sizeof(double), "CCA directions");
    simrep_status st = (!f->rho || (want_u && !f->u)) ? SIMREP_E_NOMEM : SIMREP_OK;
    if (st == SIMREP_OK)
        st = whitening(ctx, ex, eps, wx);
    if (st == SIMREP_OK)
        st = whitening(ctx, ey, eps, wy);
    if (st == SIMREP_OK) {
        /* t = (cxy / sqrt(sx sy)) Wy; arr = Wx t (column-major kx x ky, the
         * same matrix numpy hands to LAPACK). */
        for (int64_t j = 0; j < ky; j++)
            for (int64_t i = 0; i < kx; i++)
                a[i + j * kx] = cxy[i + j * lxy] / sxym;
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
    simrep__free(ctx, wx);
    simrep__free(ctx, wy);
    simrep__free(ctx, a);
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

/* The kept-feature covariance blocks and their eigendecompositions,
 * computed once per call. */
typedef struct kept_blocks {
    double *sxx, *syy, *sxy, *syx;
    side_eig ex, ey;
} kept_blocks;

static void kept_blocks_free(simrep_ctx *ctx, kept_blocks *b)
{
    side_eig_free(ctx, &b->ex);
    side_eig_free(ctx, &b->ey);
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
    simrep_status st = side_eig_compute(ctx, b->sxx, kp, kp, &b->ex);
    if (st == SIMREP_OK)
        st = side_eig_compute(ctx, b->syy, kq, kq, &b->ey);
    if (st != SIMREP_OK)
        kept_blocks_free(ctx, b);
    return st;
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
 * pwcca with google/svcca's weights.  es/sss are the smaller side's
 * eigendecomposition and covariance block, eo the other's, sso the cross
 * block (smaller side first); idx/off locate the smaller side's kept
 * features in the joint means.
 */
static simrep_status pwcca_google(simrep_ctx *ctx, const simrep__prepared *pr, const side_eig *es,
                                  const double *sss, const side_eig *eo, const double *sso, const int64_t *idx,
                                  int64_t off, double eps, const cca_fit *shared, simrep_result *r)
{
    const int64_t ks = es->k;
    /* The CCA with the smaller side first; shared when cca already made it. */
    cca_fit own = {0};
    simrep_status st = shared ? SIMREP_OK : cca_fit_compute(ctx, es, eo, sso, ks, eps, 1, 0, &own);
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
    const int64_t kp = pr->kp;
    cca_fit f;
    simrep_status st = cca_fit_compute(ctx, &b->ex, &b->ey, b->sxy, kp, 0.0, 1, 1, &f);
    if (st != SIMREP_OK)
        return st;
    /* Ding's data are unit-Frobenius: the scale cancels in the normalized
     * weights, and f.wx is in units of Cxx / max|Cxx|, so use the same units
     * for the covariance. */
    double *c = simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "pwcca work");
    double *t = c ? simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "pwcca work") : NULL;
    double *ip = t ? simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "pwcca work") : NULL;
    st = ip ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        for (int64_t i = 0; i < kp * kp; i++)
            c[i] = b->sxx[i] / b->ex.scale;
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
 * How many of a side's principal directions svcca keeps: exactly
 * svcca_dims (capped at k), or the fewest whose eigenvalues (variance rule)
 * or their square roots, the singular values of the centered data
 * (singular-value rule), reach svcca_keep of the total.  vals descending.
 */
static int64_t svcca_dims(const double *vals, int64_t k, const simrep_options *opt)
{
    if (opt->svcca_dims > 0)
        return opt->svcca_dims < k ? opt->svcca_dims : k;
    const int sv = opt->svcca_rule == SIMREP_SVCCA_SINGULAR_VALUES;
    double total = 0, run = 0;
    for (int64_t j = 0; j < k; j++)
        total += sv ? sqrt(vals[j]) : vals[j];
    for (int64_t j = 0; j < k; j++) {
        run += sv ? sqrt(vals[j]) : vals[j];
        if (run >= opt->svcca_keep * total)
            return j + 1;
    }
    return k;
}

/* The eigendecomposition of svcca's projected covariance: diagonal, the
 * top dims eigenvalues (in the side's rescaled units, rescaled again by the
 * largest so it matches side_eig_compute on the diagonal matrix). */
static simrep_status projected_eig(simrep_ctx *ctx, const side_eig *e, int64_t dims, side_eig *out)
{
    memset(out, 0, sizeof *out);
    out->k = dims;
    out->scale = e->vals[0] * e->scale;
    out->vals = simrep__alloc_array(ctx, (size_t)dims, sizeof(double), "svcca eigenvalues");
    if (!out->vals)
        return SIMREP_E_NOMEM;
    for (int64_t i = 0; i < dims; i++)
        out->vals[i] = e->vals[i] / e->vals[0];
    return SIMREP_OK;
}

static simrep_status svcca(simrep_ctx *ctx, const simrep__prepared *pr, const kept_blocks *b,
                           const simrep_options *opt, simrep_result *r)
{
    const int64_t kp = pr->kp, kq = pr->kq;
    const side_eig *ex = &b->ex, *ey = &b->ey;
    int64_t dx = svcca_dims(ex->vals, kp, opt), dy = svcca_dims(ey->vals, kq, opt);
    /* The reference's get_cca_similarity on the projections drops
     * components whose variance is below epsilon of the largest. */
    while (dx > 1 && !(ex->vals[dx - 1] > opt->epsilon * ex->vals[0]))
        dx--;
    while (dy > 1 && !(ey->vals[dy - 1] > opt->epsilon * ey->vals[0]))
        dy--;
    double *t = simrep__alloc_array(ctx, (size_t)(kp * dy), sizeof(double), "svcca work");
    double *cxy = t ? simrep__alloc_array(ctx, (size_t)(dx * dy), sizeof(double), "svcca work") : NULL;
    side_eig px = {0}, py = {0};
    cca_fit f = {0};
    simrep_status st = cxy ? SIMREP_OK : SIMREP_E_NOMEM;
    /* cxy = Vxᵀ Cxy Vy restricted to the kept directions. */
    if (st == SIMREP_OK)
        st = simrep__gemm(ctx, 'N', 'N', kp, dy, kq, 1.0, b->sxy, kp, ey->vecs, kq, 0.0, t, kp);
    if (st == SIMREP_OK)
        st = simrep__gemm(ctx, 'T', 'N', dx, dy, kp, 1.0, ex->vecs, kp, t, kp, 0.0, cxy, dx);
    if (st == SIMREP_OK)
        st = projected_eig(ctx, ex, dx, &px);
    if (st == SIMREP_OK)
        st = projected_eig(ctx, ey, dy, &py);
    /* cxy is in covariance units (the eigenvectors of C / scale are those of
     * C), as px and py's scales are. */
    if (st == SIMREP_OK)
        st = cca_fit_compute(ctx, &px, &py, cxy, dx, opt->epsilon, 0, 0, &f);
    if (st == SIMREP_OK) {
        double sum = 0;
        for (int64_t i = 0; i < f.k; i++)
            sum += f.rho[i];
        r->similarity = sum / (double)f.k;
        r->distance = 1 - r->similarity;
        r->dims_p = dx;
        r->dims_q = dy;
        st = copy_coefs(ctx, r, f.rho, f.k);
    }
    cca_fit_free(ctx, &f);
    side_eig_free(ctx, &px);
    side_eig_free(ctx, &py);
    simrep__free(ctx, t);
    simrep__free(ctx, cxy);
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
        st = cca_fit_compute(ctx, &b.ex, &b.ey, b.sxy, pr->kp, opt->epsilon, pwcca_on_x, 0, &f);
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
            else if (pwcca_on_x) /* smaller kept side first; ties: x */
                st = pwcca_google(ctx, pr, &b.ex, b.sxx, &b.ey, b.sxy, pr->kept, 0, opt->epsilon, &f, r);
            else
                st = pwcca_google(ctx, pr, &b.ey, b.syy, &b.ex, b.syx, pr->kept + pr->kp, pr->p, opt->epsilon,
                                  NULL, r);
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
