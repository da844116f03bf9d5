/*
 * rsa.c: representational similarity analysis (Kriegeskorte, Mur &
 * Bandettini 2008) as rsatoolbox computes it: a representational
 * dissimilarity matrix (RDM) per input, d(i, j) over the n(n-1)/2 pairs of
 * samples i < j, then one correlation of the two upper triangles.  RDMs
 * (simrep_rsa_rdm): squared Euclidean (rsatoolbox's 'euclidean' without its
 * 1/p, to which every comparison is blind), 1 - Pearson of the two rows
 * ('correlation': rows centred and unit-normed), 1 - cosine (scipy's
 * 'cosine').  Comparisons: Pearson ('corr'), Spearman ('spearman': ranks
 * with ties averaged, as scipy.stats.rankdata), Kendall's tau-b ('kendall',
 * scipy.stats.kendalltau).  All exact; nothing is subsampled.
 *
 * Tiles: rows are prepared once (O(n p)); TILE x TILE blocks of the Gram
 * matrix come from dgemm (tile rows I <= J only) and become distances, equal
 * rows getting an exact 0.  Nothing n x n is formed.
 *
 * Pearson: one pass; each tile's two-pass centred sums are merged with
 * Chan, Golub & LeVeque's update (no cancellation however large the mean).
 * Partitioned by tile rows.
 *
 * Ranks need every distance's place among all M = n(n-1)/2 of them, which
 * no O(n)-memory streaming scheme gives exactly, so the pairs are sorted.
 * Records (key(dx), key(dy)), the keys being the IEEE bit patterns mapped
 * to unsigned integers in the numbers' order, 16 bytes per pair:
 *   - M * 32 bytes <= rsa_memory (records + sort scratch): one tile pass
 *     collects them in memory.
 *   - Otherwise a distribution sort through files in $TMPDIR: histogram
 *     passes over the tiles (16 bits of the keys, then 12 more inside every
 *     bin still holding more than a memory's worth, as cka_rbf's median)
 *     split each side's key range into buckets of at most C = rsa_memory/32
 *     records (or one repeated value); one pass writes the records to x's
 *     bucket files.  Phase X: each x bucket in order is loaded, radix-sorted
 *     by dx, given its exact average ranks rx, and its (dy, 2 rx) records
 *     written to y's bucket files, which thus stay in rx order.  Phase Y:
 *     each y bucket is loaded and sorted by dy, giving ry.  Spearman is then
 *     an integer sum of 2rx * 2ry; Kendall's discordant pairs are the pairs
 *     inside a y bucket inverted in its rx-ordered file (counted by a
 *     stable merge sort) plus the pairs across y buckets, counted in phase X
 *     with a Fenwick tree over y's buckets.  Tie counts come from the sorted
 *     runs.  All of it is exact integer arithmetic (128-bit).
 * Cost beyond the tiles: M * 16 bytes written and read twice; O(M log M)
 * sorting (radix for the ranks, a merge sort for Kendall's inversions);
 * disk M * 16 bytes plus one bucket, checked with statvfs before starting.
 * Rejected: sampling the pairs or a P^2-style approximate rank (not exact);
 * an in-memory array of M ranks (O(n^2) memory); a k-way merge sort (tie
 * groups can straddle runs; the histograms already give exact bucket
 * borders).  Spill files are unlinked as soon as created, so an
 * interrupted run leaves nothing behind.  Under a partition the rank path
 * runs on worker 0 alone (the sort needs every record in one place; the
 * others wait and receive the value).
 */
#include "linalg.h"
#include "rows.h"
#include "tiles.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define TILE SIMREP__TILE
/* Histogram digits: 16 bits first, then 12 bits per refinement (a 4096-bin
 * sub-histogram of 32 KiB per dense bin). */
#define H1_BITS 16
#define HR_BITS 12
/* Buckets per side, hence spill files and their 32 KiB write buffers
 * (64 MiB at most for both sides). */
#define MAX_BUCKETS 1024
#define SPILL_RECS 2048

__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

typedef struct rdm_side {
    const char *name; /* "x" or "y" (internal consistency messages) */
    int side;         /* 0 x, 1 y (simrep__fail_side) */
    int64_t n, p;
    simrep_rsa_rdm kind;
    double *rows;  /* n x p, prepared for kind */
    double *sqn;   /* euclidean: squared row norms */
    int64_t *grp;  /* grp[i]: the first row equal to row i */
    double *tile;  /* TILE x TILE distances */
    const double *w; /* row weights (a bootstrap's multiplicities, rowstats.c), or NULL: every row once */
    int64_t ti, tj;  /* the tile's first row and column (tile_pass sets them for its callback) */
} rdm_side;

static const char *compare_name(simrep_rsa_compare c)
{
    return c == SIMREP_RSA_PEARSON ? "pearson" : c == SIMREP_RSA_KENDALL ? "kendall" : "spearman";
}

/* ------------------------------------------------------------ the RDMs */

/* The largest power of two dividing every value of a column (stride p),
 * 0 if they are all 0: the grid the column's values lie on. */
static double column_quantum(const double *col, int64_t n, int64_t p)
{
    int kmin = INT_MAX;
    for (int64_t i = 0; i < n; i++) {
        const double v = col[i * p];
        if (v == 0)
            continue;
        int e;
        const uint64_t mant = (uint64_t)ldexp(frexp(fabs(v), &e), 53); /* v = mant 2^(e-53), mant in [2^52, 2^53) */
        const int k = e - 53 + __builtin_ctzll(mant);
        if (k < kmin)
            kmin = k;
    }
    return kmin == INT_MAX ? 0 : ldexp(1.0, kmin);
}

/* v rounded to a multiple of q (a power of two; 0: v itself).  Once
 * |v| >= 2^52 q, v is a multiple of q already. */
static double grid_round(double v, double q)
{
    if (q == 0 || !(fabs(v) < ldexp(q, 52)))
        return v;
    int k;
    frexp(q, &k);
    return ldexp(nearbyint(ldexp(v, 1 - k)), k - 1);
}

