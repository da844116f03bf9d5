/*
 * dftcca.c: DFT-CCA of two conv layers (Raghu et al. 2017, SVCCA, section
 * 4 "Scaling SVCCA for convolutional layers"; google/svcca
 * dft_ccas.fourier_ccas): the 2-D DFT over space of every image's channel
 * maps, then one complex CCA per spatial frequency between the N x p and
 * N x q matrices of coefficients.  simrep.h documents the definition, the
 * aggregate and the resizing (fft_resize's common low frequencies).
 *
 * Streaming.  Per computed frequency f the state is the joint complex mean
 * (p+q) and Hermitian scatter S_f = sum (z - mean)(z - mean)ᴴ of
 * z = [x^(f); y^(f)], folded in block by block with the pairwise update of
 * Chan, Golub & LeVeque (as moments.c, with δδᴴ for δδᵀ).  A block of
 * images is transformed with FFTW's real-to-complex 2-D plans (one plan per
 * side, all channels at once, NHWC strides); x^(u, v) for v past the half
 * spectrum is the conjugate of x^(-u, -v).  The block's scatter comes from
 * one real DSYRK of [Re Z | Im Z] (k x 2(p+q)): ZᴴZ = (ZrᵀZr + ZiᵀZi) +
 * i (ZrᵀZi - ZiᵀZr), so no complex BLAS is needed.
 *
 * CCA.  A complex Hermitian A = R + iI is handled through its real
 * embedding [[R, -I], [I, R]], which is symmetric, has every eigenvalue of
 * A twice, and maps products to products; so the whitening (Cxx + eps I)^-½
 * is the embedding of the complex one, and the singular values of the
 * embedded Wx Cxy Wy are the canonical correlations, each twice (pairs are
 * averaged; they agree to round-off).  This costs 8x a native complex
 * zheevd/zgesdd but reuses linalg.c's dsyevd and dgesdd wrappers.
 * Symmetry: the coefficients at -f are the conjugates of those at f, which
 * conjugates every covariance and leaves rho unchanged, so a pair (f, -f)
 * is computed once and counted twice.  After resizing, f and -f are only
 * partners if both sides' grids make them conjugate (frequency -m/2 of a
 * larger grid is not the conjugate of anything kept): partner() checks.
 *
 * Scale: as moments.c ("Scale"), each side's state is kept in units of
 * 2^expo[s], the images multiplied by 2^-expo[s] before their transform
 * (exact, and the DFT is linear), so maps near 1e300 or 1e-300 neither
 * overflow nor underflow, and maps in [2^-100, 2^100] are never rescaled.
 */
#include "linalg.h"
#include "measures.h"

#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <string.h>

struct simrep_dftcca {
    int64_t h[2], w[2], c[2]; /* x, y */
    int64_t d;                /* p + q */
    int64_t gh, gw;           /* common grid */
    int64_t nf;               /* computed frequencies */
    int64_t *fu, *fv;
    int *count;
    int64_t n;
    double *mean;             /* nf x 2d: re (d) then im (d) */
    double *sre, *sim;        /* nf x d x d, full, column-major */
    fftw_plan plan[2];
    double *in[2];
    fftw_complex *out[2];
    int64_t sub;              /* images per internal block */
    double *z;                /* nf x sub x 2d */
    double *g;                /* (2d)^2 */
    double *bmean;            /* 2d */
    int expo[2];              /* side s's state is in units of 2^expo[s] */
    double mag[2];            /* a bound on side s's largest pixel seen, in those units */
};

#define SCALE_MAX_EXP 100 /* the window of moments.c */

static int exponent_of(double v)
{
    return v > 0 ? ilogb(v) : INT_MIN;
}

/* 2^e applied to v, for any int e (ldexp only when e != 0: the common case
 * costs nothing). */
static double scaled(double v, int e)
{
    return e ? ldexp(v, e) : v;
}

/* Express side s's state in units of 2^(expo[s] + shift). */
static void rescale_side(simrep_dftcca *d, int s, int shift)
{
    if (shift == 0)
        return;
    const int64_t dd = d->d, lo = s ? d->c[0] : 0, hi = s ? dd : d->c[0];
    for (int64_t f = 0; f < d->nf; f++) {
        double *mu = d->mean + f * 2 * dd, *sr = d->sre + f * dd * dd, *si = d->sim + f * dd * dd;
        for (int64_t j = lo; j < hi; j++) {
            mu[j] = ldexp(mu[j], -shift);
            mu[dd + j] = ldexp(mu[dd + j], -shift);
        }
        for (int64_t l = 0; l < dd; l++)
            for (int64_t j = 0; j < dd; j++) {
                const int times = (j >= lo && j < hi) + (l >= lo && l < hi);
                if (times) {
                    sr[j + l * dd] = ldexp(sr[j + l * dd], -times * shift);
                    si[j + l * dd] = ldexp(si[j + l * dd], -times * shift);
                }
            }
    }
    d->mag[s] = ldexp(d->mag[s], -shift);
    d->expo[s] += shift;
}

