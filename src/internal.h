/*
 * internal.h: what the library's files share and the public header does not
 * show: the context (message, allocator), error reporting, checked
 * allocation and size arithmetic, and element conversion.
 *
 * Every allocation goes through simrep__alloc(ctx, ...) so that a caller's
 * allocator (and the failure-injection tests) see all of them, and so that
 * a failure always leaves a message in the context.  Size arithmetic that
 * comes from a file or a caller is checked for overflow before it is used
 * (simrep__mul_size) because a header may claim any shape.
 */
#ifndef SIMREP_INTERNAL_H
#define SIMREP_INTERNAL_H

#include "simrep.h"

#include <stdarg.h>
#include <stdint.h>
#include <stddef.h>

#define SIMREP__MSG_MAX 1024

struct simrep_ctx {
    simrep_allocator allocator;
    simrep_status status;
    char message[SIMREP__MSG_MAX];
    simrep_progress_fn progress;
    void *progress_user;
    /* simrep_ctx_set_partition: this worker is part `part` of `parts`
     * (parts <= 1: no partition, every call does all its work). */
    int part, parts;
    simrep_allreduce_fn allreduce;
    void *allreduce_user;
    /* How messages name the inputs (simrep_ctx_set_names; NULL: "x"/"y",
     * "input k"), and during one pair of a simrep_pairs which inputs its x
     * and y are (-1 otherwise). */
    const char *const *names;
    int nnames;
    int pair_input[2];
    /* Where the last failure happened (simrep_ctx_error); reset by
     * simrep__fail, filled by the helpers below. */
    int err_input;
    char err_file[SIMREP__MSG_MAX / 2];
    uint64_t err_b0, err_b1;
    int64_t err_row, err_col;
    size_t err_detail; /* offset of the detail in message (after the name prefixes) */
    const char *err_option; /* the option at fault (a static string), or NULL */
    const int *cancel; /* simrep_ctx_set_cancel */
    /* Fault injection for the tests (simrep__ctx_fail_lapack, or the
     * environment variable SIMREP_TEST_FAIL_LAPACK read by simrep_ctx_new):
     * the LAPACK calls it selects, made through this context or its tasks'
     * child contexts, return info > 0 as a routine that did not converge
     * does.  fault_root: the context counting the matches (NULL: itself).
     * With a count (nth), tasks run in order, as with a caller's allocator,
     * so that the count is the same every run. */
    struct {
        char routine[8]; /* "" no fault; "*" any routine */
        int64_t m, n;    /* the matrix's shape; 0 any */
        long nth;        /* only the nth matching call (1-based); 0 every one */
        long seen;       /* matching calls so far */
    } fault;
    simrep_ctx *fault_root;
};

/* The most samples a Moments (or any count kept as a double) may hold:
 * counts are exact integers in double precision up to 2^53. */
#define SIMREP__MAX_SAMPLES ((int64_t)1 << 53)

/* Report progress of a long call to the caller's callback, if any. */
static inline void simrep__progress(simrep_ctx *ctx, const char *stage, double fraction)
{
    if (ctx && ctx->progress)
        ctx->progress(ctx->progress_user, stage, fraction);
}

/* SIMREP_E_CANCELLED with its message. */
simrep_status simrep__cancelled(simrep_ctx *ctx);

/* Whether the caller asked to stop (simrep_ctx_set_cancel): read between
 * units of work, never inside one. */
static inline int simrep__cancel_requested(const simrep_ctx *ctx)
{
    return ctx && ctx->cancel && __atomic_load_n(ctx->cancel, __ATOMIC_RELAXED) != 0;
}

/* Progress and the cancellation check at the start of a unit of work:
 * SIMREP_OK, or SIMREP_E_CANCELLED (recorded in ctx). */
static inline simrep_status simrep__tick(simrep_ctx *ctx, const char *stage, double fraction)
{
    if (simrep__cancel_requested(ctx))
        return simrep__cancelled(ctx);
    simrep__progress(ctx, stage, fraction);
    return SIMREP_OK;
}

