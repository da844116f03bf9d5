/*
 * options.c: the command-line options that `simrep compare` and `simrep
 * matrix` share, parsed in one place so both spell, check and explain them
 * the same way: the measure list (-m), the measure options and the input
 * layout options (--conv, --conv-mode, --resize, --sequence, --mask).  Measures and
 * their options are the library's registry's (simrep_measure_get_info,
 * simrep_option_get_info): the ids, the option flags (--NAME with '_' as
 * '-'), their help lines, valid values and messages all come from it, so
 * a new measure or option needs nothing here.  Each parser answers
 * CLI_OPT_NOT_MINE for a name it does not know, so a command tries them in
 * turn before its own options.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_parse_number(const char *opt, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return cli_error(EXIT_USAGE, "%s takes a number, not '%s'", opt, s);
    *out = v;
    return 0;
}

/* "1073741824", "512M", "4G", "4GiB", "1.5g": binary multiples. */
int cli_parse_size(const char *opt, const char *s, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v <= 0)
        return cli_error(EXIT_USAGE, "%s takes a size such as 512M or 4G, not '%s'", opt, s);
    double mult = 1;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': mult = 1024.0; break;
        case 'm': case 'M': mult = 1024.0 * 1024; break;
        case 'g': case 'G': mult = 1024.0 * 1024 * 1024; break;
        case 't': case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
        case 'b': case 'B': break;
        default: return cli_error(EXIT_USAGE, "%s takes a size such as 512M or 4G, not '%s'", opt, s);
        }
        const char *rest = end + 1;
        if (*end != 'b' && *end != 'B' && (strcmp(rest, "iB") == 0 || strcmp(rest, "B") == 0 || strcmp(rest, "b") == 0))
            rest += strlen(rest);
        if (*rest)
            return cli_error(EXIT_USAGE, "%s takes a size such as 512M or 4G, not '%s'", opt, s);
    }
    *out = v * mult;
    return 0;
}

int cli_split_option(int argc, char **argv, int *i, const char *const *valued, const char *command, char *name,
                     size_t cap, const char **val)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    *val = NULL;
    if (eq && arg[1] == '-') {
        size_t len = (size_t)(eq - arg) < cap - 1 ? (size_t)(eq - arg) : cap - 1;
        memcpy(name, arg, len);
        name[len] = 0;
        *val = eq + 1;
    } else {
        snprintf(name, cap, "%s", arg);
    }
    int known = cli_is_measure_option(name);
    for (int k = 0; valued[k]; k++)
        known |= strcmp(name, valued[k]) == 0;
    if (!known && access(arg, F_OK) == 0)
        return cli_error(EXIT_USAGE, "unknown option '%s' (for the file of that name, put -- before it: '--' ends "
                         "the options)", arg);
    if (!known)
        return cli_error(EXIT_USAGE, "unknown option '%s' (see simrep %s --help)", arg, command);
    if (!*val) {
        if (*i + 1 >= argc)
            return cli_error(EXIT_USAGE, "%s needs a value", name);
        *val = argv[++*i];
    }
    return -1;
}

void cli_default_measures(simrep_measure *ids, int *count)
{
    *count = simrep_default_measures(ids, SIMREP_MEASURE_COUNT);
}

/* "--svcca-keep" from "svcca_keep". */
static void flag_of(const char *name, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "--%s", name);
    for (size_t i = 2; i < k && i < cap; i++)
        if (buf[i] == '_')
            buf[i] = '-';
}

/* The default list as "cca,svcca,pwcca,cka". */
static void default_list(char *buf, size_t cap)
{
    simrep_measure ids[SIMREP_MEASURE_COUNT];
    int n = simrep_default_measures(ids, SIMREP_MEASURE_COUNT);
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? "," : "", simrep_measure_get_info(ids[i])->id);
}

