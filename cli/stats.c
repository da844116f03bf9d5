/*
 * stats.c (CLI): the options and the output of the statistics of issue 11,
 * shared by `simrep compare` (bootstrap intervals, permutation nulls,
 * chance levels: the library's simrep_stats) and `simrep matrix` (group
 * tests: simrep_group_tests).
 *
 * Options: --bootstrap B, --permutations K, --ci LEVEL, --seed S (both
 * commands); --unit-rows K, --buckets G, --segments S (compare; --threads
 * and --max-memory are the commands' own).  The sampling unit defaults to
 * the layout's item: an image under --conv ... positions, a sequence under
 * --sequence flatten or per-step (there a row of every step's matrix), its
 * valid tokens under --mask with flatten (units of different sizes), else
 * a row.  Curves (--sequence per-step) add "per_step_ci", "per_step_se",
 * "per_step_null", "per_step_adjusted" and "per_step_chance" per measure.
 *
 * Output, only ever added to: in JSON each measure gains "ci" [low, high],
 * "se", "bootstrap" (resamples used), "null" {"mean", "sd", "p",
 * "permutations"}, "adjusted", and "chance" wherever a closed form exists
 * (even without resampling, so the small-sample bias shows); the document
 * gains "statistics" (units, buckets, segments, seed, level).  The table
 * keeps its columns and adds a second table; CSV adds columns after
 * "distance" when statistics were asked for.  The measures of the rows
 * (rsa, mutual_knn, cknna, cka_rbf) get the same keys from
 * simrep_stats_rows (the parts the registry's info.statistics gives
 * them); dftcca is not resampled: a warning says so and its entry has no
 * statistics keys.
 */
#include "cli.h"
#include "stats.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

void cli_stats_init(cli_stats *s)
{
    memset(s, 0, sizeof *s);
    simrep_stats_options_init(&s->o);
}

/* A whole number in [lo, hi], or a usage error naming the option. */
static int whole(const char *name, const char *val, double lo, double hi, double *out)
{
    int rc = cli_parse_number(name, val, out);
    if (!rc && !(*out >= lo && *out <= hi && *out == floor(*out)))
        rc = cli_error(EXIT_USAGE, "%s takes a whole number from %.0f to %.0f (got %s)", name, lo, hi, val);
    return rc;
}

int cli_stats_option(const char *name, const char *val, int compare, cli_stats *s)
{
    double v = 0;
    int rc;
    if (strcmp(name, "--bootstrap") == 0) {
        if (!(rc = whole(name, val, 0, 1e7, &v)) && v == 1)
            rc = cli_error(EXIT_USAGE, "--bootstrap takes 0 (none) or a whole number from 2 to 10000000 (got %s: "
                           "one resample gives no standard error)", val);
        if (!rc)
            s->o.bootstrap = (int64_t)v;
        return rc;
    }
    if (strcmp(name, "--permutations") == 0) {
        if (!(rc = whole(name, val, 0, 1e7, &v)))
            s->o.permutations = (int64_t)v;
        return rc;
    }
    if (strcmp(name, "--ci") == 0) {
        rc = cli_parse_number(name, val, &v);
        if (!rc && !(v > 0 && v < 1))
            rc = cli_error(EXIT_USAGE, "--ci takes a level in (0, 1) such as 0.95 (got %s)", val);
        s->o.ci = v;
        s->ci_given = 1;
        s->given |= CLI_STATS_GIVEN_FOR_BOOTSTRAP;
        return rc;
    }
    if (strcmp(name, "--seed") == 0) {
        if (!(rc = whole(name, val, 0, 9007199254740991.0, &v)))
            s->o.seed = (uint64_t)v;
        s->given |= CLI_STATS_GIVEN_FOR_EITHER;
        return rc;
    }
    if (strcmp(name, "--ci-method") == 0) {
        if (strcmp(val, "percentile") == 0)
            s->o.interval = SIMREP_INTERVAL_PERCENTILE;
        else if (strcmp(val, "basic") == 0)
            s->o.interval = SIMREP_INTERVAL_BASIC;
        else
            return cli_error(EXIT_USAGE, "--ci-method is percentile or basic (got '%s')", val);
        s->given |= CLI_STATS_GIVEN_FOR_BOOTSTRAP;
        return 0;
    }
    if (!compare)
        return CLI_OPT_NOT_MINE;
    if (strcmp(name, "--unit-rows") == 0) {
        if (!(rc = whole(name, val, 1, 1e15, &v)))
            s->unit_rows = (int64_t)v;
        s->given |= CLI_STATS_GIVEN_FOR_EITHER;
        return rc;
    }
    if (strcmp(name, "--buckets") == 0) {
        if (!(rc = whole(name, val, 1, 1e6, &v)))
            s->o.buckets = (int64_t)v;
        s->given |= CLI_STATS_GIVEN_FOR_BOOTSTRAP;
        return rc;
    }
    if (strcmp(name, "--segments") == 0) {
        if (!(rc = whole(name, val, 2, 64, &v)))
            s->o.segments = (int64_t)v;
        s->given |= CLI_STATS_GIVEN_FOR_PERMUTATIONS;
        return rc;
    }
    return CLI_OPT_NOT_MINE;
}

