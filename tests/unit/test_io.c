/*
 * test_io.c: the input layer (.npy, .npz, .safetensors sources).  Every
 * test file is built here, byte by byte (zlib's deflate for compressed npz
 * members), written to a mkdtemp() directory and also opened as a memory
 * buffer, so the suite needs neither python nor numpy.  Values are of the
 * form a - 2b + b%2/2 (a, b the array indices), exact in float16 and
 * bfloat16, so every comparison is exact: tolerance 0.
 */
#include "harness.h"
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------ byte builder */

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        b->p = realloc(b->p, cap);
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void put16(bytes *b, unsigned v)
{
    unsigned char c[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    put(b, c, 2);
}

static void put32(bytes *b, uint32_t v)
{
    unsigned char c[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    put(b, c, 4);
}

static void put64(bytes *b, uint64_t v)
{
    put32(b, (uint32_t)v);
    put32(b, (uint32_t)(v >> 32));
}

static void putstr(bytes *b, const char *s)
{
    put(b, s, strlen(s));
}

static void bytes_free(bytes *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ test values */

static double val(int64_t a, int64_t b)
{
    return (double)a - 2.0 * (double)b + 0.5 * (double)(b & 1);
}

static uint16_t f16_of(double v)
{
    if (v == 0)
        return 0;
    int e;
    double m = frexp(fabs(v), &e); /* v = m 2^e, m in [0.5, 1) */
    return (uint16_t)((v < 0) << 15 | (e + 14) << 10 | (int)((2 * m - 1) * 1024));
}

static uint16_t bf16_of(double v)
{
    float f = (float)v;
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)(u >> 16);
}

/* Element (a, b) of the test array as `size` bytes of dtype kind 'e' (f16),
 * 'b' (bf16), 'f' (f32) or 'd' (f64), little or big endian. */
static void put_elem(bytes *out, char kind, int big, int64_t a, int64_t b)
{
    unsigned char raw[8];
    size_t size;
    double v = val(a, b);
    if (kind == 'e' || kind == 'b') {
        uint16_t h = kind == 'e' ? f16_of(v) : bf16_of(v);
        memcpy(raw, &h, 2);
        size = 2;
    } else if (kind == 'f') {
        float f = (float)v;
        memcpy(raw, &f, 4);
        size = 4;
    } else {
        memcpy(raw, &v, 8);
        size = 8;
    }
    if (big)
        for (size_t i = 0; i < size / 2; i++) {
            unsigned char t = raw[i];
            raw[i] = raw[size - 1 - i];
            raw[size - 1 - i] = t;
        }
    put(out, raw, size);
}

/* The data of an r x c test array in C or Fortran order. */
static void put_data(bytes *out, char kind, int big, int fortran, int64_t r, int64_t c)
{
    if (!fortran) {
        for (int64_t a = 0; a < r; a++)
            for (int64_t b = 0; b < c; b++)
                put_elem(out, kind, big, a, b);
    } else {
        for (int64_t b = 0; b < c; b++)
            for (int64_t a = 0; a < r; a++)
                put_elem(out, kind, big, a, b);
    }
}

/* An npy file with the given header dict text (padded as numpy does). */
static void put_npy_header(bytes *out, int major, const char *dict)
{
    size_t prefix = major == 1 ? 10 : 12, len = strlen(dict) + 1;
    size_t pad = (64 - (prefix + len) % 64) % 64;
    put(out, "\x93NUMPY", 6);
    unsigned char ver[2] = {(unsigned char)major, 0};
    put(out, ver, 2);
    if (major == 1)
        put16(out, (unsigned)(len + pad));
    else
        put32(out, (uint32_t)(len + pad));
    putstr(out, dict);
    for (size_t i = 0; i < pad; i++)
        putstr(out, " ");
    putstr(out, "\n");
}

static void make_npy(bytes *out, int major, const char *descr, char kind, int fortran, int64_t r, int64_t c)
{
    char dict[256];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': %s, 'shape': (%lld, %lld), }", descr,
             fortran ? "True" : "False", (long long)r, (long long)c);
    put_npy_header(out, major, dict);
    put_data(out, kind, descr[0] == '>', fortran, r, c);
}

/* ------------------------------------------------------------ zip builder */

typedef struct zip_member {
    char name[64];
    uint64_t local_off, csize, usize;
    uint32_t crc;
    int method;
} zip_member;

typedef struct zip_builder {
    bytes out;
    zip_member m[8];
    int count;
    int zip64;
} zip_builder;

static void deflate_raw(const unsigned char *src, size_t n, bytes *dst)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    size_t cap = deflateBound(&z, (uLong)n) + 16;
    dst->n = 0;
    put(dst, NULL, 0);
    if (dst->cap < cap) {
        dst->p = realloc(dst->p, cap);
        dst->cap = cap;
    }
    z.next_in = (Bytef *)src;
    z.avail_in = (uInt)n;
    z.next_out = dst->p;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    dst->n = cap - z.avail_out;
    deflateEnd(&z);
}

/* Add a member; claimed_usize (if not 0) replaces the true size in the
 * central directory (a lying archive). */
static void zip_add(zip_builder *zb, const char *name, const bytes *data, int method, uint64_t claimed_usize)
{
    zip_member *m = &zb->m[zb->count++];
    snprintf(m->name, sizeof m->name, "%s", name);
    m->method = method;
    m->crc = (uint32_t)crc32(0L, data->p, (uInt)data->n);
    m->usize = claimed_usize ? claimed_usize : data->n;
    bytes comp = {0};
    const bytes *payload = data;
    if (method == 8) {
        deflate_raw(data->p, data->n, &comp);
        payload = &comp;
    }
    m->csize = payload->n;
    m->local_off = zb->out.n;
    bytes *o = &zb->out;
    put32(o, 0x04034b50);
    put16(o, zb->zip64 ? 45 : 20);
    put16(o, 0);
    put16(o, (unsigned)method);
    put16(o, 0);
    put16(o, 0x21);
    put32(o, m->crc);
    put32(o, zb->zip64 ? 0xffffffffu : (uint32_t)m->csize);
    put32(o, zb->zip64 ? 0xffffffffu : (uint32_t)m->usize);
    put16(o, (unsigned)strlen(name));
    put16(o, zb->zip64 ? 20 : 0);
    putstr(o, name);
    if (zb->zip64) {
        put16(o, 1);
        put16(o, 16);
        put64(o, m->usize);
        put64(o, m->csize);
    }
    put(o, payload->p, payload->n);
    bytes_free(&comp);
}

