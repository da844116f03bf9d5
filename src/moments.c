/*
 * moments.c: streaming joint moments of two activation matrices, the core
 * every linear measure reads.
 *
 * State for the rows seen so far: n, the joint column mean mu (d = p + q
 * values, x's first), the joint scatter S = ZcᵀZc of the centered joint rows
 * z = [x, y] (d x d, upper triangle, column-major), and the per-row sums
 * debiased CKA needs (Kornblith et al. 2019 notebook, Song et al. 2012):
 * with a_i = |x_i - mu_x|^2 and b_i = |y_i - mu_y|^2,
 *   T_ab = sum a_i b_i, T_aa = sum a_i^2, T_bb = sum b_i^2,
 *   u_ax = sum a_i (x_i - mu_x), u_ay, u_bx, u_by likewise.
 * The u vectors are needed only to move the other sums to a new mean: when
 * the mean moves by delta every sum above has a closed-form update in terms
 * of S, the u's, n and delta (derived in shift_row_sums below), so partial
 * results merge exactly.
 *
 * Update of a block B (b rows): convert to double in a b x d row-major
 * buffer (= a d x b column-major matrix, so DSYRK reads it in place), take
 * the new mean mu' = mu + (b/n')(mean(B) - mu), center B about mu' and
 *   S' = S + n (mu - mu')(mu - mu')ᵀ + BcᵀBc     (one DSYRK, one DSYR)
 * which is Chan, Golub & LeVeque's (1979) pairwise update written about the
 * merged mean.  Centering before the product is what makes the result agree
 * with a two-pass computation to ~1e-12 even when |mean| = 1e3 x std; the
 * textbook sum(z zᵀ) - n mu muᵀ loses all digits there and was rejected.
 * The block size bounds memory: block_rows x d doubles, chosen so that the
 * O(d^2) merge is negligible next to the O(b d^2) DSYRK.
 */
#include "linalg.h"
#include "moments.h"

#include <math.h>
#include <string.h>

/* Rows per internal block: large enough that the O(d^2) merge is small
 * against the O(rows * d^2) DSYRK, small enough that the buffer stays a few
 * tens of MiB at d = 2048 (the bench target keeps peak RSS <= 128 MiB). */
#define BLOCK_TARGET_DOUBLES (4 * 1024 * 1024)
#define BLOCK_MIN_ROWS 256
#define BLOCK_MAX_ROWS 8192

struct simrep_moments {
    int64_t p, q, d;
    int64_t n;
    double *mean;    /* d */
    double *scatter; /* d x d, upper triangle valid */
    double t[3];     /* t_ab, t_aa, t_bb */
    double *u;       /* u_ax (p), u_ay (q), u_bx (p), u_by (q): 2d values */
    /* work space, not state */
    int64_t block_rows;
    double *block;   /* block_rows x d */
    double *work;    /* 4 d */
};


simrep_status simrep_moments_new(simrep_ctx *ctx, int64_t p, int64_t q, simrep_moments **out)
{
    *out = NULL;
    if (p < 1 || q < 1)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments need p >= 1 and q >= 1 features (got %lld and %lld)",
                            (long long)p, (long long)q);
    int64_t d = p + q, dd;
    if (!simrep__mul_i64(d, d, &dd))
        return simrep__fail(ctx, SIMREP_E_INVALID, "p + q = %lld features is too many", (long long)d);
    simrep_moments *m = simrep__alloc(ctx, sizeof *m, "moments");
    if (!m)
        return SIMREP_E_NOMEM;
    memset(m, 0, sizeof *m);
    m->p = p;
    m->q = q;
    m->d = d;
    int64_t rows = BLOCK_TARGET_DOUBLES / d;
    m->block_rows = rows < BLOCK_MIN_ROWS ? BLOCK_MIN_ROWS : rows > BLOCK_MAX_ROWS ? BLOCK_MAX_ROWS : rows;
    m->mean = simrep__calloc_array(ctx, (size_t)d, sizeof(double), "moments means");
    m->scatter = m->mean ? simrep__calloc_array(ctx, (size_t)dd, sizeof(double), "moments scatter") : NULL;
    m->u = m->scatter ? simrep__calloc_array(ctx, (size_t)(2 * d), sizeof(double), "moments row sums") : NULL;
    m->work = m->u ? simrep__calloc_array(ctx, (size_t)(4 * d), sizeof(double), "moments work space") : NULL;
    if (!m->work) {
        simrep_moments_free(ctx, m);
        return SIMREP_E_NOMEM;
    }
    *out = m;
    return SIMREP_OK;
}