void cli_help_measures(FILE *f, int allow_maps)
{
    char defaults[256];
    default_list(defaults, sizeof defaults);
    fprintf(f, "  -m, --measures IDS       comma-separated measure ids, or 'all' (default: %s);\n", defaults);
    fputs("                           'all': every measure linear in n; 'all+kernel': the O(n^2) ones too\n", f);
    int col = fprintf(f, "                           ids:");
    for (int m = 0; m < SIMREP_MEASURE_COUNT; m++) {
        const simrep_measure_info *in = simrep_measure_get_info((simrep_measure)m);
        if (in->family == SIMREP_FAMILY_MAPS)
            continue;
        if (col + 1 + (int)strlen(in->id) > 110)
            col = fprintf(f, "\n                               ");
        col += fprintf(f, " %s", in->id);
    }
    fputc('\n', f);
    for (int m = 0; allow_maps && m < SIMREP_MEASURE_COUNT; m++) {
        const simrep_measure_info *in = simrep_measure_get_info((simrep_measure)m);
        if (in->family == SIMREP_FAMILY_MAPS)
            fprintf(f, "                           %s (conv maps only; part of 'all' with --conv)\n", in->id);
    }
    fputs("                           (`simrep measures` says what each computes and which options it reads)\n", f);
    for (int o = 0; o < SIMREP_OPTION_COUNT; o++) {
        const simrep_option_info *in = simrep_option_get_info((simrep_option_id)o);
        char flag[64], left[96];
        flag_of(in->name, flag, sizeof flag);
        snprintf(left, sizeof left, "%s %s", flag, in->metavar);
        fprintf(f, "  %-24s %s\n", left, in->help);
    }
}

int cli_is_measure_option(const char *name)
{
    return name[0] == '-' && name[1] == '-' && simrep_option_from_name(name) >= 0;
}

int cli_parse_measures(const char *s, int allow_maps, cli_measures *out)
{
    out->count = 0;
    out->all = 0;
    char buf[512];
    if (strlen(s) >= sizeof buf)
        return cli_error(EXIT_USAGE, "-m: list too long");
    strcpy(buf, s);
    /* Each id once, in the order first given; 'all' may be one of the
     * items ("all,cca" is all). */
    int seen[SIMREP_MEASURE_COUNT] = {0};
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "all") == 0 || strcmp(tok, "all+kernel") == 0) {
            /* The library's list: the measures linear in n, or all of them
             * (+kernel: the O(n^2) measures of the rows too).  Measures on
             * conv maps (dftcca) join 'all' only where the caller knows
             * the inputs are conv maps (compare --conv). */
            simrep_measure ids[SIMREP_MEASURE_COUNT];
            const int n = simrep_all_measures(ids, SIMREP_MEASURE_COUNT, tok[3] ? SIMREP_ALL_QUADRATIC : 0);
            for (int k = 0; k < n; k++)
                if (!seen[ids[k]]) {
                    seen[ids[k]] = 1;
                    out->ids[out->count++] = ids[k];
                }
            out->all = 1;
            continue;
        }
        int m = simrep_measure_from_id(tok);
        if (m < 0) {
            char ids[1024];
            size_t len = 0;
            for (int k = 0; k < SIMREP_MEASURE_COUNT && len < sizeof ids; k++) {
                const simrep_measure_info *in = simrep_measure_get_info((simrep_measure)k);
                if (allow_maps || in->family != SIMREP_FAMILY_MAPS)
                    len += (size_t)snprintf(ids + len, sizeof ids - len, "%s, ", in->id);
            }
            return cli_error(EXIT_USAGE, "unknown measure '%s' (ids: %sall or all+kernel)", tok, ids);
        }
        if (!allow_maps && simrep_measure_get_info((simrep_measure)m)->family == SIMREP_FAMILY_MAPS)
            /* A conv-maps measure (DFT-CCA) keeps a (p + q)^2 complex
             * scatter per spatial frequency for each pair, fed from the
             * pair's raw maps: nothing is shared between pairs, so a matrix
             * would be K(K-1)/2 separate compares. */
            return cli_error(EXIT_USAGE, "%s is not available in simrep matrix (it shares no work between pairs); "
                             "run simrep compare on the pairs you need", tok);
        if (!seen[m]) {
            seen[m] = 1;
            out->ids[out->count++] = (simrep_measure)m;
        }
    }
    if (out->count == 0)
        return cli_error(EXIT_USAGE, "-m: no measure given");
    return 0;
}

int cli_measure_option(const char *name, const char *val, simrep_options *opt, cli_seen *seen)
{
    if (!cli_is_measure_option(name))
        return CLI_OPT_NOT_MINE;
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    if (!ctx)
        return cli_error(EXIT_DATA, "out of memory");
    int rc = 0;
    if (simrep_options_set(ctx, opt, name, val) != SIMREP_OK)
        rc = cli_error(EXIT_USAGE, "%s", simrep_ctx_message(ctx));
    simrep_ctx_free(ctx);
    const int id = simrep_option_from_name(name);
    seen->options |= 1u << id;
    const char *ex = simrep_option_get_info((simrep_option_id)id)->excludes;
    if (!rc && ex && (seen->options & (1u << simrep_option_from_name(ex)))) {
        char other[64];
        flag_of(ex, other, sizeof other);
        rc = cli_error(EXIT_USAGE, "%s and %s are alternatives; give one", other, name);
    }
    return rc;
}

