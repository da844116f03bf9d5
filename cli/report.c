/*
 * report.c: how a measure's result is reported, for every command that
 * prints one (compare's JSON, table and CSV; matrix's warnings): which
 * fields beyond similarity and distance a measure fills, under which JSON
 * keys, which options its entry echoes, the table's notes and the warning
 * lines.  All of it is read from the library's registry (the measure's
 * outputs and options bits, the option table's JSON keys, the warning
 * texts), so no measure is named here and a new measure is reported
 * without touching this file.  The Python package mirrors the same rules
 * from the same registry (python/simrep/_core.py).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

/* An option's value as the JSON echo and the table show it. */
static void option_text(const simrep_options *opt, simrep_option_id o, char *buf, size_t cap)
{
    const simrep_option_info *in = simrep_option_get_info(o);
    const double v = simrep_options_get(opt, o);
    if (in->kind == SIMREP_OPTION_CHOICE)
        simrep_option_choice_name(o, (int)v, buf, cap);
    else
        snprintf(buf, cap, "%g", v);
}

static void json_array(FILE *f, const char *key, const double *v, int64_t n)
{
    fprintf(f, ", \"%s\": [", key);
    for (int64_t i = 0; i < n; i++) {
        if (i)
            fputs(", ", f);
        json_number(f, v[i]);
    }
    fputc(']', f);
}

void report_json_fields(FILE *f, const simrep_result *r, const simrep_options *opt, int coefs)
{
    const simrep_measure_info *in = simrep_measure_get_info(r->measure);
    const unsigned out = in->outputs;
    if (out & SIMREP_OUT_KEPT)
        fprintf(f, ", \"%s\": [%lld, %lld]", simrep_output_key(SIMREP_OUT_KEPT), (long long)r->kept_p,
                (long long)r->kept_q);
    if (out & SIMREP_OUT_RANK)
        fprintf(f, ", \"%s\": [%lld, %lld]", simrep_output_key(SIMREP_OUT_RANK), (long long)r->rank_p,
                (long long)r->rank_q);
    if (out & SIMREP_OUT_DIMS)
        fprintf(f, ", \"%s\": [%lld, %lld]", simrep_output_key(SIMREP_OUT_DIMS), (long long)r->dims_p,
                (long long)r->dims_q);
    if (out & SIMREP_OUT_REFERENCE_MEAN) {
        fprintf(f, ", \"%s\": ", simrep_output_key(SIMREP_OUT_REFERENCE_MEAN));
        json_number(f, r->reference_mean);
    }
    if (out & SIMREP_OUT_REVERSE) {
        fprintf(f, ", \"%s\": ", simrep_output_key(SIMREP_OUT_REVERSE));
        json_number(f, r->reverse);
    }
    for (int o = 0; o < SIMREP_OPTION_COUNT; o++) {
        const simrep_option_info *oi = simrep_option_get_info((simrep_option_id)o);
        if (!(in->options & (1u << o)) || !oi->json_key)
            continue;
        fprintf(f, ", \"%s\": ", oi->json_key);
        if (oi->kind == SIMREP_OPTION_CHOICE) {
            char v[64];
            option_text(opt, (simrep_option_id)o, v, sizeof v);
            json_string(f, v);
        } else {
            json_number(f, simrep_options_get(opt, (simrep_option_id)o));
        }
    }
    if (coefs && r->coefs) {
        json_array(f, simrep_output_key(SIMREP_OUT_COEFS), r->coefs, r->ncoefs);
        if (r->weights)
            json_array(f, simrep_output_key(SIMREP_OUT_WEIGHTS), r->weights, r->ncoefs);
    }
}

void report_notes(const simrep_result *r, const simrep_options *opt, char *buf, size_t cap)
{
    const simrep_measure_info *in = simrep_measure_get_info(r->measure);
    size_t len = 0;
    buf[0] = 0;
    if (in->outputs & SIMREP_OUT_DIMS)
        len += (size_t)snprintf(buf + len, cap - len, "%lld + %lld directions", (long long)r->dims_p,
                                (long long)r->dims_q);
    for (int o = 0; o < SIMREP_OPTION_COUNT && len < cap; o++) {
        const simrep_option_info *oi = simrep_option_get_info((simrep_option_id)o);
        if (!(in->options & (1u << o)) || !oi->json_key)
            continue;
        char v[64];
        option_text(opt, (simrep_option_id)o, v, sizeof v);
        len += (size_t)snprintf(buf + len, cap - len, "%s%s %s", len ? "; " : "", oi->json_key, v);
    }
    if (len < cap && (in->outputs & SIMREP_OUT_REVERSE))
        len += (size_t)snprintf(buf + len, cap - len, "%sreverse %.6f", len ? "; " : "", r->reverse);
    if (len == 0 && (in->outputs & SIMREP_OUT_COEFS) && r->ncoefs > 0)
        snprintf(buf, cap, "%lld coefficients", (long long)r->ncoefs);
}

