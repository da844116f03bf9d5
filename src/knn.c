/*
 * knn.c: the nearest-neighbour measures of Huh, Cheung, Wang & Isola 2024
 * ("The Platonic Representation Hypothesis"), as their code
 * (minyoungg/platonic-rep, metrics.py and measure_alignment.py) computes
 * them: every row L2-normalised (compute_score's normalize=True; a zero row
 * stays zero), similarities the inner products of the rows, each sample's k
 * nearest neighbours the k largest similarities to the other samples.
 *
 *   mutual_knn = mean over samples i of |N_x(i) ∩ N_y(i)| / k.
 *   cknna      = h(K, L) / (sqrt(h(K, K) h(L, L)) + 1e-6), where h(K, L) is
 *     Song et al.'s unbiased HSIC (their eq. 5, as hsic_unbiased) of
 *     A = M∘K and B = M∘L, M_ij = [j ∈ N_x(i)][j ∈ N_y(i)] (row-wise, not
 *     symmetric), h(K, K) that of N_x∘K with itself.  The 1e-6 is
 *     platonic-rep's; it moves values by ~1e-4 relative at n = 1000, k = 10,
 *     so it is kept to give their numbers.
 *
 * Ties: neighbours are ranked by similarity, equal similarities by the
 * smaller sample index (platonic-rep leaves ties to torch's sort).  The
 * similarities are the float64 values of dgemm tiles; each pair's value
 * comes from the same tile whatever the partition, so the neighbour sets are
 * the same bit for bit on one worker or many.
 *
 * Method: full tile rows (every column J for a tile row I, since a row's
 * neighbours need all of its columns; the upper-triangle trick would make
 * a worker's lists partial and their merge need more than a sum), each row
 * keeping its k best in a heap: O(n^2 (p + q)) time, O(n (p + q + k))
 * memory.  The rest is O(n k log k) from the lists: h(A, B) needs
 * Σ A_ij B_ji (a lookup of i in j's lists), ΣA ΣB and Σ_l colsum(A)_l
 * rowsum(B)_l.  Partitioned by tile rows; each worker fills the lists of its
 * rows and a sum-allreduce of the zero-padded lists gives every worker all.
 */
#include "linalg.h"
#include "rows.h"
#include "tiles.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TILE SIMREP__TILE

typedef struct knn_side {
    const char *name;
    int64_t n, p, k;
    double *rows;  /* n x p, unit rows */
    double *tile;  /* TILE x TILE similarities */
    double *val;   /* n x k: the neighbours' similarities */
    int64_t *idx;  /* n x k: their indices (a heap during the pass, then ascending) */
} knn_side;

static simrep_status side_load(simrep_ctx *ctx, knn_side *s, const simrep_matrix *m, int side, const char *who,
                               int64_t k)
{
    const int64_t n = m->rows, p = m->cols;
    s->name = side ? "y" : "x";
    s->n = n;
    s->p = p;
    s->k = k;
    simrep_status st = simrep__rows_load(ctx, m, side, who, &s->rows);
    if (st != SIMREP_OK)
        return st;
    if (simrep__rows_all_equal(s->rows, n, p))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, side,
                                 "every feature is constant (all %lld samples are the same), so %s is undefined",
                                 (long long)n, who);
    for (int64_t i = 0; i < n; i++) {
        double *r = s->rows + i * p, amax = 0;
        for (int64_t j = 0; j < p; j++)
            if (fabs(r[j]) > amax)
                amax = fabs(r[j]);
        if (!(amax > 0))
            continue; /* F.normalize leaves a zero row zero */
        int e;
        frexp(amax, &e); /* scale by a power of two first: the norm cannot overflow */
        double norm = 0;
        for (int64_t j = 0; j < p; j++) {
            r[j] = ldexp(r[j], -e);
            norm += r[j] * r[j];
        }
        norm = sqrt(norm);
        for (int64_t j = 0; j < p; j++)
            r[j] /= norm;
    }
    size_t nk;
    if (!simrep__mul_size((size_t)n, (size_t)k, &nk))
        return simrep__fail(ctx, SIMREP_E_NOMEM, "%s: %lld x %lld neighbours overflow the address space", who,
                            (long long)n, (long long)k);
    if (!(s->tile = simrep__alloc_array(ctx, (size_t)TILE * TILE, sizeof(double), "knn tile")) ||
        !(s->val = simrep__alloc_array(ctx, nk, sizeof(double), "knn neighbour similarities")) ||
        !(s->idx = simrep__alloc_array(ctx, nk, sizeof(int64_t), "knn neighbour indices")))
        return SIMREP_E_NOMEM;
    return SIMREP_OK;
}