int cli_layout_option(const char *name, const char *val, int allow_per_step, simrep_layout *layout, cli_seen *seen)
{
    int rc = 0;
    if (strcmp(name, "--conv") == 0) {
        if (strcmp(val, "nhwc") == 0)
            layout->conv = SIMREP_CONV_NHWC;
        else if (strcmp(val, "nchw") == 0)
            layout->conv = SIMREP_CONV_NCHW;
        else
            rc = cli_error(EXIT_USAGE, "--conv is nhwc (N, H, W, C) or nchw (N, C, H, W) (got '%s')", val);
    } else if (strcmp(name, "--conv-mode") == 0) {
        seen->conv_options = 1;
        if (strcmp(val, "positions") == 0)
            layout->conv_mode = SIMREP_CONV_POSITIONS;
        else if (strcmp(val, "pool") == 0)
            layout->conv_mode = SIMREP_CONV_POOL;
        else if (strcmp(val, "flatten") == 0)
            layout->conv_mode = SIMREP_CONV_FLATTEN;
        else
            rc = cli_error(EXIT_USAGE, "--conv-mode is positions, pool or flatten (got '%s')", val);
    } else if (strcmp(name, "--resize") == 0) {
        seen->conv_options = 1;
        if (strcmp(val, "interp") == 0)
            layout->resize = SIMREP_RESIZE_INTERP;
        else if (strcmp(val, "pool-to") == 0)
            layout->resize = SIMREP_RESIZE_POOL_TO;
        else if (strcmp(val, "dft") == 0)
            layout->resize = SIMREP_RESIZE_DFT;
        else
            rc = cli_error(EXIT_USAGE, "--resize is interp, pool-to or dft (got '%s')", val);
    } else if (strcmp(name, "--sequence") == 0) {
        if (strcmp(val, "flatten") == 0)
            layout->sequence = SIMREP_SEQUENCE_FLATTEN;
        else if (strcmp(val, "first") == 0)
            layout->sequence = SIMREP_SEQUENCE_FIRST;
        else if (strcmp(val, "last") == 0)
            layout->sequence = SIMREP_SEQUENCE_LAST;
        else if (strcmp(val, "mean") == 0)
            layout->sequence = SIMREP_SEQUENCE_MEAN;
        else if (strcmp(val, "per-step") == 0 && allow_per_step)
            layout->sequence = SIMREP_SEQUENCE_PER_STEP;
        else if (strcmp(val, "per-step") == 0)
            rc = cli_error(EXIT_USAGE, "--sequence per-step gives one value per time step, which a matrix does "
                           "not hold; use flatten, first, last or mean (or simrep compare for per-step curves)");
        else
            rc = cli_error(EXIT_USAGE, "--sequence is flatten, %sfirst, last or mean (got '%s')",
                           allow_per_step ? "per-step, " : "", val);
    } else if (strcmp(name, "--mask") == 0) {
        /* Read once here (N x T bytes) and shared by every input opened
         * with the layout; cli_layout_free releases it. */
        if (layout->mask)
            return cli_error(EXIT_USAGE, "--mask given twice");
        simrep_ctx *ctx = simrep_ctx_new(NULL);
        simrep_mask *mask = NULL;
        simrep_status st = ctx ? simrep_mask_open(ctx, val, &mask) : SIMREP_E_NOMEM;
        rc = st == SIMREP_OK ? 0 : ctx ? cli_library_error(ctx, st, NULL, NULL) : cli_error(EXIT_DATA, "out of memory");
        layout->mask = mask;
        seen->mask = 1;
        simrep_ctx_free(ctx);
    } else {
        return CLI_OPT_NOT_MINE;
    }
    return rc;
}

int cli_check_layout(const simrep_layout *layout, const cli_seen *seen)
{
    if (seen->conv_options && layout->conv == SIMREP_CONV_NONE)
        return cli_error(EXIT_USAGE, "--conv-mode and --resize apply to conv maps: add --conv nhwc or --conv nchw");
    if (seen->mask && layout->sequence == SIMREP_SEQUENCE_NONE)
        return cli_error(EXIT_USAGE, "--mask says which steps of (N, T, D) sequences are tokens: add --sequence "
                         "flatten (every token a sample), first, last or mean");
    return -1;
}

void cli_layout_free(simrep_layout *layout)
{
    if (!layout->mask)
        return;
    simrep_ctx *ctx = simrep_ctx_new(NULL); /* the default allocator, which made the mask */
    if (ctx)
        simrep_mask_free(ctx, (simrep_mask *)layout->mask);
    simrep_ctx_free(ctx);
    layout->mask = NULL;
}