static simrep_status side_prepare(simrep_ctx *ctx, rdm_side *s, const simrep_matrix *m, int side,
                                  simrep_rsa_rdm kind)
{
    const int64_t n = m->rows, p = m->cols;
    s->name = side ? "y" : "x";
    s->side = side;
    s->n = n;
    s->p = p;
    s->kind = kind;
    simrep_status st = simrep__rows_load(ctx, m, side, "rsa rows", &s->rows);
    if (st != SIMREP_OK)
        return st;
    double *x = s->rows;
    if (simrep__rows_all_equal(x, n, p))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, side,
                                 "every feature is constant (all %lld samples are the same), so rsa is undefined",
                                 (long long)n);
    if (kind == SIMREP_RDM_EUCLIDEAN) {
        /* Distances are translation invariant: centre the columns (no
         * cancellation in |xi|^2 + |xj|^2 - 2 xi.xj when the mean is
         * large), then scale by a power of two (exact: the order of the
         * distances and every comparison are unchanged; |x|^2 cannot
         * overflow or underflow).  The centre is the mean rounded to a
         * multiple of the column's quantum, so that x - c is exact and data
         * on a grid (integers, low-precision floats) keep exact distances,
         * hence the ties rank comparisons must see. */
        simrep__scale_pow2(x, (size_t)(n * p)); /* first, so that column sums of data near DBL_MAX cannot overflow */
        for (int64_t j = 0; j < p; j++) {
            double mean = 0;
            for (int64_t i = 0; i < n; i++)
                mean += x[i * p + j];
            mean = grid_round(mean / (double)n, column_quantum(x + j, n, p));
            for (int64_t i = 0; i < n; i++)
                x[i * p + j] -= mean;
        }
        simrep__scale_pow2(x, (size_t)(n * p));
        if (!(s->sqn = simrep__alloc_array(ctx, (size_t)n, sizeof(double), "rsa row norms")))
            return SIMREP_E_NOMEM;
        for (int64_t i = 0; i < n; i++) {
            double acc = 0;
            for (int64_t j = 0; j < p; j++)
                acc += x[i * p + j] * x[i * p + j];
            s->sqn[i] = acc;
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            double *r = x + i * p;
            int64_t differ = 0;
            while (differ < p && r[differ] == r[0])
                differ++;
            if (kind == SIMREP_RDM_CORRELATION && differ == p)
                return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, side,
                                         "rsa: row %lld is constant, so its correlation distance to the other rows "
                                         "is undefined (--rsa-rdm euclidean does not need this)",
                                         (long long)i);
            simrep__scale_pow2(r, (size_t)p); /* the row's scale is irrelevant; its sums can no longer overflow */
            if (kind == SIMREP_RDM_CORRELATION)
                for (int pass = 0; pass < 2; pass++) { /* the second pass removes the first's round-off */
                    double mean = 0;
                    for (int64_t j = 0; j < p; j++)
                        mean += r[j];
                    mean /= (double)p;
                    for (int64_t j = 0; j < p; j++)
                        r[j] -= mean;
                }
            double amax = 0;
            for (int64_t j = 0; j < p; j++)
                if (fabs(r[j]) > amax)
                    amax = fabs(r[j]);
            if (!(amax > 0))
                return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, side,
                                         kind == SIMREP_RDM_CORRELATION
                                             ? "rsa: row %lld is constant, so its correlation distance to the "
                                               "other rows is undefined (--rsa-rdm euclidean does not need this)"
                                             : "rsa: row %lld is all zeros, so its cosine distance to the other "
                                               "rows is undefined (--rsa-rdm euclidean does not need this)",
                                         (long long)i);
            int e;
            frexp(amax, &e);
            double norm = 0;
            for (int64_t j = 0; j < p; j++) {
                r[j] = ldexp(r[j], -e);
                norm += r[j] * r[j];
            }
            norm = sqrt(norm);
            for (int64_t j = 0; j < p; j++)
                r[j] /= norm;
        }
    }
    if (!(s->grp = simrep__alloc_array(ctx, (size_t)n, sizeof(int64_t), "rsa equal rows")) ||
        !(s->tile = simrep__alloc_array(ctx, (size_t)TILE * TILE, sizeof(double), "rsa tile")))
        return SIMREP_E_NOMEM;
    return simrep__row_groups(ctx, x, n, p, s->grp, "rsa row hashes");
}

static void side_free(simrep_ctx *ctx, rdm_side *s)
{
    simrep__free(ctx, s->rows);
    simrep__free(ctx, s->sqn);
    simrep__free(ctx, s->grp);
    simrep__free(ctx, s->tile);
}

/* The dissimilarities of rows [i0, i0+ni) against [j0, j0+nj) into
 * s->tile (row-major, leading dimension TILE); on a diagonal tile only the
 * strict upper triangle is written and read.  Never negative: a true
 * distance is >= 0 and round-off below 0 becomes +0, so the keys order
 * like the numbers and -0 and +0 are one value. */
static simrep_status side_tile(simrep_ctx *ctx, rdm_side *s, int64_t i0, int64_t ni, int64_t j0, int64_t nj)
{
    simrep_status st = simrep__gemm(ctx, 'T', 'N', nj, ni, s->p, 1.0, s->rows + j0 * s->p, s->p,
                                     s->rows + i0 * s->p, s->p, 0.0, s->tile, TILE);
    if (st != SIMREP_OK)
        return st;
    const int diag = i0 == j0, euclid = s->kind == SIMREP_RDM_EUCLIDEAN;
    for (int64_t a = 0; a < ni; a++) {
        double *row = s->tile + a * TILE;
        const int64_t ga = s->grp[i0 + a];
        const double na = euclid ? s->sqn[i0 + a] : 0;
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            double d;
            if (s->grp[j0 + b] == ga)
                d = 0.0;
            else if (euclid)
                d = na + s->sqn[j0 + b] - 2.0 * row[b];
            else
                d = 1.0 - row[b];
            row[b] = d > 0 ? d : 0.0;
        }
    }
    return SIMREP_OK;
}

/* Something done with every tile of both RDMs, in a pass over the upper
 * triangle (this worker's tile rows). */
typedef simrep_status (*tile_fn)(simrep_ctx *ctx, void *user, const double *tx, const double *ty, int64_t ni,
                                 int64_t nj, int diag);

static simrep_status tile_pass(simrep_ctx *ctx, rdm_side *sx, rdm_side *sy, const char *stage, tile_fn fn,
                               void *user)
{
    const int64_t n = sx->n;
    for (int64_t i0 = 0; i0 < n; i0 += TILE) {
        const int64_t ni = n - i0 < TILE ? n - i0 : TILE;
        if (!simrep__tile_mine(ctx, i0))
            continue;
        simrep_status cs = simrep__tick(ctx, stage, simrep__pass_fraction(i0, n));
        if (cs != SIMREP_OK)
            return cs;
        for (int64_t j0 = i0; j0 < n; j0 += TILE) {
            const int64_t nj = n - j0 < TILE ? n - j0 : TILE;
            simrep_status st = side_tile(ctx, sx, i0, ni, j0, nj);
            if (st == SIMREP_OK)
                st = side_tile(ctx, sy, i0, ni, j0, nj);
            sx->ti = sy->ti = i0;
            sx->tj = sy->tj = j0;
            if (st == SIMREP_OK)
                st = fn(ctx, user, sx->tile, sy->tile, ni, nj, i0 == j0);
            if (st != SIMREP_OK)
                return st;
        }
    }
    simrep__progress(ctx, stage, 1.0);
    return SIMREP_OK;
}

/* ------------------------------------------------------------- Pearson */

/* Count, means and centred sums of squares and products of (dx, dy). */
typedef struct stats2 {
    double n, mx, my, sxx, syy, sxy;
} stats2;

/* a += b (Chan, Golub & LeVeque 1979: exact merge of centred sums). */
static void stats_merge(stats2 *a, const stats2 *b)
{
    if (b->n == 0)
        return;
    if (a->n == 0) {
        *a = *b;
        return;
    }
    const double n = a->n + b->n, dx = b->mx - a->mx, dy = b->my - a->my, f = a->n * b->n / n;
    a->sxx += b->sxx + dx * dx * f;
    a->syy += b->syy + dy * dy * f;
    a->sxy += b->sxy + dx * dy * f;
    a->mx += dx * (b->n / n);
    a->my += dy * (b->n / n);
    a->n = n;
}

typedef struct pearson_acc {
    stats2 total;
    const rdm_side *sx; /* weights and the tile's origin */
} pearson_acc;

/* With row weights w (a bootstrap's multiplicities), pair (i, j) counts
 * w_i w_j times: the pairs of the resample's copies of different rows
 * (copies of one row are not paired: rowstats.c). */
static void pearson_tile_weighted(pearson_acc *acc, const double *tx, const double *ty, int64_t ni, int64_t nj,
                                  int diag)
{
    const double *wi = acc->sx->w + acc->sx->ti, *wj = acc->sx->w + acc->sx->tj;
    double c = 0, sx = 0, sy = 0;
    for (int64_t a = 0; a < ni; a++)
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            const double w = wi[a] * wj[b];
            sx += w * tx[a * TILE + b];
            sy += w * ty[a * TILE + b];
            c += w;
        }
    if (c == 0)
        return;
    stats2 t = {c, sx / c, sy / c, 0, 0, 0};
    for (int64_t a = 0; a < ni; a++)
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            const double w = wi[a] * wj[b], u = tx[a * TILE + b] - t.mx, v = ty[a * TILE + b] - t.my;
            t.sxx += w * u * u;
            t.syy += w * v * v;
            t.sxy += w * u * v;
        }
    stats_merge(&acc->total, &t);
}