static void zip_finish(zip_builder *zb)
{
    bytes *o = &zb->out;
    uint64_t cd_off = o->n;
    for (int i = 0; i < zb->count; i++) {
        zip_member *m = &zb->m[i];
        put32(o, 0x02014b50);
        put16(o, 45);
        put16(o, zb->zip64 ? 45 : 20);
        put16(o, 0);
        put16(o, (unsigned)m->method);
        put16(o, 0);
        put16(o, 0x21);
        put32(o, m->crc);
        put32(o, zb->zip64 ? 0xffffffffu : (uint32_t)m->csize);
        put32(o, zb->zip64 ? 0xffffffffu : (uint32_t)m->usize);
        put16(o, (unsigned)strlen(m->name));
        put16(o, zb->zip64 ? 28 + 8 : 0); /* the ZIP64 field, then an unrelated one */
        put16(o, 0);
        put16(o, 0);
        put16(o, 0);
        put32(o, 0);
        put32(o, zb->zip64 ? 0xffffffffu : (uint32_t)m->local_off);
        putstr(o, m->name);
        if (zb->zip64) {
            put16(o, 0x5455); /* extended timestamp, to be skipped */
            put16(o, 4);
            put32(o, 0);
            put16(o, 1);
            put16(o, 24);
            put64(o, m->usize);
            put64(o, m->csize);
            put64(o, m->local_off);
        }
    }
    uint64_t cd_size = o->n - cd_off;
    if (zb->zip64) {
        uint64_t z64 = o->n;
        put32(o, 0x06064b50);
        put64(o, 44);
        put16(o, 45);
        put16(o, 45);
        put32(o, 0);
        put32(o, 0);
        put64(o, (uint64_t)zb->count);
        put64(o, (uint64_t)zb->count);
        put64(o, cd_size);
        put64(o, cd_off);
        put32(o, 0x07064b50);
        put32(o, 0);
        put64(o, z64);
        put32(o, 1);
    }
    put32(o, 0x06054b50);
    put16(o, 0);
    put16(o, 0);
    put16(o, zb->zip64 ? 0xffff : (unsigned)zb->count);
    put16(o, zb->zip64 ? 0xffff : (unsigned)zb->count);
    put32(o, zb->zip64 ? 0xffffffffu : (uint32_t)cd_size);
    put32(o, zb->zip64 ? 0xffffffffu : (uint32_t)cd_off);
    put16(o, 7);
    putstr(o, "comment");
}

/* ---------------------------------------------------------- safetensors */

static void make_safetensors(bytes *out, const char *json, const bytes *data)
{
    size_t n = strlen(json), pad = (8 - n % 8) % 8;
    put64(out, n + pad);
    putstr(out, json);
    for (size_t i = 0; i < pad; i++)
        putstr(out, " ");
    if (data)
        put(out, data->p, data->n);
}

/* ---------------------------------------------------------------- files */

static char tmpdir[64];
static char made[256][256];
static int nmade;

