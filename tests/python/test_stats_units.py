"""simrep compare --bootstrap/--permutations with --sequence per-step and with
--mask + --sequence flatten, against a brute-force unit bootstrap and
permutation written here in numpy.

The brute force draws the same resamples as the library: its random
streams are transcribed below (splitmix64 from the seed, a stream number
and an index; Lemire's multiply-high for a uniform integer), so every
resample is the same multiset of units, and the intervals, null means and
p-values must agree to round-off.  What is independent is everything else:
the units are rebuilt from the mask, each resample's rows are materialized
(a unit drawn twice is there twice, its tokens pooled with the others') and
the measures are computed from them by reference_numpy.  Where the units
are more than the buckets (--buckets 8) the brute force assigns each unit
to its bucket with the library's hash and weights every unit by its
bucket's draw: the random-groups bootstrap, exactly.

Small data (40 sequences of 5 steps, 4 and 3 features): runs under ASan.
"""

import json

import numpy as np
import pytest

import reference_numpy as ref
from conftest import assert_error, run
from library_random import below, draws, permutation, stream

STREAM_BUCKET, STREAM_BOOT, STREAM_PERM = 1, 2, 3
MEASURES = {m: (lambda f: lambda x, y: f(x, y)["similarity"])(getattr(ref, m)) for m in ("cca", "cka", "cka_debiased")}
TOL = 1e-9


def boot_weights(seed, b, g):
    """Resample b: how many times each of the g buckets is drawn."""
    return draws(seed, STREAM_BOOT, b, g)


def bucket_of(seed, unit, g, units):
    if g == units:
        return unit
    return below(stream(seed, STREAM_BUCKET, unit), g)[1]


def perm_sigma(seed, k, s):
    """Null k: the permutation of the s segments (never the identity)."""
    return permutation(seed, STREAM_PERM, k, s)


def brute_bootstrap(units_x, units_y, b, seed, g, measure):
    """Each resample: every unit's rows, repeated as often as its bucket is
    drawn, pooled; the measure of the pooled rows."""
    units = len(units_x)
    buckets = np.array([bucket_of(seed, u, g, units) for u in range(units)])
    vals = []
    for r in range(b):
        w = boot_weights(seed, r, g)[buckets]
        x = np.concatenate([np.repeat(u, k, axis=0) for u, k in zip(units_x, w) if k])
        y = np.concatenate([np.repeat(u, k, axis=0) for u, k in zip(units_y, w) if k])
        vals.append(MEASURES[measure](x, y))
    return np.array(vals)


def brute_nulls(x, y, k, seed, segments):
    """Rows of y's segment sigma(a) paired with x's segment a; the remainder
    keeps its pairing."""
    n = len(x)
    m = n // segments
    out = {mid: [] for mid in MEASURES}
    for r in range(k):
        sigma = perm_sigma(seed, r, segments)
        idx = np.concatenate([np.arange(sigma[a] * m, (sigma[a] + 1) * m) for a in range(segments)]
                             + [np.arange(segments * m, n)])
        for mid, f in MEASURES.items():
            out[mid].append(f(x, y[idx]))
    return {mid: np.array(v) for mid, v in out.items()}


def percentile(v, level=0.95):
    return np.quantile(v, [(1 - level) / 2, (1 + level) / 2])


@pytest.fixture(scope="module")
def sequences(tmp_path_factory):
    d = tmp_path_factory.mktemp("seq")
    r = np.random.default_rng(8)
    n, t = 40, 5
    s = r.normal(size=(n, t, 4)) + r.normal(size=(n, 1, 4))  # a sequence effect: tokens of one sequence alike
    u = np.cumsum(s, axis=1)[:, :, :3] + 0.7 * r.normal(size=(n, t, 3))
    lengths = r.integers(1, t + 1, size=n)
    lengths[[3, 11]] = 0  # sequences without tokens: no unit
    np.save(d / "s.npy", s)
    np.save(d / "u.npy", u)
    np.save(d / "mask.npy", (np.arange(t)[None, :] < lengths[:, None]).astype(np.uint8))
    return d, s, u, lengths


def cli(d, *args):
    r = run("compare", d / "s.npy", d / "u.npy", "-m", ",".join(MEASURES), "--format", "json", *args)
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


