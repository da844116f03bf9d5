"""The measures computed from the rows (rsa, mutual_knn, cknna) and
cka_lange through the CLI, against reference_rows.py (numpy transcriptions
of rsatoolbox, platonic-rep and repsim), on random data and the golden
inputs; compare and matrix agree; rsa's spill through TMPDIR and its
failures (no directory, a full disk, Ctrl-C) end cleanly.

Tolerances.  The reference forms full n x n matrices (rsatoolbox's
|xi|^2 + |xj|^2 - 2 xi.xj, scipy's pdist); simrep forms the same numbers
from 256 x 256 dgemm tiles of centred rows.  Pearson correlations of the
two triangles agree to round-off (observed ~1e-15); ranks are exact on both
sides whenever the two orders of the distances agree, which holds for
continuous random data.  The issue's bound against the references is 1e-6;
the tests use 1e-9 (1e-12 between simrep's own paths).
"""

import os
import signal
import subprocess
import time

import numpy as np
import pytest

import reference_rows as rr
from conftest import (GOLDEN, SANITIZED, TIMEOUT, assert_error, compare, golden_cases, run, simrep_bin,
                      write_npy)

TOL = 1e-9


def related(seed, n, p, q):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, p))
    y = x[:, :q] * 0.8 + rng.standard_normal((n, q))
    return x, y


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("rows")
    x, y = related(1, 150, 7, 5)
    write_npy(d / "x.npy", x)
    write_npy(d / "y.npy", y)
    return d, x, y


@pytest.mark.parametrize("rdm", rr.RDMS)
def test_rsa_every_rdm_and_comparison(pair, rdm):
    d, x, y = pair
    for how in rr.COMPARES:
        got = compare(d / "x.npy", d / "y.npy", "--rsa-rdm", rdm, "--rsa-compare", how, measures="rsa")
        m = got["measures"]["rsa"]
        assert m["similarity"] == pytest.approx(rr.rsa(x, y, rdm, how), abs=TOL), (rdm, how)
        assert m["distance"] == pytest.approx(1 - m["similarity"], abs=1e-15)
        assert (m["rdm"], m["compare"]) == (rdm, how)


