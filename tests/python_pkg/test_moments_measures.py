"""The moments measures of issue 12 against numpy transcriptions of the
references they follow (written here, independently of the C code):

  shape_angular, shape_euclidean   netrep's LinearMetric(alpha, center_columns=True,
                                   zero_pad=True, score_method=...): utils.whiten with
                                   eigval_tol 1e-7 and preserve_variance, zero padding of
                                   the smaller side, the SVD alignment, then
                                   angular_distance / the Frobenius norm of the difference
  linreg                           numpy.linalg.lstsq with an intercept column (R^2 over
                                   the summed variance of y); ridge: the centred closed form
                                   of sklearn's Ridge(alpha, fit_intercept=True)
  cka_angular                      netrep's LinearCKA: the angle between the centred Gram
                                   matrices X Xᵀ and Y Yᵀ

on the golden inputs and on random data (p != q, p > n, rank deficient,
every alpha), to 1e-8 (the measures' own round-off is ~1e-13; the
reference whitening's eigenvalue clip makes tiny-variance data the only
place they could part, and none of these cases has any).
"""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

import reference_numpy as ref
import simrep
from conftest import golden_arrays, golden_cases, random_pair, simrep_bin

TOL = 1e-8


# The references (tests/python/reference_numpy.py, shared with the CLI's tests).
linear_metric = lambda x, y, alpha, method: ref.linear_metric(x, y, alpha, method)["distance"]  # noqa: E731
lstsq_r2 = ref.lstsq_r2
ridge_r2 = lambda x, y, ridge: ref.lstsq_r2(x, y, ridge)[0]  # noqa: E731
angular_cka = lambda x, y: ref.cka_angular(x, y)["distance"]  # noqa: E731


# ----------------------------------------------------------------- the data

def datasets():
    out = [(case,) + golden_arrays(case) for case in golden_cases()]
    x, y = random_pair(11, n=200, p=9, q=6)
    out.append(("random p > q", x, y))
    out.append(("random p < q", y, x))
    x, y = random_pair(12, n=40, p=30, q=25)  # few samples: rank n - 1 < p
    out.append(("few samples", x, y))
    rng = np.random.default_rng(13)
    z = rng.standard_normal((150, 3))
    out.append(("rank deficient x", np.c_[z, z @ rng.standard_normal((3, 4))] + 5.0,
                z @ rng.standard_normal((3, 5)) + 0.3 * rng.standard_normal((150, 5))))
    return out


DATA = datasets()
IDS = [d[0] for d in DATA]


def value(x, y, mid, **opts):
    return simrep.compare(x, y, [mid], warn=False, **opts)[mid]


@pytest.mark.parametrize("name,x,y", DATA, ids=IDS)
@pytest.mark.parametrize("alpha", [1.0, 0.5, 0.0])
def test_shape_metrics_match_netrep(name, x, y, alpha):
    x, y = x.astype(np.float64), y.astype(np.float64)
    # Whitening (alpha < 1) multiplies each direction by up to 1e-7^(-1/2)
    # (netrep's clip): on data with dead or nearly collinear features the
    # reference's own eigh round-off along those directions is amplified to
    # ~1e-7, so the 1e-6 is the bound there; without whitening, 1e-8.
    tol = TOL if alpha == 1 else 1e-6
    got = value(x, y, "shape_angular", shape_alpha=alpha)
    want = linear_metric(x, y, alpha, "angular")
    assert got["distance"] == pytest.approx(want, abs=tol), name
    assert got["similarity"] == pytest.approx(np.cos(want), abs=tol), name
    assert got["alpha"] == alpha
    got = value(x, y, "shape_euclidean", shape_alpha=alpha)
    want = linear_metric(x, y, alpha, "euclidean")
    assert got["distance"] == pytest.approx(want, rel=tol, abs=1e-9), name


