/*
 * mask.c: token masks of padded sequences (simrep.h, "Token masks"): which
 * steps of an (N, T, D) array are tokens, so that simrep_input can take
 * the valid tokens as samples, or average / pick among them.
 *
 * A mask comes as a tokenizer gives it: an N x T attention mask (1 = token,
 * 0 = padding) of bool, any integer or any float dtype, or N lengths (right
 * padding).  Whatever the source, the values go through one decoder
 * (elements of the array-protocol / safetensors dtype spelling to double)
 * and one checker, chunk by chunk, so a file and a numpy array are held to
 * the same rules and the messages are the same: anything but 0/1 in an
 * N x T mask, and lengths that are negative or fractional, are errors
 * naming the element, because a mask of 0/255 or of logits is a mistake
 * upstream that a "nonzero is valid" rule would hide.
 *
 * Stored: the N x T mask as bytes in C order (or the N lengths) plus, per
 * sequence, the rank of its first token among all tokens (a prefix sum:
 * the row where a sequence starts in the flattened token matrix, found
 * back by binary search) and its first and last valid step.  input.c
 * reads only through the simrep__mask_* accessors (internal.h).
 *
 * Rejected: keeping a pointer to the caller's mask (Python arrays move and
 * die; N x T bytes is small next to N x T x D activations), and a run
 * length encoding (masks are read once per block; scanning T bytes per
 * sequence is nothing next to copying T x D values).
 */
#include "internal.h"
#include "io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

struct simrep_mask {
    int64_t items, steps;   /* steps: 0 for a lengths mask */
    unsigned char *valid;   /* items x steps, 0/1; NULL for lengths */
    int64_t *lengths;       /* NULL for an N x T mask */
    int64_t *offset;        /* items + 1: tokens before sequence i */
    int64_t *first, *last;  /* valid steps; -1 for a sequence without tokens */
    int64_t max_step;       /* the largest valid step + 1 over all sequences */
    char label[4096 + SIMREP_NAME_MAX + 8];
};

/* An element type: kind 'b' (bool), 'i', 'u', 'f' or 'B' (bfloat16), its
 * size in bytes, and whether it is stored big-endian. */
typedef struct elem_type {
    char kind;
    int size;
    int big;
} elem_type;

static int host_big(void)
{
    uint16_t x = 1;
    unsigned char c;
    memcpy(&c, &x, 1);
    return c == 0;
}

/* numpy's "<i8", "|b1", ">f4" or safetensors' "I64", "BOOL", "F16"; 0 if
 * not a type a mask can have. */
static int parse_type(const char *text, int big_endian, elem_type *t)
{
    static const struct {
        const char *name;
        char kind;
        int size;
    } st[] = {{"BOOL", 'b', 1}, {"U8", 'u', 1},  {"I8", 'i', 1},  {"U16", 'u', 2}, {"I16", 'i', 2},
              {"U32", 'u', 4},  {"I32", 'i', 4}, {"U64", 'u', 8}, {"I64", 'i', 8}, {"F16", 'f', 2},
              {"BF16", 'B', 2}, {"F32", 'f', 4}, {"F64", 'f', 8}};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        if (strcmp(text, st[i].name) == 0) {
            *t = (elem_type){st[i].kind, st[i].size, big_endian};
            return 1;
        }
    const char *d = text;
    int big = big_endian;
    if (*d == '<' || *d == '>' || *d == '|' || *d == '=') {
        big = *d == '>' ? 1 : *d == '<' ? 0 : host_big();
        d++;
    }
    const char kind = *d++;
    if (!kind || !strchr("biuf", kind) || !*d || d[1])
        return 0;
    const int size = *d - '0';
    if (!(size == 1 || size == 2 || size == 4 || size == 8) || (kind == 'b' && size != 1) ||
        (kind == 'f' && size == 1))
        return 0;
    *t = (elem_type){kind, size, big};
    return 1;
}

