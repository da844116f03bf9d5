/*
 * test_layout.c: simrep_input (conv maps and sequences as samples x
 * features blocks) on .npy buffers built here, against the index
 * arithmetic written out directly: every conv mode x NHWC/NCHW x C/Fortran
 * order x dtype, every sequence mode, and reads in blocks of every size
 * from 1 row up, so block boundaries fall inside and between items.  Values
 * are small integers (exact in float16), so every check is exact.  Then the
 * resize maps on closed forms (a constant map stays constant; pool-to with
 * an integer ratio is block averaging) and DFT-CCA's invariances.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "simrep.h"

/* An .npy v1.0 buffer of shape dims holding value(i) at flat C index i,
 * in dtype (F16/F32/F64) and C or Fortran order.  Caller frees. */
static unsigned char *npy(const int64_t *shape, int ndim, simrep_dtype dt, int fortran,
                          double (*value)(int64_t), size_t *len)
{
    char hdr[256];
    char sh[128] = "";
    for (int i = 0; i < ndim; i++)
        snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%lld, ", (long long)shape[i]);
    const char *descr = dt == SIMREP_F16 ? "<f2" : dt == SIMREP_F32 ? "<f4" : "<f8";
    int k = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': %s, 'shape': (%s), }", descr,
                     fortran ? "True" : "False", sh);
    int total = 10 + k + 1;
    int pad = (64 - total % 64) % 64;
    int64_t count = 1;
    for (int i = 0; i < ndim; i++)
        count *= shape[i];
    size_t isz = simrep_dtype_size(dt);
    *len = (size_t)(total + pad) + (size_t)count * isz;
    unsigned char *b = calloc(1, *len);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    int hl = k + pad + 1;
    b[8] = (unsigned char)(hl & 255);
    b[9] = (unsigned char)(hl >> 8);
    memcpy(b + 10, hdr, (size_t)k);
    memset(b + 10 + k, ' ', (size_t)pad);
    b[10 + k + pad] = '\n';
    unsigned char *data = b + total + pad;
    int64_t idx[8];
    for (int64_t c = 0; c < count; c++) {
        /* c is the C-order flat index; place it at its memory position */
        int64_t r = c;
        for (int i = ndim - 1; i >= 0; i--) {
            idx[i] = r % shape[i];
            r /= shape[i];
        }
        int64_t pos = 0, stride = 1;
        if (fortran)
            for (int i = 0; i < ndim; i++) {
                pos += idx[i] * stride;
                stride *= shape[i];
            }
        else
            pos = c;
        double v = value(c);
        if (dt == SIMREP_F64) {
            memcpy(data + pos * 8, &v, 8);
        } else if (dt == SIMREP_F32) {
            float f = (float)v;
            memcpy(data + pos * 4, &f, 4);
        } else { /* small integers, exactly representable in binary16 */
            uint16_t hbits = 0;
            if (v != 0) {
                int e = 0;
                double m = frexp(fabs(v), &e); /* v = m 2^e, m in [0.5, 1) */
                uint16_t mant = (uint16_t)((m * 2 - 1) * 1024);
                hbits = (uint16_t)(((e - 1 + 15) << 10) | mant);
                if (v < 0)
                    hbits |= 0x8000;
            }
            memcpy(data + pos * 2, &hbits, 2);
        }
    }
    return b;
}

static double val_index(int64_t c)
{
    return (double)(c % 1000) - 300.0; /* distinct within the small arrays here; exact in f16 */
}

static simrep_input *open_input(simrep_ctx *ctx, const unsigned char *buf, size_t len, const simrep_layout *lay)
{
    simrep_source *src = NULL;
    simrep_input *in = NULL;
    if (simrep_source_open_buffer(ctx, buf, len, SIMREP_FORMAT_NPY, NULL, &src) != SIMREP_OK)
        return NULL;
    if (simrep_input_from_source(ctx, src, lay, &in) != SIMREP_OK)
        return NULL;
    return in;
}

/* Expected conv element (n, h, w, c) of an array whose file axes are NHWC or NCHW. */
static double conv_at(int nhwc, int64_t N, int64_t H, int64_t W, int64_t C, int64_t n, int64_t h, int64_t w,
                      int64_t c)
{
    (void)N;
    int64_t flat = nhwc ? ((n * H + h) * W + w) * C + c : ((n * C + c) * H + h) * W + w;
    return val_index(flat);
}

