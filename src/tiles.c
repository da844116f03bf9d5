/*
 * tiles.c: the plumbing of the measures computed from the rows in O(n^2)
 * tiled passes (cka_rbf.c, rsa.c, knn.c): the partition of their passes
 * among cooperating workers, loading rows as float64 and scaling them by a
 * power of two, and equal-row groups.
 *
 * Partition (simrep_ctx_set_partition): workers deal tile rows round robin
 * and combine additive state through the caller's allreduce (a sum).  Every
 * exchange is preceded by an agreement on the status of the step, so an
 * allocation failing on one worker makes all of them return instead of
 * leaving the others waiting in the next allreduce: the vote is a vector of
 * one count per status code, summed like everything else.
 *
 * Equal rows: the tiled distances |xi|^2 + |xj|^2 - 2 xi.xj of two equal
 * rows round to +-1e-17 |x|^2 rather than 0 (dgemm's xi.xj and the norm are
 * summed differently), which would break ties that the data hold exactly
 * (a zero median in cka_rbf, tied dissimilarities in rsa).  Rows are hashed
 * (FNV-1a of their values, -0 read as +0), sorted by hash and compared, so
 * equal rows are found in O(n log n + n p) without comparing all pairs.
 */
#define _DEFAULT_SOURCE /* MADV_HUGEPAGE (Linux) */
#include "tiles.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int simrep__tile_mine(const simrep_ctx *ctx, int64_t i0)
{
    return ctx->parts <= 1 || (i0 / SIMREP__TILE) % ctx->parts == ctx->part;
}

double simrep__pass_fraction(int64_t i0, int64_t n)
{
    const double left = (double)(n - i0) / (double)n;
    return 1.0 - left * left;
}

simrep_status simrep__part_sum(simrep_ctx *ctx, const char *who, double *buf, int64_t count)
{
    if (ctx->allreduce(ctx->allreduce_user, buf, count) != 0)
        return simrep__fail(ctx, SIMREP_E_IO, "%s: the allreduce of worker %d of %d failed", who, ctx->part,
                            ctx->parts);
    return SIMREP_OK;
}

#define VOTES 32
simrep_status simrep__part_agree(simrep_ctx *ctx, const char *who, simrep_status st)
{
    if (ctx->parts <= 1)
        return st;
    double votes[VOTES] = {0};
    if (st != SIMREP_OK)
        votes[(unsigned)st < VOTES ? (unsigned)st : VOTES - 1] = 1;
    if (simrep__part_sum(ctx, who, votes, VOTES) != SIMREP_OK || st != SIMREP_OK)
        return st != SIMREP_OK ? st : SIMREP_E_IO;
    for (int k = 1; k < VOTES; k++)
        if (votes[k] > 0)
            return simrep__fail(ctx, (simrep_status)k, "%s: %.0f other worker(s) of the partition failed (%s)", who,
                                votes[k], simrep_strerror((simrep_status)k));
    return SIMREP_OK;
}

simrep_status simrep__part_check(simrep_ctx *ctx, const char *who, int64_t n)
{
    if (ctx->parts <= 1)
        return SIMREP_OK;
    int64_t nn;
    if (!simrep__mul_i64(n, n, &nn) || nn >= ((int64_t)1 << 53) || ctx->parts > 65536)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "%s: a partition over %d workers needs n^2 < 2^53 and at most 65536 workers (n = %lld)",
                            who, ctx->parts, (long long)n);
    return SIMREP_OK;
}

simrep_status simrep__rows_enter(simrep_ctx *ctx, const char *who, const simrep_matrix *x, const simrep_matrix *y,
                                 const simrep_options **opt, simrep_options *defaults, const simrep_result *r)
{
    if (!ctx)
        return SIMREP_E_INVALID;
    if (!*opt) {
        simrep_options_init(defaults);
        *opt = defaults;
    }
    if (!r)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: result is NULL", who);
    return simrep__check_xy(ctx, x, y, "rows");
}