static const char *write_file(const char *name, const bytes *b)
{
    char *path = made[nmade++];
    snprintf(path, 256, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        if (b->n)
            fwrite(b->p, 1, b->n, f);
        fclose(f);
    }
    return path;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ----------------------------------------------------------- the checks */

/* Read src (array r x c of the test values) in blocks of `block` samples
 * with the given layout; 1 if every value is exact. */
static int read_all_exact(simrep_ctx *ctx, simrep_source *src, int features_first, int64_t r, int64_t c,
                          int64_t block)
{
    if (simrep_source_set_layout(ctx, src, features_first) != SIMREP_OK)
        return 0;
    int64_t n = features_first ? c : r, p = features_first ? r : c;
    if (simrep_source_samples(src) != n || simrep_source_features(src) != p)
        return 0;
    for (int64_t row0 = 0; row0 < n; row0 += block) {
        simrep_matrix v;
        if (simrep_source_read(ctx, src, row0, block, &v) != SIMREP_OK) {
            fprintf(stderr, "  read failed: %s\n", simrep_ctx_message(ctx));
            return 0;
        }
        int64_t want = block < n - row0 ? block : n - row0;
        if (v.rows != want || v.cols != p)
            return 0;
        for (int64_t i = 0; i < v.rows; i++)
            for (int64_t j = 0; j < p; j++) {
                double e = features_first ? val(j, row0 + i) : val(row0 + i, j);
                if (simrep__element(&v, i, j) != e) {
                    fprintf(stderr, "  value (%lld, %lld) = %g, expected %g\n", (long long)(row0 + i), (long long)j,
                            simrep__element(&v, i, j), e);
                    return 0;
                }
            }
    }
    return 1;
}

/* Open spec (a file) and the same bytes as a buffer; check every layout and
 * block size. */
static void check_both(simrep_ctx *ctx, const char *spec, const bytes *b, simrep_format format, const char *key,
                       simrep_dtype dtype, int64_t r, int64_t c)
{
    const int64_t blocks[] = {1, 3, 7, r > c ? r : c, (r > c ? r : c) + 5};
    for (int from_buffer = 0; from_buffer < 2; from_buffer++) {
        for (int ff = 0; ff < 2; ff++) {
            for (size_t k = 0; k < sizeof blocks / sizeof blocks[0]; k++) {
                simrep_source *src = NULL;
                simrep_status st = from_buffer ? simrep_source_open_buffer(ctx, b->p, b->n, format, key, &src)
                                               : simrep_source_open(ctx, spec, &src);
                CHECK_STATUS(ctx, st, SIMREP_OK);
                if (st)
                    return;
                const simrep_array_info *info = simrep_source_info(src);
                CHECK(info->ndim == 2 && info->shape[0] == r && info->shape[1] == c);
                CHECK(info->dtype_supported && info->dtype == dtype);
                int ok = read_all_exact(ctx, src, ff, r, c, blocks[k]);
                if (!ok)
                    fprintf(stderr, "  %s (%s) features_first=%d block=%lld\n", spec, from_buffer ? "buffer" : "file",
                            ff, (long long)blocks[k]);
                CHECK(ok);
                simrep_source_free(ctx, src);
            }
        }
    }
}

static void test_npy_good(simrep_ctx *ctx)
{
    static const struct {
        const char *descr;
        char kind;
        simrep_dtype dtype;
    } types[] = {
        {"<f2", 'e', SIMREP_F16}, {"<f4", 'f', SIMREP_F32}, {"<f8", 'd', SIMREP_F64},
        {">f2", 'e', SIMREP_F16}, {">f4", 'f', SIMREP_F32}, {">f8", 'd', SIMREP_F64},
    };
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
        for (int major = 1; major <= 3; major++)
            for (int fortran = 0; fortran < 2; fortran++) {
                bytes b = {0};
                make_npy(&b, major, types[t].descr, types[t].kind, fortran, 11, 4);
                char name[64];
                snprintf(name, sizeof name, "t%zu_v%d_%c.npy", t, major, fortran ? 'F' : 'C');
                const char *path = write_file(name, &b);
                check_both(ctx, path, &b, SIMREP_FORMAT_NPY, NULL, types[t].dtype, 11, 4);
                bytes_free(&b);
            }

    /* Header spellings numpy and older writers produce. */
    static const char *dicts[] = {
        "{'shape': (6, 3), 'fortran_order': False, 'descr': '<f4'}",
        "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(6,3)}",
        "{ 'descr' : '<f4' ,\n 'fortran_order' : False , 'shape' : ( 6L , 3L , ) , }",
        "{'descr': 'f4', 'fortran_order': False, 'shape': (6, 3)}",
    };
    for (size_t d = 0; d < sizeof dicts / sizeof dicts[0]; d++) {
        bytes b = {0};
        put_npy_header(&b, 1, dicts[d]);
        put_data(&b, 'f', 0, 0, 6, 3);
        simrep_source *src = NULL;
        CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, b.p, b.n, SIMREP_FORMAT_NPY, NULL, &src), SIMREP_OK);
        if (src) {
            CHECK(read_all_exact(ctx, src, 0, 6, 3, 4));
            simrep_source_free(ctx, src);
        }
        bytes_free(&b);
    }

    /* Listing, a path with ':' in it, an unknown extension (sniffed). */
    bytes b = {0};
    make_npy(&b, 1, "<f4", 'f', 0, 5, 2);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/a:b", tmpdir);
    mkdir(dir, 0700);
    const char *p1 = write_file("a:b/x.npy", &b);
    const char *p2 = write_file("x.bin", &b);
    simrep_array_info info[2];
    int count = -1;
    CHECK_STATUS(ctx, simrep_file_list(ctx, p1, info, 2, &count), SIMREP_OK);
    CHECK(count == 1 && info[0].name[0] == '\0' && info[0].ndim == 2 && info[0].shape[0] == 5 &&
          info[0].data_offset == 128 && info[0].data_size == 40 && strcmp(info[0].dtype_text, "<f4") == 0);
    simrep_source *src = NULL;
    CHECK_STATUS(ctx, simrep_source_open(ctx, p1, &src), SIMREP_OK);
    simrep_source_free(ctx, src);
    src = NULL;
    CHECK_STATUS(ctx, simrep_source_open(ctx, p2, &src), SIMREP_OK);
    if (src)
        CHECK(read_all_exact(ctx, src, 0, 5, 2, 2));
    simrep_source_free(ctx, src);
    bytes_free(&b);

    /* Zero-sized dims open and read as empty. */
    bytes z = {0};
    make_npy(&z, 1, "<f4", 'f', 0, 0, 3);
    src = NULL;
    CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, z.p, z.n, SIMREP_FORMAT_NPY, NULL, &src), SIMREP_OK);
    if (src) {
        simrep_matrix v;
        CHECK(simrep_source_samples(src) == 0);
        CHECK_STATUS(ctx, simrep_source_read(ctx, src, 0, 10, &v), SIMREP_OK);
        CHECK(v.rows == 0 && v.cols == 3);
        CHECK_STATUS(ctx, simrep_source_read(ctx, src, 1, 10, &v), SIMREP_E_INVALID);
    }
    simrep_source_free(ctx, src);
    bytes_free(&z);

    CHECK(simrep_format_from_path("a/b.npy") == SIMREP_FORMAT_NPY);
    CHECK(simrep_format_from_path("b.NPZ") == SIMREP_FORMAT_NPZ);
    CHECK(simrep_format_from_path("m.safetensors:w") == SIMREP_FORMAT_SAFETENSORS);
    CHECK(simrep_format_from_path("x.npz:k") == SIMREP_FORMAT_NPZ);
    CHECK(simrep_format_from_path("x.txt") == -1);
}

/* Members x (C, f4), y (F, f8), be (C, >f4), h (F, f2), all 9 x 4 except
 * y (13 x 3). */
static void build_npz(zip_builder *zb, int method)
{
    bytes m = {0};
    make_npy(&m, 1, "<f4", 'f', 0, 9, 4);
    zip_add(zb, "x.npy", &m, method, 0);
    m.n = 0;
    make_npy(&m, 1, "<f8", 'd', 1, 13, 3);
    zip_add(zb, "y.npy", &m, method, 0);
    m.n = 0;
    make_npy(&m, 2, ">f4", 'f', 0, 9, 4);
    zip_add(zb, "be.npy", &m, method, 0);
    m.n = 0;
    make_npy(&m, 3, "<f2", 'e', 1, 9, 4);
    zip_add(zb, "h.npy", &m, method, 0);
    bytes_free(&m);
    zip_finish(zb);
}

