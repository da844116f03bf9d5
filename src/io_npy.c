/*
 * io_npy.c: the .npy header (numpy's NEP 1 "format.py" layout), shared by
 * .npy files and the members of .npz archives.
 *
 * A .npy file is the magic "\x93NUMPY", a major and minor version byte, a
 * little-endian header length (2 bytes in version 1.0, 4 bytes in 2.0 and
 * 3.0; 3.0 only declares the header UTF-8), the header, then the raw array.
 * The header is the repr() of a Python dict with exactly the keys 'descr',
 * 'fortran_order' and 'shape'.  numpy reads it with ast.literal_eval; here
 * a small tokenizer accepts the same literal forms numpy and older writers
 * produce (either quote, any key order and spacing, trailing commas,
 * "(5,)" and "()" tuples, Python 2 "10L" ints) and rejects anything else
 * with the byte offset of the problem.  A structured descr (a list) is
 * skipped over and kept as text so it can be reported as unsupported.
 *
 * Nothing here allocates more than the header: its length is checked
 * against the stream before the buffer is taken, and capped at 1 MiB
 * (numpy itself refuses headers over 10000 bytes unless told otherwise; the
 * cap only bounds memory for files that lie).  Shape products are checked
 * for int64 overflow; whether the data fit in the file is left to the
 * caller, which knows the size of its container.  Rejected: a pickle-based
 * approach (running the header through a Python-like evaluator) and
 * regex-like scanning for "'shape': (" which misreads reordered keys.
 */
#include "io.h"

#include <stdio.h>
#include <string.h>

/* Bounds memory taken for a header whose length field lies; far above any
 * header numpy writes for a supported dtype (under 200 bytes). */
#define NPY_HEADER_MAX (1u << 20)

typedef struct npy_parser {
    simrep_ctx *ctx;
    const char *label;
    const char *p, *start, *end;
} npy_parser;

static simrep_status npy_fail(npy_parser *ps, const char *what)
{
    return simrep__fail(ps->ctx, SIMREP_E_FORMAT, "%s: malformed npy header: %s at byte %ld of the header", ps->label,
                        what, (long)(ps->p - ps->start));
}

static void skip_ws(npy_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* A quoted Python string; *s and *len point at its raw contents. */
static simrep_status parse_string(npy_parser *ps, const char **s, size_t *len)
{
    skip_ws(ps);
    if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"'))
        return npy_fail(ps, "expected a quoted string");
    char q = *ps->p++;
    const char *begin = ps->p;
    while (ps->p < ps->end && *ps->p != q) {
        if (*ps->p == '\\')
            ps->p++;
        if (ps->p < ps->end && *ps->p == '\n')
            return npy_fail(ps, "unterminated string");
        ps->p++;
    }
    if (ps->p >= ps->end)
        return npy_fail(ps, "unterminated string");
    *s = begin;
    *len = (size_t)(ps->p - begin);
    ps->p++;
    return SIMREP_OK;
}

/* A non-negative Python int literal (optional 'L' suffix). */
static simrep_status parse_dim(npy_parser *ps, int64_t *out)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '-')
        return simrep__fail(ps->ctx, SIMREP_E_FORMAT, "%s: npy header has a negative dimension in its shape",
                            ps->label);
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return npy_fail(ps, "expected an integer dimension");
    int64_t v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        int d = *ps->p - '0';
        if (v > (INT64_MAX - d) / 10)
            return simrep__fail(ps->ctx, SIMREP_E_FORMAT, "%s: npy header has a dimension that overflows int64",
                                ps->label);
        v = v * 10 + d;
        ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'L' || *ps->p == 'l'))
        ps->p++;
    if (ps->p < ps->end && (*ps->p == '.' || *ps->p == 'e' || *ps->p == 'E' || *ps->p == '_' ||
                            (*ps->p >= 'a' && *ps->p <= 'z') || (*ps->p >= 'A' && *ps->p <= 'Z')))
        return npy_fail(ps, "a dimension is not an integer");
    *out = v;
    return SIMREP_OK;
}

/* Skip any literal (for a structured descr): strings, numbers, names and
 * nested (), [], {}. */
