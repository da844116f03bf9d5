"""simrep compare --bootstrap/--permutations (issue 11) through the CLI: the
keys and columns added, the sampling unit each layout implies, the same
numbers for any --threads, and every bad value as a usage error.  Small
data: these run under ASan too.  The statistical calibration is in
tests/python_pkg/test_stats_calibration.py."""

import json
import re
import subprocess

import numpy as np
import pytest

from conftest import assert_error, run, simrep_bin, write_npy

MEASURES = "cca,cca_r2,svcca,pwcca,cka,cka_debiased,procrustes,procrustes_angular"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("stats")
    r = np.random.default_rng(5)
    n = 600
    z = r.normal(size=(n, 3))
    x = np.c_[z, r.normal(size=(n, 5))].astype(np.float32)
    y = np.c_[z @ r.normal(size=(3, 3)), r.normal(size=(n, 4))].astype(np.float32)
    return write_npy(d / "x.npy", x), write_npy(d / "y.npy", y), x, y


def test_json_keys(pair):
    px, py, _, _ = pair
    j = run("compare", px, py, "-m", MEASURES + ",cka_rbf", "--bootstrap", 30, "--permutations", 20,
            "--format", "json").json()
    for mid, e in j["measures"].items():
        if mid == "cka_rbf":  # rows measure (test_stats_rows.py): every unit resampled, all of them re-paired
            assert e["bootstrap"] == 30 and e["ci"][0] <= e["similarity"] <= e["ci"][1]
            assert e["null"]["permutations"] == 20 and e["null"]["p"] == pytest.approx(1 / 21)
            continue
        lo, hi = e["ci"]
        assert lo <= hi and e["se"] > 0 and e["bootstrap"] == 30
        assert set(e["null"]) == {"mean", "sd", "p", "permutations"} and e["null"]["permutations"] == 20
        # strong shared signal: no null reaches the observed value
        assert e["null"]["p"] == pytest.approx(1 / 21)
        assert e["adjusted"] == pytest.approx((e["similarity"] - e["null"]["mean"]) / (1 - e["null"]["mean"]))
        assert e["distance_ci"][0] <= e["distance_ci"][1]
    m = j["measures"]
    assert m["cca_r2"]["chance"] == pytest.approx(8 / 599)  # max(p, q) / (n - 1)
    assert m["cka_debiased"]["chance"] == 0 and "chance" in m["cka"] and "chance" not in m["cca"]
    s = j["statistics"]
    assert s["units"] == 600 and s["unit_rows"] == 1 and s["seed"] == 0 and s["level"] == 0.95
    assert s["buckets"] == 128 and not s["exact_bootstrap"] and s["segments"] == 8 and s["segment_units"] == 75
    r = run("compare", px, py, "-m", "cka,cka_rbf", "--bootstrap", 5)
    assert "gets no" not in r.stderr, r.stderr
    assert "cka_rbf: every unit resampled" in r.stdout and "at the observed data's bandwidth" in r.stdout


def test_chance_without_resampling(pair):
    px, py, _, _ = pair
    j = run("compare", px, py, "-m", "cca_r2,cka", "--format", "json").json()
    assert j["measures"]["cca_r2"]["chance"] == pytest.approx(8 / 599)
    assert "ci" not in j["measures"]["cka"] and "statistics" not in j
    t = run("compare", px, py, "-m", "cca_r2").stdout
    assert "chance 0.013356" in t


def test_table_and_csv(pair):
    px, py, _, _ = pair
    t = run("compare", px, py, "-m", "cca,cka", "--bootstrap", 20, "--permutations", 10, "--ci", 0.9)
    assert t.code == 0 and "uncertainty: units of 1 row (600 units)" in t.stdout and "90% interval" in t.stdout
    c = run("compare", px, py, "-m", "cca,cka", "--bootstrap", 20, "--format", "csv").stdout.splitlines()
    assert c[0] == "measure,similarity,distance,ci_low,ci_high,se,null_mean,null_sd,p,adjusted,chance"
    cells = c[2].split(",")
    assert cells[0] == "cka" and len(cells) == 11 and cells[6] == "" and float(cells[10]) > 0


def test_same_seed_same_numbers_any_threads(pair):
    px, py, _, _ = pair
    args = ["compare", px, py, "-m", MEASURES, "--bootstrap", 25, "--permutations", 15, "--seed", 99,
            "--format", "json"]
    a = run(*args, "--threads", 1)
    b = run(*args, "--threads", 2, env={"OPENBLAS_NUM_THREADS": "2"})
    assert a.code == 0 and a.stdout == b.stdout
    c = run(*args[:-4], "--seed", 100, "--format", "json").json()
    assert c["measures"]["cca"]["ci"] != a.json()["measures"]["cca"]["ci"]