static void test_npz_good(simrep_ctx *ctx)
{
    for (int zip64 = 0; zip64 < 2; zip64++)
        for (int method = 0; method <= 8; method += 8) {
            zip_builder zb = {0};
            zb.zip64 = zip64;
            build_npz(&zb, method);
            char name[64], spec[300];
            snprintf(name, sizeof name, "a_%d_%d.npz", zip64, method);
            const char *path = write_file(name, &zb.out);
            snprintf(spec, sizeof spec, "%s:x", path);
            check_both(ctx, spec, &zb.out, SIMREP_FORMAT_NPZ, "x", SIMREP_F32, 9, 4);
            snprintf(spec, sizeof spec, "%s:y", path);
            check_both(ctx, spec, &zb.out, SIMREP_FORMAT_NPZ, "y", SIMREP_F64, 13, 3);
            snprintf(spec, sizeof spec, "%s:be", path);
            check_both(ctx, spec, &zb.out, SIMREP_FORMAT_NPZ, "be", SIMREP_F32, 9, 4);
            snprintf(spec, sizeof spec, "%s:h.npy", path);
            check_both(ctx, spec, &zb.out, SIMREP_FORMAT_NPZ, "h.npy", SIMREP_F16, 9, 4);

            simrep_array_info info[4];
            int count = 0;
            CHECK_STATUS(ctx, simrep_file_list(ctx, path, info, 4, &count), SIMREP_OK);
            CHECK(count == 4);
            CHECK(strcmp(info[0].name, "x") == 0 && strcmp(info[2].name, "be") == 0 && info[2].big_endian);
            CHECK(info[1].fortran_order && info[1].shape[0] == 13 && info[1].dtype == SIMREP_F64);
            CHECK(info[3].compressed == (method == 8) && info[3].data_size == 9 * 4 * 2);
            if (method == 0)
                CHECK(memcmp(zb.out.p + info[0].data_offset, "\0\0\0\0\0\0\xc0\xbf", 8) == 0); /* 0, -1.5 */
            count = 0;
            CHECK_STATUS(ctx, simrep_buffer_list(ctx, zb.out.p, zb.out.n, SIMREP_FORMAT_NPZ, info, 1, &count),
                         SIMREP_OK);
            CHECK(count == 4 && strcmp(info[0].name, "x") == 0);

            /* Backward reads restart a deflated stream. */
            simrep_source *src = NULL;
            CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, zb.out.p, zb.out.n, SIMREP_FORMAT_NPZ, "x", &src),
                         SIMREP_OK);
            if (src) {
                simrep_matrix v;
                CHECK_STATUS(ctx, simrep_source_read(ctx, src, 6, 3, &v), SIMREP_OK);
                CHECK(v.rows == 3 && simrep__element(&v, 2, 3) == val(8, 3));
                CHECK_STATUS(ctx, simrep_source_read(ctx, src, 1, 2, &v), SIMREP_OK);
                CHECK(v.rows == 2 && simrep__element(&v, 0, 1) == val(1, 1));
                CHECK_STATUS(ctx, simrep_source_read(ctx, src, 9, 2, &v), SIMREP_OK);
                CHECK(v.rows == 0);
                CHECK_STATUS(ctx, simrep_source_read(ctx, src, 10, 2, &v), SIMREP_E_INVALID);
            }
            simrep_source_free(ctx, src);
            bytes_free(&zb.out);
        }

    /* A single member opens without a key. */
    zip_builder zb = {0};
    bytes m = {0};
    make_npy(&m, 1, "<f4", 'f', 0, 4, 2);
    zip_add(&zb, "arr_0.npy", &m, 8, 0);
    zip_finish(&zb);
    const char *path = write_file("one.npz", &zb.out);
    simrep_source *src = NULL;
    CHECK_STATUS(ctx, simrep_source_open(ctx, path, &src), SIMREP_OK);
    if (src) {
        CHECK(strcmp(simrep_source_info(src)->name, "arr_0") == 0);
        CHECK(read_all_exact(ctx, src, 1, 4, 2, 1));
    }
    simrep_source_free(ctx, src);
    bytes_free(&m);
    bytes_free(&zb.out);
}

static void test_safetensors_good(simrep_ctx *ctx)
{
    bytes data = {0};
    put_data(&data, 'f', 0, 0, 7, 3);  /* [0, 84) */
    put_data(&data, 'b', 0, 0, 5, 4);  /* [84, 124) */
    put_data(&data, 'e', 0, 0, 6, 2);  /* [124, 148) */
    put_data(&data, 'd', 0, 0, 3, 5);  /* [148, 268) */
    put_data(&data, 'f', 0, 0, 2, 2);  /* [268, 284) */
    const char *json = "{\"__metadata__\": {\"format\": \"pt\", \"nested\\u00e9\": \"x\\\"y\"},"
                       " \"w\": {\"dtype\": \"F32\", \"shape\": [7, 3], \"data_offsets\": [0, 84]},"
                       " \"layer.\\u00e9\\ud83d\\ude00\": {\"shape\": [5, 4], \"dtype\": \"BF16\", "
                       "\"data_offsets\": [84, 124]},"
                       " \"h\": {\"dtype\": \"F16\", \"shape\": [6, 2], \"data_offsets\": [124, 148]},"
                       " \"d\": {\"dtype\": \"F64\", \"shape\": [3, 5], \"data_offsets\": [148, 268]},"
                       " \"i\": {\"dtype\": \"I32\", \"shape\": [2, 2], \"data_offsets\": [268, 284]}}";
    bytes b = {0};
    make_safetensors(&b, json, &data);
    const char *path = write_file("m.safetensors", &b);
    char spec[300];
    snprintf(spec, sizeof spec, "%s:w", path);
    check_both(ctx, spec, &b, SIMREP_FORMAT_SAFETENSORS, "w", SIMREP_F32, 7, 3);
    snprintf(spec, sizeof spec, "%s:layer.\xc3\xa9\xf0\x9f\x98\x80", path);
    check_both(ctx, spec, &b, SIMREP_FORMAT_SAFETENSORS, "layer.\xc3\xa9\xf0\x9f\x98\x80", SIMREP_BF16, 5, 4);
    snprintf(spec, sizeof spec, "%s:h", path);
    check_both(ctx, spec, &b, SIMREP_FORMAT_SAFETENSORS, "h", SIMREP_F16, 6, 2);
    snprintf(spec, sizeof spec, "%s:d", path);
    check_both(ctx, spec, &b, SIMREP_FORMAT_SAFETENSORS, "d", SIMREP_F64, 3, 5);

    simrep_array_info info[8];
    int count = 0;
    CHECK_STATUS(ctx, simrep_file_list(ctx, path, info, 8, &count), SIMREP_OK);
    CHECK(count == 5);
    CHECK(strcmp(info[0].name, "w") == 0 && info[0].data_offset == 8 + (b.n - data.n - 8) &&
          info[0].data_size == 84);
    CHECK(strcmp(info[4].name, "i") == 0 && !info[4].dtype_supported && strcmp(info[4].dtype_text, "I32") == 0);

    simrep_source *src = NULL;
    snprintf(spec, sizeof spec, "%s:i", path);
    CHECK_STATUS(ctx, simrep_source_open(ctx, spec, &src), SIMREP_E_UNSUPPORTED);
    CHECK(starts_with(simrep_ctx_message(ctx), spec) && strstr(simrep_ctx_message(ctx), "I32"));
    CHECK_STATUS(ctx, simrep_source_open(ctx, path, &src), SIMREP_E_NOTFOUND);
    CHECK(strstr(simrep_ctx_message(ctx), "'w', 'layer"));
    bytes_free(&b);
    bytes_free(&data);
}

