/*
 * linalg.h: the library's only door to BLAS and LAPACK (implemented in
 * linalg.c).  All matrices are column-major, as Fortran sees them; a
 * row-major block is passed as its column-major transpose instead of being
 * copied.  Dimensions are int64_t here and checked against the BLAS integer
 * width (32-bit int in Debian's LP64 OpenBLAS) inside.  Workspace is
 * allocated through the context so allocation failures are reported.
 */
#ifndef SIMREP_LINALG_H
#define SIMREP_LINALG_H

#include "internal.h"

/* C (n x n, upper triangle) = alpha * A * Aᵀ + beta * C, A n x k (lda).
 * trans = 'T' computes alpha * Aᵀ A with A k x n instead. */
simrep_status simrep__syrk(simrep_ctx *ctx, char trans, int64_t n, int64_t k, double alpha, const double *a,
                           int64_t lda, double beta, double *c, int64_t ldc);

/* Single precision, for the mixed-precision pass: C (n x n, upper
 * triangle) = A Aᵀ, A n x k (lda), C overwritten (ssyrk, beta 0). */
simrep_status simrep__ssyrk(simrep_ctx *ctx, int64_t n, int64_t k, const float *a, int64_t lda, float *c, int64_t ldc);

/* C (m x n) = alpha * op(A) op(B) + beta * C; op is 'N' or 'T'. */
simrep_status simrep__gemm(simrep_ctx *ctx, char transa, char transb, int64_t m, int64_t n, int64_t k,
                           double alpha, const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                           double *c, int64_t ldc);

/* y = alpha * op(A) x + beta * y, A m x n. */
simrep_status simrep__gemv(simrep_ctx *ctx, char trans, int64_t m, int64_t n, double alpha, const double *a,
                           int64_t lda, const double *x, double beta, double *y);

/* y = alpha * A x + beta * y, A n x n symmetric with its upper triangle
 * stored (dsymv). */
simrep_status simrep__symv(simrep_ctx *ctx, int64_t n, double alpha, const double *a, int64_t lda,
                           const double *x, double beta, double *y);

/* A (n x n, upper triangle) += alpha * x xᵀ (dsyr). */
simrep_status simrep__syr(simrep_ctx *ctx, int64_t n, double alpha, const double *x, double *a, int64_t lda);

/* Symmetric eigendecomposition (dsyevd, as numpy.linalg.eigh): on entry the
 * upper triangle of A (n x n, lda); on exit A holds the orthonormal
 * eigenvectors as columns and w the eigenvalues in ascending order. */
simrep_status simrep__syevd(simrep_ctx *ctx, int64_t n, double *a, int64_t lda, double *w);

/* SVD by divide and conquer (dgesdd, as numpy.linalg.svd).  A (m x n, lda)
 * is destroyed.  jobz 'A': U m x m, VT n x n; 'S': U m x min, VT min x n;
 * 'N': singular values only (u, vt may be NULL).  s has min(m, n) values,
 * descending. */
simrep_status simrep__gesdd(simrep_ctx *ctx, char jobz, int64_t m, int64_t n, double *a, int64_t lda, double *s,
                            double *u, int64_t ldu, double *vt, int64_t ldvt);

/* Cholesky A = UᵀU (upper, dpotrf); returns SIMREP_E_NUMERIC if A is not
 * positive definite (the message names what). */
simrep_status simrep__potrf(simrep_ctx *ctx, int64_t n, double *a, int64_t lda, const char *what);

/* Solve op(U) X = B in place (B is n x nrhs), U upper triangular (dtrsm,
 * left side). */
simrep_status simrep__trsm_upper(simrep_ctx *ctx, char trans, int64_t n, int64_t nrhs, const double *u,
                                 int64_t ldu, double *b, int64_t ldb);

#endif
