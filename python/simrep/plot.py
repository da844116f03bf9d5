"""simrep.plot: figures of simrep results.

    r = simrep.matrix(paths, names=names, groups=groups, measures=["pwcca", "cka"])
    simrep.plot.heatmap(r, "pwcca").save("pwcca.png")   # .svg always; .png with rsvg-convert
    simrep.plot.mds(r, "pwcca", ax=ax)                   # into a matplotlib Axes

Every function draws with the library's SVG renderer (simrep_plot_* in
simrep.h), the one `simrep matrix -o DIR` uses, so a figure made here is the
CLI's figure for the same numbers: colour scale fitted to the data (range=
to fix it), one number of decimals in every cell, names elided in the
middle, labels that never leave the canvas or overlap.  Each returns a
Figure (the SVG text, shown inline by Jupyter) or, given ax=, draws the same
content into that matplotlib Axes (python3-matplotlib) and returns it, so
figures drop into a paper's own layout; the decisions (colour limits,
decimals, label text and placement) are still the renderer's.

    heatmap(r, measure)   similarity matrix, ordered by average-linkage
                          clustering with its dendrogram and group strip
                          (or the layer x layer matrix of
                          simrep.torch.compare_models)
    mds(r, measure)       classical MDS map coloured by group
    groups(r, measure)    within/between group distances: bars, error bars,
                          the pairs as dots (and p-values when given)
    curves(data)          training dynamics (a matrix result with steps) or
                          per-step similarity (a compare result with
                          sequence="per-step"), or {name: (x, y)}
    depth(r, measure)     layer x layer similarity of two groups
"""

import ctypes
import math
import os
import shutil
import subprocess
import tempfile
import textwrap

import numpy as np

from . import _native
from ._errors import Context, InvalidArgument, NotAvailable

_lib = _native.lib

__all__ = ["Figure", "heatmap", "mds", "groups", "curves", "depth", "bars", "elide", "title"]


class Figure:
    """An SVG figure drawn by the library.

    svg: the document (str); width, height: its size in px; lo, hi: the
    heatmap's colour limits (other kinds: the y axis, or the x axis of a
    scatter); decimals: of the heatmap's cell values (0: none printed);
    numbered: columns (heatmap) or points (scatter) labelled by number with
    a key; unplaced: scatter labels that found no free place."""

    def __init__(self, kind, svg, fig):
        self.kind = kind
        self.svg = svg
        self.width, self.height = fig.width, fig.height
        self.lo, self.hi = fig.lo, fig.hi
        self.decimals, self.numbered, self.unplaced = fig.decimals, bool(fig.numbered), int(fig.unplaced)

    def __repr__(self):
        return "<simrep.plot.Figure %s %dx%d>" % (self.kind, self.width, self.height)

    def __str__(self):
        return self.svg

    def _repr_svg_(self):
        return self.svg

    def png(self, zoom=2):
        """The figure as PNG bytes, rendered by rsvg-convert (Debian
        librsvg2-bin) at zoom times its size."""
        exe = shutil.which("rsvg-convert")
        if exe is None:
            raise NotAvailable("PNG output needs rsvg-convert (Debian: apt install librsvg2-bin); "
                               "save as .svg instead")
        proc = subprocess.run([exe, "--zoom", str(float(zoom)), "--format", "png"], input=self.svg.encode("utf-8"),
                              capture_output=True, timeout=120)
        if proc.returncode != 0:
            raise NotAvailable("rsvg-convert failed: %s" % proc.stderr.decode("utf-8", "replace").strip())
        return proc.stdout

    def save(self, path, zoom=2):
        """Write the figure to path: .svg (always) or .png (rsvg-convert)."""
        path = os.fspath(path)
        ext = os.path.splitext(path)[1].lower()
        if ext == ".svg":
            data = self.svg.encode("utf-8")
        elif ext == ".png":
            data = self.png(zoom)
        else:
            raise InvalidArgument("save writes .svg or .png (got %r)" % path)
        _write_whole(path, data)
        return path


def _write_whole(path, data):
    """data to path whole or not at all, as the CLI writes -o files: a
    temporary name beside the target (the file a link points to), renamed
    over it once written and closed; a device (a link to /dev/full) is
    written in place.  A failure (a full disk) raises and leaves the target
    as it was, with no temporary file."""
    real = os.path.realpath(path)
    if os.path.exists(real) and not os.path.isfile(real):
        with open(path, "wb") as f:
            f.write(data)
        return
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(real) + ".", dir=os.path.dirname(real))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        mask = os.umask(0o22)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ------------------------------------------------------------- helpers

