/*
 * test_rbf.c: simrep_cka_rbf (src/cka_rbf.c) against an independent naive
 * implementation written here the way the Kornblith et al. 2019 notebook
 * does it (full n x n matrices, distances by direct differences, the median
 * by sorting all n^2 values, explicit double centering), plus invariances,
 * a closed form with massive ties, and every error case.
 *
 * Tolerances: the library forms distances as |xi|^2 + |xj|^2 - 2 xi.xj of
 * centered rows, the naive code as sums of squared differences; both are
 * float64 with relative errors of a few 1e-16 per distance, which move the
 * median, the kernel and the three sums of n^2 terms by O(n eps) at most,
 * so 1e-12 absolute on a CKA in [0, 1] is the float64 comparison bound used
 * below (observed differences are ~1e-15).  Looser bounds are justified
 * where they are used.
 */
#include "harness.h"
#include "simrep.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- helpers */

typedef struct rng {
    uint64_t s;
} rng;

static double rng_uniform(rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (double)((r->s * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

static double rng_normal(rng *r)
{
    double u = rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static double *rand_matrix(rng *r, int64_t n, int64_t p)
{
    double *a = malloc((size_t)(n * p + 1) * sizeof *a);
    for (int64_t i = 0; i < n * p; i++)
        a[i] = rng_normal(r);
    return a;
}

/* ------------------------------------------------- naive reference */

static int cmp_d(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Full n x n squared distances by direct differences (no expansion). */
static double *naive_sqdist(const double *x, int64_t n, int64_t p)
{
    double *d = malloc((size_t)(n * n) * sizeof *d);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t k = 0; k < p; k++) {
                double t = x[i * p + k] - x[j * p + k];
                acc += t * t;
            }
            d[i * n + j] = acc;
        }
    return d;
}

/* np.median of all the values. */
static double naive_median(const double *d, int64_t count)
{
    double *s = malloc((size_t)count * sizeof *s);
    memcpy(s, d, (size_t)count * sizeof *s);
    qsort(s, (size_t)count, sizeof *s, cmp_d);
    double m = count % 2 ? s[count / 2] : (s[count / 2 - 1] + s[count / 2]) / 2.0;
    free(s);
    return m;
}

/* center_gram of the notebook, in place. */
static void naive_center(double *k, int64_t n)
{
    double *means = calloc((size_t)n, sizeof *means), mm = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            means[j] += k[i * n + j] / (double)n;
    for (int64_t j = 0; j < n; j++)
        mm += means[j] / (double)n;
    for (int64_t j = 0; j < n; j++)
        means[j] -= mm / 2;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            k[i * n + j] -= means[i] + means[j];
    free(means);
}

/* CKA of the RBF kernels of two distance matrices with given medians. */
static double naive_cka_from_d(const double *dx, const double *dy, int64_t n, double mx, double my, double sigma)
{
    double *k = malloc((size_t)(n * n) * sizeof *k), *l = malloc((size_t)(n * n) * sizeof *l);
    for (int64_t i = 0; i < n * n; i++) {
        k[i] = exp(-dx[i] / (2 * sigma * sigma * mx));
        l[i] = exp(-dy[i] / (2 * sigma * sigma * my));
    }
    naive_center(k, n);
    naive_center(l, n);
    double kl = 0, kk = 0, ll = 0;
    for (int64_t i = 0; i < n * n; i++) {
        kl += k[i] * l[i];
        kk += k[i] * k[i];
        ll += l[i] * l[i];
    }
    free(k);
    free(l);
    return kl / (sqrt(kk) * sqrt(ll));
}

/* The notebook's cka(gram_rbf(x, sigma), gram_rbf(y, sigma)); returns 0 and
 * sets *out, or -1 if a median is 0 (the notebook would give NaN). */
static int naive_cka_rbf(const double *x, const double *y, int64_t n, int64_t p, int64_t q, double sigma,
                         double *out)
{
    double *dx = naive_sqdist(x, n, p), *dy = naive_sqdist(y, n, q);
    double mx = naive_median(dx, n * n), my = naive_median(dy, n * n);
    int rc = -1;
    if (mx > 0 && my > 0) {
        *out = naive_cka_from_d(dx, dy, n, mx, my, sigma);
        rc = 0;
    }
    free(dx);
    free(dy);
    return rc;
}

static double lib_cka(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y, double sigma)
{
    double v = -1;
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, x, y, sigma, &v), SIMREP_OK);
    return v;
}

/* --------------------------------------------- randomized comparison */

static void test_random_sizes(simrep_ctx *ctx)
{
    /* n = 2, 3 (smallest), odd and even n, p = 1 and q = 1, and n = 257 and
     * 600 that are not multiples of the 256-row tile (two and three tile
     * rows, partial last tiles). */
    static const int64_t sizes[][3] = {{2, 1, 1}, {2, 3, 2}, {3, 1, 4}, {4, 2, 2}, {5, 2, 3},  {17, 4, 6},
                                       {64, 1, 1}, {100, 8, 5}, {257, 3, 7}, {300, 10, 1}, {600, 6, 4}};
    rng r = {0x9e3779b97f4a7c15ull};
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        int64_t n = sizes[c][0], p = sizes[c][1], q = sizes[c][2];
        double *x = rand_matrix(&r, n, p), *y = rand_matrix(&r, n, q);
        /* y partly depends on x so CKA is away from 0. */
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < q; j++)
                y[i * q + j] += x[i * p + j % p] * (1 + j % 3);
        simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, n, p), Y = simrep_matrix_c(y, SIMREP_F64, n, q);
        for (int s = 0; s < 2; s++) {
            double sigma = s ? 0.5 : 1.0, want = 0;
            CHECK(naive_cka_rbf(x, y, n, p, q, sigma, &want) == 0);
            CHECK_CLOSE(lib_cka(ctx, &X, &Y, sigma), want, 1e-12);
        }
        free(x);
        free(y);
    }
}

