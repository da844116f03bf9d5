"""Calibration of simrep's bootstrap intervals and permutation nulls (issue 11),
through simrep.compare (the library's simrep_stats, as the CLI runs it):

- under independent x, y (Gaussian, n = 2,000, p = q = 50) the permutation
  p-values of 200 seeds are uniform (Kolmogorov-Smirnov p > 0.01) and the
  null mean matches the mean of the observed values; under a shared latent
  every p-value is the minimum 1 / (K + 1);
- 95% bootstrap intervals cover the population value of cca, pwcca and cka
  in [0.90, 0.99] of 200 synthetic repetitions with known population
  canonical correlations;
- interval widths agree with a brute-force unit bootstrap written here in
  numpy (within 15%), both where the buckets are the units themselves and
  where they are 128 random groups of units;
- with conv maps whose positions are correlated within an image, intervals
  over images (the default unit) are wider than intervals over rows.

Lean in CPU: small feature counts, one thread; about a minute in all."""

import json
import subprocess
import warnings

import numpy as np
import pytest
from scipy import stats as sps

import simrep
import reference_numpy as ref
from conftest import cli_json, simrep_bin

KP = 49  # permutations per seed: p-values are multiples of 1/50


def _independent(seed, n=2000, p=50, q=50):
    r = np.random.default_rng(seed)
    return r.normal(size=(n, p)), r.normal(size=(n, q))


def test_pvalues_uniform_under_independence():
    pv = {"cca": [], "cka": []}
    obs = {"cca": [], "cka": []}
    nulls = {"cca": [], "cka": []}
    for seed in range(200):
        x, y = _independent(seed)
        r = simrep.compare(x, y, ["cca", "cka"], permutations=KP, seed=seed, threads=1, warn=False)
        for m in pv:
            pv[m].append(r[m]["null"]["p"])
            obs[m].append(r[m]["similarity"])
            nulls[m].append(r[m]["null"]["mean"])
    for m in pv:
        p = np.array(pv[m])
        # p is discrete (multiples of 1/(K+1)); spread it over its cell so
        # that a uniform p gives an exactly uniform sample for the KS test.
        u = p - np.random.default_rng(1).uniform(0, 1 / (KP + 1), size=p.size)
        assert sps.kstest(u, "uniform").pvalue > 0.01, (m, np.histogram(p, bins=10, range=(0, 1))[0])
        o, nm = np.array(obs[m]), np.array(nulls[m])
        assert abs(o.mean() - nm.mean()) < 4 * o.std(ddof=1) / np.sqrt(o.size), (m, o.mean(), nm.mean())


def test_shared_latent_gives_minimum_p():
    for seed in range(3):
        r = np.random.default_rng(100 + seed)
        z = r.normal(size=(2000, 5))
        x = np.c_[z, r.normal(size=(2000, 45))]
        y = np.c_[z @ r.normal(size=(5, 5)), r.normal(size=(2000, 45))] @ r.normal(size=(50, 50))
        res = simrep.compare(x, y, "all", permutations=KP, seed=seed, threads=1, warn=False)
        info = simrep.measures()
        for m, e in res.items():
            if info[m]["family"] != "rows":  # the permutation test reads the moments
                assert e["null"]["p"] == pytest.approx(1 / (KP + 1)), m


RHO = np.array([0.9, 0.75, 0.6, 0.45])


def _latent(seed, n):
    """x = u (4 independent columns), y_i = rho_i u_i + sqrt(1 - rho_i^2) v_i:
    population canonical correlations RHO, so cca = pwcca = mean(RHO) (the
    canonical variates are x's own columns, so pwcca's weights are equal)
    and cka = |diag(RHO)|_F^2 / (|I|_F |I|_F) = sum(RHO^2) / 4."""
    r = np.random.default_rng(seed)
    u = r.normal(size=(n, 4))
    return u, u * RHO + r.normal(size=(n, 4)) * np.sqrt(1 - RHO ** 2)


def test_coverage_at_95():
    truth = {"cca": RHO.mean(), "pwcca": RHO.mean(), "cka": (RHO ** 2).sum() / 4}
    hit = {m: 0 for m in truth}
    reps = 200
    for seed in range(reps):
        x, y = _latent(seed, 1000)
        r = simrep.compare(x, y, list(truth), bootstrap=200, seed=seed, threads=1, warn=False)
        for m, t in truth.items():
            lo, hi = r[m]["ci"]
            hit[m] += lo <= t <= hi
    for m in truth:
        assert 0.90 <= hit[m] / reps <= 0.99, (m, hit[m] / reps)


def _brute_force(x, y, b, seed, measures):
    """The unit bootstrap itself: b resamples of the rows with replacement."""
    r = np.random.default_rng(seed)
    n = x.shape[0]
    out = {m: [] for m in measures}
    for _ in range(b):
        i = r.integers(0, n, size=n)
        for m in measures:
            out[m].append(getattr(ref, m)(x[i], y[i])["similarity"])
    return {m: np.percentile(v, [2.5, 97.5]) for m, v in out.items()}


