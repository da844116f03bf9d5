/*
 * cluster.c: average-linkage hierarchical clustering (UPGMA, Sokal and
 * Michener 1958) of a distance matrix, for the leaf order and the
 * dendrogram of the heatmaps (simrep matrix, simrep.plot, simrep.matrix).
 *
 * UPGMA is the direct O(n^3) algorithm: keep the matrix of cluster
 * distances, merge the closest pair, replace its row by the size-weighted
 * mean of the two rows (Lance-Williams update for average linkage).  n is
 * the number of networks in a manifest, tens to a few hundred, so the cubic
 * cost is microseconds to milliseconds; the O(n^2) nearest-neighbour-chain
 * algorithm was rejected as more code for no visible gain, and because its
 * merge order (though not its tree) differs from the naive order on ties,
 * which the tests replay (simrep.h states the rule).
 *
 * Distances are used as reported by the measure (1 - similarity for most);
 * a round-off distance of -1e-16 between identical inputs is harmless here.
 * It lived in the CLI until Python needed the same order (issue 13).
 */
#include "internal.h"

#include <math.h>
#include <string.h>

void simrep_linkage_clear(simrep_ctx *ctx, simrep_linkage *l)
{
    if (!ctx || !l)
        return;
    simrep__free(ctx, l->left);
    simrep__free(ctx, l->right);
    simrep__free(ctx, l->size);
    simrep__free(ctx, l->height);
    simrep__free(ctx, l->order);
    memset(l, 0, sizeof *l);
}

simrep_status simrep_cluster_average(simrep_ctx *ctx, int64_t n, const double *dist, int64_t ld, simrep_linkage *out)
{
    if (!ctx || !out)
        return SIMREP_E_INVALID;
    memset(out, 0, sizeof *out);
    if (n < 1 || ld < n || !dist)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_cluster_average: need n >= 1 and ld >= n (got n %lld, "
                            "ld %lld)", (long long)n, (long long)ld);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = i + 1; j < n; j++)
            if (!isfinite(dist[i * ld + j]))
                return simrep__fail(ctx, SIMREP_E_NONFINITE, "simrep_cluster_average: distance (%lld, %lld) is "
                                    "not finite", (long long)i, (long long)j);
    size_t N = (size_t)n, M = n > 1 ? N - 1 : 1;
    size_t nn;
    if (!simrep__mul_size(N, N, &nn))
        return simrep__fail(ctx, SIMREP_E_NOMEM, "simrep_cluster_average: %lld points are too many",
                            (long long)n);
    double *d = simrep__alloc_array(ctx, nn, sizeof *d, "cluster distances");
    int64_t *id = simrep__alloc_array(ctx, N, sizeof *id, "cluster ids");
    int64_t *sz = simrep__alloc_array(ctx, N, sizeof *sz, "cluster sizes");
    char *active = simrep__alloc_array(ctx, N, 1, "cluster flags");
    int64_t *stack = simrep__alloc_array(ctx, 2 * N, sizeof *stack, "dendrogram walk");
    out->leaves = n;
    if (d && id && sz && active && stack) {
        out->left = simrep__alloc_array(ctx, M, sizeof(int64_t), "linkage");
        out->right = out->left ? simrep__alloc_array(ctx, M, sizeof(int64_t), "linkage") : NULL;
        out->size = out->right ? simrep__alloc_array(ctx, M, sizeof(int64_t), "linkage") : NULL;
        out->height = out->size ? simrep__alloc_array(ctx, M, sizeof(double), "linkage") : NULL;
        out->order = out->height ? simrep__alloc_array(ctx, N, sizeof(int64_t), "leaf order") : NULL;
    }
    if (!out->order) {
        simrep__free(ctx, d), simrep__free(ctx, id), simrep__free(ctx, sz), simrep__free(ctx, active);
        simrep__free(ctx, stack);
        simrep_linkage_clear(ctx, out);
        return SIMREP_E_NOMEM;
    }
    for (size_t i = 0; i < N; i++) {
        id[i] = (int64_t)i;
        sz[i] = 1;
        active[i] = 1;
        for (size_t j = 0; j < N; j++)
            d[i * N + j] = i < j ? dist[i * ld + j] : dist[j * ld + i];
    }
    /* Slot s holds the cluster whose smallest point is s (merging b into
     * a < b keeps that true), so scanning slots in order is scanning
     * clusters by their first point. */
    for (size_t m = 0; m + 1 < N; m++) {
        size_t ba = 0, bb = 0;
        int found = 0;
        double best = INFINITY;
        for (size_t a = 0; a < N; a++) {
            if (!active[a])
                continue;
            for (size_t b = a + 1; b < N; b++)
                if (active[b] && (!found || d[a * N + b] < best)) {
                    best = d[a * N + b];
                    ba = a, bb = b, found = 1;
                }
        }
        out->left[m] = id[ba];
        out->right[m] = id[bb];
        out->height[m] = best;
        out->size[m] = sz[ba] + sz[bb];
        for (size_t c = 0; c < N; c++) {
            if (!active[c] || c == ba || c == bb)
                continue;
            double v = ((double)sz[ba] * d[ba * N + c] + (double)sz[bb] * d[bb * N + c]) / (double)(sz[ba] + sz[bb]);
            d[ba * N + c] = d[c * N + ba] = v;
        }
        sz[ba] += sz[bb];
        id[ba] = n + (int64_t)m;
        active[bb] = 0;
    }
    /* Leaf order: depth-first from the root, left child first. */
    size_t top = 0, nleaf = 0;
    stack[top++] = n > 1 ? 2 * n - 2 : 0;
    while (top > 0) {
        int64_t node = stack[--top];
        if (node < n) {
            out->order[nleaf++] = node;
        } else {
            stack[top++] = out->right[node - n];
            stack[top++] = out->left[node - n];
        }
    }
    simrep__free(ctx, d), simrep__free(ctx, id), simrep__free(ctx, sz), simrep__free(ctx, active);
    simrep__free(ctx, stack);
    return SIMREP_OK;
}
