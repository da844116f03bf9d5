/*
 * test_alloc.c: allocation-failure injection over representative calls.
 *
 * The context's allocator is the library's only allocator (internal.h:
 * every allocation goes through simrep__alloc, and zlib's through the same
 * hook), so a test allocator that fails its k-th call and counts the blocks
 * alive reaches every allocation.  For each scenario below the test first
 * runs it unfailed to count its allocations, then once for every k below
 * that count with allocation k failing, and checks three things: the call
 * sequence stops with SIMREP_E_NOMEM and a message (the library has no
 * fallback paths, so success would mean a failure was swallowed); nothing is
 * leaked (the live count is back to the context's own block after the
 * scenario frees what it made); and the run past the last allocation
 * succeeds.  The ASan build runs the same sweeps with LeakSanitizer and
 * use-after-free detection, which catches what a live count cannot
 * (a block freed twice, a pointer kept after its free).
 *
 * test_io.c and test_rbf.c each have a narrower sweep (a deflated Fortran
 * member; cka_rbf alone); these cover the rest: moments and every linear
 * measure, the many-input pairs, simrep_compare with cka_rbf, cca_details,
 * mds, token masks and masked sequences, and every input format from
 * buffers and from files.  The input
 * files are the fuzz seed corpus (fuzz/corpus/, read relative to the
 * repository root, where `make check` runs the tests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rows.h"
#include "simrep.h"
#include "test_util.h"

/* A scenario makes its calls with ctx, frees everything it made whatever
 * happened, and returns the first failing status; *digest receives a
 * number summarizing its results (compared with the unfailed run's). */
typedef simrep_status (*scenario_fn)(simrep_ctx *ctx, const void *arg, double *digest);

/* Run fn with every allocation failing in turn; returns the number of
 * allocations the unfailed run made. */
static long sweep(const char *name, scenario_fn fn, const void *arg)
{
    counting c = {0, -1, 0};
    simrep_allocator a = {counting_malloc, counting_free, &c};
    simrep_ctx *ctx = simrep_ctx_new(&a);
    CHECK(ctx != NULL);
    if (!ctx)
        return 0;
    const long base = c.live; /* the context itself */
    double want = 0, got = 0;
    c.calls = 0;
    simrep_status st = fn(ctx, arg, &want);
    if (st != SIMREP_OK)
        fprintf(stderr, "FAIL %s: unfailed run: %s\n", name, simrep_ctx_message(ctx));
    CHECK(st == SIMREP_OK);
    CHECK(c.live == base);
    const long total = c.calls;
    int bad_status = 0, leaks = 0, no_message = 0;
    for (long k = 0; k < total; k++) {
        c.calls = 0;
        c.fail_at = k;
        got = 0;
        st = fn(ctx, arg, &got);
        if (st != SIMREP_E_NOMEM) {
            if (bad_status++ < 3)
                fprintf(stderr, "FAIL %s: allocation %ld of %ld failing gave status %d: %s\n", name, k, total,
                        (int)st, simrep_ctx_message(ctx));
        } else if (!simrep_ctx_message(ctx)[0] || simrep_ctx_status(ctx) != SIMREP_E_NOMEM) {
            if (no_message++ < 3)
                fprintf(stderr, "FAIL %s: allocation %ld failing left no NOMEM message\n", name, k);
        }
        if (c.live != base && leaks++ < 3)
            fprintf(stderr, "FAIL %s: allocation %ld of %ld failing leaked %ld blocks\n", name, k, total,
                    c.live - base);
        c.live = base; /* count the next run's leaks on their own */
    }
    CHECK(bad_status == 0);
    CHECK(leaks == 0);
    CHECK(no_message == 0);
    if (getenv("SIMREP_TEST_VERBOSE"))
        fprintf(stderr, "alloc sweep: %s: %ld allocations\n", name, total);
    c.calls = 0;
    c.fail_at = total; /* past the last allocation */
    CHECK(fn(ctx, arg, &got) == SIMREP_OK && got == want);
    c.fail_at = -1;
    simrep_ctx_free(ctx);
    CHECK(c.live == 0);
    return total;
}

/* ------------------------------------------------------------ measures */

static const simrep_measure linear[] = {SIMREP_CCA, SIMREP_CCA_R2, SIMREP_SVCCA, SIMREP_PWCCA,
                                        SIMREP_CKA, SIMREP_CKA_DEBIASED, SIMREP_PROCRUSTES,
                                        SIMREP_PROCRUSTES_ANGULAR};
