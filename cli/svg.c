/*
 * svg.c: SVG chart writers for `simrep matrix` (see svg.h for what each
 * draws).
 *
 * Layout is computed, not configured: the cell size of a heatmap shrinks
 * with the number of rows down to 14 px (40 rows fit a 560 px square), the
 * font follows the cell (9 to 12 px), margins are measured from the
 * longest label with an average glyph width of 0.6 em (a safe upper bound
 * for sans-serif text), and column labels turn by 45 degrees when they do
 * not fit their column.  Every heatmap cell carries a <title> so a browser
 * shows the exact value on hover; cells of 30 px or more also print it.
 *
 * Rejected: writing through a plotting library (gnuplot, matplotlib), a
 * dependency the C tool does not otherwise need, and a generic scene
 * graph; four direct writers are shorter than either.
 */
#include "svg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FONT "font-family=\"Helvetica, Arial, sans-serif\""

void svg_escape(FILE *f, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            /* XML 1.0 forbids most control characters even escaped. */
            if (*c >= 0x20 || *c == '\t')
                fputc(*c, f);
        }
    }
}

/* Okabe & Ito (2008), "Color Universal Design", reordered so the first
 * colours are the most distinct on white. */
static const char *palette[8] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                 "#CC79A7", "#56B4E9", "#F0E442", "#000000"};

const char *svg_group_colour(int g)
{
    return palette[(g < 0 ? 0 : g) % 8];
}

/* viridis (matplotlib) at 0, 1/8, ..., 1; linear in between. */
static const unsigned char viridis[9][3] = {
    {0x44, 0x01, 0x54}, {0x47, 0x2d, 0x7b}, {0x3b, 0x52, 0x8b}, {0x2c, 0x72, 0x8e}, {0x21, 0x91, 0x8c},
    {0x28, 0xae, 0x80}, {0x5e, 0xc9, 0x62}, {0xad, 0xdc, 0x30}, {0xfd, 0xe7, 0x25}};

void svg_scale_colour(double t, char out[8])
{
    if (!(t > 0))
        t = 0;
    if (t > 1)
        t = 1;
    double u = t * 8;
    int k = (int)u;
    if (k > 7)
        k = 7;
    double w = u - k;
    int rgb[3];
    for (int c = 0; c < 3; c++)
        rgb[c] = (int)lround(viridis[k][c] * (1 - w) + viridis[k + 1][c] * w);
    snprintf(out, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

/* Characters (not bytes) of UTF-8 text. */
static int text_chars(const char *s)
{
    int n = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        n += (*c & 0xC0) != 0x80;
    return n;
}

static double text_width(const char *s, double font)
{
    return 0.6 * font * text_chars(s);
}

static double max_width(const char *const *labels, int n, double font)
{
    double w = 0;
    for (int i = 0; i < n; i++)
        w = fmax(w, text_width(labels[i], font));
    return w;
}

static void text(FILE *f, double x, double y, double size, const char *anchor, double rotate, const char *extra,
                 const char *s)
{
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"%s\"", x, y, size, anchor);
    if (rotate != 0)
        fprintf(f, " transform=\"rotate(%.0f %.1f %.1f)\"", rotate, x, y);
    if (extra)
        fprintf(f, " %s", extra);
    fputc('>', f);
    svg_escape(f, s);
    fputs("</text>\n", f);
}

static void begin(FILE *f, double w, double h, const char *title, const char *subtitle)
{
    /* Wide enough for the title (bold: a little wider than 0.6 em) and subtitle. */
    w = fmax(w, fmax(32 + 1.1 * text_width(title ? title : "", 16), 32 + text_width(subtitle ? subtitle : "", 12)));
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
               FONT ">\n<title>", w, h, w, h);
    svg_escape(f, title ? title : "");
    fprintf(f, "</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    text(f, 16, 26, 16, "start", 0, "font-weight=\"bold\"", title ? title : "");
    if (subtitle && *subtitle)
        text(f, 16, 44, 12, "start", 0, "fill=\"#444\"", subtitle);
}

