/*
 * test_rows.c: the rows measures rsa (src/rsa.c), mutual_knn and cknna
 * (src/knn.c) against naive implementations written here from the
 * definitions (full dissimilarity vectors by direct differences, ranks by
 * sorting, Kendall's tau-b by comparing every pair of pairs, neighbours by
 * sorting each row of a full similarity matrix, HSIC with dense masks),
 * plus exactness of the spilled sort (it must equal the in-memory one bit
 * for bit), ties, invariances, closed forms and every error path: bad
 * options, undefined data, a full disk (RLIMIT_FSIZE in a child process),
 * a missing TMPDIR, too many buckets, too many samples.
 *
 * Tolerances: the library forms distances from dgemm (|xi|^2 + |xj|^2 -
 * 2 xi.xj, or 1 - xi.xj of unit rows), the naive code by direct sums; both
 * are float64 with a few 1e-16 relative error per value, so Pearson
 * correlations agree to 1e-12.  Rank statistics are exact integer
 * arithmetic on both sides: equal whenever the two orders of the values
 * agree, which holds for random data (no two distances within 1e-15 of each
 * other) and for integer data (both sides' distances are exact integers);
 * 1e-12 covers the final division.
 */
#include "harness.h"
#include "measures.h"
#include "rows.h"
#include "simrep.h"
#include "test_util.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

typedef simrep_status (*rows_fn)(simrep_ctx *, const simrep_matrix *, const simrep_matrix *,
                                 const simrep_options *, simrep_result *);

typedef test_rng rng;

/* n x p: normals, or integers in [0, levels) (massive ties) when levels > 0;
 * y's first column leans on x's so that values are away from 0. */
static double *make(rng *r, int64_t n, int64_t p, int levels)
{
    double *a = malloc((size_t)(n * p) * sizeof *a);
    for (int64_t i = 0; i < n * p; i++)
        a[i] = levels > 0 ? (double)(int)(test_uniform(r) * levels) : test_normal(r);
    return a;
}

static double run(rows_fn fn, const double *x, const double *y, int64_t n, int64_t p, int64_t q,
                  const simrep_options *o, simrep_status want)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_matrix mx = simrep_matrix_c(x, SIMREP_F64, n, p), my = simrep_matrix_c(y, SIMREP_F64, n, q);
    simrep_result r;
    memset(&r, 0, sizeof r);
    CHECK_STATUS(ctx, fn(ctx, &mx, &my, o, &r), want);
    if (want != SIMREP_OK)
        CHECK(strlen(simrep_ctx_message(ctx)) > 0);
    else
        CHECK_CLOSE(r.distance, 1 - r.similarity, 0);
    simrep_ctx_free(ctx);
    return want == SIMREP_OK ? r.similarity : NAN;
}

/* a's rows moved to (i * mul + add) % n (a permutation when mul is prime
 * to n), each scaled by scale(i) when scale is not NULL. */
static double *permuted(const double *a, int64_t n, int64_t p, int64_t mul, int64_t add, double (*scale)(int64_t))
{
    double *b = malloc((size_t)(n * p) * sizeof *b);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < p; k++)
            b[((i * mul + add) % n) * p + k] = a[i * p + k] * (scale ? scale(i) : 1.0);
    return b;
}

/* --------------------------------------------------- naive references */

/* The n(n-1)/2 dissimilarities of i < j, row-major order. */
static double *naive_rdm(const double *x, int64_t n, int64_t p, simrep_rsa_rdm kind)
{
    double *v = malloc((size_t)(n * (n - 1) / 2) * sizeof *v), *c = malloc((size_t)(n * p) * sizeof *c);
    for (int64_t i = 0; i < n; i++) {
        double mean = 0;
        for (int64_t k = 0; k < p; k++)
            mean += x[i * p + k];
        mean /= (double)p;
        for (int64_t k = 0; k < p; k++)
            c[i * p + k] = x[i * p + k] - (kind == SIMREP_RDM_CORRELATION ? mean : 0);
    }
    int64_t e = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            double s = 0, aa = 0, bb = 0;
            for (int64_t k = 0; k < p; k++) {
                const double a = c[i * p + k], b = c[j * p + k];
                s += kind == SIMREP_RDM_EUCLIDEAN ? (a - b) * (a - b) : a * b;
                aa += a * a;
                bb += b * b;
            }
            v[e++] = kind == SIMREP_RDM_EUCLIDEAN ? s : 1 - s / sqrt(aa * bb);
        }
    free(c);
    return v;
}

