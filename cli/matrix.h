/*
 * matrix.h: what the files of `simrep matrix` share.
 *
 *   matrix.c          arguments, inputs, the passes over the data, the pairs in parallel
 *   matrix_cluster.c  average-linkage clustering and the group summaries (pure functions)
 *   matrix_output.c   JSON, table and CSV writers, training and depth tables, the figures
 *   svg.c             the SVG chart writers (heatmap, scatter, bars, lines)
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

/* ------------------------------------------------------------ clustering */

/*
 * The dendrogram of average linkage (UPGMA) on a K x K distance matrix, in
 * scipy's linkage convention: merge m joins left[m] and right[m] (ids < K
 * are inputs, K + m' is the cluster made by merge m') at height[m], giving
 * a cluster of size[m] inputs.
 *
 * Rule (deterministic, so tests can replay it): clusters are kept in the
 * order of their smallest input index; each step merges the closest two,
 * ties going to the first pair in that order (row-major over i < j); the
 * cluster with the smaller first input is the left child; the distance
 * from the merged cluster to another is the size-weighted mean of the two
 * old distances (which equals the mean over all input pairs).  The leaf
 * order is the depth-first left-to-right walk from the root.
 */
typedef struct cluster_tree {
    int leaves;
    int *left, *right, *size; /* leaves - 1 merges */
    double *height;
    int *order;               /* leaves: input indices in dendrogram order */
} cluster_tree;

/* dist is K x K row-major (only i < j is read).  Returns 0, or -1 when out
 * of memory.  K >= 1. */
int cluster_upgma(int K, const double *dist, cluster_tree *out);
void cluster_tree_free(cluster_tree *t);

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
    unsigned warn;      /* SIMREP_WARN_FEW_SAMPLES, SIMREP_WARN_DEAD_FEATURES: this input's, from its pairs */
} mx_input;

/* Everything the outputs need. */
typedef struct mx_run {
    const char *manifest_path;
    manifest man;
    int K;
    mx_input *in;
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
} mx_run;

/* Outputs (matrix_output.c); each returns 0 or an exit status after
 * printing the error. */
int matrix_print(const mx_run *r, int format);
int matrix_write_dir(const mx_run *r, const char *dir);

enum { MX_FORMAT_TABLE, MX_FORMAT_JSON, MX_FORMAT_CSV };

/* The subcommand (matrix.c). */
int cmd_matrix(int argc, char **argv);

#endif
