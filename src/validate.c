/*
 * validate.c: rank tests of a measure against function (simrep_rank_test),
 * the statistics of `simrep validate` and simrep.validate, after Ding,
 * Denain & Steinhardt 2021 (NeurIPS), "Grounding representation similarity
 * with statistical testing", section 3: for a reference representation,
 * the distance d_i of every other representation to it should rise with
 * the difference |f_i - f_ref| of a functional score.  They report
 * Spearman's rho and Kendall's tau between the two with one-sided p-values,
 * and the fraction of "bad" pairs, close by the measure but far in function.
 *
 * The definitions follow what their published evaluation computes, which
 * this file reproduces as numbers, not as code:
 *   - rho: the Pearson correlation of average ranks; its p-value the
 *     t approximation (n - 2 degrees of freedom).  Ding et al. halve
 *     scipy's two-sided value (or take 1 - half for a negative rho), which
 *     is the upper tail of t: what is computed here.
 *   - tau: tau-b; the p-value exact without ties for n <= 33 (or when at
 *     most one pair is out of order either way, where the exact tail is
 *     trivial), else the normal approximation with Kendall's tie-corrected
 *     variance -- the choice scipy.stats.kendalltau makes by default, so the
 *     tests can compare with it to round-off.  The exact tail is the number
 *     of permutations with at most D inversions (Mahonian numbers), summed as
 *     probabilities by the recurrence f_j(k) = (1/j) sum_{i<j} f_{j-1}(k - i)
 *     with prefix sums (O(n D), never factorials), always on the smaller
 *     side of the symmetric distribution so that a p near 1 loses nothing.
 *   - bad fraction: q = percentile rank with ties averaged (kind 'rank' of
 *     scipy's percentileofscore, over 100); bad when q_x < f and q_y > 1 - f,
 *     over all n rows.  q is formed with the same arithmetic, ((left +
 *     right + [left < right]) * (50 / n)) / 100, so rows exactly at the cut
 *     fall on the same side as in their evaluation.
 * The t upper tail uses the regularized incomplete beta function, by its
 * continued fraction (DLMF 8.17.22, modified Lentz), with the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) where the fraction converges slowly.
 *
 * Uncertainty: bootstrap over the rows and permutation nulls, from the
 * library's seeded random streams (stats.c), so one seed gives one answer.
 * Kendall's tau is computed over all pairs: n counts networks (tens to
 * hundreds), so O(n^2) per resample is cheaper than a merge-sort count.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Random streams of this file (stats.c uses 1-5). */
enum { STREAM_RANK_BOOT = 16, STREAM_RANK_PERM = 17 };

void simrep_rank_options_init(simrep_rank_options *o)
{
    memset(o, 0, sizeof *o);
    o->ci = 0.95;
    o->fraction = 0.2;
}

/* ------------------------------------------------------------ ranks */

typedef struct keyed {
    double v;
    int64_t i;
} keyed;

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *p = a, *q = b;
    if (p->v != q->v)
        return p->v < q->v ? -1 : 1;
    return p->i < q->i ? -1 : p->i > q->i;
}

/* Tie sums of a sorted sequence: sum t(t-1)/2, t(t-1)(t-2), t(t-1)(2t+5)
 * over groups of t equal values. */
typedef struct ties {
    double pairs, t0, t1;
} ties;

/* Average ranks (1-based) of v into rank; the ties' sums; whether the
 * values are all equal.  buf: n keyed. */
static int average_ranks(int64_t n, const double *v, keyed *buf, double *rank, ties *t)
{
    for (int64_t i = 0; i < n; i++)
        buf[i].v = v[i], buf[i].i = i;
    qsort(buf, (size_t)n, sizeof *buf, cmp_keyed);
    memset(t, 0, sizeof *t);
    for (int64_t a = 0; a < n;) {
        int64_t b = a + 1;
        while (b < n && buf[b].v == buf[a].v)
            b++;
        const double avg = 0.5 * (double)(a + 1 + b), c = (double)(b - a);
        for (int64_t k = a; k < b; k++)
            rank[buf[k].i] = avg;
        t->pairs += c * (c - 1) / 2;
        t->t0 += c * (c - 1) * (c - 2);
        t->t1 += c * (c - 1) * (2 * c + 5);
        a = b;
    }
    return buf[0].v == buf[n - 1].v;
}