/* count elements of type t at src into dst as double. */
static void decode(const elem_type *t, const unsigned char *src, int64_t count, double *dst)
{
    const int swap = t->big != host_big() && t->size > 1;
    for (int64_t e = 0; e < count; e++, src += t->size) {
        unsigned char b[8];
        for (int k = 0; k < t->size; k++)
            b[k] = src[swap ? t->size - 1 - k : k];
        uint64_t u = 0;
        double v = 0;
        switch (t->kind) {
        case 'b': v = b[0]; break;
        case 'u':
            memcpy(&u, b, (size_t)t->size); /* little-endian host: the low bytes */
            if (host_big())
                u >>= 64 - 8 * t->size;
            v = (double)u;
            break;
        case 'i': {
            memcpy(&u, b, (size_t)t->size);
            if (host_big())
                u >>= 64 - 8 * t->size;
            const int bits = 8 * t->size;
            int64_t s = bits == 64 ? (int64_t)u : (int64_t)(u ^ ((uint64_t)1 << (bits - 1))) - ((int64_t)1 << (bits - 1));
            v = (double)s;
            break;
        }
        case 'B': {
            uint16_t h;
            memcpy(&h, b, 2);
            v = simrep__bf16_to_double(h);
            break;
        }
        default:
            if (t->size == 2) {
                uint16_t h;
                memcpy(&h, b, 2);
                v = simrep__f16_to_double(h);
            } else if (t->size == 4) {
                float f;
                memcpy(&f, b, 4);
                v = f;
            } else {
                memcpy(&v, b, 8);
            }
        }
        dst[e] = v;
    }
}

/* Where the elements come from: a file source or the caller's memory. */
typedef struct feed {
    simrep_source *src;
    const unsigned char *mem;
} feed;

static simrep_status fetch(simrep_ctx *ctx, const feed *f, uint64_t off, void *dst, size_t n)
{
    if (f->src)
        return simrep__source_read_bytes(ctx, f->src, off, dst, n);
    memcpy(dst, f->mem + off, n);
    return SIMREP_OK;
}

void simrep_mask_free(simrep_ctx *ctx, simrep_mask *mask)
{
    if (!mask)
        return;
    simrep__free(ctx, mask->valid);
    simrep__free(ctx, mask->lengths);
    simrep__free(ctx, mask->offset);
    simrep__free(ctx, mask->first);
    simrep__free(ctx, mask->last);
    simrep__free(ctx, mask);
}

/* Elements per chunk while reading: 64 Ki (1 MiB of int64 plus 512 KiB of
 * doubles), so a large int64 attention mask never sits in memory twice. */
#define MASK_CHUNK ((int64_t)1 << 16)

