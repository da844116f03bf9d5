/*
 * pass.c: the stages `simrep compare` and `simrep matrix` share (see
 * pass.h): block sizing and the reading loop, rows held for the measures of
 * the rows, the MPI schedule and the thread pool, and a pair's measures by
 * family.  Both commands were one long function each that mixed these;
 * here each stage is written once, and the commands are the order in which
 * they call them plus their own reporting.
 *
 * Reading.  The loop asks each input for the same rows, checks that it got
 * them (a file shorter than its header says is caught here, whatever the
 * format), and hands the views to one consumer, which folds them into
 * whatever state the command keeps.  It stops at the first failure and says
 * which input failed, so the command can name the file (and, under MPI,
 * the rank's byte range) without parsing messages.
 *
 * Pool.  Jobs are taken from an atomic counter, so threads finishing early
 * take more; a job that fails stops the others after their current job.
 * OpenBLAS's own threads are set to one per worker while several run: its
 * pool is process-wide and concurrent LAPACK calls on it wait on each other
 * (measured: 2 pair workers on a 4-thread pool were slower than 1).
 */
#include "pass.h"
#include "cli.h"
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ reading */

int64_t cli_block_rows(simrep_input *const *in, int count)
{
    int64_t rpi = 1, elements = 0, features = 0;
    int all2d = 1;
    for (int k = 0; k < count; k++) {
        simrep_input_dims d;
        simrep_input_dims_get(in[k], &d);
        rpi = d.rows_per_item > rpi ? d.rows_per_item : rpi;
        elements += d.item_elements;
        features += d.features * (d.views > 0 ? d.views : 1);
        all2d &= d.ndim == 2;
    }
    int64_t per_row = (elements + rpi - 1) / rpi;
    per_row = per_row < features ? features : per_row;
    int64_t block = (int64_t)(4 * 1024 * 1024) / (per_row > 0 ? per_row : 1);
    const int64_t lo = all2d ? 256 : 1;
    block = block < lo ? lo : block > 8192 ? 8192 : block;
    if (rpi > 1)
        block = (block / rpi > 1 ? block / rpi : 1) * rpi;
    return block;
}

simrep_status cli_read(simrep_ctx *ctx, const cli_reader *r, cli_read_failure *fail)
{
    memset(fail, 0, sizeof *fail);
    fail->input = -1;
    int64_t maxviews = 1;
    for (int k = 0; k < r->count; k++) {
        simrep_input_dims d;
        simrep_input_dims_get(r->in[k], &d);
        maxviews = d.views > maxviews ? d.views : maxviews;
    }
    simrep_matrix *store = calloc((size_t)r->count * (size_t)maxviews, sizeof *store);
    simrep_matrix **views = calloc((size_t)(r->count ? r->count : 1), sizeof *views);
    if (!store || !views) {
        free(store);
        free(views);
        return fail->status = SIMREP_E_NOMEM;
    }
    for (int k = 0; k < r->count; k++)
        views[k] = store + (size_t)k * (size_t)maxviews;
    simrep_status st = SIMREP_OK;
    int64_t done = 0, next0 = r->row_begin;
    const int64_t total = r->row_end - r->row_begin;
    for (;;) {
        int64_t r0 = next0, rows = 0;
        if (r->next) {
            if (!r->next(r->user, r->block, &r0, &rows))
                break;
        } else {
            if (next0 >= r->row_end)
                break;
            rows = r->row_end - next0 < r->block ? r->row_end - next0 : r->block;
            next0 += rows;
        }
        fail->r0 = r0;
        for (int k = 0; k < r->count && st == SIMREP_OK; k++) {
            st = simrep_input_read(ctx, r->in[k], r0, rows, views[k]);
            if (st == SIMREP_OK && views[k][0].rows != rows) {
                st = SIMREP_E_FORMAT;
                fail->short_read = 1;
            }
            if (st != SIMREP_OK)
                fail->input = k;
        }
        if (st == SIMREP_OK)
            st = r->consume(r->user, ctx, r0, rows, views);
        if (st != SIMREP_OK)
            break;
        done += rows;
        if (r->progress)
            r->progress(r->user, done, r->next ? done : total);
    }
    free(store);
    free(views);
    fail->status = st;
    return st;
}

/* ------------------------------------------------------------ holding */

