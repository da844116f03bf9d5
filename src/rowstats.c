/*
 * rowstats.c: bootstrap intervals and permutation nulls of the measures
 * computed from the rows (family ROWS: rsa, mutual_knn, cknna, cka_rbf;
 * simrep_stats_rows).  stats.c does the same for the measures of the
 * moments from one pass; these have no moments to recombine, so every
 * resample and every null is one evaluation of the measure, O(n^2): the
 * cost is (B + K + 1) x the measure's (the + 1: the observed value is
 * recomputed on one BLAS thread, as the resamples are, so that p-values do
 * not move with the thread count).
 *
 * Units are those of stats.c (options.unit_rows consecutive rows, or
 * options.unit_starts): an image of conv positions, a sequence, K rows.
 *
 * Bootstrap.  Resample b draws U units with replacement from the stream
 * stats.c's bootstrap draws its buckets from (stream 2, index b: with one
 * unit per bucket, the moments' exact bootstrap draws the same units).
 * Copies are the problem: a resampled unit twice is two samples at distance
 * 0 from each other, its own nearest neighbour, an RBF kernel value of 1,
 * which no two samples of the data are; RDM entries of 0, mutual neighbours
 * that agree by construction, would inflate every resample.  rsatoolbox's
 * bootstrap of patterns (inference.bootstrap_sample_pattern, then
 * rdms.subsample_pattern) leaves out the dissimilarities of a pattern with
 * its own copies and keeps every other pair as often as it was drawn.  So
 * here: the measure runs on the distinct units drawn, each row weighing its
 * unit's multiplicity w (the registry's rows_weighted functions): rsa
 * correlates the pairs (i, j) of distinct rows with weight w_i w_j (ranks
 * tied within the w_i w_j copies of a pair), mutual_knn walks each row's
 * neighbours by similarity letting row j fill w_j of the k places and
 * averages over rows with weight w_i, cknna's masks are those places and
 * its unbiased HSIC runs over the sum of the weights.  That is the measure
 * of the resample with the copy-copy pairs left out, exactly (tests/python
 * compare with numpy on the materialized resample).  Rows of one unit
 * (positions of an image) are different rows and stay paired.  cka_rbf
 * keeps the copy pairs instead (as linear CKA's moments bootstrap does: a
 * resample IS the data with duplicated rows): its V-statistic over the
 * expanded data is the weighted one over the distinct rows, a copy pair's
 * k(x, x) = 1 being the diagonal counted w_i^2 times; its bandwidth stays
 * the observed data's (the registry's .rows_fixed, computed once before
 * the resamples: a hyperparameter, not re-estimated per resample).
 *
 * Permutations.  Null k pairs unit u of x with unit sigma(u) of y, sigma a
 * uniformly random permutation of all the units (Fisher-Yates from stream
 * 18, never the identity): for rsa this is the Mantel test of the two RDMs.
 * Exact p-values under independence.  A last unit with fewer rows than the
 * others stays with its own partner.  Units of different sizes: refused,
 * as stats.c ("one size").
 *
 * Nothing is subsampled: the measures use every row (rsa.c, knn.c,
 * cka_rbf.c), so the resamples draw from every unit.
 *
 * Work: tasks (the observed value, then resamples, then nulls) are taken in
 * order by options.threads workers with one BLAS thread each; every value
 * lands in its own slot, so results do not depend on the thread count.  A
 * worker gathers the resample's rows (converted to double) into its own
 * buffers; x is read in place for the nulls.  Memory per worker: those
 * copies plus the measure's (rows as double again, tiles, kNN lists, rsa's
 * in-memory pairs of a weighted rank comparison); workers are fewer to fit
 * options.max_memory, and cka_rbf's kept tiles (rbf_memory) shrink to what
 * is left (the same bits, recomputed instead).
 */
#include "measures.h"
#include "tiles.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { STREAM_BOOT = 2, STREAM_ROWS_PERM = 18 };
#define DEFAULT_MEMORY (1024.0 * 1024.0 * 1024.0)

