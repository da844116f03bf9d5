/*
 * cka_rbf.c: CKA with Gaussian kernels (simrep_cka_rbf), as the demo notebook
 * of Kornblith et al. 2019 computes it: K_ij = exp(-D_ij / (2 sigma^2 m)), D
 * the squared distances of the rows, m = np.median of all n^2 of them
 * (diagonal zeros included; mean of the two middle values for even n^2), L
 * likewise for y, CKA = <HKH, HLH>_F / (|HKH|_F |HLH|_F), H = I - 11ᵀ/n.
 *
 * Method: nothing n x n is formed.  Rows are copied to double, centered (D is
 * translation invariant; centering avoids cancellation in |xi|^2 + |xj|^2 -
 * 2 xi.xj when the mean is large), scaled by a power of two (exact: the
 * result is bitwise unchanged, |x|^2 cannot overflow or underflow), and equal
 * rows found by hashing so their distance is an exact 0.  TILE x TILE Gram
 * tiles come from dgemm for tile rows I <= tile columns J only (D is
 * symmetric; off-diagonal tiles count twice) and are recomputed by every pass,
 * except those kept between passes within the rbf_memory budget (cache_plan:
 * distances, then kernel values; the same bits as recomputed ones).
 * Passes, x and y sharing each: 16-bit radix histograms of the IEEE bit
 * patterns of D (ordered like the numbers for D >= 0) narrow the buckets of
 * ranks floor((n^2-1)/2) and n^2/2 until a bucket holds <= COLLECT_MAX
 * values, which one more pass collects for an exact selection (at most 4
 * histograms + 1 collection; n = 10^4, p = 256 takes 2 + 1); then one pass
 * for the row sums of K and L, and one for Σ Kc Lc, Σ Kc^2, Σ Lc^2 with
 * Kc = K - u_i - u_j per entry (the notebook's center_gram), not the expanded
 * one-pass formula whose terms cancel.  So usually 5 passes of O(n^2 (p+q));
 * memory O(n (p + q)) + O(TILE^2) + histograms + <= COLLECT_MAX candidates
 * + the kept tiles (at most rbf_memory MiB).
 * Rejected: storing or sorting the n^2/2 distances (O(n^2) memory);
 * approximate medians (P^2, sampling), which do not reproduce np.median;
 * random pivots, which are not deterministic.
 * Parallelism: single-threaded apart from BLAS.  The loops run over tile rows
 * I with per-tile-row partial sums, and histograms, row sums and the three
 * sums are additive, so simrep_ctx_set_partition deals tile rows to workers
 * (MPI ranks in the CLI): worker `part` takes the tile rows I with
 * I % parts == part (round robin, since row I of the upper triangle holds
 * n - I*TILE columns: contiguous blocks would give the first worker the
 * most), and each pass ends with an allreduce of its additive state: the
 * histograms (exact: counts < 2^53 as doubles), the candidates of the
 * collection pass (per-part counts summed first; each part then writes its
 * candidates at its offset into a zeroed array of all of them, and the sum
 * gives every part the same array in the same order, so the selection
 * agrees bit for bit), the row sums and the three HSIC sums (in another
 * order than one worker's: equal to round-off).  Rows, norms and duplicate
 * groups are computed whole by every part (O(n (p + q)), small next to the
 * O(n^2 (p + q)) passes).  A failure on one part (an allocation) is agreed
 * through the same allreduce before the next exchange, so all parts return.
 * Bootstrap (rowstats.c): a resample is the data with duplicated rows, so
 * row i counts w[i] times in the row sums, the centring (over the sum of
 * the weights) and the HSIC sums (entry (i, j) w_i w_j times, a copy pair
 * being the diagonal's k(x, x) = 1): exactly cka_rbf of the expanded
 * data; weights of 1 give the plain bits.  Its bandwidth is the observed
 * data's (simrep__cka_rbf_fixed keeps each side's median and the power of
 * two its rows were scaled by), so the median passes are skipped.
 */
#include "internal.h"
#include "linalg.h"
#include "measures.h"
#include "tiles.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Tile edge: tiles.h (256, shared with the other rows measures). */
#define TILE SIMREP__TILE
/* A bucket holding at most this many distances is collected (16 MiB of
 * doubles) and the rank selected exactly; larger ones get another 16-bit
 * histogram pass.  Each histogram pass costs a full recomputation of the
 * tiles, so collecting early saves passes; 2^21 keeps the buffer well below
 * the O(n (p + q)) already held for n >= 10^4. */
#define COLLECT_MAX ((uint64_t)1 << 21)
#define RADIX_BITS 16
#define RADIX_SIZE (1u << RADIX_BITS)

enum { T_HIST, T_COLLECT, T_DONE };

static int mine(const simrep_ctx *ctx, int64_t i0)
{
    return simrep__tile_mine(ctx, i0);
}

static simrep_status part_sum(simrep_ctx *ctx, double *buf, int64_t count)
{
    return simrep__part_sum(ctx, "cka_rbf", buf, count);
}

static simrep_status part_agree(simrep_ctx *ctx, simrep_status st)
{
    return simrep__part_agree(ctx, "cka_rbf", st);
}

/* One order statistic being searched for: the rank-th smallest distance.
 * Values whose top nfixed bits equal prefix are "in the bucket"; below of
 * them are smaller than the whole bucket, count are in it. */
typedef struct rbf_target {
    uint64_t rank, below, count;
    uint64_t prefix;
    int nfixed;
    int mode;
    int alias;       /* another target of this side with the same bucket: share its work this pass */
    uint64_t *hist;  /* RADIX_SIZE counts (T_HIST) */
    double *buf;     /* count candidates (T_COLLECT) */
    uint64_t fill;
    double value;
} rbf_target;

