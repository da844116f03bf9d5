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
 *
 * Rank (docs/measures.md, "Directions at the data's rounding level").  A
 * direction of a side's kept covariance whose variance is at most
 * (noise_ulps u)^2 m2 (u the unit roundoff of the side's dtype, m2 the sum
 * of its kept features' mean squares) could be rounding error alone: by
 * Cauchy-Schwarz, errors of noise_ulps u |x| per element put at most that
 * much variance in any direction.  The ridge whitens such a direction like
 * any other, so its canonical correlation (and pwcca's weights, and their
 * signs) followed the order the rows were summed in; a LayerNorm's output
 * has one, x W with W of low rank several.  They are left out: whitening
 * factor 0, i.e. the data with those directions projected out, whose
 * canonical correlations are exactly 0 and still counted in k (what the
 * reference gives such data in exact arithmetic); svcca keeps no more
 * directions than the rest.  pwcca needs its singular vectors' signs
 * (above), and LAPACK's signs for a matrix with exact zero singular values
 * are themselves round-off (so are those of the reference's own matrix on
 * such data: its pwcca moved by 0.0025 with the summation order), so when
 * directions were left out each canonical direction is oriented by
 * convention instead: its largest entry positive (scikit-learn's
 * svd_flip); the weights see the data with the noise projected out of S's
 * scatter.  float64 data and
 * noise_ulps = 0 leave every direction in: the floor would be below what
 * the float64 eigendecomposition resolves (~1e-16 of the largest), and
 * the golden values are the reference's.  Rejected: thresholds relative
 * to the largest eigenvalue (a LayerNorm's noise direction sits at
 * u^2 m2, which the largest eigenvalue does not bound from below) and
 * counting only the directions left (k = rank): then a float32 copy of
 * float64 data would give another k and another mean.
 */
#include "linalg.h"
#include "measures.h"

#include <math.h>
#include <string.h>

typedef struct cca_fit {
    int64_t kx, ky, k;
    double *rho; /* k canonical correlations, descending */
    double *u;   /* kx x kx left singular vectors (column-major), if asked */
    double *vt;  /* ky x ky right singular vectors transposed (numpy's vh), with u */
} cca_fit;

static void cca_fit_free(simrep_ctx *ctx, cca_fit *f)
{
    simrep__free(ctx, f->rho);
    simrep__free(ctx, f->u);
    simrep__free(ctx, f->vt);
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
typedef struct simrep__side side_eig;
struct simrep__side {
    int64_t k;
    int64_t rank; /* the leading directions above the rounding floor (see "Rank"); the rest are noise */
    double scale; /* max |C_ij| */
    double *vals; /* eigenvalues of C / scale, descending, round-off negatives clamped to 0 */
    double *vecs; /* k x k, columns in the order of vals; NULL: identity */
};

static void side_eig_free(simrep_ctx *ctx, side_eig *e)
{
    simrep__free(ctx, e->vals);
    simrep__free(ctx, e->vecs);
    memset(e, 0, sizeof *e);
}

/* noise: the rounding floor in C's units (simrep__noise_floor), 0 for none. */
static simrep_status side_eig_compute(simrep_ctx *ctx, const double *c, int64_t k, int64_t ld, double noise,
                                      side_eig *e)
{
    memset(e, 0, sizeof *e);
    e->k = k;
    e->rank = k;
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
            e->vals[j] = w[k - 1 - j] > 0 ? w[k - 1 - j] : 0; /* docs/measures.md, CCA step 2: clamp round-off negatives */
            memcpy(e->vecs + j * k, a + (k - 1 - j) * k, (size_t)k * sizeof(double));
        }
    if (st == SIMREP_OK && noise > 0)
        while (e->rank > 0 && !(e->vals[e->rank - 1] > noise / e->scale))
            e->rank--;
    simrep__free(ctx, a);
    simrep__free(ctx, w);
    if (st != SIMREP_OK)
        side_eig_free(ctx, e);
    return st;
}

/* The whitening factor of one eigenvalue: (lambda + eps)^(-1/2), or with
 * eps == 0 (Ding's variant) 0 for lambda <= 0, as sim_metric does. */
static double whiten(double lambda, double eps)
{
    return lambda + eps > 0 ? 1.0 / sqrt(lambda + eps) : 0.0;
}

/* Direction j's whitening factor: 0 beyond the side's rank (see "Rank"),
 * else the reference's. */
static double factor(const side_eig *e, int64_t j, double eps)
{
    return j >= e->rank ? 0.0 : whiten(e->vals[j], eps);
}

double simrep__noise_floor(const simrep_options *opt, double unit, double m2)
{
    if (!(unit > 0x1p-53) || !(opt->noise_ulps > 0)) /* float64 (or nothing folded yet), or the rule is off */
        return 0;
    /* Coarser dtypes (float16, bfloat16) get float32's floor: their rounding
     * directions hold ~u^2 M, which the float64 arithmetic resolves (the
     * reference's values there move by 1e-10 with the row order, measured),
     * so simrep keeps them and gives the reference's numbers; only what
     * float64 cannot resolve reproducibly is left out. */
    const double e = opt->noise_ulps * (unit < 0x1p-24 ? unit : 0x1p-24);
    return e * e * m2;
}

/*
 * out = V1ᵀ a V2 (into the eigenbases, into = 1) or V1 a V2ᵀ (back, into =
 * 0), with a and out k1 x k2 column-major and V1, V2 the sides'
 * eigenvectors; a side without vectors is diagonal (V = I).
 */
static simrep_status change_basis(simrep_ctx *ctx, int into, const side_eig *e1, const side_eig *e2,
                                  const double *a, double *out)
{
    const int64_t k1 = e1->k, k2 = e2->k;
    double *tmp = NULL;
    const double *cur = a;
    simrep_status st = SIMREP_OK;
    if (e2->vecs) {
        tmp = simrep__alloc_array(ctx, (size_t)(k1 * k2), sizeof(double), "CCA work");
        st = tmp ? simrep__gemm(ctx, 'N', into ? 'N' : 'T', k1, k2, k2, 1.0, a, k1, e2->vecs, k2, 0.0, tmp, k1)
                 : SIMREP_E_NOMEM;
        cur = tmp;
    }
    if (st == SIMREP_OK) {
        if (e1->vecs)
            st = simrep__gemm(ctx, into ? 'T' : 'N', 'N', k1, k2, k1, 1.0, e1->vecs, k1, cur, k1, 0.0, out, k1);
        else
            memcpy(out, cur, (size_t)(k1 * k2) * sizeof(double));
    }
    simrep__free(ctx, tmp);
    return st;
}

/*
 * The cross-covariance in the two sides' eigenbases, shared by every CCA of
 * the call: t1 = Vxᵀ (Cxy / sqrt(sx sy)) Vy (kx x ky), with V = I for a
 * diagonal side.  Since Wx = Vx Fx Vxᵀ (F the whitening factors), the
 * reference's matrix is arr = Wx Cxy Wy = Vx (Fx t1 Fy) Vyᵀ, whose singular
 * values are those of Fx t1 Fy: two products serve cca, cca_r2, svcca (a
 * sub-block) and both pwcca variants.
 */
static simrep_status eigenbasis_cross(simrep_ctx *ctx, const side_eig *ex, const side_eig *ey, const double *cxy,
                                      int64_t lxy, double *t1)
{
    const int64_t kx = ex->k, ky = ey->k;
    const double s = 1.0 / (sqrt(ex->scale) * sqrt(ey->scale));
    double *a = simrep__alloc_array(ctx, (size_t)(kx * ky), sizeof(double), "CCA work");
    if (!a)
        return SIMREP_E_NOMEM;
    for (int64_t j = 0; j < ky; j++)
        for (int64_t i = 0; i < kx; i++)
            a[i + j * kx] = cxy[i + j * lxy] * s;
    simrep_status st = change_basis(ctx, 1, ex, ey, a, t1);
    simrep__free(ctx, a);
    return st;
}

/*
 * The left singular vectors of the zero canonical correlations (columns
 * kr .. k1 - 1 of u, k1 x k1) are any orthonormal basis of their subspace,
 * which LAPACK picks from round-off; pwcca's weights depend on the basis.
 * When directions were left out (see "Rank") the basis is fixed as the
 * principal directions of side 1's data within that subspace (the
 * eigenvectors of U_Zᵀ C1 U_Z, C1 side 1's covariance with its noise
 * projected out, by descending variance): its own noise directions come
 * last, the directions uncorrelated with side 2 first.
 */
static simrep_status canonical_null(simrep_ctx *ctx, const side_eig *e1, int64_t kr, double *u)
{
    const int64_t k = e1->k, m = k - kr;
    double *uz = u + kr * k;
    double *t = simrep__alloc_array(ctx, (size_t)(k * m), sizeof(double), "CCA directions");
    double *g = t ? simrep__alloc_array(ctx, (size_t)(m * m), sizeof(double), "CCA directions") : NULL;
    double *w = g ? simrep__alloc_array(ctx, (size_t)m, sizeof(double), "CCA directions") : NULL;
    double *q = w ? simrep__alloc_array(ctx, (size_t)(m * m), sizeof(double), "CCA directions") : NULL;
    simrep_status st = q ? simrep__gemm(ctx, 'T', 'N', k, m, k, 1.0, e1->vecs, k, uz, k, 0.0, t, k) : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) { /* t = diag(sqrt(lambda)) Vᵀ U_Z, so tᵀt = U_Zᵀ C1 U_Z */
        for (int64_t j = 0; j < m; j++)
            for (int64_t i = 0; i < k; i++)
                t[i + j * k] *= i < e1->rank ? sqrt(e1->vals[i]) : 0.0;
        st = simrep__gemm(ctx, 'T', 'N', m, m, k, 1.0, t, k, t, k, 0.0, g, m);
    }
    if (st == SIMREP_OK)
        st = simrep__syevd(ctx, m, g, m, w);
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < m; j++) /* descending */
            memcpy(q + j * m, g + (m - 1 - j) * m, (size_t)m * sizeof(double));
        st = simrep__gemm(ctx, 'N', 'N', k, m, m, 1.0, uz, k, q, m, 0.0, t, k);
    }
    if (st == SIMREP_OK)
        memcpy(uz, t, (size_t)(k * m) * sizeof(double));
    simrep__free(ctx, t);
    simrep__free(ctx, g);
    simrep__free(ctx, w);
    simrep__free(ctx, q);
    return st;
}