static void side_free(simrep_ctx *ctx, knn_side *s)
{
    simrep__free(ctx, s->rows);
    simrep__free(ctx, s->tile);
    simrep__free(ctx, s->val);
    simrep__free(ctx, s->idx);
}

/* Heap of a row's k best so far, the worst at the root: worse = smaller
 * similarity, or equal similarity and larger index. */
static int worse(double va, int64_t ia, double vb, int64_t ib)
{
    return va < vb || (va == vb && ia > ib);
}

static void heap_down(double *val, int64_t *idx, int64_t k, int64_t i)
{
    for (;;) {
        int64_t w = i, l = 2 * i + 1, r = l + 1;
        if (l < k && worse(val[l], idx[l], val[w], idx[w]))
            w = l;
        if (r < k && worse(val[r], idx[r], val[w], idx[w]))
            w = r;
        if (w == i)
            return;
        double tv = val[i];
        val[i] = val[w];
        val[w] = tv;
        int64_t ti = idx[i];
        idx[i] = idx[w];
        idx[w] = ti;
        i = w;
    }
}

static void heap_up(double *val, int64_t *idx, int64_t i)
{
    while (i > 0) {
        int64_t up = (i - 1) / 2;
        if (!worse(val[i], idx[i], val[up], idx[up]))
            return;
        double tv = val[i];
        val[i] = val[up];
        val[up] = tv;
        int64_t ti = idx[i];
        idx[i] = idx[up];
        idx[up] = ti;
        i = up;
    }
}

/* The neighbour lists of this worker's rows of both sides: for each of its
 * tile rows, every tile of the full row. */
static simrep_status knn_pass(simrep_ctx *ctx, knn_side *sides, int64_t k, const char *stage)
{
    const int64_t n = sides[0].n;
    int64_t fill[TILE];
    for (int64_t i0 = 0; i0 < n; i0 += TILE) {
        const int64_t ni = n - i0 < TILE ? n - i0 : TILE;
        if (!simrep__tile_mine(ctx, i0))
            continue;
        simrep_status cs = simrep__tick(ctx, stage, (double)i0 / (double)n);
        if (cs != SIMREP_OK)
            return cs;
        for (int s = 0; s < 2; s++) {
            knn_side *sd = &sides[s];
            memset(fill, 0, sizeof fill);
            for (int64_t j0 = 0; j0 < n; j0 += TILE) {
                const int64_t nj = n - j0 < TILE ? n - j0 : TILE;
                simrep_status st = simrep__gemm(ctx, 'T', 'N', nj, ni, sd->p, 1.0, sd->rows + j0 * sd->p, sd->p,
                                                 sd->rows + i0 * sd->p, sd->p, 0.0, sd->tile, TILE);
                if (st != SIMREP_OK)
                    return st;
                for (int64_t a = 0; a < ni; a++) {
                    const int64_t i = i0 + a;
                    double *hv = sd->val + i * k;
                    int64_t *hi = sd->idx + i * k;
                    const double *row = sd->tile + a * TILE;
                    for (int64_t b = 0; b < nj; b++) {
                        const int64_t j = j0 + b;
                        if (j == i)
                            continue;
                        if (fill[a] < k) {
                            hv[fill[a]] = row[b];
                            hi[fill[a]] = j;
                            heap_up(hv, hi, fill[a]++);
                        } else if (row[b] > hv[0]) {
                            /* Columns come in ascending order, so an equal
                             * similarity never displaces an earlier (smaller)
                             * index: ties go to the smaller index. */
                            hv[0] = row[b];
                            hi[0] = j;
                            heap_down(hv, hi, k, 0);
                        }
                    }
                }
            }
        }
    }
    simrep__progress(ctx, stage, 1.0);
    return SIMREP_OK;
}

/* Partitioned: every worker gets every row's lists (each row was filled by
 * one worker; the others send zeros).  Indices travel as doubles (< 2^53). */
