/*
 * moments.h: what the measures read from a simrep_moments beyond the public
 * accessors (implemented in moments.c), without copying the d x d scatter.
 */
#ifndef SIMREP_MOMENTS_H
#define SIMREP_MOMENTS_H

#include "internal.h"

/* The joint scatter, column-major d x d (d = all inputs' features); only
 * the upper triangle is valid. */
const double *simrep__moments_scatter_upper(const simrep_moments *m);
/* The joint means (d values, input 0's first). */
const double *simrep__moments_mean(const simrep_moments *m);
/* The column offsets of the inputs (inputs + 1 values: input j is columns
 * [off[j], off[j+1]) of the joint scatter and means). */
const int64_t *simrep__moments_offsets(const simrep_moments *m);
/* Debiased-CKA row sum of inputs i and j about the mean: sum_r a_r(i) a_r(j)
 * with a_r(j) = |z_r(j) - mu(j)|^2. */
double simrep__moments_row_sum(const simrep_moments *m, int i, int j);
/* Input j's state is in units of 2^exponent (moments.c, "Scale"): the
 * means, scatter and row sums above are in those units, which every measure
 * may use as they are (each is invariant to scaling an input). */
int simrep__moments_exponent(const simrep_moments *m, int j);

/* The unit roundoff of a dtype (round to nearest; moments.c "Rounding"). */
double simrep__dtype_unit(simrep_dtype dtype);

/* 1 once any rows were folded in mixed precision (simrep_moments_set_precision). */
int simrep__moments_mixed(const simrep_moments *m);

#endif