static int end(FILE *f)
{
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}

/* Tick values at 1, 2 or 5 x 10^k covering [lo, hi]; returns the count. */
static int nice_ticks(double lo, double hi, double *ticks, int cap)
{
    if (!(hi > lo)) {
        ticks[0] = lo;
        return 1;
    }
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), step = mag;
    if (raw / mag > 5)
        step = 10 * mag;
    else if (raw / mag > 2)
        step = 5 * mag;
    else if (raw / mag > 1)
        step = 2 * mag;
    int n = 0;
    for (double t = ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step && n < cap; t += step)
        ticks[n++] = fabs(t) < 1e-12 * step ? 0.0 : t;
    return n;
}

static void fmt_value(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.3g", v);
}

/* Tick labels are round numbers: all their digits, up to 6. */
static void fmt_tick(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, "%.6g", v);
}

/* ------------------------------------------------------------- heatmap */

int svg_heatmap(FILE *f, const svg_heatmap_spec *s)
{
    int R = s->rows, C = s->cols, big = R > C ? R : C;
    double cell = fmin(40, fmax(14, 560.0 / (big ? big : 1)));
    double font = fmin(12, fmax(9, cell * 0.72));
    double dendro = s->tree ? 140 : 0, strip = s->row_group ? 12 : 0;
    double rlab = max_width(s->row_labels, R, font) + 10;
    double clab_w = max_width(s->col_labels, C, font);
    int rotate = clab_w > cell - 2;
    double bottom = rotate ? clab_w * 0.71 + font + 16 : font + 16;
    double x0 = 16 + dendro + strip, y0 = 60;
    double legend_x = x0 + C * cell + rlab + 16;
    double legend_h = fmin(R * cell, 240);
    double width = legend_x + 90;
    if (s->row_group && s->group_names)
        width = fmax(width, legend_x + 20 + max_width(s->group_names, s->ngroups, 11) + 20);
    double height = y0 + R * cell + bottom + 10;
    height = fmax(height, y0 + legend_h + 40 + (s->row_group ? 18.0 * s->ngroups + 20 : 0));
    begin(f, width, height, s->title, s->subtitle);
    double span = s->vmax > s->vmin ? s->vmax - s->vmin : 1;

    for (int i = 0; i < R; i++)
        for (int j = 0; j < C; j++) {
            double v = s->values[(size_t)i * C + j];
            char col[8], val[32];
            svg_scale_colour((v - s->vmin) / span, col);
            fmt_value(val, sizeof val, v);
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", x0 + j * cell,
                    y0 + i * cell, cell, cell, col);
            svg_escape(f, s->row_labels[i]);
            fputs(" vs ", f);
            svg_escape(f, s->col_labels[j]);
            fprintf(f, ": %.6g</title></rect>\n", v);
            if (cell >= 30) {
                double t = (v - s->vmin) / span;
                char extra[64];
                snprintf(extra, sizeof extra, "fill=\"%s\"", t > 0.6 ? "black" : "white");
                text(f, x0 + (j + 0.5) * cell, y0 + (i + 0.5) * cell + font * 0.35, fmin(font, cell * 0.3), "middle",
                     0, extra, val);
            }
        }
    for (int i = 0; i < R; i++)
        text(f, x0 + C * cell + 5, y0 + (i + 0.5) * cell + font * 0.35, font, "start", 0, NULL, s->row_labels[i]);
    for (int j = 0; j < C; j++) {
        double cx = x0 + (j + 0.5) * cell, cy = y0 + R * cell + font + 4;
        if (rotate)
            text(f, cx + font * 0.3, y0 + R * cell + 6, font, "end", -45, NULL, s->col_labels[j]);
        else
            text(f, cx, cy, font, "middle", 0, NULL, s->col_labels[j]);
    }
    if (s->row_group)
        for (int i = 0; i < R; i++)
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"%.1f\" fill=\"%s\"/>\n", x0 - strip,
                    y0 + i * cell, cell, svg_group_colour(s->row_group[i]));

    if (s->tree && s->tree->leaves > 1) {
        int K = s->tree->leaves;
        double *pos = malloc((size_t)(2 * K) * sizeof *pos), *hgt = malloc((size_t)(2 * K) * sizeof *hgt);
        if (!pos || !hgt) {
            free(pos), free(hgt);
            return -1;
        }
        for (int k = 0; k < K; k++) {
            pos[s->order[k]] = y0 + (k + 0.5) * cell;
            hgt[s->order[k]] = 0;
        }
        double hmax = 0;
        for (int m = 0; m < K - 1; m++)
            hmax = fmax(hmax, s->tree->height[m]);
        if (!(hmax > 0))
            hmax = 1;
        double right = x0 - strip - 4, left = 16, w = right - left;
#define HX(h) (right - fmax(0.0, (h)) / hmax * w)
        fputs("<g stroke=\"#333\" stroke-width=\"1\" fill=\"none\">\n", f);
        for (int m = 0; m < K - 1; m++) {
            int a = s->tree->left[m], b = s->tree->right[m];
            double h = s->tree->height[m];
            pos[K + m] = 0.5 * (pos[a] + pos[b]);
            hgt[K + m] = h;
            fprintf(f, "<path d=\"M%.1f %.1fH%.1fV%.1fH%.1f\"/>\n", HX(hgt[a]), pos[a], HX(h), pos[b], HX(hgt[b]));
        }
        fputs("</g>\n", f);
        char lab[64];
        snprintf(lab, sizeof lab, "linkage height (max %.3g)", hmax);
        text(f, left, y0 - 6, 10, "start", 0, "fill=\"#444\"", lab);
#undef HX
        free(pos);
        free(hgt);
    }

    /* The colour legend: a vertical viridis bar with ticks. */
    fputs("<defs><linearGradient id=\"scale\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n", f);
    for (int k = 0; k <= 8; k++) {
        char col[8];
        svg_scale_colour(k / 8.0, col);
        fprintf(f, "<stop offset=\"%.3f\" stop-color=\"%s\"/>\n", k / 8.0, col);
    }
    fputs("</linearGradient></defs>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"url(#scale)\" stroke=\"#333\"/>\n",
            legend_x, y0, legend_h);
    double ticks[16];
    int nt = nice_ticks(s->vmin, s->vmax, ticks, 16);
    for (int k = 0; k < nt; k++) {
        double y = y0 + legend_h - (ticks[k] - s->vmin) / span * legend_h;
        char lab[32];
        fmt_tick(lab, sizeof lab, ticks[k]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", legend_x + 14, y,
                legend_x + 18, y);
        text(f, legend_x + 21, y + 4, 10, "start", 0, NULL, lab);
    }
    text(f, legend_x, y0 + legend_h + 16, 11, "start", 0, NULL, s->scale_label ? s->scale_label : "");
    if (s->row_group && s->group_names)
        for (int g = 0; g < s->ngroups; g++) {
            double y = y0 + legend_h + 36 + 18 * g;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>\n", legend_x, y - 9,
                    svg_group_colour(g));
            text(f, legend_x + 14, y, 11, "start", 0, NULL, s->group_names[g]);
        }
    return end(f);
}

