/*
 * test_embed.c: classical MDS (simrep_mds) on distances with a known
 * answer.  Points in the plane give Euclidean distances, so the 2-D MDS
 * coordinates reproduce every distance (up to a rotation the test does not
 * need to know) and the eigenvalues beyond the second are 0.  Tolerance
 * 1e-9: the eigendecomposition is backward stable, so errors are a few
 * ulps times the largest squared distance (~100 here).
 */
#include <math.h>
#include <stdlib.h>

#include "harness.h"
#include "simrep.h"
#include "test_util.h"

#define NPTS 12

static void test_planar_points(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_rng rng = {11};
    double pts[NPTS][2], d[NPTS * NPTS], c[NPTS * 3], ev[3];
    for (int i = 0; i < NPTS; i++) {
        pts[i][0] = 5 * test_normal(&rng);
        pts[i][1] = test_normal(&rng);
    }
    for (int i = 0; i < NPTS; i++)
        for (int j = 0; j < NPTS; j++)
            d[i * NPTS + j] = hypot(pts[i][0] - pts[j][0], pts[i][1] - pts[j][1]);
    CHECK_STATUS(ctx, simrep_mds(ctx, NPTS, d, NPTS, 3, c, ev), SIMREP_OK);
    CHECK(ev[0] >= ev[1]);
    CHECK(ev[1] > 0);
    CHECK_CLOSE(ev[2], 0.0, 1e-9);
    double worst = 0;
    for (int i = 0; i < NPTS; i++)
        for (int j = 0; j < NPTS; j++) {
            double e = hypot(c[i * 3] - c[j * 3], c[i * 3 + 1] - c[j * 3 + 1]);
            worst = fmax(worst, fabs(e - d[i * NPTS + j]));
        }
    CHECK_CLOSE(worst, 0.0, 1e-9);
    /* The third axis's eigenvalue is 0 up to round-off (~1e-13 here), and
     * its coordinates are sqrt of that: about 1e-7, hence 1e-6. */
    CHECK_CLOSE(c[2], 0.0, 1e-6);
    /* Centred: the coordinates of each axis sum to 0. */
    double s0 = 0, s1 = 0;
    for (int i = 0; i < NPTS; i++)
        s0 += c[i * 3], s1 += c[i * 3 + 1];
    CHECK_CLOSE(s0, 0.0, 1e-9);
    CHECK_CLOSE(s1, 0.0, 1e-9);
    /* The sign rule: each axis's entry of largest magnitude is positive. */
    for (int k = 0; k < 2; k++) {
        int arg = 0;
        for (int i = 1; i < NPTS; i++)
            if (fabs(c[i * 3 + k]) > fabs(c[arg * 3 + k]))
                arg = i;
        CHECK(c[arg * 3 + k] > 0);
    }
    simrep_ctx_free(ctx);
}

/* Non-Euclidean distances (a 4-cycle with long diagonals): a negative
 * eigenvalue, whose axis is all zeros; bad arguments are errors. */
static void test_non_euclidean_and_errors(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    double d[16] = {0, 1, 3, 1, 1, 0, 1, 3, 3, 1, 0, 1, 1, 3, 1, 0};
    double c[16], ev[4];
    CHECK_STATUS(ctx, simrep_mds(ctx, 4, d, 4, 4, c, ev), SIMREP_OK);
    CHECK(ev[3] < 0);
    for (int i = 0; i < 4; i++)
        CHECK(c[i * 4 + 3] == 0.0);
    double one = 0, p1[2];
    CHECK_STATUS(ctx, simrep_mds(ctx, 1, &one, 1, 1, p1, NULL), SIMREP_OK);
    CHECK(p1[0] == 0.0);
    CHECK_STATUS(ctx, simrep_mds(ctx, 4, d, 4, 5, c, ev), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_mds(ctx, 4, d, 3, 2, c, ev), SIMREP_E_INVALID);
    d[1] = NAN;
    CHECK_STATUS(ctx, simrep_mds(ctx, 4, d, 4, 2, c, ev), SIMREP_E_NONFINITE);
    simrep_ctx_free(ctx);
}

void suite_embed(void)
{
    test_planar_points();
    test_non_euclidean_and_errors();
}