#define NLINEAR ((int)(sizeof linear / sizeof *linear))

typedef struct data {
    int64_t n, p, q, r;
    double *x, *y, *z; /* n x p, n x q (stored as float below), n x r */
    float *yf;
} data;

static void data_make(data *d, int64_t n, int64_t p, int64_t q, int64_t r)
{
    test_rng g = {2024};
    d->n = n, d->p = p, d->q = q, d->r = r;
    d->x = malloc(sizeof(double) * (size_t)(n * p));
    d->y = malloc(sizeof(double) * (size_t)(n * q));
    d->z = malloc(sizeof(double) * (size_t)(n * r));
    d->yf = malloc(sizeof(float) * (size_t)(n * q));
    for (int64_t i = 0; i < n * p; i++)
        d->x[i] = test_normal(&g);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < q; j++) {
            d->y[i * q + j] = d->x[i * p + j % p] + 0.5 * test_normal(&g);
            d->yf[j * n + i] = (float)d->y[i * q + j]; /* Fortran order */
        }
    for (int64_t i = 0; i < n * r; i++)
        d->z[i] = test_normal(&g);
    /* A dead feature in x, so the dead-feature path allocates too. */
    for (int64_t i = 0; i < n; i++)
        d->x[i * p + 1] = 3.0;
}

static void data_free(data *d)
{
    free(d->x), free(d->y), free(d->z), free(d->yf);
}

static double digest_results(const simrep_result *r, int count)
{
    double s = 0;
    for (int i = 0; i < count; i++) {
        s += r[i].similarity + r[i].distance;
        for (int64_t j = 0; j < r[i].ncoefs; j++)
            s += r[i].coefs[j] + (r[i].weights ? r[i].weights[j] : 0);
    }
    return s;
}

/* moments_new, two updates (the second a Fortran float view), clone,
 * merge, every linear measure, load/save. */
static simrep_status sc_moments(simrep_ctx *ctx, const void *arg, double *digest)
{
    const data *d = arg;
    simrep_moments *m = NULL, *c = NULL;
    simrep_result r[NLINEAR];
    memset(r, 0, sizeof r);
    int64_t h = d->n / 2;
    simrep_matrix x1 = simrep_matrix_c(d->x, SIMREP_F64, h, d->p);
    simrep_matrix y1 = simrep_matrix_c(d->y, SIMREP_F64, h, d->q);
    simrep_matrix x2 = simrep_matrix_c(d->x + h * d->p, SIMREP_F64, d->n - h, d->p);
    simrep_matrix y2 = {d->yf + h, SIMREP_F32, d->n - h, d->q, 1, d->n};
    simrep_status st = simrep_moments_new(ctx, d->p, d->q, &m);
    if (!st)
        st = simrep_moments_update(ctx, m, &x1, &y1);
    if (!st)
        st = simrep_moments_clone(ctx, m, &c);
    if (!st)
        st = simrep_moments_update(ctx, c, &x2, &y2);
    if (!st) { /* m gets the second half by a merge with a fresh Moments */
        simrep_moments *t = NULL;
        st = simrep_moments_new(ctx, d->p, d->q, &t);
        if (!st)
            st = simrep_moments_update(ctx, t, &x2, &y2);
        if (!st)
            st = simrep_moments_merge(ctx, m, t);
        simrep_moments_free(ctx, t);
    }
    if (!st)
        st = simrep_compare_moments(ctx, m, NULL, linear, NLINEAR, r);
    if (!st) {
        *digest = digest_results(r, NLINEAR);
        for (int i = 0; i < NLINEAR; i++)
            simrep_result_clear(ctx, &r[i]);
        st = simrep_compare_moments(ctx, c, NULL, linear, NLINEAR, r);
    }
    if (!st) {
        *digest += digest_results(r, NLINEAR);
        for (int i = 0; i < NLINEAR; i++)
            simrep_result_clear(ctx, &r[i]);
    }
    simrep_moments_free(ctx, m);
    simrep_moments_free(ctx, c);
    return st;
}