typedef struct rjob {
    const simrep_matrix *x, *y;
    simrep_options opt;               /* the caller's, rbf_memory lowered to the workers' share */
    const simrep_stats_options *so;
    const simrep_measure *ms;
    int count;
    const int *active;                /* measures defined for the data */
    int64_t n, units, ur;
    const int64_t *us;                /* units + 1 row offsets, or NULL */
    int64_t B, K, tasks;              /* tasks: 1 + B + K (task 0: the observed values) */
    double *sim, *dist;               /* tasks x count */
    double (*fixed)[SIMREP__ROWS_FIXED_MAX]; /* count: each measure's .rows_fixed of the observed data */
    pthread_mutex_t lock;
    int64_t next, done;
    simrep_status status;
    char message[SIMREP__MSG_MAX];
    const int *cancel;
    simrep_ctx *report;               /* the caller's context (progress) */
    int64_t reporting;                /* the task the calling thread runs (its inner progress) */
} rjob;

static int64_t unit_start(const rjob *jb, int64_t u)
{
    if (jb->us)
        return jb->us[u];
    const int64_t r = u * jb->ur;
    return r < jb->n ? r : jb->n;
}

/* Resample b's multiplicity of every unit. */
static void draw_units(const rjob *jb, int64_t b, int64_t *mult)
{
    uint64_t st = simrep__rng_stream(jb->so->seed, STREAM_BOOT, (uint64_t)b);
    memset(mult, 0, (size_t)jb->units * sizeof *mult);
    for (int64_t u = 0; u < jb->units; u++)
        mult[simrep__rng_below(&st, (uint64_t)jb->units)]++;
}

/* Null k's permutation of the units of equal size (all but a short last
 * one), Fisher-Yates, redrawn if it is the identity. */
static void draw_perm(const rjob *jb, int64_t k, int64_t *sigma)
{
    const int64_t m = jb->units - (unit_start(jb, jb->units) - unit_start(jb, jb->units - 1) < jb->ur ? 1 : 0);
    uint64_t st = simrep__rng_stream(jb->so->seed, STREAM_ROWS_PERM, (uint64_t)k);
    for (;;) {
        for (int64_t u = 0; u < jb->units; u++)
            sigma[u] = u;
        for (int64_t a = m - 1; a > 0; a--) {
            const int64_t j = (int64_t)simrep__rng_below(&st, (uint64_t)(a + 1)), t = sigma[a];
            sigma[a] = sigma[j];
            sigma[j] = t;
        }
        int id = 1;
        for (int64_t u = 0; u < m && id; u++)
            id = sigma[u] == u;
        if (!id || m < 2)
            return;
    }
}

static void fail_job(rjob *jb, simrep_ctx *ctx, simrep_status st)
{
    pthread_mutex_lock(&jb->lock);
    if (jb->status == SIMREP_OK) {
        jb->status = st;
        snprintf(jb->message, sizeof jb->message, "%s", simrep_ctx_message(ctx));
    }
    pthread_mutex_unlock(&jb->lock);
}

/* The calling thread's worker passes its measure's own progress on as a
 * share of the whole job. */
static void inner_progress(void *user, const char *stage, double fraction)
{
    (void)stage;
    rjob *jb = user;
    const double total = (double)(jb->tasks - 1);
    if (total > 0 && jb->reporting > 0)
        simrep__progress(jb->report, jb->reporting <= jb->B ? "rows bootstrap" : "rows permutations",
                         ((double)jb->done + fraction) / total);
}

typedef struct worker_arg {
    rjob *jb;
    int calling; /* 1 for the calling thread (reports progress) */
} worker_arg;

