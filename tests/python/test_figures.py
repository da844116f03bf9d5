"""The figures and the report of `simrep matrix -o DIR` (issue 13): figure
quality asserted on the SVG itself (every label inside the canvas and none
on another, measured with the font; MDS labels apart; the colour scale's
limits are the data's range unless --range says otherwise; one number of
decimals in every cell; titles name measure, layer and n), PNG copies when
rsvg-convert is installed, and DIR/index.html: self-contained, and rendered
by headless Chromium to a picture that is not blank with no console
message.  Sizes 3, 15 and 25 inputs with long names: below and above the
20 columns where heatmap columns turn to numbers.
"""

import html.parser
import os
import re
import shutil
import stat
import subprocess
import tempfile

import numpy as np
import pytest

import svgcheck as sc
from conftest import SANITIZED, run, write_npy

GROUPS = ["resnet18-cifar10-augmented", "vit-small-patch16-imagenet", "mlp"]


def make_inputs(d, K, n=240):
    """K inputs in 3 groups (noise rising by group), every other one with a
    long name that only differs in the middle and the end."""
    rng = np.random.default_rng(K)
    sig = rng.standard_normal((n, 6))
    names, lines = [], ["name,path,group"]
    for k in range(K):
        g = GROUPS[k % 3]
        a = np.tanh(sig @ rng.standard_normal((6, 8))) + [0.3, 0.8, 1.5][k % 3] * rng.standard_normal((n, 8))
        name = ("%s_seed%d_layer4.2.conv3_checkpoint%03d" % (g, k, 7 * k)) if k % 2 == 0 else "%s_s%d" % (g[:6], k)
        write_npy(d / ("a%d.npy" % k), a.astype(np.float32))
        names.append(name)
        lines.append('"%s",a%d.npy,%s' % (name, k, g))
    (d / "m.csv").write_text("\n".join(lines) + "\n")
    return d / "m.csv", names


@pytest.fixture(scope="module", params=[3, 15, 25])
def made(request, tmp_path_factory):
    K = request.param
    d = tmp_path_factory.mktemp("fig%d" % K)
    man, names = make_inputs(d, K)
    out = d / "out"
    r = run("matrix", "--manifest", man, "-m", "cka,pwcca", "--format", "json", "-o", out)
    return K, names, r.json(), out


def test_labels_inside_the_canvas_and_apart(made):
    K, names, d, out = made
    for mid in ("cka", "pwcca"):
        for fig in ("heatmap", "mds", "groups"):
            root = sc.parse(out / ("%s_%s.svg" % (mid, fig)))
            assert sc.outside_canvas(root) == [], (mid, fig)
            for cls in ("row-label", "col-label", "point-label", "bar-label", "legend", "key", "scale-tick"):
                assert sc.overlapping(root, cls) == [], (mid, fig, cls)


def test_mds_labels_never_overlap(made):
    K, names, d, out = made
    root = sc.parse(out / "cka_mds.svg")
    labels = sc.elements(root, "text", "point-label")
    assert len(labels) == K  # every point labelled (by name, or by number with a key)
    boxes = [tuple(float(v) for v in el.get("data-box").split()) for el in labels]
    w, h = sc.canvas(root)
    frame = sc.elements(root, "rect", "frame")[0]
    fx, fy = float(frame.get("x")), float(frame.get("y"))
    fw, fh = float(frame.get("width")), float(frame.get("height"))
    for b in boxes:  # inside the plot frame, not only the canvas
        assert fx <= b[0] and b[2] <= fx + fw and fy <= b[1] and b[3] <= fy + fh
    for i in range(K):
        for j in range(i + 1, K):
            a, b = boxes[i], boxes[j]
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (i, j)
    # ... and no label covers a point.
    pts = [(float(c.get("cx")), float(c.get("cy"))) for c in sc.elements(root, "circle", "point")]
    for i, b in enumerate(boxes):
        k = int(labels[i].get("data-point"))
        for j, (x, y) in enumerate(pts):
            if j != k:
                assert not (b[0] < x + 5 and x - 5 < b[2] and b[1] < y + 5 and y - 5 < b[3]), (k, j)
    numbered = bool(sc.elements(root, "text", "key"))
    shown = sorted(sc.visible_text(el) for el in labels)
    if numbered:
        assert shown == sorted(str(i + 1) for i in range(K))
    else:
        for el in labels:
            full = el.find(sc.SVG + "title")
            name = full.text if full is not None else sc.visible_text(el)
            assert name in names


def offdiag(m):
    m = np.asarray(m)
    return m[~np.eye(len(m), dtype=bool)]


