/*
 * plot.c: the SVG figures of simrep (heatmap with dendrogram, labelled
 * scatter, bars with error bars, curves), written as text into a string:
 * the one renderer behind `simrep matrix -o DIR` and Python's simrep.plot
 * (simrep.h, "figures", states the layout rules callers can rely on).
 *
 * Why in the library: the CLI and Python must draw the same figure from the
 * same numbers, and the choices that make a figure right (the colour range,
 * the decimals of the cells, where a label goes) are facts the tests check
 * once.  The library still never prints: a document is a string the caller
 * writes where it likes.  Rejected: a plotting dependency (gnuplot,
 * matplotlib, cairo) for a C library that needs none, and a generic scene
 * graph; four direct writers are shorter.
 *
 * Layout is computed, not configured.  Text is measured with the advance
 * widths of Helvetica (Adobe's AFM, the same in Arial and in Liberation
 * Sans, which fontconfig substitutes on Debian), so labels are placed, not
 * guessed with an average glyph width; bold is taken 10% wider, characters
 * outside ASCII as 0.65 em (1 em for the ideographic blocks, the
 * ellipsis).  Heatmap cells shrink with the number of rows from 48 to 12 px
 * and grow (to 48 px) to fill a canvas made wide by its title.  Scatter labels are
 * placed greedily (most crowded point first) at the first free candidate:
 * eight spots touching the point, then rings of 16 spots at growing radii
 * with a leader line, each checked against the frame, every point and
 * every label placed so far (Imhof 1975's preference order, without the
 * annealing of Christensen et al. 1995, which is not deterministic).
 *
 * Colours: viridis (van der Walt and Smith 2015; perceptually uniform,
 * readable in greyscale) sampled at 9 stops, and the Okabe-Ito palette for
 * groups.  Ids (the legend's gradient) carry a hash of the figure's
 * content so that figures inlined in one HTML page never share an id.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- buffer */

typedef struct sbuf {
    simrep_ctx *ctx;
    char *buf;
    size_t len, cap;
    int failed;
} sbuf;

static int sb_reserve(sbuf *b, size_t more)
{
    if (b->failed)
        return 0;
    if (b->len + more + 1 <= b->cap)
        return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            simrep__fail(b->ctx, SIMREP_E_NOMEM, "figure too large");
            return 0;
        }
        cap *= 2;
    }
    char *grown = simrep__alloc(b->ctx, cap, "figure text");
    if (!grown) {
        b->failed = 1;
        return 0;
    }
    if (b->len)
        memcpy(grown, b->buf, b->len);
    grown[b->len] = 0;
    simrep__free(b->ctx, b->buf);
    b->buf = grown;
    b->cap = cap;
    return 1;
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[512];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || !sb_reserve(b, (size_t)n))
        return;
    if ((size_t)n < sizeof small) {
        memcpy(b->buf + b->len, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

static void sb_puts(sbuf *b, const char *s)
{
    size_t n = strlen(s);
    if (!sb_reserve(b, n))
        return;
    memcpy(b->buf + b->len, s, n + 1);
    b->len += n;
}

/* simrep.h; RFC 3629's table of well-formed sequences. */
int simrep_utf8_length(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    int len = *c < 0x80 ? 1 : *c >= 0xc2 && *c <= 0xdf ? 2 : *c >= 0xe0 && *c <= 0xef ? 3
                            : *c >= 0xf0 && *c <= 0xf4 ? 4 : 0;
    const unsigned char lo = *c == 0xe0 ? 0xa0 : *c == 0xf0 ? 0x90 : 0x80;
    const unsigned char hi = *c == 0xed ? 0x9f : *c == 0xf4 ? 0x8f : 0xbf;
    if (len > 1 && (c[1] < lo || c[1] > hi))
        return 0;
    for (int k = 2; k < len; k++)
        if (c[k] < 0x80 || c[k] > 0xbf)
            return 0;
    return len;
}

/* s with &, <, >, " and ' escaped, the control characters XML 1.0 forbids
 * (even escaped) dropped, and bytes that are not UTF-8 (a Latin-1 file
 * name) shown as U+FFFD: an SVG that is not UTF-8 does not parse. */
static void sb_escape(sbuf *b, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const int len = simrep_utf8_length((const char *)c);
        if (len != 1) {
            if (sb_reserve(b, len ? (size_t)len : 3)) {
                memcpy(b->buf + b->len, len ? (const char *)c : "\xef\xbf\xbd", len ? (size_t)len : 3);
                b->len += len ? (size_t)len : 3;
                b->buf[b->len] = 0;
            }
            c += len ? len - 1 : 0;
            continue;
        }
        switch (*c) {
        case '&': sb_puts(b, "&amp;"); break;
        case '<': sb_puts(b, "&lt;"); break;
        case '>': sb_puts(b, "&gt;"); break;
        case '"': sb_puts(b, "&quot;"); break;
        case '\'': sb_puts(b, "&apos;"); break;
        default:
            if ((*c >= 0x20 || *c == '\t') && sb_reserve(b, 1)) {
                b->buf[b->len++] = (char)*c;
                b->buf[b->len] = 0;
            }
        }
    }
}

/* --------------------------------------------------------------- text */

/* Helvetica advance widths (1/1000 em) of ASCII 32..126 (Adobe AFM). */
static const short afm[95] = {
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, /* space .. / */
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556,                               /* 0 .. 9 */
    278, 278, 584, 584, 584, 556, 1015,                                             /* : .. @ */
    667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667,
    944, 667, 667, 611,                                                             /* A .. Z */
    278, 278, 278, 469, 556, 333,                                                   /* [ .. ` */
    556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500,
    722, 500, 500, 500,                                                             /* a .. z */
    334, 260, 334, 584};                                                            /* { .. ~ */

/* Decode one UTF-8 code point at s (advancing *len bytes); invalid bytes
 * count as one character each. */
static unsigned utf8_next(const unsigned char *s, int *len)
{
    unsigned c = s[0];
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    for (int k = 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80) {
            *len = 1;
            return c;
        }
    *len = n;
    if (n == 1)
        return c;
    unsigned cp = c & (0x7F >> n);
    for (int k = 1; k < n; k++)
        cp = (cp << 6) | (s[k] & 0x3F);
    return cp;
}

static double char_em(unsigned cp)
{
    if (cp >= 32 && cp < 127)
        return afm[cp - 32] / 1000.0;
    if (cp == 0x2026 || cp >= 0x2E80)
        return 1.0;
    return cp < 32 ? 0 : 0.65;
}

static double text_width(const char *s, double size, int bold)
{
    double w = 0;
    int len;
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c += len)
        w += char_em(utf8_next(c, &len));
    return w * size * (bold ? 1.1 : 1.0);
}

size_t simrep_elide(const char *s, int64_t max_chars, char *out, size_t cap)
{
    if (!s)
        s = "";
    if (max_chars < 3)
        max_chars = 3;
    int64_t chars = 0;
    int len;
    for (const unsigned char *c = (const unsigned char *)s; *c; c += len, chars++)
        utf8_next(c, &len);
    /* Byte ranges to keep: [0, head) and [tail, end). */
    size_t total = strlen(s), head = total, tail = total;
    int elided = chars > max_chars;
    if (elided) {
        int64_t keep_head = (max_chars - 1 + 1) / 2, keep_tail = max_chars - 1 - keep_head, k = 0;
        const unsigned char *c = (const unsigned char *)s;
        for (; k < keep_head; k++, c += len)
            utf8_next(c, &len);
        head = (size_t)(c - (const unsigned char *)s);
        for (int64_t skip = chars - keep_head - keep_tail; skip > 0; skip--, c += len)
            utf8_next(c, &len);
        tail = (size_t)(c - (const unsigned char *)s);
    }
    static const char ell[] = "\xE2\x80\xA6";
    size_t need = head + (elided ? 3 : 0) + (total - tail);
    if (out && cap > 0) {
        size_t w = 0;
        /* Copy whole characters while they fit (cap - 1 bytes of text). */
        const char *parts[3] = {s, elided ? ell : "", s + tail};
        size_t lens[3] = {head, elided ? 3 : 0, total - tail};
        for (int p = 0; p < 3; p++) {
            const unsigned char *c = (const unsigned char *)parts[p], *e = c + lens[p];
            while (c < e) {
                utf8_next(c, &len);
                if (c + len > e)
                    len = (int)(e - c);
                if (w + (size_t)len > cap - 1)
                    goto done;
                memcpy(out + w, c, (size_t)len);
                w += (size_t)len;
                c += len;
            }
        }
    done:
        out[w] = 0;
    }
    return need;
}

/* s elided to at most SIMREP_LABEL_CHARS characters, into a buffer of
 * LABEL_BYTES. */
#define LABEL_BYTES (8 * SIMREP_LABEL_CHARS + 8)
static void label(char out[LABEL_BYTES], const char *s)
{
    simrep_elide(s, SIMREP_LABEL_CHARS, out, LABEL_BYTES);
}

