/*
 * manifest.h: the CSV manifest of `simrep matrix`: one row per input, a
 * header naming the columns.  `name` and `path` are required; `group`,
 * `layer` and `step` have meanings (see cli/matrix.c); any other column is
 * carried through to the outputs as text.
 *
 * The parser follows RFC 4180: fields separated by commas, records by CRLF
 * or LF, a field in double quotes may hold commas, line breaks and doubled
 * quotes ("").  A UTF-8 byte-order mark before the header is skipped; blank
 * lines are skipped; header names are trimmed of surrounding spaces (cells
 * are not: a path may end in a space).
 *
 * The memory-buffer entry point (manifest_parse_buffer) is what the file
 * entry point calls and what the fuzz target drives: it never prints,
 * exits or reads files, and any buffer (NUL bytes, no trailing newline,
 * invalid UTF-8) gives either a manifest or one error message.
 */
#ifndef SIMREP_MANIFEST_H
#define SIMREP_MANIFEST_H

#include <stddef.h>

typedef struct manifest {
    int ncols;
    char **cols;     /* ncols header names */
    int nrows;       /* data rows (the header and blank lines not counted) */
    char **cells;    /* nrows x ncols, row-major; every cell a NUL-terminated string ("" if empty) */
    int *line;       /* nrows: the line (1-based, header is line 1) where each row starts */
    int col_name, col_path, col_group, col_layer, col_step; /* column indices; -1 if absent */
} manifest;

/*
 * Parse len bytes of CSV.  file names the manifest in error messages.  On
 * success returns 0 and fills *out (release with manifest_free).  On error
 * returns -1, leaves *out empty, and writes "<file>:<line>: <what>" into
 * err (at most errcap bytes, always NUL-terminated).  Errors: no header, a
 * header without `name` or `path`, a column named twice, a row whose field
 * count differs from the header's, an unterminated or misplaced quote, a
 * NUL byte, an empty name or path, a name given twice (both lines named),
 * no data rows, allocation failure.
 */
int manifest_parse_buffer(const char *buf, size_t len, const char *file, manifest *out, char *err, size_t errcap);

/* Read the file at path and parse it (errors as above; a file that cannot
 * be read is "<path>: <strerror>"). */
int manifest_read_file(const char *path, manifest *out, char *err, size_t errcap);

/* The cell of row r, column c ("" when c < 0). */
const char *manifest_cell(const manifest *m, int r, int c);

/* Accepts an empty or partly filled manifest. */
void manifest_free(manifest *m);

#endif
