"""simrep.matrix: every pair of many representations, as `simrep matrix` does.

One pass over the samples feeds every input into one K-input simrep_moments
(simrep_moments_update_multi: a single joint product gives every pair's
cross terms), each input's own work (dead features, whitening) is done once
(simrep_pairs_prepare), and then each pair costs only its cross terms
(simrep_pairs_compare).  Inputs are numpy arrays / torch tensors read in
place, or path specs ("a.npy", "b.npz:key", "c.safetensors:name") streamed
block by block through the library's file readers, so memory stays at the
joint state ((sum of features)^2 doubles) plus one block.

The result has the structure of the CLI's matrix JSON with numpy arrays for
the matrices; the group summary uses the same definitions (means and
sample standard deviations of the distance over pairs within a group of at
least two inputs, and over pairs with one input in each of two groups).
cka_rbf needs the rows themselves: for it, each input is also held as
float64 (O(n p) each), as the CLI does.

The analyses the CLI adds are computed by the same library calls: the
average-linkage clustering (simrep_cluster_average) and classical MDS
(simrep_mds) of each distance, the training-dynamics and depth views by the
CLI's rules (given layers= and steps=), and the CLI's warnings (the
library's texts, simrep_warning_text).  simrep.plot draws any of it with the
CLI's renderer.
"""

import ctypes
import os
import warnings

import numpy as np

from . import _arrays, _input, _native, _stats
from ._core import _BY_ID, _MEASURE_FAILURES, SimrepWarning, _measure_list, _options, _prepare_pairs
from ._errors import Context, Error, InvalidArgument

_lib = _native.lib

# Rows per block when streaming paths: about 4 Mi doubles across all inputs,
# as the CLI reads them.
_BLOCK_DOUBLES = 4 * 1024 * 1024


class _Input:
    """One input: a 2-D array or tensor read in place as a matrix view, or
    (a path spec, or any input when a layout option is given) a
    simrep_input read through the library's layouts (_input: conv maps,
    sequences and token masks as the CLI reads them)."""

    def __init__(self, ctx, item, name, lay, features_first, layered):
        self.name = name
        self.inp = None
        self.keep = None
        if layered or _input.is_path(item):
            self.inp = _input.Input(ctx, item, name, lay)
        else:
            self.view, self.keep = _arrays.matrix(item, name, features_first)
        self.settle()

    def settle(self):
        """Take the sizes (again, after simrep_inputs_agree)."""
        src = self.inp if self.inp is not None else None
        self.rows = src.rows if src is not None else int(self.view.rows)
        self.cols = src.cols if src is not None else int(self.view.cols)

    def block(self, ctx, r0, rows):
        """A view of rows [r0, r0 + rows) (valid until the next call)."""
        if self.inp is not None:
            return self.inp.read(ctx, r0, rows)[0]
        v = _native.Matrix.from_buffer_copy(self.view)
        item = _native.lib.simrep_dtype_size(v.dtype)
        v.data = (v.data or 0) + r0 * v.row_stride * item
        v.rows = rows
        return v

    def close(self, ctx):
        if self.inp is not None:
            self.inp.close(ctx)
            self.inp = None


def _group_summary(dist, groups, order):
    """{"within": {g: mean}, "between": {"g1|g2": mean}, "*_std", "*_pairs"}."""
    K = len(groups)
    out = {k: {} for k in ("within", "within_std", "within_pairs", "between", "between_std", "between_pairs")}
    for a_i, a in enumerate(order):
        for b in order[a_i:]:
            vals = [dist[i, j] for i in range(K) for j in range(i + 1, K)
                    if (groups[i] == a and groups[j] == b) or (groups[i] == b and groups[j] == a)]
            if not vals:
                continue
            key, part = (a, "within") if a == b else ("%s|%s" % (a, b), "between")
            out[part][key] = float(np.mean(vals))
            out[part + "_std"][key] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
            out[part + "_pairs"][key] = len(vals)
    return out