static simrep_status pearson_tile(simrep_ctx *ctx, void *user, const double *tx, const double *ty, int64_t ni,
                                  int64_t nj, int diag)
{
    (void)ctx;
    pearson_acc *acc = user;
    if (acc->sx->w) {
        pearson_tile_weighted(acc, tx, ty, ni, nj, diag);
        return SIMREP_OK;
    }
    double c = 0, sx = 0, sy = 0;
    for (int64_t a = 0; a < ni; a++)
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            sx += tx[a * TILE + b];
            sy += ty[a * TILE + b];
            c += 1;
        }
    if (c == 0)
        return SIMREP_OK;
    stats2 t = {c, sx / c, sy / c, 0, 0, 0};
    for (int64_t a = 0; a < ni; a++)
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            const double u = tx[a * TILE + b] - t.mx, v = ty[a * TILE + b] - t.my;
            t.sxx += u * u;
            t.syy += v * v;
            t.sxy += u * v;
        }
    stats_merge(&acc->total, &t);
    return SIMREP_OK;
}

static simrep_status rsa_pearson(simrep_ctx *ctx, rdm_side *sx, rdm_side *sy, double *rho)
{
    pearson_acc acc;
    memset(&acc, 0, sizeof acc);
    acc.sx = sx;
    simrep_status st = simrep__part_agree(ctx, "rsa", tile_pass(ctx, sx, sy, "rsa pearson", pearson_tile, &acc));
    if (st != SIMREP_OK)
        return st;
    if (ctx->parts > 1) {
        /* Every part's sums at its own offset; merged in part order, so
         * every part ends with the same numbers. */
        double *slots = simrep__calloc_array(ctx, (size_t)ctx->parts * 6, sizeof(double), "rsa pearson exchange");
        st = simrep__part_agree(ctx, "rsa", slots ? SIMREP_OK : SIMREP_E_NOMEM);
        if (st != SIMREP_OK) {
            simrep__free(ctx, slots);
            return st;
        }
        memcpy(slots + 6 * ctx->part, &acc.total, sizeof acc.total);
        st = simrep__part_sum(ctx, "rsa", slots, (int64_t)ctx->parts * 6);
        memset(&acc.total, 0, sizeof acc.total);
        for (int k = 0; st == SIMREP_OK && k < ctx->parts; k++) {
            stats2 t;
            memcpy(&t, slots + 6 * k, sizeof t);
            stats_merge(&acc.total, &t);
        }
        simrep__free(ctx, slots);
        if (st != SIMREP_OK)
            return st;
    }
    const stats2 *t = &acc.total;
    if (!(t->sxx > 0) || !(t->syy > 0))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, t->sxx > 0 ? 1 : 0,
                                 "rsa: every dissimilarity is the same, so their correlation with the other "
                                 "input's is undefined");
    *rho = t->sxy / (sqrt(t->sxx) * sqrt(t->syy));
    return SIMREP_OK;
}

/* --------------------------------------------------------------- ranks */

/* A key in the order of the numbers: for d >= 0 (all the tiles hold) the
 * bit pattern with the sign bit set; negative numbers' patterns inverted
 * (kept for completeness: any double maps in order). */
static uint64_t key_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return (b >> 63) ? ~b : b | ((uint64_t)1 << 63);
}

/* Phase X: a = key(dx), b = key(dy).  Phase Y: a = key(dy), b = 2 rx. */
typedef struct rec {
    uint64_t a, b;
} rec;

/* LSD radix sort of v[0..m) by .a, stable, 11-bit digits; digits that
 * every key shares are skipped (a bucket's keys share their top bits). */
static void radix_sort(rec *v, rec *tmp, uint64_t m)
{
    enum { BITS = 11, SIZE = 1 << BITS, DIGITS = (64 + BITS - 1) / BITS };
    static const uint64_t mask = SIZE - 1;
    uint64_t count[DIGITS][SIZE];
    memset(count, 0, sizeof count);
    for (uint64_t i = 0; i < m; i++)
        for (int d = 0; d < DIGITS; d++)
            count[d][(v[i].a >> (d * BITS)) & mask]++;
    rec *src = v, *dst = tmp;
    for (int d = 0; d < DIGITS; d++) {
        uint64_t *c = count[d];
        if (m == 0 || c[(src[0].a >> (d * BITS)) & mask] == m)
            continue; /* one digit value: this pass would not move anything */
        uint64_t sum = 0;
        for (int k = 0; k < SIZE; k++) {
            uint64_t t = c[k];
            c[k] = sum;
            sum += t;
        }
        for (uint64_t i = 0; i < m; i++)
            dst[c[(src[i].a >> (d * BITS)) & mask]++] = src[i];
        rec *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, (size_t)m * sizeof *v);
}

/* Stable merge sort of v[0..m) by .a, returning the number of strict
 * inversions (i < j with v[i].a > v[j].a) of the input order. */
static u128 merge_sort_count(rec *v, rec *tmp, uint64_t m)
{
    enum { RUN = 32 };
    u128 inv = 0;
    for (uint64_t lo = 0; lo < m; lo += RUN) { /* insertion sort of short runs */
        const uint64_t hi = m - lo < RUN ? m : lo + RUN;
        for (uint64_t i = lo + 1; i < hi; i++) {
            rec t = v[i];
            uint64_t j = i;
            while (j > lo && v[j - 1].a > t.a) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = t;
            inv += i - j;
        }
    }
    rec *src = v, *dst = tmp;
    for (uint64_t w = RUN; w < m; w *= 2) {
        for (uint64_t lo = 0; lo < m; lo += 2 * w) {
            const uint64_t mid = m - lo < w ? m : lo + w, hi = m - lo < 2 * w ? m : lo + 2 * w;
            uint64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (src[j].a < src[i].a) {
                    inv += mid - i;
                    dst[k++] = src[j++];
                } else {
                    dst[k++] = src[i++];
                }
            }
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        rec *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, (size_t)m * sizeof *v);
    return inv;
}

static int cmp_rec_a(const void *pa, const void *pb)
{
    const rec *a = pa, *b = pb;
    return (a->a > b->a) - (a->a < b->a);
}

/* One side's key range cut into buckets of at most C records each, or of
 * one repeated value ("single": streamed from its file, never sorted). */
typedef struct keymap {
    int64_t nb;
    uint64_t *start;        /* first key of bucket b (start[0] = 0); bucket b is [start[b], start[b+1]) */
    uint64_t *count;        /* records in it */
    uint64_t *below;        /* records in the buckets before it */
    unsigned char *single;
} keymap;