static void run_worker(rjob *jb, int calling)
{
    const int64_t n = jb->n, p = jb->x->cols, q = jb->y->cols;
    simrep_ctx *ctx = simrep_ctx_new(&jb->report->allocator);
    double *gx = NULL, *gy = NULL, *w = NULL;
    int64_t *mult = NULL, *sigma = NULL;
    simrep_status st = ctx ? SIMREP_OK : SIMREP_E_NOMEM;
    if (ctx) {
        simrep_ctx_set_cancel(ctx, jb->cancel);
        if (calling)
            simrep_ctx_set_progress(ctx, inner_progress, jb);
        gx = simrep__alloc_array(ctx, (size_t)(n * p), sizeof(double), "the resamples' rows of x");
        gy = gx ? simrep__alloc_array(ctx, (size_t)(n * q), sizeof(double), "the resamples' rows of y") : NULL;
        w = gy ? simrep__alloc_array(ctx, (size_t)n, sizeof(double), "the resamples' weights") : NULL;
        mult = w ? simrep__alloc_array(ctx, (size_t)jb->units, sizeof(int64_t), "the resamples' units") : NULL;
        sigma = mult ? simrep__alloc_array(ctx, (size_t)jb->units, sizeof(int64_t), "the permutations") : NULL;
        if (!sigma)
            st = SIMREP_E_NOMEM;
    }
    if (st != SIMREP_OK) {
        if (ctx)
            fail_job(jb, ctx, st);
        else {
            pthread_mutex_lock(&jb->lock);
            if (jb->status == SIMREP_OK) {
                jb->status = SIMREP_E_NOMEM;
                snprintf(jb->message, sizeof jb->message, "out of memory for a worker of the resamples");
            }
            pthread_mutex_unlock(&jb->lock);
        }
    }
    for (; st == SIMREP_OK;) {
        pthread_mutex_lock(&jb->lock);
        const int64_t task = jb->status == SIMREP_OK ? jb->next : jb->tasks;
        jb->next = task + 1;
        if (calling)
            jb->reporting = task;
        pthread_mutex_unlock(&jb->lock);
        if (task >= jb->tasks)
            break;
        if (simrep__cancel_requested(ctx)) {
            fail_job(jb, ctx, simrep__cancelled(ctx));
            break;
        }
        simrep_matrix mx = *jb->x, my = *jb->y;
        const double *wt = NULL;
        int boot = 0;
        if (task >= 1 && task <= jb->B) { /* resample task - 1: the distinct units drawn, weighted */
            boot = 1;
            draw_units(jb, task - 1, mult);
            int64_t rows = 0;
            for (int64_t u = 0; u < jb->units; u++) {
                if (!mult[u])
                    continue;
                const int64_t r0 = unit_start(jb, u), nr = unit_start(jb, u + 1) - r0;
                simrep__rows_to_double(jb->x, r0, nr, gx + rows * p, p);
                simrep__rows_to_double(jb->y, r0, nr, gy + rows * q, q);
                for (int64_t r = 0; r < nr; r++)
                    w[rows + r] = (double)mult[u];
                rows += nr;
            }
            mx = simrep_matrix_c(gx, SIMREP_F64, rows, p);
            my = simrep_matrix_c(gy, SIMREP_F64, rows, q);
            wt = w;
        } else if (task > jb->B) { /* null task - 1 - B: y's units re-paired */
            draw_perm(jb, task - 1 - jb->B, sigma);
            for (int64_t u = 0; u < jb->units; u++) {
                const int64_t r0 = unit_start(jb, u), s0 = unit_start(jb, sigma[u]);
                simrep__rows_to_double(jb->y, s0, unit_start(jb, u + 1) - r0, gy + r0 * q, q);
            }
            my = simrep_matrix_c(gy, SIMREP_F64, n, q);
        }
        for (int i = 0; i < jb->count && st == SIMREP_OK; i++) {
            double *sv = &jb->sim[task * jb->count + i], *dv = &jb->dist[task * jb->count + i];
            const simrep__measure_row *row = simrep__measure_row_get(jb->ms[i]);
            if (!jb->active[i] || (boot && !row->rows_weighted))
                continue; /* its slots stay NaN */
            simrep_result res;
            memset(&res, 0, sizeof res);
            res.measure = jb->ms[i];
            /* What the resamples keep of the observed data (cka_rbf's
             * bandwidth), found with the observed value. */
            simrep_status cs = task == 0 && jb->B > 0 && row->rows_fixed
                                   ? row->rows_fixed(ctx, &mx, &my, &jb->opt, jb->fixed[i])
                                   : SIMREP_OK;
            if (cs == SIMREP_OK)
                cs = boot ? row->rows_weighted(ctx, &mx, &my, &jb->opt, wt, jb->fixed[i], &res)
                                    : row->rows(ctx, &mx, &my, &jb->opt, &res);
            if (cs == SIMREP_OK) {
                *sv = res.similarity;
                *dv = res.distance;
            } else if (cs == SIMREP_E_NOMEM || cs == SIMREP_E_CANCELLED || cs == SIMREP_E_IO ||
                       cs == SIMREP_E_INVALID || cs == SIMREP_E_NONFINITE || task == 0) {
                /* The observed data themselves must evaluate (the caller
                 * checked them with the same call); a resample where the
                 * measure is undefined (too few distinct units) is left
                 * out. */
                st = cs;
            }
            simrep_result_clear(ctx, &res);
        }
        if (st != SIMREP_OK) {
            fail_job(jb, ctx, st);
            break;
        }
        pthread_mutex_lock(&jb->lock);
        jb->done += task > 0;
        const double frac = jb->tasks > 1 ? (double)jb->done / (double)(jb->tasks - 1) : 1;
        pthread_mutex_unlock(&jb->lock);
        if (calling && task > 0)
            simrep__progress(jb->report, task <= jb->B ? "rows bootstrap" : "rows permutations", frac);
    }
    if (ctx) {
        simrep__free(ctx, gx);
        simrep__free(ctx, gy);
        simrep__free(ctx, w);
        simrep__free(ctx, mult);
        simrep__free(ctx, sigma);
        simrep_ctx_free(ctx);
    }
}

