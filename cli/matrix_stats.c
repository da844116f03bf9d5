/*
 * matrix_stats.c: the group tests of `simrep matrix --permutations K
 * --bootstrap B` (issue 11), computed by the library (simrep_group_tests)
 * from each measure's distance matrix, which is computed once: a label
 * permutation costs O(K^2) additions, not a pass over the data.
 *
 * For every pair of groups a, b: within = the mean distance over pairs
 * inside a or inside b, between = the mean over pairs across; the
 * statistic between - within is compared with K relabellings of the
 * inputs of a and b (sizes kept): p = (1 + #{null >= observed}) / (1 + K).
 * "all" pools every group.  The bootstrap resamples the inputs (networks)
 * of each group with replacement, B times, for percentile intervals of each
 * group's within mean and each pair's between mean (pairs of a copy of an
 * input with itself are left out).
 *
 * JSON (keys added to each measure's "group_summary"): "within_ci" {g:
 * [lo, hi]}, "between_ci" {"g1|g2": [lo, hi]}, "tests" {"g1|g2" or "all":
 * {"within", "between", "statistic", "p", "permutations", "null_mean",
 * "null_sd"}}, and "statistics" {"permutations", "bootstrap", "seed",
 * "level"}.  The table prints the tests after each group summary.
 */
#include "cli.h"
#include "matrix.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int mx_stats_compute(const mx_run *r, int t, mx_group_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r->has_group_column || r->ngroups < 1 || (r->stats.o.permutations == 0 && r->stats.o.bootstrap == 0))
        return 0;
    const int G = r->ngroups, K = r->K;
    out->ntests = G * (G - 1) / 2 + 1;
    out->tests = calloc((size_t)out->ntests, sizeof *out->tests);
    out->within_ci = calloc((size_t)G * 2, sizeof(double));
    out->between_ci = calloc((size_t)G * G * 2, sizeof(double));
    int *labels = malloc((size_t)K * sizeof *labels);
    if (!out->tests || !out->within_ci || !out->between_ci || !labels) {
        free(labels);
        mx_stats_free(out);
        return cli_error(EXIT_DATA, "out of memory");
    }
    for (int i = 0; i < K; i++)
        labels[i] = r->in[i].group;
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_status st = ctx ? simrep_group_tests(ctx, K, r->dist[t], K, labels, G, r->stats.o.permutations,
                                                r->stats.o.bootstrap, r->stats.o.ci, r->stats.o.seed, out->tests,
                                                out->within_ci, out->between_ci)
                           : SIMREP_E_NOMEM;
    int rc = st == SIMREP_OK ? 0 : cli_library_error(ctx, st, NULL, NULL);
    simrep_ctx_free(ctx);
    free(labels);
    if (rc)
        mx_stats_free(out);
    else
        out->ok = 1;
    return rc;
}

void mx_stats_free(mx_group_stats *s)
{
    free(s->tests);
    free(s->within_ci);
    free(s->between_ci);
    memset(s, 0, sizeof *s);
}

static void pair_key(FILE *f, const mx_run *r, int a, int b)
{
    if (a < 0) {
        fputs("\"all\"", f);
        return;
    }
    size_t la = strlen(r->groups[a]), lb = strlen(r->groups[b]);
    char *s = malloc(la + lb + 2);
    if (!s)
        return;
    snprintf(s, la + lb + 2, "%s|%s", r->groups[a], r->groups[b]);
    json_string(f, s);
    free(s);
}

/* A number, or null where it does not exist (a group of one input has no
 * within mean: its intervals and tests are null). */
static void num(FILE *f, double v)
{
    if (isfinite(v))
        json_number(f, v);
    else
        fputs("null", f);
}

