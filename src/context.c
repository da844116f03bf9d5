/*
 * context.c: status strings, the context (detailed message + allocator),
 * checked allocation and size arithmetic, options defaults and dtype
 * helpers: the plumbing every other file uses.
 *
 * The split between a static string per status (simrep_strerror) and a
 * detailed message per context (simrep_ctx_message) follows SQLite's
 * errcode/errmsg.  There is no global state: the allocator lives in the
 * context, so two callers in one process can use different allocators and a
 * test can fail the k-th allocation of one call.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *simrep_version(void)
{
    return SIMREP_VERSION;
}

size_t simrep_struct_size(const char *name)
{
    static const struct {
        const char *name;
        size_t size;
    } sizes[] = {
        {"simrep_result", sizeof(simrep_result)},         {"simrep_options", sizeof(simrep_options)},
        {"simrep_matrix", sizeof(simrep_matrix)},         {"simrep_array_info", sizeof(simrep_array_info)},
        {"simrep_cca_details", sizeof(simrep_cca_details)}, {"simrep_layout", sizeof(simrep_layout)},
        {"simrep_input_dims", sizeof(simrep_input_dims)}, {"simrep_measure_info", sizeof(simrep_measure_info)},
        {"simrep_error_info", sizeof(simrep_error_info)},
        {"simrep_option_info", sizeof(simrep_option_info)},
        {"simrep_linkage", sizeof(simrep_linkage)},       {"simrep_figure", sizeof(simrep_figure)},
        {"simrep_heatmap", sizeof(simrep_heatmap)},       {"simrep_scatter", sizeof(simrep_scatter)},
        {"simrep_bars", sizeof(simrep_bars)},             {"simrep_lines", sizeof(simrep_lines)},
        {"simrep_rank_options", sizeof(simrep_rank_options)}, {"simrep_rank_result", sizeof(simrep_rank_result)},
        {"simrep_stats_options", sizeof(simrep_stats_options)}, {"simrep_stats_info", sizeof(simrep_stats_info)},
        {"simrep_stats_result", sizeof(simrep_stats_result)}, {"simrep_group_test", sizeof(simrep_group_test)},
    };
    for (size_t i = 0; name && i < sizeof sizes / sizeof sizes[0]; i++)
        if (strcmp(sizes[i].name, name) == 0)
            return sizes[i].size;
    return 0;
}

const char *simrep_strerror(simrep_status status)
{
    switch (status) {
    case SIMREP_OK: return "success";
    case SIMREP_E_NOMEM: return "out of memory";
    case SIMREP_E_INVALID: return "invalid argument";
    case SIMREP_E_IO: return "input/output error";
    case SIMREP_E_FORMAT: return "malformed file";
    case SIMREP_E_UNSUPPORTED: return "unsupported content";
    case SIMREP_E_SHAPE: return "shape mismatch";
    case SIMREP_E_NONFINITE: return "NaN or Inf in the data";
    case SIMREP_E_DEGENERATE: return "measure undefined for these data";
    case SIMREP_E_NUMERIC: return "numerical failure";
    case SIMREP_E_NOTFOUND: return "array not found";
    case SIMREP_E_CANCELLED: return "cancelled";
    }
    return "unknown status";
}

static void *default_malloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

int simrep__ctx_threads_ok(const simrep_ctx *ctx)
{
    return ctx && ctx->allocator.malloc_fn == default_malloc && ctx->allocator.free_fn == default_free &&
           ctx->fault.nth == 0;
}

simrep_ctx *simrep_ctx_new(const simrep_allocator *allocator)
{
    simrep_allocator a = {default_malloc, default_free, NULL};
    if (allocator && allocator->malloc_fn && allocator->free_fn)
        a = *allocator;
    simrep_ctx *ctx = a.malloc_fn(a.user, sizeof *ctx);
    if (!ctx)
        return NULL;
    memset(ctx, 0, sizeof *ctx);
    ctx->allocator = a;
    ctx->pair_input[0] = ctx->pair_input[1] = -1;
    ctx->err_input = -1;
    ctx->err_row = ctx->err_col = -1;
    /* The tests' LAPACK faults (simrep__ctx_fail_lapack) for the callers
     * the tests cannot reach inside: the CLI and the Python package. */
    simrep__ctx_fail_lapack(ctx, getenv("SIMREP_TEST_FAIL_LAPACK"));
    return ctx;
}

