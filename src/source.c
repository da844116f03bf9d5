/*
 * source.c: the public input API: spec strings ("path", "x.npz:key",
 * "m.safetensors:name"), format choice, and the block reader that turns an
 * opened array into samples x features views.  It sits on top: it opens
 * files through the byte layer (bytes.c) and hands them to the format
 * parsers (io_npy.c, io_npz.c, io_safetensors.c), which read through the
 * same layer and never call back here (tests/python/test_layers.py).
 *
 * Reading is pread on a descriptor (or memcpy from a caller's buffer, the
 * same code path otherwise; bytes.c), and resident memory is the
 * one block buffer the source owns.  A block of samples is either
 * contiguous in the file (C order read samples-first, Fortran order read
 * features-first) and costs one read, or it is one run of `rows` elements
 * per feature (the other two cases), gathered with one read per feature into
 * a column-major view.  The only per-element work is the byteswap of
 * big-endian files; conversion to double is left to the consumer, which
 * does it anyway (simrep__rows_to_double).
 *
 * Deflated .npz members cannot seek: forward reads continue the inflate
 * stream, a backward read restarts it, and a gathered layout spills the
 * member once to an anonymous temporary file (bytes.c's inflater).
 *
 * A spec is split at its last ':' only when the part before it ends in
 * .npz or .safetensors, so other paths containing ':' still open as-is.
 * Unknown extensions are sniffed by magic.  Every message starts with the
 * path (or "<buffer>"), then the key for archive members.
 */
#include "io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct simrep_source {
    simrep__reader rd;
    simrep__stream st;
    simrep_array_info info;
    char path[4096];
    char label[4096 + SIMREP_NAME_MAX + 8];
    uint64_t data_start; /* offset of the array data in st */
    int features_first;
    int flat; /* simrep_source_set_flat: shape[0] x prod(shape[1:]) */
    unsigned char *buf;
    size_t cap;
};

/* Make sure the message of a failed call starts with label (allocation
 * failures deep in a parser only say what was being allocated). */
static simrep_status named(simrep_ctx *ctx, simrep_status st, const char *label)
{
    if (st != SIMREP_OK && ctx && strncmp(ctx->message, label, strlen(label)) != 0)
        simrep__prefix(ctx, "%s", label);
    if (st != SIMREP_OK && ctx) {
        simrep__error_file(ctx, label, 0, 0);
        if (ctx->err_detail == 0 && strncmp(ctx->message, label, strlen(label)) == 0 &&
            strncmp(ctx->message + strlen(label), ": ", 2) == 0)
            ctx->err_detail = strlen(label) + 2; /* a message that began with the label itself */
    }
    return st;
}

static int ends_with(const char *s, size_t len, const char *ext)
{
    size_t n = strlen(ext);
    if (len < n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[len - n + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c != ext[i])
            return 0;
    }
    return 1;
}

static int format_of(const char *path, size_t len)
{
    if (ends_with(path, len, ".npy"))
        return SIMREP_FORMAT_NPY;
    if (ends_with(path, len, ".npz"))
        return SIMREP_FORMAT_NPZ;
    if (ends_with(path, len, ".safetensors"))
        return SIMREP_FORMAT_SAFETENSORS;
    return -1;
}

size_t simrep__split_spec(const char *spec, const char **key)
{
    *key = NULL;
    const char *colon = strrchr(spec, ':');
    if (colon) {
        size_t len = (size_t)(colon - spec);
        int f = format_of(spec, len);
        if (f == SIMREP_FORMAT_NPZ || f == SIMREP_FORMAT_SAFETENSORS) {
            *key = colon + 1;
            return len;
        }
    }
    return strlen(spec);
}

int simrep_format_from_path(const char *path)
{
    if (!path)
        return -1;
    const char *key;
    size_t len = simrep__split_spec(path, &key);
    return format_of(path, len);
}