void mx_stats_json(FILE *f, const mx_run *r, const mx_group_stats *s)
{
    if (!s->ok)
        return;
    const int G = r->ngroups;
    if (r->stats.o.bootstrap > 0) {
        fputs(", \"within_ci\": {", f);
        for (int a = 0; a < G; a++) {
            fprintf(f, "%s", a ? ", " : "");
            json_string(f, r->groups[a]);
            fputs(": [", f);
            num(f, s->within_ci[2 * a]);
            fputs(", ", f);
            num(f, s->within_ci[2 * a + 1]);
            fputc(']', f);
        }
        fputs("}, \"between_ci\": {", f);
        int first = 1;
        for (int a = 0; a < G; a++)
            for (int b = a + 1; b < G; b++) {
                fputs(first ? "" : ", ", f);
                first = 0;
                pair_key(f, r, a, b);
                const double *v = s->between_ci + 2 * ((size_t)a * G + b);
                fputs(": [", f);
                num(f, v[0]);
                fputs(", ", f);
                num(f, v[1]);
                fputc(']', f);
            }
        fputc('}', f);
    }
    if (r->stats.o.permutations > 0) {
        fputs(", \"tests\": {", f);
        for (int k = 0; k < s->ntests; k++) {
            const simrep_group_test *t = &s->tests[k];
            fputs(k ? ", " : "", f);
            pair_key(f, r, t->a, t->b);
            fputs(": {\"within\": ", f);
            num(f, t->within);
            fputs(", \"between\": ", f);
            num(f, t->between);
            fputs(", \"statistic\": ", f);
            num(f, t->statistic);
            if (t->permutations > 0) {
                fputs(", \"p\": ", f);
                num(f, t->p_value);
                fputs(", \"null_mean\": ", f);
                num(f, t->null_mean);
                fputs(", \"null_sd\": ", f);
                num(f, t->null_sd);
            } else {
                fputs(", \"p\": null", f);
            }
            fprintf(f, ", \"permutations\": %lld}", (long long)t->permutations);
        }
        fputc('}', f);
    }
    fprintf(f, ", \"statistics\": {\"permutations\": %lld, \"bootstrap\": %lld, \"seed\": %llu, \"level\": ",
            (long long)r->stats.o.permutations, (long long)r->stats.o.bootstrap,
            (unsigned long long)r->stats.o.seed);
    json_number(f, r->stats.o.ci);
    fputc('}', f);
}

void mx_stats_table(const mx_run *r, const mx_group_stats *s)
{
    if (!s->ok)
        return;
    const int G = r->ngroups, w = mx_group_width(r);
    if (r->stats.o.bootstrap > 0) {
        printf("  %g%% intervals over the inputs (%lld resamples):\n", 100 * r->stats.o.ci,
               (long long)r->stats.o.bootstrap);
        for (int a = 0; a < G; a++)
            for (int b = a; b < G; b++) {
                const double *v = a == b ? s->within_ci + 2 * a : s->between_ci + 2 * ((size_t)a * G + b);
                if (!isfinite(v[0]))
                    continue;
                fputs(a == b ? "    within  " : "    between ", stdout);
                mx_print_group(r, a, b, w);
                printf(" [%.4f, %.4f]\n", v[0], v[1]);
            }
    }
    if (r->stats.o.permutations > 0) {
        printf("  between - within, p from %lld relabellings of the inputs:\n", (long long)r->stats.o.permutations);
        for (int k = 0; k < s->ntests; k++) {
            const simrep_group_test *t = &s->tests[k];
            if (t->permutations == 0)
                continue;
            fputs("    between ", stdout);
            mx_print_group(r, t->a, t->b, w);
            printf(" %+.4f  p = %.4g\n", t->statistic, t->p_value);
        }
    }
}

const char *mx_stats_csv_header(void)
{
    return ",ci_low,ci_high,statistic,p,permutations,null_mean,null_sd";
}

/* A CSV number, or an empty cell where it does not exist. */
static void csv_num(FILE *f, double v)
{
    fputc(',', f);
    if (isfinite(v))
        fprintf(f, "%.17g", v);
}

void mx_stats_csv_cells(FILE *f, const mx_run *r, const mx_group_stats *s, int a, int b)
{
    const int G = r->ngroups;
    double lo = NAN, hi = NAN;
    if (s->ok && r->stats.o.bootstrap > 0 && a >= 0) {
        const double *v = a == b ? s->within_ci + 2 * a : s->between_ci + 2 * ((size_t)a * G + b);
        lo = v[0];
        hi = v[1];
    }
    csv_num(f, lo);
    csv_num(f, hi);
    const simrep_group_test *t = NULL;
    for (int k = 0; s->ok && r->stats.o.permutations > 0 && (a != b || a < 0) && k < s->ntests; k++)
        if (s->tests[k].a == a && s->tests[k].b == b)
            t = &s->tests[k];
    if (!t) {
        fputs(",,,,,", f);
        return;
    }
    csv_num(f, t->statistic);
    csv_num(f, t->permutations > 0 ? t->p_value : NAN);
    fprintf(f, ",%lld", (long long)t->permutations);
    csv_num(f, t->permutations > 0 ? t->null_mean : NAN);
    csv_num(f, t->permutations > 0 ? t->null_sd : NAN);
}
