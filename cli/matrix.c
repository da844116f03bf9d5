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
 * Descriptors.  A pass holds its inputs open; at most r->max_open of them
 * (mx_open_budget: RLIMIT_NOFILE, soft raised to hard, less what is open
 * and a reserve).  Tiles are also cut by count so that two fit, and the
 * shapes are read one input at a time, then agreed in groups.
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
#include "pass.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <dirent.h>
#include <sys/resource.h>
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
    "  --permutations K         group tests: between - within mean distance per pair of groups (and all),\n"
    "                           p from K relabellings of the inputs (docs/statistics.md)\n"
    "  --bootstrap B            intervals of each group's within and between means, B resamples of the inputs\n"
    "  --ci LEVEL, --seed S     interval level (0.95); every random choice follows from S (0)\n"
    "  -h, --help               this help\n"
    "\n"
    "Rows with a group column get within/between group summaries; with a layer column and groups,\n"
    "layer x layer matrices between every two groups (depth); with step (and layer) columns, the\n"
    "distance of each layer at each step to the same layer at the last step (training dynamics).\n";


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

void mx_args_init(matrix_args *a)
{
    memset(a, 0, sizeof *a);
    simrep_options_init(&a->opt);
    simrep_layout_init(&a->layout);
    cli_default_measures(a->measures, &a->nmeasures);
    cli_stats_init(&a->stats);
    a->max_memory = 1024.0 * 1024 * 1024;
    a->range_lo = a->range_hi = NAN;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    a->threads = cpus > 0 ? (int)(cpus > 256 ? 256 : cpus) : 1;
}

/* The valued options matrix and validate share (name and value split). */
static int common_valued(const char *name, const char *val, matrix_args *a, cli_seen *seen)
{
    int rc = CLI_OPT_NOT_MINE;
    double v = 0;
    if ((rc = cli_measure_option(name, val, &a->opt, seen)) != CLI_OPT_NOT_MINE ||
        (rc = cli_layout_option(name, val, 0, &a->layout, seen)) != CLI_OPT_NOT_MINE ||
        (rc = cli_stats_option(name, val, 0, &a->stats)) != CLI_OPT_NOT_MINE) {
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
    }
    return rc;
}

int mx_common_option(const mx_command *cmd, int argc, char **argv, int *i, matrix_args *a, cli_seen *seen,
                     char *name, size_t cap, const char **val)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
        fputs(cmd->help_head, stdout);
        cli_help_measures(stdout, 0);
        fputs(cmd->help_tail, stdout);
        return 0;
    }
    if (strcmp(arg, "--") == 0 && *i + 1 == argc)
        return MX_OPT_END; /* '--' ends the options; what follows it is not one */
    if (arg[0] != '-' || strcmp(arg, "--") == 0)
        return cli_error(EXIT_USAGE, "%s takes its inputs from --manifest M.csv; unexpected '%s'", cmd->name,
                         strcmp(arg, "--") == 0 ? argv[*i + 1] : arg);
    if (strcmp(arg, "--features-first") == 0) {
        a->layout.features_first = 1;
        return MX_OPT_DONE;
    }
    if (strcmp(arg, "--no-png") == 0) {
        a->no_png = 1;
        return MX_OPT_DONE;
    }
    int rc = cli_split_option(argc, argv, i, cmd->valued, cmd->name, name, cap, val);
    if (rc >= 0)
        return rc;
    rc = common_valued(name, *val, a, seen);
    return rc == 0 ? MX_OPT_DONE : rc;
}

static int parse_args(int argc, char **argv, matrix_args *a)
{
    mx_args_init(a);
    cli_seen seen = {0, 0, 0};
    static const char *const valued[] = {MX_COMMON_VALUED, "--range", "--against", NULL};
    const mx_command cmd = {"matrix", matrix_help_head, matrix_help_tail, valued};
    for (int i = 1; i < argc; i++) {
        char name[64];
        const char *val = NULL;
        int rc = mx_common_option(&cmd, argc, argv, &i, a, &seen, name, sizeof name, &val);
        if (rc == MX_OPT_END)
            break;
        if (rc == MX_OPT_DONE)
            continue;
        if (rc != CLI_OPT_NOT_MINE) {
            return rc;
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
    cli_stats_check(&a->stats);
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
    /* The input's file too, unless the library's message starts with it. */
    const char *spec = r->in[i].spec;
    if (spec && strncmp(msg, spec, strlen(spec)) != 0)
        return cli_error(EXIT_DATA, "%s:%d: %s: %s: %s", r->manifest_path, r->in[i].line, r->in[i].name, spec, msg);
    return cli_error(EXIT_DATA, "%s:%d: %s: %s", r->manifest_path, r->in[i].line, r->in[i].name, msg);
}

static int load_shapes(mx_run *r, const matrix_args *a);

/* Resolve the manifest's rows: paths, groups, layers, steps; open every
 * input once for its shape. */
int mx_load_inputs(mx_run *r, const matrix_args *a)
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
    r->max_open = mx_open_budget();
    return load_shapes(r, a);
}

/* ----------------------------------------------------- descriptors */

int mx_open_budget(void)
{
    static int budget;
    if (budget)
        return budget;
    struct rlimit rl;
    long lim = 1 << 20;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < rl.rlim_max) { /* the soft limit raised to the hard one */
            struct rlimit up = {rl.rlim_max, rl.rlim_max};
            if (setrlimit(RLIMIT_NOFILE, &up) == 0)
                rl.rlim_cur = rl.rlim_max;
        }
        if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)lim)
            lim = (long)rl.rlim_cur;
    }
    long used = 16; /* descriptors open now (MPI's, the manifest's): counted where /proc tells */
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        used = -1; /* the directory's own */
        for (struct dirent *e; (e = readdir(d));)
            used += e->d_name[0] != '.';
        closedir(d);
    }
    /* The reserve: npz spill files, the manifest, rsvg-convert's pipes. */
    long b = lim - used - MX_OPEN_RESERVE;
    b = b < 2 ? 2 : b;
    budget = (int)par_min(b);
    return budget;
}

/* Open input i for its shape (what one input alone can get wrong; *d0:
 * input 0's dimensions).  A second opening must find the file the first
 * one did. */
static int shape_open(mx_run *r, const matrix_args *a, simrep_ctx *ctx, int i, simrep_input **in,
                      simrep_input_dims *d0, int again)
{
    simrep_status st = simrep_input_open(ctx, r->in[i].spec, &a->layout, in);
    if (st != SIMREP_OK)
        return input_error(r, i, simrep_ctx_message(ctx)[0] ? simrep_ctx_message(ctx) : simrep_strerror(st));
    simrep_file_id id;
    simrep_input_file_id(*in, &id);
    if (again && memcmp(&id, &r->in[i].fid, sizeof id) != 0)
        return input_error(r, i, "the file was replaced or modified while the manifest's shapes were read");
    r->in[i].fid = id;
    simrep_input_dims d;
    simrep_input_dims_get(*in, &d);
    if (i == 0)
        *d0 = d;
    char msg[600];
    if (d.features < 1) {
        snprintf(msg, sizeof msg, "%s: has no features", r->in[i].spec);
        return input_error(r, i, msg);
    }
    if (d.items != d0->items)
        return cli_error(EXIT_DATA, "%s:%d: '%s' (%s) has %lld samples but '%s' (line %d, %s) has %lld; every "
                         "input must have the same samples in the same order%s",
                         a->manifest, r->in[i].line, r->in[i].name, r->in[i].spec, (long long)d.items,
                         r->in[0].name, r->in[0].line, r->in[0].spec, (long long)d0->items,
                         /* the hint only where read the other way round they would pair */
                         d.features != d0->features || d.ndim != 2 ? ""
                         : a->layout.features_first ? " (read as samples x features they would pair: leave out "
                                                      "--features-first if the arrays are samples x features)"
                                                    : " (read as features x samples they would pair: add "
                                                      "--features-first if the arrays are features x samples)");
    if (d.items < 1) {
        snprintf(msg, sizeof msg, "%s: has no samples", r->in[i].spec);
        return input_error(r, i, msg);
    }
    return -1;
}

