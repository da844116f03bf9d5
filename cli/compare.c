/*
 * compare.c: `simrep compare X Y`: parse options, stream both inputs block
 * by block into one simrep_moments, compute the requested measures, print
 * them as a table, JSON or CSV.
 *
 * Streaming: the two sources are read in lockstep, a block of samples at a
 * time (block size chosen so a block of both inputs in double is a few tens
 * of MiB at most), and each pair of blocks is folded into the moments; the
 * arrays are never in memory whole.  The exception is the measures of the
 * rows (the registry's family ROWS, e.g. cka_rbf), which need every row
 * against every other: when one is asked for, the rows are also gathered
 * (as double, O(n (p + q))) during the same pass.  What a measure needs,
 * which options it reads and which fields it reports are the library's
 * registry's to say (report.c prints them); no measure is named here.
 *
 * The JSON shape is a contract scripts depend on (issue #2):
 *   {"n", "x": {"path", "features", "kept"}, "y": {...},
 *    "measures": {"<id>": {"similarity", "distance", ...}}, "warnings": [...]}
 * Keys are only ever added.
 *
 * Conv maps and sequences (issue #3) are read through simrep_input (the
 * library's layout API, shared with `simrep matrix`): --conv, --conv-mode,
 * --resize and --sequence fill a simrep_layout, and the loop reads blocks
 * of rows aligned to whole items.  --sequence per-step keeps one Moments
 * per step t; each measure then reports "per_step" (similarities) and
 * "per_step_distance" lists, and its top-level similarity and distance are
 * the means over the T steps (so a curve's mean, not the measure of the
 * pooled data; procrustes_angular's distance is the mean of the angles).
 * dftcca reads the images themselves (simrep_input_read_maps) in a second
 * pass and adds "grid", "total" and "per_frequency" to its entry.  x and y
 * gain "shape" and "layout" when they are not 2-D.
 *
 * Under MPI (mpirun -np K simrep compare ...; parallel.h) the samples are
 * split by whole items: rank r reads only items [N r / K, N (r+1) / K) of
 * both inputs (its own byte ranges of the files), folds them into its own
 * moments (one per step for --sequence per-step) and DFT-CCA state, and the
 * partial states go down a binomial tree of exact pairwise merges to rank
 * 0, which computes the measures and prints; the others print nothing but
 * their own reading errors.  Equal to one process up to the order of the
 * merges (1e-15 relative).  measures of the rows need every row on every rank: the
 * shares are all-gathered (O(n (p + q)) per rank, the only raw data sent)
 * and its O(n^2) tile passes are shared through simrep_ctx_set_partition.
 */
#include "cli.h"
#include "parallel.h"
#include "stats.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { FORMAT_TABLE, FORMAT_JSON, FORMAT_CSV };

static const char *compare_help_head =
    "usage: simrep compare X Y [options]\n"
    "\n"
    "X, Y: path.npy, path.npz:key or path.safetensors:name; 2-D, n samples x p (q) features,\n"
    "      or 4-D conv maps with --conv, or 3-D sequences with --sequence.\n"
    "\n"
    "options:\n";

static const char *compare_help_tail =
    "  --features-first         arrays are features x samples (the google/svcca layout)\n"
    "  --coefs                  also print each measure's coefficients (canonical correlations, pwcca weights)\n"
    "  --format F               table (default), json or csv\n"
    "  -h, --help               this help\n"
    "\n"
    "\n"
    "conv maps (4-D) and sequences (3-D):\n"
    "  --conv L                 nhwc (N, H, W, C) or nchw (N, C, H, W)\n"
    "  --conv-mode M            positions (default: every spatial position is a sample, features = C),\n"
    "                           pool (mean over space: N x C) or flatten (N x H*W*C, the order of reshape(N, -1))\n"
    "  --resize R               different spatial sizes: interp (bilinear upsampling of the smaller),\n"
    "                           pool-to (average-pool the larger down) or dft (common low frequencies)\n"
    "  --sequence S             (N, T, D): flatten (N*T samples), per-step (a value per step t, their mean\n"
    "                           on top), first (x[:, 0]), last (x[:, -1]) or mean (mean over t)\n"
    "  --mask FILE[:key]        which steps are tokens: (N, T) 1 = token, 0 = padding (an attention_mask),\n"
    "                           or (N,) lengths; flatten then takes every token as a sample, first/last\n"
    "                           the first/last token, mean the mean over tokens\n"
    "\n"
    "uncertainty and chance (docs/statistics.md):\n"
    "  --bootstrap B            percentile intervals and standard errors from B resamples of the units\n"
    "  --permutations K         null distribution from K random re-pairings of x's and y's units: null mean\n"
    "                           and sd, p = (1 + #{null >= observed}) / (1 + K), adjusted similarity\n"
    "  --ci LEVEL               interval level (0.95)\n"
    "  --ci-method M            percentile (default) or basic (2 x observed - the percentiles: corrects the\n"
    "                           upward shift resampling gives CCA-family and CKA values)\n"
    "  --seed S                 every random choice follows from S (0); the same S gives the same numbers\n"
    "  --unit-rows K            K consecutive rows are one unit (default: a row; an image under --conv\n"
    "                           positions; a sequence under --sequence flatten)\n"
    "  --threads T              resamples computed by T threads (default: the number of CPUs)\n"
    "  --max-memory SIZE        budget for the resampling state, e.g. 512M, 4G (default 1G)\n"
    "  --buckets G, --segments S  bootstrap groups (128) and permutation segments (8)\n"
    "Run `simrep measures` for what each measure computes.\n";

typedef struct compare_args {
    const char *x, *y;
    simrep_measure measures[SIMREP_MEASURE_COUNT];
    int nmeasures;
    int features_first;
    int coefs;
    int format;
    simrep_options opt;
    simrep_layout layout;
    int measures_all;
    cli_stats stats;
    int threads;
    double max_memory;
} compare_args;