static simrep_status build(simrep_ctx *ctx, const feed *f, const char *dtype_text, int big_endian, int ndim,
                           const int64_t *shape, int fortran, const char *label, simrep_mask **out)
{
    *out = NULL;
    char shp[256];
    simrep_array_info fake;
    memset(&fake, 0, sizeof fake);
    fake.ndim = ndim > 0 && ndim <= SIMREP_MAX_NDIM ? ndim : 0;
    for (int i = 0; i < fake.ndim; i++)
        fake.shape[i] = shape[i];
    simrep__format_shape(&fake, shp, sizeof shp);
    if (ndim != 1 && ndim != 2)
        return simrep__fail(ctx, SIMREP_E_SHAPE,
                            "%s: a mask is (N, T) with 1 for a token and 0 for padding, or (N,) lengths; this "
                            "one has shape %s",
                            label, shp);
    elem_type t;
    if (!parse_type(dtype_text, big_endian, &t))
        return simrep__fail(ctx, SIMREP_E_UNSUPPORTED,
                            "%s: dtype %s is not a mask's: bool, integers, or floats holding 0/1 (lengths: "
                            "integers)",
                            label, dtype_text);
    const int64_t n = shape[0], steps = ndim == 2 ? shape[1] : 0;
    int64_t total;
    if (n < 0 || steps < 0 || !simrep__mul_i64(n, ndim == 2 ? steps : 1, &total) || total > INT64_MAX / 8)
        return simrep__fail(ctx, SIMREP_E_SHAPE, "%s: mask shape %s out of range", label, shp);
    simrep_mask *m = simrep__alloc(ctx, sizeof *m, "a token mask");
    if (!m)
        return simrep__prefix(ctx, "%s", label);
    memset(m, 0, sizeof *m);
    snprintf(m->label, sizeof m->label, "%s", label);
    m->items = n;
    m->steps = steps;
    if (ndim == 2)
        m->valid = simrep__alloc_array(ctx, (size_t)(total > 0 ? total : 1), 1, "the token mask");
    else
        m->lengths = simrep__alloc_array(ctx, (size_t)(n > 0 ? n : 1), sizeof(int64_t), "the mask's lengths");
    m->offset = simrep__alloc_array(ctx, (size_t)n + 1, sizeof(int64_t), "the mask's offsets");
    m->first = simrep__alloc_array(ctx, (size_t)(n > 0 ? n : 1), sizeof(int64_t), "the mask's offsets");
    m->last = simrep__alloc_array(ctx, (size_t)(n > 0 ? n : 1), sizeof(int64_t), "the mask's offsets");
    unsigned char *raw = simrep__alloc_array(ctx, (size_t)MASK_CHUNK, (size_t)t.size, "a mask chunk");
    double *vals = simrep__alloc_array(ctx, (size_t)MASK_CHUNK, sizeof(double), "a mask chunk");
    simrep_status st = SIMREP_OK;
    if (!(m->valid || m->lengths) || !m->offset || !m->first || !m->last || !raw || !vals)
        st = simrep__prefix(ctx, "%s", label);
    for (int64_t e0 = 0; st == SIMREP_OK && e0 < total; e0 += MASK_CHUNK) {
        const int64_t c = total - e0 < MASK_CHUNK ? total - e0 : MASK_CHUNK;
        st = fetch(ctx, f, (uint64_t)e0 * (uint64_t)t.size, raw, (size_t)c * (size_t)t.size);
        if (st != SIMREP_OK)
            break;
        decode(&t, raw, c, vals);
        for (int64_t k = 0; k < c; k++) {
            const int64_t e = e0 + k;
            const double v = vals[k];
            if (ndim == 1) {
                if (!(v >= 0 && v == floor(v) && v < 9e15)) {
                    st = simrep__fail(ctx, SIMREP_E_SHAPE,
                                      "%s: length %g at [%lld]; a 1-D mask holds the number of tokens of each "
                                      "sequence, whole numbers >= 0",
                                      label, v, (long long)e);
                    break;
                }
                m->lengths[e] = (int64_t)v;
                continue;
            }
            const int64_t i = fortran ? e % n : e / steps, s = fortran ? e / n : e % steps;
            if (!(v == 0 || v == 1)) {
                st = simrep__fail(ctx, SIMREP_E_SHAPE,
                                  "%s: value %g at [%lld, %lld]; a mask holds 1 for a token and 0 for padding (bool "
                                  "or 0/1; PyTorch's src_key_padding_mask is the opposite: pass ~mask)",
                                  label, v, (long long)i, (long long)s);
                break;
            }
            m->valid[i * steps + s] = (unsigned char)v;
        }
    }
    simrep__free(ctx, raw);
    simrep__free(ctx, vals);
    if (st == SIMREP_OK) {
        m->offset[0] = 0;
        for (int64_t i = 0; i < n; i++) {
            int64_t count = 0, lo = -1, hi = -1;
            if (m->lengths) {
                count = m->lengths[i];
                lo = count ? 0 : -1;
                hi = count - 1;
            } else {
                const unsigned char *row = m->valid + i * steps;
                for (int64_t s = 0; s < steps; s++)
                    if (row[s]) {
                        lo = lo < 0 ? s : lo;
                        hi = s;
                        count++;
                    }
            }
            m->first[i] = lo;
            m->last[i] = hi;
            m->max_step = hi + 1 > m->max_step ? hi + 1 : m->max_step;
            m->offset[i + 1] = m->offset[i] + count; /* <= N * 9e15 / N: lengths are capped above */
            if (m->offset[i + 1] < m->offset[i] || m->offset[i + 1] > ((int64_t)1 << 62)) {
                st = simrep__fail(ctx, SIMREP_E_SHAPE, "%s: more than 2^62 tokens", label);
                break;
            }
        }
    }
    if (st == SIMREP_OK && m->offset[n] == 0)
        st = simrep__fail(ctx, SIMREP_E_SHAPE, "%s: every position is padding (no token in %lld sequences%s)",
                          label, (long long)n, ndim == 2 && steps == 0 ? " of 0 steps" : "");
    if (st != SIMREP_OK) {
        simrep_mask_free(ctx, m);
        return st;
    }
    *out = m;
    return SIMREP_OK;
}