def _b(s):
    return None if s is None else str(s).encode("utf-8")


class _Keep:
    """C arrays built for one call, kept alive until it returns."""

    def __init__(self):
        self.refs = []

    def strs(self, items):
        if items is None:
            return None
        enc = [_b(s) for s in items]
        arr = (ctypes.c_char_p * len(enc))(*enc)
        self.refs += [enc, arr]
        return arr

    def doubles(self, values):
        if values is None:
            return None
        a = np.ascontiguousarray(values, dtype=np.float64)
        self.refs.append(a)
        return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))

    def ints(self, values, ctype=ctypes.c_int):
        if values is None:
            return None
        arr = (ctype * len(values))(*[int(v) for v in values])
        self.refs.append(arr)
        return arr

    def double_lists(self, lists):
        if lists is None:
            return None
        ptrs = [self.doubles(v) if v is not None else None for v in lists]
        arr = (ctypes.POINTER(ctypes.c_double) * len(ptrs))(*ptrs)
        self.refs.append(arr)
        return arr


def _draw(kind, call, spec):
    fig = _native.Figure()
    with Context() as ctx:
        ctx.check(call(ctx.ptr, ctypes.byref(spec), ctypes.byref(fig)))
        try:
            svg = ctypes.string_at(fig.svg, fig.len).decode("utf-8")
            return Figure(kind, svg, fig)
        finally:
            _lib.simrep_figure_clear(ctx.ptr, ctypes.byref(fig))


def elide(s, max_chars=28):
    """s elided in the middle to at most max_chars characters, as every
    label of a figure (and the CLI's table) is."""
    raw = _b(s)
    need = _lib.simrep_elide(raw, max_chars, None, 0)
    buf = ctypes.create_string_buffer(need + 1)
    _lib.simrep_elide(raw, max_chars, buf, need + 1)
    return buf.value.decode("utf-8")


def title(measure, what, layer=None, inputs=0, n=0):
    """The title convention of every figure: "pwcca similarity at relu2: 10
    inputs, n = 1,500"."""
    args = (_b(measure), _b(what), _b(layer), int(inputs or 0), int(n or 0))
    need = _lib.simrep_figure_title(*args, None, 0)
    buf = ctypes.create_string_buffer(need + 1)
    _lib.simrep_figure_title(*args, buf, need + 1)
    return buf.value.decode("utf-8")


_title = title


def _measure(result, measure):
    ms = list(result["measures"])
    if measure is None:
        return ms[0]
    if measure not in result["measures"]:
        raise InvalidArgument("measure %r is not in this result (it has %s)" % (measure, ", ".join(ms)))
    return measure


def _info(measure):
    from ._core import _BY_ID
    return _BY_ID[measure][1] if measure in _BY_ID else None


def _group_index(groups):
    """(names in first-appearance order, index per input), or (None, None)
    when there are no groups (every group "" or one unnamed group)."""
    if groups is None:
        return None, None
    order = list(dict.fromkeys(groups))
    if order == [""]:
        return None, None
    return order, [order.index(g) for g in groups]


def _range(rng):
    if rng is None:
        return math.nan, math.nan
    lo, hi = (float(v) for v in rng)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidArgument("range needs finite lo < hi (got %r)" % (rng,))
    return lo, hi


def _mpl():
    try:
        import matplotlib  # noqa: F401
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise NotAvailable("ax= draws with matplotlib, which is not installed (Debian: python3-matplotlib); "
                           "the SVG figure needs nothing: leave out ax=") from e
    return plt


# ------------------------------------------------------------- heatmap