typedef struct rbf_side {
    const char *name;
    int64_t n, p;
    double *rows;   /* n x p, centered and scaled, row-major */
    double *sqn;    /* squared row norms */
    int64_t *grp;   /* grp[i]: the first row equal to row i */
    double *tile;   /* the current tile, TILE x TILE row-major, D then K: tile_buf or a kept one */
    double *tile_buf;
    double *rowsum; /* row sums of K */
    double *u;      /* the notebook's centering vector: rowsum/n - total/(2 n^2) */
    double denom;   /* 2 sigma^2 m */
    int shift;      /* rows holds the centred data times 2^-shift */
    rbf_target t[2];
    /* Tiles kept between passes (cache_plan): tile row I is kept if
     * row_keep[I], its tiles J >= I at row_mem[I] + (J - I) TILE TILE
     * (allocated when the first pass reaches the row), holding what
     * row_held[I] says once the row has been swept. */
    double **row_mem;
    unsigned char *row_keep;
    unsigned char *row_held;
} rbf_side;

enum { HELD_NONE, HELD_DISTANCES, HELD_KERNEL };

static uint64_t bits_of(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static double double_of(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* Equal rows get an exact 0 distance (tiles.c): dgemm may round xi.xj of
 * two identical rows differently from |xi|^2, which would turn "more than
 * half of the pairs are identical" (a zero median, an error) into a
 * bandwidth of 1e-17. */
static simrep_status side_groups(simrep_ctx *ctx, rbf_side *s)
{
    return simrep__row_groups(ctx, s->rows, s->n, s->p, s->grp, "cka_rbf row hashes");
}

/* Copy, check, center and scale one side. */
static simrep_status side_load(simrep_ctx *ctx, rbf_side *s, const simrep_matrix *m, int side)
{
    const int64_t n = m->rows, p = m->cols;
    s->name = side ? "y" : "x";
    s->n = n;
    s->p = p;
    size_t np;
    if (!simrep__mul_size((size_t)n, (size_t)p, &np))
        return simrep__fail_side(ctx, SIMREP_E_NOMEM, side, "%lld x %lld doubles overflow the address space",
                                 (long long)n, (long long)p);
    s->rows = simrep__alloc_array(ctx, np, sizeof(double), "cka_rbf rows");
    s->sqn = s->rows ? simrep__alloc_array(ctx, (size_t)n, sizeof(double), "cka_rbf row norms") : NULL;
    s->tile = s->tile_buf = s->sqn ? simrep__alloc_array(ctx, (size_t)TILE * TILE, sizeof(double), "cka_rbf tile")
                                   : NULL;
    s->rowsum = s->tile ? simrep__alloc_array(ctx, (size_t)n, sizeof(double), "cka_rbf row sums") : NULL;
    s->u = s->rowsum ? simrep__alloc_array(ctx, (size_t)n, sizeof(double), "cka_rbf centering") : NULL;
    s->grp = s->u ? simrep__alloc_array(ctx, (size_t)n, sizeof(int64_t), "cka_rbf duplicate rows") : NULL;
    if (!s->grp)
        return SIMREP_E_NOMEM;
    simrep__rows_to_double(m, 0, n, s->rows, p);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < p; j++) {
            double v = s->rows[i * p + j];
            if (!isfinite(v)) {
                simrep__fail_side(ctx, SIMREP_E_NONFINITE, side, "%s at row %lld, column %lld",
                                  isnan(v) ? "NaN" : "Inf", (long long)i, (long long)j);
                simrep__error_cell(ctx, i, j);
                return SIMREP_E_NONFINITE;
            }
        }
    /* Bring max |x| to [0.5, 1) first (exact, see below), so that the sums
     * of the means cannot overflow for data near 1e308. */
    int e1 = 0, e2 = 0;
    const double amax = simrep__scale_pow2(s->rows, np);
    if (amax > 0)
        frexp(amax, &e1);
    /* Column means by a plain sum about the first row: any error in the
     * mean is a translation, to which D is invariant in exact arithmetic,
     * and a constant column becomes exactly 0 (so an all-constant side is
     * recognised below whatever its value). */
    for (int64_t j = 0; j < p; j++) {
        const double first = s->rows[j];
        double mean = 0;
        for (int64_t i = 0; i < n; i++)
            mean += s->rows[i * p + j] - first;
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++)
            s->rows[i * p + j] = (s->rows[i * p + j] - first) - mean;
    }
    /* Scale by 2^-e so that max |x| is in [0.5, 1): D and m scale by the
     * same power of four, exactly, so K is unchanged bit for bit, while
     * |x|^2 <= p can no longer overflow (inputs near 1e200) or underflow
     * to a spurious zero median (inputs near 1e-200). */
    const double cmax = p > 0 ? simrep__scale_pow2(s->rows, np) : 0;
    if (cmax > 0)
        frexp(cmax, &e2);
    s->shift = e1 + e2;
    if (p > 0 && !(cmax > 0))
        return simrep__fail_side(ctx, SIMREP_E_DEGENERATE, side,
                                 "every one of its %lld features is constant, so cka_rbf is undefined", (long long)p);
    for (int64_t i = 0; i < n; i++) {
        double acc = 0;
        for (int64_t j = 0; j < p; j++)
            acc += s->rows[i * p + j] * s->rows[i * p + j];
        s->sqn[i] = acc;
    }
    return side_groups(ctx, s);
}

