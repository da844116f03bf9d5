/*
 * io_safetensors.c: .safetensors files (Hugging Face): an 8-byte
 * little-endian header length N, N bytes of JSON, then the tensor data.
 * The JSON maps each tensor name to {"dtype": "F32", "shape": [n, p],
 * "data_offsets": [begin, end]} (offsets relative to the first byte after
 * the header; tensors are C order, little-endian), plus an optional
 * "__metadata__" object of strings, which is skipped.
 *
 * The JSON parser is a small strict recursive-descent one (RFC 8259
 * grammar: objects, arrays, strings with every escape including surrogate
 * pairs, numbers, true/false/null; nesting capped at 64) written for this
 * header only; strings are decoded in place in the header copy, so names
 * cost no allocation of their own.  A general JSON library was rejected as
 * a dependency for one header, and a lenient scanner because a header that
 * is not JSON should be reported, not guessed at.
 *
 * Limits follow the safetensors reference: the header length is checked
 * against the file before anything is allocated and capped at 100 MB (the
 * reference's MAX_HEADER_SIZE); shape entries must be non-negative integers
 * whose product times the item size does not overflow and equals
 * end - begin; offsets must lie inside the file.  Dtypes other than F16,
 * BF16, F32 and F64 are listed but refused when opened (UNSUPPORTED).
 */
#include "io.h"

#include <stdio.h>
#include <string.h>

/* The safetensors reference refuses headers over 100 MB (MAX_HEADER_SIZE). */
#define ST_HEADER_MAX 100000000ull
/* Far deeper than any real __metadata__; bounds the recursion. */
#define JSON_DEPTH_MAX 64

typedef struct json {
    simrep_ctx *ctx;
    const char *label;
    char *p, *start, *end;
} json;

static simrep_status jfail(json *j, const char *what)
{
    return simrep__fail(j->ctx, SIMREP_E_FORMAT, "%s: malformed safetensors header: %s at byte %ld of the JSON",
                        j->label, what, (long)(j->p - j->start));
}

static void jws(json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jpeek(json *j, char c)
{
    jws(j);
    return j->p < j->end && *j->p == c;
}

static simrep_status jexpect(json *j, char c, const char *what)
{
    if (!jpeek(j, c))
        return jfail(j, what);
    j->p++;
    return SIMREP_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return 0;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 1;
}

/* A JSON string, decoded in place; *out is NUL-terminated. */
static simrep_status jstring(json *j, char **out, size_t *len)
{
    if (!jpeek(j, '"'))
        return jfail(j, "expected a string");
    char *w = ++j->p, *begin = j->p;
    for (;;) {
        if (j->p >= j->end)
            return jfail(j, "unterminated string");
        unsigned char c = (unsigned char)*j->p;
        if (c == '"')
            break;
        if (c < 0x20)
            return jfail(j, "control character in a string");
        if (c != '\\') {
            *w++ = *j->p++;
            continue;
        }
        if (j->end - j->p < 2)
            return jfail(j, "unterminated escape");
        char e = j->p[1];
        j->p += 2;
        switch (e) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '/': *w++ = '/'; break;
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (!hex4(j->p, j->end, &cp))
                return jfail(j, "bad \\u escape");
            j->p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return jfail(j, "lone low surrogate");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || !hex4(j->p + 2, j->end, &lo) ||
                    lo < 0xdc00 || lo > 0xdfff)
                    return jfail(j, "unpaired surrogate");
                j->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            /* UTF-8 never takes more bytes than the escape it replaces. */
            if (cp < 0x80) {
                *w++ = (char)cp;
            } else if (cp < 0x800) {
                *w++ = (char)(0xc0 | cp >> 6);
                *w++ = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                *w++ = (char)(0xe0 | cp >> 12);
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *w++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *w++ = (char)(0xf0 | cp >> 18);
                *w++ = (char)(0x80 | ((cp >> 12) & 0x3f));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *w++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: return jfail(j, "bad escape");
        }
    }
    j->p++; /* the closing quote, at or after w: safe to overwrite now */
    *w = '\0';
    *out = begin;
    *len = (size_t)(w - begin);
    return SIMREP_OK;
}

/* A JSON number; *is_uint and *value set if it is a non-negative integer
 * that fits in int64. */
