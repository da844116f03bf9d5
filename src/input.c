/*
 * input.c: arrays that are not 2-D samples x features (conv feature maps
 * (N, H, W, C) / (N, C, H, W), sequences (N, T, D)) read as blocks of a
 * samples x features matrix, for the moments engine (simrep.h, section
 * "conv maps and sequences", defines every layout and resize exactly).
 *
 * Method.  The source is opened flat (simrep_source_set_flat): item i is a
 * row of prod(shape[1:]) elements numbered in the file's memory order, so a
 * block of whole items is one read (C order) or one gather (Fortran order)
 * of the existing block reader, and every trailing axis has a stride in
 * that numbering (axis_stride).  A read of rows [row0, row0 + rows) reads
 * the items covering them and then either
 *   - returns a view into the source's buffer (no copy, the file's dtype)
 *     when the output is a strided view of the stored array: NHWC positions,
 *     flatten and sequence flatten of C-order files, per_step and last of
 *     any file (step t is a column offset); or
 *   - computes the block in float64 into the input's own buffer, row by
 *     row through simrep_matrix_to_double on strided views (one (w, c) row
 *     of an image, one (t, d) slab of a sequence): NCHW positions (the
 *     per-image transpose), pooling, resizing, sequence mean, and every
 *     sequence read through a token mask (mask.c).
 * Memory is therefore the covering items in the file's dtype plus at most
 * one output block in float64 and, for resizing, two images in float64.
 * The 10,000 x 32 x 32 x 256 NHWC positions case never copies at all.
 * Under a mask, flatten's rows are the valid tokens: row r is token r of
 * the mask, found by binary search over the per-sequence token counts,
 * and each run of consecutive valid steps is one strided copy; first, last
 * and mean read each sequence's valid steps only.  Such an input has
 * rows_per_item 1 (sequences differ in length): callers that split or
 * resample by sequence ask simrep_input_item_row where each one starts.
 *
 * Resizing is separable: out = A x Bᵀ per channel, A (out_h x h) and B
 * (out_w x w) fixed at set-up.  interp (svcca's conv tutorial, scipy
 * interp2d on grid points 0..h-1 sampled at i*h/out_h, edge-clamped) and
 * pool_to (adaptive average pooling windows) are sparse rows; dft
 * (fft_resize, then back to space) is real(Ac x Bcᵀ) with the complex
 * Ac[o, a] = (1/h) sum_f exp(2 pi i f (o/out_h - a/h)) over the kept
 * frequencies f, i.e. Ar x Brᵀ - Ai x Biᵀ: the exact linear map of
 * real(ifft2(kept)) * scale, with no FFT library in the reading path.
 * Rejected: resizing in the moments (the map of positions is not a linear
 * map of features), and materialising the reshaped matrix (it is 10x the
 * RAM for the large case).
 */
#include "io.h"

#include <math.h>
#include <string.h>

/* Not in strict C11's math.h. */
#define TWO_PI 6.283185307179586476925286766559

enum { KIND_PLAIN = 2, KIND_SEQ = 3, KIND_CONV = 4 };

struct simrep_input {
    simrep_source *src;
    simrep_layout lay;
    int kind, fortran;
    size_t isz;
    simrep_input_dims dims;
    int64_t sh, sw, sc; /* conv: strides of h, w, c in the flat item */
    int64_t st, sd;     /* sequence: strides of t, d */
    const simrep_mask *mask; /* sequence: the valid tokens (not owned), or NULL */
    int64_t stored;     /* elements stored per item (the flat source's features) */
    simrep_resize method; /* the resize actually applied (NONE when out == own size) */
    double *ar, *ai, *br, *bi; /* resize maps: out_h x h, out_w x w (ai, bi: dft only) */
    double *out;        /* computed output block */
    size_t out_cap;     /* doubles */
    double *img, *tmp, *res; /* resize work: h*w*C, out_h*w*C, out_h*out_w*C */
};

void simrep_layout_init(simrep_layout *layout)
{
    if (layout)
        memset(layout, 0, sizeof *layout);
}

static const char *label_of(const simrep_input *in)
{
    return simrep_input_label(in);
}

const char *simrep_input_label(const simrep_input *in)
{
    return in ? simrep__source_label(in->src) : "";
}

int simrep_input_file_id(const simrep_input *in, simrep_file_id *id)
{
    return simrep_source_file_id(in ? in->src : NULL, id);
}

simrep_status simrep_input_check_unchanged(simrep_ctx *ctx, const simrep_input *in)
{
    return simrep_source_check_unchanged(ctx, in ? in->src : NULL);
}

const simrep_array_info *simrep_input_info(const simrep_input *in)
{
    return in ? simrep_source_info(in->src) : NULL;
}

simrep_dtype simrep_input_dtype(const simrep_input *in)
{
    const simrep_array_info *info = simrep_input_info(in);
    return info && info->dtype_supported ? info->dtype : SIMREP_F64;
}

void simrep_input_dims_get(const simrep_input *in, simrep_input_dims *dims)
{
    if (!dims)
        return;
    if (!in) {
        memset(dims, 0, sizeof *dims);
        return;
    }
    *dims = in->dims;
}

void simrep_input_free(simrep_ctx *ctx, simrep_input *in)
{
    if (!in)
        return;
    simrep_source_free(ctx, in->src);
    simrep__free(ctx, in->ar);
    simrep__free(ctx, in->ai);
    simrep__free(ctx, in->br);
    simrep__free(ctx, in->bi);
    simrep__free(ctx, in->out);
    simrep__free(ctx, in->img);
    simrep__free(ctx, in->tmp);
    simrep__free(ctx, in->res);
    simrep__free(ctx, in);
}

