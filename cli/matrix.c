/*
 * matrix.c: `simrep matrix --manifest M.csv`: every pair of the K inputs a
 * manifest lists, compared once (i < j in manifest order, mirrored), with
 * the work each input needs done once, and the pairs spread over threads.
 *
 * Method.  One pass over the samples feeds every input's block into one
 * K-input simrep_moments (simrep_moments_update_multi: one DSYRK over the
 * sum of the feature counts gives every pair's cross-scatter and each
 * input's own scatter).  simrep_pairs_prepare then does the per-input work
 * once (dead features, the whitening eigendecomposition), and
 * simrep_pairs_compare gives a pair for the cost of its cross terms; the
 * pairs are handed to --threads workers, each with its own context, over
 * one read-only simrep_pairs.  Compared with K(K-1)/2 runs of `simrep
 * compare`, each input is read and converted once instead of K - 1 times
 * and eigendecomposed once instead of K - 1 times.
 *
 * Memory.  The joint state is (sum of p)^2 doubles: 40 inputs of 256
 * features are 0.8 GiB.  When that exceeds --max-memory (1 GiB by
 * default), the inputs are cut, in manifest order, into tiles small enough
 * that two tiles fit together, and the data are read once per pair of
 * tiles: pass (a, b) is a K-input moments over the union of tiles a and b,
 * giving the pairs across them and the pairs inside either that no earlier
 * pass gave.  T tiles take T(T-1)/2 passes, each input being read T - 1
 * times and prepared once per pass; results are identical to one pass
 * (every pair comes from the same exact moments either way).
 *
 * Measures of the rows (the registry's family ROWS: cka_rbf, ...) need the
 * rows themselves: when any is asked for, each input of a pass is also kept
 * as float64 (n x p each, counted against --max-memory) and each pair calls
 * simrep_compare on two of them for all of those measures at once.  Their
 * cost is O(n^2 (p + q)) per pair, so they dominate any matrix they are in.
 * Which measure is in which family, and what it costs, is the library's
 * registry's to say (simrep_measure_get_info, simrep_measure_*_cost): no
 * measure is named here.
 *
 * MPI (mpirun -np K simrep matrix ...; parallel.h).  Each pass is shared
 * by the ranks in three static schedules, computed alike on every rank:
 * the samples (rank r reads items [N r / K, N (r+1) / K) of every member
 * into its own K-input moments; the partial moments go down the binomial
 * merge tree to rank 0, which broadcasts the merged state, (sum p)^2
 * doubles, to all); the inputs (each input's own work, simrep_pairs_
 * prepare_some, is done once, on the rank the longest-first greedy
 * schedule gives it by the library's input cost of the measures, and its
 * state is sent to the ranks whose pairs need it); and the pairs (greedy by
 * the library's pair cost: the cross terms, or n^2 (p_i + p_j) for a
 * measure of the rows, whose rows are all-gathered).  --threads workers run each rank's pairs.
 * Rank 0 receives every rank's results (the values themselves, so the
 * output is bit for bit the single-process one) and writes all outputs.
 * --max-memory tiling is unchanged: every rank runs the same passes.
 * Every phase ends with an agreement (par_agree), so an error on one rank
 * stops all of them.
 */
#include "matrix.h"
#include "parallel.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *matrix_help_head =
    "usage: simrep matrix --manifest M.csv [options]\n"
    "\n"
    "Every pair of the inputs listed in M.csv compared once (in parallel), as K x K matrices.\n"
    "M.csv has a header and columns name,path plus optional group, layer, step and any others\n"
    "(carried through to the outputs); path is path.npy, path.npz:key or path.safetensors:name,\n"
    "relative to the manifest's directory.  Every input must have the same n samples.\n"
    "\n"
    "options:\n"
    "  --manifest M.csv         the inputs (required)\n";

static const char *matrix_help_tail =
    "  --format F               table (default), json or csv (long form: one row per pair and measure)\n"
    "  -o, --output DIR         also write CSV matrices, the group summary, training/depth tables,\n"
    "                           SVG figures (heatmaps with dendrograms, MDS maps, group bars; PNG copies\n"
    "                           when rsvg-convert is installed) and DIR/index.html, a one-page report\n"
    "  --range LO,HI            the heatmaps' colour scale (default: the range of the values shown)\n"
    "  --no-png                 no PNG copies of the figures\n"
    "  --threads T              pairs computed by T threads (default: the number of CPUs)\n"
    "  --max-memory SIZE        budget for the joint moments, e.g. 512M, 4G (default 1G); larger\n"
    "                           manifests are done in several passes over the data\n"
    "  --against final          training dynamics: each row against the last step of its group and\n"
    "                           layer (automatic when the manifest has step and layer columns)\n"
    "  --features-first         arrays are features x samples (the google/svcca layout)\n"
    "  --conv L, --conv-mode M, --resize R, --sequence S (flatten, first, last or mean), --mask FILE[:key]\n"
    "                           conv maps and sequences, as in simrep compare (applied to every input)\n"
    "  -h, --help               this help\n"
    "\n"
    "Rows with a group column get within/between group summaries; with a layer column and groups,\n"
    "layer x layer matrices between every two groups (depth); with step (and layer) columns, the\n"
    "distance of each layer at each step to the same layer at the last step (training dynamics).\n";

typedef struct matrix_args {
    const char *manifest;
    const char *outdir;
    int format;
    int threads;
    double max_memory;
    int against_final;
    double range_lo, range_hi;
    int no_png;
    simrep_layout layout;
    simrep_measure measures[SIMREP_MEASURE_COUNT];
    int nmeasures;
    simrep_options opt;
} matrix_args;

/* "LO,HI": two finite numbers, LO < HI. */
static int parse_range(const char *s, double *lo, double *hi)
{
    char *end = NULL;
    errno = 0;
    *lo = strtod(s, &end);
    if (end == s || *end != ',' || errno)
        return cli_error(EXIT_USAGE, "--range takes LO,HI such as 0.5,1 (got '%s')", s);
    const char *second = end + 1;
    *hi = strtod(second, &end);
    if (end == second || *end || errno)
        return cli_error(EXIT_USAGE, "--range takes LO,HI such as 0.5,1 (got '%s')", s);
    if (!isfinite(*lo) || !isfinite(*hi) || !(*lo < *hi))
        return cli_error(EXIT_USAGE, "--range needs finite LO < HI (got '%s')", s);
    return 0;
}

