/*
 * moments.c: streaming joint moments of K >= 2 activation matrices (x and
 * y are the K = 2 case), the core every linear measure reads.
 *
 * State for the rows seen so far: n, the joint column mean mu (d = sum of
 * the inputs' feature counts, input 0's first), the joint scatter
 * S = ZcᵀZc of the centered joint rows z = [z(0), ..., z(K-1)] (d x d,
 * upper triangle, column-major), and the per-row sums debiased CKA needs
 * (Kornblith et al. 2019 notebook, Song et al. 2012): with
 * a_i(k) = |z_i(k) - mu(k)|^2 for each input k,
 *   T[k][l] = sum_i a_i(k) a_i(l)                 (K x K)
 *   U[k]    = sum_i a_i(k) (z_i - mu)             (d values per input)
 * The U vectors are needed only to move T to a new mean: when the mean
 * moves by delta, T and U have closed-form updates in terms of S, U, n and
 * delta (derived in shift_row_sums below), so partial results merge
 * exactly.
 *
 * Update of a block B (b rows): convert to double in a b x d row-major
 * buffer (= a d x b column-major matrix, so DSYRK reads it in place), take
 * the new mean mu' = mu + (b/n')(mean(B) - mu), center B about mu' and
 *   S' = S + n (mu - mu')(mu - mu')ᵀ + BcᵀBc     (one DSYRK, one DSYR)
 * which is Chan, Golub & LeVeque's (1979) pairwise update written about the
 * merged mean.  Centering before the product is what makes the result agree
 * with a two-pass computation to ~1e-12 even when |mean| = 1e3 x std; the
 * textbook sum(z zᵀ) - n mu muᵀ loses all digits there and was rejected.
 * With K inputs one DSYRK gives every pair's cross-scatter at once, which
 * is what makes a matrix of comparisons cheaper than its pairs one by one.
 * mean(B) is summed about the block's first row, mean(B) = B_0 + sum(B_i -
 * B_0) / b: the sum of a constant column is then exactly 0 and its mean
 * exactly the constant, so a constant feature has exactly zero scatter
 * whether or not its value is representable (a column of 0.1 summed
 * directly has a mean off by an ulp and a round-off variance of 1e-33,
 * which no threshold relative to the largest variance can tell from data
 * when every feature is constant).
 * The block size bounds memory: block_rows x d doubles, chosen so that the
 * O(K d^2) merge is small next to the O(b d^2) DSYRK.
 *
 * Scale.  Every measure is invariant to scaling each input by a constant,
 * but the state is not: sums of squares of data near 1e200 overflow and
 * those of data near 1e-200 underflow (and T, a sum of fourth powers, does
 * so from 1e77 and 1e-77).  So each input j's state is kept in units of
 * 2^expo[j]: a block is multiplied by 2^-expo[j] after conversion, and the
 * state (mean, scatter rows/columns, T, U) is rescaled by a power of two
 * whenever the largest magnitude seen so far would leave [2^-100, 2^100]
 * in these units (expo then moves so that it is in [1, 2)).  Multiplying by
 * a power of two is exact and commutes with every rounding, so results are
 * bit for bit those of the unscaled data whenever those do not overflow or
 * underflow, and data in [2^-100, 2^100] (about 1e-30 to 1e30) never
 * rescale at all.  In those units the scatter is at most n 2^202, the
 * squared scatter and T at most n^2 2^404 (p <= 2^40), and the smallest
 * non-dead variance stays far above the subnormal range.  The measures
 * read the state in these units (each side's unit cancels); the public
 * accessors (means, scatter) multiply it back.  Rejected: a per-column
 * scale (CKA and Procrustes are not invariant to it), and one scale fixed
 * by the first block (later blocks may be 1e300 times larger).
 *
 * Rounding.  Each input also remembers the unit roundoff of the coarsest
 * dtype its rows were stored in (2^-24 for float32, 2^-53 for float64;
 * simrep_moments_note_dtype for rows converted before they got here): the
 * CCA family treats covariance directions at that rounding level as noise
 * (cca.c, docs/measures.md "Directions at the data's rounding level").
 * Merges keep the coarser, states carry it.
 */
#include "linalg.h"
#include "moments.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* Rows per internal block: large enough that the O(K d^2) merge is small
 * against the O(rows * d^2) DSYRK, small enough that the buffer stays a few
 * tens of MiB at d = 2048 (the bench target keeps peak RSS <= 128 MiB). */
#define BLOCK_TARGET_DOUBLES (4 * 1024 * 1024)
#define BLOCK_MIN_ROWS 256
#define BLOCK_MAX_ROWS 8192
/* A block's rows are converted and centred in PARTS parts, side by side
 * when BLAS has threads (tasks.c), once the block has PART_MIN_ELEMENTS
 * elements.  The split depends on the sizes only, never on the thread count,
 * so the column sums (summed part by part) are the same bits whatever the
 * threads. */
#define PARTS 2
#define PART_MIN_ELEMENTS (1 << 18)

struct simrep_moments {
    int k;           /* inputs */
    int64_t *off;    /* k + 1 column offsets: input j is columns [off[j], off[j+1]) */
    int64_t d;       /* off[k] */
    int64_t n;
    double *mean;    /* d */
    double *scatter; /* d x d, upper triangle valid */
    double *t;       /* k x k, symmetric, full */
    double *u;       /* k x d: u[j * d + c] = sum_i a_i(j) (z_ic - mu_c) */
    int *expo;       /* k: input j's state is in units of 2^expo[j] (see "Scale") */
    double *mag;     /* 2k: a bound on input j's largest magnitude folded so far, in those units;
                        then the current block's largest magnitudes (raw) */
    double *unit;    /* k: unit roundoff of the coarsest dtype folded into input j (see "Rounding"); 0: none yet */
    simrep_precision precision; /* of the blocks folded from now on */
    int mixed;       /* 1 once any rows were folded in MIXED precision (merge ORs it) */
    /* work space, not state */
    float *fblock;   /* MIXED: the centred block rounded to float (block_rows x d) */
    float *fscatter; /* MIXED: one sub-block's SSYRK (d x d, upper triangle) */
    double *fscale;  /* MIXED: 2d: per column 2^e(input), then 2^-e(input) (fold_block) */
    int64_t block_rows;
    double *block;   /* block_rows x d, then scratch (see block_scratch) */
    double *work;    /* d x k products S E, and per-input scalars */
};

static int64_t feat(const simrep_moments *m, int j) { return m->off[j + 1] - m->off[j]; }

/* How a message names input j: the caller's name (simrep_ctx_set_names),
 * else "x"/"y" for two inputs, "input j" otherwise. */
static void input_name(simrep_ctx *ctx, const simrep_moments *m, int j, char *buf, size_t cap)
{
    simrep__input_name(ctx, j, m->k, buf, cap);
}

