/*
 * simrep.h: the public API of the simrep library, and its manual.
 *
 * simrep measures how similar two neural-network representations are.  An
 * activation matrix X is n x p (rows = samples, columns = features); Y is
 * n x q, row i of both coming from the same input.  Every linear measure
 * (CCA family, linear CKA, Procrustes) is a function of the joint second
 * moments of X and Y, which simrep accumulates block by block over the rows
 * (simrep_moments), so an input never has to be in memory whole.  The kernel
 * measure cka_rbf needs the rows themselves (simrep_cka_rbf).
 *
 * Conventions (see docs/measures.md for the formulas):
 *   - n samples, p features of x, q features of y, k components kept.
 *   - Sizes are int64_t.  Matrices are passed as simrep_matrix views with
 *     row and column strides in elements, so C-order, Fortran-order and
 *     sliced arrays are read in place, never copied by the caller.
 *   - Every fallible call returns a simrep_status (SIMREP_OK == 0).
 *     simrep_strerror() gives a static description of the code; the
 *     simrep_ctx passed to the call holds the detailed message
 *     ("x has 1000 rows but y has 999").
 *   - The library never prints, exits or aborts, and keeps no global
 *     mutable state.  Destructors accept NULL.
 *   - Status values and struct fields are append-only once published.
 */
#ifndef SIMREP_H
#define SIMREP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SIMREP_VERSION "0.1.0"

/* The version of the library actually loaded (SIMREP_VERSION when it was
 * built), and the size of a public struct that callers allocate or read
 * ("simrep_result", "simrep_options", "simrep_matrix", "simrep_array_info",
 * "simrep_cca_details", "simrep_layout", "simrep_input_dims", "simrep_error_info",
 * "simrep_measure_info", "simrep_option_info", and the figures'
 * "simrep_linkage", "simrep_figure", "simrep_heatmap", "simrep_scatter",
 * "simrep_bars", "simrep_lines"; 0 for any other name), so a
 * binding written against one header can check the library it loads:
 * fields are only ever appended, so a larger size means a newer library. */
const char *simrep_version(void);
size_t simrep_struct_size(const char *name);

/* ---------------------------------------------------------------- status */

typedef enum simrep_status {
    SIMREP_OK = 0,
    SIMREP_E_NOMEM = 1,       /* an allocation failed */
    SIMREP_E_INVALID = 2,     /* an argument is invalid (API misuse, bad option) */
    SIMREP_E_IO = 3,          /* a file could not be opened or read */
    SIMREP_E_FORMAT = 4,      /* a file is malformed, truncated or lies in its header */
    SIMREP_E_UNSUPPORTED = 5, /* a well-formed file holds something simrep does not read (dtype, ndim) */
    SIMREP_E_SHAPE = 6,       /* shapes do not fit together (sample counts, feature counts) */
    SIMREP_E_NONFINITE = 7,   /* the data contain NaN or Inf */
    SIMREP_E_DEGENERATE = 8,  /* the measure is undefined for these data (every feature dead, n too small) */
    SIMREP_E_NUMERIC = 9,     /* a LAPACK routine failed to converge */
    SIMREP_E_NOTFOUND = 10,   /* a named array is not in the file */
    SIMREP_E_CANCELLED = 11   /* the caller's cancel flag was set (simrep_ctx_set_cancel) */
} simrep_status;

/* A static, never-NULL description of a status code. */
const char *simrep_strerror(simrep_status status);

/* ------------------------------------------------------------- context */

/*
 * A context carries the detailed message of the last failed call made with
 * it, and the allocator.  One context per thread: calls that share a context
 * must not run concurrently.  Contexts are cheap; objects created with one
 * context may be used with another (e.g. a Moments filled on one thread and
 * merged on another).
 */
typedef struct simrep_ctx simrep_ctx;

typedef struct simrep_allocator {
    void *(*malloc_fn)(void *user, size_t size);
    void (*free_fn)(void *user, void *ptr);
    void *user;
} simrep_allocator;

/* Returns NULL only if the allocation of the context itself fails.
 * allocator may be NULL (malloc/free). */
simrep_ctx *simrep_ctx_new(const simrep_allocator *allocator);
void simrep_ctx_free(simrep_ctx *ctx);
/* The message of the last failed call ("" if none).  Valid until the next
 * call with this context. */
const char *simrep_ctx_message(const simrep_ctx *ctx);
/* The status of the last failed call (SIMREP_OK if none). */
simrep_status simrep_ctx_status(const simrep_ctx *ctx);

/*
 * Where the last failure happened, so that callers can report it in their
 * own terms without reading the message: which input (x = 0, y = 1 for
 * the two-input calls; k of a K-input call; for simrep_pairs_compare(i, j)
 * the input of the pair, i or j), which file and which of its bytes, which
 * sample and feature, and the message's detail without the input's or the
 * file's name in front ("NaN at row 3, column 0" of "x: NaN at row 3,
 * column 0").  Fields not known are -1, "" or 0.  The strings point into
 * the context, valid until its next call.
 */
typedef struct simrep_error_info {
    simrep_status status;           /* the last failure's (simrep_ctx_status); SIMREP_OK: none */
    int input;                      /* the input at fault, or -1 */
    const char *file;               /* the file read ("path" or "path:key"), or "" */
    uint64_t byte_begin, byte_end;  /* the bytes of that file concerned (a failed read): [begin, end); 0, 0 if not known */
    int64_t row, column;            /* the sample (counted from the first row given) and feature, or -1 */
    const char *detail;             /* the message after the input's / file's names */
    const char *option;             /* the option the failure is about, as its field of simrep_options or
                                       simrep_stats_options is named ("max_memory", "unit_starts"), or "" */
} simrep_error_info;
void simrep_ctx_error(const simrep_ctx *ctx, simrep_error_info *info);

/*
 * Name the inputs in messages: names[k] for input k (x is 0, y is 1), so
 * that a message reads "a.npy: NaN at row 3, column 0" instead of "x: ...":
 * callers never rewrite messages.  count names (NULL: the defaults "x",
 * "y" and "input k").  The strings are not copied and must outlive the
 * calls made with ctx.
 */
void simrep_ctx_set_names(simrep_ctx *ctx, const char *const *names, int count);

/*
 * Progress of long calls (cka_rbf's O(n^2) passes): fn(user, stage,
 * fraction) is called from the calling thread with a short description of
 * the stage ("cka_rbf median, pass 2") and the fraction of that stage done,
 * in [0, 1], at most a few thousand times per call.  The library never
 * prints; the caller decides (the CLI draws a line on stderr when it is a
 * terminal).  fn NULL turns it off (the default).
 */
typedef void (*simrep_progress_fn)(void *user, const char *stage, double fraction);
void simrep_ctx_set_progress(simrep_ctx *ctx, simrep_progress_fn fn, void *user);

/*
 * Cancellation (Ctrl-C, a time budget, a GUI's stop button): long calls
 * made with ctx read *flag between units of work (every block of rows a
 * Moments folds in, every tile row of the O(n^2) measures, every resample
 * of the statistics, every chunk of an npz spill, every input and pair of
 * the per-input work) and, once it is nonzero, stop, free everything they
 * allocated and return SIMREP_E_CANCELLED ("cancelled").  So a call ends
 * within one unit of work of the flag being set: well under a second for
 * blocks of the default size (a single LAPACK decomposition is not
 * interrupted).  The flag is set by another thread or a signal handler and
 * read with a relaxed atomic load; the library never clears it.  Objects
 * a cancelled call was updating (a Moments that had folded some blocks of
 * the call) hold a prefix of the work: discard them.  Workers of a
 * partition (simrep_ctx_set_partition) agree on it as on any failure.
 * flag NULL turns it off (the default).
 */
void simrep_ctx_set_cancel(simrep_ctx *ctx, const int *flag);

/*
 * Work sharing across cooperating workers (MPI ranks, threads), for the
 * calls whose work is far larger than their inputs: today simrep_cka_rbf,
 * whose O(n^2) tile passes are split by tile rows.  Every worker calls the
 * same function with the same arguments at the same time, each on its own
 * context set with its part in [0, parts) of parts; worker `part` computes
 * the tile rows r with r % parts == part, and the partial histograms, row
 * sums and HSIC sums are combined through allreduce(user, buf, count),
 * which must replace buf[0 .. count) on every worker by the elementwise
 * sum over all workers, and return 0 (nonzero is a failure: the call
 * returns SIMREP_E_IO, and workers still waiting in the allreduce are the
 * caller's to release, e.g. by MPI's error handler).  Every worker returns
 * the same status and the same value, equal to the unpartitioned result to
 * round-off (sums are formed in another order: about 1e-15 relative, not
 * bit for bit).  The library calls allreduce from the calling thread only,
 * the same number of times with the same counts on every worker, and
 * agrees on failures through it (an allocation failing on one worker makes
 * every worker return an error), so a failure never leaves a worker
 * waiting.  The MPI-free library never sees the transport: the simrep CLI
 * passes an MPI_Allreduce (cli/parallel.c).  parts <= 1 or allreduce NULL
 * turns it off (the default): the single-worker path is unchanged.
 * Counts are whole numbers below 2^53 in the sums, so a partitioned cka_rbf
 * needs n^2 < 2^53 (n < 9.4e7; SIMREP_E_INVALID beyond).
 */
typedef int (*simrep_allreduce_fn)(void *user, double *buf, int64_t count);
void simrep_ctx_set_partition(simrep_ctx *ctx, int part, int parts, simrep_allreduce_fn allreduce, void *user);

/* -------------------------------------------------------------- matrices */

typedef enum simrep_dtype {
    SIMREP_F16 = 0,  /* IEEE 754 binary16 */
    SIMREP_BF16 = 1, /* bfloat16 */
    SIMREP_F32 = 2,
    SIMREP_F64 = 3
} simrep_dtype;

/* Size in bytes of one element of dtype (2, 2, 4 or 8). */
size_t simrep_dtype_size(simrep_dtype dtype);
/* "float16", "bfloat16", "float32", "float64". */
const char *simrep_dtype_name(simrep_dtype dtype);

/*
 * A read-only view of a rows x cols matrix in native byte order.  Element
 * (i, j) is at ((const T *)data)[i * row_stride + j * col_stride].  C order
 * is row_stride = cols, col_stride = 1; Fortran order is row_stride = 1,
 * col_stride = rows.  Strides may be any non-negative values (a transposed
 * or sliced view); rows or cols may be 0 only where a call says so.
 */
typedef struct simrep_matrix {
    const void *data;
    simrep_dtype dtype;
    int64_t rows, cols;
    int64_t row_stride, col_stride;
} simrep_matrix;

/* A C-order view (convenience). */
simrep_matrix simrep_matrix_c(const void *data, simrep_dtype dtype, int64_t rows, int64_t cols);

/* Copy m (any dtype and strides) into dst as double, row-major with leading
 * dimension ld >= m->cols.  Never allocates. */
void simrep_matrix_to_double(const simrep_matrix *m, double *dst, int64_t ld);

/*
 * The BLAS thread pool (OpenBLAS's own, process-wide setting: not simrep
 * state).  A caller that runs simrep calls from several threads at once
 * (simrep matrix's pair workers) sets it to 1 for that phase: OpenBLAS
 * threads of concurrent calls otherwise wait on each other.  Without
 * OpenBLAS, simrep_blas_threads returns 1 and setting does nothing.
 * The library uses that many threads itself for independent pieces of one
 * call: the eigendecompositions of simrep_pairs_prepare (one per input),
 * the measure families of a pair (the CCA family's decompositions beside
 * Procrustes' SVD), and the conversion and centring of a block's rows:
 * threads started and joined within the call, one BLAS thread each
 * meanwhile, the pool's size restored before returning.  With a caller's
 * allocator (simrep_ctx_new) everything runs on the calling thread, so the
 * allocator is never called from two threads at once.
 */
int simrep_blas_threads(void);
void simrep_set_blas_threads(int threads);

/* --------------------------------------------------------------- options */

typedef enum simrep_svcca_rule {
    SIMREP_SVCCA_VARIANCE = 0,       /* keep the fewest principal directions whose eigenvalues sum to >= keep */
    SIMREP_SVCCA_SINGULAR_VALUES = 1 /* the tutorial code: threshold the sum of singular values instead */
} simrep_svcca_rule;

typedef enum simrep_pwcca_variant {
    SIMREP_PWCCA_GOOGLE = 0, /* the weights of google/svcca pwcca.compute_pwcca (Morcos et al. 2018) */
    SIMREP_PWCCA_DING = 1    /* the weights of Ding et al. 2021 (sim_metric) */
} simrep_pwcca_variant;

/* rsa: the dissimilarity of two samples (rows) in a representational
 * dissimilarity matrix. */
typedef enum simrep_rsa_rdm {
    SIMREP_RDM_EUCLIDEAN = 0,   /* squared Euclidean distance (rsatoolbox's 'euclidean', up to its 1/p) */
    SIMREP_RDM_CORRELATION = 1, /* 1 - Pearson correlation of the two rows (rsatoolbox's 'correlation') */
    SIMREP_RDM_COSINE = 2       /* 1 - cosine of the two rows (scipy pdist's 'cosine') */
} simrep_rsa_rdm;

/* rsa: how the upper triangles of the two RDMs are compared. */
typedef enum simrep_rsa_compare {
    SIMREP_RSA_PEARSON = 0,  /* Pearson correlation (rsatoolbox's 'corr') */
    SIMREP_RSA_SPEARMAN = 1, /* Pearson correlation of the ranks, ties averaged (rsatoolbox's 'spearman') */
    SIMREP_RSA_KENDALL = 2   /* Kendall's tau-b (rsatoolbox's 'kendall', scipy.stats.kendalltau) */
} simrep_rsa_compare;