/* ---------------------------------------------------------------- axes */

typedef struct axes {
    double x0, y0, w, h;        /* plot area */
    double xlo, xhi, ylo, yhi;  /* data ranges */
} axes;

static double ax_x(const axes *a, double v)
{
    return a->x0 + (v - a->xlo) / (a->xhi - a->xlo) * a->w;
}

static double ax_y(const axes *a, double v)
{
    return a->y0 + a->h - (v - a->ylo) / (a->yhi - a->ylo) * a->h;
}

static void pad_range(double *lo, double *hi, double frac)
{
    if (!(*hi > *lo)) {
        double c = *lo;
        *lo = c - 1;
        *hi = c + 1;
        return;
    }
    double pad = (*hi - *lo) * frac;
    *lo -= pad;
    *hi += pad;
}

static void draw_axes(FILE *f, const axes *a, const char *xlabel, const char *ylabel, int xticks)
{
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", a->x0,
            a->y0, a->w, a->h);
    double t[32];
    int n = nice_ticks(a->ylo, a->yhi, t, 32);
    for (int k = 0; k < n; k++) {
        double y = ax_y(a, t[k]);
        char lab[32];
        fmt_tick(lab, sizeof lab, t[k]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", a->x0, y, a->x0 + a->w,
                y);
        text(f, a->x0 - 6, y + 4, 11, "end", 0, NULL, lab);
    }
    if (xticks) {
        n = nice_ticks(a->xlo, a->xhi, t, 32);
        for (int k = 0; k < n; k++) {
            double x = ax_x(a, t[k]);
            char lab[32];
            fmt_tick(lab, sizeof lab, t[k]);
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", x, a->y0, x,
                    a->y0 + a->h);
            text(f, x, a->y0 + a->h + 16, 11, "middle", 0, NULL, lab);
        }
    }
    if (xlabel)
        text(f, a->x0 + a->w / 2, a->y0 + a->h + (xticks ? 36 : 20), 12, "middle", 0, NULL, xlabel);
    if (ylabel)
        text(f, a->x0 - 48, a->y0 + a->h / 2, 12, "middle", -90, NULL, ylabel);
}