simrep_status simrep_moments_new_multi(simrep_ctx *ctx, int inputs, const int64_t *features, simrep_moments **out)
{
    *out = NULL;
    if (inputs < 2 || !features)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments need at least 2 inputs (got %d)", inputs);
    int64_t d = 0, dd, kd;
    for (int j = 0; j < inputs; j++) {
        if (features[j] < 1)
            return simrep__fail(ctx, SIMREP_E_INVALID, "moments need every input to have >= 1 feature (input %d has %lld)",
                                j, (long long)features[j]);
        if (features[j] > INT64_MAX / 4 - d)
            return simrep__fail(ctx, SIMREP_E_INVALID, "too many features");
        d += features[j];
    }
    if (!simrep__mul_i64(d, d, &dd) || !simrep__mul_i64(d, inputs, &kd))
        return simrep__fail(ctx, SIMREP_E_INVALID, "%lld features in all is too many", (long long)d);
    simrep_moments *m = simrep__alloc(ctx, sizeof *m, "moments");
    if (!m)
        return SIMREP_E_NOMEM;
    memset(m, 0, sizeof *m);
    m->k = inputs;
    m->d = d;
    int64_t rows = BLOCK_TARGET_DOUBLES / d;
    m->block_rows = rows < BLOCK_MIN_ROWS ? BLOCK_MIN_ROWS : rows > BLOCK_MAX_ROWS ? BLOCK_MAX_ROWS : rows;
    m->off = simrep__alloc_array(ctx, (size_t)inputs + 1, sizeof(int64_t), "moments offsets");
    m->mean = m->off ? simrep__calloc_array(ctx, (size_t)d, sizeof(double), "moments means") : NULL;
    m->scatter = m->mean ? simrep__calloc_array(ctx, (size_t)dd, sizeof(double), "moments scatter") : NULL;
    m->t = m->scatter ? simrep__calloc_array(ctx, (size_t)inputs * (size_t)inputs, sizeof(double), "moments row sums")
                      : NULL;
    m->u = m->t ? simrep__calloc_array(ctx, (size_t)kd, sizeof(double), "moments row sums") : NULL;
    /* shift_row_sums: S(:,j) delta(j) (d x k), A(j) and |delta(j)|^2. */
    m->work = m->u ? simrep__calloc_array(ctx, (size_t)kd + 2 * (size_t)inputs, sizeof(double),
                                          "moments work space")
                   : NULL;
    m->expo = m->work ? simrep__calloc_array(ctx, (size_t)inputs, sizeof(int), "moments scales") : NULL;
    m->mag = m->expo ? simrep__calloc_array(ctx, 2 * (size_t)inputs, sizeof(double), "moments scales") : NULL;
    m->unit = m->mag ? simrep__calloc_array(ctx, (size_t)inputs, sizeof(double), "moments dtypes") : NULL;
    if (!m->unit) {
        simrep_moments_free(ctx, m);
        return SIMREP_E_NOMEM;
    }
    m->off[0] = 0;
    for (int j = 0; j < inputs; j++)
        m->off[j + 1] = m->off[j] + features[j];
    *out = m;
    return SIMREP_OK;
}

simrep_status simrep_moments_new(simrep_ctx *ctx, int64_t p, int64_t q, simrep_moments **out)
{
    *out = NULL;
    if (p < 1 || q < 1)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments need p >= 1 and q >= 1 features (got %lld and %lld)",
                            (long long)p, (long long)q);
    const int64_t features[2] = {p, q};
    return simrep_moments_new_multi(ctx, 2, features, out);
}

void simrep_moments_free(simrep_ctx *ctx, simrep_moments *m)
{
    if (!m)
        return;
    simrep__free(ctx, m->off);
    simrep__free(ctx, m->mean);
    simrep__free(ctx, m->scatter);
    simrep__free(ctx, m->t);
    simrep__free(ctx, m->u);
    simrep__free(ctx, m->work);
    simrep__free(ctx, m->expo);
    simrep__free(ctx, m->mag);
    simrep__free(ctx, m->unit);
    simrep__free(ctx, m->block);
    simrep__free(ctx, m->fblock);
    simrep__free(ctx, m->fscatter);
    simrep__free(ctx, m->fscale);
    simrep__free(ctx, m);
}

simrep_status simrep_moments_set_precision(simrep_ctx *ctx, simrep_moments *m, simrep_precision precision)
{
    if (!m)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments is NULL");
    if (precision != SIMREP_PRECISION_FLOAT64 && precision != SIMREP_PRECISION_MIXED)
        return simrep__fail(ctx, SIMREP_E_INVALID, "unknown precision %d (float64 = 0, mixed = 1)", (int)precision);
    m->precision = precision;
    return SIMREP_OK;
}

int simrep__moments_mixed(const simrep_moments *m) { return m->mixed; }

/* Round to nearest: half a unit in the last place of a significand of
 * 11 (float16), 8 (bfloat16), 24 (float32) or 53 (float64) bits. */
double simrep__dtype_unit(simrep_dtype dtype)
{
    switch (dtype) {
    case SIMREP_F16: return 0x1p-11;
    case SIMREP_BF16: return 0x1p-8;
    case SIMREP_F32: return 0x1p-24;
    default: return 0x1p-53;
    }
}

/* The unit roundoffs a state may carry: none yet, or one of the dtypes'. */
static int valid_unit(double u)
{
    return u == 0 || u == 0x1p-11 || u == 0x1p-8 || u == 0x1p-24 || u == 0x1p-53;
}

static void note_unit(simrep_moments *m, int j, double u)
{
    if (u > m->unit[j])
        m->unit[j] = u;
}

simrep_status simrep_moments_note_dtype(simrep_ctx *ctx, simrep_moments *m, int input, simrep_dtype dtype)
{
    if (!m)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments is NULL");
    if (input < 0 || input >= m->k)
        return simrep__fail(ctx, SIMREP_E_INVALID, "these moments have %d inputs (got input %d)", m->k, input);
    if (dtype != SIMREP_F16 && dtype != SIMREP_BF16 && dtype != SIMREP_F32 && dtype != SIMREP_F64)
        return simrep__fail(ctx, SIMREP_E_INVALID, "unknown dtype %d", (int)dtype);
    note_unit(m, input, simrep__dtype_unit(dtype));
    return SIMREP_OK;
}

double simrep_moments_unit_roundoff(const simrep_moments *m, int input)
{
    return m && input >= 0 && input < m->k ? m->unit[input] : 0;
}

int64_t simrep_moments_n(const simrep_moments *m) { return m->n; }
int64_t simrep_moments_p(const simrep_moments *m) { return feat(m, 0); }
int64_t simrep_moments_q(const simrep_moments *m) { return m->d - feat(m, 0); }
int simrep_moments_inputs(const simrep_moments *m) { return m->k; }

int64_t simrep_moments_features(const simrep_moments *m, int input)
{
    return input >= 0 && input < m->k ? feat(m, input) : 0;
}

/* The input a joint column belongs to. */
static int input_of(const simrep_moments *m, int64_t c)
{
    int j = 0;
    while (c >= m->off[j + 1])
        j++;
    return j;
}