/* Pearson correlation of a[perm[i]] (perm NULL: a[i]) with b. */
static double pearson(int64_t n, const double *a, const int64_t *perm, const double *b)
{
    double ma = 0, mb = 0;
    for (int64_t i = 0; i < n; i++)
        ma += a[i], mb += b[i];
    ma /= (double)n, mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (int64_t i = 0; i < n; i++) {
        const double da = a[perm ? perm[i] : i] - ma, db = b[i] - mb;
        sab += da * db, saa += da * da, sbb += db * db;
    }
    double r = sab / sqrt(saa * sbb);
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

/* Concordant minus discordant pairs of (x[perm[i]], y[i]), and the
 * discordant count. */
static double kendall_s(int64_t n, const double *x, const int64_t *perm, const double *y, double *discordant)
{
    double con = 0, dis = 0;
    for (int64_t i = 0; i < n; i++) {
        const double xi = x[perm ? perm[i] : i], yi = y[i];
        for (int64_t j = i + 1; j < n; j++) {
            const double dx = x[perm ? perm[j] : j] - xi, dy = y[j] - yi;
            const double s = (dx > 0) - (dx < 0), u = (dy > 0) - (dy < 0);
            con += s * u > 0;
            dis += s * u < 0;
        }
    }
    if (discordant)
        *discordant = dis;
    return con - dis;
}

static double tau_b(int64_t n, double s, const ties *tx, const ties *ty)
{
    const double tot = 0.5 * (double)n * (double)(n - 1);
    double t = s / sqrt((tot - tx->pairs) * (tot - ty->pairs));
    return t > 1 ? 1 : t < -1 ? -1 : t;
}

/* ------------------------------------------------------ distributions */

/* The continued fraction of I_x(a, b) (DLMF 8.17.22), for x < (a+1)/(a+b+2). */
static double beta_fraction(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = fabs(d) < tiny ? tiny : d;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        const double m2 = 2.0 * m;
        double e = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1 + e * d, c = 1 + e / c;
        d = fabs(d) < tiny ? tiny : d, c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        h *= d * c;
        e = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + e * d, c = 1 + e / c;
        d = fabs(d) < tiny ? tiny : d, c = fabs(c) < tiny ? tiny : c;
        d = 1 / d;
        const double step = d * c;
        h *= step;
        if (fabs(step - 1) < 1e-16)
            break;
    }
    return h;
}

/* The regularized incomplete beta function I_x(a, b), 0 <= x <= 1. */
static double beta_inc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    const double front = exp(a * log(x) + b * log1p(-x) + lgamma(a + b) - lgamma(a) - lgamma(b));
    if (x < (a + 1) / (a + b + 2))
        return front * beta_fraction(a, b, x) / a;
    return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

/* P(T >= t) for Student's t with df degrees of freedom. */
static double t_upper(double t, double df)
{
    if (isinf(t))
        return t > 0 ? 0 : 1;
    const double tail = 0.5 * beta_inc(0.5 * df, 0.5, df / (df + t * t));
    return t >= 0 ? tail : 1 - tail;
}

/* P(D <= k) for D the inversions of a uniformly random ordering of n,
 * 0 <= k <= n(n-1)/4 (f: k + 1 doubles, g: as many). */
