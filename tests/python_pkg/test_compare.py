"""simrep.compare: parity with the CLI and the golden values, options,
dtypes and the numpy oracle of tests/python."""

import math
import os

import numpy as np
import pytest

import simrep
import reference_numpy as ref
from conftest import GOLDEN, cli_json, golden_arrays, golden_cases, random_pair

CASES = golden_cases()

# Options as keyword arguments and as CLI flags.
OPTION_SETS = [
    ({}, ()),
    ({"rbf_sigma": 0.5, "pwcca_variant": "ding"}, ("--rbf-sigma", "0.5", "--pwcca-variant", "ding")),
    ({"svcca_dims": 5, "epsilon": 1e-6}, ("--svcca-dims", "5", "--epsilon", "1e-6")),
    ({"svcca_keep": 0.9, "svcca_rule": "singular-values"}, ("--svcca-keep", "0.9", "--svcca-rule",
                                                            "singular-values")),
]


# invertible_map: every rho is 1 - O(1e-10), so the canonical directions, and
# with them pwcca's weights, are not determined by the data: round-off (the
# CLI folds the rows in blocks) picks them.  The similarity is 1 either way.
WEIGHTS_UNDETERMINED = {"invertible_map"}


def _assert_same(got, want, tol, case=None):
    """got: simrep.compare's dict; want: the CLI's JSON "measures"."""
    assert list(got) == list(want)
    for mid in want:
        assert set(got[mid]) == set(want[mid]), mid
        for key, w in want[mid].items():
            if key == "weights" and case in WEIGHTS_UNDETERMINED:
                continue
            g = got[mid][key]
            if isinstance(w, str):
                assert g == w, (mid, key)
            elif isinstance(w, list) and key in ("kept", "dims"):
                assert g == w, (mid, key)
            else:
                np.testing.assert_allclose(np.asarray(g, dtype=float), np.asarray(w, dtype=float),
                                           rtol=0, atol=tol, err_msg="%s %s" % (mid, key))


@pytest.mark.parametrize("opts", range(len(OPTION_SETS)))
@pytest.mark.parametrize("case", CASES)
def test_parity_with_cli(case, opts):
    """Same numbers as `simrep compare -m all --coefs --format json` with the
    same options.  Both run the same library code on the same float64 data;
    the CLI reads in blocks, so allow round-off (1e-12)."""
    kwargs, flags = OPTION_SETS[opts]
    want = cli_json(GOLDEN / (case + "_x.npy"), GOLDEN / (case + "_y.npy"), "-m", "all+kernel", "--coefs",
                    *flags)["measures"]
    x, y = golden_arrays(case)
    got = simrep.compare(x, y, measures="all+kernel", coefs=True, warn=False, **kwargs)
    _assert_same(got, want, 1e-12, case)


def test_parity_default_measures_and_features_first(tmp_path):
    case = CASES[0]
    x, y = golden_arrays(case)
    np.save(tmp_path / "xt.npy", np.ascontiguousarray(x.T))
    np.save(tmp_path / "yt.npy", np.asfortranarray(y.T))
    want = cli_json(tmp_path / "xt.npy", tmp_path / "yt.npy", "--features-first")["measures"]
    got = simrep.compare(x.T, y.T, features_first=True, warn=False)
    assert list(got) == ["cca", "svcca", "pwcca", "cka"] == list(want)
    _assert_same(got, want, 1e-12)