def heatmap(result, measure=None, *, cluster=True, range=None, labels=None, title=None, subtitle=None,
            self_matrix=None, scale_label=None, path=None, ax=None):
    """The similarity matrix of a simrep.matrix result as a heatmap.

    cluster: order rows and columns by the average-linkage clustering of
    the distance and draw its dendrogram (the CLI's figure); False keeps
    the input order.  range=(lo, hi) fixes the colour scale (default: the
    range of the off-diagonal values; Figure.lo/.hi say what was used).
    result may also be a square or rectangular array of values (labels=
    names, or (row names, column names)); self_matrix says whether its rows
    and columns are the same inputs (default: square and symmetric);
    scale_label what the colours show (default "value").
    path: also save to .svg/.png.  ax: draw into this matplotlib Axes
    instead (returns it)."""
    if isinstance(result, dict) and "layers_a" in result:
        # simrep.torch.compare_models: layers of model a (rows) x model b (columns).
        m = _measure(result, measure)
        na = result["names"][0].split(":", 1)[0] if result.get("names") else "a"
        nb = result["names"][-1].split(":", 1)[0] if result.get("names") else "b"
        info = _info(m)
        return heatmap(np.asarray(result["measures"][m]["similarity"]), cluster=False, range=range,
                       labels=(result["layers_a"], result["layers_b"]), self_matrix=False,
                       scale_label="%s similarity" % m, title=title if title is not None else
                       _title(m, "similarity by layer, %s (rows) vs %s (columns)" % (na, nb), None, 0,
                              result.get("n")),
                       subtitle=subtitle if subtitle is not None else
                       ("%s; layers in the order given" % info["title"] if info else None), path=path, ax=ax)
    lo, hi = _range(range)
    keep = _Keep()
    spec = _native.Heatmap()
    _lib.simrep_heatmap_init(ctypes.byref(spec))
    link = None
    c = None
    if isinstance(result, dict):
        m = _measure(result, measure)
        vals = np.ascontiguousarray(result["measures"][m]["similarity"], dtype=np.float64)
        K = vals.shape[0]
        rl = cl = list(result["names"])
        info = _info(m)
        spec.title = _b(title if title is not None else
                        _title(m, "similarity", result.get("layer"), K, result.get("n")))
        order = "rows ordered by average-linkage clustering of the distance" if cluster else "inputs in order"
        spec.subtitle = _b(subtitle if subtitle is not None else
                           "%s; %s (%s)" % (info["title"], order, info["distance"]) if info else order)
        spec.scale_label = _b("%s similarity" % m)
        is_self = True
        gnames, gidx = _group_index(result.get("groups"))
        if gnames is not None:
            spec.row_group = keep.ints(gidx)
            spec.group_names = keep.strs(gnames)
            spec.ngroups = len(gnames)
        if cluster:
            c = result.get("clustering", {}).get(m)
            if c is None:
                from ._matrix import cluster as _cluster
                c = _cluster(result["measures"][m]["distance"])
            link = _linkage(c, K, keep)
            spec.tree = ctypes.pointer(link)
            keep.refs.append(spec.tree)
    else:
        vals = np.ascontiguousarray(result, dtype=np.float64)
        if vals.ndim != 2:
            raise InvalidArgument("heatmap takes a simrep.matrix result or a 2-D array (got %d-D)" % vals.ndim)
        R, C = vals.shape
        if labels is None:
            rl = [str(i + 1) for i in builtins_range(R)]
            cl = [str(j + 1) for j in builtins_range(C)]
        elif len(labels) == 2 and not isinstance(labels[0], str):
            rl, cl = list(labels[0]), list(labels[1])
        else:
            rl = cl = list(labels)
        if len(rl) != R or len(cl) != C:
            raise InvalidArgument("labels: %d row and %d column names for a %d x %d matrix" % (len(rl), len(cl), R, C))
        is_self = self_matrix if self_matrix is not None else (R == C and np.allclose(vals, vals.T, equal_nan=True))
        spec.title, spec.subtitle = _b(title), _b(subtitle)
        spec.scale_label = _b(scale_label or "value")
        if cluster and is_self:
            from ._matrix import cluster as _cluster
            c = _cluster(1 - vals)
            link = _linkage(c, R, keep)
            spec.tree = ctypes.pointer(link)
            keep.refs.append(spec.tree)
    spec.rows, spec.cols = vals.shape
    spec.values = keep.doubles(vals)
    spec.ld = vals.shape[1]
    spec.row_labels = keep.strs(rl)
    spec.col_labels = keep.strs(cl)
    spec.self = int(bool(is_self))
    spec.lo, spec.hi = lo, hi
    fig = _draw("heatmap", _lib.simrep_plot_heatmap, spec)
    if path is not None:
        fig.save(path)
    if ax is not None:
        order = [int(link.order[k]) for k in builtins_range(vals.shape[0])] if link is not None else None
        gnames, gidx = _group_index(result.get("groups")) if isinstance(result, dict) else (None, None)
        return _mpl_heatmap(ax, fig, vals, rl, cl, order, bool(is_self), gidx, gnames, c)
    return fig


builtins_range = range