def test_per_step_equals_brute_force(sequences):
    """Every step's interval, null mean and p-value, and the curve mean's
    (from the mean of each resample's steps), as numpy over the same
    resampled sequences and re-paired segments."""
    d, s, u, _ = sequences
    b, k, seed = 40, 20, 3
    out = cli(d, "--sequence", "per-step", "--bootstrap", b, "--permutations", k, "--seed", seed)
    assert out["statistics"]["units"] == 40 and out["statistics"]["exact_bootstrap"]
    steps = s.shape[1]
    boot = {mid: np.array([brute_bootstrap(list(s[:, t, None, :]), list(u[:, t, None, :]), b, seed, 40, mid)
                           for t in range(steps)]) for mid in MEASURES}
    nulls = [brute_nulls(s[:, t], u[:, t], k, seed, 8) for t in range(steps)]
    for mid, e in out["measures"].items():
        obs = np.array([MEASURES[mid](s[:, t], u[:, t]) for t in range(steps)])
        np.testing.assert_allclose(e["per_step"], obs, atol=TOL)
        np.testing.assert_allclose(e["per_step_ci"], [percentile(v) for v in boot[mid]], atol=TOL)
        np.testing.assert_allclose(e["per_step_se"], boot[mid].std(axis=1, ddof=1), atol=TOL)
        np.testing.assert_allclose(e["ci"], percentile(boot[mid].mean(axis=0)), atol=TOL)
        nm = np.array([nulls[t][mid] for t in range(steps)])
        np.testing.assert_allclose([z["mean"] for z in e["per_step_null"]], nm.mean(axis=1), atol=TOL)
        p = [(1 + np.sum(nm[t] >= obs[t] - 1e-12)) / (k + 1) for t in range(steps)]
        assert [z["p"] for z in e["per_step_null"]] == pytest.approx(p), mid
        curve = nm.mean(axis=0)
        assert e["null"]["mean"] == pytest.approx(curve.mean(), abs=TOL)
        assert e["null"]["p"] == pytest.approx((1 + np.sum(curve >= obs.mean() - 1e-12)) / (k + 1)), mid
        assert e["adjusted"] == pytest.approx((obs.mean() - curve.mean()) / (1 - curve.mean()), abs=TOL)
    # chance per step and of the mean (cka's closed form), with or without resampling
    plain = cli(d, "--sequence", "per-step")
    np.testing.assert_allclose(plain["measures"]["cka"]["per_step_chance"], out["measures"]["cka"]["per_step_chance"],
                               rtol=1e-12)
    assert plain["measures"]["cka"]["chance"] == pytest.approx(np.mean(plain["measures"]["cka"]["per_step_chance"]))
    assert "per_step_chance" not in plain["measures"]["cca"]


@pytest.mark.parametrize("buckets", [None, 8])
def test_masked_flatten_equals_brute_force(sequences, buckets):
    """Each sequence's valid tokens are one unit (38 units of 1 to 5
    tokens; the two empty sequences are none): a resample pools the tokens
    of the sequences it draws.  With 38 buckets it is the unit bootstrap;
    with 8 the random-groups bootstrap over the library's assignment."""
    d, s, u, lengths = sequences
    b, seed = 40, 11
    extra = ("--buckets", buckets) if buckets else ()
    out = cli(d, "--sequence", "flatten", "--mask", d / "mask.npy", "--bootstrap", b, "--seed", seed, *extra)
    st = out["statistics"]
    keep = lengths > 0
    units = int(keep.sum())
    assert st["units"] == units == 38 and st["unit_rows"] is None
    assert st["unit_rows_range"] == [int(lengths[keep].min()), int(lengths[keep].max())]
    assert st["buckets"] == (buckets or units) and st["exact_bootstrap"] == (buckets is None)
    ux = [s[i, :lengths[i]] for i in range(len(s)) if lengths[i]]
    uy = [u[i, :lengths[i]] for i in range(len(s)) if lengths[i]]
    for mid, e in out["measures"].items():
        assert e["similarity"] == pytest.approx(MEASURES[mid](np.concatenate(ux), np.concatenate(uy)), abs=TOL)
        v = brute_bootstrap(ux, uy, b, seed, buckets or units, mid)
        np.testing.assert_allclose(e["ci"], percentile(v), atol=TOL, err_msg=mid)
        assert e["se"] == pytest.approx(v.std(ddof=1), abs=TOL), mid
    # the table names the units' range
    r = run("compare", d / "s.npy", d / "u.npy", "-m", "cka", "--sequence", "flatten", "--mask", d / "mask.npy",
            "--bootstrap", 10)
    assert r.code == 0 and "units of 1 to 5 rows (38 units)" in r.stdout, r


def test_masked_flatten_refusals(sequences):
    """Permutations need units of one size: refused, saying why; --unit-rows
    makes units of one size again (K tokens, across sequences)."""
    d, _, _, _ = sequences
    args = ("compare", d / "s.npy", d / "u.npy", "--sequence", "flatten", "--mask", d / "mask.npy")
    r = run(*args, "--permutations", 10)
    assert_error(r, 2, contains=("one size", "--mask"))
    r = run(*args, "--permutations", 10, "--unit-rows", 2, "--format", "json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["statistics"]["unit_rows"] == 2


def test_per_step_memory_shared(sequences):
    """--max-memory is shared by the steps' states: too small says so."""
    d, _, _, _ = sequences
    r = run("compare", d / "s.npy", d / "u.npy", "--sequence", "per-step", "--bootstrap", 10, "--max-memory", "20K")
    assert_error(r, 2, contains=("per-step", "--max-memory"))
