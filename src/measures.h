/*
 * measures.h: the measure registry's private side and the shared input of
 * the measures computed from moments.
 *
 * The registry (measures.c) holds one row per measure: its public
 * simrep_measure_info and how to compute it (a function of one prepared
 * pair of inputs for the moments families, a function of the rows for the
 * rows family) and which per-input work it needs.  compare.c dispatches
 * through the rows and never names a measure; a measure's own file (cca.c,
 * cka.c, procrustes.c, ...) implements its compute function.
 *
 * A prepared pair (simrep__prepared) is the covariance of one pair of
 * inputs and their dead-feature split, made per pair from the per-input
 * work a simrep_pairs holds, plus a cache slot per family, where a
 * family's first measure leaves the work its other measures share (the
 * CCA family's kept blocks and SVD) for the rest of the call.
 */
#ifndef SIMREP_MEASURES_H
#define SIMREP_MEASURES_H

#include "internal.h"

/* One input's kept covariance block, rescaled and eigendecomposed (cca.c):
 * the whitening every CCA-family measure of every pair with that input
 * reads.  Read-only once made, so pairs compared in parallel share it. */
typedef struct simrep__side simrep__side;
/* noise: the rounding-noise floor of that block (simrep__noise_floor), 0 for none. */
simrep_status simrep__side_make(simrep_ctx *ctx, const double *cov, int64_t k, int64_t ld, double noise,
                                simrep__side **out);
/* The variance at or below which a direction of one input's kept
 * covariance is rounding noise (cca.c; docs/measures.md "Directions at the
 * data's rounding level"): (noise_ulps u)^2 m2, with u the input's unit
 * roundoff and m2 = sum over its kept features of mean(x^2) = S_cc / n +
 * mu_c^2, in the covariance's units; 0 (no floor) for float64 data or
 * noise_ulps = 0. */
double simrep__noise_floor(const simrep_options *opt, double unit, double m2);
void simrep__side_free(simrep_ctx *ctx, simrep__side *side);
/* As a flat array of doubles, to send it to other processes. */
int64_t simrep__side_state_len(const simrep__side *side);
void simrep__side_save(const simrep__side *side, double *state);
simrep_status simrep__side_load(simrep_ctx *ctx, const double *state, int64_t k, simrep__side **out);

/*
 * One input's whole scatter (every feature, not rescaled), eigendecomposed:
 * vals descending (round-off negatives clamped to 0), vecs p x p column-
 * major in the same order; in the moments' units (scatter x 4^expo is the
 * data's, see simrep__prepared).  Made once per input (compare.c) for the
 * moments measures that regress or whiten (linreg, shape metrics, ...).
 */
typedef struct simrep__eig {
    int64_t k;
    double *vals;
    double *vecs;
} simrep__eig;

/* Per-input work a measure needs (simrep__measure_row.prep). */
#define SIMREP__PREP_SIDE 1u /* the kept block's whitening (simrep__side) */
#define SIMREP__PREP_EIG 2u  /* the whole scatter's eigendecomposition (simrep__eig) */

typedef struct simrep__prepared {
    int64_t n, p, q, d;
    const double *mean;   /* d joint column means, x's first */
    double *cov;          /* d x d joint covariance S / (n - 1), full, column-major */
    double tr_sxx, tr_syy; /* traces of the scatter blocks (not divided by n - 1) */
    int64_t kp, kq;       /* features kept by the dead-feature rule */
    int64_t *kept;        /* kp indices into x's features, then kq indices of y's (0-based within each side) */
    double t_ab, t_aa, t_bb; /* debiased-CKA row sums (moments.h) */
    const simrep__side *side_x, *side_y; /* shared eigendecompositions of the kept blocks, or NULL */
    int mixed;            /* the moments had rows folded in mixed precision (simrep_precision) */
    const simrep__eig *eig_x, *eig_y;    /* shared eigendecompositions of the whole scatters, or NULL */
    int expo_x, expo_y;   /* each side's state is in units of 2^expo (moments.h): scatter x 4^expo is the data's */
    double unit_x, unit_y; /* unit roundoff of each side's dtype (simrep_moments_unit_roundoff) */
    const simrep_options *opt;
    const unsigned char *want; /* want[m] != 0: measure m is asked for in this call */
    void *cache[SIMREP_FAMILY_COUNT]; /* a family's shared work, made by its first measure */
} simrep__prepared;