/* Before folding images whose largest raw magnitude on side s is raw[s]:
 * keep each side's largest magnitude inside [2^-100, 2^100) of its units. */
static void adapt_scales(simrep_dftcca *d, const double raw[2])
{
    for (int s = 0; s < 2; s++) {
        const int eb = raw[s] > 0 ? exponent_of(raw[s]) - d->expo[s] : INT_MIN, es = exponent_of(d->mag[s]);
        const int top = eb > es ? eb : es;
        if (top != INT_MIN && (top >= SCALE_MAX_EXP || top < -SCALE_MAX_EXP))
            rescale_side(d, s, top);
        if (raw[s] > 0) {
            const double b = ldexp(raw[s], -d->expo[s]);
            d->mag[s] = b > d->mag[s] ? b : d->mag[s];
        }
    }
}

/* The signed frequency of fft index i of an m-point grid (np.fft.fftfreq(m, 1/m)). */
static int64_t freq_of(int64_t i, int64_t m)
{
    return i < (m + 1) / 2 ? i : i - m;
}

static int64_t index_of(int64_t f, int64_t m)
{
    return f >= 0 ? f : f + m;
}

/* The kept frequency conjugate to f on both sides' grids (sizes a, b,
 * common m), or 0 with *ok = 0 if there is none. */
static int64_t partner(int64_t f, int64_t m, int64_t a, int64_t b, int *ok)
{
    int64_t c = -f;
    if (c > (m + 1) / 2 - 1)
        c -= m;
    *ok = (c + f) % a == 0 && (c + f) % b == 0;
    return c;
}

void simrep_dftcca_free(simrep_ctx *ctx, simrep_dftcca *d)
{
    if (!d)
        return;
    for (int s = 0; s < 2; s++) {
        if (d->plan[s])
            fftw_destroy_plan(d->plan[s]);
        simrep__free(ctx, d->in[s]);
        simrep__free(ctx, d->out[s]);
    }
    simrep__free(ctx, d->fu);
    simrep__free(ctx, d->fv);
    simrep__free(ctx, d->count);
    simrep__free(ctx, d->mean);
    simrep__free(ctx, d->sre);
    simrep__free(ctx, d->sim);
    simrep__free(ctx, d->z);
    simrep__free(ctx, d->g);
    simrep__free(ctx, d->bmean);
    simrep__free(ctx, d);
}

