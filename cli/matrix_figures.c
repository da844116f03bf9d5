/*
 * matrix_figures.c: the figures of `simrep matrix -o DIR` and the report
 * DIR/index.html.
 *
 * Figures are drawn by the library (simrep_plot_*: the renderer Python's
 * simrep.plot calls too, so both draw the same picture from the same
 * numbers); this file only decides what each figure shows: per measure a
 * similarity heatmap ordered by average-linkage clustering with its
 * dendrogram, the classical MDS map, and with a group column the
 * within/between bars (mean distance, +- one standard deviation of the
 * pairs, every pair as a dot); with step columns the distance of each layer
 * to its last step; with layer and group columns a layer x layer heatmap
 * per pair of groups.  Titles follow simrep_figure_title (measure, layer
 * when every input is from one, inputs and n).
 *
 * PNG copies: when rsvg-convert (Debian's librsvg2-bin) is on PATH and
 * --no-png is not given, each SVG is also converted at twice its size
 * (print resolution for a 3-inch column); a failure is a warning and stops
 * the copies, never the run, as the SVG is the figure.
 *
 * index.html is one self-contained page: inline CSS and SVG (each figure's
 * ids are unique, see simrep.h), no script, no external reference, so it
 * can be mailed or archived as one file and renders offline.  It holds the
 * command that made it (shell-quoted), the warnings, the inputs, and per
 * measure the figures, the group summary and the similarity matrix.
 */
#include "matrix.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

enum { FIG_HEATMAP, FIG_MDS, FIG_GROUPS, FIG_TRAINING, FIG_DEPTH };

typedef struct fig_item {
    char file[192];
    char *svg;        /* the document (owned) */
    int measure;      /* index into r->measures */
    int kind;
    char caption[640];
} fig_item;

typedef struct figs {
    mx_outdir *o;
    simrep_ctx *ctx;
    fig_item *items;
    int n, cap;
    char rsvg[4096];  /* rsvg-convert's path, "" when absent or after a failure */
    int pngs;
} figs;

/* rsvg-convert on PATH, into out (cap bytes); 0 if none. */
static int find_rsvg(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        return 0;
    while (*path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len + 16 < cap) {
            snprintf(out, cap, "%.*s/rsvg-convert", (int)len, path);
            if (access(out, X_OK) == 0)
                return 1;
        }
        path += len + (end ? 1 : 0);
    }
    out[0] = 0;
    return 0;
}

/* DIR/x.svg -> DIR/x.png by rsvg-convert at zoom 2, written to a
 * temporary name renamed on success (cli_file). */
static void write_png(figs *F, const char *svg_path)
{
    char png[4096];
    size_t len = strlen(svg_path);
    if (len < 4 || len >= sizeof png)
        return;
    snprintf(png, sizeof png, "%.*s.png", (int)(len - 4), svg_path);
    cli_file cf;
    if (cli_file_reserve(&cf, png) != 0) {
        F->rsvg[0] = 0; /* said why; the SVG figures go on */
        return;
    }
    char *argv[] = {F->rsvg, "--zoom", "2", "--output", cf.tmp[0] ? cf.tmp : png, (char *)svg_path, NULL};
    pid_t pid;
    int status = 0, rc = posix_spawn(&pid, F->rsvg, NULL, NULL, argv, environ);
    if (rc == 0) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        cli_warning("%s: rsvg-convert failed (%s); no more PNG copies are made (the SVG figures are complete)", png,
                    rc ? strerror(rc) : WIFEXITED(status) ? "exit status not 0" : "killed");
        cli_file_commit(&cf, -1);
        F->rsvg[0] = 0;
        return;
    }
    if (cli_file_commit(&cf, 0) != 0) {
        F->o->failed = 1;
        return;
    }
    F->pngs++;
}

/* Write one drawn figure to DIR/file (and its PNG), keeping the document
 * for index.html.  st is the drawing call's status. */
static void emit(figs *F, const char *file, int kind, int t, simrep_status st, simrep_figure *fig,
                 const char *caption)
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
        write_png(F, F->o->path);
    if (F->n == F->cap) {
        int cap = F->cap ? 2 * F->cap : 16;
        fig_item *grown = realloc(F->items, (size_t)cap * sizeof *grown);
        if (!grown) {
            simrep_figure_clear(F->ctx, fig);
            cli_error(EXIT_DATA, "out of memory");
            F->o->failed = 1;
            return;
        }
        F->items = grown;
        F->cap = cap;
    }
    fig_item *it = &F->items[F->n];
    it->svg = strdup(fig->svg);
    simrep_figure_clear(F->ctx, fig);
    if (!it->svg) {
        cli_error(EXIT_DATA, "out of memory");
        F->o->failed = 1;
        return;
    }
    snprintf(it->file, sizeof it->file, "%s", file);
    snprintf(it->caption, sizeof it->caption, "%s", caption ? caption : "");
    it->kind = kind;
    it->measure = t;
    F->n++;
}