int simrep__ctx_fail_lapack(simrep_ctx *ctx, const char *spec)
{
    if (!ctx)
        return 0;
    memset(&ctx->fault, 0, sizeof ctx->fault);
    if (!spec || !*spec)
        return 1;
    char routine[sizeof ctx->fault.routine] = "";
    long long m = 0, n = 0, nth = 0;
    size_t len = strcspn(spec, ":#");
    if (len == 0 || len >= sizeof routine)
        return 0;
    memcpy(routine, spec, len);
    routine[len] = 0;
    if (strcmp(routine, "*") != 0 && strcmp(routine, "dsyevd") != 0 && strcmp(routine, "dgesdd") != 0 &&
        strcmp(routine, "dpotrf") != 0)
        return 0;
    const char *at = spec + len;
    char *end;
    if (*at == ':') {
        m = n = strtoll(at + 1, &end, 10);
        if (*end == 'x')
            n = strtoll(end + 1, &end, 10);
        at = end;
    }
    if (*at == '#') {
        nth = strtoll(at + 1, &end, 10);
        at = end;
        if (nth <= 0)
            return 0;
    }
    if (*at || m < 0 || n < 0)
        return 0;
    memcpy(ctx->fault.routine, routine, sizeof routine);
    ctx->fault.m = m, ctx->fault.n = n, ctx->fault.nth = (long)nth;
    return 1;
}

int simrep__fault_lapack(simrep_ctx *ctx, const char *routine, int64_t m, int64_t n)
{
    if (!ctx || !ctx->fault.routine[0])
        return 0;
    if ((strcmp(ctx->fault.routine, "*") != 0 && strcmp(ctx->fault.routine, routine) != 0) ||
        (ctx->fault.m && ctx->fault.m != m) || (ctx->fault.n && ctx->fault.n != n))
        return 0;
    if (ctx->fault.nth == 0)
        return 1;
    simrep_ctx *root = ctx->fault_root ? ctx->fault_root : ctx;
    return ++root->fault.seen == ctx->fault.nth;
}

void simrep_ctx_free(simrep_ctx *ctx)
{
    if (ctx)
        ctx->allocator.free_fn(ctx->allocator.user, ctx);
}

const char *simrep_ctx_message(const simrep_ctx *ctx)
{
    return ctx ? ctx->message : "";
}

simrep_status simrep_ctx_status(const simrep_ctx *ctx)
{
    return ctx ? ctx->status : SIMREP_OK;
}

void simrep_ctx_set_progress(simrep_ctx *ctx, simrep_progress_fn fn, void *user)
{
    if (!ctx)
        return;
    ctx->progress = fn;
    ctx->progress_user = user;
}

void simrep_ctx_set_cancel(simrep_ctx *ctx, const int *flag)
{
    if (ctx)
        ctx->cancel = flag;
}

simrep_status simrep__cancelled(simrep_ctx *ctx)
{
    return simrep__fail(ctx, SIMREP_E_CANCELLED, "cancelled");
}

void simrep_ctx_set_partition(simrep_ctx *ctx, int part, int parts, simrep_allreduce_fn allreduce, void *user)
{
    if (!ctx)
        return;
    if (parts <= 1 || !allreduce || part < 0 || part >= parts)
        part = 0, parts = 1, allreduce = NULL, user = NULL;
    ctx->part = part;
    ctx->parts = parts;
    ctx->allreduce = allreduce;
    ctx->allreduce_user = user;
}

static void error_reset(simrep_ctx *ctx)
{
    ctx->err_input = -1;
    ctx->err_file[0] = 0;
    ctx->err_b0 = ctx->err_b1 = 0;
    ctx->err_row = ctx->err_col = -1;
    ctx->err_detail = 0;
    ctx->err_option = NULL;
}