/* "1,500" */
static void thousands(char *out, size_t cap, int64_t v)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t n = strlen(digits), w = 0;
    if (v < 0 && w + 1 < cap)
        out[w++] = '-';
    for (size_t i = 0; i < n && w + 2 < cap; i++) {
        if (i && (n - i) % 3 == 0)
            out[w++] = ',';
        out[w++] = digits[i];
    }
    out[w] = 0;
}

size_t simrep_figure_title(const char *measure, const char *what, const char *layer, int64_t inputs, int64_t n,
                           char *out, size_t cap)
{
    char ns[40], count[40];
    thousands(ns, sizeof ns, n);
    thousands(count, sizeof count, inputs);
    int len = snprintf(out, out ? cap : 0, "%s%s%s%s%s%s%s%s%s%s", measure ? measure : "", what && *what ? " " : "",
                       what ? what : "", layer && *layer ? " at " : "", layer && *layer ? layer : "",
                       inputs > 0 || n > 0 ? ": " : "", inputs > 0 ? count : "", inputs > 0 ? " inputs" : "",
                       inputs > 0 && n > 0 ? ", n = " : n > 0 ? "n = " : "", n > 0 ? ns : "");
    return len < 0 ? 0 : (size_t)len;
}

static const char *anchor_name(int anchor)
{
    return anchor < 0 ? "start" : anchor > 0 ? "end" : "middle";
}

/* A <text> at baseline (x, y); anchor -1 start, 0 middle, 1 end; cls is the
 * class attribute (tests find labels by it), extra any further attributes. */
static void text(sbuf *b, double x, double y, double size, int anchor, double rotate, const char *cls,
                 const char *extra, const char *s)
{
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"%s\"", x, y, size,
              anchor_name(anchor));
    if (rotate != 0)
        sb_printf(b, " transform=\"rotate(%.0f %.1f %.1f)\"", rotate, x, y);
    if (cls)
        sb_printf(b, " class=\"%s\"", cls);
    if (extra)
        sb_printf(b, " %s", extra);
    sb_puts(b, ">");
    sb_escape(b, s);
    sb_puts(b, "</text>\n");
}

/* As text, with the full string as a <title> child when it was elided. */
static void text_full(sbuf *b, double x, double y, double size, int anchor, double rotate, const char *cls,
                      const char *extra, const char *shown, const char *full)
{
    if (!full || strcmp(shown, full) == 0) {
        text(b, x, y, size, anchor, rotate, cls, extra, shown);
        return;
    }
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\" text-anchor=\"%s\"", x, y, size,
              anchor_name(anchor));
    if (rotate != 0)
        sb_printf(b, " transform=\"rotate(%.0f %.1f %.1f)\"", rotate, x, y);
    if (cls)
        sb_printf(b, " class=\"%s\"", cls);
    if (extra)
        sb_printf(b, " %s", extra);
    sb_puts(b, "><title>");
    sb_escape(b, full);
    sb_puts(b, "</title>");
    sb_escape(b, shown);
    sb_puts(b, "</text>\n");
}

/* ------------------------------------------------------------ colours */

static const char *palette[8] = {"#0072B2", "#E69F00", "#009E73", "#D55E00",
                                 "#CC79A7", "#56B4E9", "#F0E442", "#000000"};

static const char *group_colour(int g)
{
    return g < 0 ? "#999999" : palette[g % 8];
}

/* viridis (matplotlib) at 0, 1/8, ..., 1; linear in between. */
static const unsigned char viridis[9][3] = {
    {0x44, 0x01, 0x54}, {0x47, 0x2d, 0x7b}, {0x3b, 0x52, 0x8b}, {0x2c, 0x72, 0x8e}, {0x21, 0x91, 0x8c},
    {0x28, 0xae, 0x80}, {0x5e, 0xc9, 0x62}, {0xad, 0xdc, 0x30}, {0xfd, 0xe7, 0x25}};

static void scale_colour(double t, char out[8], double *luminance)
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
    if (luminance)
        *luminance = (0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255.0;
}

/* ------------------------------------------------------------ numbers */

/* Tick values at 1, 2 or 5 x 10^k covering [lo, hi]; returns the count and
 * the step. */
static int nice_ticks(double lo, double hi, double *ticks, int cap, int target, double *step_out)
{
    if (!(hi > lo)) {
        ticks[0] = lo;
        if (step_out)
            *step_out = 1;
        return 1;
    }
    double raw = (hi - lo) / target, mag = pow(10, floor(log10(raw))), step = mag;
    if (raw / mag > 5)
        step = 10 * mag;
    else if (raw / mag > 2)
        step = 5 * mag;
    else if (raw / mag > 1)
        step = 2 * mag;
    int n = 0;
    for (double t = ceil(lo / step - 1e-9) * step; t <= hi + 1e-9 * step && n < cap; t += step)
        ticks[n++] = fabs(t) < 1e-12 * step ? 0.0 : t;
    if (step_out)
        *step_out = step;
    return n;
}

/* A tick label with just the decimals of the tick step. */
static void fmt_tick(char *buf, size_t cap, double v, double step)
{
    int d = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (d > 8)
        d = 8;
    if (fabs(v) >= 1e6 || (v != 0 && fabs(v) < 1e-4 && d > 6))
        snprintf(buf, cap, "%.3g", v);
    else
        snprintf(buf, cap, "%.*f", d, v);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ull;
    return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return s ? fnv(h, s, strlen(s)) : h;
}

/* -------------------------------------------------------------- frame */

static void begin(sbuf *b, double w, double h, const char *title, const char *subtitle)
{
    w = ceil(w), h = ceil(h); /* as finish() reports them */
    sb_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                 "font-family=\"Helvetica, Arial, 'Liberation Sans', sans-serif\">\n<title>",
              w, h, w, h);
    sb_escape(b, title ? title : "");
    sb_puts(b, "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    if (title && *title)
        text(b, 16, 26, 16, -1, 0, "title", "font-weight=\"bold\"", title);
    if (subtitle && *subtitle)
        text(b, 16, 44, 12, -1, 0, "subtitle", "fill=\"#444\"", subtitle);
}

/* The y of the first row of content below the title and subtitle. */
static double content_top(const char *title, const char *subtitle)
{
    return subtitle && *subtitle ? 62 : title && *title ? 44 : 16;
}

/* The width the title and subtitle need. */
static double heading_width(const char *title, const char *subtitle)
{
    return fmax(32 + text_width(title, 16, 1), 32 + text_width(subtitle, 12, 0));
}

static simrep_status finish(sbuf *b, simrep_figure *out, double w, double h)
{
    sb_puts(b, "</svg>\n");
    if (b->failed) {
        simrep__free(b->ctx, b->buf);
        return SIMREP_E_NOMEM;
    }
    out->svg = b->buf;
    out->len = b->len;
    out->width = ceil(w);
    out->height = ceil(h);
    return SIMREP_OK;
}

void simrep_figure_clear(simrep_ctx *ctx, simrep_figure *figure)
{
    if (!ctx || !figure)
        return;
    simrep__free(ctx, figure->svg);
    memset(figure, 0, sizeof *figure);
}

/* ------------------------------------------------------------ heatmap */

void simrep_heatmap_init(simrep_heatmap *s)
{
    memset(s, 0, sizeof *s);
    s->lo = s->hi = NAN;
}

static int is_permutation(const int64_t *order, int64_t n, char *seen)
{
    for (int64_t k = 0; k < n; k++)
        seen[k] = 0;
    for (int64_t k = 0; k < n; k++) {
        if (order[k] < 0 || order[k] >= n || seen[order[k]])
            return 0;
        seen[order[k]] = 1;
    }
    return 1;
}

static simrep_status check_range(simrep_ctx *ctx, double lo, double hi, const char *what)
{
    if (isnan(lo) && isnan(hi))
        return SIMREP_OK;
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: the range needs finite lo < hi (got %g, %g)", what, lo, hi);
    return SIMREP_OK;
}

/* Decimals that tell apart values 1/100 of the span apart, 2 to 4. */
static int span_decimals(double span)
{
    int d = (int)ceil(-log10(span / 100) - 1e-9);
    return d < 2 ? 2 : d > 4 ? 4 : d;
}

static void fmt_fixed(char *buf, size_t cap, double v, int d)
{
    if (!isfinite(v))
        snprintf(buf, cap, "n/a");
    else if (fabs(v) >= 1e5)
        snprintf(buf, cap, "%.3g", v);
    else
        snprintf(buf, cap, "%.*f", d, fabs(v) < 0.5 * pow(10, -d) ? 0.0 : v);
}