/*
 * CCA from the eigenbasis cross-covariance t1 (ex->k x ey->k, leading
 * dimension ldt; with y_first, the CCA of y against x from the same t1);
 * the sides' noise directions left out, their rho exactly 0 (see "Rank").
 * Without want_u only the canonical correlations are needed: the singular
 * values of Fx t1 Fy (dgesdd without vectors).  With want_u, pwcca needs the
 * left singular vectors with the signs LAPACK gives the reference's own
 * matrix, so arr = V1 (F1 t F2) V2ᵀ is formed as numpy would hand it to
 * dgesdd and decomposed with full U.
 */
static simrep_status cca_fit_compute(simrep_ctx *ctx, const side_eig *ex, const side_eig *ey, const double *t1,
                                     int64_t ldt, int y_first, double eps, int want_u, cca_fit *f)
{
    const side_eig *e1 = y_first ? ey : ex, *e2 = y_first ? ex : ey;
    const int64_t k1 = e1->k, k2 = e2->k;
    memset(f, 0, sizeof *f);
    f->kx = k1;
    f->ky = k2;
    f->k = k1 < k2 ? k1 : k2;
    double *a = simrep__alloc_array(ctx, (size_t)(k1 * k2), sizeof(double), "CCA matrix");
    f->rho = a ? simrep__alloc_array(ctx, (size_t)f->k, sizeof(double), "canonical correlations") : NULL;
    if (!f->rho) {
        simrep__free(ctx, a);
        return SIMREP_E_NOMEM;
    }
    for (int64_t j = 0; j < k2; j++) {
        const double f2 = factor(e2, j, eps);
        for (int64_t i = 0; i < k1; i++) {
            const double v = y_first ? t1[j + i * ldt] : t1[i + j * ldt];
            a[i + j * k1] = factor(e1, i, eps) * v * f2;
        }
    }
    simrep_status st;
    if (!want_u) {
        st = simrep__gesdd(ctx, 'N', k1, k2, a, k1, f->rho, NULL, 1, NULL, 1);
    } else {
        double *arr = simrep__alloc_array(ctx, (size_t)(k1 * k2), sizeof(double), "CCA matrix");
        f->vt = arr ? simrep__alloc_array(ctx, (size_t)(k2 * k2), sizeof(double), "CCA directions") : NULL;
        f->u = f->vt ? simrep__alloc_array(ctx, (size_t)(k1 * k1), sizeof(double), "CCA directions") : NULL;
        st = f->u ? change_basis(ctx, 0, e1, e2, a, arr) : SIMREP_E_NOMEM;
        /* Full U and Vᵀ as numpy.linalg.svd(full_matrices=True) asks. */
        if (st == SIMREP_OK)
            st = simrep__gesdd(ctx, 'A', k1, k2, arr, k1, f->rho, f->u, k1, f->vt, k2);
        simrep__free(ctx, arr);
    }
    simrep__free(ctx, a);
    const int64_t kr = e1->rank < e2->rank ? e1->rank : e2->rank;
    if (st == SIMREP_OK) /* rank <= min(rank1, rank2): the rest are zero, not round-off */
        for (int64_t i = kr; i < f->k; i++)
            f->rho[i] = 0;
    if (st == SIMREP_OK && want_u && kr < k1 && (e1->rank < k1 || e2->rank < k2))
        st = canonical_null(ctx, e1, kr, f->u);
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
    double *sxx, *syy, *sxy;
    side_eig ex, ey;
    int own_ex, own_ey; /* 0 when the eigendecomposition came with pr (shared by many pairs) */
    double *t1; /* kp x kq: the cross-covariance in the eigenbases (eigenbasis_cross) */
} kept_blocks;