static simrep_status jnumber(json *j, int *is_uint, int64_t *value)
{
    jws(j);
    *is_uint = 1;
    *value = 0;
    if (j->p < j->end && *j->p == '-') {
        *is_uint = 0;
        j->p++;
    }
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return jfail(j, "expected a number");
    if (*j->p == '0' && j->p + 1 < j->end && j->p[1] >= '0' && j->p[1] <= '9')
        return jfail(j, "leading zero in a number");
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        int dg = *j->p++ - '0';
        if (*value > (INT64_MAX - dg) / 10)
            *is_uint = 0;
        else
            *value = *value * 10 + dg;
    }
    if (j->p < j->end && *j->p == '.') {
        *is_uint = 0;
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return jfail(j, "bad fraction in a number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        *is_uint = 0;
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
            j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9')
            return jfail(j, "bad exponent in a number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
            j->p++;
    }
    return SIMREP_OK;
}

static int jword(json *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
        return 0;
    j->p += n;
    return 1;
}

static simrep_status jskip(json *j, int depth)
{
    if (depth > JSON_DEPTH_MAX)
        return jfail(j, "nesting too deep");
    jws(j);
    if (j->p >= j->end)
        return jfail(j, "unexpected end");
    simrep_status st;
    char c = *j->p;
    if (c == '"') {
        char *s;
        size_t n;
        return jstring(j, &s, &n);
    }
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        j->p++;
        if (jpeek(j, close)) {
            j->p++;
            return SIMREP_OK;
        }
        for (;;) {
            if (c == '{') {
                char *s;
                size_t n;
                if ((st = jstring(j, &s, &n)) || (st = jexpect(j, ':', "expected ':'")))
                    return st;
            }
            if ((st = jskip(j, depth + 1)))
                return st;
            if (jpeek(j, ',')) {
                j->p++;
                continue;
            }
            return jexpect(j, close, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        }
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        int u;
        int64_t v;
        return jnumber(j, &u, &v);
    }
    if (jword(j, "true") || jword(j, "false") || jword(j, "null"))
        return SIMREP_OK;
    return jfail(j, "unexpected character");
}

/* A JSON array of non-negative integers (at most max of them). */
static simrep_status juint_array(json *j, const char *what, int64_t *vals, int max, int *count)
{
    simrep_status st = jexpect(j, '[', "expected an array");
    if (st)
        return simrep__prefix(j->ctx, "%s", what);
    *count = 0;
    if (jpeek(j, ']')) {
        j->p++;
        return SIMREP_OK;
    }
    for (;;) {
        int u;
        int64_t v;
        jws(j);
        int negative = j->p < j->end && *j->p == '-';
        if ((st = jnumber(j, &u, &v)))
            return st;
        if (negative)
            return simrep__fail(j->ctx, SIMREP_E_FORMAT, "%s: safetensors header: %s has a negative entry", j->label,
                                what);
        if (!u)
            return simrep__fail(j->ctx, SIMREP_E_FORMAT,
                                "%s: safetensors header: %s has an entry that is not an integer or is too large",
                                j->label, what);
        if (*count == max)
            return simrep__fail(j->ctx, max == 2 ? SIMREP_E_FORMAT : SIMREP_E_UNSUPPORTED,
                                "%s: safetensors header: %s has more than %d entries", j->label, what, max);
        vals[(*count)++] = v;
        if (jpeek(j, ',')) {
            j->p++;
            continue;
        }
        return jexpect(j, ']', "expected ',' or ']'");
    }
}

typedef struct st_dtype {
    const char *name;
    int size;      /* bytes per element, 0 for sub-byte types */
    int supported;
    simrep_dtype dtype;
} st_dtype;

static const st_dtype st_dtypes[] = {
    {"F16", 2, 1, SIMREP_F16},     {"BF16", 2, 1, SIMREP_BF16},  {"F32", 4, 1, SIMREP_F32},
    {"F64", 8, 1, SIMREP_F64},     {"BOOL", 1, 0, SIMREP_F32},   {"U8", 1, 0, SIMREP_F32},
    {"I8", 1, 0, SIMREP_F32},      {"I16", 2, 0, SIMREP_F32},    {"U16", 2, 0, SIMREP_F32},
    {"I32", 4, 0, SIMREP_F32},     {"U32", 4, 0, SIMREP_F32},    {"I64", 8, 0, SIMREP_F32},
    {"U64", 8, 0, SIMREP_F32},     {"F8_E5M2", 1, 0, SIMREP_F32}, {"F8_E4M3", 1, 0, SIMREP_F32},
    {"F8_E8M0", 1, 0, SIMREP_F32}, {"C64", 8, 0, SIMREP_F32},
};

/* One tensor entry (the value after its name). */
static simrep_status parse_tensor(json *j, uint64_t data_len, uint64_t data_base, simrep_array_info *info)
{
    simrep_status st = jexpect(j, '{', "expected a tensor object");
    if (st)
        return st;
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    int64_t offsets[2] = {0, 0};
    int noff = 0, itemsize = 0;
    if (jpeek(j, '}'))
        return jfail(j, "empty tensor object");
    for (;;) {
        char *key;
        size_t klen;
        if ((st = jstring(j, &key, &klen)) || (st = jexpect(j, ':', "expected ':'")))
            return st;
        if (strcmp(key, "dtype") == 0) {
            char *d;
            size_t dlen;
            if (have_dtype++)
                return jfail(j, "duplicate \"dtype\"");
            if ((st = jstring(j, &d, &dlen)))
                return st;
            snprintf(info->dtype_text, sizeof info->dtype_text, "%s", d);
            for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
                if (strcmp(d, st_dtypes[i].name) == 0) {
                    itemsize = st_dtypes[i].size;
                    info->dtype_supported = st_dtypes[i].supported;
                    info->dtype = st_dtypes[i].dtype;
                }
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++)
                return jfail(j, "duplicate \"shape\"");
            if ((st = juint_array(j, "\"shape\"", info->shape, SIMREP_MAX_NDIM, &info->ndim)))
                return st;
        } else if (strcmp(key, "data_offsets") == 0) {
            if (have_offsets++)
                return jfail(j, "duplicate \"data_offsets\"");
            if ((st = juint_array(j, "\"data_offsets\"", offsets, 2, &noff)))
                return st;
            if (noff != 2)
                return simrep__fail(j->ctx, SIMREP_E_FORMAT,
                                    "%s: safetensors header: \"data_offsets\" must have 2 entries, not %d", j->label,
                                    noff);
        } else if ((st = jskip(j, 2))) {
            return st;
        }
        if (jpeek(j, ',')) {
            j->p++;
            continue;
        }
        if ((st = jexpect(j, '}', "expected ',' or '}'")))
            return st;
        break;
    }
    if (!have_dtype || !have_shape || !have_offsets)
        return simrep__fail(j->ctx, SIMREP_E_FORMAT, "%s: safetensors header: tensor '%s' has no \"%s\"", j->label,
                            info->name, !have_dtype ? "dtype" : !have_shape ? "shape" : "data_offsets");
    uint64_t begin = (uint64_t)offsets[0], end = (uint64_t)offsets[1];
    if (begin > end || end > data_len)
        return simrep__fail(j->ctx, SIMREP_E_FORMAT,
                            "%s: tensor '%s' has data_offsets [%llu, %llu] outside the data section (%llu bytes)",
                            j->label, info->name, (unsigned long long)begin, (unsigned long long)end,
                            (unsigned long long)data_len);
    info->data_offset = data_base + begin;
    info->data_size = end - begin;
    if (itemsize) {
        int64_t count = 1, bytes;
        char shape[256];
        simrep__format_shape(info, shape, sizeof shape);
        for (int i = 0; i < info->ndim; i++)
            if (!simrep__mul_i64(count, info->shape[i], &count))
                return simrep__fail(j->ctx, SIMREP_E_FORMAT, "%s: tensor '%s' shape %s overflows 64 bits", j->label,
                                    info->name, shape);
        if (!simrep__mul_i64(count, itemsize, &bytes) || (uint64_t)bytes != end - begin)
            return simrep__fail(j->ctx, SIMREP_E_FORMAT,
                                "%s: tensor '%s' shape %s of %s needs %s%lld bytes but data_offsets [%llu, %llu] "
                                "hold %llu",
                                j->label, info->name, shape, info->dtype_text, bytes < 0 ? "over " : "",
                                (long long)(bytes < 0 ? INT64_MAX : bytes), (unsigned long long)begin,
                                (unsigned long long)end, (unsigned long long)(end - begin));
    }
    return SIMREP_OK;
}