void simrep_moments_free(simrep_ctx *ctx, simrep_moments *m)
{
    if (!m)
        return;
    simrep__free(ctx, m->mean);
    simrep__free(ctx, m->scatter);
    simrep__free(ctx, m->u);
    simrep__free(ctx, m->work);
    simrep__free(ctx, m->block);
    simrep__free(ctx, m);
}

int64_t simrep_moments_n(const simrep_moments *m) { return m->n; }
int64_t simrep_moments_p(const simrep_moments *m) { return m->p; }
int64_t simrep_moments_q(const simrep_moments *m) { return m->q; }

void simrep_moments_means(const simrep_moments *m, double *mean_x, double *mean_y)
{
    if (mean_x)
        memcpy(mean_x, m->mean, (size_t)m->p * sizeof(double));
    if (mean_y)
        memcpy(mean_y, m->mean + m->p, (size_t)m->q * sizeof(double));
}

void simrep_moments_scatter(const simrep_moments *m, double *out, int64_t ld)
{
    const int64_t d = m->d;
    for (int64_t j = 0; j < d; j++)
        for (int64_t i = 0; i <= j; i++) {
            double v = m->scatter[i + j * d];
            out[i + j * ld] = v;
            out[j + i * ld] = v;
        }
}

/* Internal accessors for the measures (declared in moments.h). */

const double *simrep__moments_scatter_upper(const simrep_moments *m) { return m->scatter; }
const double *simrep__moments_mean(const simrep_moments *m) { return m->mean; }
void simrep__moments_row_sums(const simrep_moments *m, double *t_ab, double *t_aa, double *t_bb)
{
    *t_ab = m->t[0];
    *t_aa = m->t[1];
    *t_bb = m->t[2];
}

/*
 * Move the debiased-CKA row sums of m from its mean mu to mu + delta.
 * With x~ = x - mu_x, x~' = x~ - dx, a = |x~|^2, a' = a - 2 x~.dx + |dx|^2,
 * and sum x~ = 0, expanding each sum gives (Ax = tr Sxx, By = tr Syy):
 *   T_aa' = T_aa - 4 dx.u_ax + 4 dxᵀSxx dx + 2|dx|^2 Ax + n|dx|^4
 *   T_ab' = T_ab - 2 dy.u_ay - 2 dx.u_bx + 4 dxᵀSxy dy + |dy|^2 Ax + |dx|^2 By + n|dx|^2|dy|^2
 *   u_ax' = u_ax - 2 Sxx dx - (Ax + n|dx|^2) dx
 *   u_ay' = u_ay - 2 Syx dx - (Ax + n|dx|^2) dy
 *   u_bx' = u_bx - 2 Sxy dy - (By + n|dy|^2) dx
 *   u_by' = u_by - 2 Syy dy - (By + n|dy|^2) dy
 * (T_bb' mirrors T_aa').  Uses the scatter about the old mean, so it runs
 * before the scatter is updated.
 */
typedef struct row_sums {
    double *t;       /* t_ab, t_aa, t_bb */
    double *u;       /* u_ax (p), u_ay (q), u_bx (p), u_by (q) */
} row_sums;

