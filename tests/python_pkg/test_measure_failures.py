"""One measure undefined for the data does not take the others down
(issue 10, item 8), through the package: simrep.compare and
Moments.compare return the others, the undefined ones are in .errors (and
results[id] raises that error, a SimrepWarning said so); symmetric measures
do not depend on the argument order.  The CLI side is
tests/python/test_measure_failures.py.
"""

import warnings

import numpy as np
import pytest

import simrep

ALL = ["cca", "cca_r2", "svcca", "pwcca", "cka", "cka_debiased", "cka_rbf", "procrustes", "procrustes_angular"]
x2 = np.arange(2.0)[:, None]
CASES = [("n2 anti-correlated", x2, 1 - x2, {"pwcca", "cka_debiased"}, {"pwcca", "cka_debiased"}),
         ("n2 shifted", x2, 0.5 - x2, {"pwcca", "cka_debiased"}, {"cka_debiased"}),
         ("n3", np.array([[0., 1], [2, 0], [1, 3]]), np.array([[1., 2, 0], [0, 1, 1], [3, 0, 2]]),
          {"cka_debiased"}, {"cka_debiased"})]


@pytest.mark.parametrize("name,x,y,und_xy,und_yx", CASES, ids=[c[0] for c in CASES])
def test_undefined_measure_leaves_the_others(name, x, y, und_xy, und_yx):
    for a, b, undefined in ((x, y, und_xy), (y, x, und_yx)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = simrep.compare(a, b, measures=ALL)
        assert set(r.errors) == undefined and set(r) == set(ALL) - undefined
        assert sum("undefined for these data" in str(w.message) for w in caught) == len(undefined)
        for m in undefined:
            with pytest.raises(simrep.Error):
                r[m]
        for m in r:
            assert r[m]["similarity"] == simrep.compare(a, b, measures=[m], warn=False)[m]["similarity"], m
        mom = simrep.Moments(a.shape[1], b.shape[1])
        mom.update(a, b)
        linear = [m for m in ALL if m != "cka_rbf"]
        rm = mom.compare(linear, warn=False)
        assert set(rm.errors) == undefined & set(linear)
    with pytest.raises(simrep.Error):  # nothing left: the error itself
        simrep.compare(x, y, measures=["cka_debiased"])


@pytest.mark.parametrize("n,p,q", [(2, 1, 1), (3, 2, 3), (40, 3, 7), (40, 7, 3), (9, 12, 5)])
def test_symmetric_measures_ignore_argument_order(n, p, q):
    rng = np.random.default_rng(n + p + q)
    x = rng.standard_normal((n, p))
    y = x[:, :min(p, q)] @ rng.standard_normal((min(p, q), q)) + rng.standard_normal((n, q))
    xy = simrep.compare(x, y, measures=ALL, warn=False)
    yx = simrep.compare(y, x, measures=ALL, warn=False)
    assert set(xy.errors) == set(yx.errors)
    for m in xy:
        if m != "pwcca" or p != q:
            assert abs(xy[m]["similarity"] - yx[m]["similarity"]) <= 1e-10, m
