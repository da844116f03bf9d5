/*
 * stats.h: the statistics options and output shared by compare and matrix
 * (cli/stats.c; issue 11).
 */
#ifndef SIMREP_CLI_STATS_H
#define SIMREP_CLI_STATS_H

#include "simrep.h"

typedef struct cli_stats {
    simrep_stats_options o; /* bootstrap, permutations, ci, seed, buckets, segments (threads, memory: the command's) */
    int64_t unit_rows;      /* --unit-rows (0: the layout's item) */
    int ci_given;
    unsigned given;         /* CLI_STATS_GIVEN_* bits: the options typed (for cli_stats_check) */
} cli_stats;

/* Options that only matter with a bootstrap, with permutations, or with either. */
#define CLI_STATS_GIVEN_FOR_BOOTSTRAP 1u    /* --ci, --ci-method, --buckets */
#define CLI_STATS_GIVEN_FOR_PERMUTATIONS 2u /* --segments */
#define CLI_STATS_GIVEN_FOR_EITHER 4u       /* --seed, --unit-rows */

void cli_stats_init(cli_stats *s);
/* --bootstrap, --permutations, --ci, --seed, and for compare --unit-rows,
 * --buckets, --segments: 0, a usage error's status, or CLI_OPT_NOT_MINE. */
int cli_stats_option(const char *name, const char *val, int compare, cli_stats *s);
/* The option names that take a value, for cli_split_option's lists. */
#define CLI_STATS_OPTIONS "--bootstrap", "--permutations", "--ci", "--ci-method", "--seed"
#define CLI_STATS_COMPARE_OPTIONS "--unit-rows", "--buckets", "--segments", "--threads", "--max-memory"
/* Allocator settings for the resampling phase (glibc: no fresh mmap per
 * resample).  Process-wide: the CLI's to call, never the library's. */
void cli_stats_tune_malloc(void);
/* 1 if a bootstrap or permutations were asked for. */
int cli_stats_requested(const cli_stats *s);
/* After the options: warnings for statistics options that change nothing
 * (--ci without --bootstrap, ...) and the library's about the options
 * (simrep_stats_options_warnings: too few resamples or permutations). */
void cli_stats_check(const cli_stats *s);

/* Keys added to a measure's JSON entry (chance always; the rest when
 * have_stats). */
void cli_stats_json_measure(const simrep_stats_result *r, int have_stats);
/* Warnings about the results (an observed value outside its interval). */
void cli_stats_warnings(const simrep_stats_result *res, int count, int basic);
/* The document's "statistics" object (with its leading ", "). */
void cli_stats_json_summary(const cli_stats *s, const simrep_stats_info *info);
const char *cli_stats_csv_header(void);
void cli_stats_csv_row(const simrep_stats_result *r);
/* --sequence per-step: the keys of one measure's steps (r[t * stride],
 * t < nsteps): "per_step_chance" when every step has one, and with
 * statistics "per_step_ci", "per_step_se", "per_step_null" (a list of
 * {"mean", "sd", "p", "permutations"}), "per_step_adjusted". */
void cli_stats_json_steps(const simrep_stats_result *r, int64_t nsteps, int stride, int have_stats);
/* The table's lines of one measure's per-step intervals and p-values. */
void cli_stats_table_steps(const cli_stats *s, const simrep_stats_result *r, int64_t nsteps, int stride);
/* The second table of `compare` (after the measures). */
void cli_stats_table(const cli_stats *s, const simrep_stats_info *info, const simrep_stats_result *res, int count);

#endif
