/*
 * matrix.h: what the files of `simrep matrix` share.
 *
 *   matrix.c          arguments, inputs, the passes over the data, the pairs in parallel
 *   matrix_cluster.c  the group summaries (a pure function)
 *   matrix_output.c   JSON, table and CSV writers, training and depth tables
 *   matrix_figures.c  the figures (drawn by the library: simrep_plot_*), PNG copies, DIR/index.html
 *
 * One name for one idea: K inputs (rows of the manifest), indexed i, j in
 * manifest order; a "pair" is i < j; matrices are K x K row-major, mirrored,
 * with similarity 1 and distance 0 on the diagonal.
 */
#ifndef SIMREP_CLI_MATRIX_H
#define SIMREP_CLI_MATRIX_H

#include <stdint.h>

#include "cli.h"
#include "manifest.h"
#include "stats.h"

/* ----------------------------------------------------- group summaries */

/*
 * Mean, standard deviation (ddof = 1; 0 for a single pair) and count of the
 * distances between the inputs of groups a and b (a == b: pairs i < j
 * within the group).  group[i] is input i's group index.
 */
typedef struct group_stat {
    double mean, std;
    int64_t count;
} group_stat;
group_stat group_summary(int K, const double *dist, const int *group, int a, int b);

/* ---------------------------------------------------------------- inputs */

typedef struct mx_input {
    const char *name;   /* from the manifest (owned by it) */
    char *spec;         /* path resolved against the manifest's directory */
    int line;           /* manifest line */
    int group;          /* index into the group names */
    int layer;          /* index into the layer names; -1 without a layer column */
    double step;        /* the step column's value (training dynamics) */
    int64_t n, p;           /* samples and features as read (after the conv/sequence layout) */
    int64_t out_h, out_w;   /* conv inputs: the spatial size read (settled over the whole manifest); else 0 */
    int64_t rows_per_item;  /* samples per item (image positions, time steps); 1 for 2-D */
    int64_t kept;       /* features kept by the CCA family's dead-feature rule; -1 if not computed */
    int64_t rank;       /* of those, directions above the rounding floor (simrep_result.rank_p) */
    int64_t shrunk;     /* directions the ridge shrinks by > 1% (simrep_result.shrunk_p) */
    unsigned warn;      /* SIMREP_WARN_FEW_SAMPLES, _DEAD_FEATURES, _ROUNDING, _RIDGE: this input's, from its pairs */
    simrep_file_id fid; /* the file as first opened: every pass must read that same file */
} mx_input;

/* Descriptors kept free for what is not an input (npz spill files, the
 * manifest, rsvg-convert's pipes). */
#define MX_OPEN_RESERVE 32
/* How many inputs may be open at once: RLIMIT_NOFILE (its soft limit first
 * raised to the hard one) less the descriptors open now and the reserve;
 * the smallest over the MPI ranks.  Computed once. */
int mx_open_budget(void);
/* Bytes the results of K inputs and nmeasures measures hold whatever the
 * passes: each measure's K x K similarities and distances, a K x K matrix
 * for the clustering and MDS, the pair bookkeeping. */
double mx_results_bytes(int64_t K, int nmeasures);


/* Everything the outputs need. */
typedef struct mx_run {
    const char *manifest_path;
    manifest man;
    int K;
    mx_input *in;
    int max_open;            /* inputs a pass may hold open (mx_open_budget): more are read in tiles */
    double pass_memory;      /* bytes of --max-memory left for a pass after the results (mx_check_budget) */
    int open_warned;
    int ngroups;
    const char **groups;     /* group names (first appearance order) */
    int has_group_column;
    int nlayers;
    const char **layers;     /* layer names (first appearance order) */
    simrep_measure measures[SIMREP_MEASURE_COUNT];
    int nmeasures;
    simrep_options opt;
    double *sim[SIMREP_MEASURE_COUNT];  /* K x K per measure (in measures order) */
    double *dist[SIMREP_MEASURE_COUNT];
    int passes;
    int training;            /* 1: training-dynamics tables are produced */
    int depth;               /* 1: depth (layer x layer) tables are produced */
    int *final_of;           /* training: for each input, the input at the last step of its (group, layer) */
    char warnings[16][600];
    int nwarnings;
    /* Figures. */
    int argc;                /* the command line, for DIR/index.html */
    char **argv;
    double range_lo, range_hi; /* --range lo,hi of the heatmaps' colour scale; NaN: the data's range */
    int png;                 /* 1: PNG copies of the figures when rsvg-convert is on PATH (not --no-png) */
    char layer[128];         /* the layer every input is from, for titles ("" when several or unknown) */
    cli_stats stats;         /* --permutations, --bootstrap, --seed, --ci: group tests (matrix_stats.c) */
    /* Measures undefined for some pair (cli_measure_error): the first
     * pair's message per measure (in measures order while computing), then
     * the dropped measures' ids and messages for the outputs ("errors"). */
    char merr[SIMREP_MEASURE_COUNT][1400];
    int nerrors;
    const char *error_ids[SIMREP_MEASURE_COUNT];
    char error_msgs[SIMREP_MEASURE_COUNT][1400];
} mx_run;

