"""The CLI's side of the CCA family's rank decision at the data's rounding
level (docs/measures.md "Directions at the data's rounding level"; the
library's tests: tests/unit/test_rounding.c, the package's:
tests/python_pkg/test_rounding_noise.py).

A float32 file with a feature that is the float32 sum of two others and a
duplicated one has two directions of pure rounding: compare and matrix
report rank = kept - 2 for it, warn naming the file and the count, and give
the values of the data with those directions projected out (reference_numpy
with rounding=).  The same numbers stored as float64 keep every direction
(the rule is off for float64), and --noise-ulps 0 turns it off for float32.
"""

import numpy as np
import pytest

from conftest import ref, run, write_npy

U32 = 2.0 ** -24
ROUNDING_TEXT = "no more variance than the rounding of the data's dtype"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("rounding")
    rng = np.random.default_rng(3)
    base = rng.standard_normal((1500, 6)).astype(np.float32)
    x = np.hstack([base, base[:, :1] + base[:, 1:2], base[:, 2:3]])  # 8 features, 6 directions
    y = (base @ rng.standard_normal((6, 5))).astype(np.float32) + rng.standard_normal((1500, 5)).astype(np.float32)
    write_npy(d / "x32.npy", x)
    write_npy(d / "y32.npy", y)
    write_npy(d / "x64.npy", x.astype(np.float64))
    write_npy(d / "y64.npy", y.astype(np.float64))
    return d, x.astype(np.float64), y.astype(np.float64)


def _compare(a, b, *opts):
    return run("compare", a, b, "-m", "cca,pwcca", "--format", "json", *opts).json()


def test_compare_float32_drops_rounding_directions(files):
    d, x, y = files
    r = _compare(d / "x32.npy", d / "y32.npy")
    assert r["measures"]["cca"]["rank"] == [6, 5] and r["measures"]["cca"]["kept"] == [8, 5]
    assert any(w.startswith(str(d / "x32.npy") + ": 2 of 8 directions") and ROUNDING_TEXT in w
               for w in r["warnings"]), r["warnings"]
    for m in ("cca", "pwcca"):
        want = ref.compute(m, x, y, rounding=(U32, U32))["similarity"]
        assert abs(r["measures"][m]["similarity"] - want) < 1e-6, m
    # against itself: 6 directions with rho 1, the 2 left out count as 0
    s = _compare(d / "x32.npy", d / "x32.npy")
    assert abs(s["measures"]["cca"]["similarity"] - 6 / 8) < 1e-9


@pytest.mark.parametrize("how", ["float64", "noise_ulps_0"])
def test_rule_off(files, how):
    d, x, y = files
    r = (_compare(d / "x64.npy", d / "y64.npy") if how == "float64"
         else _compare(d / "x32.npy", d / "y32.npy", "--noise-ulps", "0"))
    assert r["measures"]["cca"]["rank"] == [8, 5]
    assert not any(ROUNDING_TEXT in w for w in r.get("warnings", []))
    assert abs(r["measures"]["cca"]["similarity"] - ref.cca(x, y)["similarity"]) < 1e-6


def test_matrix_names_the_file(files):
    d, _, _ = files
    man = d / "m.csv"
    man.write_text("name,path\nx32,x32.npy\ny32,y32.npy\nx64,x64.npy\n")
    r = run("matrix", "--manifest", man, "-m", "cca", "--format", "json").json()
    lines = [w for w in r["warnings"] if ROUNDING_TEXT in w]
    assert len(lines) == 1 and lines[0].startswith("x32: 2 of 8 directions"), r["warnings"]
    c = _compare(d / "x32.npy", d / "y32.npy")["measures"]["cca"]["similarity"]
    i, j = r["names"].index("x32"), r["names"].index("y32")
    assert abs(r["measures"]["cca"]["similarity"][i][j] - c) < 1e-12
