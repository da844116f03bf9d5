/*
 * validate.c: `simrep validate --manifest M.csv --score COLUMN`: which
 * measure's distances track a functional score on the caller's own
 * networks (issue 14), the test of Ding, Denain & Steinhardt 2021: for a
 * reference representation, the distance of every row of the manifest to
 * it should grow with the difference of their scores (probe accuracy, OOD
 * accuracy, loss).  Per measure and reference it reports Spearman's rho and
 * Kendall's tau between the distance and |score - the reference's score|,
 * their one-sided p-values, and the fraction of rows close by the measure
 * but far in function ("bad"), with bootstrap intervals over the rows and
 * permutation p-values when asked (the library's simrep_rank_test).
 *
 * References.  --reference best takes in each layer (each value of the
 * manifest's layer column; the whole manifest without one) the row with
 * the highest score, ties to the first in manifest order (with a warning),
 * as Ding et al. take the best-probing seed per depth.  --reference A,B,...
 * names them: one per layer.  Without --across-layers a reference is
 * compared with the rows of its own layer (Ding et al.'s principal-
 * component deletion test); with it, with every row (their layer-depth
 * test: the rows span layers and seeds).  The reference itself is one of
 * the rows (distance 0, difference 0), as in their evaluation.
 *
 * Distances come from matrix's machinery (mx_run_pairs: the manifest
 * reader, the one-pass K-input moments, the rows held for the measures of
 * the rows, tiling under --max-memory, threads and MPI ranks), asked only
 * for the pairs (reference, row): one family per call, so a pass holds the
 * joint moments of one layer's rows, not the whole manifest's.
 *
 * A measure undefined for some pair is reported and left out, the others
 * tested (exit 1 after the outputs), as matrix does.
 *
 * Exit statuses: 2 when the command line names what the manifest does not
 * have (a score column, a reference); 1 for what the manifest holds that
 * cannot be tested (a score that is not a number, fewer than 3 rows in a
 * family, scores or distances that are all equal, the data errors of
 * matrix).
 */
#include "validate.h"
#include "parallel.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *help_text =
    "usage: simrep validate --manifest M.csv --score COLUMN [options]\n"
    "\n"
    "Which measure tracks function (Ding, Denain & Steinhardt 2021): the distance of every row of\n"
    "M.csv to a reference row, per measure, against the difference of a functional score (a numeric\n"
    "column of M.csv: probe accuracy, OOD accuracy, loss).  Reports Spearman's rho and Kendall's tau\n"
    "between distance and |score difference| with one-sided p-values, and the fraction of rows in the\n"
    "lowest 20% of distance but the highest 20% of score difference ('bad'); measures ranked by rho.\n"
    "M.csv is a matrix manifest (name, path, optional group/layer/step columns) with the score column.\n"
    "\n"
    "options:\n"
    "  --manifest M.csv         the inputs (required)\n"
    "  --score COLUMN           the functional score column (required)\n"
    "  --reference best|NAMES   the reference of each layer: the row with the highest score (default), or\n"
    "                           the named rows (comma-separated, one per layer)\n"
    "  --across-layers          compare each reference with every row, not only its own layer's\n"
    "                           (Ding et al.'s layer-depth test)\n";

static const char *help_tail =
    "  --format F               table (default), json or csv (one row per row and measure)\n"
    "  -o, --output DIR         also write validate.json, distances.csv, tests.csv, SVG figures (distance\n"
    "                           vs score difference per measure, rho per measure; PNG copies when\n"
    "                           rsvg-convert is installed) and DIR/index.html\n"
    "  --no-png                 no PNG copies of the figures\n"
    "  --bootstrap B            percentile intervals of rho and tau, B resamples of the rows\n"
    "  --permutations K         permutation p-values of rho and tau (K random orderings)\n"
    "  --ci LEVEL, --seed S     interval level (0.95); every random choice follows from S (0)\n"
    "  --threads T, --max-memory SIZE, --features-first, --conv L, --conv-mode M, --resize R,\n"
    "  --sequence S, --mask FILE[:key]   as in simrep matrix\n"
    "  -h, --help               this help\n"
    "\n"
    "Exit status: 0 done, 1 bad data (a score that is not a number, fewer than 3 rows for a reference,\n"
    "scores or distances all equal, unreadable inputs), 2 usage (including a --score column or a\n"
    "--reference the manifest does not have).\n";

typedef struct vd_args {
    matrix_args m;
    const char *score;
    const char *reference;
    int across;
} vd_args;

