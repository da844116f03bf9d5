"""Constant features whatever their value (issue 10, item 3), through the
Python package: a column of 0.1 (not representable) streamed in chunks and
merged is dropped even with epsilon=0, and a layer of constants is
simrep.Error with SIMREP_E_DEGENERATE for every measure.  The CLI side is
tests/python/test_constant.py.
"""

import numpy as np
import pytest

import simrep

ALL = ["cca", "cca_r2", "svcca", "pwcca", "cka", "cka_debiased", "procrustes", "procrustes_angular", "cka_rbf"]
DEGENERATE = 8


def data(n=90, p=4, q=3, seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, p))
    return x, x[:, :q] + r.standard_normal((n, q))


@pytest.mark.parametrize("value", [0.1, 1.0 / 3, 1e10 + 0.1])
def test_constant_column_streamed_and_merged(value):
    x, y = data()
    xc = x.copy()
    xc[:, 2] = value
    want = simrep.compare(np.delete(xc, 2, axis=1), y, measures=ALL[:-1], epsilon=0)
    parts = []
    for i in range(0, 90, 13):  # uneven chunks, one Moments each, then merged
        m = simrep.Moments(4, 3)
        m.update(xc[i:i + 13], y[i:i + 13])
        parts.append(m)
    total = parts[0]
    for m in parts[1:]:
        total.merge(m)
    got = total.compare(ALL[:-1], epsilon=0)
    assert got["cca"]["kept"] == [3, 3]
    for k in want:
        assert abs(got[k]["similarity"] - want[k]["similarity"]) <= 1e-12, k
    assert total.scatter()[2, 2] == 0.0


@pytest.mark.parametrize("measure", ALL)
def test_constant_layer_is_degenerate(measure):
    _, y = data()
    for layer in (np.full((90, 3), 0.1), np.tile([0.1, 1 / 3, 7.7], (90, 1)), np.full((90, 1), 1e10 + 0.1)):
        with pytest.raises(simrep.Error) as e:
            simrep.compare(layer, y, measures=[measure])
        assert e.value.status == DEGENERATE and "constant" in str(e.value), e.value
