/*
 * compare.c: from moments (or in-memory matrices) to results.  Work that
 * depends on one input only (its dead-feature split, the eigendecomposition
 * that whitens it for the CCA family) is done once per input in
 * simrep_pairs_prepare; each pair then gets its joint covariance and hands
 * each requested measure to its family (cca.c, cka.c, procrustes.c;
 * cka_rbf.c from rows).  Two inputs (simrep_compare_moments) are the same
 * path with one pair, so a matrix of comparisons and a single compare give
 * the same numbers.
 *
 * Dead features (docs/measures.md, "Dead features"): a feature whose variance is
 * <= epsilon x the largest variance on its side is left out of the CCA
 * family (the reference's remove_small, which compares the rescaled
 * diagonal against epsilon).  CKA and Procrustes use every feature: a
 * constant column contributes nothing to them.  Undefined cases (n < 2, a
 * side with every feature dead) are errors with a message, never NaN.
 *
 * Constant features: the moments give an exactly constant column exactly
 * zero scatter (moments.c sums each block about its first row), and a
 * feature whose spread is below CONSTANT_REL of its own mean's magnitude
 * counts as constant too: a variation at the level of double round-off of
 * the value itself is not data, and when every feature of a side is such
 * (a layer of 0.1 computed in another order, say) no threshold relative to
 * the largest variance can tell.  Constant features are dropped from the
 * CCA family, left out of the largest variance and the traces, and their
 * rows and columns of the pair's covariance are zero for every measure; a
 * side of constant features only is SIMREP_E_DEGENERATE for every measure.
 */
#include "linalg.h"
#include "measures.h"
#include "moments.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Spread / |mean| at or below which a feature is constant: float64 holds
 * 16 digits, and a mean formed through thousands of roundings keeps about
 * 12 (an exact constant has zero spread anyway); float32 data vary by at
 * least 6e-8 of their value. */
#define CONSTANT_REL 1e-12

/* One input's share of the work every pair reads. */
typedef struct pair_input {
    int prepared;         /* 0: left to another process (simrep_pairs_prepare_some), until loaded */
    int64_t k;            /* features kept by the dead-feature rule */
    int64_t *kept;        /* their indices within the input */
    double trace;         /* tr of its scatter block */
    simrep__side *side;   /* eigendecomposition of its kept covariance (CCA family), or NULL */
    simrep__eig *eig;     /* eigendecomposition of its whole scatter (SIMREP__PREP_EIG), or NULL */
} pair_input;

struct simrep_pairs {
    const simrep_moments *m;
    simrep_options opt;
    unsigned prep;        /* SIMREP__PREP_* the measures asked for need: what each input carries */
    int count;            /* inputs */
    int64_t n, d;
    const int64_t *off;
    const double *scatter; /* the moments' upper triangle */
    const double *mean;    /* the moments' means */
    pair_input *in;
};

/* Element (r, c) of the symmetric scatter from its upper triangle. */
static double scatter_at(const simrep_pairs *pp, int64_t r, int64_t c)
{
    return r <= c ? pp->scatter[r + c * pp->d] : pp->scatter[c + r * pp->d];
}

/* Whether joint column c is constant (see the design comment): its
 * scatter is at most n (CONSTANT_REL mean)^2, zero for a zero mean. */
static int is_constant(const simrep_pairs *pp, int64_t c)
{
    const double t = CONSTANT_REL * pp->mean[c];
    return !(pp->scatter[c * (pp->d + 1)] > (double)pp->n * t * t);
}

static void eig_free(simrep_ctx *ctx, simrep__eig *e)
{
    if (!e)
        return;
    simrep__free(ctx, e->vals);
    simrep__free(ctx, e->vecs);
    simrep__free(ctx, e);
}