static void side_free(simrep_ctx *ctx, rbf_side *s)
{
    simrep__free(ctx, s->rows);
    simrep__free(ctx, s->sqn);
    simrep__free(ctx, s->tile_buf);
    simrep__free(ctx, s->rowsum);
    simrep__free(ctx, s->u);
    simrep__free(ctx, s->grp);
    for (int64_t r = 0; s->row_mem && r < (s->n + TILE - 1) / TILE; r++)
        simrep__free(ctx, s->row_mem[r]);
    simrep__free(ctx, s->row_mem);
    simrep__free(ctx, s->row_keep);
    simrep__free(ctx, s->row_held);
    for (int k = 0; k < 2; k++) {
        simrep__free(ctx, s->t[k].hist);
        simrep__free(ctx, s->t[k].buf);
    }
}

/*
 * The squared distances of rows [i0, i0+ni) against [j0, j0+nj) into
 * s->tile (row-major, leading dimension TILE).  On a diagonal tile
 * (i0 == j0) only the strict upper triangle is meaningful and the diagonal
 * is set to the exact 0; the lower triangle is never read, so each pair has
 * one value whatever dgemm's rounding of xi.xj versus xj.xi.
 */
/* Where tile (i0, j0) is kept, or NULL. */
static double *cached_tile(const rbf_side *s, int64_t i0, int64_t j0)
{
    if (!s->row_mem || !s->row_mem[i0 / TILE])
        return NULL;
    return s->row_mem[i0 / TILE] + (j0 - i0) / TILE * (int64_t)TILE * TILE;
}

/* The memory of a kept tile row, allocated when the first pass reaches it
 * (not up front: a call cancelled or failing early never pays for it). */
static simrep_status row_memory(simrep_ctx *ctx, rbf_side *s, int64_t i0)
{
    const int64_t r = i0 / TILE, rows = (s->n + TILE - 1) / TILE;
    if (!s->row_mem || !s->row_keep[r] || s->row_mem[r])
        return SIMREP_OK;
    const size_t bytes = (size_t)((rows - r) * (int64_t)TILE * TILE) * sizeof(double);
    if (!(s->row_mem[r] = simrep__alloc(ctx, bytes, "cka_rbf kept tiles (rbf_memory)")))
        return SIMREP_E_NOMEM;
    /* Each kept tile is written once: with 4 KiB pages the first touch of
     * hundreds of MiB (a page fault every 4 KiB) costs a large part of the
     * dgemms the keeping saves. */
    simrep__advise_huge(s->row_mem[r], bytes);
    return SIMREP_OK;
}

/* The kept tile (i0, j0) now holds what = HELD_*; the tile row is marked
 * so after its last tile (the passes sweep a row's tiles in order, and the
 * row's other tiles are not read again in the same pass). */
static void mark_tile(rbf_side *s, int64_t i0, int64_t j0, int64_t nj, int what)
{
    if (j0 + nj == s->n)
        s->row_held[i0 / TILE] = (unsigned char)what;
}

static simrep_status side_distances(simrep_ctx *ctx, rbf_side *s, int64_t i0, int64_t ni, int64_t j0, int64_t nj,
                                    int may_keep)
{
    if (may_keep && j0 == i0) {
        simrep_status st = row_memory(ctx, s, i0);
        if (st != SIMREP_OK)
            return st;
    }
    double *slot = may_keep ? cached_tile(s, i0, j0) : NULL;
    const int held = slot ? s->row_held[i0 / TILE] : HELD_KERNEL;
    /* Kept distances are read in place; a tile not yet kept is computed
     * where it is kept; anything else in the tile buffer. */
    s->tile = held == HELD_KERNEL ? s->tile_buf : slot;
    if (held == HELD_DISTANCES)
        return SIMREP_OK;
    /* Row-major X rows are the column-major p x n matrix; the column-major
     * nj x ni product Xjᵀ-times-Xi is the row-major ni x nj tile. */
    simrep_status st = simrep__gemm(ctx, 'T', 'N', nj, ni, s->p, 1.0, s->rows + j0 * s->p, s->p,
                                     s->rows + i0 * s->p, s->p, 0.0, s->tile, TILE);
    if (st != SIMREP_OK)
        return st;
    const int diag = i0 == j0;
    for (int64_t a = 0; a < ni; a++) {
        double *row = s->tile + a * TILE;
        const double na = s->sqn[i0 + a];
        const int64_t ga = s->grp[i0 + a];
        for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
            double d = s->grp[j0 + b] == ga ? 0.0 : na + s->sqn[j0 + b] - 2.0 * row[b];
            /* A true squared distance is >= 0; round-off in the expansion
             * can leave -O(eps |xi|^2) for (near-)duplicate rows.  Clamping
             * to +0 keeps the bit patterns ordered like the numbers (a
             * negative double's pattern sorts above every positive one) and
             * the kernel <= 1.  "!(d > 0)" also turns -0.0 into +0.0. */
            row[b] = d > 0 ? d : 0.0;
        }
        if (diag)
            row[a] = 0.0;
    }
    if (held == HELD_NONE)
        mark_tile(s, i0, j0, nj, HELD_DISTANCES);
    return SIMREP_OK;
}

/*
 * The tiles kept between passes, within budget bytes for this side: whole
 * tile rows of this part, from the first (the longest) on, while they fit.
 * Every pass sweeps every tile, so each kept tile saves its dgemm (2 TILE^2
 * p flops) in all passes but the first, and the exponentials of the last:
 * the median passes read the distances back, the row-sum pass turns them
 * into kernel values in place and the HSIC pass reads those.  A copy of a
 * tile (TILE^2 doubles) costs what a dgemm of p = 1 or 2 does, so keeping
 * is a win for every p.  Kept tiles are the bits the recomputation gives,
 * so the result does not depend on the budget.  With a budget too small
 * for one row every tile is recomputed.  A kept row's memory is allocated
 * when the first pass reaches it (row_memory), like any other (its failure
 * is SIMREP_E_NOMEM: a smaller budget, or 0, avoids it), so a call
 * cancelled or failing before the passes does not pay for it (under ASan,
 * allocating 300 MiB up front delayed a cancellation by 2 s).
 */