simrep_status simrep_plot_heatmap(simrep_ctx *ctx, const simrep_heatmap *s, simrep_figure *out)
{
    if (!ctx || !out)
        return SIMREP_E_INVALID;
    memset(out, 0, sizeof *out);
    if (!s || s->rows < 1 || s->cols < 1 || !s->values || s->ld < s->cols || s->rows > 100000 || s->cols > 100000)
        return simrep__fail(ctx, SIMREP_E_INVALID, "heatmap: need rows, cols >= 1 (at most 100000), values and "
                            "ld >= cols");
    if (s->self && s->rows != s->cols)
        return simrep__fail(ctx, SIMREP_E_INVALID, "heatmap: self needs a square matrix (got %lld x %lld)",
                            (long long)s->rows, (long long)s->cols);
    if (s->tree && (!s->self || s->tree->leaves != s->rows || !s->tree->order))
        return simrep__fail(ctx, SIMREP_E_INVALID, "heatmap: a dendrogram needs a self matrix with one leaf per row");
    simrep_status st = check_range(ctx, s->lo, s->hi, "heatmap");
    if (st)
        return st;
    if (s->row_group && s->group_names)
        for (int64_t i = 0; i < s->rows; i++)
            if (s->row_group[i] < 0 || s->row_group[i] >= s->ngroups)
                return simrep__fail(ctx, SIMREP_E_INVALID, "heatmap: row %lld has group %d of %d", (long long)i,
                                    s->row_group[i], s->ngroups);
    int64_t R = s->rows, C = s->cols;
    int64_t *ro = simrep__alloc_array(ctx, (size_t)R, sizeof *ro, "heatmap order");
    int64_t *co = simrep__alloc_array(ctx, (size_t)C, sizeof *co, "heatmap order");
    char *seen = simrep__alloc((ctx), (size_t)(R > C ? R : C), "heatmap order check");
    char(*rl)[LABEL_BYTES] = simrep__alloc_array(ctx, (size_t)R, LABEL_BYTES, "heatmap labels");
    char(*cl)[LABEL_BYTES] = simrep__alloc_array(ctx, (size_t)C, LABEL_BYTES, "heatmap labels");
    sbuf b = {ctx, NULL, 0, 0, 0};
    if (!ro || !co || !seen || !rl || !cl) {
        st = SIMREP_E_NOMEM;
        goto done;
    }
    const int64_t *ro_src = s->tree ? s->tree->order : s->row_order;
    const int64_t *co_src = s->tree ? s->tree->order : s->col_order ? s->col_order : s->self ? s->row_order : NULL;
    for (int64_t k = 0; k < R; k++)
        ro[k] = ro_src ? ro_src[k] : k;
    for (int64_t k = 0; k < C; k++)
        co[k] = co_src ? co_src[k] : k;
    if (!is_permutation(ro, R, seen) || !is_permutation(co, C, seen)) {
        st = simrep__fail(ctx, SIMREP_E_INVALID, "heatmap: the row or column order is not a permutation");
        goto done;
    }
#define VAL(i, j) (s->values[(size_t)(i) * (size_t)s->ld + (size_t)(j)])
    /* The colour scale: the caller's, or the data's range (off the diagonal
     * of a self matrix: its 1s say nothing and would flatten the rest). */
    double lo = s->lo, hi = s->hi;
    int fitted = isnan(lo);
    if (fitted) {
        lo = INFINITY, hi = -INFINITY;
        for (int pass = 0; pass < 2 && !(lo <= hi); pass++)
            for (int64_t i = 0; i < R; i++)
                for (int64_t j = 0; j < C; j++) {
                    double v = VAL(i, j);
                    if (isfinite(v) && (pass || !s->self || i != j))
                        lo = fmin(lo, v), hi = fmax(hi, v);
                }
        if (!(lo <= hi))
            lo = 0, hi = 1;
    }
    double span = hi - lo;
    if (!(span > 0)) {
        /* One value (two inputs): a narrow band around it, so it shows mid-scale. */
        double pad = fmax(fabs(lo) * 0.01, 1e-3);
        lo -= pad, hi += pad, span = hi - lo;
    }
    int dec = span_decimals(span);

    /* Labels, elided; above 20 columns of a self matrix, columns are numbered. */
    int numbered = s->self && C > 20;
    for (int64_t k = 0; k < R; k++) {
        if (s->row_labels)
            label(rl[k], s->row_labels[ro[k]]);
        else
            snprintf(rl[k], LABEL_BYTES, "%lld", (long long)ro[k] + 1);
    }
    for (int64_t k = 0; k < C; k++) {
        if (numbered || !s->col_labels)
            snprintf(cl[k], LABEL_BYTES, "%lld", numbered ? (long long)k + 1 : (long long)co[k] + 1);
        else
            label(cl[k], s->col_labels[co[k]]);
    }
    int64_t N = R > C ? R : C;
    double cell = fmin(48, fmax(12, 600.0 / (double)N));
    double font = 0, vfont = 0, rw = 0, numw = 0, cw = 0, vw = 0;
    int rotate = 0, print_values = 0;
    double dendro = s->tree ? 100 : 0, strip = s->row_group ? 14 : 0, left = 16, x0 = 0, legend_x = 0, width = 0;
    double heading = heading_width(s->title, s->subtitle);
    char tickbuf[64];
    double tick_w = 0;
    {
        char a[32], z[32];
        fmt_fixed(a, sizeof a, lo, dec);
        fmt_fixed(z, sizeof z, hi, dec);
        tick_w = fmax(text_width(a, 10, 1), text_width(z, 10, 1));
    }
    double legend_w = fmax(14 + 6 + tick_w, text_width(s->scale_label, 11, 0));
    if (s->self)
        legend_w = fmax(legend_w, 14 + 6 + text_width("self (diagonal)", 10, 0));
    if (s->row_group && s->group_names)
        for (int g = 0; g < s->ngroups; g++) {
            char gl[LABEL_BYTES];
            label(gl, s->group_names[g]);
            legend_w = fmax(legend_w, 16 + text_width(gl, 11, 0));
        }
    /* Size the cells, then grow them (up to 48 px) while the title is wider
     * than the picture. */
    for (int round = 0; round < 3; round++) {
        font = fmin(12, fmax(9, cell * 0.7));
        vfont = fmin(11, fmax(7.5, cell * 0.28));
        rw = numw = 0;
        if (numbered)
            numw = text_width("000", font, 0) + 6;
        for (int64_t k = 0; k < R; k++)
            rw = fmax(rw, text_width(rl[k], font, 0));
        rw += numw;
        cw = 0;
        for (int64_t k = 0; k < C; k++)
            cw = fmax(cw, text_width(cl[k], font, 0));
        rotate = cw > cell - 3;
        vw = 0;
        char v[32];
        for (int64_t i = 0; i < R; i++)
            for (int64_t j = 0; j < C; j++) {
                fmt_fixed(v, sizeof v, VAL(i, j), dec);
                vw = fmax(vw, text_width(v, vfont, 0));
            }
        print_values = cell >= 22 && vw <= cell - 4;
        x0 = left + dendro + strip;
        if (rotate) /* the first column's label reaches down-left of it */
            x0 = fmax(x0, left + cw * 0.7071 + font * 0.5 - cell / 2);
        legend_x = x0 + (double)C * cell + 6 + rw + 24;
        width = legend_x + legend_w + 16;
        if (heading <= width || cell >= 48)
            break;
        cell = fmin(48, cell + (heading - width) / (double)C);
    }
    width = fmax(width, heading);
    double y0 = content_top(s->title, s->subtitle) + (s->tree ? 14 : 4);
    double bottom = y0 + (double)R * cell;
    double col_h = rotate ? cw * 0.7071 + font * 1.2 + 8 : font + 10;
    double legend_h = fmin((double)R * cell, 260);
    if (legend_h < 120)
        legend_h = fmin(120, fmax(legend_h, 60));
    double legend_bottom = y0 + legend_h + 22 + (s->self ? 18 : 0) +
                           (s->row_group && s->group_names ? 8 + 18.0 * s->ngroups : 0);
    double height = fmax(bottom + col_h + 12, legend_bottom + 12);

    uint64_t h = fnv_str(fnv_str(1469598103934665603ull, s->title), s->scale_label);
    for (int64_t i = 0; i < R; i++)
        h = fnv(h, &VAL(i, 0), (size_t)C * sizeof(double));
    char gid[32];
    snprintf(gid, sizeof gid, "simrep-scale-%016llx", (unsigned long long)h);

    begin(&b, width, height, s->title, s->subtitle);
    /* Cells. */
    for (int64_t a = 0; a < R; a++)
        for (int64_t c = 0; c < C; c++) {
            int64_t i = ro[a], j = co[c];
            double v = VAL(i, j), lum = 0;
            char col[8], val[32];
            int diag = s->self && i == j;
            if (diag)
                snprintf(col, sizeof col, "#d9d9d9"), lum = 0.85;
            else if (!isfinite(v))
                snprintf(col, sizeof col, "#ffffff"), lum = 1;
            else
                scale_colour((v - lo) / span, col, &lum);
            fmt_fixed(val, sizeof val, v, dec);
            sb_printf(&b, "<rect class=\"cell%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"%s>"
                      "<title>", diag ? " diagonal" : "", x0 + (double)c * cell, y0 + (double)a * cell, cell, cell,
                      col, isfinite(v) || diag ? "" : " stroke=\"#999\"");
            sb_escape(&b, s->row_labels ? s->row_labels[i] : rl[a]);
            sb_puts(&b, " vs ");
            sb_escape(&b, s->col_labels ? s->col_labels[j] : cl[c]);
            if (isfinite(v))
                sb_printf(&b, ": %.6g</title></rect>\n", v);
            else
                sb_puts(&b, ": not available</title></rect>\n");
            if (print_values) {
                char extra[64];
                snprintf(extra, sizeof extra, "fill=\"%s\"", diag ? "#666" : lum > 0.5 ? "#000" : "#fff");
                text(&b, x0 + ((double)c + 0.5) * cell, y0 + ((double)a + 0.5) * cell + vfont * 0.36, vfont, 0, 0,
                     "value", extra, val);
            }
        }
    /* Row labels (numbered: the number right-aligned, then the name). */
    for (int64_t a = 0; a < R; a++) {
        double y = y0 + ((double)a + 0.5) * cell + font * 0.36, x = x0 + (double)C * cell + 6;
        if (numbered) {
            char num[24];
            snprintf(num, sizeof num, "%lld", (long long)a + 1);
            text(&b, x + numw - 6, y, font, 1, 0, "row-number", "fill=\"#666\"", num);
            x += numw;
        }
        text_full(&b, x, y, font, -1, 0, "row-label", NULL, rl[a], s->row_labels ? s->row_labels[ro[a]] : NULL);
    }
    for (int64_t c = 0; c < C; c++) {
        double cx = x0 + ((double)c + 0.5) * cell;
        const char *full = numbered || !s->col_labels ? NULL : s->col_labels[co[c]];
        if (rotate)
            text_full(&b, cx + font * 0.35, bottom + 8, font, 1, -45, "col-label", NULL, cl[c], full);
        else
            text_full(&b, cx, bottom + font + 4, font, 0, 0, "col-label", NULL, cl[c], full);
    }
    if (s->row_group)
        for (int64_t a = 0; a < R; a++)
            sb_printf(&b, "<rect class=\"group-strip\" x=\"%.2f\" y=\"%.2f\" width=\"10\" height=\"%.2f\" "
                      "fill=\"%s\"/>\n", x0 - strip, y0 + (double)a * cell, cell, group_colour(s->row_group[ro[a]]));

    /* The dendrogram, leaves at the rows, height growing leftwards. */
    if (s->tree && R > 1) {
        int64_t K = R;
        double *pos = simrep__alloc_array(ctx, (size_t)(2 * K), sizeof *pos, "dendrogram");
        double *hgt = pos ? simrep__alloc_array(ctx, (size_t)(2 * K), sizeof *hgt, "dendrogram") : NULL;
        if (!hgt) {
            simrep__free(ctx, pos);
            st = SIMREP_E_NOMEM;
            goto done;
        }
        for (int64_t k = 0; k < K; k++) {
            pos[ro[k]] = y0 + ((double)k + 0.5) * cell;
            hgt[ro[k]] = 0;
        }
        double hmax = 0;
        for (int64_t m = 0; m < K - 1; m++)
            hmax = fmax(hmax, s->tree->height[m]);
        if (!(hmax > 0))
            hmax = 1;
        double right = x0 - strip - 4, w = right - left - 4;
#define HX(hh) (right - fmax(0.0, (hh)) / hmax * w)
        sb_puts(&b, "<g class=\"dendrogram\" stroke=\"#333\" stroke-width=\"1\" fill=\"none\">\n");
        for (int64_t m = 0; m < K - 1; m++) {
            int64_t l = s->tree->left[m], r = s->tree->right[m];
            if (l < 0 || r < 0 || l >= K + m || r >= K + m)
                continue;
            double hh = s->tree->height[m];
            pos[K + m] = 0.5 * (pos[l] + pos[r]);
            hgt[K + m] = hh;
            sb_printf(&b, "<path d=\"M%.1f %.1fH%.1fV%.1fH%.1f\"/>\n", HX(hgt[l]), pos[l], HX(hh), pos[r], HX(hgt[r]));
        }
        sb_puts(&b, "</g>\n");
        /* Its scale, above it: the tallest merge's distance at the left end. */
        double step;
        double tk[8];
        nice_ticks(0, hmax, tk, 8, 2, &step);
        fmt_tick(tickbuf, sizeof tickbuf, hmax, step / 10);
        sb_printf(&b, "<path class=\"dendrogram-axis\" d=\"M%.1f %.1fH%.1fM%.1f %.1fV%.1fM%.1f %.1fV%.1f\" "
                  "stroke=\"#666\" fill=\"none\"/>\n", HX(hmax), y0 - 6, HX(0), HX(hmax), y0 - 9, y0 - 3, HX(0),
                  y0 - 9, y0 - 3);
        text(&b, HX(hmax), y0 - 11, 9, -1, 0, "dendrogram-label", "fill=\"#444\"", tickbuf);
        text(&b, HX(0), y0 - 11, 9, 1, 0, "dendrogram-label", "fill=\"#444\"", "0");
#undef HX
        simrep__free(ctx, pos);
        simrep__free(ctx, hgt);
    }

    /* The colour legend: a vertical bar, both limits printed, round ticks
     * between them where they do not crowd the limits. */
    sb_printf(&b, "<defs><linearGradient id=\"%s\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">\n", gid);
    for (int k = 0; k <= 8; k++) {
        char col[8];
        scale_colour(k / 8.0, col, NULL);
        sb_printf(&b, "<stop offset=\"%.3f\" stop-color=\"%s\"/>\n", k / 8.0, col);
    }
    sb_puts(&b, "</linearGradient></defs>\n");
    sb_printf(&b, "<rect class=\"scale-bar\" x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.1f\" fill=\"url(#%s)\" "
              "stroke=\"#333\"/>\n", legend_x, y0, legend_h, gid);
    double ticks[16], step;
    int nt = nice_ticks(lo, hi, ticks, 16, 5, &step);
    for (int k = -2; k < nt; k++) {
        double t = k == -2 ? lo : k == -1 ? hi : ticks[k];
        double y = y0 + legend_h - (t - lo) / span * legend_h;
        if (k >= 0 && (fabs(y - y0) < 13 || fabs(y - y0 - legend_h) < 13))
            continue;
        if (k < 0)
            fmt_fixed(tickbuf, sizeof tickbuf, t, dec);
        else
            fmt_tick(tickbuf, sizeof tickbuf, t, step);
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", legend_x + 14, y,
                  legend_x + 18, y);
        text(&b, legend_x + 21, y + 3.5, 10, -1, 0, k == -2 ? "scale-lo" : k == -1 ? "scale-hi" : "scale-tick",
             k < 0 ? "font-weight=\"bold\"" : NULL, tickbuf);
    }
    double ly = y0 + legend_h + 16;
    text(&b, legend_x, ly, 11, -1, 0, "scale-label", NULL, s->scale_label ? s->scale_label : "");
    if (s->self) {
        ly += 18;
        sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"10\" fill=\"#d9d9d9\"/>\n", legend_x,
                  ly - 9);
        text(&b, legend_x + 20, ly, 10, -1, 0, "legend", "fill=\"#444\"", "self (diagonal)");
    }
    if (s->row_group && s->group_names) {
        ly += 8;
        for (int g = 0; g < s->ngroups; g++) {
            char gl[LABEL_BYTES];
            label(gl, s->group_names[g]);
            ly += 18;
            sb_printf(&b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>\n", legend_x, ly - 9,
                      group_colour(g));
            text_full(&b, legend_x + 16, ly, 11, -1, 0, "legend", NULL, gl, s->group_names[g]);
        }
    }
