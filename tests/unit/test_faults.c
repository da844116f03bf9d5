/*
 * test_faults.c: LAPACK failures, forced, and who they are blamed on.
 *
 * Real data rarely make dsyevd, dgesdd or dpotrf fail, so the library lets
 * a test choose calls that fail as a routine that did not converge does
 * (simrep__ctx_fail_lapack, the same hook as the environment variable
 * SIMREP_TEST_FAIL_LAPACK the CLI and Python tests use).  The table below
 * forces one routine on one shape for each measure family and each place:
 * preparing x (the eigendecomposition of its kept covariance, or of its
 * whole scatter for the regressions), preparing y, and the pair (the CCA
 * family's and Procrustes' SVD, pwcca's Cholesky).  Each case checks the
 * status, the input simrep_ctx_error blames (x, y, or -1: the pair), that
 * the message starts with that input's name and names the routine.  The
 * preparation of K inputs blames input k among three, through tasks on
 * worker threads (their contexts copied back), and an allocation failing
 * while an input is prepared blames that input.  make check-asan runs the
 * same cases for leaks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "internal.h"
#include "test_util.h"

enum { N = 50 };

static void fill(double *v, int n, unsigned seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (double)(seed >> 8 & 0xffff) / 65536.0 - 0.5;
    }
}

/* Moments of inputs with feat[k] features each (N samples). */
static simrep_moments *moments_of(simrep_ctx *ctx, int k, const int64_t *feat, double **data)
{
    simrep_moments *m = NULL;
    simrep_matrix blocks[3];
    for (int i = 0; i < k; i++) {
        fill(data[i], (int)(N * feat[i]), 11u + (unsigned)i);
        blocks[i] = simrep_matrix_c(data[i], SIMREP_F64, N, feat[i]);
    }
    if (simrep_moments_new_multi(ctx, k, feat, &m) != SIMREP_OK)
        return NULL;
    if (simrep_moments_update_multi(ctx, m, blocks) != SIMREP_OK) {
        simrep_moments_free(ctx, m);
        return NULL;
    }
    return m;
}

typedef struct fault_case {
    const char *spec;        /* simrep__ctx_fail_lapack */
    simrep_measure measure;
    simrep_status status;
    int input;               /* blamed: 0 x, 1 y, -1 the pair */
    const char *routine;     /* named in the message */
} fault_case;

/* x = a.npy (4 features), y = b.npy (6). */
static const fault_case CASES[] = {
    /* preparing x, preparing y: the CCA family's kept covariance */
    {"dsyevd:4", SIMREP_CCA, SIMREP_E_NUMERIC, 0, "dsyevd"},
    {"dsyevd:6", SIMREP_CCA, SIMREP_E_NUMERIC, 1, "dsyevd"},
    {"dsyevd:4", SIMREP_SVCCA, SIMREP_E_NUMERIC, 0, "dsyevd"},
    {"dsyevd:6", SIMREP_PWCCA, SIMREP_E_NUMERIC, 1, "dsyevd"},
    /* the regressions' whole scatter (SIMREP__PREP_EIG) */
    {"dsyevd:4", SIMREP_LINREG, SIMREP_E_NUMERIC, 0, "dsyevd"},
    {"dsyevd:6", SIMREP_LINREG, SIMREP_E_NUMERIC, 1, "dsyevd"},
    /* the pair */
    {"dgesdd:4x6", SIMREP_CCA, SIMREP_E_NUMERIC, -1, "dgesdd"},
    {"dgesdd:4x6", SIMREP_SVCCA, SIMREP_E_NUMERIC, -1, "dgesdd"},
    {"dgesdd", SIMREP_PWCCA, SIMREP_E_NUMERIC, -1, "dgesdd"},
    {"dpotrf", SIMREP_PWCCA, SIMREP_E_NUMERIC, -1, "dpotrf"},
    {"dgesdd:4x6", SIMREP_PROCRUSTES, SIMREP_E_NUMERIC, -1, "dgesdd"},
    {"dgesdd", SIMREP_PROCRUSTES_ANGULAR, SIMREP_E_NUMERIC, -1, "dgesdd"},
    /* no LAPACK call on this path: unaffected */
    {"*", SIMREP_CKA, SIMREP_OK, -1, NULL},
    /* pwcca's Cholesky failing once: its ridge retry (cca.c) recovers */
    {"dpotrf#1", SIMREP_PWCCA, SIMREP_OK, -1, NULL},
    /* a shape no call has: nothing fails */
    {"dsyevd:5", SIMREP_CCA, SIMREP_OK, -1, NULL},
};