/* simrep_inputs_agree over ins[0..cnt) (the manifest's inputs idx[]), then
 * each one's settled dimensions recorded. */
static int shape_agree(mx_run *r, const matrix_args *a, simrep_ctx *ctx, simrep_input **ins, const int *idx, int cnt)
{
    simrep_status st = simrep_inputs_agree(ctx, ins, cnt);
    if (st != SIMREP_OK) {
        /* The input at fault is the context's to say (simrep_ctx_error). */
        const char *msg = simrep_ctx_message(ctx);
        simrep_error_info e;
        simrep_ctx_error(ctx, &e);
        const int at = e.input >= 0 && e.input < cnt ? idx[e.input] : -1;
        return at >= 0 ? input_error(r, at, msg) : cli_error(EXIT_DATA, "%s: %s", a->manifest, msg);
    }
    for (int k = 0; k < cnt; k++) {
        mx_input *in = &r->in[idx[k]];
        simrep_input_dims d;
        simrep_input_dims_get(ins[k], &d);
        in->n = d.samples;
        in->p = d.features;
        in->out_h = d.out_height;
        in->out_w = d.out_width;
        in->rows_per_item = d.rows_per_item > 0 ? d.rows_per_item : 1;
    }
    return -1;
}

/* Every input's shape, settled over the whole manifest (simrep_inputs_agree:
 * conv target sizes, equal items and rows).  With all inputs open at once
 * when the descriptor budget allows; else each is opened alone for its
 * shape, then in groups, each group agreed together with the inputs that
 * decide the agreement (input 0, the first conv input, and those of the
 * smallest and largest height and width), which gives every input what
 * one call over all of them would. */