def _linkage(c, K, keep):
    if len(c["order"]) != K or len(c["merges"]) != K - 1:
        raise InvalidArgument("clustering of %d leaves for %d inputs" % (len(c["order"]), K))
    link = _native.Linkage()
    link.leaves = K
    link.left = keep.ints([mg[0] for mg in c["merges"]] or [0], ctypes.c_int64)
    link.right = keep.ints([mg[1] for mg in c["merges"]] or [0], ctypes.c_int64)
    link.size = keep.ints([mg[3] for mg in c["merges"]] or [0], ctypes.c_int64)
    link.height = keep.doubles([mg[2] for mg in c["merges"]] or [0.0])
    link.order = keep.ints(c["order"], ctypes.c_int64)
    keep.refs.append(link)
    return link


# ----------------------------------------------------------------- MDS

def mds(result, measure=None, *, title=None, subtitle=None, path=None, ax=None):
    """The classical MDS map of a simrep.matrix result's distance (equal
    units on both axes), points coloured by group and labelled without
    overlap (or numbered with a key when the names cannot all be placed)."""
    m = _measure(result, measure)
    mm = result.get("mds", {}).get(m)
    if mm is None:
        from ._matrix import mds as _mds
        mm = _mds(result["measures"][m]["distance"])
    xy = np.asarray(mm["coords"], dtype=np.float64)
    ev = list(mm["eigenvalues"])
    K = xy.shape[0]
    keep = _Keep()
    spec = _native.Scatter()
    _lib.simrep_scatter_init(ctypes.byref(spec))
    pos = max(ev[0], 0) + max(ev[1], 0)
    spec.title = _b(title if title is not None else _title(m, "MDS map", result.get("layer"), K,
                                                                    result.get("n")))
    spec.subtitle = _b(subtitle if subtitle is not None else
                       "classical (Torgerson) scaling of the %s distance; eigenvalues %.3g and %.3g; equal units "
                       "on both axes" % (m, ev[0], ev[1]))
    spec.xlabel = _b("MDS axis 1 (%.0f%% of the two)" % (100 * max(ev[0], 0) / pos if pos > 0 else 0))
    spec.ylabel = _b("MDS axis 2 (%.0f%% of the two)" % (100 * max(ev[1], 0) / pos if pos > 0 else 0))
    spec.n = K
    spec.x = keep.doubles(xy[:, 0])
    spec.y = keep.doubles(xy[:, 1])
    spec.labels = keep.strs(result["names"])
    gnames, gidx = _group_index(result.get("groups"))
    if gnames is not None:
        spec.group = keep.ints(gidx)
        spec.group_names = keep.strs(gnames)
        spec.ngroups = len(gnames)
    spec.equal_aspect = 1
    fig = _draw("mds", _lib.simrep_plot_scatter, spec)
    if path is not None:
        fig.save(path)
    if ax is not None:
        return _mpl_scatter(ax, fig, xy, result["names"], gidx, gnames)
    return fig


# ---------------------------------------------------------------- bars

def bars(labels, values, *, err_lo=None, err_hi=None, err_label=None, colours=None, notes=None, points=None,
         title=None, subtitle=None, ylabel=None, path=None, ax=None):
    """Bars with optional error bars (given by their ends: asymmetric
    intervals as they are; NaN: none for that bar), dots for the values
    behind each bar, and a note above each (a p-value): the renderer's bar
    chart for any data."""
    n = len(values)
    if len(labels) != n:
        raise InvalidArgument("%d labels for %d values" % (len(labels), n))
    keep = _Keep()
    spec = _native.Bars()
    _lib.simrep_bars_init(ctypes.byref(spec))
    spec.title, spec.subtitle, spec.ylabel = _b(title), _b(subtitle), _b(ylabel)
    spec.n = n
    spec.labels = keep.strs(labels)
    spec.value = keep.doubles(values)
    if (err_lo is None) != (err_hi is None):
        raise InvalidArgument("give both err_lo and err_hi (the ends of each error bar)")
    spec.err_lo, spec.err_hi = keep.doubles(err_lo), keep.doubles(err_hi)
    spec.err_label = _b(err_label)
    spec.colour = keep.ints([-1 if c is None else c for c in colours]) if colours is not None else None
    spec.note = keep.strs([x or "" for x in notes]) if notes is not None else None
    if points is not None:
        spec.points = keep.double_lists([p if p is not None and len(p) else None for p in points])
        spec.npoints = keep.ints([len(p) if p is not None else 0 for p in points], ctypes.c_int64)
    fig = _draw("bars", _lib.simrep_plot_bars, spec)
    if path is not None:
        fig.save(path)
    if ax is not None:
        return _mpl_bars(ax, fig, labels, values, err_lo, err_hi, colours, notes, points, ylabel)
    return fig