simrep_status simrep_dftcca_new(simrep_ctx *ctx, int64_t hx, int64_t wx, int64_t p, int64_t hy, int64_t wy,
                                int64_t q, simrep_dftcca **out)
{
    if (!ctx || !out)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_dftcca_new: invalid arguments");
    *out = NULL;
    const int64_t lim = (int64_t)1 << 24;
    if (hx < 1 || wx < 1 || p < 1 || hy < 1 || wy < 1 || q < 1 || hx > lim || wx > lim || hy > lim || wy > lim ||
        p > lim || q > lim || hx * wx > lim || hy * wy > lim)
        return simrep__fail(ctx, SIMREP_E_INVALID, "dftcca: maps %lld x %lld x %lld and %lld x %lld x %lld out of range",
                            (long long)hx, (long long)wx, (long long)p, (long long)hy, (long long)wy, (long long)q);
    simrep_dftcca *d = simrep__alloc(ctx, sizeof *d, "DFT-CCA");
    if (!d)
        return SIMREP_E_NOMEM;
    memset(d, 0, sizeof *d);
    d->h[0] = hx, d->w[0] = wx, d->c[0] = p;
    d->h[1] = hy, d->w[1] = wy, d->c[1] = q;
    d->d = p + q;
    d->gh = hx < hy ? hx : hy;
    d->gw = wx < wy ? wx : wy;
    const int64_t grid = d->gh * d->gw, dd = d->d;
    d->fu = simrep__alloc_array(ctx, (size_t)grid, sizeof(int64_t), "DFT-CCA frequencies");
    d->fv = simrep__alloc_array(ctx, (size_t)grid, sizeof(int64_t), "DFT-CCA frequencies");
    d->count = simrep__alloc_array(ctx, (size_t)grid, sizeof(int), "DFT-CCA frequencies");
    if (!d->fu || !d->fv || !d->count) {
        simrep_dftcca_free(ctx, d);
        return SIMREP_E_NOMEM;
    }
    for (int64_t a = 0; a < d->gh; a++)
        for (int64_t b = 0; b < d->gw; b++) {
            const int64_t u = freq_of(a, d->gh), v = freq_of(b, d->gw);
            int oku, okv;
            const int64_t cu = partner(u, d->gh, hx, hy, &oku), cv = partner(v, d->gw, wx, wy, &okv);
            int cnt = 1;
            if (oku && okv && (cu != u || cv != v)) {
                if (index_of(cu, d->gh) * d->gw + index_of(cv, d->gw) < a * d->gw + b)
                    continue; /* its partner came first */
                cnt = 2;
            }
            d->fu[d->nf] = u, d->fv[d->nf] = v, d->count[d->nf] = cnt;
            d->nf++;
        }
    /* Internal blocks: about 4 Mi doubles of coefficients. */
    d->sub = ((int64_t)1 << 22) / (d->nf * 2 * dd);
    d->sub = d->sub < 1 ? 1 : d->sub > 256 ? 256 : d->sub;
    d->mean = simrep__calloc_array(ctx, (size_t)(d->nf * 2 * dd), sizeof(double), "DFT-CCA means");
    d->sre = d->mean ? simrep__calloc_array(ctx, (size_t)(d->nf * dd), (size_t)dd * sizeof(double), "DFT-CCA scatter") : NULL;
    d->sim = d->sre ? simrep__calloc_array(ctx, (size_t)(d->nf * dd), (size_t)dd * sizeof(double), "DFT-CCA scatter") : NULL;
    d->z = d->sim ? simrep__alloc_array(ctx, (size_t)(d->nf * d->sub * 2), (size_t)dd * sizeof(double), "DFT-CCA block") : NULL;
    d->g = d->z ? simrep__alloc_array(ctx, (size_t)(4 * dd), (size_t)dd * sizeof(double), "DFT-CCA block") : NULL;
    d->bmean = d->g ? simrep__alloc_array(ctx, (size_t)(2 * dd), sizeof(double), "DFT-CCA block") : NULL;
    simrep_status st = d->bmean ? SIMREP_OK : SIMREP_E_NOMEM;
    for (int s = 0; s < 2 && st == SIMREP_OK; s++) {
        const int64_t h = d->h[s], w = d->w[s], c = d->c[s];
        d->in[s] = simrep__alloc_array(ctx, (size_t)(h * w * c), sizeof(double), "DFT-CCA image");
        d->out[s] = d->in[s] ? simrep__alloc_array(ctx, (size_t)(h * (w / 2 + 1) * c), sizeof(fftw_complex),
                                                   "DFT-CCA spectrum")
                             : NULL;
        if (!d->out[s]) {
            st = SIMREP_E_NOMEM;
            break;
        }
        int n[2] = {(int)h, (int)w};
        d->plan[s] = fftw_plan_many_dft_r2c(2, n, (int)c, d->in[s], NULL, (int)c, 1, d->out[s], NULL, (int)c, 1,
                                            FFTW_ESTIMATE | FFTW_UNALIGNED);
        if (!d->plan[s])
            st = simrep__fail(ctx, SIMREP_E_NUMERIC, "dftcca: FFTW could not plan a %lld x %lld transform",
                              (long long)h, (long long)w);
    }
    if (st != SIMREP_OK) {
        simrep_dftcca_free(ctx, d);
        return st;
    }
    *out = d;
    return SIMREP_OK;
}

/* x^(u, v) of channel ch of side s's last transform. */
static void coef(const simrep_dftcca *d, int s, int64_t u, int64_t v, int64_t ch, double *re, double *im)
{
    const int64_t h = d->h[s], w = d->w[s], c = d->c[s], wh = w / 2 + 1;
    int64_t a = ((u % h) + h) % h, b = ((v % w) + w) % w;
    double sign = 1.0;
    if (b >= wh) {
        a = (h - a) % h;
        b = (w - b) % w;
        sign = -1.0;
    }
    const fftw_complex *o = d->out[s] + (a * wh + b) * c + ch;
    *re = (*o)[0];
    *im = sign * (*o)[1];
}