/* float32, Fortran-order and strided views read the same values. */
static void test_layouts(simrep_ctx *ctx)
{
    rng r = {12345};
    const int64_t n = 131, p = 5, q = 3;
    double *x = rand_matrix(&r, n, p), *y = rand_matrix(&r, n, q);
    float *xf = malloc((size_t)(n * p) * sizeof *xf), *yf = malloc((size_t)(n * q) * sizeof *yf);
    double *xr = malloc((size_t)(n * p) * sizeof *xr), *yr = malloc((size_t)(n * q) * sizeof *yr);
    for (int64_t i = 0; i < n * p; i++)
        xr[i] = xf[i] = (float)x[i];
    for (int64_t i = 0; i < n * q; i++)
        yr[i] = yf[i] = (float)(y[i] + x[i / q * p]);
    double want = 0;
    CHECK(naive_cka_rbf(xr, yr, n, p, q, 1.0, &want) == 0);

    simrep_matrix X32 = simrep_matrix_c(xf, SIMREP_F32, n, p), Y32 = simrep_matrix_c(yf, SIMREP_F32, n, q);
    simrep_matrix X64 = simrep_matrix_c(xr, SIMREP_F64, n, p), Y64 = simrep_matrix_c(yr, SIMREP_F64, n, q);
    /* The float32 values are converted exactly, so float32 and float64
     * inputs of the same values agree; not bit for bit, because the converted
     * copy and the caller's array sit at different alignments and OpenBLAS
     * picks its kernels by alignment.  This case is sensitive: an -O3 build
     * moved it by 1.3e-11 against the naive reference and between the two
     * dtypes, so it is held to 1e-10 (the random cases above keep 1e-12). */
    const double got32 = lib_cka(ctx, &X32, &Y32, 1.0);
    CHECK_CLOSE(got32, lib_cka(ctx, &X64, &Y64, 1.0), 1e-10);
    CHECK_CLOSE(got32, want, 1e-10);

    /* Fortran order: element (i, j) at j * n + i. */
    double *xF = malloc((size_t)(n * p) * sizeof *xF);
    float *yF = malloc((size_t)(n * q) * sizeof *yF);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < p; j++)
            xF[j * n + i] = xr[i * p + j];
        for (int64_t j = 0; j < q; j++)
            yF[j * n + i] = yf[i * q + j];
    }
    simrep_matrix XF = {xF, SIMREP_F64, n, p, 1, n}, YF = {yF, SIMREP_F32, n, q, 1, n};
    CHECK_CLOSE(lib_cka(ctx, &XF, &YF, 1.0), want, 1e-12);

    /* Strided: every other row and every third column of bigger arrays. */
    const int64_t P = 3 * p, Q = 3 * q;
    double *xs = calloc((size_t)(2 * n * P), sizeof *xs);
    float *ys = calloc((size_t)(2 * n * Q), sizeof *ys);
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < p; j++)
            xs[2 * i * P + 3 * j] = xr[i * p + j];
        for (int64_t j = 0; j < q; j++)
            ys[2 * i * Q + 3 * j] = yf[i * q + j];
    }
    simrep_matrix XS = {xs, SIMREP_F64, n, p, 2 * P, 3}, YS = {ys, SIMREP_F32, n, q, 2 * Q, 3};
    CHECK_CLOSE(lib_cka(ctx, &XS, &YS, 1.0), want, 1e-12);
    CHECK_CLOSE(lib_cka(ctx, &XS, &YS, 0.5), (naive_cka_rbf(xr, yr, n, p, q, 0.5, &want), want), 1e-12);

    free(x), free(y), free(xf), free(yf), free(xr), free(yr), free(xF), free(yF), free(xs), free(ys);
}