static simrep__eig *eig_alloc(simrep_ctx *ctx, int64_t p)
{
    simrep__eig *e = simrep__alloc(ctx, sizeof *e, "eigendecomposition");
    if (!e)
        return NULL;
    e->k = p;
    e->vals = simrep__alloc_array(ctx, (size_t)p, sizeof(double), "eigenvalues");
    e->vecs = e->vals ? simrep__alloc_array(ctx, (size_t)p * (size_t)p, sizeof(double), "eigenvectors") : NULL;
    if (!e->vecs) {
        eig_free(ctx, e);
        return NULL;
    }
    return e;
}

/*
 * Input j's whole scatter (every feature, constant ones as zero rows and
 * columns, in the moments' units of 2^(2 expo)) eigendecomposed: the
 * regressions and whitenings of the measures that read it (SIMREP__PREP_EIG)
 * need all of its directions, not the CCA family's rescaled kept block.
 * dsyevd's ascending order is reversed; round-off negatives become 0.
 */
static simrep_status eig_make(simrep_ctx *ctx, const simrep_pairs *pp, int j, simrep__eig **out)
{
    const int64_t o = pp->off[j], p = pp->off[j + 1] - o;
    simrep__eig *e = eig_alloc(ctx, p);
    double *a = e ? simrep__alloc_array(ctx, (size_t)p * (size_t)p, sizeof(double), "scatter block") : NULL;
    double *w = a ? simrep__alloc_array(ctx, (size_t)p, sizeof(double), "eigenvalues") : NULL;
    simrep_status st = w ? SIMREP_OK : SIMREP_E_NOMEM;
    if (st == SIMREP_OK) {
        for (int64_t c = 0; c < p; c++)
            for (int64_t r = 0; r < p; r++)
                a[r + c * p] = is_constant(pp, o + r) || is_constant(pp, o + c) ? 0 : scatter_at(pp, o + r, o + c);
        st = simrep__syevd(ctx, p, a, p, w);
    }
    if (st == SIMREP_OK)
        for (int64_t c = 0; c < p; c++) {
            e->vals[c] = w[p - 1 - c] > 0 ? w[p - 1 - c] : 0;
            memcpy(e->vecs + c * p, a + (p - 1 - c) * p, (size_t)p * sizeof(double));
        }
    simrep__free(ctx, a);
    simrep__free(ctx, w);
    if (st != SIMREP_OK) {
        eig_free(ctx, e);
        e = NULL;
    }
    *out = e;
    return st;
}

void simrep_pairs_free(simrep_ctx *ctx, simrep_pairs *pp)
{
    if (!pp)
        return;
    for (int j = 0; pp->in && j < pp->count; j++) {
        simrep__free(ctx, pp->in[j].kept);
        simrep__side_free(ctx, pp->in[j].side);
        eig_free(ctx, pp->in[j].eig);
    }
    simrep__free(ctx, pp->in);
    simrep__free(ctx, pp);
}

static simrep_status check_measures(simrep_ctx *ctx, const simrep_measure *measures, int count, int allow_rows);

/* One input's eigendecomposition (a task of simrep_pairs_prepare_some);
 * writes only that input's side. */
typedef struct side_task {
    simrep_pairs *pp;
    int input;
    double inv; /* 1 / (n - 1) */
} side_task;

static int larger_first(const void *a, const void *b)
{
    const side_task *x = a, *y = b;
    const int64_t kx = x->pp->in[x->input].k, ky = y->pp->in[y->input].k;
    return kx > ky ? -1 : kx < ky ? 1 : x->input - y->input;
}