/* The stride of trailing axis a (1-based) of the flat item. */
static int64_t axis_stride(const simrep_array_info *info, int a)
{
    int64_t s = 1;
    if (info->fortran_order)
        for (int i = 1; i < a; i++)
            s *= info->shape[i];
    else
        for (int i = info->ndim - 1; i > a; i--)
            s *= info->shape[i];
    return s;
}

static void shape_text(const simrep_array_info *info, char *buf, size_t cap)
{
    simrep__format_shape(info, buf, cap);
}

/* Samples and features of the current layout and target size. */
static void update_dims(simrep_input *in)
{
    simrep_input_dims *d = &in->dims;
    d->views = 1;
    if (in->kind == KIND_CONV) {
        const int64_t hw = d->out_height * d->out_width;
        switch (in->lay.conv_mode) {
        case SIMREP_CONV_POOL:
            d->samples = d->items, d->features = d->channels, d->rows_per_item = 1;
            break;
        case SIMREP_CONV_FLATTEN:
            d->samples = d->items, d->features = hw * d->channels, d->rows_per_item = 1;
            break;
        default:
            d->samples = d->items * hw, d->features = d->channels, d->rows_per_item = hw;
        }
    } else if (in->kind == KIND_SEQ) {
        d->features = in->src ? simrep_source_info(in->src)->shape[2] : 0;
        d->rows_per_item = 1;
        d->samples = d->items;
        if (in->lay.sequence == SIMREP_SEQUENCE_FLATTEN && in->mask)
            d->samples = simrep_mask_tokens(in->mask);
        else if (in->lay.sequence == SIMREP_SEQUENCE_FLATTEN)
            d->samples = d->items * d->steps, d->rows_per_item = d->steps;
        if (in->lay.sequence == SIMREP_SEQUENCE_PER_STEP)
            d->views = d->steps;
    }
}

static simrep_status ndim_error(simrep_ctx *ctx, const simrep_input *in, const char *names, const char *option)
{
    char shape[256];
    shape_text(simrep_source_info(in->src), shape, sizeof shape);
    return simrep__fail(ctx, SIMREP_E_SHAPE, "%s: is %d-D %s = %s; compare takes 2-D samples x features: %s",
                        label_of(in), simrep_source_info(in->src)->ndim, names, shape, option);
}

static const char *sequence_name(simrep_sequence s)
{
    static const char *names[] = {"none", "flatten", "per-step", "last", "mean", "first"};
    return (unsigned)s <= SIMREP_SEQUENCE_FIRST ? names[s] : "?";
}

/* Check that mask m covers the sequences of in (items, steps) and suits
 * the mode, and read through it from now on. */
static simrep_status apply_mask(simrep_ctx *ctx, simrep_input *in, const simrep_mask *m)
{
    const simrep_input_dims *d = &in->dims;
    const char *ml = simrep_mask_label(m);
    const simrep_sequence mode = in->lay.sequence;
    if (mode == SIMREP_SEQUENCE_PER_STEP)
        return simrep__fail(ctx, SIMREP_E_INVALID,
                            "%s: --sequence per-step pairs step t of every sequence, but with the mask %s steps are "
                            "padding in some: use flatten (the tokens as samples), first, last or mean",
                            label_of(in), ml);
    const int64_t mt = simrep_mask_steps(m);
    if (simrep_mask_items(m) != d->items || (mt > 0 && mt != d->steps)) {
        char shape[256];
        shape_text(simrep_source_info(in->src), shape, sizeof shape);
        if (mt > 0)
            return simrep__fail(ctx, SIMREP_E_SHAPE,
                                "%s: the mask is (N, T) = (%lld, %lld) but %s is (N, T, D) = %s; a mask needs one "
                                "row per sequence and one column per step",
                                ml, (long long)simrep_mask_items(m), (long long)mt, label_of(in), shape);
        return simrep__fail(ctx, SIMREP_E_SHAPE,
                            "%s: holds %lld lengths but %s is (N, T, D) = %s; a mask needs one length per sequence",
                            ml, (long long)simrep_mask_items(m), label_of(in), shape);
    }
    for (int64_t i = 0; i < d->items; i++) {
        if (simrep__mask_last(m, i) >= d->steps)
            return simrep__fail(ctx, SIMREP_E_SHAPE,
                                "%s: length %lld at [%lld] is more than the T = %lld steps of %s", ml,
                                (long long)simrep__mask_last(m, i) + 1, (long long)i, (long long)d->steps,
                                label_of(in));
        if (simrep__mask_first(m, i) < 0 && mode != SIMREP_SEQUENCE_FLATTEN)
            return simrep__fail(ctx, SIMREP_E_SHAPE,
                                "%s: sequence %lld has no token (every step is padding); --sequence %s needs one in "
                                "every sequence (flatten skips empty ones)",
                                ml, (long long)i, sequence_name(mode));
    }
    in->mask = m;
    return SIMREP_OK;
}