# n = 100: the units are the buckets, so only the Monte Carlo error of both
# bootstraps separates them (about 3% in a width at these B); n = 2000: 128
# random groups of units, whose standard error is itself uncertain by about
# 1 / sqrt(2 x 127) = 6% (src/stats.c).  pwcca's numpy oracle is slow: only
# at n = 100.
@pytest.mark.parametrize("n, exact, measures", [(100, True, ("cca", "pwcca", "cka")), (2000, False, ("cca", "cka"))])
def test_widths_match_brute_force(n, exact, measures):
    x, y = _latent(7, n)
    bf = _brute_force(x, y, 1000, 3, measures)
    r = simrep.compare(x, y, list(measures), bootstrap=2000, seed=5, threads=1, warn=False)
    assert r.statistics["exact_bootstrap"] == exact
    assert r.statistics["buckets"] == (100 if exact else 128)
    for m, (lo, hi) in bf.items():
        ratio = (r[m]["ci"][1] - r[m]["ci"][0]) / (hi - lo)
        assert 0.85 <= ratio <= 1.15, (m, ratio)


def test_conv_positions_wider_than_rows():
    """Maps whose positions share an image effect: the 16 positions of an
    image are far from 16 independent samples, and an interval that treats
    them as such is too narrow."""
    r = np.random.default_rng(11)
    n, h, w, c = 300, 4, 4, 3
    image = r.normal(size=(n, 1, 1, c)) * 2.0
    xm = image + r.normal(size=(n, h, w, c))
    ym = xm @ r.normal(size=(c, c)) + image @ r.normal(size=(c, c)) + r.normal(size=(n, h, w, c)) * 2
    kw = dict(bootstrap=300, seed=1, threads=1, warn=False)
    by_image = simrep.compare(xm, ym, ["cca", "cka"], conv="nhwc", **kw)
    by_row = simrep.compare(xm.reshape(-1, c), ym.reshape(-1, c), ["cca", "cka"], **kw)
    assert by_image.statistics["units"] == n and by_image.statistics["unit_rows"] == h * w
    assert by_row.statistics["units"] == n * h * w
    for m in ("cca", "cka"):
        wi = by_image[m]["ci"][1] - by_image[m]["ci"][0]
        wr = by_row[m]["ci"][1] - by_row[m]["ci"][0]
        assert wi > 1.25 * wr, (m, wi, wr)
        print(m, wi / wr)
        assert by_image[m]["similarity"] == pytest.approx(by_row[m]["similarity"], abs=1e-12)


def test_same_numbers_as_the_cli(tmp_path):
    x, y = _latent(3, 700)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    ms = ["cca", "cca_r2", "svcca", "pwcca", "cka", "cka_debiased", "procrustes"]
    got = simrep.compare(x, y, ms, bootstrap=50, permutations=30, seed=42, threads=2, warn=False)
    want = cli_json(str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "-m", ",".join(ms),
                    "--bootstrap", "50", "--permutations", "30", "--seed", "42", "--threads", "1")
    for m in ms:
        for k in ("ci", "se", "bias", "bootstrap", "distance_ci", "null", "adjusted", "chance"):
            if k in want["measures"][m]:
                assert got[m][k] == want["measures"][m][k], (m, k)
    assert got.statistics == want["statistics"]


def test_sequences_as_the_cli(tmp_path):
    """sequence="per-step" (a state per step, the same resamples at every
    step) and mask= with sequence="flatten" (a sequence's valid tokens are
    a unit): the CLI's numbers and keys (the brute-force checks of both are
    tests/python/test_stats_units.py)."""
    r = np.random.default_rng(6)
    s = r.normal(size=(30, 4, 3)) + r.normal(size=(30, 1, 3))
    u = np.cumsum(s, axis=1) + 0.5 * r.normal(size=(30, 4, 3))
    lengths = r.integers(0, 5, size=30)
    mask = np.arange(4)[None, :] < lengths[:, None]
    np.save(tmp_path / "s.npy", s)
    np.save(tmp_path / "u.npy", u)
    np.save(tmp_path / "m.npy", mask)
    ms = ["cca", "cka", "cka_debiased"]
    for kw, args in ((dict(sequence="per-step", bootstrap=20, permutations=15, seed=2),
                      ("--sequence", "per-step", "--bootstrap", "20", "--permutations", "15", "--seed", "2")),
                     (dict(sequence="flatten", mask=mask, bootstrap=20, seed=2, buckets=8),
                      ("--sequence", "flatten", "--mask", str(tmp_path / "m.npy"), "--bootstrap", "20", "--seed", "2",
                       "--buckets", "8"))):
        got = simrep.compare(s, u, ms, warn=False, threads=2, **kw)
        want = cli_json(str(tmp_path / "s.npy"), str(tmp_path / "u.npy"), "-m", ",".join(ms), *args)
        for m in ms:
            assert set(got[m]) == set(want["measures"][m]), m
            for k, v in want["measures"][m].items():
                if k not in ("similarity", "distance", "per_step", "per_step_distance", "bias", "reference_mean"):
                    assert got[m][k] == v, (m, k)
        assert got.statistics == want["statistics"]
    with pytest.raises(simrep.InvalidArgument, match="one size") as e:
        simrep.compare(s, u, ms, sequence="flatten", mask=mask, permutations=10)
    assert e.value.option == "unit_starts"  # the option at fault (simrep_error_info.option)