static int parse_args(int argc, char **argv, vd_args *a)
{
    memset(a, 0, sizeof *a);
    mx_args_init(&a->m);
    a->reference = "best";
    cli_seen seen = {0, 0, 0};
    static const char *const valued[] = {MX_COMMON_VALUED, "--score", "--reference", NULL};
    const mx_command cmd = {"validate", help_text, help_tail, valued};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--across-layers") == 0) {
            a->across = 1;
            continue;
        }
        char name[64];
        const char *val = NULL;
        int rc = mx_common_option(&cmd, argc, argv, &i, &a->m, &seen, name, sizeof name, &val);
        if (rc == MX_OPT_END)
            break;
        if (rc == MX_OPT_DONE)
            continue;
        if (rc != CLI_OPT_NOT_MINE) {
            return rc;
        } else if (strcmp(name, "--score") == 0) {
            a->score = val;
            rc = *val ? 0 : cli_error(EXIT_USAGE, "--score needs a column name");
        } else if (strcmp(name, "--reference") == 0) {
            a->reference = val;
            rc = *val ? 0 : cli_error(EXIT_USAGE, "--reference needs 'best' or row names");
        }
        if (rc)
            return rc;
    }
    int rc = cli_check_layout(&a->m.layout, &seen);
    if (rc >= 0)
        return rc;
    if (!a->m.manifest)
        return cli_error(EXIT_USAGE, "validate needs --manifest M.csv (see simrep validate --help)");
    if (!a->score)
        return cli_error(EXIT_USAGE, "validate needs --score COLUMN, the manifest's column of a functional score");
    if (a->m.stats.o.interval != SIMREP_INTERVAL_PERCENTILE)
        return cli_error(EXIT_USAGE, "validate's intervals of rho and tau are percentile intervals (--ci-method "
                         "percentile)");
    cli_stats_check(&a->m.stats);
    return -1;
}

/* ------------------------------------------------------------ scores */

/* The score column's values, checked before any input is opened. */
static int read_scores(const vd_args *a, double **out)
{
    manifest m;
    char err[1024];
    *out = NULL;
    if (manifest_read_file(a->m.manifest, &m, err, sizeof err) != 0)
        return cli_error(EXIT_DATA, "%s", err);
    int col = -1, rc = -1;
    for (int c = 0; c < m.ncols; c++)
        if (strcmp(m.cols[c], a->score) == 0)
            col = c;
    if (col < 0) {
        char cols[600] = "";
        for (int c = 0; c < m.ncols; c++) {
            size_t len = strlen(cols);
            snprintf(cols + len, sizeof cols - len, "%s%s", c ? ", " : "", m.cols[c]);
        }
        rc = cli_error(EXIT_USAGE, "%s: no column '%s' for --score (the columns are: %s)", a->m.manifest, a->score,
                       cols);
    } else if (col == m.col_name || col == m.col_path || col == m.col_group || col == m.col_layer) {
        rc = cli_error(EXIT_USAGE, "%s: --score '%s' is the manifest's %s column, not a score", a->m.manifest,
                       a->score, col == m.col_name ? "name" : col == m.col_path ? "path" : col == m.col_group ? "group"
                                                                                                   : "layer");
    } else if (m.nrows < 3) {
        rc = cli_error(EXIT_DATA, "%s: validate needs at least 3 rows (a reference and 2 to rank; the manifest lists "
                       "%d)", a->m.manifest, m.nrows);
    } else if (!(*out = malloc((size_t)m.nrows * sizeof **out))) {
        rc = cli_error(EXIT_DATA, "out of memory");
    }
    for (int i = 0; rc < 0 && i < m.nrows; i++) {
        const char *s = manifest_cell(&m, i, col);
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        while (end && *end == ' ')
            end++;
        if (!*s || *end || errno == ERANGE || !isfinite(v))
            rc = cli_error(EXIT_DATA, "%s:%d: score '%s' of '%s' (column %s) is not a finite number", a->m.manifest,
                           m.line[i], s, manifest_cell(&m, i, m.col_name), a->score);
        else
            (*out)[i] = v;
    }
    if (rc >= 0) {
        free(*out);
        *out = NULL;
    }
    manifest_free(&m);
    return rc;
}

/* -------------------------------------------------------- references */

