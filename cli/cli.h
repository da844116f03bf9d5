/*
 * cli.h: what the CLI's files share: exit codes, error and warning
 * printing, and the small JSON/CSV writers.  The CLI includes only the
 * public header (include/simrep.h), never the library's internals.
 */
#ifndef SIMREP_CLI_H
#define SIMREP_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "simrep.h"

/* Exit statuses: 0 success, 1 bad data or files, 2 usage errors; 128 + the
 * signal (130 for Ctrl-C, 143 for SIGTERM) when interrupted. */
#define EXIT_DATA 1
#define EXIT_USAGE 2

/* Interruption.  cli_interrupt_setup installs handlers for SIGINT and
 * SIGTERM that set the flag every context made by cli_ctx_new reads
 * (simrep_ctx_set_cancel), so the library stops within a block or tile and
 * the command unwinds through its usual error paths; a second signal kills
 * at once (the handler resets itself).  cli_interrupted: the signal caught,
 * or 0. */
void cli_interrupt_setup(void);
int cli_interrupted(void);
/* A context with the interrupt flag attached (NULL if out of memory). */
simrep_ctx *cli_ctx_new(void);
/* At the end of a command: removes every temporary file still registered,
 * and when interrupted says so on stderr and returns 128 + the signal
 * instead of rc. */
int cli_finish(int rc);

/* Temporary files the command will rename into place or delete: removed by
 * cli_finish if still there (a failed or interrupted run leaves nothing
 * behind).  cli_temp_add copies path; cli_temp_forget drops it (renamed or
 * removed by the caller). */
void cli_temp_add(const char *path);
void cli_temp_forget(const char *path);

/* A file written whole or not at all: the data goes to a temporary name in
 * the target's directory (".<name>.XXXXXX", registered with cli_temp_add)
 * that replaces the target only when every byte is written and the file
 * closed.  A target that is a link to a regular file is replaced where the
 * link points; one that is not a regular file (a device such as /dev/full)
 * is written in place.  Errors are "<target>: <strerror>" (cli_error,
 * EXIT_DATA).  cli_file_open returns the stream (NULL after the error);
 * cli_file_reserve makes only the temporary file, for another program to
 * write (cf->tmp); cli_file_commit closes (rc: the writer's own error flag,
 * non-zero for a failure already seen) and renames, or removes the
 * temporary file; it returns 0 or EXIT_DATA (rc < 0: the temporary file
 * is removed without a message, and 0 returned). */
typedef struct cli_file {
    char target[4096]; /* the name given */
    char dest[4096];   /* where the rename goes (the link's target for a link) */
    char tmp[4096];    /* the temporary name; "" when written in place */
    FILE *f;
} cli_file;
FILE *cli_file_open(cli_file *cf, const char *path);
int cli_file_reserve(cli_file *cf, const char *path);
int cli_file_commit(cli_file *cf, int rc);

/* limits.c.  The memory this process may use, in bytes: the smallest of
 * physical memory, RLIMIT_AS and the cgroup's memory limit; what says
 * which ("this process's cgroup memory limit (memory.max)").  A size in
 * the unit that reads best: "512 B", "3.50 KiB", "12.3 MiB", "1.00 GiB". */
double cli_memory_limit(char *what, size_t cap);
void cli_size_text(double bytes, char *buf, size_t cap);

/* "simrep: error: <what>" on stderr; returns code. */
int cli_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A library failure: the context's message, with a leading "x: "/"y: "
 * replaced by the file the side came from. */
int cli_library_error(simrep_ctx *ctx, simrep_status st, const char *x_spec, const char *y_spec);
/* MPI ranks other than 0 hold back the errors and warnings of the phases
 * every rank runs alike (parsing, opening, measures: rank 0 prints them
 * once): while held, cli_error keeps its first message (cli_held_error)
 * instead of printing it and cli_warning prints nothing.  cli_hold(1)
 * clears the kept message.  See parallel.h. */
