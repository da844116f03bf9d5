/*
 * compare.c: from moments (or in-memory matrices) to results: prepares the
 * shared covariance and dead-feature split once, then hands each requested
 * measure to its family (cca.c, cka.c, procrustes.c, cka_rbf.c).
 *
 * Dead features (SPEC "Dead features"): a feature whose variance is
 * <= epsilon x the largest variance on its side is left out of the CCA
 * family (the reference's remove_small, which compares the rescaled
 * diagonal against epsilon).  CKA and Procrustes use every feature: a
 * constant column contributes nothing to them.  Undefined cases (n < 2, a
 * side with every feature dead) are errors with a message, never NaN.
 */
#include "measures.h"
#include "moments.h"

#include <string.h>

static simrep_status prepare(simrep_ctx *ctx, const simrep_moments *m, double epsilon, simrep__prepared *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->n = simrep_moments_n(m);
    pr->p = simrep_moments_p(m);
    pr->q = simrep_moments_q(m);
    pr->d = pr->p + pr->q;
    if (pr->n < 2)
        return simrep__fail(ctx, SIMREP_E_DEGENERATE,
                            "n = %lld sample%s: similarity needs at least 2 samples (rows) to center the data",
                            (long long)pr->n, pr->n == 1 ? "" : "s");
    const int64_t d = pr->d;
    pr->mean = simrep__moments_mean(m);
    pr->cov = simrep__alloc_array(ctx, (size_t)d * (size_t)d, sizeof(double), "covariance");
    pr->kept = pr->cov ? simrep__alloc_array(ctx, (size_t)d, sizeof(int64_t), "kept features") : NULL;
    if (!pr->kept) {
        simrep__free(ctx, pr->cov);
        pr->cov = NULL;
        return SIMREP_E_NOMEM;
    }
    simrep_moments_scatter(m, pr->cov, d);
    const double inv = 1.0 / (double)(pr->n - 1);
    for (int64_t i = 0; i < d; i++) {
        if (i < pr->p)
            pr->tr_sxx += pr->cov[i + i * d];
        else
            pr->tr_syy += pr->cov[i + i * d];
    }
    for (int64_t i = 0; i < d * d; i++)
        pr->cov[i] *= inv;
    double maxx = 0, maxy = 0;
    for (int64_t i = 0; i < pr->p; i++)
        maxx = pr->cov[i + i * d] > maxx ? pr->cov[i + i * d] : maxx;
    for (int64_t i = pr->p; i < d; i++)
        maxy = pr->cov[i + i * d] > maxy ? pr->cov[i + i * d] : maxy;
    for (int64_t i = 0; i < pr->p; i++)
        if (pr->cov[i + i * d] > epsilon * maxx)
            pr->kept[pr->kp++] = i;
    for (int64_t i = 0; i < pr->q; i++)
        if (pr->cov[(pr->p + i) * (d + 1)] > epsilon * maxy)
            pr->kept[pr->kp + pr->kq++] = i;
    simrep__moments_row_sums(m, &pr->t_ab, &pr->t_aa, &pr->t_bb);
    return SIMREP_OK;
}

void simrep_result_clear(simrep_ctx *ctx, simrep_result *r)
{
    if (!r)
        return;
    simrep__free(ctx, r->coefs);
    simrep__free(ctx, r->weights);
    simrep_measure m = r->measure;
    memset(r, 0, sizeof *r);
    r->measure = m;
}

static simrep_status check_measures(simrep_ctx *ctx, const simrep_measure *measures, int count, int allow_rows)
{
    if (count < 0 || (count > 0 && !measures))
        return simrep__fail(ctx, SIMREP_E_INVALID, "no measures given");
    for (int i = 0; i < count; i++) {
        const simrep_measure_info *info = simrep_measure_get_info(measures[i]);
        if (!info)
            return simrep__fail(ctx, SIMREP_E_INVALID, "unknown measure %d", (int)measures[i]);
        if (info->needs_rows && !allow_rows)
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "%s needs the rows themselves, not moments; use simrep_compare or simrep_cka_rbf",
                                info->id);
    }
    return SIMREP_OK;
}