static simrep_status knn_gather(simrep_ctx *ctx, knn_side *sides, int64_t k, const char *who)
{
    const int64_t n = sides[0].n, nk = n * k;
    double *buf = simrep__calloc_array(ctx, (size_t)nk * 2, sizeof(double), "knn exchange");
    simrep_status st = simrep__part_agree(ctx, who, buf ? SIMREP_OK : SIMREP_E_NOMEM);
    for (int s = 0; s < 2 && st == SIMREP_OK; s++) {
        memset(buf, 0, (size_t)nk * 2 * sizeof(double));
        for (int64_t i0 = 0; i0 < n; i0 += TILE) {
            if (!simrep__tile_mine(ctx, i0))
                continue;
            const int64_t end = (n - i0 < TILE ? n : i0 + TILE) * k;
            for (int64_t e = i0 * k; e < end; e++) {
                buf[e] = sides[s].val[e];
                buf[nk + e] = (double)sides[s].idx[e];
            }
        }
        st = simrep__part_sum(ctx, who, buf, nk * 2);
        for (int64_t e = 0; st == SIMREP_OK && e < nk; e++) {
            sides[s].val[e] = buf[e];
            sides[s].idx[e] = (int64_t)buf[nk + e];
        }
    }
    simrep__free(ctx, buf);
    return st;
}

/* Sort each row's k entries by index (insertion sort: k is small). */
static void sort_lists(knn_side *s, int64_t k)
{
    for (int64_t i = 0; i < s->n; i++) {
        double *v = s->val + i * k;
        int64_t *x = s->idx + i * k;
        for (int64_t a = 1; a < k; a++) {
            double tv = v[a];
            int64_t tx = x[a], b = a;
            while (b > 0 && x[b - 1] > tx) {
                v[b] = v[b - 1];
                x[b] = x[b - 1];
                b--;
            }
            v[b] = tv;
            x[b] = tx;
        }
    }
}

/* Position of j in row i's sorted list, or -1. */
static int64_t find_in(const knn_side *s, int64_t k, int64_t i, int64_t j)
{
    const int64_t *x = s->idx + i * k;
    int64_t lo = 0, hi = k;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (x[mid] < j)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < k && x[lo] == j ? lo : -1;
}

/* Everything the measures need, on every worker. */
static simrep_status knn_lists(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                               const simrep_options *opt, const char *who, int64_t kmin, simrep_result *r,
                               knn_side *sides)
{
    simrep_options defaults;
    simrep_status st = simrep__rows_enter(ctx, who, x, y, &opt, &defaults, r);
    if (st != SIMREP_OK)
        return st;
    const int64_t k = opt->knn;
    if (k < kmin)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: knn must be a whole number >= %lld (got %lld)", who,
                            (long long)kmin, (long long)k);
    const int64_t n = x->rows;
    if (k >= n || (kmin == 2 && n < 4))
        return simrep__fail(ctx, SIMREP_E_DEGENERATE,
                            "%s with --knn %lld needs more than %lld samples (k neighbours besides each sample%s), "
                            "got %lld",
                            who, (long long)k, (long long)(kmin == 2 && k < 3 ? 3 : k),
                            kmin == 2 ? "; 4 at least for the unbiased HSIC" : "", (long long)n);
    if ((st = simrep__part_check(ctx, who, n)) != SIMREP_OK)
        return st;
    st = side_load(ctx, &sides[0], x, 0, who, k);
    if (st == SIMREP_OK)
        st = side_load(ctx, &sides[1], y, 1, who, k);
    st = simrep__part_agree(ctx, who, st);
    if (st == SIMREP_OK)
        st = simrep__part_agree(ctx, who, knn_pass(ctx, sides, k, who));
    if (st == SIMREP_OK && ctx->parts > 1)
        st = knn_gather(ctx, sides, k, who);
    if (st == SIMREP_OK) {
        sort_lists(&sides[0], k);
        sort_lists(&sides[1], k);
    }
    return st;
}

/* The copies of each neighbour a resample's copy of row i counts among its
 * k nearest (rowstats.c: row j stands for w_j copies, tied, ordered after
 * the rows of equal similarity with smaller indices; copies of i itself are
 * not its neighbours): walking i's list by similarity (ties to the smaller
 * index), row j fills min(w_j, k - filled) of the k places.  cnt[i * k + u]
 * for the entry u of i's list, which is then sorted by index. */
static void weighted_counts(knn_side *s, int64_t k, const double *w, int64_t *cnt)
{
    for (int64_t i = 0; i < s->n; i++) {
        double *v = s->val + i * k;
        int64_t *x = s->idx + i * k, *c = cnt + i * k;
        for (int64_t a = 1; a < k; a++) { /* best first */
            double tv = v[a];
            int64_t tx = x[a], b = a;
            while (b > 0 && worse(v[b - 1], x[b - 1], tv, tx)) {
                v[b] = v[b - 1];
                x[b] = x[b - 1];
                b--;
            }
            v[b] = tv;
            x[b] = tx;
        }
        int64_t filled = 0;
        for (int64_t a = 0; a < k; a++) {
            const int64_t wj = (int64_t)w[x[a]], take = wj < k - filled ? wj : k - filled;
            c[a] = take;
            filled += take;
        }
        for (int64_t a = 1; a < k; a++) { /* then by index, as sort_lists */
            double tv = v[a];
            int64_t tx = x[a], tc = c[a], b = a;
            while (b > 0 && x[b - 1] > tx) {
                v[b] = v[b - 1];
                x[b] = x[b - 1];
                c[b] = c[b - 1];
                b--;
            }
            v[b] = tv;
            x[b] = tx;
            c[b] = tc;
        }
    }
}