/* Fold the k images in d->z into the state (pairwise update). */
static simrep_status fold(simrep_ctx *ctx, simrep_dftcca *d, int64_t k)
{
    const int64_t dd = d->d, d2 = 2 * dd, na = d->n;
    for (int64_t f = 0; f < d->nf; f++) {
        double *z = d->z + f * d->sub * d2;
        double *bm = d->bmean;
        /* The block mean about the first image (as moments.c): a coefficient
         * that is the same in every image has exactly that mean and zero
         * scatter. */
        memset(bm, 0, (size_t)d2 * sizeof(double));
        for (int64_t i = 1; i < k; i++)
            for (int64_t j = 0; j < d2; j++)
                bm[j] += z[i * d2 + j] - z[j];
        for (int64_t j = 0; j < d2; j++)
            bm[j] = z[j] + bm[j] / (double)k;
        for (int64_t i = 0; i < k; i++)
            for (int64_t j = 0; j < d2; j++)
                z[i * d2 + j] -= bm[j];
        /* z row-major k x 2d is column-major 2d x k: G = z zᵀ-as-columns = ZᵀZ. */
        simrep_status st = simrep__syrk(ctx, 'N', d2, k, 1.0, z, d2, 0.0, d->g, d2);
        if (st != SIMREP_OK)
            return st;
        double *mu = d->mean + f * d2, *sr = d->sre + f * dd * dd, *si = d->sim + f * dd * dd;
        const double wgt = na ? (double)na * (double)k / (double)(na + k) : 0.0;
#define G(r, c) ((r) <= (c) ? d->g[(r) + (c) * d2] : d->g[(c) + (r) * d2])
        for (int64_t l = 0; l < dd; l++)
            for (int64_t j = 0; j < dd; j++) {
                /* S_jl = sum conj(z_j) z_l: re = rr + ii, im = r_j i_l - i_j r_l */
                const double re = G(j, l) + G(dd + j, dd + l);
                const double im = G(j, dd + l) - G(dd + j, l);
                const double dr_j = bm[j] - mu[j], di_j = bm[dd + j] - mu[dd + j];
                const double dr_l = bm[l] - mu[l], di_l = bm[dd + l] - mu[dd + l];
                sr[j + l * dd] += re + wgt * (dr_j * dr_l + di_j * di_l);
                si[j + l * dd] += im + wgt * (dr_j * di_l - di_j * dr_l);
            }
#undef G
        const double frac = (double)k / (double)(na + k);
        for (int64_t j = 0; j < d2; j++)
            mu[j] += (bm[j] - mu[j]) * frac;
    }
    d->n += k;
    return SIMREP_OK;
}

simrep_status simrep_dftcca_update(simrep_ctx *ctx, simrep_dftcca *d, const simrep_matrix *x,
                                   const simrep_matrix *y)
{
    if (!ctx || !d)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_dftcca_update: invalid arguments");
    simrep_status st = simrep__check_xy(ctx, x, y, NULL);
    if (st != SIMREP_OK)
        return st;
    const simrep_matrix *m[2] = {x, y};
    for (int s = 0; s < 2; s++)
        if (m[s]->cols != d->h[s] * d->w[s] * d->c[s])
            return simrep__fail_side(ctx, SIMREP_E_SHAPE, s ? 1 : 0, "%lld columns, expected h*w*c = %lld x %lld x %lld", (long long)m[s]->cols, (long long)d->h[s], (long long)d->w[s],
                                (long long)d->c[s]);
    if (x->rows != y->rows)
        return simrep__fail_rows(ctx, 1, 2, x->rows, y->rows, "images");
    const int64_t dd = d->d, d2 = 2 * dd;
    if (x->rows > SIMREP__MAX_SAMPLES - d->n)
        return simrep__fail(ctx, SIMREP_E_INVALID, "dftcca: more than 2^53 images");
    /* Check every value first so that an error leaves the state unchanged. */
    double raw[2] = {0, 0};
    for (int s = 0; s < 2; s++)
        for (int64_t i = 0; i < m[s]->rows; i++)
            for (int64_t j = 0; j < m[s]->cols; j++) {
                const double v = simrep__element(m[s], i, j);
                if (!isfinite(v))
                    return simrep__fail_side(ctx, SIMREP_E_NONFINITE, s ? 1 : 0, "image %lld holds NaN or Inf (element %lld)", (long long)(d->n + i), (long long)j);
                raw[s] = fabs(v) > raw[s] ? fabs(v) : raw[s];
            }
    adapt_scales(d, raw);
    for (int64_t r0 = 0; r0 < x->rows; r0 += d->sub) {
        const int64_t k = x->rows - r0 < d->sub ? x->rows - r0 : d->sub;
        if (simrep__cancel_requested(ctx))
            return simrep__cancelled(ctx);
        for (int64_t i = 0; i < k; i++) {
            for (int s = 0; s < 2; s++) {
                simrep_matrix row = *m[s];
                row.data = (const unsigned char *)m[s]->data +
                           (size_t)((r0 + i) * m[s]->row_stride) * simrep_dtype_size(m[s]->dtype);
                row.rows = 1;
                simrep_matrix_to_double(&row, d->in[s], row.cols);
                if (d->expo[s] != 0)
                    for (int64_t j = 0; j < row.cols; j++)
                        d->in[s][j] = ldexp(d->in[s][j], -d->expo[s]);
                fftw_execute(d->plan[s]);
            }
            for (int64_t f = 0; f < d->nf; f++) {
                double *zr = d->z + (f * d->sub + i) * d2;
                for (int s = 0, off = 0; s < 2; off += (int)d->c[s], s++)
                    for (int64_t ch = 0; ch < d->c[s]; ch++)
                        coef(d, s, d->fu[f], d->fv[f], ch, &zr[off + ch], &zr[dd + off + ch]);
            }
        }
        if ((st = fold(ctx, d, k)) != SIMREP_OK)
            return st;
    }
    return SIMREP_OK;
}

