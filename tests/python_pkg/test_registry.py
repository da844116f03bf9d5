"""The measure registry as data the tests act on.

Every measure states, in the library's table (src/measures.c), which
transformations leave it unchanged (SIMREP_INV_* bits), its ranges, its
options and the fields it reports.  These tests read those claims through
simrep.measures() and check each one on data, for every measure of
two samples x features matrices, so a new measure's claims are tested the
moment its row exists: no test names a measure to decide what to check.
"""

import numpy as np
import pytest
from scipy.stats import ortho_group

import simrep
from conftest import random_pair

INFO = simrep.measures()
ALL = [m for m in simrep.MEASURES]


def transformed(x, y, what, rng):
    """The pair after the transformation an invariance bit names."""
    p = x.shape[1]
    if what == "translation":
        return x + 10 * rng.standard_normal(p), y - 3 * rng.standard_normal(y.shape[1])
    if what == "scale":
        return 3.7 * x, 0.25 * y
    if what == "orthogonal":
        return x @ ortho_group.rvs(p, random_state=rng), y @ ortho_group.rvs(y.shape[1], random_state=rng)
    if what == "linear":
        a = rng.standard_normal((p, p)) + 3 * np.eye(p)  # well conditioned
        return x @ a, y
    if what == "swap":
        return y, x
    if what == "row_order":
        perm = rng.permutation(x.shape[0])
        return x[perm], y[perm]
    raise AssertionError("no test for invariance %r: add one here" % what)


CLAIMS = [(m, inv) for m in ALL for inv in INFO[m]["invariant_to"]]


@pytest.mark.parametrize("mid,inv", CLAIMS, ids=["%s-%s" % c for c in CLAIMS])
def test_every_claimed_invariance_holds(mid, inv):
    x, y = random_pair(7, n=120, p=7, q=7 if inv == "swap" else 5)
    rng = np.random.default_rng(3)
    a = simrep.compare(x, y, [mid], warn=False)[mid]
    tx, ty = transformed(x, y, inv, rng)
    b = simrep.compare(tx, ty, [mid], warn=False)[mid]
    # Round-off of a different but equivalent computation: the whitening and
    # SVDs of well-conditioned 7 x 7 problems, far below any real change.
    assert b["similarity"] == pytest.approx(a["similarity"], abs=1e-9), (mid, inv)
    assert b["distance"] == pytest.approx(a["distance"], abs=1e-9), (mid, inv)


def test_invariance_claims_are_not_vacuous():
    """Transformations a measure does not claim change it on this data for
    at least some measure, so the test above can fail."""
    x, y = random_pair(7, n=120, p=7, q=5)
    changed = 0
    for mid in ALL:
        for inv in ("linear", "translation"):
            if inv in INFO[mid]["invariant_to"]:
                continue
            a = simrep.compare(x, y, [mid], warn=False)[mid]["similarity"]
            b = simrep.compare(*transformed(x, y, inv, np.random.default_rng(3)), [mid], warn=False)[mid]
            changed += abs(b["similarity"] - a) > 1e-6
    assert changed > 0


@pytest.mark.parametrize("mid", ALL)
def test_values_in_the_stated_ranges_and_outputs_present(mid):
    info = INFO[mid]
    for seed in range(3):
        x, y = random_pair(seed, n=150, p=6, q=4)
        r = simrep.compare(x, y, [mid], coefs=True, warn=False)[mid]
        lo, hi = info["similarity_range"]
        assert lo - 1e-12 <= r["similarity"] <= hi + 1e-12
        lo, hi = info["distance_range"]
        assert lo - 1e-12 <= r["distance"] <= hi + 1e-12
        for key in info["outputs"]:
            if key not in ("coefs", "weights"):
                assert key in r, (mid, key)
        opts = simrep.options()
        for name in info["options"]:
            if opts[name]["json_key"]:
                assert opts[name]["json_key"] in r


def test_options_come_from_the_library():
    opts = simrep.options()
    assert set(opts) == set(simrep.OPTIONS)
    for name, o in opts.items():
        assert o["valid"] and o["help"]
    read = set(n for m in INFO.values() for n in m["options"])
    assert read <= set(opts)  # every option a measure reads is a real one
