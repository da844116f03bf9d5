"""simrep compare --bootstrap/--permutations for the measures computed from
the rows (rsa, mutual_knn, cknna, cka_rbf; src/rowstats.c), against a
brute force written here in numpy.

The brute force draws the same resamples and permutations as the library
(library_random transcribes its streams: the bootstrap's draws of units
from stream 2, the permutations of all units from stream 18), then
MATERIALIZES each resample: a unit drawn three times is there three times,
its rows in row order with their copies side by side, and the measure is
computed from reference_rows (full n x n matrices, scipy ranks) with the
pairs of two copies of one row left out -- rsatoolbox's rule for a
bootstrap of patterns (an RDM entry of a pattern with its own copy is
dropped), and for the neighbour measures a copy is not a neighbour of its
own row's copies.  The library does none of that: it evaluates weighted
versions on the distinct rows.  Intervals, null means and p-values must
agree to round-off.

Small data (n <= 30): cheap, and runs under ASan.
"""

import json
import os
import signal
import subprocess
import time

import numpy as np
import pytest
import scipy.stats

import reference_rows as rr
from conftest import SANITIZED, assert_error, run, simrep_bin, write_npy
from library_random import draws, permutation

STREAM_BOOT, STREAM_ROWS_PERM = 2, 18
TOL = 1e-9


def unit_slices(n, ur):
    return [np.arange(s, min(s + ur, n)) for s in range(0, n, ur)]


def materialize(n, ur, mult):
    """Row indices of the resample, each row of a unit drawn m times m
    times, in row order (copies side by side)."""
    rows = []
    for u, sl in enumerate(unit_slices(n, ur)):
        for r in sl:
            rows += [r] * int(mult[u])
    return np.array(rows)


def rsa_resample(x, y, rows, rdm_kind, how):
    """rsa of the materialized resample, the pairs of a row's copies left out."""
    a, b = rr.rdm(x[rows], rdm_kind), rr.rdm(y[rows], rdm_kind)
    iu = np.triu_indices(len(rows), k=1)
    keep = rows[iu[0]] != rows[iu[1]]
    return rr.compare(a[keep], b[keep], how)


def knn_mask_excluding_copies(x, rows, k):
    xn = rr._unit_rows(x[rows])
    s = xn @ xn.T
    s[rows[:, None] == rows[None, :]] = -np.inf  # a row's own copies are not its neighbours
    idx = np.argsort(-s, axis=1, kind="stable")[:, :k]
    mask = np.zeros(s.shape)
    mask[np.arange(len(rows))[:, None], idx] = 1.0
    return mask


def mutual_knn_resample(x, y, rows, k):
    mx, my = knn_mask_excluding_copies(x, rows, k), knn_mask_excluding_copies(y, rows, k)
    return float(((mx * my).sum(axis=1) / k).mean())


def cknna_resample(x, y, rows, k):
    """cknna of the materialized resample: platonic-rep's formula with each
    side's mask leaving a row's own copies out (their entries are 0)."""
    xn, yn = rr._unit_rows(x[rows]), rr._unit_rows(y[rows])
    kk, ll = xn @ xn.T, yn @ yn.T
    mk, ml = knn_mask_excluding_copies(x, rows, k), knn_mask_excluding_copies(y, rows, k)

    def sim(a, ma, b, mb):
        mask = ma * mb
        return rr._hsic_unbiased(mask * a, mask * b)

    return float(sim(kk, mk, ll, ml) / (np.sqrt(sim(kk, mk, kk, mk) * sim(ll, ml, ll, ml)) + 1e-6))


def brute(x, y, ur, seed, boot, perms, measure):
    """(resampled values, null values) of one measure."""
    n = len(x)
    units = unit_slices(n, ur)
    bvals = [measure(x, y, materialize(n, ur, draws(seed, STREAM_BOOT, b, len(units)))) for b in range(boot)]
    m = len(units) - (1 if len(units[-1]) < ur else 0)  # a short last unit stays in place
    nvals = []
    for k in range(perms):
        sigma = permutation(seed, STREAM_ROWS_PERM, k, m) + list(range(m, len(units)))
        order = np.concatenate([units[s] for s in sigma])
        nvals.append(measure(x, y[order], np.arange(n)))
    return np.array(bvals), np.array(nvals)


