"""Messages (issue 10, items 14, 15, 20) through the Python package: option
values refused before any data is read, with the value as given; measure
lists with 'all' and repeats; inputs in the wrong layout."""

import math

import numpy as np
import pytest

import simrep
from simrep import _native
from conftest import random_pair

OPTS = simrep.options()

# Values each kind of option must refuse, as Python objects.  The ranges
# come from the library's option table, so a new option gets its rows here
# without a change.
ABSURD_NUMBERS = [float("nan"), float("inf"), -float("inf"), -1, -1e-300, 2 ** 63, 10 ** 30, -2 ** 70, 1e308,
                  np.float32("inf")]


def absurd(info):
    if info["choices"]:
        return ["", "nope", 1, 0.5]
    out = list(ABSURD_NUMBERS)
    lo, hi = info["min"], info["max"]
    out.append(lo if info["min_open"] else lo - max(abs(lo), 1) * 1e-6)
    out.append(hi if info["max_open"] else hi * (1 + 1e-6))
    if info["kind"] == _native.OPTION_INTEGER:
        out += [2.5, np.float64(3.5)]
    return out


def in_range(info, v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    if info["choices"] or not math.isfinite(f):
        return False
    ok = (f > info["min"] if info["min_open"] else f >= info["min"]) and \
         (f < info["max"] if info["max_open"] else f <= info["max"])
    return ok and (info["kind"] != _native.OPTION_INTEGER or f == int(f))


CASES = [(name, v) for name, info in OPTS.items() for v in absurd(info) if not in_range(info, v)]


@pytest.mark.parametrize("name,value", CASES, ids=["%s=%r" % c for c in CASES])
def test_absurd_option_is_a_value_error_before_data(name, value, tmp_path):
    """x and y are paths that do not exist: the error is the option's, and
    quotes the value as given (2**63 as 9223372036854775808)."""
    missing = str(tmp_path / "missing.npy")
    for call in (lambda: simrep.compare(missing, missing, "all", **{name: value}),
                 lambda: simrep.matrix([missing, missing], measures="all", **{name: value})):
        with pytest.raises(ValueError) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(name), msg
        assert "missing" not in msg, msg
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            assert "(got %d)" % value in msg or "(got '%d')" % value in msg, msg
        assert isinstance(e.value, simrep.Error) and e.value.status == _native.E_INVALID


def test_epsilon_range():
    """epsilon is a fraction of the largest variance in [0, 1): 1 used to be
    taken and the data blamed ("every feature is constant")."""
    x, y = random_pair(14, n=60)
    for eps in (1, 1.0, float("inf"), 2):
        with pytest.raises(ValueError, match=r"epsilon must be a number in \[0, 1\)"):
            simrep.compare(x, y, ["cca"], epsilon=eps)
    for eps in (0, 0.5, 0.999):
        r = simrep.compare(x, y, ["cca"], epsilon=eps, warn=False)
        assert 0 <= r["cca"]["similarity"] <= 1


@pytest.mark.parametrize("spec", ["all,cca", ["all", "cca"], "cca,all,cca", ["cka", "cka"]])
def test_measure_list_duplicates_removed(spec):
    x, y = random_pair(15, n=60)
    got = simrep.compare(x, y, spec, warn=False)
    names = spec.split(",") if isinstance(spec, str) else spec
    every = list(simrep.compare(x, y, "all", warn=False))
    want = []
    for m in names:
        want += [e for e in (every if m == "all" else [m]) if e not in want]
    assert list(got) == want