static simrep_status side_task_run(simrep_ctx *ctx, void *arg)
{
    const side_task *t = arg;
    const simrep_pairs *pp = t->pp;
    pair_input *in = &t->pp->in[t->input];
    const int64_t o = pp->off[t->input];
    double *cov = simrep__alloc_array(ctx, (size_t)(in->k * in->k), sizeof(double), "covariance block");
    if (!cov)
        return SIMREP_E_NOMEM;
    double m2 = 0; /* the kept features' mean squares, for the rounding floor */
    for (int64_t b = 0; b < in->k; b++) {
        for (int64_t a = 0; a < in->k; a++)
            cov[a + b * in->k] = scatter_at(pp, o + in->kept[a], o + in->kept[b]) * t->inv;
        const double mu = pp->mean[o + in->kept[b]];
        m2 += scatter_at(pp, o + in->kept[b], o + in->kept[b]) / (double)pp->n + mu * mu;
    }
    const double noise = simrep__noise_floor(&pp->opt, simrep_moments_unit_roundoff(pp->m, t->input), m2);
    simrep_status st = simrep__side_make(ctx, cov, in->k, in->k, noise, &in->side);
    simrep__free(ctx, cov);
    return st;
}

/* side_task_run, its failure (out of memory, dsyevd) blamed on its input. */
static simrep_status side_task_blamed(simrep_ctx *ctx, void *arg)
{
    const side_task *t = arg;
    simrep_status st = side_task_run(ctx, arg);
    return st == SIMREP_OK ? st : simrep__blame_input(ctx, t->input, t->pp->count);
}

simrep_status simrep_pairs_prepare(simrep_ctx *ctx, const simrep_moments *m, const simrep_options *options,
                                   const simrep_measure *measures, int count, simrep_pairs **out)
{
    return simrep_pairs_prepare_some(ctx, m, options, measures, count, NULL, out);
}

simrep_status simrep_pairs_prepare_some(simrep_ctx *ctx, const simrep_moments *m, const simrep_options *options,
                                        const simrep_measure *measures, int count, const unsigned char *which,
                                        simrep_pairs **out)
{
    simrep_options defaults;
    if (!options) {
        simrep_options_init(&defaults);
        options = &defaults;
    }
    *out = NULL;
    if (!m)
        return simrep__fail(ctx, SIMREP_E_INVALID, "moments is NULL");
    simrep_status st = check_measures(ctx, measures, count, 0);
    if (st == SIMREP_OK)
        st = simrep__options_check(ctx, options, measures, count);
    if (st != SIMREP_OK)
        return st;
    const int64_t n = simrep_moments_n(m);
    if (n < 2)
        return simrep__fail(ctx, SIMREP_E_DEGENERATE,
                            "n = %lld sample%s: similarity needs at least 2 samples (rows) to center the data",
                            (long long)n, n == 1 ? "" : "s");
    const unsigned prep = simrep__measures_prep(measures, count, options);
    simrep_pairs *pp = simrep__alloc(ctx, sizeof *pp, "pairs");
    if (!pp)
        return SIMREP_E_NOMEM;
    memset(pp, 0, sizeof *pp);
    pp->m = m;
    pp->opt = *options;
    pp->prep = prep;
    pp->count = simrep_moments_inputs(m);
    pp->n = n;
    pp->off = simrep__moments_offsets(m);
    pp->d = pp->off[pp->count];
    pp->scatter = simrep__moments_scatter_upper(m);
    pp->mean = simrep__moments_mean(m);
    pp->in = simrep__calloc_array(ctx, (size_t)pp->count, sizeof *pp->in, "pairs inputs");
    st = pp->in ? SIMREP_OK : SIMREP_E_NOMEM;
    const double inv = 1.0 / (double)(n - 1);
    for (int j = 0; j < pp->count && st == SIMREP_OK; j++) {
        pair_input *in = &pp->in[j];
        if ((st = simrep__tick(ctx, "per-input work", (double)j / (double)pp->count)) != SIMREP_OK)
            break;
        if (which && !which[j])
            continue;
        in->prepared = 1;
        const int64_t o = pp->off[j], p = pp->off[j + 1] - o;
        double vmax = 0;
        for (int64_t c = 0; c < p; c++) {
            const double v = pp->scatter[(o + c) * (pp->d + 1)];
            if (is_constant(pp, o + c))
                continue;
            in->trace += v;
            vmax = v > vmax ? v : vmax;
        }
        /* A failure here is input j's (its name in front, simrep_ctx_error). */
        in->kept = simrep__alloc_array(ctx, (size_t)p, sizeof(int64_t), "kept features");
        if (!in->kept) {
            st = simrep__blame_input(ctx, j, pp->count);
            break;
        }
        for (int64_t c = 0; c < p; c++)
            if (pp->scatter[(o + c) * (pp->d + 1)] > options->epsilon * vmax && !is_constant(pp, o + c))
                in->kept[in->k++] = c;
        if ((prep & SIMREP__PREP_EIG) && eig_make(ctx, pp, j, &in->eig) != SIMREP_OK) {
            st = simrep__blame_input(ctx, j, pp->count);
            break;
        }
    }
    /* Each input's kept covariance block, eigendecomposed once for every
     * pair: independent tasks, largest first (tasks.c). */
    side_task *tasks = NULL;
    void **args = NULL;
    int nt = 0;
    if (st == SIMREP_OK && (prep & SIMREP__PREP_SIDE)) {
        tasks = simrep__calloc_array(ctx, (size_t)pp->count, sizeof *tasks, "eigendecomposition tasks");
        args = tasks ? simrep__calloc_array(ctx, (size_t)pp->count, sizeof *args, "eigendecomposition tasks") : NULL;
        st = args ? SIMREP_OK : SIMREP_E_NOMEM;
        for (int j = 0; j < pp->count && st == SIMREP_OK; j++)
            if (pp->in[j].prepared && pp->in[j].k > 0)
                tasks[nt++] = (side_task){pp, j, inv};
        if (nt > 1)
            qsort(tasks, (size_t)nt, sizeof *tasks, larger_first);
        for (int t = 0; t < nt; t++)
            args[t] = &tasks[t];
    }
    if (st == SIMREP_OK && nt > 0)
        st = simrep__run_tasks(ctx, nt, side_task_blamed, args);
    simrep__free(ctx, tasks);
    simrep__free(ctx, args);
    if (st != SIMREP_OK) {
        simrep_pairs_free(ctx, pp);
        return st;
    }
    *out = pp;
    return SIMREP_OK;
}