static simrep_status shift_row_sums(simrep_ctx *ctx, const simrep_moments *m, const double *scatter, int64_t n,
                                    row_sums rs, const double *delta, double *work)
{
    const int64_t p = m->p, q = m->q, d = m->d;
    if (n == 0)
        return SIMREP_OK;
    double *ex = work, *sx = work + d, *ey = work + 2 * d, *sy = work + 3 * d;
    const double *uax = rs.u, *uay = rs.u + p, *ubx = rs.u + d, *uby = rs.u + d + p;
    /* S [dx; 0] = [Sxx dx; Syx dx] and S [0; dy] = [Sxy dy; Syy dy]. */
    memset(ex, 0, (size_t)d * sizeof(double));
    memset(ey, 0, (size_t)d * sizeof(double));
    memcpy(ex, delta, (size_t)p * sizeof(double));
    memcpy(ey + p, delta + p, (size_t)q * sizeof(double));
    simrep_status st = simrep__symv(ctx, d, 1.0, scatter, d, ex, 0.0, sx);
    if (st == SIMREP_OK)
        st = simrep__symv(ctx, d, 1.0, scatter, d, ey, 0.0, sy);
    if (st != SIMREP_OK)
        return st;
    const double *dx = delta, *dy = delta + p;
    double Ax = 0, By = 0, dx2 = 0, dy2 = 0, dxSxxdx = 0, dySyydy = 0, dxSxydy = 0;
    double dx_uax = 0, dx_ubx = 0, dy_uay = 0, dy_uby = 0;
    for (int64_t i = 0; i < p; i++) {
        Ax += scatter[i + i * d];
        dx2 += dx[i] * dx[i];
        dxSxxdx += dx[i] * sx[i];
        dxSxydy += dx[i] * sy[i];
        dx_uax += dx[i] * uax[i];
        dx_ubx += dx[i] * ubx[i];
    }
    for (int64_t i = 0; i < q; i++) {
        By += scatter[(p + i) * (d + 1)];
        dy2 += dy[i] * dy[i];
        dySyydy += dy[i] * sy[p + i];
        dy_uay += dy[i] * uay[i];
        dy_uby += dy[i] * uby[i];
    }
    const double nn = (double)n;
    rs.t[1] += -4 * dx_uax + 4 * dxSxxdx + 2 * dx2 * Ax + nn * dx2 * dx2;
    rs.t[2] += -4 * dy_uby + 4 * dySyydy + 2 * dy2 * By + nn * dy2 * dy2;
    rs.t[0] += -2 * dy_uay - 2 * dx_ubx + 4 * dxSxydy + dy2 * Ax + dx2 * By + nn * dx2 * dy2;
    const double ca = Ax + nn * dx2, cb = By + nn * dy2;
    double *wax = rs.u, *way = rs.u + p, *wbx = rs.u + d, *wby = rs.u + d + p;
    for (int64_t i = 0; i < p; i++) {
        wax[i] += -2 * sx[i] - ca * dx[i];
        wbx[i] += -2 * sy[i] - cb * dx[i];
    }
    for (int64_t i = 0; i < q; i++) {
        way[i] += -2 * sx[p + i] - ca * dy[i];
        wby[i] += -2 * sy[p + i] - cb * dy[i];
    }
    return SIMREP_OK;
}

/*
 * NaN and Inf propagate into the column sums, so one vectorized pass gives
 * both the block mean and the check; only a block whose sums are not finite
 * is scanned for the culprit, named by side, row and column.  A block of
 * finite values whose sum overflows is an error too (its scatter would be
 * Inf).
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
        for (int64_t j = 0; j < d; j++) {
            const double v = z[i * d + j];
            if (!isfinite(v)) {
                int is_x = j < m->p;
                return simrep__fail(ctx, SIMREP_E_NONFINITE, "%s: %s at row %lld, column %lld", is_x ? "x" : "y",
                                    isnan(v) ? "NaN" : "Inf", (long long)(first_row + i),
                                    (long long)(is_x ? j : j - m->p));
            }
        }
    for (int64_t j = 0; j < d; j++)
        if (!isfinite(sums[j])) {
            int is_x = j < m->p;
            return simrep__fail(ctx, SIMREP_E_NONFINITE,
                                "%s: column %lld overflows double precision when summed over rows %lld to %lld "
                                "(values near 1e308); rescale the data",
                                is_x ? "x" : "y", (long long)(is_x ? j : j - m->p), (long long)first_row,
                                (long long)(first_row + rows - 1));
        }
    return SIMREP_OK;
}

/* Fold rows z (rows x d, row-major, converted and checked, with column sums
 * in m's first spare row) into m.  Overwrites z with the centered rows. */