/*
 * Precision of the data pass (simrep_moments_set_precision, options.precision).
 * FLOAT64 (the default): every product in double.  MIXED: each block is
 * centred about the running mean in double, each input's columns scaled by
 * a power of two into [1, 2), rounded to float, and its scatter taken in
 * single precision (SSYRK, about twice DSYRK's speed) over sub-blocks of
 * SIMREP_MIXED_ROWS rows, each added to the double state; means, row sums
 * and everything after the pass stay double.  Error: every scatter entry
 * within about sqrt(SIMREP_MIXED_ROWS) x 2^-24 (probabilistic;
 * SIMREP_MIXED_ROWS x 2^-24 worst case) of sum |x_a||x_b| over the rows,
 * plus the rounding of the centred values (2^-24 relative).  CKA and
 * Procrustes move by about that; the CCA family by about 2^-24 (2 +
 * sqrt(kx) + sqrt(ky)), kx, ky the condition numbers of the kept
 * covariance blocks, so its results get SIMREP_WARN_MIXED_PRECISION when
 * that exceeds 1e-6 (and simrep_compare, which has the rows, recomputes
 * them in float64).  Measurements: docs/speed.md.
 */
typedef enum simrep_precision {
    SIMREP_PRECISION_FLOAT64 = 0,
    SIMREP_PRECISION_MIXED = 1
} simrep_precision;
#define SIMREP_MIXED_ROWS 1024

/*
 * Options of every measure.  Initialise with simrep_options_init() and then
 * set fields by name (or by option name and text with simrep_options_set,
 * which checks the range); fields are only ever appended.  NULL options
 * mean the defaults.  What each option is, its default and valid values
 * are the library's to say: simrep_option_get_info below.
 */
typedef struct simrep_options {
    double epsilon;          /* dead-feature threshold and CCA ridge, relative to the largest variance; 1e-10 */
    simrep_svcca_rule svcca_rule;
    double svcca_keep;       /* fraction of variance (or of singular values) kept by svcca; 0.99 */
    int64_t svcca_dims;      /* if > 0, svcca keeps exactly this many directions per side (capped at kept) */
    simrep_pwcca_variant pwcca_variant;
    double rbf_sigma;        /* cka_rbf bandwidth, as a multiple of the median distance; 1.0 */
    simrep_rsa_rdm rsa_rdm;  /* rsa: dissimilarity of two samples; SIMREP_RDM_CORRELATION */
    simrep_rsa_compare rsa_compare; /* rsa: comparison of the two RDMs; SIMREP_RSA_SPEARMAN */
    int64_t knn;             /* mutual_knn, cknna: nearest neighbours per sample, >= 1 (cknna: >= 2); 10 */
    double rsa_memory;       /* rsa rank comparisons: MiB of distances sorted in memory before the rest is
                                spilled to files in $TMPDIR (else /tmp); 1024 */
    double shape_alpha;      /* shape metrics: partial whitening, 1 (none: Procrustes) .. 0 (full: CCA-like); 1 */
    double ridge;            /* linreg: ridge penalty on the coefficients, in scatter units (sklearn's alpha); 0 */
    simrep_precision precision; /* of the data pass simrep_compare makes (and the CLI's); FLOAT64 */
    double rbf_memory;       /* cka_rbf: MiB of distance tiles kept between its passes instead of recomputed
                                (0: none); 1024 */
    double noise_ulps;       /* CCA family: directions of a side's kept covariance with variance <= (noise_ulps u)^2
                                x the sum of its kept features' mean squares (u: the unit roundoff of its dtype,
                                simrep_moments_unit_roundoff) are rounding noise, left out; 0: off; 4 */
} simrep_options;

void simrep_options_init(simrep_options *options);

/* -------------------------------------------------------------- measures */

typedef enum simrep_measure {
    SIMREP_CCA = 0,
    SIMREP_CCA_R2 = 1,
    SIMREP_SVCCA = 2,
    SIMREP_PWCCA = 3,
    SIMREP_CKA = 4,
    SIMREP_CKA_DEBIASED = 5,
    SIMREP_CKA_RBF = 6,
    SIMREP_PROCRUSTES = 7,
    SIMREP_PROCRUSTES_ANGULAR = 8,
    SIMREP_DFTCCA = 9,        /* conv maps only: simrep_dftcca (section "DFT-CCA") */
    SIMREP_RSA = 10,          /* representational similarity analysis (rows; rsa_rdm, rsa_compare) */
    SIMREP_MUTUAL_KNN = 11,   /* mutual k-nearest-neighbour alignment (rows; knn) */
    SIMREP_CKNNA = 12,        /* CKNNA, kNN-masked CKA (rows; knn) */
    SIMREP_CKA_LANGE = 13,    /* linear CKA without the centered Gram's diagonal (Lange et al. 2023; moments) */
    SIMREP_CKA_ANGULAR = 14,
    SIMREP_SHAPE_ANGULAR = 15,
    SIMREP_SHAPE_EUCLIDEAN = 16,
    SIMREP_LINREG = 17,
    SIMREP_MEASURE_COUNT = 18
} simrep_measure;

/*
 * The measure registry.  Everything a caller needs to know about a measure
 * to offer it, validate its options, schedule it and report it is in its
 * simrep_measure_info, so the CLI and the Python package never name a
 * measure to decide what to do:
 *
 *   family     how it is computed, hence what a caller must feed it:
 *              moments (simrep_moments / simrep_pairs), the rows
 *              (simrep_compare on in-memory matrices), or conv maps
 *              (simrep_dftcca);
 *   options    the simrep_options fields it reads (bit 1u << SIMREP_OPT_*);
 *   outputs    the simrep_result fields it fills beyond similarity and
 *              distance (SIMREP_OUT_*), with their JSON keys
 *              (simrep_output_key);
 *   ranges, direction, invariances (as text and as SIMREP_INV_* bits, which
 *   the tests apply to every measure that claims them), whether the
 *   distance is a metric, the paper and the reference code.
 */
typedef enum simrep_family {
    SIMREP_FAMILY_CCA = 0,     /* from the moments, through the CCA of the features kept by the dead-feature rule */
    SIMREP_FAMILY_MOMENTS = 1, /* other functions of the joint moments (every feature) */
    SIMREP_FAMILY_ROWS = 2,    /* from the rows themselves: O(n^2) time, tiled, O(n (p + q)) memory */
    SIMREP_FAMILY_MAPS = 3,    /* from conv feature maps, one CCA per spatial frequency (simrep_dftcca) */
    SIMREP_FAMILY_COUNT = 4
} simrep_family;

/* The options, one bit each in simrep_measure_info.options. */
typedef enum simrep_option_id {
    SIMREP_OPT_EPSILON = 0,
    SIMREP_OPT_SVCCA_RULE = 1,
    SIMREP_OPT_SVCCA_KEEP = 2,
    SIMREP_OPT_SVCCA_DIMS = 3,
    SIMREP_OPT_PWCCA_VARIANT = 4,
    SIMREP_OPT_RBF_SIGMA = 5,
    SIMREP_OPT_SHAPE_ALPHA = 6,
    SIMREP_OPT_RIDGE = 7,
    SIMREP_OPT_RSA_RDM = 8,
    SIMREP_OPT_RSA_COMPARE = 9,
    SIMREP_OPT_KNN = 10,
    SIMREP_OPT_RSA_MEMORY = 11,
    SIMREP_OPT_PRECISION = 12,
    SIMREP_OPT_RBF_MEMORY = 13,
    SIMREP_OPT_NOISE_ULPS = 14,
    SIMREP_OPTION_COUNT = 15
} simrep_option_id;

/* Transformations a measure is invariant to (simrep_measure_info.invariant),
 * applied to either input (x or y) alone unless stated. */
#define SIMREP_INV_TRANSLATION 1u  /* adding a constant vector to every row */
#define SIMREP_INV_SCALE 2u        /* multiplying by a positive number */
#define SIMREP_INV_ORTHOGONAL 4u   /* rotations and reflections of the features (p x p orthogonal maps) */
#define SIMREP_INV_LINEAR 8u       /* any invertible linear map of the features */
#define SIMREP_INV_SWAP 16u        /* exchanging x and y (the measure is symmetric) */
#define SIMREP_INV_ROW_ORDER 32u   /* permuting the samples of x and y together */
#define SIMREP_INV_COUNT 6         /* bits defined */

/* Result fields a measure fills (simrep_measure_info.outputs); the JSON
 * key of each is simrep_output_key(bit). */
#define SIMREP_OUT_KEPT 1u           /* kept_p, kept_q: "kept" */
#define SIMREP_OUT_DIMS 2u           /* dims_p, dims_q: "dims" */
#define SIMREP_OUT_REFERENCE_MEAN 4u /* reference_mean: "reference_mean" */
#define SIMREP_OUT_COEFS 8u          /* coefs (ncoefs): "coefs", printed on request (--coefs) */
#define SIMREP_OUT_WEIGHTS 16u       /* weights (ncoefs): "weights", with coefs */
#define SIMREP_OUT_REVERSE 32u       /* reverse, reverse_distance: "reverse", the measure with x and y
                                        exchanged (asymmetric measures; matrices are then not mirrored) */
#define SIMREP_OUT_RANK 64u          /* rank_p, rank_q: "rank", the kept covariance's directions above the
                                        data's rounding noise (simrep_options.noise_ulps) */
#define SIMREP_OUT_COUNT 7           /* bits defined */

typedef struct simrep_measure_info {
    const char *id;          /* "cca", "cka_debiased", ... as in the CLI, JSON and Python */
    const char *title;       /* one line: what it is */
    const char *similarity;  /* what the similarity is, with its range */
    const char *distance;    /* what the distance is, with its range */
    int higher_is_more_similar; /* for the similarity: always 1 */
    const char *invariances; /* what transformations of X (or Y) leave it unchanged */
    const char *reference;   /* the reference code it follows (the paper: .paper) */
    int needs_rows;          /* 1 unless computed from the moments (family ROWS or MAPS) */
    int needs_maps;          /* 1 if computed from conv feature maps (family MAPS) */
    /* Appended with the registry (issue 12). */
    simrep_family family;
    unsigned options;        /* bit (1u << SIMREP_OPT_x) for each option it reads */
    unsigned outputs;        /* SIMREP_OUT_* bits */
    double similarity_min, similarity_max; /* the range of the similarity (+-INFINITY: unbounded) */
    double distance_min, distance_max;     /* the range of the distance */
    unsigned invariant;      /* SIMREP_INV_* bits, at the default options */
    int metric;              /* 1 if the distance is a metric (triangle inequality, symmetric) */
    const char *paper;       /* the paper that defines it */
    /* Appended (issue 10). */
    int time_in_n;           /* how its time grows with the samples n: 1 linearly (one pass over the rows, the
                                moments), 2 quadratically (n x n kernels, distances or ranks: family ROWS) */
    /* Appended (issue 11, rows measures): what --bootstrap and --permutations
     * give it: SIMREP_STATS_BOOTSTRAP | SIMREP_STATS_PERMUTATIONS bits (the
     * moments measures through simrep_stats_compute, the rows measures
     * through simrep_stats_rows; 0 for dftcca). */
    unsigned statistics;
} simrep_measure_info;

#define SIMREP_STATS_BOOTSTRAP 1u
#define SIMREP_STATS_PERMUTATIONS 2u

/* Static info of a measure; NULL if m is out of range. */
const simrep_measure_info *simrep_measure_get_info(simrep_measure m);
/* The measure named id ("cca", ...); returns -1 if there is none. */
int simrep_measure_from_id(const char *id);
/* A family's short id ("cca", "moments", "rows", "maps") and what its
 * measures are computed from, in words; NULL if out of range. */
const char *simrep_family_id(simrep_family family);
const char *simrep_family_name(simrep_family family);
/* The name of one SIMREP_INV_* bit ("translation", "scale", "orthogonal",
 * "linear", "swap", "row_order"); NULL for other values. */
const char *simrep_invariance_name(unsigned invariance);
/* The JSON key of one SIMREP_OUT_* bit ("kept", ...); NULL for other values. */
const char *simrep_output_key(unsigned output);
/* The measures a caller offers when the user names none ("cca", "svcca",
 * "pwcca", "cka"): writes at most cap ids, returns how many there are. */
int simrep_default_measures(simrep_measure *ids, int cap);
/* The measures "all" means: every measure of two samples x features
 * matrices whose time grows linearly in n (time_in_n == 1), in enum order;
 * flags add SIMREP_ALL_QUADRATIC: the O(n^2) ones too ("all+kernel":
 * cka_rbf, rsa, mutual_knn, cknna, which take hours at n = 200,000), and
 * SIMREP_ALL_MAPS: the conv-maps measures (dftcca, for conv inputs).
 * Writes at most cap ids (ids may be NULL), returns how many there are. */
#define SIMREP_ALL_QUADRATIC 1u
#define SIMREP_ALL_MAPS 2u
int simrep_all_measures(simrep_measure *ids, int cap, unsigned flags);

/*
 * Relative cost of one pair of inputs of n samples with p and q features,
 * in flops up to a constant: what the pair's own work costs once the moments
 * (or the rows) are there.  simrep_measure_input_cost is the work done once
 * per input however many pairs it is in (its eigendecomposition).  Schedulers
 * (simrep matrix under MPI) balance by them.
 */
double simrep_measure_pair_cost(simrep_measure m, int64_t n, int64_t p, int64_t q);
double simrep_measure_input_cost(simrep_measure m, int64_t n, int64_t p);

/* ------------------------------------------------------------ options */