static int parse_args(int argc, char **argv, matrix_args *a)
{
    memset(a, 0, sizeof *a);
    simrep_options_init(&a->opt);
    simrep_layout_init(&a->layout);
    cli_seen seen = {0, 0, 0};
    cli_default_measures(a->measures, &a->nmeasures);
    a->max_memory = 1024.0 * 1024 * 1024;
    a->range_lo = a->range_hi = NAN;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    a->threads = cpus > 0 ? (int)(cpus > 256 ? 256 : cpus) : 1;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(matrix_help_head, stdout);
            cli_help_measures(stdout, 0);
            fputs(matrix_help_tail, stdout);
            return 0;
        }
        if (arg[0] != '-')
            return cli_error(EXIT_USAGE, "matrix takes its inputs from --manifest M.csv; unexpected '%s'", arg);
        if (strcmp(arg, "--features-first") == 0) {
            a->layout.features_first = 1;
            continue;
        }
        if (strcmp(arg, "--no-png") == 0) {
            a->no_png = 1;
            continue;
        }
        static const char *const valued[] = {"--manifest", "-m", "--measures", "--format", "-o", "--output",
                                             "--threads", "--max-memory", "--against", "--conv", "--conv-mode",
                                             "--resize", "--sequence", "--mask", "--range", NULL};
        char name[64];
        const char *val = NULL;
        int rc = cli_split_option(argc, argv, &i, valued, "matrix", name, sizeof name, &val);
        if (rc >= 0)
            return rc;
        double v = 0;
        if ((rc = cli_measure_option(name, val, &a->opt, &seen)) != CLI_OPT_NOT_MINE ||
            (rc = cli_layout_option(name, val, 0, &a->layout, &seen)) != CLI_OPT_NOT_MINE) {
            /* handled; rc is 0 or an error */
        } else if (strcmp(name, "--manifest") == 0) {
            a->manifest = val;
            rc = 0;
        } else if (strcmp(name, "-m") == 0 || strcmp(name, "--measures") == 0) {
            cli_measures ms;
            if ((rc = cli_parse_measures(val, 0, &ms)) == 0) {
                memcpy(a->measures, ms.ids, sizeof ms.ids);
                a->nmeasures = ms.count;
            }
        } else if (strcmp(name, "--format") == 0) {
            rc = 0;
            if (strcmp(val, "table") == 0)
                a->format = MX_FORMAT_TABLE;
            else if (strcmp(val, "json") == 0)
                a->format = MX_FORMAT_JSON;
            else if (strcmp(val, "csv") == 0)
                a->format = MX_FORMAT_CSV;
            else
                rc = cli_error(EXIT_USAGE, "--format is table, json or csv (got '%s')", val);
        } else if (strcmp(name, "-o") == 0 || strcmp(name, "--output") == 0) {
            a->outdir = val;
            rc = 0;
        } else if (strcmp(name, "--threads") == 0) {
            rc = cli_parse_number(name, val, &v);
            if (!rc && !(v >= 1 && v <= 1024 && v == floor(v)))
                rc = cli_error(EXIT_USAGE, "--threads takes a whole number from 1 to 1024 (got %s)", val);
            a->threads = (int)v;
        } else if (strcmp(name, "--max-memory") == 0) {
            rc = cli_parse_size(name, val, &a->max_memory);
        } else if (strcmp(name, "--range") == 0) {
            rc = parse_range(val, &a->range_lo, &a->range_hi);
        } else if (strcmp(name, "--against") == 0) {
            rc = 0;
            if (strcmp(val, "final") != 0)
                rc = cli_error(EXIT_USAGE, "--against takes 'final' (got '%s')", val);
            a->against_final = 1;
        }
        if (rc)
            return rc;
    }
    int rc = cli_check_layout(&a->layout, &seen);
    if (rc >= 0)
        return rc;
    if (!a->manifest)
        return cli_error(EXIT_USAGE, "matrix needs --manifest M.csv (see simrep matrix --help)");
    return -1;
}

/* ------------------------------------------------------------ inputs */

/* Index of s in names[0..*n), appending it if new; -1 when out of memory. */
static int intern(const char ***names, int *n, const char *s)
{
    for (int k = 0; k < *n; k++)
        if (strcmp((*names)[k], s) == 0)
            return k;
    const char **grown = realloc(*names, (size_t)(*n + 1) * sizeof **names);
    if (!grown)
        return -1;
    *names = grown;
    grown[*n] = s;
    return (*n)++;
}

static int input_error(const mx_run *r, int i, const char *msg)
{
    return cli_error(EXIT_DATA, "%s:%d: %s: %s", r->manifest_path, r->in[i].line, r->in[i].name, msg);
}

/* Resolve the manifest's rows: paths, groups, layers, steps; open every
 * input once for its shape. */
