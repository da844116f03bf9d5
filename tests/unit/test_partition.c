/*
 * test_partition.c: simrep_ctx_set_partition (work sharing of cka_rbf's
 * O(n^2) passes) with a real concurrent "allreduce": the parts run on
 * pthreads, each on its own context, and sum through shared slots between
 * two barrier waits, the way the CLI's MPI_Allreduce does across ranks.
 *
 * Checks: every part returns the unpartitioned value (1e-12 absolute: the
 * row sums and HSIC sums are added in another order, which moves a CKA in
 * [0, 1] by O(n eps) at most; the median is found exactly on every part),
 * for more parts than tile rows (idle parts), ties heavy enough to need
 * every histogram pass, the degenerate case (all parts report it), and a
 * failure on one part only (an allocation failing at every possible point
 * of part 1): every part then returns an error and none waits forever.  The
 * barrier waits time out (5 s) so that a part left waiting is a failed
 * check, not a hung test run.  Also simrep_dftcca_merge/save/load, the
 * other piece the CLI's data-parallel compare distributes.
 */
#include "harness.h"
#include "rows.h"
#include "simrep.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PARTS 8

typedef struct team {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int parts, arrived;
    unsigned gen;
    double *slot[MAX_PARTS];
    int64_t count[MAX_PARTS];
    int timed_out;
} team;