static int64_t keymap_find(const keymap *km, uint64_t key)
{
    int64_t lo = 0, hi = km->nb; /* the last b with start[b] <= key is in [lo, hi) */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (km->start[mid] <= key)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* A spill file: unlinked at once, written through a buffer of SPILL_RECS
 * records, read back with pread. */
typedef struct spill {
    int fd;
    uint64_t records; /* written so far (buffered ones included) */
    rec *buf;
    size_t fill;
} spill;

/* Everything one rank comparison holds. */
typedef struct ranker {
    simrep_rsa_compare how;
    rdm_side *sx, *sy;
    uint64_t M;           /* pairs */
    uint64_t C;           /* records per in-memory bucket */
    rec *buf, *tmp;       /* C records each */
    uint64_t fill;        /* in-memory mode: records collected */
    /* spill mode */
    const char *dir;
    double need_bytes;    /* temporary space the run needs, for messages */
    keymap km[2];         /* x's and y's buckets */
    spill *files[2];
    uint64_t *fen;        /* Fenwick tree over y's buckets (Kendall) */
    uint64_t fen_total;
    uint64_t *local;      /* per y bucket counts of one x tie group */
    /* sums, exact */
    u128 sx2, sy2, sxy;   /* Σ (2rx)^2, Σ (2ry)^2, Σ 2rx 2ry */
    u128 n1, n2, n3, dis; /* x ties, y ties, joint ties (pairs), discordant pairs */
    uint64_t seen_x, seen_y;
} ranker;

static simrep_status spill_error(simrep_ctx *ctx, const ranker *R, const char *what, int err)
{
    return simrep__fail(ctx, SIMREP_E_IO,
                        "rsa: cannot %s a spill file in %s (%s): the exact %s comparison of n = %lld samples needs "
                        "about %.2f GiB of temporary space there (n(n-1)/2 = %llu pairs x 16 bytes); set TMPDIR to "
                        "a directory with room, or raise --rsa-memory (now %.0f MiB) to sort more in memory",
                        what, R->dir, strerror(err), compare_name(R->how), (long long)R->sx->n,
                        R->need_bytes / 1073741824.0, (unsigned long long)R->M,
                        (double)R->C * 32.0 / 1048576.0);
}

static simrep_status spill_open(simrep_ctx *ctx, ranker *R, spill *f)
{
    char path[4096];
    int len = snprintf(path, sizeof path, "%s/simrep-rsa-XXXXXX", R->dir);
    if (len < 0 || (size_t)len >= sizeof path)
        return simrep__fail(ctx, SIMREP_E_IO, "rsa: the spill directory name is too long: %s", R->dir);
    f->fd = mkstemp(path);
    if (f->fd < 0)
        return spill_error(ctx, R, "create", errno);
    unlink(path); /* the file lives until closed: nothing is left behind, even after a crash */
    if (!(f->buf = simrep__alloc_array(ctx, SPILL_RECS, sizeof(rec), "rsa spill buffer")))
        return SIMREP_E_NOMEM;
    return SIMREP_OK;
}

static void spill_close(simrep_ctx *ctx, spill *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    simrep__free(ctx, f->buf);
    f->buf = NULL;
}

static simrep_status spill_flush(simrep_ctx *ctx, ranker *R, spill *f)
{
    const char *p = (const char *)f->buf;
    size_t left = f->fill * sizeof(rec);
    while (left > 0) {
        ssize_t w = write(f->fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return spill_error(ctx, R, "write", w < 0 ? errno : ENOSPC);
        p += w;
        left -= (size_t)w;
    }
    f->fill = 0;
    return SIMREP_OK;
}

static inline simrep_status spill_put(simrep_ctx *ctx, ranker *R, spill *f, rec r)
{
    f->buf[f->fill++] = r;
    f->records++;
    return f->fill == SPILL_RECS ? spill_flush(ctx, R, f) : SIMREP_OK;
}

/* Read count records starting at record first of f into dst. */
static simrep_status spill_read(simrep_ctx *ctx, ranker *R, spill *f, uint64_t first, rec *dst, uint64_t count)
{
    char *p = (char *)dst;
    size_t left = (size_t)count * sizeof(rec);
    off_t off = (off_t)(first * sizeof(rec));
    while (left > 0) {
        ssize_t r = pread(f->fd, p, left, off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return spill_error(ctx, R, "read back", r < 0 ? errno : EIO);
        p += r;
        off += r;
        left -= (size_t)r;
    }
    return SIMREP_OK;
}

/* ---- Fenwick tree over y's buckets: how many records so far lie in a
 * bucket above b (Kendall's discordant pairs across y buckets). */

static void fen_add(ranker *R, int64_t b, uint64_t v)
{
    R->fen_total += v;
    for (int64_t i = b + 1; i <= R->km[1].nb; i += i & -i)
        R->fen[i] += v;
}

static uint64_t fen_above(const ranker *R, int64_t b)
{
    uint64_t upto = 0; /* records in buckets 0..b */
    for (int64_t i = b + 1; i > 0; i -= i & -i)
        upto += R->fen[i];
    return R->fen_total - upto;
}

/* ---- Phase X: one tie group of dx (t records of v, ranks below+1 ..
 * below+t): its average rank, its tie count, Kendall's cross-bucket
 * discordant pairs (the group is queried before any of it is inserted:
 * tied pairs are not discordant), and its (dy, 2 rx) records, written in
 * place (in-memory mode) or to y's bucket files. */
static simrep_status x_group(simrep_ctx *ctx, ranker *R, rec *v, uint64_t t, uint64_t below)
{
    const uint64_t rx2 = 2 * below + t + 1;
    R->n1 += (u128)t * (t - 1) / 2;
    R->sx2 += (u128)t * rx2 * rx2;
    R->seen_x += t;
    if (!R->files[1]) {
        for (uint64_t i = 0; i < t; i++) {
            v[i].a = v[i].b;
            v[i].b = rx2;
        }
        return SIMREP_OK;
    }
    const int kendall = R->how == SIMREP_RSA_KENDALL;
    for (uint64_t i = 0; i < t; i++) {
        const int64_t yb = keymap_find(&R->km[1], v[i].b);
        if (kendall) {
            R->dis += fen_above(R, yb);
            if (t > 1)
                R->local[yb]++;
            else
                fen_add(R, yb, 1);
        }
        simrep_status st = spill_put(ctx, R, &R->files[1][yb], (rec){v[i].b, rx2});
        if (st != SIMREP_OK)
            return st;
    }
    if (kendall && t > 1)
        for (uint64_t i = 0; i < t; i++) {
            const int64_t yb = keymap_find(&R->km[1], v[i].b);
            if (R->local[yb]) {
                fen_add(R, yb, R->local[yb]);
                R->local[yb] = 0;
            }
        }
    return SIMREP_OK;
}

/* Phase X on m records sorted by dx whose first has rank below + 1. */
static simrep_status x_block(simrep_ctx *ctx, ranker *R, rec *v, uint64_t m, uint64_t below)
{
    for (uint64_t i = 0; i < m;) {
        uint64_t j = i + 1;
        while (j < m && v[j].a == v[i].a)
            j++;
        simrep_status st = x_group(ctx, R, v + i, j - i, below + i);
        if (st != SIMREP_OK)
            return st;
        i = j;
    }
    return SIMREP_OK;
}

/* Phase Y on m records (dy, 2 rx) in rx order whose smallest dy has rank
 * below + 1 among all: sort by dy (stably: within a dy tie the rx order
 * stays, so joint ties are adjacent), counting Kendall's inversions. */
static void y_block(ranker *R, rec *v, uint64_t m, uint64_t below)
{
    if (R->how == SIMREP_RSA_KENDALL) {
        /* Within a tie of dx (equal 2 rx, adjacent), order by dy so that
         * tied pairs are not counted as inversions. */
        for (uint64_t i = 0; i < m;) {
            uint64_t j = i + 1;
            while (j < m && v[j].b == v[i].b)
                j++;
            if (j - i > 1)
                qsort(v + i, (size_t)(j - i), sizeof *v, cmp_rec_a);
            i = j;
        }
        R->dis += merge_sort_count(v, R->tmp, m);
    } else {
        radix_sort(v, R->tmp, m);
    }
    for (uint64_t i = 0; i < m;) {
        uint64_t j = i + 1;
        while (j < m && v[j].a == v[i].a)
            j++;
        const uint64_t t = j - i, ry2 = 2 * (below + i) + t + 1;
        R->n2 += (u128)t * (t - 1) / 2;
        R->sy2 += (u128)t * ry2 * ry2;
        for (uint64_t k = i; k < j;) {
            uint64_t l = k + 1;
            while (l < j && v[l].b == v[k].b)
                l++;
            R->n3 += (u128)(l - k) * (l - k - 1) / 2;
            R->sxy += (u128)(l - k) * v[k].b * ry2;
            k = l;
        }
        i = j;
    }
    R->seen_y += m;
}

/* ---- in-memory mode: one tile pass collects every record. */

static simrep_status collect_tile(simrep_ctx *ctx, void *user, const double *tx, const double *ty, int64_t ni,
                                  int64_t nj, int diag)
{
    ranker *R = user;
    for (int64_t a = 0; a < ni; a++)
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            if (R->fill == R->M)
                return simrep__fail(ctx, SIMREP_E_NUMERIC, "rsa: more pairs than n(n-1)/2 (internal error)");
            R->buf[R->fill++] = (rec){key_of(tx[a * TILE + b]), key_of(ty[a * TILE + b])};
        }
    return SIMREP_OK;
}

/* ---- spill mode: histograms, buckets, files. */

typedef struct kbin {
    uint64_t lo;    /* the bin is [lo, lo + 2^width) */
    int width;
    uint64_t count;
} kbin;

typedef struct binlist {
    kbin *v;
    int64_t len, cap;
} binlist;

static simrep_status bins_push(simrep_ctx *ctx, binlist *l, kbin b)
{
    if (l->len == l->cap) {
        int64_t cap = l->cap ? 2 * l->cap : 1024;
        kbin *v = simrep__alloc_array(ctx, (size_t)cap, sizeof *v, "rsa histogram bins");
        if (!v)
            return SIMREP_E_NOMEM;
        if (l->len)
            memcpy(v, l->v, (size_t)l->len * sizeof *v);
        simrep__free(ctx, l->v);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->len++] = b;
    return SIMREP_OK;
}

/* One histogram pass's state: level 1 (top 16 bits) of both sides, or a
 * 12-bit sub-histogram inside each dense bin of one or both sides. */
typedef struct hist_pass {
    int level1;
    uint64_t *h[2];          /* level 1: 2^16 counts; refinement: ndense * 2^12 */
    const kbin *dense[2];    /* refinement: the dense bins (sorted), or NULL */
    int64_t ndense[2];
} hist_pass;

static void hist_add(hist_pass *H, int s, uint64_t key)
{
    if (H->level1) {
        H->h[s][key >> (64 - H1_BITS)]++;
        return;
    }
    const kbin *d = H->dense[s];
    int64_t lo = 0, hi = H->ndense[s];
    if (hi == 0 || key < d[0].lo)
        return;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (d[mid].lo <= key)
            lo = mid;
        else
            hi = mid;
    }
    const uint64_t off = key - d[lo].lo;
    if ((off >> d[lo].width) != 0)
        return;
    H->h[s][(uint64_t)lo * (1u << HR_BITS) + (off >> (d[lo].width - HR_BITS))]++;
}

static simrep_status hist_tile(simrep_ctx *ctx, void *user, const double *tx, const double *ty, int64_t ni,
                               int64_t nj, int diag)
{
    (void)ctx;
    hist_pass *H = user;
    for (int64_t a = 0; a < ni; a++)
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            if (H->h[0])
                hist_add(H, 0, key_of(tx[a * TILE + b]));
            if (H->h[1])
                hist_add(H, 1, key_of(ty[a * TILE + b]));
        }
    return SIMREP_OK;
}