int cli_rows_alloc(cli_rows *rows, int64_t n, int64_t p, int64_t views)
{
    memset(rows, 0, sizeof *rows);
    rows->v = calloc((size_t)(views > 0 ? views : 1), sizeof *rows->v);
    if (!rows->v)
        return -1;
    rows->n = n;
    rows->p = p;
    rows->views = views;
    for (int64_t t = 0; t < views; t++)
        if (!(rows->v[t] = calloc((size_t)n * (size_t)p + 1, sizeof(double)))) {
            cli_rows_free(rows);
            return -1;
        }
    return 0;
}

void cli_rows_put(cli_rows *rows, int64_t r0, const simrep_matrix *views)
{
    for (int64_t t = 0; t < rows->views; t++)
        simrep_matrix_to_double(&views[t], rows->v[t] + r0 * rows->p, rows->p);
}

void cli_rows_allgather(cli_rows *rows, int64_t rpi)
{
    for (int64_t t = 0; t < rows->views; t++)
        par_allgather_rows(rows->v[t], rows->n, rows->p, rpi);
}

void cli_rows_allreduce(cli_rows *rows)
{
    for (int64_t t = 0; t < rows->views; t++)
        par_allreduce_sum(NULL, rows->v[t], rows->n * rows->p);
}

simrep_matrix cli_rows_view(const cli_rows *rows, int64_t t)
{
    return simrep_matrix_c(rows->v[t], SIMREP_F64, rows->n, rows->p);
}

void cli_rows_free(cli_rows *rows)
{
    for (int64_t t = 0; rows->v && t < rows->views; t++)
        free(rows->v[t]);
    free(rows->v);
    memset(rows, 0, sizeof *rows);
}

/* ---------------------------------------------------------- scheduling */

int cli_schedule(int count, const double *cost, int ranks, int *who)
{
    int *order = malloc((size_t)(count ? count : 1) * sizeof *order);
    double *load = calloc((size_t)ranks, sizeof *load);
    if (!order || !load) {
        free(order), free(load);
        return -1;
    }
    for (int t = 0; t < count; t++)
        order[t] = t;
    for (int t = 1; t < count; t++) { /* insertion sort: stable, counts are small */
        int v = order[t], u = t;
        for (; u > 0 && cost[order[u - 1]] < cost[v]; u--)
            order[u] = order[u - 1];
        order[u] = v;
    }
    for (int t = 0; t < count; t++) {
        int best = 0;
        for (int q = 1; q < ranks; q++)
            if (load[q] < load[best])
                best = q;
        who[order[t]] = best;
        load[best] += cost[order[t]];
    }
    free(order), free(load);
    return 0;
}

typedef struct pool {
    cli_job_fn fn;
    void (*progress)(void *user, int done, int total);
    void *user;
    int njobs;
    atomic_int next, stop, done;
} pool;

static void *pool_worker(void *arg)
{
    pool *p = arg;
    simrep_ctx *ctx = cli_ctx_new();
    while (!atomic_load(&p->stop)) {
        const int job = atomic_fetch_add(&p->next, 1);
        if (job >= p->njobs)
            break;
        if (p->fn(p->user, ctx, job) != 0) {
            atomic_store(&p->stop, 1);
            break;
        }
        const int done = atomic_fetch_add(&p->done, 1) + 1;
        if (p->progress)
            p->progress(p->user, done, p->njobs);
    }
    simrep_ctx_free(ctx);
    return NULL;
}

void cli_pool_run(int threads, int njobs, cli_job_fn fn, void (*progress)(void *user, int done, int total),
                  void *user)
{
    pool p;
    p.fn = fn;
    p.progress = progress;
    p.user = user;
    p.njobs = njobs;
    atomic_init(&p.next, 0);
    atomic_init(&p.stop, 0);
    atomic_init(&p.done, 0);
    int nt = threads < njobs ? threads : njobs;
    nt = nt < 1 ? 1 : nt;
    pthread_t *th = calloc((size_t)nt, sizeof *th);
    int started = 0;
    const int blas_threads = simrep_blas_threads();
    if (nt > 1)
        simrep_set_blas_threads(1);
    if (th)
        for (; started < nt - 1; started++)
            if (pthread_create(&th[started], NULL, pool_worker, &p) != 0)
                break;
    pool_worker(&p); /* the calling thread works too */
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    simrep_set_blas_threads(blas_threads);
    free(th);
}

/* ----------------------------------------------------------- computing */