static simrep_status sniff(simrep_ctx *ctx, const simrep__reader *rd, int *format)
{
    unsigned char head[9];
    size_t n = rd->size < sizeof head ? (size_t)rd->size : sizeof head;
    simrep_status st = simrep__reader_read(ctx, rd, 0, head, n);
    if (st)
        return st;
    if (n >= 6 && memcmp(head, "\x93NUMPY", 6) == 0)
        *format = SIMREP_FORMAT_NPY;
    else if (n >= 4 && (memcmp(head, "PK\x03\x04", 4) == 0 || memcmp(head, "PK\x05\x06", 4) == 0))
        *format = SIMREP_FORMAT_NPZ;
    else if (n == 9 && head[8] == '{')
        *format = SIMREP_FORMAT_SAFETENSORS;
    else
        return simrep__fail(ctx, SIMREP_E_FORMAT,
                            "%s: unknown extension and the content is not .npy, .npz or .safetensors "
                            "(simrep chooses the format by the extension .npy, .npz or .safetensors)",
                            rd->label);
    return SIMREP_OK;
}

/* The data of a .npy file must fit in it (trailing bytes are allowed, as
 * numpy allows them). */
static simrep_status npy_check_fit(simrep_ctx *ctx, const simrep__reader *rd, const simrep_array_info *info)
{
    uint64_t have = rd->size - info->data_offset;
    if (info->data_size <= have)
        return SIMREP_OK;
    char shape[256];
    simrep__format_shape(info, shape, sizeof shape);
    simrep__fail(ctx, SIMREP_E_FORMAT,
                 "%s: truncated: header claims shape %s %s = %llu bytes but the file has %llu bytes of data",
                 rd->label, shape, info->dtype_supported ? simrep_dtype_name(info->dtype) : info->dtype_text,
                 (unsigned long long)info->data_size, (unsigned long long)have);
    /* The bytes the header promises and the file lacks. */
    return simrep__reader_failed(ctx, rd, SIMREP_E_FORMAT, rd->size, (size_t)(info->data_size - have));
}

static simrep_status list_reader(simrep_ctx *ctx, const simrep__reader *rd, int format, simrep_array_info *infos,
                                 int cap, int *count)
{
    *count = 0;
    if (format == SIMREP_FORMAT_NPY) {
        simrep__stream s = {rd, 0, rd->size, NULL, rd->label};
        simrep_array_info info;
        uint64_t start;
        memset(&info, 0, sizeof info);
        simrep_status st = simrep__npy_parse(ctx, &s, &info, &start);
        if (st)
            return st;
        info.data_offset = start;
        if ((st = npy_check_fit(ctx, rd, &info)))
            return st;
        *count = 1;
        if (cap > 0 && infos)
            infos[0] = info;
        return SIMREP_OK;
    }
    if (format == SIMREP_FORMAT_NPZ)
        return simrep__npz_list(ctx, rd, infos, cap, count);
    return simrep__st_list(ctx, rd, infos, cap, count);
}

simrep_status simrep_file_list(simrep_ctx *ctx, const char *path, simrep_array_info *infos, int cap, int *count)
{
    if (!ctx || !path || !count || cap < 0 || (cap > 0 && !infos))
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_file_list: invalid arguments");
    *count = 0;
    simrep__reader rd;
    simrep_status st = simrep__reader_open_file(ctx, path, path, &rd);
    if (st)
        return st;
    int format = format_of(path, strlen(path));
    if (format < 0)
        st = sniff(ctx, &rd, &format);
    if (st == SIMREP_OK)
        st = list_reader(ctx, &rd, format, infos, cap, count);
    simrep__reader_close(&rd);
    return named(ctx, st, path);
}

simrep_status simrep_buffer_list(simrep_ctx *ctx, const void *buf, size_t len, simrep_format format,
                                 simrep_array_info *infos, int cap, int *count)
{
    if (!ctx || (!buf && len) || !count || cap < 0 || (cap > 0 && !infos) || (int)format < 0 ||
        format > SIMREP_FORMAT_SAFETENSORS)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_buffer_list: invalid arguments");
    simrep__reader rd = {.fd = -1, .mem = buf, .size = len, .label = SIMREP__BUFFER_LABEL};
    return named(ctx, list_reader(ctx, &rd, format, infos, cap, count), SIMREP__BUFFER_LABEL);
}

/* ---------------------------------------------------------------- source */

static const char *dtype_hint(int format)
{
    return format == SIMREP_FORMAT_SAFETENSORS ? "F16, BF16, F32 and F64; convert with tensor.float()"
                                               : "float16, float32 and float64 (and bfloat16 in .safetensors); "
                                                 "convert with arr.astype(np.float32)";
}