/* Record status and a printf-style message in ctx; returns status. */
simrep_status simrep__fail(simrep_ctx *ctx, simrep_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Record a failure of input k of `inputs` inputs (K-input calls):
 * "<name>: <detail>" with the input's name (simrep__input_name), and the
 * input in the error info.  inputs 0: k is side 0 (x) or 1 (y) of the
 * current pair of a simrep_pairs (its input i or j) or of a two-input call
 * (simrep__fail_side). */
simrep_status simrep__fail_input(simrep_ctx *ctx, simrep_status status, int input, int inputs, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
#define simrep__fail_side(ctx, status, side, ...) simrep__fail_input(ctx, status, side, 0, __VA_ARGS__)
/* "<input 0> has n0 rows but <input j> has nj" (names as below), input j
 * at fault. */
simrep_status simrep__fail_rows(simrep_ctx *ctx, int j, int inputs, int64_t n0, int64_t nj, const char *what);
/* How messages name input k of `inputs`: the caller's name
 * (simrep_ctx_set_names), else "x"/"y" for two inputs, "input k" for more.
 * Writes into buf (cap bytes) and returns it. */
const char *simrep__input_name(const simrep_ctx *ctx, int input, int inputs, char *buf, size_t cap);
/* Fault injection (tests): the LAPACK calls (dsyevd, dgesdd, dpotrf) that
 * spec selects fail with info > 0 from now on: "ROUTINE[:M[xN]][#K]",
 * ROUTINE a name or * for any, M x N the matrix (M alone: M x M), #K only
 * the K-th matching call (counted over ctx and its tasks), else every one;
 * NULL or "" turns it off.  Returns 0 (and no fault) for a spec it cannot
 * read.  simrep__fault_lapack (linalg.c, before each such call): 1 when
 * this call of routine on an m x n matrix is to fail. */
int simrep__ctx_fail_lapack(simrep_ctx *ctx, const char *spec);
int simrep__fault_lapack(simrep_ctx *ctx, const char *routine, int64_t m, int64_t n);
/* A failure already recorded in ctx blamed on input `input` of `inputs`
 * (simrep__input_name): its message prefixed with that name and the input
 * in the error info, unless the failure already names an input.  For the
 * work of one input of a K-input call (its eigendecomposition, its kept
 * features) whose helpers (allocation, linalg.c) know no input. */
simrep_status simrep__blame_input(simrep_ctx *ctx, int input, int inputs);
/* A worker's context for a task of parent's call (tasks.c): the parent's
 * allocator and naming, no failure yet; and a failure copied back. */
void simrep__ctx_child(simrep_ctx *child, const simrep_ctx *parent);
void simrep__error_copy(simrep_ctx *dst, const simrep_ctx *src);
/* Where the failure just recorded happened: the file and its bytes, the cell. */
void simrep__error_file(simrep_ctx *ctx, const char *file, uint64_t begin, uint64_t end);
void simrep__error_cell(simrep_ctx *ctx, int64_t row, int64_t column);
/* The option the failure just recorded is about (a static string, the
 * option's field name): simrep_error_info.option. */
simrep_status simrep__error_option(simrep_ctx *ctx, const char *option);
/* Prefix the message already in ctx with "prefix: " (keeps the status). */
simrep_status simrep__prefix(simrep_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Allocate size bytes (size 0 allocates 1); on failure records SIMREP_E_NOMEM
 * naming what was being allocated and returns NULL. */
void *simrep__alloc(simrep_ctx *ctx, size_t size, const char *what);
/* As simrep__alloc for count * size bytes, checking the product. */
void *simrep__alloc_array(simrep_ctx *ctx, size_t count, size_t size, const char *what);
void *simrep__calloc_array(simrep_ctx *ctx, size_t count, size_t size, const char *what);
void simrep__free(simrep_ctx *ctx, void *ptr);

/* *out = a * b; returns 0 on overflow (or a negative operand), 1 otherwise. */
int simrep__mul_i64(int64_t a, int64_t b, int64_t *out);
int simrep__mul_size(size_t a, size_t b, size_t *out);

/* Convert one element to double. */
double simrep__f16_to_double(uint16_t h);
double simrep__bf16_to_double(uint16_t h);
static inline double simrep__element(const simrep_matrix *m, int64_t i, int64_t j)
{
    int64_t k = i * m->row_stride + j * m->col_stride;
    switch (m->dtype) {
    case SIMREP_F64: return ((const double *)m->data)[k];
    case SIMREP_F32: return (double)((const float *)m->data)[k];
    case SIMREP_F16: return simrep__f16_to_double(((const uint16_t *)m->data)[k]);
    case SIMREP_BF16: return simrep__bf16_to_double(((const uint16_t *)m->data)[k]);
    }
    return 0.0;
}

/* Copy rows [row0, row0+rows) of m into dst (row-major, leading dimension
 * ld, starting at column offset col0 of dst), converting to double. */
void simrep__rows_to_double(const simrep_matrix *m, int64_t row0, int64_t rows, double *dst, int64_t ld);

/* Token masks (mask.c), as simrep_input reads them: the tokens before
 * sequence item (its first row under masked flatten), its first and last
 * valid step (-1 without tokens), whether a step is a token, the largest
 * valid step + 1 of any sequence, and the sequence holding token number
 * `token` (0 <= token < the mask's tokens). */
int64_t simrep__mask_offset(const simrep_mask *m, int64_t item);
int64_t simrep__mask_first(const simrep_mask *m, int64_t item);
int64_t simrep__mask_last(const simrep_mask *m, int64_t item);
int simrep__mask_valid(const simrep_mask *m, int64_t item, int64_t step);
int64_t simrep__mask_max_step(const simrep_mask *m);
int64_t simrep__mask_item_of(const simrep_mask *m, int64_t token);

/* Validate a matrix view argument; name is "x" or "y" for the message. */
simrep_status simrep__check_matrix(simrep_ctx *ctx, const simrep_matrix *m, const char *name);
/* The views x and y of a two-input call, each named as simrep__input_name
 * says and blamed on its input; rows_what non-NULL: their numbers of rows
 * must agree too ("x has 10 <rows_what> but y has 9", y at fault). */
simrep_status simrep__check_xy(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y, const char *rows_what);

/* Independent pieces of one call (tasks.c): fn(task_ctx, args[i]) for i <
 * count, side by side on up to simrep_blas_threads() threads with one BLAS
 * thread each (in order on the calling thread when that is 1, or when ctx
 * has a caller's allocator).  Each task runs with a context of its
 * thread's own (ctx's allocator); the first failure in list order is
 * copied into ctx and returned.  Allocates nothing itself.  Tasks must not
 * share writable memory. */
typedef simrep_status (*simrep__task_fn)(simrep_ctx *task_ctx, void *arg);
simrep_status simrep__run_tasks(simrep_ctx *ctx, int count, simrep__task_fn fn, void *const *args);
/* 1 if ctx's allocator may be called from several threads at once: only
 * the default one (a caller's allocator is only ever called from the
 * calling thread, so tasks run in order with it). */
int simrep__ctx_threads_ok(const simrep_ctx *ctx);

/* Random streams (stats.c): every choice a function of (seed, stream,
 * index); stats.c uses streams 1-5 (rowstats.c draws its bootstrap from
 * stream 2, as the moments' exact one), validate.c 16-17, rowstats.c 18.  simrep__rng_below:
 * uniform in [0, n).  simrep__quantile_sorted: numpy's default (linear)
 * quantile f of sorted v[0 .. n), n >= 1. */
uint64_t simrep__rng_stream(uint64_t seed, int stream, uint64_t index);
uint64_t simrep__rng_below(uint64_t *state, uint64_t n);
double simrep__quantile_sorted(const double *v, int64_t n, double f);
/* One measure's bootstrap (kind 0) or permutation (kind 1) summary from
 * its resampled values sim[r * stride], dist[r * stride], r < total
 * (non-finite ones left out), at o's level and interval kind; vals:
 * total doubles of scratch (stats.c). */
void simrep__stats_summarize(const simrep_stats_options *o, int kind, const double *sim, const double *dist,
                             int64_t total, int64_t stride, double obs_dist, double *vals, simrep_stats_result *r);

#endif