def test_colour_scale_is_the_data_range(made):
    K, names, d, out = made
    for mid in ("cka", "pwcca"):
        sim = np.array(d["measures"][mid]["similarity"])
        lo, hi = offdiag(sim).min(), offdiag(sim).max()
        root = sc.parse(out / ("%s_heatmap.svg" % mid))
        cells = [c for c in sc.elements(root, "rect", "cell") if "diagonal" not in c.get("class")]
        assert len(cells) == K * (K - 1)
        # The extreme cells take the scale's end colours: the scale is the data's range.
        vals = [float(c.find(sc.SVG + "title").text.rsplit(": ", 1)[1]) for c in cells]
        assert cells[int(np.argmin(vals))].get("fill") == sc.VIRIDIS_LO
        assert cells[int(np.argmax(vals))].get("fill") == sc.VIRIDIS_HI
        assert abs(min(vals) - lo) < 1e-5 and abs(max(vals) - hi) < 1e-5
        # Both limits are printed on the legend, at the cells' decimals.
        lo_t = sc.visible_text(sc.elements(root, "text", "scale-lo")[0])
        hi_t = sc.visible_text(sc.elements(root, "text", "scale-hi")[0])
        dec = len(lo_t.split(".")[1])
        assert float(lo_t) == round(lo, dec) and float(hi_t) == round(hi, dec)
        # Grey, not a colour of the scale, on the diagonal.
        assert {c.get("fill") for c in sc.elements(root, "rect", "diagonal")} == {"#d9d9d9"}


def test_cells_share_their_decimals(made):
    K, names, d, out = made
    root = sc.parse(out / "pwcca_heatmap.svg")
    values = [sc.visible_text(t) for t in sc.elements(root, "text", "value")]
    assert len(values) == K * K  # (from about 30 inputs the cells are too small: values on hover only)
    assert len({len(v.split(".")[1]) for v in values}) == 1, set(values)


def test_titles_name_measure_layer_and_n(made, tmp_path):
    K, names, d, out = made
    for mid in ("cka", "pwcca"):
        for fig in ("heatmap", "mds", "groups"):
            title = sc.visible_text(sc.elements(sc.parse(out / ("%s_%s.svg" % (mid, fig))), "text", "title")[0])
            assert title.startswith(mid + " ") and title.endswith("%d inputs, n = 240" % K), title
    if K != 3:
        return
    # A layer: every path names the same array key (or a one-valued layer column).
    lines = ["name,path,group"]
    for k, g in enumerate(("a", "a", "b")):
        np.savez(tmp_path / ("n%d.npz" % k), relu2=np.random.default_rng(k).standard_normal((50, 3)))
        lines.append("n%d,n%d.npz:relu2,%s" % (k, k, g))
    (tmp_path / "m.csv").write_text("\n".join(lines) + "\n")
    r = run("matrix", "--manifest", tmp_path / "m.csv", "-m", "cka", "-o", tmp_path / "o", "--no-png")
    assert r.code == 0, r
    title = sc.visible_text(sc.elements(sc.parse(tmp_path / "o" / "cka_heatmap.svg"), "text", "title")[0])
    assert title == "cka similarity at relu2: 3 inputs, n = 50"


def test_long_names_elided_in_the_middle(made):
    K, names, d, out = made
    root = sc.parse(out / "cka_heatmap.svg")
    rows = sc.elements(root, "text", "row-label")
    assert len(rows) == K
    for el in rows:
        shown = sc.visible_text(el)
        full = el.find(sc.SVG + "title")
        full = full.text if full is not None else shown
        assert full in names
        if len(full) > 28:
            head, tail = shown.split("\u2026")
            assert len(shown) == 28 and full.startswith(head) and full.endswith(tail)
        else:
            assert shown == full
    cols = [sc.visible_text(el) for el in sc.elements(root, "text", "col-label")]
    if K > 20:  # numbered, keyed by the row labels
        assert cols == [str(k + 1) for k in range(K)]
        assert [sc.visible_text(t) for t in sc.elements(root, "text", "row-number")] == cols
    # The table too: no name cut at 14 characters.
    table = run("matrix", "--manifest", out.parent / "m.csv", "-m", "cka").stdout
    long = [n for n in names if len(n) > 32][0]
    assert long[:15] in table and long[-15:] in table


def test_range_option(made, tmp_path):
    K, names, d, out = made
    if K != 15:
        return
    o = tmp_path / "o"
    r = run("matrix", "--manifest", out.parent / "m.csv", "-m", "cka", "-o", o, "--range", "0,1", "--no-png")
    assert r.code == 0, r
    root = sc.parse(o / "cka_heatmap.svg")
    assert sc.visible_text(sc.elements(root, "text", "scale-lo")[0]) == "0.00"
    assert sc.visible_text(sc.elements(root, "text", "scale-hi")[0]) == "1.00"
    assert not list((o).glob("*.png"))
    for bad in ("1,0", "0.5,0.5", "nan,1", "0", "a,b", "0,1,2", "0,inf", ""):
        r = run("matrix", "--manifest", out.parent / "m.csv", "-m", "cka", "--range", bad)
        assert r.code == 2 and r.stdout == "" and r.stderr.startswith("simrep: error: --range"), (bad, r)


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="rsvg-convert (librsvg2-bin) not installed")
def test_png_copies(made):
    K, names, d, out = made
    for svg in out.glob("*.svg"):
        png = svg.with_suffix(".png")
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        w, h = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        sw, sh = sc.canvas(sc.parse(svg))
        assert (w, h) == (2 * sw, 2 * sh), svg.name  # twice the SVG's size