static void add_warning(mx_run *r, const char *msg)
{
    if (r->nwarnings < (int)(sizeof r->warnings / sizeof r->warnings[0]))
        snprintf(r->warnings[r->nwarnings++], sizeof r->warnings[0], "%s", msg);
}

const char *vd_layer_name(const vd_run *v, const vd_family *f)
{
    return f->layer >= 0 ? v->r->layers[f->layer] : "";
}

/* " for layer 'relu2'" or "" */
static void layer_phrase(const vd_run *v, int layer, char *buf, size_t cap)
{
    if (layer >= 0)
        snprintf(buf, cap, " of layer '%s'", v->r->layers[layer]);
    else
        buf[0] = 0;
}

/* The families: their references and rows. */
static int plan_families(vd_run *v, const vd_args *a)
{
    mx_run *r = v->r;
    const int K = r->K, L = r->nlayers > 0 ? r->nlayers : 1;
    int *ref_of_layer = malloc((size_t)L * sizeof *ref_of_layer);
    if (!ref_of_layer)
        return cli_error(EXIT_DATA, "out of memory");
    for (int l = 0; l < L; l++)
        ref_of_layer[l] = -1;
    int rc = -1;
    if (strcmp(a->reference, "best") == 0) {
        for (int i = 0; i < K; i++) {
            const int l = r->in[i].layer >= 0 ? r->in[i].layer : 0;
            if (ref_of_layer[l] < 0 || v->score[i] > v->score[ref_of_layer[l]])
                ref_of_layer[l] = i;
        }
        for (int l = 0; l < L; l++) {
            int ties = 0, first = ref_of_layer[l];
            for (int i = 0; i < K; i++)
                ties += (r->in[i].layer >= 0 ? r->in[i].layer : 0) == l && i != first &&
                        v->score[i] == v->score[first];
            if (ties) {
                char msg[600], lp[200];
                layer_phrase(v, r->nlayers ? l : -1, lp, sizeof lp);
                snprintf(msg, sizeof msg, "%d other row%s%s share%s the highest score %g with '%s'; the first in "
                         "the manifest is the reference", ties, ties == 1 ? "" : "s", lp, ties == 1 ? "s" : "",
                         v->score[first], r->in[first].name);
                add_warning(r, msg);
            }
        }
    } else {
        char *list = strdup(a->reference);
        if (!list) {
            free(ref_of_layer);
            return cli_error(EXIT_DATA, "out of memory");
        }
        char *save = NULL;
        for (char *tok = strtok_r(list, ",", &save); tok && rc < 0; tok = strtok_r(NULL, ",", &save)) {
            int at = -1;
            for (int i = 0; i < K; i++)
                if (strcmp(r->in[i].name, tok) == 0)
                    at = i;
            if (at < 0) {
                rc = cli_error(EXIT_USAGE, "--reference '%s': %s has no row named so", tok, r->manifest_path);
                break;
            }
            const int l = r->in[at].layer >= 0 ? r->in[at].layer : 0;
            if (ref_of_layer[l] >= 0 && ref_of_layer[l] != at) {
                char lp[200];
                layer_phrase(v, r->nlayers ? l : -1, lp, sizeof lp);
                rc = cli_error(EXIT_USAGE, "--reference names two rows%s: '%s' and '%s' (one reference per layer)",
                               lp, r->in[ref_of_layer[l]].name, tok);
            }
            ref_of_layer[l] = at;
        }
        free(list);
        for (int l = 0; rc < 0 && l < L && !a->across; l++)
            if (ref_of_layer[l] < 0)
                rc = cli_error(EXIT_USAGE, "layer '%s' has no reference: name one row per layer in --reference, "
                               "use --reference best, or --across-layers", r->layers[l]);
    }
    v->fam = rc < 0 ? calloc((size_t)L, sizeof *v->fam) : NULL;
    if (rc < 0 && !v->fam)
        rc = cli_error(EXIT_DATA, "out of memory");
    for (int l = 0; rc < 0 && l < L; l++) {
        if (ref_of_layer[l] < 0)
            continue;
        vd_family *f = &v->fam[v->nfam++];
        f->layer = r->nlayers ? l : -1;
        f->ref = ref_of_layer[l];
        if (!(f->rows = malloc((size_t)K * sizeof *f->rows))) {
            rc = cli_error(EXIT_DATA, "out of memory");
            break;
        }
        for (int i = 0; i < K; i++)
            if (a->across || r->in[i].layer == f->layer)
                f->rows[f->nrows++] = i;
        char lp[200];
        layer_phrase(v, f->layer, lp, sizeof lp);
        if (f->nrows < 3) {
            rc = cli_error(EXIT_DATA, "%s: the reference '%s'%s has %d row%s to rank (itself included); a rank "
                           "correlation needs at least 3", r->manifest_path, r->in[f->ref].name, lp, f->nrows,
                           f->nrows == 1 ? "" : "s");
            break;
        }
        int differ = 0;
        for (int k = 1; k < f->nrows; k++)
            differ |= fabs(v->score[f->rows[k]] - v->score[f->ref]) != fabs(v->score[f->rows[0]] - v->score[f->ref]);
        if (!differ)
            rc = cli_error(EXIT_DATA, "%s: every row compared with '%s'%s has the same score difference to it (%g): "
                           "there is no ranking of function to test", r->manifest_path, r->in[f->ref].name, lp,
                           fabs(v->score[f->rows[0]] - v->score[f->ref]));
    }
    free(ref_of_layer);
    return rc;
}