/* ------------------------------------------------------------ bad inputs */

typedef struct bad_case {
    const char *name;     /* file name in the temp dir */
    const char *key;      /* appended as ":key" */
    simrep_status open;   /* expected from simrep_source_open */
    simrep_status read;   /* if open succeeds: expected from set_layout + reading all (SIMREP_OK: not tried) */
    const char *contains; /* the message must contain this */
} bad_case;

static void check_bad(simrep_ctx *ctx, const bytes *b, const bad_case *c, simrep_format format)
{
    const char *path = write_file(c->name, b);
    char spec[300];
    snprintf(spec, sizeof spec, c->key ? "%s:%s" : "%s", path, c->key);
    for (int from_buffer = 0; from_buffer < 2; from_buffer++) {
        simrep_source *src = NULL;
        simrep_status st = from_buffer ? simrep_source_open_buffer(ctx, b->p, b->n, format, c->key, &src)
                                       : simrep_source_open(ctx, spec, &src);
        if (st == SIMREP_OK && c->open == SIMREP_OK) {
            simrep_matrix v;
            st = simrep_source_set_layout(ctx, src, 1);
            if (st == SIMREP_OK)
                st = simrep_source_read(ctx, src, 0, 1 << 20, &v);
            simrep_source_free(ctx, src);
            src = NULL;
            if (st != c->read)
                fprintf(stderr, "FAIL bad case %s: read gave %d (%s)\n", c->name, (int)st, simrep_ctx_message(ctx));
            CHECK(st == c->read);
        } else if (st != c->open) {
            fprintf(stderr, "FAIL bad case %s: open gave %d (%s)\n", c->name, (int)st, simrep_ctx_message(ctx));
            CHECK(st == c->open);
        }
        CHECK(src == NULL);
        const char *msg = simrep_ctx_message(ctx);
        const char *who = from_buffer ? "<buffer>" : path;
        int ok = starts_with(msg, who) && (!c->contains || strstr(msg, c->contains));
        if (!ok)
            fprintf(stderr, "FAIL bad case %s: message '%s' (want '%s' first, containing '%s')\n", c->name, msg, who,
                    c->contains ? c->contains : "");
        CHECK(ok);
        if (from_buffer == 0 && c->open != SIMREP_OK && c->open != SIMREP_E_NOTFOUND) {
            /* Listing fails the same way, except that it shows arrays of
             * unsupported dtypes (as such). */
            simrep_array_info info[4];
            int count;
            simrep_status ls = simrep_file_list(ctx, path, info, 4, &count);
            if (c->open == SIMREP_E_UNSUPPORTED && ls == SIMREP_OK)
                CHECK(count >= 1 && !info[0].dtype_supported);
            else
                CHECK(ls == c->open);
        }
    }
}