simrep_status simrep_input_from_source(simrep_ctx *ctx, simrep_source *src, const simrep_layout *layout,
                                       simrep_input **out)
{
    if (!ctx || !src || !out) {
        simrep_source_free(ctx, src);
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_input_from_source: invalid arguments");
    }
    *out = NULL;
    simrep_layout defaults;
    simrep_layout_init(&defaults);
    if (!layout)
        layout = &defaults;
    if ((unsigned)layout->conv > SIMREP_CONV_NCHW || (unsigned)layout->conv_mode > SIMREP_CONV_FLATTEN ||
        (unsigned)layout->resize > SIMREP_RESIZE_DFT || (unsigned)layout->sequence > SIMREP_SEQUENCE_FIRST ||
        (layout->features_first != 0 && layout->features_first != 1)) {
        simrep_source_free(ctx, src);
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_input: layout option out of range");
    }
    simrep_input *in = simrep__alloc(ctx, sizeof *in, "an input");
    if (!in) {
        simrep__prefix(ctx, "%s", simrep__source_label(src));
        simrep_source_free(ctx, src);
        return SIMREP_E_NOMEM;
    }
    memset(in, 0, sizeof *in);
    in->src = src;
    in->lay = *layout;
    in->lay.mask = NULL; /* in->mask, for 3-D inputs only */
    const simrep_array_info *info = simrep_source_info(src);
    in->fortran = info->fortran_order;
    in->isz = simrep_dtype_size(info->dtype);
    simrep_input_dims *d = &in->dims;
    d->ndim = info->ndim;
    simrep_status st = SIMREP_OK;
    if (info->ndim == 4) {
        if (layout->conv == SIMREP_CONV_NONE)
            st = ndim_error(ctx, in, "(N, H, W, C) or (N, C, H, W)", "add --conv nhwc or --conv nchw");
        else {
            in->kind = KIND_CONV;
            const int nhwc = layout->conv == SIMREP_CONV_NHWC;
            d->items = info->shape[0];
            d->height = info->shape[nhwc ? 1 : 2];
            d->width = info->shape[nhwc ? 2 : 3];
            d->channels = info->shape[nhwc ? 3 : 1];
            in->sh = axis_stride(info, nhwc ? 1 : 2);
            in->sw = axis_stride(info, nhwc ? 2 : 3);
            in->sc = axis_stride(info, nhwc ? 3 : 1);
            d->out_height = d->height;
            d->out_width = d->width;
            if (d->height < 1 || d->width < 1 || d->channels < 1) {
                char shape[256];
                shape_text(info, shape, sizeof shape);
                st = simrep__fail(ctx, SIMREP_E_SHAPE, "%s: conv maps of shape %s (%s) have an empty axis",
                                  label_of(in), shape, nhwc ? "N, H, W, C" : "N, C, H, W");
            }
        }
    } else if (info->ndim == 3) {
        if (layout->sequence == SIMREP_SEQUENCE_NONE)
            st = ndim_error(ctx, in, "(N, T, D)", "add --sequence flatten|per-step|first|last|mean");
        else {
            in->kind = KIND_SEQ;
            d->items = info->shape[0];
            d->steps = info->shape[1];
            in->st = axis_stride(info, 1);
            in->sd = axis_stride(info, 2);
            if (d->steps < 1 || info->shape[2] < 1) {
                char shape[256];
                shape_text(info, shape, sizeof shape);
                st = simrep__fail(ctx, SIMREP_E_SHAPE, "%s: sequences of shape %s (N, T, D) have an empty axis",
                                  label_of(in), shape);
            } else if (layout->mask) {
                st = apply_mask(ctx, in, layout->mask);
            }
        }
    } else if (info->ndim == 2) {
        in->kind = KIND_PLAIN;
        st = simrep_source_set_layout(ctx, src, layout->features_first);
        d->items = simrep_source_samples(src);
        d->samples = d->items;
        d->features = simrep_source_features(src);
        d->rows_per_item = 1;
        d->views = 1;
    } else {
        st = simrep_source_set_layout(ctx, src, 0); /* the 1-D / 5-D+ message */
    }
    if (st == SIMREP_OK && in->kind != KIND_PLAIN) {
        st = simrep_source_set_flat(ctx, src);
        update_dims(in);
    }
    in->stored = st == SIMREP_OK ? simrep_source_features(src) : 0;
    d->item_elements = in->stored;
    if (st == SIMREP_OK && in->mask && layout->sequence == SIMREP_SEQUENCE_FLATTEN)
        d->item_elements = (int64_t)ceil((double)d->items * (double)in->stored / (double)d->samples);
    if (st != SIMREP_OK) {
        simrep_input_free(ctx, in);
        return st;
    }
    *out = in;
    return SIMREP_OK;
}

simrep_status simrep_input_open(simrep_ctx *ctx, const char *spec, const simrep_layout *layout, simrep_input **out)
{
    if (!ctx || !spec || !out)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_input_open: invalid arguments");
    *out = NULL;
    simrep_source *src = NULL;
    simrep_status st = simrep_source_open(ctx, spec, &src);
    if (st != SIMREP_OK)
        return st;
    return simrep_input_from_source(ctx, src, layout, out);
}

/* ---------------------------------------------------------------- resize */

/* Fill a (o x n, row-major) with the 1-D map of method from n to o points;
 * ai receives the imaginary part for dft (else untouched). */
static void resize_map(simrep_resize method, int64_t n, int64_t o, double *a, double *ai)
{
    memset(a, 0, (size_t)(o * n) * sizeof(double));
    if (ai)
        memset(ai, 0, (size_t)(o * n) * sizeof(double));
    for (int64_t i = 0; i < o; i++) {
        double *row = a + i * n;
        if (method == SIMREP_RESIZE_INTERP) {
            /* scipy interp2d (linear) on grid 0..n-1 at s = i n / o; nearest
             * value past the last grid point. */
            const double s = (double)i * (double)n / (double)o;
            int64_t k = (int64_t)floor(s);
            if (k >= n - 1) {
                row[n - 1] = 1.0;
            } else {
                const double f = s - (double)k;
                row[k] += 1.0 - f;
                row[k + 1] += f;
            }
        } else if (method == SIMREP_RESIZE_POOL_TO) {
            /* adaptive average pooling: [floor(i n / o), ceil((i + 1) n / o)) */
            const int64_t lo = (i * n) / o, hi = ((i + 1) * n + o - 1) / o;
            for (int64_t k = lo; k < hi; k++)
                row[k] = 1.0 / (double)(hi - lo);
        } else {
            /* dft: frequencies -m/2 <= f < m/2 of both grids (m = o and n). */
            const int64_t flo = -(o / 2 < n / 2 ? o / 2 : n / 2);
            const int64_t fhi_o = (o + 1) / 2 - 1, fhi_n = (n + 1) / 2 - 1;
            const int64_t fhi = fhi_o < fhi_n ? fhi_o : fhi_n;
            for (int64_t k = 0; k < n; k++) {
                double re = 0, im = 0;
                for (int64_t f = flo; f <= fhi; f++) {
                    const double ang = TWO_PI * (double)f * ((double)i / (double)o - (double)k / (double)n);
                    re += cos(ang);
                    im += sin(ang);
                }
                row[k] = re / (double)n;
                ai[i * n + k] = im / (double)n;
            }
        }
    }
}

