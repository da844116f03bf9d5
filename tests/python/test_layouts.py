"""Every input layout x dtype gives the numbers of a float64 C-order .npy of
the same values.

The values are rounded to the dtype first (float16, bfloat16 by truncation,
float32), and the baseline is the float64 C-order .npy of those rounded
values.  simrep converts every element to float64 exactly and then does the
same arithmetic, so the only admissible difference is summation order when
a layout is read in a different block pattern: TOL_SAME = 1e-9 (see
test_random.py for why that is far above round-off and far below a mistake).
A misread byte order, a transposed Fortran array or a wrong bf16 expansion
changes the values by O(1).

Then a looser check against the original, unrounded float64 values, with a
tolerance per dtype (float16 has 11 significant bits, bfloat16 8), makes sure
the rounding the test applied is the one the file holds.
"""

import functools

import numpy as np
import pytest

from conftest import compare, ref, write_npy, write_safetensors, bf16_round

TOL_SAME = 1e-9
# Unrounded values vs dtype-rounded: rounding the inputs to float32 / float16
# / bfloat16 moves the reference's measures on these data by at most 5.5e-9
# / 1.5e-5 / 9.1e-5 (computed with reference_numpy.py); the tolerances are
# ~10x that, so a misread element (an O(1) change of some value) still shows.
TOL_DTYPE = {"float64": 1e-12, "float32": 1e-7, "float16": 2e-4, "bfloat16": 1e-3}
N, P, Q = 300, 8, 6
MEASURES = ref.ALL_MEASURES


@functools.lru_cache(maxsize=None)
def data():
    rng = np.random.default_rng(100)
    z = rng.standard_normal((N, 4))
    x = z @ rng.standard_normal((4, P)) + 0.5 * rng.standard_normal((N, P)) + 0.3
    y = z @ rng.standard_normal((4, Q)) + 0.5 * rng.standard_normal((N, Q)) - 0.2
    return x, y


def rounded(a, dtype):
    if dtype == "bfloat16":
        return bf16_round(a.astype(np.float32))
    return a.astype(dtype).astype(np.float64)


_baselines = {}


def baseline(tmp_path_factory, dtype):
    """CLI JSON on float64 C-order .npy of the dtype-rounded x and y."""
    if dtype not in _baselines:
        d = tmp_path_factory.mktemp("base_" + dtype)
        x, y = data()
        fx = write_npy(d / "x.npy", rounded(x, dtype))
        fy = write_npy(d / "y.npy", rounded(y, dtype))
        _baselines[dtype] = compare(fx, fy, "--coefs")
    return _baselines[dtype]


def same(j, base, what):
    assert j["n"] == base["n"] == N, what
    assert j["x"]["features"] == P and j["y"]["features"] == Q, what
    assert [j["x"]["kept"], j["y"]["kept"]] == [base["x"]["kept"], base["y"]["kept"]], what
    for mid in MEASURES:
        a, b = j["measures"][mid], base["measures"][mid]
        assert abs(a["similarity"] - b["similarity"]) <= TOL_SAME, \
            "%s %s: %r vs float64 C-order %r" % (what, mid, a["similarity"], b["similarity"])
        if "coefs" in b:
            np.testing.assert_allclose(a["coefs"], b["coefs"], rtol=0, atol=TOL_SAME, err_msg=what)


def close_to_unrounded(j, dtype, what):
    x, y = data()
    want = ref.compute_all(x, y)
    for mid in MEASURES:
        assert abs(j["measures"][mid]["similarity"] - want[mid]["similarity"]) <= TOL_DTYPE[dtype], \
            (what, mid, j["measures"][mid]["similarity"], want[mid]["similarity"])


NPY_DTYPES = ["float16", "float32", "float64"]
VERSIONS = [(1, 0), (2, 0), (3, 0)]


@pytest.mark.parametrize("endian", ["<", ">"], ids=["le", "be"])
@pytest.mark.parametrize("fortran", [False, True], ids=["C", "F"])
@pytest.mark.parametrize("version", VERSIONS, ids=["v1", "v2", "v3"])
@pytest.mark.parametrize("dtype", NPY_DTYPES)
def test_npy(dtype, version, fortran, endian, tmp_path, tmp_path_factory):
    x, y = data()
    npdt = np.dtype(dtype).newbyteorder(endian)
    fx = write_npy(tmp_path / "x.npy", x.astype(npdt), version=version, fortran=fortran)
    fy = write_npy(tmp_path / "y.npy", y.astype(npdt), version=version, fortran=fortran)
    # The file really has the layout asked for.
    arr = np.load(fx, mmap_mode="r")
    assert arr.dtype == npdt and arr.flags.f_contiguous == fortran
    what = "npy %s v%d %s %s" % (dtype, version[0], "F" if fortran else "C", endian)
    j = compare(fx, fy, "--coefs")
    same(j, baseline(tmp_path_factory, dtype), what)
    close_to_unrounded(j, dtype, what)