typedef enum simrep_option_kind {
    SIMREP_OPTION_REAL = 0,    /* a finite number */
    SIMREP_OPTION_INTEGER = 1, /* a whole number */
    SIMREP_OPTION_CHOICE = 2   /* one of the names in .choices, stored as its index */
} simrep_option_kind;

typedef struct simrep_option_info {
    const char *name;      /* "svcca_keep": the Python keyword; the CLI flag is "--svcca-keep" */
    const char *metavar;   /* "F", "K", "R": what --help shows after the flag */
    const char *help;      /* one line, with the default */
    simrep_option_kind kind;
    double min, max;       /* REAL and INTEGER: the valid range */
    int min_open, max_open; /* 1: the bound itself is not valid */
    const char *choices;   /* CHOICE: the names in value order, separated by '|' ("google|ding") */
    const char *valid;     /* the valid values in words, for messages ("a fraction in (0, 1]") */
    const char *json_key;  /* results of the measures that read it echo its value under this key; or NULL */
    const char *excludes;  /* the name of an option that cannot be given with this one, or NULL */
} simrep_option_info;

/* Static info of an option; NULL if out of range. */
const simrep_option_info *simrep_option_get_info(simrep_option_id option);
/* The option named name ("svcca_keep", "svcca-keep" or "--svcca-keep"); -1 if none. */
int simrep_option_from_name(const char *name);
/*
 * Set the option named name (as simrep_option_from_name) from its text:
 * a number for REAL and INTEGER options, one of the choices for CHOICE
 * ('-' and '_' alike).  A value outside the valid range is SIMREP_E_INVALID
 * with the message "<name> must be <valid> (got <value>)", name spelled as
 * the caller gave it; an unknown name is SIMREP_E_INVALID too.  On error
 * options is unchanged.
 */
simrep_status simrep_options_set(simrep_ctx *ctx, simrep_options *options, const char *name, const char *value);
/* The value of an option as a double (a CHOICE's index). */
double simrep_options_get(const simrep_options *options, simrep_option_id option);
/* The text of a CHOICE value ("google"), written to buf (at most cap bytes,
 * snprintf's contract); "" for other kinds.  Returns buf. */
const char *simrep_option_choice_name(simrep_option_id option, int value, char *buf, size_t cap);

/* Warning flags of a result (bitwise or). */
#define SIMREP_WARN_FEW_SAMPLES 1u /* CCA family: n < 10 * max(kept_p, kept_q): values biased toward 1, or
                                      bounded by n <= kept (then FEW_SAMPLES_RANK too) */
#define SIMREP_WARN_DEAD_FEATURES 2u /* CCA family: some features were dropped as dead (kept < p or q) */
#define SIMREP_WARN_FEW_SAMPLES_X 4u /* FEW_SAMPLES because of x's kept features (n < 10 kept_p) */
#define SIMREP_WARN_FEW_SAMPLES_Y 8u /* ... because of y's */
#define SIMREP_WARN_DEAD_X 16u       /* DEAD_FEATURES on x's side (kept_p < p) */
#define SIMREP_WARN_DEAD_Y 32u       /* ... on y's side */
#define SIMREP_WARN_MIXED_PRECISION 64u /* CCA family from mixed-precision moments whose sides are too
                                           ill-conditioned for 1e-6 (simrep_precision) */
#define SIMREP_WARN_RECOMPUTED 128u  /* mixed precision was asked, but the values were recomputed in float64
                                        (simrep_compare, for SIMREP_WARN_MIXED_PRECISION) */
#define SIMREP_WARN_LAYOUT 256u     /* every measure: x and y have more features than samples, and as many
                                        features: what features x samples arrays read as samples x features
                                        look like (simrep_pairs_compare, simrep_compare) */
#define SIMREP_WARN_ROUNDING 512u    /* CCA family: directions of the kept covariance at the data's rounding level
                                        were left out (rank < kept; simrep_options.noise_ulps) */
#define SIMREP_WARN_ROUNDING_X 1024u /* ... on x's side (rank_p < kept_p) */
#define SIMREP_WARN_ROUNDING_Y 2048u /* ... on y's side */
#define SIMREP_WARN_RIDGE 4096u      /* CCA family: directions with variance below 99 epsilon of the largest: the
                                        ridge shrinks their canonical correlations by more than 1% */
#define SIMREP_WARN_RIDGE_X 8192u    /* ... on x's side (shrunk_p of them) */
#define SIMREP_WARN_RIDGE_Y 16384u   /* ... on y's side (shrunk_q) */
#define SIMREP_WARN_FEW_SAMPLES_RANK 32768u /* FEW_SAMPLES with n <= max(kept_p, kept_q): the centred samples span
                                               at most n - 1 directions, so at most n - 1 canonical correlations
                                               are non-zero; its text replaces FEW_SAMPLES's */
#define SIMREP_WARN_FEW_SAMPLES_RANK_X 65536u /* ... because n <= kept_p */
#define SIMREP_WARN_FEW_SAMPLES_RANK_Y 131072u /* ... because n <= kept_q */

/*
 * What a warning flag means, in words callers print after their own
 * numbers and names (the library has neither): FEW_SAMPLES(_X/_Y) follows
 * "n = 50 samples (40 kept features) ": "is less than 10 x the kept
 * features: CCA-family values are biased toward 1 (...)", and
 * FEW_SAMPLES_RANK(_X/_Y), printed instead when set, "is no more than the
 * kept features: ..."; DEAD_* follows
 * "x.npy: 2 of 12 ": "features are constant (dead, ...) and were left out
 * of the CCA family"; ROUNDING_* follows "x.npy: 1 of 16 " (kept - rank of
 * kept); RIDGE_* follows "x.npy: 3 of 16 " (shrunk of kept).  A static
 * string; NULL for other values.
 */
const char *simrep_warning_text(unsigned flag);

/* The side-less flags a result's per-side ones give one input: side 0 (x)
 * or 1 (y) -> FEW_SAMPLES, FEW_SAMPLES_RANK, DEAD_FEATURES, ROUNDING and
 * RIDGE where their _X (_Y) flag is set in warnings; 0 for another side.
 * For a caller that collects warnings per input over many pairs (matrix). */
unsigned simrep_warnings_of_side(unsigned warnings, int side);

/*
 * One measure's result.  coefs is owned by the result: release it with
 * simrep_result_clear().  Fields that do not apply to a measure are 0.
 */
typedef struct simrep_result {
    simrep_measure measure;
    double similarity;
    double distance;
    int64_t kept_p, kept_q;  /* CCA family: features kept after dead-feature removal */
    int64_t dims_p, dims_q;  /* svcca: principal directions kept per side */
    double reference_mean;   /* cca: the "mean" of google/svcca (threshold 0.98 of the sum of rho) */
    unsigned warnings;       /* SIMREP_WARN_* */
    double *coefs;           /* CCA family: the canonical correlations, descending (ncoefs of them) */
    int64_t ncoefs;
    double *weights;         /* pwcca: the projection weights (ncoefs of them) */
    /* Appended with issue 11: the closed-form chance level, where the
     * measure has one (see "uncertainty and chance"). */
    int has_chance;
    double chance;
    double reverse;          /* asymmetric measures (SIMREP_OUT_REVERSE): the similarity with x and y exchanged */
    double reverse_distance; /* ... and its distance (a matrix's entry (j, i) of the pair i, j) */
    /* Appended with the rounding rule (docs/measures.md "Directions at the
     * data's rounding level"), CCA family: the directions of each side's
     * kept covariance above its dtype's rounding noise (<= kept_p, kept_q;
     * the others count as canonical correlations of 0), and how many of
     * those the ridge epsilon shrinks by more than 1% (SIMREP_WARN_RIDGE). */
    int64_t rank_p, rank_q;
    int64_t shrunk_p, shrunk_q;
} simrep_result;

void simrep_result_clear(simrep_ctx *ctx, simrep_result *result);

/* --------------------------------------------------------------- moments */

/*
 * Joint second moments of two activation matrices, accumulated over row
 * blocks: n, the column means, the scatter matrices Sxx = XcᵀXc, Syy, Sxy
 * (Xc centered), and the per-row sums that debiased CKA needs.  Blocks are
 * folded in with the pairwise update of Chan, Golub and LeVeque (1979), so
 * the result matches a two-pass computation to round-off even when the mean
 * is far larger than the spread, and two Moments filled from different parts
 * of the data merge exactly.
 *
 * Any finite scale: each input's state is kept in its own power-of-two
 * units (exact), so data near 1e300 or 1e-300 neither overflow nor
 * underflow and every measure equals that of the unscaled data; data
 * between about 1e-30 and 1e30 are never rescaled (bit for bit the plain
 * computation).  At most 2^53 samples (counts are exact doubles).
 *
 * Memory: (p+q)^2 doubles for the scatter plus a block buffer of at most
 * block_rows x (p+q) doubles.
 */
typedef struct simrep_moments simrep_moments;

/* p >= 1, q >= 1.  *out receives a new, empty Moments. */
simrep_status simrep_moments_new(simrep_ctx *ctx, int64_t p, int64_t q, simrep_moments **out);
void simrep_moments_free(simrep_ctx *ctx, simrep_moments *m);
/* A deep copy. */
simrep_status simrep_moments_clone(simrep_ctx *ctx, const simrep_moments *m, simrep_moments **out);

/*
 * Fold in the rows of x (rows x p) and y (rows x q); x.rows must equal
 * y.rows (0 is allowed and does nothing).  Any dtype and strides.  NaN or Inf
 * is an error (SIMREP_E_NONFINITE) whose message names "x" or "y", the row
 * (counted from the first row ever given to this Moments) and the column;
 * on any error the Moments is unchanged.
 */
simrep_status simrep_moments_update(simrep_ctx *ctx, simrep_moments *m, const simrep_matrix *x,
                                    const simrep_matrix *y);
/* into += other (exact pairwise merge); p and q must agree.  States held
 * in different units are brought to common ones first.  More than 2^53
 * samples in all is SIMREP_E_INVALID (into unchanged). */
simrep_status simrep_moments_merge(simrep_ctx *ctx, simrep_moments *into, const simrep_moments *other);
/* Precision of the blocks folded in from now on (simrep_precision; new
 * Moments start in FLOAT64).  Moments remember whether any rows were folded
 * in MIXED (merge and clone carry it; save/load do not), which is what
 * makes the CCA family check conditioning.  Error: SIMREP_E_INVALID for an
 * unknown value. */
simrep_status simrep_moments_set_precision(simrep_ctx *ctx, simrep_moments *m, simrep_precision precision);
/*
 * The rounding of the data behind input (0-based).  Every fold records the
 * dtype of its block; the moments keep, per input, the unit roundoff u of
 * the coarsest dtype seen (round to nearest: 2^-11 float16, 2^-8
 * bfloat16, 2^-24 float32, 2^-53 float64), carried by merge, clone and
 * save/load.  The CCA family treats the covariance directions whose
 * variance is at that rounding level as noise (simrep_options.noise_ulps;
 * docs/measures.md "Directions at the data's rounding level"); float64's
 * is below what a float64 decomposition resolves, so float64 data are
 * left alone.  Rows converted to float64 before they reach the moments
 * (a layout, or a caller's own conversion) lose their dtype: declare it
 * with simrep_moments_note_dtype (before or after folding them; the
 * coarser of what is noted and folded counts).  Errors: SIMREP_E_INVALID
 * for a bad input or dtype.  simrep_moments_unit_roundoff returns u, 0
 * before any rows or note (or for a bad input).
 */
simrep_status simrep_moments_note_dtype(simrep_ctx *ctx, simrep_moments *m, int input, simrep_dtype dtype);
double simrep_moments_unit_roundoff(const simrep_moments *m, int input);

int64_t simrep_moments_n(const simrep_moments *m);
int64_t simrep_moments_p(const simrep_moments *m);
int64_t simrep_moments_q(const simrep_moments *m);
/* Copy the column means of x (p values) and y (q values). */
void simrep_moments_means(const simrep_moments *m, double *mean_x, double *mean_y);
/* Copy the (p+q) x (p+q) joint scatter [[Sxx, Sxy], [Syx, Syy]], full and
 * symmetric, into out with leading dimension ld >= p+q (row-major and
 * column-major are the same for a symmetric matrix).  In the data's own
 * units: entries beyond double's range (data near 1e155 and above) are
 * +-Inf, those below it 0; the measures do not read these copies. */
void simrep_moments_scatter(const simrep_moments *m, double *out, int64_t ld);

/*
 * The raw state as a flat array of doubles, for sending a Moments between
 * processes (MPI, pickling) and rebuilding it with simrep_moments_load():
 * the state in each input's units, then the K exponents of those units
 * and the K unit roundoffs (simrep_moments_unit_roundoff).
 */
int64_t simrep_moments_state_size(int64_t p, int64_t q);
/* The same for any Moments (any number of inputs).  Both return 0 for sizes
 * whose state would not fit in an int64 (no such Moments can be made). */
int64_t simrep_moments_state_len(const simrep_moments *m);
void simrep_moments_save(const simrep_moments *m, double *state);
simrep_status simrep_moments_load(simrep_ctx *ctx, simrep_moments *m, const double *state);

/*
 * Compute measures from moments.  measures[i] must be measures that do not
 * need rows (needs_rows == 0); results[i] receives the result of measures[i]
 * (call simrep_result_clear on each afterwards).  Work shared between
 * measures (the CCA of the kept features, its SVD) is done once.
 * Errors: SIMREP_E_DEGENERATE with a message for undefined cases (a side
 * with every feature dead, n < 2, n < 4 for cka_debiased, zero variance for
 * CKA/Procrustes).  On error, results are cleared.
 */
simrep_status simrep_compare_moments(simrep_ctx *ctx, const simrep_moments *m, const simrep_options *options,
                                     const simrep_measure *measures, int count, simrep_result *results);