/*
 * One input's prepared state as doubles: prepared, k, trace, has_side, the k
 * kept indices, then the side's own state if any; with SIMREP__PREP_EIG,
 * at a fixed offset after the longest side, has_eig, the p eigenvalues and
 * the p x p eigenvectors of the whole scatter.
 */
static int64_t eig_state_at(const simrep_pairs *pp, int64_t p)
{
    return 4 + p + (pp->prep & SIMREP__PREP_SIDE ? 3 + p + p * p : 0);
}

int64_t simrep_pairs_input_state_len(const simrep_pairs *pp, int input)
{
    if (!pp || input < 0 || input >= pp->count)
        return 0;
    /* The longest state this input can have (every feature kept), so that a
     * receiver can size its buffer before knowing k. */
    const int64_t p = pp->off[input + 1] - pp->off[input];
    return eig_state_at(pp, p) + (pp->prep & SIMREP__PREP_EIG ? 1 + p + p * p : 0);
}

void simrep_pairs_input_save(const simrep_pairs *pp, int input, double *state)
{
    const pair_input *in = &pp->in[input];
    const int64_t len = simrep_pairs_input_state_len(pp, input);
    memset(state, 0, (size_t)len * sizeof(double));
    state[0] = in->prepared;
    state[1] = (double)in->k;
    state[2] = in->trace;
    state[3] = in->side ? 1 : 0;
    for (int64_t a = 0; a < in->k; a++)
        state[4 + a] = (double)in->kept[a];
    if (in->side)
        simrep__side_save(in->side, state + 4 + in->k);
    if (in->eig) {
        const int64_t p = in->eig->k, at = eig_state_at(pp, p);
        state[at] = 1;
        memcpy(state + at + 1, in->eig->vals, (size_t)p * sizeof(double));
        memcpy(state + at + 1 + p, in->eig->vecs, (size_t)(p * p) * sizeof(double));
    }
}