void simrep_moments_means(const simrep_moments *m, double *mean_x, double *mean_y)
{
    const int64_t p = feat(m, 0);
    for (int64_t c = 0; c < m->d; c++) {
        const double v = ldexp(m->mean[c], m->expo[input_of(m, c)]);
        if (c < p && mean_x)
            mean_x[c] = v;
        else if (c >= p && mean_y)
            mean_y[c - p] = v;
    }
}

void simrep_moments_scatter(const simrep_moments *m, double *out, int64_t ld)
{
    const int64_t d = m->d;
    for (int64_t j = 0; j < d; j++) {
        const int ej = m->expo[input_of(m, j)];
        for (int64_t i = 0; i <= j; i++) {
            double v = m->scatter[i + j * d];
            if (ej != 0 || m->expo[input_of(m, i)] != 0)
                v = ldexp(v, ej + m->expo[input_of(m, i)]);
            out[i + j * ld] = v;
            out[j + i * ld] = v;
        }
    }
}

/* Internal accessors for the measures (declared in moments.h). */
const double *simrep__moments_scatter_upper(const simrep_moments *m) { return m->scatter; }
const double *simrep__moments_mean(const simrep_moments *m) { return m->mean; }
const int64_t *simrep__moments_offsets(const simrep_moments *m) { return m->off; }
double simrep__moments_row_sum(const simrep_moments *m, int i, int j) { return m->t[i * m->k + j]; }
int simrep__moments_exponent(const simrep_moments *m, int j) { return m->expo[j]; }

/* ---------------------------------------------------------------- scale */

/* The window of magnitudes (in an input's units) that never rescales. */
#define SCALE_MAX_EXP 100

/* A bound on the largest magnitude input j's state can hold, in its units:
 * every value of column c lies within sqrt(S_cc) of the column's mean. */
static double state_magnitude(const simrep_moments *m, int j)
{
    double b = 0;
    for (int64_t c = m->off[j]; c < m->off[j + 1]; c++) {
        const double s = m->scatter[c + c * m->d];
        const double v = fabs(m->mean[c]) + (s > 0 ? sqrt(s) : 0.0);
        b = v > b ? v : b;
    }
    return b;
}

/* Express input j's share of the state in units of 2^(expo[j] + shift):
 * its means, its rows and columns of the scatter, its T and U entries are
 * multiplied by 2^-shift to the power of how often input j enters them.
 * Exact but for values that become subnormal, which are then negligible
 * against the largest ones (2^-1022 of a value near 1). */
static void rescale_input(simrep_moments *m, int j, int shift)
{
    if (shift == 0)
        return;
    const int k = m->k;
    const int64_t d = m->d, o = m->off[j], e = m->off[j + 1];
    for (int64_t c = o; c < e; c++)
        m->mean[c] = ldexp(m->mean[c], -shift);
    for (int64_t b = 0; b < d; b++) { /* upper triangle: a <= b */
        const int bin = b >= o && b < e;
        for (int64_t a = 0; a <= b; a++) {
            const int times = bin + (a >= o && a < e);
            if (times)
                m->scatter[a + b * d] = ldexp(m->scatter[a + b * d], -times * shift);
        }
    }
    for (int l = 0; l < k; l++) {
        const int times = l == j ? 4 : 2;
        m->t[j * k + l] = ldexp(m->t[j * k + l], -times * shift);
        if (l != j)
            m->t[l * k + j] = m->t[j * k + l];
        for (int64_t c = 0; c < d; c++) {
            const int tu = 2 * (l == j) + (c >= o && c < e);
            if (tu)
                m->u[l * d + c] = ldexp(m->u[l * d + c], -tu * shift);
        }
    }
    m->mag[j] = ldexp(m->mag[j], -shift);
    m->expo[j] += shift;
}

/* The binary exponent of v > 0 (v = f 2^e, 1 <= f < 2), or INT_MIN for 0. */
static int exponent_of(double v)
{
    return v > 0 ? ilogb(v) : INT_MIN;
}

/* Before folding a block whose largest raw magnitudes per input are
 * mag[k + j]: move each input's units so that the largest magnitude of its
 * state and of the block, in those units, is inside [2^-100, 2^100), and
 * record the new bound. */
static void adapt_scales(simrep_moments *m)
{
    for (int j = 0; j < m->k; j++) {
        const double raw = m->mag[m->k + j];
        const int eb = raw > 0 ? exponent_of(raw) - m->expo[j] : INT_MIN;
        const int es = exponent_of(m->mag[j]);
        const int top = eb > es ? eb : es;
        if (top != INT_MIN && (top >= SCALE_MAX_EXP || top < -SCALE_MAX_EXP))
            rescale_input(m, j, top);
        if (raw > 0) {
            const double b = ldexp(raw, -m->expo[j]);
            m->mag[j] = b > m->mag[j] ? b : m->mag[j];
        }
    }
}

/* Multiply input j's columns of the block (and their sums) by 2^-expo[j]:
 * two factors when 2^-expo[j] itself is not a double (expo < -1023). */
static void scale_block(const simrep_moments *m, double *restrict z, int64_t rows, double *restrict sums)
{
    const int64_t d = m->d;
    for (int j = 0; j < m->k; j++) {
        int e = -m->expo[j];
        if (e == 0)
            continue;
        double f1 = 1.0;
        if (e > 1000) {
            f1 = ldexp(1.0, 1000);
            e -= 1000;
        }
        const double f2 = ldexp(1.0, e);
        for (int64_t i = 0; i <= rows; i++) { /* the sums are row `rows` */
            double *restrict r = i < rows ? z + i * d : sums;
            for (int64_t c = m->off[j]; c < m->off[j + 1]; c++)
                r[c] = r[c] * f1 * f2;
        }
    }
}

/*
 * Move the debiased-CKA row sums (t, k x k, and u, k x d) of a part with n
 * rows and scatter S (about its old mean) to the mean moved by delta.  With
 * z~ = z - mu, z~' = z~ - delta, a(j)' = a(j) - 2 z~(j).delta(j) + |delta(j)|^2,
 * A(j) = sum a(j) = tr S(j,j) and sum z~ = 0, expanding gives
 *   T'[k][l] = T[k][l] - 2 delta(l).U[k](l) - 2 delta(k).U[l](k)
 *              + 4 delta(k)ᵀ S(k,l) delta(l) + |delta(l)|^2 A(k)
 *              + |delta(k)|^2 A(l) + n |delta(k)|^2 |delta(l)|^2
 *   U'[k]    = U[k] - 2 S(:,k) delta(k) - (A(k) + n |delta(k)|^2) delta
 * (U[k](l) is the part of U[k] on input l's columns).  The products
 * S(:,k) delta(k) read only input k's columns of S: from the upper triangle
 * that is a DGEMV above the diagonal block, a DSYMV on it and a transposed
 * DGEMV to its right, d p_k flops each, d^2 in all (a DSYMM with a d x K
 * block-sparse matrix would cost K d^2).
 */