static double naive_pearson(const double *a, const double *b, int64_t m)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int64_t i = 0; i < m; i++)
        ma += a[i], mb += b[i];
    ma /= (double)m, mb /= (double)m;
    for (int64_t i = 0; i < m; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb);
}

static const double *sort_base;
static int cmp_index(const void *pa, const void *pb)
{
    const double a = sort_base[*(const int64_t *)pa], b = sort_base[*(const int64_t *)pb];
    return (a > b) - (a < b);
}

/* scipy.stats.rankdata(method='average'), 1-based. */
static double *naive_ranks(const double *v, int64_t m)
{
    int64_t *ix = malloc((size_t)m * sizeof *ix);
    double *r = malloc((size_t)m * sizeof *r);
    for (int64_t i = 0; i < m; i++)
        ix[i] = i;
    sort_base = v;
    qsort(ix, (size_t)m, sizeof *ix, cmp_index);
    for (int64_t i = 0; i < m;) {
        int64_t j = i + 1;
        while (j < m && v[ix[j]] == v[ix[i]])
            j++;
        for (int64_t k = i; k < j; k++)
            r[ix[k]] = (double)(i + j + 1) / 2.0;
        i = j;
    }
    free(ix);
    return r;
}

static double naive_spearman(const double *a, const double *b, int64_t m)
{
    double *ra = naive_ranks(a, m), *rb = naive_ranks(b, m), v = naive_pearson(ra, rb, m);
    free(ra);
    free(rb);
    return v;
}

/* Kendall's tau-b from its definition, every pair of pairs. */
static double naive_kendall(const double *a, const double *b, int64_t m)
{
    double s = 0, n1 = 0, n2 = 0, n0 = (double)m * (double)(m - 1) / 2;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = i + 1; j < m; j++) {
            const int sa = (a[i] > a[j]) - (a[i] < a[j]), sb = (b[i] > b[j]) - (b[i] < b[j]);
            s += sa * sb;
            n1 += sa == 0;
            n2 += sb == 0;
        }
    return s / sqrt((n0 - n1) * (n0 - n2));
}

static double naive_rsa(const double *x, const double *y, int64_t n, int64_t p, int64_t q, simrep_rsa_rdm kind,
                        simrep_rsa_compare how)
{
    const int64_t m = n * (n - 1) / 2;
    double *a = naive_rdm(x, n, p, kind), *b = naive_rdm(y, n, q, kind);
    double v = how == SIMREP_RSA_PEARSON    ? naive_pearson(a, b, m)
               : how == SIMREP_RSA_SPEARMAN ? naive_spearman(a, b, m)
                                            : naive_kendall(a, b, m);
    free(a);
    free(b);
    return v;
}

/* n x n cosine similarities of the rows (a zero row gives 0). */
static double *naive_sims(const double *x, int64_t n, int64_t p)
{
    double *s = malloc((size_t)(n * n) * sizeof *s);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double d = 0, a = 0, b = 0;
            for (int64_t k = 0; k < p; k++) {
                d += x[i * p + k] * x[j * p + k];
                a += x[i * p + k] * x[i * p + k];
                b += x[j * p + k] * x[j * p + k];
            }
            s[i * n + j] = a > 0 && b > 0 ? d / (sqrt(a) * sqrt(b)) : 0;
        }
    return s;
}

/* mask[i*n+j] = 1 if j is one of i's k nearest (largest similarity,
 * smaller index first among equals; i itself excluded). */
static unsigned char *naive_mask(const double *s, int64_t n, int64_t k)
{
    unsigned char *m = calloc((size_t)(n * n), 1);
    for (int64_t i = 0; i < n; i++)
        for (int64_t t = 0; t < k; t++) {
            int64_t best = -1;
            for (int64_t j = 0; j < n; j++)
                if (j != i && !m[i * n + j] && (best < 0 || s[i * n + j] > s[i * n + best]))
                    best = j;
            m[i * n + best] = 1;
        }
    return m;
}

static double naive_mutual(const double *x, const double *y, int64_t n, int64_t p, int64_t q, int64_t k)
{
    double *sx = naive_sims(x, n, p), *sy = naive_sims(y, n, q);
    unsigned char *mx = naive_mask(sx, n, k), *my = naive_mask(sy, n, k);
    int64_t shared = 0;
    for (int64_t e = 0; e < n * n; e++)
        shared += mx[e] && my[e];
    free(sx), free(sy), free(mx), free(my);
    return (double)shared / ((double)n * (double)k);
}