/* A barrier whose wait gives up after 5 s (returns -1). */
static int team_wait(team *t)
{
    pthread_mutex_lock(&t->mu);
    unsigned gen = t->gen;
    if (++t->arrived == t->parts) {
        t->arrived = 0;
        t->gen++;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
        return 0;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 5;
    while (gen == t->gen && !t->timed_out)
        if (pthread_cond_timedwait(&t->cv, &t->mu, &deadline) == ETIMEDOUT)
            t->timed_out = 1;
    int rc = gen == t->gen ? -1 : 0;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return rc;
}

typedef struct member {
    team *t;
    int part;
    /* the call */
    const simrep_matrix *x, *y;
    double sigma;
    /* or a rows measure (rows.h) with its options, instead of cka_rbf */
    simrep_status (*fn)(simrep_ctx *, const simrep_matrix *, const simrep_matrix *, const simrep_options *,
                        simrep_result *);
    const simrep_options *opt;
    int fail_at; /* fail this allocation (1-based) of this part's context; 0: never */
    int allocs;
    simrep_status st;
    double value;
} member;

/* Sum buf over the team: publish, wait, add every slot in part order into
 * a private copy, wait (nobody overwrites a slot still being read), copy. */
static int team_allreduce(void *user, double *buf, int64_t count)
{
    member *m = user;
    team *t = m->t;
    t->slot[m->part] = buf;
    t->count[m->part] = count;
    if (team_wait(t))
        return -1;
    double *sum = calloc((size_t)(count > 0 ? count : 1), sizeof *sum);
    int ok = sum != NULL;
    for (int k = 0; k < t->parts && ok; k++) {
        ok = t->count[k] == count;
        for (int64_t i = 0; i < count && ok; i++)
            sum[i] += t->slot[k][i];
    }
    if (team_wait(t) || !ok) {
        free(sum);
        return -1;
    }
    memcpy(buf, sum, (size_t)count * sizeof *sum);
    free(sum);
    return 0;
}

static void *counting_malloc(void *user, size_t size)
{
    member *m = user;
    if (++m->allocs == m->fail_at)
        return NULL;
    return malloc(size);
}

static void plain_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

/* The part whose context has its cancel flag set from the start (-1: none). */
static int cancel_part = -1;
static const int cancel_on = 1;

static void *run_part(void *arg)
{
    member *m = arg;
    simrep_allocator a = {counting_malloc, plain_free, m};
    simrep_ctx *ctx = simrep_ctx_new(&a);
    if (ctx && m->part == cancel_part)
        simrep_ctx_set_cancel(ctx, &cancel_on);
    if (!ctx) {
        /* The context itself failed: this part cannot take part at all;
         * the test never asks for that (fail_at > 1). */
        m->st = SIMREP_E_NOMEM;
        return NULL;
    }
    simrep_ctx_set_partition(ctx, m->part, m->t->parts, team_allreduce, m);
    if (m->fn) {
        simrep_result r;
        memset(&r, 0, sizeof r);
        m->st = m->fn(ctx, m->x, m->y, m->opt, &r);
        m->value = r.similarity;
    } else {
        m->st = simrep_cka_rbf(ctx, m->x, m->y, m->sigma, &m->value);
    }
    simrep_ctx_free(ctx);
    return NULL;
}

typedef simrep_status (*rows_fn)(simrep_ctx *, const simrep_matrix *, const simrep_matrix *,
                                 const simrep_options *, simrep_result *);

/* Run cka_rbf (fn NULL) or fn on parts threads; part fail_part fails
 * allocation fail_at. */
static void run_team_fn(int parts, const simrep_matrix *x, const simrep_matrix *y, double sigma, rows_fn fn,
                        const simrep_options *opt, int fail_part, int fail_at, member *m, int *timed_out)
{
    team t;
    memset(&t, 0, sizeof t);
    pthread_mutex_init(&t.mu, NULL);
    pthread_cond_init(&t.cv, NULL);
    t.parts = parts;
    pthread_t th[MAX_PARTS];
    for (int k = 0; k < parts; k++) {
        memset(&m[k], 0, sizeof m[k]);
        m[k].t = &t;
        m[k].part = k;
        m[k].x = x, m[k].y = y, m[k].sigma = sigma;
        m[k].fn = fn, m[k].opt = opt;
        m[k].fail_at = k == fail_part ? fail_at : 0;
        m[k].value = -1;
        pthread_create(&th[k], NULL, run_part, &m[k]);
    }
    for (int k = 0; k < parts; k++)
        pthread_join(th[k], NULL);
    *timed_out = t.timed_out;
    pthread_cond_destroy(&t.cv);
    pthread_mutex_destroy(&t.mu);
}

static void run_team(int parts, const simrep_matrix *x, const simrep_matrix *y, double sigma, int fail_part,
                     int fail_at, member *m, int *timed_out)
{
    run_team_fn(parts, x, y, sigma, NULL, NULL, fail_part, fail_at, m, timed_out);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double uniform(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

/* Random data, or integers in [0, levels) when levels > 0 (massive ties). */
static double *data(int64_t n, int64_t p, int levels)
{
    double *a = malloc((size_t)(n * p) * sizeof *a);
    for (int64_t i = 0; i < n * p; i++)
        a[i] = levels > 0 ? (double)(int)(uniform() * levels) : uniform() * 2 - 1 + 0.3 * (double)(i % p);
    return a;
}

static void check_equal_to_serial(int64_t n, int64_t p, int64_t q, int levels, int parts)
{
    double *xd = data(n, p, levels), *yd = data(n, q, levels);
    /* y partly a function of x, so the value is not near 0. */
    for (int64_t i = 0; i < n; i++)
        yd[i * q] += 2 * xd[i * p];
    simrep_matrix x = simrep_matrix_c(xd, SIMREP_F64, n, p), y = simrep_matrix_c(yd, SIMREP_F64, n, q);
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    double serial = -1;
    CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &x, &y, 0.8, &serial), SIMREP_OK);
    member m[MAX_PARTS];
    int timed_out = 0;
    run_team(parts, &x, &y, 0.8, -1, 0, m, &timed_out);
    CHECK(!timed_out);
    for (int k = 0; k < parts; k++) {
        CHECK(m[k].st == SIMREP_OK);
        CHECK_CLOSE(m[k].value, serial, 1e-12);
        /* Every part holds the same sums, so the same bits. */
        CHECK(m[k].value == m[0].value);
    }
    simrep_ctx_free(ctx);
    free(xd);
    free(yd);
}

/* DFT-CCA of 40 images split 0/13/27 across three partial states, merged
 * (one through a saved and loaded state) == one state of all: the merge is
 * the exact pairwise update, equal to round-off (1e-10 relative is far
 * above it and far below any real difference). */
static void check_dftcca_merge(void)
{
    const int64_t n = 40, hx = 4, wx = 4, p = 3, hy = 5, wy = 3, q = 2;
    double *xd = data(n, hx * wx * p, 0), *yd = data(n, hy * wy * q, 0);
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_dftcca *all = NULL, *part[3] = {NULL, NULL, NULL};
    CHECK_STATUS(ctx, simrep_dftcca_new(ctx, hx, wx, p, hy, wy, q, &all), SIMREP_OK);
    simrep_matrix x = simrep_matrix_c(xd, SIMREP_F64, n, hx * wx * p), y = simrep_matrix_c(yd, SIMREP_F64, n, hy * wy * q);
    CHECK_STATUS(ctx, simrep_dftcca_update(ctx, all, &x, &y), SIMREP_OK);
    const int64_t cut[4] = {0, 0, 13, n};
    for (int k = 0; k < 3; k++) {
        CHECK_STATUS(ctx, simrep_dftcca_new(ctx, hx, wx, p, hy, wy, q, &part[k]), SIMREP_OK);
        simrep_matrix xs = simrep_matrix_c(xd + cut[k] * hx * wx * p, SIMREP_F64, cut[k + 1] - cut[k], hx * wx * p);
        simrep_matrix ys = simrep_matrix_c(yd + cut[k] * hy * wy * q, SIMREP_F64, cut[k + 1] - cut[k], hy * wy * q);
        CHECK_STATUS(ctx, simrep_dftcca_update(ctx, part[k], &xs, &ys), SIMREP_OK);
    }
    int64_t len = simrep_dftcca_state_len(part[2]);
    double *state = malloc((size_t)len * sizeof *state);
    simrep_dftcca_save(part[2], state);
    simrep_dftcca *loaded = NULL;
    CHECK_STATUS(ctx, simrep_dftcca_new(ctx, hx, wx, p, hy, wy, q, &loaded), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_dftcca_load(ctx, loaded, state), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_dftcca_merge(ctx, part[0], part[1]), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_dftcca_merge(ctx, part[0], loaded), SIMREP_OK);
    simrep_dftcca_result ra, rb;
    CHECK_STATUS(ctx, simrep_dftcca_compute(ctx, all, NULL, &ra), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_dftcca_compute(ctx, part[0], NULL, &rb), SIMREP_OK);
    CHECK(ra.n == n && rb.n == n && ra.nfreq == rb.nfreq);
    CHECK_CLOSE(rb.similarity, ra.similarity, 1e-10 * fabs(ra.similarity));
    for (int64_t f = 0; f < ra.nfreq && f < rb.nfreq; f++)
        CHECK_CLOSE(rb.freqs[f].mean, ra.freqs[f].mean, 1e-10);
    simrep_dftcca *other = NULL;
    CHECK_STATUS(ctx, simrep_dftcca_new(ctx, hx, wx, p, hx, wx, p, &other), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_dftcca_merge(ctx, all, other), SIMREP_E_SHAPE);
    simrep_dftcca_result_clear(ctx, &ra);
    simrep_dftcca_result_clear(ctx, &rb);
    simrep_dftcca_free(ctx, other);
    simrep_dftcca_free(ctx, loaded);
    for (int k = 0; k < 3; k++)
        simrep_dftcca_free(ctx, part[k]);
    simrep_dftcca_free(ctx, all);
    simrep_ctx_free(ctx);
    free(state);
    free(xd);
    free(yd);
}

/* Part 1 of 3 fails an allocation, at each point in turn: all parts return
 * an error together (part 1 NOMEM; none left in an allreduce); past the
 * last allocation, all succeed with the same value. */
static void check_fail_agreement(const simrep_matrix *x, const simrep_matrix *y, double sigma, rows_fn fn,
                                 const simrep_options *opt)
{
    int agreed = 1, last_ok = 0, any_fail = 0;
    for (int at = 2; at < 80 && !last_ok; at++) {
        member m[MAX_PARTS];
        int timed_out = 0;
        run_team_fn(3, x, y, sigma, fn, opt, 1, at, m, &timed_out);
        int nok = 0;
        for (int k = 0; k < 3; k++)
            nok += m[k].st == SIMREP_OK;
        agreed &= !timed_out && (nok == 0 || (nok == 3 && m[0].value == m[1].value && m[1].value == m[2].value));
        any_fail |= nok == 0 && m[1].st == SIMREP_E_NOMEM;
        last_ok = nok == 3;
    }
    CHECK(agreed);
    CHECK(any_fail);
    CHECK(last_ok);
}

/* The rows measures (rsa.c, knn.c) split the same way: every part returns
 * the unpartitioned value.  Neighbour lists and ranks are exact (== bit for
 * bit: the same tiles, integer counts); rsa's Pearson merges sums in another
 * order (1e-12 on a correlation).  Then one part's allocation failing at
 * each point in turn: all parts fail together or all succeed alike. */
static void check_rows(int64_t n, int levels, int parts)
{
    double *xd = data(n, 6, levels), *yd = data(n, 5, levels);
    for (int64_t i = 0; i < n; i++)
        yd[i * 5] += 2 * xd[i * 6];
    simrep_matrix x = simrep_matrix_c(xd, SIMREP_F64, n, 6), y = simrep_matrix_c(yd, SIMREP_F64, n, 5);
    static const struct {
        rows_fn fn;
        int how; /* rsa_compare, or -1 */
    } cases[] = {{simrep__rsa, SIMREP_RSA_PEARSON}, {simrep__rsa, SIMREP_RSA_SPEARMAN},
                 {simrep__rsa, SIMREP_RSA_KENDALL}, {simrep__mutual_knn, -1}, {simrep__cknna, -1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        simrep_options o;
        simrep_options_init(&o);
        o.rsa_rdm = SIMREP_RDM_EUCLIDEAN;
        if (cases[c].how >= 0)
            o.rsa_compare = (simrep_rsa_compare)cases[c].how;
        o.knn = 7;
        simrep_ctx *ctx = simrep_ctx_new(NULL);
        simrep_result serial;
        memset(&serial, 0, sizeof serial);
        CHECK_STATUS(ctx, cases[c].fn(ctx, &x, &y, &o, &serial), SIMREP_OK);
        simrep_ctx_free(ctx);
        member m[MAX_PARTS];
        int timed_out = 0;
        run_team_fn(parts, &x, &y, 0, cases[c].fn, &o, -1, 0, m, &timed_out);
        CHECK(!timed_out);
        for (int k = 0; k < parts; k++) {
            CHECK(m[k].st == SIMREP_OK);
            if (cases[c].how == SIMREP_RSA_PEARSON)
                CHECK_CLOSE(m[k].value, serial.similarity, 1e-12);
            else
                CHECK(m[k].value == serial.similarity);
            CHECK(m[k].value == m[0].value);
        }
        check_fail_agreement(&x, &y, 0, cases[c].fn, &o);
    }
    free(xd);
    free(yd);
}

/* Cancellation on one part only (issue 10, item 7): every part returns
 * SIMREP_E_CANCELLED, through the same agreement as any failure, and none
 * is left waiting. */
static void check_cancel_one_part(void)
{
    int64_t n = 700;
    double *xd = data(n, 6, 0), *yd = data(n, 5, 0);
    simrep_matrix x = simrep_matrix_c(xd, SIMREP_F64, n, 6), y = simrep_matrix_c(yd, SIMREP_F64, n, 5);
    simrep_options o;
    simrep_options_init(&o);
    o.knn = 7;
    rows_fn fns[] = {NULL, simrep__rsa, simrep__mutual_knn, simrep__cknna};
    for (int part = 0; part < 3; part++)
        for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
            member m[MAX_PARTS];
            int timed_out = 0;
            cancel_part = part;
            run_team_fn(3, &x, &y, 1.0, fns[f], &o, -1, 0, m, &timed_out);
            cancel_part = -1;
            CHECK(!timed_out);
            for (int k = 0; k < 3; k++) {
                if (m[k].st != SIMREP_E_CANCELLED)
                    fprintf(stderr, "FAIL cancel part %d, measure %zu: part %d returned %d\n", part, f, k, (int)m[k].st);
                CHECK(m[k].st == SIMREP_E_CANCELLED);
            }
        }
    free(xd);
    free(yd);
}

void suite_partition(void)
{
    check_cancel_one_part();
    check_rows(700, 0, 3);
    check_rows(600, 3, 2);
    check_rows(40, 0, 3);
    check_dftcca_merge();
    /* 700 rows: 3 tile rows of 256; 3 parts one each, 2 parts uneven, 5
     * parts leave two idle.  1100 rows: 5 tile rows over 3 parts. */
    check_equal_to_serial(700, 20, 30, 0, 3);
    check_equal_to_serial(700, 20, 30, 0, 2);
    check_equal_to_serial(700, 20, 30, 0, 5);
    check_equal_to_serial(1100, 7, 3, 0, 3);
    /* Integer data: a few distinct distances held by up to n^2/4 pairs, so
     * the median search runs histograms down to the last 16 bits. */
    check_equal_to_serial(1500, 2, 2, 3, 3);
    /* Fewer than one tile: parts 1 and 2 have no rows at all. */
    check_equal_to_serial(40, 5, 4, 0, 3);

    /* Degenerate data: every part reports it. */
    {
        int64_t n = 300;
        double *xd = calloc((size_t)n * 2, sizeof *xd), *yd = data(n, 2, 0);
        xd[0] = 1; /* one row differs: the median distance is 0 */
        simrep_matrix x = simrep_matrix_c(xd, SIMREP_F64, n, 2), y = simrep_matrix_c(yd, SIMREP_F64, n, 2);
        member m[MAX_PARTS];
        int timed_out = 0;
        run_team(3, &x, &y, 1.0, -1, 0, m, &timed_out);
        CHECK(!timed_out);
        for (int k = 0; k < 3; k++)
            CHECK(m[k].st == SIMREP_E_DEGENERATE);
        free(xd);
        free(yd);
    }

    /* One part's allocation fails, at each allocation in turn: all parts
     * return an error together (none left in the allreduce); past the last
     * allocation, all succeed with the same value. */
    {
        int64_t n = 600;
        double *xd = data(n, 6, 0), *yd = data(n, 5, 0);
        simrep_matrix x = simrep_matrix_c(xd, SIMREP_F64, n, 6), y = simrep_matrix_c(yd, SIMREP_F64, n, 5);
        check_fail_agreement(&x, &y, 1.0, NULL, NULL);
        free(xd);
        free(yd);
    }

    /* Turning it off restores the plain call. */
    {
        simrep_ctx *ctx = simrep_ctx_new(NULL);
        simrep_ctx_set_partition(ctx, 1, 3, team_allreduce, NULL);
        simrep_ctx_set_partition(ctx, 0, 1, NULL, NULL);
        double *xd = data(50, 3, 0), *yd = data(50, 3, 0), v = -1;
        simrep_matrix x = simrep_matrix_c(xd, SIMREP_F64, 50, 3), y = simrep_matrix_c(yd, SIMREP_F64, 50, 3);
        CHECK_STATUS(ctx, simrep_cka_rbf(ctx, &x, &y, 1.0, &v), SIMREP_OK);
        CHECK(v > 0 && v <= 1);
        free(xd);
        free(yd);
        simrep_ctx_free(ctx);
    }
}