/* ------------------------------------------------------------- ties */

static void test_ties(simrep_ctx *ctx)
{
    rng r = {777};
    /* Every row of x appears twice or three times (fewer than half of the
     * pairs identical, so the median is positive). */
    const int64_t n = 90, p = 4, q = 3;
    double *base = rand_matrix(&r, n, p), *x = malloc((size_t)(n * p) * sizeof *x);
    double *y = rand_matrix(&r, n, q);
    for (int64_t i = 0; i < n; i++)
        memcpy(x + i * p, base + (i % 37) * p, (size_t)p * sizeof *x);
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, n, p), Y = simrep_matrix_c(y, SIMREP_F64, n, q);
    double want = 0;
    CHECK(naive_cka_rbf(x, y, n, p, q, 1.0, &want) == 0);
    CHECK_CLOSE(lib_cka(ctx, &X, &Y, 1.0), want, 1e-12);
    CHECK(naive_cka_rbf(x, x, n, p, p, 0.5, &want) == 0);
    CHECK_CLOSE(lib_cka(ctx, &X, &X, 0.5), want, 1e-12);

    /* The two middle ranks in different buckets: n = 4 with rows 0 = 1 and
     * 2 = 3 has 8 zero distances of 16 (ranks 0..7) and 8 equal positive
     * ones, so np.median = (0 + d) / 2. */
    double x4[] = {1, 2, 1, 2, 5, -1, 5, -1}, y4[] = {0, 1, 3, 7};
    simrep_matrix X4 = simrep_matrix_c(x4, SIMREP_F64, 4, 2), Y4 = simrep_matrix_c(y4, SIMREP_F64, 4, 1);
    CHECK(naive_cka_rbf(x4, y4, 4, 2, 1, 1.0, &want) == 0);
    CHECK_CLOSE(lib_cka(ctx, &X4, &Y4, 1.0), want, 1e-12);

    /* Massive ties, closed form: the four corners (±1, ±1) each repeated
     * 600 times (n = 2400, n^2 = 5.76e6).  Per corner pair: 4 r^2 zero
     * distances, 8 r^2 of 4 (adjacent corners), 4 r^2 of 8 (opposite), so
     * ranks [1.44e6, 4.32e6) are 4 and the median is exactly 4; the bucket
     * of 4 (2.88e6 values) exceeds the collection limit at every radix
     * level, which exercises the search down to all 64 bits.  y puts each
     * sample on the corner with labels 0 and 1 swapped (not a symmetry of
     * the square).  Kc = P (H A H) Pᵀ for the n x 4 indicator P with equal
     * groups, so CKA equals the 4-point CKA with the full-data median. */
    const int64_t rep = 600, nn = 4 * rep;
    static const double corner[4][2] = {{1, 1}, {1, -1}, {-1, -1}, {-1, 1}};
    static const int swap01[4] = {1, 0, 2, 3};
    double *xc = malloc((size_t)(nn * 2) * sizeof *xc), *yc = malloc((size_t)(nn * 2) * sizeof *yc);
    int64_t count[4] = {0, 0, 0, 0};
    for (int64_t i = 0; i < nn; i++) {
        int c = (int)(i % 4);
        count[c]++;
        xc[2 * i] = corner[c][0], xc[2 * i + 1] = corner[c][1];
        yc[2 * i] = corner[swap01[c]][0], yc[2 * i + 1] = corner[swap01[c]][1];
    }
    CHECK(count[0] == rep && count[3] == rep);
    double c4x[8], c4y[8];
    for (int c = 0; c < 4; c++) {
        c4x[2 * c] = corner[c][0], c4x[2 * c + 1] = corner[c][1];
        c4y[2 * c] = corner[swap01[c]][0], c4y[2 * c + 1] = corner[swap01[c]][1];
    }
    double *d4x = naive_sqdist(c4x, 4, 2), *d4y = naive_sqdist(c4y, 4, 2);
    simrep_matrix XC = simrep_matrix_c(xc, SIMREP_F64, nn, 2), YC = simrep_matrix_c(yc, SIMREP_F64, nn, 2);
    for (int s = 0; s < 2; s++) {
        double sigma = s ? 0.5 : 1.0;
        want = naive_cka_from_d(d4x, d4y, 4, 4.0, 4.0, sigma);
        CHECK(want > 0.1 && want < 0.99);
        CHECK_CLOSE(lib_cka(ctx, &XC, &YC, sigma), want, 1e-12);
    }
    free(d4x), free(d4y), free(xc), free(yc);
    free(base), free(x), free(y);
}

