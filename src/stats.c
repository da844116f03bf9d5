/*
 * stats.c: bootstrap intervals, permutation nulls and chance levels of the
 * measures computed from moments, from ONE pass over the data (issue 11).
 *
 * Everything resamples units (unit_rows consecutive rows: a row, an image,
 * a sequence), never rows inside a unit.
 *
 * Bootstrap.  The exact bootstrap would refold the data B times.  Instead
 * every unit is hashed (with the seed) to one of G buckets, and each bucket
 * keeps, about a common origin c (the mean of the first block read), its
 * count, sums, scatter and the debiased-CKA row sums: a column of length
 * L = d (d + 1) / 2 + 3d + 6 (d = p + q; the scatter's upper triangle packed).  A resample draws G buckets with
 * replacement; the combined raw sums of a batch of resamples are one GEMM
 * (L x G times G x batch), and each is turned into central moments about its
 * own mean (moments_from_raw) and handed to simrep_compare_moments.  This
 * is the bootstrap of G random groups of units ("random groups", Wolter
 * 2007, ch. 2; the cluster bootstrap of Davison & Hinkley 1997, 3.8): the
 * groups are i.i.d. because the assignment is random, so its variance is
 * (G - 1) / G of the unit bootstrap's in expectation, with about G - 1
 * degrees of freedom (relative sd of the SE 1 / sqrt(2 (G - 1)): 6% at
 * G = 128, against 5% for a unit bootstrap with B = 200 itself).  When the
 * units are no more than G each is its own bucket and it is the unit
 * bootstrap exactly.  Rejected: Poisson weights per unit and per resample
 * (Chamandy et al. 2012) need B moments updated per row (B x the pass);
 * the delta method needs every measure's gradient (and for svcca and pwcca
 * a discontinuous one); keeping the rows is O(n d) memory.  The origin c
 * keeps the shifted sums accurate: the error of S = C - n dd^T grows with
 * |mean - c|^2 / var, and c is a mean of hundreds of the same rows.
 *
 * Permutations.  A re-pairing changes only the cross-scatter Sxy (and the
 * cross row sum of debiased CKA): one costs p q n flops, half a plain
 * compare, so K of them would be K / 2 plain compares.  Instead the units
 * are cut into S segments of m units; the pass reads unit j of every
 * segment side by side, and accumulates P_ab = sum_j x~(a, j)ᵀ y~(b, j) for
 * every a, b (one GEMM per round of reads: S p q n flops in all), with
 * x~ = [x - c, |x - c|^2, 1] (and y~ alike) so every cross sum the moments
 * need is in the blocks.  A null sums P_{a sigma(a)} over a random
 * permutation sigma of the segments (plus the remainder's own pairing):
 * the exact cross moments of that re-pairing of the units.  The segments
 * form a group acting on the data, so under independence the observed
 * value is exchangeable with the nulls and the p-value is exact; the
 * price is that a permutation leaves a segment with itself about once, so
 * 1/S of the pairing carries over (the rows of a fixed segment keep their
 * partner).  sigma = identity is never drawn.
 *
 * Units of different sizes (masked sequences) come as row offsets: a read
 * holds whole units, a unit goes whole to its bucket, and a resample adds
 * raw sums, so it pools the rows of the units it draws (a unit weighs by
 * its rows, as in the data; n varies between resamples as in a unit
 * bootstrap).  Permutations need units of one size (row-for-row pairing).
 *
 * Parts (MPI ranks) read shares (units U r/K .. U (r+1)/K, or with
 * permutations the same slice of every segment) into states of their own
 * origin; simrep_stats_merge moves the incoming sums to the receiver's
 * origin (shift_raw, shift_block: an exact change of variables) and adds.
 * Curves (--sequence per-step) are one state per step fed the same rows;
 * simrep_stats_compute_steps runs resample b (the same units) at every
 * step, and the curve's mean gets its interval from each resample's mean.
 *
 * Chance levels: for any data, the mean over all re-pairings of the rows of
 * tr(A P B Pᵀ), A and B centered (zero row sums), is tr A tr B / (n - 1)
 * (the diagonal terms give tr A tr B / n, the others tr A tr B / (n (n-1))).
 * With A, B the Gram matrices this is CKA's numerator; with the hat
 * matrices of x and y (traces p and q) it is the sum of the squared
 * canonical correlations (Pillai's trace), hence cca_r2 = max(p, q) / (n-1);
 * unbiased HSIC (Song et al. 2012) has mean 0 over re-pairings.
 */
#include "linalg.h"
#include "measures.h"
#include "moments.h"
#include "tiles.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults: 128 buckets (6% relative noise in the SE, see above), 8
 * segments (8! - 1 = 40319 distinct nulls, 8 x the cross product). */
#define DEFAULT_BUCKETS 128
#define MIN_BUCKETS 16
#define DEFAULT_SEGMENTS 8
#define MIN_SEGMENTS 4
#define DEFAULT_MEMORY (1024.0 * 1024.0 * 1024.0)
/* Resamples combined per GEMM: at most this many bytes of combined sums
 * per worker, at most 16 (the product is memory-bound beyond). */
#define BATCH_BYTES (64.0 * 1024 * 1024)
#define BATCH_MAX 16
/* Tasks a read's bucket updates are split into (run on the BLAS threads;
 * each has a d x d scratch). */
#define FOLD_TASKS 4
/* A read is converted and shifted in LOAD_PARTS parts side by side once it
 * has LOAD_PART_MIN values per part. */
#define LOAD_PARTS 4
#define LOAD_PART_MIN ((int64_t)1 << 16)

/* Random streams: every choice is a function of (seed, stream, index). */
enum { STREAM_BUCKET = 1, STREAM_BOOT = 2, STREAM_PERM = 3, STREAM_GROUP = 4, STREAM_GBOOT = 5 };

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t stream_state(uint64_t seed, int stream, uint64_t index)
{
    uint64_t x = seed ^ ((uint64_t)stream * 0xD1B54A32D192ED03ull);
    uint64_t a = splitmix(&x);
    x = a ^ (index * 0x8CB92BA72F3D8DD7ull);
    splitmix(&x);
    return x;
}

/* Uniform in [0, n) (Lemire's multiply-high; bias < n / 2^64). */
static uint64_t uniform(uint64_t *st, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)splitmix(st) * n) >> 64);
}

struct simrep_stats {
    simrep_stats_options o;
    int64_t p, q, d, n;
    int64_t ur, units;
    int64_t *us;         /* units + 1 row offsets (units of different sizes), or NULL: unit u is rows
                            [u ur, min((u + 1) ur, n)) */
    int64_t min_unit, max_unit; /* rows of the smallest and largest unit */
    /* bootstrap */
    int64_t G, L;
    int exact;
    double *bk;          /* L x G, column g = bucket g's raw sums (layout in bucket_offsets) */
    /* permutations */
    int64_t S, m;        /* segments, units per segment */
    int64_t pa, qa;      /* p + 2, q + 2 */
    double *P;           /* (S pa) x (S qa), column-major: block (a, b) at rows a pa, columns b qa */
    double *R;           /* pa x qa: the remainder's own pairing */
    /* origin */
    int have_c;
    double *c;           /* d */
    double unit[2];      /* unit roundoff of the coarsest dtype of x's and y's rows (moments.c "Rounding") */
    /* reading plan */
    int64_t max_rows, round_units; /* fixed at the first simrep_stats_next */
    int64_t j0, seg;     /* next round's first unit within the segments, next segment */
    int64_t je;          /* rounds end at unit je of each segment (the share's end) */
    int64_t next_unit, ue; /* then units next_unit .. ue in order (the remainder, or every unit) */
    int64_t cur0, cur_rows, cur_seg; /* the read handed out (cur_seg -1: sequential or remainder) */
    int64_t cur_unit, cur_unit_end;  /* its units (sequential reads) */
    int pending;
    int64_t rows_given;
    /* work space */
    double *z;           /* max_rows x (d + 2): converted, shifted rows and their |.|^2 per side */
    double *zb;          /* the same sorted by bucket */
    int64_t *cnt;        /* G + 1: the buckets' starts in zb */
    int64_t *fill;       /* G */
    int64_t *pos;        /* max_rows: each row's place in zb */
    double *sq;          /* FOLD_TASKS x d x d: the fold tasks' scratch */
    double *xr, *yr;     /* round buffers: rr x (S pa), rr x (S qa), column-major, ld rr */
    int64_t rr;          /* rows per segment read in a round (round_units * ur) */
};

/* Offsets inside a bucket column: the scatter C packed (its upper
 * triangle by columns: entry i <= j at up(i, j), as BLAS's packed 'U'),
 * then W = [Wx Wy s] (d x 3), the alphas' products and sums, the count. */
typedef struct bucket_offsets {
    int64_t C, Wx, Wy, s, aa, a, n;
} bucket_offsets;

static inline int64_t up(int64_t i, int64_t j)
{
    return j * (j + 1) / 2 + i;
}

/* C(i, j) of a packed scatter, either triangle. */
static inline double packed_at(const double *C, int64_t i, int64_t j)
{
    return i <= j ? C[up(i, j)] : C[up(j, i)];
}

static bucket_offsets offsets(int64_t d)
{
    bucket_offsets b;
    b.C = 0;
    b.Wx = d * (d + 1) / 2;
    b.Wy = b.Wx + d;
    b.s = b.Wy + d;
    b.aa = b.s + d; /* xx, xy, yy */
    b.a = b.aa + 3; /* x, y */
    b.n = b.a + 2;
    return b;
}

void simrep_stats_options_init(simrep_stats_options *o)
{
    memset(o, 0, sizeof *o);
    o->ci = 0.95;
    o->unit_rows = 1;
}

/* The fewest resamples whose percentiles at level ci (numpy's linear
 * quantile: position (B - 1) f) lie beyond the two most extreme resamples
 * of each tail: (B - 1) (1 - ci) / 2 >= 1. */
static double resamples_for_level(double ci) { return ceil(1.0 + 2.0 / (1.0 - ci) - 1e-9); }

unsigned simrep_stats_options_warnings(const simrep_stats_options *o)
{
    unsigned w = 0;
    if (!o)
        return 0;
    if (o->bootstrap > 0 && o->ci > 0 && o->ci < 1 && (double)o->bootstrap < resamples_for_level(o->ci))
        w |= SIMREP_STATS_WARN_FEW_RESAMPLES;
    if (o->permutations > 0 && o->permutations < 19)
        w |= SIMREP_STATS_WARN_FEW_PERMUTATIONS;
    return w;
}

int simrep_stats_warning_text(unsigned flag, const simrep_stats_options *o, char *buf, size_t cap)
{
    int len = 0;
    if (!buf || cap == 0)
        return 0;
    buf[0] = '\0';
    if (!o)
        return 0;
    if (flag == SIMREP_STATS_WARN_FEW_RESAMPLES)
        len = snprintf(buf, cap,
                       "bootstrap: %lld resamples are too few for a %g%% interval: each end falls between the two "
                       "most extreme resamples (that level needs at least %.0f; the ends settle from about 1,000)",
                       (long long)o->bootstrap, 100.0 * o->ci, resamples_for_level(o->ci));
    else if (flag == SIMREP_STATS_WARN_FEW_PERMUTATIONS)
        len = snprintf(buf, cap,
                       "permutations: with %lld the smallest p-value is 1/%lld = %.3f, so no result can reach p < "
                       "0.05 (that needs at least 19 permutations; 999 resolve p near 0.001)",
                       (long long)o->permutations, (long long)o->permutations + 1,
                       1.0 / (double)(o->permutations + 1));
    return len < 0 ? 0 : (size_t)len < cap ? len : (int)cap - 1;
}

void simrep_stats_free(simrep_ctx *ctx, simrep_stats *s)
{
    if (!s)
        return;
    simrep__free(ctx, s->bk);
    simrep__free(ctx, s->P);
    simrep__free(ctx, s->R);
    simrep__free(ctx, s->c);
    simrep__free(ctx, s->z);
    simrep__free(ctx, s->zb);
    simrep__free(ctx, s->cnt);
    simrep__free(ctx, s->fill);
    simrep__free(ctx, s->pos);
    simrep__free(ctx, s->sq);
    simrep__free(ctx, s->xr);
    simrep__free(ctx, s->yr);
    simrep__free(ctx, s->us);
    simrep__free(ctx, s);
}

static double mib(double bytes) { return bytes / 1048576.0; }