static double inversions_cdf(int64_t n, int64_t k, double *f, double *g)
{
    memset(f, 0, (size_t)(k + 1) * sizeof *f);
    f[0] = 1;
    for (int64_t j = 2; j <= n; j++) {
        double run = 0; /* prefix sum of f over (k' - j, k'] */
        for (int64_t m = 0; m <= k; m++) {
            run += f[m];
            if (m - j >= 0)
                run -= f[m - j];
            g[m] = run / (double)j;
        }
        memcpy(f, g, (size_t)(k + 1) * sizeof *f);
    }
    double s = 0;
    for (int64_t m = 0; m <= k; m++)
        s += f[m];
    return s > 1 ? 1 : s;
}

/* ------------------------------------------------------------ the test */

typedef struct work {
    keyed *keys;
    double *rx, *ry;
    double *f, *g;
} work;

static simrep_status check_input(simrep_ctx *ctx, int64_t n, const double *v, int side)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i])) {
            simrep__fail_side(ctx, SIMREP_E_NONFINITE, side, "value %lld is %s", (long long)i,
                              isnan(v[i]) ? "NaN" : "infinite");
            simrep__error_cell(ctx, i, -1);
            return SIMREP_E_NONFINITE;
        }
    return SIMREP_OK;
}

/* Bad rows (Ding et al.'s percentile-rank rule, see the design comment). */
static int64_t bad_rows(int64_t n, const double *x, const double *y, double fraction, keyed *kx, keyed *ky)
{
    for (int64_t i = 0; i < n; i++)
        kx[i].v = x[i], kx[i].i = i, ky[i].v = y[i], ky[i].i = i;
    qsort(kx, (size_t)n, sizeof *kx, cmp_keyed);
    qsort(ky, (size_t)n, sizeof *ky, cmp_keyed);
    int64_t bad = 0;
    /* q of value v over sorted keys: left = #{< v}, right = #{<= v}. */
    for (int64_t i = 0; i < n; i++) {
        double q[2];
        const keyed *k2[2] = {kx, ky};
        const double v2[2] = {x[i], y[i]};
        for (int s = 0; s < 2; s++) {
            int64_t lo = 0, hi = n; /* first index >= v */
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (k2[s][mid].v < v2[s])
                    lo = mid + 1;
                else
                    hi = mid;
            }
            int64_t left = lo, right = lo;
            while (right < n && k2[s][right].v == v2[s])
                right++;
            q[s] = ((double)(left + right + (left < right)) * (50.0 / (double)n)) / 100.0;
        }
        bad += q[0] < fraction && q[1] > 1 - fraction;
    }
    return bad;
}