def test_basic_interval(pair):
    px, py, _, _ = pair
    p = run("compare", px, py, "-m", "cka", "--bootstrap", 30, "--format", "json").json()["measures"]["cka"]
    b = run("compare", px, py, "-m", "cka", "--bootstrap", 30, "--ci-method", "basic",
            "--format", "json").json()["measures"]["cka"]
    s = p["similarity"]
    assert b["ci"][0] == pytest.approx(2 * s - p["ci"][1]) and b["ci"][1] == pytest.approx(2 * s - p["ci"][0])


def test_units_follow_the_layout(tmp_path):
    r = np.random.default_rng(2)
    xm = r.normal(size=(40, 3, 3, 4)).astype(np.float32)
    ym = (xm @ r.normal(size=(4, 5))).astype(np.float32)
    px, py = write_npy(tmp_path / "xm.npy", xm), write_npy(tmp_path / "ym.npy", ym)
    j = run("compare", px, py, "--conv", "nhwc", "-m", "cka", "--bootstrap", 10, "--permutations", 5,
            "--format", "json").json()
    assert j["statistics"]["units"] == 40 and j["statistics"]["unit_rows"] == 9
    j = run("compare", px, py, "--conv", "nhwc", "-m", "cka", "--bootstrap", 10, "--unit-rows", 18,
            "--format", "json").json()
    assert j["statistics"]["units"] == 20 and j["statistics"]["unit_rows"] == 18
    assert_error(run("compare", px, py, "--conv", "nhwc", "--bootstrap", 10, "--unit-rows", 4), 2,
                 contains=["--unit-rows 4", "9 rows"])
    xs = r.normal(size=(30, 6, 4)).astype(np.float32)
    ps = write_npy(tmp_path / "s.npy", xs)
    j = run("compare", ps, ps, "--sequence", "flatten", "-m", "cka", "--bootstrap", 5, "--format", "json").json()
    assert j["statistics"]["units"] == 30 and j["statistics"]["unit_rows"] == 6
    # per-step: a sequence is a unit (one row of each step's matrix)
    r = run("compare", ps, ps, "--sequence", "per-step", "--bootstrap", 5, "--format", "json")
    assert r.code == 0, r.stderr
    st = json.loads(r.stdout)["statistics"]
    assert st["units"] == 30 and st["unit_rows"] == 1


def test_per_step_csv_equals_json(tmp_path):
    """--sequence per-step --format csv: a last column "step", empty on each
    measure's row (the curve's mean, its statistics as before), then a row
    per step with that step's value, interval, null and chance: the same
    numbers as JSON's per_step, per_step_ci, per_step_se, per_step_null,
    per_step_adjusted and per_step_chance.  Without statistics the rows
    carry the per-step values only; a full stdout is an error."""
    import csv
    import io
    r = np.random.default_rng(7)
    x = r.normal(size=(50, 3, 4)).astype(np.float32)
    px = write_npy(tmp_path / "x.npy", x)
    py = write_npy(tmp_path / "y.npy", (x[..., :3] + r.normal(size=(50, 3, 3))).astype(np.float32))
    args = ("compare", px, py, "--sequence", "per-step", "-m", "cca,cka", "--bootstrap", 15, "--permutations", 9)
    j = run(*args, "--format", "json").json()["measures"]
    c = run(*args, "--format", "csv")
    assert c.code == 0, c.stderr
    rows = list(csv.DictReader(io.StringIO(c.stdout)))
    assert list(rows[0]) == ["measure", "similarity", "distance", "ci_low", "ci_high", "se", "null_mean", "null_sd",
                             "p", "adjusted", "chance", "step"]
    assert [(w["measure"], w["step"]) for w in rows] == [(m, s) for m in ("cca", "cka") for s in ("", "0", "1", "2")]
    for w in rows:
        e = j[w["measure"]]
        if w["step"] == "":
            want = [e["similarity"], e["distance"], *e["ci"], e["se"], e["null"]["mean"], e["null"]["sd"],
                    e["null"]["p"], e["adjusted"], e.get("chance")]
        else:
            t = int(w["step"])
            z = e["per_step_null"][t]
            want = [e["per_step"][t], e["per_step_distance"][t], *e["per_step_ci"][t], e["per_step_se"][t],
                    z["mean"], z["sd"], z["p"], e["per_step_adjusted"][t],
                    e["per_step_chance"][t] if "per_step_chance" in e else None]
        got = [float(w[k]) if w[k] != "" else None for k in list(w)[1:-1]]
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), w
    assert rows[4]["chance"] != "" and rows[0]["chance"] == ""   # cka has a closed-form chance level, cca not
    plain = list(csv.DictReader(io.StringIO(run(*args[:7], "--format", "csv").stdout)))
    assert list(plain[0]) == ["measure", "similarity", "distance", "step"] and len(plain) == 8
    assert [float(w["similarity"]) for w in plain[1:4]] == pytest.approx(j["cca"]["per_step"], rel=1e-12)
    with open("/dev/full", "w") as full:
        f = subprocess.run([str(simrep_bin())] + [str(a) for a in args] + ["--format", "csv"], stdout=full,
                           stderr=subprocess.PIPE, text=True, timeout=120)
    assert f.returncode == 1 and "simrep: error: standard output: " in f.stderr, f.stderr