/* Three inputs at once, the shared per-input work, two pairs. */
static simrep_status sc_pairs(simrep_ctx *ctx, const void *arg, double *digest)
{
    const data *d = arg;
    int64_t features[3] = {d->p, d->q, d->r};
    simrep_matrix blocks[3] = {simrep_matrix_c(d->x, SIMREP_F64, d->n, d->p),
                               {d->yf, SIMREP_F32, d->n, d->q, 1, d->n},
                               simrep_matrix_c(d->z, SIMREP_F64, d->n, d->r)};
    simrep_moments *m = NULL;
    simrep_pairs *pairs = NULL;
    simrep_result r[NLINEAR];
    simrep_status st = simrep_moments_new_multi(ctx, 3, features, &m);
    if (!st)
        st = simrep_moments_update_multi(ctx, m, blocks);
    if (!st)
        st = simrep_pairs_prepare(ctx, m, NULL, linear, NLINEAR, &pairs);
    *digest = 0;
    static const int ij[2][2] = {{0, 1}, {2, 0}};
    for (int k = 0; k < 2 && !st; k++) {
        st = simrep_pairs_compare(ctx, pairs, ij[k][0], ij[k][1], linear, NLINEAR, r);
        if (!st) {
            *digest += digest_results(r, NLINEAR);
            for (int i = 0; i < NLINEAR; i++)
                simrep_result_clear(ctx, &r[i]);
        }
    }
    simrep_pairs_free(ctx, pairs);
    simrep_moments_free(ctx, m);
    return st;
}

/* simrep_compare with every measure, cka_rbf included. */
static simrep_status sc_compare(simrep_ctx *ctx, const void *arg, double *digest)
{
    const data *d = arg;
    enum { NALL = SIMREP_PROCRUSTES_ANGULAR + 1 }; /* the measures of two matrices */
    simrep_measure all[NALL];
    for (int i = 0; i < NALL; i++)
        all[i] = (simrep_measure)i;
    simrep_result r[NALL];
    simrep_matrix x = simrep_matrix_c(d->x, SIMREP_F64, d->n, d->p);
    simrep_matrix y = {d->yf, SIMREP_F32, d->n, d->q, 1, d->n};
    simrep_status st = simrep_compare(ctx, &x, &y, NULL, all, NALL, r);
    if (!st) {
        *digest = digest_results(r, NALL);
        for (int i = 0; i < NALL; i++)
            simrep_result_clear(ctx, &r[i]);
    }
    return st;
}

static simrep_status sc_cca_details(simrep_ctx *ctx, const void *arg, double *digest)
{
    const data *d = arg;
    simrep_moments *m = NULL;
    simrep_cca_details det;
    memset(&det, 0, sizeof det);
    simrep_matrix x = simrep_matrix_c(d->x, SIMREP_F64, d->n, d->p);
    simrep_matrix y = simrep_matrix_c(d->y, SIMREP_F64, d->n, d->q);
    simrep_status st = simrep_moments_new(ctx, d->p, d->q, &m);
    if (!st)
        st = simrep_moments_update(ctx, m, &x, &y);
    if (!st)
        st = simrep_cca_details_compute(ctx, m, NULL, &det);
    if (!st) {
        *digest = 0;
        for (int64_t i = 0; i < det.k; i++)
            *digest += det.rho[i];
        for (int64_t i = 0; i < det.kp * det.kp; i++)
            *digest += det.wx[i] + det.u[i];
        simrep_cca_details_clear(ctx, &det);
    }
    simrep_moments_free(ctx, m);
    return st;
}

/* Classical MDS of the distances between the rows of x. */
/* simrep_rank_test with a bootstrap and permutations, exact tau (n = 10,
 * no ties). */
static simrep_status sc_rank(simrep_ctx *ctx, const void *arg, double *digest)
{
    (void)arg;
    double x[10], y[10];
    for (int i = 0; i < 10; i++)
        x[i] = i, y[i] = (i * 7) % 10;
    simrep_rank_options o;
    simrep_rank_options_init(&o);
    o.bootstrap = 3;
    o.permutations = 3;
    simrep_rank_result r;
    simrep_status st = simrep_rank_test(ctx, 10, x, y, &o, &r);
    *digest = st == SIMREP_OK ? r.rho + r.tau + r.tau_p + r.rho_ci_low + r.rho_perm_p : 0;
    return st;
}

static simrep_status sc_mds(simrep_ctx *ctx, const void *arg, double *digest)
{
    const data *d = arg;
    enum { K = 12 };
    double dist[K * K], coords[K * 2], ev[2];
    for (int i = 0; i < K; i++)
        for (int j = 0; j < K; j++) {
            double s = 0;
            for (int64_t c = 0; c < d->p; c++) {
                double t = d->x[i * d->p + c] - d->x[j * d->p + c];
                s += t * t;
            }
            dist[i * K + j] = sqrt(s);
        }
    simrep_status st = simrep_mds(ctx, K, dist, K, 2, coords, ev);
    if (!st)
        *digest = ev[0] + ev[1];
    return st;
}