static int load_inputs(mx_run *r, const matrix_args *a)
{
    char err[1024];
    if (manifest_read_file(a->manifest, &r->man, err, sizeof err) != 0)
        return cli_error(EXIT_DATA, "%s", err);
    const manifest *m = &r->man;
    r->K = m->nrows;
    if (r->K < 2)
        return cli_error(EXIT_DATA, "%s: a matrix needs at least 2 inputs (the manifest lists %d)", a->manifest, r->K);
    r->in = calloc((size_t)r->K, sizeof *r->in);
    if (!r->in)
        return cli_error(EXIT_DATA, "out of memory");
    r->has_group_column = m->col_group >= 0;
    const char *slash = strrchr(a->manifest, '/');
    size_t dirlen = slash ? (size_t)(slash - a->manifest) + 1 : 0;
    for (int i = 0; i < r->K; i++) {
        mx_input *in = &r->in[i];
        in->name = manifest_cell(m, i, m->col_name);
        in->line = m->line[i];
        in->kept = -1;
        const char *path = manifest_cell(m, i, m->col_path);
        size_t len = strlen(path) + dirlen + 1;
        if (!(in->spec = malloc(len)))
            return cli_error(EXIT_DATA, "out of memory");
        if (path[0] == '/' || dirlen == 0)
            snprintf(in->spec, len, "%s", path);
        else
            snprintf(in->spec, len, "%.*s%s", (int)dirlen, a->manifest, path);
        const char *g = m->col_group >= 0 ? manifest_cell(m, i, m->col_group) : "all";
        if (!*g)
            return cli_error(EXIT_DATA, "%s:%d: empty group for '%s' (give every row a group, or drop the column)",
                             a->manifest, in->line, in->name);
        if ((in->group = intern(&r->groups, &r->ngroups, g)) < 0)
            return cli_error(EXIT_DATA, "out of memory");
        in->layer = -1;
        if (m->col_layer >= 0) {
            const char *l = manifest_cell(m, i, m->col_layer);
            if (!*l)
                return cli_error(EXIT_DATA, "%s:%d: empty layer for '%s'", a->manifest, in->line, in->name);
            if ((in->layer = intern(&r->layers, &r->nlayers, l)) < 0)
                return cli_error(EXIT_DATA, "out of memory");
        }
        if (m->col_step >= 0) {
            const char *s = manifest_cell(m, i, m->col_step);
            char *end = NULL;
            errno = 0;
            in->step = strtod(s, &end);
            if (!*s || *end || errno || !isfinite(in->step))
                return cli_error(EXIT_DATA, "%s:%d: step '%s' of '%s' is not a number", a->manifest, in->line, s,
                                 in->name);
        }
    }
    /* Shapes: every input open at once, so that simrep_inputs_agree can
     * settle the conv target sizes over the whole manifest; each pass opens
     * its inputs again and sets the same sizes. */
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_input **ins = calloc((size_t)r->K, sizeof *ins);
    if (!ctx || !ins) {
        simrep_ctx_free(ctx);
        free(ins);
        return cli_error(EXIT_DATA, "out of memory");
    }
    int rc = -1;
    simrep_input_dims d0;
    memset(&d0, 0, sizeof d0);
    for (int i = 0; i < r->K && rc < 0; i++) {
        simrep_status st = simrep_input_open(ctx, r->in[i].spec, &a->layout, &ins[i]);
        if (st != SIMREP_OK) {
            rc = input_error(r, i, simrep_ctx_message(ctx)[0] ? simrep_ctx_message(ctx) : simrep_strerror(st));
            break;
        }
        simrep_input_dims d;
        simrep_input_dims_get(ins[i], &d);
        if (i == 0)
            d0 = d;
        if (d.features < 1) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s: has no features", r->in[i].spec);
            rc = input_error(r, i, msg);
        } else if (d.items != d0.items) {
            rc = cli_error(EXIT_DATA, "%s:%d: '%s' (%s) has %lld samples but '%s' (line %d, %s) has %lld; every "
                           "input must have the same samples in the same order%s",
                           a->manifest, r->in[i].line, r->in[i].name, r->in[i].spec, (long long)d.items,
                           r->in[0].name, r->in[0].line, r->in[0].spec, (long long)d0.items,
                           a->layout.features_first ? "" : " (if your arrays are features x samples, add --features-first)");
        } else if (d.items < 1) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s: has no samples", r->in[i].spec);
            rc = input_error(r, i, msg);
        }
    }
    if (rc < 0) {
        simrep_status st = simrep_inputs_agree(ctx, ins, r->K);
        if (st != SIMREP_OK) {
            /* The message starts with the label of the input at fault. */
            const char *msg = simrep_ctx_message(ctx);
            int at = -1;
            size_t best = 0;
            for (int i = 0; i < r->K; i++) {
                const char *label = simrep_input_label(ins[i]);
                size_t len = strlen(label);
                if (len > best && strncmp(msg, label, len) == 0 && msg[len] == ':')
                    at = i, best = len;
            }
            rc = at >= 0 ? input_error(r, at, msg) : cli_error(EXIT_DATA, "%s: %s", a->manifest, msg);
        }
    }
    for (int i = 0; i < r->K && rc < 0; i++) {
        simrep_input_dims d;
        simrep_input_dims_get(ins[i], &d);
        r->in[i].n = d.samples;
        r->in[i].p = d.features;
        r->in[i].out_h = d.out_height;
        r->in[i].out_w = d.out_width;
        r->in[i].rows_per_item = d.rows_per_item > 0 ? d.rows_per_item : 1;
        if (d.samples != r->in[0].n)
            rc = cli_error(EXIT_DATA, "%s:%d: '%s' reads as %lld samples but '%s' (line %d) as %lld (mixing 2-D "
                           "inputs with conv positions or sequence flatten inputs gives different sample counts)",
                           a->manifest, r->in[i].line, r->in[i].name, (long long)d.samples, r->in[0].name,
                           r->in[0].line, (long long)r->in[0].n);
    }
    for (int i = 0; i < r->K; i++)
        simrep_input_free(ctx, ins[i]);
    free(ins);
    simrep_ctx_free(ctx);
    return rc;
}

/* Training dynamics and depth tables: which apply, and their consistency. */
static int plan_views(mx_run *r, const matrix_args *a)
{
    const manifest *m = &r->man;
    if (a->against_final && m->col_step < 0)
        return cli_error(EXIT_DATA, "%s: --against final needs a step column in the manifest", a->manifest);
    r->training = m->col_step >= 0 && (m->col_layer >= 0 || a->against_final);
    r->depth = !r->training && m->col_layer >= 0 && r->ngroups >= 2;
    if (r->training) {
        r->final_of = malloc((size_t)r->K * sizeof *r->final_of);
        if (!r->final_of)
            return cli_error(EXIT_DATA, "out of memory");
        for (int i = 0; i < r->K; i++) {
            int best = i;
            for (int j = 0; j < r->K; j++) {
                if (j == i || r->in[j].group != r->in[i].group || r->in[j].layer != r->in[i].layer)
                    continue;
                if (r->in[j].step == r->in[i].step && j < i)
                    return cli_error(EXIT_DATA, "%s:%d: '%s' has the same group, layer and step as '%s' (line %d)",
                                     a->manifest, r->in[i].line, r->in[i].name, r->in[j].name, r->in[j].line);
                if (r->in[j].step > r->in[best].step)
                    best = j;
            }
            r->final_of[i] = best;
        }
    }
    if (r->depth)
        for (int i = 0; i < r->K; i++)
            for (int j = 0; j < i; j++)
                if (r->in[j].group == r->in[i].group && r->in[j].layer == r->in[i].layer)
                    return cli_error(EXIT_DATA, "%s:%d: '%s' has the same group and layer as '%s' (line %d); a "
                                     "depth comparison needs one row per layer of each group",
                                     a->manifest, r->in[i].line, r->in[i].name, r->in[j].name, r->in[j].line);
    return -1;
}

/* -------------------------------------------------------------- passes */

/* Terminal progress line, shared by the reading loop and the workers. */
typedef struct progress {
    int on;
    pthread_mutex_t lock;
    struct timespec last;
    int shown;
} progress;

static void progress_show(progress *pr, int pass, int passes, const char *what, int64_t done, int64_t total)
{
    if (!pr->on || pthread_mutex_trylock(&pr->lock) != 0)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - pr->last.tv_sec) + 1e-9 * (double)(now.tv_nsec - pr->last.tv_nsec);
    if (dt >= 0.1 || done == total) {
        int width = 30, fill = total > 0 ? (int)(width * done / total) : width;
        char bar[32];
        for (int k = 0; k < width; k++)
            bar[k] = k < fill ? '#' : '.';
        bar[width] = 0;
        fprintf(stderr, "\rsimrep: pass %d/%d %-8s [%s] %lld/%lld ", pass, passes, what, bar, (long long)done,
                (long long)total);
        fflush(stderr);
        pr->last = now;
        pr->shown = 1;
    }
    pthread_mutex_unlock(&pr->lock);
}