simrep_status simrep_stats_new(simrep_ctx *ctx, int64_t p, int64_t q, int64_t n, const simrep_stats_options *options,
                               simrep_stats **out)
{
    simrep_stats_options o;
    if (options)
        o = *options;
    else
        simrep_stats_options_init(&o);
    *out = NULL;
    if (p < 1 || q < 1 || n < 2)
        return simrep__fail(ctx, SIMREP_E_INVALID, "statistics need p, q >= 1 and n >= 2 (got %lld, %lld, %lld)",
                            (long long)p, (long long)q, (long long)n);
    if (o.bootstrap < 0 || o.bootstrap == 1 || o.bootstrap > 100000000)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "bootstrap must be 0 (none) or a number of resamples from 2 to 1e8 (got %lld; one "
                            "resample gives no standard error)",
                            (long long)o.bootstrap);
    if (o.permutations < 0 || o.permutations > 100000000)
        return simrep__fail(ctx, SIMREP_E_INVALID, "permutations must be from 0 to 1e8 (got %lld)",
                            (long long)o.permutations);
    if (o.interval != SIMREP_INTERVAL_PERCENTILE && o.interval != SIMREP_INTERVAL_BASIC)
        return simrep__fail(ctx, SIMREP_E_INVALID, "interval must be percentile (0) or basic (1) (got %d)",
                            (int)o.interval);
    if (!(o.ci > 0 && o.ci < 1))
        return simrep__fail(ctx, SIMREP_E_INVALID, "ci must be a level in (0, 1), e.g. 0.95 (got %g)", o.ci);
    /* Units: of unit_rows rows, or given by their row offsets.  Offsets
     * evenly spaced are units of one size (permutations then apply). */
    int64_t ur = o.unit_rows, units = 0, umin = 0, umax = 0;
    if (o.unit_starts) {
        if (o.units < 1 || o.units > n || o.unit_starts[0] != 0 || o.unit_starts[o.units] != n)
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "unit_starts must be units + 1 offsets from 0 to n = %lld (got %lld units, from %lld "
                                "to %lld)",
                                (long long)n, (long long)o.units, (long long)(o.units >= 0 ? o.unit_starts[0] : 0),
                                (long long)(o.units >= 0 && o.units <= n ? o.unit_starts[o.units] : 0));
        umin = n;
        for (int64_t u = 0; u < o.units; u++) {
            const int64_t k = o.unit_starts[u + 1] - o.unit_starts[u];
            if (k < 1)
                return simrep__fail(ctx, SIMREP_E_INVALID,
                                    "unit_starts must increase: unit %lld has %lld rows (offsets %lld, %lld)",
                                    (long long)u, (long long)k, (long long)o.unit_starts[u],
                                    (long long)o.unit_starts[u + 1]);
            umin = k < umin ? k : umin;
            umax = k > umax ? k : umax;
        }
        units = o.units;
        ur = umin == umax ? umin : 0;
        if (!ur && o.permutations > 0) {
            simrep__fail(ctx, SIMREP_E_INVALID,
                         "permutations re-pair the units of x and y row for row, which needs units of one size; these "
                         "have %lld to %lld rows (use the bootstrap, or units of one size)",
                         (long long)umin, (long long)umax);
            return simrep__error_option(ctx, "unit_starts");
        }
    } else {
        if (ur < 1 || ur > n)
            return simrep__fail(ctx, SIMREP_E_INVALID, "unit_rows must be from 1 to n = %lld (got %lld)", (long long)n,
                                (long long)ur);
        units = (n + ur - 1) / ur;
        umax = ur;
        umin = n - (units - 1) * ur;
    }
    /* One unit: every resample is the data (an interval of width 0). */
    if (o.bootstrap > 0 && units < 2) {
        simrep__fail(ctx, SIMREP_E_INVALID,
                     "the bootstrap resamples units, and there is 1 unit of %lld rows: at least 2 are needed (fewer "
                     "rows per unit)",
                     (long long)n);
        return simrep__error_option(ctx, "unit_rows");
    }
    if (o.buckets < 0 || o.segments < 0 || o.segments == 1 || o.threads < 0 || o.threads > 1024 ||
        !(o.max_memory >= 0) || !isfinite(o.max_memory))
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "buckets >= 0, segments 0 or >= 2, threads 0..1024 and max_memory >= 0 (got %lld, %lld, "
                            "%d, %g)",
                            (long long)o.buckets, (long long)o.segments, o.threads, o.max_memory);
    const double budget = o.max_memory > 0 ? o.max_memory : DEFAULT_MEMORY;
    const int64_t d = p + q;
    if (d > 1 << 20)
        return simrep__fail(ctx, SIMREP_E_INVALID, "statistics: %lld features in all is too many", (long long)d);
    /* Permutations first (their state is the smaller), then the buckets. */
    int64_t S = 0, m = 0;
    double used = 0;
    const double block = (double)(p + 2) * (double)(q + 2) * 8.0;
    if (o.permutations > 0) {
        const int64_t full = n / ur; /* units of one size here (ur > 0) */
        S = o.segments ? o.segments : DEFAULT_SEGMENTS;
        if (!o.segments)
            while (S > MIN_SEGMENTS && (double)S * (double)S * block > budget / 2)
                S--;
        if ((double)S * (double)S * block > budget) {
            simrep__fail(ctx, SIMREP_E_INVALID,
                         "permutations need %lld^2 blocks of (p+2)(q+2) doubles (%.1f MiB), more than the memory "
                         "allowed (%.1f MiB); raise it",
                         (long long)S, mib((double)S * (double)S * block), mib(budget));
            return simrep__error_option(ctx, "max_memory");
        }
        if (full < 2 * S)
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "permutations need at least %lld units (2 per segment), there are %lld", (long long)(2 * S),
                                (long long)full);
        m = full / S;
        used = (double)S * (double)S * block + block;
    }
    int64_t G = 0, L = d * (d + 1) / 2 + 3 * d + 6;
    if (o.bootstrap > 0) {
        const double col = (double)L * 8.0;
        if (o.buckets) {
            G = o.buckets < units ? o.buckets : units;
        } else {
            G = units < DEFAULT_BUCKETS ? units : DEFAULT_BUCKETS;
            while (G > MIN_BUCKETS && used + (double)G * col > budget)
                G--;
        }
        if (used + (double)G * col > budget) {
            simrep__fail(ctx, SIMREP_E_INVALID,
                         "the bootstrap needs %lld buckets of (p+q)(p+q+1)/2 doubles (%.1f MiB)%s, more than the "
                         "memory allowed (%.1f MiB); raise it",
                         (long long)G, mib((double)G * col), used > 0 ? " besides the permutations' blocks" : "",
                         mib(budget));
            return simrep__error_option(ctx, "max_memory");
        }
    }
    simrep_stats *s = simrep__alloc(ctx, sizeof *s, "statistics");
    if (!s)
        return SIMREP_E_NOMEM;
    memset(s, 0, sizeof *s);
    s->o = o;
    s->p = p;
    s->q = q;
    s->d = d;
    s->n = n;
    s->ur = ur;
    s->units = units;
    s->min_unit = umin;
    s->max_unit = umax;
    s->G = G;
    s->L = L;
    s->exact = G > 0 && G == units;
    s->S = S;
    s->m = m;
    s->pa = p + 2;
    s->qa = q + 2;
    s->cur_seg = -1;
    s->je = m;
    s->next_unit = S * m;
    s->ue = units;
    int ok = (s->c = simrep__calloc_array(ctx, (size_t)d, sizeof(double), "statistics origin")) != NULL;
    if (ok && !ur) {
        ok = (s->us = simrep__alloc_array(ctx, (size_t)units + 1, sizeof(int64_t), "statistics units")) != NULL;
        if (ok)
            memcpy(s->us, o.unit_starts, ((size_t)units + 1) * sizeof(int64_t));
    }
    s->o.unit_starts = NULL; /* not kept: the copy is s->us */
    if (ok && G > 0) {
        /* G L doubles (64 MiB at 128 + 128 features): huge pages where the
         * kernel gives them, else its 4 KiB first touches cost a sixth of
         * the pass on a virtual machine (measured, 16k page faults). */
        ok = (s->bk = simrep__alloc_array(ctx, (size_t)L * (size_t)G, sizeof(double), "bootstrap buckets")) &&
             (s->cnt = simrep__calloc_array(ctx, (size_t)G + 1, sizeof(int64_t), "bootstrap buckets")) &&
             (s->fill = simrep__calloc_array(ctx, (size_t)G, sizeof(int64_t), "bootstrap buckets"));
        if (s->bk) {
            simrep__advise_huge(s->bk, (size_t)L * (size_t)G * sizeof(double));
            memset(s->bk, 0, (size_t)L * (size_t)G * sizeof(double));
        }
    }
    if (ok && S > 0)
        ok = (s->P = simrep__calloc_array(ctx, (size_t)(S * s->pa) * (size_t)(S * s->qa), sizeof(double),
                                          "permutation blocks")) &&
             (s->R = simrep__calloc_array(ctx, (size_t)(s->pa * s->qa), sizeof(double), "permutation blocks"));
    if (!ok) {
        simrep_stats_free(ctx, s);
        return SIMREP_E_NOMEM;
    }
    *out = s;
    return SIMREP_OK;
}

void simrep_stats_get_info(const simrep_stats *s, simrep_stats_info *info)
{
    memset(info, 0, sizeof *info);
    info->units = s->units;
    info->unit_rows = s->ur;
    info->buckets = s->G;
    info->exact_bootstrap = s->exact;
    info->segments = s->S;
    info->segment_units = s->m;
    info->min_unit_rows = s->min_unit;
    info->max_unit_rows = s->max_unit;
    info->memory = ((double)s->L * (double)s->G + (double)(s->S * s->pa) * (double)(s->S * s->qa) +
                    (double)(s->pa * s->qa)) * 8.0;
}

/* ------------------------------------------------------------- reading */

/* The first row of unit u (0 <= u <= units). */
static int64_t unit_row(const simrep_stats *s, int64_t u)
{
    if (s->us)
        return s->us[u];
    return u * s->ur < s->n ? u * s->ur : s->n;
}

/* floor(total part / parts) without overflowing total * part. */
static int64_t share_at(int64_t total, int64_t part, int64_t parts)
{
    return (total / parts) * part + (total % parts) * part / parts;
}

simrep_status simrep_stats_set_share(simrep_ctx *ctx, simrep_stats *s, int64_t part, int64_t parts)
{
    if (!s || parts < 1 || part < 0 || part >= parts)
        return simrep__fail(ctx, SIMREP_E_INVALID, "share: part must be in 0 .. parts - 1 (got %lld of %lld)",
                            (long long)part, (long long)parts);
    if (s->max_rows || s->rows_given || s->pending)
        return simrep__fail(ctx, SIMREP_E_INVALID, "share: set it before the first simrep_stats_next");
    s->j0 = share_at(s->m, part, parts);
    s->je = share_at(s->m, part + 1, parts);
    const int64_t r0 = s->S * s->m, rem = s->units - r0;
    s->next_unit = r0 + share_at(rem, part, parts);
    s->ue = r0 + share_at(rem, part + 1, parts);
    return SIMREP_OK;
}

int simrep_stats_next(simrep_stats *s, int64_t max_rows, int64_t *row0, int64_t *rows)
{
    if (!s->max_rows) {
        s->max_rows = max_rows < s->max_unit ? s->max_unit : max_rows;
        if (s->S > 0) {
            int64_t r = s->max_rows / (s->S * s->ur);
            s->round_units = r < 1 ? 1 : r > s->m ? s->m : r;
            s->rr = s->round_units * s->ur;
        }
    }
    if (s->S > 0 && s->j0 < s->je) {
        const int64_t r = s->je - s->j0 < s->round_units ? s->je - s->j0 : s->round_units;
        s->cur_unit = s->seg * s->m + s->j0;
        s->cur0 = s->cur_unit * s->ur;
        s->cur_rows = r * s->ur;
        s->cur_seg = s->seg;
    } else {
        if (s->next_unit >= s->ue)
            return 0;
        /* Whole units, as many as fit in max_rows (at least one). */
        const int64_t u = s->next_unit, r0 = unit_row(s, u);
        int64_t e = u + 1;
        if (s->us)
            while (e < s->ue && s->us[e + 1] - r0 <= s->max_rows)
                e++;
        else
            e = s->ue - u < s->max_rows / s->ur ? s->ue : u + s->max_rows / s->ur;
        s->cur_unit = u;
        s->cur_unit_end = e;
        s->cur0 = r0;
        s->cur_rows = unit_row(s, e) - r0;
        s->cur_seg = -1;
    }
    s->pending = 1;
    *row0 = s->cur0;
    *rows = s->cur_rows;
    return 1;
}