/* Clustering and every figure kind (the figures grow their text buffer
 * several times: each growth is an allocation that may fail). */
static simrep_status sc_figures(simrep_ctx *ctx, const void *arg, double *digest)
{
    (void)arg;
    enum { K = 24 };
    double dist[K * K], sim[K * K], x[K], y[K];
    const char *names[K];
    static const char *pool[4] = {"resnet18_seed0_layer4.2.conv3_checkpoint_final", "vit", "mlp_s1", "x"};
    int group[K];
    for (int i = 0; i < K; i++) {
        names[i] = pool[i % 4];
        group[i] = i % 3;
        x[i] = cos(i), y[i] = sin(2.0 * i);
        for (int j = 0; j < K; j++) {
            dist[i * K + j] = i == j ? 0 : 0.1 + fabs(sin((double)(i + j))) + 0.01 * (i > j ? i - j : j - i);
            sim[i * K + j] = 1 - dist[i * K + j];
        }
    }
    const char *gnames[3] = {"a", "b", "c"};
    simrep_linkage l;
    simrep_figure f;
    simrep_status st = simrep_cluster_average(ctx, K, dist, K, &l);
    if (st)
        return st;
    simrep_heatmap h;
    simrep_heatmap_init(&h);
    h.title = "heatmap", h.rows = h.cols = K, h.values = sim, h.ld = K, h.row_labels = h.col_labels = names;
    h.tree = &l, h.self = 1, h.row_group = group, h.group_names = gnames, h.ngroups = 3;
    st = simrep_plot_heatmap(ctx, &h, &f);
    double sum = l.height[K - 2];
    simrep_linkage_clear(ctx, &l);
    if (st)
        return st;
    sum += (double)f.len;
    simrep_figure_clear(ctx, &f);
    simrep_scatter sc;
    simrep_scatter_init(&sc);
    sc.n = K, sc.x = x, sc.y = y, sc.labels = names, sc.group = group, sc.group_names = gnames, sc.ngroups = 3;
    if ((st = simrep_plot_scatter(ctx, &sc, &f)))
        return st;
    sum += (double)f.len;
    simrep_figure_clear(ctx, &f);
    const double *pts[3] = {x, y, x};
    const int64_t np[3] = {K, K, 3};
    simrep_bars b;
    simrep_bars_init(&b);
    b.n = 3, b.labels = names, b.value = x, b.err_lo = y, b.err_hi = x, b.points = pts, b.npoints = np;
    if ((st = simrep_plot_bars(ctx, &b, &f)))
        return st;
    sum += (double)f.len;
    simrep_figure_clear(ctx, &f);
    const double *xs[2] = {x, y}, *ys[2] = {y, x};
    const int64_t n2[2] = {K, K};
    simrep_lines ln;
    simrep_lines_init(&ln);
    ln.nseries = 2, ln.names = names, ln.npoints = n2, ln.x = xs, ln.y = ys, ln.y_lo = ys, ln.y_hi = ys;
    if ((st = simrep_plot_lines(ctx, &ln, &f)))
        return st;
    sum += (double)f.len;
    simrep_figure_clear(ctx, &f);
    *digest = sum;
    return SIMREP_OK;
}

/* ---------------------------------------------------------------- input */

typedef struct input {
    const char *path; /* under fuzz/corpus/ */
    simrep_format format;
    const char *keys[5]; /* NULL-terminated; {NULL} opens the only array */
    unsigned char *bytes;
    size_t len;
} input;

static int load(input *in)
{
    char path[256];
    snprintf(path, sizeof path, "fuzz/corpus/%s", in->path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "FAIL test_alloc: cannot open %s (run the tests from the repository root)\n", path);
        return 0;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    in->bytes = malloc((size_t)len);
    in->len = fread(in->bytes, 1, (size_t)len, f);
    fclose(f);
    return in->len == (size_t)len;
}