simrep_status simrep_pairs_input_load(simrep_ctx *ctx, simrep_pairs *pp, int input, const double *state)
{
    if (!pp || input < 0 || input >= pp->count || !state)
        return simrep__fail(ctx, SIMREP_E_INVALID, "pairs_input_load: no input %d", input);
    pair_input *in = &pp->in[input];
    const int64_t p = pp->off[input + 1] - pp->off[input];
    const double k = state[1];
    int ok = state[0] == 1 && k >= 0 && k <= (double)p && k == floor(k) && (state[3] == 0 || state[3] == 1) &&
             isfinite(state[2]) && state[2] >= 0;
    for (int64_t a = 0; ok && a < (int64_t)k; a++) /* kept indices: ascending, within the input */
        ok = state[4 + a] == floor(state[4 + a]) && state[4 + a] >= (a ? state[3 + a] + 1 : 0) && state[4 + a] < (double)p;
    if (!ok)
        return simrep__fail(ctx, SIMREP_E_INVALID, "pairs_input_load: the state of input %d is not a prepared input",
                            input);
    int64_t *kept = simrep__alloc_array(ctx, (size_t)p, sizeof(int64_t), "kept features");
    if (!kept)
        return SIMREP_E_NOMEM;
    for (int64_t a = 0; a < (int64_t)k; a++)
        kept[a] = (int64_t)state[4 + a];
    simrep__side *side = NULL;
    simrep__eig *eig = NULL;
    if (state[3] == 1) {
        simrep_status st = simrep__side_load(ctx, state + 4 + (int64_t)k, (int64_t)k, &side);
        if (st != SIMREP_OK) {
            simrep__free(ctx, kept);
            return st;
        }
    }
    const int64_t at = eig_state_at(pp, p);
    if ((pp->prep & SIMREP__PREP_EIG) && state[at] == 1) {
        int fine = 1;
        for (int64_t c = 0; c < p + p * p && fine; c++)
            fine = isfinite(state[at + 1 + c]) && (c >= p || state[at + 1 + c] >= 0);
        if (!fine || !(eig = eig_alloc(ctx, p))) {
            simrep__free(ctx, kept);
            simrep__side_free(ctx, side);
            return fine ? SIMREP_E_NOMEM
                        : simrep__fail(ctx, SIMREP_E_INVALID,
                                       "pairs_input_load: the state of input %d holds a bad eigendecomposition", input);
        }
        memcpy(eig->vals, state + at + 1, (size_t)p * sizeof(double));
        memcpy(eig->vecs, state + at + 1 + p, (size_t)(p * p) * sizeof(double));
    }
    simrep__free(ctx, in->kept);
    simrep__side_free(ctx, in->side);
    eig_free(ctx, in->eig);
    in->eig = eig;
    in->kept = kept;
    in->side = side;
    in->k = (int64_t)k;
    in->trace = state[2];
    in->prepared = 1;
    return SIMREP_OK;
}

/* The joint covariance, means and dead-feature split of inputs i (as x) and
 * j (as y), from the pairs' shared state. */