static simrep_status cache_plan(simrep_ctx *ctx, rbf_side *s, double budget)
{
    const int64_t n = s->n, rows = (n + TILE - 1) / TILE;
    const double tile_bytes = (double)TILE * TILE * sizeof(double);
    if (!(budget >= tile_bytes))
        return SIMREP_OK;
    s->row_mem = simrep__calloc_array(ctx, (size_t)rows, sizeof(double *), "cka_rbf kept tiles (rbf_memory)");
    s->row_keep = s->row_mem ? simrep__alloc_array(ctx, (size_t)rows, 1, "cka_rbf kept tiles (rbf_memory)") : NULL;
    s->row_held = s->row_keep ? simrep__alloc_array(ctx, (size_t)rows, 1, "cka_rbf kept tiles (rbf_memory)") : NULL;
    if (!s->row_held)
        return SIMREP_E_NOMEM;
    double total = 0;
    for (int64_t r = 0; r < rows; r++) {
        s->row_held[r] = HELD_NONE;
        const double len = (double)(rows - r) * tile_bytes;
        s->row_keep[r] = mine(ctx, r * TILE) && total + len <= budget;
        if (s->row_keep[r])
            total += len;
    }
    return SIMREP_OK;
}

/* ---------------------------------------------------------------- median */

/* Add one tile's distances to target t: a histogram of the next 16 bits
 * or the candidates themselves, for the values inside t's bucket. */
static void target_visit(rbf_target *t, const double *tile, int64_t ni, int64_t nj, int diag)
{
    const int shift = 64 - t->nfixed - RADIX_BITS;
    const int keep = t->nfixed; /* bits to compare with the prefix */
    for (int64_t a = 0; a < ni; a++) {
        const double *row = tile + a * TILE;
        for (int64_t b = diag ? a : 0; b < nj; b++) {
            uint64_t bits = bits_of(row[b]);
            if (keep > 0 && (bits >> (64 - keep)) != t->prefix)
                continue;
            uint64_t w = (diag && a == b) ? 1 : 2;
            if (t->mode == T_HIST) {
                t->hist[(bits >> shift) & (RADIX_SIZE - 1)] += w;
            } else {
                /* The counts of the histogram pass bound fill; a mismatch
                 * (non-reproducible tiles) is caught after the pass. */
                for (uint64_t k = 0; k < w; k++)
                    if (t->fill < t->count)
                        t->buf[t->fill++] = row[b];
                    else
                        t->fill++;
            }
        }
    }
}

static void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* The k-th smallest (0-based) of v[0..n): quickselect with a median-of-three
 * pivot and three-way partitioning (so runs of equal values, common here,
 * end the search at once); deterministic.  After 64 rounds without
 * finishing (an adversarial order) it sorts what is left instead. */