/* ------------------------------------------------------- invariances */

static void test_invariances(simrep_ctx *ctx)
{
    rng r = {4242};
    const int64_t n = 280, p = 6, q = 4;
    double *x = rand_matrix(&r, n, p), *y = rand_matrix(&r, n, q);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < q; j++)
            y[i * q + j] += x[i * p + j] + 0.7 * x[i * p + j] * x[i * p + j + 1];
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, n, p), Y = simrep_matrix_c(y, SIMREP_F64, n, q);
    double base = lib_cka(ctx, &X, &Y, 1.0);
    CHECK(base > 0.05 && base < 0.95);

    /* Deterministic: the same call gives the same bits. */
    CHECK(lib_cka(ctx, &X, &Y, 1.0) == base);

    /* CKA(x, x) = 1: kl and kk are the same sum, so only the final division
     * and square roots round (a few ulps). */
    CHECK_CLOSE(lib_cka(ctx, &X, &X, 1.0), 1.0, 1e-14);
    CHECK_CLOSE(lib_cka(ctx, &X, &X, 0.5), 1.0, 1e-14);

    /* Rotation: a random orthogonal Q by Gram-Schmidt; distances change
     * by round-off only (float64 bound). */
    double *qm = rand_matrix(&r, p, p);
    for (int64_t a = 0; a < p; a++) {
        for (int64_t b = 0; b < a; b++) {
            double dot = 0;
            for (int64_t k = 0; k < p; k++)
                dot += qm[a * p + k] * qm[b * p + k];
            for (int64_t k = 0; k < p; k++)
                qm[a * p + k] -= dot * qm[b * p + k];
        }
        double nrm = 0;
        for (int64_t k = 0; k < p; k++)
            nrm += qm[a * p + k] * qm[a * p + k];
        for (int64_t k = 0; k < p; k++)
            qm[a * p + k] /= sqrt(nrm);
    }
    double *xq = calloc((size_t)(n * p), sizeof *xq);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < p; j++)
            for (int64_t k = 0; k < p; k++)
                xq[i * p + j] += x[i * p + k] * qm[k * p + j];
    simrep_matrix XQ = simrep_matrix_c(xq, SIMREP_F64, n, p);
    CHECK_CLOSE(lib_cka(ctx, &XQ, &Y, 1.0), base, 1e-12);

    /* Isotropic scale: by 3.7 within round-off; by a power of two the
     * library's own rescaling makes it bit for bit the same. */
    double *xs = malloc((size_t)(n * p) * sizeof *xs), *xt = malloc((size_t)(n * p) * sizeof *xt);
    for (int64_t i = 0; i < n * p; i++)
        xs[i] = 3.7 * x[i];
    simrep_matrix XS = simrep_matrix_c(xs, SIMREP_F64, n, p);
    CHECK_CLOSE(lib_cka(ctx, &XS, &Y, 1.0), base, 1e-12);
    for (int64_t i = 0; i < n * p; i++)
        xs[i] = ldexp(x[i], 40);
    CHECK(lib_cka(ctx, &XS, &Y, 1.0) == base);
    /* Far out of the range where |x|^2 is representable, both ways. */
    for (int64_t i = 0; i < n * p; i++)
        xs[i] = ldexp(x[i], 600);
    CHECK(lib_cka(ctx, &XS, &Y, 1.0) == base);
    for (int64_t i = 0; i < n * p; i++)
        xs[i] = ldexp(x[i], -600);
    CHECK(lib_cka(ctx, &XS, &Y, 1.0) == base);

    /* Translation by 1e3 per column: the centered values then carry an
     * absolute error of ~1e3 eps = 1e-13 against entries of order 1, so
     * the distances and the CKA move by ~1e-13; 1e-10 leaves margin. */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < p; j++)
            xt[i * p + j] = x[i * p + j] + 1e3 * (double)(j + 1);
    simrep_matrix XT = simrep_matrix_c(xt, SIMREP_F64, n, p);
    CHECK_CLOSE(lib_cka(ctx, &XT, &Y, 1.0), base, 1e-10);

    /* Permuting the rows of x and y together (a fixed shuffle). */
    double *xp = malloc((size_t)(n * p) * sizeof *xp), *yp = malloc((size_t)(n * q) * sizeof *yp);
    for (int64_t i = 0; i < n; i++) {
        int64_t src = (i * 97 + 13) % n; /* 97 is coprime with 280 */
        memcpy(xp + i * p, x + src * p, (size_t)p * sizeof *xp);
        memcpy(yp + i * q, y + src * q, (size_t)q * sizeof *yp);
    }
    simrep_matrix XP = simrep_matrix_c(xp, SIMREP_F64, n, p), YP = simrep_matrix_c(yp, SIMREP_F64, n, q);
    CHECK_CLOSE(lib_cka(ctx, &XP, &YP, 1.0), base, 1e-12);
    /* Symmetric in x and y. */
    CHECK_CLOSE(lib_cka(ctx, &Y, &X, 1.0), base, 1e-14);

    free(x), free(y), free(qm), free(xq), free(xs), free(xt), free(xp), free(yp);
}