/* Merging and the flat state (MPI ranks each fold their share of the
 * images, then merge): the same pairwise combination as fold(), with the
 * other state's mean and scatter in place of a block's. */
int64_t simrep_dftcca_state_len(const simrep_dftcca *d)
{
    return d ? 3 + d->nf * 2 * d->d + 2 * d->nf * d->d * d->d : 0;
}

void simrep_dftcca_save(const simrep_dftcca *d, double *state)
{
    if (!d || !state)
        return;
    const size_t nm = (size_t)(d->nf * 2 * d->d), ns = (size_t)(d->nf * d->d * d->d);
    state[0] = (double)d->n;
    memcpy(state + 1, d->mean, nm * sizeof(double));
    memcpy(state + 1 + nm, d->sre, ns * sizeof(double));
    memcpy(state + 1 + nm + ns, d->sim, ns * sizeof(double));
    state[1 + nm + 2 * ns] = d->expo[0];
    state[2 + nm + 2 * ns] = d->expo[1];
}

simrep_status simrep_dftcca_load(simrep_ctx *ctx, simrep_dftcca *d, const double *state)
{
    if (!ctx || !d || !state)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_dftcca_load: invalid arguments");
    if (!(state[0] >= 0 && state[0] < 9.007199254740992e15 && state[0] == floor(state[0])))
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_dftcca_load: the state's image count %g is not a count",
                            state[0]);
    const size_t nm = (size_t)(d->nf * 2 * d->d), ns = (size_t)(d->nf * d->d * d->d);
    /* Checked before anything is copied (as simrep_moments_load): finite,
     * whole exponents, each frequency's Hermitian scatter with a
     * non-negative real diagonal. */
    for (size_t i = 1; i < 3 + nm + 2 * ns; i++)
        if (!isfinite(state[i]))
            return simrep__fail(ctx, SIMREP_E_FORMAT, "simrep_dftcca_load: the state is corrupt: value %zu is %s", i,
                                isnan(state[i]) ? "NaN" : "Inf");
    for (int s2 = 0; s2 < 2; s2++) {
        const double e = state[1 + nm + 2 * ns + (size_t)s2];
        if (!(fabs(e) <= 2200 && e == floor(e)))
            return simrep__fail(ctx, SIMREP_E_FORMAT, "simrep_dftcca_load: the state is corrupt: scale exponent %g", e);
    }
    for (int64_t f = 0; f < d->nf; f++)
        for (int64_t j = 0; j < d->d; j++)
            if (state[1 + nm + (size_t)(f * d->d * d->d + j * (d->d + 1))] < 0)
                return simrep__fail(ctx, SIMREP_E_FORMAT,
                                    "simrep_dftcca_load: the state is corrupt: a negative variance (frequency %lld, "
                                    "channel %lld)", (long long)f, (long long)j);
    d->n = (int64_t)state[0];
    memcpy(d->mean, state + 1, nm * sizeof(double));
    memcpy(d->sre, state + 1 + nm, ns * sizeof(double));
    memcpy(d->sim, state + 1 + nm + ns, ns * sizeof(double));
    for (int s = 0; s < 2; s++) {
        d->expo[s] = (int)state[1 + nm + 2 * ns + s];
        d->mag[s] = 0;
    }
    for (int64_t f = 0; f < d->nf; f++) /* a bound from the state (pixels <= coefficients here) */
        for (int64_t j = 0; j < d->d; j++) {
            const double *mu = d->mean + f * 2 * d->d, v = d->sre[f * d->d * d->d + j * (d->d + 1)];
            const double b = fabs(mu[j]) + fabs(mu[d->d + j]) + (v > 0 ? sqrt(v) : 0.0);
            const int s = j >= d->c[0];
            d->mag[s] = b > d->mag[s] ? b : d->mag[s];
        }
    return SIMREP_OK;
}