/* res (oh x ow x c) (+)= sign * A x Bᵀ per channel, x (h x w x c);
 * tmp holds oh x w x c. */
static void apply_map(const double *a, const double *b, int64_t oh, int64_t ow, int64_t h, int64_t w, int64_t c,
                      const double *x, double *tmp, double *res, double sign, int accumulate)
{
    memset(tmp, 0, (size_t)(oh * w * c) * sizeof(double));
    for (int64_t i = 0; i < oh; i++)
        for (int64_t k = 0; k < h; k++) {
            const double wt = a[i * h + k];
            if (wt == 0.0)
                continue;
            const double *src = x + k * w * c;
            double *dst = tmp + i * w * c;
            for (int64_t j = 0; j < w * c; j++)
                dst[j] += wt * src[j];
        }
    if (!accumulate)
        memset(res, 0, (size_t)(oh * ow * c) * sizeof(double));
    for (int64_t i = 0; i < oh; i++)
        for (int64_t jo = 0; jo < ow; jo++) {
            double *dst = res + (i * ow + jo) * c;
            for (int64_t k = 0; k < w; k++) {
                const double wt = sign * b[jo * w + k];
                if (wt == 0.0)
                    continue;
                const double *src = tmp + (i * w + k) * c;
                for (int64_t ch = 0; ch < c; ch++)
                    dst[ch] += wt * src[ch];
            }
        }
}

simrep_status simrep_input_set_spatial(simrep_ctx *ctx, simrep_input *in, int64_t height, int64_t width)
{
    if (!ctx || !in)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_input_set_spatial: invalid arguments");
    if (in->kind != KIND_CONV)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: not conv maps; only 4-D inputs have a spatial size",
                            label_of(in));
    if (height < 1 || width < 1 || height > (int64_t)1 << 20 || width > (int64_t)1 << 20)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: spatial size %lld x %lld out of range", label_of(in),
                            (long long)height, (long long)width);
    simrep_input_dims *d = &in->dims;
    simrep__free(ctx, in->ar), simrep__free(ctx, in->ai), simrep__free(ctx, in->br), simrep__free(ctx, in->bi);
    simrep__free(ctx, in->img), simrep__free(ctx, in->tmp), simrep__free(ctx, in->res);
    in->ar = in->ai = in->br = in->bi = in->img = in->tmp = in->res = NULL;
    d->out_height = height;
    d->out_width = width;
    in->method = SIMREP_RESIZE_NONE;
    if (height != d->height || width != d->width) {
        simrep_resize m = in->lay.resize;
        if (m == SIMREP_RESIZE_NONE)
            m = height >= d->height && width >= d->width ? SIMREP_RESIZE_INTERP : SIMREP_RESIZE_POOL_TO;
        in->method = m;
        const int dft = m == SIMREP_RESIZE_DFT;
        const int64_t h = d->height, w = d->width, c = d->channels;
        const int64_t big = (height > h ? height : h) * (width > w ? width : w);
        int64_t work;
        if (!simrep__mul_i64(big, c, &work) || work > ((int64_t)1 << 34) / 8)
            return simrep__fail(ctx, SIMREP_E_INVALID, "%s: resizing %lld x %lld x %lld maps needs too much memory",
                                label_of(in), (long long)height, (long long)width, (long long)c);
        in->ar = simrep__alloc_array(ctx, (size_t)(height * h), sizeof(double), "the resize map");
        in->br = simrep__alloc_array(ctx, (size_t)(width * w), sizeof(double), "the resize map");
        if (dft) {
            in->ai = simrep__alloc_array(ctx, (size_t)(height * h), sizeof(double), "the resize map");
            in->bi = simrep__alloc_array(ctx, (size_t)(width * w), sizeof(double), "the resize map");
        }
        in->img = simrep__alloc_array(ctx, (size_t)(h * w * c), sizeof(double), "an image");
        in->tmp = simrep__alloc_array(ctx, (size_t)(height * w * c), sizeof(double), "an image");
        in->res = simrep__alloc_array(ctx, (size_t)(height * width * c), sizeof(double), "an image");
        if (!in->ar || !in->br || (dft && (!in->ai || !in->bi)) || !in->img || !in->tmp || !in->res)
            return simrep__prefix(ctx, "%s", label_of(in));
        resize_map(m, h, height, in->ar, in->ai);
        resize_map(m, w, width, in->br, in->bi);
    }
    update_dims(in);
    return SIMREP_OK;
}

static int agrees_t(const simrep_input *in)
{
    return in->kind == KIND_SEQ && !in->mask &&
           (in->lay.sequence == SIMREP_SEQUENCE_FLATTEN || in->lay.sequence == SIMREP_SEQUENCE_PER_STEP);
}

/* A disagreement blamed on input i (its label first in the message): the
 * input and its file for simrep_ctx_error. */
static simrep_status blame(simrep_ctx *ctx, simrep_status st, int i, const simrep_input *in)
{
    if (ctx) {
        const char *label = label_of(in);
        simrep__error_file(ctx, label, 0, 0);
        ctx->err_input = i;
        ctx->err_detail = strncmp(ctx->message, label, strlen(label)) == 0 ? strlen(label) + 2 : 0;
    }
    return st;
}