/* --------------------------------------------------- many inputs at once */

/*
 * Moments of K >= 2 inputs at once (matrix comparisons: many networks,
 * layers or checkpoints on the same samples).  The state is the joint
 * moments of all inputs side by side, so one pass over the data gives every
 * pair's cross-scatter (one DSYRK over sum(p_k) columns), and each input's
 * own scatter once.  A Moments made by simrep_moments_new is the K = 2 case
 * (x is input 0, y input 1); update, merge, save and load work for any K.
 * Memory: (sum p_k)^2 doubles.
 */
simrep_status simrep_moments_new_multi(simrep_ctx *ctx, int inputs, const int64_t *features, simrep_moments **out);
int simrep_moments_inputs(const simrep_moments *m);
int64_t simrep_moments_features(const simrep_moments *m, int input);
/* Fold in the same rows of every input: blocks[k] is input k's view
 * (rows x features(k)); all blocks have the same number of rows.  Messages
 * about one input start with its name, "input K: " by default
 * (simrep_ctx_set_names); simrep_ctx_error gives K. */
simrep_status simrep_moments_update_multi(simrep_ctx *ctx, simrep_moments *m, const simrep_matrix *blocks);

/*
 * The work every pair of inputs shares, done once per input: its
 * dead-feature split and, for the CCA family, the eigendecomposition of its
 * covariance (the whitening).  Then simrep_pairs_compare gives the measures
 * of any pair (i, j) for the cost of the cross terms alone.  A simrep_pairs
 * is read-only after preparation: threads may compare different pairs of
 * one simrep_pairs concurrently, each with its own context.  measures lists
 * what will be asked for (linear measures only).  It keeps a reference to
 * m, which must outlive it.
 */
typedef struct simrep_pairs simrep_pairs;
simrep_status simrep_pairs_prepare(simrep_ctx *ctx, const simrep_moments *m, const simrep_options *options,
                                   const simrep_measure *measures, int count, simrep_pairs **out);
void simrep_pairs_free(simrep_ctx *ctx, simrep_pairs *pairs);
/*
 * Splitting the per-input work between processes (simrep matrix under
 * MPI): prepare only the inputs with which[k] != 0 (which NULL: all), send
 * each prepared input's state to the processes that need it as a flat array
 * of doubles, and load it there.  simrep_pairs_input_state_len is the same
 * on every process for the same moments and measures (the longest state the
 * input can have), so receivers can size buffers first; save writes that
 * many doubles.  Comparing a pair with an input neither prepared nor loaded
 * is SIMREP_E_INVALID.
 */
simrep_status simrep_pairs_prepare_some(simrep_ctx *ctx, const simrep_moments *m, const simrep_options *options,
                                        const simrep_measure *measures, int count, const unsigned char *which,
                                        simrep_pairs **out);
int64_t simrep_pairs_input_state_len(const simrep_pairs *pairs, int input);
void simrep_pairs_input_save(const simrep_pairs *pairs, int input, double *state);
simrep_status simrep_pairs_input_load(simrep_ctx *ctx, simrep_pairs *pairs, int input, const double *state);

/* Measures of input i (as x) against input j (as y), i != j; results as
 * simrep_compare_moments (messages about a side start with "x: " or "y: ",
 * or with the names of inputs i and j given to simrep_ctx_set_names;
 * simrep_ctx_error's input is i or j). */
simrep_status simrep_pairs_compare(simrep_ctx *ctx, const simrep_pairs *pairs, int i, int j,
                                   const simrep_measure *measures, int count, simrep_result *results);

/*
 * The CCA of x and y with the intermediate matrices of google/svcca's
 * get_cca_similarity, for a drop-in replacement of that function (the
 * Python package's simrep.compat).  All matrices are column-major; the
 * whitening matrices are in the reference's rescaled units,
 * (Cxx / max|Cxx| + epsilon I)^(-1/2).  Owned by the struct: release with
 * simrep_cca_details_clear.
 */
typedef struct simrep_cca_details {
    int64_t p, q;      /* features */
    int64_t kp, kq, k; /* kept by the dead-feature rule; k = min(kp, kq) */
    int64_t *kept_x;   /* kp indices into x's features (ascending) */
    int64_t *kept_y;   /* kq indices into y's features */
    double *rho;       /* k canonical correlations, descending */
    double *u;         /* kp x kp: left singular vectors of Wx Cxy Wy (the reference's u; coef_x = uᵀ) */
    double *vt;        /* kq x kq: its right singular vectors transposed (the reference's v = coef_y) */
    double *wx;        /* kp x kp: invsqrt_xx */
    double *wy;        /* kq x kq: invsqrt_yy */
    double *mean_x;    /* p column means of x */
    double *mean_y;    /* q column means of y */
} simrep_cca_details;

/* Errors as simrep_compare_moments (a side with every feature dead is
 * SIMREP_E_DEGENERATE). */
simrep_status simrep_cca_details_compute(simrep_ctx *ctx, const simrep_moments *m, const simrep_options *options,
                                         simrep_cca_details *out);
void simrep_cca_details_clear(simrep_ctx *ctx, simrep_cca_details *details);

/*
 * Compute measures from in-memory matrices x (n x p) and y (n x q): the
 * linear ones through a Moments, the kernel ones from the rows.
 */
simrep_status simrep_compare(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                             const simrep_options *options, const simrep_measure *measures, int count,
                             simrep_result *results);

/*
 * CKA with Gaussian kernels (Kornblith et al. 2019, gram_rbf): the kernel
 * exp(-|xi - xj|^2 / (2 sigma^2 m)), m the median of all n^2 squared
 * distances (diagonal included, as np.median over the full matrix).  Works
 * on blocks of the Gram matrices, never forming an n x n matrix: memory is
 * O(n (p + q)) for the rows converted to double plus O(block^2), plus the
 * distance tiles kept between passes (the default rbf_memory, 1024 MiB;
 * through simrep_compare, options->rbf_memory).  Time is O(n^2 (p + q)) per
 * pass, with a few passes for the exact median, less the kept tiles'.
 */
simrep_status simrep_cka_rbf(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y, double sigma,
                             double *similarity);

/* ------------------------------------------------------------- embedding */

/*
 * Classical (Torgerson) multidimensional scaling of an n x n distance
 * matrix: the points whose Euclidean distances best match dist in the
 * least-squares sense of B = -1/2 J (D∘D) J (J = I - 11ᵀ/n), from its dims
 * largest eigenvalues.  dist is row-major with leading dimension ld >= n;
 * it is symmetrized ((d_ij + d_ji) / 2) and its diagonal is ignored (taken
 * as 0).  coords receives n x dims values, row-major (point i's axis k at
 * coords[i * dims + k]); eigenvalues (may be NULL) the dims largest
 * eigenvalues of B, descending.  Distances that are not Euclidean give
 * negative eigenvalues: an axis whose eigenvalue is <= 0 has all
 * coordinates 0.  Each axis's sign is fixed so that its entry of largest
 * magnitude is positive.  Errors: SIMREP_E_INVALID (sizes), SIMREP_E_NONFINITE
 * (an off-diagonal NaN or Inf), SIMREP_E_NUMERIC, SIMREP_E_NOMEM.
 */
simrep_status simrep_mds(simrep_ctx *ctx, int64_t n, const double *dist, int64_t ld, int64_t dims, double *coords,
                         double *eigenvalues);

/*
 * Average-linkage hierarchical clustering (UPGMA, Sokal and Michener 1958)
 * of an n x n distance matrix, in scipy's linkage convention: merge m joins
 * left[m] and right[m] (ids < n are the points, n + m' the cluster made by
 * merge m') at height[m], giving a cluster of size[m] points; order is the
 * leaf order of the dendrogram (depth-first, left child first).
 *
 * Rule (deterministic, so tests can replay it): clusters are kept in the
 * order of their smallest point; each step merges the closest two, ties
 * going to the first pair in that order (row-major over i < j); the
 * cluster with the smaller first point is the left child; the distance
 * from the merged cluster to another is the size-weighted mean of the two
 * old distances (which equals the mean over all point pairs).  dist is
 * row-major with leading dimension ld >= n; only i < j is read.  Release
 * with simrep_linkage_clear.  Errors: SIMREP_E_INVALID (n < 1, ld < n),
 * SIMREP_E_NONFINITE (a NaN or Inf distance), SIMREP_E_NOMEM.
 */
typedef struct simrep_linkage {
    int64_t leaves;                 /* n */
    int64_t *left, *right, *size;   /* n - 1 merges */
    double *height;
    int64_t *order;                 /* n point indices, top to bottom */
} simrep_linkage;

simrep_status simrep_cluster_average(simrep_ctx *ctx, int64_t n, const double *dist, int64_t ld,
                                     simrep_linkage *out);
void simrep_linkage_clear(simrep_ctx *ctx, simrep_linkage *linkage);

/* --------------------------------------------------------------- figures */

/*
 * SVG figures: the one renderer behind `simrep matrix -o DIR` and Python's
 * simrep.plot.  Each call draws one standalone SVG 1.1 document (UTF-8, no
 * scripts, no external references, ids unique to the figure so that
 * several can be inlined in one HTML page) into a simrep_figure.  Every
 * string is XML-escaped.  Layout is computed from the content, never
 * configured, by these rules:
 *
 *   - Text is Helvetica/Arial (Liberation Sans on Debian), measured with
 *     its font metrics; every label is placed inside the canvas.
 *   - Names longer than SIMREP_LABEL_CHARS characters are elided in the
 *     middle (simrep_elide); the full name is the element's <title>
 *     (shown on hover).
 *   - Heatmaps: viridis colours over [lo, hi], by default the range of the
 *     data (without the diagonal when self is set: it is drawn grey), or
 *     the caller's range (values beyond it take the end colours); the
 *     legend prints both limits.  Cells print their value when it fits,
 *     all with the same number of decimals (enough to tell apart values
 *     1/100 of the range apart, 2 to 4).  Column labels turn by 45 degrees
 *     when they do not fit their column; above 20 columns of a self
 *     matrix they are numbers, keyed by the row labels ("12  name").
 *   - Scatter plots: equal units on both axes when asked (MDS); labels
 *     placed greedily beside their point or, with a leader line, further
 *     out, never overlapping a point, another label or the frame; when a
 *     name cannot be placed, every point is labelled by number and keyed
 *     in a list at the right.
 *   - Bars and lines fill a canvas at least as wide as the title.
 *
 * Colours: Okabe-Ito for groups and series (colour-blind safe, cycled
 * beyond 8), viridis for the continuous scale.  simrep_figure_clear
 * releases the document.  Errors: SIMREP_E_INVALID (sizes, NULL arrays,
 * a range with lo >= hi or not finite), SIMREP_E_NOMEM.
 */
#define SIMREP_LABEL_CHARS 28

typedef struct simrep_figure {
    char *svg;             /* the document, NUL-terminated (allocated by the library) */
    size_t len;            /* strlen(svg) */
    double width, height;  /* canvas size in px */
    double lo, hi;         /* heatmaps: the colour scale's limits; bars, lines: the y axis; scatter: the x axis */
    int decimals;          /* heatmaps: decimals of the cell values (0 when no cell prints its value) */
    int numbered;          /* heatmaps: columns numbered; scatter: points numbered (see above) */
    int64_t unplaced;      /* scatter: labels that found no free place (listed in the key) */
} simrep_figure;

void simrep_figure_clear(simrep_ctx *ctx, simrep_figure *figure);

/* A matrix as coloured cells, rows and columns in the given or the
 * dendrogram's order. */
typedef struct simrep_heatmap {
    const char *title, *subtitle;    /* NULL: none */
    const char *scale_label;         /* what the colours show ("pwcca similarity") */
    int64_t rows, cols;
    const double *values;            /* rows x cols, row-major with leading dimension ld, in input order */
    int64_t ld;
    const char *const *row_labels;   /* rows names; NULL: 1, 2, ... */
    const char *const *col_labels;   /* cols names; NULL: 1, 2, ... */
    const int64_t *row_order;        /* display order (row_order[k]: the row shown k-th); NULL: input order */
    const int64_t *col_order;
    const simrep_linkage *tree;      /* a dendrogram left of the rows (self only; its order is used), or NULL */
    int self;                        /* 1: rows and columns are the same inputs (diagonal grey, not in the range) */
    double lo, hi;                   /* the colour scale; NaN (simrep_heatmap_init): the data's range */
    const int *row_group;            /* group index of each row (input order): a colour strip; NULL: none */
    const char *const *group_names;  /* ngroups names for the legend */
    int ngroups;
} simrep_heatmap;

void simrep_heatmap_init(simrep_heatmap *spec);
simrep_status simrep_plot_heatmap(simrep_ctx *ctx, const simrep_heatmap *spec, simrep_figure *out);

/* Labelled points (an MDS map). */
typedef struct simrep_scatter {
    const char *title, *subtitle, *xlabel, *ylabel;
    int64_t n;
    const double *x, *y;
    const char *const *labels;       /* n names; NULL: 1, 2, ... */
    const int *group;                /* group index per point; NULL: one colour */
    const char *const *group_names;  /* ngroups names for the legend; NULL: none */
    int ngroups;
    int equal_aspect;                /* 1: a unit is as long on both axes (distances read off the map) */
} simrep_scatter;

void simrep_scatter_init(simrep_scatter *spec);
simrep_status simrep_plot_scatter(simrep_ctx *ctx, const simrep_scatter *spec, simrep_figure *out);

/* A bar per value, with optional error bars, the individual values as
 * dots and a note above each bar (a p-value).  Error bars are given by
 * their ends (asymmetric intervals such as bootstrap CIs work as they
 * are); err_label says what they are. */
