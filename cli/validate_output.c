/*
 * validate_output.c: what `simrep validate` writes: the table (one line per
 * measure and reference, then the ranking), the JSON document, the long CSV
 * (one line per row and measure), and with -o DIR the same JSON and CSVs
 * as files, the figures and DIR/index.html.
 *
 * Figures are drawn by the library's renderer (simrep_plot_scatter and
 * simrep_plot_bars, as simrep matrix -o and simrep.plot draw theirs): per
 * measure the distance to the reference against |score difference|, one
 * colour per reference, the rows named (or numbered and keyed when they do
 * not fit); and the measures' Spearman rho as bars (ranking order), with the
 * bootstrap interval when there is one reference and the per-reference
 * values as dots when there are several.  PNG copies and the page follow
 * matrix's (mx_write_png, the same CSS), so the two reports look alike.
 *
 * Every number written is finite: intervals and permutation p-values are
 * written only when they were computed.
 */
#include "validate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *score_name(const vd_run *v)
{
    return v->score_column;
}

/* ------------------------------------------------------------- JSON */

static void json_pair(FILE *f, const char *key, double lo, double hi)
{
    fprintf(f, ", ");
    json_string(f, key);
    fputs(": [", f);
    json_number(f, lo);
    fputs(", ", f);
    json_number(f, hi);
    fputc(']', f);
}

static void json_test(FILE *f, const simrep_rank_result *q)
{
    fprintf(f, "{\"rows\": %lld, \"rho\": ", (long long)q->n);
    json_number(f, q->rho);
    fputs(", \"rho_p\": ", f);
    json_number(f, q->rho_p);
    fputs(", \"tau\": ", f);
    json_number(f, q->tau);
    fputs(", \"tau_p\": ", f);
    json_number(f, q->tau_p);
    fprintf(f, ", \"tau_exact\": %s, \"bad\": %lld, \"bad_fraction\": ", q->tau_exact ? "true" : "false",
            (long long)q->bad);
    json_number(f, q->bad_fraction);
    if (q->bootstrap > 0) {
        fprintf(f, ", \"bootstrap\": %lld", (long long)q->bootstrap);
        json_pair(f, "rho_ci", q->rho_ci_low, q->rho_ci_high);
        json_pair(f, "tau_ci", q->tau_ci_low, q->tau_ci_high);
    }
    if (q->permutations > 0) {
        fprintf(f, ", \"permutations\": %lld, \"rho_permutation_p\": ", (long long)q->permutations);
        json_number(f, q->rho_perm_p);
        fputs(", \"tau_permutation_p\": ", f);
        json_number(f, q->tau_perm_p);
    }
    fputc('}', f);
}