static void kept_blocks_free(simrep_ctx *ctx, kept_blocks *b)
{
    if (b->own_ex)
        side_eig_free(ctx, &b->ex);
    if (b->own_ey)
        side_eig_free(ctx, &b->ey);
    simrep__free(ctx, b->sxx);
    simrep__free(ctx, b->syy);
    simrep__free(ctx, b->sxy);
    simrep__free(ctx, b->t1);
}

/* The rounding floor of one side's kept block c (k x k, covariance units)
 * from the pair's means (compare.c computes the same from the moments for
 * the shared decompositions). */
static double kept_noise(const simrep__prepared *pr, const double *c, int64_t k, const int64_t *idx, int64_t off,
                         double unit)
{
    const double shrink = (double)(pr->n - 1) / (double)pr->n; /* S / (n - 1) -> S / n */
    double m2 = 0;
    for (int64_t i = 0; i < k; i++) {
        const double mu = pr->mean[off + idx[i]];
        m2 += c[i + i * k] * shrink + mu * mu;
    }
    return simrep__noise_floor(pr->opt, unit, m2);
}

static simrep_status kept_blocks_make(simrep_ctx *ctx, const simrep__prepared *pr, kept_blocks *b)
{
    const int64_t kp = pr->kp, kq = pr->kq;
    const int64_t *ix = pr->kept, *iy = pr->kept + kp;
    memset(b, 0, sizeof *b);
    b->sxx = simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "covariance block");
    b->syy = b->sxx ? simrep__alloc_array(ctx, (size_t)(kq * kq), sizeof(double), "covariance block") : NULL;
    b->sxy = b->syy ? simrep__alloc_array(ctx, (size_t)(kp * kq), sizeof(double), "covariance block") : NULL;
    b->t1 = b->sxy ? simrep__alloc_array(ctx, (size_t)(kp * kq), sizeof(double), "covariance block") : NULL;
    if (!b->t1) {
        kept_blocks_free(ctx, b);
        return SIMREP_E_NOMEM;
    }
    gather_block(pr, ix, kp, 0, ix, kp, 0, b->sxx);
    gather_block(pr, iy, kq, pr->p, iy, kq, pr->p, b->syy);
    gather_block(pr, ix, kp, 0, iy, kq, pr->p, b->sxy);
    simrep_status st = SIMREP_OK;
    if (pr->side_x)
        b->ex = *pr->side_x;
    else if ((st = side_eig_compute(ctx, b->sxx, kp, kp, kept_noise(pr, b->sxx, kp, ix, 0, pr->unit_x), &b->ex)) ==
             SIMREP_OK)
        b->own_ex = 1;
    if (st == SIMREP_OK) {
        if (pr->side_y)
            b->ey = *pr->side_y;
        else if ((st = side_eig_compute(ctx, b->syy, kq, kq, kept_noise(pr, b->syy, kq, iy, pr->p, pr->unit_y),
                                        &b->ey)) == SIMREP_OK)
            b->own_ey = 1;
    }
    if (st == SIMREP_OK)
        st = eigenbasis_cross(ctx, &b->ex, &b->ey, b->sxy, kp, b->t1);
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
 * out = u (k x k) with each column's largest entry (in magnitude)
 * positive, scikit-learn's svd_flip convention: pwcca's signs when
 * directions were left out (see "Rank"), where LAPACK's are round-off.
 */