static int load_shapes(mx_run *r, const matrix_args *a)
{
    const int K = r->K;
    simrep_ctx *ctx = cli_ctx_new();
    simrep_input **ins = calloc((size_t)K, sizeof *ins);
    int *idx = malloc((size_t)K * sizeof *idx);
    int64_t *hw = malloc((size_t)K * 2 * sizeof *hw);
    if (!ctx || !ins || !idx || !hw) {
        simrep_ctx_free(ctx);
        free(ins), free(idx), free(hw);
        return cli_error(EXIT_DATA, "out of memory");
    }
    int rc = -1;
    simrep_input_dims d0;
    memset(&d0, 0, sizeof d0);
    const int at_once = K <= r->max_open;
    for (int i = 0; i < K && rc < 0; i++) {
        rc = shape_open(r, a, ctx, i, &ins[i], &d0, 0);
        simrep_input_dims d;
        if (rc < 0) {
            simrep_input_dims_get(ins[i], &d);
            hw[2 * i] = d.height, hw[2 * i + 1] = d.width;
        }
        idx[i] = i;
        if (!at_once) {
            simrep_input_free(ctx, ins[i]);
            ins[i] = NULL;
        }
    }
    if (rc < 0 && at_once)
        rc = shape_agree(r, a, ctx, ins, idx, K);
    if (rc < 0 && !at_once) {
        /* The deciding inputs: 0, the first conv input, the extremes. */
        int rep[6], nrep = 0, first = -1, ext[4] = {-1, -1, -1, -1};
        for (int i = 0; i < K; i++) {
            if (hw[2 * i] <= 0)
                continue;
            if (first < 0)
                first = i;
            if (ext[0] < 0 || hw[2 * i] < hw[2 * ext[0]])
                ext[0] = i;
            if (ext[1] < 0 || hw[2 * i] > hw[2 * ext[1]])
                ext[1] = i;
            if (ext[2] < 0 || hw[2 * i + 1] < hw[2 * ext[2] + 1])
                ext[2] = i;
            if (ext[3] < 0 || hw[2 * i + 1] > hw[2 * ext[3] + 1])
                ext[3] = i;
        }
        int cand[6] = {0, first, ext[0], ext[1], ext[2], ext[3]};
        for (int c = 0; c < 6; c++) {
            int dup = cand[c] < 0;
            for (int k = 0; k < nrep && !dup; k++)
                dup = rep[k] == cand[c];
            if (!dup)
                rep[nrep++] = cand[c];
        }
        char *is_rep = calloc((size_t)K, 1);
        if (!is_rep)
            rc = cli_error(EXIT_DATA, "out of memory");
        for (int k = 0; k < nrep && rc < 0; k++) {
            is_rep[rep[k]] = 1;
            idx[k] = rep[k];
            rc = shape_open(r, a, ctx, rep[k], &ins[k], &d0, 1);
        }
        const int group = r->max_open - nrep > 1 ? r->max_open - nrep : 1;
        for (int i = 0; i < K && rc < 0;) {
            int cnt = nrep;
            for (; i < K && cnt < nrep + group && rc < 0; i++) {
                if (is_rep[i])
                    continue;
                idx[cnt] = i;
                rc = shape_open(r, a, ctx, i, &ins[cnt++], &d0, 1);
            }
            if (rc < 0)
                rc = shape_agree(r, a, ctx, ins, idx, cnt);
            for (int k = nrep; k < cnt; k++) {
                simrep_input_free(ctx, ins[k]);
                ins[k] = NULL;
            }
        }
        free(is_rep);
    }
    for (int i = 0; rc < 0 && i < K; i++)
        if (r->in[i].n != r->in[0].n)
            rc = cli_error(EXIT_DATA, "%s:%d: '%s' reads as %lld samples but '%s' (line %d) as %lld (mixing 2-D "
                           "inputs with conv positions or sequence flatten inputs gives different sample counts)",
                           a->manifest, r->in[i].line, r->in[i].name, (long long)r->in[i].n, r->in[0].name,
                           r->in[0].line, (long long)r->in[0].n);
    for (int i = 0; i < K; i++)
        simrep_input_free(ctx, ins[i]);
    free(ins), free(idx), free(hw);
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

/* The counts a pair's CCA results report, per input: pass_state.cnt. */
enum cnt { KEPT_X, KEPT_Y, RANK_X, RANK_Y, SHRUNK_X, SHRUNK_Y, NCNT };

/*
 * One pass (see the design comment): its stages in the order run_pass
 * calls them, each on this state, sharing the reading, holding, scheduling
 * and computing pieces with compare (pass.h).  Pairs are numbered t in
 * 0 .. npairs (global inputs pi[t] < pj[t]); jobs[] are the ones this rank
 * computes (all of them in one process).
 */
typedef struct pass_state {
    mx_run *r;
    const matrix_args *a;
    simrep_ctx *ctx;
    int nm;
    const int *members;          /* local index -> global input */
    int *local;                  /* global input -> local index */
    const int *pi, *pj;
    int npairs;
    int *ji, *jj;                /* pair t's local indices */
    int *jobs, njobs;            /* the pairs this rank computes */
    cli_measures_split ms;
    simrep_input **src;
    int64_t *feat, n, rpi;
    cli_rows *rows;              /* per local input, with measures of the rows */
    simrep_moments *mom;
    simrep_pairs *pairs;
    int64_t *cnt;                /* per pair, NCNT counts its CCA results reported (enum cnt), or -1 */
    unsigned *warn;              /* per pair: the warnings of its kept-reporting result */
    /* MPI: the three schedules, this rank's items, the exchanges' buffers. */
    int ranks, me;
    int *owner, *jrank;
    unsigned char *which, *need;
    int64_t item0, item1, row_begin, row_end;
    par_moments_fold fold;
    double *state;
    int64_t state_len;
    /* The pool: the earliest failing pair's message. */
    pthread_mutex_t lock;
    int err_job;
    char err[1200];
    progress *pr;
    int pass, passes;
} pass_state;

/* A library error during a pass: the input at fault (simrep_ctx_error's
 * input, a member index) names its manifest row. */
static int pass_error(const mx_run *r, simrep_ctx *ctx, simrep_status st, const int *members, int nm)
{
    const char *msg = simrep_ctx_message(ctx);
    if (!msg || !*msg)
        msg = simrep_strerror(st);
    simrep_error_info e;
    simrep_ctx_error(ctx, &e);
    if (e.input >= 0 && e.input < nm) {
        const int g = members[e.input];
        char buf[1200];
        snprintf(buf, sizeof buf, "%s: %s", r->in[g].spec, e.file[0] ? msg : e.detail);
        return input_error(r, g, buf);
    }
    return cli_error(st == SIMREP_E_INVALID ? EXIT_USAGE : EXIT_DATA, "%s: %s", r->manifest_path, msg);
}

/* A pair's warnings to its inputs: i was x, j was y. */
static void input_warnings(mx_run *r, int i, int j, unsigned w)
{
    const unsigned both = w & (SIMREP_WARN_MIXED_PRECISION | SIMREP_WARN_LAYOUT);
    r->in[i].warn |= simrep_warnings_of_side(w, 0) | both;
    r->in[j].warn |= simrep_warnings_of_side(w, 1) | both;
}

/* The names of the first inputs with warning flag (at most 4, then "..."),
 * into list; returns how many inputs have it. */
static int inputs_flagged(const mx_run *r, unsigned flag, char *list, size_t cap)
{
    int count = 0;
    list[0] = 0;
    for (int i = 0; i < r->K; i++)
        if (r->in[i].warn & flag) {
            size_t len = strlen(list);
            if (count < 4 && len + 40 < cap)
                snprintf(list + len, cap - len, "%s%s", count ? ", " : "", r->in[i].name);
            else if (count == 4 && len + 5 < cap)
                snprintf(list + len, cap - len, ", ...");
            count++;
        }
    return count;
}

/* A pair's failure as "<manifest>:<line>: <name>: <path>: <what>" when
 * one input is at fault, else "<manifest>: <name> (<path>) against <name>
 * (<path>): <what>" (out of memory for the pair, say). */
static void pair_failed(pass_state *s, int t, simrep_ctx *ctx, simrep_status st)
{
    const mx_run *r = s->r;
    int gi = s->pi[t], gj = s->pj[t];
    const char *msg = ctx ? simrep_ctx_message(ctx) : "out of memory";
    if (!msg || !*msg)
        msg = simrep_strerror(st);
    /* The failing side is the context's to say: the pair's input (its
     * local index within the pass), i or j. */
    simrep_error_info e;
    e.input = -1;
    if (ctx)
        simrep_ctx_error(ctx, &e);
    char buf[1200];
    if (e.input >= 0 && (e.input == s->ji[t] || e.input == s->jj[t]) && e.detail != simrep_ctx_message(ctx)) {
        const int g = e.input == s->ji[t] ? gi : gj;
        snprintf(buf, sizeof buf, "%s:%d: %s: %s: %s", r->manifest_path, r->in[g].line, r->in[g].name, r->in[g].spec,
                 e.detail);
    } else {
        snprintf(buf, sizeof buf, "%s: %s (%s) against %s (%s): %s", r->manifest_path, r->in[gi].name, r->in[gi].spec,
                 r->in[gj].name, r->in[gj].spec, msg);
    }
    pthread_mutex_lock(&s->lock);
    if (s->err_job < 0 || t < s->err_job) {
        s->err_job = t;
        snprintf(s->err, sizeof s->err, "%s", buf);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Measure w is undefined for pair t (cli_measure_error): the first such
 * message of each measure, naming the pair or the input at fault. */
static void measure_failed(pass_state *s, int t, int w, const cli_measure_error *err)
{
    mx_run *r = s->r;
    const int gi = s->pi[t], gj = s->pj[t];
    const char *id = simrep_measure_get_info(r->measures[w])->id;
    char buf[1400];
    const char *msg = err->msg;
    if (err->side == 0 || err->side == 1) { /* the side at fault, as the library says (simrep_ctx_error) */
        const int g = err->side ? gj : gi;
        snprintf(buf, sizeof buf, "%s:%d: %s: %s: %s: %s", r->manifest_path, r->in[g].line, r->in[g].name,
                 r->in[g].spec, id, err->detail);
    } else {
        snprintf(buf, sizeof buf, "%s: %s (%s) against %s (%s): %s%s%s", r->manifest_path, r->in[gi].name,
                 r->in[gi].spec, r->in[gj].name, r->in[gj].spec, strncmp(msg, id, strlen(id)) == 0 ? "" : id,
                 strncmp(msg, id, strlen(id)) == 0 ? "" : ": ", msg);
    }
    pthread_mutex_lock(&s->lock);
    if (!r->merr[w][0])
        snprintf(r->merr[w], sizeof r->merr[w], "%s", buf);
    pthread_mutex_unlock(&s->lock);
}

/* Open the members, allocate what the pass keeps. */
static int pass_open(pass_state *s)
{
    mx_run *r = s->r;
    const int nm = s->nm, np = s->npairs ? s->npairs : 1;
    cli_measures_split_of(r->measures, r->nmeasures, &s->ms);
    s->src = calloc((size_t)nm, sizeof *s->src);
    s->feat = calloc((size_t)nm, sizeof *s->feat);
    s->local = calloc((size_t)r->K, sizeof *s->local);
    s->ji = malloc((size_t)np * sizeof *s->ji);
    s->jj = malloc((size_t)np * sizeof *s->jj);
    s->jobs = malloc((size_t)np * sizeof *s->jobs);
    s->cnt = malloc((size_t)np * NCNT * sizeof *s->cnt);
    s->warn = calloc((size_t)np, sizeof *s->warn);
    if (s->ms.nrows > 0)
        s->rows = calloc((size_t)nm, sizeof *s->rows);
    if (!s->src || !s->feat || !s->local || !s->ji || !s->jj || !s->jobs || !s->cnt || !s->warn ||
        (s->ms.nrows > 0 && !s->rows))
        return cli_error(EXIT_DATA, "out of memory");
    s->n = r->in[s->members[0]].n;
    s->rpi = 1;
    for (int k = 0; k < nm; k++) {
        const int g = s->members[k];
        s->local[g] = k;
        s->feat[k] = r->in[g].p;
        /* Whole items per block (conv positions, sequence flatten), so no
         * image or sequence is read twice. */
        s->rpi = r->in[g].rows_per_item > s->rpi ? r->in[g].rows_per_item : s->rpi;
        simrep_status st = simrep_input_open(s->ctx, r->in[g].spec, &s->a->layout, &s->src[k]);
        if (st == SIMREP_OK && r->in[g].out_h > 0)
            st = simrep_input_set_spatial(s->ctx, s->src[k], r->in[g].out_h, r->in[g].out_w);
        if (st != SIMREP_OK)
            return input_error(r, g, simrep_ctx_message(s->ctx));
        /* Each pass opens its inputs again (descriptors are held for one
         * pass only): it must be the file the others read. */
        simrep_file_id now;
        simrep_input_file_id(s->src[k], &now);
        if (memcmp(&now, &r->in[g].fid, sizeof now) != 0)
            return input_error(r, g, "the file was replaced or modified since the first pass (its size, inode or "
                                     "modification time differ): the matrix would mix two versions of it");
        if (s->rows && cli_rows_alloc(&s->rows[k], s->n, s->feat[k], 1) != 0)
            return cli_error(EXIT_DATA, "out of memory: measures of the rows keep every input as float64 (%.1f MiB "
                             "for '%s')", (double)s->n * (double)s->feat[k] * 8 / 1048576.0, r->in[g].name);
    }
    for (int t = 0; t < s->npairs; t++) {
        s->ji[t] = s->local[s->pi[t]];
        s->jj[t] = s->local[s->pj[t]];
        for (int c = 0; c < NCNT; c++)
            s->cnt[t * NCNT + c] = -1;
        s->jobs[t] = t;
    }
    s->njobs = s->npairs;
    s->row_end = s->n;
    s->item1 = s->n / s->rpi;
    if (s->ms.nmoments > 0) {
        simrep_status st = simrep_moments_new_multi(s->ctx, nm, s->feat, &s->mom);
        if (st == SIMREP_OK)
            st = simrep_moments_set_precision(s->ctx, s->mom, r->opt.precision);
        for (int k = 0; k < nm && st == SIMREP_OK; k++) /* layouts read as float64: the files' own rounding */
            st = simrep_moments_note_dtype(s->ctx, s->mom, k, simrep_input_dtype(s->src[k]));
        if (st != SIMREP_OK)
            return pass_error(r, s->ctx, st, s->members, nm);
    }
    s->fold.ctx = s->ctx;
    s->fold.m = s->mom;
    return -1;
}

/* MPI: the samples (this rank's items), the inputs (whose per-input work
 * each rank does) and the pairs (which each rank computes), by the
 * library's cost model of the measures; and the exchanges' buffers. */
static int pass_schedule(pass_state *s)
{
    const mx_run *r = s->r;
    const int nm = s->nm, np = s->npairs, ranks = s->ranks;
    const int cnt = nm > np ? nm : np;
    double *cost = malloc((size_t)(cnt ? cnt : 1) * sizeof *cost);
    s->owner = malloc((size_t)nm * sizeof *s->owner);
    s->jrank = malloc((size_t)(np ? np : 1) * sizeof *s->jrank);
    s->which = calloc((size_t)nm, 1);
    s->need = calloc((size_t)ranks * (size_t)nm, 1);
    int rc = -1;
    if (!cost || !s->owner || !s->jrank || !s->which || !s->need) {
        rc = cli_error(EXIT_DATA, "out of memory");
    } else {
        for (int k = 0; k < nm; k++) {
            cost[k] = 0;
            for (int t = 0; t < r->nmeasures; t++)
                cost[k] += simrep_measure_input_cost(r->measures[t], s->n, s->feat[k]);
        }
        int bad = cli_schedule(nm, cost, ranks, s->owner);
        for (int t = 0; t < np; t++) {
            cost[t] = 0;
            for (int u = 0; u < r->nmeasures; u++)
                cost[t] += simrep_measure_pair_cost(r->measures[u], s->n, s->feat[s->ji[t]], s->feat[s->jj[t]]);
        }
        bad |= cli_schedule(np, cost, ranks, s->jrank);
        s->njobs = 0;
        for (int t = 0; t < np && !bad; t++) {
            s->need[(size_t)s->jrank[t] * nm + s->ji[t]] = s->need[(size_t)s->jrank[t] * nm + s->jj[t]] = 1;
            if (s->jrank[t] == s->me)
                s->jobs[s->njobs++] = t;
        }
        for (int k = 0; k < nm; k++)
            s->which[k] = s->owner[k] == s->me;
        if (bad)
            rc = cli_error(EXIT_DATA, "out of memory");
    }
    free(cost);
    par_share(s->n / s->rpi, &s->item0, &s->item1);
    s->row_begin = s->item0 * s->rpi;
    s->row_end = s->item1 * s->rpi;
    if (rc < 0 && s->mom) {
        simrep_status st = simrep_moments_new_multi(s->ctx, nm, s->feat, &s->fold.tmp);
        s->state_len = simrep_moments_state_len(s->mom);
        if (st != SIMREP_OK)
            rc = pass_error(r, s->ctx, st, s->members, nm);
        else if (!(s->state = malloc((size_t)s->state_len * sizeof *s->state)))
            rc = cli_error(EXIT_DATA, "out of memory: the joint moments' state (%.1f MiB)",
                           (double)s->state_len * 8 / 1048576.0);
    }
    return rc;
}

/* Reading: each block of every member into the K-input moments and, with
 * measures of the rows, the held rows. */
static simrep_status pass_consume(void *user, simrep_ctx *ctx, int64_t r0, int64_t rows, simrep_matrix *const *views)
{
    pass_state *s = user;
    (void)rows;
    for (int k = 0; s->rows && k < s->nm; k++)
        cli_rows_put(&s->rows[k], r0, views[k]);
    if (!s->mom)
        return SIMREP_OK;
    simrep_matrix blocks[s->nm];
    for (int k = 0; k < s->nm; k++)
        blocks[k] = views[k][0];
    return simrep_moments_update_multi(ctx, s->mom, blocks);
}

static void pass_read_progress(void *user, int64_t done, int64_t total)
{
    pass_state *s = user;
    progress_show(s->pr, s->pass, s->passes, "reading", done, total);
}

static int pass_read(pass_state *s)
{
    const mx_run *r = s->r;
    cli_reader rd = {s->src, s->nm, s->row_begin, s->row_end, cli_block_rows(s->src, s->nm), NULL, pass_consume,
                     pass_read_progress, s};
    cli_read_failure f;
    if (cli_read(s->ctx, &rd, &f) == SIMREP_OK) {
        for (int k = 0; k < s->nm; k++) /* rewritten in place while read? */
            if (simrep_input_check_unchanged(s->ctx, s->src[k]) != SIMREP_OK)
                return input_error(r, s->members[k], simrep_ctx_message(s->ctx));
        return -1;
    }
    if (f.input < 0)
        return pass_error(r, s->ctx, f.status, s->members, s->nm);
    const int g = s->members[f.input];
    const char *what = f.short_read ? "fewer samples than its header says" : simrep_ctx_message(s->ctx);
    if (s->ranks == 1)
        return input_error(r, g, what);
    char where[300], msg[1200];
    par_share_bytes(s->src[f.input], s->a->layout.features_first, s->item0, s->item1, where, sizeof where);
    snprintf(msg, sizeof msg, "rank %d: %s; this rank reads items %lld..%lld, %s of %s", s->me, what,
             (long long)s->item0, (long long)s->item1, where, r->in[g].spec);
    return input_error(r, g, msg);
}

/* MPI: the partial moments down the merge tree, the merged state to every
 * rank, the held rows to every rank. */
static int pass_merge(pass_state *s, int rc)
{
    if (rc < 0 && s->mom) {
        rc = par_tree_reduce(s->state, s->state_len, par_moments_save, par_moments_merge, &s->fold);
        if (s->me == 0)
            simrep_moments_save(s->mom, s->state);
        par_bcast(s->state, s->state_len, 0);
        if (s->me > 0 && rc < 0) {
            simrep_status st = simrep_moments_load(s->ctx, s->mom, s->state);
            if (st != SIMREP_OK)
                rc = pass_error(s->r, s->ctx, st, s->members, s->nm);
        }
        rc = par_agree(rc);
    }
    for (int k = 0; rc < 0 && s->rows && k < s->nm; k++)
        cli_rows_allgather(&s->rows[k], s->rpi);
    return rc;
}

/* simrep_pairs_prepare failed with a LAPACK failure in one input's
 * eigendecomposition (single process): that fails the measures that need
 * it, not the others.  Each moments measure is prepared on its own; those
 * that fail get their error (the input's manifest row, name and file, the
 * measure: dropped from the outputs as any failed measure is) and leave
 * this pass's list; the rest are prepared together.  -1, or an exit status. */
static int prepare_each(pass_state *s)
{
    mx_run *r = s->r;
    cli_measures_split *ms = &s->ms;
    int kept = 0;
    for (int k = 0; k < ms->nmoments; k++) {
        simrep_pairs *one = NULL;
        simrep_status st = simrep_pairs_prepare(s->ctx, s->mom, &r->opt, &ms->moments[k], 1, &one);
        simrep_pairs_free(s->ctx, one);
        if (st == SIMREP_OK) {
            ms->moments[kept] = ms->moments[k];
            ms->moments_at[kept++] = ms->moments_at[k];
            continue;
        }
        if (st != SIMREP_E_NUMERIC && st != SIMREP_E_DEGENERATE)
            return pass_error(r, s->ctx, st, s->members, s->nm);
        simrep_error_info e;
        simrep_ctx_error(s->ctx, &e);
        const int w = ms->moments_at[k];
        const char *id = simrep_measure_get_info(r->measures[w])->id;
        char buf[1400];
        if (e.input >= 0 && e.input < s->nm) {
            const int g = s->members[e.input];
            snprintf(buf, sizeof buf, "%s:%d: %s: %s: %s: %s", r->manifest_path, r->in[g].line, r->in[g].name,
                     r->in[g].spec, id, e.detail);
        } else {
            snprintf(buf, sizeof buf, "%s: %s: %s", r->manifest_path, id, simrep_ctx_message(s->ctx));
        }
        if (!r->merr[w][0])
            snprintf(r->merr[w], sizeof r->merr[w], "%s", buf);
    }
    ms->nmoments = kept;
    if (kept == 0)
        return -1;
    simrep_status st = simrep_pairs_prepare(s->ctx, s->mom, &r->opt, ms->moments, ms->nmoments, &s->pairs);
    return st == SIMREP_OK ? -1 : pass_error(r, s->ctx, st, s->members, s->nm);
}

/* The per-input work (dead features, whitening), once per input: under MPI
 * on its owner, whose state then goes to the ranks whose pairs need it, in
 * input order on every rank (so no two ranks wait on each other). */
static int pass_prepare(pass_state *s, int rc)
{
    const mx_run *r = s->r;
    if (rc < 0 && s->mom) {
        simrep_status st =
            s->ranks > 1
                ? simrep_pairs_prepare_some(s->ctx, s->mom, &r->opt, s->ms.moments, s->ms.nmoments, s->which, &s->pairs)
                : simrep_pairs_prepare(s->ctx, s->mom, &r->opt, s->ms.moments, s->ms.nmoments, &s->pairs);
        if (st == SIMREP_E_NUMERIC && s->ranks == 1)
            rc = prepare_each(s);
        else if (st != SIMREP_OK)
            rc = pass_error(r, s->ctx, st, s->members, s->nm);
    }
    if (s->ranks == 1)
        return rc;
    if (!s->mom)
        return par_agree(rc);
    double *xfer = NULL;
    int64_t xlen = 0;
    for (int k = 0; rc < 0 && k < s->nm; k++) {
        int64_t len = simrep_pairs_input_state_len(s->pairs, k);
        xlen = len > xlen ? len : xlen;
    }
    if (rc < 0 && !(xfer = malloc((size_t)(xlen ? xlen : 1) * sizeof *xfer)))
        rc = cli_error(EXIT_DATA, "out of memory");
    rc = par_agree(rc);
    for (int k = 0; rc < 0 && k < s->nm; k++) {
        const int64_t len = simrep_pairs_input_state_len(s->pairs, k);
        if (s->owner[k] == s->me) {
            simrep_pairs_input_save(s->pairs, k, xfer);
            for (int q = 0; q < s->ranks; q++)
                if (q != s->me && s->need[(size_t)q * s->nm + k])
                    par_send(xfer, len, q);
        } else if (s->need[(size_t)s->me * s->nm + k]) {
            par_recv(xfer, len, s->owner[k]);
            simrep_status st = simrep_pairs_input_load(s->ctx, s->pairs, k, xfer);
            if (st != SIMREP_OK)
                rc = pass_error(r, s->ctx, st, s->members, s->nm);
        }
    }
    free(xfer);
    return par_agree(rc);
}

/* One pair (a pool job): its measures into the matrices. */
static int pass_job(void *user, simrep_ctx *ctx, int job)
{
    pass_state *s = user;
    mx_run *r = s->r;
    const int t = s->jobs[job], li = s->ji[t], lj = s->jj[t], K = r->K;
    const size_t at = (size_t)s->pi[t] * (size_t)K + (size_t)s->pj[t];
    if (!ctx) {
        pair_failed(s, t, NULL, SIMREP_E_NOMEM);
        return 1;
    }
    simrep_result res[SIMREP_MEASURE_COUNT];
    cli_measure_error errs[SIMREP_MEASURE_COUNT];
    memset(res, 0, sizeof res);
    memset(errs, 0, sizeof errs);
    simrep_status st = cli_pair_moments(ctx, &s->ms, s->pairs, li, lj, res, errs);
    if (st == SIMREP_OK && s->rows) {
        const simrep_matrix x = cli_rows_view(&s->rows[li], 0), y = cli_rows_view(&s->rows[lj], 0);
        st = cli_pair_rows(ctx, &s->ms, &x, &y, &r->opt, res, errs);
    }
    for (int w = 0; st == SIMREP_OK && w < r->nmeasures; w++)
        if (errs[w].st != SIMREP_OK)
            measure_failed(s, t, w, &errs[w]);
    if (st != SIMREP_OK) {
        pair_failed(s, t, ctx, st);
        for (int w = 0; w < r->nmeasures; w++)
            simrep_result_clear(ctx, &res[w]);
        return 1;
    }
    const size_t back = (size_t)s->pj[t] * (size_t)K + (size_t)s->pi[t];
    for (int w = 0; w < r->nmeasures; w++) {
        if (errs[w].st != SIMREP_OK) { /* marks the measure undefined here (drop_failed_measures) */
            r->sim[w][at] = r->dist[w][at] = NAN;
            continue;
        }
        r->sim[w][at] = res[w].similarity;
        r->dist[w][at] = res[w].distance;
        if (simrep_measure_get_info(r->measures[w])->outputs & SIMREP_OUT_REVERSE) { /* not mirrored */
            r->sim[w][back] = res[w].reverse;
            r->dist[w][back] = res[w].reverse_distance;
        }
        if (simrep_measure_get_info(r->measures[w])->outputs & SIMREP_OUT_KEPT) {
            int64_t *c = s->cnt + t * NCNT;
            c[KEPT_X] = res[w].kept_p, c[KEPT_Y] = res[w].kept_q;
            c[RANK_X] = res[w].rank_p, c[RANK_Y] = res[w].rank_q;
            c[SHRUNK_X] = res[w].shrunk_p, c[SHRUNK_Y] = res[w].shrunk_q;
            s->warn[t] |= res[w].warnings;
        }
        s->warn[t] |= res[w].warnings & SIMREP_WARN_LAYOUT; /* every measure's */
        simrep_result_clear(ctx, &res[w]);
    }
    return 0;
}

static void pass_job_progress(void *user, int done, int total)
{
    pass_state *s = user;
    progress_show(s->pr, s->pass, s->passes, "pairs", done, total);
}

/* This rank's pairs over --threads workers. */
static int pass_compute(pass_state *s)
{
    pthread_mutex_init(&s->lock, NULL);
    s->err_job = -1;
    cli_pool_run(s->a->threads, s->njobs, pass_job, pass_job_progress, s);
    pthread_mutex_destroy(&s->lock);
    return s->err_job >= 0 ? cli_error(EXIT_DATA, "%s", s->err) : -1;
}

/* The kept counts and warnings of pair t to its inputs. */
static void pass_note_pair(pass_state *s, int t)
{
    mx_run *r = s->r;
    const int64_t *c = s->cnt + t * NCNT;
    if (c[KEPT_X] >= 0) {
        mx_input *x = &r->in[s->pi[t]], *y = &r->in[s->pj[t]];
        x->kept = c[KEPT_X], x->rank = c[RANK_X], x->shrunk = c[SHRUNK_X];
        y->kept = c[KEPT_Y], y->rank = c[RANK_Y], y->shrunk = c[SHRUNK_Y];
    }
    /* features x samples already: the layout hint is for the other reading */
    input_warnings(r, s->pi[t], s->pj[t], s->warn[t] & (s->a->layout.features_first ? ~SIMREP_WARN_LAYOUT : ~0u));
}

/* MPI: every rank's results to rank 0, as the values themselves (so the
 * output is bit for bit the single-process one). */
static int pass_collect(pass_state *s, int rc)
{
    mx_run *r = s->r;
    const int K = r->K, nmeas = r->nmeasures, stride = 4 * nmeas + NCNT + 1;
    double *buf = malloc((size_t)(s->npairs ? s->npairs : 1) * (size_t)stride * sizeof *buf);
    rc = par_agree(rc < 0 && !buf ? cli_error(EXIT_DATA, "out of memory") : rc);
    for (int u = 0; rc < 0 && u < s->njobs; u++) {
        const int t = s->jobs[u];
        const size_t at = (size_t)s->pi[t] * K + s->pj[t], back = (size_t)s->pj[t] * K + s->pi[t];
        double *o = buf + (size_t)u * stride;
        for (int w = 0; w < nmeas; w++) {
            o[w] = r->sim[w][at], o[nmeas + w] = r->dist[w][at];
            o[2 * nmeas + w] = r->sim[w][back], o[3 * nmeas + w] = r->dist[w][back];
        }
        for (int c = 0; c < NCNT; c++)
            o[4 * nmeas + c] = (double)s->cnt[t * NCNT + c];
        o[4 * nmeas + NCNT] = (double)s->warn[t];
    }
    if (rc < 0 && s->me > 0)
        par_send(buf, (int64_t)s->njobs * stride, 0);
    for (int q = 1; rc < 0 && s->me == 0 && q < s->ranks; q++) {
        int count = 0;
        for (int t = 0; t < s->npairs; t++)
            count += s->jrank[t] == q;
        par_recv(buf, (int64_t)count * stride, q);
        for (int t = 0, u = 0; t < s->npairs; t++) {
            if (s->jrank[t] != q)
                continue;
            const double *o = buf + (size_t)(u++) * stride;
            const size_t at = (size_t)s->pi[t] * K + s->pj[t], back = (size_t)s->pj[t] * K + s->pi[t];
            for (int w = 0; w < nmeas; w++) {
                r->sim[w][at] = o[w], r->dist[w][at] = o[nmeas + w];
                r->sim[w][back] = o[2 * nmeas + w], r->dist[w][back] = o[3 * nmeas + w];
            }
            for (int c = 0; c < NCNT; c++)
                s->cnt[t * NCNT + c] = (int64_t)o[4 * nmeas + c];
            s->warn[t] = (unsigned)o[4 * nmeas + NCNT];
            pass_note_pair(s, t);
        }
    }
    free(buf);
    return rc;
}

static void pass_free(pass_state *s)
{
    simrep_pairs_free(s->ctx, s->pairs);
    simrep_moments_free(s->ctx, s->mom);
    simrep_moments_free(s->ctx, s->fold.tmp);
    for (int k = 0; k < s->nm && s->src; k++)
        simrep_input_free(s->ctx, s->src[k]);
    for (int k = 0; k < s->nm && s->rows; k++)
        cli_rows_free(&s->rows[k]);
    free(s->rows), free(s->src), free(s->feat), free(s->local), free(s->ji), free(s->jj), free(s->jobs);
    free(s->cnt), free(s->warn);
    free(s->owner), free(s->jrank), free(s->which), free(s->need), free(s->state);
    simrep_ctx_free(s->ctx);
}

/* One pass: read the members' samples into one K-input moments (and rows
 * for the measures of the rows), prepare, compare the given pairs (global
 * i < j).  Under MPI every phase ends in an agreement (par_agree), so an
 * error on one rank stops all of them; ranks other than 0 hold the
 * messages of the phases every rank runs alike. */
static int run_pass(mx_run *r, const matrix_args *a, const int *members, int nm, const int *pi, const int *pj,
                    int npairs, int pass, int passes, progress *pr)
{
    pass_state s;
    memset(&s, 0, sizeof s);
    s.r = r;
    s.a = a;
    s.nm = nm;
    s.members = members;
    s.pi = pi;
    s.pj = pj;
    s.npairs = npairs;
    s.pr = pr;
    s.pass = pass;
    s.passes = passes;
    s.ranks = par_size();
    s.me = par_rank();
    if (!(s.ctx = cli_ctx_new()))
        return cli_error(EXIT_DATA, "out of memory");
    int rc = pass_open(&s);
    if (rc < 0 && s.ranks > 1)
        rc = pass_schedule(&s);
    rc = par_agree(rc);
    if (rc < 0) {
        par_hold(0);
        rc = pass_read(&s);
        par_hold(1);
    }
    for (int k = 0; k < nm && s.src; k++) {
        simrep_input_free(s.ctx, s.src[k]);
        s.src[k] = NULL;
    }
    if (s.ranks > 1)
        rc = pass_merge(&s, par_agree(rc));
    par_hold(0);
    rc = pass_prepare(&s, rc);
    if (rc < 0) {
        rc = pass_compute(&s);
        for (int u = 0; rc < 0 && u < s.njobs; u++)
            pass_note_pair(&s, s.jobs[u]);
    }
    par_hold(1);
    if (s.ranks > 1)
        rc = pass_collect(&s, rc);
    pass_free(&s);
    return rc;
}

/* Bytes a pass over inputs with ptot features in all holds. */
static double pass_bytes(double ptot, double n, int rows)
{
    return ptot * ptot * 8.0 + (rows ? n * ptot * 8.0 : 0.0);
}

double mx_results_bytes(int64_t K, int nmeasures)
{
    const double kk = (double)K * (double)K;
    /* sim + dist per measure and one K x K matrix for the clustering or
     * MDS (doubles); the pairs done (a byte per pair), the pair lists (two
     * ints per pair) and a pass's per-pair arrays (36 bytes a pair): 24
     * bytes per K^2 with K(K-1)/2 pairs. */
    return kk * (8.0 * (2.0 * nmeasures + 1.0) + 24.0);
}

int mx_check_budget(mx_run *r, double max_memory)
{
    const double results = mx_results_bytes(r->K, r->nmeasures);
    char what[128], need[32], budget[32], have[32];
    const double limit = cli_memory_limit(what, sizeof what);
    cli_size_text(results, need, sizeof need);
    cli_size_text(max_memory, budget, sizeof budget);
    if (results >= max_memory)
        return cli_error(EXIT_DATA, "%s: %d inputs: the K x K results of %d measure%s (similarity and distance, and "
                         "the clustering and MDS of each) need %s, more than --max-memory %s; raise it or split the "
                         "manifest", r->manifest_path, r->K, r->nmeasures, r->nmeasures == 1 ? "" : "s", need,
                         budget);
    if (limit > 0 && results >= limit) {
        cli_size_text(limit, have, sizeof have);
        return cli_error(EXIT_DATA, "%s: %d inputs: the K x K results of %d measure%s need %s, more than %s, %s; "
                         "split the manifest", r->manifest_path, r->K, r->nmeasures, r->nmeasures == 1 ? "" : "s",
                         need, what, have);
    }
    r->pass_memory = max_memory - results;
    return -1;
}

/* Cut the inputs of the subset into tiles (see the design comment) and run
 * the passes for the wanted pairs. */
int mx_run_pairs(mx_run *r, const matrix_args *a, const int *subset, int nsub, const unsigned char *want)
{
    int K = r->K, rbf = 0;
    /* Each pair allocates and frees the same few p x q buffers, which glibc
     * otherwise returns to the system and faults back in zeroed (a third of
     * the CPU of a 12-input matrix at 256 features, 110,000 page faults
     * against 33,000). */
    cli_stats_tune_malloc();
    for (int t = 0; t < r->nmeasures; t++) {
        if (simrep_measure_get_info(r->measures[t])->family == SIMREP_FAMILY_ROWS)
            rbf = 1;
    }
    double n = (double)r->in[0].n, ptot = 0, pmax = 0, pmax2 = 0;
    for (int s = 0; s < nsub; s++) {
        double p = (double)r->in[subset[s]].p;
        ptot += p;
        if (p > pmax)
            pmax2 = pmax, pmax = p;
        else if (p > pmax2)
            pmax2 = p;
    }
    int *tile = malloc((size_t)K * sizeof *tile), ntiles = 0;
    if (!tile)
        return cli_error(EXIT_DATA, "out of memory");
    for (int i = 0; i < K; i++)
        tile[i] = -1;
    /* Descriptors: a pass holds its inputs open, so any two tiles together
     * hold at most r->max_open of them. */
    const int per_tile = r->max_open / 2 > 0 ? r->max_open / 2 : 1;
    if (pass_bytes(ptot, n, rbf) <= r->pass_memory && nsub <= r->max_open) {
        for (int s = 0; s < nsub; s++)
            tile[subset[s]] = 0;
        ntiles = 1;
    } else if (pass_bytes(ptot, n, rbf) <= r->pass_memory) {
        for (int s = 0; s < nsub; s++)
            tile[subset[s]] = s / per_tile;
        ntiles = (nsub + per_tile - 1) / per_tile;
    } else {
        if (pass_bytes(pmax + pmax2, n, rbf) > r->pass_memory) {
            free(tile);
            char need[32], budget[32], left[32];
            cli_size_text(pass_bytes(pmax + pmax2, n, rbf), need, sizeof need);
            cli_size_text(a->max_memory, budget, sizeof budget);
            cli_size_text(r->pass_memory, left, sizeof left);
            return cli_error(EXIT_DATA, "%s: the two largest inputs (%.0f and %.0f features) need %s together "
                             "(joint moments: (p + q)^2 doubles%s), more than the %s left of --max-memory %s "
                             "after the K x K results; raise it",
                             r->manifest_path, pmax, pmax2, need,
                             rbf ? ", plus n x (p + q) doubles of rows for the measures of the rows" : "", left, budget);
        }
        /* The largest tile size c such that any two tiles fit together:
         * tiles hold at most c features unless a single input is larger
         * (it then has a tile of its own), so the worst union is
         * c + max(c, pmax); and two oversized inputs fit because the two
         * largest do (checked above). */
        double lo = 1, hi = ptot;
        for (int it = 0; it < 100; it++) {
            double mid = 0.5 * (lo + hi);
            if (pass_bytes(mid + (mid > pmax ? mid : pmax), n, rbf) <= r->pass_memory)
                lo = mid;
            else
                hi = mid;
        }
        double cap = floor(lo), fill = 0;
        int count = 0;
        for (int s = 0; s < nsub; s++) {
            double p = (double)r->in[subset[s]].p;
            if (ntiles == 0 || fill + p > cap || count == per_tile) {
                ntiles++;
                fill = 0;
                count = 0;
            }
            tile[subset[s]] = ntiles - 1;
            fill += p;
            count++;
        }
    }
    if (nsub > r->max_open && par_rank() == 0 && !r->open_warned) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        cli_warning("%d inputs, but this process may hold only %d of them open at once (ulimit -n %lld): they are "
                    "read in %d groups (%d passes; 'ulimit -n %lld' or more makes it one)", nsub, r->max_open,
                    (long long)rl.rlim_cur, ntiles, ntiles * (ntiles - 1) / 2,
                    (long long)rl.rlim_cur + (nsub - r->max_open) + 16);
        r->open_warned = 1;
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
    cli_measures_split ms;
    cli_measures_split_of(r->measures, r->nmeasures, &ms);
    if (ms.nrows > 0) { /* the pairs' p + q summed: (nsub - 1) times every input's p */
        double psum = 0;
        for (int s = 0; s < nsub; s++)
            psum += (double)r->in[subset[s]].p;
        cli_rows_announce(&ms, r->in[0].n, (nsub - 1) * psum, (double)nsub * (nsub - 1) / 2, a->threads * par_size());
    }
    progress pr;
    memset(&pr, 0, sizeof pr);
    pr.on = isatty(2) && par_rank() == 0;
    pthread_mutex_init(&pr.lock, NULL);
    int pass = 0;
    for (int ta = 0; ta < ntiles && rc < 0; ta++)
        for (int tb = ntiles == 1 ? ta : ta + 1; tb < ntiles && rc < 0; tb++) {
            int nm = 0, np = 0;
            for (int s = 0; s < nsub; s++)
                if (tile[subset[s]] == ta || tile[subset[s]] == tb)
                    members[nm++] = subset[s];
            for (int x = 0; x < nm; x++)
                for (int y = x + 1; y < nm; y++) {
                    int i = members[x] < members[y] ? members[x] : members[y];
                    int j = members[x] < members[y] ? members[y] : members[x];
                    if (want && !want[(size_t)i * K + j] && !want[(size_t)j * K + i])
                        continue;
                    if (!done[(size_t)i * K + j]) {
                        done[(size_t)i * K + j] = 1;
                        pi[np] = i;
                        pj[np++] = j;
                    }
                }
            pass++;
            if (np > 0) {
                /* Only the inputs of wanted pairs are read. */
                int used = 0;
                for (int x = 0; x < nm; x++) {
                    int in_pair = !want;
                    for (int t = 0; t < np && !in_pair; t++)
                        in_pair = pi[t] == members[x] || pj[t] == members[x];
                    if (in_pair)
                        members[used++] = members[x];
                }
                rc = run_pass(r, a, members, used, pi, pj, np, pass, passes, &pr);
            }
        }
    if (pr.shown)
        fputc('\n', stderr);
    pthread_mutex_destroy(&pr.lock);
    free(tile), free(done), free(members), free(pi), free(pj);
    if (rc >= 0)
        return rc;
    /* The diagonal, and the lower triangle mirrored from the upper, except
     * for asymmetric measures (SIMREP_OUT_REVERSE), whose pairs filled both. */
    for (int t = 0; t < r->nmeasures; t++) {
        const int asym = (simrep_measure_get_info(r->measures[t])->outputs & SIMREP_OUT_REVERSE) != 0;
        for (int i = 0; i < K; i++) {
            r->sim[t][(size_t)i * K + i] = 1.0;
            r->dist[t][(size_t)i * K + i] = 0.0;
            for (int j = 0; j < i && !asym; j++) {
                r->sim[t][(size_t)i * K + j] = r->sim[t][(size_t)j * K + i];
                r->dist[t][(size_t)i * K + j] = r->dist[t][(size_t)j * K + i];
            }
        }
    }
    return -1;
}

static int run_all(mx_run *r, const matrix_args *a)
{
    int *all = malloc((size_t)r->K * sizeof *all);
    if (!all)
        return cli_error(EXIT_DATA, "out of memory");
    for (int i = 0; i < r->K; i++)
        all[i] = i;
    int rc = mx_run_pairs(r, a, all, r->K, NULL);
    free(all);
    return rc;
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
    char list[400];
    int64_t n = r->in[0].n;
    /* n <= an input's kept features: the bound's line (FEW_SAMPLES_RANK), not also the bias's */
    const int bound = inputs_flagged(r, SIMREP_WARN_FEW_SAMPLES_RANK, list, sizeof list);
    if (bound)
        add_warning(r, "n = %lld samples (the kept features of %d input%s: %s) %s", (long long)n, bound,
                    bound == 1 ? "" : "s", list, simrep_warning_text(SIMREP_WARN_FEW_SAMPLES_RANK));
    for (int i = 0; i < r->K; i++)
        if (r->in[i].warn & SIMREP_WARN_FEW_SAMPLES_RANK)
            r->in[i].warn &= ~SIMREP_WARN_FEW_SAMPLES;
    const int few = inputs_flagged(r, SIMREP_WARN_FEW_SAMPLES, list, sizeof list);
    if (few)
        add_warning(r, "n = %lld samples (the kept features of %d input%s: %s) %s", (long long)n, few,
                    few == 1 ? "" : "s", list, simrep_warning_text(SIMREP_WARN_FEW_SAMPLES));
    for (int i = 0; i < r->K; i++)
        if (r->in[i].warn & SIMREP_WARN_DEAD_FEATURES)
            add_warning(r, "%s: %lld of %lld %s", r->in[i].name, (long long)(r->in[i].p - r->in[i].kept),
                        (long long)r->in[i].p, simrep_warning_text(SIMREP_WARN_DEAD_FEATURES));
    for (int i = 0; i < r->K; i++) {
        const mx_input *in = &r->in[i];
        if (in->warn & SIMREP_WARN_ROUNDING)
            add_warning(r, "%s: %lld of %lld %s", in->name, (long long)(in->kept - in->rank), (long long)in->kept,
                        simrep_warning_text(SIMREP_WARN_ROUNDING));
        if (in->warn & SIMREP_WARN_RIDGE)
            add_warning(r, "%s: %lld of %lld %s", in->name, (long long)in->shrunk, (long long)in->kept,
                        simrep_warning_text(SIMREP_WARN_RIDGE));
    }
    if (inputs_flagged(r, SIMREP_WARN_MIXED_PRECISION, list, sizeof list))
        add_warning(r, "pairs of %s: %s", list, simrep_warning_text(SIMREP_WARN_MIXED_PRECISION));
    if (inputs_flagged(r, SIMREP_WARN_LAYOUT, list, sizeof list))
        add_warning(r, "%s: %lld samples of more features each, in pairs of the same width: %s", list, (long long)n,
                    simrep_warning_text(SIMREP_WARN_LAYOUT));
}

/*
 * Measures undefined for some pair (a NaN marks the cell: the library never
 * gives one) are reported and left out of every output, the others kept
 * (issue 10, item 8); the command then exits 1.  Each rank says what it
 * found on its own pairs; rank 0 also finds those of other ranks' pairs in
 * the gathered matrices, whose message stayed there.
 */
static void drop_failed_measures(mx_run *r)
{
    const size_t kk = (size_t)r->K * (size_t)r->K;
    int kept = 0;
    for (int w = 0; w < r->nmeasures; w++) {
        int failed = r->merr[w][0] != 0;
        for (size_t c = 0; c < kk && !failed && par_rank() == 0; c++)
            failed = isnan(r->sim[w][c]);
        if (!failed) {
            r->measures[kept] = r->measures[w];
            r->sim[kept] = r->sim[w];
            r->dist[kept] = r->dist[w];
            memmove(r->merr[kept], r->merr[w], sizeof r->merr[w]);
            kept++;
            continue;
        }
        const char *id = simrep_measure_get_info(r->measures[w])->id;
        if (r->merr[w][0])
            cli_error(EXIT_DATA, "%s", r->merr[w]);
        r->error_ids[r->nerrors] = id;
        snprintf(r->error_msgs[r->nerrors], sizeof r->error_msgs[0], "%s",
                 r->merr[w][0] ? r->merr[w] : "undefined for some pair (the rank that computed it said which)");
        r->nerrors++;
        free(r->sim[w]);
        free(r->dist[w]);
    }
    for (int w = kept; w < r->nmeasures; w++)
        r->sim[w] = r->dist[w] = NULL;
    r->nmeasures = kept;
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
    r.stats = a.stats;
    r.nmeasures = a.nmeasures;
    memcpy(r.measures, a.measures, sizeof a.measures);
    /* -o DIR that cannot be written is said before any data is read. */
    int made_dir = 0;
    rc = a.outdir && par_rank() == 0 ? mx_outdir_prepare(a.outdir, &made_dir) : -1;
    if (rc < 0)
        rc = mx_load_inputs(&r, &a);
    if (rc < 0)
        rc = plan_views(&r, &a);
    if (rc < 0)
        rc = mx_check_budget(&r, a.max_memory); /* the K x K results count too, before they are allocated */
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
    if (rc < 0)
        drop_failed_measures(&r);
    if (rc < 0 && par_rank() > 0)
        rc = 0; /* rank 0 writes the outputs */
    if (rc < 0 && r.nmeasures == 0)
        rc = EXIT_DATA; /* every measure undefined: the errors said it */
    if (rc < 0) {
        collect_warnings(&r);
        common_layer(&r);
        rc = matrix_print(&r, a.format);
        if (rc == 0 && a.outdir)
            rc = matrix_write_dir(&r, a.outdir);
        if (rc == 0 && r.nerrors)
            rc = EXIT_DATA; /* some measure was left out */
    }
    if (made_dir && rc != 0)
        rmdir(a.outdir); /* made for this run and (if nothing was written) empty */
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

void mx_collect_warnings(mx_run *r)
{
    collect_warnings(r);
}

void mx_drop_failed_measures(mx_run *r)
{
    drop_failed_measures(r);
}