#undef VAL
    out->lo = lo;
    out->hi = hi;
    out->decimals = print_values ? dec : 0;
    out->numbered = numbered;
    st = finish(&b, out, width, height);
    b.buf = NULL;
done:
    if (st != SIMREP_OK)
        simrep__free(ctx, b.buf);
    simrep__free(ctx, ro);
    simrep__free(ctx, co);
    simrep__free(ctx, seen);
    simrep__free(ctx, rl);
    simrep__free(ctx, cl);
    return st;
}

/* --------------------------------------------------------------- axes */

typedef struct axes {
    double x0, y0, w, h;        /* plot area (px) */
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
        double c = *lo, d = fmax(fabs(c) * 0.1, 0.05);
        *lo = c - d;
        *hi = c + d;
        return;
    }
    double pad = (*hi - *lo) * frac;
    *lo -= pad;
    *hi += pad;
}

/* The frame, grid lines and tick labels; the y label rotated at the left
 * edge, the x label under the ticks. */
static void draw_axes(sbuf *b, const axes *a, const char *xlabel, const char *ylabel, int xticks)
{
    sb_printf(b, "<rect class=\"frame\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
              "stroke=\"#333\"/>\n", a->x0, a->y0, a->w, a->h);
    double t[32], step;
    char lab[32];
    int n = nice_ticks(a->ylo, a->yhi, t, 32, 5, &step);
    for (int k = 0; k < n; k++) {
        double y = ax_y(a, t[k]);
        fmt_tick(lab, sizeof lab, t[k], step);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", a->x0, y,
                  a->x0 + a->w, y);
        text(b, a->x0 - 6, y + 4, 11, 1, 0, "tick", NULL, lab);
    }
    if (xticks) {
        n = nice_ticks(a->xlo, a->xhi, t, 32, 6, &step);
        for (int k = 0; k < n; k++) {
            double x = ax_x(a, t[k]);
            fmt_tick(lab, sizeof lab, t[k], step);
            sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", x, a->y0, x,
                      a->y0 + a->h);
            text(b, x, a->y0 + a->h + 16, 11, 0, 0, "tick", NULL, lab);
        }
    }
    if (xlabel && *xlabel)
        text(b, a->x0 + a->w / 2, a->y0 + a->h + (xticks ? 36 : 20), 12, 0, 0, "axis-label", NULL, xlabel);
    if (ylabel && *ylabel)
        text(b, 20, a->y0 + a->h / 2, 12, 0, -90, "axis-label", NULL, ylabel);
}