static simrep_status fold_block(simrep_ctx *ctx, simrep_moments *m, double *restrict z, int64_t rows)
{
    const int64_t p = m->p, d = m->d;
    const double n_old = (double)m->n, n_new = (double)(m->n + rows);
    /* Spare space after the block: the column sums (turned into the mean
     * shift), the new mean, and the per-row squared norms a_i, b_i (work[]
     * is scratch for shift_row_sums). */
    double *shift = m->block + m->block_rows * d;
    double *restrict mnew = shift + d;
    double *restrict ra = mnew + d, *restrict rb = ra + m->block_rows;
    for (int64_t j = 0; j < d; j++) {
        double block_mean = shift[j] / (double)rows;
        mnew[j] = m->mean[j] + (block_mean - m->mean[j]) * ((double)rows / n_new);
        shift[j] = mnew[j] - m->mean[j];
    }
    row_sums rs = {m->t, m->u};
    simrep_status st = shift_row_sums(ctx, m, m->scatter, m->n, rs, shift, m->work);
    if (st != SIMREP_OK)
        return st;
    /* S += n_old * shift shiftᵀ (the old rows' scatter about the new mean). */
    if (m->n > 0) {
        st = simrep__syr(ctx, d, n_old, shift, m->scatter, d);
        if (st != SIMREP_OK)
            return st;
    }
    /* Center the block about the new mean; a_i = |x~_i|^2, b_i = |y~_i|^2. */
    double taa = 0, tbb = 0, tab = 0;
    for (int64_t i = 0; i < rows; i++) {
        double *restrict r = z + i * d;
        double a = 0, b = 0;
        for (int64_t j = 0; j < p; j++) {
            r[j] -= mnew[j];
            a += r[j] * r[j];
        }
        for (int64_t j = p; j < d; j++) {
            r[j] -= mnew[j];
            b += r[j] * r[j];
        }
        ra[i] = a;
        rb[i] = b;
        tab += a * b;
        taa += a * a;
        tbb += b * b;
    }
    m->t[0] += tab;
    m->t[1] += taa;
    m->t[2] += tbb;
    /* [u_ax u_bx; u_ay u_by] += Z~ [a b]: the block is the column-major
     * d x rows matrix and a, b are the columns of a rows x 2 matrix (leading
     * dimension block_rows), so this is one DGEMM, one pass over the block. */
    st = simrep__gemm(ctx, 'N', 'N', d, 2, rows, 1.0, z, d, ra, m->block_rows, 1.0, m->u, d);
    /* S += BcᵀBc: the row-major rows x d block is the column-major d x rows
     * matrix Bcᵀ, so DSYRK with trans 'N' reads it in place. */
    if (st == SIMREP_OK)
        st = simrep__syrk(ctx, 'N', d, rows, 1.0, z, d, 1.0, m->scatter, d);
    if (st != SIMREP_OK)
        return st;
    memcpy(m->mean, mnew, (size_t)d * sizeof(double));
    m->n += rows;
    return SIMREP_OK;
}

/*
 * Convert rows [r0, r0+rows) of x and y into the block buffer z and sum its
 * columns into sums.  Row-contiguous views (the streaming case) are
 * converted and summed row by row while the row is in L1, one pass over the
 * block; column-major views are converted column by column (reading the
 * source contiguously) and summed afterwards.
 */