/* Rows [r0, r1) of a read, converted (phase 0: into s->z, checked for NaN
 * and Inf) or shifted (phase 1: row i becomes [x - cx, y - cy, |x - cx|^2,
 * |y - cy|^2], and with a bootstrap is copied to its place s->pos[i] in
 * s->zb, the read sorted by bucket).  The parts of a read run side by
 * side (tasks.c); each row's arithmetic is the same whatever the split. */
typedef struct load_task {
    simrep_stats *s;
    const simrep_matrix *x, *y;
    int64_t r0, r1;
    int phase;
} load_task;

static simrep_status load_task_run(simrep_ctx *ctx, void *arg)
{
    const load_task *t = arg;
    simrep_stats *s = t->s;
    const int64_t p = s->p, d = s->d, w = d + 2;
    if (t->phase == 0) {
        simrep__rows_to_double(t->x, t->r0, t->r1 - t->r0, s->z + t->r0 * w, w);
        simrep__rows_to_double(t->y, t->r0, t->r1 - t->r0, s->z + t->r0 * w + p, w);
        /* NaN and Inf survive a multiplication by 0: one sum per row (in
         * four independent chains: any order gives 0 exactly or NaN), and
         * only a row whose sum is not 0 is searched for the culprit. */
        for (int64_t i = t->r0; i < t->r1; i++) {
            const double *r = s->z + i * w;
            double acc[4] = {0, 0, 0, 0};
            int64_t j = 0;
            for (; j + 4 <= d; j += 4)
                for (int l = 0; l < 4; l++)
                    acc[l] += r[j + l] * 0.0;
            for (; j < d; j++)
                acc[0] += r[j] * 0.0;
            if (acc[0] + acc[1] + acc[2] + acc[3] == 0.0)
                continue;
            for (int64_t c = 0; c < d; c++)
                if (!isfinite(r[c]))
                    return simrep__fail_side(ctx, SIMREP_E_NONFINITE, c < p ? 0 : 1, "%s at row %lld, column %lld",
                                             isnan(r[c]) ? "NaN" : "Inf", (long long)(s->cur0 + i),
                                             (long long)(c < p ? c : c - p));
        }
        return SIMREP_OK;
    }
    for (int64_t i = t->r0; i < t->r1; i++) {
        double *restrict r = s->z + i * w, ax = 0, ay = 0;
        const double *restrict c = s->c;
        for (int64_t j = 0; j < p; j++) {
            r[j] -= c[j];
            ax += r[j] * r[j];
        }
        for (int64_t j = p; j < d; j++) {
            r[j] -= c[j];
            ay += r[j] * r[j];
        }
        r[d] = ax;
        r[d + 1] = ay;
        if (s->G > 0)
            memcpy(s->zb + s->pos[i] * w, r, (size_t)w * sizeof *r);
    }
    return SIMREP_OK;
}

/* Convert, check and shift the rows into s->z (and s->zb), in LOAD_PARTS
 * parts of whole rows side by side; the origin, from the first read, in
 * one thread in row order.  The first part with a NaN or Inf names it, so
 * the message is the earliest row's as in one thread. */
static simrep_status load_rows(simrep_ctx *ctx, simrep_stats *s, const simrep_matrix *x, const simrep_matrix *y)
{
    const int64_t rows = x->rows, d = s->d, w = d + 2;
    const int np = rows * d >= LOAD_PART_MIN * LOAD_PARTS ? LOAD_PARTS : 1;
    load_task tasks[LOAD_PARTS];
    void *args[LOAD_PARTS];
    for (int k = 0; k < np; k++) {
        tasks[k] = (load_task){s, x, y, rows * k / np, rows * (k + 1) / np, 0};
        args[k] = &tasks[k];
    }
    simrep_status st = simrep__run_tasks(ctx, np, load_task_run, args);
    if (st != SIMREP_OK)
        return st;
    if (!s->have_c) {
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < d; j++)
                s->c[j] += s->z[i * w + j];
        for (int64_t j = 0; j < d; j++)
            s->c[j] /= (double)rows;
        s->have_c = 1;
    }
    for (int k = 0; k < np; k++)
        tasks[k].phase = 1;
    return simrep__run_tasks(ctx, np, load_task_run, args);
}

/* The bucket of a unit. */
static int64_t bucket_of(const simrep_stats *s, int64_t unit)
{
    if (s->exact)
        return unit;
    uint64_t st = stream_state(s->o.seed, STREAM_BUCKET, (uint64_t)unit);
    return (int64_t)uniform(&st, (uint64_t)s->G);
}

/* Buckets [g0, g1) of a read sorted by bucket (s->zb, s->cnt) folded into
 * their columns; a3: 3 doubles per row of the read, scratch; sq: d x d,
 * the task's own scratch. */
typedef struct fold_task {
    simrep_stats *s;
    double *a3, *sq;
    int64_t g0, g1;
} fold_task;

static simrep_status fold_task_run(simrep_ctx *ctx, void *arg)
{
    const fold_task *t = arg;
    simrep_stats *s = t->s;
    const int64_t d = s->d, w = d + 2;
    const bucket_offsets bo = offsets(d);
    const int64_t *cnt = s->cnt;
    simrep_status st = SIMREP_OK;
    for (int64_t g = t->g0; g < t->g1 && st == SIMREP_OK; g++) {
        const int64_t k = cnt[g + 1] - cnt[g];
        if (k == 0)
            continue;
        double *col = s->bk + g * s->L, *a3 = t->a3 + 3 * cnt[g];
        const double *v = s->zb + cnt[g] * w;
        /* C += Vᵀ V: the row-major k x d rows (ld w) are the column-major
         * d x k matrix, read in place by DSYRK into the scratch, whose upper
         * triangle is added to the packed C (half the state of a full C). */
        st = simrep__syrk(ctx, 'N', d, k, 1.0, v, w, 0.0, t->sq, d);
        for (int64_t j = 0; j < d && st == SIMREP_OK; j++) {
            double *restrict cj = col + bo.C + up(0, j);
            const double *restrict qj = t->sq + j * d;
            for (int64_t i = 0; i <= j; i++)
                cj[i] += qj[i];
        }
        /* [Wx Wy s] += Vᵀ [ax ay 1] (d x 3, contiguous in the column). */
        for (int64_t i = 0; i < k; i++) {
            a3[i] = v[i * w + d];
            a3[k + i] = v[i * w + d + 1];
            a3[2 * k + i] = 1.0;
        }
        if (st == SIMREP_OK)
            st = simrep__gemm(ctx, 'N', 'N', d, 3, k, 1.0, v, w, a3, k, 1.0, col + bo.Wx, d);
        for (int64_t i = 0; i < k && st == SIMREP_OK; i++) {
            const double *r = v + i * w, ax = r[d], ay = r[d + 1];
            col[bo.aa] += ax * ax;
            col[bo.aa + 1] += ax * ay;
            col[bo.aa + 2] += ay * ay;
            col[bo.a] += ax;
            col[bo.a + 1] += ay;
            col[bo.n] += 1;
        }
    }
    return st;
}

/* Where each row of the read goes in s->zb, sorted by bucket (a counting
 * sort; units are whole in a read): s->pos, and s->cnt the buckets'
 * starts.  Made before the rows are loaded, which copy themselves there. */
static void bucket_positions(simrep_stats *s, int64_t rows)
{
    const int64_t G = s->G;
    int64_t *cnt = s->cnt, *pos = s->pos;
    memset(cnt, 0, (size_t)(G + 1) * sizeof *cnt);
    int64_t u = s->cur_unit, next = unit_row(s, u + 1);
    for (int64_t i = 0; i < rows; i++) {
        while (s->cur0 + i >= next)
            next = unit_row(s, ++u + 1);
        pos[i] = bucket_of(s, u);
        cnt[pos[i] + 1]++;
    }
    for (int64_t g = 0; g < G; g++)
        cnt[g + 1] += cnt[g];
    int64_t *fill = s->fill;
    memcpy(fill, cnt, (size_t)G * sizeof *fill);
    for (int64_t i = 0; i < rows; i++)
        pos[i] = fill[pos[i]]++;
}

static simrep_status fold_buckets(simrep_ctx *ctx, simrep_stats *s, int64_t rows)
{
    const int64_t G = s->G;
    double *a3 = simrep__alloc_array(ctx, 3 * (size_t)(rows > 0 ? rows : 1), sizeof(double), "bootstrap buckets");
    if (!a3)
        return SIMREP_E_NOMEM;
    /* The buckets' updates are independent: FOLD_TASKS tasks of adjacent
     * buckets, run side by side on one BLAS thread each (tasks.c).  Each
     * bucket's sums are made by one task alone, in the same order whatever
     * the threads, so the bits do not depend on the thread count; a small
     * DSYRK per bucket (about rows / G rows) threads poorly in OpenBLAS
     * (its threads spun in sched_yield for half the pass). */
    fold_task tasks[FOLD_TASKS];
    void *args[FOLD_TASKS];
    const int nt = G < FOLD_TASKS ? (int)G : FOLD_TASKS;
    for (int t = 0; t < nt; t++) {
        tasks[t] = (fold_task){s, a3, s->sq + (size_t)t * (size_t)(s->d * s->d), G * t / nt, G * (t + 1) / nt};
        args[t] = &tasks[t];
    }
    simrep_status st = simrep__run_tasks(ctx, nt, fold_task_run, args);
    simrep__free(ctx, a3);
    return st;
}

/* Augmented rows [v, alpha, 1] of x (or y) into column-major dst (ld). */
static void augment(const simrep_stats *s, int side, int64_t rows, double *dst, int64_t ld)
{
    const int64_t w = s->d + 2, o = side ? s->p : 0, f = side ? s->q : s->p;
    for (int64_t j = 0; j < f; j++)
        for (int64_t i = 0; i < rows; i++)
            dst[i + j * ld] = s->z[i * w + o + j];
    for (int64_t i = 0; i < rows; i++) {
        dst[i + f * ld] = s->z[i * w + s->d + side];
        dst[i + (f + 1) * ld] = 1.0;
    }
}

static simrep_status fold_permutation(simrep_ctx *ctx, simrep_stats *s, int64_t rows)
{
    const int64_t pa = s->pa, qa = s->qa, S = s->S;
    if (s->cur_seg < 0) { /* remainder: its own pairing */
        double *ax = simrep__alloc_array(ctx, (size_t)(rows * (pa + qa)), sizeof(double), "permutation rows");
        if (!ax)
            return SIMREP_E_NOMEM;
        double *ay = ax + rows * pa;
        augment(s, 0, rows, ax, rows);
        augment(s, 1, rows, ay, rows);
        simrep_status st = simrep__gemm(ctx, 'T', 'N', pa, qa, rows, 1.0, ax, rows, ay, rows, 1.0, s->R, pa);
        simrep__free(ctx, ax);
        return st;
    }
    const int64_t ld = s->rr, a = s->cur_seg;
    /* Segment a's rows go to columns a pa .. (a+1) pa of the round buffers;
     * a short last round leaves rows [rows, rr) unused: zero them so the
     * GEMM over rows can ignore them (it runs over `rows`). */
    augment(s, 0, rows, s->xr + a * pa * ld, ld);
    augment(s, 1, rows, s->yr + a * qa * ld, ld);
    if (a + 1 < S)
        return SIMREP_OK;
    return simrep__gemm(ctx, 'T', 'N', S * pa, S * qa, rows, 1.0, s->xr, ld, s->yr, ld, 1.0, s->P, S * pa);
}

