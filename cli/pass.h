/*
 * pass.h: the pieces `simrep compare` and `simrep matrix` share, one per
 * stage of a run:
 *
 *   reading      cli_block_rows, cli_read: every input's rows block by
 *                block (forward, or in the order a consumer asks), handed to
 *                a consumer callback (moments, held rows, resampling state);
 *   holding      cli_rows: the rows as float64 for the measures of the rows
 *                (family ROWS), all-gathered across MPI ranks;
 *   scheduling   cli_schedule (longest first over ranks, for MPI) and
 *                cli_pool_run (jobs over threads, one context each);
 *   computing    cli_measures_split, cli_pair_moments, cli_pair_rows: a
 *                pair's results for any list of measures, the moments
 *                families from a prepared simrep_pairs and the rows family
 *                from the held rows, in the list's order.
 *
 * Reporting is report.c (cli.h).  Which family a measure is in is the
 * library's registry's to say; nothing here names a measure.
 */
#ifndef SIMREP_CLI_PASS_H
#define SIMREP_CLI_PASS_H

#include <stdint.h>

#include "simrep.h"

/* ------------------------------------------------------------ reading */

/*
 * Rows per block for reading count inputs together: about 4 Mi elements of
 * all of them per block (16 MiB of doubles for 2-D inputs), counted as the
 * files store them (item_elements: a pooled image is H*W*C elements, not C)
 * and at least their features times views; between 256 (1 for conv and
 * sequence inputs, whose items are large) and 8192; whole items of the
 * largest rows_per_item.
 */
int64_t cli_block_rows(simrep_input *const *in, int count);

typedef struct cli_reader {
    simrep_input *const *in; /* count inputs read together */
    int count;
    int64_t row_begin, row_end; /* forward reading covers [row_begin, row_end) */
    int64_t block;
    /* The order of blocks, if the consumer has one (statistics): fills *r0
     * and *rows with the next block of at most block rows, returns 0 at the
     * end.  NULL: forward. */
    int (*next)(void *user, int64_t block, int64_t *r0, int64_t *rows);
    /* Each block: views[k] are input k's views (dims.views of them, rows
     * x features).  A failure stops the reading. */
    simrep_status (*consume)(void *user, simrep_ctx *ctx, int64_t r0, int64_t rows, simrep_matrix *const *views);
    void (*progress)(void *user, int64_t done, int64_t total);
    void *user;
} cli_reader;

/* Where a reading failed. */
typedef struct cli_read_failure {
    simrep_status status;
    int input;      /* the input whose read failed, or -1 (the consumer failed: ctx says which input) */
    int short_read; /* 1: the input gave fewer rows than its header promised (status SIMREP_E_FORMAT) */
    int64_t r0;     /* the block's first row */
} cli_read_failure;

/* Read every block; returns SIMREP_OK, or the failure's status with *fail
 * filled (SIMREP_E_NOMEM with input -1 when the views cannot be allocated). */
simrep_status cli_read(simrep_ctx *ctx, const cli_reader *r, cli_read_failure *fail);

/* ------------------------------------------------------------ holding */

/* An input's rows as float64, row-major: views matrices of n x p. */
typedef struct cli_rows {
    int64_t n, p, views;
    double **v;
} cli_rows;

/* Allocate (0) or fail (-1: out of memory; *rows is then empty). */
int cli_rows_alloc(cli_rows *rows, int64_t n, int64_t p, int64_t views);
/* Copy a block of views (rows r0 .. r0 + views[0].rows). */
void cli_rows_put(cli_rows *rows, int64_t r0, const simrep_matrix *views);
/* MPI: every rank's shares of whole items of rpi rows, to every rank. */
void cli_rows_allgather(cli_rows *rows, int64_t rpi);
/* MPI: rows read in any order, each by one rank (zeros elsewhere: the
 * rows are allocated zeroed), summed onto every rank. */
void cli_rows_allreduce(cli_rows *rows);
/* View t as a simrep_matrix. */
simrep_matrix cli_rows_view(const cli_rows *rows, int64_t t);
void cli_rows_free(cli_rows *rows);

/* ---------------------------------------------------------- scheduling */

/* Longest first: items by decreasing cost (ties by index), each to the
 * rank with the least cost so far (ties to the lowest).  0, or -1 when out
 * of memory. */
int cli_schedule(int count, const double *cost, int ranks, int *who);

