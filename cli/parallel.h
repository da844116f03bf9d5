/*
 * parallel.h: the CLI's MPI layer (the library stays MPI-free).  Built with
 * -DSIMREP_WITH_MPI by mpicc when the Makefile finds it; otherwise the same
 * calls are single-process stubs (rank 0 of 1), so compare.c and matrix.c
 * have one code path.
 *
 * MPI_Init is called only when a launcher started the process (mpirun,
 * srun, mpiexec: see par_init), because a singleton MPI_Init costs about
 * 0.35 s, twenty times the CLI's whole start-up.
 *
 * Errors.  Every rank runs the same replicated phases (parsing, opening the
 * files, checking shapes); ranks other than 0 hold their messages there
 * (cli_hold), since rank 0 prints the same ones.  Each phase ends in
 * par_agree, an MPI_Allreduce of the exit status that every rank reaches
 * even after an error, so no rank is ever left in a collective: if any rank
 * failed, all return the same non-zero status, and a held message is
 * printed by the lowest failing rank when rank 0 did not fail itself.
 * Messages of a rank's own share (reading its rows) are printed at once
 * with "rank R" and the byte range.
 */
#ifndef SIMREP_CLI_PARALLEL_H
#define SIMREP_CLI_PARALLEL_H

#include <stdint.h>

#include "simrep.h"

/* Start MPI if launched by an MPI launcher; returns -1, or an exit status. */
int par_init(int *argc, char ***argv);
/* Agree on the exit status over all ranks (the largest), print the
 * statistics when SIMREP_MPI_STATS is set, finalize MPI; returns the
 * status for main to return. */
int par_finalize(int rc);

int par_rank(void);
int par_size(void);

/* Items [*i0, *i1) of items for this rank: contiguous, sizes differing by
 * at most one (floor(items r / K) .. floor(items (r+1) / K); a rank may have
 * none when items < K). */
void par_share(int64_t items, int64_t *i0, int64_t *i1);

/* Hold (1) or print (0) this rank's messages; rank 0 always prints. */
void par_hold(int on);
/* End of a phase: rc is -1 (this rank is fine) or an exit status.  Returns
 * -1 when every rank is fine, else the largest status (on every rank). */
int par_agree(int rc);

/* Binomial-tree reduction to rank 0 of a state of len doubles: a rank
 * whose lowest set bit is b sends its state (save) to rank - 2^b after
 * folding in what ranks + 2^c, c < b, sent it (fold: merge a received
 * state into its own).  buf holds len doubles.  Rank 0 ends with all of it;
 * log2(K) rounds; each rank sends at most once: len * 8 bytes.  Returns -1
 * or an exit status (fold failing; MPI errors abort the job). */
typedef void (*par_save_fn)(void *user, double *state);
typedef simrep_status (*par_fold_fn)(void *user, const double *state);
int par_tree_reduce(double *buf, int64_t len, par_save_fn save, par_fold_fn fold, void *user);

/* The par_tree_reduce callbacks for a simrep_moments m (any number of
 * inputs): save its state; load another rank's into tmp (same shape) and
 * merge it into m.  compare and matrix both reduce this way. */
typedef struct par_moments_fold {
    simrep_ctx *ctx;
    simrep_moments *m, *tmp;
} par_moments_fold;
void par_moments_save(void *user, double *state);
simrep_status par_moments_merge(void *user, const double *state);

/* Collectives on double arrays of any length (sent in chunks of 2^27). */
void par_bcast(double *buf, int64_t len, int root);
void par_send(const double *buf, int64_t len, int to);
void par_recv(double *buf, int64_t len, int from);
/* Sum into rank 0's buf (others' bufs are unchanged). */
void par_reduce_sum(double *buf, int64_t len);
/* simrep_allreduce_fn for simrep_ctx_set_partition: sum in place on every
 * rank (user unused). */
int par_allreduce_sum(void *user, double *buf, int64_t count);
/* rows is n x p on every rank, row-major, n = items x rpi rows; rank r
 * holds the rows of its items (par_share(n / rpi)).  Afterwards every rank
 * holds all n rows. */
void par_allgather_rows(double *rows, int64_t n, int64_t p, int64_t rpi);
/* The smallest value over the ranks. */
int64_t par_min(int64_t v);

/* "bytes A..B" of the file that items [i0, i1) of in occupy (a stored
 * C-order array with the items first: one range), or the array's range
 * and how the share is read from it (compressed, Fortran order, features
 * x samples), for the messages of a rank that could not read its share. */
void par_share_bytes(simrep_input *in, int features_first, int64_t i0, int64_t i1, char *buf, size_t cap);

/* Bytes this rank handed to MPI (point-to-point sends, and its payload in
 * collectives), for the scaling study. */
double par_bytes_sent(void);

#endif