simrep_status simrep_stats_update(simrep_ctx *ctx, simrep_stats *s, const simrep_matrix *x, const simrep_matrix *y)
{
    if (!s || !x || !y)
        return simrep__fail(ctx, SIMREP_E_INVALID, "statistics, x or y is NULL");
    simrep_status st = simrep__check_xy(ctx, x, y, NULL);
    if (st != SIMREP_OK)
        return st;
    if (!s->pending || x->rows != s->cur_rows || y->rows != s->cur_rows || x->cols != s->p || y->cols != s->q)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "statistics expected rows %lld..%lld of x (%lld features) and y (%lld): got %lld x %lld "
                            "and %lld x %lld",
                            (long long)s->cur0, (long long)(s->cur0 + s->cur_rows), (long long)s->p, (long long)s->q,
                            (long long)x->rows, (long long)x->cols, (long long)y->rows, (long long)y->cols);
    for (int j = 0; j < 2; j++) { /* the rounding of the rows' dtypes, for the moments made from the buckets */
        const double u = simrep__dtype_unit((j == 0 ? x : y)->dtype);
        s->unit[j] = u > s->unit[j] ? u : s->unit[j];
    }
    const int64_t rows = s->cur_rows, w = s->d + 2;
    if (!s->z) {
        /* A read is at most max_rows rows, or one unit (max_rows was
         * raised to the largest unit at the first simrep_stats_next). */
        const size_t cap = (size_t)(s->max_rows > s->cur_rows ? s->max_rows : s->cur_rows);
        s->z = simrep__alloc_array(ctx, cap * (size_t)w, sizeof(double), "statistics rows");
        if (s->z && s->G > 0) {
            s->zb = simrep__alloc_array(ctx, cap * (size_t)w, sizeof(double), "statistics rows");
            s->pos = s->zb ? simrep__alloc_array(ctx, cap, sizeof(int64_t), "statistics rows") : NULL;
            s->sq = s->pos ? simrep__alloc_array(ctx, (size_t)FOLD_TASKS * (size_t)(s->d * s->d), sizeof(double),
                                                 "bootstrap buckets")
                           : NULL;
        }
        if (s->z && s->S > 0) {
            s->xr = simrep__calloc_array(ctx, (size_t)(s->rr * s->S * s->pa), sizeof(double), "permutation rows");
            s->yr = s->xr ? simrep__calloc_array(ctx, (size_t)(s->rr * s->S * s->qa), sizeof(double),
                                                 "permutation rows")
                          : NULL;
        }
        if (!s->z || (s->G > 0 && !s->sq) || (s->S > 0 && !s->yr))
            return SIMREP_E_NOMEM;
        simrep__advise_huge(s->z, cap * (size_t)w * sizeof(double));
        if (s->zb)
            simrep__advise_huge(s->zb, cap * (size_t)w * sizeof(double));
    }
    if (s->G > 0)
        bucket_positions(s, rows);
    st = load_rows(ctx, s, x, y);
    if (st == SIMREP_OK && s->G > 0)
        st = fold_buckets(ctx, s, rows);
    if (st == SIMREP_OK && s->S > 0)
        st = fold_permutation(ctx, s, rows);
    if (st != SIMREP_OK)
        return st;
    s->pending = 0;
    s->rows_given += rows;
    if (s->cur_seg >= 0) {
        if (++s->seg == s->S) {
            s->seg = 0;
            s->j0 += s->round_units;
        }
    } else {
        s->next_unit = s->cur_unit_end;
    }
    return SIMREP_OK;
}

/* ---------------------------------------------------- moments states */

/*
 * A moments state (simrep_moments_save's layout: 2, p, q, n, T (2 x 2),
 * mean (d), U (2 x d), scatter (d x d)) from raw sums about the origin c:
 * n, s = sum v, C = sum v vᵀ (upper triangle valid), W[k] = sum alpha(k) v,
 * AA[k][l] = sum alpha(k) alpha(l), A[k] = sum alpha(k), with v = z - c and
 * alpha(k) = |v(k)|^2.  With delta = s / n the mean is c + delta, the
 * scatter C - n delta deltaᵀ, and a(k) = |z(k) - mu(k)|^2 =
 * alpha(k) - 2 v(k).delta(k) + D(k), D(k) = |delta(k)|^2, so
 *   T[k][l] = AA[k][l] - 2 W[k](l).delta(l) - 2 W[l](k).delta(k)
 *             + 4 delta(k)ᵀ C(k,l) delta(l) + D(l) A[k] + D(k) A[l]
 *             - 2 D(l) s(k).delta(k) - 2 D(k) s(l).delta(l) + n D(k) D(l)
 *   U[k]    = sum a(k) (z - mu) = W[k] - 2 C(:,k) delta(k) + D(k) s
 *             - delta (A[k] - 2 s(k).delta(k) + n D(k)).
 * work: 2d doubles.
 */
static void moments_from_raw(int64_t p, int64_t q, const double *c, const double *raw, const double *units,
                             double *state, double *work)
{
    const int64_t d = p + q;
    const bucket_offsets bo = offsets(d);
    const double *C = raw + bo.C, *W[2] = {raw + bo.Wx, raw + bo.Wy}, *sv = raw + bo.s;
    const double n = raw[bo.n];
    const double AA[2][2] = {{raw[bo.aa], raw[bo.aa + 1]}, {raw[bo.aa + 1], raw[bo.aa + 2]}};
    const double A[2] = {raw[bo.a], raw[bo.a + 1]};
    const int64_t off[3] = {0, p, d};
    double *delta = work, *cd = work + d; /* cd = C(:, k's columns) delta(k), one side at a time */
    double D[2] = {0, 0}, sd[2] = {0, 0};
    for (int64_t j = 0; j < d; j++)
        delta[j] = n > 0 ? sv[j] / n : 0;
    for (int k = 0; k < 2; k++)
        for (int64_t j = off[k]; j < off[k + 1]; j++) {
            D[k] += delta[j] * delta[j];
            sd[k] += sv[j] * delta[j];
        }
    double *st = state;
    st[0] = 2;
    st[1] = (double)p;
    st[2] = (double)q;
    st[3] = n;
    double *T = st + 4, *mean = T + 4, *U = mean + d, *S = U + 2 * d;
    for (int64_t j = 0; j < d; j++)
        mean[j] = c[j] + delta[j];
    /* Scatter, full: S = C - n delta deltaᵀ.  A feature constant in these
     * rows (a resample that drew no bucket holding its one non-zero row,
     * when the origin c came from a block that held it) has C_jj = n
     * delta_j^2 but for round-off of either sign, about u C_jj: its
     * variance and covariances are 0, exactly, as a sum of squares about
     * the mean makes them (and the moments' checks require: no negative
     * variance).  cd flags those features until it is used below. */
    for (int64_t j = 0; j < d; j++) {
        const double cjj = C[up(j, j)];
        cd[j] = cjj - n * delta[j] * delta[j] <= 64 * DBL_EPSILON * cjj;
    }
    for (int64_t j = 0; j < d; j++)
        for (int64_t i = 0; i <= j; i++) {
            const double v = cd[i] != 0 || cd[j] != 0 ? 0 : C[up(i, j)] - n * delta[i] * delta[j];
            S[i + j * d] = v;
            S[j + i * d] = v;
        }
    /* U[k] needs C(:, k-cols) delta(k): two products with the full C (now
     * S + n delta deltaᵀ; use C's symmetric entries directly). */
    for (int k = 0; k < 2; k++) {
        for (int64_t r = 0; r < d; r++) {
            double acc = 0;
            for (int64_t j = off[k]; j < off[k + 1]; j++)
                acc += packed_at(C, r, j) * delta[j];
            cd[r] = acc;
        }
        /* delta(l)ᵀ C(l, k) delta(k) for both l, before cd is reused */
        double dcd[2] = {0, 0};
        for (int l = 0; l < 2; l++)
            for (int64_t r = off[l]; r < off[l + 1]; r++)
                dcd[l] += delta[r] * cd[r];
        const double sumA = A[k] - 2 * sd[k] + n * D[k];
        for (int64_t r = 0; r < d; r++)
            U[k * d + r] = W[k][r] - 2 * cd[r] + D[k] * sv[r] - delta[r] * sumA;
        for (int l = 0; l < 2; l++) {
            /* W[k](l).delta(l) and W[l](k).delta(k) */
            double wk_l = 0, wl_k = 0;
            for (int64_t r = off[l]; r < off[l + 1]; r++)
                wk_l += W[k][r] * delta[r];
            for (int64_t r = off[k]; r < off[k + 1]; r++)
                wl_k += W[l][r] * delta[r];
            T[k * 2 + l] = AA[k][l] - 2 * wk_l - 2 * wl_k + 4 * dcd[l] + D[l] * A[k] + D[k] * A[l] -
                           2 * D[l] * sd[k] - 2 * D[k] * sd[l] + n * D[k] * D[l];
        }
    }
    /* Symmetrize T against round-off (both orders computed). */
    const double t01 = 0.5 * (T[1] + T[2]);
    T[1] = T[2] = t01;
    /* The inputs' units (moments.c, "Scale"): the raw sums are in the
     * data's own, 2^0; then the rounding of their dtypes ("Rounding"). */
    S[d * d] = 0;
    S[d * d + 1] = 0;
    S[d * d + 2] = units[0];
    S[d * d + 3] = units[1];
}

simrep_status simrep_stats_moments(simrep_ctx *ctx, const simrep_stats *s, simrep_moments *m)
{
    if (!s || !m || s->G == 0 || simrep_moments_inputs(m) != 2 || simrep_moments_p(m) != s->p ||
        simrep_moments_q(m) != s->q)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "simrep_stats_moments needs a bootstrap's buckets and moments of the same p and q");
    double *raw = simrep__calloc_array(ctx, (size_t)s->L, sizeof(double), "statistics moments");
    double *state = raw ? simrep__alloc_array(ctx, (size_t)simrep_moments_state_len(m), sizeof(double),
                                              "statistics moments")
                        : NULL;
    double *work = state ? simrep__alloc_array(ctx, (size_t)(2 * s->d), sizeof(double), "statistics moments") : NULL;
    simrep_status st = work ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        for (int64_t g = 0; g < s->G; g++) {
            const double *col = s->bk + g * s->L;
            for (int64_t i = 0; i < s->L; i++)
                raw[i] += col[i];
        }
        double units[2]; /* the rows' dtypes, and any the caller noted on m */
        for (int j = 0; j < 2; j++) {
            const double noted = simrep_moments_unit_roundoff(m, j);
            units[j] = noted > s->unit[j] ? noted : s->unit[j];
        }
        moments_from_raw(s->p, s->q, s->c, raw, units, state, work);
        st = simrep_moments_load(ctx, m, state);
    }
    simrep__free(ctx, raw);
    simrep__free(ctx, state);
    simrep__free(ctx, work);
    return st;
}

/* ------------------------------------------------ distributed states */

/*
 * Moving raw sums to another origin.  A part keeps its sums about its own
 * origin c (the mean of its first block); the merge re-expresses the
 * incoming sums about the receiver's c' with v' = v + e, e = c - c', so
 * alpha'(k) = |v'(k)|^2 = alpha(k) + 2 e(k).v(k) + E(k), E(k) = |e(k)|^2,
 * and every sum follows from the old ones (sums over the rows):
 *   s' = s + n e,  C' = C + s eᵀ + e sᵀ + n e eᵀ,  A'(k) = A(k) + 2 e(k).s(k) + n E(k),
 *   W'(k) = W(k) + A(k) e + 2 C(:, k) e(k) + 2 (e(k).s(k)) e + E(k) s + n E(k) e,
 *   AA'(k,l) = AA(k,l) + 2 e(l).W(k)(l) + 2 e(k).W(l)(k) + 4 e(k)ᵀ C(k,l) e(l)
 *              + E(l) A(k) + E(k) A(l) + 2 E(l) e(k).s(k) + 2 E(k) e(l).s(l) + n E(k) E(l).
 * Exact algebra: the merged state equals one made with one origin to
 * round-off (the size of which grows with |e|^2 / var, small as both
 * origins are means of the same data).  work: 2d doubles.
 */
static void shift_raw(int64_t p, int64_t q, const double *e, double *raw, double *work)
{
    const int64_t d = p + q, off[3] = {0, p, d};
    const bucket_offsets bo = offsets(d);
    double *C = raw + bo.C, *W[2] = {raw + bo.Wx, raw + bo.Wy}, *sv = raw + bo.s;
    const double n = raw[bo.n];
    if (n == 0)
        return;
    double E[2] = {0, 0}, es[2] = {0, 0}, eW[2][2] = {{0, 0}, {0, 0}}, eCe[2][2] = {{0, 0}, {0, 0}};
    const double A[2] = {raw[bo.a], raw[bo.a + 1]};
    double *Ce[2] = {work, work + d}; /* C(:, side k) e(k) */
    for (int k = 0; k < 2; k++)
        for (int64_t j = off[k]; j < off[k + 1]; j++) {
            E[k] += e[j] * e[j];
            es[k] += e[j] * sv[j];
        }
    for (int k = 0; k < 2; k++)
        for (int64_t r = 0; r < d; r++) {
            double acc = 0;
            for (int64_t j = off[k]; j < off[k + 1]; j++)
                acc += packed_at(C, r, j) * e[j];
            Ce[k][r] = acc;
        }
    for (int k = 0; k < 2; k++)
        for (int l = 0; l < 2; l++)
            for (int64_t r = off[l]; r < off[l + 1]; r++) {
                eW[k][l] += e[r] * W[k][r];
                eCe[l][k] += e[r] * Ce[k][r];
            }
    for (int k = 0; k < 2; k++)
        for (int l = k; l < 2; l++) {
            const int i = k == 0 ? (l == 0 ? 0 : 1) : 2;
            raw[bo.aa + i] += 2 * eW[k][l] + 2 * eW[l][k] + 4 * eCe[k][l] + E[l] * A[k] + E[k] * A[l] +
                              2 * E[l] * es[k] + 2 * E[k] * es[l] + n * E[k] * E[l];
        }
    for (int k = 0; k < 2; k++)
        for (int64_t r = 0; r < d; r++)
            W[k][r] += A[k] * e[r] + 2 * Ce[k][r] + 2 * es[k] * e[r] + E[k] * sv[r] + n * E[k] * e[r];
    for (int k = 0; k < 2; k++)
        raw[bo.a + k] += 2 * es[k] + n * E[k];
    for (int64_t j = 0; j < d; j++)
        for (int64_t i = 0; i <= j; i++)
            C[up(i, j)] += sv[i] * e[j] + e[i] * sv[j] + n * e[i] * e[j];
    for (int64_t j = 0; j < d; j++)
        sv[j] += n * e[j];
}