simrep_status simrep_dftcca_merge(simrep_ctx *ctx, simrep_dftcca *into, const simrep_dftcca *other)
{
    if (!ctx || !into || !other)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_dftcca_merge: invalid arguments");
    for (int s = 0; s < 2; s++)
        if (into->h[s] != other->h[s] || into->w[s] != other->w[s] || into->c[s] != other->c[s])
            return simrep__fail(ctx, SIMREP_E_SHAPE, "simrep_dftcca_merge: the two states are of different maps");
    if (other->n == 0)
        return SIMREP_OK;
    if (other->n > SIMREP__MAX_SAMPLES - into->n)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_dftcca_merge: %lld + %lld images pass 2^53",
                            (long long)into->n, (long long)other->n);
    /* Common units: those of whichever state holds the larger magnitudes
     * of each side; other's values are read through eo (exponent offsets). */
    int eo[2];
    for (int s = 0; s < 2; s++) {
        const int ea = exponent_of(into->mag[s]), eb = exponent_of(other->mag[s]);
        int target = into->expo[s]; /* same units (the usual case), or no data: keep them */
        if (into->expo[s] != other->expo[s] && (ea != INT_MIN || eb != INT_MIN)) {
            const int la = ea == INT_MIN ? INT_MIN : into->expo[s] + ea;
            const int lb = eb == INT_MIN ? INT_MIN : other->expo[s] + eb;
            target = la > lb ? la : lb; /* log2 of the larger magnitude */
        }
        rescale_side(into, s, target - into->expo[s]);
        eo[s] = other->expo[s] - into->expo[s];
        const double mo = scaled(other->mag[s], eo[s]);
        into->mag[s] = mo > into->mag[s] ? mo : into->mag[s];
    }
    const int64_t dd = into->d, d2 = 2 * dd, na = into->n, nb = other->n, p = into->c[0];
    const double wgt = (double)na * (double)nb / (double)(na + nb), frac = (double)nb / (double)(na + nb);
    for (int64_t f = 0; f < into->nf; f++) {
        double *mu = into->mean + f * d2, *sr = into->sre + f * dd * dd, *si = into->sim + f * dd * dd;
        const double *mb = other->mean + f * d2, *br = other->sre + f * dd * dd, *bi = other->sim + f * dd * dd;
        for (int64_t l = 0; l < dd; l++)
            for (int64_t j = 0; j < dd; j++) {
                const int ej = eo[j >= p], el = eo[l >= p];
                const double dr_j = scaled(mb[j], ej) - mu[j], di_j = scaled(mb[dd + j], ej) - mu[dd + j];
                const double dr_l = scaled(mb[l], el) - mu[l], di_l = scaled(mb[dd + l], el) - mu[dd + l];
                sr[j + l * dd] += scaled(br[j + l * dd], ej + el) + wgt * (dr_j * dr_l + di_j * di_l);
                si[j + l * dd] += scaled(bi[j + l * dd], ej + el) + wgt * (dr_j * di_l - di_j * dr_l);
            }
        for (int64_t j = 0; j < d2; j++)
            mu[j] += (scaled(mb[j], eo[(j % dd) >= p]) - mu[j]) * frac;
    }
    into->n = na + nb;
    const double none[2] = {0, 0};
    adapt_scales(into, none);
    return SIMREP_OK;
}

void simrep_dftcca_result_clear(simrep_ctx *ctx, simrep_dftcca_result *r)
{
    if (!r)
        return;
    simrep__free(ctx, r->freqs);
    simrep__free(ctx, r->coef_store);
    memset(r, 0, sizeof *r);
}