def _fmt_p(p):
    return "p < 0.001" if p < 0.001 else "p = %.3f" % p if p < 0.1 else "p = %.2f" % p


def groups(result, measure=None, *, title=None, subtitle=None, path=None, ax=None):
    """Within- and between-group distances of a simrep.matrix result: the
    mean over pairs per bar (group colour; grey between groups), error bars
    (the group summary's bootstrap interval when simrep.matrix was given
    bootstrap=, else one standard deviation of the pairs), every pair as a
    dot, and above each between-group bar the p-value of its group test
    (permutations=)."""
    m = _measure(result, measure)
    gs = result["group_summary"][m]
    names, grp = result["names"], result["groups"]
    dist = np.asarray(result["measures"][m]["distance"])
    order = list(dict.fromkeys(grp))
    K = len(names)
    labels, vals, lo, hi, cols, pts, notes = [], [], [], [], [], [], []
    has_ci = "within_ci" in gs or "between_ci" in gs
    for part in ("within", "between"):
        for key, mean in gs[part].items():
            if part == "within":
                a = b = key
                labels.append("within %s (%d)" % (key, gs["within_pairs"][key]))
                cols.append(order.index(key))
            else:
                a, b = _split_pair(key, order)
                labels.append("%s vs %s (%d)" % (a, b, gs["between_pairs"][key]))
                cols.append(-1)
            vals.append(mean)
            if has_ci:  # one kind of error bar per figure: none where a group has no interval
                ci = gs.get(part + "_ci", {}).get(key) or [None, None]
                lo.append(math.nan if ci[0] is None else ci[0])
                hi.append(math.nan if ci[1] is None else ci[1])
            else:
                sd = gs[part + "_std"][key]
                pairs = gs[part + "_pairs"][key]
                lo.append(mean - sd if pairs > 1 else math.nan)
                hi.append(mean + sd if pairs > 1 else math.nan)
            # The group test of a pair of groups (between - within, label
            # permutations) belongs to its between bar.
            test = gs.get("tests", {}).get(key) if part == "between" else None
            p = test.get("p") if test else None
            notes.append(_fmt_p(p) if p is not None else "")
            pts.append([dist[i, j] for i in builtins_range(K) for j in builtins_range(i + 1, K)
                        if (grp[i] == a and grp[j] == b) or (grp[i] == b and grp[j] == a)])
    if not vals:
        raise InvalidArgument("this result has no group summary to draw (give groups= to simrep.matrix)")
    st = gs.get("statistics") or result.get("statistics") or {}
    err_label = ("%g%% interval of the mean over the inputs (%s resamples)"
                 % (100 * st.get("level", 0.95), st.get("bootstrap", "B")) if has_ci else
                 "mean \u00b1 one standard deviation of the pairs")
    all_test = gs.get("tests", {}).get("all")
    if subtitle is None and all_test and all_test.get("p") is not None:
        subtitle = ("mean %s distance over the pairs of inputs (how many in brackets); grey: between groups; "
                    "p: between - within, %d label permutations (all groups: %s)"
                    % (m, all_test.get("permutations", 0), _fmt_p(all_test["p"])))
    return bars(labels, vals, err_lo=lo, err_hi=hi, err_label=err_label, colours=cols, notes=notes, points=pts,
                title=title if title is not None else _title(
                    m, "distance within and between groups", result.get("layer"), K, result.get("n")),
                subtitle=subtitle if subtitle is not None else
                "mean %s distance over the pairs of inputs (how many in brackets); grey: between groups" % m,
                ylabel="%s distance" % m, path=path, ax=ax)


def _split_pair(key, order):
    """"g1|g2" back into its groups (group names may hold '|')."""
    for a in order:
        if key.startswith(a + "|") and key[len(a) + 1:] in order:
            return a, key[len(a) + 1:]
    return tuple(key.split("|", 1))


# -------------------------------------------------------------- curves