/* The same for a block of augmented cross sums P = sum x~ y~ᵀ (pa x qa, ld),
 * x~ = [v, alpha, 1]: x~' = M x~ with v' = v + e 1 and alpha' = alpha +
 * 2 eᵀv + E 1, so P' = Mx P Myᵀ, applied to the rows then to the columns. */
static void shift_block(int64_t p, int64_t q, const double *ex, const double *ey, double *P, int64_t ld)
{
    double Ex = 0, Ey = 0;
    for (int64_t i = 0; i < p; i++)
        Ex += ex[i] * ex[i];
    for (int64_t j = 0; j < q; j++)
        Ey += ey[j] * ey[j];
    for (int64_t j = 0; j < q + 2; j++) { /* rows: each column of P */
        double *col = P + j * ld, acc = 0;
        for (int64_t i = 0; i < p; i++)
            acc += ex[i] * col[i];
        col[p] += 2 * acc + Ex * col[p + 1];
        for (int64_t i = 0; i < p; i++)
            col[i] += ex[i] * col[p + 1];
    }
    for (int64_t i = 0; i < p + 2; i++) { /* columns: each row */
        double acc = 0;
        for (int64_t j = 0; j < q; j++)
            acc += ey[j] * P[i + j * ld];
        P[i + q * ld] += 2 * acc + Ey * P[i + (q + 1) * ld];
        for (int64_t j = 0; j < q; j++)
            P[i + j * ld] += ey[j] * P[i + (q + 1) * ld];
    }
}

enum { STATE_TAG = 0x51A75, STATE_HEAD = 16 };

int64_t simrep_stats_state_len(const simrep_stats *s)
{
    return STATE_HEAD + s->d + s->L * s->G + (s->S * s->pa) * (s->S * s->qa) + (s->S > 0 ? s->pa * s->qa : 0);
}

void simrep_stats_save(const simrep_stats *s, double *state)
{
    double *h = state;
    memset(h, 0, STATE_HEAD * sizeof *h);
    h[0] = STATE_TAG;
    h[1] = (double)s->p;
    h[2] = (double)s->q;
    h[3] = (double)s->n;
    h[4] = (double)s->units;
    h[5] = (double)s->ur;
    h[6] = (double)s->G;
    h[7] = (double)s->S;
    h[8] = (double)s->m;
    h[9] = (double)(s->o.seed & 0xFFFFFFFFu);
    h[10] = (double)(s->o.seed >> 32);
    h[11] = (double)s->have_c;
    h[12] = (double)s->rows_given;
    h[13] = (double)s->max_unit;
    h[14] = s->unit[0]; /* the rows' rounding (moments.c "Rounding") */
    h[15] = s->unit[1];
    double *v = state + STATE_HEAD;
    memcpy(v, s->c, (size_t)s->d * sizeof *v);
    v += s->d;
    if (s->G > 0)
        memcpy(v, s->bk, (size_t)(s->L * s->G) * sizeof *v);
    v += s->L * s->G;
    if (s->S > 0) {
        memcpy(v, s->P, (size_t)((s->S * s->pa) * (s->S * s->qa)) * sizeof *v);
        v += (s->S * s->pa) * (s->S * s->qa);
        memcpy(v, s->R, (size_t)(s->pa * s->qa) * sizeof *v);
    }
}

simrep_status simrep_stats_merge(simrep_ctx *ctx, simrep_stats *s, const double *state)
{
    if (!s || !state)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_stats_merge: NULL argument");
    const double *h = state;
    static const char *const what[] = {"", "p", "q", "n", "units", "unit rows", "buckets", "segments",
                                       "units per segment", "seed", "seed"};
    const double mine[] = {STATE_TAG, (double)s->p, (double)s->q, (double)s->n, (double)s->units, (double)s->ur,
                           (double)s->G, (double)s->S, (double)s->m, (double)(s->o.seed & 0xFFFFFFFFu),
                           (double)(s->o.seed >> 32)};
    if (h[0] != STATE_TAG)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_stats_merge: not a saved statistics state");
    for (int i = 1; i < 11; i++)
        if (h[i] != mine[i])
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "simrep_stats_merge: the states differ in %s (%.17g here, %.17g in the other)", what[i],
                                mine[i], h[i]);
    if (h[13] != (double)s->max_unit)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_stats_merge: the states have different units");
    if (!(h[12] >= 0) || (double)s->rows_given + h[12] > (double)s->n)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "simrep_stats_merge: %lld + %.0f rows would be more than the %lld of the data",
                            (long long)s->rows_given, h[12], (long long)s->n);
    if (s->pending)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_stats_merge: a read is pending (give it first)");
    if (h[11] == 0 || h[12] == 0)
        return SIMREP_OK; /* a part without rows: nothing to add */
    for (int j = 0; j < 2; j++) /* the coarser rounding of the two parts' rows */
        s->unit[j] = h[14 + j] > s->unit[j] && h[14 + j] <= 0x1p-8 ? h[14 + j] : s->unit[j];
    const double *c = state + STATE_HEAD, *bk = c + s->d;
    const double *P = bk + s->L * s->G, *R = P + (s->S * s->pa) * (s->S * s->qa);
    if (!s->have_c) { /* adopt the other's origin */
        memcpy(s->c, c, (size_t)s->d * sizeof *c);
        s->have_c = 1;
    }
    const int64_t d = s->d, len = s->L > (s->pa * s->qa) ? s->L : s->pa * s->qa;
    double *e = simrep__alloc_array(ctx, (size_t)(3 * d + len), sizeof(double), "statistics merge");
    if (!e)
        return SIMREP_E_NOMEM;
    double *work = e + d, *tmp = work + 2 * d;
    int same = 1;
    for (int64_t j = 0; j < d; j++) {
        e[j] = c[j] - s->c[j];
        same &= e[j] == 0;
    }
    for (int64_t g = 0; g < s->G; g++) {
        double *col = s->bk + g * s->L;
        memcpy(tmp, bk + g * s->L, (size_t)s->L * sizeof *tmp);
        if (!same)
            shift_raw(s->p, s->q, e, tmp, work);
        for (int64_t i = 0; i < s->L; i++)
            col[i] += tmp[i];
    }
    const int64_t pa = s->pa, qa = s->qa, ldp = s->S * pa;
    for (int64_t a = 0; a < s->S; a++)
        for (int64_t b = 0; b < s->S; b++) {
            const double *src = P + a * pa + b * qa * ldp;
            for (int64_t j = 0; j < qa; j++)
                memcpy(tmp + j * pa, src + j * ldp, (size_t)pa * sizeof *tmp);
            if (!same)
                shift_block(s->p, s->q, e, e + s->p, tmp, pa);
            double *dst = s->P + a * pa + b * qa * ldp;
            for (int64_t j = 0; j < qa; j++)
                for (int64_t i = 0; i < pa; i++)
                    dst[i + j * ldp] += tmp[i + j * pa];
        }
    if (s->S > 0) {
        memcpy(tmp, R, (size_t)(pa * qa) * sizeof *tmp);
        if (!same)
            shift_block(s->p, s->q, e, e + s->p, tmp, pa);
        for (int64_t i = 0; i < pa * qa; i++)
            s->R[i] += tmp[i];
    }
    s->rows_given += (int64_t)h[12];
    simrep__free(ctx, e);
    return SIMREP_OK;
}