static simrep_status skip_literal(npy_parser *ps, int depth)
{
    if (depth > 32)
        return npy_fail(ps, "nesting too deep");
    skip_ws(ps);
    if (ps->p >= ps->end)
        return npy_fail(ps, "unexpected end");
    char c = *ps->p;
    if (c == '\'' || c == '"') {
        const char *s;
        size_t n;
        return parse_string(ps, &s, &n);
    }
    if (c == '(' || c == '[' || c == '{') {
        char close = c == '(' ? ')' : c == '[' ? ']' : '}';
        ps->p++;
        for (;;) {
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                return SIMREP_OK;
            }
            simrep_status st = skip_literal(ps, depth + 1);
            if (st)
                return st;
            skip_ws(ps);
            if (ps->p < ps->end && (*ps->p == ',' || (close == '}' && *ps->p == ':'))) {
                ps->p++;
                continue;
            }
            if (ps->p < ps->end && *ps->p == close)
                continue;
            return npy_fail(ps, "expected ',' or a closing bracket");
        }
    }
    const char *begin = ps->p;
    while (ps->p < ps->end && (((*ps->p | 32) >= 'a' && (*ps->p | 32) <= 'z') || (*ps->p >= '0' && *ps->p <= '9') ||
                               *ps->p == '_' || *ps->p == '-' || *ps->p == '+' || *ps->p == '.'))
        ps->p++;
    if (ps->p == begin)
        return npy_fail(ps, "unexpected character");
    return SIMREP_OK;
}

static simrep_status expect(npy_parser *ps, char c, const char *what)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != c)
        return npy_fail(ps, what);
    ps->p++;
    return SIMREP_OK;
}

static int is_word(npy_parser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return 0;
    const char *after = ps->p + n;
    if (after < ps->end && (((*after | 32) >= 'a' && (*after | 32) <= 'z') || *after == '_' ||
                            (*after >= '0' && *after <= '9')))
        return 0;
    ps->p += n;
    return 1;
}

const char *simrep__npy_kind_name(const char *descr, char *buf, size_t cap)
{
    if (descr[0] == '[')
        return "a structured dtype";
    const char *d = descr;
    if (*d == '<' || *d == '>' || *d == '|' || *d == '=')
        d++;
    char kind = *d;
    if (!kind)
        return NULL;
    long size = 0;
    const char *digits = d + 1;
    while (*digits >= '0' && *digits <= '9') {
        size = size * 10 + (*digits++ - '0');
        if (size > 100000000) /* no such item size; stops before long overflows */
            return NULL;
    }
    switch (kind) {
    case 'f':
        if (size == 2 || size == 4 || size == 8) {
            snprintf(buf, cap, "float%ld", size * 8);
            return buf;
        }
        snprintf(buf, cap, "float%ld, long double", size * 8);
        return buf;
    case 'i': snprintf(buf, cap, "int%ld", size * 8); return buf;
    case 'u': snprintf(buf, cap, "uint%ld", size * 8); return buf;
    case 'b': return "bool";
    case 'c': snprintf(buf, cap, "complex%ld", size * 8); return buf;
    case 'O': return "Python objects";
    case 'U': return "unicode strings";
    case 'S': case 'a': return "byte strings";
    case 'V': return size == 2 ? "raw 2-byte void; bfloat16 saved through ml_dtypes looks like this" : "raw void";
    case 'M': return "datetime64";
    case 'm': return "timedelta64";
    }
    return NULL;
}

static int host_big_endian(void)
{
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 0;
}

/* Fill info's dtype fields from a simple descr like "<f4". */
static void set_dtype(simrep_array_info *info, const char *descr, size_t len)
{
    size_t n = len < sizeof info->dtype_text - 1 ? len : sizeof info->dtype_text - 1;
    memcpy(info->dtype_text, descr, n);
    info->dtype_text[n] = '\0';
    info->dtype_supported = 0;
    info->big_endian = host_big_endian();
    if (len < 2 || len > 8 || descr[0] == '[')
        return;
    const char *d = descr;
    char order = '=';
    if (*d == '<' || *d == '>' || *d == '|' || *d == '=')
        order = *d++;
    if (order == '<')
        info->big_endian = 0;
    else if (order == '>')
        info->big_endian = 1;
    size_t rest = len - (size_t)(d - descr);
    if (rest == 2 && d[0] == 'f' && (d[1] == '2' || d[1] == '4' || d[1] == '8')) {
        info->dtype_supported = 1;
        info->dtype = d[1] == '2' ? SIMREP_F16 : d[1] == '4' ? SIMREP_F32 : SIMREP_F64;
    }
}

