/*
 * tiles.h: what the measures computed from the rows share (cka_rbf.c,
 * rsa.c, knn.c): the tile grid of their O(n^2) passes, the work sharing of
 * simrep_ctx_set_partition (which tile rows are this worker's, sums and
 * status agreement through the caller's allreduce), loading the rows as
 * float64, and finding equal rows.  Implemented in tiles.c.
 */
#ifndef SIMREP_TILES_H
#define SIMREP_TILES_H

#include "internal.h"

/* Tile edge of the O(n^2) passes: 256 x 256 doubles (512 KiB) keeps dgemm
 * near peak (k = p is the long dimension) while the per-entry work stays in
 * L2.  Partitions deal tile rows of this size, so every worker computes the
 * same tiles with the same dgemm calls as one worker alone. */
#define SIMREP__TILE 256

/* Whether tile row i0 (a multiple of SIMREP__TILE) is this worker's: tile
 * rows go round robin (I % parts == part), since in the upper triangle row
 * I holds n - I*TILE columns and contiguous blocks would give the first
 * worker the most. */
int simrep__tile_mine(const simrep_ctx *ctx, int64_t i0);

/* The share of an upper-triangle pass done before tile row i0. */
double simrep__pass_fraction(int64_t i0, int64_t n);

/* Sum buf[0 .. count) over the partition's workers in place (who names the
 * measure in the message of a failed allreduce). */
simrep_status simrep__part_sum(simrep_ctx *ctx, const char *who, double *buf, int64_t count);

/* Agree on the status of a step across the workers: every worker returns
 * the smallest failing status of any worker (a failing worker keeps its own
 * message; the others say how many failed).  Without a partition, st. */
simrep_status simrep__part_agree(simrep_ctx *ctx, const char *who, simrep_status st);

/* The limits a partitioned call checks up front: counts exchanged as
 * doubles must stay below 2^53 (pairs = n^2 here) and parts <= 65536. */
simrep_status simrep__part_check(simrep_ctx *ctx, const char *who, int64_t n);

/* The checks every rows measure starts with (who names it): ctx non-NULL
 * (else SIMREP_E_INVALID, with no message to leave), r non-NULL, x and y
 * valid views with the same number of rows.  *opt NULL becomes the
 * defaults, written to *defaults. */
simrep_status simrep__rows_enter(simrep_ctx *ctx, const char *who, const simrep_matrix *x, const simrep_matrix *y,
                                 const simrep_options **opt, simrep_options *defaults, const simrep_result *r);

/* Copy m (n x p, any dtype and strides) into a new row-major float64
 * array, checking every value: NaN or Inf is SIMREP_E_NONFINITE of side
 * (0 x, 1 y: simrep__fail_side), with the row and the column.  *out is
 * NULL on failure. */
simrep_status simrep__rows_load(simrep_ctx *ctx, const simrep_matrix *m, int side, const char *who, double **out);

/* v[0 .. count) times 2^-e, e the exponent of their largest magnitude
 * (frexp's: the largest lands in [0.5, 1)), so that sums of squares and
 * means can neither overflow nor underflow; exact (ldexp, because 2^-e is
 * not a double for tiny data), and nothing when all are 0.  Returns that
 * largest magnitude, before the scaling. */
double simrep__scale_pow2(double *v, size_t count);

/* Whether every row of a row-major n x p array equals the first (every
 * feature constant: a layer no rows measure is defined for). */
int simrep__rows_all_equal(const double *rows, int64_t n, int64_t p);

/* grp[i] = the first row equal to row i (== element by element, -0 and +0
 * alike), for rows of a row-major n x p array: a hash sort, O(n log n + n p)
 * time, O(n) memory.  Tiled measures give equal rows an exact zero distance
 * instead of dgemm's rounding of |xi|^2 + |xj|^2 - 2 xi.xj. */
simrep_status simrep__row_groups(simrep_ctx *ctx, const double *rows, int64_t n, int64_t p, int64_t *grp,
                                 const char *who);

/* Ask the kernel to back a large buffer with huge pages where it can
 * (Linux transparent huge pages in "madvise" mode; a no-op elsewhere).
 * First touches of 4 KiB pages cost more than a radix sort pass over the
 * same memory on virtual machines (measured: 1.7 s against 0.5 s for
 * sorting 8e6 records). */
void simrep__advise_huge(void *p, size_t bytes);

#endif
