/*
 * parallel.c: the CLI's MPI layer (parallel.h): start-up only under a
 * launcher, the agreement on errors, the binomial reduction tree of
 * mergeable states, and chunked collectives on double arrays.  Without
 * -DSIMREP_WITH_MPI every call is the single-process case.
 *
 * Why a tree of saved states and not MPI_Reduce with a user operation: a
 * Moments is not an array that adds elementwise (the pairwise merge of
 * Chan, Golub & LeVeque needs both counts and means to combine the
 * scatters), and an MPI_Op over a derived type of (p+q)^2 doubles would
 * have to rebuild two Moments per call anyway.  The tree is the same
 * log2(K) rounds, each rank sending its state once (O((p+q)^2) bytes, not
 * O(n)), with the merge order fixed by the ranks, so a run is
 * reproducible.  Data never travel, only states.
 *
 * Launcher detection (par_init).  A singleton MPI_Init (the binary started
 * without mpirun) costs about 0.35 s here, against the CLI's 15 ms start, so
 * MPI is started only when the environment shows a launcher: Open MPI's
 * mpirun (OMPI_COMM_WORLD_SIZE), PMI or PMIx launchers, MPICH's hydra and
 * srun with --mpi=pmi2/pmix (PMI_SIZE, PMIX_RANK), or an srun step of more
 * than one task (SLURM_STEP_NUM_TASKS > 1).  SIMREP_MPI=0 never starts MPI,
 * SIMREP_MPI=1 always does.
 */
#include "parallel.h"

#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef SIMREP_WITH_MPI
#include <mpi.h>
#endif

static int rank = 0, size = 1, active = 0, holding = 0;
static double sent_bytes = 0, start_time = 0;

/* Chunks of 2^27 doubles (1 GiB) keep every MPI count an int. */
#define CHUNK ((int64_t)1 << 27)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The launcher variable that shows this process is one of several, or NULL. */
static const char *launcher(void)
{
    const char *force = getenv("SIMREP_MPI");
    if (force && strcmp(force, "0") == 0)
        return NULL;
    if (force && strcmp(force, "1") == 0)
        return "SIMREP_MPI";
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", NULL};
    for (int k = 0; vars[k]; k++)
        if (getenv(vars[k]))
            return vars[k];
    const char *tasks = getenv("SLURM_STEP_NUM_TASKS");
    if (tasks && atoi(tasks) > 1)
        return "SLURM_STEP_NUM_TASKS";
    return NULL;
}

int par_init(int *argc, char ***argv)
{
    start_time = now();
    const char *why = launcher();
    if (!why)
        return -1;
#ifdef SIMREP_WITH_MPI
    if (MPI_Init(argc, argv) != MPI_SUCCESS)
        return cli_error(EXIT_DATA, "MPI_Init failed (launched by an MPI launcher: %s is set)", why);
    active = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* Rank 0 writes every output; the others' stdout would only repeat it
     * (info, measures, --help) or interleave with it. */
    if (rank > 0 && !freopen("/dev/null", "w", stdout))
        return cli_error(EXIT_DATA, "rank %d: cannot redirect stdout to /dev/null", rank);
    par_hold(1);
#else
    (void)argc, (void)argv;
    const char *n = getenv(why);
    if (strcmp(why, "PMIX_RANK") != 0 && n && atoi(n) > 1)
        cli_warning("started by an MPI launcher (%s=%s) but this simrep was built without MPI (install "
                    "libopenmpi-dev and rebuild): every process runs the whole job", why, n);
#endif
    return -1;
}

int par_rank(void)
{
    return rank;
}

int par_size(void)
{
    return size;
}

double par_bytes_sent(void)
{
    return sent_bytes;
}

void par_share(int64_t items, int64_t *i0, int64_t *i1)
{
    /* floor(items * r / K) without overflowing items * r. */
    const int64_t q = items / size, rem = items % size;
    *i0 = q * rank + rem * rank / size;
    *i1 = q * (rank + 1) + rem * (rank + 1) / size;
}

void par_hold(int on)
{
    holding = on && rank > 0;
    cli_hold(holding);
}