@pytest.mark.parametrize("args, words", [
    (["--bootstrap", "-3"], ["--bootstrap"]),
    (["--bootstrap", "1e9"], ["--bootstrap"]),
    (["--permutations", "2.5"], ["--permutations"]),
    (["--ci", "1"], ["--ci"]),
    (["--ci", "nan"], ["--ci"]),
    (["--ci-method", "bca"], ["--ci-method"]),
    (["--seed", "-1"], ["--seed"]),
    (["--unit-rows", "0"], ["--unit-rows"]),
    (["--segments", "1"], ["--segments"]),
    (["--threads", "0"], ["--threads"]),
    (["--max-memory", "lots"], ["--max-memory"]),
    (["--bootstrap", "10", "--max-memory", "1K"], ["--max-memory", "MiB"]),
    (["--permutations", "10", "--segments", "64", "--unit-rows", "50"], ["units"]),
    (["--bootstrap", "1"], ["--bootstrap", "from 2", "standard error"]),
])
def test_bad_values(pair, args, words):
    px, py, _, _ = pair
    assert_error(run("compare", px, py, *args), 2, contains=words)


# (options, words of each warning expected on stderr; [] = none): options
# that change nothing, and too few resamples or permutations to mean much.
OPTION_WARNINGS = [
    (["--bootstrap", "40"], [["40 resamples are too few for a 95% interval", "at least 41"]]),
    (["--bootstrap", "41"], []),
    (["--bootstrap", "20", "--ci", "0.9"], [["20 resamples", "90% interval", "at least 21"]]),
    (["--bootstrap", "21", "--ci", "0.9"], []),
    (["--permutations", "18"], [["smallest p-value is 1/19 = 0.053", "at least 19"]]),
    (["--permutations", "19"], []),
    (["--ci", "0.9"], [["--ci, --ci-method and --buckets change nothing without --bootstrap"]]),
    (["--permutations", "20", "--ci-method", "basic"], [["change nothing without --bootstrap"]]),
    (["--buckets", "16"], [["change nothing without --bootstrap"]]),
    (["--seed", "3"], [["--seed and --unit-rows change nothing"]]),
    (["--unit-rows", "5"], [["--seed and --unit-rows change nothing"]]),
    (["--bootstrap", "50", "--segments", "4"], [["--segments changes nothing without --permutations"]]),
    (["--bootstrap", "50", "--seed", "3", "--unit-rows", "5", "--ci", "0.9"], []),
]


@pytest.mark.parametrize("args, says", OPTION_WARNINGS, ids=[" ".join(c[0]) for c in OPTION_WARNINGS])
def test_option_warnings(pair, args, says):
    px, py, _, _ = pair
    r = run("compare", px, py, "-m", "cka", "--ci-method", "basic", *args) if "--ci-method" not in args and \
        "--bootstrap" in args else run("compare", px, py, "-m", "cka", *args)
    assert r.code == 0, r
    warned = [l for l in r.stderr.splitlines() if l.startswith("simrep: warning: ")]
    assert len(warned) == len(says), r.stderr
    for line, words in zip(warned, says):
        for w in words:
            assert w in line, (w, line)