/* The item size of a descr, 0 if unknown (structured, datetime units...). */
static uint64_t descr_itemsize(const char *descr)
{
    const char *d = descr;
    if (*d == '<' || *d == '>' || *d == '|' || *d == '=')
        d++;
    char kind = *d++;
    if (kind == 'O' && *d == '\0')
        return 8;
    if (!strchr("fiubcUSaVMm", kind) || kind == '\0' || *d < '0' || *d > '9')
        return 0;
    uint64_t size = 0;
    while (*d >= '0' && *d <= '9') {
        size = size * 10 + (uint64_t)(*d++ - '0');
        if (size > (1u << 30))
            return 0;
    }
    if (*d != '\0' && kind != 'M' && kind != 'm')
        return 0;
    return kind == 'U' ? size * 4 : size;
}

static simrep_status parse_header(npy_parser *ps, simrep_array_info *info)
{
    int have_descr = 0, have_order = 0, have_shape = 0;
    simrep_status st = expect(ps, '{', "expected '{'");
    if (st)
        return st;
    for (;;) {
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == '}') {
            ps->p++;
            break;
        }
        const char *key;
        size_t klen;
        if ((st = parse_string(ps, &key, &klen)) || (st = expect(ps, ':', "expected ':' after a key")))
            return st;
        skip_ws(ps);
        if (klen == 5 && memcmp(key, "descr", 5) == 0) {
            if (have_descr++)
                return npy_fail(ps, "duplicate key 'descr'");
            if (ps->p < ps->end && *ps->p == '[') {
                const char *begin = ps->p;
                if ((st = skip_literal(ps, 0)))
                    return st;
                set_dtype(info, begin, (size_t)(ps->p - begin));
            } else {
                const char *d;
                size_t dlen;
                if ((st = parse_string(ps, &d, &dlen)))
                    return st;
                set_dtype(info, d, dlen);
            }
        } else if (klen == 13 && memcmp(key, "fortran_order", 13) == 0) {
            if (have_order++)
                return npy_fail(ps, "duplicate key 'fortran_order'");
            if (is_word(ps, "True"))
                info->fortran_order = 1;
            else if (is_word(ps, "False"))
                info->fortran_order = 0;
            else
                return npy_fail(ps, "fortran_order is not True or False");
        } else if (klen == 5 && memcmp(key, "shape", 5) == 0) {
            if (have_shape++)
                return npy_fail(ps, "duplicate key 'shape'");
            if ((st = expect(ps, '(', "shape is not a tuple")))
                return st;
            int ndim = 0;
            for (;;) {
                skip_ws(ps);
                if (ps->p < ps->end && *ps->p == ')') {
                    ps->p++;
                    break;
                }
                int64_t dim = 0;
                if ((st = parse_dim(ps, &dim)))
                    return st;
                if (ndim == SIMREP_MAX_NDIM)
                    return simrep__fail(ps->ctx, SIMREP_E_UNSUPPORTED,
                                        "%s: the array has more than %d dimensions; simrep reads at most %d",
                                        ps->label, SIMREP_MAX_NDIM, SIMREP_MAX_NDIM);
                info->shape[ndim++] = dim;
                skip_ws(ps);
                if (ps->p < ps->end && *ps->p == ',') {
                    ps->p++;
                    continue;
                }
                if (ps->p < ps->end && *ps->p == ')')
                    continue;
                return npy_fail(ps, "expected ',' or ')' in shape");
            }
            info->ndim = ndim;
        } else {
            return npy_fail(ps, "unexpected key (a .npy header has only 'descr', 'fortran_order' and 'shape')");
        }
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == '}')
            continue;
        return npy_fail(ps, "expected ',' or '}'");
    }
    skip_ws(ps);
    if (ps->p != ps->end && *ps->p != '\0')
        return npy_fail(ps, "junk after the closing '}'");
    if (!have_descr || !have_order || !have_shape)
        return simrep__fail(ps->ctx, SIMREP_E_FORMAT, "%s: malformed npy header: missing key '%s'", ps->label,
                            !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    return SIMREP_OK;
}

