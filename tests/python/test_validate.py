"""simrep validate (issue 14): the rank tests of Ding, Denain & Steinhardt
2021 against an independent computation, on synthetic families with a
known ordering, and every bad input.

Independent: scipy.stats.spearmanr / kendalltau (alternative='greater')
for rho, tau and their p-values; Ding et al.'s bad fraction written out here
with scipy.stats.percentileofscore(kind='rank') as their evaluation does;
the bootstrap and the permutations replayed from a Python transcription of
the library's seeded streams (splitmix64), with scipy's statistics and
numpy's quantile, so the intervals must agree to round-off, not roughly.
The distances are the library's (tested against numpy in test_matrix.py);
here they must equal `simrep matrix`'s for the same pairs, bit for bit.
"""

import csv
import json

import numpy as np
import pytest
import scipy.stats

from conftest import SANITIZED, assert_error, run, write_npy
from library_random import below, stream


# ----------------------------------- the statistics, by hand (the library's streams)

def ding_bad_fraction(x, y, f=0.2):
    """Ding et al.'s rule, with their percentile ranks."""
    qx = np.array([scipy.stats.percentileofscore(x, v, "rank") / 100 for v in x])
    qy = np.array([scipy.stats.percentileofscore(y, v, "rank") / 100 for v in y])
    return float(np.mean((qx < f) * (qy > 1 - f)))


def expected_test(x, y, bootstrap=0, permutations=0, seed=0, ci=0.95):
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    s = scipy.stats.spearmanr(x, y, alternative="greater")
    k = scipy.stats.kendalltau(x, y, alternative="greater")
    out = {"rows": n, "rho": s.statistic, "rho_p": s.pvalue, "tau": k.statistic, "tau_p": k.pvalue,
           "bad_fraction": ding_bad_fraction(x, y)}
    if bootstrap:
        rho, tau = [], []
        for b in range(bootstrap):
            st = stream(seed, 16, b)
            idx = []
            for _ in range(n):
                st, j = below(st, n)
                idx.append(j)
            bx, by = x[idx], y[idx]
            if np.all(bx == bx[0]) or np.all(by == by[0]):
                continue
            rho.append(scipy.stats.spearmanr(bx, by).statistic)
            tau.append(scipy.stats.kendalltau(bx, by).statistic)
        out["bootstrap"] = len(rho)
        out["rho_ci"] = list(np.quantile(rho, [(1 - ci) / 2, (1 + ci) / 2]))
        out["tau_ci"] = list(np.quantile(tau, [(1 - ci) / 2, (1 + ci) / 2]))
    if permutations:
        ge_r = ge_t = 0
        for k_ in range(permutations):
            st = stream(seed, 17, k_)
            idx = list(range(n))
            for i in range(n - 1, 0, -1):
                st, j = below(st, i + 1)
                idx[i], idx[j] = idx[j], idx[i]
            px = x[idx]
            ge_r += scipy.stats.spearmanr(px, y).statistic >= out["rho"] - 1e-12
            ge_t += scipy.stats.kendalltau(px, y).statistic >= out["tau"] - 1e-12
        out["rho_permutation_p"] = (1 + ge_r) / (1 + permutations)
        out["tau_permutation_p"] = (1 + ge_t) / (1 + permutations)
    return out


def assert_test(got, want, where=""):
    for key, v in want.items():
        if isinstance(v, list):
            np.testing.assert_allclose(got[key], v, rtol=1e-9, atol=1e-12, err_msg="%s %s" % (where, key))
        elif key.endswith("_p") and not key.endswith("permutation_p"):
            # p-values: relative (they reach 1e-10 and below), with an absolute floor
            assert abs(got[key] - v) <= 1e-9 * abs(v) + 1e-15, (where, key, got[key], v)
        else:
            assert abs(got[key] - v) <= 1e-12, (where, key, got[key], v)


# --------------------------------------------------------- synthetic families

def make_family(tmp_path, n=300, p=12, k=8, layers=("l1",), seed=0, scores=None, noise=0.2, rowname="{l}_{i}"):
    """Per layer: a base X and k rows X + s_i E_i with s_i growing: the
    distance to row 0 grows with i for every measure; the score falls with
    i.  Writes the .npy files and m.csv; returns the manifest path."""
    rng = np.random.default_rng(seed)
    rows = []
    for l in layers:
        x = rng.normal(size=(n, p))
        for i in range(k):
            name = rowname.format(l=l, i=i)
            y = x + noise * i * rng.normal(size=(n, p))
            write_npy(tmp_path / (name + ".npy"), y.astype(np.float32))
            sc = scores[i] if scores is not None else 0.95 - 0.04 * i + 0.003 * rng.normal()
            rows.append({"name": name, "path": name + ".npy", "layer": l, "acc": "%.6f" % sc})
    m = tmp_path / "m.csv"
    with open(m, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["name", "path", "layer", "acc"])
        w.writeheader()
        w.writerows(rows)
    return m


