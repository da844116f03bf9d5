/*
 * measures.c: the catalogue of measures: ids as the CLI, JSON and Python
 * spell them, what each computes, its range and direction, its invariances
 * and the paper and reference code it follows.  `simrep measures` prints
 * this table; keep it in step with docs/measures.md.  dftcca (last, appended with
 * issue 3) needs the conv maps themselves: needs_rows and needs_maps are 1.
 */
#include "internal.h"

#include <string.h>

static const simrep_measure_info infos[SIMREP_MEASURE_COUNT] = {
    {"cca", "mean canonical correlation (mean CCA similarity)", "mean of the k canonical correlations, in [0, 1]",
     "1 - similarity (Morcos et al.'s CCA distance), in [0, 1]", 1,
     "invertible linear maps of x or y, translation",
     "Raghu et al. 2017 (SVCCA), google/svcca cca_core.get_cca_similarity", 0, 0},
    {"cca_r2", "mean squared canonical correlation (R2_CCA)", "mean of rho_i^2, in [0, 1]", "1 - similarity", 1,
     "invertible linear maps of x or y, translation", "Yanai's R2; Kornblith et al. 2019", 0, 0},
    {"svcca", "SVCCA: CCA of the top principal directions",
     "mean canonical correlation after keeping the directions explaining 99% of the variance, in [0, 1]",
     "1 - similarity", 1, "orthogonal maps and isotropic scaling of x or y, translation",
     "Raghu et al. 2017, google/svcca tutorials", 0, 0},
    {"pwcca", "projection-weighted CCA", "weighted mean of canonical correlations, in [0, 1]",
     "1 - similarity", 1, "isotropic scaling of x or y (weights depend on the data's mean and basis)",
     "Morcos, Raghu & Bengio 2018, google/svcca pwcca.compute_pwcca; --pwcca-variant ding: Ding et al. 2021", 0, 0},
    {"cka", "linear centered kernel alignment", "|XcᵀYc|_F^2 / (|XcᵀXc|_F |YcᵀYc|_F), in [0, 1]",
     "1 - similarity", 1, "orthogonal maps and isotropic scaling of x or y, translation",
     "Kornblith et al. 2019, CKA demo notebook feature_space_linear_cka", 0, 0},
    {"cka_debiased", "linear CKA with the unbiased HSIC estimator",
     "debiased linear CKA, in [-1, 1] (can be slightly negative for unrelated data)", "1 - similarity", 1,
     "orthogonal maps and isotropic scaling of x or y, translation",
     "Kornblith et al. 2019 notebook (debiased=True); Song et al. 2012", 0, 0},
    {"cka_rbf", "CKA with Gaussian (RBF) kernels",
     "CKA of exp(-d^2 / (2 sigma^2 median d^2)) kernels, in [0, 1]", "1 - similarity", 1,
     "orthogonal maps, isotropic scaling and translation of x or y",
     "Kornblith et al. 2019 notebook gram_rbf + cka", 1, 0},
    {"procrustes", "orthogonal Procrustes (squared distance)",
     "nuclear norm of XcᵀYc with Xc, Yc centered and unit-Frobenius, in [0, 1]",
     "2 - 2 x similarity, in [0, 2]", 1, "orthogonal maps and isotropic scaling of x or y, translation",
     "Ding, Denain & Steinhardt 2021", 0, 0},
    {"procrustes_angular", "orthogonal Procrustes (angular metric)", "as procrustes, in [0, 1]",
     "arccos(similarity), in [0, pi/2]; a metric", 1,
     "orthogonal maps and isotropic scaling of x or y, translation", "Williams et al. 2021", 0, 0},
    {"dftcca", "DFT-CCA of conv feature maps: one complex CCA per spatial frequency",
     "mean of the canonical correlations of every spatial frequency, in [0, 1]", "1 - similarity", 1,
     "invertible linear maps of the channels of x or y, circular spatial shifts, translation",
     "Raghu et al. 2017 (SVCCA, DFT-CCA), google/svcca dft_ccas.fourier_ccas; needs --conv", 1, 1},
};

const simrep_measure_info *simrep_measure_get_info(simrep_measure m)
{
    if ((int)m < 0 || m >= SIMREP_MEASURE_COUNT)
        return NULL;
    return &infos[m];
}

int simrep_measure_from_id(const char *id)
{
    if (!id)
        return -1;
    for (int i = 0; i < SIMREP_MEASURE_COUNT; i++)
        if (strcmp(infos[i].id, id) == 0)
            return i;
    return -1;
}