/* Returns -1 to continue, else an exit status. */
static int parse_args(int argc, char **argv, compare_args *a)
{
    memset(a, 0, sizeof *a);
    simrep_options_init(&a->opt);
    simrep_layout_init(&a->layout);
    cli_seen seen = {0, 0, 0};
    cli_default_measures(a->measures, &a->nmeasures);
    cli_stats_init(&a->stats);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    a->threads = cpus > 0 ? (int)(cpus > 256 ? 256 : cpus) : 1;
    a->max_memory = 1024.0 * 1024 * 1024;
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (arg[0] != '-' || strcmp(arg, "-") == 0) {
            if (npos == 2)
                return cli_error(EXIT_USAGE, "compare takes two inputs X Y; unexpected '%s'", arg);
            pos[npos++] = arg;
            continue;
        }
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(compare_help_head, stdout);
            cli_help_measures(stdout, 1);
            fputs(compare_help_tail, stdout);
            return 0;
        }
        if (strcmp(arg, "--features-first") == 0) {
            a->features_first = 1;
            continue;
        }
        if (strcmp(arg, "--coefs") == 0) {
            a->coefs = 1;
            continue;
        }
        static const char *const valued[] = {"-m", "--measures", "--format", "--conv", "--conv-mode", "--resize",
                                             "--sequence", "--mask", CLI_STATS_OPTIONS, CLI_STATS_COMPARE_OPTIONS,
                                             NULL};
        char name[64];
        const char *val = NULL;
        int rc = cli_split_option(argc, argv, &i, valued, "compare", name, sizeof name, &val);
        if (rc >= 0)
            return rc;
        if ((rc = cli_measure_option(name, val, &a->opt, &seen)) != CLI_OPT_NOT_MINE ||
            (rc = cli_layout_option(name, val, 1, &a->layout, &seen)) != CLI_OPT_NOT_MINE ||
            (rc = cli_stats_option(name, val, 1, &a->stats)) != CLI_OPT_NOT_MINE) {
            if (rc)
                return rc;
        } else if (strcmp(name, "--threads") == 0) {
            double v = 0;
            if ((rc = cli_parse_number(name, val, &v)) != 0)
                return rc;
            if (!(v >= 1 && v <= 1024 && v == floor(v)))
                return cli_error(EXIT_USAGE, "--threads takes a whole number from 1 to 1024 (got %s)", val);
            a->threads = (int)v;
        } else if (strcmp(name, "--max-memory") == 0) {
            if ((rc = cli_parse_size(name, val, &a->max_memory)) != 0)
                return rc;
        } else if (strcmp(name, "-m") == 0 || strcmp(name, "--measures") == 0) {
            cli_measures ms;
            if ((rc = cli_parse_measures(val, 1, &ms)) != 0)
                return rc;
            memcpy(a->measures, ms.ids, sizeof ms.ids);
            a->nmeasures = ms.count;
            a->measures_all = ms.all;
        } else if (strcmp(name, "--format") == 0) {
            if (strcmp(val, "table") == 0)
                a->format = FORMAT_TABLE;
            else if (strcmp(val, "json") == 0)
                a->format = FORMAT_JSON;
            else if (strcmp(val, "csv") == 0)
                a->format = FORMAT_CSV;
            else
                return cli_error(EXIT_USAGE, "--format is table, json or csv (got '%s')", val);
        }
    }
    int rc = cli_check_layout(&a->layout, &seen);
    if (rc >= 0)
        return rc;
    /* Measures of conv maps join 'all' when the inputs are conv maps, and
     * need them. */
    if (a->measures_all && a->layout.conv != SIMREP_CONV_NONE)
        for (int m = 0; m < SIMREP_MEASURE_COUNT; m++)
            if (simrep_measure_get_info((simrep_measure)m)->family == SIMREP_FAMILY_MAPS)
                a->measures[a->nmeasures++] = (simrep_measure)m;
    for (int i = 0; i < a->nmeasures; i++)
        if (simrep_measure_get_info(a->measures[i])->family == SIMREP_FAMILY_MAPS &&
            a->layout.conv == SIMREP_CONV_NONE)
            return cli_error(EXIT_USAGE, "%s compares conv feature maps: add --conv nhwc or --conv nchw",
                             simrep_measure_get_info(a->measures[i])->id);
    if (cli_stats_requested(&a->stats) && a->layout.sequence == SIMREP_SEQUENCE_PER_STEP)
        return cli_error(EXIT_USAGE, "--bootstrap and --permutations do not combine with --sequence per-step yet; "
                         "use --sequence flatten (a sequence is then one unit) or last/mean");
    if (npos != 2)
        return cli_error(EXIT_USAGE, "compare needs two inputs X and Y (see simrep compare --help)");
    a->x = pos[0];
    a->y = pos[1];
    return -1;
}

/* One input: its array read through the layout and, for the measures of the rows, its rows
 * gathered as double (one matrix per view: per-step has T). */
typedef struct input {
    const char *spec;
    simrep_input *in;
    simrep_input_dims dims;
    int64_t n, p;
    double **rows; /* views of n x p, row-major, only when a kernel measure needs them */
} input;

static int open_input(simrep_ctx *ctx, input *in, const char *spec, const simrep_layout *layout)
{
    memset(in, 0, sizeof *in);
    in->spec = spec;
    simrep_status st = simrep_input_open(ctx, spec, layout, &in->in);
    if (st != SIMREP_OK)
        return cli_library_error(ctx, st, NULL, NULL);
    simrep_input_dims_get(in->in, &in->dims);
    in->n = in->dims.samples;
    in->p = in->dims.features;
    if (in->p < 1)
        return cli_error(EXIT_DATA, "%s: has no features (shape gives 0 %s)", spec,
                         layout->features_first ? "rows" : "columns");
    return -1;
}

static void dims_refresh(input *in)
{
    simrep_input_dims_get(in->in, &in->dims);
    in->n = in->dims.samples;
    in->p = in->dims.features;
}