def validate(manifest, *args):
    return run("validate", "--manifest", manifest, "--score", "acc", "--format", "json", *args)


MEASURES = "cca,svcca,pwcca,cka,cka_debiased,procrustes,procrustes_angular,cka_rbf"


def test_known_ordering_every_measure_ranks_perfectly(tmp_path):
    m = make_family(tmp_path, layers=("l1", "l2"))
    doc = validate(m, "-m", MEASURES).json()
    assert doc["measures"] == MEASURES.split(",")
    assert [f["reference"] for f in doc["references"]] == ["l1_0", "l2_0"]
    for fam in doc["references"]:
        assert len(fam["rows"]) == 8 and fam["rows"][0]["distance"]["cka"] == 0
        for mid in doc["measures"]:
            t = fam["tests"][mid]
            assert t["rho"] == pytest.approx(1.0) and t["tau"] == pytest.approx(1.0), (mid, t)
            assert t["tau_exact"] and t["bad_fraction"] == 0
            assert t["tau_p"] == pytest.approx(1 / 40320, rel=1e-12)  # 1/8!: the one ordering of 8 rows
    assert set(doc["ranking"]) == set(doc["measures"])


def test_statistics_equal_scipy_and_ding(tmp_path):
    """A noisy family (scores not monotone in the noise): every test value
    against scipy and Ding et al.'s rule; the distances against simrep
    matrix's for the same pairs."""
    rng = np.random.default_rng(3)
    scores = list(0.9 - 0.03 * np.arange(12) + 0.05 * rng.normal(size=12))
    m = make_family(tmp_path, k=12, scores=scores, noise=0.15)
    doc = validate(m, "-m", "cca,pwcca,cka,procrustes").json()
    fam = doc["references"][0]
    ref = int(np.argmax(np.round(scores, 6)))
    assert fam["reference"] == "l1_%d" % ref
    y = [r["score_difference"] for r in fam["rows"]]
    np.testing.assert_allclose(y, np.abs(np.round(scores, 6) - np.round(scores[ref], 6)), atol=1e-12)
    mat = run("matrix", "--manifest", m, "-m", "cca,pwcca,cka,procrustes", "--format", "json").json()
    names = mat["names"] if "names" in mat else [r["name"] for r in mat["inputs"]]
    for mid in doc["measures"]:
        x = [r["distance"][mid] for r in fam["rows"]]
        dm = np.array(mat["measures"][mid]["distance"])
        np.testing.assert_array_equal(x, [dm[ref, names.index(r["name"])] for r in fam["rows"]])
        assert_test(fam["tests"][mid], expected_test(x, y), mid)
        assert doc["summary"][mid]["rho"] == fam["tests"][mid]["rho"]
    rhos = [doc["summary"][mid]["rho"] for mid in doc["ranking"]]
    assert rhos == sorted(rhos, reverse=True)


@pytest.mark.parametrize("ties", [False, True])
def test_bootstrap_and_permutations_replayed(tmp_path, ties):
    """Intervals and permutation p-values equal a replay of the library's
    streams with scipy (ties: scores rounded so differences tie, which
    takes tau to the normal approximation, as scipy does)."""
    rng = np.random.default_rng(5)
    scores = 0.9 - 0.02 * np.arange(10) + 0.04 * rng.normal(size=10)
    if ties:
        scores = np.round(scores, 2)
    m = make_family(tmp_path, k=10, scores=list(scores), noise=0.2)
    B, K = (60, 60) if SANITIZED else (300, 300)
    doc = validate(m, "-m", "cka", "--bootstrap", B, "--permutations", K, "--seed", 7, "--ci", 0.9).json()
    fam = doc["references"][0]
    x = [r["distance"]["cka"] for r in fam["rows"]]
    y = [r["score_difference"] for r in fam["rows"]]
    got = fam["tests"]["cka"]
    assert got["tau_exact"] == (not ties)
    want = expected_test(x, y, bootstrap=B, permutations=K, seed=7, ci=0.9)
    assert_test(got, want)
    assert doc["statistics"] == {"bootstrap": B, "permutations": K, "ci": 0.9, "seed": 7}