/* ------------------------------------------------------------ errors */

static void test_errors(simrep_ctx *ctx)
{
    double x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, y[12] = {2, 1, 0, 5, 4, 9, 3, 3, 8, 1, 7, 2};
    double v = 0.25;
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, 6, 2), Y = simrep_matrix_c(y, SIMREP_F64, 6, 2);

    /* sigma must be positive and finite. */
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &Y, 0.0, &v), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &Y, -1.0, &v), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &Y, NAN, &v), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &Y, INFINITY, &v), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &Y, 1.0, NULL), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, NULL, &Y, 1.0, &v), SIMREP_E_INVALID);
    CHECK(v == 0.25); /* untouched on error */

    /* Sample counts differ. */
    simrep_matrix Y5 = simrep_matrix_c(y, SIMREP_F64, 5, 2);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &Y5, 1.0, &v), SIMREP_E_SHAPE);
    CHECK(strcmp(simrep_ctx_message(ctx), "x has 6 rows but y has 5") == 0);

    /* n < 2. */
    simrep_matrix X1 = simrep_matrix_c(x, SIMREP_F64, 1, 2), Y1 = simrep_matrix_c(y, SIMREP_F64, 1, 2);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X1, &Y1, 1.0, &v), SIMREP_E_DEGENERATE);
    simrep_matrix X0 = simrep_matrix_c(x, SIMREP_F64, 0, 2), Y0 = simrep_matrix_c(y, SIMREP_F64, 0, 2);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X0, &Y0, 1.0, &v), SIMREP_E_DEGENERATE);

    /* Constant x, constant y (3 or 0.1, which is not representable: the
     * centering about the first row makes both exactly 0). */
    double c[12] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}, t[12];
    for (int i = 0; i < 12; i++)
        t[i] = 0.1;
    simrep_matrix C = simrep_matrix_c(c, SIMREP_F64, 6, 2), T = simrep_matrix_c(t, SIMREP_F64, 6, 2);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &C, &Y, 1.0, &v), SIMREP_E_DEGENERATE);
    CHECK(strstr(simrep_ctx_message(ctx), "x: every one of its 2 features is constant") != NULL);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &T, 1.0, &v), SIMREP_E_DEGENERATE);
    CHECK(strstr(simrep_ctx_message(ctx), "y: every one of its 2 features is constant") != NULL);
    /* Half the rows identical: the median distance is 0. */
    double hr[12] = {1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 7, 9};
    simrep_matrix HR = simrep_matrix_c(hr, SIMREP_F64, 6, 2);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &HR, &Y, 1.0, &v), SIMREP_E_DEGENERATE);
    CHECK(strstr(simrep_ctx_message(ctx), "x: cka_rbf: the median pairwise distance is 0") != NULL);
    /* No features: every distance is 0 too. */
    simrep_matrix XE = {x, SIMREP_F64, 6, 0, 0, 1};
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &XE, &Y, 1.0, &v), SIMREP_E_DEGENERATE);

    /* More than half of the pairs identical (5 of 6 rows equal: 25 + 1
     * zero distances of 36), though not constant. */
    double m[12] = {1, 2, 1, 2, 1, 2, 9, 9, 1, 2, 1, 2};
    simrep_matrix M = simrep_matrix_c(m, SIMREP_F64, 6, 2);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &M, 1.0, &v), SIMREP_E_DEGENERATE);
    CHECK(strstr(simrep_ctx_message(ctx), "y: cka_rbf: the median pairwise distance is 0") != NULL);
    /* n = 4 with rows 0 = 1 = 2: 9 + 1 zeros of 16, so both middle ranks
     * (7 and 8) are 0. */
    double h[8] = {1, 1, 1, 1, 1, 1, 2, 2};
    simrep_matrix H = simrep_matrix_c(h, SIMREP_F64, 4, 2), X4 = simrep_matrix_c(x, SIMREP_F64, 4, 2);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &H, &X4, 1.0, &v), SIMREP_E_DEGENERATE);

    /* NaN and Inf name the side, row and column. */
    double xn[12], yn[12];
    memcpy(xn, x, sizeof xn);
    memcpy(yn, y, sizeof yn);
    xn[2 * 2 + 1] = NAN;
    simrep_matrix XN = simrep_matrix_c(xn, SIMREP_F64, 6, 2), YN = simrep_matrix_c(yn, SIMREP_F64, 6, 2);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &XN, &Y, 1.0, &v), SIMREP_E_NONFINITE);
    CHECK(strstr(simrep_ctx_message(ctx), "x: NaN at row 2, column 1") != NULL);
    yn[4 * 2 + 0] = -INFINITY;
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &YN, 1.0, &v), SIMREP_E_NONFINITE);
    CHECK(strstr(simrep_ctx_message(ctx), "y: Inf at row 4, column 0") != NULL);
    float yf[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    yf[11] = INFINITY;
    simrep_matrix YF = simrep_matrix_c(yf, SIMREP_F32, 6, 2);
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &YF, 1.0, &v), SIMREP_E_NONFINITE);
    CHECK(strstr(simrep_ctx_message(ctx), "row 5, column 1") != NULL);
    CHECK(v == 0.25);

    /* And the fixture itself is fine. */
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &Y, 1.0, &v), SIMREP_OK);
    CHECK(v >= 0 && v <= 1);
}