/* The buckets of one side from its final bins: consecutive bins packed
 * while they fit in C records; a single value holding more is a bucket of
 * its own. */
static simrep_status keymap_build(simrep_ctx *ctx, ranker *R, keymap *km, const binlist *bins, const char *name)
{
    int64_t nb = 0;
    uint64_t cur = 0;
    for (int64_t i = 0; i < bins->len; i++) { /* count first */
        const kbin *b = &bins->v[i];
        if (b->count > R->C || cur + b->count > R->C || cur == 0) {
            nb++;
            cur = 0;
        }
        cur = b->count > R->C ? R->C + 1 : cur + b->count;
    }
    if (nb > MAX_BUCKETS)
        return simrep__fail(ctx, SIMREP_E_NOMEM,
                            "rsa: sorting the %llu dissimilarities of %s in pieces of --rsa-memory %.0f MiB would "
                            "take %lld pieces (at most %d): raise --rsa-memory",
                            (unsigned long long)R->M, name, (double)R->C * 32.0 / 1048576.0, (long long)nb,
                            MAX_BUCKETS);
    km->start = simrep__calloc_array(ctx, (size_t)nb + 1, sizeof(uint64_t), "rsa buckets");
    km->count = km->start ? simrep__calloc_array(ctx, (size_t)nb + 1, sizeof(uint64_t), "rsa buckets") : NULL;
    km->below = km->count ? simrep__calloc_array(ctx, (size_t)nb + 1, sizeof(uint64_t), "rsa buckets") : NULL;
    km->single = km->below ? simrep__calloc_array(ctx, (size_t)nb + 1, 1, "rsa buckets") : NULL;
    if (!km->single)
        return SIMREP_E_NOMEM;
    int64_t k = -1;
    cur = 0;
    for (int64_t i = 0; i < bins->len; i++) {
        const kbin *b = &bins->v[i];
        if (b->count > R->C || cur + b->count > R->C || k < 0) {
            k++;
            km->start[k] = b->lo;
            km->single[k] = b->count > R->C;
            cur = 0;
        }
        km->count[k] += b->count;
        cur = b->count > R->C ? R->C + 1 : cur + b->count;
    }
    km->nb = k + 1;
    if (km->nb > 0)
        km->start[0] = 0;
    uint64_t below = 0;
    for (int64_t b = 0; b < km->nb; b++) {
        km->below[b] = below;
        below += km->count[b];
    }
    return SIMREP_OK;
}

static void keymap_free(simrep_ctx *ctx, keymap *km)
{
    simrep__free(ctx, km->start);
    simrep__free(ctx, km->count);
    simrep__free(ctx, km->below);
    simrep__free(ctx, km->single);
    memset(km, 0, sizeof *km);
}

/* Histogram passes until every bin of both sides holds at most C records
 * or one value, then the buckets. */
static simrep_status plan_buckets(simrep_ctx *ctx, ranker *R)
{
    binlist bins[2];
    memset(bins, 0, sizeof bins);
    hist_pass H;
    memset(&H, 0, sizeof H);
    simrep_status st = SIMREP_OK;
    H.level1 = 1;
    for (int s = 0; s < 2 && st == SIMREP_OK; s++)
        if (!(H.h[s] = simrep__calloc_array(ctx, (size_t)1 << H1_BITS, sizeof(uint64_t), "rsa histogram")))
            st = SIMREP_E_NOMEM;
    if (st == SIMREP_OK)
        st = tile_pass(ctx, R->sx, R->sy, "rsa histogram, pass 1", hist_tile, &H);
    for (int s = 0; s < 2 && st == SIMREP_OK; s++)
        for (uint64_t k = 0; k < ((uint64_t)1 << H1_BITS) && st == SIMREP_OK; k++)
            if (H.h[s][k])
                st = bins_push(ctx, &bins[s], (kbin){k << (64 - H1_BITS), 64 - H1_BITS, H.h[s][k]});
    for (int s = 0; s < 2; s++) {
        simrep__free(ctx, H.h[s]);
        H.h[s] = NULL;
    }
    H.level1 = 0;
    for (int pass = 2; st == SIMREP_OK; pass++) {
        /* The dense bins of each side, moved to their own list. */
        binlist dense[2];
        memset(dense, 0, sizeof dense);
        int any = 0;
        for (int s = 0; s < 2 && st == SIMREP_OK; s++)
            for (int64_t i = 0; i < bins[s].len && st == SIMREP_OK; i++)
                if (bins[s].v[i].count > R->C && bins[s].v[i].width > 0) {
                    if (dense[s].len == MAX_BUCKETS)
                        st = simrep__fail(ctx, SIMREP_E_NOMEM,
                                          "rsa: the dissimilarities of %s need more than %d pieces of --rsa-memory "
                                          "%.0f MiB: raise --rsa-memory",
                                          s ? R->sy->name : R->sx->name, MAX_BUCKETS,
                                          (double)R->C * 32.0 / 1048576.0);
                    else
                        st = bins_push(ctx, &dense[s], bins[s].v[i]);
                    any = 1;
                }
        for (int s = 0; s < 2 && st == SIMREP_OK; s++)
            if (dense[s].len) {
                H.dense[s] = dense[s].v;
                H.ndense[s] = dense[s].len;
                if (!(H.h[s] = simrep__calloc_array(ctx, (size_t)dense[s].len << HR_BITS, sizeof(uint64_t),
                                                    "rsa sub-histograms")))
                    st = SIMREP_E_NOMEM;
            }
        if (st == SIMREP_OK && any) {
            char stage[48];
            snprintf(stage, sizeof stage, "rsa histogram, pass %d", pass);
            st = tile_pass(ctx, R->sx, R->sy, stage, hist_tile, &H);
        }
        /* Replace each dense bin by its non-empty sub-bins, in order. */
        for (int s = 0; s < 2 && st == SIMREP_OK && any; s++) {
            if (!dense[s].len)
                continue;
            binlist next;
            memset(&next, 0, sizeof next);
            int64_t d = 0;
            for (int64_t i = 0; i < bins[s].len && st == SIMREP_OK; i++) {
                const kbin b = bins[s].v[i];
                if (!(b.count > R->C && b.width > 0)) {
                    st = bins_push(ctx, &next, b);
                    continue;
                }
                uint64_t total = 0;
                for (uint64_t k = 0; k < (1u << HR_BITS) && st == SIMREP_OK; k++) {
                    const uint64_t c = H.h[s][(uint64_t)d * (1u << HR_BITS) + k];
                    total += c;
                    if (c)
                        st = bins_push(ctx, &next,
                                       (kbin){b.lo + (k << (b.width - HR_BITS)), b.width - HR_BITS, c});
                }
                if (st == SIMREP_OK && total != b.count)
                    st = simrep__fail(ctx, SIMREP_E_NUMERIC,
                                      "rsa: the dissimilarities of %s changed between passes (a histogram bin held "
                                      "%llu, then %llu)",
                                      s ? R->sy->name : R->sx->name, (unsigned long long)b.count,
                                      (unsigned long long)total);
                d++;
            }
            simrep__free(ctx, bins[s].v);
            bins[s] = next;
        }
        for (int s = 0; s < 2; s++) {
            simrep__free(ctx, H.h[s]);
            H.h[s] = NULL;
            H.dense[s] = NULL;
            H.ndense[s] = 0;
            simrep__free(ctx, dense[s].v);
        }
        if (!any)
            break;
    }
    for (int s = 0; s < 2 && st == SIMREP_OK; s++)
        st = keymap_build(ctx, R, &R->km[s], &bins[s], s ? R->sy->name : R->sx->name);
    for (int s = 0; s < 2; s++)
        simrep__free(ctx, bins[s].v);
    return st;
}