static void group_legend(FILE *f, double x, double y, const char *const *names, int n)
{
    for (int g = 0; g < n; g++) {
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", x + 5, y + 18 * g - 4,
                svg_group_colour(g));
        text(f, x + 14, y + 18 * g, 11, "start", 0, NULL, names[g]);
    }
}

/* ------------------------------------------------------------- scatter */

int svg_scatter(FILE *f, const svg_scatter_spec *s)
{
    double lw = s->group_names ? max_width(s->group_names, s->ngroups, 11) + 40 : 0;
    axes a = {70, 60, 480, 480, 0, 0, 0, 0};
    for (int i = 0; i < s->n; i++) {
        if (i == 0 || s->x[i] < a.xlo) a.xlo = s->x[i];
        if (i == 0 || s->x[i] > a.xhi) a.xhi = s->x[i];
        if (i == 0 || s->y[i] < a.ylo) a.ylo = s->y[i];
        if (i == 0 || s->y[i] > a.yhi) a.yhi = s->y[i];
    }
    pad_range(&a.xlo, &a.xhi, 0.12);
    pad_range(&a.ylo, &a.yhi, 0.08);
    double width = a.x0 + a.w + 20 + lw, height = a.y0 + a.h + 50;
    height = fmax(height, a.y0 + 18.0 * s->ngroups + 20);
    begin(f, width, height, s->title, s->subtitle);
    draw_axes(f, &a, s->xlabel, s->ylabel, 1);
    double font = s->n > 30 ? 9 : 10;
    for (int i = 0; i < s->n; i++) {
        double x = ax_x(&a, s->x[i]), y = ax_y(&a, s->y[i]);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\" stroke=\"white\"><title>", x, y,
                svg_group_colour(s->group ? s->group[i] : 0));
        svg_escape(f, s->labels[i]);
        fputs("</title></circle>\n", f);
        text(f, x + 7, y - 5, font, "start", 0, "fill=\"#333\"", s->labels[i]);
    }
    if (s->group_names && s->ngroups > 0)
        group_legend(f, a.x0 + a.w + 20, a.y0 + 10, s->group_names, s->ngroups);
    return end(f);
}

/* ---------------------------------------------------------------- bars */