/* "nhwc positions 8x8 (resized from 4x4)" etc., for the JSON and table. */
static void layout_text(const compare_args *a, const input *in, char *buf, size_t cap)
{
    const simrep_input_dims *d = &in->dims;
    static const char *modes[] = {"positions", "pool", "flatten"};
    static const char *seqs[] = {"", "flatten", "per-step", "last", "mean", "first"};
    if (d->ndim == 4) {
        int k = snprintf(buf, cap, "%s %s %lldx%lld", a->layout.conv == SIMREP_CONV_NHWC ? "nhwc" : "nchw",
                         modes[a->layout.conv_mode], (long long)d->out_height, (long long)d->out_width);
        if (k > 0 && (size_t)k < cap && (d->out_height != d->height || d->out_width != d->width))
            snprintf(buf + k, cap - (size_t)k, " (resized from %lldx%lld)", (long long)d->height,
                     (long long)d->width);
    } else if (d->ndim == 3) {
        int k = snprintf(buf, cap, "sequence %s T=%lld", seqs[a->layout.sequence], (long long)d->steps);
        if (k > 0 && (size_t)k < cap && a->layout.mask)
            snprintf(buf + k, cap - (size_t)k, " masked by %s (%lld tokens)", simrep_mask_label(a->layout.mask),
                     (long long)simrep_mask_tokens(a->layout.mask));
    } else {
        snprintf(buf, cap, "%s", a->layout.features_first ? "features x samples" : "samples x features");
    }
}

static void json_shape(const input *in)
{
    const simrep_array_info *info = simrep_input_info(in->in);
    fputs(", \"shape\": [", stdout);
    for (int i = 0; i < info->ndim; i++)
        printf("%s%lld", i ? ", " : "", (long long)info->shape[i]);
    fputc(']', stdout);
}

static void progress(int64_t done, int64_t total, time_t start, int *shown)
{
    time_t now = time(NULL);
    if (now - start < 1 && done < total)
        return;
    fprintf(stderr, "\rsimrep: %lld / %lld samples (%d%%)", (long long)done, (long long)total,
            total ? (int)(100 * done / total) : 100);
    *shown = 1;
}

static void print_dft_json(const compare_args *a, const simrep_dftcca_result *d)
{
    printf(", \"grid\": [%lld, %lld], \"total\": %lld, \"per_frequency\": [", (long long)d->height,
           (long long)d->width, (long long)d->total);
    for (int64_t f = 0; f < d->nfreq; f++) {
        const simrep_dftcca_frequency *fr = &d->freqs[f];
        printf("%s{\"u\": %lld, \"v\": %lld, \"count\": %d, \"kept\": [%lld, %lld], \"k\": %lld, \"mean\": ",
               f ? ", " : "", (long long)fr->u, (long long)fr->v, fr->count, (long long)fr->kept_p,
               (long long)fr->kept_q, (long long)fr->k);
        if (fr->k > 0)
            json_number(stdout, fr->mean);
        else
            fputs("null", stdout);
        if (a->coefs) {
            fputs(", \"coefs\": [", stdout);
            for (int64_t i = 0; i < fr->k; i++) {
                if (i)
                    fputs(", ", stdout);
                json_number(stdout, fr->coefs[i]);
            }
            fputc(']', stdout);
        }
        fputc('}', stdout);
    }
    fputc(']', stdout);
}

/* Per-step results: steps[t * nmeasures + i] is measure i at step t. */
typedef struct extra {
    const simrep_result *steps;
    int64_t nsteps; /* 0 unless --sequence per-step */
    const simrep_dftcca_result *dft;
    const simrep_stats_result *stats; /* per measure: chance always, the rest when have_stats */
    int have_stats;
    const simrep_stats_info *sinfo;
} extra;

