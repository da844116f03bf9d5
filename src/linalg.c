/*
 * linalg.c: thin wrappers over the Fortran BLAS and LAPACK routines simrep
 * uses, and the only file that declares or calls them.
 *
 * Why the Fortran interface and not CBLAS/LAPACKE: the row-major LAPACKE
 * paths transpose and copy behind the caller's back; here every matrix is
 * already column-major (a row-major block is handed over as its transpose),
 * so the raw routines are both the cheapest and the most explicit.
 * Routines are the ones numpy calls (dsyevd for eigh, dgesdd for svd), so
 * that singular-vector signs, which PWCCA depends on, are the ones the
 * reference code saw.  Workspace sizes come from LAPACK's own query
 * (lwork = -1).  Every dimension is checked against the 32-bit BLAS integer
 * before the call: an oversized problem is an error, not a wrapped int.
 *
 * Every LAPACK call that reports failure (dsyevd, dgesdd, dpotrf) first asks
 * simrep__fault_lapack whether the tests want this one to fail (by routine,
 * shape and count: simrep__ctx_fail_lapack, SIMREP_TEST_FAIL_LAPACK=
 * "dgesdd:4x6"); if so it is not made and its info is set > 0, so that the
 * callers' handling of a routine that did not converge is exercised as real
 * data would exercise it.
 */
#include "linalg.h"

#include <limits.h>
#include <math.h>

typedef int blas_int;

void dsyrk_(const char *uplo, const char *trans, const blas_int *n, const blas_int *k, const double *alpha,
            const double *a, const blas_int *lda, const double *beta, double *c, const blas_int *ldc);
void ssyrk_(const char *uplo, const char *trans, const blas_int *n, const blas_int *k, const float *alpha,
            const float *a, const blas_int *lda, const float *beta, float *c, const blas_int *ldc);
void dgemm_(const char *ta, const char *tb, const blas_int *m, const blas_int *n, const blas_int *k,
            const double *alpha, const double *a, const blas_int *lda, const double *b, const blas_int *ldb,
            const double *beta, double *c, const blas_int *ldc);
void dgemv_(const char *trans, const blas_int *m, const blas_int *n, const double *alpha, const double *a,
            const blas_int *lda, const double *x, const blas_int *incx, const double *beta, double *y,
            const blas_int *incy);
void dsymv_(const char *uplo, const blas_int *n, const double *alpha, const double *a, const blas_int *lda,
            const double *x, const blas_int *incx, const double *beta, double *y, const blas_int *incy);
void dsyr_(const char *uplo, const blas_int *n, const double *alpha, const double *x, const blas_int *incx,
           double *a, const blas_int *lda);
void dsyevd_(const char *jobz, const char *uplo, const blas_int *n, double *a, const blas_int *lda, double *w,
             double *work, const blas_int *lwork, blas_int *iwork, const blas_int *liwork, blas_int *info);
void dgesdd_(const char *jobz, const blas_int *m, const blas_int *n, double *a, const blas_int *lda, double *s,
             double *u, const blas_int *ldu, double *vt, const blas_int *ldvt, double *work, const blas_int *lwork,
             blas_int *iwork, blas_int *info);
void dpotrf_(const char *uplo, const blas_int *n, double *a, const blas_int *lda, blas_int *info);
void dtrsm_(const char *side, const char *uplo, const char *transa, const char *diag, const blas_int *m,
            const blas_int *n, const double *alpha, const double *a, const blas_int *lda, double *b,
            const blas_int *ldb);

/* OpenBLAS's thread-pool controls (weak: absent from other BLAS). */
void openblas_set_num_threads(int threads) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));

int simrep_blas_threads(void)
{
    return openblas_get_num_threads ? openblas_get_num_threads() : 1;
}

void simrep_set_blas_threads(int threads)
{
    if (openblas_set_num_threads && threads >= 1)
        openblas_set_num_threads(threads);
}

static int fits(int64_t v)
{
    return v >= 0 && v <= INT_MAX;
}

static simrep_status too_big(simrep_ctx *ctx, const char *routine)
{
    return simrep__fail(ctx, SIMREP_E_INVALID,
                        "%s: a dimension exceeds the 32-bit BLAS integer (%d); use smaller blocks", routine,
                        INT_MAX);
}

/*
 * LAPACK must not see NaN or Inf: dgesdd then fails with "an invalid
 * argument", dsyevd may loop or return garbage, and a host program's xerbla
 * (numpy installs one) may raise in the caller's thread.  The measures never
 * produce them from valid moments; the check (O(m n) against the routine's
 * O(m n min(m, n))) turns a bug or a forged state into an error.
 */
static simrep_status check_finite_input(simrep_ctx *ctx, const char *routine, int64_t m, int64_t n, const double *a,
                                        int64_t lda, int upper)
{
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = 0; i < (upper && j + 1 < m ? j + 1 : m); i++) /* upper: what "U" routines read */
            if (!isfinite(a[i + j * lda]))
                return simrep__fail(ctx, SIMREP_E_NUMERIC,
                                    "%s: the %lld x %lld matrix holds %s at (%lld, %lld) (a corrupt state or a bug)",
                                    routine, (long long)m, (long long)n, isnan(a[i + j * lda]) ? "NaN" : "Inf",
                                    (long long)i, (long long)j);
    return SIMREP_OK;
}

