"""Randomized comparison of the CLI with reference_numpy.py, and invariances.

Tolerances.  The reference works on the full matrices in two passes; simrep
streams joint moments with the Chan-Golub-LeVeque merge, so the two differ
only by round-off in the scatter matrices.  Perturbing these data by one ulp
and reordering the rows moves every measure of the reference by <= 5e-14
(checked while writing these tests), so TOL = 1e-9 leaves four orders of
magnitude for a different summation order and still catches any formula
slip (n vs n-1 where it matters, a wrong ridge, a dropped or extra feature,
the debiased HSIC terms), all of which move values by >= 1e-6.
With |mean| = 1e6 x std the naive "sum x xᵀ - n mu muᵀ" loses ~12 of 16
digits of the covariance (relative error ~1e-16 * 1e12); a correct pairwise
merge keeps ~1e-10 relative, hence TOL_HUGE_MEAN = 1e-7 for that case.
"""

import math

import numpy as np
import pytest

from conftest import compare, run, write_npy, ref

TOL = 1e-9
TOL_HUGE_MEAN = 1e-7
MEASURES = ref.ALL_MEASURES


# ------------------------------------------------------------ data makers

def independent(rng, n, p, q):
    return rng.standard_normal((n, p)), rng.standard_normal((n, q))


def correlated(rng, n, p, q, noise=0.5):
    """Both layers read a shared latent of rank min(p,q)//2 + 1, plus noise;
    columns with different scales."""
    r = min(p, q) // 2 + 1
    z = rng.standard_normal((n, r))
    x = z @ rng.standard_normal((r, p)) + noise * rng.standard_normal((n, p))
    y = z @ rng.standard_normal((r, q)) + noise * rng.standard_normal((n, q))
    return x * rng.uniform(0.2, 5, p), y * rng.uniform(0.2, 5, q)


def offset(rng, n, p, q, factor):
    """Correlated data whose column means are factor x their std."""
    x, y = correlated(rng, n, p, q)
    x = x + factor * x.std(0) * rng.uniform(0.5, 1.5, p) * rng.choice([-1, 1], p)
    y = y + factor * y.std(0) * rng.uniform(0.5, 1.5, q) * rng.choice([-1, 1], q)
    return x, y