static void test_table(simrep_ctx *ctx)
{
    double a[N * 4], b[N * 6];
    double *data[2] = {a, b};
    const int64_t feat[2] = {4, 6};
    simrep_moments *m = moments_of(ctx, 2, feat, data);
    CHECK(m != NULL);
    if (!m)
        return;
    const char *names[2] = {"a.npy", "b.npy"};
    simrep_ctx_set_names(ctx, names, 2);
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        const fault_case *fc = &CASES[c];
        simrep_result clean, r;
        CHECK(simrep__ctx_fail_lapack(ctx, NULL));
        CHECK_STATUS(ctx, simrep_compare_moments(ctx, m, NULL, &fc->measure, 1, &clean), SIMREP_OK);
        CHECK(simrep__ctx_fail_lapack(ctx, fc->spec));
        simrep_status st = simrep_compare_moments(ctx, m, NULL, &fc->measure, 1, &r);
        simrep__ctx_fail_lapack(ctx, NULL);
        simrep_error_info e;
        simrep_ctx_error(ctx, &e);
        const char *msg = simrep_ctx_message(ctx);
        int ok = st == fc->status;
        if (ok && st == SIMREP_OK) {
            ok = fabs(r.similarity - clean.similarity) < 1e-6;
            simrep_result_clear(ctx, &r);
        } else if (ok) {
            char head[64];
            snprintf(head, sizeof head, "%s: ", fc->input >= 0 ? names[fc->input] : "");
            ok = e.input == fc->input && strstr(msg, fc->routine) != NULL &&
                 (fc->input < 0 ? strncmp(msg, "a.npy", 5) != 0 && strncmp(msg, "b.npy", 5) != 0
                                : strncmp(msg, head, strlen(head)) == 0 && strcmp(e.detail, msg + strlen(head)) == 0);
        }
        simrep_result_clear(ctx, &clean);
        if (!ok)
            fprintf(stderr, "FAIL fault case %zu (%s, %s): status %d, input %d: %s\n", c, fc->spec,
                    simrep_measure_get_info(fc->measure)->id, (int)st, e.input, msg);
        CHECK(ok);
    }
    simrep_ctx_set_names(ctx, NULL, 0);
    simrep_moments_free(ctx, m);
}

/* Specs the hook refuses (so that a test's typo does not pass as "no
 * failure"). */
static void test_specs(simrep_ctx *ctx)
{
    CHECK(simrep__ctx_fail_lapack(ctx, "dgesdd:4x6#2"));
    CHECK(simrep__ctx_fail_lapack(ctx, "*#1"));
    CHECK(!simrep__ctx_fail_lapack(ctx, "dgesv"));
    CHECK(!simrep__ctx_fail_lapack(ctx, "dsyevd:4y"));
    CHECK(!simrep__ctx_fail_lapack(ctx, "dsyevd#0"));
    CHECK(!simrep__ctx_fail_lapack(ctx, ":4"));
    CHECK(simrep__ctx_fail_lapack(ctx, ""));
}

/* Three inputs prepared at once, their eigendecompositions tasks on two
 * threads: the one that fails (input 2, 5 features) is blamed, by name. */
