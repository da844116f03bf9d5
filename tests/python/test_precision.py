"""--precision mixed (compare and matrix): single-precision products of
block-centred data summed in float64 (include/simrep.h, simrep_precision).

What is asserted, and why these tolerances:
- golden inputs: CKA, cka_debiased and Procrustes within 1e-6 of float64
  always; a CCA-family value is either within 1e-6 or carries the mixed
  warning (the library's estimate u (2 + sqrt(kx) + sqrt(ky)), u = 2^-24,
  kx, ky the kept covariance blocks' condition numbers, is conservative);
- a conditioning sweep (x's singular values spread over 10^0 .. 10^-s) shows
  where mixed precision stops holding: well-conditioned data (s = 0) stay
  within 1e-6 with no warning; from s = 4 on (condition number 1e8 of the
  covariance) the CCA values move by more than 1e-6 (measured 7e-5 at s = 4;
  at s = 6 canonical correlations above 1) and are warned about; never a
  silent error above 1e-6 (s = 2 is warned with 5e-7: the estimate is
  conservative);
- float64 stays the default (bit-identical output to --precision float64);
- usage errors.
"""

import numpy as np
import pytest

from conftest import GOLDEN, assert_error, compare, golden_cases, run, write_npy

LINEAR = "cca,cca_r2,svcca,pwcca,cka,cka_debiased,procrustes,procrustes_angular"
CCA_FAMILY = {"cca", "cca_r2", "svcca", "pwcca"}
MIXED_WARNING = "precision mixed: the CCA-family values may be off by more than 1e-6"


def mixed_warned(out):
    return any(MIXED_WARNING in w for w in out["warnings"])


def check_pair(xf, yf):
    """float64 vs mixed on one pair; returns (largest CCA-family error, warned)."""
    a = compare(xf, yf, measures=LINEAR)
    b = compare(xf, yf, "--precision", "mixed", measures=LINEAR)
    warned = mixed_warned(b)
    worst_cca = 0.0
    for m in a["measures"]:
        err = abs(a["measures"][m]["similarity"] - b["measures"][m]["similarity"])
        if m in CCA_FAMILY:
            worst_cca = max(worst_cca, err)
            assert err <= 1e-6 or warned, (m, err)
        else:
            assert err <= 1e-6, (m, err)
    return worst_cca, warned


@pytest.mark.parametrize("case", golden_cases())
def test_golden_within_bound(case):
    check_pair(GOLDEN / (case + "_x.npy"), GOLDEN / (case + "_y.npy"))


def test_conditioning_sweep(tmp_path):
    rng = np.random.default_rng(5)
    n, p = 3000, 24
    z = rng.standard_normal((n, p))
    q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    seen = {}
    for s in (0, 2, 4, 6):
        x = (z * np.logspace(0, -s, p)) @ q
        y = z[:, :16] + 0.3 * rng.standard_normal((n, 16))
        xf, yf = tmp_path / ("x%d.npy" % s), tmp_path / ("y%d.npy" % s)
        write_npy(xf, x.astype(np.float32))
        write_npy(yf, y.astype(np.float32))
        seen[s] = check_pair(xf, yf)
    assert not seen[0][1] and seen[0][0] <= 1e-6, seen
    # Where it stops holding: the CCA values move by more than 1e-6, warned.
    assert seen[6][1] and seen[6][0] > 1e-6, seen
    assert seen[4][1], seen


def test_default_is_float64(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 6)).astype(np.float32)
    write_npy(tmp_path / "x.npy", x)
    write_npy(tmp_path / "y.npy", x @ rng.standard_normal((6, 5)).astype(np.float32))
    a = run("compare", tmp_path / "x.npy", tmp_path / "y.npy", "-m", LINEAR, "--format", "json")
    b = run("compare", tmp_path / "x.npy", tmp_path / "y.npy", "-m", LINEAR, "--format", "json",
            "--precision", "float64")
    assert a.code == 0 and a.stdout == b.stdout


def test_matrix_mixed(tmp_path):
    rng = np.random.default_rng(2)
    z = rng.standard_normal((1500, 8))
    rows = ["name,path"]
    arrays = []
    for k in range(3):
        a = np.hstack([z, rng.standard_normal((1500, 4))]) + 0.5 * rng.standard_normal((1500, 12))
        a = a.astype(np.float32)
        write_npy(tmp_path / ("a%d.npy" % k), a)
        rows.append("a%d,%s" % (k, tmp_path / ("a%d.npy" % k)))
        arrays.append(tmp_path / ("a%d.npy" % k))
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    f64 = run("matrix", "--manifest", tmp_path / "m.csv", "-m", "cca,cka,procrustes", "--format", "json").json()
    mix = run("matrix", "--manifest", tmp_path / "m.csv", "-m", "cca,cka,procrustes", "--format", "json",
              "--precision", "mixed").json()
    for m in ("cca", "cka", "procrustes"):
        a = np.array(f64["measures"][m]["similarity"])
        b = np.array(mix["measures"][m]["similarity"])
        assert np.abs(a - b).max() <= 1e-6, m
    assert not any(MIXED_WARNING in w for w in mix["warnings"])


@pytest.mark.parametrize("cmd", ["compare", "matrix"])
@pytest.mark.parametrize("value", ["half", "", "FLOAT64", "mixed32"])
def test_bad_precision(tmp_path, cmd, value):
    rng = np.random.default_rng(3)
    write_npy(tmp_path / "x.npy", rng.standard_normal((50, 3)))
    (tmp_path / "m.csv").write_text("name,path\na,%s\nb,%s\n" % (tmp_path / "x.npy", tmp_path / "x.npy"))
    args = [tmp_path / "x.npy", tmp_path / "x.npy"] if cmd == "compare" else ["--manifest", tmp_path / "m.csv"]
    r = run(cmd, *args, "--precision", value)
    assert_error(r, 2, contains=["--precision"])


@pytest.mark.parametrize("scale", [1e-250, 1e-30, 1e30, 1e250])
def test_mixed_any_scale(tmp_path, scale):
    """Moments keep each input in power-of-two units up to 2^100 (moments.c,
    "Scale"); the single-precision products rescale each input's columns
    into [1, 2) first, so squares never overflow or underflow float."""
    rng = np.random.default_rng(4)
    z = rng.standard_normal((2000, 6))
    x, y = z, z[:, :4] + 0.5 * rng.standard_normal((2000, 4))
    write_npy(tmp_path / "x.npy", x)
    write_npy(tmp_path / "y.npy", y)
    write_npy(tmp_path / "xs.npy", x * scale)
    a = compare(tmp_path / "x.npy", tmp_path / "y.npy", measures=LINEAR)
    b = compare(tmp_path / "xs.npy", tmp_path / "y.npy", "--precision", "mixed", measures=LINEAR)
    for m in a["measures"]:
        assert abs(a["measures"][m]["similarity"] - b["measures"][m]["similarity"]) <= 1e-6, m
