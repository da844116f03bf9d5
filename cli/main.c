/*
 * main.c: the `simrep` command: dispatch to the subcommands (compare,
 * matrix, info, measures), the top-level help, and the two small subcommands that
 * only describe things (info: what a file holds, as a table or JSON; measures: what each
 * measure is).  compare lives in compare.c, matrix in matrix*.c.
 */
#include "cli.h"
#include "matrix.h"
#include "validate.h"
#include "parallel.h"

#include <math.h>
#include <string.h>

static const char *usage_text =
    "usage: simrep <command> [options]\n"
    "\n"
    "Measure how similar two neural-network representations are.\n"
    "\n"
    "commands:\n"
    "  compare X Y [options]  similarity of two activation matrices (see simrep compare --help)\n"
    "  matrix --manifest M.csv  every pair of many inputs (networks, layers, checkpoints) as matrices\n"
    "                         and figures (see simrep matrix --help)\n"
    "  validate --manifest M.csv --score COLUMN  which measure's distances track a functional score\n"
    "                         (Ding et al. 2021 rank tests; see simrep validate --help)\n"
    "  info FILE [--format json]  the arrays in a .npy/.npz/.safetensors file: names, shapes, dtypes, layout\n"
    "  measures [--format json]  every measure: what it is, range, direction, invariances, reference\n"
    "\n"
    "X and Y are path.npy, path.npz:key or path.safetensors:name, n samples x p features.\n"
    "Exit status: 0 success, 1 bad data or files, 2 usage errors.\n";

static int cmd_help(FILE *f)
{
    fputs(usage_text, f);
    return 0;
}

/* A JSON list of the names of the set bits of a registry bitmask. */
static void json_bits(const char *key, unsigned bits, int count, const char *(*name)(unsigned))
{
    printf(", \"%s\": [", key);
    for (int b = 0, first = 1; b < count; b++)
        if (bits & (1u << b)) {
            fputs(first ? "" : ", ", stdout);
            json_string(stdout, name(1u << b));
            first = 0;
        }
    fputc(']', stdout);
}

static const char *option_name(unsigned bit)
{
    for (int o = 0; o < SIMREP_OPTION_COUNT; o++)
        if (bit == 1u << o)
            return simrep_option_get_info((simrep_option_id)o)->name;
    return "";
}

/* A range bound as JSON (null when unbounded) or text. */
static void bound_json(double v)
{
    if (isinf(v))
        fputs("null", stdout);
    else
        json_number(stdout, v);
}

/* Whether -m all includes it (the library's rule, simrep_all_measures). */
static int in_all(const simrep_measure_info *in)
{
    simrep_measure ids[SIMREP_MEASURE_COUNT];
    const int n = simrep_all_measures(ids, SIMREP_MEASURE_COUNT, 0);
    for (int k = 0; k < n; k++)
        if (simrep_measure_get_info(ids[k]) == in)
            return 1;
    return 0;
}