def test_across_layers_is_ding_layer_depth_test(tmp_path):
    m = make_family(tmp_path, layers=("l1", "l2", "l3"), k=4)
    doc = validate(m, "-m", "cka", "--across-layers").json()
    assert doc["across_layers"] and len(doc["references"]) == 3
    for fam in doc["references"]:
        assert len(fam["rows"]) == 12  # every row of the manifest
        own = [r for r in fam["rows"] if r["layer"] == fam["layer"]]
        other = [r for r in fam["rows"] if r["layer"] != fam["layer"]]
        # rows of other layers (unrelated random bases) are far
        assert max(r["distance"]["cka"] for r in own) < min(r["distance"]["cka"] for r in other)
    # named references, one of them only, across layers
    doc = validate(m, "-m", "cka", "--across-layers", "--reference", "l2_1").json()
    assert [f["reference"] for f in doc["references"]] == ["l2_1"]


def test_named_references_and_no_layer_column(tmp_path):
    m = make_family(tmp_path, k=6)
    rows = list(csv.DictReader(open(m)))
    with open(m, "w", newline="") as f:  # drop the layer column
        w = csv.DictWriter(f, fieldnames=["name", "path", "acc"])
        w.writeheader()
        w.writerows({k: r[k] for k in ("name", "path", "acc")} for r in rows)
    doc = validate(m, "-m", "cka", "--reference", "l1_3").json()
    fam = doc["references"][0]
    assert fam["layer"] is None and fam["reference"] == "l1_3" and len(fam["rows"]) == 6


def test_table_csv_and_output_dir(tmp_path):
    m = make_family(tmp_path, layers=("l1", "l2"), k=5)
    r = run("validate", "--manifest", m, "--score", "acc", "-m", "cka,pwcca", "--bootstrap", 50)
    assert r.code == 0, r
    assert "ranking by Spearman rho" in r.stdout and "CI" in r.stdout
    r = run("validate", "--manifest", m, "--score", "acc", "-m", "cka", "--format", "csv")
    lines = r.stdout.splitlines()
    assert lines[0] == "layer,reference,name,score,score_difference,measure,distance" and len(lines) == 11
    out = tmp_path / "out"
    r = run("validate", "--manifest", m, "--score", "acc", "-m", "cka,pwcca", "-o", out, "--no-png")
    assert r.code == 0, r
    files = sorted(p.name for p in out.iterdir())
    assert files == ["cka_scatter.svg", "distances.csv", "index.html", "pwcca_scatter.svg", "ranking.svg",
                     "tests.csv", "validate.json"]
    assert json.loads((out / "validate.json").read_text())["ranking"]
    html = (out / "index.html").read_text()
    assert html.count("<svg") == 3 and "Ranking" in html and "<script" not in html
    import xml.dom.minidom
    for f in ("cka_scatter.svg", "ranking.svg"):
        xml.dom.minidom.parse(str(out / f))
    tests = list(csv.DictReader(open(out / "tests.csv")))
    assert len(tests) == 4 and tests[0]["rho_ci_low"] == ""


def test_best_ties_warn(tmp_path):
    m = make_family(tmp_path, k=5, scores=[0.9, 0.9, 0.8, 0.7, 0.6])
    r = run("validate", "--manifest", m, "--score", "acc", "-m", "cka", "--format", "json")
    doc = r.json()
    assert doc["references"][0]["reference"] == "l1_0"
    assert any("share" in w and "l1_0" in w for w in doc["warnings"])
    r = run("validate", "--manifest", m, "--score", "acc", "-m", "cka")
    assert "simrep: warning:" in r.stderr and "highest score" in r.stderr


# ------------------------------------------------------------------ bad input