static simrep_status distribute_tile(simrep_ctx *ctx, void *user, const double *tx, const double *ty, int64_t ni,
                                     int64_t nj, int diag)
{
    ranker *R = user;
    for (int64_t a = 0; a < ni; a++)
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            const rec r = {key_of(tx[a * TILE + b]), key_of(ty[a * TILE + b])};
            simrep_status st = spill_put(ctx, R, &R->files[0][keymap_find(&R->km[0], r.a)], r);
            if (st != SIMREP_OK)
                return st;
        }
    return SIMREP_OK;
}

static simrep_status count_mismatch(simrep_ctx *ctx, const char *name, uint64_t got, uint64_t want)
{
    return simrep__fail(ctx, SIMREP_E_NUMERIC,
                        "rsa: the dissimilarities of %s changed between passes (%llu in a bucket, expected %llu)",
                        name, (unsigned long long)got, (unsigned long long)want);
}

/* Phase X over x's bucket files, then phase Y over y's. */
static simrep_status spill_phases(simrep_ctx *ctx, ranker *R)
{
    simrep_status st = SIMREP_OK;
    const keymap *kx = &R->km[0], *ky = &R->km[1];
    for (int64_t b = 0; b < kx->nb && st == SIMREP_OK; b++) {
        if ((st = simrep__tick(ctx, "rsa ranks of x", (double)kx->below[b] / (double)R->M)) != SIMREP_OK)
            break;
        spill *f = &R->files[0][b];
        if (f->records != kx->count[b]) {
            st = count_mismatch(ctx, R->sx->name, f->records, kx->count[b]);
            break;
        }
        if (kx->single[b]) {
            /* One value: one tie group, streamed in pieces of C records;
             * every Kendall query precedes the group's insertions. */
            const uint64_t t = kx->count[b], rx2 = 2 * kx->below[b] + t + 1;
            R->n1 += (u128)t * (t - 1) / 2;
            R->sx2 += (u128)t * rx2 * rx2;
            R->seen_x += t;
            for (uint64_t off = 0; off < t && st == SIMREP_OK; off += R->C) {
                const uint64_t m = t - off < R->C ? t - off : R->C;
                st = spill_read(ctx, R, f, off, R->buf, m);
                for (uint64_t i = 0; i < m && st == SIMREP_OK; i++) {
                    const int64_t yb = keymap_find(ky, R->buf[i].b);
                    if (R->how == SIMREP_RSA_KENDALL) {
                        R->dis += fen_above(R, yb);
                        R->local[yb]++;
                    }
                    st = spill_put(ctx, R, &R->files[1][yb], (rec){R->buf[i].b, rx2});
                }
            }
            if (R->how == SIMREP_RSA_KENDALL)
                for (int64_t yb = 0; yb < ky->nb; yb++)
                    if (R->local[yb]) {
                        fen_add(R, yb, R->local[yb]);
                        R->local[yb] = 0;
                    }
        } else {
            const uint64_t m = kx->count[b];
            st = spill_read(ctx, R, f, 0, R->buf, m);
            if (st == SIMREP_OK) {
                radix_sort(R->buf, R->tmp, m);
                st = x_block(ctx, R, R->buf, m, kx->below[b]);
            }
        }
        spill_close(ctx, f); /* its disk space is freed now */
    }
    for (int64_t b = 0; b < ky->nb && st == SIMREP_OK; b++)
        st = spill_flush(ctx, R, &R->files[1][b]);
    for (int64_t b = 0; b < ky->nb && st == SIMREP_OK; b++) {
        if ((st = simrep__tick(ctx, "rsa ranks of y", (double)ky->below[b] / (double)R->M)) != SIMREP_OK)
            break;
        spill *f = &R->files[1][b];
        if (f->records != ky->count[b]) {
            st = count_mismatch(ctx, R->sy->name, f->records, ky->count[b]);
            break;
        }
        if (ky->single[b]) {
            /* One value of dy: one tie group; no inversions inside; the
             * file is in rx order, so joint ties are runs of equal 2 rx. */
            const uint64_t t = ky->count[b], ry2 = 2 * ky->below[b] + t + 1;
            R->n2 += (u128)t * (t - 1) / 2;
            R->sy2 += (u128)t * ry2 * ry2;
            R->seen_y += t;
            uint64_t run = 0, last = 0;
            for (uint64_t off = 0; off < t && st == SIMREP_OK; off += R->C) {
                const uint64_t m = t - off < R->C ? t - off : R->C;
                st = spill_read(ctx, R, f, off, R->buf, m);
                for (uint64_t i = 0; i < m && st == SIMREP_OK; i++) {
                    const uint64_t rx2 = R->buf[i].b;
                    R->sxy += (u128)rx2 * ry2;
                    if (run && rx2 == last) {
                        run++;
                    } else {
                        R->n3 += (u128)run * (run ? run - 1 : 0) / 2;
                        run = 1;
                        last = rx2;
                    }
                }
            }
            R->n3 += (u128)run * (run ? run - 1 : 0) / 2;
        } else {
            const uint64_t m = ky->count[b];
            st = spill_read(ctx, R, f, 0, R->buf, m);
            if (st == SIMREP_OK)
                y_block(R, R->buf, m, ky->below[b]);
        }
        spill_close(ctx, f);
    }
    return st;
}