/* The widest y tick label of an axis over [lo, hi]. */
static double ytick_width(double lo, double hi)
{
    double t[32], step, w = 0;
    char lab[32];
    int n = nice_ticks(lo, hi, t, 32, 5, &step);
    for (int k = 0; k < n; k++) {
        fmt_tick(lab, sizeof lab, t[k], step);
        w = fmax(w, text_width(lab, 11, 0));
    }
    return w;
}

/* Legend entries (a swatch and a name), one per line from baseline y. */
static double legend_width(const char *const *names, int n)
{
    double w = 0;
    for (int g = 0; g < n; g++) {
        char gl[LABEL_BYTES];
        label(gl, names[g]);
        w = fmax(w, text_width(gl, 11, 0));
    }
    return n > 0 ? w + 28 : 0;
}

static const char *dash_pattern(int d)
{
    static const char *const p[4] = {"", "6 3", "2 2", "8 3 2 3"};
    return p[(d < 0 ? 0 : d) % 4];
}

static void legend(sbuf *b, double x, double y, const char *const *names, int n, const int *colour, const int *dash,
                   int lines)
{
    for (int g = 0; g < n; g++) {
        char gl[LABEL_BYTES];
        label(gl, names[g]);
        double yy = y + 18.0 * g;
        const char *col = group_colour(colour ? colour[g] : g);
        if (lines)
            sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" "
                      "stroke-dasharray=\"%s\"/>\n", x, yy - 4, x + 20, yy - 4, col, dash ? dash_pattern(dash[g]) : "");
        else
            sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", x + 6, yy - 4, col);
        text_full(b, x + 26, yy, 11, -1, 0, "legend", NULL, gl, names[g]);
    }
}

/* ------------------------------------------------------------ scatter */

void simrep_scatter_init(simrep_scatter *s)
{
    memset(s, 0, sizeof *s);
}

typedef struct box {
    double x0, y0, x1, y1;
} box;

static int overlaps(box a, box b)
{
    return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
}

/* Does the segment (x0, y0)-(x1, y1) cross box r?  (Liang-Barsky clip.) */
static int segment_hits(double x0, double y0, double x1, double y1, box r)
{
    double t0 = 0, t1 = 1, dx = x1 - x0, dy = y1 - y0;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {x0 - r.x0, r.x1 - x0, y0 - r.y0, r.y1 - y0};
    for (int k = 0; k < 4; k++) {
        if (p[k] == 0) {
            if (q[k] < 0)
                return 0;
        } else {
            double t = q[k] / p[k];
            if (p[k] < 0)
                t0 = fmax(t0, t);
            else
                t1 = fmin(t1, t);
        }
    }
    return t0 < t1;
}

typedef struct placed {
    box r;          /* the label's box; r.x1 < r.x0 when not placed */
    double lx, ly;  /* leader line end at the label (lx < 0: none) */
} placed;

/* Place the labels (widths w[i], one height lh) of points (px, py) inside
 * frame; returns how many found no place. */
static int64_t place_labels(int64_t n, const double *px, const double *py, const double *w, double lh, box frame,
                            const int64_t *order, placed *out)
{
    static const double ring[] = {16, 26, 38, 52, 70, 92, 120, 155};
    const double pr = 6.5; /* a point's half-size, with its white edge */
    int64_t missing = 0;
    for (int64_t i = 0; i < n; i++)
        out[i].r = (box){1, 1, 0, 0};
    for (int64_t k = 0; k < n; k++) {
        int64_t i = order[k];
        double x = px[i], y = py[i];
        int found = 0;
        for (int c = 0; c < 8 + 16 * (int)(sizeof ring / sizeof ring[0]) && !found; c++) {
            box r;
            double ax, ay, lx = -1, ly = -1;
            if (c < 8) {
                /* Touching the point: right, left, then the four corners, above, below. */
                static const double dx[8] = {1, -1, 1, -1, 1, -1, 0, 0}, dy[8] = {0, 0, -1, -1, 1, 1, -1, 1};
                double gx = 7, gy = 5;
                ax = x + dx[c] * (dy[c] != 0 ? 4 : gx);
                ay = y + dy[c] * gy;
                r.x0 = dx[c] > 0 ? ax : dx[c] < 0 ? ax - w[i] : ax - w[i] / 2;
                r.y0 = dy[c] < 0 ? ay - lh : dy[c] > 0 ? ay : ay - lh / 2;
                if (dy[c] == 0)
                    r.y0 = y - lh / 2;
            } else {
                int ri = (c - 8) / 16, ai = (c - 8) % 16;
                /* Angles from the right, alternating up and down. */
                static const int seq[16] = {0, 15, 1, 14, 2, 13, 3, 12, 8, 7, 9, 6, 10, 5, 11, 4};
                double th = seq[ai] * (6.283185307179586 / 16);
                double cs = cos(th), sn = sin(th), rr = ring[ri];
                ax = x + rr * cs;
                ay = y - rr * sn;
                r.x0 = cs > 0.3 ? ax : cs < -0.3 ? ax - w[i] : ax - w[i] / 2;
                r.y0 = sn > 0.3 ? ay - lh : sn < -0.3 ? ay : ay - lh / 2;
                lx = ax, ly = ay;
            }
            r.x1 = r.x0 + w[i];
            r.y1 = r.y0 + lh;
            if (r.x0 < frame.x0 + 2 || r.x1 > frame.x1 - 2 || r.y0 < frame.y0 + 2 || r.y1 > frame.y1 - 2)
                continue;
            int ok = 1;
            box pad = {r.x0 - 1, r.y0 - 1, r.x1 + 1, r.y1 + 1};
            for (int64_t j = 0; j < n && ok; j++) {
                box pt = {px[j] - pr, py[j] - pr, px[j] + pr, py[j] + pr};
                if (j != i && overlaps(pad, pt))
                    ok = 0;
                else if (out[j].r.x1 > out[j].r.x0 && overlaps(pad, out[j].r))
                    ok = 0;
                else if (lx >= 0 && j != i && out[j].r.x1 > out[j].r.x0 && segment_hits(x, y, lx, ly, out[j].r))
                    ok = 0;
            }
            /* A leader line must not cross another point either, except
             * those so close to its own that it has to (a tight cluster). */
            for (int64_t j = 0; j < n && ok && lx >= 0; j++) {
                box pt = {px[j] - 4, py[j] - 4, px[j] + 4, py[j] + 4};
                if (j != i && hypot(px[j] - x, py[j] - y) > 2 * pr && segment_hits(x, y, lx, ly, pt))
                    ok = 0;
            }
            /* ... nor an earlier leader line cross this label. */
            for (int64_t q = 0; q < k && ok; q++) {
                int64_t j = order[q];
                if (out[j].lx >= 0 && out[j].r.x1 > out[j].r.x0 && segment_hits(px[j], py[j], out[j].lx, out[j].ly, pad))
                    ok = 0;
            }
            if (ok) {
                out[i].r = r;
                out[i].lx = lx;
                out[i].ly = ly;
                found = 1;
            }
        }
        if (!found) {
            out[i].lx = -1;
            missing++;
        }
    }
    return missing;
}