typedef struct pass_state {
    mx_run *r;
    const simrep_pairs *pairs;
    int nm;
    const int *members;          /* local index -> global input */
    const int *job_i, *job_j;    /* local indices, job_i < job_j */
    int njobs;
    simrep_measure linear[SIMREP_MEASURE_COUNT];
    int lin_where[SIMREP_MEASURE_COUNT], nlin;
    simrep_measure rowsm[SIMREP_MEASURE_COUNT]; /* the measures of the rows (family ROWS) */
    int rows_where[SIMREP_MEASURE_COUNT], nrows;
    double **rows;               /* per local input, n x p, with measures of the rows */
    int64_t *kept_x, *kept_y;    /* per job */
    unsigned *warn;              /* per job: the warnings of its kept-reporting result */
    atomic_int next, stop, done;
    pthread_mutex_t lock;
    int err_job;
    char err[1200];
    progress *pr;
    int pass, passes;
} pass_state;

/* A pair's failure as "<manifest>:<line>: <name>: <path>: <what>". */
static void pair_failed(pass_state *s, int job, simrep_ctx *ctx, simrep_status st)
{
    const mx_run *r = s->r;
    int gi = s->members[s->job_i[job]], gj = s->members[s->job_j[job]];
    const char *msg = simrep_ctx_message(ctx);
    if (!msg || !*msg)
        msg = simrep_strerror(st);
    char buf[1200];
    if (strncmp(msg, "x: ", 3) == 0 || strncmp(msg, "y: ", 3) == 0) {
        int g = msg[0] == 'x' ? gi : gj;
        snprintf(buf, sizeof buf, "%s:%d: %s: %s: %s", r->manifest_path, r->in[g].line, r->in[g].name, r->in[g].spec,
                 msg + 3);
    } else {
        snprintf(buf, sizeof buf, "%s: %s against %s: %s", r->manifest_path, r->in[gi].name, r->in[gj].name, msg);
    }
    pthread_mutex_lock(&s->lock);
    if (s->err_job < 0 || job < s->err_job) {
        s->err_job = job;
        snprintf(s->err, sizeof s->err, "%s", buf);
    }
    pthread_mutex_unlock(&s->lock);
    atomic_store(&s->stop, 1);
}

static void *pass_worker(void *arg)
{
    pass_state *s = arg;
    mx_run *r = s->r;
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_result res[SIMREP_MEASURE_COUNT];
    int K = r->K;
    for (;;) {
        if (atomic_load(&s->stop))
            break;
        int job = atomic_fetch_add(&s->next, 1);
        if (job >= s->njobs)
            break;
        if (!ctx) {
            pthread_mutex_lock(&s->lock);
            if (s->err_job < 0)
                s->err_job = job, snprintf(s->err, sizeof s->err, "out of memory");
            pthread_mutex_unlock(&s->lock);
            atomic_store(&s->stop, 1);
            break;
        }
        int li = s->job_i[job], lj = s->job_j[job], gi = s->members[li], gj = s->members[lj];
        if (s->nlin > 0) {
            memset(res, 0, sizeof res);
            simrep_status st = simrep_pairs_compare(ctx, s->pairs, li, lj, s->linear, s->nlin, res);
            if (st != SIMREP_OK) {
                pair_failed(s, job, ctx, st);
                break;
            }
            for (int t = 0; t < s->nlin; t++) {
                int w = s->lin_where[t];
                r->sim[w][(size_t)gi * K + gj] = res[t].similarity;
                r->dist[w][(size_t)gi * K + gj] = res[t].distance;
                if (simrep_measure_get_info(res[t].measure)->outputs & SIMREP_OUT_KEPT) {
                    s->kept_x[job] = res[t].kept_p;
                    s->kept_y[job] = res[t].kept_q;
                    s->warn[job] = res[t].warnings;
                }
                simrep_result_clear(ctx, &res[t]);
            }
        }
        if (s->nrows > 0) {
            simrep_matrix x = simrep_matrix_c(s->rows[li], SIMREP_F64, r->in[gi].n, r->in[gi].p);
            simrep_matrix y = simrep_matrix_c(s->rows[lj], SIMREP_F64, r->in[gj].n, r->in[gj].p);
            memset(res, 0, sizeof res);
            simrep_status st = simrep_compare(ctx, &x, &y, &r->opt, s->rowsm, s->nrows, res);
            if (st != SIMREP_OK) {
                pair_failed(s, job, ctx, st);
                break;
            }
            for (int t = 0; t < s->nrows; t++) {
                r->sim[s->rows_where[t]][(size_t)gi * K + gj] = res[t].similarity;
                r->dist[s->rows_where[t]][(size_t)gi * K + gj] = res[t].distance;
                simrep_result_clear(ctx, &res[t]);
            }
        }
        int done = atomic_fetch_add(&s->done, 1) + 1;
        progress_show(s->pr, s->pass, s->passes, "pairs", done, s->njobs);
    }
    simrep_ctx_free(ctx);
    return NULL;
}

/* A library error during a pass, with "input K: " / "x: " / "y: " mapped
 * to the manifest row. */
static int pass_error(const mx_run *r, simrep_ctx *ctx, simrep_status st, const int *members, int nm)
{
    const char *msg = simrep_ctx_message(ctx);
    if (!msg || !*msg)
        msg = simrep_strerror(st);
    int k = -1, skip = 0;
    if (nm == 2 && (strncmp(msg, "x: ", 3) == 0 || strncmp(msg, "y: ", 3) == 0))
        k = msg[0] == 'x' ? 0 : 1, skip = 3;
    else if (sscanf(msg, "input %d: %n", &k, &skip) < 1 || skip == 0)
        k = -1;
    if (k >= 0 && k < nm) {
        int g = members[k];
        char buf[1200];
        snprintf(buf, sizeof buf, "%s: %s", r->in[g].spec, msg + skip);
        return input_error(r, g, buf);
    }
    return cli_error(st == SIMREP_E_INVALID ? EXIT_USAGE : EXIT_DATA, "%s: %s", r->manifest_path, msg);
}

