"""simrep matrix: many inputs from a manifest, every pair once.

Checked against independent computations written here: every entry equals
`simrep compare` on the same pair (1e-12: both read the same float64 data
and differ only in how the joint scatter is blocked, a few ulps of values
of order 1), group summaries against numpy means and sample standard
deviations, the dendrogram leaf order against a plain-Python UPGMA that
follows the tie rule stated in cli/matrix.h, MDS against numpy.linalg.eigh
of the double-centred squared distances, and the figures parsed with
xml.etree.  Data are generated in tmp_path; the whole file runs in a few
seconds.
"""

import csv
import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from conftest import SANITIZED, assert_error, run, write_npy

TOL = 1e-12
N = 240
MEASURES = "cca,cca_r2,svcca,pwcca,cka,cka_debiased,procrustes,procrustes_angular"


def make_nets(tmp_path, n=N, groups=("generalize", "memorize"), per_group=3, seed=0, dead=None):
    """Activations of 'networks': a shared signal seen through random maps,
    with more noise in the second group.  Returns the manifest path and the
    arrays by name."""
    rng = np.random.default_rng(seed)
    signal = rng.standard_normal((n, 6))
    lines = ["name,path,group,seed"]
    arrays = {}
    for gi, g in enumerate(groups):
        for s in range(per_group):
            p = 5 + (gi * per_group + s) % 4
            a = signal @ rng.standard_normal((6, p)) + (0.4 + 1.5 * gi) * rng.standard_normal((n, p)) + 3.0
            name = "%s-%d" % (g, s)
            if dead == name:
                a[:, 1] = 7.0
            write_npy(tmp_path / (name + ".npy"), a.astype(np.float32) if s == 1 else a)
            arrays[name] = a.astype(np.float32).astype(np.float64) if s == 1 else a
            lines.append("%s,%s.npy,%s,%d" % (name, name, g, s))
    man = tmp_path / "nets.csv"
    man.write_text("\n".join(lines) + "\n")
    return man, arrays


def matrix(man, *opts, measures=MEASURES):
    return run("matrix", "--manifest", man, "-m", measures, "--format", "json", *opts).json()


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nets")
    man, arrays = make_nets(tmp)
    out = tmp / "out"
    res = run("matrix", "--manifest", man, "-m", MEASURES + ",cka_rbf", "--format", "json", "-o", out,
              "--threads", "2")
    return man, arrays, res.json(), out


# ------------------------------------------------------------------ shape

def test_json_shape(nets):
    man, arrays, d, _ = nets
    names = list(arrays)
    K = len(names)
    assert d["names"] == names
    assert d["groups"] == [n.split("-")[0] for n in names]
    assert d["n"] == N
    assert set(d["measures"]) == set(MEASURES.split(",")) | {"cka_rbf"}
    for mid, m in d["measures"].items():
        assert set(m) == {"distance", "similarity"}
        for key in ("distance", "similarity"):
            a = np.array(m[key])
            assert a.shape == (K, K)
    gs = d["group_summary"]["cka"]
    assert set(gs["within"]) == {"generalize", "memorize"}
    assert set(gs["between"]) == {"generalize|memorize"}
    assert gs["within_pairs"] == {"generalize": 3, "memorize": 3}
    assert gs["between_pairs"] == {"generalize|memorize": 9}
    # Every manifest column is carried through; CCA-family "kept" per input.
    for i, inp in enumerate(d["inputs"]):
        assert inp["name"] == names[i]
        assert inp["fields"]["seed"] == str(i % 3)
        assert inp["features"] == arrays[names[i]].shape[1]
        assert inp["kept"] == inp["features"]
    assert d["passes"] == 1
    assert d["warnings"] == []


def test_symmetric_with_diagonal(nets):
    _, _, d, _ = nets
    for mid, m in d["measures"].items():
        s, dist = np.array(m["similarity"]), np.array(m["distance"])
        assert np.array_equal(s, s.T), mid
        assert np.array_equal(dist, dist.T), mid
        assert np.all(np.diag(s) == 1.0) and np.all(np.diag(dist) == 0.0), mid


def test_values_equal_compare_pair_by_pair(nets):
    man, arrays, d, _ = nets
    names = list(arrays)
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            c = run("compare", man.parent / (names[i] + ".npy"), man.parent / (names[j] + ".npy"),
                    "-m", MEASURES + ",cka_rbf", "--format", "json").json()
            for mid, r in c["measures"].items():
                for key in ("similarity", "distance"):
                    got = d["measures"][mid][key][i][j]
                    assert abs(got - r[key]) <= TOL, (names[i], names[j], mid, key, got, r[key])
            assert d["inputs"][i]["kept"] == c["x"]["kept"]
            assert d["inputs"][j]["kept"] == c["y"]["kept"]