/* platonic-rep's hsic_unbiased of A = M∘K, B = M∘L, dense. */
static double naive_hsic(const double *K, const double *L, const unsigned char *m1, const unsigned char *m2,
                         int64_t n)
{
    double tr = 0, sa = 0, sb = 0, cross = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            const double a = i != j && m1[i * n + j] && m2[i * n + j] ? K[i * n + j] : 0;
            const double bt = i != j && m1[j * n + i] && m2[j * n + i] ? L[j * n + i] : 0;
            sa += a;
            sb += i != j && m1[i * n + j] && m2[i * n + j] ? L[i * n + j] : 0;
            tr += a * bt;
        }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double ab = 0; /* (A B)_ij */
            for (int64_t l = 0; l < n; l++) {
                const double a = i != l && m1[i * n + l] && m2[i * n + l] ? K[i * n + l] : 0;
                const double b = l != j && m1[l * n + j] && m2[l * n + j] ? L[l * n + j] : 0;
                ab += a * b;
            }
            cross += ab;
        }
    const double dn = (double)n;
    return (tr + sa * sb / ((dn - 1) * (dn - 2)) - 2 * cross / (dn - 2)) / (dn * (dn - 3));
}

static double naive_cknna(const double *x, const double *y, int64_t n, int64_t p, int64_t q, int64_t k)
{
    double *K = naive_sims(x, n, p), *L = naive_sims(y, n, q);
    unsigned char *mx = naive_mask(K, n, k), *my = naive_mask(L, n, k);
    const double kl = naive_hsic(K, L, mx, my, n), kk = naive_hsic(K, K, mx, mx, n), ll = naive_hsic(L, L, my, my, n);
    free(K), free(L), free(mx), free(my);
    return kl / (sqrt(kk * ll) + 1e-6);
}

/* ----------------------------------------------------------------- rsa */

static void rsa_opts(simrep_options *o, simrep_rsa_rdm kind, simrep_rsa_compare how, double mib)
{
    simrep_options_init(o);
    o->rsa_rdm = kind;
    o->rsa_compare = how;
    o->rsa_memory = mib;
}

static void test_rsa_naive(void)
{
    rng r = {0x1234567ull};
    const int64_t n = 70, p = 5, q = 8;
    double *x = make(&r, n, p, 0), *y = make(&r, n, q, 0);
    for (int64_t i = 0; i < n; i++)
        y[i * q] += 1.5 * x[i * p];
    for (int kind = 0; kind < 3; kind++)
        for (int how = 0; how < 3; how++) {
            simrep_options o;
            rsa_opts(&o, (simrep_rsa_rdm)kind, (simrep_rsa_compare)how, 1024);
            const double got = run(simrep__rsa, x, y, n, p, q, &o, SIMREP_OK);
            CHECK_CLOSE(got, naive_rsa(x, y, n, p, q, (simrep_rsa_rdm)kind, (simrep_rsa_compare)how), 1e-12);
            CHECK(fabs(got) > 0.05); /* the data were made related */
            /* Symmetric in x and y; x against itself is 1. */
            CHECK_CLOSE(run(simrep__rsa, y, x, n, q, p, &o, SIMREP_OK), got, 1e-12);
            CHECK_CLOSE(run(simrep__rsa, x, x, n, p, p, &o, SIMREP_OK), 1.0, 1e-12);
        }
    free(x);
    free(y);
}

/* The spilled distribution sort gives the in-memory result bit for bit:
 * random data (refinement passes: 2048-record buckets of 16-bit bins), small
 * integers (heavy ties), and half the rows zero (a single repeated value
 * holding more than a bucket: streamed buckets on both sides). */
static void test_rsa_spill(void)
{
    rng r = {0xfeedull};
    const int64_t n = 160, p = 3, q = 4;
    for (int variant = 0; variant < 3; variant++) {
        double *x = make(&r, n, p, variant ? 3 : 0), *y = make(&r, n, q, variant ? 2 : 0);
        if (variant == 2)
            for (int64_t i = 0; i < n; i += 2) {
                memset(x + i * p, 0, (size_t)p * sizeof *x);
                memset(y + (i / 2) * q, 0, (size_t)q * sizeof *y);
            }
        for (int how = 0; how < 3; how++) {
            simrep_options mem, spill;
            rsa_opts(&mem, SIMREP_RDM_EUCLIDEAN, (simrep_rsa_compare)how, 1024);
            rsa_opts(&spill, SIMREP_RDM_EUCLIDEAN, (simrep_rsa_compare)how, 1.0 / 16);
            const double a = run(simrep__rsa, x, y, n, p, q, &mem, SIMREP_OK);
            const double b = run(simrep__rsa, x, y, n, p, q, &spill, SIMREP_OK);
            CHECK(how == SIMREP_RSA_PEARSON ? fabs(a - b) < 1e-15 : a == b);
            /* Integer data: both sides' distances are exact, ties and all. */
            CHECK_CLOSE(a, naive_rsa(x, y, n, p, q, SIMREP_RDM_EUCLIDEAN, (simrep_rsa_compare)how), 1e-12);
        }
        free(x);
        free(y);
    }
}