/* Open each key, read every sample in both layouts in two block sizes. */
static simrep_status read_source(simrep_ctx *ctx, simrep_source *src, double *digest)
{
    simrep_status st = SIMREP_OK;
    for (int ff = 0; ff < 2 && !st; ff++) {
        if ((st = simrep_source_set_layout(ctx, src, ff)))
            break;
        int64_t n = simrep_source_samples(src);
        static const int64_t blocks[] = {2, 1000};
        for (int b = 0; b < 2 && !st; b++)
            for (int64_t r = 0; r < n && !st; r += blocks[b]) {
                simrep_matrix v;
                if ((st = simrep_source_read(ctx, src, r, blocks[b], &v)))
                    break;
                double row[64];
                for (int64_t i = 0; i < v.rows && v.cols <= 64; i++) {
                    simrep_matrix one = v;
                    one.data = (const char *)v.data + (size_t)(i * v.row_stride) * simrep_dtype_size(v.dtype);
                    one.rows = 1;
                    simrep_matrix_to_double(&one, row, v.cols);
                    for (int64_t j = 0; j < v.cols; j++)
                        *digest += row[j] * (double)(r + i + 1);
                }
            }
    }
    return st;
}

static simrep_status sc_buffer(simrep_ctx *ctx, const void *arg, double *digest)
{
    const input *in = arg;
    *digest = 0;
    simrep_array_info infos[8];
    int count;
    simrep_status st = simrep_buffer_list(ctx, in->bytes, in->len, in->format, infos, 8, &count);
    if (!st)
        *digest += count;
    for (int k = 0; !st && (k == 0 || in->keys[k]); k++) {
        simrep_source *src = NULL;
        st = simrep_source_open_buffer(ctx, in->bytes, in->len, in->format, in->keys[k], &src);
        if (!st)
            st = read_source(ctx, src, digest);
        simrep_source_free(ctx, src);
    }
    return st;
}

/* The same through the file entry points (the descriptor reader and its
 * deflate input buffer). */
static simrep_status sc_file(simrep_ctx *ctx, const void *arg, double *digest)
{
    const input *in = arg;
    char path[256], spec[300];
    snprintf(path, sizeof path, "fuzz/corpus/%s", in->path);
    *digest = 0;
    simrep_array_info infos[8];
    int count;
    simrep_status st = simrep_file_list(ctx, path, infos, 8, &count);
    if (!st)
        *digest += count;
    for (int k = 0; !st && (k == 0 || in->keys[k]); k++) {
        simrep_source *src = NULL;
        if (in->keys[k])
            snprintf(spec, sizeof spec, "%s:%s", path, in->keys[k]);
        else
            snprintf(spec, sizeof spec, "%s", path);
        st = simrep_source_open(ctx, spec, &src);
        if (!st)
            st = read_source(ctx, src, digest);
        simrep_source_free(ctx, src);
    }
    return st;
}

/* The rows measures (rows.h): rsa with each comparison (Kendall through
 * the spill files: n = 100 is 4950 pairs, 3 buckets of 2048 at 1/16 MiB;
 * a heavily tied y so that the tie paths allocate too), mutual_knn, cknna. */
static simrep_status sc_rows(simrep_ctx *ctx, const void *arg, double *digest)
{
    const data *d = arg;
    simrep_matrix x = simrep_matrix_c(d->x, SIMREP_F64, d->n, d->p);
    simrep_matrix y = {d->yf, SIMREP_F32, d->n, d->q, 1, d->n};
    simrep_options o;
    simrep_options_init(&o);
    o.knn = 4;
    o.rsa_memory = 1.0 / 16;
    simrep_result r;
    simrep_status st = SIMREP_OK;
    *digest = 0;
    for (int how = 0; how < 4 && st == SIMREP_OK; how++) {
        /* Euclidean RDMs with each comparison, then correlation RDMs of x
         * against itself (y has constant rows, fine only for euclidean). */
        o.rsa_compare = (simrep_rsa_compare)(how % 3);
        o.rsa_rdm = how < 3 ? SIMREP_RDM_EUCLIDEAN : SIMREP_RDM_CORRELATION;
        if ((st = simrep__rsa(ctx, &x, how < 3 ? &y : &x, &o, &r)) == SIMREP_OK)
            *digest += r.similarity;
    }
    if (st == SIMREP_OK && (st = simrep__mutual_knn(ctx, &x, &y, &o, &r)) == SIMREP_OK)
        *digest += r.similarity;
    if (st == SIMREP_OK && (st = simrep__cknna(ctx, &x, &y, &o, &r)) == SIMREP_OK)
        *digest += r.similarity;
    return st;
}

/* Token masks (mask.c) and masked sequences read from a memory source:
 * an (N, T) mask and a lengths mask, each through flatten and mean. */