simrep_status simrep_inputs_agree(simrep_ctx *ctx, simrep_input *const *inputs, int count)
{
    if (!ctx || !inputs || count < 1)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_inputs_agree: invalid arguments");
    for (int i = 0; i < count; i++)
        if (!inputs[i])
            return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_inputs_agree: input %d is NULL", i);
    /* Spatial sizes first: they decide the sample counts. */
    const simrep_input *first = NULL;
    int64_t hmin = 0, hmax = 0, wmin = 0, wmax = 0;
    for (int i = 0; i < count; i++) {
        const simrep_input *in = inputs[i];
        if (in->kind != KIND_CONV)
            continue;
        if (!first) {
            first = in;
            hmin = hmax = in->dims.height;
            wmin = wmax = in->dims.width;
        }
        hmin = in->dims.height < hmin ? in->dims.height : hmin;
        hmax = in->dims.height > hmax ? in->dims.height : hmax;
        wmin = in->dims.width < wmin ? in->dims.width : wmin;
        wmax = in->dims.width > wmax ? in->dims.width : wmax;
    }
    if (first) {
        const simrep_resize r = first->lay.resize;
        for (int i = 0; i < count; i++) {
            simrep_input *in = inputs[i];
            if (in->kind != KIND_CONV)
                continue;
            int64_t h = in->dims.height, w = in->dims.width;
            if (r == SIMREP_RESIZE_INTERP)
                h = hmax, w = wmax;
            else if (r != SIMREP_RESIZE_NONE)
                h = hmin, w = wmin;
            if (r == SIMREP_RESIZE_NONE && in->lay.conv_mode == SIMREP_CONV_POSITIONS &&
                (h != first->dims.height || w != first->dims.width)) {
                char s1[256], s2[256];
                shape_text(simrep_source_info(first->src), s1, sizeof s1);
                shape_text(simrep_source_info(in->src), s2, sizeof s2);
                return blame(ctx, simrep__fail(ctx, SIMREP_E_SHAPE,
                                    "%s: maps of %lld x %lld (shape %s) but %s has %lld x %lld (shape %s); positions "
                                    "need equal spatial sizes: add --resize interp|pool-to|dft (or --conv-mode pool)",
                                    label_of(in), (long long)in->dims.height, (long long)in->dims.width, s2,
                                    label_of(first), (long long)first->dims.height, (long long)first->dims.width, s1), i, in);
            }
            simrep_status st = simrep_input_set_spatial(ctx, in, h, w);
            if (st != SIMREP_OK)
                return blame(ctx, st, i, in);
        }
    }
    const simrep_input *a = inputs[0];
    for (int i = 1; i < count; i++) {
        const simrep_input *b = inputs[i];
        if (agrees_t(a) && agrees_t(b) && a->dims.steps != b->dims.steps)
            return blame(ctx, simrep__fail(ctx, SIMREP_E_SHAPE,
                                "%s: has T = %lld steps but %s has T = %lld; --sequence flatten and per-step pair "
                                "step t with step t (use --sequence first, last or mean, or a --mask of lengths, "
                                "for different lengths)",
                                label_of(b), (long long)b->dims.steps, label_of(a), (long long)a->dims.steps), i, b);
        if (a->dims.items != b->dims.items)
            return blame(ctx, simrep__fail(ctx, SIMREP_E_SHAPE,
                                "%s: has N = %lld items but %s has %lld; item i of every input must come from the "
                                "same input example",
                                label_of(b), (long long)b->dims.items, label_of(a), (long long)a->dims.items), i, b);
        if (a->dims.samples != b->dims.samples || a->dims.views != b->dims.views)
            return blame(ctx, simrep__fail(ctx, SIMREP_E_SHAPE,
                                "%s: gives %lld samples (rows) but %s gives %lld; their layouts do not pair rows "
                                "(a 2-D input next to conv positions or sequence time steps?)",
                                label_of(b), (long long)b->dims.samples, label_of(a), (long long)a->dims.samples), i, b);
    }
    return SIMREP_OK;
}

/* ------------------------------------------------------------------ read */

static simrep_status ensure_out(simrep_ctx *ctx, simrep_input *in, int64_t rows, int64_t cols)
{
    int64_t need;
    if (!simrep__mul_i64(rows > 0 ? rows : 1, cols > 0 ? cols : 1, &need))
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: block too large", label_of(in));
    if ((size_t)need <= in->out_cap && in->out)
        return SIMREP_OK;
    double *b = simrep__alloc_array(ctx, (size_t)need, sizeof(double), "the output block");
    if (!b)
        return simrep__prefix(ctx, "%s", label_of(in));
    simrep__free(ctx, in->out);
    in->out = b;
    in->out_cap = (size_t)need;
    return SIMREP_OK;
}

/* A strided view of part of item il of the source block v: rows x cols,
 * starting at flat element off, with flat strides rs, cs. */
static simrep_matrix sub(const simrep_input *in, const simrep_matrix *v, int64_t il, int64_t off, int64_t rows,
                         int64_t cols, int64_t rs, int64_t cs)
{
    simrep_matrix m;
    m.dtype = v->dtype;
    m.data = (const unsigned char *)v->data + (size_t)(il * v->row_stride + off * v->col_stride) * in->isz;
    m.rows = rows;
    m.cols = cols;
    m.row_stride = rs * v->col_stride;
    m.col_stride = cs * v->col_stride;
    return m;
}

/* Positions [w0, w1) of row h of image il as (w1 - w0) x C doubles. */
static void load_row(const simrep_input *in, const simrep_matrix *v, int64_t il, int64_t h, int64_t w0, int64_t w1,
                     double *dst)
{
    simrep_matrix m = sub(in, v, il, h * in->sh + w0 * in->sw, w1 - w0, in->dims.channels, in->sw, in->sc);
    simrep_matrix_to_double(&m, dst, in->dims.channels);
}

/* Image il at the array's own size into dst (h x w x C). */
static void load_image(const simrep_input *in, const simrep_matrix *v, int64_t il, double *dst)
{
    const int64_t w = in->dims.width, c = in->dims.channels;
    for (int64_t h = 0; h < in->dims.height; h++)
        load_row(in, v, il, h, 0, w, dst + h * w * c);
}