/* A pair's warnings to its inputs: i was x, j was y. */
static void input_warnings(mx_run *r, int i, int j, unsigned w)
{
    if (w & SIMREP_WARN_FEW_SAMPLES_X)
        r->in[i].warn |= SIMREP_WARN_FEW_SAMPLES;
    if (w & SIMREP_WARN_FEW_SAMPLES_Y)
        r->in[j].warn |= SIMREP_WARN_FEW_SAMPLES;
    if (w & SIMREP_WARN_DEAD_X)
        r->in[i].warn |= SIMREP_WARN_DEAD_FEATURES;
    if (w & SIMREP_WARN_DEAD_Y)
        r->in[j].warn |= SIMREP_WARN_DEAD_FEATURES;
}

/* Longest first: items by decreasing cost (ties by index), each to the
 * rank with the least cost so far (ties to the lowest rank). */
static int schedule(int count, const double *cost, int ranks, int *who)
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

/* One pass: read the members' samples into one K-input moments (and rows
 * for the measures of the rows), prepare, compare the given pairs (global i < j). */
static int run_pass(mx_run *r, const matrix_args *a, const int *members, int nm, const int *pi, const int *pj,
                    int npairs, int pass, int passes, progress *pr)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    if (!ctx)
        return cli_error(EXIT_DATA, "out of memory");
    pass_state s;
    memset(&s, 0, sizeof s);
    s.r = r;
    s.nm = nm;
    s.members = members;
    s.err_job = -1;
    s.pr = pr;
    s.pass = pass;
    s.passes = passes;
    for (int t = 0; t < r->nmeasures; t++) {
        if (simrep_measure_get_info(r->measures[t])->family == SIMREP_FAMILY_ROWS) {
            s.rows_where[s.nrows] = t;
            s.rowsm[s.nrows++] = r->measures[t];
        } else {
            s.lin_where[s.nlin] = t;
            s.linear[s.nlin++] = r->measures[t];
        }
    }
    int rc = -1;
    simrep_input **src = calloc((size_t)nm, sizeof *src);
    int64_t *feat = calloc((size_t)nm, sizeof *feat);
    simrep_matrix *blocks = calloc((size_t)nm, sizeof *blocks);
    int *local = calloc((size_t)r->K, sizeof *local);
    int *ji = malloc((size_t)(npairs ? npairs : 1) * sizeof *ji), *jj = malloc((size_t)(npairs ? npairs : 1) * sizeof *jj);
    s.kept_x = malloc((size_t)(npairs ? npairs : 1) * sizeof *s.kept_x);
    s.kept_y = malloc((size_t)(npairs ? npairs : 1) * sizeof *s.kept_y);
    s.warn = calloc((size_t)(npairs ? npairs : 1), sizeof *s.warn);
    if (s.nrows > 0)
        s.rows = calloc((size_t)nm, sizeof *s.rows);
    simrep_moments *mom = NULL;
    simrep_pairs *pairs = NULL;
    if (!src || !feat || !blocks || !local || !ji || !jj || !s.kept_x || !s.kept_y || !s.warn || (s.nrows > 0 && !s.rows))
        rc = cli_error(EXIT_DATA, "out of memory");
    int64_t n = r->in[members[0]].n, ptot = 0;
    for (int k = 0; k < nm && rc < 0; k++) {
        int g = members[k];
        local[g] = k;
        feat[k] = r->in[g].p;
        ptot += feat[k];
        simrep_status st = simrep_input_open(ctx, r->in[g].spec, &a->layout, &src[k]);
        if (st == SIMREP_OK && r->in[g].out_h > 0)
            st = simrep_input_set_spatial(ctx, src[k], r->in[g].out_h, r->in[g].out_w);
        if (st != SIMREP_OK)
            rc = input_error(r, g, simrep_ctx_message(ctx));
        if (rc < 0 && s.rows) {
            s.rows[k] = malloc((size_t)n * (size_t)feat[k] * sizeof(double));
            if (!s.rows[k])
                rc = cli_error(EXIT_DATA, "out of memory: measures of the rows keep every input as float64 (%.1f MiB for '%s')",
                               (double)n * (double)feat[k] * 8 / 1048576.0, r->in[g].name);
        }
    }
    for (int t = 0; t < npairs && rc < 0; t++) {
        ji[t] = local[pi[t]];
        jj[t] = local[pj[t]];
        s.kept_x[t] = s.kept_y[t] = -1;
    }
    s.job_i = ji;
    s.job_j = jj;
    s.njobs = npairs;
    if (rc < 0 && s.nlin > 0) {
        simrep_status st = simrep_moments_new_multi(ctx, nm, feat, &mom);
        if (st != SIMREP_OK)
            rc = pass_error(r, ctx, st, members, nm);
    }
    /* Whole items per block (conv positions, sequence flatten), so no
     * image or sequence is read twice. */
    int64_t rpi = 1;
    for (int k = 0; k < nm; k++)
        rpi = r->in[members[k]].rows_per_item > rpi ? r->in[members[k]].rows_per_item : rpi;

    /* MPI: the three schedules and every buffer the exchanges need, made
     * before the agreement that ends the opening phase. */
    const int ranks = par_size(), me = par_rank(), stride = 2 * r->nmeasures + 3;
    int *owner = NULL, *jrank = NULL, *myjob = NULL, *myji = NULL, *myjj = NULL, nmine = 0;
    unsigned char *which = NULL, *need = NULL;
    double *state = NULL, *xfer = NULL, *res_buf = NULL;
    int64_t state_len = 0, item0 = 0, item1 = n / rpi, row_begin = 0, row_end = n;
    par_moments_fold fold = {ctx, mom, NULL};
    if (ranks > 1 && rc < 0) {
        const int cnt = nm > npairs ? nm : npairs;
        double *cost = malloc((size_t)(cnt ? cnt : 1) * sizeof *cost);
        owner = malloc((size_t)nm * sizeof *owner);
        jrank = malloc((size_t)(npairs ? npairs : 1) * sizeof *jrank);
        myjob = malloc((size_t)(npairs ? npairs : 1) * sizeof *myjob);
        myji = malloc((size_t)(npairs ? npairs : 1) * sizeof *myji);
        myjj = malloc((size_t)(npairs ? npairs : 1) * sizeof *myjj);
        which = calloc((size_t)nm, 1);
        need = calloc((size_t)ranks * (size_t)nm, 1);
        res_buf = malloc((size_t)(npairs ? npairs : 1) * (size_t)stride * sizeof *res_buf);
        if (!cost || !owner || !jrank || !myjob || !myji || !myjj || !which || !need || !res_buf) {
            rc = cli_error(EXIT_DATA, "out of memory");
        } else {
            /* The library's cost model of each measure (simrep_measure_*_cost). */
            for (int k = 0; k < nm; k++) {
                cost[k] = 0;
                for (int t = 0; t < r->nmeasures; t++)
                    cost[k] += simrep_measure_input_cost(r->measures[t], n, feat[k]);
            }
            int bad = schedule(nm, cost, ranks, owner);
            for (int t = 0; t < npairs; t++) {
                cost[t] = 0;
                for (int u = 0; u < r->nmeasures; u++)
                    cost[t] += simrep_measure_pair_cost(r->measures[u], n, feat[ji[t]], feat[jj[t]]);
            }
            bad |= schedule(npairs, cost, ranks, jrank);
            for (int t = 0; t < npairs && !bad; t++) {
                need[(size_t)jrank[t] * nm + ji[t]] = need[(size_t)jrank[t] * nm + jj[t]] = 1;
                if (jrank[t] == me) {
                    myji[nmine] = ji[t], myjj[nmine] = jj[t];
                    myjob[nmine++] = t;
                }
            }
            for (int k = 0; k < nm; k++)
                which[k] = owner[k] == me;
            if (bad)
                rc = cli_error(EXIT_DATA, "out of memory");
        }
        free(cost);
        par_share(n / rpi, &item0, &item1);
        row_begin = item0 * rpi;
        row_end = item1 * rpi;
        if (rc < 0 && mom) {
            simrep_status st = simrep_moments_new_multi(ctx, nm, feat, &fold.tmp);
            state_len = simrep_moments_state_len(mom);
            if (st != SIMREP_OK)
                rc = pass_error(r, ctx, st, members, nm);
            else if (!(state = malloc((size_t)state_len * sizeof *state)))
                rc = cli_error(EXIT_DATA, "out of memory: the joint moments' state (%.1f MiB)",
                               (double)state_len * 8 / 1048576.0);
        }
        s.job_i = myji;
        s.job_j = myjj;
        s.njobs = nmine;
    }
    rc = par_agree(rc);
    if (rc < 0) {
        /* About 4 Mi doubles (32 MiB) per block of all members together. */
        int64_t block = (int64_t)(4 * 1024 * 1024) / (ptot ? ptot : 1);
        block = block < 64 ? 64 : block > 8192 ? 8192 : block;
        block = (block + rpi - 1) / rpi * rpi;
        par_hold(0);
        for (int64_t r0 = row_begin; r0 < row_end && rc < 0; r0 += block) {
            int64_t rows = row_end - r0 < block ? row_end - r0 : block;
            for (int k = 0; k < nm && rc < 0; k++) {
                simrep_status st = simrep_input_read(ctx, src[k], r0, rows, &blocks[k]);
                const char *what = st != SIMREP_OK ? simrep_ctx_message(ctx)
                                   : blocks[k].rows != rows ? "fewer samples than its header says" : NULL;
                if (what && ranks > 1) {
                    char where[300], msg[1200];
                    par_share_bytes(src[k], a->layout.features_first, item0, item1, where, sizeof where);
                    snprintf(msg, sizeof msg, "rank %d: %s; this rank reads items %lld..%lld, %s of %s", me, what,
                             (long long)item0, (long long)item1, where, r->in[members[k]].spec);
                    rc = input_error(r, members[k], msg);
                } else if (what) {
                    rc = input_error(r, members[k], what);
                } else if (s.rows) {
                    simrep_matrix_to_double(&blocks[k], s.rows[k] + r0 * feat[k], feat[k]);
                }
            }
            if (rc < 0 && mom) {
                simrep_status st = simrep_moments_update_multi(ctx, mom, blocks);
                if (st != SIMREP_OK)
                    rc = pass_error(r, ctx, st, members, nm);
            }
            progress_show(pr, pass, passes, "reading", r0 + rows - row_begin, row_end - row_begin);
        }
        par_hold(1);
    }
    for (int k = 0; k < nm && src; k++) {
        simrep_input_free(ctx, src[k]);
        src[k] = NULL;
    }
    if (ranks > 1) {
        /* Every rank reaches this, whatever happened above; then the merge
         * tree, the merged state to every rank, and the rows (measures of the rows). */
        rc = par_agree(rc);
        if (rc < 0 && mom) {
            rc = par_tree_reduce(state, state_len, par_moments_save, par_moments_merge, &fold);
            if (me == 0)
                simrep_moments_save(mom, state);
            par_bcast(state, state_len, 0);
            if (me > 0 && rc < 0) {
                simrep_status st = simrep_moments_load(ctx, mom, state);
                if (st != SIMREP_OK)
                    rc = pass_error(r, ctx, st, members, nm);
            }
            rc = par_agree(rc);
        }
        for (int k = 0; rc < 0 && s.rows && k < nm; k++)
            par_allgather_rows(s.rows[k], n, feat[k], rpi);
    }
    par_hold(0);
    if (rc < 0 && mom) {
        simrep_status st = ranks > 1 ? simrep_pairs_prepare_some(ctx, mom, &r->opt, s.linear, s.nlin, which, &pairs)
                                     : simrep_pairs_prepare(ctx, mom, &r->opt, s.linear, s.nlin, &pairs);
        if (st != SIMREP_OK)
            rc = pass_error(r, ctx, st, members, nm);
    }
    if (ranks > 1 && mom) {
        /* Each prepared input to the ranks whose pairs need it, in input
         * order on every rank (so no two ranks wait on each other). */
        int64_t xlen = 0;
        for (int k = 0; rc < 0 && k < nm; k++) {
            int64_t len = simrep_pairs_input_state_len(pairs, k);
            xlen = len > xlen ? len : xlen;
        }
        if (rc < 0 && !(xfer = malloc((size_t)(xlen ? xlen : 1) * sizeof *xfer)))
            rc = cli_error(EXIT_DATA, "out of memory");
        rc = par_agree(rc);
        for (int k = 0; rc < 0 && k < nm; k++) {
            const int64_t len = simrep_pairs_input_state_len(pairs, k);
            if (owner[k] == me) {
                simrep_pairs_input_save(pairs, k, xfer);
                for (int q = 0; q < ranks; q++)
                    if (q != me && need[(size_t)q * nm + k])
                        par_send(xfer, len, q);
            } else if (need[(size_t)me * nm + k]) {
                par_recv(xfer, len, owner[k]);
                simrep_status st = simrep_pairs_input_load(ctx, pairs, k, xfer);
                if (st != SIMREP_OK)
                    rc = pass_error(r, ctx, st, members, nm);
            }
        }
        rc = par_agree(rc);
    } else if (ranks > 1) {
        rc = par_agree(rc);
    }
    if (rc < 0) {
        s.pairs = pairs;
        pthread_mutex_init(&s.lock, NULL);
        atomic_init(&s.next, 0);
        atomic_init(&s.stop, 0);
        atomic_init(&s.done, 0);
        int nt = a->threads < s.njobs ? a->threads : s.njobs;
        if (nt < 1)
            nt = 1;
        pthread_t *th = calloc((size_t)nt, sizeof *th);
        int started = 0;
        /* Concurrent LAPACK calls with a multi-threaded OpenBLAS wait on each
         * other's thread pools: with several pair workers, each runs its
         * BLAS on one thread (the data pass above used them all). */
        const int blas_threads = simrep_blas_threads();
        if (nt > 1)
            simrep_set_blas_threads(1);
        if (th)
            for (; started < nt - 1; started++)
                if (pthread_create(&th[started], NULL, pass_worker, &s) != 0)
                    break;
        pass_worker(&s); /* the calling thread works too */
        for (int t = 0; t < started; t++)
            pthread_join(th[t], NULL);
        simrep_set_blas_threads(blas_threads);
        free(th);
        pthread_mutex_destroy(&s.lock);
        if (s.err_job >= 0)
            rc = cli_error(EXIT_DATA, "%s", s.err);
        for (int t = 0; t < s.njobs && rc < 0; t++) {
            const int gt = ranks > 1 ? myjob[t] : t;
            if (s.kept_x[t] >= 0)
                r->in[pi[gt]].kept = s.kept_x[t];
            if (s.kept_y[t] >= 0)
                r->in[pj[gt]].kept = s.kept_y[t];
            input_warnings(r, pi[gt], pj[gt], s.warn[t]);
        }
    }
    par_hold(1);
    if (ranks > 1) {
        /* Every rank's results to rank 0, as the values themselves. */
        rc = par_agree(rc);
        const int K = r->K, nmeas = r->nmeasures;
        for (int u = 0; rc < 0 && u < nmine; u++) {
            const size_t at = (size_t)pi[myjob[u]] * K + pj[myjob[u]];
            double *o = res_buf + (size_t)u * stride;
            for (int w = 0; w < nmeas; w++)
                o[w] = r->sim[w][at], o[nmeas + w] = r->dist[w][at];
            o[2 * nmeas] = (double)s.kept_x[u];
            o[2 * nmeas + 1] = (double)s.kept_y[u];
            o[2 * nmeas + 2] = (double)s.warn[u];
        }
        if (rc < 0 && me > 0)
            par_send(res_buf, (int64_t)nmine * stride, 0);
        for (int q = 1; rc < 0 && me == 0 && q < ranks; q++) {
            int count = 0;
            for (int t = 0; t < npairs; t++)
                count += jrank[t] == q;
            par_recv(res_buf, (int64_t)count * stride, q);
            for (int t = 0, u = 0; t < npairs; t++) {
                if (jrank[t] != q)
                    continue;
                const double *o = res_buf + (size_t)(u++) * stride;
                const size_t at = (size_t)pi[t] * K + pj[t];
                for (int w = 0; w < nmeas; w++)
                    r->sim[w][at] = o[w], r->dist[w][at] = o[nmeas + w];
                if (o[2 * nmeas] >= 0)
                    r->in[pi[t]].kept = (int64_t)o[2 * nmeas];
                if (o[2 * nmeas + 1] >= 0)
                    r->in[pj[t]].kept = (int64_t)o[2 * nmeas + 1];
                input_warnings(r, pi[t], pj[t], (unsigned)o[2 * nmeas + 2]);
            }
        }
    }
    simrep_pairs_free(ctx, pairs);
    simrep_moments_free(ctx, mom);
    if (s.rows)
        for (int k = 0; k < nm; k++)
            free(s.rows[k]);
    free(s.rows);
    free(src), free(feat), free(blocks), free(local), free(ji), free(jj), free(s.kept_x), free(s.kept_y), free(s.warn);
    simrep_moments_free(ctx, fold.tmp);
    free(owner), free(jrank), free(myjob), free(myji), free(myjj), free(which), free(need);
    free(state), free(xfer), free(res_buf);
    simrep_ctx_free(ctx);
    return rc;
}

