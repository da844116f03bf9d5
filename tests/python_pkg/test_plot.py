"""simrep.plot and the analyses simrep.matrix shares with the CLI (issue 13):
the figures are the CLI's own (same renderer: the same document for the
same numbers), parse as SVG with the expected elements, keep every label on
the canvas and MDS labels apart (40 long names too), save as PNG when
rsvg-convert is there, draw into matplotlib Axes; simrep.matrix's
clustering, MDS, warnings, training and depth views and conv=/sequence=
equal the CLI's JSON.
"""

import csv
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import simrep
import svgcheck as sc
from conftest import REPO, simrep_bin

DATA = REPO / "examples" / "data"


def cli(*args):
    proc = subprocess.run([str(simrep_bin())] + [str(a) for a in args], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc


def manifest_inputs(man):
    with open(man) as f:
        rows = list(csv.DictReader(f))
    return rows, [str(man.parent / r["path"]) for r in rows]


@pytest.fixture(scope="module")
def relu2(tmp_path_factory):
    """The demo's 10 real MLPs at relu2: the CLI's JSON and figures, and simrep.matrix on the same files."""
    d = tmp_path_factory.mktemp("relu2")
    out = d / "out"
    j = json.loads(cli("matrix", "--manifest", DATA / "relu2.csv", "-m", "pwcca,cka", "--format", "json",
                       "-o", out, "--no-png").stdout)
    rows, paths = manifest_inputs(DATA / "relu2.csv")
    r = simrep.matrix(paths, names=[x["name"] for x in rows], groups=[x["group"] for x in rows],
                      measures=["pwcca", "cka"], warn=False)
    return j, r, out


def same_document(a, b):
    """Equal but for the gradient id (a hash of values equal to ~1e-15)."""
    norm = lambda s: re.sub(r"simrep-scale-[0-9a-f]{16}", "ID", s)  # noqa: E731
    return norm(a) == norm(b)


def test_same_figures_as_the_cli(relu2):
    j, r, out = relu2
    for mid in ("pwcca", "cka"):
        assert same_document(simrep.plot.heatmap(r, mid).svg, (out / ("%s_heatmap.svg" % mid)).read_text())
        assert same_document(simrep.plot.mds(r, mid).svg, (out / ("%s_mds.svg" % mid)).read_text())
        assert same_document(simrep.plot.groups(r, mid).svg, (out / ("%s_groups.svg" % mid)).read_text())


def test_matrix_views_equal_the_cli(relu2):
    j, r, out = relu2
    assert r["warnings"] == j["warnings"]
    assert r["layer"] == "relu2"
    for mid in ("pwcca", "cka"):
        assert r["clustering"][mid]["order"] == j["clustering"][mid]["order"]
        np.testing.assert_allclose(np.array(r["clustering"][mid]["merges"]), np.array(j["clustering"][mid]["merges"]),
                                   rtol=0, atol=1e-12)
        np.testing.assert_allclose(r["mds"][mid]["coords"], np.array(j["mds"][mid]["coords"]), rtol=0, atol=1e-9)
        np.testing.assert_allclose(r["mds"][mid]["eigenvalues"], j["mds"][mid]["eigenvalues"], rtol=1e-9)


def test_figure_elements(relu2):
    j, r, out = relu2
    K = len(r["names"])
    f = simrep.plot.heatmap(r, "pwcca")
    root = sc.parse(f.svg)
    assert len(sc.elements(root, "rect", "cell")) == K * K and len(sc.elements(root, "rect", "diagonal")) == K
    assert len(sc.elements(root, "path")) >= K - 1  # the dendrogram's merges
    off = r["measures"]["pwcca"]["similarity"][~np.eye(K, dtype=bool)]
    assert f.lo == off.min() and f.hi == off.max() and f.decimals == 3
    assert "<svg" in f._repr_svg_() and repr(f).startswith("<simrep.plot.Figure heatmap")
    m = simrep.plot.mds(r, "pwcca")
    assert len(sc.elements(sc.parse(m.svg), "circle", "point")) == K and m.unplaced == 0
    g = simrep.plot.groups(r, "pwcca")
    gr = sc.parse(g.svg)
    assert len(sc.elements(gr, "rect", "bar")) == 3 and len(sc.elements(gr, "path", "errorbar")) == 3
    assert len(sc.elements(gr, "circle", "dot")) == 45  # every pair
    fixed = simrep.plot.heatmap(r, "pwcca", range=(0, 1), cluster=False)
    assert (fixed.lo, fixed.hi) == (0, 1)
    assert not sc.elements(sc.parse(fixed.svg), "g", "dendrogram")
    for fig in (f, m, g, fixed):
        assert sc.outside_canvas(sc.parse(fig.svg)) == []


def test_forty_long_names_stay_on_the_canvas_and_apart():
    rng = np.random.default_rng(40)
    K = 40
    groups = ["resnet18-cifar10-augmented", "vit-small-patch16-imagenet", "mlp"]
    names = ["%s_seed%d_layer4.2.conv3_step%06d" % (groups[k % 3], k, 1000 * k) for k in range(K)]
    sig = rng.standard_normal((200, 5))
    arrays = [np.tanh(sig @ rng.standard_normal((5, 6))) + (0.2 + 0.5 * (k % 3)) * rng.standard_normal((200, 6))
              for k in range(K)]
    r = simrep.matrix(arrays, names=names, groups=[groups[k % 3] for k in range(K)], measures=["cka"], warn=False)
    for fig in (simrep.plot.heatmap(r), simrep.plot.mds(r), simrep.plot.groups(r)):
        root = sc.parse(fig.svg)
        assert sc.outside_canvas(root) == [], fig
        for cls in ("row-label", "col-label", "point-label", "bar-label", "key", "legend"):
            assert sc.overlapping(root, cls) == [], (fig, cls)
    h = simrep.plot.heatmap(r)
    assert h.numbered  # above 20 columns: numbers keyed by the row labels
    m = simrep.plot.mds(r)
    assert len(sc.elements(sc.parse(m.svg), "text", "point-label")) == K - m.unplaced and m.unplaced == 0


def test_matrix_training_and_depth_equal_the_cli(tmp_path):
    subprocess.run([sys.executable, str(REPO / "examples" / "make_matrix_data.py"), str(tmp_path)], check=True,
                   capture_output=True)
    rows, paths = manifest_inputs(tmp_path / "training.csv")
    j = json.loads(cli("matrix", "--manifest", tmp_path / "training.csv", "-m", "cka", "--format", "json").stdout)
    r = simrep.matrix(paths, names=[x["name"] for x in rows], layers=[x["layer"] for x in rows],
                      steps=[x["step"] for x in rows], measures=["cka"], warn=False)
    assert [t["name"] for t in r["training"]] == [t["name"] for t in j["training"]]
    for a, b in zip(r["training"], j["training"]):
        assert a["final"] == b["final"] and a["layer"] == b["layer"] and a["step"] == b["step"]
        assert abs(a["distance"]["cka"] - b["distance"]["cka"]) < 1e-12
    c = simrep.plot.curves(r)
    croot = sc.parse(c.svg)
    assert len(sc.elements(croot, "polyline", "series")) == 3 and sc.outside_canvas(croot) == []
    rows, paths = manifest_inputs(tmp_path / "depth.csv")
    j = json.loads(cli("matrix", "--manifest", tmp_path / "depth.csv", "-m", "cka", "--format", "json").stdout)
    r = simrep.matrix(paths, names=[x["name"] for x in rows], groups=[x["group"] for x in rows],
                      layers=[x["layer"] for x in rows], measures=["cka"], warn=False)
    a, b = r["depth"]["cka"]["netA|netB"], j["depth"]["cka"]["netA|netB"]
    assert a["rows"] == b["rows"] and a["cols"] == b["cols"]
    np.testing.assert_allclose(a["similarity"], np.array(b["similarity"]), rtol=0, atol=1e-12)
    d = simrep.plot.depth(r)
    assert len(sc.elements(sc.parse(d.svg), "rect", "cell")) == 16
    assert "netA (rows) vs netB (columns)" in d.svg
    with pytest.raises(simrep.InvalidArgument, match="same group and layer"):
        simrep.matrix(paths[:2] + paths[:1], names=["a", "b", "c"], groups=["g", "g", "h"],
                      layers=["l", "l", "m"], measures=["cka"])


def test_matrix_conv_and_sequence_equal_the_cli(tmp_path):
    rng = np.random.default_rng(8)
    maps = [rng.standard_normal((20, 3, 5, 5)).astype(np.float32) for _ in range(3)]  # NCHW
    seqs = [rng.standard_normal((30, 4, 3)) for _ in range(3)]
    for k in range(3):
        np.save(tmp_path / ("c%d.npy" % k), maps[k])
        np.save(tmp_path / ("s%d.npy" % k), seqs[k])
    lengths = rng.integers(1, 5, size=30)
    np.save(tmp_path / "lengths.npy", lengths)
    for kind, opts, py in (("s", ["--sequence", "mean", "--mask", tmp_path / "lengths.npy"],
                            dict(sequence="mean", mask=lengths)),
                           ("c", ["--conv", "nchw"], dict(conv="nchw")),
                           ("c", ["--conv", "nchw", "--conv-mode", "pool"], dict(conv="nchw", conv_mode="pool")),
                           ("s", ["--sequence", "mean"], dict(sequence="mean")),
                           ("s", ["--sequence", "flatten"], dict(sequence="flatten"))):
        (tmp_path / "m.csv").write_text("name,path\n" + "".join("%s%d,%s%d.npy\n" % (kind, k, kind, k)
                                                               for k in range(3)))
        j = json.loads(cli("matrix", "--manifest", tmp_path / "m.csv", "-m", "cka,cca", "--format", "json",
                           *opts).stdout)
        src = maps if kind == "c" else seqs
        for inputs in (src, [str(tmp_path / ("%s%d.npy" % (kind, k))) for k in range(3)]):
            r = simrep.matrix(inputs, measures=["cka", "cca"], warn=False, **py)
            for mid in ("cka", "cca"):
                np.testing.assert_allclose(r["measures"][mid]["similarity"],
                                           np.array(j["measures"][mid]["similarity"]), rtol=0, atol=1e-10,
                                           err_msg="%s %s" % (opts, mid))
    with pytest.raises(simrep.InvalidArgument, match="per-step"):
        simrep.matrix(seqs, sequence="per-step")
    with pytest.raises(ValueError, match="2-D samples x features"):
        simrep.matrix(maps)


def test_curves_of_a_per_step_compare():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((50, 6, 4)), rng.standard_normal((50, 6, 4))
    c = simrep.compare(x, y, measures=["cka", "cca"], sequence="per-step", warn=False)
    f = simrep.plot.curves(c)
    root = sc.parse(f.svg)
    assert len(sc.elements(root, "polyline", "series")) == 2 and len(sc.elements(root, "circle", "marker")) == 12
    g = simrep.plot.curves({"a": ([0, 1, 2], [0.5, 0.6, 0.4]), "b": [0.1, 0.2]}, title="t")
    assert len(sc.elements(sc.parse(g.svg), "polyline", "series")) == 2


def test_bars_error_bars_and_notes():
    f = simrep.plot.bars(["within a (3)", "a vs b (9)"], [0.1, 0.3], err_lo=[0.05, 0.2], err_hi=[0.2, 0.33],
                         err_label="95% bootstrap CI", notes=[None, "p = 0.002"], colours=[0, None],
                         points=[[0.05, 0.1, 0.15], None], title="t", ylabel="distance")
    root = sc.parse(f.svg)
    assert len(sc.elements(root, "path", "errorbar")) == 2 and len(sc.elements(root, "circle", "dot")) == 3
    assert [sc.visible_text(t) for t in sc.elements(root, "text", "note")] == ["p = 0.002"]
    assert "error bars: 95% bootstrap CI" in f.svg
    with pytest.raises(simrep.InvalidArgument, match="both err_lo and err_hi"):
        simrep.plot.bars(["a"], [1], err_lo=[0])
    with pytest.raises(simrep.InvalidArgument, match="2 labels for 1 values"):
        simrep.plot.bars(["a", "b"], [1])


def test_save_and_errors(relu2, tmp_path):
    j, r, out = relu2
    f = simrep.plot.heatmap(r, "cka", path=tmp_path / "h.svg")
    assert (tmp_path / "h.svg").read_text() == f.svg
    with pytest.raises(simrep.InvalidArgument, match=".svg or .png"):
        f.save(tmp_path / "h.jpg")
    with pytest.raises(simrep.InvalidArgument, match="range needs finite lo < hi"):
        simrep.plot.heatmap(r, "cka", range=(1, 0))
    with pytest.raises(simrep.InvalidArgument, match="not in this result"):
        simrep.plot.mds(r, "procrustes")
    assert simrep.plot.elide("abcdefghij", 7) == "abc\u2026hij"
    assert simrep.plot.title("cka", "similarity", "fc", 3, 1500) == "cka similarity at fc: 3 inputs, n = 1,500"
    if shutil.which("rsvg-convert"):
        f.save(tmp_path / "h.png")
        data = (tmp_path / "h.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == 2 * f.width


def test_matplotlib_axes(relu2):
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt
    j, r, out = relu2
    fig, axs = plt.subplots(1, 4, figsize=(20, 5))
    assert simrep.plot.heatmap(r, "pwcca", ax=axs[0]) is axs[0]
    img = axs[0].get_images()[0]
    assert img.get_clim() == (simrep.plot.heatmap(r, "pwcca").lo, simrep.plot.heatmap(r, "pwcca").hi)
    assert simrep.plot.mds(r, "pwcca", ax=axs[1]) is axs[1]
    assert len(axs[1].texts) == len(r["names"])  # the renderer's labels, placed alike
    assert simrep.plot.groups(r, "pwcca", ax=axs[2]) is axs[2]
    assert len(axs[2].patches) == 3
    c = simrep.compare(np.random.default_rng(0).standard_normal((30, 5, 3)),
                       np.random.default_rng(1).standard_normal((30, 5, 3)), measures=["cka"],
                       sequence="per-step", warn=False)
    assert simrep.plot.curves(c, ax=axs[3]) is axs[3] and len(axs[3].lines) == 1
    fig.canvas.draw()
    plt.close(fig)


def test_heatmap_of_compare_models():
    torch = pytest.importorskip("torch")
    import simrep.torch as st
    torch.manual_seed(0)

    def net():
        return torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    loader = torch.utils.data.DataLoader(torch.randn(300, 6), batch_size=100)
    r = st.compare_models(net(), net(), loader, layers_a=["0", "2"], layers_b=["0", "1", "2"], measures=["cka"],
                          names=("teacher", "student"))
    f = simrep.plot.heatmap(r, "cka")
    root = sc.parse(f.svg)
    assert len(sc.elements(root, "rect", "cell")) == 6 and not sc.elements(root, "rect", "diagonal")
    title = sc.visible_text(sc.elements(root, "text", "title")[0])
    assert title == "cka similarity by layer, teacher (rows) vs student (columns): n = 300"
    assert (f.lo, f.hi) == (r["measures"]["cka"]["similarity"].min(), r["measures"]["cka"]["similarity"].max())


def test_heatmap_of_an_array_with_gaps():
    v = np.array([[1.0, np.nan, 0.2], [np.nan, 1.0, 0.4], [0.2, 0.4, 1.0]])
    f = simrep.plot.heatmap(v, labels=["a", "b", "c"], cluster=False)
    root = sc.parse(f.svg)
    gaps = [c for c in sc.elements(root, "rect", "cell") if c.find(sc.SVG + "title").text.endswith("not available")]
    assert len(gaps) == 2 and (f.lo, f.hi) == (0.2, 0.4)
    with pytest.raises(simrep.Error, match="not finite"):
        simrep.plot.heatmap(v, labels=["a", "b", "c"])  # clustering needs every distance
    with pytest.raises(simrep.InvalidArgument, match="labels"):
        simrep.plot.heatmap(v, labels=["a", "b"])


def test_group_bars_with_statistics_equal_the_cli(tmp_path):
    """With permutations= and bootstrap=, the bars' error bars are the
    intervals of the group means and each between bar carries its test's
    p-value, in the CLI's figure and in simrep.plot.groups alike."""
    out = tmp_path / "o"
    cli("matrix", "--manifest", DATA / "relu2.csv", "-m", "cka", "-o", out, "--no-png", "--permutations", "300",
        "--bootstrap", "200", "--seed", "3")
    rows, paths = manifest_inputs(DATA / "relu2.csv")
    r = simrep.matrix(paths, names=[x["name"] for x in rows], groups=[x["group"] for x in rows], measures=["cka"],
                      permutations=300, bootstrap=200, seed=3, warn=False)
    f = simrep.plot.groups(r, "cka")
    assert same_document(f.svg, (out / "cka_groups.svg").read_text())
    gs = r["group_summary"]["cka"]
    root = sc.parse(f.svg)
    notes = [sc.visible_text(t) for t in sc.elements(root, "text", "note")]
    p = gs["tests"]["generalizing|memorizing"]["p"]
    assert notes == ["p = %.3f" % p if p < 0.1 else "p = %.2f" % p]
    assert "95% interval of the mean over the inputs (200 resamples)" in f.svg
    # The error bars' ends are the intervals: the bar of "within generalizing" spans within_ci.
    bar = [b for b in sc.elements(root, "rect", "bar") if b.find(sc.SVG + "title").text.startswith("within gen")][0]
    assert "[%.4g, %.4g]" % tuple(gs["within_ci"]["generalizing"]) in bar.find(sc.SVG + "title").text
    page = (out / "index.html").read_text()
    assert "95% interval" in page and "between - within" in page and "relabellings" in page


def test_save_is_whole_or_nothing(tmp_path):
    """Figure.save writes a temporary file beside the target and renames it
    (issue 10, item 1): a write that fails (a file size limit here, a full
    disk alike) raises and leaves the earlier file whole, with no temporary
    file; a link to /dev/full is written through and says so."""
    import os
    import resource
    import signal
    import subprocess
    import sys
    target = tmp_path / "h.svg"
    target.write_text("<svg>the earlier, complete figure</svg>")
    os.symlink(target, tmp_path / "link.svg")
    code = ("import simrep\n"
            "f = simrep.plot.bars(['a' * 3000, 'b'], [1, 2])\n"
            "assert len(f.svg.encode()) > 4096\n"
            "try:\n"
            "    f.save(%r)\n"
            "except OSError as e:\n"
            "    print(e.errno)\n" % str(tmp_path / "link.svg"))

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, preexec_fn=limit,
                       env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert p.returncode == 0 and p.stdout.strip() == "27", p  # EFBIG
    assert target.read_text() == "<svg>the earlier, complete figure</svg>"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["h.svg", "link.svg"]
    f = simrep.plot.bars(["a", "b"], [1, 2])
    f.save(tmp_path / "link.svg")  # the link kept, the file it points to replaced
    assert os.path.islink(tmp_path / "link.svg") and target.read_text() == f.svg
    if os.path.exists("/dev/full"):
        os.symlink("/dev/full", tmp_path / "full.svg")
        with pytest.raises(OSError) as e:
            f.save(tmp_path / "full.svg")
        assert e.value.errno == 28