/* The real embedding [[R, -I], [I, R]] of the complex block (rows ri,
 * columns ci of the d x d Hermitian S) times s, into e (2nr x 2nc, col-major). */
static void embed(const double *sr, const double *si, int64_t dd, const int64_t *ri, int64_t nr, const int64_t *ci,
                  int64_t nc, double s, double *e)
{
    const int64_t ld = 2 * nr;
    for (int64_t b = 0; b < nc; b++)
        for (int64_t a = 0; a < nr; a++) {
            const double re = sr[ri[a] + ci[b] * dd] * s, im = si[ri[a] + ci[b] * dd] * s;
            e[a + b * ld] = re;
            e[(a + nr) + (b + nc) * ld] = re;
            e[(a + nr) + b * ld] = im;
            e[a + (b + nc) * ld] = -im;
        }
}

/* w (m x m) = V diag(whiten(lambda)) Vᵀ of the symmetric a (destroyed). */
static simrep_status whitening(simrep_ctx *ctx, double *a, int64_t m, double eps, double *w, double *work)
{
    double *lam = work, *v = work + m;
    simrep_status st = simrep__syevd(ctx, m, a, m, lam);
    if (st != SIMREP_OK)
        return st;
    for (int64_t j = 0; j < m; j++) {
        const double l = lam[j] > 0 ? lam[j] : 0; /* docs/measures.md, CCA step 2: clamp round-off negatives */
        const double f = 1.0 / sqrt(l + eps);
        for (int64_t i = 0; i < m; i++)
            v[i + j * m] = a[i + j * m] * f;
    }
    return simrep__gemm(ctx, 'N', 'T', m, m, m, 1.0, v, m, a, m, 0.0, w, m);
}