static void measure_json(const simrep_measure_info *in, int first)
{
    printf("%s\n  {\"id\": ", first ? "" : ",");
    json_string(stdout, in->id);
    fputs(", \"title\": ", stdout);
    json_string(stdout, in->title);
    fputs(", \"similarity\": ", stdout);
    json_string(stdout, in->similarity);
    fputs(", \"distance\": ", stdout);
    json_string(stdout, in->distance);
    printf(", \"higher_is_more_similar\": %s, \"invariances\": ", in->higher_is_more_similar ? "true" : "false");
    json_string(stdout, in->invariances);
    fputs(", \"reference\": ", stdout);
    json_string(stdout, in->reference);
    printf(", \"needs_rows\": %s, \"family\": ", in->needs_rows ? "true" : "false");
    json_string(stdout, simrep_family_id(in->family));
    fputs(", \"computed_from\": ", stdout);
    json_string(stdout, simrep_family_name(in->family));
    json_bits("options", in->options, SIMREP_OPTION_COUNT, option_name);
    json_bits("outputs", in->outputs, SIMREP_OUT_COUNT, simrep_output_key);
    fputs(", \"similarity_range\": [", stdout);
    bound_json(in->similarity_min);
    fputs(", ", stdout);
    bound_json(in->similarity_max);
    fputs("], \"distance_range\": [", stdout);
    bound_json(in->distance_min);
    fputs(", ", stdout);
    bound_json(in->distance_max);
    fputc(']', stdout);
    json_bits("invariant_to", in->invariant, SIMREP_INV_COUNT, simrep_invariance_name);
    printf(", \"metric\": %s, \"paper\": ", in->metric ? "true" : "false");
    json_string(stdout, in->paper);
    printf(", \"time_in_n\": %d, \"in_all\": %s, \"statistics\": [%s%s%s]}", in->time_in_n,
           in_all(in) ? "true" : "false", in->statistics & SIMREP_STATS_BOOTSTRAP ? "\"bootstrap\"" : "",
           in->statistics == (SIMREP_STATS_BOOTSTRAP | SIMREP_STATS_PERMUTATIONS) ? ", " : "",
           in->statistics & SIMREP_STATS_PERMUTATIONS ? "\"permutations\"" : "");
}

static void measure_text(const simrep_measure_info *in)
{
    printf("%s\n  %s\n", in->id, in->title);
    printf("    similarity:  %s (%s means more similar)\n", in->similarity,
           in->higher_is_more_similar ? "higher" : "lower");
    printf("    distance:    %s%s\n", in->distance, in->metric && !strstr(in->distance, "metric") ? "; a metric" : "");
    printf("    invariant to: %s\n", in->invariances);
    printf("    paper:       %s\n", in->paper);
    printf("    reference:   %s\n", in->reference);
    printf("    computed from: %s\n", simrep_family_name(in->family));
    printf("    statistics:  %s\n", in->statistics == (SIMREP_STATS_BOOTSTRAP | SIMREP_STATS_PERMUTATIONS)
                                        ? "--bootstrap intervals and --permutations nulls"
                                    : in->statistics & SIMREP_STATS_PERMUTATIONS ? "--permutations nulls (no bootstrap)"
                                                                                 : "none (not resampled)");
    printf("    time:        O(%s) in the samples n%s\n", in->time_in_n > 1 ? "n^2" : "n",
           in_all(in) ? "" : in->family == SIMREP_FAMILY_MAPS ? " (in -m all with --conv)" : " (not in -m all: all+kernel)");
    if (in->options) {
        fputs("    options:    ", stdout);
        for (int o = 0; o < SIMREP_OPTION_COUNT; o++)
            if (in->options & (1u << o)) {
                char flag[64];
                snprintf(flag, sizeof flag, "--%s", simrep_option_get_info((simrep_option_id)o)->name);
                for (char *c = flag + 2; *c; c++)
                    *c = *c == '_' ? '-' : *c;
                printf(" %s", flag);
            }
        fputc('\n', stdout);
    }
    fputc('\n', stdout);
}

int cmd_measures(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 && i + 1 < argc && strcmp(argv[i + 1], "json") == 0) {
            json = 1;
            i++;
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc && strcmp(argv[i + 1], "table") == 0) {
            i++;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            puts("usage: simrep measures [--format table|json]");
            return 0;
        } else {
            return cli_error(EXIT_USAGE, "measures: unknown argument '%s' (see simrep measures --help)", argv[i]);
        }
    }
    if (json)
        fputs("{\"measures\": [", stdout);
    for (int m = 0; m < SIMREP_MEASURE_COUNT; m++) {
        const simrep_measure_info *in = simrep_measure_get_info((simrep_measure)m);
        if (json)
            measure_json(in, m == 0);
        else
            measure_text(in);
    }
    if (json)
        fputs("\n]}\n", stdout);
    return 0;
}

