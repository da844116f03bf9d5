"""Constant features whatever their value (issue 10, item 3), through the CLI.

A column holding one value in every row is constant, whether or not the
value is representable in binary (0.1, 1/3) or huge (1e10 + 0.1): the
moments sum each block about its first row, so such a column has exactly
zero scatter (before, 0.1 summed directly left a round-off variance of
1e-33: with --epsilon 0 it was kept, and pwcca moved by 0.04).  A layer
whose features are all constant is SIMREP_E_DEGENERATE for every measure:
exit 1 and a message naming the file (before, the CCA family and CKA were
computed on round-off noise and printed).
"""

import numpy as np
import pytest

from conftest import assert_error, compare, run, write_npy

VALUES = [0.1, 1.0 / 3, 1e10 + 0.1, -7.3e-5, 2.5]
DTYPES = [np.float64, np.float32, np.float16]


def measures_of_rows():
    info = run("measures", "--format", "json").json()["measures"]
    return [m["id"] for m in info if m["id"] != "dftcca"]


def data(n=90, p=4, q=3, seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, p))
    return x, x[:, :q] + r.standard_normal((n, q))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("value", VALUES)
def test_constant_column_is_dead(tmp_path, dtype, value):
    """One constant column among live ones: left out of the CCA family even
    with --epsilon 0, and every measure equals the data without it."""
    if dtype == np.float16 and abs(value) > 6e4:
        pytest.skip("beyond float16's range")
    x, y = data()
    xc = x.copy()
    xc[:, 1] = value
    xc, y = xc.astype(dtype), y.astype(dtype)
    a = write_npy(tmp_path / "xc.npy", xc)
    b = write_npy(tmp_path / "y.npy", y)
    r = write_npy(tmp_path / "xr.npy", np.delete(xc, 1, axis=1))
    # The measures that center the features (translation invariant, as the
    # registry says); rsa's correlation RDM and the kNN measures' cosines
    # read the raw rows, where a constant feature is not nothing.
    info = run("measures", "--format", "json").json()["measures"]
    ids = ",".join(m["id"] for m in info if m["id"] in measures_of_rows() and "translation" in m["invariant_to"])
    got = compare(a, b, "--epsilon", "0", measures=ids)
    want = compare(r, b, "--epsilon", "0", measures=ids)
    assert got["x"]["kept"] == 3
    for m, w in want["measures"].items():
        assert abs(got["measures"][m]["similarity"] - w["similarity"]) <= 1e-12, m


def constant_layers(value, dtype):
    """Every feature constant: each column its own value, and p = 1."""
    return {"p3": np.tile(np.array([value, 2 * value, -value]), (90, 1)).astype(dtype),
            "p1": np.full((90, 1), value).astype(dtype)}


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("value", VALUES)
def test_constant_layer_is_degenerate(tmp_path, dtype, value):
    """Every measure at once, the constant layer as x and as y: exit 1 and
    a message naming the file."""
    if dtype == np.float16 and abs(value) > 6e4:
        pytest.skip("beyond float16's range")
    _, y = data()
    b = write_npy(tmp_path / "y.npy", y)
    for name, layer in constant_layers(value, dtype).items():
        a = write_npy(tmp_path / (name + ".npy"), layer)
        assert_error(run("compare", a, b, "-m", "all+kernel"), 1, names=a, contains=("constant",))
        assert_error(run("compare", b, a, "-m", "all+kernel"), 1, names=a, contains=("constant",))


@pytest.mark.parametrize("measure", measures_of_rows())
def test_constant_layer_each_measure(tmp_path, measure):
    """Each measure on its own says so (0.1: not representable)."""
    _, y = data()
    b = write_npy(tmp_path / "y.npy", y)
    for name, layer in constant_layers(0.1, np.float64).items():
        a = write_npy(tmp_path / (name + ".npy"), layer)
        assert_error(run("compare", a, b, "-m", measure), 1, names=a, contains=("constant",))


def test_constant_layer_in_matrix(tmp_path):
    """matrix: an all-constant input is an error naming it."""
    x, y = data()
    write_npy(tmp_path / "x.npy", x)
    write_npy(tmp_path / "y.npy", y)
    write_npy(tmp_path / "c.npy", np.full((90, 3), 0.1))
    (tmp_path / "m.csv").write_text("name,path\nx,x.npy\nc,c.npy\ny,y.npy\n")
    r = run("matrix", "--manifest", tmp_path / "m.csv", "-m", "cca,cka")
    assert_error(r, 1, contains=("constant",))
    assert "c.npy" in r.stderr