static simrep_status shift_row_sums(simrep_ctx *ctx, const simrep_moments *m, const double *scatter, int64_t n,
                                    double *t, double *u, const double *delta, double *work)
{
    const int k = m->k;
    const int64_t d = m->d;
    if (n == 0)
        return SIMREP_OK;
    double *se = work;                            /* d x k: column j is S(:,j) delta(j) */
    double *a = se + (size_t)k * d, *dd = a + k;  /* A(j), |delta(j)|^2 */
    simrep_status st = SIMREP_OK;
    for (int j = 0; j < k && st == SIMREP_OK; j++) {
        const int64_t o = m->off[j], e = m->off[j + 1], pj = e - o;
        const double *dj = delta + o;
        double *col = se + (size_t)j * d;
        a[j] = 0;
        dd[j] = 0;
        for (int64_t c = o; c < e; c++) {
            a[j] += scatter[c + c * d];
            dd[j] += delta[c] * delta[c];
        }
        /* rows above the block: S[0:o, o:e] is stored as it is */
        st = simrep__gemv(ctx, 'N', o, pj, 1.0, scatter + o * d, d, dj, 0.0, col);
        if (st == SIMREP_OK) /* the diagonal block, upper triangle */
            st = simrep__symv(ctx, pj, 1.0, scatter + o + o * d, d, dj, 0.0, col + o);
        if (st == SIMREP_OK) /* rows below: S[e:d, o:e] = S[o:e, e:d]ᵀ */
            st = simrep__gemv(ctx, 'T', pj, d - e, 1.0, scatter + o + e * d, d, dj, 0.0, col + e);
    }
    if (st != SIMREP_OK)
        return st;
    const double nn = (double)n;
    for (int i = 0; i < k; i++)
        for (int j = i; j < k; j++) {
            /* delta(i).U[i... ]: U[i] on j's columns, U[j] on i's columns,
             * delta(i)ᵀ S(i,j) delta(j) = delta(i) . (S E)[:, j] on i's rows. */
            double dj_ui = 0, di_uj = 0, dsd = 0;
            for (int64_t c = m->off[j]; c < m->off[j + 1]; c++)
                dj_ui += delta[c] * u[i * d + c];
            for (int64_t c = m->off[i]; c < m->off[i + 1]; c++) {
                di_uj += delta[c] * u[j * d + c];
                dsd += delta[c] * se[j * d + c];
            }
            double v = t[i * k + j] - 2 * dj_ui - 2 * di_uj + 4 * dsd + dd[j] * a[i] + dd[i] * a[j] +
                       nn * dd[i] * dd[j];
            t[i * k + j] = v;
            t[j * k + i] = v;
        }
    for (int j = 0; j < k; j++) {
        const double c0 = a[j] + nn * dd[j];
        for (int64_t c = 0; c < d; c++)
            u[j * d + c] += -2 * se[j * d + c] - c0 * delta[c];
    }
    return SIMREP_OK;
}

/* Scratch laid out after the block buffer: the column sums of the block
 * (then the mean shift), the new mean, the per-row squared norms of each
 * input (rows x k, leading dimension block_rows). */
static size_t block_doubles(const simrep_moments *m)
{
    return (size_t)(m->block_rows + 2) * (size_t)m->d + (size_t)m->k * (size_t)m->block_rows +
           (size_t)PARTS * ((size_t)m->d + (size_t)m->k);
}

/*
 * NaN and Inf propagate into the column sums, so one pass gives both the
 * block mean and the check; only a block whose sums are not finite is
 * scanned for the culprit, named by input, row and column.  A block of
 * finite values whose sum overflows (values near 1e308) is fine: the sums
 * are recomputed once the block is in its inputs' units (scale_block).
 */
static simrep_status check_finite(simrep_ctx *ctx, const simrep_moments *m, const double *z, int64_t rows,
                                  const double *sums, int64_t first_row)
{
    const int64_t d = m->d;
    double acc = 0;
    for (int64_t j = 0; j < d; j++)
        acc += sums[j] * 0.0; /* NaN * 0 and Inf * 0 are NaN */
    if (acc == 0.0)
        return SIMREP_OK;
    for (int64_t i = 0; i < rows; i++)
        for (int j = 0; j < m->k; j++)
            for (int64_t c = m->off[j]; c < m->off[j + 1]; c++) {
                const double v = z[i * d + c];
                if (!isfinite(v)) {
                    simrep__fail_input(ctx, SIMREP_E_NONFINITE, j, m->k, "%s at row %lld, column %lld",
                                       isnan(v) ? "NaN" : "Inf", (long long)(first_row + i),
                                       (long long)(c - m->off[j]));
                    simrep__error_cell(ctx, first_row + i, c - m->off[j]);
                    return SIMREP_E_NONFINITE;
                }
            }
    return SIMREP_OK;
}

/* Whether any column sum is Inf (finite values near 1e308 summed). */
static int sums_overflowed(const double *sums, int64_t d)
{
    for (int64_t j = 0; j < d; j++)
        if (!isfinite(sums[j]))
            return 1;
    return 0;
}

/* Fold rows z (rows x d, row-major, converted and checked, with column sums
 * in the first spare row) into m.  Overwrites z with the centered rows. */
/* Rows [i0, i1) of a block centred about mnew, their squared norms per
 * input into ra, and (MIXED, down != NULL) rounded to float after scaling
 * by down; a task of fold_block (rows are independent: the same bits
 * whatever the split). */
typedef struct center_part {
    const simrep_moments *m;
    double *z;
    int64_t i0, i1;
    const double *mnew;
    double *ra;
    const double *down;
} center_part;

static simrep_status center_task(simrep_ctx *ctx, void *arg)
{
    (void)ctx;
    const center_part *p = arg;
    const simrep_moments *m = p->m;
    const int64_t d = m->d, br = m->block_rows;
    const double *restrict mnew = p->mnew, *restrict down = p->down;
    for (int64_t i = p->i0; i < p->i1; i++) {
        double *restrict r = p->z + i * d;
        for (int j = 0; j < m->k; j++) {
            double a = 0;
            for (int64_t c = m->off[j]; c < m->off[j + 1]; c++) {
                r[c] -= mnew[c];
                a += r[c] * r[c];
            }
            p->ra[i + j * br] = a;
        }
        if (down) {
            float *restrict f = m->fblock + i * d;
            for (int64_t c = 0; c < d; c++)
                f[c] = (float)(r[c] * down[c]);
        }
    }
    return SIMREP_OK;
}

