"""Messages (issue 10, items 14, 15, 20) through the Python package: option
values refused before any data is read, with the value as given; measure
lists with 'all' and repeats; inputs in the wrong layout."""

import math
import warnings

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


def layers(n=200, p=64, q=64, seed=20):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, 3))
    return (z @ rng.standard_normal((3, p)) + 0.3 * rng.standard_normal((n, p)),
            z @ rng.standard_normal((3, q)) + 0.3 * rng.standard_normal((n, q)))


# (case, x, y as passed, features_first, warning or error text expected)
LAYOUTS = [
    ("transposed_same_width", lambda x, y: (x.T, y.T), False, "give --features-first (Python: features_first=True)"),
    ("transposed_given", lambda x, y: (x.T, y.T), True, None),
    ("plain", lambda x, y: (x, y), False, None),
    ("transposed_other_width", lambda x, y: (x.T, y[:, :48].T), False, "pass features_first=True"),
    ("plain_given_wrongly", lambda x, y: (x, y[:, :48]), True, "leave out features_first=True"),
    ("unrelated", lambda x, y: (x, y[:150, :48]), False, "!features_first"),
]


@pytest.mark.parametrize("case", LAYOUTS, ids=[c[0] for c in LAYOUTS])
def test_layout(case):
    """Features x samples arrays passed as samples x features: a warning
    when they pair anyway (both wider than long, equally wide), the error's
    hint when they pair only read the other way; compare and matrix."""
    name, make, ff, says = case
    a, b = make(*layers())
    pairs_other_way = a.shape[1 - ff] == b.shape[1 - ff]
    for call in (lambda: simrep.compare(a, b, ["cka", "cca"], features_first=ff),
                 lambda: simrep.matrix([a, b], measures=["cka", "cca"], features_first=ff, warn=False),
                 # a measure of the rows alone: the hint is about the inputs, not the measure
                 lambda: simrep.compare(a, b, ["rsa"], features_first=ff),
                 lambda: simrep.matrix([a, b], measures=["rsa"], features_first=ff, warn=False)):
        if a.shape[ff] != b.shape[ff]:  # the sample counts differ
            with pytest.raises(ValueError) as e:
                call()
            if says.startswith("!"):
                assert says[1:] not in str(e.value)
            else:
                assert says in str(e.value) and pairs_other_way
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = call()
        texts = [str(w.message) for w in caught] + list(r.get("warnings", [])) if isinstance(r, dict) else []
        hinted = [t for t in texts if "features_first=True" in t]
        assert len(hinted) == (1 if says else 0), texts
