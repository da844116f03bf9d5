/*
 * svg.h: the figures of `simrep matrix`, written as SVG text directly (no
 * plotting dependency): a heatmap with an optional dendrogram and colour
 * legend, a labelled scatter, a bar chart with error bars, a line chart.
 *
 * Every string given here is XML-escaped on output, so names from a
 * manifest may hold any characters.  Labels are sized from the number of
 * rows (readable at 40 inputs) and rotated when they do not fit their
 * column.  Group colours come from the Okabe-Ito palette (colour-blind
 * safe; cycled beyond 8 groups); the continuous scale is viridis
 * (perceptually uniform, readable in greyscale and by colour-blind eyes).
 */
#ifndef SIMREP_CLI_SVG_H
#define SIMREP_CLI_SVG_H

#include <stdio.h>

/* Write s with &, <, >, " and ' escaped and control characters dropped. */
void svg_escape(FILE *f, const char *s);
/* "#rrggbb" of group g (g >= 0). */
const char *svg_group_colour(int g);
/* The viridis colour of t in [0, 1] (clamped) as "#rrggbb" into out[8]. */
void svg_scale_colour(double t, char out[8]);

/* A dendrogram in scipy's linkage convention (see cluster_tree). */
typedef struct svg_tree {
    int leaves;
    const int *left, *right;
    const double *height;
} svg_tree;

typedef struct svg_heatmap_spec {
    const char *title, *subtitle;
    const char *scale_label;          /* what the colours show ("similarity") */
    int rows, cols;
    const char *const *row_labels;    /* in display order */
    const char *const *col_labels;
    const double *values;             /* rows x cols, row-major, display order */
    double vmin, vmax;                /* the colour scale's range */
    const int *row_group;             /* group index of each displayed row (a colour strip), or NULL */
    const svg_tree *tree;             /* dendrogram beside the rows, or NULL */
    const int *order;                 /* with tree: order[k] is the leaf shown in row k */
    const char *const *group_names;   /* with row_group: ngroups names for the legend */
    int ngroups;
} svg_heatmap_spec;

typedef struct svg_scatter_spec {
    const char *title, *subtitle, *xlabel, *ylabel;
    int n;
    const double *x, *y;
    const char *const *labels;
    const int *group;                 /* group index per point */
    const char *const *group_names;
    int ngroups;
} svg_scatter_spec;

typedef struct svg_bars_spec {
    const char *title, *subtitle, *ylabel;
    int n;
    const char *const *labels;
    const double *value, *err;        /* err: half-height of the error bar (may be NULL) */
    const int *colour;                /* group colour index per bar, -1 for grey */
} svg_bars_spec;

typedef struct svg_lines_spec {
    const char *title, *subtitle, *xlabel, *ylabel;
    int nseries;
    const char *const *names;
    const int *npoints;
    const double *const *x, *const *y;
} svg_lines_spec;

/* Each writes one complete SVG document to f; returns 0, or -1 if a write
 * failed (ferror). */
int svg_heatmap(FILE *f, const svg_heatmap_spec *s);
int svg_scatter(FILE *f, const svg_scatter_spec *s);
int svg_bars(FILE *f, const svg_bars_spec *s);
int svg_lines(FILE *f, const svg_lines_spec *s);

#endif