void cli_stats_tune_malloc(void)
{
#if defined(__GLIBC__)
    /* Every resample allocates and frees the same few (p+q)^2 buffers; from
     * 128 KiB up glibc maps them fresh each time and every page faults in
     * zeroed (a quarter of the CPU of --bootstrap 200 at 128 + 128
     * features).  Keep them on the heap instead: peak memory is the same. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 512 * 1024 * 1024);
#endif
}

int cli_stats_requested(const cli_stats *s)
{
    return s->o.bootstrap > 0 || s->o.permutations > 0;
}

void cli_stats_check(const cli_stats *s)
{
    const int boot = s->o.bootstrap > 0, perm = s->o.permutations > 0;
    if ((s->given & CLI_STATS_GIVEN_FOR_EITHER) && !boot && !perm)
        cli_warning("--seed and --unit-rows change nothing without --bootstrap or --permutations");
    if ((s->given & CLI_STATS_GIVEN_FOR_BOOTSTRAP) && !boot)
        cli_warning("--ci, --ci-method and --buckets change nothing without --bootstrap (they shape its "
                    "intervals)");
    if ((s->given & CLI_STATS_GIVEN_FOR_PERMUTATIONS) && !perm)
        cli_warning("--segments changes nothing without --permutations");
    const unsigned w = simrep_stats_options_warnings(&s->o);
    for (unsigned f = 1; f && f <= w; f <<= 1)
        if (w & f) {
            char text[512];
            simrep_stats_warning_text(f, &s->o, text, sizeof text);
            cli_warning("%s", text);
        }
}

/* ------------------------------------------------------------ output */

static void pair(double lo, double hi)
{
    fputc('[', stdout);
    json_number(stdout, lo);
    fputs(", ", stdout);
    json_number(stdout, hi);
    fputc(']', stdout);
}

void cli_stats_json_measure(const simrep_stats_result *r, int have_stats)
{
    if (r->has_chance) {
        fputs(", \"chance\": ", stdout);
        json_number(stdout, r->chance);
    }
    if (!have_stats || !r->resampled)
        return;
    if (r->bootstrap > 0) {
        fputs(", \"ci\": ", stdout);
        pair(r->ci_low, r->ci_high);
        fputs(", \"se\": ", stdout);
        json_number(stdout, r->se);
        fputs(", \"bias\": ", stdout);
        json_number(stdout, r->boot_mean - r->similarity);
        printf(", \"bootstrap\": %lld, \"distance_ci\": ", (long long)r->bootstrap);
        pair(r->distance_ci_low, r->distance_ci_high);
        fputs(", \"distance_se\": ", stdout);
        json_number(stdout, r->distance_se);
    }
    if (r->permutations > 0) {
        fputs(", \"null\": {\"mean\": ", stdout);
        json_number(stdout, r->null_mean);
        fputs(", \"sd\": ", stdout);
        json_number(stdout, r->null_sd);
        fputs(", \"p\": ", stdout);
        json_number(stdout, r->p_value);
        printf(", \"permutations\": %lld}, \"adjusted\": ", (long long)r->permutations);
        json_number(stdout, r->adjusted);
    }
}

/* ", \"key\": [v_0, ..., v_{T-1}]": one double field (at offset off) of
 * every step's result. */
static void steps_list(const char *key, const simrep_stats_result *r, int64_t nsteps, int stride, size_t off)
{
    printf(", \"%s\": [", key);
    for (int64_t t = 0; t < nsteps; t++) {
        fputs(t ? ", " : "", stdout);
        json_number(stdout, *(const double *)((const char *)&r[t * stride] + off));
    }
    fputc(']', stdout);
}

void cli_stats_json_steps(const simrep_stats_result *r, int64_t nsteps, int stride, int have_stats)
{
    int chance = 1, boot = have_stats, perm = have_stats;
    for (int64_t t = 0; t < nsteps; t++) {
        const simrep_stats_result *rt = &r[t * stride];
        chance &= rt->has_chance;
        boot &= rt->resampled && rt->bootstrap > 0;
        perm &= rt->resampled && rt->permutations > 0;
    }
    if (chance)
        steps_list("per_step_chance", r, nsteps, stride, offsetof(simrep_stats_result, chance));
    if (boot) {
        fputs(", \"per_step_ci\": [", stdout);
        for (int64_t t = 0; t < nsteps; t++) {
            fputs(t ? ", " : "", stdout);
            pair(r[t * stride].ci_low, r[t * stride].ci_high);
        }
        fputc(']', stdout);
        steps_list("per_step_se", r, nsteps, stride, offsetof(simrep_stats_result, se));
    }
    if (perm) {
        fputs(", \"per_step_null\": [", stdout);
        for (int64_t t = 0; t < nsteps; t++) {
            const simrep_stats_result *rt = &r[t * stride];
            fputs(t ? ", {\"mean\": " : "{\"mean\": ", stdout);
            json_number(stdout, rt->null_mean);
            fputs(", \"sd\": ", stdout);
            json_number(stdout, rt->null_sd);
            fputs(", \"p\": ", stdout);
            json_number(stdout, rt->p_value);
            printf(", \"permutations\": %lld}", (long long)rt->permutations);
        }
        fputc(']', stdout);
        steps_list("per_step_adjusted", r, nsteps, stride, offsetof(simrep_stats_result, adjusted));
    }
}

void cli_stats_table_steps(const cli_stats *s, const simrep_stats_result *r, int64_t nsteps, int stride)
{
    int boot = 1, perm = 1;
    for (int64_t t = 0; t < nsteps; t++) {
        boot &= r[t * stride].resampled && r[t * stride].bootstrap > 0;
        perm &= r[t * stride].resampled && r[t * stride].permutations > 0;
    }
    if (boot && s->o.bootstrap > 0) {
        printf("  %g%% interval per step:", 100 * s->o.ci);
        for (int64_t t = 0; t < nsteps; t++)
            printf("%s[%.6f, %.6f]", t % 4 ? " " : "\n  ", r[t * stride].ci_low, r[t * stride].ci_high);
        fputc('\n', stdout);
    }
    if (perm && s->o.permutations > 0) {
        printf("  permutation p per step:");
        for (int64_t t = 0; t < nsteps; t++)
            printf("%s%.4g", t % 8 ? " " : "\n  ", r[t * stride].p_value);
        fputc('\n', stdout);
    }
}

void cli_stats_warnings(const simrep_stats_result *res, int count, int basic)
{
    char ids[256] = "";
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < count; i++) {
        const simrep_stats_result *r = &res[i];
        if (!r->resampled || r->bootstrap == 0 || basic ||
            (r->similarity >= r->ci_low && r->similarity <= r->ci_high))
            continue;
        const size_t len = strlen(ids);
        snprintf(ids + len, sizeof ids - len, "%s%s", len ? ", " : "", simrep_measure_get_info(r->measure)->id);
        const double shift = r->boot_mean - r->similarity;
        lo = shift < lo ? shift : lo;
        hi = shift > hi ? shift : hi;
    }
    if (!ids[0])
        return;
    char range[64];
    if (lo == hi)
        snprintf(range, sizeof range, "%+.4g", lo);
    else
        snprintf(range, sizeof range, "%+.4g to %+.4g", lo, hi);
    cli_warning("%s: the observed value lies outside the percentile bootstrap interval: resampling units with "
                "replacement shifts these measures by %s (duplicated units act like fewer samples); the "
                "interval's width is the uncertainty, and --ci-method basic corrects the shift to first order "
                "(docs/statistics.md)",
                ids, range);
}