static blas_int ld_of(int64_t ld)
{
    return (blas_int)(ld < 1 ? 1 : ld);
}

simrep_status simrep__syrk(simrep_ctx *ctx, char trans, int64_t n, int64_t k, double alpha, const double *a,
                           int64_t lda, double beta, double *c, int64_t ldc)
{
    if (!fits(n) || !fits(k) || !fits(lda) || !fits(ldc))
        return too_big(ctx, "dsyrk");
    if (n == 0)
        return SIMREP_OK;
    blas_int bn = (blas_int)n, bk = (blas_int)k, blda = ld_of(lda), bldc = ld_of(ldc);
    dsyrk_("U", &trans, &bn, &bk, &alpha, a, &blda, &beta, c, &bldc);
    return SIMREP_OK;
}

simrep_status simrep__ssyrk(simrep_ctx *ctx, int64_t n, int64_t k, const float *a, int64_t lda, float *c, int64_t ldc)
{
    if (!fits(n) || !fits(k) || !fits(lda) || !fits(ldc))
        return too_big(ctx, "ssyrk");
    if (n == 0)
        return SIMREP_OK;
    blas_int bn = (blas_int)n, bk = (blas_int)k, blda = ld_of(lda), bldc = ld_of(ldc);
    const float one = 1.0f, zero = 0.0f;
    ssyrk_("U", "N", &bn, &bk, &one, a, &blda, &zero, c, &bldc);
    return SIMREP_OK;
}

simrep_status simrep__gemm(simrep_ctx *ctx, char transa, char transb, int64_t m, int64_t n, int64_t k,
                           double alpha, const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                           double *c, int64_t ldc)
{
    if (!fits(m) || !fits(n) || !fits(k) || !fits(lda) || !fits(ldb) || !fits(ldc))
        return too_big(ctx, "dgemm");
    if (m == 0 || n == 0)
        return SIMREP_OK;
    blas_int bm = (blas_int)m, bn = (blas_int)n, bk = (blas_int)k;
    blas_int blda = ld_of(lda), bldb = ld_of(ldb), bldc = ld_of(ldc);
    dgemm_(&transa, &transb, &bm, &bn, &bk, &alpha, a, &blda, b, &bldb, &beta, c, &bldc);
    return SIMREP_OK;
}

simrep_status simrep__gemv(simrep_ctx *ctx, char trans, int64_t m, int64_t n, double alpha, const double *a,
                           int64_t lda, const double *x, double beta, double *y)
{
    if (!fits(m) || !fits(n) || !fits(lda))
        return too_big(ctx, "dgemv");
    if (m == 0 || n == 0)
        return SIMREP_OK;
    blas_int bm = (blas_int)m, bn = (blas_int)n, blda = ld_of(lda), one = 1;
    dgemv_(&trans, &bm, &bn, &alpha, a, &blda, x, &one, &beta, y, &one);
    return SIMREP_OK;
}

simrep_status simrep__symv(simrep_ctx *ctx, int64_t n, double alpha, const double *a, int64_t lda,
                           const double *x, double beta, double *y)
{
    if (!fits(n) || !fits(lda))
        return too_big(ctx, "dsymv");
    if (n == 0)
        return SIMREP_OK;
    blas_int bn = (blas_int)n, blda = ld_of(lda), one = 1;
    dsymv_("U", &bn, &alpha, a, &blda, x, &one, &beta, y, &one);
    return SIMREP_OK;
}

simrep_status simrep__syr(simrep_ctx *ctx, int64_t n, double alpha, const double *x, double *a, int64_t lda)
{
    if (!fits(n) || !fits(lda))
        return too_big(ctx, "dsyr");
    if (n == 0)
        return SIMREP_OK;
    blas_int bn = (blas_int)n, blda = ld_of(lda), one = 1;
    dsyr_("U", &bn, &alpha, x, &one, a, &blda);
    return SIMREP_OK;
}

simrep_status simrep__syevd(simrep_ctx *ctx, int64_t n, double *a, int64_t lda, double *w)
{
    if (!fits(n) || !fits(lda))
        return too_big(ctx, "dsyevd");
    if (n == 0)
        return SIMREP_OK;
    if (check_finite_input(ctx, "dsyevd", n, n, a, lda, 1) != SIMREP_OK)
        return SIMREP_E_NUMERIC;
    blas_int bn = (blas_int)n, blda = ld_of(lda), info = 0, lwork = -1, liwork = -1, iwq = 0;
    double wq = 0;
    dsyevd_("V", "U", &bn, a, &blda, w, &wq, &lwork, &iwq, &liwork, &info);
    if (info != 0)
        return simrep__fail(ctx, SIMREP_E_NUMERIC, "dsyevd workspace query failed (info %d)", (int)info);
    lwork = (blas_int)wq;
    liwork = iwq;
    double *work = simrep__alloc_array(ctx, (size_t)lwork, sizeof *work, "dsyevd workspace");
    blas_int *iwork = work ? simrep__alloc_array(ctx, (size_t)liwork, sizeof *iwork, "dsyevd workspace") : NULL;
    if (!iwork) {
        simrep__free(ctx, work);
        return SIMREP_E_NOMEM;
    }
    if (simrep__fault_lapack(ctx, "dsyevd", n, n))
        info = bn; /* the tests' fault (simrep__ctx_fail_lapack): as if it did not converge */
    else
        dsyevd_("V", "U", &bn, a, &blda, w, work, &lwork, iwork, &liwork, &info);
    simrep__free(ctx, work);
    simrep__free(ctx, iwork);
    if (info != 0)
        return simrep__fail(ctx, SIMREP_E_NUMERIC,
                            "symmetric eigendecomposition (dsyevd) of a %lld x %lld matrix failed (info %d)",
                            (long long)n, (long long)n, (int)info);
    return SIMREP_OK;
}