void cli_hold(int on);
const char *cli_held_error(void);
/* "simrep: warning: <what>" on stderr. */
void cli_warning(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Show the library's progress on stderr when it is a terminal; clear the
 * line at the end. */
void cli_progress_attach(simrep_ctx *ctx);
void cli_progress_end(simrep_ctx *ctx);

/* s on one line: line breaks and other control bytes written \n, \r, \xHH
 * (as error and warning lines write them); for names in tables.  Returns
 * the bytes written. */
int cli_text(FILE *f, const char *s);
/* A JSON string literal with escapes. */
void json_string(FILE *f, const char *s);
/* A JSON number; finite values only (callers never have others). */
void json_number(FILE *f, double v);

/* ------------------------------------------------------------ options.c */

/* A parser's answer for an option name it does not handle. */
#define CLI_OPT_NOT_MINE (-1)

/* Options seen so far, for the checks that span several options. */
typedef struct cli_seen {
    unsigned options; /* bit (1u << simrep_option_id) for each measure option given */
    int conv_options, mask;
} cli_seen;

typedef struct cli_measures {
    simrep_measure ids[SIMREP_MEASURE_COUNT];
    int count;
    int all; /* the list was "all" */
} cli_measures;

/* A finite number, or a usage error naming the option (returns 0 or 2). */
int cli_parse_number(const char *opt, const char *s, double *out);
/* A size in bytes: "1073741824", "512M", "4G", "4GiB", "1.5g" (binary
 * multiples); > 0.  Returns 0 or a usage error's status naming opt. */
int cli_parse_size(const char *opt, const char *s, double *out);
/* Split argv[*i] into an option name and its value ("--opt value" or
 * "--opt=value", advancing *i past a separate value); valued lists the
 * names that take one (NULL-terminated).  Returns -1 to go on, else a
 * usage error's exit status. */
int cli_split_option(int argc, char **argv, int *i, const char *const *valued, const char *command, char *name,
                     size_t cap, const char **val);
/* The measures without -m (the library's simrep_default_measures), into
 * ids (SIMREP_MEASURE_COUNT of room). */
void cli_default_measures(simrep_measure *ids, int *count);
/* The --help lines of -m and of every measure option, from the registry
 * (allow_maps: mention the conv-maps measures). */
void cli_help_measures(FILE *f, int allow_maps);
/* 1 if name ("--svcca-keep") is a measure option of the library. */
int cli_is_measure_option(const char *name);
/* -m IDS|all (allow_maps: dftcca may be named).  Returns 0 or 2. */
int cli_parse_measures(const char *s, int allow_maps, cli_measures *out);
/* A measure option (--epsilon, --svcca-keep, ...: every simrep_option_info
 * as --NAME), checked by the library: 0, a usage error's status, or
 * CLI_OPT_NOT_MINE. */
int cli_measure_option(const char *name, const char *val, simrep_options *opt, cli_seen *seen);
/* --conv, --conv-mode, --resize, --sequence, --mask: likewise (--mask
 * reads the mask file into layout->mask: data errors return 1). */
int cli_layout_option(const char *name, const char *val, int allow_per_step, simrep_layout *layout, cli_seen *seen);
/* After all options: -1 if the layout options fit together, else 2. */
int cli_check_layout(const simrep_layout *layout, const cli_seen *seen);
/* Release what cli_layout_option allocated (the mask), on every path. */
void cli_layout_free(simrep_layout *layout);

/* ------------------------------------------------------------- report.c */

#define REPORT_WARNING_MAX 600

/* The fields of r's JSON entry after "similarity" and "distance": the
 * outputs its measure declares, the options it echoes, and with coefs its
 * coefficients. */
void report_json_fields(FILE *f, const simrep_result *r, const simrep_options *opt, int coefs);
/* The table's notes for r ("3 + 3 directions", "variant google", ...). */
void report_notes(const simrep_result *r, const simrep_options *opt, char *buf, size_t cap);
/* The first result that reports kept features (its dead-feature split is
 * every such result's), or NULL. */
const simrep_result *report_kept_result(const simrep_result *res, int count);
/* The warning lines of a pair's results (n samples; p, q features of the
 * inputs named x_name, y_name): at most cap lines into warn; returns the count. */
int report_warnings(const simrep_result *res, int count, int64_t n, const char *x_name, const char *y_name,
                    int64_t p, int64_t q, char warn[][REPORT_WARNING_MAX], int cap);
/* 1 if an earlier result res[j], j < i, has the same coefficients as res[i]
 * (cca_r2 shares cca's): printed once. */
int report_coefs_shown_before(const simrep_result *res, int i);
/* One measure undefined for the data (cli_measure_error: the side at
 * fault, 0 x, 1 y, -1 the pair, and the library's detail):
 * "simrep: error: <file>: <id>: <what>", the file of that side, or both
 * files when the failure is about the pair.  Returns EXIT_DATA. */
int report_measure_error(const char *x_spec, const char *y_spec, const char *id, int side, const char *detail);

int cmd_compare(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_measures(int argc, char **argv);

#endif