static void test_npy_bad(simrep_ctx *ctx)
{
    static const struct {
        const char *name;
        const char *dict;  /* NULL: raw bytes below */
        int64_t data_bytes;
        simrep_status open, read;
        const char *contains;
    } cases[] = {
        {"trunc_data.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1000, 64), }", 1024,
         SIMREP_E_FORMAT, 0, "header claims shape (1000, 64) float32 = 256000 bytes but the file has 1024 bytes"},
        {"overflow.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, "
                         "4611686018427387904), }", 16, SIMREP_E_FORMAT, 0, "more elements than fit"},
        {"overflow2.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 1), }", 16,
         SIMREP_E_FORMAT, 0, "overflows"},
        {"hugedim.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999, 1), }", 16,
         SIMREP_E_FORMAT, 0, "overflows int64"},
        {"negative.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }", 16, SIMREP_E_FORMAT, 0,
         "negative"},
        {"float_dim.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5, 3), }", 16, SIMREP_E_FORMAT, 0,
         "not an integer"},
        {"complex.npy", "{'descr': '<c16', 'fortran_order': False, 'shape': (2, 2), }", 64, SIMREP_E_UNSUPPORTED, 0,
         "dtype <c16 (complex128) is not supported"},
        {"object.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 16, SIMREP_E_UNSUPPORTED, 0,
         "dtype |O"},
        {"string.npy", "{'descr': '<U10', 'fortran_order': False, 'shape': (2,), }", 80, SIMREP_E_UNSUPPORTED, 0,
         "<U10 (unicode strings)"},
        {"int.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", 32, SIMREP_E_UNSUPPORTED, 0,
         "dtype <i8 (int64) is not supported; simrep reads float16"},
        {"bool.npy", "{'descr': '|b1', 'fortran_order': False, 'shape': (2, 2), }", 4, SIMREP_E_UNSUPPORTED, 0,
         "bool"},
        {"longdouble.npy", "{'descr': '<f16', 'fortran_order': False, 'shape': (2, 2), }", 64, SIMREP_E_UNSUPPORTED,
         0, "float128"},
        {"struct.npy", "{'descr': [('a', '<f4'), ('b', '<i4', (2,))], 'fortran_order': False, 'shape': (2,), }", 24,
         SIMREP_E_UNSUPPORTED, 0, "structured"},
        {"junk_order.npy", "{'descr': '<f4', 'fortran_order': maybe, 'shape': (2, 2), }", 16, SIMREP_E_FORMAT, 0,
         "fortran_order"},
        {"no_brace.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), ", 16, SIMREP_E_FORMAT, 0,
         "malformed npy header"},
        {"no_colon.npy", "{'descr' '<f4', 'fortran_order': False, 'shape': (2, 2)}", 16, SIMREP_E_FORMAT, 0,
         "expected ':'"},
        {"extra_key.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 1}", 16, SIMREP_E_FORMAT,
         0, "unexpected key"},
        {"missing_key.npy", "{'descr': '<f4', 'shape': (2, 2)}", 16, SIMREP_E_FORMAT, 0, "missing key"},
        {"dup_key.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)}", 16,
         SIMREP_E_FORMAT, 0, "duplicate"},
        {"junk_after.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2)} x", 16, SIMREP_E_FORMAT, 0,
         "junk"},
        {"shape_list.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 2]}", 16, SIMREP_E_FORMAT, 0,
         "shape is not a tuple"},
        {"too_many_dims.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 4,
         SIMREP_E_UNSUPPORTED, 0, "at most 8"},
        {"scalar.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4, SIMREP_OK, SIMREP_E_SHAPE,
         "scalar"},
        {"vector.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }", 20, SIMREP_OK, SIMREP_E_SHAPE,
         "a 1-D array (shape (5,))"},
        {"seq.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }", 96, SIMREP_OK,
         SIMREP_E_SHAPE, "a 3-D array (shape (2, 3, 4)): simrep compare takes 2-D samples x features; sequences"},
        {"conv.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 2, 2, 1), }", 16, SIMREP_OK,
         SIMREP_E_SHAPE, "--conv nhwc|nchw"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bytes b = {0};
        put_npy_header(&b, 1, cases[i].dict);
        for (int64_t k = 0; k < cases[i].data_bytes; k++)
            put(&b, "\0", 1);
        bad_case c = {cases[i].name, NULL, cases[i].open, cases[i].read, cases[i].contains};
        check_bad(ctx, &b, &c, SIMREP_FORMAT_NPY);
        bytes_free(&b);
    }

    /* Raw byte-level damage. */
    bytes good = {0};
    make_npy(&good, 1, "<f4", 'f', 0, 4, 4);
    bytes b = {0};
    bad_case empty = {"empty.npy", NULL, SIMREP_E_FORMAT, 0, "empty"};
    check_bad(ctx, &b, &empty, SIMREP_FORMAT_NPY);
    putstr(&b, "hello, this is not an array at all, just text");
    bad_case magic = {"magic.npy", NULL, SIMREP_E_FORMAT, 0, "not a .npy file"};
    check_bad(ctx, &b, &magic, SIMREP_FORMAT_NPY);
    b.n = 0;
    put(&b, good.p, 40);
    bad_case trunc_header = {"trunc_header.npy", NULL, SIMREP_E_FORMAT, 0, "truncated"};
    check_bad(ctx, &b, &trunc_header, SIMREP_FORMAT_NPY);
    b.n = 0;
    put(&b, good.p, 8);
    bad_case trunc_pre = {"trunc_preamble.npy", NULL, SIMREP_E_FORMAT, 0, "truncated"};
    check_bad(ctx, &b, &trunc_pre, SIMREP_FORMAT_NPY);
    b.n = 0;
    put(&b, "\x93NUMPY\x02\x00\xf0\xff\xff\xff{}", 14);
    bad_case hlen = {"hlen.npy", NULL, SIMREP_E_FORMAT, 0, "beyond the end of the file"};
    check_bad(ctx, &b, &hlen, SIMREP_FORMAT_NPY);
    b.n = 0;
    put(&b, good.p, good.n);
    b.p[6] = 4;
    bad_case version = {"version.npy", NULL, SIMREP_E_UNSUPPORTED, 0, "version 4.0"};
    check_bad(ctx, &b, &version, SIMREP_FORMAT_NPY);
    b.n = 0;
    put(&b, good.p, good.n - 1);
    bad_case trunc = {"trunc_one.npy", NULL, SIMREP_E_FORMAT, 0, "64 bytes but the file has 63"};
    check_bad(ctx, &b, &trunc, SIMREP_FORMAT_NPY);
    bytes_free(&b);
    bytes_free(&good);

    /* Files that are not there or not files. */
    simrep_source *src = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/does_not_exist.npy", tmpdir);
    CHECK_STATUS(ctx, simrep_source_open(ctx, path, &src), SIMREP_E_IO);
    CHECK(starts_with(simrep_ctx_message(ctx), path) && strstr(simrep_ctx_message(ctx), "No such file"));
    CHECK_STATUS(ctx, simrep_source_open(ctx, tmpdir, &src), SIMREP_E_IO);
    CHECK(starts_with(simrep_ctx_message(ctx), tmpdir) && strstr(simrep_ctx_message(ctx), "is a directory"));
    int count;
    CHECK_STATUS(ctx, simrep_file_list(ctx, tmpdir, NULL, 0, &count), SIMREP_E_IO);
    bytes junk = {0};
    putstr(&junk, "just some text that is long enough");
    const char *jp = write_file("junk.bin", &junk);
    CHECK_STATUS(ctx, simrep_source_open(ctx, jp, &src), SIMREP_E_FORMAT);
    CHECK(starts_with(simrep_ctx_message(ctx), jp) && strstr(simrep_ctx_message(ctx), "unknown extension"));
    bytes_free(&junk);
    CHECK(src == NULL);
}

static void test_npz_bad(simrep_ctx *ctx)
{
    bytes m = {0};
    make_npy(&m, 1, "<f4", 'f', 0, 8, 4);
    const size_t data = 8 * 4 * 4, header = m.n - data;

    zip_builder zb = {0};
    build_npz(&zb, 8);
    bad_case missing = {"keys.npz", "nope", SIMREP_E_NOTFOUND, 0, "no array 'nope' in the archive; it holds 'x', "
                                                                  "'y', 'be', 'h'"};
    check_bad(ctx, &zb.out, &missing, SIMREP_FORMAT_NPZ);
    bad_case nokey = {"keys2.npz", NULL, SIMREP_E_NOTFOUND, 0, "holds 4 arrays"};
    check_bad(ctx, &zb.out, &nokey, SIMREP_FORMAT_NPZ);
    /* Cut off the end record. */
    zb.out.n -= 30;
    bad_case cut = {"cut.npz", "x", SIMREP_E_FORMAT, 0, "end-of-central-directory"};
    check_bad(ctx, &zb.out, &cut, SIMREP_FORMAT_NPZ);
    bytes_free(&zb.out);

    /* The archive lies about the uncompressed size. */
    for (int method = 0; method <= 8; method += 8) {
        zip_builder z2 = {0};
        zip_add(&z2, "x.npy", &m, method, header + data + 100);
        zip_finish(&z2);
        bad_case lie = {method ? "lie_d.npz" : "lie_s.npz", "x", SIMREP_E_FORMAT, 0,
                        method ? "the archive says the member has 356 bytes, but its npy header implies 256"
                               : "stored member has 256 bytes but claims 356"};
        check_bad(ctx, &z2.out, &lie, SIMREP_FORMAT_NPZ);
        bytes_free(&z2.out);
    }

    /* A deflated member that inflates to more, or fewer, bytes than its
     * header and the archive say (both agree on 256). */
    for (int more = 0; more < 2; more++)
        for (int fortran = 0; fortran < 2; fortran++) {
            bytes odd = {0};
            put_npy_header(&odd, 1, fortran ? "{'descr': '<f4', 'fortran_order': True, 'shape': (8, 4), }"
                                            : "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 8), }");
            put_data(&odd, 'f', 0, 0, more ? 9 : 7, 4);
            zip_builder z3 = {0};
            zip_add(&z3, "x.npy", &odd, 8, header + data);
            zip_finish(&z3);
            char name[32];
            snprintf(name, sizeof name, "odd_%d_%d.npz", more, fortran);
            bad_case c = {name, "x", SIMREP_OK, SIMREP_E_FORMAT, more ? "inflates to more" : "truncated"};
            check_bad(ctx, &z3.out, &c, SIMREP_FORMAT_NPZ);
            /* Failing again (a second spill to a temporary file, or a
             * restart) is the same error and leaks nothing. */
            simrep_source *src = NULL;
            CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, z3.out.p, z3.out.n, SIMREP_FORMAT_NPZ, NULL, &src),
                         SIMREP_OK);
            for (int again = 0; again < 2 && src; again++) {
                simrep_matrix v;
                CHECK_STATUS(ctx, simrep_source_read(ctx, src, 0, 8, &v), SIMREP_E_FORMAT);
            }
            simrep_source_free(ctx, src);
            bytes_free(&z3.out);
            bytes_free(&odd);
        }

    /* A corrupt deflate stream: garbage in the data part, and in the header. */
    zip_builder z4 = {0};
    zip_add(&z4, "x.npy", &m, 8, 0);
    zip_finish(&z4);
    for (int where = 0; where < 2; where++) {
        bytes bad = {0};
        put(&bad, z4.out.p, z4.out.n);
        size_t start = 30 + 5, len = z4.m[0].csize;
        for (size_t k = where ? 0 : len / 3; k < len - 2; k += 1)
            bad.p[start + k] = (unsigned char)(0xff ^ (k * 37));
        /* The header is inflated at open: damage there fails the open. */
        simrep_source *src = NULL;
        simrep_status st = simrep_source_open_buffer(ctx, bad.p, bad.n, SIMREP_FORMAT_NPZ, "x", &src);
        if (st == SIMREP_OK) {
            simrep_matrix v;
            st = simrep_source_read(ctx, src, 0, 8, &v);
            simrep_source_free(ctx, src);
        }
        CHECK(st == SIMREP_E_FORMAT);
        CHECK(starts_with(simrep_ctx_message(ctx), "<buffer>:x: "));
        bytes_free(&bad);
    }
    /* A CRC mismatch. */
    bytes bad = {0};
    put(&bad, z4.out.p, z4.out.n);
    bad.p[14] ^= 1;                     /* local header CRC (unused) */
    bad.p[bad.n - 22 - 7 - 5 - 46 + 16] ^= 1; /* central directory CRC */
    bad_case crc = {"crc.npz", "x", SIMREP_OK, SIMREP_E_FORMAT, "CRC-32"};
    check_bad(ctx, &bad, &crc, SIMREP_FORMAT_NPZ);
    bytes_free(&bad);
    /* The member's data run past the end of the file. */
    put(&bad, z4.out.p, z4.out.n);
    uint32_t huge = 0x7fffffff;
    memcpy(bad.p + bad.n - 22 - 7 - 5 - 46 + 20, &huge, 4);
    bad_case past = {"past.npz", "x", SIMREP_E_FORMAT, 0, "beyond the end of the file"};
    check_bad(ctx, &bad, &past, SIMREP_FORMAT_NPZ);
    bytes_free(&bad);
    bytes_free(&z4.out);

    /* An empty archive and a .npy passed as .npz. */
    zip_builder z5 = {0};
    zip_finish(&z5);
    bad_case none = {"none.npz", NULL, SIMREP_E_NOTFOUND, 0, "no .npy arrays"};
    check_bad(ctx, &z5.out, &none, SIMREP_FORMAT_NPZ);
    bytes_free(&z5.out);
    bad_case npy = {"really_npy.npz", NULL, SIMREP_E_FORMAT, 0, "looks like a .npy"};
    check_bad(ctx, &m, &npy, SIMREP_FORMAT_NPZ);
    bytes_free(&m);
}