int par_agree(int rc)
{
    if (!active || size == 1)
        return rc;
#ifdef SIMREP_WITH_MPI
    int mine[2] = {rc >= 0 ? rc : -1, rc >= 0 ? size - rank : 0}, all[2];
    MPI_Allreduce(mine, all, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (all[1] == 0)
        return -1;
    const int first = size - all[1];
    if (first == rank && rank > 0 && cli_held_error()[0]) {
        /* Rank 0 did not fail, so nobody printed this yet. */
        fprintf(stderr, "simrep: error: %s\n", cli_held_error());
        cli_hold(0);
        cli_hold(holding);
    }
    return all[0];
#else
    return rc;
#endif
}

int par_finalize(int rc)
{
    if (!active)
        return rc;
#ifdef SIMREP_WITH_MPI
    int all = rc;
    MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (getenv("SIMREP_MPI_STATS"))
        fprintf(stderr, "simrep: mpi: rank %d of %d: %.0f bytes sent, %.3f s\n", rank, size, sent_bytes,
                now() - start_time);
    MPI_Finalize();
    return all;
#else
    return rc;
#endif
}

int par_tree_reduce(double *buf, int64_t len, par_save_fn save, par_fold_fn fold, void *user)
{
    int rc = -1;
    for (int step = 1; step < size; step <<= 1) {
        if (rank & step) {
            save(user, buf);
            par_send(buf, len, rank - step);
            break;
        }
        if (rank + step < size) {
            par_recv(buf, len, rank + step);
            if (rc < 0 && fold(user, buf) != SIMREP_OK)
                rc = cli_error(EXIT_DATA, "rank %d: merging the state of rank %d failed", rank, rank + step);
        }
    }
    return rc;
}

void par_send(const double *buf, int64_t len, int to)
{
#ifdef SIMREP_WITH_MPI
    for (int64_t o = 0; o < len; o += CHUNK) {
        const int c = (int)(len - o < CHUNK ? len - o : CHUNK);
        MPI_Send(buf + o, c, MPI_DOUBLE, to, 7, MPI_COMM_WORLD);
    }
    sent_bytes += 8.0 * (double)len;
#else
    (void)buf, (void)len, (void)to;
#endif
}

void par_recv(double *buf, int64_t len, int from)
{
#ifdef SIMREP_WITH_MPI
    for (int64_t o = 0; o < len; o += CHUNK) {
        const int c = (int)(len - o < CHUNK ? len - o : CHUNK);
        MPI_Recv(buf + o, c, MPI_DOUBLE, from, 7, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    }
#else
    (void)buf, (void)len, (void)from;
#endif
}

void par_bcast(double *buf, int64_t len, int root)
{
#ifdef SIMREP_WITH_MPI
    if (size == 1)
        return;
    for (int64_t o = 0; o < len; o += CHUNK) {
        const int c = (int)(len - o < CHUNK ? len - o : CHUNK);
        MPI_Bcast(buf + o, c, MPI_DOUBLE, root, MPI_COMM_WORLD);
    }
    if (rank == root)
        sent_bytes += 8.0 * (double)len;
#else
    (void)buf, (void)len, (void)root;
#endif
}

void par_reduce_sum(double *buf, int64_t len)
{
#ifdef SIMREP_WITH_MPI
    if (size == 1)
        return;
    for (int64_t o = 0; o < len; o += CHUNK) {
        const int c = (int)(len - o < CHUNK ? len - o : CHUNK);
        MPI_Reduce(rank == 0 ? MPI_IN_PLACE : buf + o, buf + o, c, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    }
    if (rank > 0)
        sent_bytes += 8.0 * (double)len;
#else
    (void)buf, (void)len;
#endif
}

int par_allreduce_sum(void *user, double *buf, int64_t count)
{
    (void)user;
#ifdef SIMREP_WITH_MPI
    for (int64_t o = 0; o < count; o += CHUNK) {
        const int c = (int)(count - o < CHUNK ? count - o : CHUNK);
        if (MPI_Allreduce(MPI_IN_PLACE, buf + o, c, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return -1;
    }
    sent_bytes += 8.0 * (double)count;
#else
    (void)buf, (void)count;
#endif
    return 0;
}

void par_allgather_rows(double *rows, int64_t n, int64_t p, int64_t rpi)
{
#ifdef SIMREP_WITH_MPI
    if (size == 1)
        return;
    int *counts = malloc((size_t)size * sizeof *counts), *displs = malloc((size_t)size * sizeof *displs);
    if (!counts || !displs) {
        /* Too small to fail in practice; abort rather than hang the others. */
        MPI_Abort(MPI_COMM_WORLD, EXIT_DATA);
    }
    const int me = rank;
    int64_t i0, i1;
    for (int r = 0; r < size; r++) {
        rank = r;
        par_share(n / rpi, &i0, &i1);
        counts[r] = (int)((i1 - i0) * rpi);
        displs[r] = (int)(i0 * rpi);
    }
    rank = me;
    MPI_Datatype row;
    MPI_Type_contiguous((int)p, MPI_DOUBLE, &row);
    MPI_Type_commit(&row);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rows, counts, displs, row, MPI_COMM_WORLD);
    MPI_Type_free(&row);
    sent_bytes += 8.0 * (double)counts[rank] * (double)p;
    free(counts);
    free(displs);
#else
    (void)rows, (void)n, (void)p, (void)rpi;
#endif
}

void par_share_bytes(simrep_input *in, int features_first, int64_t i0, int64_t i1, char *buf, size_t cap)
{
    const simrep_array_info *info = simrep_input_info(in);
    simrep_input_dims d;
    simrep_input_dims_get(in, &d);
    if (!info->compressed && !info->fortran_order && !(d.ndim == 2 && features_first) && d.items > 0) {
        const double per = (double)info->data_size / (double)d.items;
        snprintf(buf, cap, "bytes %.0f..%.0f", (double)info->data_offset + per * (double)i0,
                 (double)info->data_offset + per * (double)i1);
    } else {
        snprintf(buf, cap, "within bytes %llu..%llu (%s)", (unsigned long long)info->data_offset,
                 (unsigned long long)(info->data_offset + info->data_size),
                 info->compressed ? "a deflated member, inflated from its start up to the share"
                                  : "strided: a column-major array");
    }
}

int64_t par_min(int64_t v)
{
#ifdef SIMREP_WITH_MPI
    if (size > 1) {
        long long in = v, out = v;
        MPI_Allreduce(&in, &out, 1, MPI_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
        return out;
    }
#endif
    return v;
}

void par_moments_save(void *user, double *state)
{
    simrep_moments_save(((par_moments_fold *)user)->m, state);
}

simrep_status par_moments_merge(void *user, const double *state)
{
    par_moments_fold *f = user;
    simrep_status st = simrep_moments_load(f->ctx, f->tmp, state);
    return st == SIMREP_OK ? simrep_moments_merge(f->ctx, f->m, f->tmp) : st;
}