def check_keys(entry, observed, bvals, nvals, level=0.95):
    assert entry["similarity"] == pytest.approx(observed, abs=TOL)
    if len(bvals):
        lo, hi = np.quantile(bvals, [(1 - level) / 2, (1 + level) / 2])
        assert entry["bootstrap"] == len(bvals)
        assert entry["ci"] == pytest.approx([lo, hi], abs=TOL)
        assert entry["se"] == pytest.approx(np.std(bvals, ddof=1), abs=TOL)
        assert entry["bias"] == pytest.approx(np.mean(bvals) - observed, abs=TOL)
    if len(nvals):
        null = entry["null"]
        assert null["permutations"] == len(nvals)
        assert null["mean"] == pytest.approx(np.mean(nvals), abs=TOL)
        assert null["sd"] == pytest.approx(np.std(nvals, ddof=1), abs=TOL)
        # the library's null values and the observed one are the same
        # numbers as ours to round-off: count with a margin for ties
        assert null["p"] == pytest.approx((1 + np.sum(nvals >= observed - 1e-12)) / (1 + len(nvals)))
        assert entry["adjusted"] == pytest.approx((observed - np.mean(nvals)) / (1 - np.mean(nvals)), abs=1e-8)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("rowstats")
    r = np.random.default_rng(5)
    z = r.normal(size=(26, 2))
    x = np.c_[z, r.normal(size=(26, 3))]
    y = np.c_[z @ r.normal(size=(2, 2)), r.normal(size=(26, 2))]
    # integers: the euclidean RDM has exact ties, which ranks must see
    xi = np.round(2 * x)
    yi = np.round(2 * y)
    for name, a in (("x", x), ("y", y), ("xi", xi), ("yi", yi)):
        write_npy(d / (name + ".npy"), a)
    return d, x, y, xi, yi