static void test_safetensors_bad(simrep_ctx *ctx)
{
    bytes data = {0};
    put_data(&data, 'f', 0, 0, 2, 3);
    static const struct {
        const char *name, *json;
        simrep_status open;
        const char *contains;
    } cases[] = {
        {"beyond.safetensors", "{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 240]}}",
         SIMREP_E_FORMAT, "outside the data section"},
        {"mismatch.safetensors", "{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 24]}}",
         SIMREP_E_FORMAT, "needs 16 bytes"},
        {"int.safetensors", "{\"t\": {\"dtype\": \"I64\", \"shape\": [3], \"data_offsets\": [0, 24]}}",
         SIMREP_E_UNSUPPORTED, "dtype I64 is not supported"},
        {"f8.safetensors", "{\"t\": {\"dtype\": \"F8_E4M3\", \"shape\": [24], \"data_offsets\": [0, 24]}}",
         SIMREP_E_UNSUPPORTED, "F8_E4M3"},
        {"negative.safetensors", "{\"t\": {\"dtype\": \"F32\", \"shape\": [-2, 3], \"data_offsets\": [0, 24]}}",
         SIMREP_E_FORMAT, "negative"},
        {"frac.safetensors", "{\"t\": {\"dtype\": \"F32\", \"shape\": [2.0, 3], \"data_offsets\": [0, 24]}}",
         SIMREP_E_FORMAT, "not an integer"},
        {"overflow.safetensors",
         "{\"t\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4611686018427387904], "
         "\"data_offsets\": [0, 24]}}",
         SIMREP_E_FORMAT, "overflows"},
        {"syntax.safetensors", "{\"t\": {\"dtype\": \"F32\" \"shape\": [2, 3], \"data_offsets\": [0, 24]}}",
         SIMREP_E_FORMAT, "malformed safetensors header"},
        {"trailing.safetensors", "{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]},}",
         SIMREP_E_FORMAT, "malformed"},
        {"escape.safetensors", "{\"t\\q\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}",
         SIMREP_E_FORMAT, "bad escape"},
        {"nodtype.safetensors", "{\"t\": {\"shape\": [2, 3], \"data_offsets\": [0, 24]}}", SIMREP_E_FORMAT,
         "no \"dtype\""},
        {"notobject.safetensors", "[1, 2]", SIMREP_E_FORMAT, "not a JSON object"},
        {"deep.safetensors", "{\"__metadata__\": {\"a\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                             "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
                             "]]]]]]]]]]]]]}}",
         SIMREP_E_FORMAT, "too deep"},
        {"missing.safetensors", "{\"t\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 24]}}",
         SIMREP_E_NOTFOUND, "no tensor 'u'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bytes b = {0};
        make_safetensors(&b, cases[i].json, &data);
        bad_case c = {cases[i].name, "t", cases[i].open, 0, cases[i].contains};
        if (strcmp(cases[i].name, "missing.safetensors") == 0)
            c.key = "u";
        check_bad(ctx, &b, &c, SIMREP_FORMAT_SAFETENSORS);
        bytes_free(&b);
    }

    /* A header length near 2^64, one of 2^40 (beyond the file), a file
     * shorter than the length field, and an empty file. */
    bytes b = {0};
    put64(&b, UINT64_MAX - 3);
    putstr(&b, "{}");
    bad_case huge = {"huge.safetensors", "t", SIMREP_E_FORMAT, 0, "header length 18446744073709551612"};
    check_bad(ctx, &b, &huge, SIMREP_FORMAT_SAFETENSORS);
    b.n = 0;
    put64(&b, (uint64_t)1 << 40);
    putstr(&b, "{}");
    bad_case big = {"big.safetensors", "t", SIMREP_E_FORMAT, 0, "beyond the end of the file"};
    check_bad(ctx, &b, &big, SIMREP_FORMAT_SAFETENSORS);
    b.n = 0;
    put(&b, "\x10\0\0", 3);
    bad_case shortf = {"short.safetensors", "t", SIMREP_E_FORMAT, 0, "too short"};
    check_bad(ctx, &b, &shortf, SIMREP_FORMAT_SAFETENSORS);
    b.n = 0;
    bad_case empty = {"empty.safetensors", "t", SIMREP_E_FORMAT, 0, "empty"};
    check_bad(ctx, &b, &empty, SIMREP_FORMAT_SAFETENSORS);
    bytes_free(&b);
    bytes_free(&data);
}

/* ------------------------------------------------- allocation failures */

typedef struct failing {
    int calls, fail_at;
} failing;

static void *failing_malloc(void *user, size_t size)
{
    failing *f = user;
    if (f->calls++ == f->fail_at)
        return NULL;
    return malloc(size);
}

static void failing_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

/* Fail each allocation of opening and reading a deflated Fortran-order
 * member in turn: every failure is NOMEM with a message, nothing leaks
 * (the ASan build checks), and past the last allocation all succeeds. */
static void test_alloc_failures(void)
{
    zip_builder zb = {0};
    build_npz(&zb, 8);
    int done = 0;
    for (int k = 0; k < 64 && !done; k++) {
        failing f = {0, k};
        simrep_allocator a = {failing_malloc, failing_free, &f};
        simrep_ctx *ctx = simrep_ctx_new(&a);
        if (!ctx)
            continue;
        simrep_source *src = NULL;
        simrep_status st = simrep_source_open_buffer(ctx, zb.out.p, zb.out.n, SIMREP_FORMAT_NPZ, "y", &src);
        simrep_matrix v;
        if (st == SIMREP_OK)
            st = simrep_source_read(ctx, src, 0, 13, &v);
        if (st == SIMREP_OK) {
            CHECK(simrep__element(&v, 12, 2) == val(12, 2));
            done = 1;
        } else {
            CHECK(st == SIMREP_E_NOMEM);
            CHECK(starts_with(simrep_ctx_message(ctx), "<buffer>"));
        }
        simrep_source_free(ctx, src);
        simrep_ctx_free(ctx);
    }
    CHECK(done);
    bytes_free(&zb.out);
}

/* Issue 10, item 5: the identity of an opened file, and a rewrite of it
 * while open (same inode and size, a new modification time) or a longer
 * file, is SIMREP_E_IO naming it; a memory source has no identity. */
static void test_file_changes(simrep_ctx *ctx)
{
    bytes b = {0};
    make_npy(&b, 1, "<f4", 'f', 0, 6, 2);
    const char *path = write_file("changing.npy", &b);
    simrep_input *in = NULL;
    CHECK_STATUS(ctx, simrep_input_open(ctx, path, NULL, &in), SIMREP_OK);
    simrep_file_id id, again;
    CHECK(simrep_input_file_id(in, &id) == 1 && id.size == b.n && id.inode != 0);
    CHECK_STATUS(ctx, simrep_input_check_unchanged(ctx, in), SIMREP_OK);
    /* a newer modification time, same size */
    struct timespec ts[2] = {{0, UTIME_OMIT}, {id.mtime_sec + 5, 0}};
    CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
    CHECK_STATUS(ctx, simrep_input_check_unchanged(ctx, in), SIMREP_E_IO);
    CHECK(strstr(simrep_ctx_message(ctx), path) && strstr(simrep_ctx_message(ctx), "changed while it was read"));
    simrep_input *in2 = NULL;
    CHECK_STATUS(ctx, simrep_input_open(ctx, path, NULL, &in2), SIMREP_OK);
    simrep_input_file_id(in2, &again);
    CHECK(memcmp(&again, &id, sizeof id) != 0); /* a later opening tells */
    simrep_input_free(ctx, in);
    simrep_input_free(ctx, in2);
    simrep_source *mem = NULL;
    CHECK_STATUS(ctx, simrep_source_open_buffer(ctx, b.p, b.n, SIMREP_FORMAT_NPY, NULL, &mem), SIMREP_OK);
    CHECK(simrep_source_file_id(mem, &id) == 0 && id.size == 0);
    CHECK_STATUS(ctx, simrep_source_check_unchanged(ctx, mem), SIMREP_OK);
    simrep_source_free(ctx, mem);
    bytes_free(&b);
}

void suite_io(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/simrep_test_io_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        CHECK(!"mkdtemp failed");
        return;
    }
    simrep_ctx *ctx = simrep_ctx_new(NULL);
    test_file_changes(ctx);
    test_npy_good(ctx);
    test_npz_good(ctx);
    test_safetensors_good(ctx);
    test_npy_bad(ctx);
    test_npz_bad(ctx);
    test_safetensors_bad(ctx);
    test_alloc_failures();
    simrep_ctx_free(ctx);
    for (int i = nmade - 1; i >= 0; i--)
        unlink(made[i]);
    char dir[128];
    snprintf(dir, sizeof dir, "%s/a:b", tmpdir);
    rmdir(dir);
    rmdir(tmpdir);
}