/* ---------------------------------------------------------- compute */

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* numpy's default (linear) quantile of sorted v[0 .. n). */
static double quantile(const double *v, int64_t n, double f)
{
    if (n == 1)
        return v[0];
    const double h = f * (double)(n - 1);
    const int64_t lo = (int64_t)floor(h);
    if (lo >= n - 1)
        return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

/* The interval of the resampled values v[0 .. k) (sorted here) around
 * the observed value, of the kind options.interval asks for. */
static void interval(const simrep_stats_options *o, double *v, int64_t k, double observed, double *lo,
                     double *hi)
{
    qsort(v, (size_t)k, sizeof *v, cmp_double);
    const double ql = quantile(v, k, (1 - o->ci) / 2), qh = quantile(v, k, (1 + o->ci) / 2);
    if (o->interval == SIMREP_INTERVAL_BASIC) {
        *lo = 2 * observed - qh;
        *hi = 2 * observed - ql;
    } else {
        *lo = ql;
        *hi = qh;
    }
}

/* The closed forms (see the design comment), referenced by the registry
 * rows of the measures that have one (src/measures.c, .chance). */
double simrep__chance_cca_r2(const simrep__prepared *pr, const simrep_result *r)
{
    const int64_t k = r->kept_p > r->kept_q ? r->kept_p : r->kept_q;
    return (double)k / (double)(pr->n - 1);
}

double simrep__chance_cka(const simrep__prepared *pr, const simrep_result *r)
{
    (void)r;
    double fro[2] = {0, 0};
    const double scale = (double)(pr->n - 1);
    for (int k = 0; k < 2; k++) {
        const int64_t o = k ? pr->p : 0, e = k ? pr->d : pr->p;
        for (int64_t j = o; j < e; j++)
            for (int64_t i = o; i < e; i++) {
                const double v = pr->cov[i + j * pr->d] * scale;
                fro[k] += v * v;
            }
    }
    return pr->tr_sxx * pr->tr_syy / (scale * sqrt(fro[0]) * sqrt(fro[1]));
}

double simrep__chance_zero(const simrep__prepared *pr, const simrep_result *r)
{
    (void)pr;
    (void)r;
    return 0;
}

void simrep__chance(const simrep__prepared *pr, simrep_result *r)
{
    const simrep__measure_row *row = simrep__measure_row_get(r->measure);
    r->has_chance = 0;
    r->chance = 0;
    if (!row || !row->chance || pr->n < 2)
        return;
    const double c = row->chance(pr, r);
    /* A measure that computed (its sides not all dead, nonzero scatter)
     * gives a finite level; anything else is left out, never a NaN. */
    if (isfinite(c)) {
        r->has_chance = 1;
        r->chance = c;
    }
}

/* What a worker shares with the others.  Tasks are (view, batch of
 * resamples), view-major: a worker re-prepares its permutation work only
 * when it moves to the next view. */
typedef struct job {
    simrep_stats *const *s;          /* the views' states (one for a plain compare) */
    const simrep_moments *const *m;  /* their moments */
    int64_t views;
    const simrep_options *opt;
    const simrep_measure *lin; /* the resampled measures */
    int nlin;
    int kind;                  /* 0 bootstrap, 1 permutations */
    int64_t total;             /* resamples per view */
    int64_t batch;             /* resamples per task */
    int64_t tasks;             /* tasks per view */
    double *sim, *dist;        /* views x total x nlin values (NaN: undefined there) */
    pthread_mutex_t lock;
    int64_t next, done;        /* next task; resamples done over all views */
    simrep_status status;
    char message[SIMREP__MSG_MAX];
    const int *cancel;         /* the caller's cancel flag (simrep_ctx_set_cancel) */
} job;

/* Multinomial weights of G buckets for resample b. */
static void boot_weights(const simrep_stats *s, int64_t b, double *w)
{
    uint64_t st = stream_state(s->o.seed, STREAM_BOOT, (uint64_t)b);
    for (int64_t g = 0; g < s->G; g++)
        w[g] = 0;
    for (int64_t g = 0; g < s->G; g++)
        w[uniform(&st, (uint64_t)s->G)] += 1;
}

/* Permutation k of the S segments (Fisher-Yates), never the identity. */
static void perm_sigma(const simrep_stats *s, int64_t k, int64_t *sigma)
{
    uint64_t st = stream_state(s->o.seed, STREAM_PERM, (uint64_t)k);
    for (;;) {
        for (int64_t a = 0; a < s->S; a++)
            sigma[a] = a;
        for (int64_t a = s->S - 1; a > 0; a--) {
            const int64_t j = (int64_t)uniform(&st, (uint64_t)(a + 1)), t = sigma[a];
            sigma[a] = sigma[j];
            sigma[j] = t;
        }
        int id = 1;
        for (int64_t a = 0; a < s->S && id; a++)
            id = sigma[a] == a;
        if (!id)
            return;
    }
}

/*
 * Overwrite the cross parts of a moments state (Sxy both ways, T_xy, U's
 * cross parts) with those of the pairing whose augmented cross sums are Q
 * (pa x qa): Q = [[sum vx vyᵀ, sum vx ay, sum vx], [sum ax vyᵀ, sum ax ay,
 * sum ax], [sum vyᵀ, sum ay, n]].  The means, Sxx, Syy and the own row
 * sums are those of the observed data (unchanged by re-pairing).
 */
static void cross_into_state(const simrep_stats *s, const double *Q, double *state)
{
    const int64_t p = s->p, q = s->q, d = s->d, pa = s->pa;
    double *T = state + 4, *mean_u = T + 4, *U = mean_u + d, *Sc = U + 2 * d;
    const double n = Q[(p + 1) + (q + 1) * pa];
    /* The state is in the inputs' units 2^expo (moments.c, "Scale"); Q and
     * the origin are in the data's.  Means back to the data's units here,
     * the cross parts written into the state's below. */
    const int ex = (int)Sc[d * d], ey = (int)Sc[d * d + 1];
    const double ux = ldexp(1.0, -ex), uy = ldexp(1.0, -ey);
#define mean(i) ((i) < p ? mean_u[i] / ux : mean_u[i] / uy)
    /* delta = mean - c, by side; D, s.delta per side */
    double Dx = 0, Dy = 0, sdx = 0, sdy = 0;
    for (int64_t i = 0; i < p; i++) {
        const double di = mean(i) - s->c[i];
        Dx += di * di;
        sdx += Q[i + (q + 1) * pa] * di;
    }
    for (int64_t j = 0; j < q; j++) {
        const double dj = mean(p + j) - s->c[p + j];
        Dy += dj * dj;
        sdy += Q[(p + 1) + j * pa] * dj;
    }
    const double Ax = Q[p + (q + 1) * pa], Ay = Q[(p + 1) + q * pa], AAxy = Q[p + q * pa];
    /* Sxy = sum vx vyᵀ - n dx dyᵀ; also dxᵀ Cxy dy, W terms. */
    double dCd = 0, wx_y = 0, wy_x = 0;
    for (int64_t j = 0; j < q; j++) {
        const double dj = mean(p + j) - s->c[p + j];
        double col = 0;
        for (int64_t i = 0; i < p; i++) {
            const double di = mean(i) - s->c[i], cxy = Q[i + j * pa];
            const double v = cxy - n * di * dj;
            Sc[i + (p + j) * d] = v * ux * uy;
            Sc[(p + j) + i * d] = v * ux * uy;
            col += di * cxy;
        }
        dCd += col * dj;
        wx_y += Q[p + j * pa] * dj;          /* sum ax vy . dy */
    }
    for (int64_t i = 0; i < p; i++)
        wy_x += Q[i + q * pa] * (mean(i) - s->c[i]); /* sum ay vx . dx */
    const double txy = AAxy - 2 * wx_y - 2 * wy_x + 4 * dCd + Dy * Ax + Dx * Ay - 2 * Dy * sdx - 2 * Dx * sdy +
                       n * Dx * Dy;
    T[1] = T[2] = txy * ux * ux * uy * uy;
    /* U[x] on y's columns: sum ax vy - 2 Cyx dx + Dx sy - dy (Ax - 2 sdx + n Dx);
     * U[y] on x's columns: sum ay vx - 2 Cxy dy + Dy sx - dx (Ay - 2 sdy + n Dy). */
    const double sumAx = Ax - 2 * sdx + n * Dx, sumAy = Ay - 2 * sdy + n * Dy;
    for (int64_t j = 0; j < q; j++) {
        const double dj = mean(p + j) - s->c[p + j];
        double cd = 0;
        for (int64_t i = 0; i < p; i++)
            cd += Q[i + j * pa] * (mean(i) - s->c[i]);
        U[0 * d + p + j] = (Q[p + j * pa] - 2 * cd + Dx * Q[(p + 1) + j * pa] - dj * sumAx) * ux * ux * uy;
    }
    for (int64_t i = 0; i < p; i++) {
        const double di = mean(i) - s->c[i];
        double cd = 0;
        for (int64_t j = 0; j < q; j++)
            cd += Q[i + j * pa] * (mean(p + j) - s->c[p + j]);
        U[1 * d + i] = (Q[i + q * pa] - 2 * cd + Dy * Q[i + (q + 1) * pa] - di * sumAy) * uy * uy * ux;
    }
#undef mean
}

/* Sum of the blocks of permutation sigma plus the remainder into Q. */
static void permuted_cross(const simrep_stats *s, const int64_t *sigma, double *Q)
{
    const int64_t pa = s->pa, qa = s->qa, ldp = s->S * pa;
    memcpy(Q, s->R, (size_t)(pa * qa) * sizeof(double));
    for (int64_t a = 0; a < s->S; a++) {
        const double *blk = s->P + a * pa + sigma[a] * qa * ldp;
        for (int64_t j = 0; j < qa; j++)
            for (int64_t i = 0; i < pa; i++)
                Q[i + j * pa] += blk[i + j * ldp];
    }
}

/* Where resample r of view t keeps its values. */
static int64_t slot(const job *jb, int64_t t, int64_t r)
{
    return (t * jb->total + r) * jb->nlin;
}

static void record(job *jb, int64_t at, const simrep_result *res, simrep_status st)
{
    for (int i = 0; i < jb->nlin; i++) {
        jb->sim[at + i] = st == SIMREP_OK ? res[i].similarity : NAN;
        jb->dist[at + i] = st == SIMREP_OK ? res[i].distance : NAN;
    }
}

/* Compute the measures one by one when they fail together (one undefined
 * measure must not hide the others). */
static void compute_each(simrep_ctx *ctx, job *jb, const simrep_pairs *pairs, const simrep_moments *m, int64_t at)
{
    for (int i = 0; i < jb->nlin; i++) {
        simrep_result one;
        simrep_status st = pairs ? simrep_pairs_compare(ctx, pairs, 0, 1, &jb->lin[i], 1, &one)
                                 : simrep_compare_moments(ctx, m, jb->opt, &jb->lin[i], 1, &one);
        jb->sim[at + i] = st == SIMREP_OK ? one.similarity : NAN;
        jb->dist[at + i] = st == SIMREP_OK ? one.distance : NAN;
        if (st == SIMREP_OK)
            simrep_result_clear(ctx, &one);
    }
}

static void fail_job(job *jb, simrep_ctx *ctx, simrep_status st)
{
    pthread_mutex_lock(&jb->lock);
    if (jb->status == SIMREP_OK) {
        jb->status = st;
        snprintf(jb->message, sizeof jb->message, "%s", simrep_ctx_message(ctx));
    }
    pthread_mutex_unlock(&jb->lock);
}

/*
 * A worker's allocator: malloc and free, except that blocks of at least
 * CACHE_MIN bytes are kept when freed (up to CACHE_BYTES, the oldest let go
 * first) and handed back to an allocation of the same size.  Every
 * resample allocates the same work arrays; at 512 + 512 features they are
 * megabytes each, which glibc maps and unmaps every time, and the 8,500
 * first touches of their pages per resample cost 18% of it on a virtual
 * machine (measured with perf stat).  Per worker (a context's allocator is
 * called from its thread only), emptied when the worker ends.
 */
#define CACHE_SLOTS 64
#define CACHE_MIN ((size_t)64 * 1024)
#define CACHE_BYTES ((size_t)64 * 1024 * 1024)

typedef struct block_cache {
    int count;
    size_t bytes;
    size_t *block[CACHE_SLOTS]; /* block[i][0] = its size; the caller's memory at block[i] + 2 */
} block_cache;

static void *cache_malloc(void *user, size_t size)
{
    block_cache *c = user;
    for (int i = c->count - 1; i >= 0; i--)
        if (c->block[i][0] == size) {
            size_t *h = c->block[i];
            memmove(&c->block[i], &c->block[i + 1], (size_t)(c->count - 1 - i) * sizeof h);
            c->count--;
            c->bytes -= size;
            return h + 2;
        }
    if (size > SIZE_MAX - 2 * sizeof(size_t))
        return NULL;
    size_t *h = malloc(size + 2 * sizeof(size_t)); /* keeps malloc's 16-byte alignment */
    if (!h)
        return NULL;
    h[0] = size;
    return h + 2;
}

static void cache_free(void *user, void *ptr)
{
    block_cache *c = user;
    if (!ptr)
        return;
    size_t *h = (size_t *)ptr - 2;
    if (h[0] < CACHE_MIN || h[0] > CACHE_BYTES) {
        free(h);
        return;
    }
    while (c->count > 0 && (c->count == CACHE_SLOTS || c->bytes + h[0] > CACHE_BYTES)) {
        c->bytes -= c->block[0][0];
        free(c->block[0]);
        memmove(&c->block[0], &c->block[1], (size_t)(c->count - 1) * sizeof h);
        c->count--;
    }
    c->block[c->count++] = h;
    c->bytes += h[0];
}

static void cache_empty(block_cache *c)
{
    for (int i = 0; i < c->count; i++)
        free(c->block[i]);
    c->count = 0;
    c->bytes = 0;
}

/* One worker: takes tasks until none is left.  report: the calling
 * thread's context for progress, NULL in the other workers. */
static void run_worker(job *jb, simrep_ctx *report)
{
    const simrep_stats *s0 = jb->s[0]; /* sizes and options: the same in every view */
    block_cache cache = {0};
    const simrep_allocator keep = {cache_malloc, cache_free, &cache};
    simrep_ctx *ctx = simrep_ctx_new(&keep);
    simrep_ctx_set_cancel(ctx, jb->cancel);
    simrep_moments *mm = NULL;
    simrep_pairs *pairs = NULL;
    int64_t prepared = -1; /* the view pairs was prepared for */
    double *state = NULL, *w = NULL, *out = NULL, *work = NULL, *Q = NULL;
    int64_t *sigma = NULL;
    const int64_t len = simrep_moments_state_len(jb->m[0]);
    simrep_status st = ctx ? simrep_moments_clone(ctx, jb->m[0], &mm) : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        state = malloc((size_t)len * sizeof *state);
        work = malloc((size_t)(2 * s0->d) * sizeof *work);
        if (jb->kind == 0) {
            w = malloc((size_t)(s0->G * jb->batch) * sizeof *w);
            out = malloc((size_t)s0->L * (size_t)jb->batch * sizeof *out);
        } else {
            Q = malloc((size_t)(s0->pa * s0->qa) * sizeof *Q);
            sigma = malloc((size_t)s0->S * sizeof *sigma);
        }
        if (!state || !work || (jb->kind == 0 ? !w || !out : !Q || !sigma))
            st = simrep__fail(ctx, SIMREP_E_NOMEM, "out of memory for the resamples");
    }
    if (st != SIMREP_OK && ctx)
        fail_job(jb, ctx, st);
    const int64_t all = jb->views * jb->tasks;
    for (;;) {
        pthread_mutex_lock(&jb->lock);
        const int64_t task = jb->status == SIMREP_OK ? jb->next : all;
        jb->next = task + 1;
        pthread_mutex_unlock(&jb->lock);
        if (task >= all || st != SIMREP_OK)
            break;
        if (simrep__cancel_requested(ctx)) {
            fail_job(jb, ctx, simrep__cancelled(ctx));
            break;
        }
        const int64_t t = task / jb->tasks, b0 = (task % jb->tasks) * jb->batch;
        const int64_t nb = jb->total - b0 < jb->batch ? jb->total - b0 : jb->batch;
        simrep_stats *s = jb->s[t];
        if (jb->kind == 0) {
            for (int64_t b = 0; b < nb; b++)
                boot_weights(s, b0 + b, w + b * s->G);
            /* The raw sums of nb resamples, out (L x nb) = bk (L x G) w (G x nb):
             * with the scatters packed, only what moments_from_raw reads (half
             * the flops and the bucket state streamed of a full scatter's). */
            st = simrep__gemm(ctx, 'N', 'N', s->L, nb, s->G, 1.0, s->bk, s->L, w, s->G, 0.0, out, s->L);
            /* the view's unit roundoffs: resampled moments carry them (moments.c "Rounding") */
            const double units[2] = {simrep_moments_unit_roundoff(jb->m[t], 0),
                                     simrep_moments_unit_roundoff(jb->m[t], 1)};
            for (int64_t b = 0; b < nb && st == SIMREP_OK; b++) {
                moments_from_raw(s->p, s->q, s->c, out + b * s->L, units, state, work);
                st = simrep_moments_load(ctx, mm, state);
                simrep_result res[SIMREP_MEASURE_COUNT];
                simrep_status cs = st == SIMREP_OK ? simrep_compare_moments(ctx, mm, jb->opt, jb->lin, jb->nlin, res)
                                                   : st;
                if (cs == SIMREP_E_NOMEM)
                    st = cs;
                else if (cs != SIMREP_OK && st == SIMREP_OK)
                    compute_each(ctx, jb, NULL, mm, slot(jb, t, b0 + b));
                else
                    record(jb, slot(jb, t, b0 + b), res, cs);
                if (cs == SIMREP_OK)
                    for (int i = 0; i < jb->nlin; i++)
                        simrep_result_clear(ctx, &res[i]);
            }
        } else {
            if (prepared != t) {
                /* Sxx, Syy, the means: unchanged by re-pairing, so the
                 * sides' decompositions are made once per view and worker;
                 * every null overwrites all of the state's cross parts. */
                simrep_pairs_free(ctx, pairs);
                pairs = NULL;
                simrep_moments_save(jb->m[t], state);
                st = simrep_moments_load(ctx, mm, state);
                if (st == SIMREP_OK)
                    st = simrep_pairs_prepare(ctx, mm, jb->opt, jb->lin, jb->nlin, &pairs);
                prepared = t;
            }
            for (int64_t b = 0; b < nb && st == SIMREP_OK; b++) {
                perm_sigma(s, b0 + b, sigma);
                permuted_cross(s, sigma, Q);
                cross_into_state(s, Q, state);
                st = simrep_moments_load(ctx, mm, state);
                simrep_result res[SIMREP_MEASURE_COUNT];
                simrep_status cs = st == SIMREP_OK ? simrep_pairs_compare(ctx, pairs, 0, 1, jb->lin, jb->nlin, res)
                                                   : st;
                if (cs == SIMREP_E_NOMEM)
                    st = cs;
                else if (cs != SIMREP_OK && st == SIMREP_OK)
                    compute_each(ctx, jb, pairs, mm, slot(jb, t, b0 + b));
                else
                    record(jb, slot(jb, t, b0 + b), res, cs);
                if (cs == SIMREP_OK)
                    for (int i = 0; i < jb->nlin; i++)
                        simrep_result_clear(ctx, &res[i]);
            }
        }
        if (st != SIMREP_OK) {
            fail_job(jb, ctx, st);
            break;
        }
        pthread_mutex_lock(&jb->lock);
        jb->done += nb;
        const double frac = (double)jb->done / ((double)jb->total * (double)jb->views);
        pthread_mutex_unlock(&jb->lock);
        if (report)
            simrep__progress(report, jb->kind == 0 ? "bootstrap" : "permutations", frac);
    }
    free(state);
    free(work);
    free(w);
    free(out);
    free(Q);
    free(sigma);
    simrep_pairs_free(ctx, pairs);
    simrep_moments_free(ctx, mm);
    simrep_ctx_free(ctx);
    cache_empty(&cache);
}

