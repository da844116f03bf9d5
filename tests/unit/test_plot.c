/*
 * test_plot.c: the library's figure helpers (simrep_cluster_average,
 * simrep_elide, simrep_figure_title, simrep_plot_*): values with a known
 * answer and argument errors.  What a figure looks like (labels inside the
 * canvas, MDS labels apart, the colour scale) is tested in Python, which
 * parses the SVG and measures text with the font itself
 * (tests/python/test_figures.py).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "simrep.h"

/* Four points on a line at 0, 1, 5, 6 (plus ties): UPGMA's merges by hand. */
static void test_cluster(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    const double x[4] = {0, 5, 1, 6};
    double d[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            d[i * 4 + j] = fabs(x[i] - x[j]);
    simrep_linkage l;
    CHECK_STATUS(ctx, simrep_cluster_average(ctx, 4, d, 4, &l), SIMREP_OK);
    /* {0,2} at 1 (first of the tied pairs), {1,3} at 1, then both at the
     * mean of |0-5|,|0-6|,|1-5|,|1-6| = 5. */
    CHECK(l.leaves == 4);
    CHECK(l.left[0] == 0 && l.right[0] == 2 && l.height[0] == 1 && l.size[0] == 2);
    CHECK(l.left[1] == 1 && l.right[1] == 3 && l.height[1] == 1 && l.size[1] == 2);
    CHECK(l.left[2] == 4 && l.right[2] == 5 && l.size[2] == 4);
    CHECK_CLOSE(l.height[2], 5.0, 1e-15);
    CHECK(l.order[0] == 0 && l.order[1] == 2 && l.order[2] == 1 && l.order[3] == 3);
    simrep_linkage_clear(ctx, &l);
    CHECK(l.left == NULL && l.order == NULL);
    simrep_linkage_clear(ctx, &l); /* twice is harmless */

    double one = 0;
    CHECK_STATUS(ctx, simrep_cluster_average(ctx, 1, &one, 1, &l), SIMREP_OK);
    CHECK(l.leaves == 1 && l.order[0] == 0);
    simrep_linkage_clear(ctx, &l);
    CHECK_STATUS(ctx, simrep_cluster_average(ctx, 0, d, 4, &l), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_cluster_average(ctx, 4, d, 3, &l), SIMREP_E_INVALID);
    d[1] = NAN;
    CHECK_STATUS(ctx, simrep_cluster_average(ctx, 4, d, 4, &l), SIMREP_E_NONFINITE);
    d[1] = 5;
    d[4] = NAN; /* below the diagonal: not read */
    CHECK_STATUS(ctx, simrep_cluster_average(ctx, 4, d, 4, &l), SIMREP_OK);
    simrep_linkage_clear(ctx, &l);
    simrep_ctx_free(ctx);
}

static void test_elide_and_title(void)
{
    char out[64];
    /* simrep_utf8_length, RFC 3629's table: ASCII, 2/3/4-byte forms, and the
     * ill-formed ones (overlong, surrogate, above U+10FFFF, Latin-1, a lone
     * continuation byte, a cut sequence) 0. */
    static const struct { const char *s; int len; } utf8[] = {
        {"a", 1}, {"\xc3\xa9", 2}, {"\xe2\x80\xa6", 3}, {"\xf0\x9f\x98\x80", 4},
        {"\xc0\xaf", 0}, {"\xe0\x80\xaf", 0}, {"\xed\xa0\x80", 0}, {"\xf4\x90\x80\x80", 0},
        {"\xe9t\xe9", 0}, {"\x80", 0}, {"\xe2\x80", 0},
    };
    for (size_t k = 0; k < sizeof utf8 / sizeof utf8[0]; k++)
        CHECK(simrep_utf8_length(utf8[k].s) == utf8[k].len);
    CHECK(simrep_elide("short", 28, out, sizeof out) == 5 && strcmp(out, "short") == 0);
    /* 10 characters to 7: 3 from the start, the ellipsis, 3 from the end. */
    CHECK(simrep_elide("abcdefghij", 7, out, sizeof out) == 9);
    CHECK(strcmp(out, "abc\xE2\x80\xA6hij") == 0);
    CHECK(simrep_elide("abcdefghij", 10, out, sizeof out) == 10 && strcmp(out, "abcdefghij") == 0);
    /* UTF-8 is counted in characters and never split. */
    CHECK(simrep_elide("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 4, out, sizeof out) == 2 + 3 + 2 * 2);
    CHECK(strcmp(out, "\xC3\xA9\xC3\xA9\xE2\x80\xA6\xC3\xA9") == 0);
    /* A small buffer is cut at a character boundary; the return is the need. */
    CHECK(simrep_elide("\xC3\xA9\xC3\xA9\xC3\xA9", 28, out, 4) == 6 && strcmp(out, "\xC3\xA9") == 0);
    CHECK(simrep_elide("abcdef", 1, out, sizeof out) == 5); /* max below 3 is 3: "a…f" */
    CHECK(simrep_elide(NULL, 5, out, sizeof out) == 0 && out[0] == 0);
    CHECK(simrep_elide("abc", 5, NULL, 0) == 3);

    char t[128];
    simrep_figure_title("pwcca", "similarity", "relu2", 10, 1500, t, sizeof t);
    CHECK(strcmp(t, "pwcca similarity at relu2: 10 inputs, n = 1,500") == 0);
    simrep_figure_title("cka", "MDS map", NULL, 40, 1234567, t, sizeof t);
    CHECK(strcmp(t, "cka MDS map: 40 inputs, n = 1,234,567") == 0);
    simrep_figure_title("cka", "similarity", "", 0, 999, t, sizeof t);
    CHECK(strcmp(t, "cka similarity: n = 999") == 0);
}

/* The colour scale is the off-diagonal range by default, the caller's when
 * given; the document is one <svg> with the values' colours at the ends. */
static void test_heatmap(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    const double v[9] = {1, 0.8, 0.77, 0.8, 1, 0.94, 0.77, 0.94, 1};
    const char *names[3] = {"a", "b<&>", "c"};
    simrep_heatmap h;
    simrep_heatmap_init(&h);
    CHECK(isnan(h.lo) && isnan(h.hi));
    h.rows = h.cols = 3, h.values = v, h.ld = 3, h.self = 1, h.row_labels = h.col_labels = names;
    h.title = "t";
    simrep_figure f;
    CHECK_STATUS(ctx, simrep_plot_heatmap(ctx, &h, &f), SIMREP_OK);
    CHECK(f.lo == 0.77 && f.hi == 0.94);
    CHECK(f.decimals == 3); /* span 0.17: 1/100 of it is 0.0017 */
    CHECK(f.svg && f.len == strlen(f.svg) && strstr(f.svg, "<svg") && strstr(f.svg, "</svg>\n"));
    CHECK(strstr(f.svg, "b&lt;&amp;&gt;") != NULL);
    CHECK(strstr(f.svg, "fill=\"#440154\"") && strstr(f.svg, "fill=\"#fde725\""));
    CHECK(f.width > 0 && f.height > 0);
    simrep_figure_clear(ctx, &f);
    CHECK(f.svg == NULL);
    h.lo = 0, h.hi = 1;
    CHECK_STATUS(ctx, simrep_plot_heatmap(ctx, &h, &f), SIMREP_OK);
    CHECK(f.lo == 0 && f.hi == 1 && f.decimals == 2);
    simrep_figure_clear(ctx, &f);
    h.lo = 1, h.hi = 0;
    CHECK_STATUS(ctx, simrep_plot_heatmap(ctx, &h, &f), SIMREP_E_INVALID);
    h.lo = 0, h.hi = NAN;
    CHECK_STATUS(ctx, simrep_plot_heatmap(ctx, &h, &f), SIMREP_E_INVALID);
    h.lo = h.hi = NAN;
    const int64_t bad[3] = {0, 0, 2};
    h.row_order = bad;
    CHECK_STATUS(ctx, simrep_plot_heatmap(ctx, &h, &f), SIMREP_E_INVALID);
    h.row_order = NULL;
    h.cols = 2, h.ld = 3; /* self needs a square matrix */
    CHECK_STATUS(ctx, simrep_plot_heatmap(ctx, &h, &f), SIMREP_E_INVALID);
    h.self = 0;
    CHECK_STATUS(ctx, simrep_plot_heatmap(ctx, &h, &f), SIMREP_OK);
    CHECK(f.lo == 0.77 && f.hi == 1); /* not self: the whole range */
    simrep_figure_clear(ctx, &f);
    /* One value (two inputs): a band around it, never an empty range. */
    const double two[4] = {1, 0.5, 0.5, 1};
    simrep_heatmap_init(&h);
    h.rows = h.cols = 2, h.values = two, h.ld = 2, h.self = 1;
    CHECK_STATUS(ctx, simrep_plot_heatmap(ctx, &h, &f), SIMREP_OK);
    CHECK(f.lo < 0.5 && f.hi > 0.5);
    simrep_figure_clear(ctx, &f);
    simrep_ctx_free(ctx);
}

static void test_scatter_bars_lines(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    const double x[4] = {0, 0, 1, 1e-9}, y[4] = {0, 1e-9, 1, 0};
    const char *names[4] = {"first", "second", "third", "fourth"};
    simrep_scatter s;
    simrep_scatter_init(&s);
    s.n = 4, s.x = x, s.y = y, s.labels = names, s.equal_aspect = 1;
    simrep_figure f;
    CHECK_STATUS(ctx, simrep_plot_scatter(ctx, &s, &f), SIMREP_OK);
    CHECK(f.unplaced == 0 && f.numbered == 0); /* three points on top of each other still get their names */
    CHECK(strstr(f.svg, ">fourth<") != NULL);
    simrep_figure_clear(ctx, &f);
    double bad[4] = {0, INFINITY, 0, 0};
    s.x = bad;
    CHECK_STATUS(ctx, simrep_plot_scatter(ctx, &s, &f), SIMREP_E_NONFINITE);

    const double val[2] = {0.1, 0.2}, lo[2] = {0.05, NAN}, hi[2] = {0.15, NAN}, p0[2] = {0.05, 0.15};
    const double *pts[2] = {p0, NULL};
    const int64_t np[2] = {2, 0};
    const char *labels[2] = {"within a (1)", "a vs b (4)"}, *notes[2] = {"p = 0.03", NULL};
    simrep_bars b;
    simrep_bars_init(&b);
    b.n = 2, b.labels = labels, b.value = val, b.err_lo = lo, b.err_hi = hi, b.points = pts, b.npoints = np;
    b.note = notes, b.err_label = "95% CI";
    CHECK_STATUS(ctx, simrep_plot_bars(ctx, &b, &f), SIMREP_OK);
    CHECK(f.lo == 0 && f.hi > 0.2);
    CHECK(strstr(f.svg, "class=\"errorbar\"") && strstr(f.svg, ">p = 0.03<") && strstr(f.svg, "95% CI"));
    simrep_figure_clear(ctx, &f);
    b.labels = NULL;
    CHECK_STATUS(ctx, simrep_plot_bars(ctx, &b, &f), SIMREP_E_INVALID);

    const double lx[3] = {0, 1, 2}, ly[3] = {0.5, 0.25, 0};
    const double *xs[1] = {lx}, *ys[1] = {ly};
    const int64_t n3[1] = {3};
    const char *series[1] = {"conv1"};
    simrep_lines l;
    simrep_lines_init(&l);
    l.nseries = 1, l.names = series, l.npoints = n3, l.x = xs, l.y = ys, l.y_from_zero = 1;
    CHECK_STATUS(ctx, simrep_plot_lines(ctx, &l, &f), SIMREP_OK);
    CHECK(f.lo == 0 && f.hi > 0.5);
    simrep_figure_clear(ctx, &f);
    /* A legend by attribute: one entry per colour and per dash, not per series. */
    const char *layers[2] = {"conv1", "fc"}, *nets[2] = {"netA", "netB"}, *four[4] = {"A/conv1", "A/fc", "B/conv1",
                                                                                       "B/fc"};
    const double *x4[4] = {lx, lx, lx, lx}, *y4[4] = {ly, ly, ly, ly};
    const int64_t n4[4] = {3, 3, 3, 3};
    const int col4[4] = {0, 1, 0, 1}, dash4[4] = {0, 0, 1, 1};
    l.nseries = 4, l.names = four, l.npoints = n4, l.x = x4, l.y = y4, l.colour = col4, l.dash = dash4;
    l.colour_names = layers, l.ncolours = 2, l.dash_names = nets, l.ndashes = 2;
    CHECK_STATUS(ctx, simrep_plot_lines(ctx, &l, &f), SIMREP_OK);
    CHECK(strstr(f.svg, ">conv1<") && strstr(f.svg, ">netB<") && !strstr(f.svg, ">A/conv1<"));
    CHECK(strstr(f.svg, "stroke-dasharray=\"6 3\"") != NULL);
    simrep_figure_clear(ctx, &f);
    l.nseries = 0;
    CHECK_STATUS(ctx, simrep_plot_lines(ctx, &l, &f), SIMREP_E_INVALID);
    CHECK(simrep_struct_size("simrep_heatmap") == sizeof(simrep_heatmap));
    CHECK(simrep_struct_size("simrep_figure") == sizeof(simrep_figure));
    simrep_ctx_free(ctx);
}

void suite_plot(void)
{
    test_cluster();
    test_elide_and_title();
    test_heatmap();
    test_scatter_bars_lines();
}