static simrep_status prepare_pair(simrep_ctx *ctx, const simrep_pairs *pp, int i, int j, simrep__prepared *pr)
{
    memset(pr, 0, sizeof *pr);
    const int64_t oi = pp->off[i], oj = pp->off[j];
    pr->n = pp->n;
    pr->p = pp->off[i + 1] - oi;
    pr->q = pp->off[j + 1] - oj;
    pr->d = pr->p + pr->q;
    const int64_t d = pr->d;
    double *mean = simrep__alloc_array(ctx, (size_t)d, sizeof(double), "pair means");
    pr->cov = mean ? simrep__alloc_array(ctx, (size_t)d * (size_t)d, sizeof(double), "covariance") : NULL;
    pr->kept = pr->cov ? simrep__alloc_array(ctx, (size_t)d, sizeof(int64_t), "kept features") : NULL;
    if (!pr->kept) {
        simrep__free(ctx, mean);
        simrep__free(ctx, pr->cov);
        pr->cov = NULL;
        return SIMREP_E_NOMEM;
    }
    const double *mu = simrep__moments_mean(pp->m);
    memcpy(mean, mu + oi, (size_t)pr->p * sizeof(double));
    memcpy(mean + pr->p, mu + oj, (size_t)pr->q * sizeof(double));
    pr->mean = mean;
    const double inv = 1.0 / (double)(pp->n - 1);
    for (int64_t c = 0; c < d; c++) {
        const int64_t gc = c < pr->p ? oi + c : oj + (c - pr->p);
        for (int64_t r = 0; r < d; r++) {
            const int64_t gr = r < pr->p ? oi + r : oj + (r - pr->p);
            pr->cov[r + c * d] = scatter_at(pp, gr, gc) * inv;
        }
    }
    for (int64_t c = 0; c < d; c++) /* constant features: no variation, exactly */
        if (is_constant(pp, c < pr->p ? oi + c : oj + (c - pr->p)))
            for (int64_t r = 0; r < d; r++)
                pr->cov[r + c * d] = pr->cov[c + r * d] = 0;
    const pair_input *a = &pp->in[i], *b = &pp->in[j];
    pr->kp = a->k;
    pr->kq = b->k;
    memcpy(pr->kept, a->kept, (size_t)a->k * sizeof(int64_t));
    memcpy(pr->kept + a->k, b->kept, (size_t)b->k * sizeof(int64_t));
    pr->tr_sxx = a->trace;
    pr->tr_syy = b->trace;
    pr->t_ab = simrep__moments_row_sum(pp->m, i, j);
    pr->t_aa = simrep__moments_row_sum(pp->m, i, i);
    pr->t_bb = simrep__moments_row_sum(pp->m, j, j);
    pr->side_x = a->side;
    pr->side_y = b->side;
    pr->mixed = simrep__moments_mixed(pp->m);
    pr->eig_x = a->eig;
    pr->eig_y = b->eig;
    pr->expo_x = simrep__moments_exponent(pp->m, i);
    pr->expo_y = simrep__moments_exponent(pp->m, j);
    pr->unit_x = simrep_moments_unit_roundoff(pp->m, i);
    pr->unit_y = simrep_moments_unit_roundoff(pp->m, j);
    pr->opt = &pp->opt;
    return SIMREP_OK;
}

static void prepared_free(simrep_ctx *ctx, simrep__prepared *pr)
{
    simrep__free(ctx, (double *)pr->mean);
    simrep__free(ctx, pr->cov);
    simrep__free(ctx, pr->kept);
}

/* The measures of one family for a pair (a task of simrep_pairs_compare). */
typedef struct family_task {
    simrep_family family;
    simrep__prepared *pr;
    const simrep_measure *measures;
    simrep_result *results;
    int count;
} family_task;

static simrep_status family_task_run(simrep_ctx *ctx, void *arg)
{
    const family_task *t = arg;
    simrep_status st = SIMREP_OK;
    for (int c = 0; c < t->count && st == SIMREP_OK; c++)
        if (simrep_measure_get_info(t->measures[c])->family == t->family)
            st = simrep__measure_row_get(t->measures[c])->pair(ctx, t->pr, &t->results[c]);
    return st;
}

/* SIMREP_WARN_LAYOUT for a pair of n samples with p and q features: both
 * wider than long and equally wide, the shape of two features x samples
 * arrays of the same layer width read the wrong way (CKA 0.04 for 0.94 in
 * issue 10's example), which nothing else would flag. */
