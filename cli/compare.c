/*
 * compare.c: `simrep compare X Y`: parse options, stream both inputs block
 * by block into one simrep_moments, compute the requested measures, print
 * them as a table, JSON or CSV.
 *
 * Streaming: the two sources are read in lockstep, a block of samples at a
 * time (block size chosen so a block of both inputs in double is a few tens
 * of MiB at most), and each pair of blocks is folded into the moments; the
 * arrays are never in memory whole.  The exception is cka_rbf, a kernel
 * measure that needs every row against every other: when it is asked for,
 * the rows are also gathered (as double, O(n (p + q))) during the same pass.
 *
 * The JSON shape is a contract scripts depend on (issue #2):
 *   {"n", "x": {"path", "features", "kept"}, "y": {...},
 *    "measures": {"<id>": {"similarity", "distance", ...}}, "warnings": [...]}
 * Keys are only ever added.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { FORMAT_TABLE, FORMAT_JSON, FORMAT_CSV };

static const char *compare_help =
    "usage: simrep compare X Y [options]\n"
    "\n"
    "X, Y: path.npy, path.npz:key or path.safetensors:name; 2-D, n samples x p (q) features.\n"
    "\n"
    "options:\n"
    "  -m, --measures IDS       comma-separated measure ids, or 'all' (default: cca,svcca,pwcca,cka);\n"
    "                           ids: cca cca_r2 svcca pwcca cka cka_debiased cka_rbf procrustes procrustes_angular\n"
    "  --features-first         arrays are features x samples (the google/svcca layout)\n"
    "  --epsilon E              dead-feature threshold and CCA ridge, relative to the largest variance (1e-10)\n"
    "  --svcca-keep F           svcca keeps the fewest directions explaining fraction F of the variance (0.99)\n"
    "  --svcca-dims K           svcca keeps exactly K directions per side instead\n"
    "  --svcca-rule R           variance (default) or singular-values (the tutorial code's rule)\n"
    "  --rbf-sigma S            cka_rbf bandwidth as a multiple of the median distance (1.0)\n"
    "  --pwcca-variant V        google (default, Morcos et al. 2018) or ding (Ding et al. 2021)\n"
    "  --coefs                  also print the canonical correlations (and pwcca weights)\n"
    "  --format F               table (default), json or csv\n"
    "  -h, --help               this help\n"
    "\n"
    "3-D arrays (N, T, D) need --sequence and 4-D conv maps need --conv nhwc|nchw (not in this version).\n"
    "Run `simrep measures` for what each measure computes.\n";

typedef struct compare_args {
    const char *x, *y;
    simrep_measure measures[SIMREP_MEASURE_COUNT];
    int nmeasures;
    int features_first;
    int coefs;
    int format;
    simrep_options opt;
} compare_args;

static int parse_double(const char *opt, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return cli_error(EXIT_USAGE, "%s takes a number, not '%s'", opt, s);
    *out = v;
    return 0;
}

static int parse_measures(const char *s, compare_args *a)
{
    a->nmeasures = 0;
    if (strcmp(s, "all") == 0) {
        for (int m = 0; m < SIMREP_MEASURE_COUNT; m++)
            if (!simrep_measure_get_info((simrep_measure)m)->needs_maps)
                a->measures[a->nmeasures++] = (simrep_measure)m;
        return 0;
    }
    char buf[512];
    if (strlen(s) >= sizeof buf)
        return cli_error(EXIT_USAGE, "-m: list too long");
    strcpy(buf, s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int m = simrep_measure_from_id(tok);
        if (m < 0)
            return cli_error(EXIT_USAGE,
                             "unknown measure '%s' (ids: cca, cca_r2, svcca, pwcca, cka, cka_debiased, cka_rbf, "
                             "procrustes, procrustes_angular, or all)",
                             tok);
        int dup = 0;
        for (int i = 0; i < a->nmeasures; i++)
            dup |= a->measures[i] == (simrep_measure)m;
        if (!dup)
            a->measures[a->nmeasures++] = (simrep_measure)m;
    }
    if (a->nmeasures == 0)
        return cli_error(EXIT_USAGE, "-m: no measure given");
    return 0;
}

/* Returns -1 to continue, else an exit status. */
static int parse_args(int argc, char **argv, compare_args *a)
{
    memset(a, 0, sizeof *a);
    simrep_options_init(&a->opt);
    const simrep_measure defaults[] = {SIMREP_CCA, SIMREP_SVCCA, SIMREP_PWCCA, SIMREP_CKA};
    memcpy(a->measures, defaults, sizeof defaults);
    a->nmeasures = 4;
    int have_keep = 0, have_dims = 0;
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
            fputs(compare_help, stdout);
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
        /* Options with a value: "--opt value" or "--opt=value". */
        char name[64];
        const char *val = NULL;
        const char *eq = strchr(arg, '=');
        if (eq && arg[1] == '-') {
            size_t len = (size_t)(eq - arg) < sizeof name - 1 ? (size_t)(eq - arg) : sizeof name - 1;
            memcpy(name, arg, len);
            name[len] = 0;
            val = eq + 1;
        } else {
            snprintf(name, sizeof name, "%s", arg);
        }
        static const char *valued[] = {"-m", "--measures", "--epsilon", "--svcca-keep", "--svcca-dims",
                                       "--svcca-rule", "--rbf-sigma", "--pwcca-variant", "--format", NULL};
        int known = 0;
        for (int k = 0; valued[k]; k++)
            known |= strcmp(name, valued[k]) == 0;
        if (!known) {
            if (strcmp(name, "--conv") == 0 || strcmp(name, "--sequence") == 0)
                return cli_error(EXIT_USAGE, "%s is not supported in this version of simrep", name);
            return cli_error(EXIT_USAGE, "unknown option '%s' (see simrep compare --help)", arg);
        }
        if (!val) {
            if (i + 1 >= argc)
                return cli_error(EXIT_USAGE, "%s needs a value", name);
            val = argv[++i];
        }
        int rc = 0;
        if (strcmp(name, "-m") == 0 || strcmp(name, "--measures") == 0) {
            rc = parse_measures(val, a);
        } else if (strcmp(name, "--epsilon") == 0) {
            rc = parse_double(name, val, &a->opt.epsilon);
            if (!rc && a->opt.epsilon < 0)
                rc = cli_error(EXIT_USAGE, "--epsilon must be >= 0 (got %s)", val);
        } else if (strcmp(name, "--svcca-keep") == 0) {
            rc = parse_double(name, val, &a->opt.svcca_keep);
            if (!rc && !(a->opt.svcca_keep > 0 && a->opt.svcca_keep <= 1))
                rc = cli_error(EXIT_USAGE, "--svcca-keep is a fraction in (0, 1] (got %s)", val);
            have_keep = 1;
        } else if (strcmp(name, "--svcca-dims") == 0) {
            double k = 0;
            rc = parse_double(name, val, &k);
            if (!rc && !(k >= 1 && k == floor(k) && k < 1e15))
                rc = cli_error(EXIT_USAGE, "--svcca-dims takes a whole number >= 1 (got %s)", val);
            a->opt.svcca_dims = (int64_t)k;
            have_dims = 1;
        } else if (strcmp(name, "--svcca-rule") == 0) {
            if (strcmp(val, "variance") == 0)
                a->opt.svcca_rule = SIMREP_SVCCA_VARIANCE;
            else if (strcmp(val, "singular-values") == 0)
                a->opt.svcca_rule = SIMREP_SVCCA_SINGULAR_VALUES;
            else
                rc = cli_error(EXIT_USAGE, "--svcca-rule is variance or singular-values (got '%s')", val);
        } else if (strcmp(name, "--rbf-sigma") == 0) {
            rc = parse_double(name, val, &a->opt.rbf_sigma);
            if (!rc && !(a->opt.rbf_sigma > 0))
                rc = cli_error(EXIT_USAGE, "--rbf-sigma must be > 0 (got %s)", val);
        } else if (strcmp(name, "--pwcca-variant") == 0) {
            if (strcmp(val, "google") == 0)
                a->opt.pwcca_variant = SIMREP_PWCCA_GOOGLE;
            else if (strcmp(val, "ding") == 0)
                a->opt.pwcca_variant = SIMREP_PWCCA_DING;
            else
                rc = cli_error(EXIT_USAGE, "--pwcca-variant is google or ding (got '%s')", val);
        } else if (strcmp(name, "--format") == 0) {
            if (strcmp(val, "table") == 0)
                a->format = FORMAT_TABLE;
            else if (strcmp(val, "json") == 0)
                a->format = FORMAT_JSON;
            else if (strcmp(val, "csv") == 0)
                a->format = FORMAT_CSV;
            else
                rc = cli_error(EXIT_USAGE, "--format is table, json or csv (got '%s')", val);
        }
        if (rc)
            return rc;
    }
    if (have_keep && have_dims)
        return cli_error(EXIT_USAGE, "--svcca-keep and --svcca-dims are alternatives; give one");
    if (npos != 2)
        return cli_error(EXIT_USAGE, "compare needs two inputs X and Y (see simrep compare --help)");
    a->x = pos[0];
    a->y = pos[1];
    return -1;
}