static void *worker_main(void *arg)
{
    run_worker(arg, 0);
    return NULL;
}

/* Bytes one worker holds at most: its copies of the rows, the measure's
 * rows as double, tiles, kNN lists, rsa's pairs of a rank comparison. */
static double worker_bytes(const rjob *jb, int any_boot)
{
    const double n = (double)jb->n, pq = (double)(jb->x->cols + jb->y->cols), M = n * (n - 1) / 2;
    double extra = 0;
    for (int i = 0; i < jb->count; i++) {
        double e = 2.0 * 1048576.0 * 4; /* tiles, heaps, scratch */
        switch (jb->ms[i]) {
        case SIMREP_MUTUAL_KNN:
        case SIMREP_CKNNA:
            e += 3.0 * 16.0 * n * (double)jb->opt.knn;
            break;
        case SIMREP_RSA:
            if (jb->opt.rsa_compare != SIMREP_RSA_PEARSON) {
                /* a resample's distinct units: about 63% of them, 40% of the pairs */
                const double pairs = any_boot ? 64.0 * 0.45 * M : 32.0 * M;
                const double budget = jb->opt.rsa_memory * 1048576.0;
                e += pairs < budget ? pairs : budget;
            }
            break;
        default:
            break;
        }
        extra = e > extra ? e : extra;
    }
    return 8.0 * n * pq * 2 + 8.0 * n * 3 + extra;
}

