/*
 * validate.h: what the files of `simrep validate` share.
 *
 *   validate.c         arguments, the score column, references and their
 *                      families, the distances (matrix's passes), the tests
 *   validate_output.c  table, JSON, CSV, and -o DIR (figures, index.html)
 *
 * A family is one reference and the rows compared with it: the rows of its
 * layer (all rows without a layer column), or every row of the manifest
 * with --across-layers.  The reference is one of its own rows (distance 0,
 * score difference 0), as in Ding et al.'s evaluation.
 */
#ifndef SIMREP_CLI_VALIDATE_H
#define SIMREP_CLI_VALIDATE_H

#include "matrix.h"

typedef struct vd_family {
    int layer;                 /* index into r->layers, or -1 (no layer column) */
    int ref;                   /* the reference's input index */
    int *rows;                 /* the inputs compared with it, manifest order, the reference among them */
    int nrows;
    simrep_rank_result test[SIMREP_MEASURE_COUNT]; /* per measure, in r->measures order */
} vd_family;

typedef struct vd_run {
    mx_run *r;
    const char *score_column;
    const char *reference;     /* "best" or the names given */
    int across_layers;
    double *score;             /* per input */
    int nfam;
    vd_family *fam;
    simrep_rank_options ro;
    int ranking[SIMREP_MEASURE_COUNT]; /* measure positions, best first */
    double mean_rho[SIMREP_MEASURE_COUNT], mean_tau[SIMREP_MEASURE_COUNT], mean_bad[SIMREP_MEASURE_COUNT];
    double mean_rho_p[SIMREP_MEASURE_COUNT], mean_tau_p[SIMREP_MEASURE_COUNT];
} vd_run;

/* The distance of input i to its family's reference for measure t. */
double vd_distance(const vd_run *v, int t, const vd_family *f, int i);
/* "relu2" or "" for a family without a layer. */
const char *vd_layer_name(const vd_run *v, const vd_family *f);

/* Outputs (validate_output.c): 0, or an exit status after the error. */
int validate_print(const vd_run *v, int format);
int validate_write_dir(const vd_run *v, const char *dir);

int cmd_validate(int argc, char **argv);

#endif
