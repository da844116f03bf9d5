/*
 * matrix_cluster.c: the within/between group summaries of `simrep matrix`:
 * the mean and sample standard deviation (ddof 1) of the distance over the
 * pairs inside a group or across two groups.  (The average-linkage
 * clustering that lived here is the library's simrep_cluster_average now,
 * shared with Python.)
 */
#include "matrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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