def test_deflated_npz_and_permutations(pair, tmp_path):
    px, py, x, _ = pair
    np.savez_compressed(tmp_path / "x.npz", a=x)
    # small: the segments' repeated inflation is a few passes; same numbers as the .npy
    args = ["-m", "cka", "--permutations", 10, "--bootstrap", 5, "--format", "json"]
    z = run("compare", str(tmp_path / "x.npz") + ":a", py, *args).json()["measures"]["cka"]
    n = run("compare", px, py, *args).json()["measures"]["cka"]
    assert z["null"] == n["null"] and z["ci"] == n["ci"]
    # large: refused with the size
    r = np.random.default_rng(0)
    big = r.normal(size=(70000, 130)).astype(np.float32)
    np.savez_compressed(tmp_path / "big.npz", a=big)
    pb = write_npy(tmp_path / "big.npy", big)
    rr = run("compare", str(tmp_path / "big.npz") + ":a", pb, "--permutations", 10)
    assert_error(rr, 2, names="big.npz", contains=["deflated", "16 Mi"])


def test_nan_named(pair, tmp_path):
    _, py, x, _ = pair
    x = x.copy()
    x[17, 2] = np.nan
    r = run("compare", write_npy(tmp_path / "nan.npy", x), py, "--bootstrap", 5, "--permutations", 5)
    assert_error(r, 1, names="nan.npy", contains=["NaN", "row 17"])


@pytest.fixture(scope="module")
def groups_manifest(tmp_path_factory):
    """4 + 4 inputs: one group shares a latent with a common signal, the
    other is noise about another; distances within < between."""
    d = tmp_path_factory.mktemp("mstats")
    r = np.random.default_rng(8)
    n = 300
    za, zb = r.normal(size=(n, 4)), r.normal(size=(n, 4))
    lines = ["name,path,group"]
    for g, z in (("a", za), ("b", zb)):
        for k in range(4):
            a = np.c_[z @ r.normal(size=(4, 4)), 0.3 * r.normal(size=(n, 3))].astype(np.float32)
            write_npy(d / ("%s%d.npy" % (g, k)), a)
            lines.append("%s%d,%s%d.npy,%s" % (g, k, g, k, g))
    (d / "m.csv").write_text("\n".join(lines) + "\n")
    return d / "m.csv"


def test_matrix_group_tests(groups_manifest):
    args = ["matrix", "--manifest", groups_manifest, "-m", "cca,cka", "--permutations", 200, "--bootstrap", 100,
            "--seed", 3, "--format", "json"]
    a = run(*args, "--threads", 1)
    b = run(*args, "--threads", 2)
    assert a.code == 0 and a.stdout == b.stdout
    for m, gs in a.json()["group_summary"].items():
        t = gs["tests"]["a|b"]
        assert t["statistic"] == pytest.approx(t["between"] - t["within"])
        # 35 distinct labellings of 4 + 4 inputs into two groups: the observed
        # one is the most separated, so p is about its 1 in 35
        assert t["p"] < 0.06 and t["permutations"] == 200
        assert gs["tests"]["all"]["statistic"] == pytest.approx(t["statistic"])
        lo, hi = gs["within_ci"]["a"]
        assert lo <= gs["within"]["a"] + 1e-12 and hi >= lo
        assert gs["between_ci"]["a|b"][0] <= gs["between"]["a|b"] <= gs["between_ci"]["a|b"][1]
        assert gs["statistics"] == {"permutations": 200, "bootstrap": 100, "seed": 3, "level": 0.95}
    t = run("matrix", "--manifest", groups_manifest, "-m", "cka", "--permutations", 50).stdout
    assert "relabellings of the inputs" in t and "p = " in t
    plain = run("matrix", "--manifest", groups_manifest, "-m", "cka", "--format", "json").json()
    assert "tests" not in plain["group_summary"]["cka"]
    assert_error(run("matrix", "--manifest", groups_manifest, "--permutations", "-1"), 2, contains=["--permutations"])
    assert_error(run("matrix", "--manifest", groups_manifest, "--unit-rows", "2"), 2, contains=["--unit-rows"])


def test_matrix_group_bars_show_intervals(groups_manifest, tmp_path):
    out = tmp_path / "fig"
    r = run("matrix", "--manifest", groups_manifest, "-m", "cka", "--permutations", 50, "--bootstrap", 50, "-o", out,
            "--no-png")
    assert r.code == 0, r
    svg = (out / "cka_groups.svg").read_text()
    # The p-value of each between bar is a note above it ("p = 0.02").
    assert "95% interval of the mean over the inputs (50 resamples)" in svg and 'class="note"' in svg
    assert re.search(r'class="note"[^>]*>p [=<] 0\.\d+<', svg)