static void test_conv_modes(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    const int64_t N = 5, H = 3, W = 2, C = 4;
    const simrep_dtype dts[] = {SIMREP_F16, SIMREP_F32, SIMREP_F64};
    for (int nhwc = 0; nhwc < 2; nhwc++)
        for (int fortran = 0; fortran < 2; fortran++)
            for (int di = 0; di < 3; di++)
                for (int mode = 0; mode < 3; mode++) {
                    int64_t shape[4] = {N, nhwc ? H : C, nhwc ? W : H, nhwc ? C : W};
                    size_t len;
                    unsigned char *buf = npy(shape, 4, dts[di], fortran, val_index, &len);
                    simrep_layout lay;
                    simrep_layout_init(&lay);
                    lay.conv = nhwc ? SIMREP_CONV_NHWC : SIMREP_CONV_NCHW;
                    lay.conv_mode = (simrep_conv_mode)mode;
                    simrep_input *in = open_input(ctx, buf, len, &lay);
                    CHECK(in != NULL);
                    if (!in) {
                        free(buf);
                        continue;
                    }
                    simrep_input_dims d;
                    simrep_input_dims_get(in, &d);
                    const int64_t rows = mode == 0 ? N * H * W : N;
                    const int64_t cols = mode == 1 || mode == 0 ? C : H * W * C;
                    CHECK(d.samples == rows && d.features == cols && d.views == 1);
                    int bad = 0;
                    for (int64_t block = 1; block <= rows; block += (block < 8 ? 1 : 7)) {
                        for (int64_t r0 = 0; r0 < rows; r0 += block) {
                            simrep_matrix v;
                            CHECK_STATUS(ctx, simrep_input_read(ctx, in, r0, block, &v), SIMREP_OK);
                            int64_t got = r0 + block > rows ? rows - r0 : block;
                            bad += v.rows != got || v.cols != cols;
                            for (int64_t i = 0; i < v.rows && !bad; i++)
                                for (int64_t j = 0; j < cols; j++) {
                                    const int64_t r = r0 + i;
                                    double e;
                                    if (mode == 0) {
                                        e = conv_at(nhwc, N, H, W, C, r / (H * W), (r % (H * W)) / W, r % W, j);
                                    } else if (mode == 1) {
                                        e = 0;
                                        for (int64_t h = 0; h < H; h++)
                                            for (int64_t w = 0; w < W; w++)
                                                e += conv_at(nhwc, N, H, W, C, r, h, w, j);
                                        e /= (double)(H * W);
                                    } else if (nhwc) { /* (h, w, c) */
                                        e = conv_at(1, N, H, W, C, r, j / (W * C), (j / C) % W, j % C);
                                    } else {           /* (c, h, w) */
                                        e = conv_at(0, N, H, W, C, r, (j / W) % H, j % W, j / (H * W));
                                    }
                                    double g;
                                    simrep_matrix one = v;
                                    one.rows = 1;
                                    one.cols = 1;
                                    one.data = (const unsigned char *)v.data +
                                               (size_t)(i * v.row_stride + j * v.col_stride) *
                                                   simrep_dtype_size(v.dtype);
                                    simrep_matrix_to_double(&one, &g, 1);
                                    if (fabs(g - e) > 1e-12 * (1 + fabs(e)))
                                        bad++;
                                }
                        }
                    }
                    CHECK(bad == 0);
                    if (bad)
                        fprintf(stderr, "  conv nhwc=%d fortran=%d dtype=%d mode=%d\n", nhwc, fortran, di, mode);
                    /* maps: NHWC order whatever the file */
                    simrep_matrix mv;
                    CHECK_STATUS(ctx, simrep_input_read_maps(ctx, in, 1, 3, &mv), SIMREP_OK);
                    int badm = mv.rows != 3 || mv.cols != H * W * C;
                    for (int64_t i = 0; i < mv.rows && !badm; i++)
                        for (int64_t j = 0; j < mv.cols; j++) {
                            double g;
                            simrep_matrix one = mv;
                            one.rows = one.cols = 1;
                            one.data = (const unsigned char *)mv.data +
                                       (size_t)(i * mv.row_stride + j * mv.col_stride) * simrep_dtype_size(mv.dtype);
                            simrep_matrix_to_double(&one, &g, 1);
                            badm += g != conv_at(nhwc, N, H, W, C, 1 + i, j / (W * C), (j / C) % W, j % C);
                        }
                    CHECK(badm == 0);
                    simrep_input_free(ctx, in);
                    free(buf);
                }
    simrep_ctx_free(ctx);
}

static double seq_at(int64_t T, int64_t D, int64_t n, int64_t t, int64_t d)
{
    return val_index((n * T + t) * D + d);
}

static double get(const simrep_matrix *v, int64_t i, int64_t j)
{
    double g;
    simrep_matrix one = *v;
    one.rows = one.cols = 1;
    one.data = (const unsigned char *)v->data + (size_t)(i * v->row_stride + j * v->col_stride) * simrep_dtype_size(v->dtype);
    simrep_matrix_to_double(&one, &g, 1);
    return g;
}