void cli_stats_json_summary(const cli_stats *s, const simrep_stats_info *info)
{
    printf(", \"statistics\": {\"units\": %lld, \"unit_rows\": ", (long long)info->units);
    if (info->unit_rows > 0) /* units of different sizes (masked sequences): null, and their range */
        printf("%lld", (long long)info->unit_rows);
    else
        printf("null, \"unit_rows_range\": [%lld, %lld]", (long long)info->min_unit_rows,
               (long long)info->max_unit_rows);
    printf(", \"seed\": %llu, \"level\": ", (unsigned long long)s->o.seed);
    json_number(stdout, s->o.ci);
    printf(", \"ci_method\": \"%s\"", s->o.interval == SIMREP_INTERVAL_BASIC ? "basic" : "percentile");
    printf(", \"bootstrap\": %lld, \"buckets\": %lld, \"exact_bootstrap\": %s, \"permutations\": %lld, "
           "\"segments\": %lld, \"segment_units\": %lld}",
           (long long)s->o.bootstrap, (long long)info->buckets, info->exact_bootstrap ? "true" : "false",
           (long long)s->o.permutations, (long long)info->segments, (long long)info->segment_units);
}

const char *cli_stats_csv_header(void)
{
    return ",ci_low,ci_high,se,null_mean,null_sd,p,adjusted,chance";
}