static simrep_status unsupported_dtype(simrep_ctx *ctx, const simrep_source *src, int format)
{
    char buf[64];
    const char *kind = format == SIMREP_FORMAT_SAFETENSORS ? NULL
                                                           : simrep__npy_kind_name(src->info.dtype_text, buf, sizeof buf);
    if (kind)
        return simrep__fail(ctx, SIMREP_E_UNSUPPORTED, "%s: dtype %s (%s) is not supported; simrep reads %s",
                            src->label, src->info.dtype_text, kind, dtype_hint(format));
    return simrep__fail(ctx, SIMREP_E_UNSUPPORTED, "%s: dtype %s is not supported; simrep reads %s", src->label,
                        src->info.dtype_text, dtype_hint(format));
}

/* Open the array in src->rd (already set up) with key; any_dtype keeps
 * arrays of dtypes the block reader does not convert (masks read them raw). */
static simrep_status open_array(simrep_ctx *ctx, simrep_source *src, int format, const char *key, int any_dtype)
{
    simrep_status st;
    memset(&src->info, 0, sizeof src->info);
    snprintf(src->label, sizeof src->label, "%s", src->rd.label);
    if (format == SIMREP_FORMAT_NPY) {
        if (key)
            return simrep__fail(ctx, SIMREP_E_INVALID, "%s: a .npy file holds one array; it takes no key ('%s')",
                                src->label, key);
        src->st = (simrep__stream){&src->rd, 0, src->rd.size, NULL, src->label};
        if ((st = simrep__npy_parse(ctx, &src->st, &src->info, &src->data_start)))
            return st;
        src->info.data_offset = src->data_start;
        if ((st = npy_check_fit(ctx, &src->rd, &src->info)))
            return st;
    } else if (format == SIMREP_FORMAT_NPZ) {
        if ((st = simrep__npz_open(ctx, &src->rd, key, &src->st, &src->info, &src->data_start, src->label,
                                   sizeof src->label)))
            return st;
        src->st.label = src->label;
    } else {
        if ((st = simrep__st_open(ctx, &src->rd, key, &src->info)))
            return st;
        if (src->info.name[0])
            snprintf(src->label, sizeof src->label, "%s:%s", src->rd.label, src->info.name);
        src->st = (simrep__stream){&src->rd, 0, src->rd.size, NULL, src->label};
        src->data_start = src->info.data_offset;
    }
    if (!src->info.dtype_supported && !any_dtype)
        return unsupported_dtype(ctx, src, format);
    src->features_first = 0;
    return SIMREP_OK;
}

static simrep_status open_spec(simrep_ctx *ctx, const char *spec, int any_dtype, simrep_source **out)
{
    *out = NULL;
    const char *key;
    size_t len = simrep__split_spec(spec, &key);
    if (len >= sizeof ((simrep_source *)0)->path)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%.64s...: path too long", spec);
    if (key && strlen(key) > SIMREP_KEY_MAX)
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%.*s: key too long (at most %d bytes)", (int)len, spec,
                            SIMREP_KEY_MAX);
    if (key && !*key)
        key = NULL;
    simrep_source *src = simrep__alloc(ctx, sizeof *src, "an input source");
    if (!src)
        return simrep__prefix(ctx, "%.*s", (int)len, spec);
    memset(src, 0, sizeof *src);
    src->rd.fd = -1;
    memcpy(src->path, spec, len);
    src->path[len] = '\0';
    simrep_status st = simrep__reader_open_file(ctx, src->path, src->path, &src->rd);
    if (st == SIMREP_OK) {
        int format = format_of(src->path, len);
        if (format < 0)
            st = sniff(ctx, &src->rd, &format);
        if (st == SIMREP_OK)
            st = open_array(ctx, src, format, key, any_dtype);
    } else if (!key) {
        /* "x.npy:key" is not split: say why it was not found. */
        const char *colon = strrchr(spec, ':');
        if (colon && format_of(spec, (size_t)(colon - spec)) == SIMREP_FORMAT_NPY && access(spec, F_OK) != 0)
            simrep__fail(ctx, SIMREP_E_IO, "%s: no such file; a .npy file holds one array, so name it without ':%s'",
                         spec, colon + 1);
    }
    if (st) {
        named(ctx, st, src->path);
        simrep_source_free(ctx, src);
        return st;
    }
    *out = src;
    return SIMREP_OK;
}