simrep_status simrep_compare_moments(simrep_ctx *ctx, const simrep_moments *m, const simrep_options *options,
                                     const simrep_measure *measures, int count, simrep_result *results)
{
    simrep_options defaults;
    if (!options) {
        simrep_options_init(&defaults);
        options = &defaults;
    }
    if (!m)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments is NULL");
    simrep_status st = check_measures(ctx, measures, count, 0);
    if (st != SIMREP_OK)
        return st;
    if (!(options->epsilon >= 0) || !(options->svcca_keep > 0 && options->svcca_keep <= 1) ||
        options->svcca_dims < 0)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "options out of range (epsilon %g must be >= 0, svcca_keep %g in (0, 1], svcca_dims "
                            "%lld >= 0)",
                            options->epsilon, options->svcca_keep, (long long)options->svcca_dims);
    for (int i = 0; i < count; i++) {
        memset(&results[i], 0, sizeof results[i]);
        results[i].measure = measures[i];
    }
    simrep__prepared pr;
    st = prepare(ctx, m, options->epsilon, &pr);
    if (st == SIMREP_OK)
        st = simrep__cca_family(ctx, &pr, options, measures, count, results);
    for (int i = 0; i < count && st == SIMREP_OK; i++) {
        switch (measures[i]) {
        case SIMREP_CKA: st = simrep__cka_linear(ctx, &pr, 0, &results[i]); break;
        case SIMREP_CKA_DEBIASED: st = simrep__cka_linear(ctx, &pr, 1, &results[i]); break;
        case SIMREP_PROCRUSTES: st = simrep__procrustes(ctx, &pr, 0, &results[i]); break;
        case SIMREP_PROCRUSTES_ANGULAR: st = simrep__procrustes(ctx, &pr, 1, &results[i]); break;
        default: break;
        }
    }
    simrep__free(ctx, pr.cov);
    simrep__free(ctx, pr.kept);
    if (st != SIMREP_OK)
        for (int i = 0; i < count; i++)
            simrep_result_clear(ctx, &results[i]);
    return st;
}

simrep_status simrep_cca_details_compute(simrep_ctx *ctx, const simrep_moments *m, const simrep_options *options,
                                         simrep_cca_details *out)
{
    simrep_options defaults;
    if (!options) {
        simrep_options_init(&defaults);
        options = &defaults;
    }
    if (!m || !out)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_cca_details_compute: NULL argument");
    memset(out, 0, sizeof *out);
    simrep__prepared pr;
    simrep_status st = prepare(ctx, m, options->epsilon, &pr);
    if (st == SIMREP_OK)
        st = simrep__cca_details(ctx, &pr, options, out);
    simrep__free(ctx, pr.cov);
    simrep__free(ctx, pr.kept);
    return st;
}

simrep_status simrep_compare(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                             const simrep_options *options, const simrep_measure *measures, int count,
                             simrep_result *results)
{
    simrep_options defaults;
    if (!options) {
        simrep_options_init(&defaults);
        options = &defaults;
    }
    simrep_status st = check_measures(ctx, measures, count, 1);
    if (st == SIMREP_OK)
        st = simrep__check_matrix(ctx, x, "x");
    if (st == SIMREP_OK)
        st = simrep__check_matrix(ctx, y, "y");
    if (st != SIMREP_OK)
        return st;
    if (x->rows != y->rows)
        return simrep__fail(ctx, SIMREP_E_SHAPE, "x has %lld rows but y has %lld", (long long)x->rows,
                            (long long)y->rows);
    /* Linear measures through moments, kernel measures from the rows; the
     * results keep the caller's order. */
    simrep_measure linear[SIMREP_MEASURE_COUNT];
    int where[SIMREP_MEASURE_COUNT], nlin = 0;
    for (int i = 0; i < count; i++) {
        memset(&results[i], 0, sizeof results[i]);
        results[i].measure = measures[i];
        if (!simrep_measure_get_info(measures[i])->needs_rows && nlin < SIMREP_MEASURE_COUNT) {
            where[nlin] = i;
            linear[nlin++] = measures[i];
        }
    }
    if (nlin > 0) {
        simrep_moments *m = NULL;
        simrep_result lin[SIMREP_MEASURE_COUNT];
        st = simrep_moments_new(ctx, x->cols, y->cols, &m);
        if (st == SIMREP_OK)
            st = simrep_moments_update(ctx, m, x, y);
        if (st == SIMREP_OK)
            st = simrep_compare_moments(ctx, m, options, linear, nlin, lin);
        simrep_moments_free(ctx, m);
        if (st == SIMREP_OK)
            for (int i = 0; i < nlin; i++)
                results[where[i]] = lin[i];
    }
    for (int i = 0; i < count && st == SIMREP_OK; i++)
        if (measures[i] == SIMREP_CKA_RBF) {
            st = simrep_cka_rbf(ctx, x, y, options->rbf_sigma, &results[i].similarity);
            results[i].distance = 1 - results[i].similarity;
        }
    if (st != SIMREP_OK)
        for (int i = 0; i < count; i++)
            simrep_result_clear(ctx, &results[i]);
    return st;
}