/* A p-value as figures print it: "p = 0.003", "p < 0.001". */
static void fmt_p(char *buf, size_t cap, double p)
{
    if (p < 0.001)
        snprintf(buf, cap, "p < 0.001");
    else
        snprintf(buf, cap, "p = %.*f", p < 0.1 ? 3 : 2, p);
}

static int *group_index(const mx_run *r)
{
    int *grp = malloc((size_t)r->K * sizeof *grp);
    for (int i = 0; grp && i < r->K; i++)
        grp[i] = r->in[i].group;
    return grp;
}

static void fail_oom(figs *F)
{
    cli_error(EXIT_DATA, "out of memory");
    F->o->failed = 1;
}

/* The heatmap, MDS map and group bars of measure t. */
static void measure_figures(figs *F, const mx_run *r, const mx_views *v, int t)
{
    int K = r->K;
    const char *id = mx_measure_id(r, t);
    const simrep_measure_info *info = simrep_measure_get_info(r->measures[t]);
    const char **names = malloc((size_t)K * sizeof *names);
    int *grp = group_index(r);
    if (!names || !grp) {
        free(names), free(grp);
        fail_oom(F);
        return;
    }
    for (int i = 0; i < K; i++)
        names[i] = r->in[i].name;
    char title[512], sub[768], file[192], cap[640], scale[128], xl[96], yl[96];
    simrep_figure fig;

    simrep_heatmap hm;
    simrep_heatmap_init(&hm);
    simrep_figure_title(id, "similarity", r->layer, K, r->in[0].n, title, sizeof title);
    snprintf(sub, sizeof sub, "%s; rows ordered by average-linkage clustering of the distance (%s)", info->title,
             info->distance);
    snprintf(scale, sizeof scale, "%s similarity", id);
    hm.title = title, hm.subtitle = sub, hm.scale_label = scale;
    hm.rows = hm.cols = K, hm.values = r->sim[t], hm.ld = K;
    hm.row_labels = hm.col_labels = names;
    hm.tree = &v->tree[t], hm.self = 1;
    hm.lo = r->range_lo, hm.hi = r->range_hi;
    if (r->has_group_column)
        hm.row_group = grp, hm.group_names = r->groups, hm.ngroups = r->ngroups;
    simrep_status st = simrep_plot_heatmap(F->ctx, &hm, &fig);
    snprintf(cap, sizeof cap, "%s similarity of every pair, ordered by average-linkage clustering of the distance. "
             "Colour scale %.4g to %.4g (%s).", id, fig.lo, fig.hi,
             isnan(r->range_lo) ? "the range of the off-diagonal values; --range lo,hi sets it" : "set by --range");
    snprintf(file, sizeof file, "%s_heatmap.svg", id);
    emit(F, file, FIG_HEATMAP, t, st, &fig, cap);

    /* Each axis's share of the two axes' (positive) eigenvalues; the full
     * spectrum is not kept, so this is not a share of the total spread. */
    double e0 = fmax(0, v->mds_ev[t][0]), e1 = fmax(0, v->mds_ev[t][1]), pos = e0 + e1;
    simrep_scatter sc;
    simrep_scatter_init(&sc);
    simrep_figure_title(id, "MDS map", r->layer, K, r->in[0].n, title, sizeof title);
    snprintf(sub, sizeof sub, "classical (Torgerson) scaling of the %s distance; eigenvalues %.3g and %.3g; equal "
             "units on both axes", id, v->mds_ev[t][0], v->mds_ev[t][1]);
    snprintf(xl, sizeof xl, "MDS axis 1 (%.0f%% of the two)", pos > 0 ? 100 * e0 / pos : 0.0);
    snprintf(yl, sizeof yl, "MDS axis 2 (%.0f%% of the two)", pos > 0 ? 100 * e1 / pos : 0.0);
    sc.title = title, sc.subtitle = sub, sc.xlabel = xl, sc.ylabel = yl;
    sc.n = K, sc.x = v->mds[t], sc.y = v->mds[t] + 1;
    /* x and y are strided (K x 2): copy them out. */
    double *xs = malloc((size_t)K * sizeof *xs), *ys = malloc((size_t)K * sizeof *ys);
    if (!xs || !ys) {
        free(xs), free(ys), free(names), free(grp);
        fail_oom(F);
        return;
    }
    for (int i = 0; i < K; i++)
        xs[i] = v->mds[t][2 * i], ys[i] = v->mds[t][2 * i + 1];
    sc.x = xs, sc.y = ys, sc.labels = names, sc.equal_aspect = 1;
    if (r->has_group_column)
        sc.group = grp, sc.group_names = r->groups, sc.ngroups = r->ngroups;
    st = simrep_plot_scatter(F->ctx, &sc, &fig);
    snprintf(cap, sizeof cap, "Classical MDS of the %s distance: inputs close on the map have similar "
             "representations.%s", id, fig.numbered ? " Points are numbered as in the list beside the map." : "");
    snprintf(file, sizeof file, "%s_mds.svg", id);
    emit(F, file, FIG_MDS, t, st, &fig, cap);
    free(xs), free(ys);

    if (r->has_group_column) {
        /* With --bootstrap the error bars are the intervals of the group
         * means, with --permutations each between bar carries its group
         * test's p-value (matrix_stats.c: the same seed, the same numbers as
         * the JSON and the table). */
        mx_group_stats gst;
        if (mx_stats_compute(r, t, &gst) != 0) {
            F->o->failed = 1;
            free(names), free(grp);
            return;
        }
        const int G = r->ngroups, boot = gst.ok && r->stats.o.bootstrap > 0, perm = gst.ok && r->stats.o.permutations > 0;
        int nb = 0, nmax = r->ngroups * (r->ngroups + 1) / 2;
        char **bl = calloc((size_t)nmax, sizeof *bl);
        double *bv = calloc((size_t)nmax, sizeof *bv), *lo = calloc((size_t)nmax, sizeof *lo);
        double *hi = calloc((size_t)nmax, sizeof *hi), **pts = calloc((size_t)nmax, sizeof *pts);
        int64_t *np = calloc((size_t)nmax, sizeof *np);
        int *bc = calloc((size_t)nmax, sizeof *bc), ok = bl && bv && lo && hi && pts && np && bc;
        char **notes = calloc((size_t)nmax, sizeof *notes);
        ok = ok && notes;
        for (int part = 0; part < 2 && ok; part++)
            for (int a = 0; a < r->ngroups && ok; a++)
                for (int b = part ? a + 1 : a; b < (part ? r->ngroups : a + 1) && ok; b++) {
                    group_stat s = group_summary(K, r->dist[t], grp, a, b);
                    if (s.count == 0)
                        continue;
                    size_t len = strlen(r->groups[a]) + strlen(r->groups[b]) + 48;
                    if (!(bl[nb] = malloc(len)) || !(pts[nb] = malloc((size_t)s.count * sizeof(double)))) {
                        ok = 0;
                        nb++;
                        break;
                    }
                    if (part)
                        snprintf(bl[nb], len, "%s vs %s (%lld)", r->groups[a], r->groups[b], (long long)s.count);
                    else
                        snprintf(bl[nb], len, "within %s (%lld)", r->groups[a], (long long)s.count);
                    for (int i = 0; i < K; i++)
                        for (int j = i + 1; j < K; j++)
                            if ((grp[i] == a && grp[j] == b) || (grp[i] == b && grp[j] == a))
                                pts[nb][np[nb]++] = r->dist[t][(size_t)i * K + j];
                    bv[nb] = s.mean;
                    if (boot) {
                        const double *ci = part ? gst.between_ci + 2 * ((size_t)a * G + b) : gst.within_ci + 2 * a;
                        lo[nb] = ci[0], hi[nb] = ci[1];
                    } else {
                        lo[nb] = s.count > 1 ? s.mean - s.std : NAN;
                        hi[nb] = s.count > 1 ? s.mean + s.std : NAN;
                    }
                    for (int k = 0; perm && part && k < gst.ntests; k++)
                        if (gst.tests[k].a == a && gst.tests[k].b == b && gst.tests[k].permutations > 0 &&
                            (notes[nb] = malloc(32)))
                            fmt_p(notes[nb], 32, gst.tests[k].p_value);
                    bc[nb] = part ? -1 : a;
                    nb++;
                }
        if (ok && nb > 0) {
            simrep_bars bs;
            simrep_bars_init(&bs);
            simrep_figure_title(id, "distance within and between groups", r->layer, K, r->in[0].n, title,
                                sizeof title);
            char errl[160], all_p[32] = "";
            for (int k = 0; perm && k < gst.ntests; k++)
                if (gst.tests[k].a < 0 && gst.tests[k].permutations > 0)
                    fmt_p(all_p, sizeof all_p, gst.tests[k].p_value);
            snprintf(sub, sizeof sub, "mean %s distance over the pairs of inputs (how many in brackets); grey: "
                     "between groups", id);
            if (*all_p)
                snprintf(sub + strlen(sub), sizeof sub - strlen(sub), "; p: between - within, %lld label "
                         "permutations (all groups: %s)", (long long)r->stats.o.permutations, all_p);
            if (boot)
                snprintf(errl, sizeof errl, "%g%% interval of the mean over the inputs (%lld resamples)",
                         100 * r->stats.o.ci, (long long)r->stats.o.bootstrap);
            else
                snprintf(errl, sizeof errl, "mean \xC2\xB1 one standard deviation of the pairs");
            snprintf(yl, sizeof yl, "%s distance", id);
            bs.title = title, bs.subtitle = sub, bs.ylabel = yl;
            bs.n = nb, bs.labels = (const char *const *)bl, bs.value = bv, bs.err_lo = lo, bs.err_hi = hi;
            bs.err_label = errl, bs.note = (const char *const *)notes;
            bs.colour = bc, bs.points = (const double *const *)pts, bs.npoints = np;
            st = simrep_plot_bars(F->ctx, &bs, &fig);
            snprintf(cap, sizeof cap, "Mean %s distance within each group and between groups; error bars: %s; "
                     "dots: the pairs themselves.%s", id, errl,
                     perm ? " Above each between bar, the p-value of the group test (between - within)." : "");
            snprintf(file, sizeof file, "%s_groups.svg", id);
            emit(F, file, FIG_GROUPS, t, st, &fig, cap);
        } else if (!ok) {
            fail_oom(F);
        }
        for (int k = 0; bl && pts && notes && k < nb; k++)
            free(bl[k]), free(pts[k]), free(notes[k]);
        free(bl), free(bv), free(lo), free(hi), free(pts), free(np), free(bc), free(notes);
        mx_stats_free(&gst);
    }
    free(names), free(grp);
}