def test_path_specs_as_the_cli(tmp_path):
    """x and y may be path specs (str, bytes, os.PathLike; .npy, .npz:key,
    .safetensors:name) as the CLI takes them: streamed through the same
    library inputs, the CLI's numbers (statistics and features_first too);
    a missing file or key is the library's message naming it."""
    x, y = random_pair(3, dtype=np.float32)
    px, pz = tmp_path / "x.npy", tmp_path / "y.npz"
    np.save(px, x)
    np.savez(pz, acts=y)
    ms = ["cca", "pwcca", "cka", "rsa"]
    want = cli_json(px, "%s:acts" % pz, "-m", ",".join(ms))["measures"]
    for a, b in ((str(px), "%s:acts" % pz), (px, os.fsencode("%s:acts" % pz)), (px, y)):
        _assert_same(simrep.compare(a, b, ms, warn=False), want, 1e-12)
    _assert_same(simrep.compare(x, y, ms, warn=False), want, 1e-9)  # in memory: summed in another order
    stats = ("--bootstrap", "50", "--permutations", "20", "--seed", "4")
    want = cli_json(px, "%s:acts" % pz, "-m", "cca,cka", *stats)["measures"]
    got = simrep.compare(px, "%s:acts" % pz, ["cca", "cka"], bootstrap=50, permutations=20, seed=4, warn=False)
    for mid in want:
        null = want[mid].pop("null")
        assert got[mid].pop("null") == pytest.approx(null, abs=1e-12)
    _assert_same(got, want, 1e-12)
    np.save(tmp_path / "xt.npy", x.T)
    np.save(tmp_path / "yt.npy", y.T)
    want = cli_json(tmp_path / "xt.npy", tmp_path / "yt.npy", "--features-first", "-m", "cka")["measures"]
    _assert_same(simrep.compare(tmp_path / "xt.npy", tmp_path / "yt.npy", ["cka"], features_first=True), want, 1e-12)
    for bad, says in ((tmp_path / "none.npy", "none.npy: cannot open"), ("%s:nokey" % pz, "nokey")):
        with pytest.raises(simrep.Error, match=says):
            simrep.compare(bad, px, ["cka"])


GOLDEN_KEYS = {  # golden key -> (options, measure, field)
    "cca": ({}, "cca", "similarity"), "cca_r2": ({}, "cca_r2", "similarity"),
    "cca_google_mean": ({}, "cca", "reference_mean"), "svcca": ({}, "svcca", "similarity"),
    "pwcca": ({}, "pwcca", "similarity"), "cka": ({}, "cka", "similarity"),
    "cka_debiased": ({}, "cka_debiased", "similarity"), "cka_rbf_1": ({}, "cka_rbf", "similarity"),
    "cka_rbf_0.5": ({"rbf_sigma": 0.5}, "cka_rbf", "similarity"),
    "procrustes": ({}, "procrustes", "distance"),
    "procrustes_similarity": ({}, "procrustes", "similarity"),
}