typedef struct simrep_bars {
    const char *title, *subtitle, *ylabel;
    int64_t n;
    const char *const *labels;
    const double *value;
    const double *err_lo, *err_hi;   /* the error bar of bar i spans [err_lo[i], err_hi[i]]; NULL or NaN: none */
    const char *err_label;           /* "one standard deviation", "95% bootstrap CI", ...; NULL: not said */
    const int *colour;               /* group colour index per bar; -1: grey; NULL: all grey */
    const char *const *note;         /* text above bar i, or NULL / "" */
    const double *const *points;     /* the values behind bar i (npoints[i] of them) drawn as dots; NULL: none */
    const int64_t *npoints;
} simrep_bars;

void simrep_bars_init(simrep_bars *spec);
simrep_status simrep_plot_bars(simrep_ctx *ctx, const simrep_bars *spec, simrep_figure *out);

/* Curves y(x), one per series (training dynamics, per-step similarity). */
typedef struct simrep_lines {
    const char *title, *subtitle, *xlabel, *ylabel;
    int nseries;
    const char *const *names;
    const int64_t *npoints;
    const double *const *x, *const *y;
    const double *const *y_lo, *const *y_hi; /* a shaded band per series (NULL, or NULL per series): none */
    const int *colour;               /* colour index per series; NULL: 0, 1, 2, ... */
    const int *dash;                 /* dash pattern per series (0 solid, 1 dashed, 2 dotted, ...); NULL: solid */
    int y_from_zero;                 /* 1: the y axis includes 0 */
    /* A legend by attribute instead of by series (training dynamics:
     * colours are layers, dashes are groups): what colour index c and dash
     * index d stand for.  NULL: one entry per series. */
    const char *const *colour_names;
    int ncolours;
    const char *const *dash_names;
    int ndashes;
} simrep_lines;

void simrep_lines_init(simrep_lines *spec);
simrep_status simrep_plot_lines(simrep_ctx *ctx, const simrep_lines *spec, simrep_figure *out);

/*
 * s elided in the middle to at most max_chars characters (UTF-8 code
 * points, never split): "resnet50_seed…4.2.conv3" (the ellipsis is U+2026,
 * counted as one).  Writes at most cap bytes including the NUL (truncating
 * at a character boundary if cap is too small); returns the bytes the
 * whole elided string needs, without the NUL.  max_chars < 3 is taken as
 * 3.
 */
size_t simrep_elide(const char *s, int64_t max_chars, char *out, size_t cap);

/* The length in bytes of the well-formed UTF-8 sequence that starts at s
 * (RFC 3629: no overlong forms, surrogates or code points above U+10FFFF),
 * or 0 if s does not start one (a byte of a Latin-1 file name).  The
 * figures, the CLI's JSON and its tables use it to escape or count
 * characters. */
int simrep_utf8_length(const char *s);

/* The title convention of every figure: "<measure> <what> at <layer>: <inputs>
 * inputs, n = <n>" ("pwcca similarity at relu2: 10 inputs, n = 1,500"); the
 * layer part is left out when layer is NULL or "", the inputs part when
 * inputs <= 0, the n part when n <= 0.  Returns as simrep_elide. */
size_t simrep_figure_title(const char *measure, const char *what, const char *layer, int64_t inputs, int64_t n,
                           char *out, size_t cap);

/* ----------------------------------------------------------------- input */

/*
 * Reading arrays from .npy, .npz and .safetensors files.  An array is opened
 * as a simrep_source and read in blocks of rows, so resident memory stays
 * bounded whatever the size of the file.  Every parser has a memory-buffer
 * entry point (simrep_source_open_buffer) that the file entry point shares.
 */

#define SIMREP_MAX_NDIM 8
#define SIMREP_NAME_MAX 256
/* Names (npz keys, tensor names) may be longer than SIMREP_NAME_MAX - 1
 * bytes (up to 65535): simrep_array_info then holds the first
 * SIMREP_NAME_SHOWN bytes followed by "...", and name_len says the full
 * length.  Such an array opens by its full name, or by that shown form when
 * exactly one long name starts with those bytes. */
#define SIMREP_NAME_SHOWN (SIMREP_NAME_MAX - 4)
#define SIMREP_KEY_MAX 65535

typedef enum simrep_format {
    SIMREP_FORMAT_NPY = 0,
    SIMREP_FORMAT_NPZ = 1,
    SIMREP_FORMAT_SAFETENSORS = 2
} simrep_format;

typedef struct simrep_array_info {
    char name[SIMREP_NAME_MAX]; /* npz key or safetensors tensor name; "" for .npy */
    int ndim;
    int64_t shape[SIMREP_MAX_NDIM];
    int dtype_supported;        /* 1 if dtype below is valid */
    simrep_dtype dtype;
    char dtype_text[32];        /* the dtype as the file spells it ("<f4", "F16", "<c16", ...) */
    int fortran_order;          /* 1 if stored column-major */
    int big_endian;             /* 1 if stored big-endian */
    int compressed;             /* npz: 1 if deflated */
    uint64_t data_offset;       /* byte offset of the data in the file (npy, stored npz, safetensors) */
    uint64_t data_size;         /* bytes of data */
    int64_t name_len;           /* the name's full length in bytes (name is shortened when >= SIMREP_NAME_MAX) */
} simrep_array_info;

/* Which format a path names, by its extension; -1 if none. */
int simrep_format_from_path(const char *path);

/*
 * List the arrays in a file (one for .npy).  Writes at most cap infos,
 * sets *count to the number in the file.  Never allocates per array.
 */
simrep_status simrep_file_list(simrep_ctx *ctx, const char *path, simrep_array_info *infos, int cap, int *count);
simrep_status simrep_buffer_list(simrep_ctx *ctx, const void *buf, size_t len, simrep_format format,
                                 simrep_array_info *infos, int cap, int *count);

/* An open array in a file or buffer, read by blocks of samples. */
typedef struct simrep_source simrep_source;

/*
 * Open an array: spec is "path", "path.npz:key" or "path.safetensors:name"
 * (the key may be omitted when the archive holds exactly one array).
 * Errors name the path in the context message.
 */
simrep_status simrep_source_open(simrep_ctx *ctx, const char *spec, simrep_source **out);
/* The same over a memory buffer (not copied; must outlive the source).
 * key may be NULL (npy, or an archive with a single array). */
simrep_status simrep_source_open_buffer(simrep_ctx *ctx, const void *buf, size_t len, simrep_format format,
                                        const char *key, simrep_source **out);
/*
 * An array in the caller's memory (the Python package's numpy arrays and
 * torch tensors), so that layouts (simrep_input_from_source) apply to it as
 * to a file: ndim in [1, SIMREP_MAX_NDIM] axes of shape[], elements of
 * dtype in native byte order, stored contiguously in C order (fortran_order
 * 0: last axis fastest) or Fortran order (1: first axis fastest).  Not
 * copied: data must outlive the source; blocks are read out of it as from a
 * file.  label (copied; NULL: "<array>") starts every message about it.
 * Errors: SIMREP_E_INVALID for a negative or overflowing shape or NULL data
 * with elements.
 */
simrep_status simrep_source_open_memory(simrep_ctx *ctx, const void *data, simrep_dtype dtype, int ndim,
                                        const int64_t *shape, int fortran_order, const char *label,
                                        simrep_source **out);
void simrep_source_free(simrep_ctx *ctx, simrep_source *src);
const simrep_array_info *simrep_source_info(const simrep_source *src);

/*
 * Choose how a 2-D array maps to samples x features.  features_first = 0:
 * rows are samples (the default); 1: the array is features x samples (the
 * google/svcca layout).  Fails with SIMREP_E_SHAPE, naming the option that
 * would handle it, if the array is not 2-D.
 */
simrep_status simrep_source_set_layout(simrep_ctx *ctx, simrep_source *src, int features_first);
/* Samples and features under the current layout; 0 for an array that is
 * not 2-D. */
int64_t simrep_source_samples(const simrep_source *src);
int64_t simrep_source_features(const simrep_source *src);

/*
 * Read samples [row0, row0 + rows) as a samples x features view in native
 * byte order and the file's dtype.  The view points into a buffer owned by
 * the source, valid until the next call on it.  Reading forward in order is
 * the fast path (deflated npz members cannot seek back cheaply; they restart).
 * A block reaching past the last sample is cut short: view->rows says how
 * many were read (row0 == samples gives an empty view; row0 beyond it is
 * SIMREP_E_INVALID).  The view is row-major when the block is contiguous in
 * the file and column-major (row_stride 1, col_stride rows) otherwise.
 * Errors: SIMREP_E_SHAPE if the array is not 2-D; FORMAT/IO for bad data.
 */
simrep_status simrep_source_read(simrep_ctx *ctx, simrep_source *src, int64_t row0, int64_t rows,
                                 simrep_matrix *view);

/* ------------------------------------------ conv maps and sequences */

/*
 * Arrays that are not 2-D samples x features: convolutional feature maps,
 * 4-D (N, H, W, C) or (N, C, H, W), and sequences, 3-D (N, T, D).  A
 * simrep_input is an opened array plus a simrep_layout saying how it maps
 * to a samples x features matrix; it yields that matrix block by block as
 * simrep_matrix views that simrep_moments_update (and update_multi) take as
 * they are.  The reshaped matrix is never formed whole: resident memory is
 * one block of the array (whole items covering the rows asked for) plus, for
 * the computed layouts, one block of the output.  Both `simrep compare` and
 * `simrep matrix` read every input through this.
 *
 * N is the number of items (images, sequences, rows of a 2-D array); row i
 * of every input must come from the same item.  The layouts:
 *
 *   conv, positions (the default; SVCCA's "every spatial position is a
 *       datapoint"): samples = N*H*W in the order (n, h, w), features = C.
 *       NHWC in C order is a plain reshape (no copy); NCHW is transposed
 *       image by image while reading.
 *   conv, pool: the mean over H and W of each channel: N x C.
 *   conv, flatten: N x H*W*C for NHWC or N x C*H*W for NCHW, the features in
 *       the order of numpy's arr.reshape(N, -1) (last axis fastest), which is
 *       the file's memory order for a C-order file.
 *   sequence, flatten: time steps as samples: N*T x D, in the order (n, t).
 *   sequence, per_step: T separate N x D matrices, one per step t
 *       (x[:, t, :]); simrep_input_read fills T views, one per step.
 *   sequence, last: x[:, T-1, :], N x D.   sequence, mean: the mean over t.
 *   sequence, first: x[:, 0, :], N x D (a transformer's [CLS] position).
 *
 * Token masks (padded batches of variable-length sequences: layout.mask,
 * section "token masks" below).  With a mask, a sequence's steps are its
 * valid tokens only, for every 3-D input of the layout:
 *   flatten: every valid token is a sample, in the order (n, t): the
 *       samples are the mask's tokens (sequences without a token give none);
 *   mean: the mean over the valid tokens of each sequence, N x D;
 *   first, last: the first / last valid token of each sequence (the smallest
 *       / largest valid t, whatever the padding side), N x D;
 *   per_step: refused (SIMREP_E_INVALID: step t is padding in some sequences).
 * mean, first and last need a valid token in every sequence (else
 * SIMREP_E_SHAPE naming the mask and the sequence).  The mask must cover
 * the array: N sequences, and T steps for an (N, T) mask or lengths <= T
 * (SIMREP_E_SHAPE naming the mask and the array otherwise).  Inputs of
 * different T pair up when their masks agree (lengths masks): flatten
 * compares the same tokens.  2-D and 4-D inputs ignore the mask.
 *
 * Spatial sizes.  Every conv input is first brought to its target size
 * (height x width, by default its own; see simrep_inputs_agree), then the
 * mode applies.  Resizing (per image and channel, separable in h and w):
 *
 *   interp (upsampling, as the svcca conv tutorial with scipy's interp2d):
 *       output pixel i of out_h reads source coordinate s = i * h / out_h
 *       (corners not aligned: pixel 0 maps to 0, no half-pixel offset) and
 *       interpolates linearly between floor(s) and floor(s) + 1, clamped to
 *       the last row (edge values are repeated past h - 1).
 *   pool_to (downsampling by averaging): output pixel i averages source rows
 *       [floor(i * h / out_h), ceil((i + 1) * h / out_h)), the windows of
 *       PyTorch's adaptive_avg_pool2d; with an integer ratio r = h / out_h
 *       they are the disjoint r x r blocks of average pooling.
 *   dft (as svcca's dft_ccas.fft_resize, then back to space): keep the
 *       frequencies f with -out_h/2 <= f < out_h/2 (numpy's fftfreq units)
 *       of the 2-D DFT along each axis, in np.fft order; the result is
 *       real(ifft2(kept)) * (out_h * out_w) / (h * w), so a constant map
 *       keeps its value.  (Also defined for upsampling: zero padding.)
 *   Resizing to one's own size is the identity in every method.
 *
 * Options apply by number of dimensions: conv to 4-D arrays, sequence to
 * 3-D arrays, features_first to 2-D arrays, so one layout serves a list of
 * inputs mixing dense (2-D) and conv layers.  An array whose dimensions no
 * option covers is SIMREP_E_SHAPE with a message naming the option
 * ("x.npy: is 4-D (N, H, W, C) = ...: add --conv nhwc or --conv nchw").
 */

typedef enum simrep_conv {
    SIMREP_CONV_NONE = 0, /* 4-D arrays are an error */
    SIMREP_CONV_NHWC = 1, /* (N, H, W, C): TensorFlow / JAX */
    SIMREP_CONV_NCHW = 2  /* (N, C, H, W): PyTorch */
} simrep_conv;