def curves(data, measure=None, *, title=None, subtitle=None, xlabel=None, ylabel=None, path=None, ax=None):
    """Curves: a simrep.matrix result with steps (training dynamics: each
    layer's distance to its last step; colour = layer, dashes = group), a
    simrep.compare result with sequence="per-step" (each measure's
    similarity per time step), or {name: (x, y)} / {name: y}."""
    series, xl, yl, ttl, sub, dash, colour, zero = [], "x", "y", title, subtitle, None, None, False
    attr = None  # (colour names, dash names) for a legend by attribute
    if isinstance(data, dict) and "training" in data:
        m = _measure(data, measure)
        rows = data["training"]
        gorder = list(dict.fromkeys(r["group"] for r in rows))
        lorder = list(dict.fromkeys(r["layer"] for r in rows))
        keyed = {}
        for r in rows:
            keyed.setdefault((r["group"], r["layer"]), []).append((r["step"], r["distance"][m]))
        multi = len(gorder) > 1 and gorder != [""]
        dash, colour = [], []
        for (g, layer), pts in keyed.items():
            series.append((("%s / %s" % (g, layer or "input")) if multi else (layer or "input"),
                           [p[0] for p in pts], [p[1] for p in pts]))
            colour.append(lorder.index(layer))
            dash.append(gorder.index(g) if multi else 0)
        xl, yl, zero = "step", "%s distance to final" % m, True
        if multi and lorder != [""]:
            attr = (lorder, gorder)
        if ttl is None:
            ttl = _title(m, "distance to the last step", data.get("layer"), len(data["names"]),
                                     data.get("n"))
        if sub is None:
            sub = ("each layer at each step against the same layer at its last step (lower = closer to its final "
                   "representation)")
    elif isinstance(data, dict) and data and all(isinstance(v, dict) and "per_step" in v for v in data.values()):
        ms = [measure] if measure is not None else list(data)
        for mid in ms:
            y = data[mid]["per_step"]
            series.append((mid, list(builtins_range(len(y))), y))
        xl, yl = "time step", "similarity"
        if ttl is None:
            ttl = "similarity per time step"
        if sub is None:
            sub = "each step's representations compared on their own (sequence='per-step')"
    elif isinstance(data, dict):
        for name, v in data.items():
            if isinstance(v, (tuple, list)) and len(v) == 2 and np.ndim(v[0]) == 1:
                series.append((str(name), list(v[0]), list(v[1])))
            else:
                series.append((str(name), list(builtins_range(len(v))), list(v)))
    else:
        raise InvalidArgument("curves takes a simrep.matrix result with steps, a per-step simrep.compare result, "
                              "or {name: (x, y)}")
    if not series:
        raise InvalidArgument("nothing to draw")
    xl, yl = xlabel or xl, ylabel or yl
    keep = _Keep()
    spec = _native.Lines()
    _lib.simrep_lines_init(ctypes.byref(spec))
    spec.title, spec.subtitle, spec.xlabel, spec.ylabel = _b(ttl), _b(sub), _b(xl), _b(yl)
    spec.nseries = len(series)
    spec.names = keep.strs([s[0] for s in series])
    spec.npoints = keep.ints([len(s[1]) for s in series], ctypes.c_int64)
    for s in series:
        if len(s[1]) != len(s[2]):
            raise InvalidArgument("series %r has %d x and %d y values" % (s[0], len(s[1]), len(s[2])))
    spec.x = keep.double_lists([s[1] for s in series])
    spec.y = keep.double_lists([s[2] for s in series])
    spec.colour = keep.ints(colour) if colour is not None else None
    spec.dash = keep.ints(dash) if dash is not None else None
    spec.y_from_zero = int(zero)
    if attr is not None:
        spec.colour_names, spec.ncolours = keep.strs(attr[0]), len(attr[0])
        spec.dash_names, spec.ndashes = keep.strs(attr[1]), len(attr[1])
    fig = _draw("lines", _lib.simrep_plot_lines, spec)
    if path is not None:
        fig.save(path)
    if ax is not None:
        return _mpl_lines(ax, fig, series, colour, dash, xl, yl)
    return fig


# --------------------------------------------------------------- depth

def depth(result, measure=None, pair=None, *, range=None, title=None, path=None, ax=None):
    """The layer x layer similarity of two groups (result["depth"], from
    simrep.matrix with layers= and two or more groups); pair is "g1|g2"
    (default: the first)."""
    m = _measure(result, measure)
    if "depth" not in result:
        raise InvalidArgument("this result has no depth view (give layers= and two or more groups)")
    d = result["depth"][m]
    pair = pair or next(iter(d))
    if pair not in d:
        raise InvalidArgument("no depth matrix %r (there are %s)" % (pair, ", ".join(d)))
    a, b = _split_pair(pair, list(dict.fromkeys(result["groups"])))
    v = d[pair]
    what = "similarity by layer, %s (rows) vs %s (columns)" % (a, b)
    info = _info(m)
    fig = heatmap(np.asarray(v["similarity"]), cluster=False, range=range, labels=(v["rows"], v["cols"]),
                  self_matrix=False, scale_label="%s similarity" % m,
                  title=title if title is not None else _title(m, what, None, 0, result.get("n")),
                  subtitle="%s; layers in order" % info["title"] if info else None, path=path, ax=ax)
    return fig


