"""The benchmark of the measures (examples/validate, `make validate`) on
its ci config: scikit-learn's digits, 9 small MLPs, every test through
`simrep validate` (SIMREP_BIN), the report written.  About 30 s of CPU.

Asserted: the pipeline covers every measure of the registry (conv maps
aside) in every test; the numbers it reports are the validate outputs'
(rho recomputed with scipy from the rows the JSON lists); and the
structure the tests are built on is there, with margins: deleting the
lowest-variance components down to one leaves a worse probe; networks
trained on random labels are further from a true-label reference than
the other true-label network (rho > 0.5 for CKA and Procrustes); within a
network the nearer layers are nearer (CKA's violation rate below 0.25).
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
BIN = os.environ.get("SIMREP_BIN", str(REPO / "build" / "simrep"))

pytest.importorskip("torch")
pytest.importorskip("sklearn")
scipy_stats = pytest.importorskip("scipy.stats")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    work = tmp_path_factory.mktemp("validate")
    env = dict(os.environ, SIMREP_BIN=BIN)
    p = subprocess.run([sys.executable, str(REPO / "examples" / "validate" / "run.py"), "--config", "ci",
                        "--work", str(work), "--out", str(work / "report")], capture_output=True, text=True,
                       env=env, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    with open(work / "results.json") as f:
        return work, json.load(f)


def registry():
    doc = json.loads(subprocess.run([BIN, "measures", "--format", "json"], capture_output=True, text=True,
                                    check=True).stdout)
    return sorted(m["id"] for m in doc["measures"] if m["family"] != "maps")


def covered(test):
    ids = list(test["moments"]["measures"])
    if test.get("rows"):
        ids += test["rows"]["measures"]
    return sorted(ids)


def test_every_measure_in_every_test(bench):
    _, res = bench
    want = registry()
    T = res["tests"]
    assert covered(T["depth_mlp"]) == want
    assert covered(T["labels"]) == want
    for layer in T["pca"].values():
        assert covered(layer) == want
    for net in T["monotone_mlp"]["nets"]:
        assert covered(net) == want


def test_numbers_are_the_rows(bench):
    _, res = bench
    doc = res["tests"]["labels"]["moments"]
    for fam in doc["references"]:
        for m in ("cka", "pwcca"):
            x = [r["distance"][m] for r in fam["rows"]]
            y = [r["score_difference"] for r in fam["rows"]]
            assert fam["tests"][m]["rho"] == pytest.approx(scipy_stats.spearmanr(x, y).statistic, abs=1e-12)
            assert "rho_ci" in fam["tests"][m] and "rho_permutation_p" in fam["tests"][m]


def test_known_structure(bench):
    _, res = bench
    T = res["tests"]
    for layer in T["pca"].values():
        meta = layer["rows_meta"]
        kmax = max(r["k"] for r in meta)
        acc = {k: np.mean([float(r["score"]) for r in meta if r["k"] == k]) for k in (0, kmax)}
        assert acc[kmax] < acc[0] - 0.2, acc
    s = T["labels"]["moments"]["summary"]
    assert s["cka"]["rho"] > 0.5 and s["procrustes"]["rho"] > 0.5, s
    # by its path: tests/findings' and examples/findings' report.py share the name
    spec = importlib.util.spec_from_file_location("validate_report", REPO / "examples" / "validate" / "report.py")
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    v = report._violations(T["monotone_mlp"]["nets"], np.random.default_rng(0))
    assert v["cka"][0] < 0.25, v["cka"]


def test_report(bench):
    work, _ = bench
    md = (work / "report" / "report.md").read_text()
    for head in ("## Layer depth vs seed", "## Principal-component deletion", "## Label randomization",
                 "## Layer monotonicity", "## Ranking over the tests", "## The literature's claims, checked"):
        assert head in md, head
    assert "CKA insensitive" in md and "CCA family not specific" in md
    for line in md.splitlines():
        if line.startswith("!["):
            assert (work / "report" / line.split("(")[1].rstrip(")")).exists(), line
    ranking = json.loads((work / "report" / "ranking.json").read_text())
    assert sorted(ranking["overall"]) == registry()