simrep_status simrep__rows_load(simrep_ctx *ctx, const simrep_matrix *m, int side, const char *who, double **out)
{
    const int64_t n = m->rows, p = m->cols;
    *out = NULL;
    size_t np;
    if (!simrep__mul_size((size_t)n, (size_t)p, &np))
        return simrep__fail_side(ctx, SIMREP_E_NOMEM, side, "%lld x %lld doubles overflow the address space",
                                 (long long)n, (long long)p);
    double *rows = simrep__alloc_array(ctx, np, sizeof(double), who);
    if (!rows)
        return SIMREP_E_NOMEM;
    simrep__rows_to_double(m, 0, n, rows, p);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < p; j++) {
            double v = rows[i * p + j];
            if (!isfinite(v)) {
                simrep__free(ctx, rows);
                simrep__fail_side(ctx, SIMREP_E_NONFINITE, side, "%s at row %lld, column %lld",
                                  isnan(v) ? "NaN" : "Inf", (long long)i, (long long)j);
                simrep__error_cell(ctx, i, j);
                return SIMREP_E_NONFINITE;
            }
        }
    *out = rows;
    return SIMREP_OK;
}

double simrep__scale_pow2(double *v, size_t count)
{
    double amax = 0;
    for (size_t k = 0; k < count; k++)
        amax = fabs(v[k]) > amax ? fabs(v[k]) : amax;
    int e = 0;
    if (amax > 0)
        frexp(amax, &e);
    if (e != 0)
        for (size_t k = 0; k < count; k++)
            v[k] = ldexp(v[k], -e);
    return amax;
}

int simrep__rows_all_equal(const double *rows, int64_t n, int64_t p)
{
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = 0; j < p; j++)
            if (rows[i * p + j] != rows[j])
                return 0;
    return 1;
}

typedef struct row_key {
    uint64_t hash;
    int64_t row;
} row_key;

static int cmp_key(const void *pa, const void *pb)
{
    const row_key *a = pa, *b = pb;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return (a->row > b->row) - (a->row < b->row);
}

simrep_status simrep__row_groups(simrep_ctx *ctx, const double *rows, int64_t n, int64_t p, int64_t *grp,
                                 const char *who)
{
    row_key *keys = simrep__alloc_array(ctx, (size_t)n, sizeof *keys, who);
    if (!keys)
        return SIMREP_E_NOMEM;
    for (int64_t i = 0; i < n; i++) {
        uint64_t h = 14695981039346656037u;
        for (int64_t j = 0; j < p; j++) {
            double v = rows[i * p + j] + 0.0; /* -0 + 0 = +0: equal values hash alike */
            uint64_t b;
            memcpy(&b, &v, sizeof b);
            for (int k = 0; k < 8; k++) {
                h ^= (b >> (8 * k)) & 0xff;
                h *= 1099511628211u;
            }
        }
        keys[i].hash = h;
        keys[i].row = i;
        grp[i] = i;
    }
    qsort(keys, (size_t)n, sizeof *keys, cmp_key);
    for (int64_t a = 0; a < n; a++) {
        const int64_t ra = keys[a].row;
        if (grp[ra] != ra)
            continue; /* already matched to an earlier row */
        for (int64_t b = a + 1; b < n && keys[b].hash == keys[a].hash; b++) {
            const int64_t rb = keys[b].row;
            if (grp[rb] != rb)
                continue;
            int64_t j = 0;
            while (j < p && rows[ra * p + j] == rows[rb * p + j])
                j++;
            if (j == p)
                grp[rb] = ra; /* ra < rb: the keys are sorted by row within a hash */
        }
    }
    simrep__free(ctx, keys);
    return SIMREP_OK;
}

void simrep__advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)1 << 21, a = ((uintptr_t)p + huge - 1) & ~(huge - 1),
                    e = ((uintptr_t)p + bytes) & ~(huge - 1);
    if (p && e > a)
        madvise((void *)a, e - a, MADV_HUGEPAGE); /* advice only: a failure changes nothing */
#else
    (void)p;
    (void)bytes;
#endif
}