static simrep_status fold_block(simrep_ctx *ctx, simrep_moments *m, double *restrict z, int64_t rows)
{
    const int k = m->k;
    const int64_t d = m->d, br = m->block_rows;
    const double n_old = (double)m->n, n_new = (double)(m->n + rows);
    double *shift = m->block + br * d;
    double *restrict mnew = shift + d;
    double *restrict ra = mnew + d; /* rows x k, leading dimension br */
    for (int64_t j = 0; j < d; j++) {
        double block_mean = z[j] + shift[j] / (double)rows; /* the sums are about the first row (convert_rows) */
        mnew[j] = m->mean[j] + (block_mean - m->mean[j]) * ((double)rows / n_new);
        shift[j] = mnew[j] - m->mean[j];
    }
    simrep_status st = shift_row_sums(ctx, m, m->scatter, m->n, m->t, m->u, shift, m->work);
    if (st != SIMREP_OK)
        return st;
    /* S += n_old * shift shiftᵀ (the old rows' scatter about the new mean). */
    if (m->n > 0) {
        st = simrep__syr(ctx, d, n_old, shift, m->scatter, d);
        if (st != SIMREP_OK)
            return st;
    }
    /* Center the block about the new mean; a_i(j) = |z~_i(j)|^2.  MIXED:
     * the centred rows rounded to float as well, each input's columns
     * multiplied by a power of two 2^-e(j) that brings its largest
     * magnitude (mag, a bound on state and block, see "Scale") into [1, 2):
     * the state's units allow 2^100, whose square overflows float; the
     * product is multiplied back by 2^(e(a) + e(b)) in double (exact). */
    const int mixed = m->precision == SIMREP_PRECISION_MIXED;
    double *restrict up = m->fscale, *restrict down = m->fscale + d;
    for (int j = 0; mixed && j < k; j++) {
        const int e = m->mag[j] > 0 ? ilogb(m->mag[j]) + 1 : 0;
        for (int64_t c = m->off[j]; c < m->off[j + 1]; c++) {
            up[c] = ldexp(1.0, e);
            down[c] = ldexp(1.0, -e);
        }
    }
    center_part parts[PARTS];
    void *args[PARTS];
    const int np = rows * d >= PART_MIN_ELEMENTS ? PARTS : 1;
    for (int t = 0; t < np; t++) {
        parts[t] = (center_part){m, z, rows * t / np, rows * (t + 1) / np, mnew, ra, mixed ? down : NULL};
        args[t] = &parts[t];
    }
    simrep__run_tasks(ctx, np, center_task, args); /* cannot fail */
    /* T += Aᵀ A (k x k) and U += Z~ A (d x k): the block is the column-major
     * d x rows matrix, A the rows x k norms; two small DGEMMs. */
    st = simrep__gemm(ctx, 'T', 'N', k, k, rows, 1.0, ra, br, ra, br, 1.0, m->t, k);
    if (st == SIMREP_OK)
        st = simrep__gemm(ctx, 'N', 'N', d, k, rows, 1.0, z, d, ra, br, 1.0, m->u, d);
    /* S += BcᵀBc: the row-major rows x d block is the column-major d x rows
     * matrix Bcᵀ, so DSYRK with trans 'N' reads it in place. */
    if (st == SIMREP_OK && !mixed)
        st = simrep__syrk(ctx, 'N', d, rows, 1.0, z, d, 1.0, m->scatter, d);
    /* MIXED: the same product in single precision, SIMREP_MIXED_ROWS rows at
     * a time, each sub-block's sum added to the double scatter (the float
     * sums never run over more rows than that: the error bound). */
    for (int64_t r0 = 0; mixed && r0 < rows && st == SIMREP_OK; r0 += SIMREP_MIXED_ROWS) {
        const int64_t sub = rows - r0 < SIMREP_MIXED_ROWS ? rows - r0 : SIMREP_MIXED_ROWS;
        st = simrep__ssyrk(ctx, d, sub, m->fblock + r0 * d, d, m->fscatter, d);
        for (int64_t j = 0; j < d && st == SIMREP_OK; j++) {
            double *restrict sc = m->scatter + j * d;
            const float *restrict fc = m->fscatter + j * d;
            const double uj = up[j];
            for (int64_t i = 0; i <= j; i++)
                sc[i] += (double)fc[i] * up[i] * uj;
        }
    }
    if (st != SIMREP_OK)
        return st;
    m->mixed |= mixed;
    memcpy(m->mean, mnew, (size_t)d * sizeof(double));
    m->n += rows;
    return SIMREP_OK;
}

/*
 * Convert rows [r0, r0+rows) of every input into the block buffer and sum
 * its columns about the first row (sums[c] = sum_i z_ic - z_0c, see the
 * design comment), with the largest magnitude of each input.  Row-
 * contiguous views (the streaming case) are converted and summed row by row
 * while the row is in L1; column-major views are converted column by column
 * (reading the source contiguously) and summed afterwards.
 */
/* Rows [i0, i1) of the block, row-contiguous views: converted, their
 * column sums about row 0 added to sums and their largest magnitudes per
 * input into amax (both cleared by the caller). */
static void convert_range(const simrep_moments *m, const simrep_matrix *blocks, int64_t r0, int64_t i0, int64_t i1,
                          double *z, double *restrict sums, double *restrict amax)
{
    const int64_t d = m->d;
    for (int64_t i = i0; i < i1; i++) {
        double *r = z + i * d; /* not restrict: row 0 is read through z too */
        for (int j = 0; j < m->k; j++) {
            simrep__rows_to_double(&blocks[j], r0 + i, 1, r + m->off[j], d);
            double a = amax[j];
            for (int64_t c = m->off[j]; c < m->off[j + 1]; c++) {
                sums[c] += r[c] - z[c];
                a = fabs(r[c]) > a ? fabs(r[c]) : a;
            }
            amax[j] = a;
        }
    }
}

/* One part of a block's rows (a task of convert_rows): sums (d) and amax
 * (k) of its own. */
typedef struct convert_part {
    const simrep_moments *m;
    const simrep_matrix *blocks;
    int64_t r0, i0, i1;
    double *z, *sums;
} convert_part;

static simrep_status convert_task(simrep_ctx *ctx, void *arg)
{
    (void)ctx;
    convert_part *p = arg;
    memset(p->sums, 0, (size_t)(p->m->d + p->m->k) * sizeof(double));
    convert_range(p->m, p->blocks, p->r0, p->i0, p->i1, p->z, p->sums, p->sums + p->m->d);
    return SIMREP_OK;
}