simrep_status simrep_plot_scatter(simrep_ctx *ctx, const simrep_scatter *s, simrep_figure *out)
{
    if (!ctx || !out)
        return SIMREP_E_INVALID;
    memset(out, 0, sizeof *out);
    if (!s || s->n < 1 || s->n > 100000 || !s->x || !s->y)
        return simrep__fail(ctx, SIMREP_E_INVALID, "scatter: need 1 to 100000 points with x and y");
    for (int64_t i = 0; i < s->n; i++) {
        if (!isfinite(s->x[i]) || !isfinite(s->y[i]))
            return simrep__fail(ctx, SIMREP_E_NONFINITE, "scatter: point %lld is not finite", (long long)i);
        if (s->group && s->group_names && (s->group[i] < 0 || s->group[i] >= s->ngroups))
            return simrep__fail(ctx, SIMREP_E_INVALID, "scatter: point %lld has group %d of %d", (long long)i,
                                s->group[i], s->ngroups);
    }
    int64_t n = s->n;
    simrep_status st = SIMREP_OK;
    char(*lab)[LABEL_BYTES] = simrep__alloc_array(ctx, (size_t)n, LABEL_BYTES, "scatter labels");
    double *px = simrep__alloc_array(ctx, (size_t)n, sizeof(double), "scatter points");
    double *py = simrep__alloc_array(ctx, (size_t)n, sizeof(double), "scatter points");
    double *lw = simrep__alloc_array(ctx, (size_t)n, sizeof(double), "scatter labels");
    int64_t *order = simrep__alloc_array(ctx, (size_t)n, sizeof(int64_t), "scatter order");
    placed *pl = simrep__alloc_array(ctx, (size_t)n, sizeof(placed), "scatter labels");
    sbuf b = {ctx, NULL, 0, 0, 0};
    if (!lab || !px || !py || !lw || !order || !pl) {
        st = SIMREP_E_NOMEM;
        goto done;
    }
    double font = n > 30 ? 9 : 10, lh = font * 1.05;
    axes a = {0, content_top(s->title, s->subtitle) + 6, 520, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < n; i++) {
        if (i == 0 || s->x[i] < a.xlo) a.xlo = s->x[i];
        if (i == 0 || s->x[i] > a.xhi) a.xhi = s->x[i];
        if (i == 0 || s->y[i] < a.ylo) a.ylo = s->y[i];
        if (i == 0 || s->y[i] > a.yhi) a.yhi = s->y[i];
    }
    pad_range(&a.xlo, &a.xhi, 0.10);
    pad_range(&a.ylo, &a.yhi, 0.10);
    if (s->equal_aspect) {
        /* One scale for both axes: the frame is 520 wide and 280 to 520
         * high, the shorter range widened (about its centre) to match. */
        double ppu = fmin(520 / (a.xhi - a.xlo), 520 / (a.yhi - a.ylo));
        a.h = fmax(280, (a.yhi - a.ylo) * ppu);
        ppu = fmin(ppu, a.h / (a.yhi - a.ylo));
        double cx = (a.xlo + a.xhi) / 2, cy = (a.ylo + a.yhi) / 2;
        a.xlo = cx - a.w / ppu / 2, a.xhi = cx + a.w / ppu / 2;
        a.ylo = cy - a.h / ppu / 2, a.yhi = cy + a.h / ppu / 2;
    } else {
        a.h = 400;
    }
    a.x0 = 34 + ytick_width(a.ylo, a.yhi) + 8;
    for (int64_t i = 0; i < n; i++) {
        px[i] = ax_x(&a, s->x[i]);
        py[i] = ax_y(&a, s->y[i]);
    }
    /* Most crowded first: points with more neighbours within 60 px. */
    for (int64_t i = 0; i < n; i++) {
        int64_t c = 0;
        for (int64_t j = 0; j < n; j++)
            c += j != i && hypot(px[i] - px[j], py[i] - py[j]) < 60;
        pl[i].lx = (double)c; /* the count, until placement overwrites it */
        order[i] = i;
    }
    for (int64_t i = 1; i < n; i++) /* insertion sort: stable, n is small */
        for (int64_t j = i; j > 0 && pl[order[j]].lx > pl[order[j - 1]].lx; j--) {
            int64_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    box frame = {a.x0, a.y0, a.x0 + a.w, a.y0 + a.h};
    /* Names first; if one finds no place, numbers keyed at the right. */
    int numbered = 0;
    int64_t missing = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        numbered = attempt;
        for (int64_t i = 0; i < n; i++) {
            if (attempt || !s->labels)
                snprintf(lab[i], LABEL_BYTES, "%lld", (long long)i + 1);
            else
                label(lab[i], s->labels[i]);
            lw[i] = text_width(lab[i], font, 0);
        }
        missing = place_labels(n, px, py, lw, lh, frame, order, pl);
        if (missing == 0 || !s->labels)
            break;
    }
    double lgw = s->group_names ? legend_width(s->group_names, s->ngroups) : 0, keyw = 0;
    if (numbered)
        for (int64_t i = 0; i < n; i++) {
            char kl[LABEL_BYTES + 32];
            char nm[LABEL_BYTES];
            label(nm, s->labels[i]);
            snprintf(kl, sizeof kl, "%lld  %s", (long long)n, nm); /* the widest number, bold: an upper bound */
            keyw = fmax(keyw, 1.1 * text_width(kl, 10, 0));
        }
    double side = fmax(lgw, keyw);
    double width = fmax(a.x0 + a.w + (side > 0 ? 20 + side : 0) + 16, heading_width(s->title, s->subtitle));
    double key_top = a.y0 + 10 + (s->group_names ? 18.0 * s->ngroups + 12 : 0);
    double height = fmax(a.y0 + a.h + 50, numbered ? key_top + 14.0 * (double)n + 10 : 0);
    height = fmax(height, a.y0 + 18.0 * (s->group_names ? s->ngroups : 0) + 20);

    begin(&b, width, height, s->title, s->subtitle);
    draw_axes(&b, &a, s->xlabel, s->ylabel, 1);
    for (int64_t i = 0; i < n; i++)
        if (pl[i].lx >= 0 && pl[i].r.x1 > pl[i].r.x0)
            sb_printf(&b, "<line class=\"leader\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
                      "stroke-width=\"0.8\"/>\n", px[i], py[i], pl[i].lx, pl[i].ly);
    for (int64_t i = 0; i < n; i++) {
        sb_printf(&b, "<circle class=\"point\" cx=\"%.2f\" cy=\"%.2f\" r=\"5\" fill=\"%s\" stroke=\"white\">"
                  "<title>", px[i], py[i], group_colour(s->group ? s->group[i] : 0));
        sb_escape(&b, s->labels ? s->labels[i] : lab[i]);
        sb_printf(&b, " (%.4g, %.4g)</title></circle>\n", s->x[i], s->y[i]);
    }
    for (int64_t i = 0; i < n; i++) {
        if (!(pl[i].r.x1 > pl[i].r.x0))
            continue;
        char extra[128];
        snprintf(extra, sizeof extra, "fill=\"#222\" data-point=\"%lld\" data-box=\"%.1f %.1f %.1f %.1f\"",
                 (long long)i, pl[i].r.x0, pl[i].r.y0, pl[i].r.x1, pl[i].r.y1);
        text_full(&b, pl[i].r.x0, pl[i].r.y0 + font * 0.8, font, -1, 0, "point-label", extra, lab[i],
                  s->labels ? s->labels[i] : NULL);
    }
    double lx = a.x0 + a.w + 20;
    if (s->group_names && s->ngroups > 0)
        legend(&b, lx, a.y0 + 14, s->group_names, s->ngroups, NULL, NULL, 0);
    if (numbered) {
        /* The key: numbers right-aligned in their point's colour, then names. */
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)n);
        double numw = text_width(num, 10, 1) + 6;
        for (int64_t i = 0; i < n; i++) {
            char nm[LABEL_BYTES], extra[64];
            label(nm, s->labels[i]);
            snprintf(num, sizeof num, "%lld", (long long)i + 1);
            snprintf(extra, sizeof extra, "font-weight=\"bold\" fill=\"%s\"", group_colour(s->group ? s->group[i] : 0));
            double y = key_top + 14.0 * (double)i + 10;
            text(&b, lx + numw - 6, y, 10, 1, 0, "key-number", extra, num);
            text_full(&b, lx + numw, y, 10, -1, 0, "key", NULL, nm, s->labels[i]);
        }
    }
    out->lo = a.xlo;
    out->hi = a.xhi;
    out->numbered = numbered;
    out->unplaced = missing;
    st = finish(&b, out, width, height);
    b.buf = NULL;
done:
    if (st != SIMREP_OK)
        simrep__free(ctx, b.buf);
    simrep__free(ctx, lab);
    simrep__free(ctx, px);
    simrep__free(ctx, py);
    simrep__free(ctx, lw);
    simrep__free(ctx, order);
    simrep__free(ctx, pl);
    return st;
}

/* --------------------------------------------------------------- bars */

/* The widest space-separated word of s. */
static double widest_word(const char *s, double font)
{
    double w = 0;
    char word[LABEL_BYTES];
    while (*s) {
        while (*s == ' ')
            s++;
        size_t len = strcspn(s, " ");
        if (len == 0)
            break;
        snprintf(word, sizeof word, "%.*s", (int)(len < sizeof word ? len : sizeof word - 1), s);
        w = fmax(w, text_width(word, font, 0));
        s += len;
    }
    return w;
}

