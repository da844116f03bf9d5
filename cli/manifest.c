/*
 * manifest.c: the RFC 4180 reader of `simrep matrix` manifests (see
 * manifest.h for the accepted syntax and the errors).
 *
 * One forward pass over the buffer with a three-state machine (start of a
 * field, inside an unquoted field, inside a quoted field); each field is
 * copied into a growing byte buffer and each finished record into a
 * growing list of cells.  The line counter advances on every line break,
 * quoted ones included, so messages point at the line a person sees in an
 * editor; a row is reported by the line it starts on.
 *
 * Rejected: a lenient reader that accepts stray quotes (Python's csv
 * default).  A stray quote in a manifest almost always means a path was
 * pasted with quotes around part of it, and reading it as text would turn
 * it into a confusing "file not found" later; an error at the right line
 * is cheaper.  Trimming spaces around cells is rejected for the same
 * reason in reverse (paths may legitimately hold them); header names are
 * trimmed because `name, path` is a common way to write a header.
 */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct strbuf {
    char *data;
    size_t len, cap;
} strbuf;

static int sb_push(strbuf *b, char c)
{
    if (b->len + 1 >= b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 64;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    b->data[b->len++] = c;
    b->data[b->len] = 0;
    return 0;
}

/* The fields of the record being read. */
typedef struct record {
    char **fields;
    int count, cap;
    int quoted_any; /* a quoted field was seen (so "" is not a blank line) */
} record;

static void record_clear(record *r)
{
    for (int i = 0; i < r->count; i++)
        free(r->fields[i]);
    r->count = 0;
    r->quoted_any = 0;
}

static int record_push(record *r, strbuf *b)
{
    if (r->count == r->cap) {
        int cap = r->cap ? 2 * r->cap : 8;
        char **f = realloc(r->fields, (size_t)cap * sizeof *f);
        if (!f)
            return -1;
        r->fields = f;
        r->cap = cap;
    }
    char *s = malloc(b->len + 1);
    if (!s)
        return -1;
    memcpy(s, b->data ? b->data : "", b->len);
    s[b->len] = 0;
    r->fields[r->count++] = s;
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
    return 0;
}

static int fail(char *err, size_t errcap, const char *file, int line, const char *fmt, ...)
{
    if (err && errcap) {
        int k = line > 0 ? snprintf(err, errcap, "%s:%d: ", file, line) : snprintf(err, errcap, "%s: ", file);
        if (k >= 0 && (size_t)k < errcap) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + k, errcap - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

const char *manifest_cell(const manifest *m, int r, int c)
{
    if (c < 0 || r < 0 || r >= m->nrows || c >= m->ncols)
        return "";
    return m->cells[(size_t)r * (size_t)m->ncols + (size_t)c];
}

void manifest_free(manifest *m)
{
    if (!m)
        return;
    for (int c = 0; c < m->ncols && m->cols; c++)
        free(m->cols[c]);
    if (m->cells)
        for (size_t i = 0; i < (size_t)m->nrows * (size_t)m->ncols; i++)
            free(m->cells[i]);
    free(m->cols);
    free(m->cells);
    free(m->line);
    memset(m, 0, sizeof *m);
    m->col_name = m->col_path = m->col_group = m->col_layer = m->col_step = -1;
}

static char *trim_copy(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = 0;
    }
    return d;
}

/* Take a finished record: the header first, then data rows. */
static int take_record(manifest *m, record *r, int line, const char *file, char *err, size_t errcap, int *rows_cap)
{
    if (r->count == 1 && r->fields[0][0] == 0 && !r->quoted_any)
        return 0; /* a blank line */
    if (!m->cols) {
        m->cols = calloc((size_t)r->count, sizeof *m->cols);
        if (!m->cols)
            return fail(err, errcap, file, 0, "out of memory");
        m->ncols = r->count;
        for (int c = 0; c < r->count; c++) {
            if (!(m->cols[c] = trim_copy(r->fields[c])))
                return fail(err, errcap, file, 0, "out of memory");
            if (!m->cols[c][0])
                return fail(err, errcap, file, line, "header column %d has no name", c + 1);
            for (int d = 0; d < c; d++)
                if (strcmp(m->cols[d], m->cols[c]) == 0)
                    return fail(err, errcap, file, line, "header names column '%s' twice", m->cols[c]);
            int *slot = strcmp(m->cols[c], "name") == 0    ? &m->col_name
                        : strcmp(m->cols[c], "path") == 0  ? &m->col_path
                        : strcmp(m->cols[c], "group") == 0 ? &m->col_group
                        : strcmp(m->cols[c], "layer") == 0 ? &m->col_layer
                        : strcmp(m->cols[c], "step") == 0  ? &m->col_step
                                                           : NULL;
            if (slot)
                *slot = c;
        }
        if (m->col_name < 0 || m->col_path < 0)
            return fail(err, errcap, file, line, "header lacks the column '%s' (required: name,path; optional: "
                        "group,layer,step and any others)", m->col_name < 0 ? "name" : "path");
        record_clear(r);
        return 0;
    }
    if (r->count != m->ncols)
        return fail(err, errcap, file, line, "row has %d field%s but the header has %d columns", r->count,
                    r->count == 1 ? "" : "s", m->ncols);
    const char *name = r->fields[m->col_name], *path = r->fields[m->col_path];
    if (!name[0])
        return fail(err, errcap, file, line, "empty name");
    if (!path[0])
        return fail(err, errcap, file, line, "empty path for '%s'", name);
    for (int k = 0; k < m->nrows; k++)
        if (strcmp(manifest_cell(m, k, m->col_name), name) == 0)
            return fail(err, errcap, file, line, "name '%s' is given twice (lines %d and %d); names must be unique",
                        name, m->line[k], line);
    if (m->nrows == *rows_cap) {
        int cap = *rows_cap ? 2 * *rows_cap : 16;
        if ((size_t)cap * (size_t)m->ncols > ((size_t)-1) / sizeof(char *) / 2)
            return fail(err, errcap, file, line, "too many rows");
        char **cells = realloc(m->cells, (size_t)cap * (size_t)m->ncols * sizeof *cells);
        if (!cells)
            return fail(err, errcap, file, 0, "out of memory");
        m->cells = cells;
        int *lines = realloc(m->line, (size_t)cap * sizeof *lines);
        if (!lines)
            return fail(err, errcap, file, 0, "out of memory");
        m->line = lines;
        *rows_cap = cap;
    }
    for (int c = 0; c < m->ncols; c++) {
        m->cells[(size_t)m->nrows * (size_t)m->ncols + (size_t)c] = r->fields[c];
        r->fields[c] = NULL;
    }
    m->line[m->nrows++] = line;
    r->count = 0;
    r->quoted_any = 0;
    return 0;
}

int manifest_parse_buffer(const char *buf, size_t len, const char *file, manifest *out, char *err, size_t errcap)
{
    manifest m;
    memset(&m, 0, sizeof m);
    m.col_name = m.col_path = m.col_group = m.col_layer = m.col_step = -1;
    memset(out, 0, sizeof *out);
    out->col_name = out->col_path = out->col_group = out->col_layer = out->col_step = -1;
    if (err && errcap)
        err[0] = 0;
    if (!file)
        file = "manifest";

    strbuf field = {0};
    record rec = {0};
    int rows_cap = 0, line = 1, record_line = 1, quote_line = 0, rc = 0;
    enum { FIELD_START, UNQUOTED, QUOTED } state = FIELD_START;
    size_t i = 0;
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB && (unsigned char)buf[2] == 0xBF)
        i = 3;
    for (; i <= len && rc == 0; i++) {
        int eof = i == len;
        char c = eof ? 0 : buf[i];
        if (!eof && c == 0) {
            rc = fail(err, errcap, file, line, "contains a NUL byte (not a text file?)");
            break;
        }
        if (state == QUOTED) {
            if (eof) {
                rc = fail(err, errcap, file, quote_line, "quoted field opened here is never closed");
                break;
            }
            if (c == '"') {
                if (i + 1 < len && buf[i + 1] == '"') {
                    rc = sb_push(&field, '"');
                    i++;
                } else {
                    /* The closing quote: a separator, a line break or the end must follow. */
                    char n = i + 1 < len ? buf[i + 1] : '\n';
                    if (n != ',' && n != '\n' && n != '\r') {
                        rc = fail(err, errcap, file, line, "text after the closing quote of a field "
                                  "(a quote inside a quoted field is written \"\")");
                        break;
                    }
                    state = UNQUOTED; /* the separator or line break is handled next */
                }
            } else {
                if (c == '\n' || (c == '\r' && !(i + 1 < len && buf[i + 1] == '\n')))
                    line++;
                rc = sb_push(&field, c);
            }
            if (rc)
                rc = fail(err, errcap, file, 0, "out of memory");
            continue;
        }
        int crlf = c == '\r' && i + 1 < len && buf[i + 1] == '\n';
        if (eof || c == '\n' || c == '\r') {
            if (record_push(&rec, &field) != 0) {
                rc = fail(err, errcap, file, 0, "out of memory");
                break;
            }
            rc = take_record(&m, &rec, record_line, file, err, errcap, &rows_cap);
            record_clear(&rec);
            if (crlf)
                i++;
            line++;
            record_line = line;
            state = FIELD_START;
            continue;
        }
        if (c == ',') {
            if (record_push(&rec, &field) != 0)
                rc = fail(err, errcap, file, 0, "out of memory");
            state = FIELD_START;
            continue;
        }
        if (c == '"') {
            if (state == FIELD_START && field.len == 0) {
                state = QUOTED;
                rec.quoted_any = 1;
                quote_line = line;
                continue;
            }
            rc = fail(err, errcap, file, line, "a quote inside an unquoted field (quote the whole field and "
                      "write the quote as \"\")");
            break;
        }
        state = UNQUOTED;
        if (sb_push(&field, c) != 0)
            rc = fail(err, errcap, file, 0, "out of memory");
    }
    record_clear(&rec);
    free(rec.fields);
    free(field.data);
    if (rc == 0 && !m.cols)
        rc = fail(err, errcap, file, 0, "empty manifest (expected a header line name,path,... and one row per input)");
    if (rc == 0 && m.nrows == 0)
        rc = fail(err, errcap, file, 0, "no inputs (the manifest has a header but no rows)");
    if (rc != 0) {
        manifest_free(&m);
        return -1;
    }
    *out = m;
    return 0;
}

/* The largest manifest read: a row is a name and a path (about 100 bytes),
 * so 64 MiB is over half a million inputs, beyond what a matrix of K^2
 * pairs could compute; anything larger (or endless, like /dev/zero) is
 * refused before it fills memory. */
#define MANIFEST_MAX ((size_t)64 << 20)

int manifest_read_file(const char *path, manifest *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    out->col_name = out->col_path = out->col_group = out->col_layer = out->col_step = -1;
    /* O_NONBLOCK: a FIFO with no writer would block the open forever; only
     * regular files are read (a pipe could be endless or never written). */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat sb;
    if (fd < 0 && errno == ENXIO && stat(path, &sb) == 0) /* a socket */
        return fail(err, errcap, path, 0, "is not a regular file (a socket); write the manifest to a file first");
    if (fd < 0)
        return fail(err, errcap, path, 0, "%s", strerror(errno));
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        const int dir = S_ISDIR(sb.st_mode);
        close(fd);
        return fail(err, errcap, path, 0, "%s", dir ? "is a directory, not a manifest"
                                                    : "is not a regular file (a pipe or a device); write the manifest "
                                                      "to a file first");
    }
    if ((uint64_t)sb.st_size > MANIFEST_MAX) {
        close(fd);
        return fail(err, errcap, path, 0, "is %.1f MiB; a manifest may hold at most %zu MiB (one line per input)",
                    (double)sb.st_size / 1048576.0, MANIFEST_MAX >> 20);
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return fail(err, errcap, path, 0, "%s", strerror(errno));
    }
    char *data = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= MANIFEST_MAX + 1) { /* it grew while read */
                free(data);
                fclose(f);
                return fail(err, errcap, path, 0, "grew past %zu MiB while read; a manifest may hold at most that",
                            MANIFEST_MAX >> 20);
            }
            cap = cap ? 2 * cap : 4096;
            cap = cap > MANIFEST_MAX + 1 ? MANIFEST_MAX + 1 : cap;
            char *d = realloc(data, cap);
            if (!d) {
                free(data);
                fclose(f);
                return fail(err, errcap, path, 0, "out of memory");
            }
            data = d;
        }
        size_t got = fread(data + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(data);
        return fail(err, errcap, path, 0, "read error");
    }
    int rc = manifest_parse_buffer(data, len, path, out, err, errcap);
    free(data);
    return rc;
}