static simrep_status vfail(simrep_ctx *ctx, simrep_status status, const char *name, const char *fmt, va_list ap)
{
    size_t at = 0;
    if (name)
        at = (size_t)snprintf(ctx->message, sizeof ctx->message, "%s: ", name);
    at = at < sizeof ctx->message ? at : sizeof ctx->message - 1;
    vsnprintf(ctx->message + at, sizeof ctx->message - at, fmt, ap);
    ctx->status = status;
    error_reset(ctx);
    ctx->err_detail = at;
    return status;
}

simrep_status simrep__fail(simrep_ctx *ctx, simrep_status status, const char *fmt, ...)
{
    if (!ctx)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vfail(ctx, status, NULL, fmt, ap);
    va_end(ap);
    return status;
}

const char *simrep__input_name(const simrep_ctx *ctx, int input, int inputs, char *buf, size_t cap)
{
    if (ctx && ctx->names && input >= 0 && input < ctx->nnames && ctx->names[input])
        snprintf(buf, cap, "%s", ctx->names[input]);
    else if (inputs == 2)
        snprintf(buf, cap, "%s", input == 0 ? "x" : "y");
    else
        snprintf(buf, cap, "input %d", input);
    return buf;
}

/* The name simrep__fail_side gives side 0 (x) or 1 (y), and the input it
 * is: within a pair of a simrep_pairs, input i or j, by the caller's name
 * of that input, else x or y. */
static int side_input(const simrep_ctx *ctx, int side, char *name, size_t cap)
{
    const int input = ctx->pair_input[side] >= 0 ? ctx->pair_input[side] : side;
    if (ctx->names && input < ctx->nnames)
        simrep__input_name(ctx, input, 0, name, cap);
    else
        snprintf(name, cap, "%s", side == 0 ? "x" : "y");
    return input;
}

simrep_status simrep__fail_input(simrep_ctx *ctx, simrep_status status, int input, int inputs, const char *fmt, ...)
{
    if (!ctx)
        return status;
    char name[SIMREP__MSG_MAX / 4];
    const int at = inputs > 0 ? input : side_input(ctx, input, name, sizeof name);
    if (inputs > 0)
        simrep__input_name(ctx, input, inputs, name, sizeof name);
    va_list ap;
    va_start(ap, fmt);
    vfail(ctx, status, name, fmt, ap);
    va_end(ap);
    ctx->err_input = at;
    return status;
}

simrep_status simrep__fail_rows(simrep_ctx *ctx, int j, int inputs, int64_t n0, int64_t nj, const char *what)
{
    if (!ctx)
        return SIMREP_E_SHAPE;
    char a[SIMREP__MSG_MAX / 4], b[SIMREP__MSG_MAX / 4];
    simrep__fail(ctx, SIMREP_E_SHAPE, "%s has %lld %s but %s has %lld", simrep__input_name(ctx, 0, inputs, a, sizeof a),
                 (long long)n0, what, simrep__input_name(ctx, j, inputs, b, sizeof b), (long long)nj);
    ctx->err_input = j;
    return SIMREP_E_SHAPE;
}

void simrep__ctx_child(simrep_ctx *child, const simrep_ctx *parent)
{
    memset(child, 0, sizeof *child);
    child->allocator = parent->allocator;
    child->names = parent->names;
    child->nnames = parent->nnames;
    child->pair_input[0] = parent->pair_input[0];
    child->pair_input[1] = parent->pair_input[1];
    child->fault = parent->fault;
    child->fault_root = parent->fault_root ? parent->fault_root : (simrep_ctx *)parent;
    error_reset(child);
}

void simrep__error_copy(simrep_ctx *dst, const simrep_ctx *src)
{
    if (!dst)
        return;
    dst->status = src->status;
    memcpy(dst->message, src->message, sizeof dst->message);
    dst->err_input = src->err_input;
    memcpy(dst->err_file, src->err_file, sizeof dst->err_file);
    dst->err_b0 = src->err_b0, dst->err_b1 = src->err_b1;
    dst->err_row = src->err_row, dst->err_col = src->err_col;
    dst->err_detail = src->err_detail;
    dst->err_option = src->err_option;
}