static simrep_status sc_mask(simrep_ctx *ctx, const void *arg, double *digest)
{
    (void)arg;
    enum { N = 5, T = 4, D = 3 };
    static double acts[N * T * D];
    for (int i = 0; i < N * T * D; i++)
        acts[i] = (double)(i % 7) - 3.0;
    static const unsigned char valid[N * T] = {1, 1, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1};
    static const int64_t lengths[N] = {2, 4, 1, 3, 1};
    const int64_t ms2[2] = {N, T}, ms1[1] = {N}, shape[3] = {N, T, D};
    simrep_status st = SIMREP_OK;
    *digest = 0;
    for (int kind = 0; kind < 2 && st == SIMREP_OK; kind++) {
        simrep_mask *mask = NULL;
        st = kind ? simrep_mask_from_memory(ctx, lengths, "<i8", 1, ms1, 0, "len", &mask)
                  : simrep_mask_from_memory(ctx, valid, "|b1", 2, ms2, 0, "mask", &mask);
        for (int mode = 0; mode < 2 && st == SIMREP_OK; mode++) {
            simrep_layout lay;
            simrep_layout_init(&lay);
            lay.sequence = mode ? SIMREP_SEQUENCE_MEAN : SIMREP_SEQUENCE_FLATTEN;
            lay.mask = mask;
            simrep_source *src = NULL;
            simrep_input *in = NULL;
            st = simrep_source_open_memory(ctx, acts, SIMREP_F64, 3, shape, 0, "acts", &src);
            if (st == SIMREP_OK)
                st = simrep_input_from_source(ctx, src, &lay, &in);
            simrep_input_dims dims;
            simrep_input_dims_get(in, &dims);
            for (int64_t r0 = 0; st == SIMREP_OK && r0 < dims.samples; r0 += 3) {
                simrep_matrix v;
                if ((st = simrep_input_read(ctx, in, r0, 3, &v)) == SIMREP_OK)
                    for (int64_t i = 0; i < v.rows; i++)
                        *digest += ((const double *)v.data)[i * v.row_stride] * (double)(r0 + i + 1);
            }
            simrep_input_free(ctx, in);
        }
        simrep_mask_free(ctx, mask);
    }
    return st;
}

void suite_alloc(void)
{
    CHECK(sweep("token masks", sc_mask, NULL) >= 6);
    {
        data r;
        data_make(&r, 100, 3, 2, 1);
        for (int64_t i = 0; i < r.n * r.q; i++)
            r.yf[i] = (float)(int)(r.yf[i] > 0);
        CHECK(sweep("rows measures", sc_rows, &r) > 20);
        data_free(&r);
    }
    data d;
    data_make(&d, 60, 6, 4, 5);
    long n;
    n = sweep("moments + every linear measure", sc_moments, &d);
    CHECK(n > 10);
    n = sweep("many-input pairs", sc_pairs, &d);
    CHECK(n > 10);
    n = sweep("simrep_compare (all measures)", sc_compare, &d);
    CHECK(n > 10);
    n = sweep("cca_details", sc_cca_details, &d);
    CHECK(n > 5);
    n = sweep("rank test", sc_rank, NULL);
    CHECK(n >= 5);
    n = sweep("mds", sc_mds, &d);
    CHECK(n > 0);
    n = sweep("clustering and figures", sc_figures, NULL);
    CHECK(n > 0);
    data_free(&d);

    input inputs[] = {
        {"npy/f4_fortran_be.npy", SIMREP_FORMAT_NPY, {NULL}, NULL, 0},
        {"npy/f2_c_v3.npy", SIMREP_FORMAT_NPY, {NULL}, NULL, 0},
        {"npz/deflated.npz", SIMREP_FORMAT_NPZ, {"x", "y", "be", "h", NULL}, NULL, 0},
        {"npz/zip64_full_deflated.npz", SIMREP_FORMAT_NPZ, {"x", "b", NULL}, NULL, 0},
        {"npz/deflated_multichunk.npz", SIMREP_FORMAT_NPZ, {NULL}, NULL, 0},
        {"npz/stored.npz", SIMREP_FORMAT_NPZ, {"y", "h", NULL}, NULL, 0},
        {"safetensors/many.safetensors", SIMREP_FORMAT_SAFETENSORS, {"a", "b", "c", NULL}, NULL, 0},
    };
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
        input *in = &inputs[i];
        CHECK(load(in));
        if (!in->bytes)
            continue;
        char name[128];
        snprintf(name, sizeof name, "buffer %s", in->path);
        n = sweep(name, sc_buffer, in);
        CHECK(n >= 2);
        snprintf(name, sizeof name, "file %s", in->path);
        n = sweep(name, sc_file, in);
        CHECK(n >= 2);
        free(in->bytes);
    }
}