static void csv_value(int have, double v)
{
    if (have)
        printf(",%.17g", v);
    else
        fputc(',', stdout);
}

void cli_stats_csv_row(const simrep_stats_result *r)
{
    const int b = r->resampled && r->bootstrap > 0, k = r->resampled && r->permutations > 0;
    csv_value(b, r->ci_low);
    csv_value(b, r->ci_high);
    csv_value(b, r->se);
    csv_value(k, r->null_mean);
    csv_value(k, r->null_sd);
    csv_value(k, r->p_value);
    csv_value(k, r->adjusted);
    csv_value(r->has_chance, r->chance);
}

static void cell(int have, const char *fmt, double v)
{
    if (have)
        printf(fmt, v);
    else
        printf(" %*s", (int)strtol(fmt + 2, NULL, 10), "-"); /* fmt is " %W.Pf" */
}

void cli_stats_table(const cli_stats *s, const simrep_stats_info *info, const simrep_stats_result *res, int count)
{
    if (info->unit_rows > 0)
        printf("\nuncertainty: units of %lld row%s (%lld units)", (long long)info->unit_rows,
               info->unit_rows == 1 ? "" : "s", (long long)info->units);
    else
        printf("\nuncertainty: units of %lld to %lld rows (%lld units)", (long long)info->min_unit_rows,
               (long long)info->max_unit_rows, (long long)info->units);
    if (s->o.bootstrap > 0)
        printf("; bootstrap %lld resamples%s", (long long)s->o.bootstrap,
               info->exact_bootstrap ? "" : " of random groups");
    if (info->buckets > 0 && !info->exact_bootstrap)
        printf(" (%lld buckets)", (long long)info->buckets);
    if (s->o.permutations > 0 && info->segments > 0)
        printf("; %lld permutations of %lld segments", (long long)s->o.permutations, (long long)info->segments);
    else if (s->o.permutations > 0) /* the rows measures alone: units re-paired, no segments */
        printf("; %lld permutations", (long long)s->o.permutations);
    printf("; seed %llu\n", (unsigned long long)s->o.seed);
    char rows[256] = "";
    int bandwidth = 0; /* a resampled kernel with a bandwidth (cka_rbf's --rbf-sigma) */
    for (int i = 0; i < count; i++)
        if (res[i].resampled && simrep_measure_get_info(res[i].measure)->family == SIMREP_FAMILY_ROWS) {
            const size_t len = strlen(rows);
            snprintf(rows + len, sizeof rows - len, "%s%s", len ? ", " : "", simrep_measure_get_info(res[i].measure)->id);
            bandwidth |= s->o.bootstrap > 0 &&
                         (simrep_measure_get_info(res[i].measure)->options & (1u << SIMREP_OPT_RBF_SIGMA));
        }
    if (rows[0])
        printf("%s: every unit resampled (a unit's copies not paired with each other%s) and re-paired, one evaluation "
               "each\n", rows, bandwidth ? "; an RBF kernel's are, at the observed data's bandwidth: sigma x its "
                                            "median distance, not re-estimated per resample" : "");
    char level[32];
    snprintf(level, sizeof level, "%g%% interval", 100 * s->o.ci);
    printf("%-20s %23s %9s %10s %9s %9s %9s %9s\n", "measure", level, "se", "null mean", "null sd", "p", "adjusted",
           "chance");
    for (int i = 0; i < count; i++) {
        const simrep_stats_result *r = &res[i];
        printf("%-20s ", simrep_measure_get_info(r->measure)->id);
        if (!r->resampled) {
            printf("%23s\n", "(not resampled)");
            continue;
        }
        const int b = r->bootstrap > 0, k = r->permutations > 0;
        if (b)
            printf("   [%9.6f, %9.6f]", r->ci_low, r->ci_high);
        else
            printf("%23s", "-");
        cell(b, " %9.6f", r->se);
        cell(k, " %10.6f", r->null_mean);
        cell(k, " %9.6f", r->null_sd);
        cell(k, " %9.4g", r->p_value);
        cell(k, " %9.6f", r->adjusted);
        cell(r->has_chance, " %9.6f", r->chance);
        fputc('\n', stdout);
    }
}