def test_matrix_group_summary_csv_carries_the_statistics(groups_manifest, tmp_path):
    """matrix -o: group_summary.csv has the JSON's intervals and tests as
    columns (empty where a row has none), and an "all" row; without
    statistics it keeps its seven columns."""
    import csv
    args = ["matrix", "--manifest", groups_manifest, "-m", "cca,cka", "--permutations", 60, "--bootstrap", 40,
            "--seed", 5, "--no-png", "--format", "json"]
    j = run(*args, "-o", tmp_path / "s").json()
    with open(tmp_path / "s" / "group_summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["measure", "kind", "group_x", "group_y", "mean_distance", "std", "pairs", "ci_low",
                             "ci_high", "statistic", "p", "permutations", "null_mean", "null_sd"]
    assert [(x["measure"], x["kind"]) for x in rows] == [(m, k) for m in ("cca", "cka")
                                                         for k in ("within", "between", "within", "all")]
    for x in rows:
        gs = j["group_summary"][x["measure"]]
        if x["kind"] == "within":
            assert [float(x["ci_low"]), float(x["ci_high"])] == gs["within_ci"][x["group_x"]]
            assert x["statistic"] == x["p"] == x["permutations"] == x["null_mean"] == x["null_sd"] == ""
            continue
        key = "all" if x["kind"] == "all" else x["group_x"] + "|" + x["group_y"]
        t = gs["tests"][key]
        for col, k in (("statistic", "statistic"), ("p", "p"), ("null_mean", "null_mean"), ("null_sd", "null_sd")):
            assert float(x[col]) == t[k], (key, col)
        assert int(x["permutations"]) == t["permutations"] == 60
        assert float(x["mean_distance"]) == t["between"]
        if x["kind"] == "between":
            assert [float(x["ci_low"]), float(x["ci_high"])] == gs["between_ci"][key]
        else:
            assert x["ci_low"] == x["ci_high"] == x["std"] == x["pairs"] == ""
    # bootstrap alone: intervals, no tests and no "all" row
    run(*args[:5], "--bootstrap", 20, "--no-png", "-o", tmp_path / "b")
    with open(tmp_path / "b" / "group_summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert {x["kind"] for x in rows} == {"within", "between"} and all(x["ci_low"] and not x["p"] for x in rows)
    run(*args[:5], "--no-png", "-o", tmp_path / "p")
    with open(tmp_path / "p" / "group_summary.csv") as f:
        assert f.readline().strip() == "measure,kind,group_x,group_y,mean_distance,std,pairs"


def test_matrix_group_table_fits_long_group_names(tmp_path):
    """The group tables' labels are as wide as the longest ("a vs b"), so
    the numbers stand in one column; names past 60 characters are elided
    in the middle."""
    r = np.random.default_rng(3)
    names = ["generalizing_networks", "memorizing", "x" * 30 + "_" + "y" * 40]
    lines = ["name,path,group"]
    for g, name in enumerate(names):
        z = r.normal(size=(60, 3))
        for k in range(3):
            write_npy(tmp_path / ("%d%d.npy" % (g, k)), np.c_[z, r.normal(size=(60, 2))])
            lines.append("%d%d,%d%d.npy,%s" % (g, k, g, k, name))
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    out = run("matrix", "--manifest", tmp_path / "m.csv", "-m", "cka", "--permutations", 20, "--bootstrap", 10)
    assert out.code == 0, out
    text = out.stdout[out.stdout.index("distance by group"):]
    blocks = {"mean": [], "interval": [], "test": []}
    for line in text.splitlines():
        for kind, pat in (("mean", r"^  (within |between)(.*?) (\d\.\d{4})  \d"),
                          ("interval", r"^    (within |between)(.*?) (\[)"), ("test", r"^    (between)(.*?) ([+-]\d)")):
            m = re.match(pat, line)
            if m:
                blocks[kind].append((m.group(2), m.start(3)))
    assert len(blocks["mean"]) == 6 and len(blocks["interval"]) == 6 and len(blocks["test"]) == 4
    for kind, rows in blocks.items():
        assert len({col for _, col in rows}) == 1, (kind, rows)  # one column
    labels = [lab.strip() for lab, _ in blocks["mean"]]
    assert "generalizing_networks vs memorizing" in labels and "generalizing_networks" in labels
    assert all(len(lab) <= 60 for lab in labels) and any("\u2026" in lab for lab in labels)


def test_full_disk_and_closed_stdout(pair):
    """The statistics' output, like every output, must reach stdout: a full
    disk or a closed stdout is an error (exit 1), not a silent success."""
    import subprocess
    from conftest import simrep_bin
    px, py, _, _ = pair
    args = [str(simrep_bin()), "compare", str(px), str(py), "-m", "cka", "--bootstrap", "5", "--permutations", "5"]
    with open("/dev/full", "w") as full:
        r = subprocess.run(args + ["--format", "json"], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 1 and "standard output: " in r.stderr, r.stderr
    r = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=60,
                       pass_fds=(), close_fds=True)
    assert r.returncode == 0
    r = subprocess.run("exec >&- ; " + " ".join(args), shell=True, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 1 and "standard output: " in r.stderr, r.stderr


def test_feature_alive_in_one_row(tmp_path):
    """A ReLU unit that fires on one input only (the bundled gen1 relu3 has
    one): a resample that draws no copy of that row has it constant, and its
    variance, C_jj - n mean^2 about the pass's origin, came out -1.7e-21;
    the moments' check refused it ("moments state is corrupt: the scatter
    of feature 159 is negative", exit 1).  Now 0: every seed gives finite
    intervals, and the observed values are those without statistics."""
    r = np.random.default_rng(5)
    x = r.normal(size=(600, 6))
    y = x[:, :5] @ r.normal(size=(5, 5)) + 0.5 * r.normal(size=(600, 5))
    y = np.c_[y, np.zeros(600)]
    y[3, 5] = 0.118408203125  # in the first block, whose mean is the origin
    px, py = write_npy(tmp_path / "x.npy", x), write_npy(tmp_path / "y.npy", y)
    plain = run("compare", px, py, "-m", "cca,pwcca,cka", "--format", "json").json()["measures"]
    for seed in range(6):
        rr = run("compare", px, py, "-m", "cca,pwcca,cka", "--bootstrap", 60, "--seed", seed, "--format", "json")
        assert rr.code == 0, rr.stderr
        got = json.loads(rr.stdout)["measures"]
        for m in ("cca", "pwcca", "cka"):
            assert got[m]["similarity"] == pytest.approx(plain[m]["similarity"], abs=1e-12)
            lo, hi = got[m]["ci"]
            assert np.isfinite([lo, hi, got[m]["se"]]).all() and 0 <= lo <= hi <= 1 and got[m]["bootstrap"] == 60


# (options on 12 rows, words of the usage error; None: runs): too few units
# for a bootstrap (1: every resample is the data) or for the rows measures'
# permutations (U units have U! - 1 re-pairings: below 4 no p < 0.05).
FEW_UNITS = [
    (["-m", "cka", "--bootstrap", "50", "--unit-rows", "12"], ["bootstrap", "1 unit of 12 rows", "at least 2"]),
    (["-m", "rsa", "--bootstrap", "50", "--unit-rows", "12"], ["bootstrap", "1 unit of 12 rows", "at least 2"]),
    (["-m", "rsa", "--bootstrap", "50", "--unit-rows", "6"], None),
    (["-m", "rsa", "--permutations", "50", "--unit-rows", "12"], ["1 unit of 12 rows", "0 re-pairings"]),
    (["-m", "rsa", "--permutations", "50", "--unit-rows", "7"], ["1 unit of 7 rows", "0 re-pairings"]),
    (["-m", "mutual_knn", "--knn", "2", "--permutations", "50", "--unit-rows", "6"],
     ["2 units of 6 rows", "1 re-pairing,", "below 0.5"]),
    (["-m", "rsa", "--permutations", "50", "--unit-rows", "4"], ["3 units of 4 rows", "5 re-pairings", "0.167"]),
    (["-m", "rsa", "--permutations", "50", "--unit-rows", "3"], None),
]


@pytest.mark.parametrize("args, says", FEW_UNITS, ids=[" ".join(c[0]) for c in FEW_UNITS])
def test_too_few_units(tmp_path, args, says):
    r = np.random.default_rng(12)
    px = write_npy(tmp_path / "x.npy", r.normal(size=(12, 4)))
    py = write_npy(tmp_path / "y.npy", r.normal(size=(12, 4)))
    rr = run("compare", px, py, *args, "--format", "json")
    if says is None:
        assert rr.code == 0, rr.stderr
        return
    assert_error(rr, 2, contains=says + ["fewer rows per unit"])
