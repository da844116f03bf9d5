"""Independent numpy versions of the measures computed from the rows
(docs/measures.md, "Measures computed from the rows") and of cka_lange.

Each follows the reference code users compare with, transcribed from its
formulas on full n x n matrices (the reference packages are not installable
here, and simrep shares no algorithm with these: no tiles, no streaming,
no sorting of packed keys):

  rsa         rsatoolbox: rdm.calc_rdm ('euclidean' = squared distance / p,
              'correlation' = 1 - Pearson of the rows), scipy pdist 'cosine'
              for cosine; rdm.compare ('corr': cosine of the centred upper
              triangles; 'spearman': scipy.stats.rankdata then the same;
              'kendall': scipy.stats.kendalltau, tau-b).
  mutual_knn  platonic-rep metrics.AlignmentMetrics.mutual_knn after
  cknna       measure_alignment.compute_score's row normalisation; ties go to
              the smaller index (np.argsort(kind='stable') on -similarity).
  cka_lange   repsim (Lange et al. 2023) AngularCKA(use_unbiased_hsic=True):
              centred Gram, diagonal zeroed, unit Frobenius norm, inner
              product; angular distance arccos.
"""

import numpy as np
import scipy.stats
from scipy.spatial.distance import pdist

RDMS = ("euclidean", "correlation", "cosine")
COMPARES = ("pearson", "spearman", "kendall")


def rdm(x, kind):
    """The upper triangle (i < j, row-major) of the RDM, rsatoolbox's way."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    iu = np.triu_indices(n, k=1)
    if kind == "euclidean":
        sq = np.sum(x * x, axis=1, keepdims=True)
        d = sq + sq.T - 2 * x @ x.T
        return d[iu] / x.shape[1]
    if kind == "correlation":
        m = x - x.mean(axis=1, keepdims=True)
        m = m / np.sqrt(np.einsum("ij,ij->i", m, m))[:, None]
        return (1 - m @ m.T)[iu]
    if kind == "cosine":
        return pdist(x, "cosine")
    raise ValueError(kind)


def _cosine(a, b):
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def compare(a, b, how):
    if how == "pearson":
        return _cosine(a - a.mean(), b - b.mean())
    if how == "spearman":
        ra, rb = scipy.stats.rankdata(a), scipy.stats.rankdata(b)
        return _cosine(ra - ra.mean(), rb - rb.mean())
    if how == "kendall":
        return float(scipy.stats.kendalltau(a, b).correlation)
    raise ValueError(how)


def rsa(x, y, rdm_kind="correlation", how="spearman"):
    return compare(rdm(x, rdm_kind), rdm(y, rdm_kind), how)


def _unit_rows(x):
    x = np.asarray(x, dtype=np.float64)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norm, 1e-300)  # a zero row stays zero (F.normalize)


def _knn_mask(k_mat, k):
    n = k_mat.shape[0]
    s = k_mat.copy()
    np.fill_diagonal(s, -np.inf)
    idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
    mask = np.zeros((n, n))
    mask[np.arange(n)[:, None], idx] = 1.0
    return mask


def mutual_knn(x, y, k=10):
    xn, yn = _unit_rows(x), _unit_rows(y)
    mx, my = _knn_mask(xn @ xn.T, k), _knn_mask(yn @ yn.T, k)
    return float(((mx * my).sum(axis=1) / k).mean())


def _hsic_unbiased(k_mat, l_mat):
    """Song et al. 2012 eq. 5, as platonic-rep's hsic_unbiased."""
    m = k_mat.shape[0]
    kt, lt = k_mat.copy(), l_mat.copy()
    np.fill_diagonal(kt, 0)
    np.fill_diagonal(lt, 0)
    # sum(kt @ lt) as colsum(kt) . rowsum(lt): the same number without the
    # n^3 product (the golden inputs have n = 2000).
    v = (np.sum(kt * lt.T) + kt.sum() * lt.sum() / ((m - 1) * (m - 2))
         - 2 * (kt.sum(axis=0) @ lt.sum(axis=1)) / (m - 2))
    return v / (m * (m - 3))


def cknna(x, y, k=10):
    xn, yn = _unit_rows(x), _unit_rows(y)
    kk, ll = xn @ xn.T, yn @ yn.T
    mk, ml = _knn_mask(kk, k), _knn_mask(ll, k)  # each side's mask, made once

    def sim(a, ma, b, mb):
        mask = ma * mb
        return _hsic_unbiased(mask * a, mask * b)

    return float(sim(kk, mk, ll, ml) / (np.sqrt(sim(kk, mk, kk, mk) * sim(ll, ml, ll, ml)) + 1e-6))


def cka_lange(x, y):
    """(similarity, distance) of repsim's AngularCKA with the linear kernel."""
    def point(a):
        a = np.asarray(a, dtype=np.float64)
        g = a @ a.T
        c = g - g.mean(axis=0) - g.mean(axis=1)[:, None] + g.mean()  # H g H, H = I - 11ᵀ/n
        np.fill_diagonal(c, 0)
        return c / np.linalg.norm(c)

    s = float(np.sum(point(x) * point(y)))
    return s, float(np.arccos(np.clip(s, -1, 1)))