static void convert_rows(const simrep_moments *m, const simrep_matrix *x, const simrep_matrix *y, int64_t r0,
                         int64_t rows, double *restrict z, double *restrict sums)
{
    const int64_t d = m->d, p = m->p;
    for (int64_t j = 0; j < d; j++)
        sums[j] = 0;
    if (x->col_stride == 1 && y->col_stride == 1) {
        for (int64_t i = 0; i < rows; i++) {
            double *restrict r = z + i * d;
            simrep__rows_to_double(x, r0 + i, 1, r, d);
            simrep__rows_to_double(y, r0 + i, 1, r + p, d);
            for (int64_t j = 0; j < d; j++)
                sums[j] += r[j];
        }
        return;
    }
    const simrep_matrix *side[2] = {x, y};
    const int64_t off[2] = {0, p};
    for (int s = 0; s < 2; s++) {
        const simrep_matrix *a = side[s];
        if (a->col_stride == 1) {
            simrep__rows_to_double(a, r0, rows, z + off[s], d);
        } else {
            for (int64_t j = 0; j < a->cols; j++)
                for (int64_t i = 0; i < rows; i++)
                    z[i * d + off[s] + j] = simrep__element(a, r0 + i, j);
        }
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < d; j++)
            sums[j] += z[i * d + j];
}

simrep_status simrep_moments_update(simrep_ctx *ctx, simrep_moments *m, const simrep_matrix *x,
                                    const simrep_matrix *y)
{
    simrep_status st;
    if (!m)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments is NULL");
    if ((st = simrep__check_matrix(ctx, x, "x")) != SIMREP_OK || (st = simrep__check_matrix(ctx, y, "y")) != SIMREP_OK)
        return st;
    if (x->cols != m->p || y->cols != m->q)
        return simrep__fail(ctx, SIMREP_E_SHAPE, "moments were made for %lld + %lld features but got %lld + %lld",
                            (long long)m->p, (long long)m->q, (long long)x->cols, (long long)y->cols);
    if (x->rows != y->rows)
        return simrep__fail(ctx, SIMREP_E_SHAPE, "x has %lld rows but y has %lld", (long long)x->rows,
                            (long long)y->rows);
    if (x->rows == 0)
        return SIMREP_OK;
    if (!m->block) {
        /* block_rows rows, two spare rows for the mean shift and new mean,
         * and 2 x block_rows for the per-row squared norms. */
        size_t count = (size_t)(m->block_rows + 2) * (size_t)m->d + 2 * (size_t)m->block_rows;
        m->block = simrep__alloc_array(ctx, count, sizeof(double), "moments block buffer");
        if (!m->block)
            return SIMREP_E_NOMEM;
    }
    /* Check the whole input before folding any of it, so that an error leaves
     * the moments unchanged.  A single block (the streaming case) is
     * converted once; a larger input is converted twice, which costs
     * O(rows * d) against the O(rows * d^2) product. */
    double *sums = m->block + m->block_rows * m->d;
    const int single = x->rows <= m->block_rows;
    for (int64_t r0 = 0; r0 < x->rows && !single; r0 += m->block_rows) {
        int64_t rows = x->rows - r0 < m->block_rows ? x->rows - r0 : m->block_rows;
        convert_rows(m, x, y, r0, rows, m->block, sums);
        if ((st = check_finite(ctx, m, m->block, rows, sums, m->n + r0)) != SIMREP_OK)
            return st;
    }
    for (int64_t r0 = 0; r0 < x->rows; r0 += m->block_rows) {
        int64_t rows = x->rows - r0 < m->block_rows ? x->rows - r0 : m->block_rows;
        convert_rows(m, x, y, r0, rows, m->block, sums);
        if (single && (st = check_finite(ctx, m, m->block, rows, sums, m->n + r0)) != SIMREP_OK)
            return st;
        if ((st = fold_block(ctx, m, m->block, rows)) != SIMREP_OK)
            return st;
    }
    return SIMREP_OK;
}