static void test_sequence_modes(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    const int64_t N = 6, T = 4, D = 3;
    for (int fortran = 0; fortran < 2; fortran++)
        for (int dt = 0; dt < 2; dt++)
            for (int mode = 1; mode <= 5; mode++) {
                int64_t shape[3] = {N, T, D};
                size_t len;
                unsigned char *buf = npy(shape, 3, dt ? SIMREP_F32 : SIMREP_F16, fortran, val_index, &len);
                simrep_layout lay;
                simrep_layout_init(&lay);
                lay.sequence = (simrep_sequence)mode;
                simrep_input *in = open_input(ctx, buf, len, &lay);
                CHECK(in != NULL);
                simrep_input_dims d;
                simrep_input_dims_get(in, &d);
                const int64_t rows = mode == SIMREP_SEQUENCE_FLATTEN ? N * T : N;
                CHECK(d.samples == rows && d.features == D && d.steps == T);
                CHECK(d.views == (mode == SIMREP_SEQUENCE_PER_STEP ? T : 1));
                simrep_matrix v[8];
                int bad = 0;
                for (int64_t block = 1; block <= rows; block++)
                    for (int64_t r0 = 0; r0 < rows; r0 += block) {
                        CHECK_STATUS(ctx, simrep_input_read(ctx, in, r0, block, v), SIMREP_OK);
                        for (int64_t k = 0; k < d.views; k++)
                            for (int64_t i = 0; i < v[k].rows; i++)
                                for (int64_t j = 0; j < D; j++) {
                                    const int64_t r = r0 + i;
                                    double e = 0;
                                    if (mode == SIMREP_SEQUENCE_FLATTEN)
                                        e = seq_at(T, D, r / T, r % T, j);
                                    else if (mode == SIMREP_SEQUENCE_PER_STEP)
                                        e = seq_at(T, D, r, k, j);
                                    else if (mode == SIMREP_SEQUENCE_LAST)
                                        e = seq_at(T, D, r, T - 1, j);
                                    else if (mode == SIMREP_SEQUENCE_FIRST)
                                        e = seq_at(T, D, r, 0, j);
                                    else {
                                        for (int64_t t = 0; t < T; t++)
                                            e += seq_at(T, D, r, t, j) / (double)T;
                                    }
                                    bad += fabs(get(&v[k], i, j) - e) > 1e-12 * (1 + fabs(e));
                                }
                    }
                CHECK(bad == 0);
                if (bad)
                    fprintf(stderr, "  sequence fortran=%d dt=%d mode=%d\n", fortran, dt, mode);
                simrep_input_free(ctx, in);
                free(buf);
            }
    simrep_ctx_free(ctx);
}

static double val_const(int64_t c)
{
    (void)c;
    return 2.5;
}

static void test_resize_and_errors(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    /* a constant map stays constant under every method and direction */
    int64_t shape[4] = {2, 6, 4, 3};
    size_t len;
    unsigned char *buf = npy(shape, 4, SIMREP_F64, 0, val_const, &len);
    const int64_t sizes[][2] = {{3, 2}, {9, 8}, {5, 3}, {6, 4}};
    for (int m = SIMREP_RESIZE_INTERP; m <= SIMREP_RESIZE_DFT; m++)
        for (int s = 0; s < 4; s++) {
            simrep_layout lay;
            simrep_layout_init(&lay);
            lay.conv = SIMREP_CONV_NHWC;
            lay.resize = (simrep_resize)m;
            simrep_input *in = open_input(ctx, buf, len, &lay);
            CHECK_STATUS(ctx, simrep_input_set_spatial(ctx, in, sizes[s][0], sizes[s][1]), SIMREP_OK);
            simrep_input_dims d;
            simrep_input_dims_get(in, &d);
            CHECK(d.samples == 2 * sizes[s][0] * sizes[s][1] && d.out_height == sizes[s][0]);
            simrep_matrix v;
            CHECK_STATUS(ctx, simrep_input_read(ctx, in, 0, d.samples, &v), SIMREP_OK);
            double worst = 0;
            for (int64_t i = 0; i < v.rows; i++)
                for (int64_t j = 0; j < v.cols; j++)
                    worst = fmax(worst, fabs(get(&v, i, j) - 2.5));
            CHECK(worst < 1e-12); /* dft: sums of unit phasors, round-off only */
            simrep_input_free(ctx, in);
        }
    free(buf);

    /* pool-to with an integer ratio is block averaging */
    buf = npy(shape, 4, SIMREP_F32, 1, val_index, &len);
    simrep_layout lay;
    simrep_layout_init(&lay);
    lay.conv = SIMREP_CONV_NHWC;
    lay.resize = SIMREP_RESIZE_POOL_TO;
    simrep_input *in = open_input(ctx, buf, len, &lay);
    CHECK_STATUS(ctx, simrep_input_set_spatial(ctx, in, 3, 2), SIMREP_OK);
    simrep_matrix v;
    CHECK_STATUS(ctx, simrep_input_read(ctx, in, 0, 12, &v), SIMREP_OK);
    int bad = 0;
    for (int64_t r = 0; r < 12; r++)
        for (int64_t c = 0; c < 3; c++) {
            const int64_t n = r / 6, oh = (r % 6) / 2, ow = r % 2;
            double e = 0;
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    e += conv_at(1, 2, 6, 4, 3, n, 2 * oh + a, 2 * ow + b, c) / 4;
            bad += fabs(get(&v, r, c) - e) > 1e-12;
        }
    CHECK(bad == 0);
    simrep_input_free(ctx, in);

    /* agree: positions without --resize need equal sizes; interp takes the largest */
    int64_t small[4] = {2, 3, 2, 3};
    size_t len2;
    unsigned char *buf2 = npy(small, 4, SIMREP_F32, 0, val_index, &len2);
    lay.resize = SIMREP_RESIZE_NONE;
    simrep_input *a = open_input(ctx, buf, len, &lay), *b = open_input(ctx, buf2, len2, &lay);
    simrep_input *both[2] = {a, b};
    CHECK_STATUS(ctx, simrep_inputs_agree(ctx, both, 2), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "--resize") != NULL);
    simrep_input_free(ctx, a);
    simrep_input_free(ctx, b);
    lay.resize = SIMREP_RESIZE_INTERP;
    a = open_input(ctx, buf, len, &lay);
    b = open_input(ctx, buf2, len2, &lay);
    both[0] = a, both[1] = b;
    CHECK_STATUS(ctx, simrep_inputs_agree(ctx, both, 2), SIMREP_OK);
    simrep_input_dims da, db;
    simrep_input_dims_get(a, &da);
    simrep_input_dims_get(b, &db);
    CHECK(da.out_height == 6 && db.out_height == 6 && db.out_width == 4 && da.samples == db.samples);
    simrep_input_free(ctx, a);
    simrep_input_free(ctx, b);

    /* a 4-D array without --conv names the option */
    simrep_layout plain;
    simrep_layout_init(&plain);
    simrep_source *src = NULL;
    CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, buf, len, SIMREP_FORMAT_NPY, NULL, &src), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_input_from_source(ctx, src, &plain, &in), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "--conv nhwc") != NULL);
    free(buf);
    free(buf2);
    simrep_ctx_free(ctx);
}