def _put_pair(sim, dist, i, j, r, info):
    """Pair (i, j)'s result into the matrices: mirrored, or for an
    asymmetric measure (its outputs include "reverse") (j, i) its own."""
    sim[i, j] = sim[j, i] = r.similarity
    dist[i, j] = dist[j, i] = r.distance
    if info["_outputs"] & _native.OUT_REVERSE:
        sim[j, i], dist[j, i] = r.reverse, r.reverse_distance


def pairs_matrix(ctx, moments, names, linear, buf, warn_out=None, labels=None, errors_out=None):
    """Every pair's linear measures from a K-input simrep_moments (the
    per-input work done once by simrep_pairs_prepare): ({id: K x K
    similarity}, {id: K x K distance}, {name: features kept, from the
    measures that report kept features}); diagonals 1 and 0.  warn_out (a
    dict), if given, receives {name: SIMREP_WARN_FEW_SAMPLES |
    SIMREP_WARN_DEAD_FEATURES | SIMREP_WARN_ROUNDING | SIMREP_WARN_RIDGE
    flags} from the pairs it was in, as the CLI collects them, and
    {(name, "counts"): (kept, rank, shrunk)}.  labels: how messages name
    the inputs (default names): an input's failure "<label>: ...", a
    pair's "<label i> and <label j>: ...".  errors_out (a dict), if given:
    a measure undefined for the data (an input's or a pair's LAPACK
    failure, a degenerate side) fails alone, as in the CLI: its first error
    goes to errors_out[id] and it is left out of the matrices; the others
    are computed.  Without it the first failure is raised."""
    K = len(names)
    labels = labels or names
    sim = {m: np.eye(K) for m in linear}
    dist = {m: np.zeros((K, K)) for m in linear}
    kept = {}
    if not linear:
        return sim, dist, kept
    live = list(linear)

    def failed(m, e):
        if errors_out is None or e.status not in _MEASURE_FAILURES:
            raise e
        errors_out.setdefault(m, e)
        if m in live:
            live.remove(m)

    with ctx.named(labels):  # an input's preparation failing names it
        try:
            pairs = _prepare_pairs(ctx, moments, buf, live)
        except Error as e:
            if errors_out is None or e.status not in _MEASURE_FAILURES:
                raise
            for m in list(live):  # which measures need what failed
                try:
                    _lib.simrep_pairs_free(ctx.ptr, _prepare_pairs(ctx, moments, buf, [m]))
                except Error as e1:
                    failed(m, e1)
            pairs = _prepare_pairs(ctx, moments, buf, live) if live else None
    try:
        for i in range(K):
            for j in range(i + 1, K):
                todo = [list(live)]
                while todo and todo[0]:
                    ms = todo.pop(0)
                    results = (_native.Result * len(ms))()
                    codes = (ctypes.c_int * len(ms))(*[_BY_ID[m][0] for m in ms])
                    with ctx.named(labels):  # messages name the pair's inputs
                        st = _lib.simrep_pairs_compare(ctx.ptr, pairs, i, j, codes, len(ms), results)
                    try:
                        ctx.check(st, (labels[i], labels[j]))
                    except Error as e:
                        if len(ms) > 1 and errors_out is not None and e.status in _MEASURE_FAILURES:
                            todo = [[m] for m in ms]  # each on its own
                        else:
                            failed(ms[0], e)
                        continue
                    try:
                        for c, m in enumerate(ms):
                            _pair_result(sim[m], dist[m], kept, warn_out, names, i, j, results[c], m)
                    finally:
                        for c in range(len(ms)):
                            _lib.simrep_result_clear(ctx.ptr, ctypes.byref(results[c]))
    finally:
        if pairs is not None:
            _lib.simrep_pairs_free(ctx.ptr, pairs)
    for m in linear:
        if m not in live:
            del sim[m], dist[m]
    return sim, dist, kept


