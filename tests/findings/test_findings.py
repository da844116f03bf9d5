"""CI-sized findings: findings 1 and 2 of examples/findings on a reduced
config, asserted as inequalities with margins (not exact values).

The "ci" config (examples/findings/experiments.py) trains, on
scikit-learn's bundled digits (1,000 training images, 797 held out), 3
MLPs (3 hidden layers of 64) on the true labels, 3 on one fixed random
permutation of them, and 3 more at width 16: about 30 s on 2 cores.
Everything then goes through the pipeline's own comparison step
(`simrep matrix` per layer, SIMREP_BIN), so a regression in the CLI, the
matrix or a measure moves these numbers.

Margins.  On this config the measured gaps are several times the
margins asserted (PWCCA mem-mem minus gen-gen: 0.10 to 0.38; width 16
minus width 64: 0.05 to 0.08; CKA larger still), and one torch thread
makes training deterministic on a given machine, so the margins only
absorb BLAS and CPU differences in training; a measure that collapsed
toward 0 or 1 for every pair fails them.
"""

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("SIMREP_LIBRARY", str(REPO / "build" / "libsimrep.so"))
os.environ.setdefault("SIMREP_BIN", str(REPO / "build" / "simrep"))
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "examples" / "findings"))

pytest.importorskip("torch")
pytest.importorskip("sklearn")

import compare  # noqa: E402
import train  # noqa: E402