int svg_bars(FILE *f, const svg_bars_spec *s)
{
    double font = 11, slot = fmax(28, fmin(70, 600.0 / (s->n ? s->n : 1)));
    double lab_w = max_width(s->labels, s->n, font);
    int rotate = lab_w > slot - 4;
    axes a = {80, 60, slot * s->n, 320, 0, 1, 0, 0};
    double hi = 0, lo = 0;
    for (int i = 0; i < s->n; i++) {
        double e = s->err ? s->err[i] : 0;
        hi = fmax(hi, s->value[i] + e);
        lo = fmin(lo, s->value[i] - e);
    }
    a.ylo = lo;
    a.yhi = hi > lo ? hi * 1.08 : lo + 1;
    if (a.w < 200)
        a.w = 200, slot = 200.0 / (s->n ? s->n : 1);
    double bottom = rotate ? lab_w * 0.71 + 30 : 36;
    begin(f, a.x0 + a.w + 30 + (rotate ? lab_w * 0.3 : 0), a.y0 + a.h + bottom + 10, s->title, s->subtitle);
    draw_axes(f, &a, NULL, s->ylabel, 0);
    for (int i = 0; i < s->n; i++) {
        double cx = a.x0 + (i + 0.5) * slot, bw = slot * 0.64;
        double y1 = ax_y(&a, s->value[i]), yz = ax_y(&a, 0);
        const char *col = s->colour && s->colour[i] >= 0 ? svg_group_colour(s->colour[i]) : "#999999";
        fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>", cx - bw / 2,
                fmin(y1, yz), bw, fabs(yz - y1), col);
        svg_escape(f, s->labels[i]);
        fprintf(f, ": %.6g", s->value[i]);
        if (s->err)
            fprintf(f, " (std %.3g)", s->err[i]);
        fputs("</title></rect>\n", f);
        if (s->err && s->err[i] > 0) {
            double ya = ax_y(&a, s->value[i] - s->err[i]), yb = ax_y(&a, s->value[i] + s->err[i]);
            fprintf(f, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"#222\" fill=\"none\"/>\n",
                    cx, ya, yb, cx - 5, ya, cx + 5, cx - 5, yb, cx + 5);
        }
        if (rotate)
            text(f, cx + 4, a.y0 + a.h + 12, font, "end", -45, NULL, s->labels[i]);
        else
            text(f, cx, a.y0 + a.h + 16, font, "middle", 0, NULL, s->labels[i]);
    }
    return end(f);
}

/* --------------------------------------------------------------- lines */

int svg_lines(FILE *f, const svg_lines_spec *s)
{
    double lw = max_width(s->names, s->nseries, 11) + 40;
    axes a = {80, 60, 520, 340, 0, 0, 0, 0};
    int first = 1;
    for (int k = 0; k < s->nseries; k++)
        for (int i = 0; i < s->npoints[k]; i++) {
            double x = s->x[k][i], y = s->y[k][i];
            if (first || x < a.xlo) a.xlo = x;
            if (first || x > a.xhi) a.xhi = x;
            if (first || y < a.ylo) a.ylo = y;
            if (first || y > a.yhi) a.yhi = y;
            first = 0;
        }
    if (a.ylo > 0)
        a.ylo = 0;
    pad_range(&a.xlo, &a.xhi, 0.03);
    pad_range(&a.ylo, &a.yhi, 0.05);
    begin(f, a.x0 + a.w + 20 + lw, fmax(a.y0 + a.h + 60, a.y0 + 18.0 * s->nseries + 20), s->title, s->subtitle);
    draw_axes(f, &a, s->xlabel, s->ylabel, 1);
    for (int k = 0; k < s->nseries; k++) {
        const char *col = svg_group_colour(k);
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", col);
        for (int i = 0; i < s->npoints[k]; i++)
            fprintf(f, "%s%.1f,%.1f", i ? " " : "", ax_x(&a, s->x[k][i]), ax_y(&a, s->y[k][i]));
        fputs("\"/>\n", f);
        for (int i = 0; i < s->npoints[k]; i++) {
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>", ax_x(&a, s->x[k][i]),
                    ax_y(&a, s->y[k][i]), col);
            svg_escape(f, s->names[k]);
            fprintf(f, " at %.6g: %.6g</title></circle>\n", s->x[k][i], s->y[k][i]);
        }
    }
    group_legend(f, a.x0 + a.w + 20, a.y0 + 10, s->names, s->nseries);
    return end(f);
}