def _pair_result(sim, dist, kept, warn_out, names, i, j, r, m):
    """Pair (i, j)'s result r of measure m into its matrices, the kept
    counts and warn_out (see pairs_matrix)."""
    _put_pair(sim, dist, i, j, r, _BY_ID[m][1])
    if _BY_ID[m][1]["_outputs"] & _native.OUT_KEPT:
        kept[names[i]], kept[names[j]] = int(r.kept_p), int(r.kept_q)
    w = r.warnings
    if warn_out is not None:  # every measure's
        for nm in (names[i], names[j]):
            warn_out[nm] = warn_out.get(nm, 0) | (w & _native.WARN_LAYOUT)
    if warn_out is not None and _BY_ID[m][1]["_outputs"] & _native.OUT_KEPT:
        for nm, side, counts in ((names[i], 0, (r.kept_p, r.rank_p, r.shrunk_p)),
                                 (names[j], 1, (r.kept_q, r.rank_q, r.shrunk_q))):
            warn_out[nm] = warn_out.get(nm, 0) | _native.lib.simrep_warnings_of_side(w, side)
            warn_out[(nm, "counts")] = tuple(int(v) for v in counts)


def _group_stats(summary, dist, groups, order, permutations, bootstrap, ci, seed):
    """The keys `simrep matrix --permutations/--bootstrap` adds to a
    measure's group summary (cli/matrix_stats.c), from simrep_group_tests."""
    if not order or not (permutations or bootstrap):
        return
    labels = [order.index(g) for g in groups]
    tests, wci, bci = _stats.group_tests(dist, labels, len(order), permutations, bootstrap, ci, seed)

    def num(v):
        return float(v) if np.isfinite(v) else None

    if bootstrap:
        summary["within_ci"] = {g: [num(wci[a, 0]), num(wci[a, 1])] for a, g in enumerate(order)}
        summary["between_ci"] = {"%s|%s" % (order[a], order[b]): [num(bci[a, b, 0]), num(bci[a, b, 1])]
                                 for a in range(len(order)) for b in range(a + 1, len(order))}
    if permutations:
        summary["tests"] = {}
        for t in tests:
            key = "all" if t["a"] < 0 else "%s|%s" % (order[t["a"]], order[t["b"]])
            e = {"within": num(t["within"]), "between": num(t["between"]), "statistic": num(t["statistic"])}
            if t["permutations"] > 0:
                e.update(p=num(t["p"]), null_mean=num(t["null_mean"]), null_sd=num(t["null_sd"]))
            else:
                e["p"] = None
            e["permutations"] = t["permutations"]
            summary["tests"][key] = e
    summary["statistics"] = {"permutations": int(permutations), "bootstrap": int(bootstrap), "seed": int(seed),
                             "level": float(ci)}


def matrix_result(n, names, groups, kept, ids, sim, dist, permutations=0, bootstrap=0, ci=0.95, seed=0):
    """The dict simrep.matrix returns (the CLI's matrix JSON shape); with
    permutations or bootstrap, the group tests of simrep_group_tests too."""
    order = list(dict.fromkeys(groups))
    summaries = {m: _group_summary(dist[m], groups, order) for m in ids}
    for m in ids:
        _group_stats(summaries[m], dist[m], groups, order, permutations, bootstrap, ci, seed)
    return {
        "n": n,
        "names": names,
        "groups": groups,
        "kept": kept,
        "measures": {m: {"similarity": sim[m], "distance": dist[m]} for m in ids},
        "group_summary": summaries,
    }