static simrep_status rank_spill(simrep_ctx *ctx, ranker *R)
{
    const char *dir = getenv("TMPDIR");
    R->dir = dir && *dir ? dir : "/tmp";
    /* x's files whole, plus y's while x's are being emptied: at most one
     * bucket of both at once. */
    R->need_bytes = 16.0 * (double)R->M + 32.0 * (double)R->C;
    struct statvfs fs;
    if (statvfs(R->dir, &fs) != 0)
        return spill_error(ctx, R, "find room for", errno);
    const double avail = (double)fs.f_bavail * (double)fs.f_frsize;
    if (avail < R->need_bytes)
        return simrep__fail(ctx, SIMREP_E_IO,
                            "rsa: the exact %s comparison of n = %lld samples needs about %.2f GiB of temporary "
                            "space in %s (n(n-1)/2 = %llu pairs x 16 bytes), which has %.2f GiB free; set TMPDIR to "
                            "a directory with room, or raise --rsa-memory (now %.0f MiB) to sort more in memory",
                            compare_name(R->how), (long long)R->sx->n, R->need_bytes / 1073741824.0, R->dir,
                            (unsigned long long)R->M, avail / 1073741824.0, (double)R->C * 32.0 / 1048576.0);
    simrep_status st = plan_buckets(ctx, R);
    if (st != SIMREP_OK)
        return st;
    for (int s = 0; s < 2 && st == SIMREP_OK; s++) {
        const int64_t nb = R->km[s].nb;
        if (!(R->files[s] = simrep__calloc_array(ctx, (size_t)nb + 1, sizeof(spill), "rsa spill files")))
            return SIMREP_E_NOMEM;
        for (int64_t b = 0; b < nb; b++)
            R->files[s][b].fd = -1;
        for (int64_t b = 0; b < nb && st == SIMREP_OK; b++)
            st = spill_open(ctx, R, &R->files[s][b]);
    }
    if (st == SIMREP_OK && R->how == SIMREP_RSA_KENDALL) {
        R->fen = simrep__calloc_array(ctx, (size_t)R->km[1].nb + 1, sizeof(uint64_t), "rsa Fenwick tree");
        R->local = R->fen ? simrep__calloc_array(ctx, (size_t)R->km[1].nb + 1, sizeof(uint64_t), "rsa counts")
                          : NULL;
        if (!R->local)
            st = SIMREP_E_NOMEM;
    }
    if (st == SIMREP_OK)
        st = tile_pass(ctx, R->sx, R->sy, "rsa spill", distribute_tile, R);
    for (int64_t b = 0; b < R->km[0].nb && st == SIMREP_OK; b++)
        st = spill_flush(ctx, R, &R->files[0][b]);
    if (st == SIMREP_OK)
        st = spill_phases(ctx, R);
    return st;
}

static void ranker_free(simrep_ctx *ctx, ranker *R)
{
    simrep__free(ctx, R->buf);
    simrep__free(ctx, R->tmp);
    for (int s = 0; s < 2; s++) {
        for (int64_t b = 0; R->files[s] && b < R->km[s].nb; b++)
            spill_close(ctx, &R->files[s][b]);
        simrep__free(ctx, R->files[s]);
        keymap_free(ctx, &R->km[s]);
    }
    simrep__free(ctx, R->fen);
    simrep__free(ctx, R->local);
}

/* The comparison from the exact sums of a ranking of M pairs (M the total
 * weight of a weighted one), or SIMREP_E_DEGENERATE when a side's
 * dissimilarities are all tied. */
static simrep_status rank_value(simrep_ctx *ctx, const rdm_side *sx, const rdm_side *sy, simrep_rsa_compare how,
                                const ranker *R, u128 M, double *value)
{
    const u128 n0 = M * (M - 1) / 2, T = M * (M + 1) * (M + 1);
    const int xc = how == SIMREP_RSA_KENDALL ? R->n1 == n0 : R->sx2 == T;
    const int yc = how == SIMREP_RSA_KENDALL ? R->n2 == n0 : R->sy2 == T;
    if (xc || yc)
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, xc ? sx->side : sy->side,
                                 "rsa: every dissimilarity is the same, so their rank correlation with the "
                                 "other input's is undefined");
    if (how == SIMREP_RSA_KENDALL) {
        /* scipy.stats.kendalltau: (tot - xtie - ytie + ntie - 2 dis)
         * / sqrt(tot - xtie) / sqrt(tot - ytie). */
        const i128 num = (i128)n0 - (i128)R->n1 - (i128)R->n2 + (i128)R->n3 - 2 * (i128)R->dis;
        *value = (double)num / sqrt((double)(n0 - R->n1)) / sqrt((double)(n0 - R->n2));
    } else {
        /* Pearson of the average ranks in integers: with 2r, mean M + 1,
         * Σ(2rx - (M+1))(2ry - (M+1)) = Σ 2rx 2ry - M (M+1)^2. */
        const i128 cxy = (i128)R->sxy - (i128)T;
        *value = (double)cxy / (sqrt((double)(R->sx2 - T)) * sqrt((double)(R->sy2 - T)));
    }
    return SIMREP_OK;
}

static simrep_status rsa_ranks(simrep_ctx *ctx, rdm_side *sx, rdm_side *sy, simrep_rsa_compare how,
                               double budget_mib, double *value)
{
    ranker R;
    memset(&R, 0, sizeof R);
    R.how = how;
    R.sx = sx;
    R.sy = sy;
    const uint64_t n = (uint64_t)sx->n;
    R.M = n * (n - 1) / 2;
    double c = floor(budget_mib * 1048576.0 / (2.0 * sizeof(rec)));
    R.C = c >= (double)R.M ? R.M : (uint64_t)c;
    if (R.C < 1)
        R.C = 1;
    simrep_status st = SIMREP_OK;
    R.buf = simrep__alloc_array(ctx, (size_t)R.C, sizeof(rec), "rsa sort buffer");
    R.tmp = R.buf ? simrep__alloc_array(ctx, (size_t)R.C, sizeof(rec), "rsa sort scratch") : NULL;
    if (!R.tmp)
        st = SIMREP_E_NOMEM;
    simrep__advise_huge(R.buf, (size_t)R.C * sizeof(rec));
    simrep__advise_huge(R.tmp, (size_t)R.C * sizeof(rec));
    if (st == SIMREP_OK && R.C == R.M) {
        st = tile_pass(ctx, sx, sy, "rsa pairs", collect_tile, &R);
        if (st == SIMREP_OK && R.fill != R.M)
            st = count_mismatch(ctx, sx->name, R.fill, R.M);
        if (st == SIMREP_OK) {
            simrep__progress(ctx, "rsa ranks", 0.0);
            radix_sort(R.buf, R.tmp, R.M);
            st = x_block(ctx, &R, R.buf, R.M, 0);
            if (st == SIMREP_OK)
                y_block(&R, R.buf, R.M, 0);
            simrep__progress(ctx, "rsa ranks", 1.0);
        }
    } else if (st == SIMREP_OK) {
        st = rank_spill(ctx, &R);
    }
    if (st == SIMREP_OK && (R.seen_x != R.M || R.seen_y != R.M))
        st = count_mismatch(ctx, sx->name, R.seen_x != R.M ? R.seen_x : R.seen_y, R.M);
    if (st == SIMREP_OK)
        st = rank_value(ctx, sx, sy, how, &R, R.M, value);
    ranker_free(ctx, &R);
    return st;
}

/* ---- weighted ranks (a bootstrap resample, rowstats.c): pair (i, j) of
 * distinct rows stands for w_i w_j pairs of copies, all tied with each
 * other.  The pairs are held in memory (32 bytes each, twice), sorted by
 * (dx, dy); average ranks count weights (a tie group of weight W after B
 * below gets 2r = 2B + W + 1), Spearman is the weighted Pearson of the
 * ranks, Kendall's tau-b counts weighted discordant pairs in a merge sort
 * by dy and ties by weight, all in exact integers as the unweighted path. */

typedef struct wrec {
    uint64_t a, b; /* key(dx), key(dy) */
    uint64_t w;    /* w_i w_j */
    uint64_t r;    /* 2 rx */
} wrec;

typedef struct wcollect {
    wrec *v;
    uint64_t fill, cap;
    const rdm_side *sx;
} wcollect;

static simrep_status wcollect_tile(simrep_ctx *ctx, void *user, const double *tx, const double *ty, int64_t ni,
                                   int64_t nj, int diag)
{
    wcollect *C = user;
    const double *wi = C->sx->w + C->sx->ti, *wj = C->sx->w + C->sx->tj;
    for (int64_t a = 0; a < ni; a++)
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            if (C->fill == C->cap)
                return simrep__fail(ctx, SIMREP_E_NUMERIC, "rsa: more pairs than n(n-1)/2 (internal error)");
            C->v[C->fill++] = (wrec){key_of(tx[a * TILE + b]), key_of(ty[a * TILE + b]),
                                     (uint64_t)wi[a] * (uint64_t)wj[b], 0};
        }
    return SIMREP_OK;
}

static int cmp_wrec_ab(const void *pa, const void *pb)
{
    const wrec *a = pa, *b = pb;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return (a->b > b->b) - (a->b < b->b);
}

/* Stable merge sort of v[0..m) by .b; returns the weighted strict
 * inversions: sum of w_s w_t over s before t with b_s > b_t. */