def test_group_summary_against_numpy(nets):
    _, arrays, d, _ = nets
    groups = np.array(d["groups"])
    for mid, m in d["measures"].items():
        dist = np.array(m["distance"])
        iu = np.triu_indices(len(groups), 1)
        a, b, v = groups[iu[0]], groups[iu[1]], dist[iu]
        gs = d["group_summary"][mid]
        for g in ("generalize", "memorize"):
            sel = v[(a == g) & (b == g)]
            assert abs(gs["within"][g] - sel.mean()) <= 1e-12
            assert abs(gs["within_std"][g] - sel.std(ddof=1)) <= 1e-12
        sel = v[a != b]
        assert abs(gs["between"]["generalize|memorize"] - sel.mean()) <= 1e-12
        assert abs(gs["between_std"]["generalize|memorize"] - sel.std(ddof=1)) <= 1e-12


def upgma_reference(dist):
    """Average linkage the textbook way, with the tie rule of cli/matrix.h:
    clusters listed by their smallest member, the first closest pair in
    that order merged, the earlier cluster on the left."""
    K = len(dist)
    clusters = [(i, [i]) for i in range(K)]  # (id, members), sorted by min member
    merges = []
    nxt = K
    while len(clusters) > 1:
        best = None
        for x in range(len(clusters)):
            for y in range(x + 1, len(clusters)):
                ma, mb = clusters[x][1], clusters[y][1]
                # The mean over member pairs, equal to the size-weighted update.
                dxy = np.mean([dist[min(i, j)][max(i, j)] for i in ma for j in mb])
                if best is None or dxy < best[0] - 1e-12:
                    best = (dxy, x, y)
        dxy, x, y = best
        (ia, ma), (ib, mb) = clusters[x], clusters[y]
        merges.append((ia, ib, dxy, len(ma) + len(mb)))
        clusters[x] = (nxt, ma + mb)
        del clusters[y]
        nxt += 1
    children = {K + k: (m[0], m[1]) for k, m in enumerate(merges)}

    def leaves(node):
        if node < K:
            return [node]
        l, r = children[node]
        return leaves(l) + leaves(r)
    return leaves(2 * K - 2), merges


def test_clustering_order_against_reference(nets):
    _, _, d, _ = nets
    for mid, m in d["measures"].items():
        order, merges = upgma_reference(m["distance"])
        got = d["clustering"][mid]
        assert got["linkage"] == "average"
        assert got["order"] == order, mid
        for (a, b, h, s), (ga, gb, gh, gsz) in zip(merges, got["merges"]):
            assert (a, b, s) == (ga, gb, gsz)
            assert abs(h - gh) <= 1e-12


def test_clustering_reference_with_ties():
    """The reference and the C code agree on the tie rule (checked through
    the CLI in the other test); here the reference itself on a case with
    ties, so its rule is pinned down: equal distances merge the first pair."""
    d = [[0, 1, 1, 2], [1, 0, 1, 2], [1, 1, 0, 2], [2, 2, 2, 0]]
    order, merges = upgma_reference(d)
    assert merges[0][:2] == (0, 1)
    assert order == [0, 1, 2, 3]


def mds_reference(dist, dims=2):
    D = np.array(dist)
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0)
    n = len(D)
    J = np.eye(n) - np.ones((n, n)) / n
    B = -0.5 * J @ (D ** 2) @ J
    w, V = np.linalg.eigh(B)
    w, V = w[::-1][:dims], V[:, ::-1][:, :dims]
    X = V * np.sqrt(np.maximum(w, 0))
    for k in range(dims):  # the sign rule of simrep_mds
        if X[np.argmax(np.abs(X[:, k])), k] < 0:
            X[:, k] *= -1
    return X, w


def test_mds_against_numpy(nets):
    _, _, d, _ = nets
    for mid, m in d["measures"].items():
        X, w = mds_reference(m["distance"])
        got = d["mds"][mid]
        assert np.allclose(got["eigenvalues"], w, atol=1e-10, rtol=0), mid
        assert np.allclose(np.array(got["coords"]), X, atol=1e-8, rtol=0), mid


# ---------------------------------------------------------------- outputs