const simrep_result *report_kept_result(const simrep_result *res, int count)
{
    for (int i = 0; i < count; i++)
        if (simrep_measure_get_info(res[i].measure)->outputs & SIMREP_OUT_KEPT)
            return &res[i];
    return NULL;
}

int report_warnings(const simrep_result *res, int count, int64_t n, const char *x_name, const char *y_name,
                    int64_t p, int64_t q, char warn[][REPORT_WARNING_MAX], int cap)
{
    int nw = 0;
    unsigned seen = 0;
    for (int i = 0; i < count; i++)
        seen |= res[i].warnings;
    if ((seen & SIMREP_WARN_LAYOUT) && nw < cap)
        snprintf(warn[nw++], REPORT_WARNING_MAX, "%s and %s: %lld samples of %lld features each: %s", x_name,
                 y_name, (long long)n, (long long)p, simrep_warning_text(SIMREP_WARN_LAYOUT));
    const simrep_result *k = report_kept_result(res, count);
    if (!k)
        return nw;
    if ((seen & SIMREP_WARN_MIXED_PRECISION) && nw < cap)
        snprintf(warn[nw++], REPORT_WARNING_MAX, "%s", simrep_warning_text(SIMREP_WARN_MIXED_PRECISION));
    if ((seen & SIMREP_WARN_FEW_SAMPLES) && nw < cap)
        snprintf(warn[nw++], REPORT_WARNING_MAX, "n = %lld samples (%lld kept features) %s", (long long)n,
                 (long long)(k->kept_p > k->kept_q ? k->kept_p : k->kept_q),
                 simrep_warning_text(seen & SIMREP_WARN_FEW_SAMPLES_RANK ? SIMREP_WARN_FEW_SAMPLES_RANK
                                                                         : SIMREP_WARN_FEW_SAMPLES));
    if ((seen & SIMREP_WARN_DEAD_X) && nw < cap)
        snprintf(warn[nw++], REPORT_WARNING_MAX, "%s: %lld of %lld %s", x_name, (long long)(p - k->kept_p),
                 (long long)p, simrep_warning_text(SIMREP_WARN_DEAD_X));
    if ((seen & SIMREP_WARN_DEAD_Y) && nw < cap)
        snprintf(warn[nw++], REPORT_WARNING_MAX, "%s: %lld of %lld %s", y_name, (long long)(q - k->kept_q),
                 (long long)q, simrep_warning_text(SIMREP_WARN_DEAD_Y));
    const struct {
        unsigned flag;
        const char *name;
        int64_t count, of;
    } sides[4] = {{SIMREP_WARN_ROUNDING_X, x_name, k->kept_p - k->rank_p, k->kept_p},
                  {SIMREP_WARN_ROUNDING_Y, y_name, k->kept_q - k->rank_q, k->kept_q},
                  {SIMREP_WARN_RIDGE_X, x_name, k->shrunk_p, k->kept_p},
                  {SIMREP_WARN_RIDGE_Y, y_name, k->shrunk_q, k->kept_q}};
    for (int s = 0; s < 4; s++)
        if ((seen & sides[s].flag) && nw < cap) {
            snprintf(warn[nw], REPORT_WARNING_MAX, "%s: %lld of %lld %s", sides[s].name, (long long)sides[s].count,
                     (long long)sides[s].of, simrep_warning_text(sides[s].flag));
            nw += !(s % 2 == 1 && nw > 0 && strcmp(warn[nw], warn[nw - 1]) == 0); /* x and y the same file */
        }
    return nw;
}

int report_coefs_shown_before(const simrep_result *res, int i)
{
    for (int j = 0; j < i; j++)
        if (res[j].coefs && res[j].ncoefs == res[i].ncoefs &&
            memcmp(res[j].coefs, res[i].coefs, (size_t)res[i].ncoefs * sizeof(double)) == 0)
            return 1;
    return 0;
}

int report_measure_error(const char *x_spec, const char *y_spec, const char *id, int side, const char *detail)
{
    /* The measure's id in front, unless the library's detail starts with it. */
    const size_t len = strlen(id);
    const int named = strncmp(detail, id, len) == 0 && (detail[len] == ':' || detail[len] == ' ');
    if (side == 0 || side == 1)
        return cli_error(EXIT_DATA, "%s: %s%s%s", side ? y_spec : x_spec, named ? "" : id, named ? "" : ": ", detail);
    return cli_error(EXIT_DATA, "%s and %s: %s%s%s", x_spec, y_spec, named ? "" : id, named ? "" : ": ", detail);
}