/* What a 2/3/4-D array would be read as (the table's bracket, JSON's "reads_as"). */
static const char *info_reads_as(const simrep_array_info *a)
{
    if (!a->dtype_supported)
        return "unsupported dtype";
    return a->ndim == 2 ? "samples x features" : a->ndim == 3 ? "sequences" : a->ndim == 4 ? "conv feature maps" : "";
}

static const char *info_format_name(int fmt, int json)
{
    return fmt == SIMREP_FORMAT_NPZ           ? (json ? "npz" : "npz archive")
           : fmt == SIMREP_FORMAT_SAFETENSORS ? "safetensors"
           : fmt == SIMREP_FORMAT_NPY         ? "npy"
           : json                             ? "unknown"
                                              : "array file (format recognised by its contents)";
}

/* One object per array: the same facts as a table line, with stable keys. */
static void info_json(const char *path, int fmt, const simrep_array_info *infos, int shown, int count)
{
    fputs("{\"path\": ", stdout);
    json_string(stdout, path);
    fputs(", \"format\": ", stdout);
    json_string(stdout, info_format_name(fmt, 1));
    printf(", \"count\": %d, \"arrays\": [", count);
    for (int i = 0; i < shown; i++) {
        const simrep_array_info *a = &infos[i];
        fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", stdout);
        json_string(stdout, a->name);
        printf(", \"name_bytes\": %lld, \"shape\": [", (long long)a->name_len);
        for (int k = 0; k < a->ndim; k++)
            printf("%s%lld", k ? ", " : "", (long long)a->shape[k]);
        fputs("], \"dtype\": ", stdout);
        if (a->dtype_supported)
            json_string(stdout, simrep_dtype_name(a->dtype));
        else
            fputs("null", stdout);
        fputs(", \"dtype_in_file\": ", stdout);
        json_string(stdout, a->dtype_text);
        printf(", \"order\": \"%s\", \"big_endian\": %s", a->fortran_order ? "F" : "C",
               a->big_endian ? "true" : "false");
        if (fmt == SIMREP_FORMAT_NPZ)
            printf(", \"compressed\": %s", a->compressed ? "true" : "false");
        printf(", \"data_bytes\": %llu, \"reads_as\": ", (unsigned long long)a->data_size);
        json_string(stdout, info_reads_as(a));
        fputc('}', stdout);
    }
    fputs(shown ? "\n]}\n" : "]}\n", stdout);
}