def svg_texts(path):
    root = ET.parse(path).getroot()  # raises on malformed XML
    assert root.tag.endswith("svg")
    return [el.text or "" for el in root.iter() if el.tag.endswith("text") or el.tag.endswith("title")]


def test_output_dir_csv_and_figures(nets):
    man, arrays, d, out = nets
    names = list(arrays)
    for mid in d["measures"]:
        with open(out / ("%s_similarity.csv" % mid)) as f:
            rows = list(csv.reader(f))
        assert rows[0] == ["name"] + names
        got = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
        assert np.array_equal(got, np.array(d["measures"][mid]["similarity"]))
        texts = svg_texts(out / ("%s_heatmap.svg" % mid))
        joined = "\n".join(texts)
        assert mid in texts[0] or mid in joined
        for n in names:
            assert n in texts, (mid, n)
        texts = svg_texts(out / ("%s_mds.svg" % mid))
        for n in names + ["generalize", "memorize"]:
            assert n in texts
        texts = svg_texts(out / ("%s_groups.svg" % mid))
        # Bar labels may be wrapped; each bar's <title> holds the whole label.
        assert any(t.startswith("within generalize (3):") for t in texts)
        assert any(t.startswith("generalize vs memorize (9):") for t in texts)
    with open(out / "group_summary.csv") as f:
        rows = list(csv.DictReader(f))
    r = [x for x in rows if x["measure"] == "cka" and x["kind"] == "between"][0]
    assert abs(float(r["mean_distance"]) - d["group_summary"]["cka"]["between"]["generalize|memorize"]) < 1e-15
    with open(out / "inputs.csv") as f:
        rows = list(csv.DictReader(f))
    assert [x["name"] for x in rows] == names and rows[0]["seed"] == "0"


def test_svg_escapes_names(tmp_path):
    rng = np.random.default_rng(5)
    a = rng.standard_normal((60, 4))
    names = ['a<b>&"c"', "d'e, f", "plain"]
    write_npy(tmp_path / "a.npy", a)
    write_npy(tmp_path / "b.npy", a + rng.standard_normal((60, 4)))
    write_npy(tmp_path / "c.npy", rng.standard_normal((60, 4)))
    man = tmp_path / "m.csv"
    man.write_text('name,path,group\n"a<b>&""c""",a.npy,g<1>\n"d\'e, f",b.npy,g<1>\nplain,c.npy,"x&y"\n')
    out = tmp_path / "o"
    d = run("matrix", "--manifest", man, "-m", "cka", "--format", "json", "-o", out).json()
    assert d["names"] == names
    for fig in ("cka_heatmap.svg", "cka_mds.svg"):
        texts = svg_texts(out / fig)
        assert any(names[0] in t for t in texts), fig
    assert any(t.startswith("within g<1> (1):") for t in svg_texts(out / "cka_groups.svg"))


def test_threads_give_identical_results(tmp_path):
    man, _ = make_nets(tmp_path, per_group=4, seed=3)
    one = run("matrix", "--manifest", man, "-m", MEASURES, "--format", "json", "--threads", "1")
    three = run("matrix", "--manifest", man, "-m", MEASURES, "--format", "json", "--threads", "3")
    assert one.code == 0 and one.stdout == three.stdout


def test_memory_budget_tiles_into_passes(tmp_path):
    man, _ = make_nets(tmp_path, per_group=4, seed=4)
    whole = matrix(man)
    # 8 inputs of 5-8 features: 52 in all, 21.6 KiB of joint state; 4 KiB
    # (beside the results, which --max-memory counts first: 8 x 8 x (8 (2
    # measures + 1) + 24) bytes) forces tiles of about 11 features, so
    # several passes.
    nm = len(MEASURES.split(","))
    tiled = matrix(man, "--max-memory", str(64 * (8 * (2 * nm + 1) + 24) + 4096))
    assert tiled["passes"] > 1
    for mid in whole["measures"]:
        for key in ("similarity", "distance"):
            a, b = np.array(whole["measures"][mid][key]), np.array(tiled["measures"][mid][key])
            assert np.max(np.abs(a - b)) <= TOL, mid
    assert [i["kept"] for i in whole["inputs"]] == [i["kept"] for i in tiled["inputs"]]
    r = run("matrix", "--manifest", man, "-m", "cka", "--max-memory", "500")
    assert_error(r, 1, names=man, contains=["--max-memory"])