/* --max-memory counts the results first: r->pass_memory is what is left
 * for a pass; -1 to go on, or EXIT_DATA after the error (the results alone
 * exceed the budget or the memory this process may use). */
int mx_check_budget(mx_run *r, double max_memory);

/* Per-measure analyses shared by the JSON, the table and the figures
 * (matrix_output.c computes them). */
typedef struct mx_views {
    simrep_linkage tree[SIMREP_MEASURE_COUNT];
    double *mds[SIMREP_MEASURE_COUNT]; /* K x 2 */
    double mds_ev[SIMREP_MEASURE_COUNT][2];
    int *sorted;                       /* training/depth rows: inputs by (group, layer, step) */
} mx_views;

/* Files of -o DIR, each written whole or not at all (cli_file: a
 * temporary name renamed on success): out_open reports a failure (and sets
 * failed), out_close reports a failed write or close; rc is the writer's
 * own error flag.  path is the file's name in DIR (the last one opened). */
typedef struct mx_outdir {
    const char *dir;
    char path[4096];
    int failed;
    cli_file file;
} mx_outdir;
/* DIR made if missing, a directory, and one we can create files in (a
 * read-only DIR is one line before any data is read).  Returns -1 to go
 * on, else EXIT_DATA after the error; *created: 1 if this call made it. */
int mx_outdir_prepare(const char *dir, int *created);
FILE *mx_out_open(mx_outdir *o, const char *name);
void mx_out_close(mx_outdir *o, FILE *f, int rc);
/* A file name fragment from a name: [A-Za-z0-9._-] kept, others '_'. */
void mx_safe_name(char *dst, size_t cap, const char *s);
/* The measure id of the run's t-th measure. */
const char *mx_measure_id(const mx_run *r, int t);
/* Depth: the inputs of group g, one per layer, in layer order; returns the count. */
int mx_depth_rows(const mx_run *r, int g, int *out);

/* The figures of -o DIR (SVG, PNG copies) and DIR/index.html
 * (matrix_figures.c); failures are reported and set o->failed. */
void matrix_write_figures(mx_outdir *o, const mx_run *r, const mx_views *v);


/* Group tests of one measure (matrix_stats.c): ok 0 when not asked for. */
typedef struct mx_group_stats {
    int ok;
    int ntests;
    simrep_group_test *tests; /* pairs of groups, then all */
    double *within_ci;        /* groups x 2 */
    double *between_ci;       /* groups x groups x 2 */
} mx_group_stats;

/* 0, or an exit status after printing the error. */
int mx_stats_compute(const mx_run *r, int t, mx_group_stats *out);
void mx_stats_free(mx_group_stats *s);
/* Keys added to a measure's "group_summary" (with their leading ", "). */
void mx_stats_json(FILE *f, const mx_run *r, const mx_group_stats *s);
void mx_stats_table(const mx_run *r, const mx_group_stats *s);
/* group_summary.csv with statistics: the columns added after "pairs"
 * (with their leading commas), and one row's cells: a == b a group's
 * within row (its interval), a < b a pair's between row (its interval and
 * test), a = b = -1 the row of all groups (the pooled test); empty cells
 * where a value does not exist or was not asked for. */
const char *mx_stats_csv_header(void);
/* The text tables' cells (matrix_output.c): s elided in the middle to w
 * characters and padded (right-aligned when right); the label of a group
 * (a == b), of a pair (a < b: "a vs b") or of all groups (a < 0), padded to
 * w, and the w that fits every label of r. */