simrep_status simrep_dftcca_compute(simrep_ctx *ctx, const simrep_dftcca *d, const simrep_options *options,
                                    simrep_dftcca_result *out)
{
    if (!ctx || !d || !out)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_dftcca_compute: invalid arguments");
    memset(out, 0, sizeof *out);
    simrep_options defaults;
    if (!options) {
        simrep_options_init(&defaults);
        options = &defaults;
    }
    const double eps = options->epsilon;
    simrep_status st0 = simrep__option_check(ctx, SIMREP_OPT_EPSILON, eps);
    if (st0 != SIMREP_OK)
        return st0;
    if (d->n < 2)
        return simrep__fail(ctx, SIMREP_E_DEGENERATE, "n = %lld image%s: DFT-CCA needs at least 2 images",
                            (long long)d->n, d->n == 1 ? "" : "s");
    const int64_t dd = d->d, p = d->c[0], q = d->c[1], kmax = p < q ? p : q;
    out->height = d->gh;
    out->width = d->gw;
    out->n = d->n;
    out->nfreq = d->nf;
    out->freqs = simrep__calloc_array(ctx, (size_t)d->nf, sizeof *out->freqs, "DFT-CCA results");
    out->coef_store = out->freqs ? simrep__alloc_array(ctx, (size_t)(d->nf * kmax), sizeof(double), "DFT-CCA results")
                                 : NULL;
    int64_t *kept = simrep__alloc_array(ctx, (size_t)dd, sizeof(int64_t), "kept features");
    const size_t big = (size_t)(2 * dd) * (size_t)(2 * dd);
    double *ex = simrep__alloc_array(ctx, big, sizeof(double), "DFT-CCA work");
    double *ey = ex ? simrep__alloc_array(ctx, big, sizeof(double), "DFT-CCA work") : NULL;
    double *wx = ey ? simrep__alloc_array(ctx, big, sizeof(double), "DFT-CCA work") : NULL;
    double *wy = wx ? simrep__alloc_array(ctx, big, sizeof(double), "DFT-CCA work") : NULL;
    double *exy = wy ? simrep__alloc_array(ctx, big, sizeof(double), "DFT-CCA work") : NULL;
    double *t = exy ? simrep__alloc_array(ctx, big, sizeof(double), "DFT-CCA work") : NULL;
    double *work = t ? simrep__alloc_array(ctx, big + (size_t)(2 * dd), sizeof(double), "DFT-CCA work") : NULL;
    double *sv = work ? simrep__alloc_array(ctx, (size_t)(2 * dd), sizeof(double), "DFT-CCA work") : NULL;
    simrep_status st = out->coef_store && kept && sv ? SIMREP_OK : SIMREP_E_NOMEM;
    const double inv = 1.0 / (double)(d->n - 1);
    double sum = 0;
    int64_t total = 0, used = 0;
    for (int64_t f = 0; f < d->nf && st == SIMREP_OK; f++) {
        if ((st = simrep__tick(ctx, "dftcca frequencies", (double)f / (double)d->nf)) != SIMREP_OK)
            break;
        simrep_dftcca_frequency *fr = &out->freqs[f];
        fr->u = d->fu[f];
        fr->v = d->fv[f];
        fr->count = d->count[f];
        fr->coefs = out->coef_store + used;
        const double *sr = d->sre + f * dd * dd, *si = d->sim + f * dd * dd;
        /* Dead features per side at this frequency (variance = S_jj / (n - 1)). */
        double vmax[2] = {0, 0};
        for (int64_t j = 0; j < dd; j++) {
            const double var = sr[j + j * dd] * inv;
            const int s = j >= p;
            vmax[s] = var > vmax[s] ? var : vmax[s];
        }
        int64_t kp = 0, kq = 0;
        for (int64_t j = 0; j < p; j++)
            if (vmax[0] > 0 && sr[j + j * dd] * inv > eps * vmax[0])
                kept[kp++] = j;
        for (int64_t j = p; j < dd; j++)
            if (vmax[1] > 0 && sr[j + j * dd] * inv > eps * vmax[1])
                kept[kp + kq++] = j;
        fr->kept_p = kp;
        fr->kept_q = kq;
        if (kp == 0 || kq == 0)
            continue;
        if (kp < p || kq < q)
            out->warnings |= SIMREP_WARN_DEAD_FEATURES;
        if (d->n < 10 * (kp > kq ? kp : kq))
            out->warnings |= SIMREP_WARN_FEW_SAMPLES;
        const int64_t mx = 2 * kp, my = 2 * kq, k = kp < kq ? kp : kq;
        /* The reference's rescaling: each block by its side's largest
         * variance (max |C| is on the diagonal of a PSD matrix). */
        const double sx = inv / vmax[0], sy = inv / vmax[1];
        embed(sr, si, dd, kept, kp, kept, kp, sx, ex);
        embed(sr, si, dd, kept + kp, kq, kept + kp, kq, sy, ey);
        embed(sr, si, dd, kept, kp, kept + kp, kq, sqrt(sx) * sqrt(sy), exy);
        st = whitening(ctx, ex, mx, eps, wx, work);
        if (st == SIMREP_OK)
            st = whitening(ctx, ey, my, eps, wy, work);
        if (st == SIMREP_OK) /* t = Wx Exy, then ex = t Wy */
            st = simrep__gemm(ctx, 'N', 'N', mx, my, mx, 1.0, wx, mx, exy, mx, 0.0, t, mx);
        if (st == SIMREP_OK)
            st = simrep__gemm(ctx, 'N', 'N', mx, my, my, 1.0, t, mx, wy, my, 0.0, ex, mx);
        if (st == SIMREP_OK)
            st = simrep__gesdd(ctx, 'N', mx, my, ex, mx, sv, NULL, 1, NULL, 1);
        if (st != SIMREP_OK)
            break;
        double fsum = 0;
        for (int64_t i = 0; i < k; i++) {
            fr->coefs[i] = 0.5 * (sv[2 * i] + sv[2 * i + 1]);
            fsum += fr->coefs[i];
        }
        fr->k = k;
        fr->mean = fsum / (double)k;
        used += k;
        sum += fsum * fr->count;
        total += k * fr->count;
    }
    simrep__free(ctx, kept);
    simrep__free(ctx, ex);
    simrep__free(ctx, ey);
    simrep__free(ctx, wx);
    simrep__free(ctx, wy);
    simrep__free(ctx, exy);
    simrep__free(ctx, t);
    simrep__free(ctx, work);
    simrep__free(ctx, sv);
    if (st == SIMREP_OK && total == 0)
        st = simrep__fail(ctx, SIMREP_E_DEGENERATE,
                          "dftcca: at every spatial frequency a side has every channel constant over the images, so "
                          "no frequency has a CCA");
    if (st != SIMREP_OK) {
        simrep_dftcca_result_clear(ctx, out);
        return st;
    }
    out->total = total;
    out->similarity = sum / (double)total;
    out->distance = 1.0 - out->similarity;
    return SIMREP_OK;
}