static void convert_rows(simrep_ctx *ctx, const simrep_moments *m, const simrep_matrix *blocks, int64_t r0,
                         int64_t rows, double *restrict z, double *restrict sums, double *restrict amax)
{
    const int64_t d = m->d;
    for (int64_t j = 0; j < d; j++)
        sums[j] = 0;
    for (int j = 0; j < m->k; j++)
        amax[j] = 0;
    int rowwise = 1;
    for (int j = 0; j < m->k; j++)
        rowwise &= blocks[j].col_stride == 1;
    if (rowwise && rows * d >= PART_MIN_ELEMENTS) {
        /* Row 0 first (the others' sums are taken about it), then the
         * rest in parts, each with its own sums and maxima. */
        convert_range(m, blocks, r0, 0, 1, z, sums, amax);
        double *psums = m->block + block_doubles(m) - (size_t)PARTS * (size_t)(d + m->k);
        convert_part parts[PARTS];
        void *args[PARTS];
        for (int t = 0; t < PARTS; t++) {
            parts[t] = (convert_part){m, blocks, r0, 1 + (rows - 1) * t / PARTS, 1 + (rows - 1) * (t + 1) / PARTS,
                                      z, psums + (size_t)t * (size_t)(d + m->k)};
            args[t] = &parts[t];
        }
        simrep__run_tasks(ctx, PARTS, convert_task, args); /* cannot fail */
        for (int t = 0; t < PARTS; t++) {
            const double *ps = parts[t].sums, *pa = ps + d;
            for (int64_t c = 0; c < d; c++)
                sums[c] += ps[c];
            for (int j = 0; j < m->k; j++)
                amax[j] = pa[j] > amax[j] ? pa[j] : amax[j];
        }
        return;
    }
    if (rowwise) {
        convert_range(m, blocks, r0, 0, rows, z, sums, amax);
        return;
    }
    for (int j = 0; j < m->k; j++) {
        const simrep_matrix *a = &blocks[j];
        if (a->col_stride == 1) {
            simrep__rows_to_double(a, r0, rows, z + m->off[j], d);
        } else {
            for (int64_t c = 0; c < a->cols; c++)
                for (int64_t i = 0; i < rows; i++)
                    z[i * d + m->off[j] + c] = simrep__element(a, r0 + i, c);
        }
    }
    for (int64_t i = 0; i < rows; i++)
        for (int j = 0; j < m->k; j++) {
            double a = amax[j];
            for (int64_t c = m->off[j]; c < m->off[j + 1]; c++) {
                sums[c] += z[i * d + c] - z[c];
                a = fabs(z[i * d + c]) > a ? fabs(z[i * d + c]) : a;
            }
            amax[j] = a;
        }
}

static void copy_state(simrep_moments *dst, const simrep_moments *m);

simrep_status simrep_moments_update_multi(simrep_ctx *ctx, simrep_moments *m, const simrep_matrix *blocks)
{
    simrep_status st;
    if (!m || !blocks)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments or blocks is NULL");
    char name[SIMREP__MSG_MAX / 4];
    for (int j = 0; j < m->k; j++) {
        input_name(ctx, m, j, name, sizeof name);
        if ((st = simrep__check_matrix(ctx, &blocks[j], name)) != SIMREP_OK) {
            if (ctx)
                ctx->err_input = j;
            return st;
        }
        if (blocks[j].cols != feat(m, j))
            return simrep__fail_input(ctx, SIMREP_E_SHAPE, j, m->k, "moments were made for %lld features but got %lld",
                                      (long long)feat(m, j), (long long)blocks[j].cols);
    }
    const int64_t n = blocks[0].rows;
    for (int j = 1; j < m->k; j++)
        if (blocks[j].rows != n)
            return simrep__fail_rows(ctx, j, m->k, n, blocks[j].rows, "rows");
    if (n == 0)
        return SIMREP_OK;
    if (!m->block) {
        m->block = simrep__alloc_array(ctx, block_doubles(m), sizeof(double), "moments block buffer");
        if (!m->block)
            return SIMREP_E_NOMEM;
    }
    if (m->precision == SIMREP_PRECISION_MIXED && !m->fscatter) {
        m->fblock = m->fblock ? m->fblock
                              : simrep__alloc_array(ctx, (size_t)(m->block_rows * m->d), sizeof(float),
                                                    "moments single-precision block");
        m->fscale = m->fscale ? m->fscale
                              : simrep__alloc_array(ctx, 2 * (size_t)m->d, sizeof(double),
                                                    "moments single-precision scales");
        m->fscatter = m->fblock && m->fscale ? simrep__alloc_array(ctx, (size_t)(m->d * m->d), sizeof(float),
                                                                   "moments single-precision scatter")
                                             : NULL;
        if (!m->fscatter)
            return SIMREP_E_NOMEM;
    }
    /* An error leaves the moments unchanged.  A single block (the streaming
     * case) is checked before it is folded; a larger input (an in-memory
     * array) is converted and folded block by block once, with a copy of
     * the state taken first and put back on error: O(d^2) against the
     * second conversion pass over all rows that checking first would cost
     * (Python's compare on in-memory arrays paid that). */
    if (n > SIMREP__MAX_SAMPLES - m->n)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "these moments hold %lld samples; %lld more would pass 2^53, beyond which counts are "
                            "not exact in double precision",
                            (long long)m->n, (long long)n);
    double *sums = m->block + m->block_rows * m->d, *amax = m->mag + m->k;
    const int single = n <= m->block_rows;
    const int64_t n0 = m->n;
    simrep_moments *undo = NULL;
    int cancelled = 0;
    if (!single && (st = simrep_moments_clone(ctx, m, &undo)) != SIMREP_OK)
        return st;
    for (int64_t r0 = 0; r0 < n && st == SIMREP_OK; r0 += m->block_rows) {
        int64_t rows = n - r0 < m->block_rows ? n - r0 : m->block_rows;
        if (simrep__cancel_requested(ctx)) { /* blocks folded so far stay: see simrep_ctx_set_cancel */
            st = simrep__cancelled(ctx);
            cancelled = 1;
            break;
        }
        convert_rows(ctx, m, blocks, r0, rows, m->block, sums, amax);
        if ((st = check_finite(ctx, m, m->block, rows, sums, n0 + r0)) != SIMREP_OK)
            break;
        const int resum = sums_overflowed(sums, m->d);
        adapt_scales(m);
        scale_block(m, m->block, rows, sums);
        if (resum) {
            for (int64_t c = 0; c < m->d; c++)
                sums[c] = 0;
            for (int64_t i = 0; i < rows; i++)
                for (int64_t c = 0; c < m->d; c++)
                    sums[c] += m->block[i * m->d + c] - m->block[c];
        }
        st = fold_block(ctx, m, m->block, rows);
    }
    if (undo) {
        if (st != SIMREP_OK && !cancelled)
            copy_state(m, undo);
        simrep_moments_free(ctx, undo);
    }
    if (m->n > n0) /* rows of these dtypes are in the state now (all of them, or up to a cancel) */
        for (int j = 0; j < m->k; j++)
            note_unit(m, j, simrep__dtype_unit(blocks[j].dtype));
    return st;
}

simrep_status simrep_moments_update(simrep_ctx *ctx, simrep_moments *m, const simrep_matrix *x,
                                    const simrep_matrix *y)
{
    if (!m || !x || !y)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments, x or y is NULL");
    if (m->k != 2)
        return simrep__fail(ctx, SIMREP_E_INVALID, "these moments have %d inputs; use simrep_moments_update_multi",
                            m->k);
    const simrep_matrix blocks[2] = {*x, *y};
    return simrep_moments_update_multi(ctx, m, blocks);
}

static simrep_status merge_rescaled(simrep_ctx *ctx, simrep_moments *into, const simrep_moments *other);

static int same_shape(const simrep_moments *a, const simrep_moments *b)
{
    if (a->k != b->k)
        return 0;
    for (int j = 0; j <= a->k; j++)
        if (a->off[j] != b->off[j])
            return 0;
    return 1;
}