/* Every allocation failing in turn gives SIMREP_E_NOMEM, nothing else and
 * no leak (the sanitizer build checks the leaks). */
typedef struct fail_alloc {
    int calls, fail_at;
} fail_alloc;

static void *fail_malloc(void *user, size_t size)
{
    fail_alloc *f = user;
    if (f->calls++ == f->fail_at)
        return NULL;
    return malloc(size);
}

static void fail_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static void test_alloc_failures(void)
{
    rng r = {99};
    const int64_t n = 40;
    double *x = rand_matrix(&r, n, 3), *y = rand_matrix(&r, n, 2);
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, n, 3), Y = simrep_matrix_c(y, SIMREP_F64, n, 2);
    fail_alloc f = {0, -1};
    simrep_allocator a = {fail_malloc, fail_free, &f};
    simrep_ctx *ctx = simrep_ctx_new(&a);
    double want = -1;
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &X, &Y, 1.0, &want), SIMREP_OK);
    int total = f.calls, ok = 1;
    for (int k = 1; k < total; k++) { /* call 0 was the context */
        f.calls = 0;
        f.fail_at = k - 1;
        double v = -1;
        if (simrep_cka_rbf(ctx, &X, &Y, 1.0, &v) != SIMREP_E_NOMEM || v != -1)
            ok = 0;
    }
    CHECK(total > 5 && ok);
    f.fail_at = -1;
    simrep_ctx_free(ctx);
    free(x), free(y);
}