simrep_status simrep_stats_rows(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                const simrep_stats_options *so, const simrep_options *options,
                                const simrep_measure *measures, int count, simrep_stats_result *results,
                                simrep_stats_info *info)
{
    if (!ctx)
        return SIMREP_E_INVALID;
    if (!x || !y || !so || !measures || !results || count < 0 || count > SIMREP_MEASURE_COUNT)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_stats_rows: NULL argument or bad count");
    simrep_status cs = simrep__check_matrix(ctx, x, "x");
    if (cs == SIMREP_OK)
        cs = simrep__check_matrix(ctx, y, "y");
    if (cs != SIMREP_OK)
        return cs;
    if (x->rows != y->rows || x->rows < 2)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "simrep_stats_rows: x and y must have the same number of rows (>= 2), got %lld and %lld",
                            (long long)x->rows, (long long)y->rows);
    if (so->bootstrap < 0 || so->bootstrap == 1 || so->bootstrap > 100000000)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "bootstrap must be 0 (none) or a number of resamples from 2 to 1e8 (got %lld; one "
                            "resample gives no standard error)",
                            (long long)so->bootstrap);
    if (so->permutations < 0 || so->permutations > 100000000)
        return simrep__fail(ctx, SIMREP_E_INVALID, "permutations must be from 0 to 1e8 (got %lld)",
                            (long long)so->permutations);
    if (!(so->ci > 0 && so->ci < 1))
        return simrep__fail(ctx, SIMREP_E_INVALID, "ci must be a level in (0, 1) (got %g)", so->ci);
    if (so->unit_rows < 1 && !so->unit_starts)
        return simrep__fail(ctx, SIMREP_E_INVALID, "unit_rows must be >= 1 (got %lld)", (long long)so->unit_rows);
    if (so->max_memory < 0 || !isfinite(so->max_memory))
        return simrep__fail(ctx, SIMREP_E_INVALID, "max_memory must be >= 0 bytes (got %g)", so->max_memory);
    for (int i = 0; i < count; i++) {
        const simrep_measure_info *in = simrep_measure_get_info(measures[i]);
        if (!in || in->family != SIMREP_FAMILY_ROWS)
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "simrep_stats_rows: %s is not a measure of the rows (family rows); "
                                "simrep_stats_compute resamples the moments' measures",
                                in ? in->id : "an unknown measure");
    }
    simrep_options defaults;
    if (!options) {
        simrep_options_init(&defaults);
        options = &defaults;
    }
    const int64_t n = x->rows;
    rjob jb;
    memset(&jb, 0, sizeof jb);
    jb.x = x;
    jb.y = y;
    jb.opt = *options;
    jb.so = so;
    jb.ms = measures;
    jb.count = count;
    jb.n = n;
    if (so->unit_starts) {
        jb.us = so->unit_starts;
        jb.units = so->units;
        if (jb.units < 1 || jb.us[0] != 0 || jb.us[jb.units] != n)
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "unit_starts must run from 0 to n = %lld in increasing offsets", (long long)n);
        int64_t size = jb.us[1] - jb.us[0], same = 1, lo = INT64_MAX, hi = 0;
        for (int64_t u = 0; u < jb.units; u++) {
            const int64_t r = jb.us[u + 1] - jb.us[u];
            if (r <= 0)
                return simrep__fail(ctx, SIMREP_E_INVALID, "unit_starts must increase (unit %lld is empty)",
                                    (long long)u);
            same &= r == size;
            lo = r < lo ? r : lo;
            hi = r > hi ? r : hi;
        }
        if (same) { /* evenly spaced offsets are units of one size */
            jb.us = NULL;
            jb.ur = size;
        } else if (so->permutations > 0) {
            simrep__fail(ctx, SIMREP_E_INVALID,
                         "permutations re-pair the units of x and y row for row, which needs units of one size; these "
                         "have %lld to %lld rows (use the bootstrap, or units of one size)",
                         (long long)lo, (long long)hi);
            return simrep__error_option(ctx, "unit_starts");
        }
        jb.ur = jb.us ? 0 : jb.ur;
    } else {
        jb.ur = so->unit_rows;
        jb.units = (n + jb.ur - 1) / jb.ur;
    }
    /* One unit has one resample (itself): an interval of width 0.  U units
     * of one size have U! - 1 re-pairings, so p >= 1 / U!: below 4 units
     * (23 re-pairings) no p-value can reach 0.05, and with 1 the null is
     * the observed value.  Said, not computed. */
    const int64_t whole = jb.us || jb.units < 2 || n % jb.ur == 0 ? jb.units : jb.units - 1;
    if (so->bootstrap > 0 && jb.units < 2) {
        simrep__fail(ctx, SIMREP_E_INVALID,
                     "the bootstrap resamples units, and there is 1 unit of %lld rows: at least 2 are needed (fewer "
                     "rows per unit)",
                     (long long)n);
        return simrep__error_option(ctx, "unit_rows");
    }
    if (so->permutations > 0 && whole < 4) {
        static const int fact[4] = {1, 1, 2, 6};
        simrep__fail(ctx, SIMREP_E_INVALID,
                     "permutations re-pair units of one size, and there %s %lld unit%s of %lld row%s: %d "
                     "re-pairing%s, so no p-value below %.3g; at least 4 units are needed (fewer rows per unit)",
                     whole == 1 ? "is" : "are", (long long)whole, whole == 1 ? "" : "s",
                     (long long)(jb.us ? jb.us[1] : jb.ur), (jb.us ? jb.us[1] : jb.ur) == 1 ? "" : "s",
                     fact[whole] - 1, fact[whole] - 1 == 1 ? "" : "s", 1.0 / fact[whole]);
        return simrep__error_option(ctx, "unit_rows");
    }
    if (info) {
        memset(info, 0, sizeof *info);
        info->units = jb.units;
        info->unit_rows = jb.ur;
        info->min_unit_rows = info->max_unit_rows = jb.ur;
        if (jb.us) {
            info->min_unit_rows = INT64_MAX;
            for (int64_t u = 0; u < jb.units; u++) {
                const int64_t r = jb.us[u + 1] - jb.us[u];
                info->min_unit_rows = r < info->min_unit_rows ? r : info->min_unit_rows;
                info->max_unit_rows = r > info->max_unit_rows ? r : info->max_unit_rows;
            }
        } else if (n % jb.ur) {
            info->min_unit_rows = n % jb.ur;
        }
        info->exact_bootstrap = so->bootstrap > 0;
    }
    int any_boot = 0;
    for (int i = 0; i < count; i++)
        any_boot |= so->bootstrap > 0 && simrep__measure_row_get(measures[i])->rows_weighted != NULL;
    jb.B = any_boot ? so->bootstrap : 0;
    jb.K = so->permutations;
    jb.tasks = 1 + jb.B + jb.K;

    /* Workers within max_memory: fewer of them, then cka_rbf's kept tiles
     * shrink to what is left. */
    const double budget = so->max_memory > 0 ? so->max_memory : DEFAULT_MEMORY;
    const double one = worker_bytes(&jb, any_boot);
    if (one > budget) {
        simrep__fail(ctx, SIMREP_E_INVALID,
                     "the resamples of the rows measures need %.0f MiB per worker (a copy of the %lld rows as float64 "
                     "and the measure's working memory), more than the memory allowed (%.0f MiB)",
                     one / 1048576.0, (long long)n, budget / 1048576.0);
        return simrep__error_option(ctx, "max_memory");
    }
    int threads = so->threads > 1 && simrep__ctx_threads_ok(ctx) ? so->threads : 1;
    if ((int64_t)threads > jb.tasks)
        threads = (int)jb.tasks;
    while (threads > 1 && (double)threads * one > budget)
        threads--;
    const double left = (budget / threads - one) / 1048576.0;
    if (jb.opt.rbf_memory > left)
        jb.opt.rbf_memory = left > 0 ? floor(left) : 0;

    int active[SIMREP_MEASURE_COUNT];
    for (int i = 0; i < count; i++)
        active[i] = 1;
    jb.active = active;
    double fixed[SIMREP_MEASURE_COUNT][SIMREP__ROWS_FIXED_MAX];
    memset(fixed, 0, sizeof fixed);
    jb.fixed = fixed;
    jb.sim = simrep__alloc_array(ctx, (size_t)(jb.tasks * (count ? count : 1)), sizeof(double), "the resamples");
    jb.dist = jb.sim ? simrep__alloc_array(ctx, (size_t)(jb.tasks * (count ? count : 1)), sizeof(double),
                                           "the resamples")
                     : NULL;
    double *vals = jb.dist ? simrep__alloc_array(ctx, (size_t)jb.tasks, sizeof(double), "the resamples") : NULL;
    if (!vals) {
        simrep__free(ctx, jb.sim);
        simrep__free(ctx, jb.dist);
        return SIMREP_E_NOMEM;
    }
    for (int64_t e = 0; e < jb.tasks * count; e++)
        jb.sim[e] = jb.dist[e] = NAN; /* left out unless evaluated */
    const int blas = simrep_blas_threads();
    simrep_set_blas_threads(1);
    pthread_mutex_init(&jb.lock, NULL);
    jb.cancel = ctx->cancel;
    jb.report = ctx;
    jb.status = SIMREP_OK;

    /* Task 0 first, measure by measure: one the data do not define
     * (degenerate) is left out (the caller's own evaluation says why). */
    simrep_status st = SIMREP_OK;
    const int64_t all_tasks = jb.tasks;
    jb.tasks = 1;
    for (int i = 0; i < count; i++) {
        int save[SIMREP_MEASURE_COUNT];
        memcpy(save, active, sizeof save);
        for (int j = 0; j < count; j++)
            active[j] = j == i;
        jb.next = 0;
        jb.status = SIMREP_OK;
        run_worker(&jb, 0);
        memcpy(active, save, sizeof save);
        if (jb.status == SIMREP_E_DEGENERATE || jb.status == SIMREP_E_NUMERIC) {
            active[i] = 0;
        } else if (jb.status != SIMREP_OK) {
            st = simrep__fail(ctx, jb.status, "%s", jb.message);
            break;
        }
    }
    jb.tasks = all_tasks;
    jb.next = 1;
    jb.done = 0;
    jb.status = SIMREP_OK;
    if (st == SIMREP_OK && jb.tasks > 1) {
        pthread_t *tid = threads > 1 ? malloc((size_t)(threads - 1) * sizeof *tid) : NULL;
        int started = 0;
        for (int t = 0; t + 1 < threads && tid; t++) {
            if (pthread_create(&tid[t], NULL, worker_main, &jb) != 0)
                break;
            started++;
        }
        run_worker(&jb, 1);
        for (int t = 0; t < started; t++)
            pthread_join(tid[t], NULL);
        free(tid);
        if (jb.status != SIMREP_OK)
            st = simrep__fail(ctx, jb.status, "%s", jb.message[0] ? jb.message : simrep_strerror(jb.status));
    }
    pthread_mutex_destroy(&jb.lock);
    simrep_set_blas_threads(blas);

    for (int i = 0; i < count && st == SIMREP_OK; i++) {
        simrep_stats_result *r = &results[i];
        memset(r, 0, sizeof *r);
        r->measure = measures[i];
        if (!active[i])
            continue;
        r->resampled = 1;
        r->similarity = jb.sim[i];
        const double obs_dist = jb.dist[i];
        if (jb.B > 0 && simrep__measure_row_get(measures[i])->rows_weighted)
            simrep__stats_summarize(so, 0, jb.sim + count + i, jb.dist + count + i, jb.B, count, obs_dist, vals,
                                    r);
        if (jb.K > 0)
            simrep__stats_summarize(so, 1, jb.sim + (1 + jb.B) * count + i, jb.dist + (1 + jb.B) * count + i, jb.K,
                                    count, obs_dist, vals, r);
    }
    if (st == SIMREP_OK)
        simrep__progress(ctx, jb.K > 0 ? "rows permutations" : "rows bootstrap", 1.0);
    simrep__free(ctx, jb.sim);
    simrep__free(ctx, jb.dist);
    simrep__free(ctx, vals);
    return st;
}