static void test_dftcca_invariances(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    const int64_t n = 60, h = 4, w = 3, p = 3, q = 2;
    double *x = malloc(sizeof(double) * (size_t)(n * h * w * p));
    double *y = malloc(sizeof(double) * (size_t)(n * h * w * q));
    double *xs = malloc(sizeof(double) * (size_t)(n * h * w * p));
    uint64_t s = 12345;
    for (int64_t i = 0; i < n * h * w * p; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (double)(s >> 11) / 9007199254740992.0 - 0.5;
    }
    for (int64_t i = 0; i < n * h * w; i++)
        for (int64_t c = 0; c < q; c++)
            y[i * q + c] = x[i * p + c] + 0.3 * x[i * p + 2] * (c ? 1 : -1) + 0.1 * x[(i * p + 7) % (n * h * w * p)];
    /* a circular shift of x by (1, 2) */
    for (int64_t i = 0; i < n; i++)
        for (int64_t a = 0; a < h; a++)
            for (int64_t b = 0; b < w; b++)
                for (int64_t c = 0; c < p; c++)
                    xs[((i * h + (a + 1) % h) * w + (b + 2) % w) * p + c] = x[((i * h + a) * w + b) * p + c];
    double sim[3];
    for (int k = 0; k < 3; k++) {
        simrep_dftcca *d = NULL;
        CHECK_STATUS(ctx, simrep_dftcca_new(ctx, h, w, p, h, w, k == 2 ? p : q, &d), SIMREP_OK);
        simrep_matrix mx = simrep_matrix_c(k == 1 ? xs : x, SIMREP_F64, n, h * w * p);
        simrep_matrix my = simrep_matrix_c(k == 2 ? x : y, SIMREP_F64, n, h * w * (k == 2 ? p : q));
        /* in two updates, to exercise the merge */
        simrep_matrix a = mx, b = my;
        a.rows = b.rows = 25;
        CHECK_STATUS(ctx, simrep_dftcca_update(ctx, d, &a, &b), SIMREP_OK);
        a.data = (const double *)mx.data + 25 * mx.row_stride;
        b.data = (const double *)my.data + 25 * my.row_stride;
        a.rows = b.rows = n - 25;
        CHECK_STATUS(ctx, simrep_dftcca_update(ctx, d, &a, &b), SIMREP_OK);
        simrep_dftcca_result r;
        CHECK_STATUS(ctx, simrep_dftcca_compute(ctx, d, NULL, &r), SIMREP_OK);
        sim[k] = r.similarity;
        int64_t cnt = 0;
        for (int64_t f = 0; f < r.nfreq; f++)
            cnt += r.freqs[f].count;
        CHECK(cnt == h * w);
        CHECK(r.total == h * w * (k == 2 ? p : q));
        simrep_dftcca_result_clear(ctx, &r);
        simrep_dftcca_free(ctx, d);
    }
    CHECK_CLOSE(sim[1], sim[0], 1e-10); /* shift of x alone: a phase per frequency */
    CHECK_CLOSE(sim[2], 1.0, 1e-9);     /* x against itself */
    CHECK(sim[0] > 0.3 && sim[0] < 0.999);

    /* Scale (issue 10, item 2): x and y at 1e-300 and 1e300 give the
     * unscaled value; images 25.. at 1e250 after images 0..24 at 1e-250,
     * folded in one state or in two merged ones (held in different units),
     * give the value of zeros followed by the large images. */
    const int64_t ex = n * h * w * p, ey = n * h * w * q, cut = 25;
    double *x2 = malloc(sizeof(double) * (size_t)ex), *y2 = malloc(sizeof(double) * (size_t)ey);
    double *zx = calloc((size_t)ex, sizeof(double)), *zy = calloc((size_t)ey, sizeof(double));
    double want = NAN, got[4];
    for (int k = 0; k < 5; k++) {
        for (int64_t i = 0; i < ex; i++) {
            const int big = i >= cut * h * w * p;
            x2[i] = x[i] * (k == 0 ? 1e-300 : big ? 1e250 : 1e-250);
            if (big)
                zx[i] = x[i];
        }
        for (int64_t i = 0; i < ey; i++) {
            const int big = i >= cut * h * w * q;
            y2[i] = y[i] * (k == 0 ? 1e300 : big ? 1e220 : 1e-280);
            if (big)
                zy[i] = y[i];
        }
        simrep_dftcca *d = NULL, *e = NULL;
        CHECK_STATUS(ctx, simrep_dftcca_new(ctx, h, w, p, h, w, q, &d), SIMREP_OK);
        CHECK_STATUS(ctx, simrep_dftcca_new(ctx, h, w, p, h, w, q, &e), SIMREP_OK);
        simrep_matrix a = simrep_matrix_c(k == 4 ? zx : x2, SIMREP_F64, cut, h * w * p);
        simrep_matrix b = simrep_matrix_c(k == 4 ? zy : y2, SIMREP_F64, cut, h * w * q);
        simrep_matrix a2 = a, b2 = b;
        a2.data = (const double *)a.data + cut * a.row_stride;
        b2.data = (const double *)b.data + cut * b.row_stride;
        a2.rows = b2.rows = n - cut;
        CHECK_STATUS(ctx, simrep_dftcca_update(ctx, d, &a, &b), SIMREP_OK);
        if (k == 2 || k == 3) { /* two states: merged big into small, or small into big */
            CHECK_STATUS(ctx, simrep_dftcca_update(ctx, e, &a2, &b2), SIMREP_OK);
            CHECK_STATUS(ctx, k == 2 ? simrep_dftcca_merge(ctx, d, e) : simrep_dftcca_merge(ctx, e, d), SIMREP_OK);
        } else {
            CHECK_STATUS(ctx, simrep_dftcca_update(ctx, d, &a2, &b2), SIMREP_OK);
        }
        if (k == 1) { /* a corrupt state is refused and leaves the target as it was (item 6) */
            const int64_t len = simrep_dftcca_state_len(d);
            double *st = malloc(sizeof(double) * (size_t)len), *st2 = malloc(sizeof(double) * (size_t)len);
            simrep_dftcca_save(d, st);
            const int64_t at[] = {1, len / 2, len - 3, len - 1};
            for (int c = 0; c < 4; c++) {
                const double keep = st[at[c]];
                st[at[c]] = c == 3 ? 0.5 : INFINITY;
                CHECK_STATUS(ctx, simrep_dftcca_load(ctx, e, st), SIMREP_E_FORMAT);
                st[at[c]] = keep;
            }
            simrep_dftcca_save(e, st2);
            CHECK(st2[0] == 0);
            free(st);
            free(st2);
        }
        simrep_dftcca_result r;
        CHECK_STATUS(ctx, simrep_dftcca_compute(ctx, k == 3 ? e : d, NULL, &r), SIMREP_OK);
        if (k < 4)
            got[k] = r.similarity;
        else
            want = r.similarity;
        simrep_dftcca_result_clear(ctx, &r);
        simrep_dftcca_free(ctx, d);
        simrep_dftcca_free(ctx, e);
    }
    CHECK_CLOSE(got[0], sim[0], 1e-9);
    for (int k = 1; k < 4; k++)
        CHECK_CLOSE(got[k], want, 1e-9);
    free(x2);
    free(y2);
    free(zx);
    free(zy);
    free(x);
    free(y);
    free(xs);
    simrep_ctx_free(ctx);
}

