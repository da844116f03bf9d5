"""Scale invariance at any finite scale (issue 10, item 2), through the
Python package: simrep.compare, streaming Moments (blocks whose magnitude
grows from 1e-250 to 1e250, merges of Moments held in different units,
pickles), simrep.matrix.  The CLI side is tests/python/test_scale.py.

The reference for the growing stream: at the largest block's scale every
other block is 1e-50 of it or less, below round-off, so the data equal the
last block after rows of zeros.
"""

import pickle

import numpy as np
import pytest

import simrep

TOL = 1e-9
LINEAR = ["cca", "cca_r2", "svcca", "pwcca", "cka", "cka_debiased", "procrustes", "procrustes_angular"]


def data(seed=0, n=120, p=7, q=5):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, p))
    y = x[:, :q] @ r.standard_normal((q, q)) + 0.6 * r.standard_normal((n, q))
    return x, y


def sims(res):
    return {m: v["similarity"] for m, v in res.items()}


def assert_same(got, want):
    for m, w in want.items():
        assert got[m] is not None and abs(got[m] - w) <= TOL, (m, got[m], w)


@pytest.mark.parametrize("sx,sy", [(1e-300, 1), (1e300, 1), (1e-300, 1e300), (1e150, 1e-150), (1e-75, 1e75)])
def test_compare_scale_invariant(sx, sy):
    x, y = data()
    ms = LINEAR + ["cka_rbf"]
    assert_same(sims(simrep.compare(x * sx, y * sy, measures=ms)), sims(simrep.compare(x, y, measures=ms)))


@pytest.mark.parametrize("dtype,k", [(np.float32, 100), (np.float32, -100), (np.float16, 11), (np.float16, -8)])
def test_compare_scale_invariant_low_precision(dtype, k):
    """Powers of two on values the dtype holds exactly: exactly scaled data."""
    x, y = data(seed=1)
    step = 64.0 if dtype == np.float16 else 2.0 ** 20
    x = (np.round(x * step) / step).astype(dtype)
    want = sims(simrep.compare(x, y, measures=LINEAR))
    assert_same(sims(simrep.compare((x.astype(np.float64) * 2.0 ** k).astype(dtype), y, measures=LINEAR)), want)


def growing():
    """Six blocks of 40 rows at magnitudes 1e-250 .. 1e250 (y 1e-30 of x's),
    and the reference data: zeros, then the last block at scale 1."""
    x, y = data(seed=2, n=240)
    mags = [1e-250, 1e-120, 1.0, 1e100, 1e200, 1e250]
    blocks = [(x[40 * b:40 * b + 40] * m, y[40 * b:40 * b + 40] * m * 1e-30) for b, m in enumerate(mags)]
    zx, zy = np.zeros_like(x), np.zeros_like(y)
    zx[200:], zy[200:] = x[200:], y[200:]
    return blocks, zx, zy


def test_moments_growing_stream_merge_and_pickle():
    blocks, zx, zy = growing()
    want = sims(simrep.compare(zx, zy, measures=LINEAR))
    seq = simrep.Moments(7, 5)
    parts = []
    for xb, yb in blocks:
        seq.update(xb, yb)
        m = simrep.Moments(7, 5)
        m.update(xb, yb)
        parts.append(m)
    assert_same(sims(seq.compare(LINEAR)), want)
    # merged large-first and small-first: states in different units
    for order in (parts, parts[::-1]):
        total = simrep.Moments(7, 5)
        for m in order:
            total.merge(m)
        assert_same(sims(total.compare(LINEAR)), want)
    back = pickle.loads(pickle.dumps(seq))
    assert_same(sims(back.compare(LINEAR)), want)
    # the accessors are in the data's units: the means are those of the rows
    mx, my = seq.means()
    assert np.allclose(mx, np.mean(np.concatenate([b[0] for b in blocks]), axis=0), rtol=1e-12)
    assert np.isfinite(my).all()


def test_matrix_scale_invariant():
    x, y = data(seed=4)
    res = simrep.matrix([x, x * 1e-300, y * 1e300, y], measures=["cca", "cka", "procrustes"])
    for m, v in res["measures"].items():
        s = np.asarray(v["similarity"])
        assert np.isfinite(s).all(), m
        assert abs(s[0, 1] - 1) <= TOL and abs(s[2, 3] - 1) <= TOL, (m, s)
        assert np.abs(s[:2, 2:] - s[0, 3]).max() <= TOL, (m, s)