def test_npy_mixed_dtypes_and_orders(tmp_path, tmp_path_factory):
    """x float32 big-endian Fortran, y float64 little-endian C."""
    x, y = data()
    fx = write_npy(tmp_path / "x.npy", x.astype(">f4"), fortran=True)
    fy = write_npy(tmp_path / "y.npy", y)
    j = compare(fx, fy, "--coefs")
    fb = write_npy(tmp_path / "xb.npy", rounded(x, "float32"))
    same(j, compare(fb, fy, "--coefs"), "mixed")


@pytest.mark.parametrize("dtype", NPY_DTYPES)
@pytest.mark.parametrize("compressed", [False, True], ids=["stored", "deflated"])
def test_npz(dtype, compressed, tmp_path, tmp_path_factory):
    x, y = data()
    path = tmp_path / "acts.npz"
    save = np.savez_compressed if compressed else np.savez
    # Extra arrays around the ones read, and a Fortran-order member.
    save(path, first=np.arange(5.0), layer_a=x.astype(dtype),
         layer_b=np.asfortranarray(y.astype(dtype)), last=np.zeros((2, 2)))
    j = compare("%s:layer_a" % path, "%s:layer_b" % path, "--coefs")
    assert j["x"]["path"] == "%s:layer_a" % path
    what = "npz %s %s" % (dtype, "deflated" if compressed else "stored")
    same(j, baseline(tmp_path_factory, dtype), what)


def test_npz_big_deflated_member(tmp_path, tmp_path_factory):
    """A deflated member larger than any read block (several MB inflated)."""
    rng = np.random.default_rng(101)
    x = rng.standard_normal((20000, 40))
    y = x[:, :30] @ rng.standard_normal((30, 30)) + rng.standard_normal((20000, 30))
    path = tmp_path / "big.npz"
    np.savez_compressed(path, x=x, y=y)
    fx, fy = write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y)
    m = "cca,cka,procrustes"
    a = compare("%s:x" % path, "%s:y" % path, measures=m)
    b = compare(fx, fy, measures=m)
    for mid in m.split(","):
        assert abs(a["measures"][mid]["similarity"] - b["measures"][mid]["similarity"]) <= TOL_SAME


def test_npz_single_array_without_key(tmp_path, tmp_path_factory):
    """An archive holding exactly one array may be named without a key."""
    x, y = data()
    np.savez(tmp_path / "x.npz", only=x)
    np.savez(tmp_path / "y.npz", only=y)
    j = compare(tmp_path / "x.npz", tmp_path / "y.npz", "--coefs")
    same(j, baseline(tmp_path_factory, "float64"), "npz without key")


ST_DTYPES = [("F16", "float16"), ("BF16", "bfloat16"), ("F32", "float32"), ("F64", "float64")]


@pytest.mark.parametrize("st,dtype", ST_DTYPES, ids=[s for s, _ in ST_DTYPES])
def test_safetensors(st, dtype, tmp_path, tmp_path_factory):
    x, y = data()
    path = tmp_path / "model.safetensors"
    write_safetensors(path, {"bias": ("F32", np.ones(3)), "layer.a": (st, x), "layer.b": (st, y)},
                      metadata={"format": "pt"})
    j = compare("%s:layer.a" % path, "%s:layer.b" % path, "--coefs")
    what = "safetensors %s" % st
    same(j, baseline(tmp_path_factory, dtype), what)
    close_to_unrounded(j, dtype, what)


def test_mixed_formats(tmp_path, tmp_path_factory):
    """x from safetensors F32, y from a deflated npz float64."""
    x, y = data()
    write_safetensors(tmp_path / "a.safetensors", {"h": ("F32", x)})
    np.savez_compressed(tmp_path / "b.npz", h=y)
    j = compare("%s:h" % (tmp_path / "a.safetensors"), "%s:h" % (tmp_path / "b.npz"), "--coefs")
    fx = write_npy(tmp_path / "x.npy", rounded(x, "float32"))
    fy = write_npy(tmp_path / "y.npy", y)
    same(j, compare(fx, fy, "--coefs"), "mixed formats")


FF_CASES = ["npy_C", "npy_F", "npz", "npz_deflated", "safetensors"]


@pytest.mark.parametrize("kind", FF_CASES)
def test_features_first(kind, tmp_path, tmp_path_factory):
    """The google/svcca layout (features x samples) with --features-first."""
    x, y = data()
    xt, yt = x.T, y.T
    if kind in ("npy_C", "npy_F"):
        fortran = kind == "npy_F"
        sx = write_npy(tmp_path / "x.npy", xt, fortran=fortran)
        sy = write_npy(tmp_path / "y.npy", yt, fortran=fortran)
    elif kind.startswith("npz"):
        save = np.savez_compressed if kind == "npz_deflated" else np.savez
        save(tmp_path / "a.npz", x=xt, y=yt)
        sx, sy = "%s:x" % (tmp_path / "a.npz"), "%s:y" % (tmp_path / "a.npz")
    else:
        write_safetensors(tmp_path / "a.safetensors", {"x": ("F64", xt), "y": ("F64", yt)})
        sx, sy = "%s:x" % (tmp_path / "a.safetensors"), "%s:y" % (tmp_path / "a.safetensors")
    j = compare(sx, sy, "--features-first", "--coefs")
    same(j, baseline(tmp_path_factory, "float64"), "features-first " + kind)