def test_rsa_spilled_equals_in_memory(pair, tmp_path):
    """150 samples are 11,175 pairs: 1/16 MiB holds 2048, so the ranks go
    through files in TMPDIR; the value is the in-memory one bit for bit,
    and nothing is left in the directory."""
    d, x, y = pair
    for how in ("spearman", "kendall"):
        a = compare(d / "x.npy", d / "y.npy", "--rsa-compare", how, measures="rsa")["measures"]["rsa"]
        r = run("compare", d / "x.npy", d / "y.npy", "-m", "rsa", "--rsa-compare", how, "--rsa-memory",
                "0.0625", "--format", "json", env={"TMPDIR": str(tmp_path)})
        assert r.json()["measures"]["rsa"]["similarity"] == a["similarity"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("k", [1, 5, 10])
def test_knn_measures(pair, k):
    d, x, y = pair
    got = compare(d / "x.npy", d / "y.npy", "--knn", k, measures="mutual_knn,cknna" if k > 1 else "mutual_knn")
    m = got["measures"]
    assert m["mutual_knn"]["similarity"] == pytest.approx(rr.mutual_knn(x, y, k), abs=1e-15)
    assert m["mutual_knn"]["k"] == k
    if k > 1:
        assert m["cknna"]["similarity"] == pytest.approx(rr.cknna(x, y, k), abs=TOL)


def test_cka_lange_and_the_debiased_cka_differ(pair):
    d, x, y = pair
    m = compare(d / "x.npy", d / "y.npy", measures="cka_lange,cka_debiased")["measures"]
    s, dist = rr.cka_lange(x, y)
    assert m["cka_lange"]["similarity"] == pytest.approx(s, abs=TOL)
    assert m["cka_lange"]["distance"] == pytest.approx(dist, abs=TOL)
    assert abs(m["cka_lange"]["similarity"] - m["cka_debiased"]["similarity"]) > 1e-4


# Three of the golden pairs (the small demo, a ReLU layer pair, float32 with
# dead units): the references' dense 2000 x 2000 work takes seconds each,
# and the other two pairs add no new kind of data for these measures.
GOLDEN_ROWS = [c for c in golden_cases() if c in ("kornblith_demo", "relu_latent", "dead_units_f32")]


@pytest.mark.skipif(SANITIZED, reason="the references' dense 2000 x 2000 work; the plain build covers it")
@pytest.mark.parametrize("case", GOLDEN_ROWS)
def test_golden_inputs(case):
    x, y = np.load(GOLDEN / (case + "_x.npy")), np.load(GOLDEN / (case + "_y.npy"))
    xa, ya = x.astype(np.float64), y.astype(np.float64)
    m = compare(GOLDEN / (case + "_x.npy"), GOLDEN / (case + "_y.npy"),
                measures="rsa,mutual_knn,cknna,cka_lange")["measures"]
    k = compare(GOLDEN / (case + "_x.npy"), GOLDEN / (case + "_y.npy"), "--rsa-compare", "kendall",
                "--rsa-rdm", "euclidean", measures="rsa")["measures"]["rsa"]
    assert m["rsa"]["similarity"] == pytest.approx(rr.rsa(xa, ya), abs=1e-6)
    assert k["similarity"] == pytest.approx(rr.rsa(xa, ya, "euclidean", "kendall"), abs=1e-6)
    assert m["mutual_knn"]["similarity"] == pytest.approx(rr.mutual_knn(xa, ya, 10), abs=1e-6)
    assert m["cknna"]["similarity"] == pytest.approx(rr.cknna(xa, ya, 10), abs=1e-6)
    assert m["cka_lange"]["similarity"] == pytest.approx(rr.cka_lange(xa, ya)[0], abs=1e-6)


def test_matrix_equals_compare(pair, tmp_path):
    d, x, y = pair
    z = np.random.default_rng(5).standard_normal((150, 4))
    write_npy(tmp_path / "z.npy", z)
    (tmp_path / "m.csv").write_text("name,path\nx,%s\ny,%s\nz,%s\n" % (d / "x.npy", d / "y.npy", tmp_path / "z.npy"))
    ids = "rsa,mutual_knn,cknna,cka_lange"
    mat = run("matrix", "--manifest", tmp_path / "m.csv", "-m", ids, "--rsa-compare", "kendall",
              "--format", "json").json()
    names = mat["names"]
    for a, b in (("x", "y"), ("x", "z"), ("y", "z")):
        pa = d / (a + ".npy") if a != "z" else tmp_path / "z.npy"
        pb = d / (b + ".npy") if b != "z" else tmp_path / "z.npy"
        one = compare(pa, pb, "--rsa-compare", "kendall", measures=ids)["measures"]
        for mid in ids.split(","):
            got = mat["measures"][mid]["similarity"][names.index(a)][names.index(b)]
            assert got == pytest.approx(one[mid]["similarity"], abs=1e-12), (mid, a, b)


def test_bad_options_and_undefined_data(pair, tmp_path):
    d, x, y = pair
    assert_error(run("compare", d / "x.npy", d / "y.npy", "-m", "rsa", "--rsa-rdm", "manhattan"), 2,
                 contains=["rsa-rdm", "euclidean, correlation or cosine"])
    assert_error(run("compare", d / "x.npy", d / "y.npy", "-m", "rsa", "--rsa-compare", "tau"), 2,
                 contains=["pearson, spearman or kendall"])
    assert_error(run("compare", d / "x.npy", d / "y.npy", "-m", "mutual_knn", "--knn", "0"), 2, contains=["knn"])
    assert_error(run("compare", d / "x.npy", d / "y.npy", "-m", "mutual_knn", "--knn", "2.5"), 2, contains=["knn"])
    assert_error(run("compare", d / "x.npy", d / "y.npy", "-m", "rsa", "--rsa-memory", "0"), 2,
                 contains=["rsa-memory"])
    assert_error(run("compare", d / "x.npy", d / "y.npy", "-m", "mutual_knn", "--knn", "150"), 1,
                 contains=["more than 150 samples"])
    assert_error(run("compare", d / "x.npy", d / "y.npy", "-m", "cknna", "--knn", "1"), 2, contains=["knn"])
    c = x.copy()
    c[3] = 2.5  # a constant sample: its correlation with any other is undefined
    write_npy(tmp_path / "c.npy", c)
    assert_error(run("compare", tmp_path / "c.npy", d / "y.npy", "-m", "rsa"), 1, names="c.npy",
                 contains=["row 3 is constant"])
    ok = run("compare", tmp_path / "c.npy", d / "y.npy", "-m", "rsa", "--rsa-rdm", "euclidean", "--format", "json")
    assert ok.code == 0, ok


def test_spill_failures_are_clear(pair, tmp_path):
    d, x, y = pair
    args = ("compare", d / "x.npy", d / "y.npy", "-m", "rsa", "--rsa-memory", "0.0625")
    assert_error(run(*args, env={"TMPDIR": str(tmp_path / "missing")}), 1,
                 contains=[str(tmp_path / "missing"), "TMPDIR", "--rsa-memory"])

    # A full disk: a file size limit of 8 KiB (less than one 32 KiB bucket);
    # SIGXFSZ ignored, so writes fail with EFBIG as they would with ENOSPC.
    def limit():
        import resource
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))

    e = dict(os.environ, TMPDIR=str(tmp_path), OPENBLAS_NUM_THREADS="1")
    p = subprocess.run([str(simrep_bin())] + [str(a) for a in args], capture_output=True, text=True, env=e,
                       preexec_fn=limit, timeout=120)
    assert p.returncode == 1, p
    assert p.stderr.startswith("simrep: error: "), p.stderr
    assert "cannot write a spill file" in p.stderr and "GiB" in p.stderr, p.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(SANITIZED, reason="timing-based: the sanitized build is slower to reach the spill")