/* Image il resized to out_h x out_w x C (in->res). */
static const double *resized_image(simrep_input *in, const simrep_matrix *v, int64_t il)
{
    const simrep_input_dims *d = &in->dims;
    load_image(in, v, il, in->img);
    apply_map(in->ar, in->br, d->out_height, d->out_width, d->height, d->width, d->channels, in->img, in->tmp,
              in->res, 1.0, 0);
    if (in->method == SIMREP_RESIZE_DFT)
        apply_map(in->ai, in->bi, d->out_height, d->out_width, d->height, d->width, d->channels, in->img, in->tmp,
                  in->res, -1.0, 1);
    return in->res;
}

static simrep_status read_items(simrep_ctx *ctx, simrep_input *in, int64_t i0, int64_t count, simrep_matrix *v)
{
    return simrep_source_read(ctx, in->src, i0, count, v);
}

/* Computed outputs read the source in chunks of whole items of at most
 * CHUNK_ELEMENTS elements (8 MiB of float16, 32 MiB of float64), so their
 * memory does not grow with the block: a pooled block of 8192 images of
 * 32 x 32 x 256 would otherwise read 4 GiB at once. */
#define CHUNK_ELEMENTS ((int64_t)1 << 22)

typedef struct cursor {
    simrep_matrix v;
    int64_t c0, c1, end, chunk;
} cursor;

static cursor cursor_make(const simrep_input *in, int64_t end)
{
    cursor cu;
    memset(&cu, 0, sizeof cu);
    cu.end = end;
    cu.chunk = CHUNK_ELEMENTS / (in->stored > 0 ? in->stored : 1);
    cu.chunk = cu.chunk < 1 ? 1 : cu.chunk;
    return cu;
}

/* Make item readable in cu->v; *il receives its index there. */
static simrep_status cursor_at(simrep_ctx *ctx, simrep_input *in, cursor *cu, int64_t item, int64_t *il)
{
    if (item < cu->c0 || item >= cu->c1) {
        const int64_t k = cu->end - item < cu->chunk ? cu->end - item : cu->chunk;
        simrep_status st = read_items(ctx, in, item, k, &cu->v);
        if (st != SIMREP_OK)
            return st;
        cu->c0 = item;
        cu->c1 = item + k;
    }
    *il = item - cu->c0;
    return SIMREP_OK;
}

static simrep_status read_conv(simrep_ctx *ctx, simrep_input *in, int64_t row0, int64_t rows, simrep_matrix *out)
{
    const simrep_input_dims *d = &in->dims;
    const int64_t c = d->channels, oh = d->out_height, ow = d->out_width, hw = oh * ow;
    const int resized = in->method != SIMREP_RESIZE_NONE;
    const int nhwc = in->lay.conv == SIMREP_CONV_NHWC;
    const int64_t rpi = d->rows_per_item;
    const int64_t i0 = row0 / rpi, i1 = rows ? (row0 + rows + rpi - 1) / rpi : i0;
    simrep_matrix v;
    simrep_status st;
    const int plain = !in->fortran && !resized;
    if (in->lay.conv_mode == SIMREP_CONV_POSITIONS && plain && nhwc) {
        if ((st = read_items(ctx, in, i0, i1 - i0, &v)) != SIMREP_OK)
            return st;
        *out = simrep_matrix_c((const unsigned char *)v.data + (size_t)((row0 - i0 * rpi) * c) * in->isz, v.dtype,
                               rows, c);
        return SIMREP_OK;
    }
    if (in->lay.conv_mode == SIMREP_CONV_FLATTEN && plain) {
        if ((st = read_items(ctx, in, i0, i1 - i0, &v)) != SIMREP_OK)
            return st;
        *out = v;
        return SIMREP_OK;
    }
    if ((st = ensure_out(ctx, in, rows, d->features)) != SIMREP_OK)
        return st;
    double *o = in->out;
    cursor cu = cursor_make(in, i1);
    int64_t il = 0;
    if (in->lay.conv_mode == SIMREP_CONV_POSITIONS) {
        for (int64_t r = row0; r < row0 + rows;) {
            const int64_t item = r / hw, s0 = r % hw;
            const int64_t s1 = (item + 1) * hw < row0 + rows ? hw : row0 + rows - item * hw;
            if ((st = cursor_at(ctx, in, &cu, item, &il)) != SIMREP_OK)
                return st;
            double *dst = o + (r - row0) * c;
            if (resized) {
                const double *img = resized_image(in, &cu.v, il);
                memcpy(dst, img + s0 * c, (size_t)((s1 - s0) * c) * sizeof(double));
            } else {
                for (int64_t s = s0; s < s1;) {
                    const int64_t h = s / ow, w0 = s % ow;
                    const int64_t w1 = (h + 1) * ow < s1 ? ow : s1 - h * ow;
                    load_row(in, &cu.v, il, h, w0, w1, dst + (s - s0) * c);
                    s += w1 - w0;
                }
            }
            r += s1 - s0;
        }
    } else if (in->lay.conv_mode == SIMREP_CONV_POOL) {
        for (int64_t r = 0; r < rows; r++) {
            if ((st = cursor_at(ctx, in, &cu, i0 + r, &il)) != SIMREP_OK)
                return st;
            double *dst = o + r * c;
            memset(dst, 0, (size_t)c * sizeof(double));
            const double *img = resized ? resized_image(in, &cu.v, il) : NULL;
            if (img) {
                for (int64_t s = 0; s < hw; s++)
                    for (int64_t ch = 0; ch < c; ch++)
                        dst[ch] += img[s * c + ch];
            } else {
                for (int64_t h = 0; h < oh; h++)
                    for (int64_t w = 0; w < ow; w++) {
                        simrep_matrix m = sub(in, &cu.v, il, h * in->sh + w * in->sw, 1, c, 0, in->sc);
                        for (int64_t ch = 0; ch < c; ch++)
                            dst[ch] += simrep__element(&m, 0, ch);
                    }
            }
            for (int64_t ch = 0; ch < c; ch++)
                dst[ch] /= (double)hw;
        }
    } else { /* flatten, in reshape(N, -1) order */
        const int64_t f = d->features;
        for (int64_t r = 0; r < rows; r++) {
            if ((st = cursor_at(ctx, in, &cu, i0 + r, &il)) != SIMREP_OK)
                return st;
            double *dst = o + r * f;
            if (resized) {
                const double *img = resized_image(in, &cu.v, il);
                if (nhwc)
                    memcpy(dst, img, (size_t)f * sizeof(double));
                else
                    for (int64_t s = 0; s < hw; s++)
                        for (int64_t ch = 0; ch < c; ch++)
                            dst[ch * hw + s] = img[s * c + ch];
            } else if (nhwc) {
                for (int64_t h = 0; h < oh; h++)
                    load_row(in, &cu.v, il, h, 0, ow, dst + h * ow * c);
            } else {
                for (int64_t ch = 0; ch < c; ch++) {
                    simrep_matrix m = sub(in, &cu.v, il, ch * in->sc, oh, ow, in->sh, in->sw);
                    simrep_matrix_to_double(&m, dst + ch * hw, ow);
                }
            }
        }
    }
    *out = simrep_matrix_c(o, SIMREP_F64, rows, d->features);
    return SIMREP_OK;
}