/* One line per (group, layer): the distance at each step to its last step. */
static void training_figures(figs *F, const mx_run *r, const mx_views *v)
{
    int K = r->K;
    int *start = malloc((size_t)(K + 1) * sizeof *start), *colour = malloc((size_t)K * sizeof *colour);
    int *dash = malloc((size_t)K * sizeof *dash);
    int64_t *count = malloc((size_t)K * sizeof *count);
    char **names = calloc((size_t)K, sizeof *names);
    double **xs = calloc((size_t)K, sizeof *xs), **ys = calloc((size_t)K, sizeof *ys);
    double *xbuf = malloc((size_t)K * sizeof *xbuf), *ybuf = malloc((size_t)K * sizeof *ybuf);
    int ns = 0, ok = start && colour && dash && count && names && xs && ys && xbuf && ybuf;
    for (int k = 0; k < K && ok; k++) {
        int i = v->sorted[k];
        if (k == 0 || r->in[v->sorted[k - 1]].group != r->in[i].group ||
            r->in[v->sorted[k - 1]].layer != r->in[i].layer) {
            start[ns] = k;
            count[ns] = 0;
            const char *layer = r->in[i].layer >= 0 ? r->layers[r->in[i].layer] : "input";
            size_t len = strlen(layer) + strlen(r->groups[r->in[i].group]) + 4;
            if (!(names[ns] = malloc(len))) {
                ok = 0;
                break;
            }
            if (r->has_group_column && r->ngroups > 1)
                snprintf(names[ns], len, "%s / %s", r->groups[r->in[i].group], layer);
            else
                snprintf(names[ns], len, "%s", layer);
            /* Colour: the layer (depth order); dashes: the group. */
            colour[ns] = r->in[i].layer >= 0 ? r->in[i].layer : 0;
            dash[ns] = r->ngroups > 1 ? r->in[i].group : 0;
            ns++;
        }
        count[ns - 1]++;
    }
    for (int t = 0; t < r->nmeasures && ok; t++) {
        for (int s = 0; s < ns; s++) {
            xs[s] = xbuf + start[s];
            ys[s] = ybuf + start[s];
            for (int c = 0; c < count[s]; c++) {
                int i = v->sorted[start[s] + c];
                xbuf[start[s] + c] = r->in[i].step;
                ybuf[start[s] + c] = r->dist[t][(size_t)i * K + r->final_of[i]];
            }
        }
        const char *id = mx_measure_id(r, t);
        char title[512], sub[512], yl[128], file[192], cap[640];
        simrep_figure_title(id, "distance to the last step", r->layer, K, r->in[0].n, title, sizeof title);
        snprintf(sub, sizeof sub, "each layer at each step against the same layer at its last step (lower = closer "
                 "to its final representation)");
        snprintf(yl, sizeof yl, "%s distance to final", id);
        simrep_lines ls;
        simrep_lines_init(&ls);
        ls.title = title, ls.subtitle = sub, ls.xlabel = "step", ls.ylabel = yl;
        ls.nseries = ns, ls.names = (const char *const *)names, ls.npoints = count;
        ls.x = (const double *const *)xs, ls.y = (const double *const *)ys;
        ls.colour = colour, ls.dash = dash, ls.y_from_zero = 1;
        if (r->nlayers > 0 && r->has_group_column && r->ngroups > 1) {
            /* Colours are layers, dashes groups: say so once each. */
            ls.colour_names = r->layers, ls.ncolours = r->nlayers;
            ls.dash_names = r->groups, ls.ndashes = r->ngroups;
        }
        simrep_figure fig;
        simrep_status st = simrep_plot_lines(F->ctx, &ls, &fig);
        snprintf(cap, sizeof cap, "Training dynamics: the %s distance of each layer to the same layer at its last "
                 "step; colours are layers, dash patterns groups.", id);
        snprintf(file, sizeof file, "%s_training.svg", id);
        emit(F, file, FIG_TRAINING, t, st, &fig, cap);
    }
    if (!ok)
        fail_oom(F);
    for (int s = 0; names && s < ns; s++)
        free(names[s]);
    free(start), free(colour), free(dash), free(count), free(names), free(xs), free(ys), free(xbuf), free(ybuf);
}