/* name: the tensor's whole name (info->name may be shortened). */
typedef int (*st_visit)(void *user, const simrep_array_info *info, const char *name, size_t nlen);

/* Parse the header of rd; call visit for each tensor until it returns 0. */
static simrep_status parse_file(simrep_ctx *ctx, const simrep__reader *rd, st_visit visit, void *user)
{
    const char *label = rd->label;
    if (rd->size == 0)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: empty (0 bytes); not a .safetensors file", label);
    if (rd->size < 8)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: not a .safetensors file: %llu bytes is too short for the 8-byte header length", label,
                            (unsigned long long)rd->size);
    unsigned char h[8];
    simrep_status st = simrep__reader_read(ctx, rd, 0, h, 8);
    if (st)
        return st;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | h[i];
    if (n > rd->size - 8)
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: not a valid .safetensors file: header length %llu goes beyond the end of the file "
                            "(%llu bytes)",
                            label, (unsigned long long)n, (unsigned long long)rd->size);
    if (n > ST_HEADER_MAX)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: safetensors header length %llu exceeds the limit of %llu bytes",
                            label, (unsigned long long)n, ST_HEADER_MAX);
    if (n < 2)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: safetensors header of %llu bytes is too short", label,
                            (unsigned long long)n);
    char *text = simrep__alloc(ctx, (size_t)n + 1, "the safetensors header");
    if (!text)
        return simrep__prefix(ctx, "%s", label);
    if ((st = simrep__reader_read(ctx, rd, 8, text, (size_t)n))) {
        simrep__free(ctx, text);
        return st;
    }
    text[n] = '\0';
    json j = {ctx, label, text, text, text + n};
    uint64_t data_base = 8 + n, data_len = rd->size - data_base;
    int go = 1;
    if (!jpeek(&j, '{')) {
        st = simrep__fail(ctx, SIMREP_E_FORMAT, "%s: not a .safetensors file: the header is not a JSON object", label);
        goto done;
    }
    j.p++;
    if (jpeek(&j, '}')) {
        j.p++;
    } else {
        for (;;) {
            char *name;
            size_t nlen;
            if ((st = jstring(&j, &name, &nlen)) || (st = jexpect(&j, ':', "expected ':'")))
                goto done;
            if (strcmp(name, "__metadata__") == 0) {
                if (!jpeek(&j, '{')) {
                    st = jfail(&j, "__metadata__ is not an object");
                    goto done;
                }
                if ((st = jskip(&j, 1)))
                    goto done;
            } else {
                simrep_array_info info;
                memset(&info, 0, sizeof info);
                if (nlen < SIMREP_NAME_MAX)
                    memcpy(info.name, name, nlen + 1);
                else /* shortened (simrep.h, SIMREP_NAME_SHOWN) */
                    snprintf(info.name, sizeof info.name, "%.*s...", SIMREP_NAME_SHOWN, name);
                info.name_len = (int64_t)nlen;
                if ((st = parse_tensor(&j, data_len, data_base, &info)))
                    goto done;
                if (go)
                    go = visit(user, &info, name, nlen);
            }
            if (jpeek(&j, ',')) {
                j.p++;
                continue;
            }
            if ((st = jexpect(&j, '}', "expected ',' or '}'")))
                goto done;
            break;
        }
    }
    jws(&j);
    if (j.p != j.end)
        st = jfail(&j, "junk after the closing '}'");
