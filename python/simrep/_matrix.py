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
"""

import ctypes

import numpy as np

from . import _arrays, _native
from ._core import _BY_ID, _input_names, _measure_list, _options, _prepare_pairs
from ._errors import Context, InvalidArgument, from_status

_lib = _native.lib

# Rows per block when streaming paths: about 4 Mi doubles across all inputs,
# as the CLI reads them.
_BLOCK_DOUBLES = 4 * 1024 * 1024


class _Input:
    """One input: an in-memory matrix view, or an open file source."""

    def __init__(self, ctx, item, name, features_first):
        self.name = name
        self.source = None
        self.keep = None
        if isinstance(item, str):
            src = ctypes.c_void_p()
            ctx.check(_lib.simrep_source_open(ctx.ptr, item.encode(), ctypes.byref(src)))
            self.source = src
            ctx.check(_lib.simrep_source_set_layout(ctx.ptr, src, int(bool(features_first))))
            self.rows = int(_lib.simrep_source_samples(src))
            self.cols = int(_lib.simrep_source_features(src))
        else:
            self.view, self.keep = _arrays.matrix(item, name, features_first)
            self.rows, self.cols = int(self.view.rows), int(self.view.cols)

    def block(self, ctx, r0, rows):
        """A view of rows [r0, r0 + rows) (valid until the next call)."""
        if self.source is not None:
            v = _native.Matrix()
            ctx.check(_lib.simrep_source_read(ctx.ptr, self.source, r0, rows, ctypes.byref(v)))
            return v
        v = _native.Matrix.from_buffer_copy(self.view)
        item = _native.lib.simrep_dtype_size(v.dtype)
        v.data = (v.data or 0) + r0 * v.row_stride * item
        v.rows = rows
        return v

    def close(self, ctx):
        if self.source is not None:
            _lib.simrep_source_free(ctx.ptr, self.source)
            self.source = None


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


def pairs_matrix(ctx, moments, names, linear, buf):
    """Every pair's linear measures from a K-input simrep_moments (the
    per-input work done once by simrep_pairs_prepare): ({id: K x K
    similarity}, {id: K x K distance}, {name: features kept, from the
    measures that report kept features}); diagonals 1 and 0."""
    K = len(names)
    sim = {m: np.eye(K) for m in linear}
    dist = {m: np.zeros((K, K)) for m in linear}
    kept = {}
    if not linear:
        return sim, dist, kept
    codes = (ctypes.c_int * len(linear))(*[_BY_ID[m][0] for m in linear])
    pairs = _prepare_pairs(ctx, moments, buf, linear)
    try:
        results = (_native.Result * len(linear))()
        for i in range(K):
            for j in range(i + 1, K):
                st = _lib.simrep_pairs_compare(ctx.ptr, pairs, i, j, codes, len(linear), results)
                try:
                    ctx.check(st, (names[i], names[j]))
                    for c, m in enumerate(linear):
                        r = results[c]
                        sim[m][i, j] = sim[m][j, i] = r.similarity
                        dist[m][i, j] = dist[m][j, i] = r.distance
                        if _BY_ID[m][1]["_outputs"] & _native.OUT_KEPT:
                            kept[names[i]], kept[names[j]] = int(r.kept_p), int(r.kept_q)
                finally:
                    for c in range(len(linear)):
                        _lib.simrep_result_clear(ctx.ptr, ctypes.byref(results[c]))
    finally:
        _lib.simrep_pairs_free(ctx.ptr, pairs)
    return sim, dist, kept


def matrix_result(n, names, groups, kept, ids, sim, dist):
    """The dict simrep.matrix returns (the CLI's matrix JSON shape)."""
    order = list(dict.fromkeys(groups))
    return {
        "n": n,
        "names": names,
        "groups": groups,
        "kept": kept,
        "measures": {m: {"similarity": sim[m], "distance": dist[m]} for m in ids},
        "group_summary": {m: _group_summary(dist[m], groups, order) for m in ids},
    }


def matrix(inputs, names=None, groups=None, measures=None, *, features_first=False, **options):
    """Every pair of K >= 2 representations of the same n samples.

    inputs: a list of arrays / tensors (n x p_k, or p_k x n with
    features_first) or path specs ("a.npy", "b.npz:key",
    "c.safetensors:name"), or a dict {name: array_or_path}.
    names, groups: one string per input (default names "0", "1", ...; default
    group "" for every input).  measures and options as simrep.compare.

    Returns {"n", "names", "groups", "kept": {name: features kept},
    "measures": {id: {"similarity": K x K array, "distance": K x K array}},
    "group_summary": {id: {"within": {g: mean}, "between": {"g1|g2": mean},
    "within_std", "between_std", "within_pairs", "between_pairs"}}}: the
    structure of `simrep matrix --format json`.  Diagonals are similarity 1,
    distance 0; matrices are symmetric.
    """
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
    ids = _measure_list(measures)
    buf, o = _options(**options)
    linear = [m for m in ids if _BY_ID[m][1]["family"] != "rows"]
    of_rows = [m for m in ids if _BY_ID[m][1]["family"] == "rows"]
    rbf = bool(of_rows)

    with Context() as ctx:
        ins = []
        moments = ctypes.c_void_p()
        try:
            for item, name in zip(inputs, names):
                ins.append(_Input(ctx, item, name, features_first))
            n = ins[0].rows
            for inp in ins:
                if inp.rows != n:
                    raise InvalidArgument("%s has %d samples but %s has %d; every input needs the same samples"
                                          % (inp.name, inp.rows, ins[0].name, n), _native.E_SHAPE)
                if inp.cols < 1:
                    raise InvalidArgument("%s has no features" % inp.name, _native.E_SHAPE)
            feats = (ctypes.c_int64 * K)(*[inp.cols for inp in ins])
            ctx.check(_lib.simrep_moments_new_multi(ctx.ptr, K, feats, ctypes.byref(moments)))
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
                st = _lib.simrep_moments_update_multi(ctx.ptr, moments, views)
                if st != _native.OK:
                    # The library names inputs "input k" (or x and y when
                    # there are two): use the caller's names.
                    raise from_status(st, _input_names(ctx, names), names[:2] if K == 2 else None)

            out_sim, out_dist, kept_cca = pairs_matrix(ctx, moments, names, linear, buf)
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
                        st = _lib.simrep_compare(ctx.ptr, ctypes.byref(descs[i][0]), ctypes.byref(descs[j][0]),
                                                 buf, codes, len(of_rows), results)
                        try:
                            ctx.check(st, (names[i], names[j]))
                            for c, m in enumerate(of_rows):
                                out_sim[m][i, j] = out_sim[m][j, i] = results[c].similarity
                                out_dist[m][i, j] = out_dist[m][j, i] = results[c].distance
                        finally:
                            for c in range(len(of_rows)):
                                _lib.simrep_result_clear(ctx.ptr, ctypes.byref(results[c]))
        finally:
            if moments:
                _lib.simrep_moments_free(ctx.ptr, moments)
            for inp in ins:
                inp.close(ctx)

    return matrix_result(n, names, groups, kept, ids, out_sim, out_dist)