simrep_status simrep_mask_open(simrep_ctx *ctx, const char *spec, simrep_mask **out)
{
    if (!ctx || !spec || !out)
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_mask_open: invalid arguments");
    *out = NULL;
    simrep_source *src = NULL;
    simrep_status st = simrep__source_open_raw(ctx, spec, &src);
    if (st != SIMREP_OK)
        return st;
    const simrep_array_info *info = simrep_source_info(src);
    feed f = {src, NULL};
    st = build(ctx, &f, info->dtype_text, info->big_endian, info->ndim, info->shape, info->fortran_order,
               simrep__source_label(src), out);
    simrep_source_free(ctx, src);
    return st;
}

simrep_status simrep_mask_from_memory(simrep_ctx *ctx, const void *data, const char *dtype_text, int ndim,
                                      const int64_t *shape, int fortran_order, const char *label,
                                      simrep_mask **out)
{
    if (!ctx || !dtype_text || !shape || !out || (fortran_order != 0 && fortran_order != 1))
        return simrep__fail(ctx, SIMREP_E_INVALID, "simrep_mask_from_memory: invalid arguments");
    *out = NULL;
    if (!label)
        label = "<mask>";
    int empty = 0;
    for (int i = 0; i < ndim && i < SIMREP_MAX_NDIM; i++)
        empty |= shape[i] <= 0;
    if (!data && !empty)
        return simrep__fail(ctx, SIMREP_E_INVALID, "%s: no data", label);
    feed f = {NULL, data};
    return build(ctx, &f, dtype_text, host_big(), ndim, shape, fortran_order, label, out);
}

int64_t simrep_mask_items(const simrep_mask *mask) { return mask ? mask->items : 0; }
int64_t simrep_mask_steps(const simrep_mask *mask) { return mask ? mask->steps : 0; }
int64_t simrep_mask_tokens(const simrep_mask *mask) { return mask ? mask->offset[mask->items] : 0; }
const char *simrep_mask_label(const simrep_mask *mask) { return mask ? mask->label : ""; }

int64_t simrep_mask_count(const simrep_mask *mask, int64_t item)
{
    if (!mask || item < 0 || item >= mask->items)
        return 0;
    return mask->offset[item + 1] - mask->offset[item];
}

/* ----------------------------------------------------- for input.c */

int64_t simrep__mask_offset(const simrep_mask *m, int64_t item) { return m->offset[item]; }
int64_t simrep__mask_first(const simrep_mask *m, int64_t item) { return m->first[item]; }
int64_t simrep__mask_last(const simrep_mask *m, int64_t item) { return m->last[item]; }
int64_t simrep__mask_max_step(const simrep_mask *m) { return m->max_step; }

int simrep__mask_valid(const simrep_mask *m, int64_t item, int64_t step)
{
    if (m->lengths)
        return step < m->lengths[item];
    return m->valid[item * m->steps + step];
}

int64_t simrep__mask_item_of(const simrep_mask *m, int64_t token)
{
    /* The last item whose offset is <= token (skipping empty sequences). */
    int64_t lo = 0, hi = m->items; /* offset[lo] <= token < offset[hi] */
    while (hi - lo > 1) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (m->offset[mid] <= token)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}