simrep_status simrep__gesdd(simrep_ctx *ctx, char jobz, int64_t m, int64_t n, double *a, int64_t lda, double *s,
                            double *u, int64_t ldu, double *vt, int64_t ldvt)
{
    if (!fits(m) || !fits(n) || !fits(lda) || !fits(ldu) || !fits(ldvt))
        return too_big(ctx, "dgesdd");
    if (m == 0 || n == 0)
        return SIMREP_OK;
    if (check_finite_input(ctx, "dgesdd", m, n, a, lda, 0) != SIMREP_OK)
        return SIMREP_E_NUMERIC;
    int64_t mn = m < n ? m : n;
    blas_int bm = (blas_int)m, bn = (blas_int)n, blda = ld_of(lda), bldu = ld_of(ldu), bldvt = ld_of(ldvt);
    blas_int info = 0, lwork = -1;
    double wq = 0, dummy = 0;
    blas_int *iwork = simrep__alloc_array(ctx, (size_t)(8 * mn), sizeof *iwork, "dgesdd workspace");
    if (!iwork)
        return SIMREP_E_NOMEM;
    double *pu = u ? u : &dummy, *pvt = vt ? vt : &dummy;
    dgesdd_(&jobz, &bm, &bn, a, &blda, s, pu, &bldu, pvt, &bldvt, &wq, &lwork, iwork, &info);
    if (info != 0) {
        simrep__free(ctx, iwork);
        return simrep__fail(ctx, SIMREP_E_NUMERIC, "dgesdd workspace query failed (info %d)", (int)info);
    }
    lwork = (blas_int)wq;
    double *work = simrep__alloc_array(ctx, (size_t)lwork, sizeof *work, "dgesdd workspace");
    if (!work) {
        simrep__free(ctx, iwork);
        return SIMREP_E_NOMEM;
    }
    if (simrep__fault_lapack(ctx, "dgesdd", m, n))
        info = 1; /* the tests' fault: as if it did not converge */
    else
        dgesdd_(&jobz, &bm, &bn, a, &blda, s, pu, &bldu, pvt, &bldvt, work, &lwork, iwork, &info);
    simrep__free(ctx, work);
    simrep__free(ctx, iwork);
    if (info != 0)
        return simrep__fail(ctx, SIMREP_E_NUMERIC, "singular value decomposition (dgesdd) of a %lld x %lld matrix %s",
                            (long long)m, (long long)n, info > 0 ? "did not converge" : "had an invalid argument");
    return SIMREP_OK;
}

simrep_status simrep__potrf(simrep_ctx *ctx, int64_t n, double *a, int64_t lda, const char *what)
{
    if (!fits(n) || !fits(lda))
        return too_big(ctx, "dpotrf");
    if (n == 0)
        return SIMREP_OK;
    if (check_finite_input(ctx, "dpotrf", n, n, a, lda, 1) != SIMREP_OK)
        return SIMREP_E_NUMERIC;
    blas_int bn = (blas_int)n, blda = ld_of(lda), info = 0;
    if (simrep__fault_lapack(ctx, "dpotrf", n, n))
        info = 1; /* the tests' fault: as if not positive definite */
    else
        dpotrf_("U", &bn, a, &blda, &info);
    if (info != 0)
        return simrep__fail(ctx, SIMREP_E_NUMERIC,
                            "%s is not positive definite (Cholesky factorization dpotrf failed at column %d)", what,
                            (int)info);
    return SIMREP_OK;
}

simrep_status simrep__trsm_upper(simrep_ctx *ctx, char trans, int64_t n, int64_t nrhs, const double *u,
                                 int64_t ldu, double *b, int64_t ldb)
{
    if (!fits(n) || !fits(nrhs) || !fits(ldu) || !fits(ldb))
        return too_big(ctx, "dtrsm");
    if (n == 0 || nrhs == 0)
        return SIMREP_OK;
    blas_int bn = (blas_int)n, br = (blas_int)nrhs, bldu = ld_of(ldu), bldb = ld_of(ldb);
    double one = 1.0;
    dtrsm_("L", "U", &trans, "N", &bn, &br, &one, u, &bldu, b, &bldb);
    return SIMREP_OK;
}