# ---------------------------------------------------------- matplotlib

_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
_DASHES = ["-", "--", ":", "-."]


def _colour(g):
    return "#999999" if g is None or g < 0 else _PALETTE[g % 8]


def _mpl_heatmap(ax, fig, vals, rl, cl, order, is_self, gidx, gnames, clustering):
    plt = _mpl()
    R, C = vals.shape
    ro = order if order is not None else list(builtins_range(R))
    co = order if order is not None and is_self else list(builtins_range(C))
    shown = np.array(vals, dtype=np.float64)[np.ix_(ro, co)]
    mask = np.zeros_like(shown, dtype=bool)
    if is_self:
        mask[np.diag_indices(R)] = True
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("#d9d9d9")
    im = ax.imshow(np.ma.masked_array(shown, mask), cmap=cmap, vmin=fig.lo, vmax=fig.hi, interpolation="nearest",
                   aspect="equal")
    # Cell values at the renderer's decimals, when the cells are big enough
    # on this Axes to hold them.
    bbox = ax.get_window_extent()
    cell_pt = min(bbox.width / C, bbox.height / R) * 72.0 / ax.figure.dpi
    size = min(8.0, cell_pt * 0.28)
    if fig.decimals and size >= 4.5:
        for a in builtins_range(R):
            for c in builtins_range(C):
                v = shown[a, c]
                t = (v - fig.lo) / (fig.hi - fig.lo)
                colour = "#666666" if mask[a, c] else ("black" if t > 0.55 else "white")
                ax.text(c, a, "%.*f" % (fig.decimals, v), ha="center", va="center", fontsize=size, color=colour)
    ax.set_yticks(list(builtins_range(R)))
    ax.set_yticklabels([elide(rl[i]) for i in ro], fontsize=8)
    ax.set_xticks(list(builtins_range(C)))
    if fig.numbered:
        ax.set_xticklabels([str(k + 1) for k in builtins_range(C)], fontsize=7)
        ax.set_yticklabels(["%d  %s" % (k + 1, elide(rl[i])) for k, i in enumerate(ro)], fontsize=7)
    else:
        ax.set_xticklabels([elide(cl[j]) for j in co], fontsize=8, rotation=45, ha="right",
                           rotation_mode="anchor")
    ax.yaxis.tick_right()
    # The colour bar above the matrix (the row labels take the right side),
    # its ends at the renderer's limits.
    cb = ax.figure.colorbar(im, ax=ax, location="top", fraction=0.035, pad=0.02,
                            ticks=[fig.lo] + _nice(fig.lo, fig.hi) + [fig.hi])
    cb.ax.tick_params(labelsize=7)
    cb.ax.set_xticklabels(["%.*f" % (max(fig.decimals, 2), t) for t in cb.get_ticks()])
    if gidx is not None:
        for a, i in enumerate(ro):
            ax.add_patch(plt.Rectangle((-0.9, a - 0.5), 0.3, 1, color=_colour(gidx[i]), clip_on=False))
    if clustering is not None and R > 1:
        _mpl_dendrogram(ax, clustering, R)
    return ax


def _nice(lo, hi):
    span = hi - lo
    step = 10 ** math.floor(math.log10(span / 5))
    for f in (1, 2, 5, 10):
        if span / (step * f) <= 6:
            step *= f
            break
    t = math.ceil(lo / step) * step
    out = []
    while t <= hi:
        if abs(t - lo) > 0.12 * span and abs(t - hi) > 0.12 * span:
            out.append(t)
        t += step
    return out