static void orient(const double *u, int64_t k, double *out)
{
    for (int64_t i = 0; i < k; i++) {
        double best = 0;
        for (int64_t r = 0; r < k; r++)
            if (fabs(u[r + i * k]) > fabs(best))
                best = u[r + i * k];
        const double sign = best < 0 ? -1.0 : 1.0;
        for (int64_t r = 0; r < k; r++)
            out[r + i * k] = sign * u[r + i * k];
    }
}

/*
 * The raw scatter the reference's data give S's kept columns: (n - 1) sss,
 * less the directions left out as rounding noise (see "Rank"), the data
 * with them projected out.
 */
static simrep_status pwcca_scatter(simrep_ctx *ctx, const side_eig *es, const double *sss, double nm1, double *scat)
{
    const int64_t k = es->k, m = es->k - es->rank;
    for (int64_t i = 0; i < k * k; i++)
        scat[i] = sss[i] * nm1;
    if (m == 0)
        return SIMREP_OK;
    double *p = simrep__alloc_array(ctx, (size_t)(k * m), sizeof(double), "pwcca work");
    if (!p)
        return SIMREP_E_NOMEM;
    const double *vd = es->vecs + es->rank * k;
    for (int64_t j = 0; j < m; j++)
        for (int64_t i = 0; i < k; i++)
            p[i + j * k] = vd[i + j * k] * es->vals[es->rank + j] * es->scale;
    simrep_status st = simrep__gemm(ctx, 'N', 'T', k, k, m, -nm1, p, k, vd, k, 1.0, scat, k);
    simrep__free(ctx, p);
    return st;
}

/*
 * pwcca with google/svcca's weights, the CCA taken with the smaller kept
 * side S first (y_first when that is y); shared is that CCA when the caller
 * already has it.
 */