/* A layer x layer heatmap per measure and pair of groups. */
static void depth_figures(figs *F, const mx_run *r)
{
    int K = r->K;
    int *ra = malloc((size_t)K * sizeof *ra), *rb = malloc((size_t)K * sizeof *rb);
    const char **la = malloc((size_t)K * sizeof *la), **lb = malloc((size_t)K * sizeof *lb);
    double *vals = malloc((size_t)K * K * sizeof *vals);
    if (!ra || !rb || !la || !lb || !vals) {
        fail_oom(F);
        free(ra), free(rb), free(la), free(lb), free(vals);
        return;
    }
    char nbuf[40];
    snprintf(nbuf, sizeof nbuf, "%lld", (long long)r->in[0].n);
    for (int t = 0; t < r->nmeasures && !F->o->failed; t++)
        for (int a = 0; a < r->ngroups; a++)
            for (int b = a + 1; b < r->ngroups; b++) {
                int na = mx_depth_rows(r, a, ra), nb = mx_depth_rows(r, b, rb);
                for (int x = 0; x < na; x++) {
                    la[x] = r->layers[r->in[ra[x]].layer];
                    for (int y = 0; y < nb; y++)
                        vals[(size_t)x * nb + y] = r->sim[t][(size_t)ra[x] * K + rb[y]];
                }
                for (int y = 0; y < nb; y++)
                    lb[y] = r->layers[r->in[rb[y]].layer];
                const char *id = mx_measure_id(r, t);
                char title[512], sub[512], file[256], scale[128], cap[640], ga[64], gb[64];
                char what[300];
                snprintf(what, sizeof what, "similarity by layer, %s (rows) vs %s (columns)", r->groups[a],
                         r->groups[b]);
                simrep_figure_title(id, what, NULL, 0, r->in[0].n, title, sizeof title);
                snprintf(sub, sizeof sub, "%s; layers in manifest order",
                         simrep_measure_get_info(r->measures[t])->title);
                snprintf(scale, sizeof scale, "%s similarity", id);
                simrep_heatmap hm;
                simrep_heatmap_init(&hm);
                hm.title = title, hm.subtitle = sub, hm.scale_label = scale;
                hm.rows = na, hm.cols = nb, hm.values = vals, hm.ld = nb, hm.row_labels = la, hm.col_labels = lb;
                hm.lo = r->range_lo, hm.hi = r->range_hi;
                simrep_figure fig;
                simrep_status st = simrep_plot_heatmap(F->ctx, &hm, &fig);
                snprintf(cap, sizeof cap, "%s similarity of every layer of %s (rows) with every layer of %s "
                         "(columns); colour scale %.4g to %.4g.", id, r->groups[a], r->groups[b], fig.lo, fig.hi);
                mx_safe_name(ga, sizeof ga, r->groups[a]);
                mx_safe_name(gb, sizeof gb, r->groups[b]);
                snprintf(file, sizeof file, "%s_depth_%s_vs_%s.svg", id, ga, gb);
                emit(F, file, FIG_DEPTH, t, st, &fig, cap);
            }
    free(ra), free(rb), free(la), free(lb), free(vals);
}