simrep_status simrep__mutual_knn_weighted(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                          const simrep_options *opt, const double *w, const double *fixed, simrep_result *r)
{
    (void)fixed; /* k is an option, not estimated from the data */
    knn_side sides[2];
    memset(sides, 0, sizeof sides);
    int64_t *cnt[2] = {NULL, NULL};
    simrep_status st = knn_lists(ctx, x, y, opt, "mutual_knn", 1, r, sides);
    if (st == SIMREP_OK && w) {
        /* A resample (rowstats.c, one worker): the lists are of distinct
         * rows; each place of a copy of i is a copy of a neighbour. */
        const int64_t n = sides[0].n, k = sides[0].k;
        for (int s = 0; s < 2 && st == SIMREP_OK; s++)
            if (!(cnt[s] = simrep__alloc_array(ctx, (size_t)(n * k), sizeof(int64_t), "mutual_knn copies")))
                st = SIMREP_E_NOMEM;
        for (int s = 0; s < 2 && st == SIMREP_OK; s++)
            weighted_counts(&sides[s], k, w, cnt[s]);
    }
    if (st == SIMREP_OK) {
        const int64_t n = sides[0].n, k = sides[0].k;
        double shared = 0, total = 0;
        for (int64_t i = 0; i < n; i++) {
            const int64_t *a = sides[0].idx + i * k, *b = sides[1].idx + i * k;
            const double wi = w ? w[i] : 1;
            for (int64_t u = 0, v = 0; u < k && v < k;) {
                if (a[u] == b[v]) {
                    const int64_t c = w ? (cnt[0][i * k + u] < cnt[1][i * k + v] ? cnt[0][i * k + u]
                                                                                  : cnt[1][i * k + v])
                                        : 1;
                    shared += wi * (double)c, u++, v++;
                } else if (a[u] < b[v]) {
                    u++;
                } else {
                    v++;
                }
            }
            total += wi;
        }
        r->similarity = shared / (total * (double)k);
        r->distance = 1 - r->similarity;
    }
    simrep__free(ctx, cnt[0]);
    simrep__free(ctx, cnt[1]);
    side_free(ctx, &sides[0]);
    side_free(ctx, &sides[1]);
    return st;
}

simrep_status simrep__mutual_knn(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                 const simrep_options *opt, simrep_result *r)
{
    return simrep__mutual_knn_weighted(ctx, x, y, opt, NULL, NULL, r);
}

/* Song et al.'s unbiased HSIC of A = M∘K1 and B = M∘K2 (hsic_unbiased),
 * M_ij = [j in s1's list of i][j in s2's list of i], the values of A from
 * s1's lists and of B from s2's.  col and row: n doubles of scratch.
 *
 * A resample (w non-NULL, c1 and c2 the copies of each list entry that are
 * neighbours, weighted_counts): copy (i, c) has copies d < m_ij =
 * min(c1_ij, c2_ij) of j in its mask, so over the resample's N = sum w
 * samples Σ A = Σ_i w_i Σ_j m_ij K_ij, the column sums of A add
 * w_i m_ij K_ij into j's, a row sum of B is Σ_j m_ij L_ij, and
 * Σ A_ab B_ba = Σ_ij m_ij m_ji K_ij L_ji (copies of one row are never
 * in each other's masks: their entries are 0, as the diagonal). */