static simrep_status pwcca_google(simrep_ctx *ctx, const simrep__prepared *pr, const kept_blocks *b, int y_first,
                                  double eps, const cca_fit *shared, simrep_result *r)
{
    const side_eig *es = y_first ? &b->ey : &b->ex;
    const double *sss = y_first ? b->syy : b->sxx;
    const int64_t *idx = y_first ? pr->kept + pr->kp : pr->kept;
    const int64_t off = y_first ? pr->p : 0, ks = es->k;
    cca_fit own = {0};
    simrep_status st =
        shared ? SIMREP_OK : cca_fit_compute(ctx, &b->ex, &b->ey, b->t1, pr->kp, y_first, eps, 1, &own);
    if (st != SIMREP_OK)
        return st;
    const cca_fit f = shared ? *shared : own;
    const int dropped = b->ex.rank < b->ex.k || b->ey.rank < b->ey.k;
    const double n = (double)pr->n, nm1 = (double)(pr->n - 1);
    double *scat = simrep__alloc_array(ctx, (size_t)(ks * ks), sizeof(double), "pwcca work");
    double *g = scat ? simrep__alloc_array(ctx, (size_t)(ks * ks), sizeof(double), "pwcca Gram") : NULL;
    double *mm = g ? simrep__alloc_array(ctx, (size_t)(ks * ks), sizeof(double), "pwcca work") : NULL;
    double *mu = mm ? simrep__alloc_array(ctx, (size_t)ks, sizeof(double), "pwcca means") : NULL;
    double *uo = mu && dropped ? simrep__alloc_array(ctx, (size_t)(ks * ks), sizeof(double), "pwcca directions")
                               : NULL;
    st = mu && (uo || !dropped) ? SIMREP_OK : SIMREP_E_NOMEM;
    const double *u = f.u;
    if (st == SIMREP_OK && dropped) { /* signs by convention (see "Rank") */
        orient(f.u, ks, uo);
        u = uo;
    }
    if (st == SIMREP_OK) {
        for (int64_t i = 0; i < ks; i++)
            mu[i] = pr->mean[off + idx[i]];
        st = pwcca_scatter(ctx, es, sss, nm1, scat);
    }
    if (st == SIMREP_OK) /* g = Scat U for now */
        st = simrep__gemm(ctx, 'N', 'N', ks, ks, ks, 1.0, scat, ks, u, ks, 0.0, g, ks);
    if (st == SIMREP_OK) {
        /* mm = Uᵀ Scat + n mu muᵀ = (Scat U)ᵀ + n mu muᵀ: the inner products
         * of the reference's dirns with its raw data columns. */
        for (int64_t j = 0; j < ks; j++)
            for (int64_t i = 0; i < ks; i++)
                mm[i + j * ks] = g[j + i * ks] + n * mu[i] * mu[j];
        /* scat <- Uᵀ (Scat U) + n mu muᵀ = dirns dirnsᵀ, the Gram of the QR. */
        st = simrep__gemm(ctx, 'T', 'N', ks, ks, ks, 1.0, u, ks, g, ks, 0.0, scat, ks);
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
    simrep__free(ctx, uo);
    cca_fit_free(ctx, &own);
    return st;
}

/*
 * pwcca with Ding et al.'s weights: row sums of |Uᵀ Wx Cxx| on x's side,
 * unregularized whitening (their cca_decomp).  Their data are
 * unit-Frobenius, a scale that cancels in the normalized weights; in the
 * eigenbasis Wx Cxx / sx = Vx diag(sqrt(lambda)) Vxᵀ (lambda > 0; 0 where
 * their inverse is 0).
 */
static simrep_status pwcca_ding(simrep_ctx *ctx, const simrep__prepared *pr, const kept_blocks *b, simrep_result *r)
{
    const int64_t kp = pr->kp;
    const side_eig *ex = &b->ex;
    cca_fit f;
    simrep_status st = cca_fit_compute(ctx, ex, &b->ey, b->t1, kp, 0, 0.0, 1, &f);
    if (st != SIMREP_OK)
        return st;
    double *t = simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "pwcca work");
    double *ip = t ? simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "pwcca work") : NULL;
    st = ip ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK)
        st = simrep__gemm(ctx, 'T', 'N', kp, kp, kp, 1.0, f.u, kp, ex->vecs, kp, 0.0, t, kp);
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < kp; j++) {
            const double g = ex->vals[j] > 0 && j < ex->rank ? sqrt(ex->vals[j]) : 0.0; /* projected out: 0 */
            for (int64_t i = 0; i < kp; i++)
                t[i + j * kp] *= g;
        }
        st = simrep__gemm(ctx, 'N', 'T', kp, kp, kp, 1.0, t, kp, ex->vecs, kp, 0.0, ip, kp);
    }
    if (st == SIMREP_OK)
        st = projection_weighted(ctx, ip, kp, f.rho, f.k, r);
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
    out->rank = dims;
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
    /* Never a direction of rounding noise (see "Rank"). */
    dx = dx < ex->rank ? dx : ex->rank;
    dy = dy < ey->rank ? dy : ey->rank;
    /* The reference's get_cca_similarity on the projections drops
     * components whose variance is below epsilon of the largest. */
    while (dx > 1 && !(ex->vals[dx - 1] > opt->epsilon * ex->vals[0]))
        dx--;
    while (dy > 1 && !(ey->vals[dy - 1] > opt->epsilon * ey->vals[0]))
        dy--;
    /* The projected cross-covariance is the top-left dx x dy block of t1
     * (eigenvectors in descending order), rescaled to the projected sides'
     * own maxima, the largest eigenvalues. */
    double *t1 = simrep__alloc_array(ctx, (size_t)(dx * dy), sizeof(double), "svcca work");
    side_eig px = {0}, py = {0};
    cca_fit f = {0};
    simrep_status st = t1 ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        const double s = 1.0 / (sqrt(ex->vals[0]) * sqrt(ey->vals[0]));
        for (int64_t j = 0; j < dy; j++)
            for (int64_t i = 0; i < dx; i++)
                t1[i + j * dx] = b->t1[i + j * kp] * s;
        st = projected_eig(ctx, ex, dx, &px);
    }
    if (st == SIMREP_OK)
        st = projected_eig(ctx, ey, dy, &py);
    if (st == SIMREP_OK)
        st = cca_fit_compute(ctx, &px, &py, t1, dx, 0, opt->epsilon, 0, &f);
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
    simrep__free(ctx, t1);
    return st;
}

/*
 * The work the family's measures share within one pair (the prepared
 * pair's CCA cache slot): the kept blocks in the eigenbases, and the CCA of
 * x against y, made by the first measure that needs it.  With the google
 * pwcca weights on x's side that CCA is also pwcca's (x first, full U), so
 * when pwcca is asked for in the same call U is computed once for both.
 */
typedef struct cca_cache {
    kept_blocks b;
    cca_fit f;
    int have_fit;
    int pwcca_on_x;
    unsigned warn;
    int64_t shrunk_x, shrunk_y; /* directions the ridge shrinks by > 1% (shrunk) */
} cca_cache;

void simrep__cca_cache_free(simrep_ctx *ctx, void *cache)
{
    cca_cache *c = cache;
    if (!c)
        return;
    cca_fit_free(ctx, &c->f);
    kept_blocks_free(ctx, &c->b);
    simrep__free(ctx, c);
}

/*
 * How far mixed-precision moments may move a canonical correlation: the
 * centred rows are rounded to float (relative error u = 2^-24), and to
 * first order the canonical correlations move by about u times the sum of
 * the two data matrices' condition numbers (Golub & Zha 1995), which are
 * the square roots of the kept covariance blocks' condition numbers, taken
 * with the ridge the whitening adds; 2u more for the single-precision
 * accumulation.  Measured errors stayed below this estimate on every input
 * tried (golden inputs, the bench's activations, and the conditioning
 * sweep in tests/python/test_precision.py).
 */
static double mixed_error_bound(const side_eig *ex, const side_eig *ey, double eps)
{
    const double u = 0x1p-24;
    const side_eig *e[2] = {ex, ey};
    double sum = 2;
    for (int s = 0; s < 2; s++) {
        const double top = e[s]->vals[0] + eps, low = e[s]->vals[e[s]->rank - 1] + eps; /* directions whitened */
        sum += low > 0 ? sqrt(top / low) : 1e300;
    }
    return u * sum;
}

