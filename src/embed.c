/*
 * embed.c: classical multidimensional scaling (Torgerson 1952; Gower 1966)
 * of a distance matrix, for the 2-D maps of `simrep matrix`.
 *
 * Method: B = -1/2 J D∘D J with J = I - 11ᵀ/n (the double-centred squared
 * distances, the Gram matrix of centred points when D is Euclidean), its
 * eigendecomposition (dsyevd through linalg.c, as numpy.linalg.eigh), and
 * coordinates V_k sqrt(λ_k) for the dims largest eigenvalues.  B is formed
 * directly from row, column and grand means of D∘D (O(n^2)) instead of two
 * matrix products with J.
 *
 * Distances between representations are generally not Euclidean, so B
 * can have negative eigenvalues; their directions carry no real geometry,
 * so a coordinate whose eigenvalue is <= 0 is set to 0 rather than made
 * imaginary, and the eigenvalues are returned so the caller can report
 * how much of the (positive) spread each axis shows.  Rejected: iterative
 * (SMACOF) metric MDS, which fits non-Euclidean distances better but
 * depends on a starting point and an iteration count; classical MDS is
 * deterministic and what the issue asks for.
 *
 * Eigenvectors have an arbitrary sign; each returned axis is flipped so
 * that its entry of largest magnitude is positive (the first such entry
 * on ties), so the same data always give the same picture.
 */
#include "internal.h"
#include "linalg.h"

#include <math.h>
#include <string.h>

simrep_status simrep_mds(simrep_ctx *ctx, int64_t n, const double *dist, int64_t ld, int64_t dims, double *coords,
                         double *eigenvalues)
{
    if (n < 1 || dims < 1 || dims > n || ld < n || !dist || !coords)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_mds: need n >= 1, 1 <= dims <= n, ld >= n (got n %lld, "
                            "dims %lld, ld %lld)", (long long)n, (long long)dims, (long long)ld);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            if (i != j && !isfinite(dist[i * ld + j]))
                return simrep__fail(ctx, SIMREP_E_NONFINITE, "simrep_mds: distance (%lld, %lld) is not finite",
                                    (long long)i, (long long)j);
    size_t nn;
    if (!simrep__mul_size((size_t)n, (size_t)n, &nn))
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_mds: n too large");
    double *b = simrep__alloc_array(ctx, nn, sizeof *b, "MDS matrix");
    double *w = simrep__alloc_array(ctx, (size_t)n, sizeof *w, "MDS eigenvalues");
    double *mean = simrep__alloc_array(ctx, (size_t)n, sizeof *mean, "MDS row means");
    if (!b || !w || !mean) {
        simrep__free(ctx, b);
        simrep__free(ctx, w);
        simrep__free(ctx, mean);
        return SIMREP_E_NOMEM;
    }
    /* Squared distances, symmetrized (mean of (i, j) and (j, i)), zero diagonal. */
    double grand = 0;
    for (int64_t i = 0; i < n; i++) {
        double row = 0;
        for (int64_t j = 0; j < n; j++) {
            double d = i == j ? 0.0 : 0.5 * (dist[i * ld + j] + dist[j * ld + i]);
            b[i * n + j] = d * d;
            row += d * d;
        }
        mean[i] = row / (double)n;
        grand += row;
    }
    grand /= (double)n * (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            b[i * n + j] = -0.5 * (b[i * n + j] - mean[i] - mean[j] + grand);
    simrep_status st = simrep__syevd(ctx, n, b, n, w);
    if (st == SIMREP_OK) {
        /* Column-major eigenvectors: vector k is b[k * n .. k * n + n), ascending. */
        for (int64_t k = 0; k < dims; k++) {
            int64_t col = n - 1 - k;
            const double *v = b + col * n;
            int64_t arg = 0;
            for (int64_t i = 1; i < n; i++)
                if (fabs(v[i]) > fabs(v[arg]))
                    arg = i;
            double sign = v[arg] < 0 ? -1.0 : 1.0;
            double scale = w[col] > 0 ? sqrt(w[col]) : 0.0;
            for (int64_t i = 0; i < n; i++)
                coords[i * dims + k] = sign * scale * v[i];
            if (eigenvalues)
                eigenvalues[k] = w[col];
        }
    }
    simrep__free(ctx, b);
    simrep__free(ctx, w);
    simrep__free(ctx, mean);
    return st;
}