static void print_results(const compare_args *a, const input *x, const input *y, const simrep_result *res,
                          const extra *ex)
{
    const simrep_result *kept = report_kept_result(res, a->nmeasures);
    char warn[8][REPORT_WARNING_MAX];
    int nw = report_warnings(res, a->nmeasures, ex->nsteps ? x->dims.items : x->n, x->spec, y->spec, x->p, y->p,
                             warn, 7);
    if (ex->dft && (ex->dft->warnings & SIMREP_WARN_FEW_SAMPLES) && nw < 8)
        snprintf(warn[nw++], REPORT_WARNING_MAX, "dftcca: n = %lld images (kept channels at some frequencies) %s",
                 (long long)ex->dft->n, simrep_warning_text(SIMREP_WARN_FEW_SAMPLES));
    int64_t kept_x = kept ? kept->kept_p : x->p, kept_y = kept ? kept->kept_q : y->p;
    char lx[1024], ly[1024];
    layout_text(a, x, lx, sizeof lx);
    layout_text(a, y, ly, sizeof ly);

    if (a->format == FORMAT_JSON) {
        printf("{\"n\": %lld, \"x\": {\"path\": ", (long long)x->n);
        json_string(stdout, x->spec);
        printf(", \"features\": %lld, \"kept\": %lld", (long long)x->p, (long long)kept_x);
        if (x->dims.ndim != 2) {
            json_shape(x);
            fputs(", \"layout\": ", stdout);
            json_string(stdout, lx);
        }
        fputs("}, \"y\": {\"path\": ", stdout);
        json_string(stdout, y->spec);
        printf(", \"features\": %lld, \"kept\": %lld", (long long)y->p, (long long)kept_y);
        if (y->dims.ndim != 2) {
            json_shape(y);
            fputs(", \"layout\": ", stdout);
            json_string(stdout, ly);
        }
        fputs("}, \"measures\": {", stdout);
        for (int i = 0; i < a->nmeasures; i++) {
            const simrep_result *r = &res[i];
            printf("%s\"%s\": {\"similarity\": ", i ? ", " : "", simrep_measure_get_info(r->measure)->id);
            json_number(stdout, r->similarity);
            fputs(", \"distance\": ", stdout);
            json_number(stdout, r->distance);
            report_json_fields(stdout, r, &a->opt, a->coefs);
            const int maps = simrep_measure_get_info(r->measure)->family == SIMREP_FAMILY_MAPS;
            if (maps && ex->dft)
                print_dft_json(a, ex->dft);
            if (ex->stats)
                cli_stats_json_measure(&ex->stats[i], ex->have_stats);
            if (ex->nsteps && !maps)
                for (int which = 0; which < 2; which++) {
                    fputs(which ? ", \"per_step_distance\": [" : ", \"per_step\": [", stdout);
                    for (int64_t t = 0; t < ex->nsteps; t++) {
                        const simrep_result *rt = &ex->steps[t * a->nmeasures + i];
                        if (t)
                            fputs(", ", stdout);
                        json_number(stdout, which ? rt->distance : rt->similarity);
                    }
                    fputc(']', stdout);
                }
            fputc('}', stdout);
        }
        fputc('}', stdout);
        if (ex->have_stats)
            cli_stats_json_summary(&a->stats, ex->sinfo);
        fputs(", \"warnings\": [", stdout);
        for (int i = 0; i < nw; i++) {
            if (i)
                fputs(", ", stdout);
            json_string(stdout, warn[i]);
        }
        fputs("]}\n", stdout);
        return;
    }
    for (int i = 0; i < nw; i++)
        cli_warning("%s", warn[i]);
    if (a->format == FORMAT_CSV) {
        printf("measure,similarity,distance%s\n", ex->have_stats ? cli_stats_csv_header() : "");
        for (int i = 0; i < a->nmeasures; i++) {
            printf("%s,%.17g,%.17g", simrep_measure_get_info(res[i].measure)->id, res[i].similarity,
                   res[i].distance);
            if (ex->have_stats)
                cli_stats_csv_row(&ex->stats[i]);
            fputc('\n', stdout);
        }
        return;
    }
    if (ex->nsteps)
        printf("n = %lld samples at each of %lld steps\n", (long long)x->dims.items, (long long)ex->nsteps);
    else
        printf("n = %lld samples\n", (long long)x->n);
    printf("x: %s  (%lld features, %lld kept", x->spec, (long long)x->p, (long long)kept_x);
    printf(x->dims.ndim != 2 ? "; %s)\n" : ")\n", lx);
    printf("y: %s  (%lld features, %lld kept", y->spec, (long long)y->p, (long long)kept_y);
    printf(y->dims.ndim != 2 ? "; %s)\n\n" : ")\n\n", ly);
    printf("%-20s %12s %12s  %s\n", "measure", "similarity", "distance", "notes");
    for (int i = 0; i < a->nmeasures; i++) {
        const simrep_result *r = &res[i];
        char notes[128];
        report_notes(r, &a->opt, notes, sizeof notes);
        if (simrep_measure_get_info(r->measure)->family == SIMREP_FAMILY_MAPS && ex->dft)
            snprintf(notes, sizeof notes, "%lld x %lld frequencies", (long long)ex->dft->height,
                     (long long)ex->dft->width);
        else if (ex->nsteps)
            snprintf(notes + strlen(notes), sizeof notes - strlen(notes), "%smean of %lld steps",
                     notes[0] ? "; " : "", (long long)ex->nsteps);
        if (ex->stats && ex->stats[i].has_chance)
            snprintf(notes + strlen(notes), sizeof notes - strlen(notes), "%schance %.6f", notes[0] ? "; " : "",
                     ex->stats[i].chance);
        /* Round-off can leave a distance of -1e-16 for identical inputs; the
         * table shows it as 0 rather than -0.000000 (JSON keeps the value). */
        double dist = fabs(r->distance) < 5e-7 ? 0.0 : r->distance;
        printf("%-20s %12.6f %12.6f  %s\n", simrep_measure_get_info(r->measure)->id, r->similarity, dist, notes);
    }
    if (ex->have_stats)
        cli_stats_table(&a->stats, ex->sinfo, ex->stats, a->nmeasures);
    if (a->coefs)
        for (int i = 0; i < a->nmeasures; i++) {
            const simrep_result *r = &res[i];
            if (!r->coefs || report_coefs_shown_before(res, i))
                continue;
            printf("\n%s %s:", simrep_measure_get_info(r->measure)->id,
                   simrep_measure_get_info(r->measure)->family == SIMREP_FAMILY_CCA ? "canonical correlations"
                                                                                    : "coefficients");
            for (int64_t k = 0; k < r->ncoefs; k++)
                printf("%s%.6f", k % 8 ? " " : "\n  ", r->coefs[k]);
            fputc('\n', stdout);
        }
}

/* Add the lists of one measure's per-step similarities to the table. */
static void print_steps_table(const compare_args *a, const extra *ex)
{
    for (int i = 0; i < a->nmeasures; i++) {
        if (simrep_measure_get_info(ex->steps[i].measure)->family == SIMREP_FAMILY_MAPS)
            continue;
        printf("\n%s similarity per step:", simrep_measure_get_info(ex->steps[i].measure)->id);
        for (int64_t t = 0; t < ex->nsteps; t++)
            printf("%s%.6f", t % 8 ? " " : "\n  ", ex->steps[t * a->nmeasures + i].similarity);
        fputc('\n', stdout);
    }
}

/* ----------------------------------------------------------------- MPI */

/* A reading error of this rank's share (items [i0, i1)): the file, the
 * rank and the bytes of the file that share is, then the library's message. */
static int share_error(simrep_ctx *ctx, simrep_status st, const input *x, const input *y, int features_first,
                       int64_t i0, int64_t i1, int64_t row0)
{
    const char *msg = simrep_ctx_message(ctx);
    if (!msg || !*msg)
        msg = simrep_strerror(st);
    const input *in = x;
    size_t skip = 0, lx = strlen(x->spec), ly = strlen(y->spec);
    if (strncmp(msg, "x: ", 3) == 0 || strncmp(msg, "y: ", 3) == 0)
        in = msg[0] == 'x' ? x : y, skip = 3;
    else if (strncmp(msg, y->spec, ly) == 0 && msg[ly] == ':' && !(strncmp(msg, x->spec, lx) == 0 && lx >= ly))
        in = y, skip = ly + 1;
    else if (strncmp(msg, x->spec, lx) == 0 && msg[lx] == ':')
        in = x, skip = lx + 1;
    while (msg[skip] == ' ')
        skip++;
    char where[256];
    par_share_bytes(in->in, features_first, i0, i1, where, sizeof where);
    const char *note = st == SIMREP_E_NONFINITE ? " (rows counted from the share's first sample)" : "";
    return cli_error(st == SIMREP_E_INVALID ? EXIT_USAGE : EXIT_DATA,
                     "%s: rank %d: %s%s; this rank reads items %lld..%lld (samples from %lld), %s of %s", in->spec,
                     par_rank(), msg + skip, note, (long long)i0, (long long)i1, (long long)row0, where, in->spec);
}