def matrix(inputs, names=None, groups=None, measures=None, *, layers=None, steps=None, against_final=False,
           features_first=False, conv=None, conv_mode=None, resize=None, sequence=None, mask=None, warn=True,
           permutations=None, bootstrap=None, seed=None, ci=None, **options):
    """Every pair of K >= 2 representations of the same n samples.

    inputs: a list of arrays / tensors (n x p_k, or p_k x n with
    features_first) or path specs ("a.npy", "b.npz:key",
    "c.safetensors:name"), or a dict {name: array_or_path}.
    names, groups: one string per input (default names "0", "1", ...; default
    group "" for every input).  measures and options as simrep.compare.
    conv ("nhwc"/"nchw") with conv_mode ("positions", "pool", "flatten") and
    resize apply to 4-D inputs, sequence ("flatten", "first", "last",
    "mean") and mask (a token mask shared by every input) to 3-D ones, as
    the CLI's --conv/--conv-mode/--resize/--sequence/--mask (read through
    the library's layouts, files streamed, arrays in place).
    layers, steps: one per input, as the manifest's layer and step columns:
    with steps (and layers, or against_final=True) the result has the
    training-dynamics view, with layers and two or more groups the depth
    view, by the CLI's rules.

    Returns the structure of `simrep matrix --format json`: {"n", "names",
    "groups", "kept": {name: features kept},
    "measures": {id: {"similarity": K x K array, "distance": K x K array}},
    "group_summary": {id: {"within": {g: mean}, "between": {"g1|g2": mean},
    "within_std", "between_std", "within_pairs", "between_pairs"}},
    "clustering": {id: {"linkage": "average", "order": [...], "merges":
    [[left, right, height, size], ...]}}, "mds": {id: {"coords": K x 2 array,
    "eigenvalues": [l1, l2]}}, "warnings": [...]} plus "layers", "steps",
    "training" and "depth" when given or applicable, and "layer": the layer
    every input is from when that is known (figure titles).  Diagonals are
    similarity 1, distance 0; matrices are symmetric.  Warnings are also
    issued as SimrepWarning (warn=False silences them).

    permutations=K tests each pair of groups (between - within mean
    distance, p from K relabellings of the inputs) and adds "tests";
    bootstrap=B adds "within_ci" and "between_ci" (resampling the inputs of
    each group); seed and ci as simrep.compare.  The same numbers as the
    CLI's --permutations/--bootstrap/--seed/--ci (docs/statistics.md).
    """
    so = _stats.options(bootstrap, permutations, seed, ci, None, None, 1, None, None, None, warn=warn)
    if isinstance(inputs, dict):
        if names is not None:
            raise InvalidArgument("give names either as the dict's keys or as names=, not both")
        names = [str(k) for k in inputs]
        inputs = list(inputs.values())
    inputs = list(inputs)
    K = len(inputs)
    if K < 2:
        raise InvalidArgument("matrix needs at least 2 inputs (got %d)" % K)
    names = [str(i) for i in range(K)] if names is None else [str(s) for s in names]
    groups = [""] * K if groups is None else [str(g) for g in groups]
    if len(names) != K or len(groups) != K:
        raise InvalidArgument("%d inputs but %d names and %d groups" % (K, len(names), len(groups)))
    if len(set(names)) != K:
        raise InvalidArgument("input names must be distinct")
    if layers is not None:
        layers = [str(x) for x in layers]
        if len(layers) != K or not all(layers):
            raise InvalidArgument("layers= needs one non-empty name per input (%d inputs)" % K)
    if steps is not None:
        steps = [float(x) for x in steps]
        if len(steps) != K or not all(np.isfinite(steps)):
            raise InvalidArgument("steps= needs one finite number per input (%d inputs)" % K)
    if against_final and steps is None:
        raise InvalidArgument("against_final needs steps=")
    layered = any(v is not None for v in (conv, conv_mode, resize, sequence, mask))
    ids = _measure_list(measures)
    errors = {}  # {id: Error}: the measures undefined for these data
    buf, o = _options(**options)
    linear = [m for m in ids if _BY_ID[m][1]["family"] != "rows"]
    of_rows = [m for m in ids if _BY_ID[m][1]["family"] == "rows"]
    rbf = bool(of_rows)

    with Context() as ctx:
        ins = []
        msk = None
        moments = ctypes.c_void_p()
        try:
            if mask is not None:
                msk = _input.Mask(ctx, mask, "mask")
            lay = _input.layout(features_first, conv, conv_mode, resize, sequence, msk, per_step=False)
            for item, name in zip(inputs, names):
                ins.append(_Input(ctx, item, name, lay, features_first, layered))
            read = [inp.inp for inp in ins if inp.inp is not None]
            if read:  # the same N (and T, conv sizes), as the CLI checks
                _input.agree(ctx, read)
                for inp in ins:
                    inp.settle()
            n = ins[0].rows
            for inp in ins:
                if inp.rows != n:
                    raise InvalidArgument("%s has %d samples but %s has %d; every input needs the same samples%s"
                                          % (inp.name, inp.rows, ins[0].name, n,
                                             "" if inp.cols != ins[0].cols or layered else
                                             " (read as samples x features they would pair: leave out "
                                             "features_first=True if the arrays are samples x features)"
                                             if features_first else
                                             " (read as features x samples they would pair: pass "
                                             "features_first=True if the arrays are features x samples)"),
                                          _native.E_SHAPE)
                if inp.cols < 1:
                    raise InvalidArgument("%s has no features" % inp.name, _native.E_SHAPE)
            feats = (ctypes.c_int64 * K)(*[inp.cols for inp in ins])
            ctx.check(_lib.simrep_moments_new_multi(ctx.ptr, K, feats, ctypes.byref(moments)))
            ctx.check(_lib.simrep_moments_set_precision(ctx.ptr, moments, int(o.precision)))
            for k, inp in enumerate(ins):  # layouts read as float64: the stored dtype's rounding
                if inp.inp is not None:
                    ctx.check(_lib.simrep_moments_note_dtype(ctx.ptr, moments, k, inp.inp.dtype))
            rows_f64 = [np.empty((n, inp.cols)) for inp in ins] if rbf else None
            block = max(256, min(8192, _BLOCK_DOUBLES // int(sum(inp.cols for inp in ins))))
            views = (_native.Matrix * K)()
            for r0 in range(0, n, block):
                rows = min(block, n - r0)
                for k, inp in enumerate(ins):
                    views[k] = inp.block(ctx, r0, rows)
                    if rbf:
                        _lib.simrep_matrix_to_double(ctypes.byref(views[k]),
                                                     rows_f64[k][r0:r0 + rows].ctypes.data, inp.cols)
                with ctx.named(names):  # the library's messages name the inputs
                    ctx.check(_lib.simrep_moments_update_multi(ctx.ptr, moments, views))

            warn_flags = {}
            # Messages name an input given as a path by its name and path.
            labels = ["%s (%s)" % (nm, os.fsdecode(it)) if _input.is_path(it) and nm != os.fsdecode(it) else nm
                      for nm, it in zip(names, inputs)]
            # A measure undefined for the data fails alone (issue 10, item 8),
            # in "errors" as the CLI's JSON has it.
            out_sim, out_dist, kept_cca = pairs_matrix(ctx, moments, names, linear, buf, warn_flags, labels, errors)
            if errors and len(errors) == len(ids):
                raise next(iter(errors.values()))
            ids = [m for m in ids if m not in errors]
            out_sim.update({m: np.eye(K) for m in ids if m not in out_sim})
            out_dist.update({m: np.zeros((K, K)) for m in ids if m not in out_dist})
            kept = {name: inp.cols for name, inp in zip(names, ins)}
            kept.update(kept_cca)
            if of_rows:
                descs = [_arrays.describe(a, _native.F64) for a in rows_f64]
                codes = (ctypes.c_int * len(of_rows))(*[_BY_ID[m][0] for m in of_rows])
                results = (_native.Result * len(of_rows))()
                for i in range(K):
                    for j in range(i + 1, K):
                        with ctx.named((labels[i], labels[j])):
                            st = _lib.simrep_compare(ctx.ptr, ctypes.byref(descs[i][0]), ctypes.byref(descs[j][0]),
                                                     buf, codes, len(of_rows), results)
                        try:
                            ctx.check(st, (labels[i], labels[j]))
                            for c, m in enumerate(of_rows):
                                _put_pair(out_sim[m], out_dist[m], i, j, results[c], _BY_ID[m][1])
                                for nm in (names[i], names[j]):  # the layout hint: every measure's
                                    warn_flags[nm] = warn_flags.get(nm, 0) | (results[c].warnings
                                                                              & _native.WARN_LAYOUT)
                        finally:
                            for c in range(len(of_rows)):
                                _lib.simrep_result_clear(ctx.ptr, ctypes.byref(results[c]))
        finally:
            if moments:
                _lib.simrep_moments_free(ctx.ptr, moments)
            for inp in ins:
                inp.close(ctx)
            if msk is not None:
                msk.close(ctx)

    out = matrix_result(n, names, groups, kept, ids, out_sim, out_dist, so.permutations, so.bootstrap, so.ci,
                        so.seed)
    out.update(_views(out, ids, layers, steps, against_final))
    if features_first:  # features x samples already: the layout hint is for the other reading
        warn_flags = {nm: f & ~_native.WARN_LAYOUT if isinstance(nm, str) else f for nm, f in warn_flags.items()}
    out["warnings"] = _warnings(names, n, kept, {nm: inp.cols for nm, inp in zip(names, ins)}, warn_flags)
    out["layer"] = _common_layer(inputs, layers)
    if errors:
        out["errors"] = {m: str(e) for m, e in errors.items()}
    if layers is not None:
        out["layers"] = layers
    if steps is not None:
        out["steps"] = steps
    if warn:
        for w in out["warnings"]:
            warnings.warn(w, SimrepWarning, stacklevel=2)
        for m, e in errors.items():
            warnings.warn("%s is undefined for these data (the other measures are computed): %s" % (m, e),
                          SimrepWarning, stacklevel=2)
    return out


def cluster(dist):
    """Average-linkage (UPGMA) clustering of a K x K distance matrix by the
    library (the CLI's rule, see simrep_cluster_average in simrep.h):
    {"linkage": "average", "order": [K leaf indices], "merges": [[left,
    right, height, size]] in scipy's linkage convention}."""
    d = np.ascontiguousarray(dist, dtype=np.float64)
    K = d.shape[0]
    if d.ndim != 2 or d.shape[1] != K:
        raise InvalidArgument("cluster takes a square distance matrix (got shape %s)" % (d.shape,))
    link = _native.Linkage()
    with Context() as ctx:
        ctx.check(_lib.simrep_cluster_average(ctx.ptr, K, d.ctypes.data, K, ctypes.byref(link)))
        try:
            merges = [[int(link.left[m]), int(link.right[m]), float(link.height[m]), int(link.size[m])]
                      for m in range(K - 1)]
            order = [int(link.order[k]) for k in range(K)]
        finally:
            _lib.simrep_linkage_clear(ctx.ptr, ctypes.byref(link))
    return {"linkage": "average", "order": order, "merges": merges}


def mds(dist, dims=2):
    """Classical (Torgerson) MDS of a K x K distance matrix by the library
    (simrep_mds): {"coords": K x dims array, "eigenvalues": [dims values]}."""
    d = np.ascontiguousarray(dist, dtype=np.float64)
    K = d.shape[0]
    coords = np.zeros((K, dims))
    ev = np.zeros(dims)
    with Context() as ctx:
        ctx.check(_lib.simrep_mds(ctx.ptr, K, d.ctypes.data, K, dims, coords.ctypes.data, ev.ctypes.data))
    return {"coords": coords, "eigenvalues": [float(v) for v in ev]}


def _views(r, ids, layers, steps, against_final):
    """Clustering and MDS per measure; the training and depth views by the
    rules of cli/matrix.c (plan_views)."""
    out = {"clustering": {m: cluster(r["measures"][m]["distance"]) for m in ids},
           "mds": {m: mds(r["measures"][m]["distance"]) for m in ids}}
    names, groups, K = r["names"], r["groups"], len(r["names"])
    gorder = list(dict.fromkeys(groups))
    lorder = list(dict.fromkeys(layers)) if layers is not None else []
    g_of = [gorder.index(g) for g in groups]
    l_of = [lorder.index(x) for x in layers] if layers is not None else [-1] * K
    training = steps is not None and (layers is not None or against_final)
    depth = not training and layers is not None and len(gorder) >= 2
    if training:
        final = []
        for i in range(K):
            best = i
            for j in range(K):
                if j == i or g_of[j] != g_of[i] or l_of[j] != l_of[i]:
                    continue
                if steps[j] == steps[i]:
                    raise InvalidArgument("'%s' has the same group, layer and step as '%s'" % (names[i], names[j]))
                if steps[j] > steps[best]:
                    best = j
            final.append(best)
        rows = sorted(range(K), key=lambda i: (g_of[i], l_of[i], steps[i], i))
        out["training"] = [{
            "name": names[i], "group": groups[i], "layer": layers[i] if layers is not None else "",
            "step": steps[i], "final": names[final[i]],
            "distance": {m: float(r["measures"][m]["distance"][i, final[i]]) for m in ids},
            "similarity": {m: float(r["measures"][m]["similarity"][i, final[i]]) for m in ids}} for i in rows]
    if depth:
        seen = {}
        for i in range(K):
            key = (g_of[i], l_of[i])
            if key in seen:
                raise InvalidArgument("'%s' has the same group and layer as '%s'; a depth comparison needs one "
                                      "input per layer of each group" % (names[i], names[seen[key]]))
            seen[key] = i
        out["depth"] = {}
        for m in ids:
            out["depth"][m] = {}
            for a in range(len(gorder)):
                for b in range(a + 1, len(gorder)):
                    ra = [seen[(a, x)] for x in range(len(lorder)) if (a, x) in seen]
                    rb = [seen[(b, x)] for x in range(len(lorder)) if (b, x) in seen]
                    out["depth"][m]["%s|%s" % (gorder[a], gorder[b])] = {
                        "rows": [layers[i] for i in ra], "cols": [layers[j] for j in rb],
                        "distance": r["measures"][m]["distance"][np.ix_(ra, rb)],
                        "similarity": r["measures"][m]["similarity"][np.ix_(ra, rb)]}
    return out


def _warnings(names, n, kept, features, flags):
    """The CLI's matrix warnings (cli/matrix.c collect_warnings) from the
    pairs' warning flags, in the library's words (simrep_warning_text)."""
    text = lambda flag: _lib.simrep_warning_text(flag).decode()  # noqa: E731
    out = []
    # n <= an input's kept features (FEW_SAMPLES_RANK), then the others with n < 10 x theirs
    rank = [nm for nm in names if flags.get(nm, 0) & _native.WARN_FEW_SAMPLES_RANK]
    few = [nm for nm in names if flags.get(nm, 0) & _native.WARN_FEW_SAMPLES and nm not in rank]
    for group, flag in ((rank, _native.WARN_FEW_SAMPLES_RANK), (few, _native.WARN_FEW_SAMPLES)):
        if group:
            out.append("n = %d samples (the kept features of %d input%s: %s%s) %s"
                       % (n, len(group), "" if len(group) == 1 else "s", ", ".join(group[:4]),
                          ", ..." if len(group) > 4 else "", text(flag)))
    for nm in names:
        if flags.get(nm, 0) & _native.WARN_DEAD_FEATURES:
            out.append("%s: %d of %d %s" % (nm, features[nm] - kept[nm], features[nm], text(_native.WARN_DEAD_FEATURES)))
    for nm in names:
        k, rank, shrunk = flags.get((nm, "counts"), (0, 0, 0))
        if flags.get(nm, 0) & _native.WARN_ROUNDING:
            out.append("%s: %d of %d %s" % (nm, k - rank, k, text(_native.WARN_ROUNDING)))
        if flags.get(nm, 0) & _native.WARN_RIDGE:
            out.append("%s: %d of %d %s" % (nm, shrunk, k, text(_native.WARN_RIDGE)))
    wide = [nm for nm in names if flags.get(nm, 0) & _native.WARN_LAYOUT]
    if wide:
        out.append("%s%s: %d samples of more features each, in pairs of the same width: %s"
                   % (", ".join(wide[:4]), ", ..." if len(wide) > 4 else "", n, text(_native.WARN_LAYOUT)))
    return out


def _common_layer(inputs, layers):
    """The layer every input is from (figure titles): the one layers= value,
    or the array key every path names ("gen0.npz:relu2"); else None."""
    if layers is not None:
        return layers[0] if len(set(layers)) == 1 else None
    keys = set()
    for item in inputs:
        item = os.fsdecode(item) if _input.is_path(item) else None
        if item is None or ":" not in item.rsplit("/", 1)[-1]:
            return None
        keys.add(item.rsplit(":", 1)[1])
    return keys.pop() if len(keys) == 1 and "" not in keys else None