typedef enum simrep_conv_mode {
    SIMREP_CONV_POSITIONS = 0, /* N*H*W samples x C features */
    SIMREP_CONV_POOL = 1,      /* N x C: mean over space */
    SIMREP_CONV_FLATTEN = 2    /* N x H*W*C (NHWC) or C*H*W (NCHW) */
} simrep_conv_mode;

typedef enum simrep_resize {
    SIMREP_RESIZE_NONE = 0,    /* sizes must agree (positions) */
    SIMREP_RESIZE_INTERP = 1,  /* bilinear upsampling of the smaller to the largest */
    SIMREP_RESIZE_POOL_TO = 2, /* average pooling of the larger to the smallest */
    SIMREP_RESIZE_DFT = 3      /* the common low frequencies of the 2-D DFT (the smallest size) */
} simrep_resize;

typedef enum simrep_sequence {
    SIMREP_SEQUENCE_NONE = 0,     /* 3-D arrays are an error */
    SIMREP_SEQUENCE_FLATTEN = 1,  /* N*T samples x D */
    SIMREP_SEQUENCE_PER_STEP = 2, /* T matrices N x D */
    SIMREP_SEQUENCE_LAST = 3,     /* N x D: the last step */
    SIMREP_SEQUENCE_MEAN = 4,     /* N x D: the mean over steps */
    SIMREP_SEQUENCE_FIRST = 5     /* N x D: the first step */
} simrep_sequence;

/*
 * Token masks: which steps of padded (N, T, D) sequences are tokens.  A
 * mask is N x T (1 = token, 0 = padding: a tokenizer's attention_mask; the
 * opposite of PyTorch's src_key_padding_mask) or N lengths (right padding:
 * steps t < length[i] are tokens).  Read from a file or from memory, values
 * checked: 0/1 only (bool, any integer or float dtype), lengths whole
 * numbers >= 0; a mask without a single token is refused (SIMREP_E_SHAPE,
 * "every position is padding").  Errors name the mask ("mask.npy: value 2
 * at [3, 5]: ...").  Memory: N x T bytes (or 8 N) plus 24 N bytes of
 * per-sequence counts.  A mask is read-only once made: inputs opened with
 * it (simrep_layout.mask) keep a pointer, so it must outlive them; threads
 * may share it.
 */
typedef struct simrep_mask simrep_mask;

/* spec as simrep_source_open ("mask.npy", "batch.npz:attention_mask"):
 * 2-D (N, T) of bool, int8..int64, uint8..uint64 or float16/32/64 holding
 * 0/1, or 1-D (N,) integer lengths.  Other shapes or dtypes:
 * SIMREP_E_SHAPE / SIMREP_E_UNSUPPORTED naming the file. */
simrep_status simrep_mask_open(simrep_ctx *ctx, const char *spec, simrep_mask **out);
/* The same from memory: data holds ndim (1 or 2) axes of shape[],
 * contiguous in C order (fortran_order 0) or Fortran order (1), with
 * elements described by dtype_text in numpy's array-protocol spelling
 * ("|b1", "|u1", "<i8", "<f4": numpy's arr.dtype.str).  Copied: data may
 * be freed after the call.  label (NULL: "<mask>") names it in messages. */
simrep_status simrep_mask_from_memory(simrep_ctx *ctx, const void *data, const char *dtype_text, int ndim,
                                      const int64_t *shape, int fortran_order, const char *label,
                                      simrep_mask **out);
void simrep_mask_free(simrep_ctx *ctx, simrep_mask *mask);
/* N; T of an (N, T) mask (0 for lengths); the valid tokens in all. */
int64_t simrep_mask_items(const simrep_mask *mask);
int64_t simrep_mask_steps(const simrep_mask *mask);
int64_t simrep_mask_tokens(const simrep_mask *mask);
/* The valid tokens of sequence item (0 if out of range). */
int64_t simrep_mask_count(const simrep_mask *mask, int64_t item);
const char *simrep_mask_label(const simrep_mask *mask);

/* How an array maps to samples x features.  Initialise with
 * simrep_layout_init (2-D samples x features, everything else refused);
 * fields are only ever appended. */
typedef struct simrep_layout {
    int features_first;        /* 2-D arrays: 1 if features x samples (the google/svcca layout) */
    simrep_conv conv;          /* 4-D arrays */
    simrep_conv_mode conv_mode;
    simrep_resize resize;      /* how simrep_inputs_agree reconciles spatial sizes */
    simrep_sequence sequence;  /* 3-D arrays */
    const simrep_mask *mask;   /* 3-D arrays: the valid tokens (NULL: every step); not owned, see above */
} simrep_layout;

void simrep_layout_init(simrep_layout *layout);

/* An array read through a layout. */
typedef struct simrep_input simrep_input;

/* The sizes of an input under its layout (simrep_input_dims). */
typedef struct simrep_input_dims {
    int ndim;                  /* of the array: 2, 3 or 4 */
    int64_t items;             /* N */
    int64_t height, width;     /* conv: the array's own spatial size; 0 otherwise */
    int64_t channels;          /* conv: C; 0 otherwise */
    int64_t out_height, out_width; /* conv: the size after resizing, what is read; 0 otherwise */
    int64_t steps;             /* sequences: T; 0 otherwise */
    int64_t samples;           /* rows of the samples x features matrix (N*H*W, N*T or N) */
    int64_t features;          /* its columns (p) */
    int64_t rows_per_item;     /* samples / items: out_h*out_w (positions), T (sequence flatten), else 1;
                                  1 for masked flatten, whose sequences have different numbers of rows
                                  (simrep_input_item_row) */
    int64_t views;             /* matrices per read: T for per_step, else 1 */
    int64_t item_elements;     /* elements stored per item (H*W*C, T*D, or p): a read of r rows holds about
                                  ceil(r / rows_per_item) * item_elements of them; size blocks by it
                                  (masked flatten: the elements read per sample, ceil(N*T*D / samples)) */
} simrep_input_dims;

/*
 * Open spec ("path", "path.npz:key", "path.safetensors:name", as
 * simrep_source_open) under layout (NULL: the defaults).  Errors name the
 * path; an array the layout does not cover is SIMREP_E_SHAPE naming the
 * option; a conv or sequence array with a zero-sized axis other than N is
 * SIMREP_E_SHAPE.
 */
simrep_status simrep_input_open(simrep_ctx *ctx, const char *spec, const simrep_layout *layout, simrep_input **out);
/* The same over an opened source, which the input takes over (it is freed
 * with the input, or at once if this fails). */
simrep_status simrep_input_from_source(simrep_ctx *ctx, simrep_source *src, const simrep_layout *layout,
                                       simrep_input **out);
void simrep_input_free(simrep_ctx *ctx, simrep_input *in);
/*
 * Changed files.  A file rewritten while it is read, or replaced between
 * two reads of it (simrep matrix reads its inputs once per pass), would mix
 * two versions of the data silently.  simrep_*_file_id gives the identity
 * of the file as opened (device, inode, size, modification time; returns 0
 * and zeros for a memory source), to compare with a later opening;
 * simrep_*_check_unchanged is SIMREP_E_IO naming the file when the open
 * file's size or modification time is no longer what it was at open.
 */
typedef struct simrep_file_id {
    uint64_t device, inode, size;
    int64_t mtime_sec, mtime_nsec;
} simrep_file_id;
int simrep_source_file_id(const simrep_source *src, simrep_file_id *id);
simrep_status simrep_source_check_unchanged(simrep_ctx *ctx, const simrep_source *src);
int simrep_input_file_id(const simrep_input *in, simrep_file_id *id);
simrep_status simrep_input_check_unchanged(simrep_ctx *ctx, const simrep_input *in);

/* "path" or "path:key", as messages name the input. */
const char *simrep_input_label(const simrep_input *in);
const simrep_array_info *simrep_input_info(const simrep_input *in);
/* The dtype the input's array is stored in (its info's dtype; SIMREP_F64
 * for NULL).  simrep_input_read hands layouts' rows over converted to
 * float64, so a caller folding them into moments declares this with
 * simrep_moments_note_dtype. */
simrep_dtype simrep_input_dtype(const simrep_input *in);
void simrep_input_dims_get(const simrep_input *in, simrep_input_dims *dims);

/* The first sample (row) of item i, for 0 <= i <= items: item i's rows are
 * [simrep_input_item_row(in, i), simrep_input_item_row(in, i + 1)), e.g.
 * the valid tokens of sequence i under masked flatten (whole items are the
 * units to resample or split).  -1 for i out of range. */
int64_t simrep_input_item_row(const simrep_input *in, int64_t item);

/*
 * Make count >= 1 inputs read as matrices with the same rows: the same N
 * (and, for sequence flatten and per_step, the same T; first, last, mean
 * and masked flatten allow different T), and for the conv inputs in positions mode the same spatial
 * size.  The target size of every conv input is chosen by layout.resize of
 * the first conv input: NONE keeps each input's own size (positions mode
 * then requires them equal: SIMREP_E_SHAPE naming both inputs, both shapes
 * and --resize), INTERP the largest height and the largest width among the
 * conv inputs, POOL_TO and DFT the smallest.  2-D inputs are checked for N
 * only (they must then not be mixed with positions or sequence flatten
 * inputs, whose N differs from their samples: that is SIMREP_E_SHAPE).
 * Messages start with the label of the input at fault.
 */
simrep_status simrep_inputs_agree(simrep_ctx *ctx, simrep_input *const *inputs, int count);
/* Set a conv input's target spatial size directly (1 <= height, width;
 * resizing with the input's layout.resize, or INTERP/POOL_TO by direction
 * when that is NONE). */
simrep_status simrep_input_set_spatial(simrep_ctx *ctx, simrep_input *in, int64_t height, int64_t width);

/*
 * Read samples [row0, row0 + rows) of the input's matrix into views[0 ..
 * dims.views - 1], each rows x features (per_step: views[t] is step t of
 * the items [row0, row0 + rows)).  A block reaching past the last sample is
 * cut short (views[0].rows says how many were read; row0 == samples gives
 * empty views; beyond is SIMREP_E_INVALID).  Rows need not align with
 * items: the items covering the block are read whole (aligning blocks to
 * rows_per_item avoids reading an item twice).
 *
 * The views point into buffers owned by the input, valid until the next
 * call on it.  They are in the file's dtype when the block is a view of the
 * stored array (2-D; NHWC positions without resizing, flatten, sequence
 * flatten, per_step and last of a C-order file; per_step and last of a
 * Fortran-order one) and float64 when computed (pool, resizing, NCHW
 * positions, sequence mean, other Fortran-order cases); strides vary, so
 * consumers must honour them (simrep_moments_update does).
 * Reading forward in order is the fast path.  Memory: for a view of the
 * stored array, the items covering the block in the file's dtype; when
 * computed, the output block in float64 plus the source read in chunks of
 * whole items of at most 4 Mi elements (and per image the resize work,
 * O(h*w*C)).  Callers bound the former by sizing blocks with
 * dims.item_elements.
 */
simrep_status simrep_input_read(simrep_ctx *ctx, simrep_input *in, int64_t row0, int64_t rows,
                                simrep_matrix *views);

/*
 * Conv inputs: images [item0, item0 + count) at the array's own spatial
 * size (no resizing; DFT-CCA resizes in the frequency domain) as a view of
 * count x (height*width*channels), the columns in NHWC order (channel
 * fastest) whatever the layout.  Owned by the input as simrep_input_read's
 * views (the next read of either kind invalidates it).  Not a conv input:
 * SIMREP_E_INVALID.
 */
simrep_status simrep_input_read_maps(simrep_ctx *ctx, simrep_input *in, int64_t item0, int64_t count,
                                     simrep_matrix *view);

/* ------------------------------------------------------------- DFT-CCA */

/*
 * DFT-CCA (Raghu et al. 2017, SVCCA section 4; google/svcca
 * dft_ccas.fourier_ccas): the 2-D DFT over space of every image's channel
 * maps, then for every spatial frequency (u, v) a complex CCA between the
 * N x p matrix X^(u, v) and the N x q matrix Y^(u, v).  For translation-
 * invariant (conv) layers this block-diagonalises the CCA of the positions
 * layout, and a circular shift of the images leaves every value unchanged.
 *
 * Per frequency the CCA is docs/measures.md's, with complex Hermitian covariances
 * (centered over the N images, n - 1): dead features (|X^_j|'s variance
 * <= epsilon x the largest on that side at that frequency) dropped, each
 * block rescaled by its side's largest variance, Wx = (Cxx + eps I)^(-1/2)
 * (Hermitian), rho = singular values of Wx Cxy Wy, k = min(kept_p, kept_q).
 * Frequencies f and -f give conjugate data and the same rho, so each pair
 * is computed once.  A frequency where a side has every feature dead (a
 * map that is constant along that direction) has no CCA: it is reported
 * with k = 0 and left out of the aggregate.
 *
 * Sizes: x's maps are hx x wx with p channels, y's hy x wy with q.  When
 * they differ, the common frequency grid is min(hx, hy) x min(wx, wy) and
 * only the frequencies -m/2 <= f < m/2 of each axis are kept (fft_resize).
 *
 * Aggregate: similarity = the mean of every canonical correlation of every
 * frequency of the full common grid (each computed pair counted twice), i.e.
 * np.mean of the concatenated coefficients of svcca's per-frequency results;
 * distance = 1 - similarity.
 *
 * Memory: per computed frequency the (p+q)^2 complex scatter, about
 * (h*w + 4) (p+q)^2 doubles in all (for 32 x 32 maps of 256 + 256
 * channels, 2 GiB), plus a block of at most 4 Mi doubles of coefficients
 * and 24 (p+q)^2 doubles of work in simrep_dftcca_compute.  Time: an FFT
 * per image and channel, then one 2(p+q) x 2(p+q) rank-k update per block
 * and frequency, and one CCA of size 2p x 2q per frequency.  FFTW3 does
 * the transforms; plans are made in simrep_dftcca_new with FFTW_ESTIMATE
 * (FFTW's planner is not thread-safe: do not call simrep_dftcca_new or
 * simrep_dftcca_free from several threads at once).
 */
