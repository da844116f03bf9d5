/*
 * matrix_cluster.c: average-linkage hierarchical clustering (UPGMA, Sokal
 * and Michener 1958) of a distance matrix, for the leaf order and the
 * dendrogram of the heatmaps, and the within/between group summaries.
 *
 * UPGMA is the direct O(K^3) algorithm: keep the matrix of cluster
 * distances, merge the closest pair, replace its row by the size-weighted
 * mean of the two rows (Lance-Williams update for average linkage).  K is
 * the number of networks in a manifest, tens to a few hundred, so the cubic
 * cost is microseconds to milliseconds; the O(K^2) nearest-neighbour-chain
 * algorithm was rejected as more code for no visible gain, and because its
 * merge order (though not its tree) differs from the naive order on ties,
 * which the tests replay (matrix.h states the rule).
 *
 * Distances are used as reported by the measure (1 - similarity for most);
 * a round-off distance of -1e-16 between identical inputs is harmless here.
 */
#include "matrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void cluster_tree_free(cluster_tree *t)
{
    if (!t)
        return;
    free(t->left);
    free(t->right);
    free(t->size);
    free(t->height);
    free(t->order);
    memset(t, 0, sizeof *t);
}

int cluster_upgma(int K, const double *dist, cluster_tree *out)
{
    memset(out, 0, sizeof *out);
    out->leaves = K;
    int M = K > 1 ? K - 1 : 1;
    double *d = malloc((size_t)K * (size_t)K * sizeof *d);
    int *id = malloc((size_t)K * sizeof *id), *sz = malloc((size_t)K * sizeof *sz);
    int *active = malloc((size_t)K * sizeof *active), *stack = malloc((size_t)(2 * K) * sizeof *stack);
    out->left = malloc((size_t)M * sizeof(int));
    out->right = malloc((size_t)M * sizeof(int));
    out->size = malloc((size_t)M * sizeof(int));
    out->height = malloc((size_t)M * sizeof(double));
    out->order = malloc((size_t)K * sizeof(int));
    if (!d || !id || !sz || !active || !stack || !out->left || !out->right || !out->size || !out->height ||
        !out->order) {
        free(d), free(id), free(sz), free(active), free(stack);
        cluster_tree_free(out);
        return -1;
    }
    for (int i = 0; i < K; i++) {
        id[i] = i;
        sz[i] = 1;
        active[i] = 1;
        for (int j = 0; j < K; j++)
            d[i * K + j] = i < j ? dist[i * K + j] : dist[j * K + i];
    }
    /* Slot s holds the cluster whose smallest input is s (merging b into
     * a < b keeps that true), so scanning slots in order is scanning
     * clusters by their first input. */
    for (int m = 0; m < K - 1; m++) {
        int ba = -1, bb = -1;
        double best = INFINITY;
        for (int a = 0; a < K; a++) {
            if (!active[a])
                continue;
            for (int b = a + 1; b < K; b++)
                if (active[b] && (ba < 0 || d[a * K + b] < best)) {
                    best = d[a * K + b];
                    ba = a;
                    bb = b;
                }
        }
        out->left[m] = id[ba];
        out->right[m] = id[bb];
        out->height[m] = best;
        out->size[m] = sz[ba] + sz[bb];
        for (int c = 0; c < K; c++) {
            if (!active[c] || c == ba || c == bb)
                continue;
            double v = (sz[ba] * d[ba * K + c] + sz[bb] * d[bb * K + c]) / (sz[ba] + sz[bb]);
            d[ba * K + c] = d[c * K + ba] = v;
        }
        sz[ba] += sz[bb];
        id[ba] = K + m;
        active[bb] = 0;
    }
    /* Leaf order: depth-first from the root, left child first. */
    int top = 0, nleaf = 0;
    stack[top++] = K > 1 ? 2 * K - 2 : 0;
    while (top > 0) {
        int node = stack[--top];
        if (node < K) {
            out->order[nleaf++] = node;
        } else {
            stack[top++] = out->right[node - K];
            stack[top++] = out->left[node - K];
        }
    }
    free(d), free(id), free(sz), free(active), free(stack);
    return 0;
}

group_stat group_summary(int K, const double *dist, const int *group, int a, int b)
{
    group_stat s = {0, 0, 0};
    double sum = 0;
    for (int i = 0; i < K; i++)
        for (int j = i + 1; j < K; j++)
            if ((group[i] == a && group[j] == b) || (group[i] == b && group[j] == a)) {
                sum += dist[i * K + j];
                s.count++;
            }
    if (s.count == 0)
        return s;
    s.mean = sum / (double)s.count;
    if (s.count > 1) {
        double ss = 0;
        for (int i = 0; i < K; i++)
            for (int j = i + 1; j < K; j++)
                if ((group[i] == a && group[j] == b) || (group[i] == b && group[j] == a))
                    ss += (dist[i * K + j] - s.mean) * (dist[i * K + j] - s.mean);
        s.std = sqrt(ss / (double)(s.count - 1));
    }
    return s;
}