def test_dead_feature_kept_and_warning(tmp_path):
    man, arrays = make_nets(tmp_path, dead="memorize-0")
    d = matrix(man, measures="cca,cka")
    k = d["names"].index("memorize-0")
    assert d["inputs"][k]["kept"] == arrays["memorize-0"].shape[1] - 1
    assert any("memorize-0" in w and "dead" in w for w in d["warnings"])


def test_csv_and_table_formats(nets):
    man, arrays, d, _ = nets
    r = run("matrix", "--manifest", man, "-m", "cka", "--format", "csv")
    assert r.code == 0
    rows = list(csv.DictReader(r.stdout.splitlines()))
    K = len(arrays)
    assert len(rows) == K * (K - 1) // 2
    names = list(arrays)
    for row in rows:
        i, j = names.index(row["x"]), names.index(row["y"])
        assert i < j
        assert float(row["similarity"]) == d["measures"]["cka"]["similarity"][i][j]
    r = run("matrix", "--manifest", man, "-m", "cka")
    assert r.code == 0 and "cka similarity" in r.stdout and "within" in r.stdout


# ------------------------------------------------- training and depth

def make_training(tmp_path, steps=(0, 100, 1000, 5000), layers=("conv1", "conv2", "fc"), n=200, seed=7):
    """Checkpoints converging to a final representation, lower layers first."""
    rng = np.random.default_rng(seed)
    final = {l: rng.standard_normal((n, 6)) for l in layers}
    lines = ["name,path,layer,step"]
    for s in steps:
        for li, l in enumerate(layers):
            w = (s / steps[-1]) ** (1.0 / (1 + 2 * (len(layers) - 1 - li)))
            a = w * final[l] + (1 - w) * rng.standard_normal((n, 6))
            name = "%s@%d" % (l, s)
            write_npy(tmp_path / ("%s_%d.npy" % (l, s)), a)
            lines.append("%s,%s_%d.npy,%s,%d" % (name, l, s, l, s))
    man = tmp_path / "train.csv"
    man.write_text("\n".join(lines) + "\n")
    return man


