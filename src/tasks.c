/*
 * tasks.c: independent pieces of one call run side by side.
 *
 * The O(p^3) part of a compare is a handful of LAPACK calls that do not
 * depend on each other: the two sides' eigendecompositions, then pwcca's
 * full SVD, svcca's singular values and Procrustes' singular values.
 * OpenBLAS threads each of them on its own, but their BLAS-2 halves
 * (dsytrd, dgebrd) hardly scale, and a pool of spinning BLAS threads on a
 * busy machine stalls (measured: two dsyevd(512) one after the other on a
 * 2-thread OpenBLAS took 0.25-1.7 s on a machine with load 8; at once, one
 * BLAS thread each, 0.21-0.5 s).  So the tasks of a call run at once, on as
 * many threads as the caller gave BLAS (simrep_blas_threads), each with a
 * single BLAS thread, and the pool's size is restored afterwards.
 *
 * Tasks are taken in the order given (put the longest first) by the caller
 * and by threads started for the call (pthreads, joined before returning:
 * nothing outlives the call).  Each thread reports into a context of its
 * own (same allocator) so messages never mix; the first failing task in
 * list order decides the status and message the caller sees, whatever the
 * timing.  Nothing is allocated here, so running tasks cannot fail by
 * itself; tasks that cannot fail need no status check.  With one BLAS thread, or one task, everything runs in order on
 * the calling thread, exactly as before; so it does when the context has a
 * caller's allocator, which the header promises is only called from the
 * calling thread (and allocation-failure sweeps stay deterministic).
 *
 * Rejected: a persistent pool (state outliving a call, i.e. global); OpenMP
 * (a second runtime beside OpenBLAS's pthreads).
 */
#include "internal.h"

#include <pthread.h>
#include <string.h>

#define MAX_THREADS 8

/* One thread's share: its own context, and the first task (in list order)
 * that failed on it with that task's status and message. */
typedef struct task_worker {
    struct task_run *run;
    simrep_ctx ctx;
    int failed; /* task index, or count when none */
    simrep_ctx failure; /* its status, message and error info (simrep_ctx_error) */
} task_worker;

typedef struct task_run {
    simrep__task_fn fn;
    void *const *args;
    int count;
    pthread_mutex_t lock;
    int next;
} task_run;

static void *worker(void *arg)
{
    task_worker *w = arg;
    task_run *r = w->run;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        const int i = r->next++;
        pthread_mutex_unlock(&r->lock);
        if (i >= r->count)
            return NULL;
        simrep_status st = r->fn(&w->ctx, r->args[i]);
        if (st != SIMREP_OK && i < w->failed) {
            w->failed = i;
            simrep__error_copy(&w->failure, &w->ctx);
        }
    }
}

simrep_status simrep__run_tasks(simrep_ctx *ctx, int count, simrep__task_fn fn, void *const *args)
{
    int threads = simrep__ctx_threads_ok(ctx) ? simrep_blas_threads() : 1;
    threads = threads > count ? count : threads;
    threads = threads > MAX_THREADS ? MAX_THREADS : threads;
    task_run r;
    if (threads > 1 && pthread_mutex_init(&r.lock, NULL) != 0)
        threads = 1;
    if (threads <= 1) {
        for (int i = 0; i < count; i++) {
            simrep_status st = fn(ctx, args[i]);
            if (st != SIMREP_OK)
                return st;
        }
        return SIMREP_OK;
    }
    r.fn = fn;
    r.args = args;
    r.count = count;
    r.next = 0;
    task_worker w[MAX_THREADS];
    for (int t = 0; t < threads; t++) {
        memset(&w[t], 0, sizeof w[t]);
        w[t].run = &r;
        simrep__ctx_child(&w[t].ctx, ctx);
        w[t].failed = count;
    }
    const int blas = simrep_blas_threads();
    simrep_set_blas_threads(1);
    pthread_t tid[MAX_THREADS];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[started], NULL, worker, &w[t]) != 0)
            break; /* fewer threads: the others take the tasks */
        started++;
    }
    worker(&w[0]);
    for (int t = 0; t < started; t++)
        pthread_join(tid[t], NULL);
    simrep_set_blas_threads(blas);
    pthread_mutex_destroy(&r.lock);
    int first = 0;
    for (int t = 1; t < threads; t++)
        first = w[t].failed < w[first].failed ? t : first;
    if (w[first].failed == count)
        return SIMREP_OK;
    simrep__error_copy(ctx, &w[first].failure);
    return ctx->status;
}