typedef struct simrep_dftcca simrep_dftcca;

simrep_status simrep_dftcca_new(simrep_ctx *ctx, int64_t hx, int64_t wx, int64_t p, int64_t hy, int64_t wy,
                                int64_t q, simrep_dftcca **out);
void simrep_dftcca_free(simrep_ctx *ctx, simrep_dftcca *d);
/* Fold in images: x is count x (hx*wx*p) and y count x (hy*wy*q), the
 * columns in NHWC order (simrep_input_read_maps); any dtype and strides.
 * NaN or Inf is SIMREP_E_NONFINITE naming "x" or "y" and the image. */
simrep_status simrep_dftcca_update(simrep_ctx *ctx, simrep_dftcca *d, const simrep_matrix *x,
                                   const simrep_matrix *y);

/*
 * Partial DFT-CCAs of disjoint sets of images (threads, MPI ranks) combine
 * exactly: simrep_dftcca_merge(into, other) makes into the state of both
 * image sets (the pairwise update of Chan, Golub & LeVeque per frequency,
 * as simrep_moments_merge); both must come from simrep_dftcca_new with the
 * same sizes (else SIMREP_E_SHAPE).  For sending a state between processes:
 * simrep_dftcca_state_len doubles (3 + nf * 2(p+q) + 2 nf (p+q)^2, nf the
 * computed frequencies: the memory figure above), written by
 * simrep_dftcca_save and read back by simrep_dftcca_load into a DFT-CCA made
 * with the same sizes.  None of them allocates.
 */
simrep_status simrep_dftcca_merge(simrep_ctx *ctx, simrep_dftcca *into, const simrep_dftcca *other);
int64_t simrep_dftcca_state_len(const simrep_dftcca *d);
void simrep_dftcca_save(const simrep_dftcca *d, double *state);
simrep_status simrep_dftcca_load(simrep_ctx *ctx, simrep_dftcca *d, const double *state);

/* One computed frequency (and its conjugate). */
typedef struct simrep_dftcca_frequency {
    int64_t u, v;        /* signed frequencies in cycles per map (numpy's fftfreq(h, 1/h) units) */
    int count;           /* 2 if it stands for f and -f, 1 if self-conjugate (or unpaired after resizing) */
    int64_t kept_p, kept_q;
    int64_t k;           /* canonical correlations; 0 if undefined here */
    double mean;         /* their mean (0 if k == 0) */
    double *coefs;       /* k of them, descending; points into the result */
} simrep_dftcca_frequency;

typedef struct simrep_dftcca_result {
    double similarity, distance;
    int64_t height, width;   /* the common frequency grid */
    int64_t n;               /* images */
    int64_t total;           /* canonical correlations averaged (over the full grid) */
    unsigned warnings;       /* SIMREP_WARN_* of the per-frequency CCAs */
    int64_t nfreq;
    simrep_dftcca_frequency *freqs; /* nfreq, in np.fft order of the grid (u major) */
    double *coef_store;
} simrep_dftcca_result;

/* Errors: n < 2 and a grid where no frequency has a CCA are
 * SIMREP_E_DEGENERATE.  Release the result with
 * simrep_dftcca_result_clear. */
simrep_status simrep_dftcca_compute(simrep_ctx *ctx, const simrep_dftcca *d, const simrep_options *options,
                                    simrep_dftcca_result *out);
void simrep_dftcca_result_clear(simrep_ctx *ctx, simrep_dftcca_result *r);

/*
 * Read arrays of any ndim >= 2 as shape[0] samples x prod(shape[1:])
 * features, the features numbered in the file's memory order of the
 * trailing axes (C order: last axis fastest; Fortran order: axis 1
 * fastest).  simrep_source_read then works as for 2-D arrays.  This is the
 * raw access simrep_input builds on.
 */
simrep_status simrep_source_set_flat(simrep_ctx *ctx, simrep_source *src);

/* ------------------------------------- uncertainty and chance (issue 11) */

/*
 * Bootstrap confidence intervals, permutation nulls and chance levels of
 * the measures computed from the moments (family CCA and MOMENTS; the
 * measures of the rows have simrep_stats_rows below, dftcca is not
 * resampled: its result says so).  src/stats.c opens with the design and
 * its justification; docs/statistics.md is the user's page.  In short:
 *
 * Units.  Rows are resampled and re-paired in units of unit_rows
 * consecutive rows: a row by default, an image for conv positions, a
 * sequence for sequence flatten (the CLI passes rows_per_item), K rows
 * with --unit-rows K.  Positions of one image are not independent: treating
 * them as units would make the intervals far too narrow.
 *
 * Bootstrap (B resamples).  During the one pass over the data every unit
 * goes to one of G buckets (a hash of the unit's index and the seed), and
 * each bucket keeps its own moments, shifted about a common origin.  A
 * resample draws G buckets with replacement and combines their moments
 * with those multiplicities (one GEMM for a batch of resamples), then
 * computes the measures from the combined moments.  With G >= the number
 * of units each unit is its own bucket and this IS the unit bootstrap;
 * otherwise it is the bootstrap of G random groups of units, whose
 * standard error has about G - 1 degrees of freedom (G = 128: the
 * standard error is itself uncertain by about 6%).  The data are read
 * once.  Intervals are percentile intervals of the similarity.
 *
 * Permutations (K nulls).  The units are cut into S segments of equal
 * size (plus a remainder of fewer than S units); while reading, the
 * cross products of every segment of x with every segment of y are kept
 * (S^2 blocks of (p+2) x (q+2), unit j of segment a against unit j of
 * segment b).  A null pairs segment a of x with segment sigma(a) of y for a
 * random permutation sigma of the S segments (never the identity), which
 * gives the cross-scatter of a re-pairing of the units exactly; x's and y's
 * own scatters do not change, so each null costs one measure evaluation
 * with the sides' eigendecompositions shared.  The pass reads the S
 * segments side by side (simrep_stats_next gives the order).  Permuting
 * segments is a group acting on the data, so the p-value
 * (1 + #{null >= observed}) / (1 + K) is exact under independence of x's
 * and y's units; a permutation leaves on average one segment paired with
 * itself, so about 1/S of the true pairing stays in a null (for CKA about
 * 1/S^2 of the signal).  Cost: S x the cross product p q n of a plain
 * compare, once, whatever K.
 *
 * Chance levels in closed form: the exact mean over random re-pairings of
 * the rows, from the observed moments alone: cca_r2 max(kept_p, kept_q) /
 * (n - 1); cka tr(Sxx) tr(Syy) / ((n - 1) |Sxx|_F |Syy|_F); cka_debiased 0.
 * Every simrep_result from moments carries it (has_chance, chance); other
 * measures have none (has_chance 0).
 *
 * Units of different sizes (options.unit_starts: masked sequences, whose
 * valid tokens differ in number).  A unit still goes whole to one bucket,
 * and a resample adds its buckets' raw sums, so it pools the rows of the
 * units it draws: a unit weighs by its rows, as in the data (the measures
 * are of the pooled rows: a sequence of 40 tokens is 40 samples of the
 * moments, and a resample holding it twice holds 80), and n varies from
 * resample to resample as it does in a unit bootstrap of such units.
 * Averaging per-unit values instead would estimate another quantity (every
 * sequence weighing alike).  Permutations are refused for them: re-pairing
 * a unit of x with one of y row for row needs the same number of rows.
 *
 * Distributed runs (MPI): every part makes the same state (same n, p, q,
 * options), calls simrep_stats_set_share(part, parts) before reading, reads
 * what simrep_stats_next names (its share: with permutations, the same
 * slice of every segment), and the parts' states are merged
 * (simrep_stats_save on one, simrep_stats_merge into another, in any
 * order).  Bucket sums and segment blocks add exactly; each part keeps
 * them about its own origin and the merge moves them to the receiver's
 * (an exact change of variables), so a merged state gives one process's
 * numbers to round-off, whatever the number of parts.
 *
 * Memory: G (p+q)(p+q+1)/2 doubles for the bootstrap buckets (their
 * scatters' upper triangles, packed) and S^2 (p+2)(q+2)
 * for the permutation blocks, within max_memory: G (default up to 128) is
 * lowered to fit, and below 16 buckets the call fails (SIMREP_E_INVALID
 * saying how much is needed); S (default 8) is lowered to 4 at least.
 * Results do not depend on the number of threads.
 */
/* Bootstrap intervals.  Percentile: the quantiles of the resampled values.
 * Basic (reverse percentile, Davison & Hinkley 1997, eq. 5.6):
 * [2 observed - q_high, 2 observed - q_low], which removes the first-order
 * bias that resampling with replacement adds (duplicated units act like
 * fewer samples, raising CCA-family and CKA values); it covers the
 * population value better where that bias is not small next to the
 * spread (e.g. many features per sample), and may leave [0, 1]. */
typedef enum simrep_interval {
    SIMREP_INTERVAL_PERCENTILE = 0,
    SIMREP_INTERVAL_BASIC = 1
} simrep_interval;

typedef struct simrep_stats_options {
    int64_t bootstrap;      /* B resamples of the units (0: none) */
    int64_t permutations;   /* K random re-pairings of the units (0: none) */
    double ci;              /* level of the percentile intervals, in (0, 1); 0.95 */
    uint64_t seed;          /* every random choice follows from it (any value, 0 included); 0 */
    int64_t unit_rows;      /* rows per sampling unit, >= 1; 1 */
    int64_t buckets;        /* bootstrap buckets G (0: min(units, 128), fewer to fit max_memory) */
    int64_t segments;       /* permutation segments S >= 2 (0: 8, down to 4 to fit max_memory) */
    double max_memory;      /* bytes the resampling state may take (0: 1 GiB) */
    int threads;            /* worker threads for the resamples (0 or 1: the calling thread only) */
    simrep_interval interval; /* SIMREP_INTERVAL_PERCENTILE (default) or _BASIC */
    /* Units of different sizes (e.g. the valid tokens of masked sequences):
     * NULL, or units + 1 increasing row offsets, unit_starts[0] = 0 and
     * unit_starts[units] = n: unit u is rows [unit_starts[u],
     * unit_starts[u + 1]) (simrep_input_item_row gives them); unit_rows is
     * then ignored.  Copied by simrep_stats_new.  The bootstrap resamples
     * them whole, pooling their rows (see "Units of different sizes");
     * permutations need units of one size (SIMREP_E_INVALID otherwise;
     * offsets that happen to be evenly spaced are units of one size). */
    const int64_t *unit_starts;
    int64_t units;          /* entries of unit_starts minus one */
} simrep_stats_options;

void simrep_stats_options_init(simrep_stats_options *options);

/*
 * What the options alone say about the statistics they can give, before
 * any data is read: SIMREP_STATS_WARN_* flags (0: nothing to say).
 * FEW_RESAMPLES: 0 < bootstrap < 1 + 2 / (1 - ci), so each end of the
 * interval falls between the two most extreme resamples (ci = 0.95 needs
 * 41; the ends settle from about 1,000).  FEW_PERMUTATIONS: 0 < permutations < 19, so
 * the smallest p-value, 1 / (1 + permutations), is above 0.05: no result
 * can be significant at that level.  simrep_stats_warning_text writes
 * flag's sentence with o's numbers into buf (cap bytes, always
 * terminated) and returns its length; the CLI and Python print it as a
 * warning.  simrep_stats_new refuses bootstrap = 1 (no standard error
 * from one resample).
 */
#define SIMREP_STATS_WARN_FEW_RESAMPLES 1u
#define SIMREP_STATS_WARN_FEW_PERMUTATIONS 2u
unsigned simrep_stats_options_warnings(const simrep_stats_options *o);
int simrep_stats_warning_text(unsigned flag, const simrep_stats_options *o, char *buf, size_t cap);

typedef struct simrep_stats simrep_stats;

/*
 * Resampling state for n rows of x (p features) and y (q features).
 * Errors: SIMREP_E_INVALID for options out of range (the message names
 * the option) or a state that would not fit in max_memory (the message
 * says how much it needs).
 */
simrep_status simrep_stats_new(simrep_ctx *ctx, int64_t p, int64_t q, int64_t n, const simrep_stats_options *options,
                               simrep_stats **out);
void simrep_stats_free(simrep_ctx *ctx, simrep_stats *s);

/*
 * The rows to read next: writes row0 and rows (at most max_rows, at least
 * one unit: whole units always) and returns 1, or returns 0 once every row
 * was handed out.  Read those rows of x and y and give them to
 * simrep_stats_update before asking again.  Without permutations the rows
 * come in order; with them, the S segments are read side by side (a block
 * from each segment in turn), then the remainder.  max_rows must be the
 * same in every call.
 */
int simrep_stats_next(simrep_stats *s, int64_t max_rows, int64_t *row0, int64_t *rows);
/* Fold in the rows of the last simrep_stats_next (x: rows x p, y: rows x
 * q, any dtype and strides).  NaN or Inf: SIMREP_E_NONFINITE naming "x" or
 * "y", the row and the column; rows other than those asked for:
 * SIMREP_E_INVALID. */
simrep_status simrep_stats_update(simrep_ctx *ctx, simrep_stats *s, const simrep_matrix *x, const simrep_matrix *y);

/*
 * With a bootstrap (buckets), the moments of all the rows given are the
 * sum of the buckets: load them into m (made with the same p and q), so a
 * caller need not fold every block into a Moments as well (that would be
 * the pass's DSYRK twice).  Equal to simrep_moments_update's to round-off
 * (the sums are shifted by the mean of the first block read).  Without a
 * bootstrap: SIMREP_E_INVALID.
 */