/* The name of the dtype whose unit roundoff is u, for messages. */
static const char *unit_dtype(double u)
{
    return u == 0x1p-24 ? "float32" : u == 0x1p-11 ? "float16" : u == 0x1p-8 ? "bfloat16" : "float64";
}

/*
 * Kept directions whose canonical correlations the ridge shrinks by more
 * than 1%: against itself a direction of variance lambda (relative to the
 * largest feature variance, as epsilon) gets rho = lambda / (lambda + eps),
 * below 0.99 when lambda < 99 eps.  This is what made a file compared with
 * itself give cca 0.917 when its covariance's condition number was 1e14
 * (issue 10, item 19): those values are the ridge's, not the data's.
 * Only the leading span = n - 1 directions count: the others are zero
 * because n is small (SIMREP_WARN_FEW_SAMPLES_RANK says so).
 */
static int64_t shrunk(const side_eig *e, int64_t span, double eps)
{
    int64_t c = 0;
    for (int64_t j = 0; j < e->rank && j < span; j++)
        c += e->vals[j] < 99 * eps;
    return c;
}

static simrep_status cca_begin(simrep_ctx *ctx, simrep__prepared *pr, cca_cache **out)
{
    if ((*out = pr->cache[SIMREP_FAMILY_CCA]) != NULL)
        return SIMREP_OK;
    if (pr->kp == 0 || pr->kq == 0)
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, pr->kp == 0 ? 0 : 1,
                            "every one of its %lld features is constant (dead), so the CCA family is undefined", (long long)(pr->kp == 0 ? pr->p : pr->q));
    cca_cache *c = simrep__alloc(ctx, sizeof *c, "CCA work");
    if (!c)
        return SIMREP_E_NOMEM;
    memset(c, 0, sizeof *c);
    simrep_status st = kept_blocks_make(ctx, pr, &c->b);
    if (st != SIMREP_OK) {
        simrep__free(ctx, c);
        return st;
    }
    for (int s = 0; s < 2 && st == SIMREP_OK; s++) {
        const side_eig *e = s ? &c->b.ey : &c->b.ex;
        const double u = s ? pr->unit_y : pr->unit_x;
        if (e->rank == 0)
            st = simrep__fail_side(ctx, SIMREP_E_DEGENERATE, s,
                                   "every direction of its covariance is within %g units of the rounding of its %s "
                                   "data (noise_ulps), so the CCA family is undefined",
                                   pr->opt->noise_ulps, unit_dtype(u));
    }
    if (st != SIMREP_OK) {
        kept_blocks_free(ctx, &c->b);
        simrep__free(ctx, c);
        return st;
    }
    /* SPEC "Warnings": n < 10 x the kept features biases every rho toward 1. */
    if (pr->n < 10 * pr->kp)
        c->warn |= SIMREP_WARN_FEW_SAMPLES | SIMREP_WARN_FEW_SAMPLES_X;
    if (pr->n < 10 * pr->kq)
        c->warn |= SIMREP_WARN_FEW_SAMPLES | SIMREP_WARN_FEW_SAMPLES_Y;
    /* n <= kept: not a bias toward 1 but a bound, at most n - 1 rho != 0
     * (issue 10, item 19: a 50 x 200 file against itself gave cca 0.245). */
    if (pr->n <= pr->kp)
        c->warn |= SIMREP_WARN_FEW_SAMPLES_RANK | SIMREP_WARN_FEW_SAMPLES_RANK_X;
    if (pr->n <= pr->kq)
        c->warn |= SIMREP_WARN_FEW_SAMPLES_RANK | SIMREP_WARN_FEW_SAMPLES_RANK_Y;
    if (pr->kp < pr->p)
        c->warn |= SIMREP_WARN_DEAD_FEATURES | SIMREP_WARN_DEAD_X;
    if (pr->kq < pr->q)
        c->warn |= SIMREP_WARN_DEAD_FEATURES | SIMREP_WARN_DEAD_Y;
    /* Directions beyond the n - 1 the samples span are FEW_SAMPLES_RANK's
     * news: the rounding and ridge warnings speak of the others. */
    const int64_t span = pr->n - 1;
    if (c->b.ex.rank < c->b.ex.k && c->b.ex.rank < span)
        c->warn |= SIMREP_WARN_ROUNDING | SIMREP_WARN_ROUNDING_X;
    if (c->b.ey.rank < c->b.ey.k && c->b.ey.rank < span)
        c->warn |= SIMREP_WARN_ROUNDING | SIMREP_WARN_ROUNDING_Y;
    c->shrunk_x = shrunk(&c->b.ex, span, pr->opt->epsilon);
    c->shrunk_y = shrunk(&c->b.ey, span, pr->opt->epsilon);
    if (c->shrunk_x)
        c->warn |= SIMREP_WARN_RIDGE | SIMREP_WARN_RIDGE_X;
    if (c->shrunk_y)
        c->warn |= SIMREP_WARN_RIDGE | SIMREP_WARN_RIDGE_Y;
    if (pr->mixed && mixed_error_bound(&c->b.ex, &c->b.ey, pr->opt->epsilon) > 1e-6)
        c->warn |= SIMREP_WARN_MIXED_PRECISION;
    c->pwcca_on_x = pr->want && pr->want[SIMREP_PWCCA] && pr->opt->pwcca_variant == SIMREP_PWCCA_GOOGLE &&
                    pr->kp <= pr->kq;
    pr->cache[SIMREP_FAMILY_CCA] = c;
    *out = c;
    return SIMREP_OK;
}