HIDDEN = ["relu1", "relu2", "relu3"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = str(tmp_path_factory.mktemp("findings"))
    infos = train.train_all("ci", work, jobs=2, log=lambda s: None)
    compare.SIMREP = os.environ["SIMREP_BIN"]
    res = compare.compare_all("ci", work, os.path.join(work, "matrices"), log=lambda s: None)
    return work, infos, res


def _within(res, layer, m, g):
    return res["memorization"]["per_layer"][layer]["summary"][m]["within"][g]


def test_training_reaches_the_regimes(run):
    _, infos, res = run
    for g, names in res["groups"]["memorization"].items():
        for n in names:
            assert infos[n]["train_acc"] >= 0.99, (n, infos[n]["train_acc"])
            if g == "generalizing":
                assert infos[n]["eval_acc"] > 0.9, (n, infos[n]["eval_acc"])
            else:
                assert infos[n]["eval_acc"] < 0.2, (n, infos[n]["eval_acc"])


@pytest.mark.parametrize("m,margin", [("pwcca", 0.04), ("cka", 0.08)])
def test_generalizing_nets_are_closer_than_memorizing_nets(run, m, margin):
    _, _, res = run
    for layer in HIDDEN + ["logits"]:
        gen, mem = _within(res, layer, m, "generalizing"), _within(res, layer, m, "memorizing")
        assert mem - gen > margin, (layer, gen, mem)
        assert mem > 1.5 * gen, (layer, gen, mem)
        between = res["memorization"]["per_layer"][layer]["summary"][m]["between"]["generalizing|memorizing"]
        assert between - gen > margin / 4, (layer, gen, between)   # smallest in relu1: 0.02 (pwcca)


@pytest.mark.parametrize("m", ["pwcca", "cka"])
def test_the_gap_grows_from_the_first_to_the_last_hidden_layer(run, m):
    _, _, res = run
    gap = {l: _within(res, l, m, "memorizing") - _within(res, l, m, "generalizing") for l in HIDDEN}
    assert gap["relu3"] > gap["relu1"] + 0.02, gap


def test_memorizing_nets_are_as_far_from_each_other_as_from_generalizing_ones_cka(run):
    # Morcos et al.: in later layers mem-mem ~ gen-mem.  Holds for CKA here; for PWCCA at
    # this scale gen-mem is about 0.6 x mem-mem (the report states it), so it is not asserted.
    _, _, res = run
    s = res["memorization"]["per_layer"]["relu3"]["summary"]["cka"]
    assert abs(s["between"]["generalizing|memorizing"] - s["within"]["memorizing"]) < 0.25 * s["within"]["memorizing"]


@pytest.mark.parametrize("m,margin", [("pwcca", 0.02), ("cka", 0.04)])
def test_wider_nets_are_closer_to_each_other(run, m, margin):
    _, _, res = run
    w = res["width"]["widths"]
    for layer in HIDDEN:
        assert w["w16"][layer][m] - w["w64"][layer][m] > margin, (layer, w["w16"][layer][m], w["w64"][layer][m])
        assert w["w16"][layer][m] > 1.3 * w["w64"][layer][m], layer


def test_matrix_agrees_with_pairwise_compare(run):
    # The pipeline's matrix step against simrep.compare pair by pair (the library through Python).
    work, _, res = run
    names = res["groups"]["memorization"]["generalizing"] + res["groups"]["memorization"]["memorizing"]
    groups = ["generalizing"] * 3 + ["memorizing"] * 3
    rows = [{"name": n, "path": os.path.join(work, "nets", n + ".npz") + ":relu2", "group": g}
            for n, g in zip(names, groups)]
    compare.BACKEND = "pairwise"
    try:
        pw = compare.matrix(rows, os.path.join(work, "pairwise"))
    finally:
        compare.BACKEND = "matrix"
    for m in ("pwcca", "cka"):
        for g in ("generalizing", "memorizing"):
            assert pw["group_summary"][m]["within"][g] == pytest.approx(_within(res, "relu2", m, g), abs=1e-9)


def test_no_sample_size_warning(run):
    _, _, res = run
    for e in ("memorization", "width"):
        assert res[e]["warnings"]["few_samples"] == 0, res[e]["warnings"]


def test_every_group_mean_has_its_uncertainty(run, tmp_path):
    # issue 11: the matrices carry 95% intervals over the networks and permutation p-values, and the
    # report's verdicts use them ("within noise" where a difference is inside the intervals)
    work, _, res = run
    for layer in HIDDEN + ["logits"]:
        s = res["memorization"]["per_layer"][layer]["summary"]["pwcca"]
        for g in ("generalizing", "memorizing"):
            lo, hi = s["within_ci"][g]
            assert lo <= s["within"][g] <= hi, (layer, g, s["within"][g], lo, hi)
        t = s["tests"]["generalizing|memorizing"]
        # 3 + 3 networks: 10 distinct labellings, so p >= about 1/10
        assert t["permutations"] == 999 and 0.09 < t["p"] <= 1
    for g, layers in res["width"]["widths"].items():
        for layer in HIDDEN:
            lo, hi = layers[layer]["pwcca_ci"]
            assert lo <= layers[layer]["pwcca"] <= hi
    import json
    import report
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(res, f)
    report.SUMMARY.clear()
    report.write(work, str(tmp_path))
    text = (tmp_path / "report.md").read_text()
    assert "within noise" in text and "[" in text
    assert {ok for _, _, ok, _ in report.SUMMARY} <= {True, False, None}
    verdict = {c: ok for _, c, ok, _ in report.SUMMARY}
    for m in ("PWCCA", "linear CKA"):
        assert verdict["%s: gen-gen < mem-mem in every layer" % m] is True


# The verdict rule (examples/findings/report.py): a claimed difference holds when the 95% interval of the
# DIFFERENCE (bootstrap over the networks, the same resampled networks on both sides where the same networks
# enter both) excludes 0 in the claimed direction, does not hold when it excludes 0 the other way, else within
# noise.

def _report():
    import report
    return report


@pytest.mark.parametrize("m", ["pwcca", "cka"])
def test_verdict_rule_on_the_run(run, m):
    work, _, res = run
    report = _report()
    layers = res["memorization"]["layers"]
    bm = report.experiment_means(work, "memorization", layers, m)
    for layer in layers:
        b = bm[layer]
        s = res["memorization"]["per_layer"][layer]["summary"][m]
        # row 0 is the run itself: the same means as simrep matrix's group summary
        for g in ("generalizing", "memorizing"):
            assert b[g][0] == pytest.approx(s["within"][g], abs=1e-9)
        assert b["generalizing|memorizing"][0] == pytest.approx(s["between"]["generalizing|memorizing"], abs=1e-9)
        v, (lo, hi), ok = report.difference(b["memorizing"] - b["generalizing"])
        assert ok is True and 0 < lo <= v <= hi, (layer, v, lo, hi)
        # the opposite claim, gen-gen farther apart than mem-mem: does not hold
        assert report.difference(b["generalizing"] - b["memorizing"])[2] is False
        # a difference of a quantity with itself: within noise
        assert report.difference(b["memorizing"] - b["memorizing"])[2] is None
    # paired across layers: the gap grows from relu1 to relu3 (asserted on the values above)
    gap = {l: bm[l]["memorizing"] - bm[l]["generalizing"] for l in HIDDEN}
    assert report.difference(gap["relu3"] - gap["relu1"])[2] is True
    assert report.difference(gap["relu1"] - gap["relu3"])[2] is False
    # width: distance falls from width 16 to 64 (slope against log2 width below 0); the claim "rises" does not hold
    for layer in HIDDEN:
        slope = report.width_slope(work, ["w16", "w64"], layer, m)
        w = res["width"]["widths"]
        assert slope[0] == pytest.approx((w["w64"][layer][m] - w["w16"][layer][m]) / 2, abs=1e-9)
        assert report.difference(-slope)[2] is True and report.difference(slope)[2] is False


def test_verdict_rule_paired_and_opposite_direction():
    import numpy as np
    report = _report()
    rng = np.random.default_rng(1)
    groups = ["a"] * 5 + ["b"] * 5
    R = report.resample(groups, seed=3, boot=500)
    assert (R[0] == np.arange(10)).all()
    assert set(R[1:, :5].ravel()) <= set(range(5)) and set(R[1:, 5:].ravel()) <= set(range(5, 10))
    # two "layers" whose within-group means move together network by network (a shared per-network offset):
    # unpaired intervals overlap widely, the paired difference is clearly positive
    off = rng.uniform(0, 0.5, 10)
    base = off[:, None] + off[None, :]
    D1, D2 = base.copy(), base + 0.02
    np.fill_diagonal(D1, 0)
    np.fill_diagonal(D2, 0)
    m1, m2 = report.group_means(D1, groups, R), report.group_means(D2, groups, R)
    v, (lo, hi), ok = report.difference(m2["a"] - m1["a"])
    assert ok is True and v == pytest.approx(0.02) and lo == pytest.approx(0.02)
    c1 = np.nanpercentile(m1["a"][1:], [2.5, 97.5])
    c2 = np.nanpercentile(m2["a"][1:], [2.5, 97.5])
    assert c2[0] < c1[1]           # the old rule (intervals must not overlap) called this within noise
    # between nearer than within: the claim "between farther" does not hold (interval and opposite p)
    D = np.full((10, 10), 0.5)
    D[:5, 5:] = D[5:, :5] = 0.2
    D += rng.uniform(0, 0.01, (10, 10))
    D = (D + D.T) / 2
    np.fill_diagonal(D, 0)
    g = report.group_means(D, groups, R)
    assert report.difference(g["between"] - g["within"])[2] is False
    p_greater, p_less = report.permutation_p(D, groups)
    assert p_greater > 0.9 and p_less < 0.05


def test_trained_and_reused_networks_are_counted(run, tmp_path, capsys):
    # run.py says how many networks it trained and how many it took from WORK/nets (train.py skips a network
    # whose json holds the same spec); the report's method section says it too
    import importlib
    import shutil
    work, infos, _ = run
    n = len(infos)
    assert train.count(infos) == (n, 0)            # the fixture trained into a fresh directory
    findings_run = importlib.import_module("run")
    copy = str(tmp_path / "work")
    shutil.copytree(os.path.join(work, "nets"), os.path.join(copy, "nets"))
    one = sorted(infos)[0]
    os.remove(os.path.join(copy, "nets", one + ".json"))   # this one is trained again, the others reused
    capsys.readouterr()
    assert findings_run.train_stage("ci", copy, 2) == (1, n - 1)
    assert "findings: 1 networks trained, %d reused from %s/nets" % (n - 1, copy) in capsys.readouterr().err
    assert findings_run.train_stage("ci", copy, 2) == (0, n)
    report = _report()
    assert report.networks_line({"trained": n, "reused": 0}) == "Networks: all %d trained in this run." % n
    line = report.networks_line({"trained": 0, "reused": n})
    assert line.startswith("Networks: 0 of %d trained in this run, %d reused from the work directory's cache" % (n, n))


def test_figures_error_bars_are_the_verdicts_intervals(run, tmp_path, monkeypatch):
    # every error bar the report draws is an interval its text states: the gap figure's bars are the
    # verdict's interval of mem-mem minus gen-gen, the means' bars and the width bars simrep matrix
    # --bootstrap's intervals, the width legend the slope interval the verdict rests on
    import json
    import xml.etree.ElementTree as ET
    work, infos, res = run
    report = _report()
    drawn, real = {}, report.svgplot.line_plot

    def spy(path, series, *a, **k):
        drawn[os.path.basename(path)] = series
        return real(path, series, *a, **k)

    monkeypatch.setattr(report.svgplot, "line_plot", spy)
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(dict(res, networks={"trained": len(infos), "reused": 0}), f)
    report.write(work, str(tmp_path))
    assert "Networks: all %d trained in this run." % len(infos) in (tmp_path / "report.md").read_text()
    layers = res["memorization"]["layers"]
    for m, s in zip(report.M, drawn["memorization_gap.svg"]):
        bm = report.experiment_means(work, "memorization", layers, m)
        for i, l in enumerate(layers):
            v, (lo, hi), _ = report.difference(bm[l]["memorizing"] - bm[l]["generalizing"])
            assert (s["y"][i], s["lo"][i], s["hi"][i]) == pytest.approx((v, lo, hi), abs=1e-12)
            assert s["lo"][i] > 0                      # holds on this run: the bar is above the 0 line
        assert s["label"].endswith("(claim holds)")
        means = drawn["memorization_%s.svg" % m]
        for i, l in enumerate(layers):
            sm = res["memorization"]["per_layer"][l]["summary"][m]
            assert [means[0]["lo"][i], means[0]["hi"][i]] == sm["within_ci"]["generalizing"]
            assert [means[2]["lo"][i], means[2]["hi"][i]] == sm["between_ci"]["generalizing|memorizing"]
        widths = sorted(res["width"]["widths"], key=lambda g: int(g[1:]))
        for s, l in zip(drawn["width_%s.svg" % m], layers):
            assert [[a, b] for a, b in zip(s["lo"], s["hi"])] == [res["width"]["widths"][g][l][m + "_ci"] for g in widths]
            v, c, ok = report.difference(-report.width_slope(work, widths, l, m))
            assert s["label"] == "%s %+.3f [%+.3f, %+.3f] %s" % (l, -v, -c[1], -c[0],
                                                               {True: "falls", False: "rises", None: "within noise"}[ok])
    # the SVG itself: a bar (and its two caps) per point, and the dotted 0 line
    svg = ET.parse(str(tmp_path / "memorization_gap.svg")).getroot()
    lines = [e for e in svg.iter() if e.tag.split("}")[-1] == "line"]
    assert len([e for e in lines if e.get("stroke-dasharray") == "2,3"]) == 2   # in the plot and in the legend
    bars = [e for e in lines if e.get("x1") == e.get("x2") and e.get("stroke") in report.svgplot.COLOURS]
    assert len(bars) == 2 * len(layers)


def test_svgplot_interval_bars_notes_and_reference_lines(tmp_path):
    # svgplot draws a bar from an interval's low to its high end (with caps), a note above the bar's top and
    # a dotted reference line that also has a legend entry
    import xml.etree.ElementTree as ET
    import svgplot
    path = str(tmp_path / "f.svg")
    svgplot.line_plot(path, [{"label": "a", "x": [0, 1], "y": [0.1, -0.05], "lo": [0.05, -0.1], "hi": [0.2, 0.02],
                              "notes": ["p 0.001", "p 0.5"]}], "t", "x", "y", xcats=["u", "v"], hlines=[(0.0, "zero")])
    root = ET.parse(path).getroot()
    texts = {e.text: float(e.get("y")) for e in root.iter() if e.tag.split("}")[-1] == "text" and e.get("y")}
    lines = [e for e in root.iter() if e.tag.split("}")[-1] == "line"]
    bars = [e for e in lines if e.get("x1") == e.get("x2") and e.get("stroke") == svgplot.COLOURS[0]]
    assert len(bars) == 2
    tops = sorted(min(float(b.get("y1")), float(b.get("y2"))) for b in bars)
    assert texts["p 0.001"] == pytest.approx(tops[0] - 5, abs=0.11)   # above the higher bar (SVG y grows down)
    assert "zero" in texts and len([e for e in lines if e.get("stroke-dasharray") == "2,3"]) == 2
    caps = [e for e in lines if e.get("y1") == e.get("y2") and e.get("stroke") == svgplot.COLOURS[0]
            and float(e.get("x2")) - float(e.get("x1")) == pytest.approx(6)]
    assert len(caps) == 4