/* Bytes a pass over inputs with ptot features in all holds. */
static double pass_bytes(double ptot, double n, int rows)
{
    return ptot * ptot * 8.0 + (rows ? n * ptot * 8.0 : 0.0);
}

/* Cut the inputs into tiles (see the design comment) and run the passes. */
static int run_all(mx_run *r, const matrix_args *a)
{
    int K = r->K, rbf = 0;
    for (int t = 0; t < r->nmeasures; t++) {
        if (simrep_measure_get_info(r->measures[t])->family == SIMREP_FAMILY_ROWS)
            rbf = 1;
    }
    double n = (double)r->in[0].n, ptot = 0, pmax = 0, pmax2 = 0;
    for (int i = 0; i < K; i++) {
        double p = (double)r->in[i].p;
        ptot += p;
        if (p > pmax)
            pmax2 = pmax, pmax = p;
        else if (p > pmax2)
            pmax2 = p;
    }
    int *tile = malloc((size_t)K * sizeof *tile), ntiles = 0;
    if (!tile)
        return cli_error(EXIT_DATA, "out of memory");
    if (pass_bytes(ptot, n, rbf) <= a->max_memory) {
        for (int i = 0; i < K; i++)
            tile[i] = 0;
        ntiles = 1;
    } else {
        if (pass_bytes(pmax + pmax2, n, rbf) > a->max_memory) {
            free(tile);
            return cli_error(EXIT_DATA, "%s: the two largest inputs (%.0f and %.0f features) need %.2f GiB together "
                             "(joint moments: (p + q)^2 doubles%s), more than --max-memory %.2f GiB; raise it",
                             r->manifest_path, pmax, pmax2, pass_bytes(pmax + pmax2, n, rbf) / 1073741824.0,
                             rbf ? ", plus n x (p + q) doubles of rows for the measures of the rows" : "", a->max_memory / 1073741824.0);
        }
        /* The largest tile size c such that any two tiles fit together:
         * tiles hold at most c features unless a single input is larger
         * (it then has a tile of its own), so the worst union is
         * c + max(c, pmax); and two oversized inputs fit because the two
         * largest do (checked above). */
        double lo = 1, hi = ptot;
        for (int it = 0; it < 100; it++) {
            double mid = 0.5 * (lo + hi);
            if (pass_bytes(mid + (mid > pmax ? mid : pmax), n, rbf) <= a->max_memory)
                lo = mid;
            else
                hi = mid;
        }
        double cap = floor(lo), fill = 0;
        for (int i = 0; i < K; i++) {
            double p = (double)r->in[i].p;
            if (ntiles == 0 || fill + p > cap) {
                ntiles++;
                fill = 0;
            }
            tile[i] = ntiles - 1;
            fill += p;
        }
    }
    char *done = calloc((size_t)K * (size_t)K, 1);
    int *members = malloc((size_t)K * sizeof *members);
    int npmax = K * (K - 1) / 2;
    int *pi = malloc((size_t)(npmax ? npmax : 1) * sizeof *pi), *pj = malloc((size_t)(npmax ? npmax : 1) * sizeof *pj);
    int rc = -1;
    if (!done || !members || !pi || !pj)
        rc = cli_error(EXIT_DATA, "out of memory");
    int passes = ntiles == 1 ? 1 : ntiles * (ntiles - 1) / 2;
    r->passes = passes;
    progress pr;
    memset(&pr, 0, sizeof pr);
    pr.on = isatty(2) && par_rank() == 0;
    pthread_mutex_init(&pr.lock, NULL);
    int pass = 0;
    for (int ta = 0; ta < ntiles && rc < 0; ta++)
        for (int tb = ntiles == 1 ? ta : ta + 1; tb < ntiles && rc < 0; tb++) {
            int nm = 0, np = 0;
            for (int i = 0; i < K; i++)
                if (tile[i] == ta || tile[i] == tb)
                    members[nm++] = i;
            for (int x = 0; x < nm; x++)
                for (int y = x + 1; y < nm; y++) {
                    int i = members[x], j = members[y];
                    if (!done[(size_t)i * K + j]) {
                        done[(size_t)i * K + j] = 1;
                        pi[np] = i;
                        pj[np++] = j;
                    }
                }
            pass++;
            if (np > 0)
                rc = run_pass(r, a, members, nm, pi, pj, np, pass, passes, &pr);
        }
    if (pr.shown)
        fputc('\n', stderr);
    pthread_mutex_destroy(&pr.lock);
    free(tile), free(done), free(members), free(pi), free(pj);
    if (rc >= 0)
        return rc;
    for (int t = 0; t < r->nmeasures; t++)
        for (int i = 0; i < K; i++) {
            r->sim[t][(size_t)i * K + i] = 1.0;
            r->dist[t][(size_t)i * K + i] = 0.0;
            for (int j = 0; j < i; j++) {
                r->sim[t][(size_t)i * K + j] = r->sim[t][(size_t)j * K + i];
                r->dist[t][(size_t)i * K + j] = r->dist[t][(size_t)j * K + i];
            }
        }
    return -1;
}