/* par_tree_reduce callbacks for a DFT-CCA state (tmp receives the other's). */
typedef struct fold_dft {
    simrep_ctx *ctx;
    simrep_dftcca *d, *tmp;
} fold_dft;

static void save_dft(void *user, double *state)
{
    simrep_dftcca_save(((fold_dft *)user)->d, state);
}

static simrep_status merge_dft(void *user, const double *state)
{
    fold_dft *f = user;
    simrep_status st = simrep_dftcca_load(f->ctx, f->tmp, state);
    return st == SIMREP_OK ? simrep_dftcca_merge(f->ctx, f->d, f->tmp) : st;
}

/* DFT-CCA: a pass over the images of both inputs (their own spatial sizes). */
static int run_dftcca(simrep_ctx *ctx, const compare_args *a, input *x, input *y, simrep_dftcca_result *out)
{
    const simrep_input_dims *dx = &x->dims, *dy = &y->dims;
    if (dx->ndim != 4 || dy->ndim != 4)
        return cli_error(EXIT_DATA, "%s: dftcca compares conv feature maps (4-D); this input is %d-D",
                         dx->ndim != 4 ? x->spec : y->spec, dx->ndim != 4 ? dx->ndim : dy->ndim);
    if (dx->items != dy->items)
        return cli_error(EXIT_DATA, "%s: has %lld images but %s has %lld; image i of X and Y must come from the same input",
                         y->spec, (long long)dy->items, x->spec, (long long)dx->items);
    simrep_dftcca *d = NULL;
    simrep_status st = simrep_dftcca_new(ctx, dx->height, dx->width, dx->channels, dy->height, dy->width,
                                         dy->channels, &d);
    /* Under MPI: this rank's images, and what the merge tree needs,
     * allocated before the agreement that ends the reading phase. */
    int64_t first = 0, last = dx->items;
    fold_dft fold = {ctx, d, NULL};
    double *state = NULL;
    int64_t len = 0;
    if (par_size() > 1 && st == SIMREP_OK) {
        par_share(dx->items, &first, &last);
        st = simrep_dftcca_new(ctx, dx->height, dx->width, dx->channels, dy->height, dy->width, dy->channels,
                               &fold.tmp);
        len = simrep_dftcca_state_len(d);
        if (st == SIMREP_OK && !(state = malloc((size_t)len * sizeof *state)))
            st = SIMREP_E_NOMEM;
    }
    int rc = st == SIMREP_OK ? -1 : cli_library_error(ctx, st, a->x, a->y);
    int64_t per = dx->height * dx->width * dx->channels + dy->height * dy->width * dy->channels;
    int64_t block = (int64_t)(4 * 1024 * 1024) / per;
    block = block < 1 ? 1 : block > 4096 ? 4096 : block;
    par_hold(0);
    for (int64_t i0 = first; i0 < last && st == SIMREP_OK; i0 += block) {
        const int64_t count = last - i0 < block ? last - i0 : block;
        simrep_matrix vx, vy;
        st = simrep_input_read_maps(ctx, x->in, i0, count, &vx);
        if (st == SIMREP_OK)
            st = simrep_input_read_maps(ctx, y->in, i0, count, &vy);
        if (st == SIMREP_OK)
            st = simrep_dftcca_update(ctx, d, &vx, &vy);
        if (st != SIMREP_OK)
            rc = par_size() > 1 ? share_error(ctx, st, x, y, a->features_first, first, last, first)
                                : cli_library_error(ctx, st, a->x, a->y);
    }
    par_hold(1);
    rc = par_agree(rc);
    if (rc < 0 && par_size() > 1)
        rc = par_tree_reduce(state, len, save_dft, merge_dft, &fold);
    if (rc < 0 && par_rank() == 0) {
        st = simrep_dftcca_compute(ctx, d, &a->opt, out);
        if (st != SIMREP_OK)
            rc = cli_library_error(ctx, st, a->x, a->y);
    }
    free(state);
    simrep_dftcca_free(ctx, fold.tmp);
    simrep_dftcca_free(ctx, d);
    return rc;
}

