/*
 * measures.c: the measure registry, the one place that says what each
 * measure is: its id as the CLI, JSON and Python spell it, what it
 * computes, its family (hence what a caller feeds it and how compare.c
 * dispatches it), the options it reads, the result fields it fills, its
 * ranges and direction, its invariances (in words and as bits the tests
 * apply), whether its distance is a metric, the paper and the reference code
 * it matches, and the function that computes it.  Nothing else in the
 * library, the CLI or the Python package names a measure to decide what to
 * do; `simrep measures` prints this table and docs/measures.md explains it.
 *
 * Adding a measure computed from the moments takes its enum value
 * (simrep.h), its row here (with the prototype of its compute function just
 * above the table) and its .c file, plus docs and tests.  A rows-based
 * measure gives a simrep__rows_fn instead (tiled, sharing its passes through
 * the context's partition, as cka_rbf.c does).
 *
 * The options table below is the same for options: name, kind, valid
 * range in numbers and in words, default (set by simrep_options_init, which
 * lives beside the table), the JSON key results echo it under, and the
 * option it excludes; simrep_options_set checks values against it, so the
 * CLI and Python validate through the library.  The families' table holds
 * what a family shares: its name in words, its cache's destructor, and the
 * cost model schedulers balance by.
 */
#include "measures.h"
#include "rows.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ families */

void simrep__cca_cache_free(simrep_ctx *ctx, void *cache);

typedef struct family_row {
    const char *id;
    const char *name;
    void (*cache_free)(simrep_ctx *ctx, void *cache);
} family_row;

static const family_row families[SIMREP_FAMILY_COUNT] = {
    [SIMREP_FAMILY_CCA] = {"cca", "CCA of the kept features, from the streamed moments", simrep__cca_cache_free},
    [SIMREP_FAMILY_MOMENTS] = {"moments", "the streamed moments", NULL},
    [SIMREP_FAMILY_ROWS] = {"rows", "the rows (O(n^2) time, tiled)", NULL},
    [SIMREP_FAMILY_MAPS] = {"maps", "conv feature maps (--conv), one CCA per spatial frequency", NULL},
};

const char *simrep_family_name(simrep_family f)
{
    return (int)f >= 0 && f < SIMREP_FAMILY_COUNT ? families[f].name : NULL;
}

const char *simrep_family_id(simrep_family f)
{
    return (int)f >= 0 && f < SIMREP_FAMILY_COUNT ? families[f].id : NULL;
}

void simrep__prepared_clear_caches(simrep_ctx *ctx, simrep__prepared *pr)
{
    for (int f = 0; f < SIMREP_FAMILY_COUNT; f++) {
        if (pr->cache[f] && families[f].cache_free)
            families[f].cache_free(ctx, pr->cache[f]);
        pr->cache[f] = NULL;
    }
}

/* ------------------------------------------------------------ measures */