/* --------------------------------------------------------- computing */

double vd_distance(const vd_run *v, int t, const vd_family *f, int i)
{
    return i == f->ref ? 0.0 : v->r->dist[t][(size_t)f->ref * (size_t)v->r->K + (size_t)i];
}

static int compute_distances(vd_run *v, const matrix_args *a)
{
    mx_run *r = v->r;
    const size_t K = (size_t)r->K;
    unsigned char *want = calloc(K * K, 1);
    if (!want)
        return cli_error(EXIT_DATA, "out of memory");
    for (int g = 0; g < v->nfam; g++)
        for (int k = 0; k < v->fam[g].nrows; k++)
            want[(size_t)v->fam[g].ref * K + (size_t)v->fam[g].rows[k]] = 1;
    int rc = -1;
    if (v->nfam > 0 && v->fam[0].nrows == r->K) /* --across-layers: every family is every row: one call */
        rc = mx_run_pairs(r, a, v->fam[0].rows, r->K, want);
    else
        for (int g = 0; g < v->nfam && rc < 0; g++)
            rc = mx_run_pairs(r, a, v->fam[g].rows, v->fam[g].nrows, want);
    free(want);
    return rc;
}

static int run_tests(vd_run *v)
{
    mx_run *r = v->r;
    simrep_ctx *ctx = cli_ctx_new();
    int maxrows = 0;
    for (int g = 0; g < v->nfam; g++)
        maxrows = v->fam[g].nrows > maxrows ? v->fam[g].nrows : maxrows;
    double *x = malloc((size_t)maxrows * sizeof *x), *y = malloc((size_t)maxrows * sizeof *y);
    int rc = ctx && x && y ? -1 : cli_error(EXIT_DATA, "out of memory");
    for (int t = 0; t < r->nmeasures && rc < 0; t++) {
        const char *id = mx_measure_id(r, t);
        for (int g = 0; g < v->nfam && rc < 0; g++) {
            vd_family *f = &v->fam[g];
            for (int k = 0; k < f->nrows; k++) {
                x[k] = vd_distance(v, t, f, f->rows[k]);
                y[k] = fabs(v->score[f->rows[k]] - v->score[f->ref]);
            }
            simrep_status st = simrep_rank_test(ctx, f->nrows, x, y, &v->ro, &f->test[t]);
            if (st == SIMREP_OK)
                continue;
            char lp[200];
            layer_phrase(v, f->layer, lp, sizeof lp);
            simrep_error_info e;
            simrep_ctx_error(ctx, &e);
            if (st == SIMREP_E_DEGENERATE && e.input == 0) /* the distances (x) are all equal */
                rc = cli_error(EXIT_DATA, "%s: every %s distance to the reference '%s'%s is %g: the measure does "
                               "not rank these rows", r->manifest_path, id, r->in[f->ref].name, lp, x[1]);
            else
                rc = cli_error(st == SIMREP_E_INVALID ? EXIT_USAGE : EXIT_DATA, "%s: %s against '%s'%s: %s",
                               r->manifest_path, id, r->in[f->ref].name, lp, simrep_ctx_message(ctx));
        }
    }
    free(x), free(y);
    simrep_ctx_free(ctx);
    if (rc >= 0)
        return rc;
    /* Means over the references and the ranking (by mean rho, then tau;
     * stable for ties). */
    for (int t = 0; t < r->nmeasures; t++) {
        double s[5] = {0, 0, 0, 0, 0};
        for (int g = 0; g < v->nfam; g++) {
            const simrep_rank_result *q = &v->fam[g].test[t];
            s[0] += q->rho, s[1] += q->tau, s[2] += q->bad_fraction, s[3] += q->rho_p, s[4] += q->tau_p;
        }
        v->mean_rho[t] = s[0] / v->nfam, v->mean_tau[t] = s[1] / v->nfam, v->mean_bad[t] = s[2] / v->nfam;
        v->mean_rho_p[t] = s[3] / v->nfam, v->mean_tau_p[t] = s[4] / v->nfam;
        v->ranking[t] = t;
    }
    for (int a = 1; a < r->nmeasures; a++) {
        int m = v->ranking[a], b = a;
        for (; b > 0; b--) {
            const int o = v->ranking[b - 1];
            if (v->mean_rho[o] > v->mean_rho[m] || (v->mean_rho[o] == v->mean_rho[m] && v->mean_tau[o] >= v->mean_tau[m]))
                break;
            v->ranking[b] = o;
        }
        v->ranking[b] = m;
    }
    return -1;
}

