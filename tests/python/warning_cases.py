"""The table both warning tests read (tests/python/test_warning_truth.py,
the CLI; tests/python_pkg/test_warning_truth.py, the package): inputs
compared with themselves (and one against a narrow file), the warning
texts each must and must not give, and what cca must then be."""

import numpy as np

RANK_TEXT = "at most n - 1 canonical correlations can be non-zero"
FEW_TEXT = "biased toward 1"
RIDGE_TEXT = "the ridge (--epsilon) shrinks their canonical correlations"


def ill(n, p, cond, seed):
    """n x p float64 rows whose covariance has condition number ~cond."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    return (rng.standard_normal((n, p)) * np.logspace(0, -0.5 * np.log10(cond), p)) @ q.T


def cases():
    """{name: (x, y, texts wanted, texts not wanted, check of cca)}."""
    rng = np.random.default_rng(0)
    wide = rng.standard_normal((50, 200))
    few = rng.standard_normal((100, 20))
    worse, fine = ill(1000, 20, 1e14, 1), ill(1000, 20, 1e6, 2)
    return {
        "wide_self": (wide, wide, [RANK_TEXT], [FEW_TEXT, RIDGE_TEXT], lambda v: abs(v - 49 / 200) < 1e-3),
        "wide_vs_narrow": (wide, rng.standard_normal((50, 10)), [RANK_TEXT], [FEW_TEXT, RIDGE_TEXT],
                           lambda v: v > 0.99),
        "few_self": (few, few, [FEW_TEXT], [RANK_TEXT, RIDGE_TEXT], lambda v: abs(v - 1) < 1e-6),
        "cond_1e14_self": (worse, worse, [RIDGE_TEXT], [RANK_TEXT, FEW_TEXT], lambda v: v < 0.99),
        "cond_1e6_self": (fine, fine, [], [RANK_TEXT, FEW_TEXT, RIDGE_TEXT], lambda v: abs(v - 1) < 1e-3),
    }


def matrix_inputs():
    """matrix: wide (n <= kept), mid (n < 10 kept), ill (condition 1e14)."""
    rng = np.random.default_rng(3)
    return {"wide": rng.standard_normal((60, 80)), "mid": rng.standard_normal((60, 20)), "ill": ill(60, 4, 1e14, 4)}