simrep_status simrep_source_open(simrep_ctx *ctx, const char *spec, simrep_source **out)
{
    if (!ctx || !spec || !out)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_source_open: invalid arguments");
    return open_spec(ctx, spec, 0, out);
}

simrep_status simrep__source_open_raw(simrep_ctx *ctx, const char *spec, simrep_source **out)
{
    return open_spec(ctx, spec, 1, out);
}

simrep_status simrep__source_read_bytes(simrep_ctx *ctx, simrep_source *src, uint64_t off, void *dst, size_t n)
{
    if (off > src->info.data_size || n > src->info.data_size - off)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: read of %zu bytes at %llu past the data (%llu bytes)",
                            src->label, n, (unsigned long long)off, (unsigned long long)src->info.data_size);
    return named(ctx, simrep__stream_read(ctx, &src->st, src->data_start + off, dst, n), src->label);
}

static int host_big_endian(void);

simrep_status simrep_source_open_memory(simrep_ctx *ctx, const void *data, simrep_dtype dtype, int ndim,
                                        const int64_t *shape, int fortran_order, const char *label,
                                        simrep_source **out)
{
    if (!ctx || !out || ndim < 1 || ndim > SIMREP_MAX_NDIM || !shape || (unsigned)dtype > SIMREP_F64 ||
        (fortran_order != 0 && fortran_order != 1))
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_source_open_memory: invalid arguments");
    *out = NULL;
    if (!label)
        label = "<array>";
    int64_t count = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || !simrep__mul_i64(count, shape[i], &count))
            return simrep__fail(ctx, SIMREP_E_INVALID, "%s: shape out of range (axis %d)", label, i);
    if (!simrep__mul_i64(count, (int64_t)simrep_dtype_size(dtype), &bytes) || (uint64_t)bytes > SIZE_MAX)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: shape out of range", label);
    if (!data && bytes > 0)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: no data for %lld elements", label, (long long)count);
    simrep_source *src = simrep__alloc(ctx, sizeof *src, "an input source");
    if (!src)
        return simrep__prefix(ctx, "%s", label);
    memset(src, 0, sizeof *src);
    snprintf(src->path, sizeof src->path, "%s", label);
    snprintf(src->label, sizeof src->label, "%s", label);
    src->rd = (simrep__reader){.fd = -1, .mem = data, .size = (uint64_t)bytes, .label = src->path};
    src->st = (simrep__stream){&src->rd, 0, (uint64_t)bytes, NULL, src->label};
    simrep_array_info *info = &src->info;
    info->ndim = ndim;
    memcpy(info->shape, shape, (size_t)ndim * sizeof *shape);
    info->dtype_supported = 1;
    info->dtype = dtype;
    snprintf(info->dtype_text, sizeof info->dtype_text, "%s", simrep_dtype_name(dtype));
    info->fortran_order = fortran_order;
    info->big_endian = host_big_endian();
    info->data_size = (uint64_t)bytes;
    *out = src;
    return SIMREP_OK;
}

simrep_status simrep_source_open_buffer(simrep_ctx *ctx, const void *buf, size_t len, simrep_format format,
                                        const char *key, simrep_source **out)
{
    if (!ctx || (!buf && len) || !out || (int)format < 0 || format > SIMREP_FORMAT_SAFETENSORS)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_source_open_buffer: invalid arguments");
    *out = NULL;
    if (key && strlen(key) > SIMREP_KEY_MAX)
        return simrep__fail(ctx, SIMREP_E_NOTFOUND, "%s: key too long (at most %d bytes)", SIMREP__BUFFER_LABEL,
                            SIMREP_KEY_MAX);
    if (key && !*key)
        key = NULL;
    simrep_source *src = simrep__alloc(ctx, sizeof *src, "an input source");
    if (!src)
        return simrep__prefix(ctx, "%s", SIMREP__BUFFER_LABEL);
    memset(src, 0, sizeof *src);
    snprintf(src->path, sizeof src->path, "%s", SIMREP__BUFFER_LABEL);
    src->rd = (simrep__reader){.fd = -1, .mem = buf, .size = len, .label = src->path};
    simrep_status st = open_array(ctx, src, format, key, 0);
    if (st) {
        named(ctx, st, SIMREP__BUFFER_LABEL);
        simrep_source_free(ctx, src);
        return st;
    }
    *out = src;
    return SIMREP_OK;
}