@pytest.mark.parametrize("case", CASES)
def test_golden_values(case, golden_expected):
    """docs/measures.md: agreement with the reference outputs to 1e-6."""
    e = golden_expected[case]
    x, y = golden_arrays(case)
    for key, (opts, mid, field) in GOLDEN_KEYS.items():
        got = simrep.compare(x, y, [mid], warn=False, **opts)[mid][field]
        assert abs(got - e[key]) <= 1e-6, (case, key, got, e[key])
    r = simrep.compare(x, y, ["cca", "svcca"], coefs=True, warn=False)
    assert r["cca"]["kept"] == e["kept"]
    assert r["svcca"]["dims"] == e["svcca_dims"]
    np.testing.assert_allclose(r["cca"]["coefs"], e["cca_coefs"], rtol=0, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_against_numpy_oracle(seed):
    x, y = random_pair(seed, n=200 + 50 * seed, p=6 + seed, q=9 - seed)
    got = simrep.compare(x, y, "all+kernel", coefs=True, warn=False)
    for mid in ref.ALL_MEASURES:
        want = ref.compute(mid, x, y)
        assert abs(got[mid]["similarity"] - want["similarity"]) <= 1e-8, mid
        assert abs(got[mid]["distance"] - want["distance"]) <= 1e-8, mid
    np.testing.assert_allclose(got["pwcca"]["weights"], ref.pwcca(x, y)["weights"], atol=1e-8)


# Tolerances per dtype: simrep converts each value exactly to float64, so the
# float64 image of the rounded data must give the float64 result to
# round-off of the computation itself.
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_dtypes_are_read_as_their_float64_values(dtype):
    x, y = random_pair(7, dtype=dtype)
    got = simrep.compare(x, y, "all+kernel", warn=False)
    want = simrep.compare(x.astype(np.float64), y.astype(np.float64), "all+kernel", warn=False)
    for mid in want:
        assert abs(got[mid]["similarity"] - want[mid]["similarity"]) <= 1e-12, mid


def test_integer_input_is_converted():
    rng = np.random.default_rng(3)
    x = rng.integers(-50, 50, (100, 5))
    y = rng.integers(-50, 50, (100, 4)).astype(np.int16)
    assert simrep.compare(x, y, ["cka"])["cka"]["similarity"] == pytest.approx(
        simrep.compare(x.astype(float), y.astype(float), ["cka"])["cka"]["similarity"], abs=1e-15)


def test_measure_selection_and_extras():
    x, y = random_pair(1)
    r = simrep.compare(x, y, "cka,cca", rbf_sigma=0.5)
    assert list(r) == ["cka", "cca"]
    r = simrep.compare(x, y, ["cka_rbf", "cka_rbf", "pwcca"], rbf_sigma=0.5, pwcca_variant="ding")
    assert list(r) == ["cka_rbf", "pwcca"]
    assert r["cka_rbf"]["sigma"] == 0.5 and r["pwcca"]["variant"] == "ding"
    assert "coefs" not in r["pwcca"]
    assert math.isclose(simrep.compare(x, y, ["procrustes_angular"])["procrustes_angular"]["distance"],
                        math.acos(simrep.compare(x, y, ["procrustes"])["procrustes"]["similarity"]))
    # "all": the measures of 2-D matrices, those of reference_numpy among them
    assert set(ref.ALL_MEASURES) <= set(simrep.MEASURES)
    assert set(simrep.MEASURES) == {m for m, i in simrep.measures().items() if not i["needs_maps"]}
    info = simrep.measures()
    assert info["cka_rbf"]["needs_rows"] and not info["cca"]["needs_rows"]
    for mid in info:
        if info[mid]["needs_maps"]:  # dftcca: conv maps, not in the package yet
            with pytest.raises(NotImplementedError, match="conv"):
                simrep.compare(x, y, [mid])


def test_warnings_mirror_the_cli():
    x, y = random_pair(2, n=50)
    with pytest.warns(simrep.SimrepWarning, match=r"n = 50 samples \(12 kept features\) is less than 10 x"):
        simrep.compare(x, y, ["cca"])
    x[:, 3] = 1.5
    with pytest.warns(simrep.SimrepWarning, match="x: 1 of 12 features are constant"):
        r = simrep.compare(x, y, ["cca", "cka"])
    assert r["cca"]["kept"] == [11, 9]


# ---------------------------------------------------------------- precision

def test_precision_mixed_within_1e6_and_recomputed_when_ill_conditioned():
    """precision='mixed': well-conditioned float32 data within 1e-6 of
    float64 (include/simrep.h, simrep_precision); data too ill-conditioned
    for it are recomputed in float64 (the same numbers) with a warning."""
    rng = np.random.default_rng(8)
    z = rng.standard_normal((3000, 12))
    x = z.astype(np.float32)
    y = (z[:, :8] + 0.3 * rng.standard_normal((3000, 8))).astype(np.float32)
    a = simrep.compare(x, y, "cca,pwcca,cka,procrustes")
    b = simrep.compare(x, y, "cca,pwcca,cka,procrustes", precision="mixed")
    for m in a:
        assert abs(a[m]["similarity"] - b[m]["similarity"]) <= 1e-6, m
    bad = (z * np.logspace(0, -6, 12)).astype(np.float32)
    want = simrep.compare(bad, y, "cca,cka")
    with pytest.warns(simrep.SimrepWarning, match="recomputed in float64"):
        got = simrep.compare(bad, y, "cca,cka", precision="mixed")
    assert got["cca"]["similarity"] == want["cca"]["similarity"]
    m = simrep.matrix([x, y, x[:, :6]], measures="cka", precision="mixed")
    assert abs(m["measures"]["cka"]["similarity"][0, 1] - a["cka"]["similarity"]) <= 1e-6
    for bad_value in ("half", "FLOAT64"):
        with pytest.raises(simrep.InvalidArgument, match="precision"):
            simrep.compare(x, y, precision=bad_value)
