"""simrep.compat: google/svcca's get_cca_similarity and compute_pwcca.

Checked against the golden values (computed by the reference code with
epsilon = 1e-10) and against the reference transcribed in
svcca_reference.py, key by key."""

import warnings

import numpy as np
import pytest

import simrep
import svcca_reference as R
from simrep.compat import cca_core, pwcca
from conftest import golden_arrays, golden_cases, random_pair

CASES = golden_cases()
KEYS16 = ["coef_x", "invsqrt_xx", "full_coef_x", "full_invsqrt_xx", "coef_y", "invsqrt_yy", "full_coef_y",
          "full_invsqrt_yy", "neuron_means1", "neuron_means2", "cca_coef1", "cca_coef2", "x_idxs", "y_idxs",
          "mean", "sum"]
# invertible_map: every rho is 1 - O(1e-10), so the singular vectors (coef_x,
# coef_y and the directions) are any rotation within that cluster: not
# comparable.  Every other key is.
UNDETERMINED = {"invertible_map": {"coef_x", "full_coef_x", "coef_y", "full_coef_y", "cca_dirns1",
                                   "cca_dirns2"}}


def acts(case):
    x, y = golden_arrays(case)
    return x.astype(np.float64).T, y.astype(np.float64).T  # neurons x datapoints


@pytest.mark.parametrize("case", CASES)
def test_golden(case, golden_expected):
    e = golden_expected[case]
    a1, a2 = acts(case)
    r = cca_core.get_cca_similarity(a1, a2, epsilon=1e-10)
    assert list(r) == KEYS16
    np.testing.assert_allclose(r["cca_coef1"], e["cca_coefs"], rtol=0, atol=1e-6)
    assert abs(np.mean(r["cca_coef1"]) - e["cca"]) <= 1e-6
    assert abs(r["mean"][0] - e["cca_google_mean"]) <= 1e-6 and r["mean"][0] == r["mean"][1]
    assert [int(r["x_idxs"].sum()), int(r["y_idxs"].sum())] == e["kept"]
    s, w, c = pwcca.compute_pwcca(a1, a2, epsilon=1e-10)
    assert abs(s - e["pwcca"]) <= 1e-6
    assert abs(w.sum() - 1) <= 1e-12 and len(w) == len(c) == len(e["cca_coefs"])


@pytest.mark.parametrize("epsilon", [1e-10, 0.0])
@pytest.mark.parametrize("case", CASES)
def test_every_key_equals_the_reference(case, epsilon):
    a1, a2 = acts(case)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = R.get_cca_similarity(a1.copy(), a2.copy(), epsilon=epsilon, compute_dirns=True)
    except np.linalg.LinAlgError:
        # The reference's NaN at epsilon = 0 with constant neurons
        # (dead_units); compat gives the value without them instead.
        assert case == "dead_units_f32" and epsilon == 0
        got = cca_core.get_cca_similarity(a1, a2, epsilon=epsilon)
        ok = cca_core.get_cca_similarity(a1, a2, epsilon=1e-10)
        assert np.all(np.isfinite(got["cca_coef1"]))
        assert np.array_equal(got["x_idxs"], ok["x_idxs"]) and not got["x_idxs"].all()
        np.testing.assert_allclose(got["cca_coef1"], ok["cca_coef1"], atol=1e-6)
        return
    got = cca_core.get_cca_similarity(a1, a2, epsilon=epsilon, compute_dirns=True)
    assert list(got) == KEYS16 + ["cca_dirns1", "cca_dirns2"] == list(want)
    for key in want:
        if key in UNDETERMINED.get(case, ()):
            assert np.shape(got[key]) == np.shape(want[key])
            continue
        g, w = np.asarray(got[key]), np.asarray(want[key])
        assert g.shape == w.shape, key
        if w.dtype == bool:
            assert np.array_equal(g, w), key
        else:
            # The whitening matrices reach ~1e3 on these data (smallest
            # rescaled eigenvalue ~1e-6): round-off of 1e-16 relative in the
            # covariance moves them by ~1e-10, the directions a bit more.
            np.testing.assert_allclose(g, w, rtol=1e-7, atol=1e-9, err_msg=key)