static double select_kth(double *v, uint64_t n, uint64_t k)
{
    uint64_t lo = 0, hi = n; /* search in [lo, hi) */
    for (int round = 0; round < 64 && hi - lo > 1; round++) {
        uint64_t mid = lo + (hi - lo) / 2;
        double x = v[lo], y = v[mid], z = v[hi - 1];
        double pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        uint64_t lt = lo, i = lo, gt = hi; /* [lo,lt) < pivot, [lt,i) == pivot, [gt,hi) > pivot */
        while (i < gt) {
            if (v[i] < pivot)
                swap_d(&v[lt++], &v[i++]);
            else if (v[i] > pivot)
                swap_d(&v[i], &v[--gt]);
            else
                i++;
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return pivot;
    }
    if (hi - lo > 1)
        qsort(v + lo, (size_t)(hi - lo), sizeof *v, cmp_double);
    return v[k];
}

/* Sweep all tiles once for the unfinished targets of x and y. */
#define pass_fraction simrep__pass_fraction

static simrep_status median_pass(simrep_ctx *ctx, rbf_side *sides, int nsides, const char *stage)
{
    const int64_t n = sides[0].n;
    for (int64_t i0 = 0; i0 < n; i0 += TILE) {
        const int64_t ni = n - i0 < TILE ? n - i0 : TILE;
        if (!mine(ctx, i0))
            continue;
        simrep_status st = simrep__tick(ctx, stage, pass_fraction(i0, n));
        if (st != SIMREP_OK)
            return st; /* the caller agrees on it (part_agree) */
        for (int64_t j0 = i0; j0 < n; j0 += TILE) {
            const int64_t nj = n - j0 < TILE ? n - j0 : TILE;
            for (int s = 0; s < nsides; s++) {
                rbf_side *sd = &sides[s];
                if (sd->t[0].mode == T_DONE && sd->t[1].mode == T_DONE)
                    continue;
                st = side_distances(ctx, sd, i0, ni, j0, nj, 1);
                if (st != SIMREP_OK)
                    return st;
                for (int k = 0; k < 2; k++)
                    if (sd->t[k].mode != T_DONE && !sd->t[k].alias)
                        target_visit(&sd->t[k], sd->tile, ni, nj, i0 == j0);
            }
        }
    }
    return SIMREP_OK;
}

/* Partitioned: combine the parts' work of a median pass on target t (a
 * histogram, or candidates), so that every part holds all of it.  scratch
 * holds RADIX_SIZE doubles. */
static simrep_status target_combine(simrep_ctx *ctx, rbf_target *t, double *scratch)
{
    simrep_status st;
    if (t->mode == T_HIST) {
        for (unsigned b = 0; b < RADIX_SIZE; b++)
            scratch[b] = (double)t->hist[b];
        if ((st = part_sum(ctx, scratch, RADIX_SIZE)) != SIMREP_OK)
            return st;
        for (unsigned b = 0; b < RADIX_SIZE; b++)
            t->hist[b] = (uint64_t)scratch[b];
        return SIMREP_OK;
    }
    /* Candidates: the parts' counts, then each part's at its offset. */
    const int parts = ctx->parts;
    double *fills = scratch; /* parts <= RADIX_SIZE is checked by the caller */
    memset(fills, 0, (size_t)parts * sizeof *fills);
    fills[ctx->part] = (double)t->fill;
    if ((st = part_sum(ctx, fills, parts)) != SIMREP_OK)
        return st;
    uint64_t total = 0, offset = 0;
    for (int k = 0; k < parts; k++) {
        if (k == ctx->part)
            offset = total;
        total += (uint64_t)fills[k];
    }
    if (total == t->count) {
        /* Every part's fill is <= total == count: the moves stay inside buf. */
        memmove(t->buf + offset, t->buf, (size_t)t->fill * sizeof(double));
        memset(t->buf, 0, (size_t)offset * sizeof(double));
        memset(t->buf + offset + t->fill, 0, (size_t)(t->count - offset - t->fill) * sizeof(double));
        if ((st = part_sum(ctx, t->buf, (int64_t)t->count)) != SIMREP_OK)
            return st;
    }
    t->fill = total; /* a mismatch is reported by target_advance, on every part alike */
    return SIMREP_OK;
}

/* Narrow target t after a pass (using the histogram or candidates of src,
 * which is t itself or the target it shared a bucket with). */
static simrep_status target_advance(simrep_ctx *ctx, rbf_side *s, rbf_target *t, const rbf_target *src)
{
    const uint64_t r = t->rank - t->below; /* rank inside the bucket */
    if (t->mode == T_HIST) {
        uint64_t cum = 0;
        unsigned b = 0;
        while (b < RADIX_SIZE && cum + src->hist[b] <= r)
            cum += src->hist[b++];
        if (b == RADIX_SIZE)
            return simrep__fail(ctx, SIMREP_E_NUMERIC,
                                "cka_rbf: the distances of %s changed between passes (median search lost its rank)",
                                s->name);
        t->below += cum;
        t->count = src->hist[b];
        t->prefix = (t->prefix << RADIX_BITS) | b;
        t->nfixed += RADIX_BITS;
        if (t->nfixed == 64) {
            t->value = double_of(t->prefix);
            t->mode = T_DONE;
        } else if (t->count <= COLLECT_MAX) {
            t->mode = T_COLLECT;
        }
        return SIMREP_OK;
    }
    if (src->fill != t->count)
        return simrep__fail(ctx, SIMREP_E_NUMERIC,
                            "cka_rbf: the distances of %s changed between passes (%llu candidates, expected %llu)",
                            s->name, (unsigned long long)src->fill, (unsigned long long)t->count);
    t->value = select_kth(src->buf, src->fill, r);
    t->mode = T_DONE;
    return SIMREP_OK;
}

/* The median of all n^2 squared distances of each side, as np.median. */
static simrep_status medians(simrep_ctx *ctx, rbf_side *sides, int nsides, double *med)
{
    int pass = 0;
    double *scratch = NULL;
    if (ctx->parts > 1) {
        scratch = simrep__alloc_array(ctx, RADIX_SIZE, sizeof(double), "cka_rbf histogram exchange");
        simrep_status st = part_agree(ctx, scratch ? SIMREP_OK : SIMREP_E_NOMEM);
        if (st != SIMREP_OK) {
            simrep__free(ctx, scratch);
            return st;
        }
    }
    const uint64_t n = (uint64_t)sides[0].n, nn = n * n;
    for (int s = 0; s < nsides; s++) {
        sides[s].t[0].rank = (nn - 1) / 2;
        sides[s].t[1].rank = nn / 2;
        for (int k = 0; k < 2; k++) {
            rbf_target *t = &sides[s].t[k];
            t->below = 0;
            t->count = nn;
            t->prefix = 0;
            t->nfixed = 0;
            t->mode = T_HIST;
        }
    }
    for (;;) {
        int active = 0, nomem = 0;
        for (int s = 0; s < nsides; s++) {
            rbf_target *t = sides[s].t;
            /* The second target shares the first's work when both look at
             * the same bucket in the same way (always so at the start). */
            t[1].alias = t[0].mode == t[1].mode && t[0].nfixed == t[1].nfixed && t[0].prefix == t[1].prefix;
            for (int k = 0; k < 2; k++) {
                if (t[k].mode == T_DONE || t[k].alias)
                    continue;
                active = 1;
                if (t[k].mode == T_HIST) {
                    if (!t[k].hist && !(t[k].hist = simrep__alloc_array(ctx, RADIX_SIZE, sizeof(uint64_t),
                                                                          "cka_rbf median histogram"))) {
                        nomem = 1;
                        continue;
                    }
                    memset(t[k].hist, 0, RADIX_SIZE * sizeof(uint64_t));
                } else {
                    simrep__free(ctx, t[k].buf);
                    if (!(t[k].buf = simrep__alloc_array(ctx, (size_t)t[k].count, sizeof(double),
                                                         "cka_rbf median candidates"))) {
                        nomem = 1;
                        continue;
                    }
                    t[k].fill = 0;
                }
            }
        }
        simrep_status st = part_agree(ctx, nomem ? SIMREP_E_NOMEM : SIMREP_OK);
        if (st != SIMREP_OK) {
            simrep__free(ctx, scratch);
            return st;
        }
        if (!active)
            break;
        char stage[48];
        snprintf(stage, sizeof stage, "cka_rbf median, pass %d", ++pass);
        st = part_agree(ctx, median_pass(ctx, sides, nsides, stage));
        for (int s = 0; s < nsides && ctx->parts > 1 && st == SIMREP_OK; s++)
            for (int k = 0; k < 2 && st == SIMREP_OK; k++)
                if (sides[s].t[k].mode != T_DONE && !sides[s].t[k].alias)
                    st = target_combine(ctx, &sides[s].t[k], scratch);
        if (st != SIMREP_OK) {
            simrep__free(ctx, scratch);
            return st;
        }
        for (int s = 0; s < nsides; s++) {
            rbf_target *t = sides[s].t;
            /* t[1] first: advancing t[0] changes the bucket they share. */
            if (t[1].mode != T_DONE)
                st = target_advance(ctx, &sides[s], &t[1], t[1].alias ? &t[0] : &t[1]);
            if (st == SIMREP_OK && t[0].mode != T_DONE)
                st = target_advance(ctx, &sides[s], &t[0], &t[0]);
            if (st != SIMREP_OK) {
                simrep__free(ctx, scratch);
                return st;
            }
        }
    }
    simrep__free(ctx, scratch);
    for (int s = 0; s < nsides; s++) {
        /* np.median: the mean of the two middle values (the same value
         * twice when n^2 is odd). */
        med[s] = (sides[s].t[0].value + sides[s].t[1].value) / 2.0;
        simrep__free(ctx, sides[s].t[0].buf);
        simrep__free(ctx, sides[s].t[1].buf);
        sides[s].t[0].buf = sides[s].t[1].buf = NULL;
    }
    return SIMREP_OK;
}

/* ----------------------------------------------------------------- HSIC */

/* The kernel tile K = exp(-D / denom) in place (upper triangle of a
 * diagonal tile, whose diagonal is exp(0) = 1). */
static simrep_status side_kernel(simrep_ctx *ctx, rbf_side *s, int64_t i0, int64_t ni, int64_t j0, int64_t nj)
{
    double *slot = cached_tile(s, i0, j0);
    const int held = slot ? s->row_held[i0 / TILE] : HELD_NONE;
    if (held == HELD_KERNEL) {
        s->tile = slot;
        return SIMREP_OK;
    }
    /* Kept distances become kept kernel values in place; a kept row the
     * median passes did not reach (a resample at a fixed bandwidth skips
     * them) is computed where it is kept. */
    const int keep = s->row_keep && s->row_keep[i0 / TILE];
    simrep_status st = side_distances(ctx, s, i0, ni, j0, nj, keep);
    if (st != SIMREP_OK)
        return st;
    const int diag = i0 == j0;
    for (int64_t a = 0; a < ni; a++) {
        double *row = s->tile + a * TILE;
        for (int64_t b = diag ? a : 0; b < nj; b++)
            row[b] = exp(-row[b] / s->denom);
    }
    if (keep)
        mark_tile(s, i0, j0, nj, HELD_KERNEL);
    return SIMREP_OK;
}

/* Pass 4: the row sums of K and L, each tile's contribution summed on its
 * own first (short sums, then one add per row per tile).  Row j counts
 * w[j] times (a resample's copies; weights of 1 give the same bits as no
 * weights: every product by 1 is exact). */
static simrep_status rowsum_pass(simrep_ctx *ctx, rbf_side *sides, int nsides, const double *w)
{
    const int64_t n = sides[0].n;
    double colacc[TILE];
    for (int s = 0; s < nsides; s++)
        memset(sides[s].rowsum, 0, (size_t)n * sizeof(double));
    for (int64_t i0 = 0; i0 < n; i0 += TILE) {
        const int64_t ni = n - i0 < TILE ? n - i0 : TILE;
        if (!mine(ctx, i0))
            continue;
        if (simrep__cancel_requested(ctx))
            return part_agree(ctx, simrep__cancelled(ctx));
        simrep__progress(ctx, "cka_rbf kernel row sums", pass_fraction(i0, n));
        for (int64_t j0 = i0; j0 < n; j0 += TILE) {
            const int64_t nj = n - j0 < TILE ? n - j0 : TILE;
            const int diag = i0 == j0;
            for (int s = 0; s < nsides; s++) {
                rbf_side *sd = &sides[s];
                simrep_status st = side_kernel(ctx, sd, i0, ni, j0, nj);
                if (st != SIMREP_OK)
                    return part_agree(ctx, st);
                memset(colacc, 0, sizeof colacc);
                for (int64_t a = 0; a < ni; a++) {
                    const double *row = sd->tile + a * TILE;
                    const double *wj = w + j0, wa = w[i0 + a];
                    double racc = 0;
                    for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
                        racc += row[b] * wj[b];
                        colacc[b] += row[b] * wa;
                    }
                    if (diag)
                        racc += row[a] * wa;
                    sd->rowsum[i0 + a] += racc;
                }
                for (int64_t b = 0; b < nj; b++)
                    sd->rowsum[j0 + b] += colacc[b];
            }
        }
    }
    simrep_status agreed = part_agree(ctx, SIMREP_OK);
    for (int s = 0; s < nsides && ctx->parts > 1 && agreed == SIMREP_OK; s++)
        agreed = part_sum(ctx, sides[s].rowsum, n);
    if (agreed != SIMREP_OK)
        return agreed;
    double wsum = 0; /* the expanded data's number of rows */
    for (int64_t i = 0; i < n; i++)
        wsum += w[i];
    for (int s = 0; s < nsides; s++) {
        double total = 0;
        for (int64_t i = 0; i < n; i++)
            total += sides[s].rowsum[i] * w[i];
        /* center_gram: means = mean(K, 0); means -= mean(means) / 2;
         * Kc = K - means[:, None] - means[None, :] (over the expanded rows). */
        const double half = total / (wsum * wsum) / 2.0;
        for (int64_t i = 0; i < n; i++)
            sides[s].u[i] = sides[s].rowsum[i] / wsum - half;
    }
    return SIMREP_OK;
}