/* buf elided in the middle until it is no wider than maxw. */
static void fit_width(char buf[LABEL_BYTES], double font, double maxw)
{
    char orig[LABEL_BYTES];
    snprintf(orig, sizeof orig, "%s", buf);
    int len;
    int64_t chars = 0;
    for (const unsigned char *c = (const unsigned char *)orig; *c; c += len, chars++)
        utf8_next(c, &len);
    while (text_width(buf, font, 0) > maxw && chars > 3)
        simrep_elide(orig, --chars, buf, LABEL_BYTES);
}

/* s wrapped greedily at spaces into at most 3 lines no wider than maxw (a
 * longer word, or what does not fit on the third line, is elided in the
 * middle); returns the number of lines. */
static int wrap3(const char *s, double font, double maxw, char lines[][LABEL_BYTES])
{
    int nl = 0;
    while (nl < 3) {
        char cur[LABEL_BYTES] = "", cand[2 * LABEL_BYTES];
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        while (*s) {
            while (*s == ' ')
                s++;
            size_t len = strcspn(s, " ");
            if (len == 0)
                break;
            snprintf(cand, sizeof cand, "%s%s%.*s", cur, *cur ? " " : "", (int)len, s);
            if (*cur && text_width(cand, font, 0) > maxw)
                break;
            simrep_elide(cand, INT64_MAX, cur, sizeof cur);
            s += len;
            if (text_width(cur, font, 0) > maxw)
                break; /* one long word: elided below, alone on its line */
        }
        if (nl == 2 && *s) {
            snprintf(cand, sizeof cand, "%s %s", cur, s);
            simrep_elide(cand, INT64_MAX, cur, sizeof cur);
            s += strlen(s);
        }
        fit_width(cur, font, maxw);
        snprintf(lines[nl++], LABEL_BYTES, "%s", cur);
    }
    if (nl == 0)
        lines[nl++][0] = 0;
    return nl;
}

void simrep_bars_init(simrep_bars *s)
{
    memset(s, 0, sizeof *s);
}

simrep_status simrep_plot_bars(simrep_ctx *ctx, const simrep_bars *s, simrep_figure *out)
{
    if (!ctx || !out)
        return SIMREP_E_INVALID;
    memset(out, 0, sizeof *out);
    if (!s || s->n < 1 || s->n > 10000 || !s->value || !s->labels || (s->points && !s->npoints))
        return simrep__fail(ctx, SIMREP_E_INVALID, "bars: need 1 to 10000 bars with values and labels (and npoints "
                            "with points)");
    int64_t n = s->n;
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(s->value[i]))
            return simrep__fail(ctx, SIMREP_E_NONFINITE, "bars: value %lld is not finite", (long long)i);
        lo = fmin(lo, s->value[i]), hi = fmax(hi, s->value[i]);
        if (s->err_lo && s->err_hi && isfinite(s->err_lo[i]) && isfinite(s->err_hi[i]))
            lo = fmin(lo, s->err_lo[i]), hi = fmax(hi, s->err_hi[i]);
        for (int64_t k = 0; s->points && s->points[i] && k < s->npoints[i]; k++)
            if (isfinite(s->points[i][k]))
                lo = fmin(lo, s->points[i][k]), hi = fmax(hi, s->points[i][k]);
    }
    int notes = 0;
    for (int64_t i = 0; s->note && i < n; i++)
        notes |= s->note[i] && *s->note[i];
    simrep_status st = SIMREP_OK;
    char(*lab)[LABEL_BYTES] = simrep__alloc_array(ctx, (size_t)n, LABEL_BYTES, "bar labels");
    char(*lines)[LABEL_BYTES] = simrep__alloc_array(ctx, 3 * (size_t)n, LABEL_BYTES, "bar labels");
    int *nlines = simrep__calloc_array(ctx, (size_t)n, sizeof *nlines, "bar labels");
    sbuf b = {ctx, NULL, 0, 0, 0};
    if (!lab || !lines || !nlines) {
        simrep__free(ctx, lab), simrep__free(ctx, lines), simrep__free(ctx, nlines);
        return SIMREP_E_NOMEM;
    }
    double font = 11, labw = 0, wordw = 0;
    /* Bar labels are often "within a" or "a vs b": allow them three names'
     * length (they are wrapped; rotated ones are cut to two below). */
    for (int64_t i = 0; i < n; i++) {
        simrep_elide(s->labels[i], 3 * SIMREP_LABEL_CHARS, lab[i], LABEL_BYTES);
        labw = fmax(labw, text_width(lab[i], font, 0));
        wordw = fmax(wordw, widest_word(lab[i], font));
    }
    /* The y axis: from 0 (or below) to the top of everything drawn, plus
     * room for the notes above the bars. */
    axes a = {0, 0, 0, 320, 0, 1, lo, hi > lo ? hi : lo + 1};
    a.yhi += (a.yhi - a.ylo) * (notes ? 0.14 : 0.06);
    if (a.ylo < 0)
        a.ylo -= (a.yhi - a.ylo) * 0.04;
    char key[512] = "";
    if (s->err_lo && s->err_hi && s->err_label && *s->err_label)
        snprintf(key, sizeof key, "error bars: %s", s->err_label);
    if (s->points)
        snprintf(key + strlen(key), sizeof key - strlen(key), "%sdots: the values behind each bar",
                 *key ? "; " : "");
    a.x0 = 34 + ytick_width(a.ylo, a.yhi) + 8;
    a.y0 = content_top(s->title, s->subtitle) + (*key ? 12 : 6);
    /* Labels go under their bars, wrapped at spaces onto up to three lines,
     * in slots as wide as the widest word (60 to 180 px); when that would
     * make the figure wider than 1600 px, they turn by 45 degrees. */
    double slot_need = fmin(180, fmax(60, wordw + 12));
    double width = fmax(fmax(560, heading_width(s->title, s->subtitle)), 32 + text_width(key, 11, 0));
    int rotate = a.x0 + (double)n * slot_need + 20 > 1600;
    if (!rotate)
        width = fmax(width, a.x0 + (double)n * slot_need + 20);
    if (rotate) {
        labw = 0;
        for (int64_t i = 0; i < n; i++) {
            simrep_elide(s->labels[i], 2 * SIMREP_LABEL_CHARS, lab[i], LABEL_BYTES);
            labw = fmax(labw, text_width(lab[i], font, 0));
        }
    }
    double slot = 0;
    for (int round = 0; round < 2; round++) {
        a.w = width - a.x0 - 20;
        slot = a.w / (double)n;
        if (!rotate && labw <= slot - 8)
            break;
        /* A rotated first label reaches left of its bar: keep it on the canvas. */
        double need = rotate ? labw * 0.7071 - slot / 2 + 10 : 0;
        if (need <= a.x0 - 8)
            break;
        a.x0 = need + 8;
    }
    int maxlines = 1;
    if (!rotate)
        for (int64_t i = 0; i < n; i++) {
            int nl = wrap3(lab[i], font, slot - 8, lines + 3 * i);
            maxlines = nl > maxlines ? nl : maxlines;
            nlines[i] = nl;
        }
    double bottom_labels = rotate ? labw * 0.7071 + font + 12 : maxlines * font * 1.25 + 12;
    double height = a.y0 + a.h + bottom_labels + 12;
    begin(&b, width, height, s->title, s->subtitle);
    if (*key)
        text(&b, 16, a.y0 - 12, 11, -1, 0, "key", "fill=\"#444\"", key);
    draw_axes(&b, &a, NULL, s->ylabel, 0);
    double bw = fmin(slot * 0.62, 90), yz = ax_y(&a, 0);
    for (int64_t i = 0; i < n; i++) {
        double cx = a.x0 + ((double)i + 0.5) * slot, y1 = ax_y(&a, s->value[i]);
        sb_printf(&b, "<rect class=\"bar\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\"><title>",
                  cx - bw / 2, fmin(y1, yz), bw, fabs(yz - y1), group_colour(s->colour ? s->colour[i] : -1));
        sb_escape(&b, s->labels[i]);
        sb_printf(&b, ": %.6g", s->value[i]);
        double top = y1;
        int has_err = s->err_lo && s->err_hi && isfinite(s->err_lo[i]) && isfinite(s->err_hi[i]);
        if (has_err)
            sb_printf(&b, " [%.4g, %.4g]", s->err_lo[i], s->err_hi[i]);
        sb_puts(&b, "</title></rect>\n");
        if (s->points && s->points[i]) {
            /* Spread over 60% of the bar by the golden-ratio sequence (even, deterministic). */
            int64_t m = s->npoints[i];
            for (int64_t k = 0; k < m; k++) {
                double v = s->points[i][k];
                if (!isfinite(v))
                    continue;
                double u = m == 1 ? 0.5 : fmod(0.5 + (double)k * 0.6180339887498949, 1.0);
                double x = cx + (u - 0.5) * bw * 0.6, y = ax_y(&a, v);
                sb_printf(&b, "<circle class=\"dot\" cx=\"%.2f\" cy=\"%.2f\" r=\"2.2\" fill=\"#222\" "
                          "fill-opacity=\"0.55\"/>\n", x, y);
                top = fmin(top, y);
            }
        }
        if (has_err) {
            double ya = ax_y(&a, s->err_lo[i]), yb = ax_y(&a, s->err_hi[i]);
            sb_printf(&b, "<path class=\"errorbar\" d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" "
                      "stroke=\"#111\" stroke-width=\"1.3\" fill=\"none\"/>\n", cx, ya, yb, cx - 6, ya, cx + 6,
                      cx - 6, yb, cx + 6);
            top = fmin(top, fmin(ya, yb));
        }
        if (s->note && s->note[i] && *s->note[i])
            text(&b, cx, top - 6, 10, 0, 0, "note", "fill=\"#222\"", s->note[i]);
        if (rotate)
            text_full(&b, cx + font * 0.35, a.y0 + a.h + 10, font, 1, -45, "bar-label", NULL, lab[i], s->labels[i]);
        else
            for (int l = 0; l < nlines[i]; l++)
                text_full(&b, cx, a.y0 + a.h + 16 + l * font * 1.25, font, 0, 0, "bar-label", NULL, lines[3 * i + l],
                          l == 0 ? s->labels[i] : NULL);
    }
    if (a.ylo < 0)
        sb_printf(&b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", a.x0, yz,
                  a.x0 + a.w, yz);
    out->lo = a.ylo;
    out->hi = a.yhi;
    st = finish(&b, out, width, height);
    simrep__free(ctx, lab), simrep__free(ctx, lines), simrep__free(ctx, nlines);
    return st;
}