simrep_status simrep_moments_merge(simrep_ctx *ctx, simrep_moments *into, const simrep_moments *other)
{
    if (!into || !other)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments is NULL");
    if (!same_shape(into, other))
        return simrep__fail(ctx, SIMREP_E_SHAPE,
                            "cannot merge moments of %d inputs (%lld features) with %d inputs (%lld features)",
                            into->k, (long long)into->d, other->k, (long long)other->d);
    if (other->n == 0)
        return SIMREP_OK;
    if (other->n > SIMREP__MAX_SAMPLES - into->n)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "merging moments of %lld and %lld samples would pass 2^53 samples, beyond which counts "
                            "are not exact in double precision",
                            (long long)into->n, (long long)other->n);
    int same = 1;
    for (int j = 0; j < into->k; j++)
        same &= into->expo[j] == other->expo[j];
    if (!same)
        return merge_rescaled(ctx, into, other);
    const int k = into->k;
    const int64_t d = into->d;
    /* other's row sums, shifted to the merged mean in a scratch copy. */
    const size_t kk = (size_t)k * (size_t)k, kd = (size_t)k * (size_t)d;
    double *tmp = simrep__alloc_array(ctx, kk + kd + 2 * (size_t)d, sizeof(double), "moments merge scratch");
    if (!tmp)
        return SIMREP_E_NOMEM;
    double *ot = tmp, *ou = ot + kk, *mnew = ou + kd, *shift = mnew + d;
    const double na = (double)into->n, nb = (double)other->n, n = na + nb;
    for (int64_t j = 0; j < d; j++)
        mnew[j] = into->mean[j] + (other->mean[j] - into->mean[j]) * (nb / n);
    memcpy(ot, other->t, kk * sizeof(double));
    memcpy(ou, other->u, kd * sizeof(double));
    for (int64_t j = 0; j < d; j++)
        shift[j] = mnew[j] - other->mean[j];
    /* into->work is free scratch here (sized for shift_row_sums). */
    simrep_status st = shift_row_sums(ctx, other, other->scatter, other->n, ot, ou, shift, into->work);
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < d; j++)
            shift[j] = mnew[j] - into->mean[j];
        st = shift_row_sums(ctx, into, into->scatter, into->n, into->t, into->u, shift, into->work);
    }
    if (st == SIMREP_OK) {
        /* Chan et al.: S = Sa + Sb + (na nb / n) delta deltaᵀ, delta = mu_b - mu_a. */
        for (int64_t j = 0; j < d; j++)
            shift[j] = other->mean[j] - into->mean[j];
        st = into->n > 0 ? simrep__syr(ctx, d, na * nb / n, shift, into->scatter, d) : SIMREP_OK;
    }
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < d; j++)
            for (int64_t i = 0; i <= j; i++)
                into->scatter[i + j * d] += other->scatter[i + j * d];
        for (size_t j = 0; j < kk; j++)
            into->t[j] += ot[j];
        for (size_t j = 0; j < kd; j++)
            into->u[j] += ou[j];
        memcpy(into->mean, mnew, (size_t)d * sizeof(double));
        into->n += other->n;
        for (int j = 0; j < k; j++) { /* a bound on both; keep it inside the window */
            into->mag[j] = other->mag[j] > into->mag[j] ? other->mag[j] : into->mag[j];
            into->mag[k + j] = 0;
        }
        adapt_scales(into);
        into->mixed |= other->mixed;
        for (int j = 0; j < k; j++)
            note_unit(into, j, other->unit[j]);
    }
    simrep__free(ctx, tmp);
    return st;
}

/* Merge moments kept in different units (see "Scale"): a copy of other and
 * into itself are first brought to common units, those of whichever of the
 * two holds the larger magnitudes of each input, so neither can overflow. */
static simrep_status merge_rescaled(simrep_ctx *ctx, simrep_moments *into, const simrep_moments *other)
{
    simrep_moments *o = NULL;
    simrep_status st = simrep_moments_clone(ctx, other, &o);
    if (st != SIMREP_OK)
        return st;
    for (int j = 0; j < into->k; j++) {
        const int ea = exponent_of(into->mag[j]), eb = exponent_of(o->mag[j]);
        int target; /* log2 of the larger magnitude: expo + exponent of mag */
        if (ea == INT_MIN && eb == INT_MIN)
            target = into->expo[j];
        else if (eb == INT_MIN || (ea != INT_MIN && into->expo[j] + ea >= o->expo[j] + eb))
            target = into->expo[j] + ea;
        else
            target = o->expo[j] + eb;
        rescale_input(into, j, target - into->expo[j]);
        rescale_input(o, j, target - o->expo[j]);
    }
    st = simrep_moments_merge(ctx, into, o);
    simrep_moments_free(ctx, o);
    return st;
}

/*
 * State layout: K, the K feature counts, n, T (K x K), the mean (d), U
 * (K x d), the scatter (d x d, full), all in the inputs' units, then the K
 * exponents of those units (see "Scale") and the K unit roundoffs (see
 * "Rounding").  K = 2 keeps the two-input API's
 * simrep_moments_state_size(p, q).
 */
static int64_t state_len(int k, int64_t d)
{
    int64_t dd, kd;
    if (k < 0 || d < 0 || !simrep__mul_i64(d, d, &dd) || !simrep__mul_i64(k, d, &kd) || dd > INT64_MAX / 2 ||
        kd > INT64_MAX / 4 || d > INT64_MAX / 8)
        return 0; /* no such moments can exist (simrep_moments_new refuses the sizes) */
    return 2 + 3 * (int64_t)k + (int64_t)k * k + d + kd + dd;
}

int64_t simrep_moments_state_size(int64_t p, int64_t q)
{
    if (p < 0 || q < 0 || p > INT64_MAX / 2 || q > INT64_MAX / 2)
        return 0;
    return state_len(2, p + q);
}

int64_t simrep_moments_state_len(const simrep_moments *m)
{
    return state_len(m->k, m->d);
}

void simrep_moments_save(const simrep_moments *m, double *state)
{
    const int k = m->k;
    const int64_t d = m->d;
    double *s = state;
    *s++ = (double)k;
    for (int j = 0; j < k; j++)
        *s++ = (double)feat(m, j);
    *s++ = (double)m->n;
    memcpy(s, m->t, (size_t)k * (size_t)k * sizeof(double));
    s += (size_t)k * (size_t)k;
    memcpy(s, m->mean, (size_t)d * sizeof(double));
    s += d;
    memcpy(s, m->u, (size_t)k * (size_t)d * sizeof(double));
    s += (size_t)k * (size_t)d;
    for (int64_t j = 0; j < d; j++)
        for (int64_t i = 0; i <= j; i++)
            s[i + j * d] = s[j + i * d] = m->scatter[i + j * d];
    s += d * d;
    for (int j = 0; j < k; j++)
        s[j] = (double)m->expo[j];
    for (int j = 0; j < k; j++)
        s[k + j] = m->unit[j];
}

