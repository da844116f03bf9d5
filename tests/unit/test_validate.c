/*
 * test_validate.c: simrep_rank_test (the statistics of simrep validate) on
 * cases with answers in closed form.  The comparison with scipy over random
 * data is tests/python_pkg/test_validate.py; here: a perfect ordering (rho
 * = tau = 1, exact one-sided p = 1/n!), its reverse (p = 1), a hand-counted
 * bad fraction with ties, a known tie-corrected tau-b, the bootstrap of a
 * perfect ordering (every resample is perfect: interval [1, 1]), the same
 * seed giving the same numbers, and the errors.
 */
#include <math.h>
#include <string.h>

#include "harness.h"
#include "simrep.h"

static void test_closed_forms(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_rank_result r;
    double x[8], y[8];
    for (int i = 0; i < 8; i++)
        x[i] = 0.1 * i, y[i] = i * i;
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 8, x, y, NULL, &r), SIMREP_OK);
    CHECK_CLOSE(r.rho, 1.0, 1e-15);
    CHECK_CLOSE(r.tau, 1.0, 1e-15);
    CHECK(r.tau_exact == 1);
    CHECK_CLOSE(r.tau_p, 1.0 / 40320.0, 1e-18); /* one ordering of 8! */
    CHECK(r.rho_p == 0.0 && r.bad == 0);
    for (int i = 0; i < 8; i++)
        y[i] = -y[i];
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 8, x, y, NULL, &r), SIMREP_OK);
    CHECK(r.rho == -1.0 && r.rho_p == 1.0);
    CHECK_CLOSE(r.tau_p, 1.0, 1e-15);
    /* Bad fraction, 10 rows: rows 0 and 1 are the two smallest x (q = 0.1,
     * 0.2: only row 0 is below 0.2) and rows 0, 9 the largest y (q = 0.95
     * each, tied): row 0 is bad, 1 of 10. */
    double bx[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, by[10] = {9, 0, 1, 2, 3, 4, 5, 6, 7, 9};
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 10, bx, by, NULL, &r), SIMREP_OK);
    CHECK(r.bad == 1);
    CHECK_CLOSE(r.bad_fraction, 0.1, 1e-15);
    CHECK(r.tau_exact == 0); /* ties in y */
    /* tau-b with ties: x = 1 1 2 3, y = 1 2 2 3: C = 4, D = 0, ties 1 and 1
     * of 6 pairs: 4 / sqrt(5 * 5) = 0.8. */
    double tx[4] = {1, 1, 2, 3}, ty[4] = {1, 2, 2, 3};
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 4, tx, ty, NULL, &r), SIMREP_OK);
    CHECK_CLOSE(r.tau, 0.8, 1e-15);
    /* The bootstrap of a perfect ordering, and the seed. */
    simrep_rank_options o;
    simrep_rank_options_init(&o);
    o.bootstrap = 50;
    o.permutations = 50;
    o.seed = 9;
    for (int i = 0; i < 8; i++)
        y[i] = i * i;
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 8, x, y, &o, &r), SIMREP_OK);
    CHECK(r.bootstrap > 40 && r.rho_ci_low == 1.0 && r.rho_ci_high == 1.0);
    CHECK(r.permutations == 50 && r.rho_perm_p > 0 && r.rho_perm_p <= 2.0 / 51.0);
    simrep_rank_result again;
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 8, x, y, &o, &again), SIMREP_OK);
    CHECK(memcmp(&r, &again, sizeof r) == 0);
    simrep_ctx_free(ctx);
}

static void test_errors(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_rank_result r;
    double x[4] = {1, 2, 3, 4}, c[4] = {2, 2, 2, 2}, bad[4] = {1, NAN, 3, 4};
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 2, x, x, NULL, &r), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 4, NULL, x, NULL, &r), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 4, c, x, NULL, &r), SIMREP_E_DEGENERATE);
    CHECK(strncmp(simrep_ctx_message(ctx), "x: ", 3) == 0);
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 4, x, c, NULL, &r), SIMREP_E_DEGENERATE);
    CHECK(strncmp(simrep_ctx_message(ctx), "y: ", 3) == 0);
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 4, x, bad, NULL, &r), SIMREP_E_NONFINITE);
    simrep_rank_options o;
    simrep_rank_options_init(&o);
    o.ci = 1.0;
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 4, x, x, &o, &r), SIMREP_E_INVALID);
    simrep_rank_options_init(&o);
    o.fraction = 0.6;
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 4, x, x, &o, &r), SIMREP_E_INVALID);
    simrep_rank_options_init(&o);
    o.permutations = -1;
    CHECK_STATUS(ctx, simrep_rank_test(ctx, 4, x, x, &o, &r), SIMREP_E_INVALID);
    simrep_ctx_free(ctx);
}

void suite_validate(void)
{
    test_closed_forms();
    test_errors();
}