/* One input: its source and, for cka_rbf, its rows gathered as double. */
typedef struct input {
    const char *spec;
    simrep_source *src;
    int64_t n, p;
    double *rows; /* n x p, row-major, only when a kernel measure needs it */
} input;

static int open_input(simrep_ctx *ctx, input *in, const char *spec, int features_first)
{
    memset(in, 0, sizeof *in);
    in->spec = spec;
    simrep_status st = simrep_source_open(ctx, spec, &in->src);
    if (st == SIMREP_OK)
        st = simrep_source_set_layout(ctx, in->src, features_first);
    if (st != SIMREP_OK)
        return cli_library_error(ctx, st, NULL, NULL);
    in->n = simrep_source_samples(in->src);
    in->p = simrep_source_features(in->src);
    if (in->p < 1)
        return cli_error(EXIT_DATA, "%s: has no features (shape gives 0 %s)", spec,
                         features_first ? "rows" : "columns");
    return -1;
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

static void print_coefs_json(const simrep_result *r)
{
    fputs(", \"coefs\": [", stdout);
    for (int64_t i = 0; i < r->ncoefs; i++) {
        if (i)
            fputs(", ", stdout);
        json_number(stdout, r->coefs[i]);
    }
    fputc(']', stdout);
    if (r->weights) {
        fputs(", \"weights\": [", stdout);
        for (int64_t i = 0; i < r->ncoefs; i++) {
            if (i)
                fputs(", ", stdout);
            json_number(stdout, r->weights[i]);
        }
        fputc(']', stdout);
    }
}

static int is_cca_family(simrep_measure m)
{
    return m == SIMREP_CCA || m == SIMREP_CCA_R2 || m == SIMREP_SVCCA || m == SIMREP_PWCCA;
}

/* The sample-count warning text for the results, if any. */
static int collect_warnings(const compare_args *a, const simrep_result *res, int64_t n, char warn[][512])
{
    int nw = 0;
    unsigned seen = 0;
    for (int i = 0; i < a->nmeasures; i++)
        seen |= res[i].warnings;
    const simrep_result *cca = NULL;
    for (int i = 0; i < a->nmeasures; i++)
        if (is_cca_family(res[i].measure))
            cca = &res[i];
    if (cca && (seen & SIMREP_WARN_FEW_SAMPLES)) {
        int64_t k = cca->kept_p > cca->kept_q ? cca->kept_p : cca->kept_q;
        snprintf(warn[nw++], 512,
                 "n = %lld samples is less than 10 x %lld kept features: CCA-family values are biased toward 1%s",
                 (long long)n, (long long)k,
                 n <= cca->kept_p + cca->kept_q ? " (with n <= p + q every canonical correlation can be 1 whatever the data)" : "");
    }
    return nw;
}

static void print_dead_warnings(const compare_args *a, const input *x, const input *y, const simrep_result *cca,
                                char warn[][512], int *nw)
{
    if (!cca)
        return;
    if (cca->kept_p < x->p)
        snprintf(warn[(*nw)++], 512, "%s: %lld of %lld features are constant (dead, variance <= %g x the largest) "
                 "and were left out of the CCA family", x->spec, (long long)(x->p - cca->kept_p), (long long)x->p,
                 a->opt.epsilon);
    if (cca->kept_q < y->p)
        snprintf(warn[(*nw)++], 512, "%s: %lld of %lld features are constant (dead, variance <= %g x the largest) "
                 "and were left out of the CCA family", y->spec, (long long)(y->p - cca->kept_q), (long long)y->p,
                 a->opt.epsilon);
}

static void print_results(const compare_args *a, const input *x, const input *y, const simrep_result *res)
{
    const simrep_result *cca = NULL;
    for (int i = 0; i < a->nmeasures; i++)
        if (is_cca_family(res[i].measure))
            cca = &res[i];
    char warn[8][512];
    int nw = collect_warnings(a, res, x->n, warn);
    print_dead_warnings(a, x, y, cca, warn, &nw);
    int64_t kept_x = cca ? cca->kept_p : x->p, kept_y = cca ? cca->kept_q : y->p;

    if (a->format == FORMAT_JSON) {
        printf("{\"n\": %lld, \"x\": {\"path\": ", (long long)x->n);
        json_string(stdout, x->spec);
        printf(", \"features\": %lld, \"kept\": %lld}, \"y\": {\"path\": ", (long long)x->p, (long long)kept_x);
        json_string(stdout, y->spec);
        printf(", \"features\": %lld, \"kept\": %lld}, \"measures\": {", (long long)y->p, (long long)kept_y);
        for (int i = 0; i < a->nmeasures; i++) {
            const simrep_result *r = &res[i];
            printf("%s\"%s\": {\"similarity\": ", i ? ", " : "", simrep_measure_get_info(r->measure)->id);
            json_number(stdout, r->similarity);
            fputs(", \"distance\": ", stdout);
            json_number(stdout, r->distance);
            if (is_cca_family(r->measure))
                printf(", \"kept\": [%lld, %lld]", (long long)r->kept_p, (long long)r->kept_q);
            if (r->measure == SIMREP_SVCCA)
                printf(", \"dims\": [%lld, %lld]", (long long)r->dims_p, (long long)r->dims_q);
            if (r->measure == SIMREP_CCA) {
                fputs(", \"reference_mean\": ", stdout);
                json_number(stdout, r->reference_mean);
            }
            if (r->measure == SIMREP_PWCCA)
                printf(", \"variant\": \"%s\"", a->opt.pwcca_variant == SIMREP_PWCCA_DING ? "ding" : "google");
            if (r->measure == SIMREP_CKA_RBF) {
                fputs(", \"sigma\": ", stdout);
                json_number(stdout, a->opt.rbf_sigma);
            }
            if (a->coefs && r->coefs)
                print_coefs_json(r);
            fputc('}', stdout);
        }
        fputs("}, \"warnings\": [", stdout);
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
        puts("measure,similarity,distance");
        for (int i = 0; i < a->nmeasures; i++)
            printf("%s,%.17g,%.17g\n", simrep_measure_get_info(res[i].measure)->id, res[i].similarity,
                   res[i].distance);
        return;
    }
    printf("n = %lld samples\n", (long long)x->n);
    printf("x: %s  (%lld features, %lld kept)\n", x->spec, (long long)x->p, (long long)kept_x);
    printf("y: %s  (%lld features, %lld kept)\n\n", y->spec, (long long)y->p, (long long)kept_y);
    printf("%-20s %12s %12s  %s\n", "measure", "similarity", "distance", "notes");
    for (int i = 0; i < a->nmeasures; i++) {
        const simrep_result *r = &res[i];
        char notes[128] = "";
        if (r->measure == SIMREP_SVCCA)
            snprintf(notes, sizeof notes, "%lld + %lld directions", (long long)r->dims_p, (long long)r->dims_q);
        else if (r->measure == SIMREP_PWCCA)
            snprintf(notes, sizeof notes, "%s weights", a->opt.pwcca_variant == SIMREP_PWCCA_DING ? "ding" : "google");
        else if (r->measure == SIMREP_CCA)
            snprintf(notes, sizeof notes, "%lld correlations", (long long)r->ncoefs);
        else if (r->measure == SIMREP_CKA_RBF)
            snprintf(notes, sizeof notes, "sigma %g", a->opt.rbf_sigma);
        /* Round-off can leave a distance of -1e-16 for identical inputs; the
         * table shows it as 0 rather than -0.000000 (JSON keeps the value). */
        double dist = fabs(r->distance) < 5e-7 ? 0.0 : r->distance;
        printf("%-20s %12.6f %12.6f  %s\n", simrep_measure_get_info(r->measure)->id, r->similarity, dist, notes);
    }
    if (a->coefs)
        for (int i = 0; i < a->nmeasures; i++) {
            const simrep_result *r = &res[i];
            if (!r->coefs || r->measure == SIMREP_CCA_R2)
                continue;
            printf("\n%s canonical correlations:", simrep_measure_get_info(r->measure)->id);
            for (int64_t k = 0; k < r->ncoefs; k++)
                printf("%s%.6f", k % 8 ? " " : "\n  ", r->coefs[k]);
            fputc('\n', stdout);
        }
}

int cmd_compare(int argc, char **argv)
{
    compare_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    if (!ctx)
        return cli_error(EXIT_DATA, "out of memory");
    input x, y;
    memset(&y, 0, sizeof y);
    simrep_moments *m = NULL;
    simrep_result res[SIMREP_MEASURE_COUNT];
    memset(res, 0, sizeof res);
    rc = open_input(ctx, &x, a.x, a.features_first);
    if (rc < 0)
        rc = open_input(ctx, &y, a.y, a.features_first);
    if (rc < 0 && x.n != y.n)
        rc = cli_error(EXIT_DATA, "%s: has %lld samples but %s has %lld; rows of X and Y must come from the same inputs%s",
                       a.y, (long long)y.n, a.x, (long long)x.n,
                       a.features_first ? "" : " (if your arrays are features x samples, add --features-first)");
    if (rc < 0 && x.n < 1)
        rc = cli_error(EXIT_DATA, "%s: has no samples", a.x);

    int need_rows = 0;
    simrep_measure linear[SIMREP_MEASURE_COUNT];
    int where[SIMREP_MEASURE_COUNT], nlin = 0;
    for (int i = 0; i < a.nmeasures; i++) {
        if (simrep_measure_get_info(a.measures[i])->needs_rows)
            need_rows = 1;
        else {
            where[nlin] = i;
            linear[nlin++] = a.measures[i];
        }
        res[i].measure = a.measures[i];
    }
    if (rc < 0 && need_rows) {
        size_t nx = (size_t)x.n * (size_t)x.p, ny = (size_t)y.n * (size_t)y.p;
        x.rows = malloc(nx * sizeof(double));
        y.rows = malloc(ny * sizeof(double));
        if (!x.rows || !y.rows)
            rc = cli_error(EXIT_DATA, "out of memory: cka_rbf needs both inputs in memory as float64 (%.1f GiB)",
                           (double)(nx + ny) * 8 / 1073741824.0);
    }
    simrep_status st = SIMREP_OK;
    if (rc < 0) {
        st = simrep_moments_new(ctx, x.p, y.p, &m);
        if (st != SIMREP_OK)
            rc = cli_library_error(ctx, st, a.x, a.y);
    }
    if (rc < 0) {
        /* About 16 MiB of doubles per block of both inputs. */
        int64_t block = (int64_t)(4 * 1024 * 1024) / (x.p + y.p);
        block = block < 256 ? 256 : block > 8192 ? 8192 : block;
        int tty = isatty(2) && (double)x.n * (double)(x.p + y.p) > 5e7;
        int shown = 0;
        time_t start = time(NULL);
        for (int64_t r0 = 0; r0 < x.n && rc < 0; r0 += block) {
            int64_t rows = x.n - r0 < block ? x.n - r0 : block;
            simrep_matrix vx, vy;
            st = simrep_source_read(ctx, x.src, r0, rows, &vx);
            if (st != SIMREP_OK) {
                rc = cli_library_error(ctx, st, a.x, a.y);
                break;
            }
            st = simrep_source_read(ctx, y.src, r0, rows, &vy);
            if (st != SIMREP_OK) {
                rc = cli_library_error(ctx, st, a.x, a.y);
                break;
            }
            st = simrep_moments_update(ctx, m, &vx, &vy);
            if (st != SIMREP_OK) {
                rc = cli_library_error(ctx, st, a.x, a.y);
                break;
            }
            if (need_rows) {
                simrep_matrix_to_double(&vx, x.rows + r0 * x.p, x.p);
                simrep_matrix_to_double(&vy, y.rows + r0 * y.p, y.p);
            }
            if (tty)
                progress(r0 + rows, x.n, start, &shown);
        }
        if (shown)
            fputc('\n', stderr);
    }
    if (rc < 0 && nlin > 0) {
        simrep_result lin[SIMREP_MEASURE_COUNT];
        st = simrep_compare_moments(ctx, m, &a.opt, linear, nlin, lin);
        if (st != SIMREP_OK)
            rc = cli_library_error(ctx, st, a.x, a.y);
        else
            for (int i = 0; i < nlin; i++)
                res[where[i]] = lin[i];
    }
    if (rc < 0 && need_rows) {
        simrep_matrix mx = simrep_matrix_c(x.rows, SIMREP_F64, x.n, x.p);
        simrep_matrix my = simrep_matrix_c(y.rows, SIMREP_F64, y.n, y.p);
        for (int i = 0; i < a.nmeasures && rc < 0; i++)
            if (a.measures[i] == SIMREP_CKA_RBF) {
                cli_progress_attach(ctx);
                st = simrep_cka_rbf(ctx, &mx, &my, a.opt.rbf_sigma, &res[i].similarity);
                cli_progress_end(ctx);
                if (st != SIMREP_OK)
                    rc = cli_library_error(ctx, st, a.x, a.y);
                res[i].distance = 1 - res[i].similarity;
            }
    }
    if (rc < 0) {
        print_results(&a, &x, &y, res);
        rc = 0;
    }
    for (int i = 0; i < a.nmeasures; i++)
        simrep_result_clear(ctx, &res[i]);
    simrep_moments_free(ctx, m);
    simrep_source_free(ctx, x.src);
    simrep_source_free(ctx, y.src);
    free(x.rows);
    free(y.rows);
    simrep_ctx_free(ctx);
    return rc;
}
