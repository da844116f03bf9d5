/*
 * moments.h: what the measures read from a simrep_moments beyond the public
 * accessors (implemented in moments.c), without copying the d x d scatter.
 */
#ifndef SIMREP_MOMENTS_H
#define SIMREP_MOMENTS_H

#include "internal.h"

/* The joint scatter, column-major d x d (d = p + q); only the upper
 * triangle is valid. */
const double *simrep__moments_scatter_upper(const simrep_moments *m);
/* The joint means (d values, x's first). */
const double *simrep__moments_mean(const simrep_moments *m);
/* Debiased-CKA row sums about the mean: sum a_i b_i, sum a_i^2, sum b_i^2
 * with a_i = |x_i - mu_x|^2, b_i = |y_i - mu_y|^2. */
void simrep__moments_row_sums(const simrep_moments *m, double *t_ab, double *t_aa, double *t_bb);

#endif