/* ------------------------------------------------------------ the page */

static void html_escape(FILE *f, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const int len = simrep_utf8_length((const char *)c);
        if (len != 1) { /* the page is UTF-8: a byte that is not is shown as U+FFFD */
            fwrite(len ? (const char *)c : "\xef\xbf\xbd", 1, len ? (size_t)len : 3, f);
            c += len ? len - 1 : 0;
            continue;
        }
        switch (*c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (*c >= 0x20 || *c == '\t' || *c == '\n')
                fputc(*c, f);
        }
    }
}

/* An argument as a POSIX shell would need it: bare when it is made of
 * safe characters, else single-quoted. */
static void shell_word(FILE *f, const char *s)
{
    int plain = *s != 0;
    for (const char *c = s; *c && plain; c++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,@%+-", *c) != NULL;
    if (plain) {
        html_escape(f, s);
        return;
    }
    fputc('\'', f);
    for (const char *c = s; *c; c++) {
        if (*c == '\'')
            fputs("'\\''", f);
        else {
            char one[2] = {*c, 0};
            html_escape(f, one);
        }
    }
    fputc('\'', f);
}

/* The figure inline: the document without its XML declaration. */
static void html_figure(FILE *f, const fig_item *it)
{
    const char *svg = strstr(it->svg, "<svg");
    fputs("<figure>\n", f);
    fputs(svg ? svg : "", f);
    fputs("<figcaption>", f);
    html_escape(f, it->caption);
    fputs(" <span class=\"file\">(", f);
    html_escape(f, it->file);
    fputs(")</span></figcaption>\n</figure>\n", f);
}

static void html_name(FILE *f, const char *s, int chars)
{
    char buf[4 * 64 + 8];
    simrep_elide(s, chars, buf, sizeof buf);
    if (strcmp(buf, s) == 0) {
        html_escape(f, s);
        return;
    }
    fputs("<span title=\"", f);
    html_escape(f, s);
    fputs("\">", f);
    html_escape(f, buf);
    fputs("</span>", f);
}

static const char css[] =
    "body{font-family:Helvetica,Arial,'Liberation Sans',sans-serif;color:#222;max-width:1280px;margin:24px auto;"
    "padding:0 16px;line-height:1.4}\n"
    "h1{font-size:22px;margin-bottom:4px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}"
    "h3{font-size:15px}\n"
    "pre{background:#f4f4f4;padding:8px 12px;overflow-x:auto;white-space:pre-wrap;word-break:break-all}\n"
    "table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{padding:2px 8px;border-bottom:1px solid #e2e2e2;"
    "text-align:right;white-space:nowrap}th{background:#f4f4f4}td.l,th.l{text-align:left}\n"
    ".warn{background:#fff6e6;border-left:4px solid #E69F00;padding:6px 12px}.ok{color:#555}\n"
    "figure{margin:16px 0}figure svg{max-width:100%;height:auto;display:block}"
    "figcaption{font-size:13px;color:#444;max-width:900px}.file{color:#888}\n"
    ".scroll{overflow-x:auto}nav a{margin-right:12px}\n";

/* The group summary of measure t, with the intervals (--bootstrap) and the
 * group tests (--permutations) when they were asked for. */
static void html_groups(FILE *f, const mx_run *r, int t, const int *grp)
{
    const int K = r->K, G = r->ngroups;
    mx_group_stats gst;
    if (mx_stats_compute(r, t, &gst) != 0)
        memset(&gst, 0, sizeof gst);
    const int boot = gst.ok && r->stats.o.bootstrap > 0, perm = gst.ok && r->stats.o.permutations > 0;
    fputs("<h3>Group summary</h3>\n<table>\n<tr><th class=\"l\"></th><th class=\"l\">groups</th>"
          "<th>mean distance</th><th>std</th><th>pairs</th>", f);
    if (boot)
        fprintf(f, "<th>%g%% interval</th>", 100 * r->stats.o.ci);
    if (perm)
        fputs("<th>between - within</th><th>p</th>", f);
    fputs("</tr>\n", f);
    for (int a = 0; a < G; a++)
        for (int b = a; b < G; b++) {
            group_stat s = group_summary(K, r->dist[t], grp, a, b);
            if (s.count == 0)
                continue;
            fprintf(f, "<tr><td class=\"l\">%s</td><td class=\"l\">", a == b ? "within" : "between");
            html_escape(f, r->groups[a]);
            if (a != b) {
                fputs(" vs ", f);
                html_escape(f, r->groups[b]);
            }
            fprintf(f, "</td><td>%.4f</td><td>%.4f</td><td>%lld</td>", s.mean, s.std, (long long)s.count);
            if (boot) {
                const double *ci = a == b ? gst.within_ci + 2 * a : gst.between_ci + 2 * ((size_t)a * G + b);
                if (isfinite(ci[0]) && isfinite(ci[1]))
                    fprintf(f, "<td>[%.4f, %.4f]</td>", ci[0], ci[1]);
                else
                    fputs("<td></td>", f);
            }
            if (perm) {
                const simrep_group_test *tt = NULL;
                for (int k = 0; a != b && k < gst.ntests; k++)
                    if (gst.tests[k].a == a && gst.tests[k].b == b && gst.tests[k].permutations > 0)
                        tt = &gst.tests[k];
                if (tt)
                    fprintf(f, "<td>%.4f</td><td>%s%.3f</td>", tt->statistic, tt->p_value < 0.001 ? "&lt; " : "",
                            tt->p_value < 0.001 ? 0.001 : tt->p_value);
                else
                    fputs("<td></td><td></td>", f);
            }
            fputs("</tr>\n", f);
        }
    for (int k = 0; perm && k < gst.ntests; k++)
        if (gst.tests[k].a < 0 && gst.tests[k].permutations > 0) {
            double pv = gst.tests[k].p_value;
            fprintf(f, "<tr><td class=\"l\">all groups</td><td class=\"l\"></td><td></td><td></td><td></td>%s"
                    "<td>%.4f</td><td>%s%.3f</td></tr>\n", boot ? "<td></td>" : "", gst.tests[k].statistic,
                    pv < 0.001 ? "&lt; " : "", pv < 0.001 ? 0.001 : pv);
        }
    fputs("</table>\n", f);
    if (perm)
        fprintf(f, "<p class=\"ok\">Group tests: between - within mean distance against %lld relabellings of "
                "the inputs (seed %llu); p = (1 + #{null &gt;= observed}) / (1 + permutations).</p>\n",
                (long long)r->stats.o.permutations, (unsigned long long)r->stats.o.seed);
    mx_stats_free(&gst);
}

static void html_write(FILE *f, const mx_run *r, const figs *F)
{
    int K = r->K;
    const char *mf = strrchr(r->manifest_path, '/');
    mf = mf ? mf + 1 : r->manifest_path;
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>simrep matrix: ", f);
    html_escape(f, mf);
    fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>simrep matrix: ", css);
    html_escape(f, mf);
    fputs("</h1>\n<p>", f);
    char what[256];
    simrep_figure_title(NULL, NULL, NULL, K, r->in[0].n, what, sizeof what);
    fprintf(f, "%s samples, %d pairs", what + 2, K * (K - 1) / 2);
    if (r->layer[0]) {
        fputs(", layer ", f);
        html_escape(f, r->layer);
    }
    fputs("; measures:", f);
    for (int t = 0; t < r->nmeasures; t++)
        fprintf(f, "%s <a href=\"#m-%s\">%s</a>", t ? "," : "", mx_measure_id(r, t), mx_measure_id(r, t));
    fprintf(f, ". Written by simrep %s.</p>\n", simrep_version());

    mx_html_command_and_warnings(f, r);

    fputs("<h2 id=\"inputs\">Inputs</h2>\n<div class=\"scroll\"><table>\n<tr><th>#</th><th class=\"l\">name</th>"
          "<th class=\"l\">group</th>", f);
    if (r->nlayers)
        fputs("<th class=\"l\">layer</th>", f);
    if (r->training)
        fputs("<th>step</th>", f);
    fputs("<th class=\"l\">path</th><th>features</th><th>kept</th></tr>\n", f);
    for (int i = 0; i < K; i++) {
        fprintf(f, "<tr><td>%d</td><td class=\"l\">", i + 1);
        html_escape(f, r->in[i].name);
        fputs("</td><td class=\"l\">", f);
        html_escape(f, r->groups[r->in[i].group]);
        fputs("</td>", f);
        if (r->nlayers) {
            fputs("<td class=\"l\">", f);
            html_escape(f, r->in[i].layer >= 0 ? r->layers[r->in[i].layer] : "");
            fputs("</td>", f);
        }
        if (r->training)
            fprintf(f, "<td>%g</td>", r->in[i].step);
        fputs("<td class=\"l\">", f);
        html_escape(f, r->in[i].spec);
        fprintf(f, "</td><td>%lld</td><td>", (long long)r->in[i].p);
        if (r->in[i].kept >= 0)
            fprintf(f, "%lld", (long long)r->in[i].kept);
        fputs("</td></tr>\n", f);
    }
    fputs("</table></div>\n", f);

    int *grp = group_index(r);
    for (int t = 0; t < r->nmeasures; t++) {
        const simrep_measure_info *info = simrep_measure_get_info(r->measures[t]);
        fprintf(f, "<h2 id=\"m-%s\">%s: ", info->id, info->id);
        html_escape(f, info->title);
        fputs("</h2>\n<p>Similarity: ", f);
        html_escape(f, info->similarity);
        fputs(". Distance: ", f);
        html_escape(f, info->distance);
        fputs(".</p>\n", f);
        for (int k = 0; k < F->n; k++)
            if (F->items[k].measure == t && F->items[k].kind == FIG_HEATMAP)
                html_figure(f, &F->items[k]);
        if (r->has_group_column && grp)
            html_groups(f, r, t, grp);
        for (int kind = FIG_MDS; kind <= FIG_DEPTH; kind++)
            for (int k = 0; k < F->n; k++)
                if (F->items[k].measure == t && F->items[k].kind == kind)
                    html_figure(f, &F->items[k]);
        fprintf(f, "<details%s><summary>%s similarity matrix (manifest order)</summary>\n<div class=\"scroll\">"
                "<table>\n<tr><th></th>", K <= 12 ? " open" : "", info->id);
        for (int j = 0; j < K; j++) {
            fputs("<th>", f);
            html_name(f, r->in[j].name, 16);
            fputs("</th>", f);
        }
        fputs("</tr>\n", f);
        for (int i = 0; i < K; i++) {
            fputs("<tr><th class=\"l\">", f);
            html_name(f, r->in[i].name, 32);
            fputs("</th>", f);
            for (int j = 0; j < K; j++)
                fprintf(f, "<td>%.4f</td>", r->sim[t][(size_t)i * K + j]);
            fputs("</tr>\n", f);
        }
        fputs("</table></div>\n</details>\n", f);
    }
    free(grp);
    fputs("<p class=\"ok\">The numbers are also in the CSV files beside this page; each figure is an SVG file "
          "(and a PNG when rsvg-convert was available).</p>\n</body>\n</html>\n", f);
}

void matrix_write_figures(mx_outdir *o, const mx_run *r, const mx_views *v)
{
    figs F;
    memset(&F, 0, sizeof F);
    F.o = o;
    if (!(F.ctx = cli_ctx_new())) {
        cli_error(EXIT_DATA, "out of memory");
        o->failed = 1;
        return;
    }
    if (r->png)
        find_rsvg(F.rsvg, sizeof F.rsvg);
    for (int t = 0; t < r->nmeasures && !o->failed; t++)
        measure_figures(&F, r, v, t);
    if (r->training && !o->failed)
        training_figures(&F, r, v);
    if (r->depth && !o->failed)
        depth_figures(&F, r);
    if (!o->failed) {
        FILE *f = mx_out_open(o, "index.html");
        if (f) {
            html_write(f, r, &F);
            mx_out_close(o, f, ferror(f));
        }
    }
    for (int k = 0; k < F.n; k++)
        free(F.items[k].svg);
    free(F.items);
    simrep_ctx_free(F.ctx);
}

/* ------------------------------------------ shared with validate_output.c */

int mx_find_rsvg(char *out, size_t cap)
{
    return find_rsvg(out, cap);
}

int mx_write_png(char *rsvg, size_t cap, const char *svg_path)
{
    figs F;
    mx_outdir o;
    memset(&F, 0, sizeof F);
    memset(&o, 0, sizeof o);
    F.o = &o;
    snprintf(F.rsvg, sizeof F.rsvg, "%s", rsvg);
    write_png(&F, svg_path);
    snprintf(rsvg, cap, "%s", F.rsvg);
    return o.failed ? -1 : F.pngs;
}

void mx_html_escape(FILE *f, const char *s)
{
    html_escape(f, s);
}

void mx_html_command_and_warnings(FILE *f, const mx_run *r)
{
    fputs("<h2 id=\"command\">Command</h2>\n<pre>", f);
    fputs("simrep", f); /* argv[0] is the subcommand */
    for (int i = 0; i < r->argc; i++) {
        fputc(' ', f);
        shell_word(f, r->argv[i]);
    }
    fputs("</pre>\n", f);
    fputs("<h2 id=\"warnings\">Warnings</h2>\n", f);
    if (r->nwarnings == 0)
        fputs("<p class=\"ok\">None.</p>\n", f);
    else {
        fputs("<ul class=\"warn\">\n", f);
        for (int w = 0; w < r->nwarnings; w++) {
            fputs("<li>", f);
            html_escape(f, r->warnings[w]);
            fputs("</li>\n", f);
        }
        fputs("</ul>\n", f);
    }
}

const char *mx_html_css(void)
{
    return css;
}