static simrep_status read_seq(simrep_ctx *ctx, simrep_input *in, int64_t row0, int64_t rows, simrep_matrix *views)
{
    const simrep_input_dims *d = &in->dims;
    const int64_t t = d->steps, dd = d->features;
    const int64_t rpi = d->rows_per_item;
    const int64_t i0 = row0 / rpi, i1 = rows ? (row0 + rows + rpi - 1) / rpi : i0;
    simrep_matrix v;
    const int computed = in->lay.sequence == SIMREP_SEQUENCE_MEAN ||
                         (in->lay.sequence == SIMREP_SEQUENCE_FLATTEN && in->fortran);
    simrep_status st = computed ? SIMREP_OK : read_items(ctx, in, i0, i1 - i0, &v);
    if (st != SIMREP_OK)
        return st;
    cursor cu = cursor_make(in, i1);
    int64_t il = 0;
    switch (in->lay.sequence) {
    case SIMREP_SEQUENCE_PER_STEP:
        for (int64_t s = 0; s < t; s++) {
            views[s] = sub(in, &v, 0, s * in->st, rows, dd, 0, in->sd);
            views[s].row_stride = v.row_stride;
        }
        return SIMREP_OK;
    case SIMREP_SEQUENCE_LAST:
    case SIMREP_SEQUENCE_FIRST:
        views[0] = sub(in, &v, 0, (in->lay.sequence == SIMREP_SEQUENCE_LAST ? t - 1 : 0) * in->st, rows, dd, 0,
                       in->sd);
        views[0].row_stride = v.row_stride;
        return SIMREP_OK;
    case SIMREP_SEQUENCE_FLATTEN:
        if (!in->fortran) {
            views[0] = simrep_matrix_c((const unsigned char *)v.data + (size_t)((row0 - i0 * t) * dd) * in->isz,
                                       v.dtype, rows, dd);
            return SIMREP_OK;
        }
        if ((st = ensure_out(ctx, in, rows, dd)) != SIMREP_OK)
            return st;
        for (int64_t r = row0; r < row0 + rows;) {
            const int64_t item = r / t, s0 = r % t;
            const int64_t s1 = (item + 1) * t < row0 + rows ? t : row0 + rows - item * t;
            if ((st = cursor_at(ctx, in, &cu, item, &il)) != SIMREP_OK)
                return st;
            simrep_matrix m = sub(in, &cu.v, il, s0 * in->st, s1 - s0, dd, in->st, in->sd);
            simrep_matrix_to_double(&m, in->out + (r - row0) * dd, dd);
            r += s1 - s0;
        }
        break;
    default: /* mean */
        if ((st = ensure_out(ctx, in, rows, dd)) != SIMREP_OK)
            return st;
        for (int64_t r = 0; r < rows; r++) {
            if ((st = cursor_at(ctx, in, &cu, i0 + r, &il)) != SIMREP_OK)
                return st;
            double *dst = in->out + r * dd;
            memset(dst, 0, (size_t)dd * sizeof(double));
            simrep_matrix m = sub(in, &cu.v, il, 0, t, dd, in->st, in->sd);
            for (int64_t s = 0; s < t; s++)
                for (int64_t j = 0; j < dd; j++)
                    dst[j] += simrep__element(&m, s, j);
            for (int64_t j = 0; j < dd; j++)
                dst[j] /= (double)t;
        }
    }
    views[0] = simrep_matrix_c(in->out, SIMREP_F64, rows, dd);
    return SIMREP_OK;
}

/* The step of token k (0-based) of sequence item. */
static int64_t nth_step(const simrep_mask *m, int64_t item, int64_t k)
{
    int64_t s = simrep__mask_first(m, item);
    for (;; s++)
        if (simrep__mask_valid(m, item, s) && k-- == 0)
            return s;
}

/* The end of the run of tokens of item that starts at step s (<= last). */
static int64_t run_end(const simrep_mask *m, int64_t item, int64_t s, int64_t last)
{
    while (s <= last && simrep__mask_valid(m, item, s))
        s++;
    return s;
}