def test_ctrl_c_leaves_no_spill_files(tmp_path):
    x, y = related(2, 2500, 3, 3)
    write_npy(tmp_path / "x.npy", x)
    write_npy(tmp_path / "y.npy", y)
    spill = tmp_path / "spill"
    spill.mkdir()
    e = dict(os.environ, TMPDIR=str(spill), OPENBLAS_NUM_THREADS="1")
    p = subprocess.Popen([str(simrep_bin()), "compare", str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), "-m",
                          "rsa", "--rsa-compare", "kendall", "--rsa-memory", "1"], env=e,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=120)
    # Interrupted (or, on a fast machine, finished): either way nothing is left behind.
    assert list(spill.iterdir()) == []


def test_cka_rbf_progress_and_kept_tiles(pair, tmp_path):
    """cka_rbf's passes draw a progress line when stderr is a terminal (and
    nothing on a pipe); --rbf-memory (distance tiles kept between passes)
    leaves the value bit for bit the same whatever it keeps; bad budgets are
    usage errors."""
    import pty
    rng = np.random.default_rng(5)
    x = rng.standard_normal((600, 5))
    write_npy(tmp_path / "x.npy", x)
    write_npy(tmp_path / "y.npy", np.tanh(x @ rng.standard_normal((5, 3))))
    args = ["compare", tmp_path / "x.npy", tmp_path / "y.npy", "-m", "cka_rbf", "--format", "json"]
    values = set()
    for mib in ("0", "4", "1024"):  # none; the first of 3 tile rows (1.5 of 2 MiB per side); all
        r = run(*args, "--rbf-memory", mib)
        values.add(r.json()["measures"]["cka_rbf"]["similarity"])
        assert "cka_rbf" not in r.stderr, r  # a pipe: no progress line
    assert len(values) == 1, values
    for bad in ("-1", "2e6", "lots"):
        assert_error(run(*args, "--rbf-memory", bad), 2, contains=["rbf-memory"])
    master, slave = pty.openpty()
    try:
        proc = subprocess.run([str(simrep_bin())] + [str(a) for a in args], stdout=subprocess.PIPE,
                              stderr=slave, timeout=TIMEOUT, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
        os.close(slave)
        slave = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 0
    text = drawn.decode(errors="replace")
    assert "cka_rbf median" in text and "cka_rbf centred HSIC" in text, text
    assert text.endswith("\r\033[K"), repr(text[-40:])  # the line is cleared at the end