static void *worker_main(void *arg)
{
    run_worker(arg, NULL);
    return NULL;
}

static simrep_status run_job(simrep_ctx *ctx, job *jb, int threads)
{
    pthread_mutex_init(&jb->lock, NULL);
    jb->cancel = ctx->cancel;
    jb->next = jb->done = 0;
    jb->status = SIMREP_OK;
    jb->message[0] = 0;
    jb->tasks = (jb->total + jb->batch - 1) / jb->batch;
    const int64_t tasks = jb->tasks * jb->views;
    int nt = threads < 1 ? 1 : threads;
    if (nt > tasks)
        nt = (int)tasks;
    pthread_t *tid = nt > 1 ? malloc((size_t)(nt - 1) * sizeof *tid) : NULL;
    int started = 0;
    for (int t = 0; t + 1 < nt && tid; t++) {
        if (pthread_create(&tid[t], NULL, worker_main, jb) != 0)
            break;
        started++;
    }
    run_worker(jb, ctx);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    free(tid);
    pthread_mutex_destroy(&jb->lock);
    if (jb->status != SIMREP_OK)
        return simrep__fail(ctx, jb->status, "%s", jb->message[0] ? jb->message : simrep_strerror(jb->status));
    return SIMREP_OK;
}

/* Mean and sd (n - 1) of the finite values among v[i * stride], i < n. */
static int64_t finite_values(const double *v, int64_t n, int64_t stride, double *dst)
{
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(v[i * stride]))
            dst[k++] = v[i * stride];
    return k;
}

static void mean_sd(const double *v, int64_t k, double *mean, double *sd)
{
    double mu = 0, ss = 0;
    for (int64_t i = 0; i < k; i++)
        mu += v[i];
    mu = k ? mu / (double)k : 0;
    for (int64_t i = 0; i < k; i++)
        ss += (v[i] - mu) * (v[i] - mu);
    *mean = mu;
    *sd = k > 1 ? sqrt(ss / (double)(k - 1)) : 0;
}

/* The bootstrap's or the permutations' summary of one measure from its
 * values sim[r * stride], dist[r * stride] (r < total), into r (rowstats.c
 * summarizes the rows measures' resamples with it too). */
void simrep__stats_summarize(const simrep_stats_options *o, int kind, const double *sim, const double *dist,
                             int64_t total, int64_t stride, double obs_dist, double *vals, simrep_stats_result *r)
{
    int64_t k = finite_values(sim, total, stride, vals);
    double mu, sd;
    mean_sd(vals, k, &mu, &sd);
    if (kind == 0) {
        r->bootstrap = k;
        r->boot_mean = mu;
        r->se = sd;
        if (k > 0)
            interval(o, vals, k, r->similarity, &r->ci_low, &r->ci_high);
        k = finite_values(dist, total, stride, vals);
        mean_sd(vals, k, &mu, &r->distance_se);
        if (k > 0)
            interval(o, vals, k, obs_dist, &r->distance_ci_low, &r->distance_ci_high);
    } else {
        r->permutations = k;
        r->null_mean = mu;
        r->null_sd = sd;
        int64_t ge = 0;
        for (int64_t j = 0; j < k; j++)
            ge += vals[j] >= r->similarity;
        r->p_value = (1.0 + (double)ge) / (1.0 + (double)k);
        /* A null mean of 1 (every re-pairing as similar as it gets)
         * leaves nothing to adjust for: 0, not a division by 0. */
        r->adjusted = mu < 1 ? (r->similarity - mu) / (1 - mu) : 0;
    }
}

/* Whether two states are the same statistics of the same rows (views of
 * one reading). */
static int same_plan(const simrep_stats *a, const simrep_stats *b)
{
    return a->p == b->p && a->q == b->q && a->n == b->n && a->units == b->units && a->ur == b->ur &&
           a->G == b->G && a->S == b->S && a->m == b->m && a->o.seed == b->o.seed &&
           a->o.bootstrap == b->o.bootstrap && a->o.permutations == b->o.permutations && a->o.ci == b->o.ci &&
           a->o.interval == b->o.interval && a->max_unit == b->max_unit;
}

simrep_status simrep_stats_compute(simrep_ctx *ctx, simrep_stats *s, const simrep_moments *m,
                                   const simrep_options *options, const simrep_measure *measures, int count,
                                   simrep_stats_result *results)
{
    if (!s || !m)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_stats_compute: bad arguments");
    return simrep_stats_compute_steps(ctx, &s, &m, 1, options, measures, count, results, NULL);
}

simrep_status simrep_stats_compute_steps(simrep_ctx *ctx, simrep_stats *const *states, const simrep_moments *const *m,
                                         int64_t steps, const simrep_options *options, const simrep_measure *measures,
                                         int count, simrep_stats_result *per_step, simrep_stats_result *mean)
{
    if (!states || !m || steps < 1 || steps > 1 << 24 || (count > 0 && (!measures || !per_step)) || count < 0 ||
        count > SIMREP_MEASURE_COUNT)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_stats_compute: bad arguments");
    for (int64_t t = 0; t < steps; t++) {
        const simrep_stats *s = states[t];
        if (!s || !m[t])
            return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_stats_compute: step %lld has no state or moments",
                                (long long)t);
        if (!same_plan(s, states[0]))
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "simrep_stats_compute: the states of steps 0 and %lld differ in sizes, units or "
                                "options (make them alike and feed them the same rows)",
                                (long long)t);
        if (s->rows_given != s->n || s->pending)
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "statistics were given %lld of the %lld rows; read every block simrep_stats_next "
                                "names first",
                                (long long)s->rows_given, (long long)s->n);
        if (simrep_moments_inputs(m[t]) != 2 || simrep_moments_p(m[t]) != s->p || simrep_moments_q(m[t]) != s->q ||
            simrep_moments_n(m[t]) != s->n)
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "the moments (%lld rows, %lld + %lld features) are not those of the statistics' data "
                                "(%lld rows, %lld + %lld)",
                                (long long)simrep_moments_n(m[t]), (long long)simrep_moments_p(m[t]),
                                (long long)simrep_moments_q(m[t]), (long long)s->n, (long long)s->p, (long long)s->q);
    }
    const simrep_stats *s0 = states[0];
    simrep_measure lin[SIMREP_MEASURE_COUNT];
    int where[SIMREP_MEASURE_COUNT], nlin = 0;
    for (int i = 0; i < count; i++) {
        const simrep_measure_info *info = simrep_measure_get_info(measures[i]);
        if (!info)
            return simrep__fail(ctx, SIMREP_E_INVALID, "unknown measure %d", (int)measures[i]);
        for (int64_t t = 0; t < steps; t++) {
            memset(&per_step[t * count + i], 0, sizeof per_step[0]);
            per_step[t * count + i].measure = measures[i];
        }
        if (mean) {
            memset(&mean[i], 0, sizeof mean[i]);
            mean[i].measure = measures[i];
        }
        if (!info->needs_rows) {
            where[nlin] = i;
            lin[nlin++] = measures[i];
        }
    }
    if (nlin == 0)
        return SIMREP_OK;
    const size_t nv = (size_t)steps * (size_t)nlin;
    double *obs_sim = simrep__alloc_array(ctx, 2 * nv, sizeof(double), "resamples");
    if (!obs_sim)
        return SIMREP_E_NOMEM;
    double *obs_dist = obs_sim + nv;
    /* Everything from here, the observed values included, on one BLAS
     * thread: LAPACK's last bits then do not depend on the thread count. */
    const int blas = simrep_blas_threads();
    simrep_set_blas_threads(1);
    simrep_status st = SIMREP_OK;
    for (int64_t t = 0; t < steps && st == SIMREP_OK; t++) {
        simrep_result obs[SIMREP_MEASURE_COUNT];
        st = simrep_compare_moments(ctx, m[t], options, lin, nlin, obs);
        for (int i = 0; i < nlin; i++) {
            simrep_result one, *r = &obs[i];
            simrep_status os = st;
            if (st != SIMREP_OK && st != SIMREP_E_NOMEM) /* undefined for one measure: the others alone */
                os = simrep_compare_moments(ctx, m[t], options, &lin[i], 1, r = &one);
            if (os == SIMREP_E_NOMEM) {
                st = os;
                break;
            }
            simrep_stats_result *sr = &per_step[t * count + where[i]];
            obs_sim[t * nlin + i] = os == SIMREP_OK ? r->similarity : NAN;
            obs_dist[t * nlin + i] = os == SIMREP_OK ? r->distance : NAN;
            if (os == SIMREP_OK) {
                sr->resampled = 1;
                sr->similarity = r->similarity;
                sr->chance = r->chance;
                sr->has_chance = r->has_chance;
                simrep_result_clear(ctx, r);
            }
        }
        if (st != SIMREP_E_NOMEM)
            st = SIMREP_OK;
    }
    if (st == SIMREP_OK && mean)
        for (int i = 0; i < nlin; i++) {
            simrep_stats_result *r = &mean[where[i]];
            double sim = 0, chance = 0;
            int defined = 1, chances = 1;
            for (int64_t t = 0; t < steps; t++) {
                const simrep_stats_result *pt = &per_step[t * count + where[i]];
                defined &= pt->resampled;
                chances &= pt->has_chance;
                sim += pt->similarity;
                chance += pt->chance;
            }
            r->resampled = defined;
            r->similarity = defined ? sim / (double)steps : 0;
            r->has_chance = defined && chances;
            r->chance = r->has_chance ? chance / (double)steps : 0;
        }
    const int64_t B = s0->G > 0 ? s0->o.bootstrap : 0, K = s0->S > 0 ? s0->o.permutations : 0;
    const int64_t most = B > K ? B : K;
    const size_t cap = (size_t)(most > 0 ? most : 1);
    double *sim = st == SIMREP_OK ? simrep__alloc_array(ctx, cap * nv, sizeof(double), "resamples") : NULL;
    double *dist = sim ? simrep__alloc_array(ctx, cap * nv, sizeof(double), "resamples") : NULL;
    double *vals = dist ? simrep__alloc_array(ctx, 3 * cap, sizeof(double), "resamples") : NULL;
    if (st == SIMREP_OK && !vals)
        st = SIMREP_E_NOMEM;
    for (int kind = 0; kind < 2 && st == SIMREP_OK; kind++) {
        const int64_t total = kind == 0 ? B : K;
        if (total == 0)
            continue;
        job jb;
        memset(&jb, 0, sizeof jb);
        jb.s = states;
        jb.m = m;
        jb.views = steps;
        jb.opt = options;
        jb.lin = lin;
        jb.nlin = nlin;
        jb.kind = kind;
        jb.total = total;
        jb.sim = sim;
        jb.dist = dist;
        if (kind == 0) {
            int64_t b = (int64_t)(BATCH_BYTES / ((double)s0->L * 8.0));
            jb.batch = b < 1 ? 1 : b > BATCH_MAX ? BATCH_MAX : b;
        } else {
            jb.batch = 4;
        }
        st = run_job(ctx, &jb, s0->o.threads);
        for (int i = 0; i < nlin && st == SIMREP_OK; i++) {
            for (int64_t t = 0; t < steps; t++) {
                simrep_stats_result *r = &per_step[t * count + where[i]];
                if (r->resampled)
                    simrep__stats_summarize(&s0->o, kind, sim + slot(&jb, t, 0) + i, dist + slot(&jb, t, 0) + i,
                                            total, nlin, obs_dist[t * nlin + i], vals, r);
            }
            if (!mean || !mean[where[i]].resampled)
                continue;
            /* The curve's mean in each resample (undefined if a step is). */
            double *ms = vals + cap, *md = ms + cap, od = 0;
            for (int64_t b = 0; b < total; b++) {
                double a = 0, c = 0;
                for (int64_t t = 0; t < steps; t++) {
                    a += sim[slot(&jb, t, b) + i];
                    c += dist[slot(&jb, t, b) + i];
                }
                ms[b] = a / (double)steps;
                md[b] = c / (double)steps;
            }
            for (int64_t t = 0; t < steps; t++)
                od += obs_dist[t * nlin + i] / (double)steps;
            simrep__stats_summarize(&s0->o, kind, ms, md, total, 1, od, vals, &mean[where[i]]);
        }
    }
    simrep_set_blas_threads(blas);
    simrep__free(ctx, obs_sim);
    simrep__free(ctx, sim);
    simrep__free(ctx, dist);
    simrep__free(ctx, vals);
    return st;
}