simrep_status simrep__blame_input(simrep_ctx *ctx, int input, int inputs)
{
    if (!ctx || ctx->status == SIMREP_OK || ctx->status == SIMREP_E_CANCELLED || ctx->err_input >= 0)
        return ctx ? ctx->status : SIMREP_E_INVALID;
    char name[SIMREP__MSG_MAX / 4];
    simrep__prefix(ctx, "%s", simrep__input_name(ctx, input, inputs, name, sizeof name));
    ctx->err_input = input;
    return ctx->status;
}

void simrep__error_file(simrep_ctx *ctx, const char *file, uint64_t begin, uint64_t end)
{
    if (!ctx)
        return;
    if (file && !ctx->err_file[0])
        snprintf(ctx->err_file, sizeof ctx->err_file, "%s", file);
    if (end > begin && ctx->err_b1 == 0) {
        ctx->err_b0 = begin;
        ctx->err_b1 = end;
    }
}

void simrep__error_cell(simrep_ctx *ctx, int64_t row, int64_t column)
{
    if (ctx) {
        ctx->err_row = row;
        ctx->err_col = column;
    }
}

simrep_status simrep__error_option(simrep_ctx *ctx, const char *option)
{
    if (!ctx)
        return SIMREP_E_INVALID;
    ctx->err_option = option;
    return ctx->status;
}

void simrep_ctx_set_names(simrep_ctx *ctx, const char *const *names, int count)
{
    if (!ctx)
        return;
    ctx->names = count > 0 ? names : NULL;
    ctx->nnames = names ? count : 0;
}

void simrep_ctx_error(const simrep_ctx *ctx, simrep_error_info *info)
{
    memset(info, 0, sizeof *info);
    info->input = -1;
    info->row = info->column = -1;
    info->file = "";
    info->detail = "";
    info->option = "";
    if (!ctx || ctx->status == SIMREP_OK)
        return;
    info->status = ctx->status;
    info->input = ctx->err_input;
    info->file = ctx->err_file;
    info->byte_begin = ctx->err_b0;
    info->byte_end = ctx->err_b1;
    info->row = ctx->err_row;
    info->column = ctx->err_col;
    info->option = ctx->err_option ? ctx->err_option : "";
    info->detail = ctx->message + (ctx->err_detail < strlen(ctx->message) ? ctx->err_detail : strlen(ctx->message));
}

simrep_status simrep__prefix(simrep_ctx *ctx, const char *fmt, ...)
{
    if (!ctx)
        return SIMREP_E_INVALID;
    char prefix[SIMREP__MSG_MAX];
    char old[SIMREP__MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, ctx->message, sizeof old);
    size_t len = strlen(prefix);
    if (len > sizeof ctx->message - 3)
        len = sizeof ctx->message - 3;
    memcpy(ctx->message, prefix, len);
    memcpy(ctx->message + len, ": ", 2);
    size_t rest = sizeof ctx->message - len - 3;
    size_t olen = strnlen(old, rest);
    memcpy(ctx->message + len + 2, old, olen);
    ctx->message[len + 2 + olen] = '\0';
    ctx->err_detail += len + 2; /* the detail is still what followed */
    return ctx->status;
}

void *simrep__alloc(simrep_ctx *ctx, size_t size, const char *what)
{
    void *p = ctx->allocator.malloc_fn(ctx->allocator.user, size ? size : 1);
    if (!p)
        simrep__fail(ctx, SIMREP_E_NOMEM, "out of memory allocating %zu bytes for %s", size, what);
    return p;
}

void *simrep__alloc_array(simrep_ctx *ctx, size_t count, size_t size, const char *what)
{
    size_t total;
    if (!simrep__mul_size(count, size, &total)) {
        simrep__fail(ctx, SIMREP_E_NOMEM, "size of %s overflows (%zu x %zu bytes)", what, count, size);
        return NULL;
    }
    return simrep__alloc(ctx, total, what);
}