simrep_status simrep__cca(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__cca_r2(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__svcca(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__pwcca(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__cka(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__cka_debiased(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__cka_rbf_rows(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                   const simrep_options *opt, simrep_result *r);
simrep_status simrep__cka_rbf_weighted(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                       const simrep_options *opt, const double *w, const double *fixed,
                                       simrep_result *r);
simrep_status simrep__cka_rbf_fixed(simrep_ctx *ctx, const simrep_matrix *x, const simrep_matrix *y,
                                    const simrep_options *opt, double *fixed);
simrep_status simrep__procrustes(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__cka_lange(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__procrustes_angular(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__cka_angular(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__shape_angular(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
simrep_status simrep__shape_euclidean(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);
unsigned simrep__shape_prep(const simrep_options *opt);
simrep_status simrep__linreg(simrep_ctx *ctx, simrep__prepared *pr, simrep_result *r);

#define OPT(o) (1u << SIMREP_OPT_##o)
/* The family decides what a measure is fed and how its time grows with n:
 * the moments are one pass over the rows; the rows measures build n x n
 * kernels, distances or ranks; DFT-CCA is a pass over the maps. */
#define FAMILY(f, rows, maps, tn) .family = SIMREP_FAMILY_##f, .needs_rows = rows, .needs_maps = maps, .time_in_n = tn
#define BOTH_STATS (SIMREP_STATS_BOOTSTRAP | SIMREP_STATS_PERMUTATIONS)
#define MOMENTS_CCA FAMILY(CCA, 0, 0, 1), .statistics = BOTH_STATS
#define MOMENTS FAMILY(MOMENTS, 0, 0, 1), .statistics = BOTH_STATS
/* Rows measures: permutations for every one (rowstats.c); the bootstrap
 * where a weighted version leaves out the pairs of a unit's copies
 * (ROWS_WEIGHTED, with .rows_weighted). */
#define ROWS FAMILY(ROWS, 1, 0, 2), .statistics = SIMREP_STATS_PERMUTATIONS
#define ROWS_WEIGHTED FAMILY(ROWS, 1, 0, 2), .statistics = BOTH_STATS
#define MAPS FAMILY(MAPS, 1, 1, 1), .statistics = 0
/* Invariances shared by many rows. */
#define INV_ROTATION (SIMREP_INV_TRANSLATION | SIMREP_INV_SCALE | SIMREP_INV_ORTHOGONAL | SIMREP_INV_ROW_ORDER)
#define INV_LINEAR (INV_ROTATION | SIMREP_INV_LINEAR)
#define CCA_OUT (SIMREP_OUT_KEPT | SIMREP_OUT_RANK | SIMREP_OUT_COEFS)

static const simrep__measure_row rows[SIMREP_MEASURE_COUNT] = {
    [SIMREP_CCA] = {
        .info = {.id = "cca", .title = "mean canonical correlation (mean CCA similarity)",
                 .similarity = "mean of the k canonical correlations, in [0, 1]",
                 .distance = "1 - similarity (Morcos et al.'s CCA distance), in [0, 1]", .higher_is_more_similar = 1,
                 .invariances = "invertible linear maps of x or y, translation",
                 .reference = "google/svcca cca_core.get_cca_similarity", MOMENTS_CCA,
                 .options = OPT(EPSILON) | OPT(NOISE_ULPS), .outputs = CCA_OUT | SIMREP_OUT_REFERENCE_MEAN,
                 .similarity_min = 0, .similarity_max = 1, .distance_min = 0, .distance_max = 1,
                 .invariant = INV_LINEAR | SIMREP_INV_SWAP,
                 .paper = "Raghu, Gilmer, Yosinski & Sohl-Dickstein 2017, SVCCA (NeurIPS)"},
        .pair = simrep__cca, .prep = SIMREP__PREP_SIDE},
    [SIMREP_CCA_R2] = {
        .info = {.id = "cca_r2", .title = "mean squared canonical correlation (R2_CCA)",
                 .similarity = "mean of rho_i^2, in [0, 1]", .distance = "1 - similarity, in [0, 1]",
                 .higher_is_more_similar = 1, .invariances = "invertible linear maps of x or y, translation",
                 .reference = "google/svcca cca_core.get_cca_similarity (squared coefficients)", MOMENTS_CCA,
                 .options = OPT(EPSILON) | OPT(NOISE_ULPS), .outputs = CCA_OUT, .similarity_min = 0, .similarity_max = 1,
                 .distance_min = 0, .distance_max = 1, .invariant = INV_LINEAR | SIMREP_INV_SWAP,
                 .paper = "Yanai 1974 (R2 of CCA); Kornblith, Norouzi, Lee & Hinton 2019 (ICML)"},
        .pair = simrep__cca_r2, .prep = SIMREP__PREP_SIDE, .chance = simrep__chance_cca_r2},
    [SIMREP_SVCCA] = {
        .info = {.id = "svcca", .title = "SVCCA: CCA of the top principal directions",
                 .similarity = "mean canonical correlation after keeping the directions explaining 99% of the "
                               "variance, in [0, 1]",
                 .distance = "1 - similarity, in [0, 1]", .higher_is_more_similar = 1,
                 .invariances = "orthogonal maps and isotropic scaling of x or y, translation",
                 .reference = "google/svcca tutorials (SVD, then get_cca_similarity)", MOMENTS_CCA,
                 .options = OPT(EPSILON) | OPT(NOISE_ULPS) | OPT(SVCCA_RULE) | OPT(SVCCA_KEEP) |
                            OPT(SVCCA_DIMS),
                 .outputs = CCA_OUT | SIMREP_OUT_DIMS, .similarity_min = 0, .similarity_max = 1, .distance_min = 0,
                 .distance_max = 1, .invariant = INV_ROTATION,
                 .paper = "Raghu, Gilmer, Yosinski & Sohl-Dickstein 2017, SVCCA (NeurIPS)"},
        .pair = simrep__svcca, .prep = SIMREP__PREP_SIDE},
    [SIMREP_PWCCA] = {
        .info = {.id = "pwcca", .title = "projection-weighted CCA",
                 .similarity = "weighted mean of canonical correlations, in [0, 1]",
                 .distance = "1 - similarity, in [0, 1]", .higher_is_more_similar = 1,
                 .invariances = "isotropic scaling of x or y (weights depend on the data's mean and basis)",
                 .reference = "google/svcca pwcca.compute_pwcca; --pwcca-variant ding: Ding et al. 2021's "
                              "sim_metric pwcca_dist",
                 MOMENTS_CCA, .options = OPT(EPSILON) | OPT(NOISE_ULPS) | OPT(PWCCA_VARIANT),
                 .outputs = CCA_OUT | SIMREP_OUT_WEIGHTS, .similarity_min = 0, .similarity_max = 1,
                 .distance_min = 0, .distance_max = 1, .invariant = SIMREP_INV_SCALE | SIMREP_INV_ROW_ORDER,
                 .paper = "Morcos, Raghu & Bengio 2018, Insights on representational similarity (NeurIPS)"},
        .pair = simrep__pwcca, .prep = SIMREP__PREP_SIDE},
    [SIMREP_CKA] = {
        .info = {.id = "cka", .title = "linear centered kernel alignment",
                 .similarity = "|XcᵀYc|_F^2 / (|XcᵀXc|_F |YcᵀYc|_F), in [0, 1]",
                 .distance = "1 - similarity, in [0, 1]", .higher_is_more_similar = 1,
                 .invariances = "orthogonal maps and isotropic scaling of x or y, translation",
                 .reference = "CKA demo notebook feature_space_linear_cka", MOMENTS, .options = 0, .outputs = 0,
                 .similarity_min = 0, .similarity_max = 1, .distance_min = 0, .distance_max = 1,
                 .invariant = INV_ROTATION | SIMREP_INV_SWAP,
                 .paper = "Kornblith, Norouzi, Lee & Hinton 2019, Similarity of neural network representations "
                          "revisited (ICML)"},
        .pair = simrep__cka, .chance = simrep__chance_cka},
    [SIMREP_CKA_DEBIASED] = {
        .info = {.id = "cka_debiased", .title = "linear CKA with Song et al.'s unbiased HSIC (the U-statistic; not cka_lange)",
                 .similarity = "debiased linear CKA, in [-1, 1] (can be slightly negative for unrelated data)",
                 .distance = "1 - similarity, in [0, 2]", .higher_is_more_similar = 1,
                 .invariances = "orthogonal maps and isotropic scaling of x or y, translation",
                 .reference = "CKA demo notebook feature_space_linear_cka(debiased=True)", MOMENTS, .options = 0,
                 .outputs = 0, .similarity_min = -1, .similarity_max = 1, .distance_min = 0, .distance_max = 2,
                 .invariant = INV_ROTATION | SIMREP_INV_SWAP,
                 .paper = "Kornblith et al. 2019 (ICML); the estimator: Song, Smola, Gretton, Bedo & Borgwardt "
                          "2012 (JMLR)"},
        .pair = simrep__cka_debiased, .chance = simrep__chance_zero},
    [SIMREP_CKA_RBF] = {
        .info = {.id = "cka_rbf", .title = "CKA with Gaussian (RBF) kernels",
                 .similarity = "CKA of exp(-d^2 / (2 sigma^2 median d^2)) kernels, in [0, 1]",
                 .distance = "1 - similarity, in [0, 1]", .higher_is_more_similar = 1,
                 .invariances = "orthogonal maps, isotropic scaling and translation of x or y",
                 .reference = "CKA demo notebook gram_rbf + cka", ROWS_WEIGHTED, .options = OPT(RBF_SIGMA) | OPT(RBF_MEMORY),
                 .outputs = 0,
                 .similarity_min = 0, .similarity_max = 1, .distance_min = 0, .distance_max = 1,
                 .invariant = INV_ROTATION | SIMREP_INV_SWAP,
                 .paper = "Kornblith, Norouzi, Lee & Hinton 2019, Similarity of neural network representations "
                          "revisited (ICML)"},
        .rows = simrep__cka_rbf_rows, .rows_weighted = simrep__cka_rbf_weighted, .rows_fixed = simrep__cka_rbf_fixed},
    [SIMREP_PROCRUSTES] = {
        .info = {.id = "procrustes", .title = "orthogonal Procrustes (squared distance)",
                 .similarity = "nuclear norm of XcᵀYc with Xc, Yc centered and unit-Frobenius, in [0, 1]",
                 .distance = "2 - 2 x similarity, in [0, 2]", .higher_is_more_similar = 1,
                 .invariances = "orthogonal maps and isotropic scaling of x or y, translation",
                 .reference = "Ding et al. 2021's sim_metric procrustes", MOMENTS, .options = 0, .outputs = 0,
                 .similarity_min = 0, .similarity_max = 1, .distance_min = 0, .distance_max = 2,
                 .invariant = INV_ROTATION | SIMREP_INV_SWAP,
                 .paper = "Ding, Denain & Steinhardt 2021, Grounding representation similarity with statistical "
                          "testing (NeurIPS)"},
        .pair = simrep__procrustes},
    [SIMREP_PROCRUSTES_ANGULAR] = {
        .info = {.id = "procrustes_angular", .title = "orthogonal Procrustes (angular metric)",
                 .similarity = "as procrustes, in [0, 1]", .distance = "arccos(similarity), in [0, pi/2]; a metric",
                 .higher_is_more_similar = 1, .invariances = "orthogonal maps and isotropic scaling of x or y, "
                                                             "translation",
                 .reference = "netrep LinearMetric(alpha=1, score_method='angular')", MOMENTS, .options = 0,
                 .outputs = 0, .similarity_min = 0, .similarity_max = 1, .distance_min = 0,
                 .distance_max = 1.5707963267948966 /* pi/2 */, .invariant = INV_ROTATION | SIMREP_INV_SWAP, .metric = 1,
                 .paper = "Williams, Kunz, Kornblith & Linderman 2021, Generalized shape metrics on neural "
                          "representations (NeurIPS)"},
        .pair = simrep__procrustes_angular},
    [SIMREP_DFTCCA] = {
        .info = {.id = "dftcca", .title = "DFT-CCA of conv feature maps: one complex CCA per spatial frequency",
                 .similarity = "mean of the canonical correlations of every spatial frequency, in [0, 1]",
                 .distance = "1 - similarity, in [0, 1]", .higher_is_more_similar = 1,
                 .invariances = "invertible linear maps of the channels of x or y, circular spatial shifts, "
                                "translation",
                 .reference = "google/svcca dft_ccas.fourier_ccas; needs --conv", MAPS, .options = OPT(EPSILON),
                 .outputs = 0, .similarity_min = 0, .similarity_max = 1, .distance_min = 0, .distance_max = 1,
                 .invariant = INV_LINEAR | SIMREP_INV_SWAP,
                 .paper = "Raghu, Gilmer, Yosinski & Sohl-Dickstein 2017, SVCCA (NeurIPS), section 4"}},
    [SIMREP_RSA] = {
        .info = {.id = "rsa", .title = "representational similarity analysis: correlation of the two RDMs",
                 .similarity = "correlation (--rsa-compare pearson, spearman or kendall's tau-b) of the two "
                               "representational dissimilarity matrices' upper triangles, in [-1, 1]",
                 .distance = "1 - similarity, in [0, 2]", .higher_is_more_similar = 1,
                 .invariances = "scaling x or y, permuting the samples together (with --rsa-rdm euclidean also "
                                "translation and orthogonal maps; cosine: orthogonal maps)",
                 .reference = "rsatoolbox rdm.calc_rdm ('correlation', 'euclidean'; scipy pdist 'cosine') and "
                              "rdm.compare ('corr', 'spearman', 'kendall'); exact, every pair",
                 ROWS_WEIGHTED, .options = OPT(RSA_RDM) | OPT(RSA_COMPARE) | OPT(RSA_MEMORY), .outputs = 0,
                 .similarity_min = -1, .similarity_max = 1, .distance_min = 0, .distance_max = 2,
                 .invariant = SIMREP_INV_SCALE | SIMREP_INV_SWAP | SIMREP_INV_ROW_ORDER,
                 .paper = "Kriegeskorte, Mur & Bandettini 2008, Representational similarity analysis (Front. Syst. "
                          "Neurosci.)"},
        .rows = simrep__rsa, .rows_weighted = simrep__rsa_weighted},
    [SIMREP_MUTUAL_KNN] = {
        .info = {.id = "mutual_knn", .title = "mutual k-nearest-neighbour alignment",
                 .similarity = "mean over samples of the fraction of their k nearest neighbours (cosine) shared "
                               "by x and y, in [0, 1]",
                 .distance = "1 - similarity, in [0, 1]", .higher_is_more_similar = 1,
                 .invariances = "scaling each sample, orthogonal maps of x or y, permuting the samples together",
                 .reference = "platonic-rep metrics.mutual_knn on L2-normalised rows (compute_score); ties to the "
                              "smaller index",
                 ROWS_WEIGHTED, .options = OPT(KNN), .outputs = 0, .similarity_min = 0, .similarity_max = 1,
                 .distance_min = 0, .distance_max = 1,
                 .invariant = SIMREP_INV_SCALE | SIMREP_INV_ORTHOGONAL | SIMREP_INV_SWAP | SIMREP_INV_ROW_ORDER,
                 .paper = "Huh, Cheung, Wang & Isola 2024, The Platonic Representation Hypothesis (ICML)"},
        .rows = simrep__mutual_knn, .rows_weighted = simrep__mutual_knn_weighted},
    [SIMREP_CKNNA] = {
        .info = {.id = "cknna", .title = "CKNNA: CKA restricted to mutual k-nearest neighbours",
                 .similarity = "unbiased HSIC of the kNN-masked cosine kernels over sqrt(their self-HSICs) + "
                               "1e-6, about [-1, 1]",
                 .distance = "1 - similarity", .higher_is_more_similar = 1,
                 .invariances = "scaling each sample, orthogonal maps of x or y, permuting the samples together",
                 .reference = "platonic-rep metrics.cknna (unbiased, its + 1e-6) on L2-normalised rows; ties to the "
                              "smaller index",
                 ROWS_WEIGHTED, .options = OPT(KNN), .outputs = SIMREP_OUT_REVERSE, .similarity_min = -INFINITY,
                 .similarity_max = INFINITY, .distance_min = -INFINITY, .distance_max = INFINITY,
                 .invariant = SIMREP_INV_SCALE | SIMREP_INV_ORTHOGONAL | SIMREP_INV_ROW_ORDER,
                 .paper = "Huh, Cheung, Wang & Isola 2024, The Platonic Representation Hypothesis (ICML)"},
        .rows = simrep__cknna, .rows_weighted = simrep__cknna_weighted},
    [SIMREP_CKA_LANGE] = {
        .info = {.id = "cka_lange", .title = "linear CKA without the centered Gram matrices' diagonals",
                 .similarity = "cosine of HKH and HLH with their diagonals zeroed, in [-1, 1] (not cka_debiased: "
                               "no U-statistic correction)",
                 .distance = "arccos(similarity), in [0, pi]; a metric", .higher_is_more_similar = 1,
                 .invariances = "orthogonal maps and isotropic scaling of x or y, translation",
                 .reference = "repsim AngularCKA(use_unbiased_hsic=True), the linear kernel", MOMENTS, .options = 0,
                 .outputs = 0, .similarity_min = -1, .similarity_max = 1, .distance_min = 0,
                 .distance_max = 3.141592653589793 /* pi */, .invariant = INV_ROTATION | SIMREP_INV_SWAP,
                 .metric = 1,
                 .paper = "Lange, Kwok, Matelsky, Wang, Rolnick & Kording 2023, Deep networks as paths on the "
                          "manifold of neural representations (TAG-ML, PMLR 221)"},
        .pair = simrep__cka_lange},
    [SIMREP_CKA_ANGULAR] = {
        .info = {.id = "cka_angular", .title = "angular linear CKA (the angle between the centred Gram matrices)",
                 .similarity = "linear CKA, in [0, 1]", .distance = "arccos(similarity), in [0, pi/2]; a metric",
                 .higher_is_more_similar = 1,
                 .invariances = "orthogonal maps and isotropic scaling of x or y, translation",
                 .reference = "netrep LinearCKA (angular_distance of the centred Gram matrices)", MOMENTS,
                 .options = 0, .outputs = 0, .similarity_min = 0, .similarity_max = 1, .distance_min = 0,
                 .distance_max = 1.5707963267948966, .invariant = INV_ROTATION | SIMREP_INV_SWAP, .metric = 1,
                 .paper = "Williams, Kunz, Kornblith & Linderman 2021, Generalized shape metrics on neural "
                          "representations (NeurIPS); CKA: Kornblith et al. 2019"},
        .pair = simrep__cka_angular},
    [SIMREP_SHAPE_ANGULAR] = {
        .info = {.id = "shape_angular", .title = "generalized shape metric, angular (partial whitening --shape-alpha)",
                 .similarity = "cosine of the aligned, partially whitened data, in [0, 1]",
                 .distance = "the angle arccos(similarity), in [0, pi/2]; a metric",
                 .higher_is_more_similar = 1,
                 .invariances = "orthogonal maps and isotropic scaling of x or y, translation (alpha = 1, the "
                                "default; alpha = 0: invertible linear maps)",
                 .reference = "netrep LinearMetric(alpha, score_method='angular'), centred, zero-padded", MOMENTS,
                 .options = OPT(SHAPE_ALPHA), .outputs = 0, .similarity_min = 0, .similarity_max = 1,
                 .distance_min = 0, .distance_max = 1.5707963267948966,
                 .invariant = INV_ROTATION | SIMREP_INV_SWAP, .metric = 1,
                 .paper = "Williams, Kunz, Kornblith & Linderman 2021, Generalized shape metrics on neural "
                          "representations (NeurIPS)"},
        .pair = simrep__shape_angular, .prep_at = simrep__shape_prep},
    [SIMREP_SHAPE_EUCLIDEAN] = {
        .info = {.id = "shape_euclidean", .title = "generalized shape metric, Euclidean (partial whitening "
                                                   "--shape-alpha)",
                 .similarity = "cosine of the aligned, partially whitened data, in [0, 1] (as shape_angular)",
                 .distance = "|X Zx U - Y Zy V|_F after the alignment, in the data's units, >= 0; a metric",
                 .higher_is_more_similar = 1,
                 .invariances = "orthogonal maps of x or y, translation (not scaling: the distance is in the "
                                "data's units)",
                 .reference = "netrep LinearMetric(alpha, score_method='euclidean'), centred, zero-padded",
                 MOMENTS, .options = OPT(SHAPE_ALPHA), .outputs = 0, .similarity_min = 0, .similarity_max = 1,
                 .distance_min = 0, .distance_max = INFINITY,
                 .invariant = SIMREP_INV_TRANSLATION | SIMREP_INV_ORTHOGONAL | SIMREP_INV_ROW_ORDER | SIMREP_INV_SWAP,
                 .metric = 1,
                 .paper = "Williams, Kunz, Kornblith & Linderman 2021, Generalized shape metrics on neural "
                          "representations (NeurIPS)"},
        .pair = simrep__shape_euclidean, .prep_at = simrep__shape_prep},
    [SIMREP_LINREG] = {
        .info = {.id = "linreg", .title = "linear regression: the fraction of y's variance explained from x",
                 .similarity = "R^2 of the least-squares fit of y from x with an intercept, over y's summed "
                               "variance, in [0, 1]",
                 .distance = "1 - similarity, in [0, 1]", .higher_is_more_similar = 1,
                 .invariances = "invertible linear maps of x, orthogonal maps and isotropic scaling of y, "
                                "translation (--ridge 0, the default)",
                 .reference = "numpy.linalg.lstsq with an intercept column; --ridge: sklearn Ridge(alpha), "
                              "r2_score(multioutput='variance_weighted')",
                 MOMENTS, .options = OPT(RIDGE), .outputs = SIMREP_OUT_REVERSE | SIMREP_OUT_COEFS,
                 .similarity_min = 0, .similarity_max = 1, .distance_min = 0, .distance_max = 1,
                 .invariant = INV_ROTATION,
                 .paper = "Klabunde, Schumacher, Strohmaier & Lemmerich 2023, Similarity of neural network "
                          "models: a survey of functional and representational measures (linear regression)"},
        .pair = simrep__linreg, .prep = SIMREP__PREP_EIG},
};

/* What a user gets without naming measures: the CCA paper's three and
 * linear CKA, the most used today. */
static const simrep_measure defaults[] = {SIMREP_CCA, SIMREP_SVCCA, SIMREP_PWCCA, SIMREP_CKA};

const simrep__measure_row *simrep__measure_row_get(simrep_measure m)
{
    return (int)m >= 0 && m < SIMREP_MEASURE_COUNT ? &rows[m] : NULL;
}

const simrep_measure_info *simrep_measure_get_info(simrep_measure m)
{
    return (int)m >= 0 && m < SIMREP_MEASURE_COUNT ? &rows[m].info : NULL;
}

int simrep_measure_from_id(const char *id)
{
    if (!id)
        return -1;
    for (int i = 0; i < SIMREP_MEASURE_COUNT; i++)
        if (strcmp(rows[i].info.id, id) == 0)
            return i;
    return -1;
}

int simrep_default_measures(simrep_measure *ids, int cap)
{
    const int count = (int)(sizeof defaults / sizeof defaults[0]);
    for (int i = 0; ids && i < count && i < cap; i++)
        ids[i] = defaults[i];
    return count;
}

int simrep_all_measures(simrep_measure *ids, int cap, unsigned flags)
{
    int count = 0;
    for (int m = 0; m < SIMREP_MEASURE_COUNT; m++) {
        const simrep_measure_info *in = &rows[m].info;
        if (in->family == SIMREP_FAMILY_MAPS && !(flags & SIMREP_ALL_MAPS))
            continue;
        if (in->time_in_n > 1 && !(flags & SIMREP_ALL_QUADRATIC))
            continue;
        if (ids && count < cap)
            ids[count] = (simrep_measure)m;
        count++;
    }
    return count;
}

unsigned simrep__measures_prep(const simrep_measure *measures, int count, const simrep_options *opt)
{
    unsigned prep = 0;
    for (int i = 0; i < count; i++) {
        const simrep__measure_row *r = simrep__measure_row_get(measures[i]);
        if (r)
            prep |= r->prep_at ? r->prep_at(opt) : r->prep;
    }
    return prep;
}

/*
 * Cost model (flops up to a constant factor, for balancing only): a moments
 * measure's pair costs its cross terms and their SVD, about p q (p + q);
 * a measure that needs a per-input eigendecomposition adds p^3 once per
 * input; a rows measure costs n^2 (p + q) per pair (its tile passes).
 */
double simrep_measure_pair_cost(simrep_measure m, int64_t n, int64_t p, int64_t q)
{
    const simrep_measure_info *in = simrep_measure_get_info(m);
    const double dn = (double)n, dp = (double)p, dq = (double)q;
    if (!in)
        return 0;
    if (in->family == SIMREP_FAMILY_ROWS || in->family == SIMREP_FAMILY_MAPS)
        return dn * dn * (dp + dq);
    return dp * dq * (dp + dq);
}

double simrep_measure_input_cost(simrep_measure m, int64_t n, int64_t p)
{
    const simrep__measure_row *r = simrep__measure_row_get(m);
    (void)n;
    /* A prep_at row may need an eigendecomposition at some options: counted. */
    const unsigned prep = r ? r->prep | (r->prep_at ? SIMREP__PREP_EIG : 0) : 0;
    return prep & (SIMREP__PREP_SIDE | SIMREP__PREP_EIG) ? (double)p * (double)p * (double)p : 0;
}

/* ------------------------------------------------------------- outputs */

static const char *const output_keys[SIMREP_OUT_COUNT] = {"kept", "dims", "reference_mean", "coefs", "weights",
                                                           "reverse", "rank"};

static const char *const invariance_names[SIMREP_INV_COUNT] = {"translation", "scale", "orthogonal", "linear",
                                                                "swap", "row_order"};

const char *simrep_invariance_name(unsigned inv)
{
    for (int b = 0; b < SIMREP_INV_COUNT; b++)
        if (inv == 1u << b)
            return invariance_names[b];
    return NULL;
}

const char *simrep_output_key(unsigned output)
{
    for (int b = 0; b < SIMREP_OUT_COUNT; b++)
        if (output == 1u << b)
            return output_keys[b];
    return NULL;
}

unsigned simrep_warnings_of_side(unsigned warnings, int side)
{
    static const unsigned x_flag[][2] = {
        {SIMREP_WARN_FEW_SAMPLES_X, SIMREP_WARN_FEW_SAMPLES},
        {SIMREP_WARN_FEW_SAMPLES_RANK_X, SIMREP_WARN_FEW_SAMPLES_RANK},
        {SIMREP_WARN_DEAD_X, SIMREP_WARN_DEAD_FEATURES},
        {SIMREP_WARN_ROUNDING_X, SIMREP_WARN_ROUNDING},
        {SIMREP_WARN_RIDGE_X, SIMREP_WARN_RIDGE},
    };
    unsigned out = 0;
    if (side != 0 && side != 1)
        return 0;
    for (size_t k = 0; k < sizeof x_flag / sizeof x_flag[0]; k++)
        if (warnings & (x_flag[k][0] << side)) /* each _Y flag is its _X flag's next bit */
            out |= x_flag[k][1];
    return out;
}

const char *simrep_warning_text(unsigned flag)
{
    switch (flag) {
    case SIMREP_WARN_FEW_SAMPLES:
    case SIMREP_WARN_FEW_SAMPLES_X:
    case SIMREP_WARN_FEW_SAMPLES_Y:
        return "is less than 10 x the kept features: CCA-family values are biased toward 1 (when n - 1 < kept p "
               "+ kept q, at least kept p + kept q - n + 1 canonical correlations are near 1 whatever the data)";
    case SIMREP_WARN_FEW_SAMPLES_RANK:
    case SIMREP_WARN_FEW_SAMPLES_RANK_X:
    case SIMREP_WARN_FEW_SAMPLES_RANK_Y:
        return "is no more than the kept features: the centred samples span at most n - 1 directions, so at most "
               "n - 1 canonical correlations can be non-zero, which bounds cca and cca_r2 by (n - 1) / (the "
               "smaller side's kept features), a file against itself included; and once one side spans those "
               "n - 1 directions, the non-zero ones are near 1 whatever the data";
    case SIMREP_WARN_DEAD_FEATURES:
    case SIMREP_WARN_DEAD_X:
    case SIMREP_WARN_DEAD_Y:
        return "features are constant (dead, variance <= epsilon x the largest) and were left out of the CCA "
               "family";
    case SIMREP_WARN_MIXED_PRECISION:
        return "precision mixed: the CCA-family values may be off by more than 1e-6 here (the covariance of x or y "
               "is too ill-conditioned for single-precision products; CKA and Procrustes are not affected); use "
               "float64 precision for them";
    case SIMREP_WARN_LAYOUT:
        return "more features than samples, and as many features on both sides: the shape of features x samples "
               "arrays read as samples x features; if they are features x samples (the google/svcca layout), give "
               "--features-first (Python: features_first=True)";
    case SIMREP_WARN_RECOMPUTED:
        return "precision mixed: x or y is too ill-conditioned for single-precision products, so the values were "
               "recomputed in float64";
    case SIMREP_WARN_ROUNDING:
    case SIMREP_WARN_ROUNDING_X:
    case SIMREP_WARN_ROUNDING_Y:
        return "directions of the kept covariance have no more variance than the rounding of the data's dtype "
               "could give them (<= (noise_ulps u)^2 x the features' mean squares) and were left out of the CCA "
               "family: their canonical correlations count as 0 (docs/measures.md, --noise-ulps)";
    case SIMREP_WARN_RIDGE:
    case SIMREP_WARN_RIDGE_X:
    case SIMREP_WARN_RIDGE_Y:
        return "directions of the kept covariance have variance below 99 x epsilon of the largest: the ridge "
               "(--epsilon) shrinks their canonical correlations by more than 1% (the data against themselves "
               "give less than 1)";
    }
    return NULL;
}

/* ------------------------------------------------------------- options */

static const simrep_option_info options[SIMREP_OPTION_COUNT] = {
    [SIMREP_OPT_EPSILON] = {.name = "epsilon", .metavar = "E",
                            .help = "dead-feature threshold and CCA ridge, relative to the largest variance (1e-10)",
                            /* Below 1: epsilon = 1 calls every feature but none dead
                             * (variance <= the largest) and blames the data. */
                            .kind = SIMREP_OPTION_REAL, .min = 0, .max = 1, .max_open = 1,
                            .valid = "a number in [0, 1)"},
    [SIMREP_OPT_SVCCA_RULE] = {.name = "svcca_rule", .metavar = "R",
                               .help = "variance (default) or singular-values (the tutorial code's rule)",
                               .kind = SIMREP_OPTION_CHOICE, .min = 0, .max = 1,
                               .choices = "variance|singular-values", .valid = "variance or singular-values"},
    [SIMREP_OPT_SVCCA_KEEP] = {.name = "svcca_keep", .metavar = "F",
                               .help = "svcca keeps the fewest directions explaining fraction F of the variance "
                                       "(0.99)",
                               .kind = SIMREP_OPTION_REAL, .min = 0, .max = 1, .min_open = 1,
                               .valid = "a fraction in (0, 1]", .excludes = "svcca_dims"},
    [SIMREP_OPT_SVCCA_DIMS] = {.name = "svcca_dims", .metavar = "K",
                               .help = "svcca keeps exactly K directions per side instead",
                               /* 10^15: exact in a double, far above any feature count. */
                               .kind = SIMREP_OPTION_INTEGER, .min = 1, .max = 1e15, .max_open = 1,
                               .valid = "a whole number in [1, 10^15)", .excludes = "svcca_keep"},
    [SIMREP_OPT_PWCCA_VARIANT] = {.name = "pwcca_variant", .metavar = "V",
                                  .help = "google (default, Morcos et al. 2018) or ding (Ding et al. 2021)",
                                  .kind = SIMREP_OPTION_CHOICE, .min = 0, .max = 1, .choices = "google|ding",
                                  .valid = "google or ding", .json_key = "variant"},
    [SIMREP_OPT_RBF_SIGMA] = {.name = "rbf_sigma", .metavar = "S",
                              .help = "cka_rbf bandwidth as a multiple of the median distance (1.0)",
                              /* The kernel is exp(-d^2 / (2 sigma^2 m)), m the median d^2.
                               * Above 10^4 its entries differ from 1 by under 10^-8 and the
                               * centered kernel is mostly rounding (10^10 leaves it 0: the
                               * data were blamed); below 10^-4 it is the identity for any
                               * data without pairs within 10^-3 of the median distance
                               * (cka_rbf = 1 whatever the data). */
                              .kind = SIMREP_OPTION_REAL, .min = 1e-4, .max = 1e4,
                              .valid = "a number in [1e-4, 1e4]", .json_key = "sigma"},
    [SIMREP_OPT_SHAPE_ALPHA] = {.name = "shape_alpha", .metavar = "A",
                                .help = "shape metrics' partial whitening: 1 (none, Procrustes, default) .. 0 "
                                        "(full, CCA-like)",
                                .kind = SIMREP_OPTION_REAL, .min = 0, .max = 1, .valid = "a number in [0, 1]",
                                .json_key = "alpha"},
    [SIMREP_OPT_RIDGE] = {.name = "ridge", .metavar = "L",
                          .help = "linreg's ridge penalty on the coefficients, in scatter units (0: least squares)",
                          .kind = SIMREP_OPTION_REAL, .min = 0, .max = INFINITY, .valid = "a number >= 0",
                          .json_key = "ridge"},
    [SIMREP_OPT_RSA_RDM] = {.name = "rsa_rdm", .metavar = "D",
                            .help = "rsa's dissimilarity of two samples: euclidean, correlation (default) or cosine",
                            .kind = SIMREP_OPTION_CHOICE, .min = 0, .max = 2, .choices = "euclidean|correlation|cosine",
                            .valid = "euclidean, correlation or cosine", .json_key = "rdm"},
    [SIMREP_OPT_RSA_COMPARE] = {.name = "rsa_compare", .metavar = "C",
                                .help = "how rsa compares the two RDMs: pearson, spearman (default) or kendall",
                                .kind = SIMREP_OPTION_CHOICE, .min = 0, .max = 2,
                                .choices = "pearson|spearman|kendall", .valid = "pearson, spearman or kendall",
                                .json_key = "compare"},
    [SIMREP_OPT_KNN] = {.name = "knn", .metavar = "K",
                        .help = "mutual_knn and cknna: nearest neighbours per sample (10)",
                        .kind = SIMREP_OPTION_INTEGER, .min = 1, .max = 1e15, .max_open = 1,
                        .valid = "a whole number in [1, 10^15)", .json_key = "k"},
    [SIMREP_OPT_RSA_MEMORY] = {.name = "rsa_memory", .metavar = "MIB",
                               .help = "rsa's rank comparisons sort this many MiB in memory, then spill to $TMPDIR "
                                       "(1024)",
                               .kind = SIMREP_OPTION_REAL, .min = 1.0 / 16, .max = 1048576.0,
                               .valid = "a number of MiB in [1/16, 2^20]"},
    [SIMREP_OPT_PRECISION] = {.name = "precision", .metavar = "P",
                              .help = "float64 (default) or mixed: single-precision products of block-centred data "
                                      "summed in float64, ~2x faster pass, within ~1e-6 (docs/speed.md)",
                              .kind = SIMREP_OPTION_CHOICE, .min = 0, .max = 1, .choices = "float64|mixed",
                              .valid = "float64 or mixed"},
    [SIMREP_OPT_RBF_MEMORY] = {.name = "rbf_memory", .metavar = "MIB",
                               .help = "cka_rbf keeps up to this many MiB of distance tiles between its passes "
                                       "instead of recomputing them (1024; 0: none)",
                               .kind = SIMREP_OPTION_REAL, .min = 0, .max = 1048576.0,
                               .valid = "a number of MiB in [0, 2^20]"},
    [SIMREP_OPT_NOISE_ULPS] = {.name = "noise_ulps", .metavar = "U",
                               .help = "CCA family: covariance directions within U units of the data's rounding "
                                       "(float32/16, bfloat16) are noise, left out (4; 0: off)",
                               .kind = SIMREP_OPTION_REAL, .min = 0, .max = 1e6, .valid = "a number in [0, 1e6]"},
};

void simrep_options_init(simrep_options *o)
{
    memset(o, 0, sizeof *o);
    /* docs/measures.md: the default dead-feature threshold and CCA ridge, the value
     * users pass to google/svcca's get_cca_similarity. */
    o->epsilon = 1e-10;
    o->svcca_rule = SIMREP_SVCCA_VARIANCE;
    /* Raghu et al. 2017 keep the directions explaining 99% of the variance. */
    o->svcca_keep = 0.99;
    o->svcca_dims = 0;
    o->pwcca_variant = SIMREP_PWCCA_GOOGLE;
    /* The CKA notebook's gram_rbf default threshold. */
    o->rbf_sigma = 1.0;
    /* netrep LinearMetric's default: no whitening (the Procrustes metric). */
    o->shape_alpha = 1.0;
    /* Plain least squares, as numpy.linalg.lstsq. */
    o->ridge = 0.0;
    /* issue 12: rsatoolbox's usual RDM and comparison; platonic-rep's k. */
    o->rsa_rdm = SIMREP_RDM_CORRELATION;
    o->rsa_compare = SIMREP_RSA_SPEARMAN;
    o->knn = 10;
    /* 1 GiB holds n ~ 8000 samples' n(n-1)/2 distance pairs (32 bytes each with
     * the sort's scratch); larger n spill to $TMPDIR. */
    o->rsa_memory = 1024;
    /* issue 15: at n = 8000 all of cka_rbf's tiles (2 x 260 MiB) fit and
     * each pass after the first reads them back instead of a dgemm. */
    o->rbf_memory = 1024;
    /* docs/measures.md "Directions at the data's rounding level": errors of
     * up to 4 units of rounding per element (a LayerNorm's own arithmetic
     * put up to ~1.7 in its noise direction, measured). */
    o->noise_ulps = 4;
}

const simrep_option_info *simrep_option_get_info(simrep_option_id id)
{
    return (int)id >= 0 && id < SIMREP_OPTION_COUNT ? &options[id] : NULL;
}

/* Compare an option name with a spelling: '-' and '_' alike, "--" optional. */
static int same_name(const char *name, const char *s)
{
    if (s[0] == '-' && s[1] == '-')
        s += 2;
    for (; *name && *s; name++, s++)
        if (*name != *s && !((*name == '_' || *name == '-') && (*s == '_' || *s == '-')))
            return 0;
    return *name == *s;
}

int simrep_option_from_name(const char *name)
{
    for (int i = 0; name && i < SIMREP_OPTION_COUNT; i++)
        if (same_name(options[i].name, name))
            return i;
    return -1;
}

double simrep_options_get(const simrep_options *o, simrep_option_id id)
{
    switch (id) {
    case SIMREP_OPT_EPSILON: return o->epsilon;
    case SIMREP_OPT_SVCCA_RULE: return (double)o->svcca_rule;
    case SIMREP_OPT_SVCCA_KEEP: return o->svcca_keep;
    case SIMREP_OPT_SVCCA_DIMS: return (double)o->svcca_dims;
    case SIMREP_OPT_PWCCA_VARIANT: return (double)o->pwcca_variant;
    case SIMREP_OPT_RBF_SIGMA: return o->rbf_sigma;
    case SIMREP_OPT_SHAPE_ALPHA: return o->shape_alpha;
    case SIMREP_OPT_RIDGE: return o->ridge;
    case SIMREP_OPT_RSA_RDM: return (double)o->rsa_rdm;
    case SIMREP_OPT_RSA_COMPARE: return (double)o->rsa_compare;
    case SIMREP_OPT_KNN: return (double)o->knn;
    case SIMREP_OPT_RSA_MEMORY: return o->rsa_memory;
    case SIMREP_OPT_PRECISION: return (double)o->precision;
    case SIMREP_OPT_RBF_MEMORY: return o->rbf_memory;
    case SIMREP_OPT_NOISE_ULPS: return o->noise_ulps;
    case SIMREP_OPTION_COUNT: break;
    }
    return 0;
}

static void options_put(simrep_options *o, simrep_option_id id, double v)
{
    switch (id) {
    case SIMREP_OPT_EPSILON: o->epsilon = v; break;
    case SIMREP_OPT_SVCCA_RULE: o->svcca_rule = (simrep_svcca_rule)(int)v; break;
    case SIMREP_OPT_SVCCA_KEEP: o->svcca_keep = v; break;
    case SIMREP_OPT_SVCCA_DIMS: o->svcca_dims = (int64_t)v; break;
    case SIMREP_OPT_PWCCA_VARIANT: o->pwcca_variant = (simrep_pwcca_variant)(int)v; break;
    case SIMREP_OPT_RBF_SIGMA: o->rbf_sigma = v; break;
    case SIMREP_OPT_SHAPE_ALPHA: o->shape_alpha = v; break;
    case SIMREP_OPT_RIDGE: o->ridge = v; break;
    case SIMREP_OPT_RSA_RDM: o->rsa_rdm = (simrep_rsa_rdm)(int)v; break;
    case SIMREP_OPT_RSA_COMPARE: o->rsa_compare = (simrep_rsa_compare)(int)v; break;
    case SIMREP_OPT_KNN: o->knn = (int64_t)v; break;
    case SIMREP_OPT_RSA_MEMORY: o->rsa_memory = v; break;
    case SIMREP_OPT_PRECISION: o->precision = (simrep_precision)(int)v; break;
    case SIMREP_OPT_RBF_MEMORY: o->rbf_memory = v; break;
    case SIMREP_OPT_NOISE_ULPS: o->noise_ulps = v; break;
    case SIMREP_OPTION_COUNT: break;
    }
}

const char *simrep_option_choice_name(simrep_option_id id, int value, char *buf, size_t cap)
{
    const simrep_option_info *in = simrep_option_get_info(id);
    if (cap)
        buf[0] = 0;
    if (!in || in->kind != SIMREP_OPTION_CHOICE || !cap)
        return buf;
    const char *s = in->choices;
    for (int k = 0; k < value && s; k++)
        if ((s = strchr(s, '|')) != NULL)
            s++;
    if (!s)
        return buf;
    size_t len = strcspn(s, "|");
    if (len >= cap)
        len = cap - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    return buf;
}

/* The index of value among in->choices ('-' and '_' alike); -1 if none. */
static int choice_index(const simrep_option_info *in, const char *value)
{
    char one[64];
    for (int k = 0; k <= (int)in->max; k++) {
        simrep_option_choice_name((simrep_option_id)(in - options), k, one, sizeof one);
        if (same_name(one, value))
            return k;
    }
    return -1;
}

/* A value's place in an option's valid range (not NaN; whole for INTEGER and
 * CHOICE): the one test simrep_options_set, simrep__options_check and the
 * measures' own entry points (simrep_cka_rbf's sigma) make. */
static int in_range(const simrep_option_info *in, double v)
{
    return (in->min_open ? v > in->min : v >= in->min) && (in->max_open ? v < in->max : v <= in->max) &&
           (in->kind == SIMREP_OPTION_REAL || v == floor(v));
}

simrep_status simrep__option_check(simrep_ctx *ctx, simrep_option_id id, double v)
{
    const simrep_option_info *in = &options[id];
    if (in_range(in, v))
        return SIMREP_OK;
    return simrep__fail(ctx, SIMREP_E_INVALID, "%s must be %s (got %.17g)", in->name, in->valid, v);
}

simrep_status simrep_options_set(simrep_ctx *ctx, simrep_options *o, const char *name, const char *value)
{
    const int id = simrep_option_from_name(name);
    if (id < 0 || !o || !value)
        return simrep__fail(ctx, SIMREP_E_INVALID, "unknown option '%s'", name ? name : "(null)");
    const simrep_option_info *in = &options[id];
    double v = 0;
    int ok;
    if (in->kind == SIMREP_OPTION_CHOICE) {
        const int k = choice_index(in, value);
        ok = k >= 0;
        v = k;
    } else {
        char *end = NULL;
        /* errno is not read: an overflow is caught by isfinite, and an
         * underflow ("1e-400") is the 0 or subnormal it rounds to. */
        v = strtod(value, &end);
        ok = *value && !*end && isfinite(v) && in_range(in, v);
    }
    if (!ok)
        return simrep__fail(ctx, SIMREP_E_INVALID, in->kind == SIMREP_OPTION_CHOICE ? "%s must be %s (got '%s')"
                                                                                     : "%s must be %s (got %s)",
                            name, in->valid, value);
    options_put(o, (simrep_option_id)id, v);
    return SIMREP_OK;
}

simrep_status simrep__options_check(simrep_ctx *ctx, const simrep_options *o, const simrep_measure *measures,
                                    int count)
{
    unsigned read = 0;
    for (int i = 0; i < count; i++)
        read |= rows[measures[i]].info.options;
    for (int id = 0; id < SIMREP_OPTION_COUNT; id++) {
        const simrep_option_info *in = &options[id];
        if (!(read & (1u << id)))
            continue;
        const double v = simrep_options_get(o, (simrep_option_id)id);
        if (in->kind == SIMREP_OPTION_INTEGER && v == 0)
            continue; /* unset: the measure's own rule applies (svcca_dims) */
        if (!in_range(in, v))
            return simrep__fail(ctx, SIMREP_E_INVALID, "options out of range: %s must be %s (got %.17g)", in->name,
                                in->valid, v);
    }
    return SIMREP_OK;
}