/* ---------------------------------------------------- group tests */

/* Mean distance between groups a and b (a == b: within a), inputs lab[]. */
static void group_means(int64_t n, const double *dist, int64_t ld, const int *lab, int groups, double *sum,
                        double *cnt)
{
    for (int i = 0; i < groups * groups; i++)
        sum[i] = cnt[i] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++) {
            const int a = lab[i], b = lab[j];
            if (a < 0 || b < 0)
                continue;
            const double v = 0.5 * (dist[i * ld + j] + dist[j * ld + i]);
            sum[a * groups + b] += v;
            cnt[a * groups + b] += 1;
            if (a != b) {
                sum[b * groups + a] += v;
                cnt[b * groups + a] += 1;
            }
        }
}

/* The statistic of groups a, b (a < 0: all): between mean - within mean. */
static double group_stat(const double *sum, const double *cnt, int groups, int a, int b, double *within,
                         double *between)
{
    double ws = 0, wc = 0, bs = 0, bc = 0;
    for (int g = 0; g < groups; g++)
        for (int h = g; h < groups; h++) {
            if (a >= 0 && !((g == a || g == b) && (h == a || h == b)))
                continue;
            if (g == h) {
                ws += sum[g * groups + h];
                wc += cnt[g * groups + h];
            } else {
                bs += sum[g * groups + h];
                bc += cnt[g * groups + h];
            }
        }
    *within = wc > 0 ? ws / wc : NAN;
    *between = bc > 0 ? bs / bc : NAN;
    return *between - *within;
}

simrep_status simrep_group_tests(simrep_ctx *ctx, int64_t n, const double *dist, int64_t ld, const int *labels,
                                 int groups, int64_t permutations, int64_t bootstrap, double ci, uint64_t seed,
                                 simrep_group_test *tests, double *within_ci, double *between_ci)
{
    if (n < 2 || !dist || ld < n || !labels || groups < 1 || groups > 100000 || permutations < 0 ||
        bootstrap < 0 || !tests || (bootstrap > 0 && (!within_ci || !between_ci || !(ci > 0 && ci < 1))))
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_group_tests: bad arguments");
    for (int64_t i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= groups)
            return simrep__fail(ctx, SIMREP_E_INVALID, "input %lld has group %d, outside 0..%d", (long long)i,
                                labels[i], groups - 1);
    const size_t gg = (size_t)groups * (size_t)groups;
    double *sum = simrep__alloc_array(ctx, 4 * gg, sizeof(double), "group tests");
    int *lab = simrep__alloc_array(ctx, (size_t)n, sizeof(int), "group tests");
    int64_t *idx = simrep__alloc_array(ctx, (size_t)n, sizeof(int64_t), "group tests");
    int64_t *size = simrep__calloc_array(ctx, (size_t)groups, sizeof(int64_t), "group tests");
    double *vals = simrep__alloc_array(ctx, (size_t)(permutations > bootstrap ? permutations : bootstrap) + 1,
                                       sizeof(double), "group tests");
    if (!sum || !lab || !idx || !size || !vals) {
        simrep__free(ctx, sum);
        simrep__free(ctx, lab);
        simrep__free(ctx, idx);
        simrep__free(ctx, size);
        simrep__free(ctx, vals);
        return SIMREP_E_NOMEM;
    }
    double *cnt = sum + gg, *s2 = sum + 2 * gg; /* s2: a permutation's sums and counts */
    for (int64_t i = 0; i < n; i++)
        size[labels[i]]++;
    group_means(n, dist, ld, labels, groups, sum, cnt);
    int t = 0;
    const int ntests = groups * (groups - 1) / 2 + 1;
    for (int a = -1; a < groups; a++)
        for (int b = a + 1; b < groups; b++) {
            if (a < 0 && b > 0)
                break; /* the "all" test once, as a = b = -1 */
            simrep_group_test *g = a < 0 ? &tests[ntests - 1] : &tests[t++];
            memset(g, 0, sizeof *g);
            g->a = a < 0 ? -1 : a;
            g->b = a < 0 ? -1 : b;
            g->statistic = group_stat(sum, cnt, groups, g->a, g->b, &g->within, &g->between);
            if (!isfinite(g->statistic) || permutations == 0)
                continue;
            /* The inputs of the groups concerned, relabelled K times. */
            int64_t m = 0;
            for (int64_t i = 0; i < n; i++)
                if (g->a < 0 || labels[i] == g->a || labels[i] == g->b)
                    idx[m++] = i;
            int64_t ge = 0, k = 0;
            for (int64_t r = 0; r < permutations; r++) {
                uint64_t st = stream_state(seed, STREAM_GROUP,
                                           (uint64_t)r * 0x10001u + (uint64_t)(g->a + 1) * 977u + (uint64_t)g->b);
                for (int64_t i = 0; i < n; i++)
                    lab[i] = labels[i];
                for (int64_t i = m - 1; i > 0; i--) {
                    const int64_t j = (int64_t)uniform(&st, (uint64_t)(i + 1));
                    const int tmp = lab[idx[i]];
                    lab[idx[i]] = lab[idx[j]];
                    lab[idx[j]] = tmp;
                }
                double w, bt;
                group_means(n, dist, ld, lab, groups, s2, s2 + gg);
                const double v = group_stat(s2, s2 + gg, groups, g->a, g->b, &w, &bt);
                if (!isfinite(v))
                    continue;
                vals[k++] = v;
                ge += v >= g->statistic;
            }
            g->permutations = k;
            mean_sd(vals, k, &g->null_mean, &g->null_sd);
            g->p_value = (1.0 + (double)ge) / (1.0 + (double)k);
        }
    /* Bootstrap over inputs within each group: percentile intervals of the
     * within and between means; pairs of a copy of an input with itself are
     * left out (their distance is 0 by construction, not a measurement). */
    if (bootstrap > 0) {
        double *bv = simrep__alloc_array(ctx, (size_t)bootstrap * gg, sizeof(double), "group bootstrap");
        int64_t *pick = simrep__alloc_array(ctx, (size_t)n, sizeof(int64_t), "group bootstrap");
        int64_t **members = simrep__calloc_array(ctx, (size_t)groups, sizeof(int64_t *), "group bootstrap");
        int ok = bv && pick && members;
        for (int g = 0; ok && g < groups; g++) {
            members[g] = simrep__alloc_array(ctx, (size_t)(size[g] > 0 ? size[g] : 1), sizeof(int64_t),
                                             "group bootstrap");
            ok = members[g] != NULL;
            int64_t k = 0;
            for (int64_t i = 0; ok && i < n; i++)
                if (labels[i] == g)
                    members[g][k++] = i;
        }
        for (int64_t r = 0; ok && r < bootstrap; r++) {
            uint64_t st = stream_state(seed, STREAM_GBOOT, (uint64_t)r);
            int64_t k = 0;
            for (int g = 0; g < groups; g++)
                for (int64_t i = 0; i < size[g]; i++)
                    pick[k++] = members[g][uniform(&st, (uint64_t)size[g])];
            double *bs = bv + (size_t)r * gg;
            for (size_t i = 0; i < gg; i++)
                bs[i] = 0;
            double *cc = simrep__calloc_array(ctx, gg, sizeof(double), "group bootstrap");
            if (!cc) {
                ok = 0;
                break;
            }
            for (int64_t i = 0; i < n; i++)
                for (int64_t j = i + 1; j < n; j++) {
                    if (pick[i] == pick[j])
                        continue;
                    const int a = labels[pick[i]], b = labels[pick[j]];
                    const double v = 0.5 * (dist[pick[i] * ld + pick[j]] + dist[pick[j] * ld + pick[i]]);
                    bs[a * groups + b] += v;
                    cc[a * groups + b] += 1;
                    if (a != b) {
                        bs[b * groups + a] += v;
                        cc[b * groups + a] += 1;
                    }
                }
            for (size_t i = 0; i < gg; i++)
                bs[i] = cc[i] > 0 ? bs[i] / cc[i] : NAN;
            simrep__free(ctx, cc);
        }
        for (int a = 0; ok && a < groups; a++)
            for (int b = 0; b < groups; b++) {
                const int64_t k = finite_values(bv + (size_t)a * groups + b, bootstrap, (int64_t)gg, vals);
                double lo = NAN, hi = NAN;
                if (k > 0) {
                    qsort(vals, (size_t)k, sizeof *vals, cmp_double);
                    lo = quantile(vals, k, (1 - ci) / 2);
                    hi = quantile(vals, k, (1 + ci) / 2);
                }
                double *dst = a == b ? within_ci + 2 * a : NULL;
                if (dst) {
                    dst[0] = lo;
                    dst[1] = hi;
                }
                between_ci[2 * ((size_t)a * groups + b)] = lo;
                between_ci[2 * ((size_t)a * groups + b) + 1] = hi;
            }
        for (int g = 0; members && g < groups; g++)
            simrep__free(ctx, members[g]);
        simrep__free(ctx, members);
        simrep__free(ctx, pick);
        simrep__free(ctx, bv);
        if (!ok) {
            simrep__free(ctx, sum);
            simrep__free(ctx, lab);
            simrep__free(ctx, idx);
            simrep__free(ctx, size);
            simrep__free(ctx, vals);
            return SIMREP_E_NOMEM;
        }
    }
    simrep__free(ctx, sum);
    simrep__free(ctx, lab);
    simrep__free(ctx, idx);
    simrep__free(ctx, size);
    simrep__free(ctx, vals);
    return SIMREP_OK;
}

/* The random streams, the uniform draw and numpy's linear quantile, for
 * the other resampling code of the library (validate.c): one generator,
 * one quantile rule. */
uint64_t simrep__rng_stream(uint64_t seed, int stream, uint64_t index)
{
    return stream_state(seed, stream, index);
}

uint64_t simrep__rng_below(uint64_t *state, uint64_t n)
{
    return uniform(state, n);
}

double simrep__quantile_sorted(const double *v, int64_t n, double f)
{
    return quantile(v, n, f);
}