def relu(rng, n, p, q):
    """ReLU activations of correlated pre-activations, with dead units
    (columns that are 0 for every sample) on both sides."""
    x, y = correlated(rng, n, p, q)
    x = np.maximum(x + rng.uniform(-1, 1, p), 0)
    y = np.maximum(y + rng.uniform(-1, 1, q), 0)
    x[:, [0, p // 2]] = 0
    y[:, -1] = 0
    return x, y


# (id, maker, n, p, q, seed)
CASES = [
    ("independent", independent, 500, 20, 12, 0),
    ("independent_sq", independent, 400, 9, 9, 1),
    ("correlated_p<q", correlated, 600, 12, 30, 2),
    ("correlated_p>q", correlated, 600, 30, 12, 3),
    ("correlated_p=q", correlated, 300, 8, 8, 4),
    ("mean_1e3_std", lambda r, n, p, q: offset(r, n, p, q, 1e3), 500, 16, 10, 5),
    ("n=p+q+3", correlated, 38, 20, 15, 6),
    ("n=p+q+1", correlated, 26, 10, 15, 7),
    ("relu_dead", relu, 800, 24, 16, 8),
    ("p=1_q=1", correlated, 200, 1, 1, 9),
    ("p=1_q=5", correlated, 200, 1, 5, 10),
    ("tiny_n=10", correlated, 10, 3, 2, 11),
]


def make(case):
    name, maker, n, p, q, seed = case
    x, y = maker(np.random.default_rng(seed), n, p, q)
    return x, y


def files(tmp_path, x, y):
    return write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y)


def check_measure(mid, got, want, tol, what=""):
    assert abs(got["similarity"] - want["similarity"]) <= tol, \
        "%s %s similarity: simrep %r, numpy %r" % (what, mid, got["similarity"], want["similarity"])
    assert abs(got["distance"] - want["distance"]) <= tol, \
        "%s %s distance: simrep %r, numpy %r" % (what, mid, got["distance"], want["distance"])
    if mid in ref.CCA_FAMILY:
        assert got["kept"] == want["kept"], (what, mid)
    if mid == "svcca":
        assert got["dims"] == want["dims"], what
    if "coefs" in got and mid != "svcca":
        np.testing.assert_allclose(got["coefs"], want["coefs"], rtol=0, atol=tol,
                                   err_msg="%s %s coefs" % (what, mid))
    if mid == "pwcca" and "weights" in got:
        # Ding's weights: simrep may list only the k that enter the sum.
        w = want["weights"][:len(got["weights"])]
        np.testing.assert_allclose(got["weights"], w, rtol=0, atol=tol,
                                   err_msg="%s pwcca weights" % what)
    if mid == "cca":
        assert abs(got["reference_mean"] - want["reference_mean"]) <= tol, what


def check_all(j, x, y, tol, measures=MEASURES, what="", **opts):
    want = ref.compute_all(x, y, measures, **opts)
    assert j["n"] == x.shape[0]
    assert j["x"]["features"] == x.shape[1] and j["y"]["features"] == y.shape[1]
    for mid in measures:
        check_measure(mid, j["measures"][mid], want[mid], tol, what)


# ------------------------------------------------------------ comparisons

@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_random_vs_numpy(case, tmp_path):
    x, y = make(case)
    fx, fy = files(tmp_path, x, y)
    j = compare(fx, fy, "--coefs")
    check_all(j, x, y, TOL, what=case[0])
    kept = ref.kept_mask(x).sum(), ref.kept_mask(y).sum()
    assert [j["x"]["kept"], j["y"]["kept"]] == [int(kept[0]), int(kept[1])]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_random_pwcca_both_orders(case, tmp_path):
    """pwcca with (x, y) and with (y, x), both variants.  The google variant
    always weights the side with fewer kept features, so it is symmetric
    unless the kept counts tie; Ding's weights come from the first argument."""
    x, y = make(case)
    fx, fy = files(tmp_path, x, y)
    for variant in ("google", "ding"):
        opts = ("--coefs", "--pwcca-variant", variant)
        a = compare(fx, fy, *opts, measures="pwcca")["measures"]["pwcca"]
        b = compare(fy, fx, *opts, measures="pwcca")["measures"]["pwcca"]
        assert a["variant"] == b["variant"] == variant
        check_measure("pwcca", a, ref.compute("pwcca", x, y, pwcca_variant=variant), TOL, case[0] + " x,y")
        check_measure("pwcca", b, ref.compute("pwcca", y, x, pwcca_variant=variant), TOL, case[0] + " y,x")
        if variant == "google" and ref.kept_mask(x).sum() != ref.kept_mask(y).sum():
            assert abs(a["similarity"] - b["similarity"]) <= TOL


def test_huge_mean(tmp_path):
    """|mean| = 1e6 x std: the moments must come from a pairwise/two-pass
    update, not from raw sums (see the module docstring)."""
    x, y = offset(np.random.default_rng(20), 400, 10, 7, 1e6)
    fx, fy = files(tmp_path, x, y)
    linear = [m for m in MEASURES if m != "cka_rbf"]
    check_all(compare(fx, fy, measures=",".join(linear)), x, y, TOL_HUGE_MEAN, linear, "huge mean")


def test_huge_mean_rbf(tmp_path):
    """cka_rbf on the same data.  Squared distances are translation
    invariant; forming them as |xi|² + |xj|² - 2 xi·xj without centring
    first loses every digit here (the notebook's gram_rbf does that; the
    quantity docs/measures.md defines does not depend on the mean)."""
    x, y = offset(np.random.default_rng(20), 400, 10, 7, 1e6)
    fx, fy = files(tmp_path, x, y)
    check_all(compare(fx, fy, measures="cka_rbf"), x, y, TOL_HUGE_MEAN, ["cka_rbf"], "huge mean")


OPTION_CASES = [
    (("--svcca-keep", "0.9"), {"svcca_keep": 0.9}, ["svcca"]),
    (("--svcca-dims", "3"), {"svcca_dims": 3}, ["svcca"]),
    (("--svcca-dims", "1000"), {"svcca_dims": 1000}, ["svcca"]),
    (("--svcca-rule", "singular-values"), {"svcca_rule": "singular-values"}, ["svcca"]),
    (("--svcca-rule", "singular-values", "--svcca-keep", "0.8"),
     {"svcca_rule": "singular-values", "svcca_keep": 0.8}, ["svcca"]),
    (("--rbf-sigma", "2.5"), {"rbf_sigma": 2.5}, ["cka_rbf"]),
    (("--rbf-sigma", "0.3"), {"rbf_sigma": 0.3}, ["cka_rbf"]),
    (("--pwcca-variant", "ding"), {"pwcca_variant": "ding"}, ["pwcca"]),
]


@pytest.mark.parametrize("opts,kw,measures", OPTION_CASES, ids=[" ".join(c[0]) for c in OPTION_CASES])
def test_options_vs_numpy(opts, kw, measures, tmp_path):
    x, y = correlated(np.random.default_rng(30), 400, 14, 11)
    fx, fy = files(tmp_path, x, y)
    j = compare(fx, fy, *opts, measures=",".join(measures))
    check_all(j, x, y, TOL, measures, " ".join(opts), **kw)


def test_epsilon_option(tmp_path):
    """Nearly dead features (variance 1e-8 of the largest): kept at the
    default epsilon 1e-10, dropped with --epsilon 1e-6."""
    rng = np.random.default_rng(31)
    x, y = correlated(rng, 500, 12, 9)
    x[:, 3] = x[:, 3] / x[:, 3].std() * 1e-4 * x.std(0).max()
    y[:, 0] = y[:, 0] / y[:, 0].std() * 1e-4 * y.std(0).max()
    fx, fy = files(tmp_path, x, y)
    cca = ",".join(ref.CCA_FAMILY)
    j = compare(fx, fy, "--coefs", measures=cca)
    assert j["measures"]["cca"]["kept"] == [12, 9]
    # Keeping a feature 1e8 times weaker than the strongest makes Sxx's
    # condition ~1e8: the reference itself moves its rho by up to 2e-9 when
    # the data change by one ulp and the rows are reordered, hence 1e-7.
    check_all(j, x, y, 1e-7, ref.CCA_FAMILY, "eps default")
    j = compare(fx, fy, "--coefs", "--epsilon", "1e-6", measures=cca)
    assert j["measures"]["cca"]["kept"] == [11, 8]
    assert [j["x"]["kept"], j["y"]["kept"]] == [11, 8]
    check_all(j, x, y, TOL, ref.CCA_FAMILY, "eps 1e-6", epsilon=1e-6)


def test_duplicate_and_constant_columns(tmp_path):
    """Duplicate columns make Sxx singular (the clamp + ridge must keep it
    finite); a constant non-zero column is dead like a zero one."""
    rng = np.random.default_rng(32)
    x, y = correlated(rng, 300, 8, 6)
    x[:, 5] = x[:, 2]
    x[:, 6] = 7.25
    y[:, 1] = 2 * y[:, 4]
    fx, fy = files(tmp_path, x, y)
    j = compare(fx, fy, "--coefs")
    assert j["measures"]["cca"]["kept"] == [7, 6]
    for mid, m in j["measures"].items():
        assert math.isfinite(m["similarity"]) and math.isfinite(m["distance"]), mid
    # The duplicate makes Sxx exactly singular: its null direction gets
    # whitened by 1/sqrt(ridge) = 1e5 times round-off, so the CCA family is
    # compared at 1e-7 (the reference moves by 2e-13 under a 1-ulp change of
    # the data), the rest at TOL.
    want = ref.compute_all(x, y)
    for mid in MEASURES:
        check_measure(mid, j["measures"][mid], want[mid], 1e-7 if mid in ref.CCA_FAMILY else TOL, "dup")


def test_few_samples_warning(tmp_path):
    x, y = correlated(np.random.default_rng(33), 38, 20, 15)
    fx, fy = files(tmp_path, x, y)
    j = compare(fx, fy)
    assert j["warnings"], "n=38 < 10*20 must warn"
    assert any("sampl" in w or "n " in w or "n=" in w for w in j["warnings"]), j["warnings"]
    r = run("compare", fx, fy, "-m", "cca")
    assert r.code == 0 and r.stderr.strip(), "table format: the warning goes to stderr: %r" % r
    # CKA alone does not warn (the rule is for the CCA family).
    j = compare(fx, fy, measures="cka")
    assert j["warnings"] == []


@pytest.mark.parametrize("seed", range(100, 112))
def test_random_sweep(seed, tmp_path):
    """Random kind and shape per seed: n from just above p+q to 600, p and q
    from 1 to 40 in either order."""
    rng = np.random.default_rng(seed)
    p, q = (int(v) for v in rng.integers(1, 41, 2))
    n = int(rng.integers(p + q + 2, max(p + q + 3, 600)))
    kind = ["independent", "correlated", "offset", "relu"][seed % 4]
    if kind == "independent":
        x, y = independent(rng, n, p, q)
    elif kind == "correlated":
        x, y = correlated(rng, n, p, q, noise=float(rng.uniform(0.05, 2)))
    elif kind == "offset":
        x, y = offset(rng, n, p, q, 1e3)
    else:
        x, y = relu(rng, n, max(p, 3), max(q, 2))
    fx, fy = files(tmp_path, x, y)
    what = "seed %d %s n=%d p=%d q=%d" % (seed, kind, n, p, q)
    j = compare(fx, fy, "--coefs")
    if kind != "offset":
        check_all(j, x, y, TOL, what=what)
        return
    # With |mean| = 1e3 x std, google's pwcca is ill-conditioned by its own
    # definition: its directions are U'(S - mu) + mu, nearly parallel to the
    # constant vector, and its weights project the raw (uncentred) columns on
    # them, so round-off in U is multiplied by |mean| / std and sqrt(n).  Two
    # numpy evaluations of the reference that differ only in how the
    # whitening is formed (pinv then eigh-sqrt, or eigh-inverse-sqrt) give
    # 0.9961157079 and 0.9961194820 on seed 110 (3.8e-6 apart), so pwcca is
    # held to 1e-5 here and every other measure to TOL.
    check_all(j, x, y, TOL, [m for m in MEASURES if m != "pwcca"], what)
    want = ref.compute("pwcca", x, y)
    assert abs(j["measures"]["pwcca"]["similarity"] - want["similarity"]) <= 1e-5, (what, want)
    np.testing.assert_allclose(j["measures"]["pwcca"]["coefs"], want["coefs"], rtol=0, atol=TOL, err_msg=what)


# ------------------------------------------------------------ invariances

def rand_orthogonal(rng, p):
    q, r = np.linalg.qr(rng.standard_normal((p, p)))
    return q * np.sign(np.diag(r))


def test_cca_of_invertible_map_is_all_ones(tmp_path):
    """CCA(X, X A) = 1 for every component, A invertible (here orthogonal x
    diag in [0.5, 2], condition <= 4, so the 1e-10 ridge moves rho by
    < 1e-8).  svcca with all directions kept too; pwcca = sum w = 1."""
    rng = np.random.default_rng(40)
    x = rng.standard_normal((500, 12)) * rng.uniform(0.5, 3, 12)
    a = rand_orthogonal(rng, 12) * rng.uniform(0.5, 2, 12)
    fx, fy = files(tmp_path, x, x @ a)
    j = compare(fx, fy, "--coefs", "--svcca-dims", "12", measures="cca,cca_r2,svcca,pwcca")
    for mid in ("cca", "cca_r2", "svcca", "pwcca"):
        assert abs(j["measures"][mid]["similarity"] - 1) <= 1e-7, (mid, j["measures"][mid])
    assert min(j["measures"]["cca"]["coefs"]) >= 1 - 1e-7


def test_cka_procrustes_invariant_to_rotation_and_scale(tmp_path):
    """X -> 3.5 X Q + 11 (Q orthogonal) changes none of these (pwcca is left
    out: its directions add back the raw means, so it is not translation
    invariant)."""
    rng = np.random.default_rng(41)
    x, y = correlated(rng, 300, 10, 7)
    q = rand_orthogonal(rng, 10)
    inv = ["cka", "cka_debiased", "cka_rbf", "procrustes", "procrustes_angular",
           "cca", "cca_r2", "svcca"]
    a = compare(*files(tmp_path, x, y), measures=",".join(inv))["measures"]
    d2 = tmp_path / "t"
    d2.mkdir()
    b = compare(*files(d2, 3.5 * (x @ q) + 11.0, y), measures=",".join(inv))["measures"]
    for mid in inv:
        # The CCA ridge eps*I is relative to the largest variance, which a
        # rotation changes: that moves rho by O(eps * condition) ~ 3e-10 here.
        tol = 1e-8 if mid in ref.CCA_FAMILY else TOL
        assert abs(a[mid]["similarity"] - b[mid]["similarity"]) <= tol, (mid, a[mid], b[mid])


def test_row_permutation_changes_nothing(tmp_path):
    rng = np.random.default_rng(42)
    x, y = relu(rng, 400, 12, 9)
    perm = rng.permutation(400)
    a = compare(*files(tmp_path, x, y), "--coefs")["measures"]
    d2 = tmp_path / "p"
    d2.mkdir()
    b = compare(*files(d2, x[perm], y[perm]), "--coefs")["measures"]
    for mid in MEASURES:
        assert abs(a[mid]["similarity"] - b[mid]["similarity"]) <= TOL, mid
        if "weights" in a[mid]:
            np.testing.assert_allclose(a[mid]["weights"], b[mid]["weights"], rtol=0, atol=TOL)


@pytest.mark.parametrize("shape", [(300, 9, 9), (300, 12, 7)], ids=["p=q", "p>q"])
def test_swap_symmetric_measures(shape, tmp_path):
    n, p, q = shape
    x, y = correlated(np.random.default_rng(43), n, p, q)
    fx, fy = files(tmp_path, x, y)
    a = compare(fx, fy, "--coefs")
    b = compare(fy, fx, "--coefs")
    assert a["x"]["features"] == b["y"]["features"] == p
    for mid in ref.SYMMETRIC:
        assert abs(a["measures"][mid]["similarity"] - b["measures"][mid]["similarity"]) <= TOL, mid
    for mid in ("cca", "cca_r2"):
        np.testing.assert_allclose(a["measures"][mid]["coefs"], b["measures"][mid]["coefs"], rtol=0, atol=TOL)
    assert a["measures"]["cca"]["kept"] == b["measures"]["cca"]["kept"][::-1]


def test_identical_inputs(tmp_path):
    """X against itself: every similarity is 1 (procrustes distance 0)."""
    x, _ = correlated(np.random.default_rng(44), 200, 6, 6)
    fx = write_npy(tmp_path / "x.npy", x)
    j = compare(fx, fx)["measures"]
    for mid, m in j.items():
        assert abs(m["similarity"] - 1) <= 1e-7, (mid, m)
    assert abs(j["procrustes"]["distance"]) <= 2e-7
    # arccos near 1 amplifies: 1 - 1e-14 gives 1.4e-7.
    assert abs(j["procrustes_angular"]["distance"]) <= 1e-5


def test_larger_n_streams_in_blocks(tmp_path):
    """More rows than any sensible block: exercises the block merge."""
    x, y = relu(np.random.default_rng(45), 3000, 30, 20)
    fx, fy = files(tmp_path, x, y)
    check_all(compare(fx, fy, "--coefs"), x, y, TOL, what="n=3000")


@pytest.mark.parametrize("n", [200, 201], ids=["n_even", "n_odd"])
def test_cka_rbf_median_with_ties(n, tmp_path):
    """Integer-valued rows drawn from a few prototypes: many equal squared
    distances and exact zeros off the diagonal, so the median of the n²
    distances sits inside a run of ties (n² even: np.median averages the
    two middle values; odd: the middle one)."""
    rng = np.random.default_rng(46 + n)
    protos_x = rng.integers(-3, 4, (7, 5)).astype(float)
    protos_y = rng.integers(-3, 4, (6, 4)).astype(float)
    idx = rng.integers(0, 7, n)
    x = protos_x[idx]
    y = protos_y[idx % 6] + (rng.random((n, 4)) < 0.1)
    fx, fy = files(tmp_path, x, y)
    for sigma in ("1.0", "0.5"):
        j = compare(fx, fy, "--rbf-sigma", sigma, measures="cka_rbf")
        check_all(j, x, y, TOL, ["cka_rbf"], "ties sigma " + sigma, rbf_sigma=float(sigma))