static unsigned layout_warning(int64_t n, int64_t p, int64_t q)
{
    return n < p && p == q ? SIMREP_WARN_LAYOUT : 0;
}

simrep_status simrep_pairs_compare(simrep_ctx *ctx, const simrep_pairs *pp, int i, int j,
                                   const simrep_measure *measures, int count, simrep_result *results)
{
    if (!pp || i < 0 || j < 0 || i >= pp->count || j >= pp->count || i == j)
        return simrep__fail(ctx, SIMREP_E_INVALID, "pairs_compare: inputs %d and %d are not a pair of the %d inputs",
                            i, j, pp ? pp->count : 0);
    simrep_status st = check_measures(ctx, measures, count, 0);
    if (st != SIMREP_OK)
        return st;
    if (!pp->in[i].prepared || !pp->in[j].prepared)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "input %d was not prepared here; load its state (simrep_pairs_input_load) first",
                            pp->in[i].prepared ? j : i);
    /* Per-input work the measures need and the preparation did not do. */
    const unsigned need = simrep__measures_prep(measures, count, &pp->opt);
    unsigned char want[SIMREP_MEASURE_COUNT] = {0};
    for (int c = 0; c < count; c++) {
        memset(&results[c], 0, sizeof results[c]);
        results[c].measure = measures[c];
        want[measures[c]] = 1;
    }
    if ((need & ~pp->prep) != 0)
        for (int c = 0; c < count; c++)
            if (simrep__measures_prep(&measures[c], 1, &pp->opt) & ~pp->prep)
                return simrep__fail(ctx, SIMREP_E_INVALID,
                                    "%s was not among the measures given to simrep_pairs_prepare",
                                    simrep_measure_get_info(measures[c])->id);
    simrep__prepared pr;
    st = prepare_pair(ctx, pp, i, j, &pr);
    pr.want = want;
    /* Messages about x or y name inputs i and j (simrep_ctx_error). */
    if (ctx)
        ctx->pair_input[0] = i, ctx->pair_input[1] = j;
    /* One task per family, in the order of its first measure, running its
     * measures in the caller's order: the families touch only their own
     * cache slot and results, so the CCA family's decompositions and
     * Procrustes' SVD run side by side (tasks.c); the first failing family
     * in that order names the error. */
    family_task fam[SIMREP_FAMILY_COUNT];
    void *args[SIMREP_FAMILY_COUNT];
    int nf = 0;
    for (int c = 0; c < count; c++) {
        const simrep_family f = simrep_measure_get_info(measures[c])->family;
        int t = 0;
        while (t < nf && fam[t].family != f)
            t++;
        if (t == nf)
            fam[nf++] = (family_task){f, &pr, measures, results, count};
    }
    for (int t = 0; t < nf; t++)
        args[t] = &fam[t];
    if (st == SIMREP_OK)
        st = simrep__run_tasks(ctx, nf, family_task_run, args);
    simrep__prepared_clear_caches(ctx, &pr);
    for (int c = 0; c < count && st == SIMREP_OK; c++) {
        simrep__chance(&pr, &results[c]);
        results[c].warnings |= layout_warning(pr.n, pr.p, pr.q);
    }
    prepared_free(ctx, &pr);
    if (ctx)
        ctx->pair_input[0] = ctx->pair_input[1] = -1;
    if (st != SIMREP_OK)
        for (int c = 0; c < count; c++)
            simrep_result_clear(ctx, &results[c]);
    return st;
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
        if (info->needs_maps)
            return simrep__fail(ctx, SIMREP_E_INVALID,
                                "%s needs conv feature maps (N, H, W, C), not a samples x features matrix; use "
                                "simrep_dftcca_new/update/compute",
                                info->id);
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
    if (m && simrep_moments_inputs(m) != 2)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "these moments have %d inputs; compare pairs of them with simrep_pairs_compare",
                            simrep_moments_inputs(m));
    simrep_pairs *pp = NULL;
    simrep_status st = simrep_pairs_prepare(ctx, m, options, measures, count, &pp);
    if (st == SIMREP_OK)
        st = simrep_pairs_compare(ctx, pp, 0, 1, measures, count, results);
    simrep_pairs_free(ctx, pp);
    return st;
}

