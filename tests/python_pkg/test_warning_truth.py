"""The CCA family's warnings say what is true (issue 10, item 19), Python.

The table of tests/python/warning_cases.py (the CLI test's too) through
simrep.compare, simrep.matrix and Moments.compare: n <= the kept features
warns of the bound (at most n - 1 non-zero canonical correlations, cca <=
(n - 1) / k), not of a bias toward 1; n < 10 kept of the bias; a float64
covariance with condition number 1e14 of the ridge's shrinking (the file
against itself gives < 1), one of 1e6 of nothing.
"""

import warnings

import pytest

import simrep
from warning_cases import FEW_TEXT, RANK_TEXT, RIDGE_TEXT, cases, matrix_inputs

CASES = cases()


def _caught(fn):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in rec if issubclass(w.category, simrep.SimrepWarning)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_compare_warnings(name):
    x, y, want, unwanted, check = CASES[name]
    for how in ("compare", "moments"):
        if how == "compare":
            r, msgs = _caught(lambda: simrep.compare(x, y, ["cca", "cca_r2"]))
        else:
            m = simrep.Moments(x.shape[1], y.shape[1]).update(x, y)
            r, msgs = _caught(lambda: m.compare(["cca", "cca_r2"]))
        text = "\n".join(msgs)
        for w in want:
            assert w in text, (name, how, msgs)
        for w in unwanted:
            assert w not in text, (name, how, msgs)
        assert check(r["cca"]["similarity"]), (name, how, r["cca"])
        if name == "wide_self":  # the bound (+ the round-off the ridge whitens in the other 151)
            assert max(r["cca"]["similarity"], r["cca_r2"]["similarity"]) <= 49 / 200 + 1e-4


def test_matrix_warnings():
    arrays = matrix_inputs()
    r, msgs = _caught(lambda: simrep.matrix(list(arrays.values()), names=list(arrays), measures=["cca"]))
    rank = [w for w in msgs if RANK_TEXT in w]
    few = [w for w in msgs if FEW_TEXT in w]
    assert len(rank) == 1 and "wide" in rank[0] and "mid" not in rank[0], msgs
    assert len(few) == 1 and "mid" in few[0] and "wide" not in few[0], msgs
    assert any(w.startswith("ill: ") and RIDGE_TEXT in w for w in msgs), msgs