def test_bad_arguments():
    x, y = _latent(1, 50)
    for kw in ({"bootstrap": -1}, {"permutations": 1.5}, {"ci": 1.2}, {"seed": -3}, {"ci_method": "bca"},
               {"bootstrap": 5, "unit_rows": 0}):
        with pytest.raises(simrep.InvalidArgument):
            simrep.compare(x, y, ["cka"], **kw)
    with pytest.raises(simrep.InvalidArgument, match="units"):
        simrep.compare(x, y, ["cka"], permutations=10, unit_rows=10)
    with pytest.raises(simrep.InvalidArgument, match="standard error"):
        simrep.compare(x, y, ["cka"], bootstrap=1)


# (keywords, words of each SimrepWarning expected; [] = none): the CLI's
# warnings about its options (tests/python/test_stats_cli.py), in Python's names.
OPTION_WARNINGS = [
    ({"bootstrap": 40}, [["40 resamples are too few for a 95% interval", "at least 41"]]),
    ({"bootstrap": 41}, []),
    ({"bootstrap": 20, "ci": 0.9}, [["20 resamples", "90% interval", "at least 21"]]),
    ({"permutations": 18}, [["smallest p-value is 1/19 = 0.053"]]),
    ({"permutations": 19}, []),
    ({"ci": 0.9}, [["ci, ci_method and buckets change nothing without bootstrap"]]),
    ({"seed": 3}, [["seed and unit_rows change nothing"]]),
    ({"bootstrap": 50, "segments": 4}, [["segments changes nothing without permutations"]]),
    ({"bootstrap": 50, "seed": 3, "ci": 0.9, "ci_method": "basic"}, []),
]


@pytest.mark.parametrize("kw, says", OPTION_WARNINGS, ids=[str(c[0]) for c in OPTION_WARNINGS])
def test_option_warnings(kw, says):
    x, y = _latent(1, 60)
    kw = dict(kw)
    if kw.get("bootstrap"):  # the observed value may leave a percentile interval: not this test's warning
        kw.setdefault("ci_method", "basic")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simrep.compare(x, y, ["cka"], **kw)
        if "permutations" in kw:  # the group tests of matrix say the same
            simrep.matrix([x, y, x + y], groups=["a", "a", "b"], measures=["cka"], permutations=kw["permutations"])
    texts = [str(w.message) for w in caught if issubclass(w.category, simrep.SimrepWarning)]
    want = says * (2 if "permutations" in kw else 1)
    assert len(texts) == len(want), texts
    for t, words in zip(texts, want):
        assert all(w in t for w in words), (words, t)
        assert caught[0].filename == __file__  # points at the caller's line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        simrep.compare(x, y, ["cka"], warn=False, **kw)
    assert not [w for w in caught if issubclass(w.category, simrep.SimrepWarning)]


def test_matrix_group_tests_as_the_cli(tmp_path):
    r = np.random.default_rng(4)
    z = r.normal(size=(200, 3))
    arrays = {"g%d" % k: np.c_[z, r.normal(size=(200, 2)) * (1 + k)] for k in range(3)}
    arrays.update({"h%d" % k: r.normal(size=(200, 5)) for k in range(3)})
    lines = ["name,path,group"]
    for name, a in arrays.items():
        np.save(tmp_path / (name + ".npy"), a)
        lines.append("%s,%s.npy,%s" % (name, name, name[0]))
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    got = simrep.matrix(arrays, groups=[k[0] for k in arrays], measures=["cka"], permutations=60, bootstrap=40,
                        seed=9)
    proc = subprocess.run([str(simrep_bin()), "matrix", "--manifest",
                           str(tmp_path / "m.csv"), "-m", "cka", "--permutations", "60", "--bootstrap", "40",
                           "--seed", "9", "--format", "json"], capture_output=True, text=True, check=True)
    want = json.loads(proc.stdout)["group_summary"]["cka"]
    g = got["group_summary"]["cka"]
    assert g["statistics"] == want["statistics"]
    for key in ("tests", "within_ci", "between_ci"):
        assert set(g[key]) == set(want[key])
    for k, t in want["tests"].items():
        assert g["tests"][k]["p"] == t["p"] and g["tests"][k]["permutations"] == t["permutations"]
        # the distances themselves agree to round-off (test_matrix.py)
        assert g["tests"][k]["statistic"] == pytest.approx(t["statistic"], abs=1e-10)
    for k, v in want["within_ci"].items():
        assert g["within_ci"][k] == pytest.approx(v, abs=1e-10)
