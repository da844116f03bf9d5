/*
 * rows.h: the measures computed from the rows themselves in tiled O(n^2)
 * passes (family "rows"): rsa (rsa.c), mutual_knn and cknna (knn.c).  Each
 * takes x (n x p) and y (n x q) in memory, any dtype and strides, reads its
 * options, fills r->similarity and r->distance, and shares its passes
 * through the context's partition (simrep_ctx_set_partition).
 */
#ifndef SIMREP_ROWS_H
#define SIMREP_ROWS_H

#include "internal.h"

simrep_status simrep__rsa(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                          const simrep_options *opt, simrep_result *r);
simrep_status simrep__mutual_knn(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                 const simrep_options *opt, simrep_result *r);
/* The same of a bootstrap resample (rowstats.c): row i stands for w[i]
 * copies (whole numbers >= 1), and a copy is never paired with, or a
 * neighbour of, another copy of its own row.  w NULL: the plain measure.
 * fixed: the observed data's parameters (registry .rows_fixed), or NULL;
 * these three have none. */
simrep_status simrep__rsa_weighted(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                   const simrep_options *opt, const double *w, const double *fixed, simrep_result *r);
simrep_status simrep__mutual_knn_weighted(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                          const simrep_options *opt, const double *w, const double *fixed, simrep_result *r);
simrep_status simrep__cknna_weighted(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                     const simrep_options *opt, const double *w, const double *fixed, simrep_result *r);
simrep_status simrep__cknna(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                            const simrep_options *opt, simrep_result *r);

#endif