simrep_status simrep__npy_parse(simrep_ctx *ctx, simrep__stream *s, simrep_array_info *info, uint64_t *data_start)
{
    /* 10 bytes first, then 2 more for versions 2 and 3, so that a deflated
     * member is read strictly forward (a backward read restarts it). */
    unsigned char pre[12];
    size_t got;
    simrep_status st = simrep__stream_read_upto(ctx, s, 0, pre, 10, &got);
    if (st)
        return st;
    if (got == 10 && (pre[6] == 2 || pre[6] == 3)) {
        size_t more;
        if ((st = simrep__stream_read_upto(ctx, s, 10, pre + 10, 2, &more)))
            return st;
        got += more;
    }
    if (got == 0)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: empty (0 bytes); not a .npy file", s->label);
    if (got < 6 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        const char *hint = got >= 4 && memcmp(pre, "PK\x03\x04", 4) == 0 ? " (it looks like a ZIP / .npz archive)"
                           : got >= 9 && pre[8] == '{' ? " (it looks like a .safetensors file)"
                                                         : "";
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: not a .npy file: it does not start with \\x93NUMPY%s",
                            s->label, hint);
    }
    if (got < 8)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: truncated .npy preamble (%zu bytes)", s->label, got);
    unsigned major = pre[6], minor = pre[7];
    uint64_t hlen, prefix;
    if (major == 1) {
        prefix = 10;
        if (got < 10)
            return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: truncated .npy preamble (%zu bytes)", s->label, got);
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        prefix = 12;
        if (got < 12)
            return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: truncated .npy preamble (%zu bytes)", s->label, got);
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 | (uint64_t)pre[11] << 24;
    } else {
        return simrep__fail(ctx, SIMREP_E_UNSUPPORTED,
                            "%s: .npy format version %u.%u is not supported (simrep reads 1.0, 2.0 and 3.0)",
                            s->label, major, minor);
    }
    if (!s->inf && hlen > s->size - prefix)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: truncated: the npy header length %llu goes beyond the end of the file (%llu bytes)",
                            s->label, (unsigned long long)hlen, (unsigned long long)s->size);
    if (hlen > NPY_HEADER_MAX)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: npy header length %llu exceeds simrep's limit of %u bytes",
                            s->label, (unsigned long long)hlen, NPY_HEADER_MAX);
    char *text = simrep__alloc(ctx, (size_t)hlen + 1, "the npy header");
    if (!text)
        return simrep__prefix(ctx, "%s", s->label);
    st = simrep__stream_read_upto(ctx, s, prefix, text, (size_t)hlen, &got);
    if (st == SIMREP_OK && got < hlen)
        st = simrep__fail(ctx, SIMREP_E_FORMAT,
                          "%s: truncated: the npy header length %llu goes beyond the end of the data (%llu bytes)",
                          s->label, (unsigned long long)hlen, (unsigned long long)(prefix + got));
    if (st == SIMREP_OK) {
        text[hlen] = '\0';
        npy_parser ps = {ctx, s->label, text, text, text + hlen};
        memset(info->shape, 0, sizeof info->shape);
        info->ndim = 0;
        st = parse_header(&ps, info);
    }
    simrep__free(ctx, text);
    if (st)
        return st;

    uint64_t itemsize = info->dtype_supported ? simrep_dtype_size(info->dtype) : descr_itemsize(info->dtype_text);
    int64_t count = 1;
    for (int i = 0; i < info->ndim; i++) {
        if (!simrep__mul_i64(count, info->shape[i], &count)) {
            char shape[256];
            simrep__format_shape(info, shape, sizeof shape);
            return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: npy header shape %s has more elements than fit in 64 bits",
                                s->label, shape);
        }
    }
    int64_t bytes;
    if (!simrep__mul_i64(count, (int64_t)itemsize, &bytes) || (uint64_t)bytes > UINT64_MAX - prefix - hlen) {
        char shape[256];
        simrep__format_shape(info, shape, sizeof shape);
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: npy header shape %s of %s overflows 64-bit byte counts",
                            s->label, shape, info->dtype_text);
    }
    info->data_size = (uint64_t)bytes;
    *data_start = prefix + hlen;
    return SIMREP_OK;
}