/* Pass 5: Σ Kc Lc, Σ Kc², Σ Lc² over all n^2 entries, with a partial sum
 * per tile row (the unit a later parallel split would hand out); entry
 * (i, j) counts w[i] w[j] times: the pairs of copies of rows i and j of
 * the expanded data, a copy pair of row i being the diagonal's K_ii = 1. */
static simrep_status hsic_pass(simrep_ctx *ctx, rbf_side *sx, rbf_side *sy, const double *w, double *kl,
                               double *kk, double *ll)
{
    const int64_t n = sx->n;
    double skl = 0, skk = 0, sll = 0;
    for (int64_t i0 = 0; i0 < n; i0 += TILE) {
        const int64_t ni = n - i0 < TILE ? n - i0 : TILE;
        if (!mine(ctx, i0))
            continue;
        if (simrep__cancel_requested(ctx))
            return part_agree(ctx, simrep__cancelled(ctx));
        simrep__progress(ctx, "cka_rbf centred HSIC", pass_fraction(i0, n));
        double rkl = 0, rkk = 0, rll = 0;
        for (int64_t j0 = i0; j0 < n; j0 += TILE) {
            const int64_t nj = n - j0 < TILE ? n - j0 : TILE;
            const int diag = i0 == j0;
            simrep_status st = side_kernel(ctx, sx, i0, ni, j0, nj);
            if (st == SIMREP_OK)
                st = side_kernel(ctx, sy, i0, ni, j0, nj);
            if (st != SIMREP_OK)
                return part_agree(ctx, st);
            double tkl = 0, tkk = 0, tll = 0;
            for (int64_t a = 0; a < ni; a++) {
                const double *kr = sx->tile + a * TILE, *lr = sy->tile + a * TILE;
                const double *uxj = sx->u + j0, *uyj = sy->u + j0, *wj = w + j0;
                const double uxa = sx->u[i0 + a], uya = sy->u[i0 + a], wa = w[i0 + a];
                double akl = 0, akk = 0, all = 0;
                for (int64_t b = diag ? a + 1 : 0; b < nj; b++) {
                    double kc = kr[b] - uxa - uxj[b];
                    double lc = lr[b] - uya - uyj[b];
                    akl += kc * lc * wj[b];
                    akk += kc * kc * wj[b];
                    all += lc * lc * wj[b];
                }
                /* Off-diagonal pairs stand for (i, j) and (j, i). */
                akl *= 2, akk *= 2, all *= 2;
                if (diag) {
                    double kc = kr[a] - uxa - uxj[a];
                    double lc = lr[a] - uya - uyj[a];
                    akl += kc * lc * wa;
                    akk += kc * kc * wa;
                    all += lc * lc * wa;
                }
                tkl += akl * wa, tkk += akk * wa, tll += all * wa;
            }
            rkl += tkl, rkk += tkk, rll += tll;
        }
        skl += rkl, skk += rkk, sll += rll;
    }
    simrep_status st = part_agree(ctx, SIMREP_OK);
    if (st == SIMREP_OK && ctx->parts > 1) {
        double sums[3] = {skl, skk, sll};
        st = part_sum(ctx, sums, 3);
        skl = sums[0], skk = sums[1], sll = sums[2];
    }
    if (st != SIMREP_OK)
        return st;
    *kl = skl;
    *kk = skk;
    *ll = sll;
    return SIMREP_OK;
}