done:
    simrep__free(ctx, text);
    return st;
}

typedef struct list_state {
    simrep_array_info *infos;
    int cap, count;
} list_state;

static int list_visit(void *user, const simrep_array_info *info, const char *name, size_t nlen)
{
    (void)name, (void)nlen;
    list_state *ls = user;
    if (ls->count < ls->cap)
        ls->infos[ls->count] = *info;
    if (ls->count < INT32_MAX)
        ls->count++;
    return 1;
}

simrep_status simrep__st_list(simrep_ctx *ctx, const simrep__reader *rd, simrep_array_info *infos, int cap,
                              int *count)
{
    list_state ls = {infos, cap, 0};
    simrep_status st = parse_file(ctx, rd, list_visit, &ls);
    *count = st ? 0 : ls.count;
    return st;
}

typedef struct find_state {
    const char *name;
    simrep_array_info found;
    int nfound, n;
    char names[512];
} find_state;

static int find_visit(void *user, const simrep_array_info *info, const char *name, size_t nlen)
{
    find_state *fs = user;
    /* the whole name, or a long name's shown form (simrep.h) */
    const int match = !fs->name || (strlen(fs->name) == nlen && memcmp(fs->name, name, nlen) == 0) ||
                      (nlen >= SIMREP_NAME_MAX && strcmp(fs->name, info->name) == 0);
    if (match && fs->nfound++ == 0)
        fs->found = *info;
    simrep__name_list_add(fs->names, sizeof fs->names, fs->n++, info->name);
    return 1;
}

simrep_status simrep__st_open(simrep_ctx *ctx, const simrep__reader *rd, const char *name, simrep_array_info *info)
{
    find_state fs;
    memset(&fs, 0, sizeof fs);
    fs.name = name;
    simrep_status st = parse_file(ctx, rd, find_visit, &fs);
    if (st)
        return st;
    if (fs.n == 0)
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%s: the file holds no tensors", rd->label);
    if (name && fs.nfound == 0)
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%s: no tensor '%s' in the file; it holds %s", rd->label, name,
                            fs.names);
    if (name && fs.nfound > 1 && strlen(name) == SIMREP_NAME_SHOWN + 3 && fs.found.name_len >= SIMREP_NAME_MAX)
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%s: '%s' names %d tensors whose long names start alike; give "
                            "the whole name", rd->label, name, fs.nfound);
    if (name && fs.nfound > 1)
        return simrep__fail(ctx, SIMREP_E_FORMAT, "%s: malformed safetensors header: tensor '%.300s' appears %d times",
                            rd->label, name, fs.nfound);
    if (!name && fs.n > 1)
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%s: the file holds %d tensors (%s); name one as %s:NAME",
                            rd->label, fs.n, fs.names, rd->label);
    *info = fs.found;
    return SIMREP_OK;
}