int cmd_validate(int argc, char **argv)
{
    vd_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        cli_layout_free(&a.m.layout);
        return rc;
    }
    mx_run r;
    memset(&r, 0, sizeof r);
    vd_run v;
    memset(&v, 0, sizeof v);
    v.r = &r;
    v.score_column = a.score;
    v.reference = a.reference;
    v.across_layers = a.across;
    simrep_rank_options_init(&v.ro);
    v.ro.bootstrap = a.m.stats.o.bootstrap;
    v.ro.permutations = a.m.stats.o.permutations;
    v.ro.ci = a.m.stats.o.ci;
    v.ro.seed = a.m.stats.o.seed;
    r.manifest_path = a.m.manifest;
    r.argc = argc;
    r.argv = argv;
    r.png = !a.m.no_png;
    r.opt = a.m.opt;
    r.nmeasures = a.m.nmeasures;
    memcpy(r.measures, a.m.measures, sizeof a.m.measures);
    /* -o DIR that cannot be written is said before any data is read. */
    int made_dir = 0;
    rc = a.m.outdir && par_rank() == 0 ? mx_outdir_prepare(a.m.outdir, &made_dir) : -1;
    if (rc < 0)
        rc = read_scores(&a, &v.score);
    if (rc < 0)
        rc = mx_load_inputs(&r, &a.m);
    if (rc < 0)
        rc = plan_families(&v, &a);
    if (rc < 0)
        rc = mx_check_budget(&r, a.m.max_memory); /* the K x K results count too, before they are allocated */
    size_t kk = (size_t)r.K * (size_t)r.K;
    for (int t = 0; t < r.nmeasures && rc < 0; t++) {
        r.sim[t] = calloc(kk ? kk : 1, sizeof(double));
        r.dist[t] = calloc(kk ? kk : 1, sizeof(double));
        if (!r.sim[t] || !r.dist[t])
            rc = cli_error(EXIT_DATA, "out of memory");
    }
    rc = par_agree(rc);
    if (rc < 0)
        rc = compute_distances(&v, &a.m);
    if (rc < 0)
        mx_drop_failed_measures(&r);
    if (rc < 0 && par_rank() > 0)
        rc = 0; /* rank 0 tests and writes */
    if (rc < 0 && r.nmeasures == 0)
        rc = EXIT_DATA; /* every measure undefined: the errors said it */
    if (rc < 0)
        rc = run_tests(&v);
    if (rc < 0) {
        mx_collect_warnings(&r);
        rc = validate_print(&v, a.m.format);
        if (rc == 0 && a.m.outdir)
            rc = validate_write_dir(&v, a.m.outdir);
        if (rc == 0 && r.nerrors)
            rc = EXIT_DATA; /* some measure was left out */
    }
    if (made_dir && rc != 0)
        rmdir(a.m.outdir); /* made for this run and (if nothing was written) empty */
    for (int g = 0; g < v.nfam; g++)
        free(v.fam[g].rows);
    free(v.fam);
    free(v.score);
    for (int t = 0; t < r.nmeasures; t++) {
        free(r.sim[t]);
        free(r.dist[t]);
    }
    for (int i = 0; r.in && i < r.K; i++)
        free(r.in[i].spec);
    free(r.in);
    free(r.groups);
    free(r.layers);
    manifest_free(&r.man);
    cli_layout_free(&a.m.layout);
    return rc;
}
