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
 * pooled data; procrustes_angular's distance is the mean of the angles);
 * CSV adds a column "step" and a row per step after each measure's row.
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
 * With --bootstrap/--permutations a rank reads its share of the units in
 * the order the library's plan gives (simrep_stats_set_share), the
 * resampling states are merged down the same tree (simrep_stats_merge
 * moves each rank's sums to one origin) and rank 0 runs the resamples; the
 * held rows are then summed across ranks (each rank's, zeros elsewhere).
 */
#include "cli.h"
#include "parallel.h"
#include "pass.h"
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
    "                           positions; a sequence under --sequence flatten or per-step, its valid\n"
    "                           tokens under --mask)\n"
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
    int npos = 0, options_end = 0;
    for (int i = 1; i < argc; i++) {
        char *arg = argv[i];
        if (!options_end && strcmp(arg, "--") == 0) {
            options_end = 1; /* every later word is an input, "-x.npy" too */
            continue;
        }
        if (options_end || arg[0] != '-' || strcmp(arg, "-") == 0) {
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
    if (npos != 2)
        return cli_error(EXIT_USAGE, "compare needs two inputs X and Y (see simrep compare --help)");
    a->x = pos[0];
    a->y = pos[1];
    cli_stats_check(&a->stats);
    return -1;
}

/* One input: its array read through the layout. */
typedef struct input {
    const char *spec;
    simrep_input *in;
    simrep_input_dims dims;
    int64_t n, p;
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

/* One input's JSON object: path, features, kept, and for arrays that are
 * not 2-D their shape and the layout that made them samples x features. */
static void json_input(const input *in, int64_t kept, const char *layout)
{
    fputs("{\"path\": ", stdout);
    json_string(stdout, in->spec);
    printf(", \"features\": %lld, \"kept\": %lld", (long long)in->p, (long long)kept);
    if (in->dims.ndim != 2) {
        const simrep_array_info *info = simrep_input_info(in->in);
        fputs(", \"shape\": [", stdout);
        for (int i = 0; i < info->ndim; i++)
            printf("%s%lld", i ? ", " : "", (long long)info->shape[i]);
        fputs("], \"layout\": ", stdout);
        json_string(stdout, layout);
    }
    fputc('}', stdout);
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
    const simrep_stats_result *steps_stats; /* per-step: nsteps x nmeasures, or NULL */
    int have_stats;
    const simrep_stats_info *sinfo;
    const cli_measure_error *errs; /* per measure: those undefined for these data (printed apart) */
} extra;

/* Whether measure i has a result to print. */
static int has_result(const extra *ex, int i)
{
    return !ex->errs || ex->errs[i].st == SIMREP_OK;
}

static void print_results(const compare_args *a, const input *x, const input *y, const simrep_result *res,
                          const extra *ex)
{
    simrep_result ok[SIMREP_MEASURE_COUNT]; /* the measures with a result, for the kept counts and warnings */
    int nok = 0;
    for (int i = 0; i < a->nmeasures; i++)
        if (has_result(ex, i)) {
            ok[nok] = res[i];
            if (a->features_first) /* features x samples already: the hint is for the other reading */
                ok[nok].warnings &= ~SIMREP_WARN_LAYOUT;
            nok++;
        }
    const simrep_result *kept = report_kept_result(ok, nok);
    char warn[12][REPORT_WARNING_MAX];
    int nw = report_warnings(ok, nok, ex->nsteps ? x->dims.items : x->n, x->spec, y->spec, x->p, y->p, warn, 11);
    if (ex->dft && (ex->dft->warnings & SIMREP_WARN_FEW_SAMPLES) && nw < 12)
        snprintf(warn[nw++], REPORT_WARNING_MAX, "dftcca: n = %lld images (kept channels at some frequencies) %s",
                 (long long)ex->dft->n, simrep_warning_text(SIMREP_WARN_FEW_SAMPLES));
    int64_t kept_x = kept ? kept->kept_p : x->p, kept_y = kept ? kept->kept_q : y->p;
    char lx[1024], ly[1024];
    layout_text(a, x, lx, sizeof lx);
    layout_text(a, y, ly, sizeof ly);

    if (a->format == FORMAT_JSON) {
        printf("{\"n\": %lld, \"x\": ", (long long)x->n);
        json_input(x, kept_x, lx);
        fputs(", \"y\": ", stdout);
        json_input(y, kept_y, ly);
        fputs(", \"measures\": {", stdout);
        for (int i = 0, first = 1; i < a->nmeasures; i++) {
            const simrep_result *r = &res[i];
            if (!has_result(ex, i))
                continue;
            printf("%s\"%s\": {\"similarity\": ", first ? "" : ", ", simrep_measure_get_info(r->measure)->id);
            first = 0;
            json_number(stdout, r->similarity);
            fputs(", \"distance\": ", stdout);
            json_number(stdout, r->distance);
            report_json_fields(stdout, r, &a->opt, a->coefs);
            const int maps = simrep_measure_get_info(r->measure)->family == SIMREP_FAMILY_MAPS;
            if (maps && ex->dft)
                print_dft_json(a, ex->dft);
            if (ex->stats)
                cli_stats_json_measure(&ex->stats[i], ex->have_stats);
            if (ex->nsteps && !maps) {
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
                if (ex->steps_stats)
                    cli_stats_json_steps(ex->steps_stats + i, ex->nsteps, a->nmeasures, ex->have_stats);
            }
            fputc('}', stdout);
        }
        fputc('}', stdout);
        if (nok < a->nmeasures) { /* keys only added: "errors" when some measure is undefined here */
            fputs(", \"errors\": {", stdout);
            for (int i = 0, first = 1; i < a->nmeasures; i++)
                if (!has_result(ex, i)) {
                    printf("%s\"%s\": ", first ? "" : ", ", simrep_measure_get_info(res[i].measure)->id);
                    json_string(stdout, ex->errs[i].msg);
                    first = 0;
                }
            fputc('}', stdout);
        }
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
        /* --sequence per-step: a last column "step", empty on each measure's
         * row as before (the curve's mean), then a row per step t (0-based,
         * JSON's list index) with that step's values and statistics. */
        printf("measure,similarity,distance%s%s\n", ex->have_stats ? cli_stats_csv_header() : "",
               ex->nsteps ? ",step" : "");
        for (int i = 0; i < a->nmeasures; i++) {
            if (!has_result(ex, i))
                continue;
            const char *id = simrep_measure_get_info(res[i].measure)->id;
            printf("%s,%.17g,%.17g", id, res[i].similarity, res[i].distance);
            if (ex->have_stats)
                cli_stats_csv_row(&ex->stats[i]);
            fputs(ex->nsteps ? ",\n" : "\n", stdout);
            if (simrep_measure_get_info(res[i].measure)->family == SIMREP_FAMILY_MAPS)
                continue; /* dftcca: no curve (JSON has no per_step either) */
            for (int64_t t = 0; t < ex->nsteps; t++) {
                const simrep_result *rt = &ex->steps[t * a->nmeasures + i];
                printf("%s,%.17g,%.17g", id, rt->similarity, rt->distance);
                if (ex->have_stats) {
                    const simrep_stats_result none = {0}; /* empty cells */
                    cli_stats_csv_row(ex->steps_stats ? &ex->steps_stats[t * a->nmeasures + i] : &none);
                }
                printf(",%lld\n", (long long)t);
            }
        }
        return;
    }
    if (ex->nsteps)
        printf("n = %lld samples at each of %lld steps\n", (long long)x->dims.items, (long long)ex->nsteps);
    else
        printf("n = %lld samples\n", (long long)x->n);
    printf("x: ");
    cli_text(stdout, x->spec);
    printf("  (%lld features, %lld kept", (long long)x->p, (long long)kept_x);
    printf(x->dims.ndim != 2 ? "; %s)\n" : ")\n", lx);
    printf("y: ");
    cli_text(stdout, y->spec);
    printf("  (%lld features, %lld kept", (long long)y->p, (long long)kept_y);
    printf(y->dims.ndim != 2 ? "; %s)\n\n" : ")\n\n", ly);
    printf("%-20s %12s %12s  %s\n", "measure", "similarity", "distance", "notes");
    for (int i = 0; i < a->nmeasures; i++) {
        const simrep_result *r = &res[i];
        if (!has_result(ex, i)) {
            printf("%-20s %12s %12s  %s\n", simrep_measure_get_info(r->measure)->id, "-", "-",
                   "undefined for these data (see the error)");
            continue;
        }
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
            if (!has_result(ex, i) || !r->coefs || report_coefs_shown_before(res, i))
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
        if (simrep_measure_get_info(ex->steps[i].measure)->family == SIMREP_FAMILY_MAPS || !has_result(ex, i))
            continue;
        printf("\n%s similarity per step:", simrep_measure_get_info(ex->steps[i].measure)->id);
        for (int64_t t = 0; t < ex->nsteps; t++)
            printf("%s%.6f", t % 8 ? " " : "\n  ", ex->steps[t * a->nmeasures + i].similarity);
        fputc('\n', stdout);
        if (ex->have_stats && ex->steps_stats)
            cli_stats_table_steps(&a->stats, ex->steps_stats + i, ex->nsteps, a->nmeasures);
    }
}

/* ----------------------------------------------------------------- MPI */

/* A reading error of this rank's share (items [i0, i1)): the file, the
 * rank and the bytes of the file that share is, then the library's message. */
static int share_error(simrep_ctx *ctx, simrep_status st, int which, const input *x, const input *y,
                       int features_first, int64_t i0, int64_t i1, int64_t row0, int64_t block0)
{
    /* Which input failed: the reader's (which >= 0) or the context's
     * (simrep_ctx_error), and the library's detail without its name. */
    simrep_error_info e;
    simrep_ctx_error(ctx, &e);
    if (which < 0)
        which = e.input == 1 ? 1 : 0;
    const input *in = which ? y : x;
    const char *detail = e.detail[0] ? e.detail : simrep_strerror(st);
    char where[256];
    if (block0 >= 0) /* statistics: the rank's share of the units, read in their order; rows are absolute */
        return cli_error(st == SIMREP_E_INVALID ? EXIT_USAGE : EXIT_DATA,
                         "%s: rank %d: %s; this rank reads its share of the units for the statistics (the block "
                         "from row %lld)",
                         in->spec, par_rank(), detail, (long long)block0);
    par_share_bytes(in->in, features_first, i0, i1, where, sizeof where);
    const char *note = st == SIMREP_E_NONFINITE ? " (rows counted from the share's first sample)" : "";
    return cli_error(st == SIMREP_E_INVALID ? EXIT_USAGE : EXIT_DATA,
                     "%s: rank %d: %s%s; this rank reads items %lld..%lld (samples from %lld), %s of %s", in->spec,
                     par_rank(), detail, note, (long long)i0, (long long)i1, (long long)row0, where, in->spec);
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
            rc = par_size() > 1 ? share_error(ctx, st, -1, x, y, a->features_first, first, last, first, -1)
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

/*
 * A compare run: what its stages share.  cmd_compare calls them in order:
 * open (inputs, shapes, memory), prepare (moments, held rows, resampling
 * state, this rank's share under MPI), read (one pass, pass.h's reader),
 * merge (MPI), measures (the pair's measures per view, pass.h's compute),
 * statistics, steps (per-step means), maps (DFT-CCA's own pass), report.
 */
typedef struct compare_run {
    compare_args a;
    simrep_ctx *ctx;
    input x, y;
    cli_measures_split ms;
    int moments_pass;             /* a moments or rows measure is asked for */
    int64_t nv;                   /* views: T for --sequence per-step, else 1 */
    simrep_moments **m;           /* nv */
    cli_rows rx, ry;              /* with measures of the rows */
    simrep_result res[SIMREP_MEASURE_COUNT];
    simrep_result *steps;         /* nv x nmeasures */
    simrep_dftcca_result dft;
    simrep_stats **stats;         /* nv resampling states (one per step of --sequence per-step), or NULL */
    double *stats_state;          /* MPI: the merge tree's buffer */
    int64_t stats_len, merging;   /* its length; the view being merged */
    simrep_stats_result sres[SIMREP_MEASURE_COUNT]; /* per measure (per-step: the curve's mean) */
    simrep_stats_result *sres_steps; /* per-step: nv x nmeasures */
    simrep_stats_info sinfo;
    int have_stats;
    int ranks, me;
    int64_t item0, item1, row_begin, row_end;
    par_moments_fold fold;
    double *state;
    int64_t state_len;
    int tty, shown;               /* the reading's progress line */
    time_t start;
    cli_measure_error errs[SIMREP_MEASURE_COUNT]; /* measures undefined for these data */
    int nerrs;
} compare_run;

/* Keep the failures of one view's measures (the first per measure). */
static void note_errors(compare_run *c, const cli_measure_error *ev, int64_t v)
{
    for (int i = 0; i < c->a.nmeasures; i++)
        if (ev[i].st != SIMREP_OK && c->errs[i].st == SIMREP_OK) {
            c->errs[i] = ev[i];
            if (c->nv > 1) {
                cli_measure_error *e = &c->errs[i];
                snprintf(e->msg + strlen(e->msg), sizeof e->msg - strlen(e->msg),
                         " (at step t = %lld of --sequence per-step)", (long long)v);
                snprintf(e->detail + strlen(e->detail), sizeof e->detail - strlen(e->detail),
                         " (at step t = %lld of --sequence per-step)", (long long)v);
            }
            c->nerrs++;
        }
}

/* Open both inputs and check that their rows pair up and fit in memory. */
static int compare_open(compare_run *c)
{
    const compare_args *a = &c->a;
    input *x = &c->x, *y = &c->y;
    int rc = open_input(c->ctx, x, a->x, &a->layout);
    if (rc < 0)
        rc = open_input(c->ctx, y, a->y, &a->layout);
    if (rc >= 0 || !c->moments_pass)
        return rc;
    if (x->dims.ndim == 2 && y->dims.ndim == 2 && x->n != y->n && x->p == y->p)
        /* Read the other way round they would pair: say which way. */
        return cli_error(EXIT_DATA, "%s: has %lld samples but %s has %lld; rows of X and Y must come from the same "
                         "inputs (read as %s they would pair: %s --features-first if the arrays are %s)", a->y,
                         (long long)y->n, a->x, (long long)x->n,
                         a->features_first ? "samples x features" : "features x samples",
                         a->features_first ? "leave out" : "add",
                         a->features_first ? "samples x features" : "features x samples");
    simrep_input *both[2] = {x->in, y->in};
    simrep_status st = simrep_inputs_agree(c->ctx, both, 2);
    if (st != SIMREP_OK)
        rc = cli_library_error(c->ctx, st, a->x, a->y);
    dims_refresh(x);
    dims_refresh(y);
    if (rc >= 0)
        return rc;
    if (x->n != y->n)
        return cli_error(EXIT_DATA, "%s: has %lld samples but %s has %lld; rows of X and Y must come from the same "
                         "inputs", a->y, (long long)y->n, a->x, (long long)x->n);
    if (x->n < 1)
        return cli_error(EXIT_DATA, "%s: has no samples", a->x);
    if (x->n == 1)
        return cli_error(EXIT_DATA, "%s: has 1 sample (and %s too): similarity needs at least 2 samples (rows) to "
                         "center the data%s", a->x, a->y,
                         a->features_first ? "" : " (if your arrays are features x samples, add --features-first)");
    /* The joint scatter and its covariance copy are (p+q)^2 doubles each
     * whatever n is: a small file with many features can ask for more
     * memory than the machine has.  Say so instead of swapping or failing
     * half-way. */
    const double views = x->dims.views > 0 ? (double)x->dims.views : 1.0;
    const double d = (double)(x->p + y->p), need = 2.0 * d * d * 8.0 * views;
    char what[128], needs[32], haves[32];
    const double have = cli_memory_limit(what, sizeof what);
    if (have > 0 && need > have) {
        cli_size_text(need, needs, sizeof needs);
        cli_size_text(have, haves, sizeof haves);
        return cli_error(EXIT_DATA, "%s and %s: %lld + %lld features need %s for the joint scatter "
                         "((p+q)^2 doubles, twice), more than %s, %s; compare fewer features "
                         "(e.g. --conv-mode pool, or a subset of the units)",
                         a->x, a->y, (long long)x->p, (long long)y->p, needs, what, haves);
    }
    return -1;
}

/* The resampling options of the run: units (a layout's item, --unit-rows,
 * or with --mask and --sequence flatten a sequence's valid tokens, whose
 * offsets *starts receives: free it after use), threads, memory. */
static int compare_stats_options(const compare_run *c, simrep_stats_options *so, int64_t **starts)
{
    const compare_args *a = &c->a;
    const input *x = &c->x;
    const int64_t rpi = x->dims.rows_per_item > 0 ? x->dims.rows_per_item : 1;
    *so = a->stats.o;
    so->unit_rows = a->stats.unit_rows ? a->stats.unit_rows : rpi;
    so->threads = a->threads;
    /* --sequence per-step: a state per step, sharing the budget. */
    so->max_memory = a->max_memory / (double)c->nv;
    /* --mask with --sequence flatten: a unit is a sequence's valid tokens,
     * so units differ in rows; sequences without tokens have no rows and
     * are no unit. */
    *starts = NULL;
    if (a->layout.mask && a->layout.sequence == SIMREP_SEQUENCE_FLATTEN && !a->stats.unit_rows) {
        if (!(*starts = malloc((size_t)(x->dims.items + 1) * sizeof **starts)))
            return -1;
        int64_t u = 0;
        (*starts)[0] = 0;
        for (int64_t i = 0; i < x->dims.items; i++) {
            const int64_t end = simrep_input_item_row(x->in, i + 1);
            if (end > (*starts)[u])
                (*starts)[++u] = end;
        }
        so->unit_starts = *starts;
        so->units = u;
    }
    return 0;
}

/* --bootstrap / --permutations: the resampling state, fed by the same
 * reads as the moments (in the order it asks for). */
static int compare_stats_setup(compare_run *c)
{
    const compare_args *a = &c->a;
    const input *x = &c->x, *y = &c->y;
    const int64_t rpi = x->dims.rows_per_item > 0 ? x->dims.rows_per_item : 1;
    const int64_t ur = a->stats.unit_rows ? a->stats.unit_rows : rpi;
    /* What each measure gets is the registry's to say (info.statistics);
     * the rows measures' statistics need one view (under MPI rank 0 runs
     * them on the gathered rows, as one process). */
    const int rows_off = c->nv > 1;
    for (int i = 0; i < a->nmeasures && c->me == 0; i++) {
        const simrep_measure_info *in = simrep_measure_get_info(a->measures[i]);
        const unsigned has = in->family == SIMREP_FAMILY_ROWS && rows_off ? 0 : in->statistics;
        const int no_boot = a->stats.o.bootstrap > 0 && !(has & SIMREP_STATS_BOOTSTRAP);
        const int no_perm = a->stats.o.permutations > 0 && !(has & SIMREP_STATS_PERMUTATIONS);
        if (no_boot || no_perm)
            cli_warning("%s gets no %s%s%s: %s (docs/statistics.md)", in->id, no_boot ? "bootstrap interval" : "",
                        no_boot && no_perm ? " and no " : "", no_perm ? "permutation null" : "",
                        in->family == SIMREP_FAMILY_MAPS ? "it is computed from the conv maps, not from moments"
                        : in->family != SIMREP_FAMILY_ROWS ? "not resampled"
                        : c->nv > 1 ? "the rows measures are not resampled with --sequence per-step"
                                    : "the library has no resampling of it");
    }
    if (ur % rpi != 0)
        return cli_error(EXIT_USAGE, "--unit-rows %lld must be a whole number of items of %lld rows (%s)",
                         (long long)ur, (long long)rpi,
                         x->dims.ndim == 4 ? "the positions of one image" : "the steps of one sequence");
    /* --permutations reads the S segments side by side, a round of blocks
     * at a time: a deflated member inflates again from its start for each
     * segment of each round.  Up to about 4 rounds (16 Mi values of data)
     * that is a few passes; beyond, refused. */
    if (a->stats.o.permutations > 0 && (simrep_input_info(x->in)->compressed || simrep_input_info(y->in)->compressed) &&
        (double)x->n * (double)(x->p + y->p) > 16.0 * 1024 * 1024)
        return cli_error(EXIT_USAGE, "%s: is a deflated npz member; --permutations reads several parts of the "
                         "data side by side, which a deflated member can only do by inflating it again each "
                         "time (fine up to 16 Mi values, these are %.0f Mi): save it uncompressed (np.savez, "
                         "or .npy) first",
                         simrep_input_info(x->in)->compressed ? a->x : a->y,
                         (double)x->n * (double)(x->p + y->p) / 1048576.0);
    if (c->ms.nmoments == 0)
        return -1;
    simrep_stats_options so;
    int64_t *starts = NULL;
    if (compare_stats_options(c, &so, &starts) != 0)
        return cli_error(EXIT_DATA, "out of memory");
    c->stats = calloc((size_t)c->nv, sizeof *c->stats);
    simrep_status st = c->stats ? SIMREP_OK : SIMREP_E_NOMEM;
    for (int64_t v = 0; v < c->nv && st == SIMREP_OK; v++)
        st = simrep_stats_new(c->ctx, x->p, y->p, x->n, &so, &c->stats[v]);
    free(starts);
    /* The option at fault is the library's to say (simrep_error_info.option). */
    simrep_error_info e;
    simrep_ctx_error(c->ctx, &e);
    if (st == SIMREP_E_INVALID && strcmp(e.option, "unit_starts") == 0)
        return cli_error(EXIT_USAGE, "--%s; --mask makes sequences of different lengths",
                         simrep_ctx_message(c->ctx));
    if (st != SIMREP_OK)
        return cli_error(st == SIMREP_E_INVALID ? EXIT_USAGE : EXIT_DATA, "%s%s", simrep_ctx_message(c->ctx),
                         st == SIMREP_E_INVALID && strcmp(e.option, "max_memory") == 0
                             ? (c->nv > 1 ? " with --max-memory (shared by the steps of --sequence per-step)"
                                          : " with --max-memory")
                             : "");
    /* MPI: this rank reads its share of the units (with permutations the
     * same slice of every segment) and the states are merged to rank 0,
     * exactly (the library moves each rank's sums to one origin). */
    for (int64_t v = 0; v < c->nv && c->ranks > 1 && st == SIMREP_OK; v++)
        st = simrep_stats_set_share(c->ctx, c->stats[v], c->me, c->ranks);
    if (c->ranks > 1 && st == SIMREP_OK) {
        c->stats_len = simrep_stats_state_len(c->stats[0]);
        if (!(c->stats_state = malloc((size_t)c->stats_len * sizeof *c->stats_state)))
            st = SIMREP_E_NOMEM;
    }
    if (st != SIMREP_OK)
        return cli_library_error(c->ctx, st, a->x, a->y);
    return -1;
}

/* What the pass keeps: one Moments (and rows) per view, the resampling
 * state, and under MPI this rank's items and the merge tree's buffers,
 * all made before the agreement that ends the opening phase. */
static int compare_prepare(compare_run *c)
{
    const compare_args *a = &c->a;
    const input *x = &c->x, *y = &c->y;
    c->nv = x->dims.views > 0 ? x->dims.views : 1;
    c->m = calloc((size_t)c->nv, sizeof *c->m);
    c->steps = calloc((size_t)(c->nv * a->nmeasures), sizeof *c->steps);
    if (!c->m || !c->steps)
        return cli_error(EXIT_DATA, "out of memory");
    if (c->ms.nrows > 0 && (cli_rows_alloc(&c->rx, x->n, x->p, c->nv) != 0 ||
                            cli_rows_alloc(&c->ry, y->n, y->p, c->nv) != 0)) {
        char size[32];
        cli_size_text((double)(x->n * x->p + y->n * y->p) * (double)c->nv * 8, size, sizeof size);
        return cli_error(EXIT_DATA, "out of memory: measures of the rows need both inputs in memory as float64 "
                         "(%s)", size);
    }
    for (int64_t v = 0; v < c->nv; v++) {
        simrep_status st = simrep_moments_new(c->ctx, x->p, y->p, &c->m[v]);
        if (st == SIMREP_OK)
            st = simrep_moments_set_precision(c->ctx, c->m[v], a->opt.precision);
        /* Layouts read as float64: the files' own rounding (the CCA family's noise floor). */
        if (st == SIMREP_OK)
            st = simrep_moments_note_dtype(c->ctx, c->m[v], 0, simrep_input_dtype(x->in));
        if (st == SIMREP_OK)
            st = simrep_moments_note_dtype(c->ctx, c->m[v], 1, simrep_input_dtype(y->in));
        if (st != SIMREP_OK)
            return cli_library_error(c->ctx, st, a->x, a->y);
    }
    int rc = cli_stats_requested(&a->stats) ? compare_stats_setup(c) : -1;
    c->item1 = x->dims.items;
    c->row_end = x->n;
    c->fold.ctx = c->ctx;
    c->state_len = simrep_moments_state_size(x->p > 0 ? x->p : 1, y->p > 0 ? y->p : 1);
    if (rc >= 0 || c->ranks == 1)
        return rc;
    const int64_t rpi = x->dims.rows_per_item > 0 ? x->dims.rows_per_item : 1;
    par_share(x->n / rpi, &c->item0, &c->item1);
    c->row_begin = c->item0 * rpi;
    c->row_end = c->item1 * rpi;
    simrep_status st = simrep_moments_new(c->ctx, x->p, y->p, &c->fold.tmp);
    if (st != SIMREP_OK)
        return cli_library_error(c->ctx, st, a->x, a->y);
    if (!(c->state = malloc((size_t)c->state_len * sizeof *c->state)))
        return cli_error(EXIT_DATA, "out of memory");
    return -1;
}

static int compare_next(void *user, int64_t block, int64_t *r0, int64_t *rows)
{
    compare_run *c = user;
    /* Every step's state has the same plan: the same rows for each. */
    for (int64_t v = 1; v < c->nv; v++) {
        int64_t v0, vn;
        simrep_stats_next(c->stats[v], block, &v0, &vn);
    }
    return simrep_stats_next(c->stats[0], block, r0, rows);
}

static simrep_status compare_consume(void *user, simrep_ctx *ctx, int64_t r0, int64_t rows,
                                     simrep_matrix *const *views)
{
    compare_run *c = user;
    (void)rows;
    simrep_status st = SIMREP_OK;
    /* The statistics first: their messages name rows of the whole input
     * (the moments' count the rows folded so far, here in another order). */
    for (int64_t v = 0; c->stats && v < c->nv && st == SIMREP_OK; v++)
        st = simrep_stats_update(ctx, c->stats[v], &views[0][v], &views[1][v]);
    /* A bootstrap's buckets sum to the moments (compare_read): one DSYRK
     * pass over the rows, not two. */
    for (int64_t v = 0; v < c->nv && st == SIMREP_OK && (!c->stats || c->a.stats.o.bootstrap == 0); v++)
        st = simrep_moments_update(ctx, c->m[v], &views[0][v], &views[1][v]);
    if (st == SIMREP_OK && c->ms.nrows > 0) {
        cli_rows_put(&c->rx, r0, views[0]);
        cli_rows_put(&c->ry, r0, views[1]);
    }
    return st;
}

static void compare_progress(void *user, int64_t done, int64_t total)
{
    compare_run *c = user;
    if (c->tty)
        progress(done, total, c->start, &c->shown);
}

/* The pass over both inputs (this rank's share under MPI). */
static int compare_read(compare_run *c)
{
    const input *x = &c->x, *y = &c->y;
    simrep_input *both[2] = {x->in, y->in};
    cli_reader rd = {both, 2, c->row_begin, c->row_end, cli_block_rows(both, 2), c->stats ? compare_next : NULL,
                     compare_consume, compare_progress, c};
    c->tty = c->me == 0 && isatty(2) && (double)x->n * (double)(x->p + y->p) * (double)c->nv > 5e7;
    c->start = time(NULL);
    cli_read_failure f;
    simrep_status st = cli_read(c->ctx, &rd, &f);
    if (c->shown)
        fputc('\n', stderr);
    for (int64_t v = 0; st == SIMREP_OK && c->stats && c->a.stats.o.bootstrap > 0 && c->ranks == 1 && v < c->nv; v++)
        if ((st = simrep_stats_moments(c->ctx, c->stats[v], c->m[v])) != SIMREP_OK)
            return cli_library_error(c->ctx, st, c->a.x, c->a.y);
    for (int k = 0; k < 2 && st == SIMREP_OK; k++) /* rewritten in place while read? */
        if (simrep_input_check_unchanged(c->ctx, both[k]) != SIMREP_OK)
            return cli_error(EXIT_DATA, "%s", simrep_ctx_message(c->ctx));
    if (st == SIMREP_OK)
        return -1;
    if (f.short_read)
        return cli_error(EXIT_DATA, "%s: fewer samples than its header says", f.input ? c->a.y : c->a.x);
    return c->ranks > 1 ? share_error(c->ctx, st, f.input, x, y, c->a.features_first, c->item0, c->item1,
                                      c->row_begin, c->stats ? f.r0 : -1)
                        : cli_library_error(c->ctx, st, c->a.x, c->a.y);
}

/* MPI: every rank's moments down the merge tree to rank 0, the held rows
 * to every rank, and the rows measures' tile passes shared among ranks. */
static void stats_save(void *user, double *state)
{
    compare_run *c = user;
    simrep_stats_save(c->stats[c->merging], state);
}

static simrep_status stats_merge(void *user, const double *state)
{
    compare_run *c = user;
    return simrep_stats_merge(c->ctx, c->stats[c->merging], state);
}

static int compare_merge(compare_run *c, int rc)
{
    const int agreed = rc;
    for (int64_t v = 0; v < c->nv && (rc < 0 || v > 0); v++) {
        c->fold.m = c->m[v];
        int merged = par_tree_reduce(c->state, c->state_len, par_moments_save, par_moments_merge, &c->fold);
        rc = rc < 0 ? merged : rc;
    }
    if (agreed < 0 && c->stats) {
        /* The resampling states (their sums are the moments too, with a
         * bootstrap: rank 0 takes them from the merged buckets, as one
         * process does). */
        for (c->merging = 0; c->merging < c->nv; c->merging++) {
            int merged = par_tree_reduce(c->stats_state, c->stats_len, stats_save, stats_merge, c);
            rc = rc < 0 ? merged : rc;
        }
        simrep_status st = SIMREP_OK;
        for (int64_t v = 0; rc < 0 && c->me == 0 && c->a.stats.o.bootstrap > 0 && v < c->nv; v++)
            if ((st = simrep_stats_moments(c->ctx, c->stats[v], c->m[v])) != SIMREP_OK)
                rc = cli_library_error(c->ctx, st, c->a.x, c->a.y);
    }
    if (agreed < 0 && c->ms.nrows > 0) { /* every rank or none gathers */
        const int64_t rpi = c->x.dims.rows_per_item > 0 ? c->x.dims.rows_per_item : 1;
        if (c->stats) { /* rows read in the statistics' order: each rank's, zeros elsewhere */
            cli_rows_allreduce(&c->rx);
            cli_rows_allreduce(&c->ry);
        } else {
            cli_rows_allgather(&c->rx, rpi);
            cli_rows_allgather(&c->ry, rpi);
        }
    }
    simrep_ctx_set_partition(c->ctx, c->me, c->ranks, par_allreduce_sum, NULL);
    return rc;
}

/* The pair's measures at each view: rank 0 the moments measures, every
 * rank its share of the measures of the rows (so under MPI a failure of
 * the former does not stop the latter: the others would wait in its
 * allreduce). */
static int compare_measures(compare_run *c)
{
    const compare_args *a = &c->a;
    int stage_rc = -1;
    if (c->ms.nrows > 0) /* hours at n = 200,000: said before they start */
        cli_rows_announce(&c->ms, c->x.n, (double)(c->x.p + c->y.p), (double)c->nv, a->threads * c->ranks);
    for (int64_t v = 0; (stage_rc < 0 || c->ranks > 1) && v < c->nv; v++) {
        simrep_result *sr = c->steps + v * a->nmeasures;
        cli_measure_error ev[SIMREP_MEASURE_COUNT];
        memset(ev, 0, sizeof ev);
        for (int i = 0; i < a->nmeasures; i++)
            sr[i].measure = a->measures[i];
        if (c->ms.nmoments > 0 && stage_rc < 0 && c->me == 0) {
            /* With statistics the observed values are computed as every
             * resample is, on one BLAS thread, so they and the p-values do
             * not move with the thread count (LAPACK's last bits do). */
            const int blas = simrep_blas_threads();
            if (c->stats)
                simrep_set_blas_threads(1);
            simrep_status st = cli_moments_measures(c->ctx, &c->ms, c->m[v], &a->opt, sr, ev);
            simrep_set_blas_threads(blas);
            if (st != SIMREP_OK) {
                stage_rc = cli_library_error(c->ctx, st, a->x, a->y);
                if (c->nv > 1)
                    fprintf(stderr, "simrep: (at step t = %lld of --sequence per-step)\n", (long long)v);
                if (c->ranks == 1)
                    break;
            }
        }
        if (c->ms.nrows > 0) {
            const simrep_matrix mx = cli_rows_view(&c->rx, v), my = cli_rows_view(&c->ry, v);
            /* Their O(n^2) passes draw a progress line on a terminal. */
            if (c->me == 0)
                cli_progress_attach(c->ctx);
            simrep_status st = cli_pair_rows(c->ctx, &c->ms, &mx, &my, &a->opt, sr, ev);
            if (c->me == 0)
                cli_progress_end(c->ctx);
            if (st != SIMREP_OK && stage_rc < 0)
                stage_rc = cli_library_error(c->ctx, st, a->x, a->y);
        }
        note_errors(c, ev, v);
    }
    return stage_rc;
}

/* --bootstrap / --permutations: the resamples of the moments measures. */
static int compare_statistics(compare_run *c)
{
    const int nm = c->ms.nmoments, all = c->a.nmeasures;
    simrep_stats_result mean[SIMREP_MEASURE_COUNT];
    simrep_stats_result *part = malloc((size_t)(c->nv * nm) * sizeof *part);
    if (!part || (c->nv > 1 && !c->sres_steps && !(c->sres_steps = calloc((size_t)(c->nv * all), sizeof *part)))) {
        free(part);
        return cli_error(EXIT_DATA, "out of memory");
    }
    cli_stats_tune_malloc();
    cli_progress_attach(c->ctx);
    simrep_status st = simrep_stats_compute_steps(c->ctx, c->stats, (const simrep_moments *const *)c->m, c->nv,
                                                  &c->a.opt, c->ms.moments, nm, part, c->nv > 1 ? mean : NULL);
    cli_progress_end(c->ctx);
    if (st != SIMREP_OK) {
        free(part);
        return cli_library_error(c->ctx, st, c->a.x, c->a.y);
    }
    for (int i = 0; i < nm; i++) {
        c->sres[c->ms.moments_at[i]] = c->nv > 1 ? mean[i] : part[i];
        for (int64_t v = 0; v < c->nv && c->nv > 1; v++)
            c->sres_steps[v * all + c->ms.moments_at[i]] = part[v * nm + i];
    }
    free(part);
    simrep_stats_get_info(c->stats[0], &c->sinfo);
    c->have_stats = 1;
    cli_stats_warnings(c->sres, c->a.nmeasures, c->a.stats.o.interval == SIMREP_INTERVAL_BASIC);
    return -1;
}

/* --bootstrap / --permutations of the rows measures (simrep_stats_rows):
 * each resample and null is one more evaluation, so the estimated time is
 * said first when long; progress on a terminal; Ctrl-C stops it. */
static int compare_rows_statistics(compare_run *c)
{
    const compare_args *a = &c->a;
    const cli_measures_split *ms = &c->ms;
    int boot[SIMREP_MEASURE_COUNT];
    double times = 0;
    for (int k = 0; k < ms->nrows; k++) {
        boot[k] = a->stats.o.bootstrap > 0 && (simrep_measure_get_info(ms->rows[k])->statistics & SIMREP_STATS_BOOTSTRAP);
        times = boot[k] ? 0.4 * (double)a->stats.o.bootstrap : times; /* distinct units: ~63% of n, 40% of the pairs */
    }
    const double pq = (double)(c->x.p + c->y.p);
    const double secs = cli_rows_seconds(ms, boot, c->x.n, pq, times, a->threads) +
                        cli_rows_seconds(ms, NULL, c->x.n, pq, (double)a->stats.o.permutations + 1, a->threads);
    if (secs > 10) {
        char t[32];
        cli_duration_text(secs, t, sizeof t);
        fprintf(stderr, "simrep: note: the bootstrap and permutations of the rows measures evaluate each of them "
                "once per resample and null, O(n^2) each: about %s for n = %lld (estimated, %d thread%s)\n", t,
                (long long)c->x.n, a->threads, a->threads == 1 ? "" : "s");
    }
    simrep_stats_options so;
    int64_t *starts = NULL;
    if (compare_stats_options(c, &so, &starts) != 0)
        return cli_error(EXIT_DATA, "out of memory");
    simrep_stats_result res[SIMREP_MEASURE_COUNT];
    simrep_stats_info info;
    const simrep_matrix mx = cli_rows_view(&c->rx, 0), my = cli_rows_view(&c->ry, 0);
    cli_stats_tune_malloc(); /* every evaluation allocates and frees the same buffers */
    cli_progress_attach(c->ctx);
    simrep_status st = simrep_stats_rows(c->ctx, &mx, &my, &so, &a->opt, ms->rows, ms->nrows, res, &info);
    cli_progress_end(c->ctx);
    free(starts);
    simrep_error_info e;
    simrep_ctx_error(c->ctx, &e);
    if (st == SIMREP_E_INVALID) /* options: the units, --max-memory */
        return cli_error(EXIT_USAGE, "%s%s", simrep_ctx_message(c->ctx),
                         strcmp(e.option, "max_memory") == 0 ? " with --max-memory" : "");
    if (st != SIMREP_OK)
        return cli_library_error(c->ctx, st, a->x, a->y);
    for (int k = 0; k < ms->nrows; k++)
        if (res[k].resampled)
            c->sres[ms->rows_at[k]] = res[k];
    if (!c->have_stats)
        c->sinfo = info;
    c->have_stats = 1;
    cli_stats_warnings(res, ms->nrows, a->stats.o.interval == SIMREP_INTERVAL_BASIC);
    return -1;
}

/* The results on top: the pair's own, or with --sequence per-step the
 * curve's mean (kept counts the fewest over the steps). */
static void compare_steps(compare_run *c)
{
    const int nm = c->a.nmeasures;
    if (c->nv == 1) {
        memcpy(c->res, c->steps, (size_t)nm * sizeof *c->res);
        memset(c->steps, 0, (size_t)nm * sizeof *c->steps);
        /* The closed-form chance levels, resampling or not. */
        for (int i = 0; i < nm && !c->have_stats; i++) {
            c->sres[i].chance = c->res[i].chance;
            c->sres[i].has_chance = c->res[i].has_chance;
        }
        return;
    }
    /* The closed-form chance levels per step and of the mean (their mean),
     * resampling or not. */
    if (!c->have_stats && (c->sres_steps = calloc((size_t)(c->nv * nm), sizeof *c->sres_steps)) != NULL)
        for (int i = 0; i < nm; i++) {
            int all = 1;
            double sum = 0;
            for (int64_t v = 0; v < c->nv; v++) {
                simrep_stats_result *sv = &c->sres_steps[v * nm + i];
                sv->measure = c->a.measures[i];
                sv->has_chance = c->steps[v * nm + i].has_chance;
                sv->chance = c->steps[v * nm + i].chance;
                all &= sv->has_chance;
                sum += sv->chance;
            }
            c->sres[i].has_chance = all;
            c->sres[i].chance = all ? sum / (double)c->nv : 0;
        }
    for (int i = 0; i < nm; i++) {
        simrep_result *r = &c->res[i];
        r->kept_p = r->kept_q = r->rank_p = r->rank_q = INT64_MAX;
        for (int64_t v = 0; v < c->nv; v++) {
            const simrep_result *s = &c->steps[v * nm + i];
            r->similarity += s->similarity / (double)c->nv;
            r->distance += s->distance / (double)c->nv;
            r->warnings |= s->warnings;
            r->kept_p = s->kept_p < r->kept_p ? s->kept_p : r->kept_p;
            r->kept_q = s->kept_q < r->kept_q ? s->kept_q : r->kept_q;
            r->rank_p = s->rank_p < r->rank_p ? s->rank_p : r->rank_p; /* the fewest directions any step kept */
            r->rank_q = s->rank_q < r->rank_q ? s->rank_q : r->rank_q;
            r->shrunk_p = s->shrunk_p > r->shrunk_p ? s->shrunk_p : r->shrunk_p;
            r->shrunk_q = s->shrunk_q > r->shrunk_q ? s->shrunk_q : r->shrunk_q;
            r->dims_p = s->dims_p, r->dims_q = s->dims_q;
            r->ncoefs = s->ncoefs;
        }
    }
}

/* The measures of conv maps (DFT-CCA): their own pass over the images. */
static int compare_maps(compare_run *c)
{
    int rc = run_dftcca(c->ctx, &c->a, &c->x, &c->y, &c->dft);
    for (int i = 0; i < c->a.nmeasures && rc < 0; i++)
        if (simrep_measure_get_info(c->a.measures[i])->family == SIMREP_FAMILY_MAPS) {
            c->res[i].similarity = c->dft.similarity;
            c->res[i].distance = c->dft.distance;
            c->res[i].warnings = c->dft.warnings;
        }
    return rc;
}

static void compare_report(compare_run *c)
{
    if (!c->moments_pass) { /* dims for the report when only the maps' pass ran */
        c->x.n = c->x.dims.items;
        c->y.n = c->y.dims.items;
    }
    extra ex = {c->steps, c->nv > 1 ? c->nv : 0, c->ms.maps ? &c->dft : NULL, c->sres,
                c->nv > 1 ? c->sres_steps : NULL, c->have_stats, &c->sinfo, c->errs};
    if (c->me != 0)
        return;
    print_results(&c->a, &c->x, &c->y, c->res, &ex);
    if (c->nv > 1 && c->a.format == FORMAT_TABLE)
        print_steps_table(&c->a, &ex);
}

static void compare_free(compare_run *c)
{
    simrep_ctx *ctx = c->ctx;
    for (int i = 0; i < c->a.nmeasures; i++)
        simrep_result_clear(ctx, &c->res[i]);
    for (int64_t v = 0; c->steps && v < c->nv; v++)
        for (int i = 0; i < c->a.nmeasures; i++)
            simrep_result_clear(ctx, &c->steps[v * c->a.nmeasures + i]);
    free(c->steps);
    simrep_dftcca_result_clear(ctx, &c->dft);
    for (int64_t v = 0; c->stats && v < c->nv; v++)
        simrep_stats_free(ctx, c->stats[v]);
    free(c->stats);
    free(c->sres_steps);
    free(c->stats_state);
    for (int64_t v = 0; c->m && v < c->nv; v++)
        simrep_moments_free(ctx, c->m[v]);
    free(c->m);
    simrep_moments_free(ctx, c->fold.tmp);
    free(c->state);
    simrep_input_free(ctx, c->x.in);
    simrep_input_free(ctx, c->y.in);
    cli_rows_free(&c->rx);
    cli_rows_free(&c->ry);
    simrep_ctx_free(ctx);
    cli_layout_free(&c->a.layout);
}

int cmd_compare(int argc, char **argv)
{
    compare_run *c = calloc(1, sizeof *c);
    if (!c)
        return cli_error(EXIT_DATA, "out of memory");
    int rc = parse_args(argc, argv, &c->a);
    if (rc >= 0 || !(c->ctx = cli_ctx_new())) {
        rc = rc >= 0 ? rc : cli_error(EXIT_DATA, "out of memory");
        cli_layout_free(&c->a.layout);
        free(c);
        return rc;
    }
    c->ranks = par_size();
    c->me = par_rank();
    c->a.layout.features_first = c->a.features_first;
    cli_measures_split_of(c->a.measures, c->a.nmeasures, &c->ms);
    c->moments_pass = c->ms.nmoments > 0 || c->ms.nrows > 0;
    for (int i = 0; i < c->a.nmeasures; i++)
        c->res[i].measure = c->sres[i].measure = c->a.measures[i];

    rc = compare_open(c);
    if (rc < 0 && c->moments_pass)
        rc = compare_prepare(c);
    rc = par_agree(rc);
    if (rc < 0 && c->moments_pass) {
        par_hold(0);
        rc = compare_read(c);
        par_hold(1);
    }
    if (c->ranks > 1 && c->moments_pass)
        rc = compare_merge(c, par_agree(rc)); /* every rank reaches this, whatever happened above */
    if (rc < 0 && c->moments_pass)
        rc = compare_measures(c);
    if (rc < 0 && c->stats && c->me == 0) /* rank 0 holds the merged state */
        rc = compare_statistics(c);
    /* The rows measures' resamples: rank 0 alone, on the rows every rank
     * holds (its workers' contexts have no partition). */
    if (rc < 0 && cli_stats_requested(&c->a.stats) && c->ms.nrows > 0 && c->me == 0 && c->nv == 1)
        rc = compare_rows_statistics(c);
    /* Rank 0 alone knows whether the measures failed: agree before the
     * maps' collectives. */
    if (c->ranks > 1 && c->ms.maps)
        rc = par_agree(rc);
    if (rc < 0 && c->moments_pass)
        compare_steps(c);
    if (rc < 0 && c->ms.maps)
        rc = compare_maps(c);
    if (rc < 0) {
        /* Measures undefined for these data: an error line each, and the
         * others printed unless there are none (exit 1 either way). */
        if (c->nerrs < c->a.nmeasures)
            compare_report(c);
        for (int i = 0; i < c->a.nmeasures && c->me == 0; i++)
            if (c->errs[i].st != SIMREP_OK)
                report_measure_error(c->a.x, c->a.y, simrep_measure_get_info(c->a.measures[i])->id, c->errs[i].side,
                                     c->errs[i].detail);
        rc = c->nerrs ? EXIT_DATA : 0;
    }
    compare_free(c);
    free(c);
    return rc;
}