static void add_warning(mx_run *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void add_warning(mx_run *r, const char *fmt, ...)
{
    if (r->nwarnings >= (int)(sizeof r->warnings / sizeof r->warnings[0]))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->warnings[r->nwarnings++], sizeof r->warnings[0], fmt, ap);
    va_end(ap);
}

/* The compare command's warnings, once per input rather than per pair. */
static void collect_warnings(mx_run *r)
{
    char list[400] = "";
    int few = 0;
    int64_t n = r->in[0].n;
    for (int i = 0; i < r->K; i++)
        if (r->in[i].warn & SIMREP_WARN_FEW_SAMPLES) {
            size_t len = strlen(list);
            if (few < 4 && len < sizeof list - 40)
                snprintf(list + len, sizeof list - len, "%s%s", few ? ", " : "", r->in[i].name);
            few++;
        }
    if (few)
        add_warning(r, "n = %lld samples (the kept features of %d input%s: %s%s) %s", (long long)n, few,
                    few == 1 ? "" : "s", list, few > 4 ? ", ..." : "", simrep_warning_text(SIMREP_WARN_FEW_SAMPLES));
    for (int i = 0; i < r->K; i++)
        if (r->in[i].warn & SIMREP_WARN_DEAD_FEATURES)
            add_warning(r, "%s: %lld of %lld %s", r->in[i].name, (long long)(r->in[i].p - r->in[i].kept),
                        (long long)r->in[i].p, simrep_warning_text(SIMREP_WARN_DEAD_FEATURES));
}