/*
 * A state arrives from outside (a pickle, another process), so it is checked
 * before anything is copied: the shape, the count (a whole number, at most
 * 2^53), every value finite, the exponents whole and in double's range, the
 * scatter symmetric (save writes both triangles) with a non-negative
 * diagonal (sums of squares, in every update and merge), and an empty state
 * all zero but for the unit roundoffs, which must be a dtype's (or 0: an
 * empty Moments may have had a dtype noted before any rows).  A state with
 * Inf in it gave cka = inf and sent Inf into LAPACK.
 * The scatter is a Gram matrix, so Cauchy-Schwarz bounds its off-diagonal
 * entries: |S_ab| <= sqrt(S_aa S_bb) <= (S_aa + S_bb) / 2; round-off can
 * exceed that by at most n u (< 2 for n <= 2^53) of it, so a factor of 4 is
 * a test no real state fails and keeps a forged one from overflowing the
 * measures' products.  T and U are not tested beyond finiteness: their
 * closed-form shifts (shift_row_sums) may leave round-off of either sign,
 * and what they feed (cka_debiased) refuses a non-positive HSIC anyway.
 */
static simrep_status check_state(simrep_ctx *ctx, const simrep_moments *m, const double *state)
{
    const int k = m->k;
    const int64_t d = m->d, len = state_len(k, d);
    int ok = state[0] == (double)k;
    for (int j = 0; ok && j < k; j++)
        ok = state[1 + j] == (double)feat(m, j);
    if (!ok)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "moments state does not match these moments (%d inputs, %lld features)", k, (long long)d);
    const double n = state[1 + k];
    if (!(n >= 0 && n <= (double)SIMREP__MAX_SAMPLES && n == floor(n)))
        return simrep__fail(ctx, SIMREP_E_FORMAT, "moments state is corrupt: its sample count %g is not a whole "
                            "number in [0, 2^53]", n);
    for (int64_t i = 2 + k; i < len; i++)
        if (!isfinite(state[i]))
            return simrep__fail(ctx, SIMREP_E_FORMAT, "moments state is corrupt: value %lld of %lld is %s", (long long)i,
                                (long long)len, isnan(state[i]) ? "NaN" : "Inf");
    const double *t = state + 2 + k, *mean = t + (size_t)k * k, *u = mean + d, *sc = u + (size_t)k * d;
    const double *ex = sc + d * d, *un = ex + k;
    (void)t;
    for (int j = 0; j < k; j++) {
        if (!(fabs(ex[j]) <= 2200 && ex[j] == floor(ex[j])))
            return simrep__fail(ctx, SIMREP_E_FORMAT, "moments state is corrupt: input %d's scale exponent %g is "
                                "not a whole number in [-2200, 2200]", j, ex[j]);
        if (!valid_unit(un[j]))
            return simrep__fail(ctx, SIMREP_E_FORMAT, "moments state is corrupt: input %d's unit roundoff %g is "
                                "not a dtype's (0, 2^-53, 2^-24, 2^-11 or 2^-8)", j, un[j]);
    }
    for (int64_t b = 0; b < d; b++) {
        if (sc[b + b * d] < 0)
            return simrep__fail(ctx, SIMREP_E_FORMAT, "moments state is corrupt: the scatter of feature %lld is "
                                "negative (%g)", (long long)b, sc[b + b * d]);
        for (int64_t a = 0; a < b; a++) {
            if (sc[a + b * d] != sc[b + a * d])
                return simrep__fail(ctx, SIMREP_E_FORMAT, "moments state is corrupt: the scatter is not symmetric "
                                    "(entries %lld, %lld)", (long long)a, (long long)b);
            if (!(fabs(sc[a + b * d]) <= 4 * (sc[a + a * d] + sc[b + b * d])))
                return simrep__fail(ctx, SIMREP_E_FORMAT, "moments state is corrupt: the scatter of features %lld "
                                    "and %lld exceeds their variances (Cauchy-Schwarz)", (long long)a, (long long)b);
        }
    }

    if (n == 0)
        for (int64_t i = 2 + k; i < len - 2 * k; i++)
            if (state[i] != 0)
                return simrep__fail(ctx, SIMREP_E_FORMAT, "moments state is corrupt: it holds no samples but value "
                                    "%lld is %g", (long long)i, state[i]);
    return SIMREP_OK;
}

simrep_status simrep_moments_load(simrep_ctx *ctx, simrep_moments *m, const double *state)
{
    if (!m || !state)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_moments_load: moments or state is NULL");
    simrep_status st = check_state(ctx, m, state);
    if (st != SIMREP_OK)
        return st;
    const int k = m->k;
    const int64_t d = m->d;
    const double *s = state + 2 + k;
    m->n = (int64_t)state[1 + k];
    memcpy(m->t, s, (size_t)k * (size_t)k * sizeof(double));
    s += (size_t)k * (size_t)k;
    memcpy(m->mean, s, (size_t)d * sizeof(double));
    s += d;
    memcpy(m->u, s, (size_t)k * (size_t)d * sizeof(double));
    s += (size_t)k * (size_t)d;
    memcpy(m->scatter, s, (size_t)(d * d) * sizeof(double));
    s += d * d;
    for (int j = 0; j < k; j++) {
        m->expo[j] = (int)s[j];
        m->mag[j] = state_magnitude(m, j);
        m->mag[k + j] = 0;
        m->unit[j] = s[k + j];
    }
    adapt_scales(m); /* a state written elsewhere may sit outside the window */
    return SIMREP_OK;
}

/* Everything but the work space, between two Moments of the same shape. */
static void copy_state(simrep_moments *dst, const simrep_moments *m)
{
    const size_t kk = (size_t)m->k * (size_t)m->k, kd = (size_t)m->k * (size_t)m->d;
    dst->n = m->n;
    dst->precision = m->precision;
    dst->mixed = m->mixed;
    memcpy(dst->t, m->t, kk * sizeof(double));
    memcpy(dst->mean, m->mean, (size_t)m->d * sizeof(double));
    memcpy(dst->u, m->u, kd * sizeof(double));
    memcpy(dst->scatter, m->scatter, (size_t)(m->d * m->d) * sizeof(double));
    memcpy(dst->expo, m->expo, (size_t)m->k * sizeof(int));
    memcpy(dst->mag, m->mag, 2 * (size_t)m->k * sizeof(double));
    memcpy(dst->unit, m->unit, (size_t)m->k * sizeof(double));
}

simrep_status simrep_moments_clone(simrep_ctx *ctx, const simrep_moments *m, simrep_moments **out)
{
    int64_t *features = simrep__alloc_array(ctx, (size_t)m->k, sizeof(int64_t), "moments clone");
    if (!features)
        return SIMREP_E_NOMEM;
    for (int j = 0; j < m->k; j++)
        features[j] = feat(m, j);
    simrep_status st = simrep_moments_new_multi(ctx, m->k, features, out);
    simrep__free(ctx, features);
    if (st != SIMREP_OK)
        return st;
    copy_state(*out, m);
    return SIMREP_OK;
}