def _mpl_dendrogram(ax, c, K):
    """The dendrogram in an inset at the left of the heatmap, leaves on its rows."""
    ins = ax.inset_axes([-0.32, 0, 0.22, 1])
    pos, hgt = {}, {}
    for k, leaf in enumerate(c["order"]):
        pos[leaf], hgt[leaf] = k, 0.0
    for m, (l, r, h, _) in enumerate(c["merges"]):
        pos[K + m] = (pos[l] + pos[r]) / 2
        hgt[K + m] = h
        ins.plot([hgt[l], h, h, hgt[r]], [pos[l], pos[l], pos[r], pos[r]], color="#333333", lw=0.8)
    ins.set_ylim(K - 0.5, -0.5)
    ins.set_xlim(max(hgt.values()) * 1.02 or 1, 0)
    ins.axis("off")


def _mpl_scatter(ax, fig, xy, names, gidx, gnames):
    import re
    cols = [_colour(g) for g in gidx] if gidx is not None else [_colour(0)] * len(names)
    ax.scatter(xy[:, 0], xy[:, 1], c=cols, s=36, edgecolors="white", linewidths=0.8, zorder=3)
    # The renderer's label placement, carried over as offsets in points (its
    # canvas px are 0.75 pt): the same side of each point, the same leaders.
    pts = [(float(x), float(y)) for x, y in re.findall(r'<circle class="point" cx="([-\d.]+)" cy="([-\d.]+)"',
                                                        fig.svg)]
    for i, x0, y0, x1, y1 in re.findall(r'class="point-label" fill="#222" data-point="(\d+)" '
                                        r'data-box="([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+)"', fig.svg):
        i = int(i)
        x0, y0, x1, y1 = float(x0), float(y0), float(x1), float(y1)
        text = str(i + 1) if fig.numbered else elide(names[i])
        dx, dy = (x0 + x1) / 2 - pts[i][0], (y0 + y1) / 2 - pts[i][1]
        far = math.hypot(dx, dy) > 14 + (x1 - x0) / 2
        ax.annotate(text, xy=(xy[i, 0], xy[i, 1]), xytext=(dx * 0.75, -dy * 0.75), textcoords="offset points",
                    ha="center", va="center", fontsize=7,
                    arrowprops=dict(arrowstyle="-", color="#999999", lw=0.6) if far else None)
    ax.set_aspect("equal", adjustable="datalim")
    if gnames is not None:
        for g, nm in enumerate(gnames):
            ax.scatter([], [], c=_colour(g), label=elide(nm))
        ax.legend(fontsize=7, frameon=False, loc="best")
    return ax


def _mpl_bars(ax, fig, labels, values, err_lo, err_hi, colours, notes, points, ylabel):
    n = len(values)
    x = np.arange(n)
    cols = [_colour(c) for c in colours] if colours is not None else [_colour(-1)] * n
    ax.bar(x, values, width=0.62, color=cols, zorder=2)
    if err_lo is not None:
        lo, hi = np.asarray(err_lo, float), np.asarray(err_hi, float)
        ok = np.isfinite(lo) & np.isfinite(hi)
        v = np.asarray(values, float)
        ax.errorbar(x[ok], v[ok], yerr=[v[ok] - lo[ok], hi[ok] - v[ok]], fmt="none", ecolor="#111111", capsize=4,
                    zorder=4)
    if points is not None:
        for i, p in enumerate(points):
            if p is None or not len(p):
                continue
            u = (0.5 + np.arange(len(p)) * 0.6180339887498949) % 1.0 if len(p) > 1 else np.array([0.5])
            ax.scatter(i + (u - 0.5) * 0.62 * 0.6, p, s=6, color="#222222", alpha=0.55, zorder=3, linewidths=0)
    if notes is not None:
        for i, t in enumerate(notes):
            if t:
                top = max([values[i]] + ([err_hi[i]] if err_hi is not None and math.isfinite(err_hi[i]) else []))
                ax.annotate(t, (i, top), xytext=(0, 4), textcoords="offset points", ha="center", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([textwrap.fill(elide(s, 84), 14) for s in labels], fontsize=7)
    ax.set_ylim(fig.lo, fig.hi)
    if ylabel:
        ax.set_ylabel(ylabel)
    return ax


def _mpl_lines(ax, fig, series, colour, dash, xl, yl):
    for k, (name, xs, ys) in enumerate(series):
        ax.plot(xs, ys, marker="o", ms=3, lw=1.6, label=elide(name),
                color=_colour(colour[k] if colour is not None else k),
                linestyle=_DASHES[(dash[k] if dash is not None else 0) % 4])
    ax.set_xlabel(xl)
    ax.set_ylabel(yl)
    ax.set_ylim(fig.lo, fig.hi)
    ax.legend(fontsize=7, frameon=False)
    return ax