/* The tiles kept between passes (rbf_memory) change nothing: the value is
 * the same bits with none kept, some tile rows kept (n = 700: three tile
 * rows of 3, 2 and 1 tiles of 512 KiB, so 1.5 MiB per side keeps the first
 * and 2.5 MiB the first two) and all; and through the registry with a
 * budget out of range is refused. */
static void test_kept_tiles(simrep_ctx *ctx)
{
    rng r = {4242};
    const int64_t n = 700, p = 6, q = 4;
    double *x = rand_matrix(&r, n, p), *y = rand_matrix(&r, n, q);
    for (int64_t i = 0; i < n; i++)
        y[i * q] += x[i * p];
    simrep_matrix X = simrep_matrix_c(x, SIMREP_F64, n, p), Y = simrep_matrix_c(y, SIMREP_F64, n, q);
    const double budgets[] = {0, 1, 3, 5, 1024};
    double first = -1;
    simrep_measure m = SIMREP_CKA_RBF;
    for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
        simrep_options o;
        simrep_options_init(&o);
        o.rbf_memory = budgets[b];
        simrep_result res;
        CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y, &o, &m, 1, &res), SIMREP_OK);
        if (b == 0)
            first = res.similarity;
        CHECK(res.similarity == first);
        simrep_result_clear(ctx, &res);
    }
    CHECK(lib_cka(ctx, &X, &Y, 1.0) == first);
    simrep_options o;
    simrep_options_init(&o);
    o.rbf_memory = -1;
    simrep_result res;
    CHECK_STATUS(ctx, simrep_compare(ctx, &X, &Y, &o, &m, 1, &res), SIMREP_E_INVALID);
    free(x);
    free(y);
}

void suite_rbf(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_random_sizes(ctx);
    test_layouts(ctx);
    test_ties(ctx);
    test_invariances(ctx);
    test_errors(ctx);
    test_kept_tiles(ctx);
    simrep_ctx_free(ctx);
    test_alloc_failures();
}