/* Items larger than half the chunk limit: a computed read of 3 images
 * reads them one chunk (one image) at a time. */
static void test_chunked_reads(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    int64_t shape[4] = {3, 2, 1024, 1025}; /* NCHW, 2,099,200 elements per image */
    size_t len;
    unsigned char *buf = npy(shape, 4, SIMREP_F32, 0, val_index, &len);
    simrep_layout lay;
    simrep_layout_init(&lay);
    lay.conv = SIMREP_CONV_NCHW;
    lay.conv_mode = SIMREP_CONV_POOL;
    simrep_input *in = open_input(ctx, buf, len, &lay);
    simrep_input_dims d;
    simrep_input_dims_get(in, &d);
    CHECK(d.item_elements == 2 * 1024 * 1025);
    simrep_matrix v;
    CHECK_STATUS(ctx, simrep_input_read(ctx, in, 0, 3, &v), SIMREP_OK);
    const int64_t hw = 1024 * 1025;
    for (int64_t n = 0; n < 3; n++)
        for (int64_t c = 0; c < 2; c++) {
            double e = 0;
            for (int64_t s = 0; s < hw; s++)
                e += val_index((n * 2 + c) * hw + s);
            CHECK_CLOSE(get(&v, n, c), e / (double)hw, 1e-9);
        }
    /* positions of image 2 after reading images 0-1: the transpose path */
    lay.conv_mode = SIMREP_CONV_POSITIONS;
    simrep_input *in2 = open_input(ctx, buf, len, &lay);
    CHECK_STATUS(ctx, simrep_input_read(ctx, in2, hw - 1, 2, &v), SIMREP_OK);
    CHECK(get(&v, 0, 1) == val_index(1 * hw + hw - 1) && get(&v, 1, 0) == val_index(2 * hw));
    simrep_input_free(ctx, in);
    simrep_input_free(ctx, in2);
    free(buf);
    simrep_ctx_free(ctx);
}