void mx_print_text(const char *s, int w, int right);
void mx_print_group(const mx_run *r, int a, int b, int w);
int mx_group_width(const mx_run *r);
void mx_stats_csv_cells(FILE *f, const mx_run *r, const mx_group_stats *s, int a, int b);

/* The command line of matrix (and of validate, which shares its inputs,
 * passes and options). */
typedef struct matrix_args {
    const char *manifest;
    const char *outdir;
    int format;
    int threads;
    double max_memory;
    int against_final;
    double range_lo, range_hi;
    int no_png;
    simrep_layout layout;
    simrep_measure measures[SIMREP_MEASURE_COUNT];
    int nmeasures;
    simrep_options opt;
    cli_stats stats;
} matrix_args;

/* Defaults: the default measures, 1 GiB, one thread per CPU. */
void mx_args_init(matrix_args *a);
/* What mx_common_option needs of its command: the name in messages, the
 * help printed around the measures' list, every option that takes a value
 * (MX_COMMON_VALUED and the command's own; NULL-terminated). */
typedef struct mx_command {
    const char *name, *help_head, *help_tail;
    const char *const *valued;
} mx_command;
/* Argument argv[*i] of matrix or validate, the handling they share: -h
 * (the help; 0), '--' (MX_OPT_END when last; else the argument after it is
 * unexpected, as any argument not an option), --features-first, --no-png,
 * and the valued options (*i moves past the value) --manifest, -m,
 * --format, -o, --threads, --max-memory, the measure, layout and
 * statistics options: MX_OPT_DONE.  The command's own valued options come
 * back split (name, *val) with CLI_OPT_NOT_MINE; an error's exit status
 * otherwise (the message printed). */
#define MX_OPT_DONE (-2)
#define MX_OPT_END (-3)
int mx_common_option(const mx_command *cmd, int argc, char **argv, int *i, matrix_args *a, cli_seen *seen,
                     char *name, size_t cap, const char **val);
#define MX_COMMON_VALUED "--manifest", "-m", "--measures", "--format", "-o", "--output", "--threads", \
    "--max-memory", "--conv", "--conv-mode", "--resize", "--sequence", "--mask", CLI_STATS_OPTIONS

/* The manifest's rows: paths, groups, layers, steps, every input opened
 * once for its shape (r->manifest_path set by the caller).  -1, or an exit
 * status after printing the error. */
int mx_load_inputs(mx_run *r, const matrix_args *a);
/* Compute the pairs (i, j) of the inputs subset[0 .. nsub) with
 * want[i * K + j] or want[j * K + i] set (want NULL: every pair) into
 * r->sim and r->dist (allocated by the caller, K x K per measure), in as
 * few passes over the data as --max-memory allows; matrices are mirrored,
 * diagonal 1 / 0.  -1, or an exit status after printing the error. */
int mx_run_pairs(mx_run *r, const matrix_args *a, const int *subset, int nsub, const unsigned char *want);
/* The pairs' warnings (few samples, dead features) into r->warnings, once
 * per input. */
void mx_collect_warnings(mx_run *r);
/* Measures undefined for some pair: reported, and left out of r (their ids
 * and messages in r->error_ids, r->error_msgs). */
void mx_drop_failed_measures(mx_run *r);

/* Outputs (matrix_output.c); each returns 0 or an exit status after
 * printing the error. */
int matrix_print(const mx_run *r, int format);
int matrix_write_dir(const mx_run *r, const char *dir);

enum { MX_FORMAT_TABLE, MX_FORMAT_JSON, MX_FORMAT_CSV };

/* Pieces of the outputs that validate's reuse (matrix_figures.c,
 * matrix_output.c): rsvg-convert on PATH (0 if none); DIR/x.svg to
 * DIR/x.png (returns 1 if written; on failure warns and clears rsvg, so no
 * more are tried); HTML escaping, the report's Command (shell-quoted) and
 * Warnings sections, its CSS; a CSV field quoted as RFC 4180 needs. */
int mx_find_rsvg(char *out, size_t cap);
/* mx_write_png: 1 if made, 0 if not (a warning; rsvg emptied), -1 after an error. */
int mx_write_png(char *rsvg, size_t cap, const char *svg_path);
void mx_html_escape(FILE *f, const char *s);
void mx_html_command_and_warnings(FILE *f, const mx_run *r);
const char *mx_html_css(void);
void mx_csv_field(FILE *f, const char *s);

/* The subcommand (matrix.c). */
int cmd_matrix(int argc, char **argv);

#endif