def test_flags_and_threshold():
    x, y = random_pair(31, n=400, p=10, q=8)
    a1, a2 = x.T, y.T
    r = cca_core.get_cca_similarity(a1, a2, compute_coefs=False)
    assert list(r) == ["cca_coef1", "cca_coef2", "x_idxs", "y_idxs", "mean", "sum"]
    r = cca_core.get_cca_similarity(a1, a2, compute_coefs=False, compute_dirns=True)  # NameError in the reference
    assert r["cca_dirns1"].shape == a1.shape and r["cca_dirns2"].shape == a2.shape
    for th in (0.5, 0.9, 1.0):
        want = R.get_cca_similarity(a1.copy(), a2.copy(), threshold=th)
        got = cca_core.get_cca_similarity(a1, a2, threshold=th)
        assert abs(got["mean"][0] - want["mean"][0]) <= 1e-10, th
        assert abs(got["sum"][0] - want["sum"][0]) <= 1e-10
    s = cca_core.get_cca_similarity(a1, a2, threshold=0.0)["cca_coef1"]
    assert cca_core.get_cca_similarity(a1, a2, threshold=0.0)["mean"][0] == s[0]  # reference: NaN
    with pytest.raises(ValueError, match="threshold"):
        cca_core.get_cca_similarity(a1, a2, threshold=1.5)
    # float32 and Fortran-order input, as the reference accepts any array
    r32 = cca_core.get_cca_similarity(np.asfortranarray(a1.astype(np.float32)), a2.astype(np.float32))
    want32 = R.get_cca_similarity(a1.astype(np.float32), a2.astype(np.float32))
    np.testing.assert_allclose(r32["cca_coef1"], want32["cca_coef1"], atol=1e-9)


def test_pwcca_argument_order():
    """The reference raises IndexError when acts1 keeps more neurons; compat
    gives the smaller-first value both ways."""
    x, y = random_pair(32, n=500, p=14, q=6)
    big, small = x.T, y.T
    want = R.compute_pwcca(small.copy(), big.copy())
    with pytest.raises((IndexError, ValueError)):
        R.compute_pwcca(big.copy(), small.copy())
    for args in ((small, big), (big, small)):
        s, w, c = pwcca.compute_pwcca(*args)
        assert abs(s - want[0]) <= 1e-10
        np.testing.assert_allclose(w, want[1], atol=1e-10)
        np.testing.assert_allclose(c, want[2], atol=1e-10)
        assert np.isfinite(s) and isinstance(s, np.floating)


def test_degenerate_and_shape_errors():
    x, y = random_pair(33, n=200, p=5, q=4)
    dead = np.zeros((5, 200))
    with pytest.raises(simrep.Error, match="zero variance|dead|constant") as e:
        cca_core.get_cca_similarity(dead, y.T)
    assert e.value.status == 8
    with pytest.raises(simrep.Error):
        pwcca.compute_pwcca(x.T, np.ones((4, 200)))
    with pytest.raises(ValueError, match="dimensions don't match"):
        cca_core.get_cca_similarity(x.T, y.T[:, :150])
    with pytest.raises(ValueError, match="neurons by datapoints"):
        cca_core.get_cca_similarity(x, x[:, ::-1])  # samples x features by mistake
    with pytest.raises(ValueError, match="neurons by datapoints"):
        pwcca.compute_pwcca(x, x[:, ::-1])
    bad = x.T.copy()
    bad[2, 17] = np.nan
    with pytest.raises(simrep.Error, match="^acts1: NaN"):
        cca_core.get_cca_similarity(bad, y.T)
    with pytest.raises(simrep.Error, match="^acts1: NaN"):
        pwcca.compute_pwcca(bad, y.T)