void simrep_source_free(simrep_ctx *ctx, simrep_source *src)
{
    if (!src)
        return;
    simrep__inflater_free(ctx, src->st.inf);
    simrep__reader_close(&src->rd);
    simrep__free(ctx, src->buf);
    simrep__free(ctx, src);
}

const simrep_array_info *simrep_source_info(const simrep_source *src)
{
    return src ? &src->info : NULL;
}

const char *simrep__source_label(const simrep_source *src)
{
    return src ? src->label : "";
}

/* The SHAPE error for an array that is not 2-D, naming what would read it. */
static simrep_status not_2d(simrep_ctx *ctx, const simrep_source *src)
{
    char shape[256];
    simrep__format_shape(&src->info, shape, sizeof shape);
    const char *lead = "simrep compare takes 2-D samples x features";
    switch (src->info.ndim) {
    case 0:
        return simrep__fail(ctx, SIMREP_E_SHAPE, "%s: a scalar (0-D array): %s; save an array of shape (n, p)",
                            src->label, lead);
    case 1:
        return simrep__fail(ctx, SIMREP_E_SHAPE,
                            "%s: a 1-D array (shape %s): %s and needs shape (n, p); for a single feature save "
                            "arr.reshape(-1, 1)",
                            src->label, shape, lead);
    case 3:
        return simrep__fail(ctx, SIMREP_E_SHAPE,
                            "%s: a 3-D array (shape %s): %s; sequences (N, T, D) need --sequence "
                            "(see `simrep compare --help`)",
                            src->label, shape, lead);
    case 4:
        return simrep__fail(ctx, SIMREP_E_SHAPE,
                            "%s: a 4-D array (shape %s): %s; convolutional maps need --conv nhwc|nchw "
                            "(see `simrep compare --help`)",
                            src->label, shape, lead);
    default:
        return simrep__fail(ctx, SIMREP_E_SHAPE, "%s: a %d-D array (shape %s): %s; reshape it to (n, p)", src->label,
                            src->info.ndim, shape, lead);
    }
}

simrep_status simrep_source_set_layout(simrep_ctx *ctx, simrep_source *src, int features_first)
{
    if (!ctx || !src || (features_first != 0 && features_first != 1))
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_source_set_layout: invalid arguments");
    if (src->info.ndim != 2)
        return not_2d(ctx, src);
    src->features_first = features_first;
    src->flat = 0;
    return SIMREP_OK;
}

simrep_status simrep_source_set_flat(simrep_ctx *ctx, simrep_source *src)
{
    if (!ctx || !src)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_source_set_flat: invalid arguments");
    if (src->info.ndim < 2)
        return not_2d(ctx, src);
    int64_t p = 1;
    for (int i = 1; i < src->info.ndim; i++)
        if (!simrep__mul_i64(p, src->info.shape[i], &p))
            return simrep__fail(ctx, SIMREP_E_SHAPE, "%s: too many elements per item", src->label);
    src->features_first = 0;
    src->flat = 1;
    return SIMREP_OK;
}

/* The 2-D shape the block reader sees: the array itself, or its flat view. */
static int readable(const simrep_source *src)
{
    return src->info.ndim == 2 || (src->flat && src->info.ndim > 2);
}

int64_t simrep_source_samples(const simrep_source *src)
{
    if (!src || !readable(src))
        return 0;
    if (src->info.ndim > 2)
        return src->info.shape[0];
    return src->info.shape[src->features_first ? 1 : 0];
}

int64_t simrep_source_features(const simrep_source *src)
{
    if (!src || !readable(src))
        return 0;
    if (src->info.ndim > 2) {
        int64_t p = 1;
        for (int i = 1; i < src->info.ndim; i++)
            p *= src->info.shape[i]; /* checked in simrep_source_set_flat */
        return p;
    }
    return src->info.shape[src->features_first ? 0 : 1];
}

static int host_big_endian(void)
{
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 0;
}

