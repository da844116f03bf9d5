/*
 * fuzz_manifest.c: the CSV manifest of `simrep matrix` (cli/manifest.c,
 * RFC 4180 with quotes, CRLF, a BOM, blank lines) through its buffer entry
 * point.  A parsed manifest must be internally consistent; a refused one
 * must say why, starting with the file name and a line number.
 */
#include "fuzz_common.h"

#include "../cli/manifest.h"

#define FILE_LABEL "m.csv"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    manifest m;
    memset(&m, 0x5a, sizeof m); /* the parser must set every field */
    char err[512];
    memset(err, 'x', sizeof err);
    int rc = manifest_parse_buffer((const char *)data, size, FILE_LABEL, &m, err, sizeof err);
    FUZZ_ASSERT(rc == 0 || rc == -1);
    if (rc != 0) {
        FUZZ_ASSERT(memchr(err, '\0', sizeof err));
        FUZZ_ASSERT(strncmp(err, FILE_LABEL ":", strlen(FILE_LABEL ":")) == 0);
        FUZZ_ASSERT(strlen(err) > strlen(FILE_LABEL ":"));
        manifest_free(&m); /* "leaves *out empty": freeing it is harmless */
        return 0;
    }
    FUZZ_ASSERT(m.ncols >= 2 && m.nrows >= 1);
    FUZZ_ASSERT(m.col_name >= 0 && m.col_name < m.ncols && m.col_path >= 0 && m.col_path < m.ncols);
    FUZZ_ASSERT(m.col_name != m.col_path);
    const int *opt[3] = {&m.col_group, &m.col_layer, &m.col_step};
    for (int k = 0; k < 3; k++)
        FUZZ_ASSERT(*opt[k] >= -1 && *opt[k] < m.ncols);
    for (int c = 0; c < m.ncols; c++) {
        FUZZ_ASSERT(m.cols[c]);
        for (int d = 0; d < c; d++)
            FUZZ_ASSERT(strcmp(m.cols[c], m.cols[d]) != 0);
    }
    for (int r = 0; r < m.nrows; r++) {
        FUZZ_ASSERT(m.line[r] >= 2 && (r == 0 || m.line[r] > m.line[r - 1]));
        for (int c = 0; c < m.ncols; c++) {
            const char *cell = manifest_cell(&m, r, c);
            FUZZ_ASSERT(cell && strlen(cell) <= size);
        }
        FUZZ_ASSERT(manifest_cell(&m, r, m.col_name)[0] && manifest_cell(&m, r, m.col_path)[0]);
        FUZZ_ASSERT(manifest_cell(&m, r, -1)[0] == '\0');
    }
    manifest_free(&m);
    return 0;
}