/* Cost units (simrep_measure_pair_cost) a thread does per second in the
 * measures of the rows.  Measured: cka_rbf, rsa, mutual_knn and cknna on
 * 4,000 x 100 against 4,000 x 100 (3.2e9 units) took 0.85, 0.91, 0.39 and
 * 0.37 CPU-s with one OpenBLAS thread; 3e9 keeps estimates on the long
 * side. */
#define ROWS_UNITS_PER_SECOND 3.0e9

double cli_rows_seconds(const cli_measures_split *ms, const int *use, int64_t n, double pq, double times, int threads)
{
    double units = 0;
    for (int k = 0; k < ms->nrows; k++) /* pair cost is linear in p + q: one evaluation at p + q = pq */
        if (!use || use[k])
            units += simrep_measure_pair_cost(ms->rows[k], n, (int64_t)pq, 0);
    return units * times / ROWS_UNITS_PER_SECOND / (threads > 0 ? threads : 1);
}

void cli_duration_text(double secs, char *buf, size_t len)
{
    if (secs < 120)
        snprintf(buf, len, "%.0f s", secs);
    else if (secs < 7200)
        snprintf(buf, len, "%.0f min", secs / 60);
    else
        snprintf(buf, len, "%.1f h", secs / 3600);
}

double cli_rows_announce(const cli_measures_split *ms, int64_t n, double pq, double pairs, int threads)
{
    char names[256] = "";
    size_t len = 0;
    for (int k = 0; k < ms->nrows; k++)
        len += (size_t)snprintf(names + len, len < sizeof names ? sizeof names - len : 0, "%s%s", k ? ", " : "",
                                simrep_measure_get_info(ms->rows[k])->id);
    const double secs = cli_rows_seconds(ms, NULL, n, pq, 1, threads);
    if (secs > 10 && par_rank() == 0) {
        char t[32];
        cli_duration_text(secs, t, sizeof t);
        fprintf(stderr, "simrep: note: %s take%s O(n^2) time in the samples: about %s for n = %lld%s (estimated, "
                "%d thread%s); -m all leaves such measures out\n", names, ms->nrows == 1 ? "s" : "", t, (long long)n,
                pairs > 1 ? " and every pair" : "", threads, threads == 1 ? "" : "s");
    }
    return secs;
}

void cli_measures_split_of(const simrep_measure *ids, int count, cli_measures_split *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < count; i++) {
        const simrep_family f = simrep_measure_get_info(ids[i])->family;
        if (f == SIMREP_FAMILY_MAPS) {
            out->maps = 1;
        } else if (f == SIMREP_FAMILY_ROWS) {
            out->rows_at[out->nrows] = i;
            out->rows[out->nrows++] = ids[i];
        } else {
            out->moments_at[out->nmoments] = i;
            out->moments[out->nmoments++] = ids[i];
        }
    }
}

/* A failure that belongs to one measure of the list (cli_measure_error). */
static int measure_failure(simrep_status st)
{
    return st == SIMREP_E_DEGENERATE || st == SIMREP_E_NUMERIC;
}

/* The failure in ctx as one measure's error: the side at fault is the
 * context's (simrep_ctx_error names input ix or iy of the call). */
static void note_failure(simrep_ctx *ctx, simrep_status st, int ix, int iy, cli_measure_error *err)
{
    simrep_error_info e;
    simrep_ctx_error(ctx, &e);
    err->st = st;
    err->side = e.input < 0 ? -1 : e.input == ix ? 0 : e.input == iy ? 1 : -1;
    snprintf(err->msg, sizeof err->msg, "%s", simrep_ctx_message(ctx));
    snprintf(err->detail, sizeof err->detail, "%s", err->side >= 0 ? e.detail : err->msg);
}

/* A library call computing measures ms[0..count) into out. */
typedef simrep_status (*list_fn)(const void *args, const simrep_measure *ms, int count, simrep_result *out);

static simrep_status run_each(simrep_ctx *ctx, const simrep_measure *ms, int count, const int *at, list_fn fn,
                              const void *args, int ix, int iy, simrep_result *results, cli_measure_error *errs);

/* The sub-list ms (its places in the full list: at) in one call, its
 * results moved to results[at[k]]; when it fails with a measure's failure,
 * each measure on its own, those that fail noted in errs[at[k]] (ix and iy:
 * the call's inputs, for the side at fault). */