def test_png_failure_is_a_warning(made, tmp_path):
    K, names, d, out = made
    if K != 3:
        return
    fake = tmp_path / "bin"
    fake.mkdir()
    exe = fake / "rsvg-convert"
    exe.write_text("#!/bin/sh\necho broken >&2\nexit 3\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    o = tmp_path / "o"
    r = run("matrix", "--manifest", out.parent / "m.csv", "-m", "cka", "-o", o,
            env={"PATH": "%s:%s" % (fake, os.environ.get("PATH", ""))})
    assert r.code == 0, r
    assert r.stderr.count("rsvg-convert failed") == 1  # said once; SVGs complete
    assert not list(o.glob("*.png"))
    assert {p.name for p in o.glob("*.svg")} == {"cka_heatmap.svg", "cka_mds.svg", "cka_groups.svg"}


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.refs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href") and not (v or "").startswith("#"):
                self.refs.append((tag, k, v))

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_is_self_contained(made):
    K, names, d, out = made
    page = (out / "index.html").read_text()
    p = _Page()
    p.feed(page)
    assert p.refs == [] and "script" not in p.tags and "link" not in p.tags and "iframe" not in p.tags
    assert re.search(r"url\((?!#)", page) is None and "@import" not in page
    # Every figure inline, once; the command; the group summary; the matrices.
    figs = sorted(out.glob("*.svg"))
    assert p.tags.count("svg") == len(figs) == 6
    text = " ".join(p.text)
    assert "simrep matrix --manifest" in text and "-o" in text
    assert "Group summary" in text and "within" in text and "between" in text
    for mid in ("cka", "pwcca"):
        assert "%s similarity matrix" % mid in text
    assert "Warnings" in text
    # Gradient ids differ between the inlined figures.
    ids = re.findall(r'id="([^"]+)"', page)
    assert len(ids) == len(set(ids))


def test_html_escapes_and_warnings(tmp_path):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((30, 4))
    a[:, 3] = 1.0  # a dead feature: a warning in the report
    write_npy(tmp_path / "a.npy", a)
    write_npy(tmp_path / "b.npy", rng.standard_normal((30, 4)))
    (tmp_path / "m.csv").write_text('name,path,group\n"<b>x&y</b>",a.npy,"g\'1"\nplain,b.npy,g2\n')
    o = tmp_path / "o"
    r = run("matrix", "--manifest", tmp_path / "m.csv", "-m", "cca", "-o", o, "--no-png")
    assert r.code == 0, r
    page = (o / "index.html").read_text()
    assert "<b>x&y</b>" not in page and "&lt;b&gt;x&amp;y&lt;/b&gt;" in page
    assert "1 of 4 features are constant" in page
    p = _Page()
    p.feed(page)
    assert p.refs == []


def chromium():
    for name in ("chromium", "chromium-browser"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(chromium() is None, reason="chromium not installed")
@pytest.mark.skipif(SANITIZED, reason="the page is the same from the ASan build; rendered once, by the plain run")
def test_html_renders_in_headless_chromium(made, tmp_path):
    """The report as a browser draws it: a screenshot that is not blank,
    and no console message (script errors, failed loads, bad markup that
    Chromium reports)."""
    K, names, d, out = made
    if K != 15:
        return
    shot = tmp_path / "shot.png"
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0", "--window-size=1280,3000",
             "--screenshot=" + str(shot), (out / "index.html").as_uri()],
            capture_output=True, text=True, errors="replace", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln]
    assert console == [], console
    import matplotlib.image
    img = matplotlib.image.imread(str(shot))
    assert img.shape[0] == 3000 and img.shape[1] == 1280
    rgb = img[..., :3]
    ink = np.any(rgb < 0.9, axis=2).mean()
    assert ink > 0.02, ink  # not a blank page
    colours = len(np.unique((rgb[::4, ::4] * 255).astype(np.uint8).reshape(-1, 3), axis=0))
    assert colours > 50, colours  # the figures' colours, not just text


def test_full_disk_is_an_error(made, tmp_path):
    """A figure or the report that cannot be written (here: the file is a
    link to /dev/full) is `simrep: error: <file>: ...`, exit 1."""
    K, names, d, out = made
    if K != 3 or not os.path.exists("/dev/full"):
        return
    for victim in ("cka_heatmap.svg", "index.html"):
        o = tmp_path / victim.replace(".", "_")
        o.mkdir()
        os.symlink("/dev/full", o / victim)
        r = run("matrix", "--manifest", out.parent / "m.csv", "-m", "cka", "-o", o, "--no-png")
        assert r.code == 1, r
        assert r.stderr.startswith("simrep: error: %s: " % (o / victim)), r.stderr