def rewrite(m, fn):
    rows = list(csv.DictReader(open(m)))
    fields = list(rows[0])
    rows, fields = fn(rows, fields)
    with open(m, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def test_errors(tmp_path):
    m = make_family(tmp_path, layers=("l1", "l2"), k=4)
    # usage: what the command line names and the manifest lacks
    assert_error(run("validate", "--manifest", m), 2, contains=["--score"])
    assert_error(run("validate", "--score", "acc"), 2, contains=["--manifest"])
    assert_error(run("validate", "--manifest", m, "--score", "loss"), 2, names=m, contains=["no column 'loss'", "acc"])
    assert_error(run("validate", "--manifest", m, "--score", "name"), 2, contains=["name column"])
    assert_error(run("validate", "--manifest", m, "--score", "acc", "--reference", "nope"), 2, contains=["nope"])
    assert_error(run("validate", "--manifest", m, "--score", "acc", "--reference", "l1_0,l1_1"), 2,
                 contains=["two rows", "l1_0", "l1_1"])
    assert_error(run("validate", "--manifest", m, "--score", "acc", "--reference", "l1_0"), 2,
                 contains=["layer 'l2' has no reference"])
    assert_error(run("validate", "--manifest", m, "--score", "acc", "--ci-method", "basic"), 2, contains=["percentile"])
    assert_error(run("validate", "--manifest", m, "--score", "acc", "--bootstrap", "-3"), 2)
    assert_error(run("validate", "--manifest", m, "--score", "acc", "-m", "nope"), 2)
    assert_error(run("validate", "--manifest", m, "--score", "acc", "stray"), 2)


def test_data_errors(tmp_path):
    m = make_family(tmp_path, layers=("l1", "l2"), k=4)

    def bad_score(rows, fields):
        rows[2]["acc"] = "high"
        return rows, fields
    rewrite(m, bad_score)
    assert_error(run("validate", "--manifest", m, "--score", "acc"), 1, names="%s:4" % m, contains=["'high'", "l1_2"])

    for value in ("", "nan", "inf", "1e999", "0.5x"):
        def bad(rows, fields, value=value):
            rows[1]["acc"] = value
            return rows, fields
        m = make_family(tmp_path, layers=("l1", "l2"), k=4)
        rewrite(m, bad)
        assert_error(run("validate", "--manifest", m, "--score", "acc"), 1, contains=["not a finite number"])

    # too few rows for a reference
    m = make_family(tmp_path, layers=("l1", "l2"), k=2)
    assert_error(run("validate", "--manifest", m, "--score", "acc"), 1, contains=["at least 3", "l1_0"])
    m = make_family(tmp_path, layers=("l1",), k=2)
    assert_error(run("validate", "--manifest", m, "--score", "acc"), 1, contains=["at least 3 rows"])

    # every score equal: nothing to rank
    m = make_family(tmp_path, k=5, scores=[0.5] * 5)
    assert_error(run("validate", "--manifest", m, "--score", "acc"), 1, contains=["same score difference"])

    # every distance equal (identical copies of the reference)
    m = make_family(tmp_path, k=4, noise=0.0, scores=[0.9, 0.8, 0.7, 0.6])
    assert_error(run("validate", "--manifest", m, "--score", "acc", "-m", "cka"), 1,
                 contains=["every cka distance", "does not rank"])

    # an input that cannot be read names its manifest row
    m = make_family(tmp_path, k=4)
    (tmp_path / "l1_2.npy").write_bytes(b"not an npy")
    assert_error(run("validate", "--manifest", m, "--score", "acc"), 1, names=m, contains=["l1_2"])


def test_outputs_that_cannot_be_written(tmp_path):
    m = make_family(tmp_path, k=4)
    r = run("validate", "--manifest", m, "--score", "acc", "-m", "cka", "-o", "/dev/null/x", "--no-png")
    assert_error(r, 1, contains=["/dev/null/x"])
    (tmp_path / "file").write_text("")
    assert_error(run("validate", "--manifest", m, "--score", "acc", "-m", "cka", "-o", tmp_path / "file"), 1,
                 contains=["not a directory"])
    import subprocess
    from conftest import simrep_bin
    with open("/dev/full", "w") as full:
        p = subprocess.run([str(simrep_bin()), "validate", "--manifest", str(m), "--score", "acc", "-m", "cka",
                            "--format", "json"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 1 and "standard output: " in p.stderr, p.stderr


def test_ctrl_c_during_the_bootstrap(tmp_path):
    """10^7 resamples take minutes; SIGINT after 1 s stops the run within
    about a second, exit 130, one line, no partial output, no -o files."""
    import os
    import signal
    import subprocess
    import time
    from conftest import simrep_bin
    m = make_family(tmp_path, k=8)
    out = tmp_path / "out"
    p = subprocess.Popen([str(simrep_bin()), "validate", "--manifest", str(m), "--score", "acc", "-m", "cka",
                          "--bootstrap", "10000000", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    time.sleep(1.0)
    assert p.poll() is None, "finished before the signal"
    t = time.monotonic()
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, stderr)
    assert time.monotonic() - t <= (3.0 if SANITIZED else 2.0)
    lines = [l for l in stderr.splitlines() if l.strip()]
    assert lines and lines[-1].startswith("simrep: interrupted") and "error" not in stderr, stderr
    assert stdout == "" and not out.exists()