simrep_status simrep_moments_merge(simrep_ctx *ctx, simrep_moments *into, const simrep_moments *other)
{
    if (!into || !other)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments is NULL");
    if (into->p != other->p || into->q != other->q)
        return simrep__fail(ctx, SIMREP_E_SHAPE, "cannot merge moments of %lld + %lld features with %lld + %lld",
                            (long long)into->p, (long long)into->q, (long long)other->p, (long long)other->q);
    if (other->n == 0)
        return SIMREP_OK;
    const int64_t d = into->d;
    /* other's row sums, shifted to the merged mean in a scratch copy:
     * 3 + 2d values, plus the two mean vectors and 4d of work. */
    double *tmp = simrep__alloc_array(ctx, (size_t)(3 + 8 * d), sizeof(double), "moments merge scratch");
    if (!tmp)
        return SIMREP_E_NOMEM;
    double *ot = tmp, *ou = tmp + 3, *mnew = ou + 2 * d, *shift = mnew + d, *work = shift + d;
    const double na = (double)into->n, nb = (double)other->n, n = na + nb;
    for (int64_t j = 0; j < d; j++)
        mnew[j] = into->mean[j] + (other->mean[j] - into->mean[j]) * (nb / n);
    memcpy(ot, other->t, 3 * sizeof(double));
    memcpy(ou, other->u, (size_t)(2 * d) * sizeof(double));
    simrep_status st = SIMREP_OK;
    for (int64_t j = 0; j < d; j++)
        shift[j] = mnew[j] - other->mean[j];
    row_sums ors = {ot, ou};
    st = shift_row_sums(ctx, other, other->scatter, other->n, ors, shift, work);
    if (st == SIMREP_OK) {
        for (int64_t j = 0; j < d; j++)
            shift[j] = mnew[j] - into->mean[j];
        row_sums irs = {into->t, into->u};
        st = shift_row_sums(ctx, into, into->scatter, into->n, irs, shift, work);
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
        for (int k = 0; k < 3; k++)
            into->t[k] += ot[k];
        for (int64_t j = 0; j < 2 * d; j++)
            into->u[j] += ou[j];
        memcpy(into->mean, mnew, (size_t)d * sizeof(double));
        into->n += other->n;
    }
    simrep__free(ctx, tmp);
    return st;
}

/* State layout: p, q, n, t[3], mean (d), u (2d), scatter (d x d, full). */
int64_t simrep_moments_state_size(int64_t p, int64_t q)
{
    int64_t d = p + q;
    return 6 + 3 * d + d * d;
}

void simrep_moments_save(const simrep_moments *m, double *state)
{
    const int64_t d = m->d;
    state[0] = (double)m->p;
    state[1] = (double)m->q;
    state[2] = (double)m->n;
    memcpy(state + 3, m->t, 3 * sizeof(double));
    memcpy(state + 6, m->mean, (size_t)d * sizeof(double));
    memcpy(state + 6 + d, m->u, (size_t)(2 * d) * sizeof(double));
    simrep_moments_scatter(m, state + 6 + 3 * d, d);
}

simrep_status simrep_moments_load(simrep_ctx *ctx, simrep_moments *m, const double *state)
{
    const int64_t d = m->d;
    if (state[0] != (double)m->p || state[1] != (double)m->q || !(state[2] >= 0) || state[2] != floor(state[2]))
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "moments state is for %g + %g features with n = %g; expected %lld + %lld features",
                            state[0], state[1], state[2], (long long)m->p, (long long)m->q);
    m->n = (int64_t)state[2];
    memcpy(m->t, state + 3, 3 * sizeof(double));
    memcpy(m->mean, state + 6, (size_t)d * sizeof(double));
    memcpy(m->u, state + 6 + d, (size_t)(2 * d) * sizeof(double));
    memcpy(m->scatter, state + 6 + 3 * d, (size_t)(d * d) * sizeof(double));
    return SIMREP_OK;
}

simrep_status simrep_moments_clone(simrep_ctx *ctx, const simrep_moments *m, simrep_moments **out)
{
    simrep_status st = simrep_moments_new(ctx, m->p, m->q, out);
    if (st != SIMREP_OK)
        return st;
    (*out)->n = m->n;
    memcpy((*out)->t, m->t, sizeof m->t);
    memcpy((*out)->mean, m->mean, (size_t)m->d * sizeof(double));
    memcpy((*out)->u, m->u, (size_t)(2 * m->d) * sizeof(double));
    memcpy((*out)->scatter, m->scatter, (size_t)(m->d * m->d) * sizeof(double));
    return SIMREP_OK;
}
