"""What `-m all` means (issue 10, item 11).

`all` is every measure whose time grows linearly in the samples n; the
O(n^2) measures of the rows (cka_rbf, rsa, mutual_knn, cknna: hours at
n = 200,000) join with `all+kernel`.  The rule is the library's
(simrep_all_measures, the registry's time_in_n); the CLI, `simrep measures`
and Python ask it.  Before O(n^2) measures that will take more than 10 s,
their estimated time is said on stderr.
"""
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import run, simrep_bin, write_npy


def registry():
    return run("measures", "--format", "json").json()["measures"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("all")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    return write_npy(d / "x.npy", x), write_npy(d / "y.npy", x @ rng.normal(size=(5, 4)) + rng.normal(size=(60, 4)))


# (the -m value, which registry rows it runs)
WORDS = [
    ("all", lambda m: m["family"] != "maps" and m["time_in_n"] == 1),
    ("all+kernel", lambda m: m["family"] != "maps"),
    ("all,cka_rbf", lambda m: m["family"] != "maps" and (m["time_in_n"] == 1 or m["id"] == "cka_rbf")),
    ("cka_rbf,all", lambda m: m["family"] != "maps" and (m["time_in_n"] == 1 or m["id"] == "cka_rbf")),
]


@pytest.mark.parametrize("word,rule", WORDS, ids=[w[0] for w in WORDS])
def test_all_is_the_registry_rule(pair, word, rule):
    r = run("compare", pair[0], pair[1], "-m", word, "--knn", "3", "--format", "json")
    assert r.code == 0, r
    want = {m["id"] for m in registry() if rule(m)}
    assert set(r.json()["measures"]) == want


def test_registry_says_how_time_grows():
    rows = {m["id"]: m for m in registry()}
    quadratic = {i for i, m in rows.items() if m["time_in_n"] == 2}
    assert quadratic == {i for i, m in rows.items() if m["family"] == "rows"} and "cka_rbf" in quadratic
    assert all(m["in_all"] == (m["time_in_n"] == 1 and m["family"] != "maps") for m in rows.values())
    text = run("measures").stdout
    assert "time:        O(n^2) in the samples n (not in -m all: all+kernel)" in text
    assert "time:        O(n) in the samples n\n" in text
    assert "'all+kernel'" in run("compare", "--help").stdout


def test_unknown_word_names_both(pair):
    r = run("compare", pair[0], pair[1], "-m", "all+rbf")
    assert r.code == 2 and "all or all+kernel" in r.stderr, r


def test_estimated_time_before_a_long_quadratic_measure(tmp_path):
    """12,000 x 300 twice: cka_rbf's n^2 (p + q) cost is about 30 s on one
    thread: the note comes before the work, which Ctrl-C then stops."""
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        write_npy(tmp_path / (name + ".npy"), rng.normal(size=(12000, 300)).astype(np.float32))
    p = subprocess.Popen([str(simrep_bin()), "compare", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "-m",
                          "cka,cka_rbf", "--threads", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    line = p.stderr.readline()
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=120)
    assert line.startswith("simrep: note: cka_rbf takes O(n^2) time in the samples: about "), line
    assert "for n = 12000 (estimated, 1 thread); -m all leaves such measures out" in line, line
    assert p.returncode == 130


def test_no_note_for_short_runs(pair):
    r = run("compare", pair[0], pair[1], "-m", "all+kernel", "--knn", "3")
    assert r.code == 0 and "note" not in r.stderr, r