/* The masks of the masked-sequence test (N = 6, T = 5): right padding
 * with a full row, left padding, gaps, a single token; row 4 is empty in
 * the first (flatten only).  As lengths: the right-padded rows only. */
static const unsigned char mask_a[6][5] = {
    {1, 1, 1, 0, 0}, {1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}, {1, 0, 1, 0, 1}, {0, 0, 0, 0, 0}, {0, 0, 0, 1, 0}};
static const unsigned char mask_b[6][5] = {
    {1, 1, 1, 0, 0}, {1, 1, 1, 1, 1}, {0, 0, 1, 1, 1}, {1, 0, 1, 0, 1}, {0, 1, 0, 0, 0}, {0, 0, 0, 1, 0}};
static const int64_t mask_len[6] = {3, 5, 1, 0, 2, 4};

/* Masked sequences read from a file buffer and from memory, in every mode
 * x C/Fortran order of the array and of the mask x dtype x block size,
 * against the loops written out; simrep_input_item_row gives each
 * sequence's first row. */
static void test_masked_sequences(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    enum { N = 6, T = 5, D = 3 };
    const int modes[4] = {SIMREP_SEQUENCE_FLATTEN, SIMREP_SEQUENCE_FIRST, SIMREP_SEQUENCE_LAST, SIMREP_SEQUENCE_MEAN};
    for (int kind = 0; kind < 4; kind++) /* mask_a C order, mask_b Fortran order, lengths int64, lengths f32 */
        for (int fortran = 0; fortran < 2; fortran++)
            for (int dt = 0; dt < 2; dt++)
                for (int mi = 0; mi < 4; mi++) {
                    const int mode = modes[mi];
                    unsigned char valid[N][T];
                    for (int i = 0; i < N; i++)
                        for (int t = 0; t < T; t++)
                            valid[i][t] = kind == 0   ? mask_a[i][t]
                                          : kind == 1 ? mask_b[i][t]
                                                      : (unsigned char)(t < mask_len[i]);
                    const int has_empty = kind == 0 || kind >= 2;
                    simrep_mask *mask = NULL;
                    if (kind <= 1) {
                        unsigned char mem[N * T];
                        for (int i = 0; i < N; i++)
                            for (int t = 0; t < T; t++)
                                mem[kind ? t * N + i : i * T + t] = valid[i][t];
                        int64_t ms[2] = {N, T};
                        CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, mem, "|b1", 2, ms, kind, "m", &mask), SIMREP_OK);
                    } else if (kind == 2) {
                        int64_t ms[1] = {N};
                        CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, mask_len, "<i8", 1, ms, 0, "m", &mask),
                                     SIMREP_OK);
                    } else {
                        float lf[N];
                        for (int i = 0; i < N; i++)
                            lf[i] = (float)mask_len[i];
                        int64_t ms[1] = {N};
                        CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, lf, "<f4", 1, ms, 0, "m", &mask), SIMREP_OK);
                    }
                    int64_t tokens = 0;
                    for (int i = 0; i < N; i++)
                        for (int t = 0; t < T; t++)
                            tokens += valid[i][t];
                    CHECK(simrep_mask_tokens(mask) == tokens && simrep_mask_items(mask) == N);
                    int64_t shape[3] = {N, T, D};
                    size_t len;
                    unsigned char *buf = npy(shape, 3, dt ? SIMREP_F64 : SIMREP_F16, fortran, val_index, &len);
                    simrep_layout lay;
                    simrep_layout_init(&lay);
                    lay.sequence = (simrep_sequence)mode;
                    lay.mask = mask;
                    simrep_source *src = NULL;
                    simrep_input *in = NULL;
                    CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, buf, len, SIMREP_FORMAT_NPY, NULL, &src),
                                 SIMREP_OK);
                    simrep_status st = simrep_input_from_source(ctx, src, &lay, &in);
                    if (has_empty && mode != SIMREP_SEQUENCE_FLATTEN) {
                        /* a sequence without a token has no first, last or mean */
                        CHECK_STATUS(ctx, st, SIMREP_E_SHAPE);
                        CHECK(strstr(simrep_ctx_message(ctx), "m: sequence 4 has no token") != NULL ||
                              strstr(simrep_ctx_message(ctx), "m: sequence 3 has no token") != NULL);
                        simrep_mask_free(ctx, mask);
                        free(buf);
                        continue;
                    }
                    CHECK_STATUS(ctx, st, SIMREP_OK);
                    simrep_input_dims d;
                    simrep_input_dims_get(in, &d);
                    const int64_t rows = mode == SIMREP_SEQUENCE_FLATTEN ? tokens : N;
                    CHECK(d.samples == rows && d.features == D && d.steps == T && d.views == 1);
                    /* expected rows */
                    double want[N * T][D];
                    int64_t r = 0, start[N + 1];
                    for (int i = 0; i < N; i++) {
                        start[i] = r;
                        int first = -1, last = -1, count = 0;
                        double mean[D] = {0};
                        for (int t = 0; t < T; t++)
                            if (valid[i][t]) {
                                first = first < 0 ? t : first;
                                last = t;
                                count++;
                                for (int j = 0; j < D; j++) {
                                    if (mode == SIMREP_SEQUENCE_FLATTEN)
                                        want[r][j] = seq_at(T, D, i, t, j);
                                    mean[j] += seq_at(T, D, i, t, j);
                                }
                                r += mode == SIMREP_SEQUENCE_FLATTEN;
                            }
                        if (mode != SIMREP_SEQUENCE_FLATTEN) {
                            for (int j = 0; j < D; j++)
                                want[i][j] = mode == SIMREP_SEQUENCE_MEAN    ? mean[j] / count
                                             : mode == SIMREP_SEQUENCE_FIRST ? seq_at(T, D, i, first, j)
                                                                             : seq_at(T, D, i, last, j);
                            r = i + 1;
                        }
                    }
                    start[N] = r;
                    for (int i = 0; i <= N; i++)
                        CHECK(simrep_input_item_row(in, i) == (mode == SIMREP_SEQUENCE_FLATTEN ? start[i] : i));
                    CHECK(simrep_input_item_row(in, N + 1) == -1);
                    int bad = 0;
                    simrep_matrix v;
                    for (int64_t block = 1; block <= rows; block++)
                        for (int64_t r0 = 0; r0 < rows; r0 += block) {
                            CHECK_STATUS(ctx, simrep_input_read(ctx, in, r0, block, &v), SIMREP_OK);
                            for (int64_t i = 0; i < v.rows; i++)
                                for (int64_t j = 0; j < D; j++)
                                    bad += fabs(get(&v, i, j) - want[r0 + i][j]) > 1e-12 * (1 + fabs(want[r0 + i][j]));
                        }
                    CHECK(bad == 0);
                    if (bad)
                        fprintf(stderr, "  masked kind=%d fortran=%d dt=%d mode=%d\n", kind, fortran, dt, mode);
                    simrep_input_free(ctx, in);
                    /* the same array in memory reads the same */
                    if (!dt && !fortran) {
                        double arr[N * T * D];
                        for (int64_t c = 0; c < N * T * D; c++)
                            arr[c] = val_index(c);
                        CHECK_STATUS(ctx, simrep_source_open_memory(ctx, arr, SIMREP_F64, 3, shape, 0, "acts", &src),
                                     SIMREP_OK);
                        CHECK_STATUS(ctx, simrep_input_from_source(ctx, src, &lay, &in), SIMREP_OK);
                        CHECK(strcmp(simrep_input_label(in), "acts") == 0);
                        CHECK_STATUS(ctx, simrep_input_read(ctx, in, 0, rows, &v), SIMREP_OK);
                        int badm = 0;
                        for (int64_t i = 0; i < rows; i++)
                            for (int64_t j = 0; j < D; j++)
                                badm += fabs(get(&v, i, j) - want[i][j]) > 1e-12 * (1 + fabs(want[i][j]));
                        CHECK(badm == 0);
                        simrep_input_free(ctx, in);
                    }
                    simrep_mask_free(ctx, mask);
                    free(buf);
                }
    simrep_ctx_free(ctx);
}