/* The layer every input is from, for figure titles: the layer column's one
 * value, or else the array key every path names ("gen0.npz:relu2"). */
static void common_layer(mx_run *r)
{
    r->layer[0] = 0;
    if (r->nlayers == 1) {
        snprintf(r->layer, sizeof r->layer, "%s", r->layers[0]);
        return;
    }
    if (r->nlayers > 1)
        return;
    const char *key = NULL;
    for (int i = 0; i < r->K; i++) {
        const char *colon = strrchr(r->in[i].spec, ':'), *slash = strrchr(r->in[i].spec, '/');
        if (!colon || (slash && slash > colon) || !colon[1])
            return;
        if (key && strcmp(key, colon + 1) != 0)
            return;
        key = colon + 1;
    }
    if (key)
        snprintf(r->layer, sizeof r->layer, "%s", key);
}

int cmd_matrix(int argc, char **argv)
{
    matrix_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        cli_layout_free(&a.layout);
        return rc;
    }
    mx_run r;
    memset(&r, 0, sizeof r);
    r.manifest_path = a.manifest;
    r.argc = argc;
    r.argv = argv;
    r.range_lo = a.range_lo;
    r.range_hi = a.range_hi;
    r.png = !a.no_png;
    r.opt = a.opt;
    r.nmeasures = a.nmeasures;
    memcpy(r.measures, a.measures, sizeof a.measures);
    rc = load_inputs(&r, &a);
    if (rc < 0)
        rc = plan_views(&r, &a);
    size_t kk = (size_t)r.K * (size_t)r.K;
    for (int t = 0; t < r.nmeasures && rc < 0; t++) {
        r.sim[t] = calloc(kk ? kk : 1, sizeof(double));
        r.dist[t] = calloc(kk ? kk : 1, sizeof(double));
        if (!r.sim[t] || !r.dist[t])
            rc = cli_error(EXIT_DATA, "out of memory");
    }
    rc = par_agree(rc); /* every rank opened the manifest's inputs alike (MPI) */
    if (rc < 0)
        rc = run_all(&r, &a);
    if (rc < 0 && par_rank() > 0)
        rc = 0; /* rank 0 writes the outputs */
    if (rc < 0) {
        collect_warnings(&r);
        common_layer(&r);
        rc = matrix_print(&r, a.format);
        if (rc == 0 && a.outdir)
            rc = matrix_write_dir(&r, a.outdir);
    }
    for (int t = 0; t < r.nmeasures; t++) {
        free(r.sim[t]);
        free(r.dist[t]);
    }
    for (int i = 0; r.in && i < r.K; i++)
        free(r.in[i].spec);
    free(r.in);
    free(r.groups);
    free(r.layers);
    free(r.final_of);
    manifest_free(&r.man);
    cli_layout_free(&a.layout);
    return rc;
}