int cmd_compare(int argc, char **argv)
{
    compare_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        cli_layout_free(&a.layout);
        return rc;
    }
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    if (!ctx) {
        cli_layout_free(&a.layout);
        return cli_error(EXIT_DATA, "out of memory");
    }
    input x, y;
    memset(&x, 0, sizeof x);
    memset(&y, 0, sizeof y);
    simrep_moments **m = NULL;
    simrep_result res[SIMREP_MEASURE_COUNT];
    simrep_result *steps = NULL;
    simrep_dftcca_result dft;
    simrep_stats *stats = NULL;
    simrep_stats_result sres[SIMREP_MEASURE_COUNT];
    simrep_stats_info sinfo;
    int have_stats = 0;
    memset(res, 0, sizeof res);
    memset(&dft, 0, sizeof dft);
    memset(sres, 0, sizeof sres);
    memset(&sinfo, 0, sizeof sinfo);
    for (int i = 0; i < a.nmeasures; i++)
        sres[i].measure = a.measures[i];
    a.layout.features_first = a.features_first;
    rc = open_input(ctx, &x, a.x, &a.layout);
    if (rc < 0)
        rc = open_input(ctx, &y, a.y, &a.layout);

    int need_rows = 0, want_dft = 0;
    simrep_measure linear[SIMREP_MEASURE_COUNT];
    int where[SIMREP_MEASURE_COUNT], nlin = 0;
    for (int i = 0; i < a.nmeasures; i++) {
        const simrep_measure_info *info = simrep_measure_get_info(a.measures[i]);
        if (info->family == SIMREP_FAMILY_MAPS)
            want_dft = 1;
        else if (info->family == SIMREP_FAMILY_ROWS)
            need_rows = 1;
        else {
            where[nlin] = i;
            linear[nlin++] = a.measures[i];
        }
        res[i].measure = a.measures[i];
    }
    const int moments_pass = nlin > 0 || need_rows;
    const int ranks = par_size(), me = par_rank();
    simrep_status st = SIMREP_OK;
    if (rc < 0 && moments_pass) {
        simrep_input *both[2] = {x.in, y.in};
        st = simrep_inputs_agree(ctx, both, 2);
        if (st != SIMREP_OK)
            rc = cli_library_error(ctx, st, a.x, a.y);
        dims_refresh(&x);
        dims_refresh(&y);
    }
    if (rc < 0 && moments_pass && x.n != y.n)
        rc = cli_error(EXIT_DATA, "%s: has %lld samples but %s has %lld; rows of X and Y must come from the same inputs%s",
                       a.y, (long long)y.n, a.x, (long long)x.n,
                       a.features_first ? "" : " (if your arrays are features x samples, add --features-first)");
    if (rc < 0 && moments_pass && x.n < 1)
        rc = cli_error(EXIT_DATA, "%s: has no samples", a.x);
    else if (rc < 0 && moments_pass && x.n == 1)
        rc = cli_error(EXIT_DATA, "%s: has 1 sample (and %s too): similarity needs at least 2 samples (rows) to "
                       "center the data%s", a.x, a.y,
                       a.features_first ? "" : " (if your arrays are features x samples, add --features-first)");
    if (rc < 0 && moments_pass) {
        /* The joint scatter and its covariance copy are (p+q)^2 doubles each
         * whatever n is: a small file with many features can ask for more
         * memory than the machine has.  Say so instead of swapping or failing
         * half-way. */
        const double views = x.dims.views > 0 ? (double)x.dims.views : 1.0;
        const double d = (double)(x.p + y.p), need = 2.0 * d * d * 8.0 * views;
        const double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
        if (have > 0 && need > have)
            rc = cli_error(EXIT_DATA, "%s and %s: %lld + %lld features need %.1f GiB for the joint scatter "
                           "((p+q)^2 doubles, twice), more than this machine's %.1f GiB; compare fewer features "
                           "(e.g. --conv-mode pool, or a subset of the units)",
                           a.x, a.y, (long long)x.p, (long long)y.p, need / 1073741824.0, have / 1073741824.0);
    }

    /* One set of moments (and rows) per view: T for --sequence per-step. */
    const int64_t nv = x.dims.views > 0 ? x.dims.views : 1;
    if (rc < 0 && moments_pass) {
        m = calloc((size_t)nv, sizeof *m);
        steps = calloc((size_t)(nv * a.nmeasures), sizeof *steps);
        if (!m || !steps)
            rc = cli_error(EXIT_DATA, "out of memory");
    }
    if (rc < 0 && moments_pass && need_rows) {
        size_t nx = (size_t)x.n * (size_t)x.p, ny = (size_t)y.n * (size_t)y.p;
        x.rows = calloc((size_t)nv, sizeof(double *));
        y.rows = calloc((size_t)nv, sizeof(double *));
        int ok = x.rows && y.rows;
        for (int64_t v = 0; v < nv && ok; v++) {
            x.rows[v] = malloc(nx * sizeof(double));
            y.rows[v] = malloc(ny * sizeof(double));
            ok = x.rows[v] && y.rows[v];
        }
        if (!ok)
            rc = cli_error(EXIT_DATA, "out of memory: measures of the rows need both inputs in memory as float64 (%.1f GiB)",
                           (double)(nx + ny) * (double)nv * 8 / 1073741824.0);
    }
    for (int64_t v = 0; rc < 0 && moments_pass && v < nv; v++) {
        st = simrep_moments_new(ctx, x.p, y.p, &m[v]);
        if (st != SIMREP_OK)
            rc = cli_library_error(ctx, st, a.x, a.y);
    }
    /* --bootstrap / --permutations: the resampling state, fed by the same
     * reads as the moments (in the order it asks for). */
    if (rc < 0 && moments_pass && cli_stats_requested(&a.stats)) {
        const int64_t rpi = x.dims.rows_per_item > 0 ? x.dims.rows_per_item : 1;
        const int64_t ur = a.stats.unit_rows ? a.stats.unit_rows : rpi;
        for (int i = 0; i < a.nmeasures; i++)
            if (simrep_measure_get_info(a.measures[i])->needs_rows && me == 0)
                cli_warning("%s is computed from the %s, not from moments: it gets no interval or null "
                            "(--bootstrap and --permutations resample the moments)",
                            simrep_measure_get_info(a.measures[i])->id,
                            simrep_measure_get_info(a.measures[i])->needs_maps ? "conv maps" : "rows");
        if (ranks > 1)
            rc = cli_error(EXIT_USAGE, "--bootstrap and --permutations do not run under MPI yet; run one process");
        else if (a.layout.mask && a.layout.sequence == SIMREP_SEQUENCE_FLATTEN && !a.stats.unit_rows)
            rc = cli_error(EXIT_USAGE, "--bootstrap and --permutations resample whole sequences, which --mask "
                           "makes of different lengths: not supported yet (use --sequence mean/first/last)");
        else if (ur % rpi != 0)
            rc = cli_error(EXIT_USAGE, "--unit-rows %lld must be a whole number of items of %lld rows (%s)",
                           (long long)ur, (long long)rpi,
                           x.dims.ndim == 4 ? "the positions of one image" : "the steps of one sequence");
        else if (a.stats.o.permutations > 0 &&
                 (simrep_input_info(x.in)->compressed || simrep_input_info(y.in)->compressed))
            rc = cli_error(EXIT_USAGE, "%s: is a deflated npz member; --permutations reads several parts of the "
                           "data side by side, which a deflated member can only do by inflating it again each "
                           "time: save it uncompressed (np.savez, or .npy) first",
                           simrep_input_info(x.in)->compressed ? a.x : a.y);
        else if (nlin > 0) {
            simrep_stats_options so = a.stats.o;
            so.unit_rows = ur;
            so.threads = a.threads;
            so.max_memory = a.max_memory;
            st = simrep_stats_new(ctx, x.p, y.p, x.n, &so, &stats);
            if (st != SIMREP_OK)
                rc = cli_error(st == SIMREP_E_INVALID ? EXIT_USAGE : EXIT_DATA, "%s%s", simrep_ctx_message(ctx),
                               st == SIMREP_E_INVALID && strstr(simrep_ctx_message(ctx), "memory allowed")
                                   ? " with --max-memory"
                                   : "");
        }
    }
    /* MPI: this rank's items, and the merge tree's buffers, allocated
     * before the agreement that ends the reading phase. */
    int64_t item0 = 0, item1 = x.dims.items, row_begin = 0, row_end = x.n;
    par_moments_fold fold = {ctx, NULL, NULL};
    double *state = NULL;
    const int64_t state_len = simrep_moments_state_size(x.p > 0 ? x.p : 1, y.p > 0 ? y.p : 1);
    if (ranks > 1 && rc < 0 && moments_pass) {
        const int64_t rpi = x.dims.rows_per_item > 0 ? x.dims.rows_per_item : 1;
        par_share(x.n / rpi, &item0, &item1);
        row_begin = item0 * rpi;
        row_end = item1 * rpi;
        st = simrep_moments_new(ctx, x.p, y.p, &fold.tmp);
        if (st != SIMREP_OK)
            rc = cli_library_error(ctx, st, a.x, a.y);
        else if (!(state = malloc((size_t)state_len * sizeof *state)))
            rc = cli_error(EXIT_DATA, "out of memory");
    }
    rc = par_agree(rc);
    if (rc < 0 && moments_pass) {
        /* About 4 Mi elements of both inputs per block (16 MiB of doubles
         * for 2-D inputs), in whole items; item_elements counts what a row
         * reads from the file (a pooled image is H*W*C elements, not C). */
        const int64_t rpi = x.dims.rows_per_item > 0 ? x.dims.rows_per_item : 1;
        int64_t per_row = (x.dims.item_elements + y.dims.item_elements + rpi - 1) / rpi;
        if (per_row < (x.p + y.p) * nv)
            per_row = (x.p + y.p) * nv;
        int64_t block = (int64_t)(4 * 1024 * 1024) / per_row;
        const int64_t lo = x.dims.ndim == 2 && y.dims.ndim == 2 ? 256 : 1;
        block = block < lo ? lo : block > 8192 ? 8192 : block;
        if (rpi > 1)
            block = (block / rpi > 1 ? block / rpi : 1) * rpi;
        int tty = me == 0 && isatty(2) && (double)x.n * (double)(x.p + y.p) * (double)nv > 5e7;
        int shown = 0;
        time_t start = time(NULL);
        simrep_matrix *vx = malloc((size_t)nv * sizeof *vx), *vy = malloc((size_t)nv * sizeof *vy);
        if (!vx || !vy)
            rc = cli_error(EXIT_DATA, "out of memory");
        par_hold(0);
        int64_t done = 0;
        for (int64_t next0 = row_begin; rc < 0;) {
            int64_t r0 = next0, rows = 0;
            if (stats) {
                if (!simrep_stats_next(stats, block, &r0, &rows))
                    break;
            } else {
                if (next0 >= row_end)
                    break;
                rows = row_end - next0 < block ? row_end - next0 : block;
                next0 += rows;
            }
            st = simrep_input_read(ctx, x.in, r0, rows, vx);
            if (st == SIMREP_OK)
                st = simrep_input_read(ctx, y.in, r0, rows, vy);
            for (int64_t v = 0; v < nv && st == SIMREP_OK; v++) {
                st = simrep_moments_update(ctx, m[v], &vx[v], &vy[v]);
                if (st == SIMREP_OK && need_rows) {
                    simrep_matrix_to_double(&vx[v], x.rows[v] + r0 * x.p, x.p);
                    simrep_matrix_to_double(&vy[v], y.rows[v] + r0 * y.p, y.p);
                }
            }
            if (st == SIMREP_OK && stats)
                st = simrep_stats_update(ctx, stats, &vx[0], &vy[0]);
            if (st != SIMREP_OK) {
                rc = ranks > 1 ? share_error(ctx, st, &x, &y, a.features_first, item0, item1, row_begin)
                               : cli_library_error(ctx, st, a.x, a.y);
                break;
            }
            done += rows;
            if (tty)
                progress(done, row_end - row_begin, start, &shown);
        }
        par_hold(1);
        free(vx);
        free(vy);
        if (shown)
            fputc('\n', stderr);
    }
    if (ranks > 1 && moments_pass) {
        /* Every rank reaches this agreement, whatever happened above. */
        rc = par_agree(rc);
        for (int64_t v = 0; v < nv && (rc < 0 || v > 0); v++) {
            fold.m = m[v];
            int merged = par_tree_reduce(state, state_len, par_moments_save, par_moments_merge, &fold);
            rc = rc < 0 ? merged : rc;
            if (need_rows) {
                const int64_t rpi = x.dims.rows_per_item > 0 ? x.dims.rows_per_item : 1;
                par_allgather_rows(x.rows[v], x.n, x.p, rpi);
                par_allgather_rows(y.rows[v], y.n, y.p, rpi);
            }
        }
        simrep_ctx_set_partition(ctx, me, ranks, par_allreduce_sum, NULL);
    }
    free(state);
    simrep_moments_free(ctx, fold.tmp);
    /* Rank 0 computes the linear measures; every rank takes its share of
     * the measures of the rows, so under MPI a failure of the former does not stop the
     * latter (the others would wait in its allreduce). */
    int stage_rc = -1;
    for (int64_t v = 0; rc < 0 && (stage_rc < 0 || ranks > 1) && moments_pass && v < nv; v++) {
        simrep_result *sr = steps + v * a.nmeasures;
        for (int i = 0; i < a.nmeasures; i++)
            sr[i].measure = a.measures[i];
        if (nlin > 0 && stage_rc < 0 && me == 0) {
            simrep_result lin[SIMREP_MEASURE_COUNT];
            /* With statistics the observed values are computed as every
             * resample is, on one BLAS thread, so they and the p-values do
             * not move with the thread count (LAPACK's last bits do). */
            const int blas = simrep_blas_threads();
            if (stats)
                simrep_set_blas_threads(1);
            st = simrep_compare_moments(ctx, m[v], &a.opt, linear, nlin, lin);
            simrep_set_blas_threads(blas);
            if (st != SIMREP_OK) {
                stage_rc = cli_library_error(ctx, st, a.x, a.y);
                if (nv > 1)
                    fprintf(stderr, "simrep: (at step t = %lld of --sequence per-step)\n", (long long)v);
                if (ranks == 1)
                    break;
            } else {
                for (int i = 0; i < nlin; i++)
                    sr[where[i]] = lin[i];
            }
        }
        if (need_rows) {
            simrep_matrix mx = simrep_matrix_c(x.rows[v], SIMREP_F64, x.n, x.p);
            simrep_matrix my = simrep_matrix_c(y.rows[v], SIMREP_F64, y.n, y.p);
            for (int i = 0; i < a.nmeasures && (stage_rc < 0 || ranks > 1); i++)
                if (simrep_measure_get_info(a.measures[i])->family == SIMREP_FAMILY_ROWS) {
                    st = simrep_compare(ctx, &mx, &my, &a.opt, &a.measures[i], 1, &sr[i]);
                    if (st != SIMREP_OK && stage_rc < 0)
                        stage_rc = cli_library_error(ctx, st, a.x, a.y);
                }
        }
    }
    if (stage_rc >= 0)
        rc = stage_rc;
    if (rc < 0 && stats) {
        simrep_stats_result lin[SIMREP_MEASURE_COUNT];
        cli_progress_attach(ctx);
        st = simrep_stats_compute(ctx, stats, m[0], &a.opt, linear, nlin, lin);
        cli_progress_end(ctx);
        if (st != SIMREP_OK) {
            rc = cli_library_error(ctx, st, a.x, a.y);
        } else {
            for (int i = 0; i < nlin; i++)
                sres[where[i]] = lin[i];
            simrep_stats_get_info(stats, &sinfo);
            have_stats = 1;
            cli_stats_warnings(sres, a.nmeasures, a.stats.o.interval == SIMREP_INTERVAL_BASIC);
        }
    }
    /* Rank 0 alone knows whether the measures failed: agree before dftcca's
     * collectives. */
    if (ranks > 1 && want_dft)
        rc = par_agree(rc);
    if (rc < 0 && moments_pass) {
        if (nv == 1) {
            memcpy(res, steps, (size_t)a.nmeasures * sizeof *res);
            memset(steps, 0, (size_t)a.nmeasures * sizeof *steps);
            /* The closed-form chance levels, resampling or not. */
            for (int i = 0; i < a.nmeasures && !have_stats; i++) {
                sres[i].chance = res[i].chance;
                sres[i].has_chance = res[i].has_chance;
            }
        } else {
            /* The curve's mean on top; kept counts are the fewest over the steps. */
            for (int i = 0; i < a.nmeasures; i++) {
                simrep_result *r = &res[i];
                r->kept_p = r->kept_q = INT64_MAX;
                for (int64_t v = 0; v < nv; v++) {
                    const simrep_result *s = &steps[v * a.nmeasures + i];
                    r->similarity += s->similarity / (double)nv;
                    r->distance += s->distance / (double)nv;
                    r->warnings |= s->warnings;
                    r->kept_p = s->kept_p < r->kept_p ? s->kept_p : r->kept_p;
                    r->kept_q = s->kept_q < r->kept_q ? s->kept_q : r->kept_q;
                    r->dims_p = s->dims_p, r->dims_q = s->dims_q;
                    r->ncoefs = s->ncoefs;
                }
            }
        }
    }
    if (rc < 0 && want_dft) {
        rc = run_dftcca(ctx, &a, &x, &y, &dft);
        for (int i = 0; i < a.nmeasures && rc < 0; i++)
            if (simrep_measure_get_info(a.measures[i])->family == SIMREP_FAMILY_MAPS) {
                res[i].similarity = dft.similarity;
                res[i].distance = dft.distance;
                res[i].warnings = dft.warnings;
            }
    }
    if (rc < 0) {
        if (!moments_pass) { /* dims for the report when only dftcca ran */
            x.n = x.dims.items;
            y.n = y.dims.items;
        }
        extra ex = {steps, nv > 1 ? nv : 0, want_dft ? &dft : NULL, sres, have_stats, &sinfo};
        if (me == 0) {
            print_results(&a, &x, &y, res, &ex);
            if (nv > 1 && a.format == FORMAT_TABLE)
                print_steps_table(&a, &ex);
        }
        rc = 0;
    }
    for (int i = 0; i < a.nmeasures; i++)
        simrep_result_clear(ctx, &res[i]);
    for (int64_t v = 0; steps && v < nv; v++)
        for (int i = 0; i < a.nmeasures; i++)
            simrep_result_clear(ctx, &steps[v * a.nmeasures + i]);
    free(steps);
    simrep_dftcca_result_clear(ctx, &dft);
    simrep_stats_free(ctx, stats);
    for (int64_t v = 0; m && v < nv; v++)
        simrep_moments_free(ctx, m[v]);
    free(m);
    simrep_input_free(ctx, x.in);
    simrep_input_free(ctx, y.in);
    for (int64_t v = 0; v < nv; v++) {
        if (x.rows)
            free(x.rows[v]);
        if (y.rows)
            free(y.rows[v]);
    }
    free(x.rows);
    free(y.rows);
    simrep_ctx_free(ctx);
    cli_layout_free(&a.layout);
    return rc;
}