/*
 * Run jobs 0 .. njobs - 1 on min(threads, njobs) threads (the caller's
 * among them), each thread with its own context (NULL if it could not be
 * made: the job reports that).  fn returns 0 to go on, nonzero to stop
 * every thread after their current job.  With more than one thread,
 * OpenBLAS runs one thread per worker meanwhile (concurrent LAPACK calls
 * on a shared pool wait on each other), restored after.  progress(user,
 * done, njobs) is called after each job.
 */
typedef int (*cli_job_fn)(void *user, simrep_ctx *ctx, int job);
void cli_pool_run(int threads, int njobs, cli_job_fn fn, void (*progress)(void *user, int done, int total),
                  void *user);

/* ----------------------------------------------------------- computing */

/* A measure list by what feeds it (the registry's families). */
typedef struct cli_measures_split {
    simrep_measure moments[SIMREP_MEASURE_COUNT]; /* families CCA and MOMENTS */
    int moments_at[SIMREP_MEASURE_COUNT];         /* their places in the list */
    int nmoments;
    simrep_measure rows[SIMREP_MEASURE_COUNT];    /* family ROWS */
    int rows_at[SIMREP_MEASURE_COUNT];
    int nrows;
    int maps;                                     /* 1 if a measure of conv maps is listed */
} cli_measures_split;

void cli_measures_split_of(const simrep_measure *ids, int count, cli_measures_split *out);

/* Before the measures of the rows (O(n^2) time): their estimated time for
 * pairs pairs of n samples and p + q features (summed over the pairs: pq)
 * on threads threads, from the library's cost model
 * (simrep_measure_pair_cost) at a measured rate; said on stderr
 * ("simrep: note: ...") when over 10 s.  Returns the estimate in seconds. */
double cli_rows_announce(const cli_measures_split *ms, int64_t n, double pq, double pairs, int threads);
/* The estimate alone, in seconds: measures ms->rows[k] for which
 * use[k] is nonzero (use NULL: all), evaluated `times` times each. */
double cli_rows_seconds(const cli_measures_split *ms, const int *use, int64_t n, double pq, double times, int threads);
/* "12 s", "5 min", "1.3 h". */
void cli_duration_text(double secs, char *buf, size_t len);

/*
 * One measure's failure.  A measure undefined for the data (status
 * SIMREP_E_DEGENERATE or SIMREP_E_NUMERIC: pwcca's weights all zero at
 * n = 2, cka_debiased at n < 4) does not take the others of the list down:
 * when the list fails as a whole, each measure is computed on its own and
 * those that fail get their status and the library's message here (the
 * others' results are filled as usual).  Failures of the call itself (out
 * of memory, cancelled, misuse) are returned as before.
 */
typedef struct cli_measure_error {
    simrep_status st;  /* SIMREP_OK: the measure has its result */
    int side;          /* the input at fault (simrep_ctx_error): 0 x, 1 y, -1 the pair */
    char msg[1024];    /* the context's message ("x: ..." for one side) */
    char detail[1024]; /* the message without the input's name (simrep_error_info.detail) */
} cli_measure_error;

/* The moments measures of the two inputs of m (x and y), prepared and
 * compared: cli_pair_moments, and when an input's preparation fails with
 * a LAPACK failure, each measure prepared on its own, so that the measures
 * that do not need what failed are still computed and the others are
 * noted in errs (the input at fault as their side). */
simrep_status cli_moments_measures(simrep_ctx *ctx, const cli_measures_split *s, const simrep_moments *m,
                                   const simrep_options *opt, simrep_result *results, cli_measure_error *errs);
/* The moments measures of inputs i (as x) and j (as y) of a prepared
 * simrep_pairs into results[moments_at[..]] (the others untouched); errs
 * (as results, zeroed by the caller) gets the measures that failed. */
simrep_status cli_pair_moments(simrep_ctx *ctx, const cli_measures_split *s, const simrep_pairs *pairs, int i, int j,
                               simrep_result *results, cli_measure_error *errs);
/* The rows measures of x and y (held rows) into results[rows_at[..]]. */
simrep_status cli_pair_rows(simrep_ctx *ctx, const cli_measures_split *s, const simrep_matrix *x,
                            const simrep_matrix *y, const simrep_options *opt, simrep_result *results,
                            cli_measure_error *errs);

#endif
