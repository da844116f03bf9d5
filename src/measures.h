/*
 * measures.h: the shared input of the linear measures (implemented across
 * cca.c, cka.c and procrustes.c, dispatched by compare.c): the covariance
 * of one pair of inputs and their dead-feature split, made per pair from
 * the per-input work a simrep_pairs holds, and read by every measure.
 */
#ifndef SIMREP_MEASURES_H
#define SIMREP_MEASURES_H

#include "internal.h"

/* One input's kept covariance block, rescaled and eigendecomposed (cca.c):
 * the whitening every CCA-family measure of every pair with that input
 * reads.  Read-only once made, so pairs compared in parallel share it. */
typedef struct simrep__side simrep__side;
simrep_status simrep__side_make(simrep_ctx *ctx, const double *cov, int64_t k, int64_t ld, simrep__side **out);
void simrep__side_free(simrep_ctx *ctx, simrep__side *side);
/* As a flat array of doubles, to send it to other processes. */
int64_t simrep__side_state_len(const simrep__side *side);
void simrep__side_save(const simrep__side *side, double *state);
simrep_status simrep__side_load(simrep_ctx *ctx, const double *state, int64_t k, simrep__side **out);

typedef struct simrep__prepared {
    int64_t n, p, q, d;
    const double *mean;   /* d joint column means, x's first */
    double *cov;          /* d x d joint covariance S / (n - 1), full, column-major */
    double tr_sxx, tr_syy; /* traces of the scatter blocks (not divided by n - 1) */
    int64_t kp, kq;       /* features kept by the dead-feature rule */
    int64_t *kept;        /* kp indices into x's features, then kq indices of y's (0-based within each side) */
    double t_ab, t_aa, t_bb; /* debiased-CKA row sums (moments.h) */
    const simrep__side *side_x, *side_y; /* shared eigendecompositions of the kept blocks, or NULL */
} simrep__prepared;

/* cca, cca_r2, svcca, pwcca: every CCA-family measure in measures[] (others
 * are skipped); fills the matching results. */
simrep_status simrep__cca_family(simrep_ctx *ctx, const simrep__prepared *pr, const simrep_options *opt,
                                 const simrep_measure *measures, int count, simrep_result *results);
/* The CCA of x and y with its intermediate matrices (simrep_cca_details). */
simrep_status simrep__cca_details(simrep_ctx *ctx, const simrep__prepared *pr, const simrep_options *opt,
                                  simrep_cca_details *d);
/* cka (debiased = 0) or cka_debiased (1). */
simrep_status simrep__cka_linear(simrep_ctx *ctx, const simrep__prepared *pr, int debiased, simrep_result *r);
/* The closed-form chance level of r->measure (stats.c), into r->chance
 * and r->has_chance; reads r->kept_p/q (set by the CCA family first). */
void simrep__chance(const simrep__prepared *pr, simrep_result *r);
/* procrustes (angular = 0) or procrustes_angular (1). */
simrep_status simrep__procrustes(simrep_ctx *ctx, const simrep__prepared *pr, int angular, simrep_result *r);

#endif