simrep_status simrep_rank_test(simrep_ctx *ctx, int64_t n, const double *x, const double *y,
                               const simrep_rank_options *options, simrep_rank_result *out)
{
    simrep_rank_options o;
    if (options)
        o = *options;
    else
        simrep_rank_options_init(&o);
    if (!out || !x || !y)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_rank_test: x, y and out must not be NULL");
    memset(out, 0, sizeof *out);
    if (n < 3)
        return simrep__fail(ctx, SIMREP_E_INVALID, "a rank test needs at least 3 rows (got %lld)", (long long)n);
    if (n > ((int64_t)1 << 31))
        return simrep__fail(ctx, SIMREP_E_INVALID, "a rank test takes at most 2^31 rows (got %lld)", (long long)n);
    if (!(o.ci > 0 && o.ci < 1))
        return simrep__fail(ctx, SIMREP_E_INVALID, "ci must be in (0, 1) (got %g)", o.ci);
    if (!(o.fraction > 0 && o.fraction <= 0.5))
        return simrep__fail(ctx, SIMREP_E_INVALID, "fraction must be in (0, 0.5] (got %g)", o.fraction);
    if (o.bootstrap < 0 || o.bootstrap > 10000000 || o.permutations < 0 || o.permutations > 10000000)
        return simrep__fail(ctx, SIMREP_E_INVALID, "bootstrap and permutations must be from 0 to 10^7 (got %lld, %lld)",
                            (long long)o.bootstrap, (long long)o.permutations);
    simrep_status st = check_input(ctx, n, x, 0);
    if (st == SIMREP_OK)
        st = check_input(ctx, n, y, 1);
    if (st != SIMREP_OK)
        return st;

    const double tot = 0.5 * (double)n * (double)(n - 1);
    work w;
    memset(&w, 0, sizeof w);
    const int64_t boot = o.bootstrap, perms = o.permutations;
    const int64_t nres = boot > perms ? boot : perms;
    w.keys = simrep__alloc_array(ctx, (size_t)(2 * n), sizeof *w.keys, "rank test");
    w.rx = simrep__alloc_array(ctx, (size_t)(4 * n), sizeof *w.rx, "rank test");
    double *vals = NULL, *xs = NULL;
    int64_t *idx = NULL;
    if (w.keys && w.rx && nres > 0) {
        vals = simrep__alloc_array(ctx, (size_t)(2 * nres), sizeof *vals, "rank test resamples");
        idx = simrep__alloc_array(ctx, (size_t)n, sizeof *idx, "rank test resamples");
        xs = simrep__alloc_array(ctx, (size_t)(2 * n), sizeof *xs, "rank test resamples");
    }
    if (!w.keys || !w.rx || (nres > 0 && (!vals || !idx || !xs))) {
        st = SIMREP_E_NOMEM;
        goto done;
    }
    w.ry = w.rx + n;
    double *rxs = w.rx + 2 * n, *rys = w.rx + 3 * n;

    ties tx, ty;
    if (average_ranks(n, x, w.keys, w.rx, &tx)) {
        st = simrep__fail_side(ctx, SIMREP_E_DEGENERATE, 0, "all %lld values are equal: no ranking to correlate",
                               (long long)n);
        goto done;
    }
    if (average_ranks(n, y, w.keys, w.ry, &ty)) {
        st = simrep__fail_side(ctx, SIMREP_E_DEGENERATE, 1, "all %lld values are equal: no ranking to correlate",
                               (long long)n);
        goto done;
    }
    out->n = n;
    out->rho = pearson(n, w.rx, NULL, w.ry);
    const double df = (double)(n - 2);
    out->rho_p = fabs(out->rho) >= 1 ? (out->rho > 0 ? 0.0 : 1.0)
                                     : t_upper(out->rho * sqrt(df / ((1 + out->rho) * (1 - out->rho))), df);
    double dis = 0;
    const double s = kendall_s(n, x, NULL, y, &dis);
    out->tau = tau_b(n, s, &tx, &ty);
    const double conc = tot - dis;
    out->tau_exact = tx.pairs == 0 && ty.pairs == 0 && (n <= 33 || (dis < conc ? dis : conc) <= 1);
    if (out->tau_exact) {
        /* P(D <= dis) on the smaller side of the symmetric distribution. */
        const int64_t d = (int64_t)dis, t = (int64_t)tot;
        const int64_t k = d <= t - d ? d : t - d - 1;
        double p = 0;
        if (k >= 0) {
            w.f = simrep__alloc_array(ctx, (size_t)(2 * (k + 1)), sizeof *w.f, "rank test");
            if (!w.f) {
                st = SIMREP_E_NOMEM;
                goto done;
            }
            w.g = w.f + k + 1;
            p = inversions_cdf(n, k, w.f, w.g);
        }
        out->tau_p = d <= t - d ? p : 1 - p;
    } else {
        const double m = (double)n * (double)(n - 1);
        const double var = (m * (2.0 * (double)n + 5) - tx.t1 - ty.t1) / 18 + 2 * tx.pairs * ty.pairs / m +
                           tx.t0 * ty.t0 / (9 * m * (double)(n - 2));
        out->tau_p = 0.5 * erfc(s / sqrt(var) / sqrt(2.0));
    }
    out->tau_p = out->tau_p < 0 ? 0 : out->tau_p > 1 ? 1 : out->tau_p;
    out->bad = bad_rows(n, x, y, o.fraction, w.keys, w.keys + n);
    out->bad_fraction = (double)out->bad / (double)n;

    /* Bootstrap over the rows. */
    int64_t kept = 0;
    for (int64_t b = 0; b < boot; b++) {
        if ((b & 63) == 0 && (st = simrep__tick(ctx, "bootstrap", (double)b / (double)boot)) != SIMREP_OK)
            goto done;
        uint64_t rs = simrep__rng_stream(o.seed, STREAM_RANK_BOOT, (uint64_t)b);
        double *bx = xs, *by = xs + n;
        for (int64_t i = 0; i < n; i++) {
            const int64_t k = (int64_t)simrep__rng_below(&rs, (uint64_t)n);
            bx[i] = x[k], by[i] = y[k];
        }
        ties bx_t, by_t;
        if (average_ranks(n, bx, w.keys, rxs, &bx_t) || average_ranks(n, by, w.keys, rys, &by_t))
            continue;
        vals[kept] = pearson(n, rxs, NULL, rys);
        vals[nres + kept] = tau_b(n, kendall_s(n, bx, NULL, by, NULL), &bx_t, &by_t);
        kept++;
    }
    out->bootstrap = kept;
    out->rho_ci_low = out->rho_ci_high = out->tau_ci_low = out->tau_ci_high = NAN;
    if (kept > 0) {
        for (int s2 = 0; s2 < 2; s2++) {
            double *v = vals + (s2 ? nres : 0);
            qsort(v, (size_t)kept, sizeof *v, cmp_double);
            const double lo = simrep__quantile_sorted(v, kept, (1 - o.ci) / 2);
            const double hi = simrep__quantile_sorted(v, kept, (1 + o.ci) / 2);
            if (s2 == 0)
                out->rho_ci_low = lo, out->rho_ci_high = hi;
            else
                out->tau_ci_low = lo, out->tau_ci_high = hi;
        }
    }

    /* Permutations: y against a random ordering of x. */
    int64_t ge_rho = 0, ge_tau = 0;
    for (int64_t k = 0; k < perms; k++) {
        if ((k & 63) == 0 && (st = simrep__tick(ctx, "permutations", (double)k / (double)perms)) != SIMREP_OK)
            goto done;
        uint64_t rs = simrep__rng_stream(o.seed, STREAM_RANK_PERM, (uint64_t)k);
        for (int64_t i = 0; i < n; i++)
            idx[i] = i;
        for (int64_t i = n - 1; i > 0; i--) {
            const int64_t j = (int64_t)simrep__rng_below(&rs, (uint64_t)(i + 1));
            const int64_t t = idx[i];
            idx[i] = idx[j], idx[j] = t;
        }
        /* A null equal to the observed value counts as reaching it; equal in
         * exact arithmetic may differ in the last bits (other summation
         * order), hence the 1e-12 (rho and tau are in [-1, 1]). */
        ge_rho += pearson(n, w.rx, idx, w.ry) >= out->rho - 1e-12;
        ge_tau += tau_b(n, kendall_s(n, x, idx, y, NULL), &tx, &ty) >= out->tau - 1e-12;
    }
    out->permutations = perms;
    out->rho_perm_p = out->tau_perm_p = NAN;
    if (perms > 0) {
        out->rho_perm_p = (1.0 + (double)ge_rho) / (1.0 + (double)perms);
        out->tau_perm_p = (1.0 + (double)ge_tau) / (1.0 + (double)perms);
    }
done:
    simrep__free(ctx, w.keys);
    simrep__free(ctx, w.rx);
    simrep__free(ctx, w.f);
    simrep__free(ctx, vals);
    simrep__free(ctx, idx);
    simrep__free(ctx, xs);
    if (st != SIMREP_OK && st != SIMREP_E_NOMEM)
        memset(out, 0, sizeof *out);
    return st;
}