def test_training_dynamics(tmp_path):
    man = make_training(tmp_path)
    out = tmp_path / "out"
    d = run("matrix", "--manifest", man, "-m", "cca,cka", "--format", "json", "-o", out).json()
    names = d["names"]
    rows = d["training"]
    assert len(rows) == len(names)
    assert [r["layer"] for r in rows[:4]] == ["conv1"] * 4
    assert [r["step"] for r in rows[:4]] == [0, 100, 1000, 5000]
    for r in rows:
        assert r["final"] == "%s@5000" % r["layer"]
        i, j = names.index(r["name"]), names.index(r["final"])
        for mid in ("cca", "cka"):
            assert r["distance"][mid] == d["measures"][mid]["distance"][i][j]
        if r["step"] == 5000:
            assert r["distance"]["cka"] == 0.0
    # Against `simrep compare` for one checkpoint.
    c = run("compare", tmp_path / "fc_100.npy", tmp_path / "fc_5000.npy", "-m", "cka", "--format", "json").json()
    r = [x for x in rows if x["name"] == "fc@100"][0]
    assert abs(r["distance"]["cka"] - c["measures"]["cka"]["distance"]) <= TOL
    with open(out / "training.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(names) and "cka_distance" in table[0]
    texts = svg_texts(out / "cka_training.svg")
    for layer in ("conv1", "conv2", "fc"):
        assert layer in texts
    # --against final without a layer column: one series.
    man2 = tmp_path / "steps.csv"
    man2.write_text("name,path,step\n" + "".join("c%d,fc_%d.npy,%d\n" % (s, s, s) for s in (0, 100, 1000, 5000)))
    d2 = run("matrix", "--manifest", man2, "-m", "cka", "--format", "json", "--against", "final").json()
    assert [r["final"] for r in d2["training"]] == ["c5000"] * 4


def test_depth_layer_by_layer(tmp_path):
    rng = np.random.default_rng(9)
    lines = ["name,path,group,layer"]
    for net in ("netA", "netB"):
        for l in ("l1", "l2", "l3"):
            write_npy(tmp_path / ("%s_%s.npy" % (net, l)), rng.standard_normal((150, 5)))
            lines.append("%s.%s,%s_%s.npy,%s,%s" % (net, l, net, l, net, l))
    write_npy(tmp_path / "netB_l0.npy", rng.standard_normal((150, 4)))
    lines.append("netB.l0,netB_l0.npy,netB,l0")  # a layer only netB has
    man = tmp_path / "depth.csv"
    man.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    d = run("matrix", "--manifest", man, "-m", "cka", "--format", "json", "-o", out).json()
    dep = d["depth"]["cka"]["netA|netB"]
    assert dep["rows"] == ["l1", "l2", "l3"] and dep["cols"] == ["l1", "l2", "l3", "l0"]
    names = d["names"]
    for x, la in enumerate(dep["rows"]):
        for y, lb in enumerate(dep["cols"]):
            i, j = names.index("netA." + la), names.index("netB." + lb)
            assert dep["similarity"][x][y] == d["measures"]["cka"]["similarity"][i][j]
    texts = svg_texts(out / "cka_depth_netA_vs_netB.svg")
    assert "l0" in texts and "l3" in texts
    with open(out / "depth.csv") as f:
        assert len(list(csv.DictReader(f))) == 12


# ----------------------------------------------------------- errors

def write_manifest(tmp_path, text, arrays=2, n=50, name="m.csv"):
    rng = np.random.default_rng(1)
    for k in range(arrays):
        write_npy(tmp_path / ("a%d.npy" % k), rng.standard_normal((n, 3)))
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


@pytest.mark.parametrize("text,line,contains", [
    ("name,file\na,a0.npy\n", 1, ["path"]),
    ("path,group\na0.npy,g\n", 1, ["name"]),
    ("name,path,name\na,a0.npy,b\n", 1, ["twice"]),
    ("name,path\na,a0.npy\nb,a1.npy\na,a1.npy\n", 4, ["'a'", "lines 2 and 4"]),
    ("name,path\na,a0.npy\nb,a1.npy,extra\n", 3, ["3 fields"]),
    ("name,path\na,a0.npy\n\"b,a1.npy\n", 3, ["never closed"]),
    ("name,path\na,a0.npy\nb\"x,a1.npy\n", 3, ["quote"]),
    ("name,path\na,a0.npy\n,a1.npy\n", 3, ["empty name"]),
    ("name,path,step\na,a0.npy,1\nb,a1.npy,soon\n", 3, ["step", "not a number"]),
    ("name,path\na,a0.npy\nb,missing.npy\n", 3, ["missing.npy"]),
    ("name,path\r\na,a0.npy\r\n\r\nb,nope.npy\r\n", 4, ["nope.npy"]),
    ("name,path,note\na,a0.npy,x\nb,a1.npy,\"two\nlines\"\nc,nope2.npy,y\n", 5, ["nope2.npy"]),
])
def test_manifest_errors(tmp_path, text, line, contains):
    man = write_manifest(tmp_path, text)
    r = run("matrix", "--manifest", man, "-m", "cka")
    assert_error(r, 1, names="%s:%d: " % (man, line), contains=contains)


def test_manifest_other_errors(tmp_path):
    man = write_manifest(tmp_path, "")
    assert_error(run("matrix", "--manifest", man), 1, names=man, contains=["empty"])
    man = write_manifest(tmp_path, "name,path\n")
    assert_error(run("matrix", "--manifest", man), 1, names=man, contains=["no inputs"])
    man = write_manifest(tmp_path, "name,path\na,a0.npy\n")
    assert_error(run("matrix", "--manifest", man), 1, names=man, contains=["at least 2"])
    assert_error(run("matrix", "--manifest", tmp_path / "absent.csv"), 1, names=tmp_path / "absent.csv")
    man = write_manifest(tmp_path, "name,path\na,a0.npy\nb,a1.npy\x00\n")
    assert_error(run("matrix", "--manifest", man), 1, names="%s:3: " % man, contains=["NUL"])
    assert_error(run("matrix"), 2, contains=["--manifest"])
    assert_error(run("matrix", "--manifest", man, "-m", "nope"), 2, contains=["nope"])
    assert_error(run("matrix", "--manifest", man, "--threads", "0"), 2, contains=["--threads"])
    assert_error(run("matrix", "--manifest", man, "--max-memory", "lots"), 2, contains=["--max-memory"])
    assert_error(run("matrix", "--manifest", man, "-m", "dftcca"), 2, contains=["dftcca"])
    assert_error(run("matrix", "stray.csv"), 2, contains=["--manifest"])


def test_sample_counts_differ_names_both(tmp_path):
    rng = np.random.default_rng(2)
    write_npy(tmp_path / "a.npy", rng.standard_normal((50, 3)))
    write_npy(tmp_path / "b.npy", rng.standard_normal((49, 3)))
    man = tmp_path / "m.csv"
    man.write_text("name,path\nfirst,a.npy\nsecond,b.npy\n")
    r = run("matrix", "--manifest", man)
    assert_error(r, 1, names="%s:3: " % man, contains=["first", "second", "49", "50"])


def test_quoted_paths_and_npz_keys(tmp_path):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((80, 4)), rng.standard_normal((80, 5))
    sub = tmp_path / "dir, with comma"
    sub.mkdir()
    np.savez(sub / "acts.npz", h1=a, h2=b)
    man = tmp_path / "m.csv"
    man.write_text('\ufeffname , path\nh1,"dir, with comma/acts.npz:h1"\n"h""2","dir, with comma/acts.npz:h2"\n')
    d = matrix(man, measures="cka")
    assert d["names"] == ["h1", 'h"2']
    c = run("compare", "%s/acts.npz:h1" % sub, "%s/acts.npz:h2" % sub, "-m", "cka", "--format", "json").json()
    assert abs(d["measures"]["cka"]["similarity"][0][1] - c["measures"]["cka"]["similarity"]) <= TOL


# --------------------------------------------------- conv and sequences

def test_conv_and_sequence_options_apply_to_every_row(tmp_path):
    """The layout options of compare apply to every row: a matrix of 4-D
    NHWC maps with --conv nhwc (positions) equals the matrix of the same maps
    reshaped by numpy to (N*H*W, C); --conv-mode pool equals the spatial
    means; 3-D sequences with --sequence mean equal the means over time."""
    rng = np.random.default_rng(11)
    maps = [rng.standard_normal((30, 4, 5, 3 + k)) + 0.3 * k for k in range(3)]
    seqs = [rng.standard_normal((60, 7, 4 + k)) for k in range(3)]
    lines = {"conv": ["name,path"], "flat": ["name,path"], "pool": ["name,path"],
             "seq": ["name,path"], "seqmean": ["name,path"]}
    for k, a in enumerate(maps):
        write_npy(tmp_path / ("c%d.npy" % k), a)
        write_npy(tmp_path / ("f%d.npy" % k), a.reshape(-1, a.shape[-1]))
        write_npy(tmp_path / ("p%d.npy" % k), a.mean(axis=(1, 2)))
        lines["conv"].append("c%d,c%d.npy" % (k, k))
        lines["flat"].append("c%d,f%d.npy" % (k, k))
        lines["pool"].append("c%d,p%d.npy" % (k, k))
    for k, a in enumerate(seqs):
        write_npy(tmp_path / ("s%d.npy" % k), a)
        write_npy(tmp_path / ("sm%d.npy" % k), a.mean(axis=1))
        lines["seq"].append("s%d,s%d.npy" % (k, k))
        lines["seqmean"].append("s%d,sm%d.npy" % (k, k))
    for key, ls in lines.items():
        (tmp_path / (key + ".csv")).write_text("\n".join(ls) + "\n")

    def close(a, b):
        for mid in a["measures"]:
            x, y = np.array(a["measures"][mid]["similarity"]), np.array(b["measures"][mid]["similarity"])
            assert np.max(np.abs(x - y)) <= 1e-10, mid

    flat = matrix(tmp_path / "flat.csv", measures="cca,cka")
    r = run("matrix", "--manifest", tmp_path / "conv.csv", "--conv", "nhwc", "-m", "cca,cka", "--format", "json")
    if r.code != 0 and "not implemented" in r.stderr:
        pytest.skip("conv inputs not implemented in this library build")
    close(r.json(), flat)
    assert r.json()["n"] == 30 * 4 * 5
    close(matrix(tmp_path / "pool.csv", measures="cka"),
          matrix(tmp_path / "conv.csv", "--conv", "nhwc", "--conv-mode", "pool", measures="cka"))
    close(matrix(tmp_path / "seqmean.csv", measures="cca,cka"),
          matrix(tmp_path / "seq.csv", "--sequence", "mean", measures="cca,cka"))
    # Without the option, a 4-D input is an error naming its manifest line.
    r = run("matrix", "--manifest", tmp_path / "conv.csv", "-m", "cka")
    assert_error(r, 1, names="%s:2: " % (tmp_path / "conv.csv"), contains=["--conv"])
    assert_error(run("matrix", "--manifest", tmp_path / "seq.csv", "--sequence", "per-step"), 2,
                 contains=["per-step"])