@pytest.mark.parametrize("rdm_kind,how,ints,ur", [
    ("correlation", "pearson", False, 1),
    ("euclidean", "spearman", True, 1),
    ("euclidean", "kendall", True, 3),
    ("cosine", "spearman", False, 4),
])
def test_rsa_bootstrap_and_mantel_match_numpy(data, rdm_kind, how, ints, ur):
    d, x, y, xi, yi = data
    if ints:
        x, y = xi, yi
    seed, boot, perms = 11, 12, 9
    args = ["compare", str(d / ("xi.npy" if ints else "x.npy")), str(d / ("yi.npy" if ints else "y.npy")), "-m",
            "rsa", "--rsa-rdm", rdm_kind, "--rsa-compare", how, "--bootstrap", str(boot), "--permutations",
            str(perms), "--seed", str(seed), "--unit-rows", str(ur), "--format", "json"]
    out = run(*args).json()
    entry = out["measures"]["rsa"]

    def measure(a, b, rows):
        return rsa_resample(a, b, rows, rdm_kind, how)

    bvals, nvals = brute(x, y, ur, seed, boot, perms, measure)
    check_keys(entry, rr.rsa(x, y, rdm_kind, how), bvals, nvals)
    assert out["statistics"]["units"] == -(-len(x) // ur)


@pytest.mark.parametrize("mid,k,ur", [("mutual_knn", 3, 1), ("mutual_knn", 4, 2), ("cknna", 3, 1), ("cknna", 4, 3)])
def test_knn_bootstrap_and_nulls_match_numpy(data, mid, k, ur):
    d, x, y, xi, yi = data
    seed, boot, perms = 3, 12, 9
    out = run("compare", str(d / "x.npy"), str(d / "y.npy"), "-m", mid, "--knn", str(k), "--bootstrap",
              str(boot), "--permutations", str(perms), "--seed", str(seed), "--unit-rows", str(ur),
              "--format", "json").json()
    f = mutual_knn_resample if mid == "mutual_knn" else cknna_resample
    bvals, nvals = brute(x, y, ur, seed, boot, perms, lambda a, b, rows: f(a, b, rows, k))
    observed = rr.mutual_knn(x, y, k) if mid == "mutual_knn" else rr.cknna(x, y, k)
    check_keys(out["measures"][mid], observed, bvals, nvals)


def sq_distances(a):
    a = a - a.mean(0)
    g = a @ a.T
    d = np.diag(g)
    return np.maximum(d[:, None] + d[None, :] - 2 * g, 0)


def cka_rbf_at(x, y, med_x, med_y, sigma):
    """The CKA notebook's cka(gram_rbf) with the bandwidths' medians given
    (those of the observed data) instead of the data's own."""
    import reference_numpy as ref
    gx = ref.center_gram(np.exp(-sq_distances(x) / (2 * sigma ** 2 * med_x)))
    gy = ref.center_gram(np.exp(-sq_distances(y) / (2 * sigma ** 2 * med_y)))
    return float(gx.ravel() @ gy.ravel() / (np.linalg.norm(gx) * np.linalg.norm(gy)))


@pytest.mark.parametrize("ur,sigma", [(1, 1.0), (3, 0.7)])
def test_cka_rbf_bootstrap_is_the_expanded_data_at_the_observed_bandwidth(tmp_path, ur, sigma):
    """A resample's cka_rbf is cka_rbf of the resample MATERIALIZED (unit
    drawn w times: its rows w times, copy pairs kept, as linear CKA's
    bootstrap of the moments keeps them) at the observed data's bandwidth
    (sigma x the full sample's median, not re-estimated): numpy on the
    expanded rows, 1e-9.  The nulls with it; no warning any more."""
    r = np.random.default_rng(8)
    z = r.normal(size=(40, 2))
    x = np.c_[z, r.normal(size=(40, 3))]
    y = np.c_[z @ r.normal(size=(2, 2)), r.normal(size=(40, 2))] * 1e3 + 5  # another scale and mean
    write_npy(tmp_path / "x.npy", x)
    write_npy(tmp_path / "y.npy", y)
    seed, boot, perms = 7, 6, 4
    res = run("compare", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "-m", "cka_rbf", "--rbf-sigma",
              str(sigma), "--bootstrap", str(boot), "--permutations", str(perms), "--seed", str(seed), "--unit-rows",
              str(ur), "--format", "json")
    assert "gets no" not in res.stderr, res.stderr
    med_x, med_y = np.median(sq_distances(x)), np.median(sq_distances(y))
    observed = cka_rbf_at(x, y, med_x, med_y, sigma)
    bvals, _ = brute(x, y, ur, seed, boot, 0, lambda a, b, rows: cka_rbf_at(a[rows], b[rows], med_x, med_y, sigma))
    import reference_numpy as ref
    _, nvals = brute(x, y, ur, seed, 0, perms, lambda a, b, rows: ref.cka_rbf(a, b, sigma)["similarity"])
    entry = res.json()["measures"]["cka_rbf"]
    check_keys(entry, observed, bvals, nvals)
    # a re-estimated bandwidth would give other values
    own = [ref.cka_rbf(x[rows], y[rows], sigma)["similarity"] for rows in
           (materialize(len(x), ur, draws(seed, STREAM_BOOT, b, -(-len(x) // ur))) for b in range(boot))]
    assert np.max(np.abs(np.array(own) - bvals)) > 1e-4


def test_copies_are_not_pairs(data):
    """The point of leaving copy pairs out: a naive resample (copies as
    samples) makes each copy its own nearest neighbour and inflates
    mutual_knn; ours stays near the observed value."""
    d, x, y, xi, yi = data
    out = run("compare", str(d / "x.npy"), str(d / "y.npy"), "-m", "mutual_knn", "--knn", "3", "--bootstrap", "30",
              "--seed", "1", "--format", "json").json()["measures"]["mutual_knn"]
    naive = []
    for b in range(30):
        rows = materialize(len(x), 1, draws(1, STREAM_BOOT, b, len(x)))
        naive.append(rr.mutual_knn(x[rows], y[rows], 3))
    naive_bias = np.mean(naive) - out["similarity"]
    assert naive_bias > 0.15  # copies agree by construction
    assert abs(out["bias"]) < naive_bias / 3


def test_same_numbers_for_any_thread_count_and_table_csv(data):
    d = data[0]
    base = ["compare", str(d / "x.npy"), str(d / "y.npy"), "-m", "cka,rsa,mutual_knn,cka_rbf", "--knn", "3",
            "--bootstrap", "20", "--permutations", "15", "--seed", "9"]
    one = run(*base, "--threads", "1", "--format", "json").json()
    two = run(*base, "--threads", "2", "--format", "json").json()
    for mid in ("rsa", "mutual_knn", "cka_rbf"):
        for key in ("ci", "se", "null", "adjusted", "bootstrap"):
            assert one["measures"][mid][key] == two["measures"][mid][key], (mid, key)
    csv = run(*base, "--format", "csv")
    rows = {line.split(",")[0]: line.split(",") for line in csv.stdout.splitlines()[1:]}
    header = csv.stdout.splitlines()[0].split(",")
    for mid in ("rsa", "mutual_knn", "cka_rbf"):
        e = one["measures"][mid]
        got = dict(zip(header, rows[mid]))
        assert float(got["ci_low"]) == e["ci"][0] and float(got["ci_high"]) == e["ci"][1]
        assert float(got["p"]) == e["null"]["p"]
        assert got["chance"] == ""
    table = run(*base).stdout
    assert "rsa, mutual_knn, cka_rbf: every unit resampled" in table
    for mid in ("rsa", "cka_rbf"):
        line = [t for t in table.splitlines() if t.startswith(mid + " ") and "[" in t][0]
        assert "%.6f" % one["measures"][mid]["ci"][0] in line


def test_only_rows_measures(data):
    d = data[0]
    out = run("compare", str(d / "x.npy"), str(d / "y.npy"), "-m", "rsa", "--bootstrap", "4", "--permutations",
              "3", "--format", "json").json()
    st = out["statistics"]
    assert st["units"] == 26 and st["bootstrap"] == 4 and st["permutations"] == 3
    assert out["measures"]["rsa"]["bootstrap"] == 4 and out["measures"]["rsa"]["null"]["permutations"] == 3


def test_absurd_values(data, tmp_path):
    d = data[0]
    base = ["compare", str(d / "x.npy"), str(d / "y.npy"), "-m", "rsa,mutual_knn", "--knn", "3", "--format", "json"]
    assert_error(run(*base, "--bootstrap", "1"), 2, contains=["--bootstrap", "no standard error"])
    r = run(*base, "--bootstrap", "2", "--permutations", "1")
    assert "permutations" in r.stderr and "warning" in r.stderr  # too few to be significant
    two = r.json()["measures"]["rsa"]
    assert two["bootstrap"] == 2 and two["ci"][0] <= two["ci"][1] and two["se"] >= 0
    assert two["null"]["p"] in (0.5, 1.0)
    zero = run(*base, "--bootstrap", "0", "--permutations", "0").json()["measures"]["rsa"]
    assert not {"ci", "null", "se"} & set(zero)
    assert_error(run(*base, "--bootstrap", "10000001"), 2, contains=["--bootstrap"])
    assert_error(run(*base, "--permutations", "-1"), 2, contains=["--permutations"])
    r = run(*base, "--bootstrap", "5", "--max-memory", "1000")
    assert_error(r, 2, contains=["rows measures", "memory allowed", "--max-memory"])
    # units of 26 rows: one unit, so every resample would be the data and there is nothing to
    # permute: refused, not an interval of width 0 (test_stats_cli.py test_too_few_units)
    assert_error(run(*base, "--bootstrap", "3", "--unit-rows", "26"), 2, contains=["1 unit of 26 rows"])
    assert_error(run(*base, "--permutations", "2", "--unit-rows", "26"), 2, contains=["0 re-pairings"])


def test_too_few_distinct_units_are_left_out(tmp_path):
    """4 rows, --knn 2: resamples with fewer than 3 distinct rows cannot
    give 2 neighbours; they are left out of the counts, not errors."""
    r = np.random.default_rng(1)
    write_npy(tmp_path / "a.npy", r.normal(size=(4, 3)))
    write_npy(tmp_path / "b.npy", r.normal(size=(4, 3)))
    e = run("compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "-m", "mutual_knn", "--knn", "2",
            "--bootstrap", "40", "--format", "json").json()["measures"]["mutual_knn"]
    assert 0 < e["bootstrap"] < 40


@pytest.mark.skipif(SANITIZED, reason="latency bound of the optimized build; the ASan run checks the exit only")
def test_estimate_progress_and_ctrl_c(tmp_path):
    r = np.random.default_rng(0)
    n = 3000
    write_npy(tmp_path / "a.npy", r.normal(size=(n, 8)).astype(np.float32))
    write_npy(tmp_path / "b.npy", r.normal(size=(n, 8)).astype(np.float32))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    argv = [str(simrep_bin()), "compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "-m", "rsa",
            "--rsa-compare", "pearson", "--permutations", "100000", "--threads", "1"]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(1.5)
    assert p.poll() is None
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert time.monotonic() - t < 3.0
    assert out == ""
    assert "bootstrap and permutations of the rows measures" in err and "estimated" in err


@pytest.mark.parametrize("layout", ["conv", "sequence"])
def test_units_are_images_and_sequences(tmp_path, layout):
    """--conv ... positions: an image (all its positions) is a unit;
    --sequence flatten: a sequence.  The same numbers as the brute force
    with units of H*W (T) consecutive rows of the flattened matrix."""
    r = np.random.default_rng(8)
    if layout == "conv":
        x = r.normal(size=(9, 2, 2, 3))
        y = x[..., :2] + 0.5 * r.normal(size=(9, 2, 2, 2))
        opts, ur = ["--conv", "nhwc", "--conv-mode", "positions"], 4
    else:
        x = r.normal(size=(9, 3, 3))
        y = x[..., :2] + 0.5 * r.normal(size=(9, 3, 2))
        opts, ur = ["--sequence", "flatten"], 3
    write_npy(tmp_path / "x.npy", x)
    write_npy(tmp_path / "y.npy", y)
    fx, fy = x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])
    out = run("compare", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "-m", "rsa,mutual_knn", "--knn", "3",
              "--rsa-compare", "pearson", "--bootstrap", "10", "--permutations", "8", "--seed", "4", *opts,
              "--format", "json").json()
    assert out["statistics"]["units"] == 9 and out["statistics"]["unit_rows"] == ur
    for mid, f in (("rsa", lambda a, b, rows: rsa_resample(a, b, rows, "correlation", "pearson")),
                   ("mutual_knn", lambda a, b, rows: mutual_knn_resample(a, b, rows, 3))):
        bvals, nvals = brute(fx, fy, ur, 4, 10, 8, f)
        check_keys(out["measures"][mid], f(fx, fy, np.arange(len(fx))), bvals, nvals)