/* The CCA of x against y (with U when pwcca shares it). */
static simrep_status cca_fit_get(simrep_ctx *ctx, simrep__prepared *pr, cca_cache *c)
{
    if (c->have_fit)
        return SIMREP_OK;
    simrep_status st = cca_fit_compute(ctx, &c->b.ex, &c->b.ey, c->b.t1, pr->kp, 0, pr->opt->epsilon, c->pwcca_on_x,
                                       &c->f);
    c->have_fit = st == SIMREP_OK;
    return st;
}

/* What every measure of the family reports besides its value. */
static void family_outputs(const simrep__prepared *pr, const cca_cache *c, simrep_result *r)
{
    r->kept_p = pr->kp;
    r->kept_q = pr->kq;
    r->rank_p = c->b.ex.rank;
    r->rank_q = c->b.ey.rank;
    r->shrunk_p = c->shrunk_x;
    r->shrunk_q = c->shrunk_y;
    r->warnings |= c->warn;
}

/* cca and cca_r2: the mean of rho^power over the k canonical correlations. */
static simrep_status cca_mean(simrep_ctx *ctx, simrep__prepared *pr, int power, simrep_result *r)
{
    cca_cache *c = NULL;
    simrep_status st = cca_begin(ctx, pr, &c);
    if (st == SIMREP_OK)
        st = cca_fit_get(ctx, pr, c);
    if (st != SIMREP_OK)
        return st;
    double s = 0;
    for (int64_t j = 0; j < c->f.k; j++)
        s += power == 1 ? c->f.rho[j] : c->f.rho[j] * c->f.rho[j];
    r->similarity = s / (double)c->f.k;
    r->distance = 1 - r->similarity;
    family_outputs(pr, c, r);
    return copy_coefs(ctx, r, c->f.rho, c->f.k);
}

simrep_status simrep__cca(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    simrep_status st = cca_mean(ctx, pr, 1, r);
    if (st == SIMREP_OK)
        r->reference_mean = reference_mean(r->coefs, r->ncoefs);
    return st;
}

simrep_status simrep__cca_r2(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    return cca_mean(ctx, pr, 2, r);
}

simrep_status simrep__svcca(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    cca_cache *c = NULL;
    simrep_status st = cca_begin(ctx, pr, &c);
    if (st == SIMREP_OK)
        st = svcca(ctx, pr, &c->b, pr->opt, r);
    if (st == SIMREP_OK)
        family_outputs(pr, c, r);
    return st;
}

simrep_status simrep__pwcca(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r)
{
    cca_cache *c = NULL;
    simrep_status st = cca_begin(ctx, pr, &c);
    if (st == SIMREP_OK && c->pwcca_on_x)
        st = cca_fit_get(ctx, pr, c);
    if (st != SIMREP_OK)
        return st;
    if (pr->opt->pwcca_variant == SIMREP_PWCCA_DING)
        st = pwcca_ding(ctx, pr, &c->b, r);
    else /* the smaller kept side first; ties: x */
        st = pwcca_google(ctx, pr, &c->b, !c->pwcca_on_x, pr->opt->epsilon, c->pwcca_on_x ? &c->f : NULL, r);
    if (st == SIMREP_OK)
        family_outputs(pr, c, r);
    return st;
}

/* W = V diag(whiten(lambda)) Vᵀ, the reference's invsqrt matrix (k x k). */
static simrep_status whitening_matrix(simrep_ctx *ctx, const side_eig *e, double eps, double *w)
{
    const int64_t k = e->k;
    double *vs = simrep__alloc_array(ctx, (size_t)(k * k), sizeof(double), "whitening");
    if (!vs)
        return SIMREP_E_NOMEM;
    for (int64_t j = 0; j < k; j++) {
        const double f = factor(e, j, eps);
        for (int64_t i = 0; i < k; i++)
            vs[i + j * k] = e->vecs[i + j * k] * f;
    }
    simrep_status st = simrep__gemm(ctx, 'N', 'T', k, k, k, 1.0, vs, k, e->vecs, k, 0.0, w, k);
    simrep__free(ctx, vs);
    return st;
}

void simrep_cca_details_clear(simrep_ctx *ctx, simrep_cca_details *d)
{
    if (!d)
        return;
    simrep__free(ctx, d->kept_x);
    simrep__free(ctx, d->kept_y);
    simrep__free(ctx, d->rho);
    simrep__free(ctx, d->u);
    simrep__free(ctx, d->vt);
    simrep__free(ctx, d->wx);
    simrep__free(ctx, d->wy);
    simrep__free(ctx, d->mean_x);
    simrep__free(ctx, d->mean_y);
    memset(d, 0, sizeof *d);
}