static simrep_status run_list(simrep_ctx *ctx, const simrep_measure *ms, int count, const int *at, list_fn fn,
                              const void *args, int ix, int iy, simrep_result *results, cli_measure_error *errs)
{
    if (count == 0)
        return SIMREP_OK;
    simrep_result part[SIMREP_MEASURE_COUNT];
    simrep_status st = fn(args, ms, count, part);
    if (st == SIMREP_OK) {
        for (int k = 0; k < count; k++)
            results[at[k]] = part[k];
        return st;
    }
    return measure_failure(st) ? run_each(ctx, ms, count, at, fn, args, ix, iy, results, errs) : st;
}

/* Each measure of ms on its own (run_list's second half). */
static simrep_status run_each(simrep_ctx *ctx, const simrep_measure *ms, int count, const int *at, list_fn fn,
                              const void *args, int ix, int iy, simrep_result *results, cli_measure_error *errs)
{
    simrep_result part[SIMREP_MEASURE_COUNT];
    simrep_status st = SIMREP_OK;
    for (int k = 0; k < count; k++) {
        st = fn(args, &ms[k], 1, &part[k]);
        if (st == SIMREP_OK)
            results[at[k]] = part[k];
        else if (measure_failure(st))
            note_failure(ctx, st, ix, iy, &errs[at[k]]);
        else if (st != SIMREP_OK)
            return st;
    }
    return SIMREP_OK;
}

typedef struct moments_args {
    simrep_ctx *ctx;
    const simrep_pairs *pairs;
    int i, j;
} moments_args;

static simrep_status moments_list(const void *args, const simrep_measure *ms, int count, simrep_result *out)
{
    const moments_args *m = args;
    return simrep_pairs_compare(m->ctx, m->pairs, m->i, m->j, ms, count, out);
}

simrep_status cli_pair_moments(simrep_ctx *ctx, const cli_measures_split *s, const simrep_pairs *pairs, int i, int j,
                               simrep_result *results, cli_measure_error *errs)
{
    const moments_args args = {ctx, pairs, i, j};
    return run_list(ctx, s->moments, s->nmoments, s->moments_at, moments_list, &args, i, j, results, errs);
}

typedef struct prepare_args {
    simrep_ctx *ctx;
    const simrep_moments *m;
    const simrep_options *opt;
} prepare_args;

/* The measures ms of the pair (0, 1) of m, prepared for them alone. */
static simrep_status prepare_list(const void *args, const simrep_measure *ms, int count, simrep_result *out)
{
    const prepare_args *a = args;
    simrep_pairs *pairs = NULL;
    simrep_status st = simrep_pairs_prepare(a->ctx, a->m, a->opt, ms, count, &pairs);
    if (st == SIMREP_OK)
        st = simrep_pairs_compare(a->ctx, pairs, 0, 1, ms, count, out);
    simrep_pairs_free(a->ctx, pairs);
    return st;
}

simrep_status cli_moments_measures(simrep_ctx *ctx, const cli_measures_split *s, const simrep_moments *m,
                                   const simrep_options *opt, simrep_result *results, cli_measure_error *errs)
{
    simrep_pairs *pairs = NULL;
    simrep_status st = simrep_pairs_prepare(ctx, m, opt, s->moments, s->nmoments, &pairs);
    if (st == SIMREP_OK) {
        st = cli_pair_moments(ctx, s, pairs, 0, 1, results, errs);
        simrep_pairs_free(ctx, pairs);
        return st;
    }
    /* A LAPACK failure in one input's eigendecomposition fails the measures
     * that need it (the CCA family's, say), not the others (cka): each
     * measure prepared for itself, as a failure of the pair is run. */
    if (st != SIMREP_E_NUMERIC)
        return st;
    const prepare_args args = {ctx, m, opt};
    return run_each(ctx, s->moments, s->nmoments, s->moments_at, prepare_list, &args, 0, 1, results, errs);
}

typedef struct rows_args {
    simrep_ctx *ctx;
    const simrep_matrix *x, *y;
    const simrep_options *opt;
} rows_args;

static simrep_status rows_list(const void *args, const simrep_measure *ms, int count, simrep_result *out)
{
    const rows_args *m = args;
    return simrep_compare(m->ctx, m->x, m->y, m->opt, ms, count, out);
}

simrep_status cli_pair_rows(simrep_ctx *ctx, const cli_measures_split *s, const simrep_matrix *x,
                            const simrep_matrix *y, const simrep_options *opt, simrep_result *results,
                            cli_measure_error *errs)
{
    const rows_args args = {ctx, x, y, opt};
    return run_list(ctx, s->rows, s->nrows, s->rows_at, rows_list, &args, 0, 1, results, errs);
}