static u128 wmerge_count(wrec *v, wrec *tmp, uint64_t m)
{
    u128 inv = 0;
    wrec *src = v, *dst = tmp;
    for (uint64_t width = 1; width < m; width *= 2) {
        for (uint64_t lo = 0; lo < m; lo += 2 * width) {
            const uint64_t mid = m - lo < width ? m : lo + width, hi = m - lo < 2 * width ? m : lo + 2 * width;
            u128 left = 0; /* weight still in the left run */
            for (uint64_t i = lo; i < mid; i++)
                left += src[i].w;
            uint64_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (src[j].b < src[i].b) {
                    inv += left * src[j].w;
                    dst[k++] = src[j++];
                } else {
                    left -= src[i].w;
                    dst[k++] = src[i++];
                }
            }
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        wrec *t = src;
        src = dst;
        dst = t;
    }
    if (src != v)
        memcpy(v, src, (size_t)m * sizeof *v);
    return inv;
}

static simrep_status rsa_ranks_weighted(simrep_ctx *ctx, rdm_side *sx, rdm_side *sy, simrep_rsa_compare how,
                                        double budget_mib, double *value)
{
    const uint64_t n = (uint64_t)sx->n, M = n * (n - 1) / 2;
    if ((double)M * 2.0 * sizeof(wrec) > budget_mib * 1048576.0)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "rsa: the bootstrap of a %s comparison holds the pairs of a resample's distinct samples "
                            "in memory: %llu pairs need %.0f MiB, more than --rsa-memory %.0f MiB (raise it, or use "
                            "--rsa-compare pearson)",
                            compare_name(how), (unsigned long long)M, (double)M * 2.0 * sizeof(wrec) / 1048576.0,
                            budget_mib);
    wcollect C = {simrep__alloc_array(ctx, (size_t)M, sizeof(wrec), "rsa weighted pairs"), 0, M, sx};
    wrec *tmp = C.v ? simrep__alloc_array(ctx, (size_t)M, sizeof(wrec), "rsa weighted pairs scratch") : NULL;
    simrep_status st = tmp ? tile_pass(ctx, sx, sy, "rsa pairs", wcollect_tile, &C) : SIMREP_E_NOMEM;
    if (st == SIMREP_OK && C.fill != M)
        st = count_mismatch(ctx, sx->name, C.fill, M);
    if (st == SIMREP_OK) {
        wrec *v = C.v;
        qsort(v, (size_t)M, sizeof *v, cmp_wrec_ab);
        ranker R; /* its sums: the ones rank_value reads */
        memset(&R, 0, sizeof R);
        u128 W = 0;
        for (uint64_t i = 0; i < M;) { /* x's tie groups and the joint ones */
            uint64_t j = i;
            u128 g = 0;
            while (j < M && v[j].a == v[i].a)
                g += v[j++].w;
            for (uint64_t t = i; t < j; t++)
                v[t].r = (uint64_t)(2 * W + g + 1);
            R.n1 += g * (g - 1) / 2;
            for (uint64_t t = i; t < j;) {
                uint64_t e = t;
                u128 h = 0;
                while (e < j && v[e].b == v[t].b)
                    h += v[e++].w;
                R.n3 += h * (h - 1) / 2;
                t = e;
            }
            W += g;
            i = j;
        }
        R.dis = wmerge_count(v, tmp, M); /* now sorted by dy, stable */
        u128 below = 0;
        for (uint64_t i = 0; i < M;) {
            uint64_t j = i;
            u128 g = 0;
            while (j < M && v[j].b == v[i].b)
                g += v[j++].w;
            const u128 ry = 2 * below + g + 1;
            for (uint64_t t = i; t < j; t++) {
                R.sx2 += (u128)v[t].w * v[t].r * v[t].r;
                R.sy2 += (u128)v[t].w * ry * ry;
                R.sxy += (u128)v[t].w * v[t].r * ry;
            }
            R.n2 += g * (g - 1) / 2;
            below += g;
            i = j;
        }
        st = rank_value(ctx, sx, sy, how, &R, W, value);
    }
    simrep__free(ctx, C.v);
    simrep__free(ctx, tmp);
    return st;
}

/* ----------------------------------------------------------------- API */

simrep_status simrep__rsa_weighted(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                   const simrep_options *opt, const double *w, const double *fixed, simrep_result *r)
{
    (void)fixed; /* rsa has no parameter estimated from the data */
    simrep_options defaults;
    simrep_status st = simrep__rows_enter(ctx, "rsa", x, y, &opt, &defaults, r);
    if (st != SIMREP_OK)
        return st;
    if ((unsigned)opt->rsa_rdm > SIMREP_RDM_COSINE || (unsigned)opt->rsa_compare > SIMREP_RSA_KENDALL ||
        !(opt->rsa_memory >= 1.0 / 16 && opt->rsa_memory <= 1048576.0))
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "rsa: options out of range (rsa_rdm %d, rsa_compare %d, rsa_memory %g MiB must be in "
                            "[1/16, 2^20])",
                            (int)opt->rsa_rdm, (int)opt->rsa_compare, opt->rsa_memory);
    const int64_t n = x->rows;
    if (n < 3)
        return simrep__fail(ctx, SIMREP_E_DEGENERATE,
                            "rsa needs at least 3 samples (n(n-1)/2 >= 2 dissimilarities to correlate), got %lld",
                            (long long)n);
    if ((st = simrep__part_check(ctx, "rsa", n)) != SIMREP_OK)
        return st;
    /* Ranks: the sums of 2rx 2ry (<= 4 M^3) must fit 127 bits. */
    if (opt->rsa_compare != SIMREP_RSA_PEARSON && n > ((int64_t)1 << 21))
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "rsa: n = %lld samples is too many for an exact %s comparison (at most 2^21 = 2097152: "
                            "n(n-1)/2 must stay below 2^41); use --rsa-compare pearson",
                            (long long)n, compare_name(opt->rsa_compare));

    rdm_side sides[2];
    memset(sides, 0, sizeof sides);
    st = side_prepare(ctx, &sides[0], x, 0, opt->rsa_rdm);
    if (st == SIMREP_OK)
        st = side_prepare(ctx, &sides[1], y, 1, opt->rsa_rdm);
    st = simrep__part_agree(ctx, "rsa", st);
    sides[0].w = sides[1].w = w;
    double value = 0;
    if (st == SIMREP_OK && opt->rsa_compare == SIMREP_RSA_PEARSON) {
        st = rsa_pearson(ctx, &sides[0], &sides[1], &value);
    } else if (st == SIMREP_OK && w) { /* a resample: one worker (rowstats.c) */
        st = rsa_ranks_weighted(ctx, &sides[0], &sides[1], opt->rsa_compare, opt->rsa_memory, &value);
    } else if (st == SIMREP_OK) {
        /* Ranks run whole on worker 0: the others agree on its status and
         * receive its value. */
        const int part = ctx->part, parts = ctx->parts;
        if (parts <= 1 || part == 0) {
            ctx->parts = 1;
            st = rsa_ranks(ctx, &sides[0], &sides[1], opt->rsa_compare, opt->rsa_memory, &value);
            ctx->part = part;
            ctx->parts = parts;
        } else if (simrep__cancel_requested(ctx)) { /* while worker 0 ranks: agreed below */
            st = simrep__cancelled(ctx);
        }
        st = simrep__part_agree(ctx, "rsa", st);
        if (st == SIMREP_OK && parts > 1) {
            double v = part == 0 ? value : 0.0;
            st = simrep__part_sum(ctx, "rsa", &v, 1);
            value = v;
        }
    }
    side_free(ctx, &sides[0]);
    side_free(ctx, &sides[1]);
    if (st != SIMREP_OK)
        return st;
    /* Correlations of exact integers or merged sums: clamp the last ulp. */
    r->similarity = value > 1 ? 1 : value < -1 ? -1 : value;
    r->distance = 1 - r->similarity;
    return SIMREP_OK;
}

simrep_status simrep__rsa(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                          const simrep_options *opt, simrep_result *r)
{
    return simrep__rsa_weighted(ctx, x, y, opt, NULL, NULL, r);
}