simrep_status simrep_cca_details_compute(simrep_ctx *ctx, const simrep_moments *m, const simrep_options *options,
                                         simrep_cca_details *out)
{
    if (!m || !out)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_cca_details_compute: NULL argument");
    memset(out, 0, sizeof *out);
    if (simrep_moments_inputs(m) != 2)
        return simrep__fail(ctx, SIMREP_E_INVALID, "CCA details need moments of two inputs");
    const simrep_measure cca = SIMREP_CCA;
    simrep_pairs *pp = NULL;
    simrep__prepared pr;
    memset(&pr, 0, sizeof pr);
    simrep_status st = simrep_pairs_prepare(ctx, m, options, &cca, 1, &pp);
    if (st == SIMREP_OK)
        st = prepare_pair(ctx, pp, 0, 1, &pr);
    if (st == SIMREP_OK)
        st = simrep__cca_details(ctx, &pr, &pp->opt, out);
    if (st == SIMREP_OK) { /* the means in the data's own units (moments.h) */
        for (int64_t c = 0; c < out->p; c++)
            out->mean_x[c] = ldexp(out->mean_x[c], simrep__moments_exponent(m, 0));
        for (int64_t c = 0; c < out->q; c++)
            out->mean_y[c] = ldexp(out->mean_y[c], simrep__moments_exponent(m, 1));
    }
    prepared_free(ctx, &pr);
    simrep_pairs_free(ctx, pp);
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
        st = simrep__options_check(ctx, options, measures, count);
    if (st == SIMREP_OK)
        st = simrep__check_xy(ctx, x, y, "rows");
    if (st != SIMREP_OK)
        return st;
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
            st = simrep_moments_set_precision(ctx, m, options->precision);
        if (st == SIMREP_OK)
            st = simrep_moments_update(ctx, m, x, y);
        if (st == SIMREP_OK)
            st = simrep_compare_moments(ctx, m, options, linear, nlin, lin);
        /* Mixed precision too coarse for these data (SIMREP_WARN_MIXED_PRECISION):
         * the rows are at hand, so the pass is made again in float64. */
        unsigned coarse = 0;
        for (int i = 0; st == SIMREP_OK && i < nlin; i++)
            coarse |= lin[i].warnings & SIMREP_WARN_MIXED_PRECISION;
        if (coarse) {
            for (int i = 0; i < nlin; i++)
                simrep_result_clear(ctx, &lin[i]);
            simrep_moments_free(ctx, m);
            m = NULL;
            st = simrep_moments_new(ctx, x->cols, y->cols, &m);
            if (st == SIMREP_OK)
                st = simrep_moments_update(ctx, m, x, y);
            if (st == SIMREP_OK)
                st = simrep_compare_moments(ctx, m, options, linear, nlin, lin);
            for (int i = 0; st == SIMREP_OK && i < nlin; i++)
                lin[i].warnings |= SIMREP_WARN_RECOMPUTED;
        }
        simrep_moments_free(ctx, m);
        if (st == SIMREP_OK)
            for (int i = 0; i < nlin; i++)
                results[where[i]] = lin[i];
    }
    for (int i = 0; i < count && st == SIMREP_OK; i++) {
        const simrep__measure_row *row = simrep__measure_row_get(measures[i]);
        if (row->rows)
            st = row->rows(ctx, x, y, options, &results[i]);
    }
    for (int i = 0; i < count && st == SIMREP_OK; i++)
        results[i].warnings |= layout_warning(x->rows, x->cols, y->cols);
    if (st != SIMREP_OK)
        for (int i = 0; i < count; i++)
            simrep_result_clear(ctx, &results[i]);
    return st;
}