/* -------------------------------------------------------------- lines */

void simrep_lines_init(simrep_lines *s)
{
    memset(s, 0, sizeof *s);
}

simrep_status simrep_plot_lines(simrep_ctx *ctx, const simrep_lines *s, simrep_figure *out)
{
    if (!ctx || !out)
        return SIMREP_E_INVALID;
    memset(out, 0, sizeof *out);
    if (!s || s->nseries < 1 || s->nseries > 10000 || !s->names || !s->npoints || !s->x || !s->y)
        return simrep__fail(ctx, SIMREP_E_INVALID, "lines: need 1 to 10000 series with names, npoints, x and y");
    axes a = {0, 0, 560, 340, 0, 0, 0, 0};
    int first = 1;
    for (int k = 0; k < s->nseries; k++) {
        if (s->npoints[k] < 0 || (s->npoints[k] > 0 && (!s->x[k] || !s->y[k])))
            return simrep__fail(ctx, SIMREP_E_INVALID, "lines: series %d has no points", k);
        for (int64_t i = 0; i < s->npoints[k]; i++) {
            double x = s->x[k][i], y = s->y[k][i];
            if (!isfinite(x) || !isfinite(y))
                return simrep__fail(ctx, SIMREP_E_NONFINITE, "lines: point %lld of series %d is not finite",
                                    (long long)i, k);
            double ylo = y, yhi = y;
            if (s->y_lo && s->y_hi && s->y_lo[k] && s->y_hi[k] && isfinite(s->y_lo[k][i]) && isfinite(s->y_hi[k][i]))
                ylo = fmin(y, s->y_lo[k][i]), yhi = fmax(y, s->y_hi[k][i]);
            if (first || x < a.xlo) a.xlo = x;
            if (first || x > a.xhi) a.xhi = x;
            if (first || ylo < a.ylo) a.ylo = ylo;
            if (first || yhi > a.yhi) a.yhi = yhi;
            first = 0;
        }
    }
    if (first)
        return simrep__fail(ctx, SIMREP_E_INVALID, "lines: no points");
    if (s->y_from_zero) {
        a.ylo = fmin(a.ylo, 0);
        a.yhi = fmax(a.yhi, 0);
    }
    pad_range(&a.xlo, &a.xhi, 0.03);
    double ylo0 = a.ylo;
    pad_range(&a.ylo, &a.yhi, 0.06);
    if (s->y_from_zero && ylo0 == 0)
        a.ylo = 0;
    a.x0 = 34 + ytick_width(a.ylo, a.yhi) + 8;
    a.y0 = content_top(s->title, s->subtitle) + 8;
    /* The legend: one entry per series, or (colour_names and dash_names)
     * one per colour (solid) and one per dash pattern (grey). */
    int by_attr = s->colour_names && s->ncolours > 0 && s->dash_names && s->ndashes > 0;
    double lw = by_attr ? fmax(legend_width(s->colour_names, s->ncolours), legend_width(s->dash_names, s->ndashes)) + 6
                        : legend_width(s->names, s->nseries) + 6;
    int nleg = by_attr ? s->ncolours + s->ndashes + 1 : s->nseries;
    double width = a.x0 + a.w + 20 + lw + 10, heading = heading_width(s->title, s->subtitle);
    if (heading > width) {
        a.w += heading - width;
        width = heading;
    }
    double height = fmax(a.y0 + a.h + 50, a.y0 + 14 + 18.0 * nleg);
    sbuf b = {ctx, NULL, 0, 0, 0};
    begin(&b, width, height, s->title, s->subtitle);
    draw_axes(&b, &a, s->xlabel, s->ylabel, 1);
    for (int k = 0; k < s->nseries; k++) {
        const char *col = group_colour(s->colour ? s->colour[k] : k);
        int64_t m = s->npoints[k];
        if (m == 0)
            continue;
        if (s->y_lo && s->y_hi && s->y_lo[k] && s->y_hi[k]) {
            sb_printf(&b, "<polygon class=\"band\" fill=\"%s\" fill-opacity=\"0.18\" stroke=\"none\" points=\"", col);
            for (int64_t i = 0; i < m; i++)
                sb_printf(&b, "%s%.1f,%.1f", i ? " " : "", ax_x(&a, s->x[k][i]),
                          ax_y(&a, isfinite(s->y_hi[k][i]) ? s->y_hi[k][i] : s->y[k][i]));
            for (int64_t i = m - 1; i >= 0; i--)
                sb_printf(&b, " %.1f,%.1f", ax_x(&a, s->x[k][i]),
                          ax_y(&a, isfinite(s->y_lo[k][i]) ? s->y_lo[k][i] : s->y[k][i]));
            sb_puts(&b, "\"/>\n");
        }
        sb_printf(&b, "<polyline class=\"series\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                  "stroke-dasharray=\"%s\" points=\"", col, s->dash ? dash_pattern(s->dash[k]) : "");
        for (int64_t i = 0; i < m; i++)
            sb_printf(&b, "%s%.1f,%.1f", i ? " " : "", ax_x(&a, s->x[k][i]), ax_y(&a, s->y[k][i]));
        sb_puts(&b, "\"/>\n");
        if (m <= 200)
            for (int64_t i = 0; i < m; i++) {
                sb_printf(&b, "<circle class=\"marker\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.8\" fill=\"%s\"><title>",
                          ax_x(&a, s->x[k][i]), ax_y(&a, s->y[k][i]), col);
                sb_escape(&b, s->names[k]);
                sb_printf(&b, " at %.6g: %.6g</title></circle>\n", s->x[k][i], s->y[k][i]);
            }
    }
    if (by_attr) {
        int *idx = simrep__alloc_array(ctx, (size_t)(s->ncolours > s->ndashes ? s->ncolours : s->ndashes),
                                       sizeof *idx, "legend");
        if (!idx) {
            simrep__free(ctx, b.buf);
            return SIMREP_E_NOMEM;
        }
        for (int k = 0; k < s->ncolours || k < s->ndashes; k++)
            idx[k] = k;
        legend(&b, a.x0 + a.w + 20, a.y0 + 14, s->colour_names, s->ncolours, idx, NULL, 1);
        int *grey = idx; /* dash entries: colour -1 (grey), dash k */
        for (int k = 0; k < s->ndashes; k++)
            grey[k] = -1;
        int *dash = simrep__alloc_array(ctx, (size_t)s->ndashes, sizeof *dash, "legend");
        if (!dash) {
            simrep__free(ctx, idx);
            simrep__free(ctx, b.buf);
            return SIMREP_E_NOMEM;
        }
        for (int k = 0; k < s->ndashes; k++)
            dash[k] = k;
        legend(&b, a.x0 + a.w + 20, a.y0 + 14 + 18.0 * (s->ncolours + 1), s->dash_names, s->ndashes, grey, dash, 1);
        simrep__free(ctx, idx);
        simrep__free(ctx, dash);
    } else {
        legend(&b, a.x0 + a.w + 20, a.y0 + 14, s->names, s->nseries, s->colour, s->dash, 1);
    }
    out->lo = a.ylo;
    out->hi = a.yhi;
    return finish(&b, out, width, height);
}