/* ------------------------------------------------------------------ API */

static simrep_status cka_rbf(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y, double sigma,
                              double memory_mib, const double *w, const double *fixed, double *fixed_out,
                              double *similarity);

simrep_status simrep_cka_rbf(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y, double sigma,
                             double *similarity)
{
    simrep_options o;
    simrep_options_init(&o);
    return cka_rbf(ctx, x, y, sigma, o.rbf_memory, NULL, NULL, NULL, similarity);
}

/* memory_mib: the tiles kept between passes (cache_plan), split between
 * the two sides.  w: row i counts w[i] times (a bootstrap resample's
 * copies), or NULL.  fixed: the bandwidths' medians of the observed data
 * (fixed_out of an earlier call) instead of this data's own: the median
 * passes are skipped.  fixed_out: stop after the median passes and store
 * them there (per side: the median of the scaled rows, their shift). */
static simrep_status cka_rbf(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y, double sigma,
                              double memory_mib, const double *w, const double *fixed, double *fixed_out,
                              double *similarity)
{
    if (!ctx)
        return SIMREP_E_INVALID;
    if (!similarity)
        return simrep__fail(ctx, SIMREP_E_INVALID, "cka_rbf: similarity is NULL");
    simrep_status st = simrep__check_xy(ctx, x, y, NULL);
    if (st != SIMREP_OK)
        return st;
    if ((st = simrep__option_check(ctx, SIMREP_OPT_RBF_SIGMA, sigma)) != SIMREP_OK)
        return st;
    if (x->rows != y->rows)
        return simrep__fail_rows(ctx, 1, 2, x->rows, y->rows, "rows");
    const int64_t n = x->rows;
    if (n < 2)
        return simrep__fail(ctx, SIMREP_E_DEGENERATE, "cka_rbf needs at least 2 samples, got %lld", (long long)n);
    int64_t nn;
    if (!simrep__mul_i64(n, n, &nn))
        return simrep__fail(ctx, SIMREP_E_INVALID, "cka_rbf: n = %lld is too large (n^2 overflows)", (long long)n);

    if (ctx->parts > 1 && (nn >= ((int64_t)1 << 53) || ctx->parts > (int)RADIX_SIZE))
        return simrep__fail(ctx, SIMREP_E_INVALID, "cka_rbf: a partition over %d workers needs n^2 < 2^53 and at "
                            "most %u workers (n = %lld)", ctx->parts, RADIX_SIZE, (long long)n);

    rbf_side sides[2];
    memset(sides, 0, sizeof sides);
    double med[2];
    double *ones = NULL;
    if (!w && (ones = simrep__alloc_array(ctx, (size_t)n, sizeof(double), "cka_rbf weights"))) {
        for (int64_t i = 0; i < n; i++)
            ones[i] = 1.0;
        w = ones;
    }
    st = w ? side_load(ctx, &sides[0], x, 0) : SIMREP_E_NOMEM; /* agreed below with the loads' */
    if (st == SIMREP_OK)
        st = side_load(ctx, &sides[1], y, 1);
    st = part_agree(ctx, st);
    for (int s = 0; s < 2 && st == SIMREP_OK; s++)
        st = cache_plan(ctx, &sides[s], memory_mib * 1048576.0 / 2);
    st = part_agree(ctx, st);
    if (st == SIMREP_OK && !fixed)
        st = medians(ctx, sides, 2, med);
    for (int s = 0; st == SIMREP_OK && s < 2; s++) {
        if (fixed) /* the observed data's median, in this data's scale (a power of 4: exact) */
            sides[s].denom = 2.0 * sigma * sigma * ldexp(fixed[2 * s], 2 * ((int)fixed[2 * s + 1] - sides[s].shift));
        else if (!(med[s] > 0))
            st = simrep__fail_side(ctx, SIMREP_E_DEGENERATE, s,
                                   "cka_rbf: the median pairwise distance is 0 (at least half of the pairs of rows "
                                   "are identical), so the bandwidth sigma = %g x the median distance is 0", sigma);
        else
            sides[s].denom = 2.0 * sigma * sigma * med[s];
        if (fixed_out) {
            fixed_out[2 * s] = med[s];
            fixed_out[2 * s + 1] = sides[s].shift;
        }
    }
    if (st == SIMREP_OK && !fixed_out)
        st = rowsum_pass(ctx, sides, 2, w);
    double kl = 0, kk = 0, ll = 0;
    if (st == SIMREP_OK && !fixed_out)
        st = hsic_pass(ctx, &sides[0], &sides[1], w, &kl, &kk, &ll);
    /* With m > 0 some off-diagonal K_ij < 1 = K_ii, and a symmetric K with
     * HKH = 0 would need K_ij = (K_ii + K_jj) / 2 = 1 everywhere; so the
     * norm is 0 only if every off-diagonal kernel value underflowed to the
     * same constant, which cannot happen either.  The check guards against
     * dividing by zero, not against a case known to occur. */
    if (st == SIMREP_OK && !fixed_out && (!(kk > 0) || !(ll > 0)))
        st = simrep__fail_side(ctx, SIMREP_E_DEGENERATE, !(kk > 0) ? 0 : 1,
                               "the centered kernel matrix at bandwidth sigma = %g x the median distance is 0, so "
                               "cka_rbf is undefined", sigma);
    if (st == SIMREP_OK && !fixed_out)
        *similarity = kl / (sqrt(kk) * sqrt(ll));
    side_free(ctx, &sides[0]);
    side_free(ctx, &sides[1]);
    simrep__free(ctx, ones);
    return st;
}