static double hsic_masked(const knn_side *s1, const knn_side *s2, int64_t k, const double *w, const int64_t *c1,
                          const int64_t *c2, double *col, double *row)
{
    const int64_t n = s1->n;
    memset(col, 0, (size_t)n * sizeof *col);
    memset(row, 0, (size_t)n * sizeof *row);
    double tr = 0, sa = 0, sb = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t *a = s1->idx + i * k, *b = s2->idx + i * k;
        const double wi = w ? w[i] : 1;
        m += wi;
        for (int64_t u = 0, v = 0; u < k && v < k;) {
            if (a[u] < b[v]) {
                u++;
            } else if (a[u] > b[v]) {
                v++;
            } else {
                const int64_t j = a[u];
                const double av = s1->val[i * k + u], bv = s2->val[i * k + v];
                const double mij = w ? (double)(c1[i * k + u] < c2[i * k + v] ? c1[i * k + u] : c2[i * k + v]) : 1;
                sa += wi * mij * av;
                sb += wi * mij * bv;
                col[j] += wi * mij * av;
                row[i] += mij * bv;
                /* sum(K~ * L~ᵀ): B_ji, nonzero when i is in both of j's lists. */
                const int64_t p1 = find_in(s1, k, j, i), p2 = p1 >= 0 ? find_in(s2, k, j, i) : -1;
                if (p2 >= 0) {
                    const double mji = w ? (double)(c1[j * k + p1] < c2[j * k + p2] ? c1[j * k + p1] : c2[j * k + p2])
                                         : 1;
                    tr += mij * mji * av * s2->val[j * k + p2];
                }
                u++, v++;
            }
        }
    }
    double cross = 0;
    for (int64_t l = 0; l < n; l++)
        cross += col[l] * row[l];
    return (tr + sa * sb / ((m - 1) * (m - 2)) - 2 * cross / (m - 2)) / (m * (m - 3));
}

simrep_status simrep__cknna_weighted(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                     const simrep_options *opt, const double *w, const double *fixed, simrep_result *r)
{
    (void)fixed; /* k is an option, not estimated from the data */
    knn_side sides[2];
    memset(sides, 0, sizeof sides);
    double *col = NULL, *row = NULL;
    int64_t *cnt[2] = {NULL, NULL};
    simrep_status st = knn_lists(ctx, x, y, opt, "cknna", 2, r, sides);
    if (st == SIMREP_OK) {
        const int64_t n = sides[0].n;
        col = simrep__alloc_array(ctx, (size_t)n, sizeof(double), "cknna column sums");
        row = col ? simrep__alloc_array(ctx, (size_t)n, sizeof(double), "cknna row sums") : NULL;
        st = simrep__part_agree(ctx, "cknna", row ? SIMREP_OK : SIMREP_E_NOMEM);
    }
    if (st == SIMREP_OK && w) { /* a resample (rowstats.c, one worker): copies per list entry */
        const int64_t n = sides[0].n, k = sides[0].k;
        for (int s = 0; s < 2 && st == SIMREP_OK; s++)
            if (!(cnt[s] = simrep__alloc_array(ctx, (size_t)(n * k), sizeof(int64_t), "cknna copies")))
                st = SIMREP_E_NOMEM;
        for (int s = 0; s < 2 && st == SIMREP_OK; s++)
            weighted_counts(&sides[s], k, w, cnt[s]);
    }
    if (st == SIMREP_OK) {
        const int64_t k = sides[0].k;
        const double kl = hsic_masked(&sides[0], &sides[1], k, w, cnt[0], cnt[1], col, row);
        const double kk = hsic_masked(&sides[0], &sides[0], k, w, cnt[0], cnt[0], col, row);
        const double ll = hsic_masked(&sides[1], &sides[1], k, w, cnt[1], cnt[1], col, row);
        if (!(kk * ll > 0) || !isfinite(kk * ll))
            st = simrep__fail_side(ctx, SIMREP_E_DEGENERATE, kk > 0 ? 1 : 0,
                                   "the neighbour-masked unbiased HSIC with itself is %g (not positive), so cknna is "
                                   "undefined (too few samples, or samples with no distinct neighbours)",
                                   kk > 0 ? ll : kk);
        else {
            /* platonic-rep's metrics.cknna: the + 1e-6 is theirs (see the
             * file comment). */
            r->similarity = kl / (sqrt(kk * ll) + 1e-6);
            r->distance = 1 - r->similarity;
            /* y against x: the same lists, A and B exchanged. */
            r->reverse = hsic_masked(&sides[1], &sides[0], k, w, cnt[1], cnt[0], col, row) / (sqrt(kk * ll) + 1e-6);
            r->reverse_distance = 1 - r->reverse;
        }
    }
    simrep__free(ctx, cnt[0]);
    simrep__free(ctx, cnt[1]);
    simrep__free(ctx, col);
    simrep__free(ctx, row);
    side_free(ctx, &sides[0]);
    side_free(ctx, &sides[1]);
    return st;
}

simrep_status simrep__cknna(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                            const simrep_options *opt, simrep_result *r)
{
    return simrep__cknna_weighted(ctx, x, y, opt, NULL, NULL, r);
}