static void write_json(FILE *f, const vd_run *v)
{
    const mx_run *r = v->r;
    fputs("{\"manifest\": ", f);
    json_string(f, r->manifest_path);
    fputs(", \"score\": ", f);
    json_string(f, score_name(v));
    fputs(", \"reference\": ", f);
    json_string(f, v->reference);
    fprintf(f, ", \"across_layers\": %s, \"n\": %lld, \"inputs\": %d, \"fraction\": ", v->across_layers ? "true" : "false",
            (long long)r->in[0].n, r->K);
    json_number(f, v->ro.fraction);
    fprintf(f, ",\n \"statistics\": {\"bootstrap\": %lld, \"permutations\": %lld, \"ci\": ", (long long)v->ro.bootstrap,
            (long long)v->ro.permutations);
    json_number(f, v->ro.ci);
    fprintf(f, ", \"seed\": %llu},\n \"measures\": [", (unsigned long long)v->ro.seed);
    for (int t = 0; t < r->nmeasures; t++) {
        fputs(t ? ", " : "", f);
        json_string(f, mx_measure_id(r, t));
    }
    fputs("],\n \"references\": [", f);
    for (int g = 0; g < v->nfam; g++) {
        const vd_family *fm = &v->fam[g];
        fputs(g ? ",\n  {" : "\n  {", f);
        fputs("\"layer\": ", f);
        if (fm->layer >= 0)
            json_string(f, vd_layer_name(v, fm));
        else
            fputs("null", f);
        fputs(", \"reference\": ", f);
        json_string(f, r->in[fm->ref].name);
        fputs(", \"score\": ", f);
        json_number(f, v->score[fm->ref]);
        fputs(",\n   \"rows\": [", f);
        for (int k = 0; k < fm->nrows; k++) {
            const int i = fm->rows[k];
            fputs(k ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
            json_string(f, r->in[i].name);
            if (r->nlayers) {
                fputs(", \"layer\": ", f);
                json_string(f, r->layers[r->in[i].layer]);
            }
            fputs(", \"score\": ", f);
            json_number(f, v->score[i]);
            fputs(", \"score_difference\": ", f);
            json_number(f, fabs(v->score[i] - v->score[fm->ref]));
            fputs(", \"distance\": {", f);
            for (int t = 0; t < r->nmeasures; t++) {
                fputs(t ? ", " : "", f);
                json_string(f, mx_measure_id(r, t));
                fputs(": ", f);
                json_number(f, vd_distance(v, t, fm, i));
            }
            fputs("}}", f);
        }
        fputs("],\n   \"tests\": {", f);
        for (int t = 0; t < r->nmeasures; t++) {
            fputs(t ? ",\n     " : "\n     ", f);
            json_string(f, mx_measure_id(r, t));
            fputs(": ", f);
            json_test(f, &fm->test[t]);
        }
        fputs("}}", f);
    }
    fputs("],\n \"summary\": {", f);
    for (int t = 0; t < r->nmeasures; t++) {
        fputs(t ? ",\n  " : "\n  ", f);
        json_string(f, mx_measure_id(r, t));
        fprintf(f, ": {\"references\": %d, \"rho\": ", v->nfam);
        json_number(f, v->mean_rho[t]);
        fputs(", \"rho_p\": ", f);
        json_number(f, v->mean_rho_p[t]);
        fputs(", \"tau\": ", f);
        json_number(f, v->mean_tau[t]);
        fputs(", \"tau_p\": ", f);
        json_number(f, v->mean_tau_p[t]);
        fputs(", \"bad_fraction\": ", f);
        json_number(f, v->mean_bad[t]);
        fputc('}', f);
    }
    fputs("},\n \"ranking\": [", f);
    for (int k = 0; k < r->nmeasures; k++) {
        fputs(k ? ", " : "", f);
        json_string(f, mx_measure_id(r, v->ranking[k]));
    }
    fputs("],\n \"warnings\": [", f);
    for (int w = 0; w < r->nwarnings; w++) {
        fputs(w ? ", " : "", f);
        json_string(f, r->warnings[w]);
    }
    fputc(']', f);
    if (r->nerrors) { /* measures left out: undefined for some pair (as matrix writes them) */
        fputs(",\n \"errors\": {", f);
        for (int e = 0; e < r->nerrors; e++) {
            fputs(e ? ", " : "", f);
            json_string(f, r->error_ids[e]);
            fputs(": ", f);
            json_string(f, r->error_msgs[e]);
        }
        fputc('}', f);
    }
    fputs("}\n", f);
}

/* -------------------------------------------------------------- CSV */

static void write_distances_csv(FILE *f, const vd_run *v)
{
    const mx_run *r = v->r;
    fputs("layer,reference,name,score,score_difference,measure,distance\n", f);
    for (int g = 0; g < v->nfam; g++) {
        const vd_family *fm = &v->fam[g];
        for (int t = 0; t < r->nmeasures; t++)
            for (int k = 0; k < fm->nrows; k++) {
                const int i = fm->rows[k];
                mx_csv_field(f, vd_layer_name(v, fm));
                fputc(',', f);
                mx_csv_field(f, r->in[fm->ref].name);
                fputc(',', f);
                mx_csv_field(f, r->in[i].name);
                fprintf(f, ",%.17g,%.17g,%s,%.17g\n", v->score[i], fabs(v->score[i] - v->score[fm->ref]),
                        mx_measure_id(r, t), vd_distance(v, t, fm, i));
            }
    }
}

static void write_tests_csv(FILE *f, const vd_run *v)
{
    const mx_run *r = v->r;
    fputs("measure,layer,reference,rows,rho,rho_p,tau,tau_p,tau_exact,bad,bad_fraction,rho_ci_low,rho_ci_high,"
          "tau_ci_low,tau_ci_high,rho_permutation_p,tau_permutation_p\n", f);
    for (int t = 0; t < r->nmeasures; t++)
        for (int g = 0; g < v->nfam; g++) {
            const vd_family *fm = &v->fam[g];
            const simrep_rank_result *q = &fm->test[t];
            fprintf(f, "%s,", mx_measure_id(r, t));
            mx_csv_field(f, vd_layer_name(v, fm));
            fputc(',', f);
            mx_csv_field(f, r->in[fm->ref].name);
            fprintf(f, ",%lld,%.17g,%.17g,%.17g,%.17g,%d,%lld,%.17g", (long long)q->n, q->rho, q->rho_p, q->tau,
                    q->tau_p, q->tau_exact, (long long)q->bad, q->bad_fraction);
            if (q->bootstrap > 0)
                fprintf(f, ",%.17g,%.17g,%.17g,%.17g", q->rho_ci_low, q->rho_ci_high, q->tau_ci_low, q->tau_ci_high);
            else
                fputs(",,,,", f);
            if (q->permutations > 0)
                fprintf(f, ",%.17g,%.17g\n", q->rho_perm_p, q->tau_perm_p);
            else
                fputs(",,\n", f);
        }
}

/* ------------------------------------------------------------ table */

static void print_table(const vd_run *v)
{
    const mx_run *r = v->r;
    char what[256];
    simrep_figure_title(NULL, NULL, NULL, r->K, r->in[0].n, what, sizeof what);
    printf("simrep validate: %s, score '%s'%s; %s samples\n", r->manifest_path, score_name(v),
           v->across_layers ? ", references against every row" : "", what + 2);
    printf("distance of each row to its reference vs |%s difference| (reference %s%s)\n\n", score_name(v),
           strcmp(v->reference, "best") == 0 ? "best: the highest score" : "as named",
           r->nlayers && !v->across_layers ? " per layer" : "");
    const int boot = v->ro.bootstrap > 0, perm = v->ro.permutations > 0;
    int wl = 5, wr = 9;
    for (int g = 0; g < v->nfam; g++) {
        int a = (int)strlen(vd_layer_name(v, &v->fam[g])), b = (int)strlen(r->in[v->fam[g].ref].name);
        wl = a > wl ? a : wl;
        wr = b > wr ? b : wr;
    }
    wl = wl > 24 ? 24 : wl, wr = wr > 28 ? 28 : wr;
    printf("%-18s %-*s %-*s %5s %7s", "measure", wl, "layer", wr, "reference", "rows", "rho");
    if (boot)
        printf(" %18s", "CI");
    printf(" %9s %7s %9s", "p(rho>0)", "tau", "p(tau>0)");
    if (perm)
        printf(" %9s %9s", "perm p", "perm p");
    printf(" %6s\n", "bad");
    for (int t = 0; t < r->nmeasures; t++)
        for (int g = 0; g < v->nfam; g++) {
            const vd_family *fm = &v->fam[g];
            const simrep_rank_result *q = &fm->test[t];
            printf("%-18s %-*.*s %-*.*s %5lld %7.3f", mx_measure_id(r, t), wl, wl, vd_layer_name(v, fm)[0] ?
                   vd_layer_name(v, fm) : "-", wr, wr, r->in[fm->ref].name, (long long)q->n, q->rho);
            if (boot) {
                char ci[40];
                if (q->bootstrap > 0)
                    snprintf(ci, sizeof ci, "[%.3f, %.3f]", q->rho_ci_low, q->rho_ci_high);
                else
                    snprintf(ci, sizeof ci, "-");
                printf(" %18s", ci);
            }
            printf(" %9.3g %7.3f %9.3g", q->rho_p, q->tau, q->tau_p);
            if (perm)
                printf(" %9.3g %9.3g", q->rho_perm_p, q->tau_perm_p);
            printf(" %6.3f\n", q->bad_fraction);
        }
    printf("\nranking by Spearman rho%s; higher: the distance follows the %s difference more closely\n",
           v->nfam > 1 ? " (mean over the references)" : "", score_name(v));
    for (int k = 0; k < r->nmeasures; k++) {
        const int t = v->ranking[k];
        printf("  %2d. %-18s rho %6.3f  tau %6.3f  bad %5.3f\n", k + 1, mx_measure_id(r, t), v->mean_rho[t],
               v->mean_tau[t], v->mean_bad[t]);
    }
    if (r->nwarnings)
        putchar('\n');
}

int validate_print(const vd_run *v, int format)
{
    const mx_run *r = v->r;
    for (int w = 0; w < r->nwarnings && format != MX_FORMAT_JSON; w++)
        cli_warning("%s", r->warnings[w]);
    if (format == MX_FORMAT_JSON)
        write_json(stdout, v);
    else if (format == MX_FORMAT_CSV)
        write_distances_csv(stdout, v);
    else
        print_table(v);
    if (fflush(stdout) != 0 || ferror(stdout))
        return cli_error(EXIT_DATA, "standard output: %s", strerror(errno ? errno : EIO));
    return 0;
}

/* ------------------------------------------------------------ -o DIR */

typedef struct vd_fig {
    char file[192];
    char *svg;
    int measure; /* -1: the ranking */
    char caption[600];
} vd_fig;

typedef struct vd_figs {
    mx_outdir *o;
    simrep_ctx *ctx;
    vd_fig items[SIMREP_MEASURE_COUNT + 1];
    int n;
    char rsvg[4096];
} vd_figs;

static void emit(vd_figs *F, const char *file, int measure, simrep_status st, simrep_figure *fig, const char *caption)
{
    if (st != SIMREP_OK) {
        cli_error(EXIT_DATA, "%s/%s: %s", F->o->dir, file, simrep_ctx_message(F->ctx));
        F->o->failed = 1;
        return;
    }
    FILE *f = mx_out_open(F->o, file);
    if (f) {
        size_t w = fwrite(fig->svg, 1, fig->len, f);
        mx_out_close(F->o, f, w != fig->len || ferror(f));
    }
    if (!F->o->failed && F->rsvg[0])
        if (mx_write_png(F->rsvg, sizeof F->rsvg, F->o->path) < 0)
            F->o->failed = 1;
    vd_fig *it = &F->items[F->n];
    if (!(it->svg = strdup(fig->svg))) {
        cli_error(EXIT_DATA, "out of memory");
        F->o->failed = 1;
    } else {
        snprintf(it->file, sizeof it->file, "%s", file);
        snprintf(it->caption, sizeof it->caption, "%s", caption);
        it->measure = measure;
        F->n++;
    }
    simrep_figure_clear(F->ctx, fig);
}

/* Distance vs score difference for measure t: every family's rows. */
static void scatter_figure(vd_figs *F, const vd_run *v, int t)
{
    const mx_run *r = v->r;
    int total = 0;
    for (int g = 0; g < v->nfam; g++)
        total += v->fam[g].nrows;
    double *x = malloc((size_t)total * sizeof *x), *y = malloc((size_t)total * sizeof *y);
    int *grp = malloc((size_t)total * sizeof *grp);
    const char **labels = malloc((size_t)total * sizeof *labels);
    const char **gnames = malloc((size_t)v->nfam * sizeof *gnames);
    char (*gbuf)[160] = malloc((size_t)v->nfam * sizeof *gbuf);
    if (!x || !y || !grp || !labels || !gnames || !gbuf) {
        cli_error(EXIT_DATA, "out of memory");
        F->o->failed = 1;
        goto out;
    }
    int k = 0;
    for (int g = 0; g < v->nfam; g++) {
        const vd_family *fm = &v->fam[g];
        if (fm->layer >= 0)
            snprintf(gbuf[g], sizeof gbuf[g], "%s (reference %s)", vd_layer_name(v, fm), r->in[fm->ref].name);
        else
            snprintf(gbuf[g], sizeof gbuf[g], "reference %s", r->in[fm->ref].name);
        gnames[g] = gbuf[g];
        for (int u = 0; u < fm->nrows; u++, k++) {
            x[k] = vd_distance(v, t, fm, fm->rows[u]);
            y[k] = fabs(v->score[fm->rows[u]] - v->score[fm->ref]);
            grp[k] = g;
            labels[k] = r->in[fm->rows[u]].name;
        }
    }
    const char *id = mx_measure_id(r, t);
    char title[300], sub[300], xl[200], yl[200], file[192], caption[600];
    const char *layer = v->nfam == 1 && v->fam[0].layer >= 0 && !v->across_layers ? vd_layer_name(v, &v->fam[0]) : NULL;
    simrep_figure_title(id, "distance vs score difference", layer, total, r->in[0].n, title, sizeof title);
    if (v->nfam == 1)
        snprintf(sub, sizeof sub, "Spearman rho %.3f (one-sided p %.2g), Kendall tau %.3f, bad fraction %.2f",
                 v->fam[0].test[t].rho, v->fam[0].test[t].rho_p, v->fam[0].test[t].tau, v->fam[0].test[t].bad_fraction);
    else
        snprintf(sub, sizeof sub, "mean over %d references: Spearman rho %.3f, Kendall tau %.3f, bad fraction %.2f",
                 v->nfam, v->mean_rho[t], v->mean_tau[t], v->mean_bad[t]);
    snprintf(xl, sizeof xl, "%s distance to the reference", id);
    snprintf(yl, sizeof yl, "|%s - the reference's|", score_name(v));
    simrep_scatter sc;
    simrep_scatter_init(&sc);
    sc.title = title;
    sc.subtitle = sub;
    sc.xlabel = xl;
    sc.ylabel = yl;
    sc.n = total;
    sc.x = x;
    sc.y = y;
    sc.labels = labels;
    sc.group = grp;
    sc.group_names = gnames;
    sc.ngroups = v->nfam;
    simrep_figure fig;
    memset(&fig, 0, sizeof fig);
    simrep_status st = simrep_plot_scatter(F->ctx, &sc, &fig);
    mx_safe_name(file, sizeof file - 16, id);
    strcat(file, "_scatter.svg");
    snprintf(caption, sizeof caption, "%s: each row's %s distance to its reference (x) against the difference of "
             "their %s (y). A measure that tracks function puts rows with larger differences further away.", id, id,
             score_name(v));
    emit(F, file, t, st, &fig, caption);
out:
    free(x), free(y), free(grp), free(labels), free(gnames), free(gbuf);
}

/* Spearman rho per measure, in ranking order. */
static void ranking_figure(vd_figs *F, const vd_run *v)
{
    const mx_run *r = v->r;
    const int M = r->nmeasures, G = v->nfam;
    const char *labels[SIMREP_MEASURE_COUNT], *notes[SIMREP_MEASURE_COUNT];
    double value[SIMREP_MEASURE_COUNT], lo[SIMREP_MEASURE_COUNT], hi[SIMREP_MEASURE_COUNT];
    const double *points[SIMREP_MEASURE_COUNT];
    int64_t npoints[SIMREP_MEASURE_COUNT];
    char notebuf[SIMREP_MEASURE_COUNT][40];
    double *pts = malloc((size_t)(M * G) * sizeof *pts);
    if (!pts) {
        cli_error(EXIT_DATA, "out of memory");
        F->o->failed = 1;
        return;
    }
    for (int k = 0; k < M; k++) {
        const int t = v->ranking[k];
        labels[k] = mx_measure_id(r, t);
        value[k] = v->mean_rho[t];
        lo[k] = hi[k] = NAN;
        if (G == 1 && v->fam[0].test[t].bootstrap > 0)
            lo[k] = v->fam[0].test[t].rho_ci_low, hi[k] = v->fam[0].test[t].rho_ci_high;
        for (int g = 0; g < G; g++)
            pts[k * G + g] = v->fam[g].test[t].rho;
        points[k] = pts + k * G;
        npoints[k] = G > 1 ? G : 0;
        snprintf(notebuf[k], sizeof notebuf[k], "p %.2g", v->mean_rho_p[t]);
        notes[k] = notebuf[k];
    }
    char title[300], sub[300], ci[80];
    snprintf(title, sizeof title, "Spearman rho of distance and |%s difference|", score_name(v));
    if (G > 1)
        snprintf(sub, sizeof sub, "bars: mean over %d references; notes: mean one-sided p", G);
    else
        snprintf(sub, sizeof sub, "reference %s; notes: one-sided p-value", r->in[v->fam[0].ref].name);
    snprintf(ci, sizeof ci, "%g%% bootstrap interval over the rows", 100 * v->ro.ci);
    simrep_bars b;
    simrep_bars_init(&b);
    b.title = title;
    b.subtitle = sub;
    b.ylabel = "Spearman rho";
    b.n = M;
    b.labels = labels;
    b.value = value;
    b.err_lo = lo;
    b.err_hi = hi;
    b.err_label = G == 1 && v->ro.bootstrap > 0 ? ci : NULL;
    b.note = notes;
    b.points = points;
    b.npoints = npoints;
    simrep_figure fig;
    memset(&fig, 0, sizeof fig);
    simrep_status st = simrep_plot_bars(F->ctx, &b, &fig);
    emit(F, "ranking.svg", -1, st, &fig, "The measures ranked by how well their distance to the reference follows "
         "the score difference (Spearman rho; 1: perfectly in order).");
    free(pts);
}

static void html_figure(FILE *f, const vd_fig *it)
{
    const char *svg = strstr(it->svg, "<svg");
    fputs("<figure>\n", f);
    fputs(svg ? svg : "", f);
    fputs("<figcaption>", f);
    mx_html_escape(f, it->caption);
    fputs(" <span class=\"file\">(", f);
    mx_html_escape(f, it->file);
    fputs(")</span></figcaption>\n</figure>\n", f);
}

static void html_write(FILE *f, const vd_run *v, const vd_figs *F)
{
    const mx_run *r = v->r;
    const char *mf = strrchr(r->manifest_path, '/');
    mf = mf ? mf + 1 : r->manifest_path;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>simrep validate: ", f);
    mx_html_escape(f, mf);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>simrep validate: ", mx_html_css());
    mx_html_escape(f, mf);
    fputs("</h1>\n<p>Which measure's distance follows the functional score <b>", f);
    mx_html_escape(f, score_name(v));
    char what[256];
    simrep_figure_title(NULL, NULL, NULL, r->K, r->in[0].n, what, sizeof what);
    fprintf(f, "</b> (Ding, Denain &amp; Steinhardt 2021): %s samples, %d reference%s. Written by simrep %s.</p>\n",
            what + 2, v->nfam, v->nfam == 1 ? "" : "s", simrep_version());
    mx_html_command_and_warnings(f, r);
    fputs("<h2 id=\"ranking\">Ranking</h2>\n<table>\n<tr><th>#</th><th class=\"l\">measure</th><th>rho</th>"
          "<th>p(rho&gt;0)</th><th>tau</th><th>p(tau&gt;0)</th><th>bad fraction</th></tr>\n", f);
    for (int k = 0; k < r->nmeasures; k++) {
        const int t = v->ranking[k];
        fprintf(f, "<tr><td>%d</td><td class=\"l\"><a href=\"#m-%s\">%s</a></td><td>%.3f</td><td>%.3g</td>"
                "<td>%.3f</td><td>%.3g</td><td>%.3f</td></tr>\n", k + 1, mx_measure_id(r, t), mx_measure_id(r, t),
                v->mean_rho[t], v->mean_rho_p[t], v->mean_tau[t], v->mean_tau_p[t], v->mean_bad[t]);
    }
    fputs("</table>\n", f);
    for (int k = 0; k < F->n; k++)
        if (F->items[k].measure < 0)
            html_figure(f, &F->items[k]);
    for (int t = 0; t < r->nmeasures; t++) {
        const simrep_measure_info *info = simrep_measure_get_info(r->measures[t]);
        fprintf(f, "<h2 id=\"m-%s\">%s: ", info->id, info->id);
        mx_html_escape(f, info->title);
        fputs("</h2>\n<table>\n<tr><th class=\"l\">layer</th><th class=\"l\">reference</th><th>rows</th><th>rho</th>"
              "<th>CI</th><th>p</th><th>tau</th><th>p</th><th>bad</th></tr>\n", f);
        for (int g = 0; g < v->nfam; g++) {
            const simrep_rank_result *q = &v->fam[g].test[t];
            fputs("<tr><td class=\"l\">", f);
            mx_html_escape(f, vd_layer_name(v, &v->fam[g]));
            fputs("</td><td class=\"l\">", f);
            mx_html_escape(f, r->in[v->fam[g].ref].name);
            fprintf(f, "</td><td>%lld</td><td>%.3f</td><td>", (long long)q->n, q->rho);
            if (q->bootstrap > 0)
                fprintf(f, "[%.3f, %.3f]", q->rho_ci_low, q->rho_ci_high);
            fprintf(f, "</td><td>%.3g</td><td>%.3f</td><td>%.3g</td><td>%.3f</td></tr>\n", q->rho_p, q->tau, q->tau_p,
                    q->bad_fraction);
        }
        fputs("</table>\n", f);
        for (int k = 0; k < F->n; k++)
            if (F->items[k].measure == t)
                html_figure(f, &F->items[k]);
    }
    fputs("<p class=\"ok\">The numbers are also in validate.json, tests.csv and distances.csv beside this page; "
          "each figure is an SVG file (and a PNG when rsvg-convert was available).</p>\n</body>\n</html>\n", f);
}

int validate_write_dir(const vd_run *v, const char *dir)
{
    int rc = mx_outdir_prepare(dir, NULL);
    if (rc >= 0)
        return rc;
    mx_outdir o;
    memset(&o, 0, sizeof o);
    o.dir = dir;
    FILE *f = mx_out_open(&o, "validate.json");
    if (f) {
        write_json(f, v);
        mx_out_close(&o, f, ferror(f));
    }
    if (!o.failed && (f = mx_out_open(&o, "distances.csv"))) {
        write_distances_csv(f, v);
        mx_out_close(&o, f, ferror(f));
    }
    if (!o.failed && (f = mx_out_open(&o, "tests.csv"))) {
        write_tests_csv(f, v);
        mx_out_close(&o, f, ferror(f));
    }
    vd_figs F;
    memset(&F, 0, sizeof F);
    F.o = &o;
    if (!o.failed && !(F.ctx = cli_ctx_new())) {
        cli_error(EXIT_DATA, "out of memory");
        o.failed = 1;
    }
    if (!o.failed && v->r->png)
        mx_find_rsvg(F.rsvg, sizeof F.rsvg);
    if (!o.failed)
        ranking_figure(&F, v);
    for (int t = 0; t < v->r->nmeasures && !o.failed; t++)
        scatter_figure(&F, v, t);
    if (!o.failed && (f = mx_out_open(&o, "index.html"))) {
        html_write(f, v, &F);
        mx_out_close(&o, f, ferror(f));
    }
    for (int k = 0; k < F.n; k++)
        free(F.items[k].svg);
    simrep_ctx_free(F.ctx);
    return o.failed ? EXIT_DATA : 0;
}