/* The registry's entry (measures.c): cka_rbf of the rows at opt's sigma. */
simrep_status simrep__cka_rbf_rows(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                   const simrep_options *opt, simrep_result *r)
{
    if (!(opt->rbf_memory >= 0 && opt->rbf_memory <= 1048576.0))
        return simrep__fail(ctx, SIMREP_E_INVALID, "cka_rbf: rbf_memory %g MiB is not in [0, 2^20]", opt->rbf_memory);
    simrep_status st = cka_rbf(ctx, x, y, opt->rbf_sigma, opt->rbf_memory, NULL, NULL, NULL, &r->similarity);
    r->distance = 1 - r->similarity;
    return st;
}

/* The registry's .rows_fixed (rowstats.c): the observed data's medians,
 * which a resample's bandwidth keeps (sigma x the full sample's median
 * distance: a hyperparameter, not re-estimated per resample). */
simrep_status simrep__cka_rbf_fixed(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                    const simrep_options *opt, double *fixed)
{
    double unused;
    return cka_rbf(ctx, x, y, opt->rbf_sigma, opt->rbf_memory, NULL, NULL, fixed, &unused);
}

/* The registry's .rows_weighted: cka_rbf of the expanded data (row i
 * w[i] times) at the bandwidth of fixed (simrep__cka_rbf_fixed). */
simrep_status simrep__cka_rbf_weighted(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                       const simrep_options *opt, const double *w, const double *fixed,
                                       simrep_result *r)
{
    if (!fixed)
        return simrep__fail(ctx, SIMREP_E_INVALID, "cka_rbf: a weighted evaluation needs the observed bandwidth");
    simrep_status st = cka_rbf(ctx, x, y, opt->rbf_sigma, opt->rbf_memory, w, fixed, NULL, &r->similarity);
    r->distance = 1 - r->similarity;
    return st;
}