/* Ranks do not change under a permutation of the samples (the same
 * multiset of pairs) nor under what the RDM is blind to. */
static void test_rsa_invariances(void)
{
    rng r = {0xabcdefull};
    const int64_t n = 50, p = 4, q = 3;
    double *x = make(&r, n, p, 0), *y = make(&r, n, q, 0);
    double *xp = permuted(x, n, p, 17, 5, NULL), *yp = permuted(y, n, q, 17, 5, NULL), *xs = permuted(x, n, p, 1, 0, NULL);
    for (int64_t k = 0; k < n * p; k++) /* scaled by 4 and shifted by 100 */
        xs[k] = 4 * xs[k] + 100;
    for (int how = 0; how < 3; how++) {
        simrep_options o;
        rsa_opts(&o, SIMREP_RDM_EUCLIDEAN, (simrep_rsa_compare)how, 1024);
        const double v = run(simrep__rsa, x, y, n, p, q, &o, SIMREP_OK);
        CHECK_CLOSE(run(simrep__rsa, xp, yp, n, p, q, &o, SIMREP_OK), v, 1e-12);
        CHECK_CLOSE(run(simrep__rsa, xs, y, n, p, q, &o, SIMREP_OK), v, 1e-12);
    }
    free(x), free(y), free(xp), free(yp), free(xs);
}

static int progress_calls;
static double progress_min = 1, progress_max = 0;
static void on_progress(void *user, const char *stage, double fraction)
{
    (void)user;
    progress_calls += stage && strncmp(stage, "rsa", 3) == 0;
    if (fraction < progress_min)
        progress_min = fraction;
    if (fraction > progress_max)
        progress_max = fraction;
}