static void test_tasks(simrep_ctx *ctx)
{
    double a[N * 4], b[N * 6], c[N * 5];
    double *data[3] = {a, b, c};
    const int64_t feat[3] = {4, 6, 5};
    simrep_moments *m = moments_of(ctx, 3, feat, data);
    CHECK(m != NULL);
    if (!m)
        return;
    const int blas = simrep_blas_threads();
    simrep_set_blas_threads(2);
    const char *names[3] = {"first", "second", "third"};
    const simrep_measure ms[2] = {SIMREP_CKA, SIMREP_CCA};
    for (int named = 0; named < 2; named++) {
        simrep_ctx_set_names(ctx, named ? names : NULL, named ? 3 : 0);
        simrep_pairs *pairs = NULL;
        CHECK(simrep__ctx_fail_lapack(ctx, "dsyevd:5"));
        CHECK_STATUS(ctx, simrep_pairs_prepare(ctx, m, NULL, ms, 2, &pairs), SIMREP_E_NUMERIC);
        simrep_error_info e;
        simrep_ctx_error(ctx, &e);
        const char *head = named ? "third: " : "input 2: ";
        CHECK(e.input == 2 && strncmp(simrep_ctx_message(ctx), head, strlen(head)) == 0 &&
              strstr(e.detail, "dsyevd") == e.detail + strlen("symmetric eigendecomposition ("));
        CHECK(pairs == NULL);
    }
    simrep__ctx_fail_lapack(ctx, NULL);
    simrep_set_blas_threads(blas);
    simrep_ctx_set_names(ctx, NULL, 0);
    simrep_moments_free(ctx, m);
}

/* An allocation failing while one input is prepared blames that input;
 * one of the call's own (the pairs, the task list) blames none. */
static void test_out_of_memory(void)
{
    counting cnt = {0, -1, 0};
    simrep_allocator al = {counting_malloc, counting_free, &cnt};
    simrep_ctx *ctx = simrep_ctx_new(&al);
    double a[N * 4], b[N * 6];
    double *data[2] = {a, b};
    const int64_t feat[2] = {4, 6};
    simrep_moments *m = moments_of(ctx, 2, feat, data);
    CHECK(m != NULL);
    if (!m) {
        simrep_ctx_free(ctx);
        return;
    }
    const char *names[2] = {"a.npy", "b.npy"};
    simrep_ctx_set_names(ctx, names, 2);
    const simrep_measure ms[2] = {SIMREP_CCA, SIMREP_LINREG};
    int blamed[2] = {0, 0}, kept = 0, bad = 0;
    for (long k = 0; k < 200; k++) {
        const long live = cnt.live;
        cnt.calls = 0;
        cnt.fail_at = k;
        simrep_pairs *pairs = NULL;
        simrep_status st = simrep_pairs_prepare(ctx, m, NULL, ms, 2, &pairs);
        cnt.fail_at = -1;
        simrep_pairs_free(ctx, pairs);
        if (st == SIMREP_OK)
            break;
        simrep_error_info e;
        simrep_ctx_error(ctx, &e);
        const char *msg = simrep_ctx_message(ctx);
        const int own = strstr(msg, "for pairs") || strstr(msg, "eigendecomposition tasks");
        if (st != SIMREP_E_NOMEM || cnt.live != live || (own ? e.input != -1 : e.input < 0 || e.input > 1) ||
            (e.input >= 0 && (strncmp(msg, names[e.input], 5) != 0 || strcmp(e.detail, msg + 7) != 0))) {
            fprintf(stderr, "FAIL allocation %ld: status %d, input %d, %ld blocks left: %s\n", k, (int)st, e.input,
                    cnt.live - live, msg);
            bad++;
        }
        if (e.input == 0 || e.input == 1)
            blamed[e.input]++;
        kept += strstr(msg, "kept features") != NULL;
    }
    CHECK(bad == 0);
    CHECK(blamed[0] > 0 && blamed[1] > 0 && kept == 2);
    simrep_moments_free(ctx, m);
    simrep_ctx_free(ctx);
}

void suite_faults(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_specs(ctx);
    test_table(ctx);
    test_tasks(ctx);
    simrep_ctx_free(ctx);
    test_out_of_memory();
}