@pytest.mark.parametrize("name,x,y", DATA, ids=IDS)
def test_linreg_matches_lstsq(name, x, y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    got = simrep.compare(x, y, ["linreg"], coefs=True, warn=False)["linreg"]
    want, per = lstsq_r2(x, y)
    assert got["similarity"] == pytest.approx(want, abs=TOL), name
    assert got["distance"] == pytest.approx(1 - want, abs=TOL), name
    assert got["reverse"] == pytest.approx(lstsq_r2(y, x)[0], abs=TOL), name
    np.testing.assert_allclose(got["coefs"], per, atol=1e-7)
    assert got["ridge"] == 0


@pytest.mark.parametrize("ridge", [1e-3, 1.0, 50.0])
def test_linreg_ridge_matches_the_closed_form(ridge):
    x, y = random_pair(14, n=120, p=10, q=7)
    got = value(x, y, "linreg", ridge=ridge)
    assert got["similarity"] == pytest.approx(ridge_r2(x, y, ridge), abs=TOL)
    assert got["reverse"] == pytest.approx(ridge_r2(y, x, ridge), abs=TOL)
    # The penalty is in the data's units: scaling x changes the answer.
    assert ridge < 1 or abs(value(1000 * x, y, "linreg", ridge=ridge)["similarity"] - got["similarity"]) > 1e-6


@pytest.mark.parametrize("name,x,y", DATA, ids=IDS)
def test_cka_angular_matches_netrep(name, x, y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    got = value(x, y, "cka_angular")
    assert got["distance"] == pytest.approx(angular_cka(x, y), abs=TOL), name
    assert got["similarity"] == pytest.approx(value(x, y, "cka")["similarity"], abs=1e-14)


# ----------------------------------------------- invariances beyond the defaults

def test_shape_alpha0_is_invariant_to_invertible_maps():
    x, y = random_pair(15, n=300, p=6, q=6)
    a = np.random.default_rng(1).standard_normal((6, 6)) + 3 * np.eye(6)
    base = value(x, y, "shape_angular", shape_alpha=0)["distance"]
    assert value(x @ a, y, "shape_angular", shape_alpha=0)["distance"] == pytest.approx(base, abs=1e-9)
    # ... which alpha = 1 (Procrustes) is not
    assert abs(value(x @ a, y, "shape_angular")["distance"] - value(x, y, "shape_angular")["distance"]) > 1e-3


def test_shape_alpha1_is_procrustes_and_euclidean_scales():
    x, y = random_pair(16, n=200, p=8, q=5)
    assert value(x, y, "shape_angular")["distance"] == pytest.approx(
        value(x, y, "procrustes_angular")["distance"], abs=1e-13)
    d = value(x, y, "shape_euclidean")["distance"]
    assert value(3 * x, 3 * y, "shape_euclidean")["distance"] == pytest.approx(3 * d, rel=1e-12)


def test_linreg_is_invariant_to_invertible_maps_of_x_only():
    x, y = random_pair(17, n=200, p=6, q=5)
    a = np.random.default_rng(2).standard_normal((6, 6)) + 3 * np.eye(6)
    base = value(x, y, "linreg")
    moved = value(x @ a + 7, y, "linreg")
    assert moved["similarity"] == pytest.approx(base["similarity"], abs=1e-10)
    b = np.random.default_rng(3).standard_normal((5, 5)) + 3 * np.eye(5)
    assert abs(value(x, y @ b, "linreg")["similarity"] - base["similarity"]) > 1e-4
    assert value(x, x @ a, "linreg")["similarity"] == pytest.approx(1, abs=1e-10)


def test_huge_and_tiny_scales():
    """The moments' power-of-two units are undone where a measure is in the
    data's units (the Euclidean distance, netrep's clip, the ridge)."""
    x, y = random_pair(18, n=150, p=5, q=4)
    for s in (1e-150, 1e150):
        assert value(s * x, s * y, "shape_angular")["distance"] == pytest.approx(
            value(x, y, "shape_angular")["distance"], abs=1e-12)
        assert value(s * x, s * y, "linreg")["similarity"] == pytest.approx(value(x, y, "linreg")["similarity"],
                                                                            abs=1e-12)
        assert value(s * x, y, "shape_euclidean", shape_alpha=0.5)["distance"] == pytest.approx(
            linear_metric(s * x, y, 0.5, "euclidean"), rel=1e-7)


def test_constant_side_is_an_error_not_nan():
    x, y = random_pair(19, n=50)
    for mid in ("shape_angular", "shape_euclidean", "linreg", "cka_angular"):
        with pytest.raises(simrep.Error, match="constant"):
            simrep.compare(np.ones_like(x), y, [mid])


# ------------------------------------------------------- the CLI and matrix

def test_cli_and_matrix_agree_with_the_package(tmp_path):
    rng = np.random.default_rng(20)
    z = rng.standard_normal((300, 4))
    arrays = [np.tanh(z @ rng.standard_normal((4, p))) + 0.3 * rng.standard_normal((300, p)) for p in (5, 7, 6)]
    rows = ["name,path"]
    for k, a in enumerate(arrays):
        np.save(tmp_path / ("a%d.npy" % k), a)
        rows.append("a%d,a%d.npy" % (k, k))
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    ms = "shape_angular,shape_euclidean,linreg,cka_angular"
    out = subprocess.run([str(simrep_bin()), "matrix", "--manifest", str(tmp_path / "m.csv"), "-m", ms,
                          "--shape-alpha", "0.25", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    mx = json.loads(out.stdout)
    cmp = subprocess.run([str(simrep_bin()), "compare", str(tmp_path / "a0.npy"), str(tmp_path / "a2.npy"), "-m", ms,
                          "--shape-alpha", "0.25", "--format", "json"], capture_output=True, text=True, timeout=60)
    assert cmp.returncode == 0, cmp.stderr
    pair = json.loads(cmp.stdout)["measures"]
    for mid in ms.split(","):
        want = value(arrays[0], arrays[2], mid, shape_alpha=0.25)
        assert pair[mid]["similarity"] == pytest.approx(want["similarity"], abs=1e-12)
        sim = np.array(mx["measures"][mid]["similarity"])
        assert sim[0][2] == pytest.approx(want["similarity"], abs=1e-12)
    assert pair["shape_angular"]["alpha"] == 0.25
    # linreg is asymmetric: the matrix's (2, 0) is the pair's reverse, not a mirror.
    lin = np.array(mx["measures"]["linreg"]["similarity"])
    assert lin[2][0] == pytest.approx(pair["linreg"]["reverse"], abs=1e-12)
    assert lin[0][2] != pytest.approx(lin[2][0], abs=1e-6)
    # A matrix of the same inputs from one pass (simrep.matrix: no rows kept).
    got = simrep.matrix(arrays, measures=ms.split(","), shape_alpha=0.25)
    np.testing.assert_allclose(got["measures"]["linreg"]["similarity"], mx["measures"]["linreg"]["similarity"],
                               atol=1e-12)


def test_bad_option_values_are_usage_errors():
    for args, msg in ((["--shape-alpha", "1.5"], "--shape-alpha must be a number in [0, 1] (got 1.5)"),
                      (["--shape-alpha", "nan"], "--shape-alpha must be a number in [0, 1]"),
                      (["--ridge", "-1"], "--ridge must be a number >= 0 (got -1)")):
        out = subprocess.run([str(simrep_bin()), "compare", "a.npy", "b.npy", "-m", "linreg"] + args,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 2 and msg in out.stderr, out.stderr


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace (tools/install-deps.sh installs it)")
def test_matrix_of_ten_inputs_reads_the_data_once(tmp_path):
    """Every pair of 10 inputs, with every new moments measure, from one pass
    over the data: each file's array bytes are read once (counted from the
    pread64 calls strace sees, besides the shape probe of each header)."""
    rng = np.random.default_rng(21)
    rows, sizes = ["name,path"], {}
    for k in range(10):
        a = rng.standard_normal((2000, 6 + k))
        path = tmp_path / ("in%d.npy" % k)
        np.save(path, a)
        sizes[str(path)] = a.nbytes
        rows.append("in%d,in%d.npy" % (k, k))
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    log = tmp_path / "trace"
    out = subprocess.run(["strace", "-f", "-e", "trace=openat,pread64,close", "-o", str(log), str(simrep_bin()),
                          "matrix", "--manifest", str(tmp_path / "m.csv"), "-m",
                          "shape_angular,shape_euclidean,linreg,cka_angular", "--shape-alpha", "0.5", "--format",
                          "json", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["passes"] == 1
    fds, read = {}, {p: 0 for p in sizes}
    for line in log.read_text().splitlines():
        m = re.search(r'openat\(.*?"([^"]+)".*\) = (\d+)', line)
        if m and m.group(1) in sizes:
            fds[m.group(2)] = m.group(1)
            continue
        m = re.search(r"pread64\((\d+),.*\) = (\d+)", line)
        if m and m.group(1) in fds:
            read[fds[m.group(1)]] += int(m.group(2))
        m = re.search(r"close\((\d+)\)", line)
        if m:
            fds.pop(m.group(1), None)
    for path, n in sizes.items():
        assert n <= read[path] <= n + 4096, (path, n, read[path])  # the data once, plus headers