static void test_rsa_errors(void)
{
    rng r = {99};
    double *x = make(&r, 40, 3, 0), *y = make(&r, 40, 3, 0);
    simrep_options o;
    rsa_opts(&o, SIMREP_RDM_CORRELATION, SIMREP_RSA_SPEARMAN, 1024);
    run(simrep__rsa, x, y, 2, 3, 3, &o, SIMREP_E_DEGENERATE); /* n = 2: one dissimilarity */
    run(simrep__rsa, x, y, 40, 3, 3, NULL, SIMREP_OK);        /* NULL options: the defaults */
    o.rsa_memory = 0.01;
    run(simrep__rsa, x, y, 40, 3, 3, &o, SIMREP_E_INVALID);
    o.rsa_memory = NAN;
    run(simrep__rsa, x, y, 40, 3, 3, &o, SIMREP_E_INVALID);
    rsa_opts(&o, (simrep_rsa_rdm)7, SIMREP_RSA_SPEARMAN, 1024);
    run(simrep__rsa, x, y, 40, 3, 3, &o, SIMREP_E_INVALID);
    rsa_opts(&o, SIMREP_RDM_EUCLIDEAN, (simrep_rsa_compare)-1, 1024);
    run(simrep__rsa, x, y, 40, 3, 3, &o, SIMREP_E_INVALID);
    {   /* x and y of different n */
        simrep_ctx *ctx = simrep_ctx_new(NULL);
        simrep_matrix mx = simrep_matrix_c(x, SIMREP_F64, 40, 3), my = simrep_matrix_c(y, SIMREP_F64, 39, 3);
        simrep_result res;
        CHECK_STATUS(ctx, simrep__rsa(ctx, &mx, &my, NULL, &res), SIMREP_E_SHAPE);
        simrep_ctx_free(ctx);
    }
    /* A constant row (correlation) and a zero row (cosine); euclidean is fine with both. */
    for (int k = 0; k < 3; k++)
        x[7 * 3 + k] = 0;
    rsa_opts(&o, SIMREP_RDM_CORRELATION, SIMREP_RSA_PEARSON, 1024);
    run(simrep__rsa, x, y, 40, 3, 3, &o, SIMREP_E_DEGENERATE);
    o.rsa_rdm = SIMREP_RDM_COSINE;
    run(simrep__rsa, x, y, 40, 3, 3, &o, SIMREP_E_DEGENERATE);
    o.rsa_rdm = SIMREP_RDM_EUCLIDEAN;
    run(simrep__rsa, x, y, 40, 3, 3, &o, SIMREP_OK);
    /* NaN names the row and column. */
    x[5 * 3 + 1] = NAN;
    {
        simrep_ctx *ctx = simrep_ctx_new(NULL);
        simrep_matrix mx = simrep_matrix_c(x, SIMREP_F64, 40, 3), my = simrep_matrix_c(y, SIMREP_F64, 40, 3);
        simrep_result res;
        CHECK_STATUS(ctx, simrep__rsa(ctx, &mx, &my, &o, &res), SIMREP_E_NONFINITE);
        CHECK(strstr(simrep_ctx_message(ctx), "row 5, column 1") != NULL);
        simrep_ctx_free(ctx);
    }
    /* Every dissimilarity equal (the corners of a simplex): undefined for
     * every comparison, an error rather than NaN. */
    double eye[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    for (int how = 0; how < 3; how++) {
        rsa_opts(&o, SIMREP_RDM_EUCLIDEAN, (simrep_rsa_compare)how, 1024);
        run(simrep__rsa, eye, y, 4, 4, 3, &o, SIMREP_E_DEGENERATE);
    }
    /* Progress: stages named, fractions in [0, 1], the last one 1. */
    {
        simrep_ctx *ctx = simrep_ctx_new(NULL);
        simrep_ctx_set_progress(ctx, on_progress, NULL);
        double *a = make(&r, 300, 2, 0), *b = make(&r, 300, 2, 0);
        simrep_matrix mx = simrep_matrix_c(a, SIMREP_F64, 300, 2), my = simrep_matrix_c(b, SIMREP_F64, 300, 2);
        simrep_result res;
        rsa_opts(&o, SIMREP_RDM_EUCLIDEAN, SIMREP_RSA_KENDALL, 1.0 / 16);
        CHECK_STATUS(ctx, simrep__rsa(ctx, &mx, &my, &o, &res), SIMREP_OK);
        CHECK(progress_calls > 3 && progress_min >= 0 && progress_max == 1);
        simrep_ctx_free(ctx);
        free(a), free(b);
    }
    free(x);
    free(y);
}

/* The limits: too many buckets for the memory given, too many samples for
 * exact ranks, no room for the spill files (a missing TMPDIR; a file size
 * limit standing in for a full disk, in a child so the limit and SIGXFSZ
 * stay there). */
static void test_rsa_limits(void)
{
    rng r = {7};
    const int64_t n = 2100;
    double *x = make(&r, n, 2, 0), *y = make(&r, n, 2, 0);
    simrep_options o;
    rsa_opts(&o, SIMREP_RDM_EUCLIDEAN, SIMREP_RSA_SPEARMAN, 1.0 / 16);
    {
        simrep_ctx *ctx = simrep_ctx_new(NULL);
        simrep_matrix mx = simrep_matrix_c(x, SIMREP_F64, n, 2), my = simrep_matrix_c(y, SIMREP_F64, n, 2);
        simrep_result res;
        CHECK_STATUS(ctx, simrep__rsa(ctx, &mx, &my, &o, &res), SIMREP_E_NOMEM);
        CHECK(strstr(simrep_ctx_message(ctx), "raise --rsa-memory") != NULL);
        /* n > 2^21 is refused before anything is allocated (rows of stride 0). */
        simrep_matrix big = {x, SIMREP_F64, ((int64_t)1 << 21) + 1, 2, 0, 1};
        CHECK_STATUS(ctx, simrep__rsa(ctx, &big, &big, &o, &res), SIMREP_E_INVALID);
        CHECK(strstr(simrep_ctx_message(ctx), "pearson") != NULL);
        simrep_ctx_free(ctx);
    }
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TMPDIR", "/nonexistent/simrep-test", 1);
    {
        simrep_ctx *ctx = simrep_ctx_new(NULL);
        simrep_matrix mx = simrep_matrix_c(x, SIMREP_F64, 200, 2), my = simrep_matrix_c(y, SIMREP_F64, 200, 2);
        simrep_result res;
        CHECK_STATUS(ctx, simrep__rsa(ctx, &mx, &my, &o, &res), SIMREP_E_IO);
        CHECK(strstr(simrep_ctx_message(ctx), "/nonexistent/simrep-test") != NULL);
        CHECK(strstr(simrep_ctx_message(ctx), "TMPDIR") != NULL);
        simrep_ctx_free(ctx);
    }
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        /* 8 KiB per file, less than one 32 KiB bucket of the spill of
         * n = 500: writes fail with EFBIG as they would on a full disk. */
        struct rlimit lim = {8192, 8192};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        simrep_ctx *ctx = simrep_ctx_new(NULL);
        simrep_matrix mx = simrep_matrix_c(x, SIMREP_F64, 500, 2), my = simrep_matrix_c(y, SIMREP_F64, 500, 2);
        simrep_result res;
        simrep_status st = simrep__rsa(ctx, &mx, &my, &o, &res);
        const char *msg = simrep_ctx_message(ctx);
        _exit(st == SIMREP_E_IO && strstr(msg, "cannot write a spill file") && strstr(msg, "GiB") ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(x);
    free(y);
}

/* ----------------------------------------------------------------- knn */

static void knn_opts(simrep_options *o, int64_t k)
{
    simrep_options_init(o);
    o->knn = k;
}

static void test_knn_naive(void)
{
    rng r = {0x5151ull};
    for (int variant = 0; variant < 2; variant++) {
        /* Random data; then exact ties: 20 copies of a row, 5 copies of
         * another times a power of two (the same unit row), a zero row
         * (similarity 0 to all), broken by the smaller index on both sides.
         * (Ties that hold only in exact arithmetic, e.g. rows 1:3 apart,
         * are decided by round-off, differently here and in the library.) */
        const int64_t n = variant ? 90 : 120, p = 6, q = 4;
        double *x = make(&r, n, p, 0), *y = make(&r, n, q, 0);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < q; k++)
                y[i * q + k] += 2 * x[i * p + k];
        if (variant) {
            for (int64_t i = 10; i < 30; i++)
                memcpy(x + i * p, x + 10 * p, (size_t)p * sizeof *x);
            for (int64_t i = 41; i < 46; i++)
                for (int64_t k = 0; k < p; k++)
                    x[i * p + k] = x[40 * p + k] * (double)(1 << (i - 40));
            memset(y + 3 * q, 0, (size_t)q * sizeof *y);
        }
        for (int64_t k = 1; k <= 12; k += 5) {
            simrep_options o;
            knn_opts(&o, k);
            const double m = run(simrep__mutual_knn, x, y, n, p, q, &o, SIMREP_OK);
            CHECK(m == naive_mutual(x, y, n, p, q, k));
            CHECK(m > 0.05);
            CHECK(run(simrep__mutual_knn, x, x, n, p, p, &o, SIMREP_OK) == 1.0);
            CHECK(run(simrep__mutual_knn, y, x, n, q, p, &o, SIMREP_OK) == m);
            if (k >= 2) {
                const double c = run(simrep__cknna, x, y, n, p, q, &o, SIMREP_OK);
                CHECK_CLOSE(c, naive_cknna(x, y, n, p, q, k), 1e-12);
                CHECK_CLOSE(run(simrep__cknna, x, x, n, p, p, &o, SIMREP_OK), naive_cknna(x, x, n, p, p, k), 1e-12);
            }
        }
        free(x);
        free(y);
    }
}

static double row_scale(int64_t i)
{
    return (double)(1 + i % 7);
}

/* Rows scaled by positive numbers have the same neighbours (the rows are
 * normalised); so do rows permuted together (the indices move with them,
 * and without ties the sets are the same). */
static void test_knn_invariances(void)
{
    rng r = {0x77ull};
    const int64_t n = 80, p = 5, q = 5;
    double *x = make(&r, n, p, 0), *y = make(&r, n, q, 0);
    double *xs = permuted(x, n, p, 1, 0, row_scale), *xp = permuted(x, n, p, 31, 3, NULL),
           *yp = permuted(y, n, q, 31, 3, NULL);
    simrep_options o;
    knn_opts(&o, 6);
    const double m = run(simrep__mutual_knn, x, y, n, p, q, &o, SIMREP_OK);
    CHECK(run(simrep__mutual_knn, xs, y, n, p, q, &o, SIMREP_OK) == m);
    CHECK(run(simrep__mutual_knn, xp, yp, n, p, q, &o, SIMREP_OK) == m);
    const double c = run(simrep__cknna, x, y, n, p, q, &o, SIMREP_OK);
    CHECK_CLOSE(run(simrep__cknna, xs, y, n, p, q, &o, SIMREP_OK), c, 1e-12);
    CHECK_CLOSE(run(simrep__cknna, xp, yp, n, p, q, &o, SIMREP_OK), c, 1e-12);
    free(x), free(y), free(xs), free(xp), free(yp);
}

static void test_knn_errors(void)
{
    rng r = {3};
    double *x = make(&r, 20, 3, 0), *y = make(&r, 20, 3, 0);
    simrep_options o;
    knn_opts(&o, 10);
    run(simrep__mutual_knn, x, y, 10, 3, 3, &o, SIMREP_E_DEGENERATE); /* k = 10 needs n > 10 */
    run(simrep__mutual_knn, x, y, 11, 3, 3, &o, SIMREP_OK);
    run(simrep__cknna, x, y, 10, 3, 3, &o, SIMREP_E_DEGENERATE);
    knn_opts(&o, 1);
    run(simrep__mutual_knn, x, y, 20, 3, 3, &o, SIMREP_OK);
    run(simrep__cknna, x, y, 20, 3, 3, &o, SIMREP_E_INVALID); /* platonic-rep: cknna needs k >= 2 */
    knn_opts(&o, 2);
    run(simrep__cknna, x, y, 3, 3, 3, &o, SIMREP_E_DEGENERATE); /* unbiased HSIC: n >= 4 */
    knn_opts(&o, 0);
    run(simrep__mutual_knn, x, y, 20, 3, 3, &o, SIMREP_E_INVALID);
    knn_opts(&o, INT64_MAX);
    run(simrep__mutual_knn, x, y, 20, 3, 3, &o, SIMREP_E_DEGENERATE);
    run(simrep__mutual_knn, x, y, 20, 3, 3, NULL, SIMREP_OK);
    x[4] = INFINITY;
    run(simrep__cknna, x, y, 20, 3, 3, NULL, SIMREP_E_NONFINITE);
    free(x);
    free(y);
}

/* simrep_stats_rows (src/rowstats.c; the values against numpy are
 * tests/python/test_stats_rows.py): bits that do not move with the thread
 * count, a weighted resample with every weight 1 = the plain measure,
 * cancellation, and the error paths. */
static void test_stats_rows(void)
{
    rng r = {17};
    const int64_t n = 40, p = 4, q = 3;
    double *x = make(&r, n, p, 0), *y = make(&r, n, q, 0);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < q; j++)
            y[i * q + j] += 3 * x[i * p + j];
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_matrix mx = simrep_matrix_c(x, SIMREP_F64, n, p), my = simrep_matrix_c(y, SIMREP_F64, n, q);
    simrep_options o;
    simrep_options_init(&o);
    o.knn = 3;
    const simrep_measure ms[4] = {SIMREP_RSA, SIMREP_MUTUAL_KNN, SIMREP_CKNNA, SIMREP_CKA_RBF};
    simrep_stats_options so;
    simrep_stats_options_init(&so);
    so.bootstrap = 9;
    so.permutations = 7;
    so.seed = 5;
    simrep_stats_result a[4], b[4];
    simrep_stats_info info;
    so.threads = 1;
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, ms, 4, a, &info), SIMREP_OK);
    so.threads = 3;
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, ms, 4, b, NULL), SIMREP_OK);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(info.units == 40 && info.unit_rows == 1 && info.buckets == 0 && info.segments == 0);
    CHECK(a[0].resampled && a[0].bootstrap == 9 && a[0].permutations == 7 && a[0].ci_low <= a[0].ci_high);
    CHECK(a[1].bootstrap == 9 && a[2].bootstrap == 9 && a[2].permutations == 7);
    CHECK(a[3].bootstrap == 9 && a[3].permutations == 7 && a[3].ci_low <= a[3].ci_high && a[3].se > 0);
    CHECK(a[0].p_value == 1.0 / 8 && a[0].adjusted > 0);
    /* every weight 1: the plain measure, bit for bit */
    double w[40];
    for (int i = 0; i < 40; i++)
        w[i] = 1;
    simrep_result plain, weighted;
    memset(&plain, 0, sizeof plain);
    memset(&weighted, 0, sizeof weighted);
    for (int c = 0; c < 3; c++) {
        o.rsa_compare = (simrep_rsa_compare)c;
        CHECK_STATUS(ctx, simrep__rsa(ctx, &mx, &my, &o, &plain), SIMREP_OK);
        CHECK_STATUS(ctx, simrep__rsa_weighted(ctx, &mx, &my, &o, w, NULL, &weighted), SIMREP_OK);
        CHECK_CLOSE(weighted.similarity, plain.similarity, 1e-15);
    }
    CHECK_STATUS(ctx, simrep__mutual_knn(ctx, &mx, &my, &o, &plain), SIMREP_OK);
    CHECK_STATUS(ctx, simrep__mutual_knn_weighted(ctx, &mx, &my, &o, w, NULL, &weighted), SIMREP_OK);
    CHECK(weighted.similarity == plain.similarity);
    CHECK_STATUS(ctx, simrep__cknna(ctx, &mx, &my, &o, &plain), SIMREP_OK);
    CHECK_STATUS(ctx, simrep__cknna_weighted(ctx, &mx, &my, &o, w, NULL, &weighted), SIMREP_OK);
    CHECK(weighted.similarity == plain.similarity && weighted.reverse == plain.reverse);
    /* cka_rbf: weights of 1 at its own bandwidth are the plain measure, bit
     * for bit, with or without kept tiles; no bandwidth: refused */
    double fixed[SIMREP__ROWS_FIXED_MAX];
    CHECK_STATUS(ctx, simrep__measure_row_get(SIMREP_CKA_RBF)->rows(ctx, &mx, &my, &o, &plain), SIMREP_OK);
    CHECK_STATUS(ctx, simrep__measure_row_get(SIMREP_CKA_RBF)->rows_fixed(ctx, &mx, &my, &o, fixed), SIMREP_OK);
    for (int keep = 0; keep < 2; keep++) {
        o.rbf_memory = keep ? 64 : 0;
        CHECK_STATUS(ctx, simrep__measure_row_get(SIMREP_CKA_RBF)->rows_weighted(ctx, &mx, &my, &o, w, fixed, &weighted),
                     SIMREP_OK);
        CHECK(weighted.similarity == plain.similarity);
    }
    CHECK_STATUS(ctx, simrep__measure_row_get(SIMREP_CKA_RBF)->rows_weighted(ctx, &mx, &my, &o, w, NULL, &weighted),
                 SIMREP_E_INVALID);
    o.rsa_compare = SIMREP_RSA_SPEARMAN;
    /* cancelled before it starts */
    int stop = 1;
    simrep_ctx_set_cancel(ctx, &stop);
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, ms, 4, a, NULL), SIMREP_E_CANCELLED);
    simrep_ctx_set_cancel(ctx, NULL);
    /* errors */
    const simrep_measure cka = SIMREP_CKA;
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, &cka, 1, a, NULL), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "cka is not a measure of the rows") != NULL);
    so.bootstrap = 1; /* as simrep_stats_new: one resample has no spread */
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, ms, 3, a, NULL), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "no standard error") != NULL);
    so.bootstrap = 9;
    so.ci = 1;
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, ms, 3, a, NULL), SIMREP_E_INVALID);
    so.ci = 0.95;
    so.max_memory = 1000;
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, ms, 3, a, NULL), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "memory allowed") != NULL);
    simrep_error_info e;
    simrep_ctx_error(ctx, &e);
    CHECK(strcmp(e.option, "max_memory") == 0);
    so.max_memory = 0;
    const int64_t uneven[4] = {0, 10, 25, 40};
    so.unit_starts = uneven;
    so.units = 3;
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, ms, 3, a, NULL), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "one size") != NULL);
    simrep_ctx_error(ctx, &e);
    CHECK(strcmp(e.option, "unit_starts") == 0);
    so.permutations = 0; /* the bootstrap pools uneven units */
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, ms, 3, a, &info), SIMREP_OK);
    CHECK(info.units == 3 && info.unit_rows == 0 && info.min_unit_rows == 10 && info.max_unit_rows == 15);
    x[7] = NAN;
    so.unit_starts = NULL;
    CHECK_STATUS(ctx, simrep_stats_rows(ctx, &mx, &my, &so, &o, ms, 3, a, NULL), SIMREP_E_NONFINITE);
    simrep_ctx_free(ctx);
    free(x);
    free(y);
}

void suite_rows(void)
{
    test_rsa_naive();
    test_rsa_spill();
    test_rsa_invariances();
    test_rsa_errors();
    test_rsa_limits();
    test_knn_naive();
    test_knn_invariances();
    test_knn_errors();
    test_stats_rows();
}