/* What a bad mask or a mask that does not fit says. */
static void test_mask_errors(void)
{
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    simrep_mask *m = NULL;
    int64_t s2[2] = {2, 3}, s1[1] = {3}, s3[3] = {2, 3, 1};
    const unsigned char two[6] = {1, 1, 0, 1, 2, 1};
    CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, two, "|u1", 2, s2, 0, "mask.npy", &m), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "mask.npy: value 2 at [1, 1]; a mask holds 1 for a token") != NULL);
    CHECK(m == NULL);
    const double half[6] = {1, 0.5, 0, 1, 1, 1};
    CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, half, "<f8", 2, s2, 1, "mask.npy", &m), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "value 0.5 at [1, 0]") != NULL); /* Fortran order: element 1 is [1, 0] */
    const int32_t neg[3] = {2, -1, 3};
    CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, neg, "<i4", 1, s1, 0, "len.npy", &m), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "len.npy: length -1 at [1]") != NULL);
    const unsigned char none[6] = {0};
    CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, none, "|b1", 2, s2, 0, "pad.npy", &m), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "pad.npy: every position is padding (no token in 2 sequences)") != NULL);
    CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, none, "|b1", 3, s3, 0, "cube.npy", &m), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "cube.npy: a mask is (N, T)") != NULL &&
          strstr(simrep_ctx_message(ctx), "(2, 3, 1)") != NULL);
    CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, none, "<c16", 1, s1, 0, "c.npy", &m), SIMREP_E_UNSUPPORTED);
    CHECK(strstr(simrep_ctx_message(ctx), "c.npy: dtype <c16 is not a mask's") != NULL);
    /* big-endian int16 lengths 1, 2, 3 */
    const unsigned char be[6] = {0, 1, 0, 2, 0, 3};
    CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, be, ">i2", 1, s1, 0, "be", &m), SIMREP_OK);
    CHECK(simrep_mask_tokens(m) == 6 && simrep_mask_count(m, 2) == 3 && simrep_mask_steps(m) == 0);
    /* lengths up to 3 against sequences of T = 2 */
    int64_t shape[3] = {3, 2, 2};
    size_t len;
    unsigned char *buf = npy(shape, 3, SIMREP_F32, 0, val_index, &len);
    simrep_layout lay;
    simrep_layout_init(&lay);
    lay.sequence = SIMREP_SEQUENCE_MEAN;
    lay.mask = m;
    simrep_source *src = NULL;
    simrep_input *in = NULL;
    CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, buf, len, SIMREP_FORMAT_NPY, NULL, &src), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_input_from_source(ctx, src, &lay, &in), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "be: length 3 at [2] is more than the T = 2 steps of <buffer>") != NULL);
    simrep_mask_free(ctx, m);
    /* an (N, T) mask of another shape; per-step refused */
    const unsigned char ones[6] = {1, 1, 1, 1, 1, 1};
    CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, ones, "|b1", 2, s2, 0, "m2", &m), SIMREP_OK);
    lay.mask = m;
    CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, buf, len, SIMREP_FORMAT_NPY, NULL, &src), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_input_from_source(ctx, src, &lay, &in), SIMREP_E_SHAPE);
    CHECK(strstr(simrep_ctx_message(ctx), "m2: the mask is (N, T) = (2, 3) but <buffer> is (N, T, D) = (3, 2, 2)") !=
          NULL);
    simrep_mask_free(ctx, m);
    int64_t s32[2] = {3, 2};
    CHECK_STATUS(ctx, simrep_mask_from_memory(ctx, ones, "|b1", 2, s32, 0, "m3", &m), SIMREP_OK);
    lay.mask = m;
    lay.sequence = SIMREP_SEQUENCE_PER_STEP;
    CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, buf, len, SIMREP_FORMAT_NPY, NULL, &src), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_input_from_source(ctx, src, &lay, &in), SIMREP_E_INVALID);
    CHECK(strstr(simrep_ctx_message(ctx), "per-step") != NULL);
    /* 2-D inputs ignore the mask */
    lay.sequence = SIMREP_SEQUENCE_FLATTEN;
    int64_t shape2[2] = {4, 2};
    size_t len2;
    unsigned char *buf2 = npy(shape2, 2, SIMREP_F32, 0, val_index, &len2);
    CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, buf2, len2, SIMREP_FORMAT_NPY, NULL, &src), SIMREP_OK);
    CHECK_STATUS(ctx, simrep_input_from_source(ctx, src, &lay, &in), SIMREP_OK);
    simrep_input_free(ctx, in);
    /* memory sources: bad arguments */
    CHECK_STATUS(ctx, simrep_source_open_memory(ctx, NULL, SIMREP_F32, 2, shape2, 0, NULL, &src), SIMREP_E_INVALID);
    int64_t negshape[2] = {-1, 2};
    CHECK_STATUS(ctx, simrep_source_open_memory(ctx, buf2, SIMREP_F32, 2, negshape, 0, NULL, &src), SIMREP_E_INVALID);
    CHECK_STATUS(ctx, simrep_source_open_memory(ctx, buf2, SIMREP_F32, 0, shape2, 0, NULL, &src), SIMREP_E_INVALID);
    simrep_mask_free(ctx, m);
    simrep_mask_free(ctx, NULL);
    free(buf);
    free(buf2);
    simrep_ctx_free(ctx);
}

void suite_layout(void)
{
    test_masked_sequences();
    test_mask_errors();
    test_chunked_reads();
    test_conv_modes();
    test_sequence_modes();
    test_resize_and_errors();
    test_dftcca_invariances();
}
