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
    return ctx && ctx->allocator.malloc_fn == default_malloc && ctx->allocator.free_fn == default_free;
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
    return ctx;
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

simrep_status simrep__fail(simrep_ctx *ctx, simrep_status status, const char *fmt, ...)
{
    if (!ctx)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    ctx->status = status;
    return status;
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
