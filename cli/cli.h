/*
 * cli.h: what the CLI's files share: exit codes, error and warning
 * printing, and the small JSON/CSV writers.  The CLI includes only the
 * public header (include/simrep.h), never the library's internals.
 */
#ifndef SIMREP_CLI_H
#define SIMREP_CLI_H

#include <stdio.h>

#include "simrep.h"

/* Exit statuses: 0 success, 1 bad data or files, 2 usage errors. */
#define EXIT_DATA 1
#define EXIT_USAGE 2

/* "simrep: error: <what>" on stderr; returns code. */
int cli_error(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A library failure: the context's message, with a leading "x: "/"y: "
 * replaced by the file the side came from. */
int cli_library_error(simrep_ctx *ctx, simrep_status st, const char *x_spec, const char *y_spec);
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

/* A JSON string literal with escapes. */
void json_string(FILE *f, const char *s);
/* A JSON number; finite values only (callers never have others). */
void json_number(FILE *f, double v);

int cmd_compare(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_measures(int argc, char **argv);

#endif