/* Sequences through a token mask: always computed, in float64. */
static simrep_status read_masked(simrep_ctx *ctx, simrep_input *in, int64_t row0, int64_t rows, simrep_matrix *views)
{
    const simrep_mask *m = in->mask;
    const int64_t dd = in->dims.features;
    simrep_status st = ensure_out(ctx, in, rows, dd);
    if (st != SIMREP_OK)
        return st;
    double *o = in->out;
    int64_t il = 0;
    if (in->lay.sequence == SIMREP_SEQUENCE_FLATTEN) {
        int64_t item = rows ? simrep__mask_item_of(m, row0) : 0;
        cursor cu = cursor_make(in, rows ? simrep__mask_item_of(m, row0 + rows - 1) + 1 : 0);
        for (int64_t r = row0; r < row0 + rows;) {
            while (simrep__mask_offset(m, item + 1) <= r)
                item++; /* sequences without tokens */
            if ((st = cursor_at(ctx, in, &cu, item, &il)) != SIMREP_OK)
                return st;
            const int64_t last = simrep__mask_last(m, item);
            for (int64_t s = nth_step(m, item, r - simrep__mask_offset(m, item)); s <= last && r < row0 + rows;) {
                if (!simrep__mask_valid(m, item, s)) {
                    s++;
                    continue;
                }
                int64_t e = run_end(m, item, s, last);
                e = e - s > row0 + rows - r ? s + (row0 + rows - r) : e;
                simrep_matrix v = sub(in, &cu.v, il, s * in->st, e - s, dd, in->st, in->sd);
                simrep_matrix_to_double(&v, o + (r - row0) * dd, dd);
                r += e - s;
                s = e;
            }
            item++;
        }
    } else {
        cursor cu = cursor_make(in, row0 + rows);
        for (int64_t r = 0; r < rows; r++) {
            const int64_t item = row0 + r;
            if ((st = cursor_at(ctx, in, &cu, item, &il)) != SIMREP_OK)
                return st;
            double *dst = o + r * dd;
            const int64_t first = simrep__mask_first(m, item), last = simrep__mask_last(m, item);
            if (in->lay.sequence != SIMREP_SEQUENCE_MEAN) {
                const int64_t s = in->lay.sequence == SIMREP_SEQUENCE_FIRST ? first : last;
                simrep_matrix v = sub(in, &cu.v, il, s * in->st, 1, dd, in->st, in->sd);
                simrep_matrix_to_double(&v, dst, dd);
                continue;
            }
            memset(dst, 0, (size_t)dd * sizeof(double));
            int64_t count = 0;
            for (int64_t s = first; s <= last; s++) {
                if (!simrep__mask_valid(m, item, s))
                    continue;
                simrep_matrix v = sub(in, &cu.v, il, s * in->st, 1, dd, in->st, in->sd);
                for (int64_t j = 0; j < dd; j++)
                    dst[j] += simrep__element(&v, 0, j);
                count++;
            }
            for (int64_t j = 0; j < dd; j++)
                dst[j] /= (double)count;
        }
    }
    views[0] = simrep_matrix_c(o, SIMREP_F64, rows, dd);
    return SIMREP_OK;
}

int64_t simrep_input_item_row(const simrep_input *in, int64_t item)
{
    if (!in || item < 0 || item > in->dims.items)
        return -1;
    if (in->mask && in->lay.sequence == SIMREP_SEQUENCE_FLATTEN)
        return simrep__mask_offset(in->mask, item);
    return item * in->dims.rows_per_item;
}

simrep_status simrep_input_read(simrep_ctx *ctx, simrep_input *in, int64_t row0, int64_t rows,
                                simrep_matrix *views)
{
    if (!ctx || !in || !views || row0 < 0 || rows < 0)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_input_read: invalid arguments");
    const simrep_input_dims *d = &in->dims;
    if (in->kind == KIND_PLAIN)
        return simrep_source_read(ctx, in->src, row0, rows, &views[0]);
    if (row0 > d->samples)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: read from sample %lld but the input has %lld samples",
                            label_of(in), (long long)row0, (long long)d->samples);
    if (rows > d->samples - row0)
        rows = d->samples - row0;
    simrep_status st = in->kind == KIND_CONV ? read_conv(ctx, in, row0, rows, views)
                       : in->mask            ? read_masked(ctx, in, row0, rows, views)
                                             : read_seq(ctx, in, row0, rows, views);
    if (st != SIMREP_OK && ctx->message[0] && strncmp(ctx->message, label_of(in), strlen(label_of(in))) != 0)
        simrep__prefix(ctx, "%s", label_of(in));
    return st;
}

simrep_status simrep_input_read_maps(simrep_ctx *ctx, simrep_input *in, int64_t item0, int64_t count,
                                     simrep_matrix *view)
{
    if (!ctx || !in || !view || item0 < 0 || count < 0)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_input_read_maps: invalid arguments");
    if (in->kind != KIND_CONV)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: not conv maps (%d-D); DFT-CCA needs 4-D maps and --conv",
                            label_of(in), in->dims.ndim);
    const simrep_input_dims *d = &in->dims;
    if (item0 > d->items)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: read from image %lld but the input has %lld", label_of(in),
                            (long long)item0, (long long)d->items);
    if (count > d->items - item0)
        count = d->items - item0;
    simrep_status st;
    const int64_t f = d->height * d->width * d->channels;
    if (!in->fortran && in->lay.conv == SIMREP_CONV_NHWC)
        return read_items(ctx, in, item0, count, view);
    if ((st = ensure_out(ctx, in, count, f)) != SIMREP_OK)
        return st;
    cursor cu = cursor_make(in, item0 + count);
    int64_t il = 0;
    for (int64_t r = 0; r < count; r++) {
        if ((st = cursor_at(ctx, in, &cu, item0 + r, &il)) != SIMREP_OK)
            return st;
        load_image(in, &cu.v, il, in->out + r * f);
    }
    *view = simrep_matrix_c(in->out, SIMREP_F64, count, f);
    return SIMREP_OK;
}