static void byteswap(unsigned char *p, size_t count, size_t size)
{
    for (size_t i = 0; i < count; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

simrep_status simrep_source_read(simrep_ctx *ctx, simrep_source *src, int64_t row0, int64_t rows,
                                 simrep_matrix *view)
{
    if (!ctx || !src || !view || row0 < 0 || rows < 0)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_source_read: invalid arguments");
    if (!readable(src))
        return not_2d(ctx, src);
    const int64_t n = simrep_source_samples(src), p = simrep_source_features(src);
    if (row0 > n)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: read from sample %lld but the array has %lld samples",
                            src->label, (long long)row0, (long long)n);
    if (rows > n - row0)
        rows = n - row0;
    const size_t isz = simrep_dtype_size(src->info.dtype);
    int64_t count, bytes;
    if (!simrep__mul_i64(rows, p, &count) || !simrep__mul_i64(count, (int64_t)isz, &bytes) ||
        (uint64_t)bytes > SIZE_MAX)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: a block of %lld samples x %lld features is too large",
                            src->label, (long long)rows, (long long)p);
    if ((size_t)bytes > src->cap || !src->buf) {
        unsigned char *nb = simrep__alloc(ctx, (size_t)bytes, "the input block buffer");
        if (!nb)
            return simrep__prefix(ctx, "%s", src->label);
        simrep__free(ctx, src->buf);
        src->buf = nb;
        src->cap = (size_t)bytes;
    }
    /* In file order the array is outer x inner: C order is shape[0] x
     * shape[1], Fortran order shape[1] x shape[0].  The block is contiguous
     * when samples are the outer index. */
    const int fortran = src->info.fortran_order;
    const int samples_outer = fortran ? src->features_first : !src->features_first;
    simrep_status st = SIMREP_OK;
    view->data = src->buf;
    view->dtype = src->info.dtype;
    view->rows = rows;
    view->cols = p;
    if (samples_outer) {
        st = simrep__stream_read(ctx, &src->st, src->data_start + (uint64_t)row0 * (uint64_t)p * isz, src->buf,
                                 (size_t)bytes);
        view->row_stride = p;
        view->col_stride = 1;
    } else {
        if (src->st.inf && rows > 0 && p > 0)
            st = simrep__inflater_spill(ctx, src->st.inf);
        const size_t run = (size_t)rows * isz;
        for (int64_t j = 0; j < p && st == SIMREP_OK && rows > 0; j++)
            st = simrep__stream_read(ctx, &src->st, src->data_start + ((uint64_t)j * (uint64_t)n + (uint64_t)row0) * isz,
                                     src->buf + (size_t)j * run, run);
        view->row_stride = 1;
        view->col_stride = rows;
    }
    if (st)
        return named(ctx, st, src->label);
    if (src->info.big_endian != host_big_endian() && isz > 1)
        byteswap(src->buf, (size_t)count, isz);
    return SIMREP_OK;
}

/* ------------------------------------------------------- file identity */

int simrep_source_file_id(const simrep_source *src, simrep_file_id *id)
{
    memset(id, 0, sizeof *id);
    if (!src || src->rd.fd < 0)
        return 0;
    id->device = src->rd.dev;
    id->inode = src->rd.ino;
    id->size = src->rd.size;
    id->mtime_sec = src->rd.mtime_sec;
    id->mtime_nsec = src->rd.mtime_nsec;
    return 1;
}

simrep_status simrep_source_check_unchanged(simrep_ctx *ctx, const simrep_source *src)
{
    if (!src || src->rd.fd < 0)
        return SIMREP_OK;
    struct stat sb;
    if (fstat(src->rd.fd, &sb) != 0)
        return simrep__fail(ctx, SIMREP_E_IO, "%s: cannot stat: %s", src->label, strerror(errno));
    if ((uint64_t)sb.st_size != src->rd.size || (int64_t)sb.st_mtim.tv_sec != src->rd.mtime_sec ||
        (int64_t)sb.st_mtim.tv_nsec != src->rd.mtime_nsec)
        return simrep__fail(ctx, SIMREP_E_IO,
                            "%s: the file changed while it was read (size %llu -> %llu bytes, or its modification "
                            "time): the results would mix two versions of it",
                            src->label, (unsigned long long)src->rd.size, (unsigned long long)sb.st_size);
    return SIMREP_OK;
}
