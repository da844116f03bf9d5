/*
 * options.c: the command-line options that `simrep compare` and `simrep
 * matrix` share, parsed in one place so both spell, check and explain them
 * the same way: the measure list (-m), the measure options (--epsilon,
 * --svcca-keep/-dims/-rule, --rbf-sigma, --pwcca-variant) and the input
 * layout options (--conv, --conv-mode, --resize, --sequence, --mask).  Each parser
 * answers CLI_OPT_NOT_MINE for a name it does not know, so a command tries
 * them in turn before its own options.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    int known = 0;
    for (int k = 0; valued[k]; k++)
        known |= strcmp(name, valued[k]) == 0;
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
    static const simrep_measure defaults[] = {SIMREP_CCA, SIMREP_SVCCA, SIMREP_PWCCA, SIMREP_CKA};
    memcpy(ids, defaults, sizeof defaults);
    *count = (int)(sizeof defaults / sizeof defaults[0]);
}

int cli_parse_measures(const char *s, int allow_maps, cli_measures *out)
{
    out->count = 0;
    out->all = 0;
    if (strcmp(s, "all") == 0) {
        /* Measures on conv maps (dftcca) join 'all' only where the caller
         * knows the inputs are conv maps. */
        for (int m = 0; m < SIMREP_MEASURE_COUNT; m++)
            if (!simrep_measure_get_info((simrep_measure)m)->needs_maps)
                out->ids[out->count++] = (simrep_measure)m;
        out->all = 1;
        return 0;
    }
    char buf[512];
    if (strlen(s) >= sizeof buf)
        return cli_error(EXIT_USAGE, "-m: list too long");
    strcpy(buf, s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int m = simrep_measure_from_id(tok);
        if (m < 0)
            return cli_error(EXIT_USAGE,
                             "unknown measure '%s' (ids: cca, cca_r2, svcca, pwcca, cka, cka_debiased, cka_rbf, "
                             "procrustes, procrustes_angular%s, or all)",
                             tok, allow_maps ? ", dftcca" : "");
        if (!allow_maps && simrep_measure_get_info((simrep_measure)m)->needs_maps)
            /* DFT-CCA keeps a (p + q)^2 complex scatter per spatial
             * frequency for each pair, fed from the pair's raw maps: nothing
             * is shared between pairs, so a matrix would be K(K-1)/2
             * separate compares. */
            return cli_error(EXIT_USAGE, "%s is not available in simrep matrix (it shares no work between pairs); "
                             "run simrep compare on the pairs you need", tok);
        int dup = 0;
        for (int i = 0; i < out->count; i++)
            dup |= out->ids[i] == (simrep_measure)m;
        if (!dup)
            out->ids[out->count++] = (simrep_measure)m;
    }
    if (out->count == 0)
        return cli_error(EXIT_USAGE, "-m: no measure given");
    return 0;
}

int cli_measure_option(const char *name, const char *val, simrep_options *opt, cli_seen *seen)
{
    int rc = 0;
    double v = 0;
    if (strcmp(name, "--epsilon") == 0) {
        rc = cli_parse_number(name, val, &opt->epsilon);
        if (!rc && opt->epsilon < 0)
            rc = cli_error(EXIT_USAGE, "--epsilon must be >= 0 (got %s)", val);
    } else if (strcmp(name, "--svcca-keep") == 0) {
        rc = cli_parse_number(name, val, &opt->svcca_keep);
        if (!rc && !(opt->svcca_keep > 0 && opt->svcca_keep <= 1))
            rc = cli_error(EXIT_USAGE, "--svcca-keep is a fraction in (0, 1] (got %s)", val);
        seen->svcca_keep = 1;
    } else if (strcmp(name, "--svcca-dims") == 0) {
        rc = cli_parse_number(name, val, &v);
        if (!rc && !(v >= 1 && v == floor(v) && v < 1e15))
            rc = cli_error(EXIT_USAGE, "--svcca-dims takes a whole number >= 1 (got %s)", val);
        opt->svcca_dims = (int64_t)v;
        seen->svcca_dims = 1;
    } else if (strcmp(name, "--svcca-rule") == 0) {
        if (strcmp(val, "variance") == 0)
            opt->svcca_rule = SIMREP_SVCCA_VARIANCE;
        else if (strcmp(val, "singular-values") == 0)
            opt->svcca_rule = SIMREP_SVCCA_SINGULAR_VALUES;
        else
            rc = cli_error(EXIT_USAGE, "--svcca-rule is variance or singular-values (got '%s')", val);
    } else if (strcmp(name, "--rbf-sigma") == 0) {
        rc = cli_parse_number(name, val, &opt->rbf_sigma);
        if (!rc && !(opt->rbf_sigma > 0))
            rc = cli_error(EXIT_USAGE, "--rbf-sigma must be > 0 (got %s)", val);
    } else if (strcmp(name, "--pwcca-variant") == 0) {
        if (strcmp(val, "google") == 0)
            opt->pwcca_variant = SIMREP_PWCCA_GOOGLE;
        else if (strcmp(val, "ding") == 0)
            opt->pwcca_variant = SIMREP_PWCCA_DING;
        else
            rc = cli_error(EXIT_USAGE, "--pwcca-variant is google or ding (got '%s')", val);
    } else {
        return CLI_OPT_NOT_MINE;
    }
    if (!rc && seen->svcca_keep && seen->svcca_dims)
        rc = cli_error(EXIT_USAGE, "--svcca-keep and --svcca-dims are alternatives; give one");
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