static void info_table(const char *path, int fmt, const simrep_array_info *infos, int shown, int count)
{
    cli_text(stdout, path);
    printf(": %s, %d array%s\n", info_format_name(fmt, 0), count, count == 1 ? "" : "s");
    for (int i = 0; i < shown; i++) {
        const simrep_array_info *a = &infos[i];
        char shape[256] = "(";
        size_t len = 1;
        for (int k = 0; k < a->ndim && len < sizeof shape - 32; k++)
            len += (size_t)snprintf(shape + len, sizeof shape - len, "%s%lld", k ? ", " : "", (long long)a->shape[k]);
        snprintf(shape + len, sizeof shape - len, "%s)", a->ndim == 1 ? "," : "");
        fputs("  ", stdout);
        const int w = cli_text(stdout, a->name[0] ? a->name : "(array)");
        printf("%*s shape %-20s dtype %-9s %s", w < 24 ? 24 - w : 0, "", shape,
               a->dtype_supported ? simrep_dtype_name(a->dtype) : a->dtype_text,
               a->fortran_order ? "Fortran order" : "C order");
        if (a->big_endian)
            fputs(", big-endian", stdout);
        if (fmt == SIMREP_FORMAT_NPZ)
            fputs(a->compressed ? ", deflated" : ", stored", stdout);
        if (!a->dtype_supported)
            printf("  [unsupported dtype %s]", a->dtype_text);
        else if (a->ndim == 2)
            printf("  [n = %lld samples x p = %lld features]", (long long)a->shape[0], (long long)a->shape[1]);
        else if (a->ndim == 3 || a->ndim == 4)
            printf("  [%d-D: %s]", a->ndim, info_reads_as(a));
        if (a->name_len >= SIMREP_NAME_MAX)
            printf("  [name of %lld bytes, shown shortened: opens as written here when no other long name starts "
                   "alike, or by the whole name]", (long long)a->name_len);
        fputc('\n', stdout);
    }
    if (count > shown)
        printf("  ... and %d more\n", count - shown);
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    int json = 0, options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            puts("usage: simrep info FILE [--format table|json]\n\n"
                 "Lists the arrays in a .npy, .npz or .safetensors file with their shape, dtype and layout.\n"
                 "--format json prints one object: path, format, count and one entry per array (name,\n"
                 "name_bytes, shape, dtype, dtype_in_file, order, big_endian, compressed (npz), data_bytes,\n"
                 "reads_as); at most 4096 arrays are listed, count says how many the file holds.");
            return 0;
        } else if (!options_done && strcmp(a, "--") == 0) {
            options_done = 1;
        } else if (!options_done && strcmp(a, "--format") == 0) {
            if (i + 1 >= argc)
                return cli_error(EXIT_USAGE, "--format needs a value: table or json");
            const char *v = argv[++i];
            if (strcmp(v, "json") != 0 && strcmp(v, "table") != 0)
                return cli_error(EXIT_USAGE, "--format '%s': info prints table or json", v);
            json = strcmp(v, "json") == 0;
        } else if (!options_done && a[0] == '-' && a[1]) {
            return cli_error(EXIT_USAGE, "info: unknown option '%s' (see simrep info --help; '--' ends the options)",
                             a);
        } else if (path) {
            return cli_error(EXIT_USAGE, "info takes exactly one FILE (see simrep info --help)");
        } else {
            path = a;
        }
    }
    if (!path)
        return cli_error(EXIT_USAGE, "info takes exactly one FILE (see simrep info --help)");
    simrep_ctx *ctx = cli_ctx_new();
    if (!ctx)
        return cli_error(EXIT_DATA, "out of memory");
    enum { CAP = 4096 };
    static simrep_array_info infos[CAP];
    int count = 0;
    simrep_status st = simrep_file_list(ctx, path, infos, CAP, &count);
    if (st != SIMREP_OK) {
        int code = cli_library_error(ctx, st, NULL, NULL);
        simrep_ctx_free(ctx);
        return code;
    }
    const int fmt = simrep_format_from_path(path), shown = count < CAP ? count : CAP;
    if (json)
        info_json(path, fmt, infos, shown, count);
    else
        info_table(path, fmt, infos, shown, count);
    simrep_ctx_free(ctx);
    return 0;
}

static int dispatch(int argc, char **argv);

/* Under an MPI launcher every rank runs the command (compare and matrix
 * share their work; rank 0 prints), and all ranks return the same status. */
int main(int argc, char **argv)
{
    int rc = par_init(&argc, &argv);
    if (rc >= 0)
        return rc;
    cli_interrupt_setup();
    return par_finalize(cli_finish(dispatch(argc, argv)));
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        cli_error(EXIT_USAGE, "no command given (commands: compare, matrix, validate, info, measures)");
        return cmd_help(stderr), EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0)
        return cmd_help(stdout);
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("simrep %s\n", SIMREP_VERSION);
        return 0;
    }
    if (strcmp(cmd, "compare") == 0)
        return cmd_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "matrix") == 0)
        return cmd_matrix(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    if (strcmp(cmd, "measures") == 0)
        return cmd_measures(argc - 1, argv + 1);
    return cli_error(EXIT_USAGE, "unknown command '%s' (commands: compare, matrix, validate, info, measures; see simrep --help)", cmd);
}