simrep_status simrep_stats_moments(simrep_ctx *ctx, const simrep_stats *s, simrep_moments *m);

/* What the state is. */
typedef struct simrep_stats_info {
    int64_t units;          /* sampling units */
    int64_t unit_rows;      /* rows per unit (the last unit may have fewer) */
    int64_t buckets;        /* G (0 without bootstrap) */
    int exact_bootstrap;    /* 1 if every unit is its own bucket: the unit bootstrap itself */
    int64_t segments;       /* S (0 without permutations) */
    int64_t segment_units;  /* units per segment */
    double memory;          /* bytes of resampling state */
    int64_t min_unit_rows, max_unit_rows; /* the smallest and largest unit; unit_rows is 0 when they differ */
} simrep_stats_info;

void simrep_stats_get_info(const simrep_stats *s, simrep_stats_info *info);

/* One measure's uncertainty and chance level.  Fields of a part not run
 * are 0. */
typedef struct simrep_stats_result {
    simrep_measure measure;
    int resampled;           /* 1 if resampled (simrep_stats_compute: a measure of the moments;
                                simrep_stats_rows: a rows measure the data define), else 0 */
    double similarity;       /* observed, as simrep_compare_moments */
    int64_t bootstrap;       /* resamples in which the measure was defined (<= B) */
    double ci_low, ci_high;  /* interval of the similarity at options.ci (options.interval's kind) */
    double se;               /* standard deviation of the resampled similarities */
    double boot_mean;        /* their mean */
    double distance_ci_low, distance_ci_high, distance_se; /* the same for the distance */
    int64_t permutations;    /* nulls in which the measure was defined (<= K) */
    double null_mean, null_sd;
    double p_value;          /* (1 + #{null >= observed}) / (1 + permutations) */
    double adjusted;         /* (observed - null_mean) / (1 - null_mean) */
    int has_chance;          /* 1 if the measure has a closed-form chance level */
    double chance;           /* the mean over random re-pairings of the rows (see above) */
} simrep_stats_result;

/*
 * After every row was given: the observed measures from m (the exact
 * moments of the same n rows: simrep_moments_update of every block, in any
 * order), then the bootstrap and the permutations.  results[i] for
 * measures[i]; measures that need rows or maps get resampled 0 and their
 * similarity 0 (compute them elsewhere).  Progress is reported through the
 * context ("bootstrap", "permutations").  The resamples run on
 * options.threads workers with one BLAS thread each (the BLAS pool is set
 * to 1 for the call and restored).  Errors: as simrep_compare_moments for
 * the observed data; SIMREP_E_INVALID if rows are missing or m does not
 * match.  A resample where a measure is undefined (e.g. every feature of a
 * side dead) is left out of that measure's counts.
 */
simrep_status simrep_stats_compute(simrep_ctx *ctx, simrep_stats *s, const simrep_moments *m,
                                   const simrep_options *options, const simrep_measure *measures, int count,
                                   simrep_stats_result *results);

/*
 * The same for a curve: states[t] and m[t] are step t of `steps` (e.g.
 * --sequence per-step: step t of every sequence is one row of view t), made
 * with the same options and fed the same rows (row i of every view is unit
 * i's), so that resample b draws the same units and permutation k re-pairs
 * them alike at every step.  per_step[t * count + i] is measure i at step t
 * (as simrep_stats_compute); mean[i] (NULL: not wanted) is the statistics
 * of the curve's mean over the steps: its similarity the mean of the
 * observed values, its interval and null from the mean of each resample's
 * (a resample where a step is undefined is left out), its chance level the
 * mean of the steps' (when every step has one).  Errors: as
 * simrep_stats_compute; SIMREP_E_INVALID if the states differ in options,
 * sizes or units.
 */
simrep_status simrep_stats_compute_steps(simrep_ctx *ctx, simrep_stats *const *states, const simrep_moments *const *m,
                                         int64_t steps, const simrep_options *options, const simrep_measure *measures,
                                         int count, simrep_stats_result *per_step, simrep_stats_result *mean);

/*
 * The same statistics for the measures computed from the rows (family
 * ROWS: rsa, mutual_knn, cknna, cka_rbf), from x (n x p) and y (n x q) in
 * memory, with the units, seed, level and interval kind of *so (buckets
 * and segments do not apply: these resample units themselves).  Each
 * resample or null is one evaluation of the measure (O(n^2)), so the cost
 * is (B + K) x the measure's; src/rowstats.c says how, docs/statistics.md
 * for users.
 *
 * Bootstrap (measures whose info.statistics has SIMREP_STATS_BOOTSTRAP):
 * resample b draws the units with replacement (the draws of the moments'
 * exact bootstrap, stream and index b) and evaluates the measure on the
 * distinct units drawn, each row weighing its unit's multiplicity, with the
 * pairs of a unit's copies left out (a copy is not its own neighbour and
 * has no zero distance to itself), as rsatoolbox's bootstrap of patterns
 * drops the entries of a pattern with its copies; cka_rbf instead keeps the
 * copies (a resample is the data with its units repeated, as linear CKA's
 * bootstrap of the moments) at the bandwidth of the observed data, fixed
 * (docs/statistics.md).  Permutations (every rows
 * measure): null k re-pairs the units of y with those of x by a uniformly
 * random permutation of all the units (never the identity; a last unit of
 * fewer rows stays in place) and evaluates the measure: for rsa the Mantel
 * test.  p = (1 + #{null >= observed}) / (1 + K).
 *
 * results[i] for measures[i]: the observed similarity (recomputed here on
 * one BLAS thread, as every resample), resampled 1, and the parts that
 * apply; a measure undefined for the data themselves gets resampled 0 and
 * the call goes on with the others (its own evaluation says why).  Resamples
 * where a measure is undefined (too few distinct units) are left out of its
 * counts.  The work runs on so->threads workers with one BLAS thread each;
 * the same seed gives the same numbers for any thread count.  Progress
 * through the context ("rows bootstrap", "rows permutations"); cancellation
 * (simrep_ctx_set_cancel) stops it with SIMREP_E_CANCELLED.  Memory: the
 * rows once plus, per worker, a copy of them and the measure's own working
 * memory, within so->max_memory (0: 1 GiB): workers are fewer to fit, and
 * SIMREP_E_INVALID says how much one needs when even one does not fit.
 * info (NULL: not wanted) receives the units (buckets and segments 0).
 * Errors: SIMREP_E_INVALID (a measure not of family ROWS, options out of
 * range, permutations with units of different sizes: "one size"),
 * SIMREP_E_NONFINITE, SIMREP_E_NOMEM, SIMREP_E_CANCELLED.
 */
simrep_status simrep_stats_rows(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                const simrep_stats_options *so, const simrep_options *options,
                                const simrep_measure *measures, int count, simrep_stats_result *results,
                                simrep_stats_info *info);

/*
 * Distributed runs (see "Distributed runs" above).  simrep_stats_set_share
 * limits the reading plan to part `part` of `parts` (0 <= part < parts),
 * before the first simrep_stats_next: without permutations the units
 * floor(U part / parts) .. floor(U (part + 1) / parts) (the split of
 * par_share-like item shares when a unit is an item); with them the same
 * slice of the units of every segment, then the same slice of the
 * remainder.  The shares of parts 0 .. parts - 1 cover every row once.
 *
 * simrep_stats_save writes the state (simrep_stats_state_len doubles: the
 * sizes, the options that must agree, the origin, the bucket sums and the
 * segment blocks) after the part's last simrep_stats_update;
 * simrep_stats_merge adds a saved state of the same statistics (same n, p,
 * q, units, seed, buckets, segments) into s: SIMREP_E_INVALID naming what
 * differs, or when the rows would exceed n.  simrep_stats_compute then
 * needs every row in the merged state.
 */
simrep_status simrep_stats_set_share(simrep_ctx *ctx, simrep_stats *s, int64_t part, int64_t parts);
int64_t simrep_stats_state_len(const simrep_stats *s);
void simrep_stats_save(const simrep_stats *s, double *state);
simrep_status simrep_stats_merge(simrep_ctx *ctx, simrep_stats *s, const double *state);


/*
 * Group tests on a matrix of distances between N inputs with group labels
 * (simrep matrix): for every pair of groups a < b (and all groups at
 * once, reported as a = b = -1), the statistic is the mean distance
 * between the two groups minus the mean distance within them (pairs inside
 * a or inside b); its p-value permutes the labels of the inputs of the two
 * groups K times (sizes kept): (1 + #{null >= observed}) / (1 + K).  The
 * bootstrap resamples the inputs of each group with replacement (B times)
 * and gives percentile intervals of every group's within mean and every
 * pair's between mean (pairs of an input with itself left out).
 */
typedef struct simrep_group_test {
    int a, b;                /* groups (indices into the labels' 0 .. groups-1), or -1, -1 for all */
    double within, between;  /* observed means */
    double statistic;        /* between - within */
    int64_t permutations;
    double null_mean, null_sd, p_value;
} simrep_group_test;

/* dist: N x N row-major (ld >= N), symmetric; labels[i] in [0, groups).
 * tests receives groups (groups - 1) / 2 + 1 entries (pairs in order
 * (0,1), (0,2), ..., then all); within_ci (groups x 2), between_ci
 * (groups x groups x 2, symmetric; diagonal = within_ci) may be NULL when
 * bootstrap is 0.  Groups with fewer than 2 inputs have no within mean
 * (NaN there, and no test for their pairs: permutations 0). */
simrep_status simrep_group_tests(simrep_ctx *ctx, int64_t n, const double *dist, int64_t ld, const int *labels,
                                 int groups, int64_t permutations, int64_t bootstrap, double ci, uint64_t seed,
                                 simrep_group_test *tests, double *within_ci, double *between_ci);

/* ------------------------------------ which measure tracks function (issue 14) */

/*
 * Rank tests of a measure against function, as Ding, Denain & Steinhardt
 * 2021 ("Grounding representation similarity with statistical testing")
 * report them: x[i] is the distance of representation i to a reference,
 * y[i] the difference of a functional score (|accuracy_i - accuracy_ref|);
 * a measure that tracks function gives distances that rise with y.
 *
 *   rho, rho_p   Spearman's rho (Pearson correlation of the average ranks,
 *                ties averaged) and its one-sided p-value for rho > 0 from
 *                Student's t with n - 2 degrees of freedom, t = rho
 *                sqrt((n - 2) / (1 - rho^2)) (scipy.stats.spearmanr's,
 *                alternative='greater'; Ding et al. halve the two-sided
 *                value, which is the same number).
 *   tau, tau_p   Kendall's tau-b (ties corrected) and its one-sided p for
 *                tau > 0: exact (the distribution of the number of
 *                discordant pairs over all n! orderings) when there are no
 *                ties and n <= 33 (or at most one pair is out of order
 *                either way), else the normal approximation with the
 *                tie-corrected variance (Kendall 1970) -- scipy's
 *                kendalltau(method='auto') rules.
 *   bad_fraction the fraction of the n rows in the lowest `fraction` of x
 *                and the highest `fraction` of y at once: close by the
 *                measure, far in function (Ding et al.'s definition: with
 *                q the percentile rank with ties averaged,
 *                scipy.stats.percentileofscore(kind='rank') / 100, a row is
 *                bad when q_x < fraction and q_y > 1 - fraction).
 *
 * Uncertainty over the rows (the networks), with the statistics of issue
 * 11's seeded streams: bootstrap resamples the n rows with replacement
 * (percentile intervals of rho and tau at level ci; resamples in which x or
 * y is constant are left out and not counted); permutations pair y with a
 * random ordering of x, p = (1 + #{null >= observed}) / (1 + K), for rho
 * and tau.  The same seed gives the same numbers.
 */
typedef struct simrep_rank_options {
    int64_t bootstrap;      /* B resamples of the rows (0: none) */
    int64_t permutations;   /* K random orderings (0: none) */
    double ci;              /* interval level in (0, 1); 0.95 */
    uint64_t seed;          /* 0 */
    double fraction;        /* the bad-fraction cut, in (0, 0.5]; 0.2 (Ding et al.) */
} simrep_rank_options;

void simrep_rank_options_init(simrep_rank_options *options);

typedef struct simrep_rank_result {
    int64_t n;
    double rho, rho_p;       /* Spearman and its one-sided p-value */
    double tau, tau_p;       /* Kendall tau-b and its one-sided p-value */
    int tau_exact;           /* 1: tau_p is exact, 0: the normal approximation */
    int64_t bad;             /* rows close by x but far by y */
    double bad_fraction;     /* bad / n */
    int64_t bootstrap;       /* resamples in which both were defined (<= B) */
    double rho_ci_low, rho_ci_high, tau_ci_low, tau_ci_high;
    int64_t permutations;
    double rho_perm_p, tau_perm_p;
} simrep_rank_result;

/*
 * The tests of x against y (n values each).  Errors: SIMREP_E_INVALID
 * (n < 3, NULL arrays, options out of range, naming the option),
 * SIMREP_E_NONFINITE (a NaN or Inf, naming "x" or "y" and the index),
 * SIMREP_E_DEGENERATE (every x, or every y, equal: no ranking, the
 * message names the side), SIMREP_E_NOMEM.  O(n^2 (1 + B + K)) time (tau
 * by all pairs; n is a count of networks, not of samples).
 */
simrep_status simrep_rank_test(simrep_ctx *ctx, int64_t n, const double *x, const double *y,
                               const simrep_rank_options *options, simrep_rank_result *out);

#ifdef __cplusplus
}
#endif
#endif /* SIMREP_H */