void *simrep__calloc_array(simrep_ctx *ctx, size_t count, size_t size, const char *what)
{
    void *p = simrep__alloc_array(ctx, count, size, what);
    if (p)
        memset(p, 0, count * size);
    return p;
}

void simrep__free(simrep_ctx *ctx, void *ptr)
{
    if (ptr)
        ctx->allocator.free_fn(ctx->allocator.user, ptr);
}

int simrep__mul_i64(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0)
        return 0;
    if (a != 0 && b > INT64_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

int simrep__mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 0;
    *out = a * b;
    return 1;
}

size_t simrep_dtype_size(simrep_dtype d)
{
    switch (d) {
    case SIMREP_F16:
    case SIMREP_BF16: return 2;
    case SIMREP_F32: return 4;
    case SIMREP_F64: return 8;
    }
    return 0;
}

const char *simrep_dtype_name(simrep_dtype d)
{
    switch (d) {
    case SIMREP_F16: return "float16";
    case SIMREP_BF16: return "bfloat16";
    case SIMREP_F32: return "float32";
    case SIMREP_F64: return "float64";
    }
    return "unknown";
}

simrep_matrix simrep_matrix_c(const void *data, simrep_dtype dtype, int64_t rows, int64_t cols)
{
    simrep_matrix m = {data, dtype, rows, cols, cols, 1};
    return m;
}

double simrep__f16_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp((double)frac, -24); /* subnormal: frac * 2^-24 */
    else if (exp == 31)
        v = frac ? NAN : INFINITY;
    else
        v = ldexp((double)(frac | 0x400), exp - 25);
    return sign ? -v : v;
}

double simrep__bf16_to_double(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return (double)f;
}

void simrep__rows_to_double(const simrep_matrix *m, int64_t row0, int64_t rows, double *dst, int64_t ld)
{
    const int64_t cols = m->cols;
    if (m->dtype == SIMREP_F32 && m->col_stride == 1) {
        for (int64_t i = 0; i < rows; i++) {
            const float *src = (const float *)m->data + (row0 + i) * m->row_stride;
            double *d = dst + i * ld;
            for (int64_t j = 0; j < cols; j++)
                d[j] = (double)src[j];
        }
        return;
    }
    if (m->dtype == SIMREP_F64 && m->col_stride == 1) {
        for (int64_t i = 0; i < rows; i++)
            memcpy(dst + i * ld, (const double *)m->data + (row0 + i) * m->row_stride,
                   (size_t)cols * sizeof(double));
        return;
    }
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            dst[i * ld + j] = simrep__element(m, row0 + i, j);
}

void simrep_matrix_to_double(const simrep_matrix *m, double *dst, int64_t ld)
{
    simrep__rows_to_double(m, 0, m->rows, dst, ld);
}

simrep_status simrep__check_matrix(simrep_ctx *ctx, const simrep_matrix *m, const char *name)
{
    if (!m || (!m->data && m->rows > 0 && m->cols > 0))
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: no data", name);
    if (m->dtype < SIMREP_F16 || m->dtype > SIMREP_F64)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: unknown dtype %d", name, (int)m->dtype);
    if (m->rows < 0 || m->cols < 0 || m->row_stride < 0 || m->col_stride < 0)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: negative size or stride", name);
    return SIMREP_OK;
}

simrep_status simrep__check_xy(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y, const char *rows_what)
{
    char name[SIMREP__MSG_MAX / 4];
    const simrep_matrix *m[2] = {x, y};
    for (int s = 0; s < 2; s++) {
        simrep_status st = simrep__check_matrix(ctx, m[s], simrep__input_name(ctx, s, 2, name, sizeof name));
        if (st != SIMREP_OK) {
            if (ctx)
                ctx->err_input = s;
            return st;
        }
    }
    if (rows_what && x->rows != y->rows)
        return simrep__fail_rows(ctx, 1, 2, x->rows, y->rows, rows_what);
    return SIMREP_OK;
}