simrep_status simrep__cca_details(simrep_ctx *ctx, const simrep__prepared *pr, const simrep_options *opt,
                                  simrep_cca_details *d)
{
    memset(d, 0, sizeof *d);
    if (pr->kp == 0 || pr->kq == 0)
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, pr->kp == 0 ? 0 : 1,
                            "every one of its %lld features is constant (dead), so the CCA family is undefined", (long long)(pr->kp == 0 ? pr->p : pr->q));
    const int64_t kp = pr->kp, kq = pr->kq;
    kept_blocks b;
    simrep_status st = kept_blocks_make(ctx, pr, &b);
    if (st != SIMREP_OK)
        return st;
    cca_fit f = {0};
    st = cca_fit_compute(ctx, &b.ex, &b.ey, b.t1, kp, 0, opt->epsilon, 1, &f);
    d->p = pr->p;
    d->q = pr->q;
    d->kp = kp;
    d->kq = kq;
    d->k = f.k;
    if (st == SIMREP_OK) {
        d->kept_x = simrep__alloc_array(ctx, (size_t)kp, sizeof(int64_t), "kept features");
        d->kept_y = simrep__alloc_array(ctx, (size_t)kq, sizeof(int64_t), "kept features");
        d->wx = simrep__alloc_array(ctx, (size_t)(kp * kp), sizeof(double), "whitening");
        d->wy = simrep__alloc_array(ctx, (size_t)(kq * kq), sizeof(double), "whitening");
        d->mean_x = simrep__alloc_array(ctx, (size_t)pr->p, sizeof(double), "means");
        d->mean_y = simrep__alloc_array(ctx, (size_t)pr->q, sizeof(double), "means");
        if (!d->kept_x || !d->kept_y || !d->wx || !d->wy || !d->mean_x || !d->mean_y)
            st = simrep__fail(ctx, SIMREP_E_NOMEM, "out of memory for the CCA details");
    }
    if (st == SIMREP_OK)
        st = whitening_matrix(ctx, &b.ex, opt->epsilon, d->wx);
    if (st == SIMREP_OK)
        st = whitening_matrix(ctx, &b.ey, opt->epsilon, d->wy);
    if (st == SIMREP_OK) {
        memcpy(d->kept_x, pr->kept, (size_t)kp * sizeof(int64_t));
        memcpy(d->kept_y, pr->kept + kp, (size_t)kq * sizeof(int64_t));
        memcpy(d->mean_x, pr->mean, (size_t)pr->p * sizeof(double));
        memcpy(d->mean_y, pr->mean + pr->p, (size_t)pr->q * sizeof(double));
        d->rho = f.rho;
        d->u = f.u;
        d->vt = f.vt;
        memset(&f, 0, sizeof f);
    }
    cca_fit_free(ctx, &f);
    kept_blocks_free(ctx, &b);
    if (st != SIMREP_OK)
        simrep_cca_details_clear(ctx, d);
    return st;
}

simrep_status simrep__side_make(simrep_ctx *ctx, const double *cov, int64_t k, int64_t ld, double noise,
                                simrep__side **out)
{
    *out = simrep__alloc(ctx, sizeof **out, "eigendecomposition");
    if (!*out)
        return SIMREP_E_NOMEM;
    simrep_status st = side_eig_compute(ctx, cov, k, ld, noise, *out);
    if (st != SIMREP_OK) {
        simrep__free(ctx, *out);
        *out = NULL;
    }
    return st;
}

/* Flat state of a side: k, scale, rank, vals (k), vecs (k x k). */
int64_t simrep__side_state_len(const simrep__side *s)
{
    return 3 + s->k + s->k * s->k;
}

void simrep__side_save(const simrep__side *s, double *state)
{
    state[0] = (double)s->k;
    state[1] = s->scale;
    state[2] = (double)s->rank;
    memcpy(state + 3, s->vals, (size_t)s->k * sizeof(double));
    memcpy(state + 3 + s->k, s->vecs, (size_t)(s->k * s->k) * sizeof(double));
}

simrep_status simrep__side_load(simrep_ctx *ctx, const double *state, int64_t k, simrep__side **out)
{
    *out = NULL;
    if (state[0] != (double)k || !(state[1] > 0) || !isfinite(state[1]))
        return simrep__fail(ctx, SIMREP_E_INVALID, "eigendecomposition state does not match (%g features, expected %lld)",
                            state[0], (long long)k);
    if (!(state[2] >= 0 && state[2] <= (double)k && state[2] == floor(state[2])))
        return simrep__fail(ctx, SIMREP_E_FORMAT, "eigendecomposition state is corrupt (rank %g of %lld directions)",
                            state[2], (long long)k);
    for (int64_t i = 0; i < k + k * k; i++) /* eigenvalues (clamped to >= 0 when made), then vectors */
        if (!isfinite(state[3 + i]) || (i < k && state[3 + i] < 0))
            return simrep__fail(ctx, SIMREP_E_FORMAT, "eigendecomposition state is corrupt (value %lld is %g)",
                                (long long)(3 + i), state[3 + i]);
    simrep__side *s = simrep__alloc(ctx, sizeof *s, "eigendecomposition");
    if (!s)
        return SIMREP_E_NOMEM;
    memset(s, 0, sizeof *s);
    s->k = k;
    s->scale = state[1];
    s->rank = (int64_t)state[2];
    s->vals = simrep__alloc_array(ctx, (size_t)k, sizeof(double), "eigenvalues");
    s->vecs = s->vals ? simrep__alloc_array(ctx, (size_t)(k * k), sizeof(double), "eigenvectors") : NULL;
    if (!s->vecs) {
        simrep__side_free(ctx, s);
        return SIMREP_E_NOMEM;
    }
    memcpy(s->vals, state + 3, (size_t)k * sizeof(double));
    memcpy(s->vecs, state + 3 + k, (size_t)(k * k) * sizeof(double));
    *out = s;
    return SIMREP_OK;
}

void simrep__side_free(simrep_ctx *ctx, simrep__side *s)
{
    if (!s)
        return;
    side_eig_free(ctx, s);
    simrep__free(ctx, s);
}