/* A measure of one prepared pair (families CCA and MOMENTS): fills r's
 * similarity, distance and the outputs its row declares. */
typedef simrep_status (*simrep__pair_fn)(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
/* A measure of the rows (family ROWS): x is n x p, y n x q, in memory.
 * Shares its tile passes through ctx's partition (simrep_ctx_set_partition). */
typedef simrep_status (*simrep__rows_fn)(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                         const simrep_options *opt, simrep_result *r);

/* A rows measure of a bootstrap resample (rowstats.c): row i of x and y
 * stands for w[i] >= 1 copies; pairs of copies of one row are left out. */
typedef simrep_status (*simrep__rows_weighted_fn)(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                                  const simrep_options *opt, const double *w, const double *fixed,
                                                  simrep_result *r);
/* What a measure estimates from the data and keeps fixed across the
 * resamples (cka_rbf's bandwidth: a hyperparameter, not re-estimated per
 * resample), from the observed x and y into fixed[SIMREP__ROWS_FIXED_MAX];
 * rows_weighted reads it back. */
#define SIMREP__ROWS_FIXED_MAX 4
typedef simrep_status (*simrep__rows_fixed_fn)(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                               const simrep_options *opt, double *fixed);

typedef struct simrep__measure_row {
    simrep_measure_info info;
    simrep__pair_fn pair;  /* families CCA and MOMENTS */
    simrep__rows_fn rows;  /* family ROWS */
    simrep__rows_weighted_fn rows_weighted; /* family ROWS with a bootstrap (info.statistics), or NULL */
    simrep__rows_fixed_fn rows_fixed;       /* its parameters fixed at the observed data's, or NULL */
    unsigned prep;         /* SIMREP__PREP_* it needs at any options */
    unsigned (*prep_at)(const simrep_options *opt); /* or, if set, as a function of the options */
    /* The closed-form chance level (stats.c, issue 11): the exact mean of
     * the similarity over random re-pairings of the rows, from the pair's
     * moments and its result (kept features); NULL where there is none. */
    double (*chance)(const simrep__prepared *pr, const simrep_result *r);
} simrep__measure_row;

/* The row of measure m; NULL if out of range. */
const simrep__measure_row *simrep__measure_row_get(simrep_measure m);
/* The per-input work measures[0 .. count) need at opt. */
unsigned simrep__measures_prep(const simrep_measure *measures, int count, const simrep_options *opt);
/* Every option the measures read within its valid range (an INTEGER
 * option's 0 means unset); measures must be valid ids. */
simrep_status simrep__options_check(simrep_ctx *ctx, const simrep_options *o, const simrep_measure *measures,
                                    int count);
/* v within the valid range of option id (simrep_option_get_info), else
 * SIMREP_E_INVALID "<name> must be <valid> (got v)": for entry points that
 * take an option's value as an argument (simrep_cka_rbf's sigma). */
simrep_status simrep__option_check(simrep_ctx *ctx, simrep_option_id id, double v);
/* Release the families' caches of a prepared pair. */
void simrep__prepared_clear_caches(simrep_ctx *ctx, simrep__prepared *pr);

/* The CCA of x and y with its intermediate matrices (simrep_cca_details). */
simrep_status simrep__cca_details(simrep_ctx *ctx, const simrep__prepared *pr, const simrep_options *opt,
                                  simrep_cca_details *d);
/* The closed-form chance level of r->measure (its row's .chance), into
 * r->chance and r->has_chance; reads r->kept_p/q (set by the measure). */
void simrep__chance(const simrep__prepared *pr, simrep_result *r);
/* The closed forms (stats.c). */
double simrep__chance_cca_r2(const simrep__prepared *pr, const simrep_result *r);
double simrep__chance_cka(const simrep__prepared *pr, const simrep_result *r);
double simrep__chance_zero(const simrep__prepared *pr, const simrep_result *r);

#endif
