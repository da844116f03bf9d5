"""simrep.compare and simrep.Moments over the C library.

compare() hands both arrays to simrep_compare as views (see _arrays) and
returns what the CLI's JSON "measures" object holds, measure by measure.
Moments wraps simrep_moments: update() folds in row blocks (exact pairwise
merging, so feeding a DataLoader batch by batch gives the full-data result),
merge() combines partial Moments, pickling goes through
simrep_moments_save/load.  Each Moments owns its simrep_ctx and a lock, so
two threads using one Moments take turns instead of racing in C, while
threads using different Moments (or compare()) run in parallel: ctypes
releases the GIL during every library call.
"""

import ctypes
import os
import threading
import warnings

import numpy as np

from . import _arrays, _native, _stats
from ._errors import Context, Error, InvalidArgument, NotAvailable, SimrepWarning  # noqa: F401 (simrep.SimrepWarning)

# Everything about measures and options comes from the library's registry
# (simrep_measure_get_info, simrep_option_get_info): no measure is named here.
_INFOS = _native.measure_infos()
_BY_ID = {info["id"]: (code, info) for code, info in _INFOS}
_BY_CODE = {code: info for code, info in _INFOS}
DEFAULT_MEASURES = tuple(_BY_CODE[c]["id"] for c in _native.default_measures())  # the CLI's default
CCA_FAMILY = tuple(info["id"] for _, info in _INFOS if info["family"] == "cca")
# Measures of two samples x features matrices, as in the CLI without
# --conv.  Measures of conv feature maps (dftcca) need the conv input
# support, which the package does not have yet.  "all" means those whose
# time grows linearly in n, "all+kernel" every one (the O(n^2) measures of
# the rows too): the library's rule (simrep_all_measures).
MEASURES = tuple(info["id"] for _, info in _INFOS if info["family"] != "maps")
ALL = tuple(_BY_CODE[c]["id"] for c in _native.all_measures(0))
ALL_KERNEL = tuple(_BY_CODE[c]["id"] for c in _native.all_measures(_native.ALL_QUADRATIC))
_ALL_WORDS = {"all": ALL, "all+kernel": ALL_KERNEL}
_OPTIONS = _native.option_infos()
OPTIONS = tuple(info["name"] for _, info in _OPTIONS)


def measures():
    """Every measure the library knows: {id: {title, similarity, distance,
    invariances, reference, paper, family, computed_from, options, outputs,
    similarity_range, distance_range, invariant_to, metric, needs_rows,
    needs_maps, higher_is_more_similar}} (`simrep measures --format json`)."""
    return {info["id"]: {k: v for k, v in info.items() if not k.startswith("_")} for _, info in _INFOS}


def options():
    """Every measure option the library knows: {name: {help, kind, min, max,
    min_open, max_open, choices, valid, json_key, excludes, metavar}}: the
    keyword arguments of compare(), Moments.compare() and matrix() (the
    CLI's --NAME flags with '_' as '-')."""
    return {info["name"]: dict(info) for _, info in _OPTIONS}


def _measure_list(ms):
    if ms is None:
        ms = DEFAULT_MEASURES
    elif isinstance(ms, str):
        ms = [s.strip() for s in ms.split(",") if s.strip()]
    out = []
    for m in ms:
        if m in _ALL_WORDS:
            out.extend(x for x in _ALL_WORDS[m] if x not in out)
            continue
        if m in _BY_ID and _BY_ID[m][1]["family"] == "maps":
            raise NotAvailable("%s compares conv feature maps, which the Python package cannot pass yet (it comes "
                               "with conv input support); use `simrep compare --conv ... -m %s` meanwhile" % (m, m))
        if m not in _BY_ID:
            raise InvalidArgument("unknown measure %r (ids: %s, 'all' or 'all+kernel')" % (m, ", ".join(MEASURES)))
        if m not in out:
            out.append(m)
    if not out:
        raise InvalidArgument("no measures given (ids: %s, 'all' or 'all+kernel')" % ", ".join(MEASURES))
    return out


def _options(**given):
    """The option buffer for the library from keyword options (the names of
    simrep.OPTIONS, None meaning the default), each checked by the library
    as the CLI's flags are (simrep_options_set)."""
    buf, o = _native.new_options()
    given = {k: v for k, v in given.items() if v is not None}
    unknown = [k for k in given if k not in OPTIONS]
    if unknown:
        raise TypeError("unexpected keyword argument %r (options: %s)" % (unknown[0], ", ".join(OPTIONS)))
    for code, info in _OPTIONS:
        if info["name"] in given and info["excludes"] in given:
            raise InvalidArgument("%s and %s are alternatives; give one" % (info["excludes"], info["name"]))
    with Context() as ctx:
        for name, value in given.items():
            if isinstance(value, bool) or not isinstance(value, (str, int, float, np.integer, np.floating)):
                raise InvalidArgument("%s takes a number or a name, not %r" % (name, value))
            # The value as given (2**63 is not 9.2233720368547758e+18) and
            # each float as the shortest text that reads back the same.
            text = (value if isinstance(value, str) else str(int(value)) if isinstance(value, (int, np.integer))
                    else repr(float(value)))
            ctx.check(_native.lib.simrep_options_set(ctx.ptr, buf, name.encode(), text.encode()))
    return buf, o


def _option_value(buf, code, info):
    """An option's value as results echo it: a choice's name, a whole
    number's int (as the CLI's JSON prints it), else a float."""
    v = _native.lib.simrep_options_get(buf, code)
    if info["choices"]:
        return info["choices"][int(v)]
    return int(v) if info["kind"] == _native.OPTION_INTEGER else float(v)


def _doubles(ptr, count):
    if not ptr or count <= 0:
        return np.zeros(0)
    return np.ctypeslib.as_array(ptr, shape=(count,)).copy()


def _results_to_dict(ids, results, buf, coefs, p, q, n, warn, stacklevel, quiet=0):
    """The CLI's JSON "measures" object: per measure the outputs its registry
    row declares, under the library's keys, and the options it echoes."""
    out = {}
    seen = 0
    kept = None
    for mid, r in zip(ids, results):
        info = _BY_ID[mid][1]
        mask = info["_outputs"]
        d = {"similarity": float(r.similarity), "distance": float(r.distance)}
        if mask & _native.OUT_KEPT:
            d["kept"] = [int(r.kept_p), int(r.kept_q)]
            kept = kept or r
        if mask & _native.OUT_RANK:
            d["rank"] = [int(r.rank_p), int(r.rank_q)]
        if mask & _native.OUT_DIMS:
            d["dims"] = [int(r.dims_p), int(r.dims_q)]
        if mask & _native.OUT_REFERENCE_MEAN:
            d["reference_mean"] = float(r.reference_mean)
        if mask & _native.OUT_REVERSE:
            d["reverse"] = float(r.reverse)
        for code, oinfo in _OPTIONS:
            if oinfo["json_key"] and info["_options"] & (1 << code):
                d[oinfo["json_key"]] = _option_value(buf, code, oinfo)
        if r.has_chance:
            d["chance"] = float(r.chance)
        if coefs and r.coefs:
            d["coefs"] = _doubles(r.coefs, r.ncoefs)
            if r.weights:
                d["weights"] = _doubles(r.weights, r.ncoefs)
        seen |= r.warnings & ~quiet
        out[mid] = d
    if warn and seen & _native.WARN_LAYOUT:
        warnings.warn("x and y: %d samples of %d features each: %s"
                      % (n, p, _native.lib.simrep_warning_text(_native.WARN_LAYOUT).decode()),
                      SimrepWarning, stacklevel=stacklevel)
    if warn and kept is not None:
        # The CLI's warning lines (cli/report.c), with the library's texts.
        text = lambda flag: _native.lib.simrep_warning_text(flag).decode()  # noqa: E731
        if seen & _native.WARN_FEW_SAMPLES:
            few = _native.WARN_FEW_SAMPLES_RANK if seen & _native.WARN_FEW_SAMPLES_RANK else _native.WARN_FEW_SAMPLES
            warnings.warn("n = %d samples (%d kept features) %s" % (n, max(kept.kept_p, kept.kept_q), text(few)),
                          SimrepWarning, stacklevel=stacklevel)
        for side, flag, k, total in (("x", _native.WARN_DEAD_X, kept.kept_p, p),
                                     ("y", _native.WARN_DEAD_Y, kept.kept_q, q)):
            if seen & flag:
                warnings.warn("%s: %d of %d %s" % (side, total - k, total, text(flag)), SimrepWarning,
                              stacklevel=stacklevel)
        for side, flag, count, total in (("x", _native.WARN_ROUNDING_X, kept.kept_p - kept.rank_p, kept.kept_p),
                                         ("y", _native.WARN_ROUNDING_Y, kept.kept_q - kept.rank_q, kept.kept_q),
                                         ("x", _native.WARN_RIDGE_X, kept.shrunk_p, kept.kept_p),
                                         ("y", _native.WARN_RIDGE_Y, kept.shrunk_q, kept.kept_q)):
            if seen & flag:
                warnings.warn("%s: %d of %d %s" % (side, count, total, text(flag)), SimrepWarning,
                              stacklevel=stacklevel)
    for flag in (_native.WARN_MIXED_PRECISION, _native.WARN_RECOMPUTED):
        if warn and seen & flag:
            warnings.warn(_native.lib.simrep_warning_text(flag).decode(), SimrepWarning, stacklevel=stacklevel)
    return out


# A measure undefined for the data fails alone (issue 10, item 8).
_MEASURE_FAILURES = (_native.E_DEGENERATE, _native.E_NUMERIC)


def _run_measures(ctx, call, ids, buf, coefs, p, q, n, warn, names=None, quiet=0, pair=("x", "y")):
    """call(codes, count, results) -> status; results converted and cleared,
    as a Results.  When the list fails because a measure is undefined for
    these data, each measure is computed on its own: the undefined ones go
    to .errors (and a SimrepWarning each), the others are returned; only
    when none is left is the first error raised.  pair: how an error about
    both inputs names them ("x and y: ...")."""
    count = len(ids)
    codes = (ctypes.c_int * count)(*[_BY_ID[m][0] for m in ids])
    results = (_native.Result * count)()
    with ctx.named(names):  # the library names the inputs in its messages
        st = call(codes, count, results)
    try:
        if st not in _MEASURE_FAILURES or count == 1:
            ctx.check(st, tuple(names) if names else pair)
            return Results(_results_to_dict(ids, results, buf, coefs, p, q, n, warn, stacklevel=4, quiet=quiet))
    finally:
        for i in range(count):
            _native.lib.simrep_result_clear(ctx.ptr, ctypes.byref(results[i]))
    out, first = Results(), None
    for mid in ids:
        try:
            out.update(_run_measures(ctx, call, [mid], buf, coefs, p, q, n, warn, names, quiet, pair))
        except Error as e:
            if e.status not in _MEASURE_FAILURES:
                raise
            first = first or e
            out.errors[mid] = e
            if warn:
                warnings.warn("%s is undefined for these data (the other measures are computed): %s" % (mid, e),
                              SimrepWarning, stacklevel=3)
    if not out:
        raise first
    return out



def _layout_views(items, names, conv, conv_mode, sequence, resize=None, mask=None, features_first=False):
    """The samples x features matrices of arrays (or path specs) read
    through the library's layouts (the CLI's --conv/--conv-mode/--resize/
    --sequence/--mask), made to agree (same N, T, sizes) and materialized
    as float64 arrays: ([views of item 0 (T for per-step, else 1)], ...),
    and the rows of one item in each, or where sequences differ in rows
    (masked flatten) the units' row offsets (int64, the sequences without
    tokens left out).  For the paths that need the rows themselves
    (statistics); compare streams instead."""
    from . import _input
    with Context() as ctx:
        msk, ins = None, []
        try:
            if mask is not None:
                msk = _input.Mask(ctx, mask, "mask")
            lay = _input.layout(features_first, conv, conv_mode, resize, sequence, msk)
            ins = [_input.Input(ctx, a, name, lay) for a, name in zip(items, names)]
            _input.agree(ctx, ins)
            out = [_input.materialize(ctx, i) for i in ins]
            item = ins[0].unit_starts() if msk is not None and sequence == "flatten" else int(ins[0].dims.rows_per_item)
            return out, item
        finally:
            for i in ins:
                i.close(ctx)
            if msk is not None:
                msk.close(ctx)


def _compare_through_layout(x, y, ids, buf, o, coefs, warn, conv, conv_mode, resize, sequence, mask,
                            features_first=False):
    """compare() of conv maps / sequences / masked tokens / path specs: both
    read through the library's layouts (simrep_input over their memory, or
    the files, streamed), block by block into one Moments per view (T for
    per-step)."""
    from . import _input
    linear = [m for m in ids if _BY_ID[m][1]["family"] != "rows"]
    of_rows = [m for m in ids if _BY_ID[m][1]["family"] == "rows"]
    rbf = bool(of_rows)
    with Context() as ctx:
        msk, ins, moms = None, [], []
        try:
            if mask is not None:
                msk = _input.Mask(ctx, mask, "mask")
            lay = _input.layout(features_first, conv, conv_mode, resize, sequence, msk)
            ins = [_input.Input(ctx, x, "x", lay), _input.Input(ctx, y, "y", lay)]
            # Options apply by number of dimensions (the CLI's rule, so that
            # a 2-D x can meet a 3-D y); one that applies to neither input
            # is a mistake.
            ndims = [int(i.dims.ndim) for i in ins]
            for given, nd, what in ((conv, 4, "conv=%r takes 4-D maps" % (conv,)),
                                    (sequence or mask, 3, "sequence=%r takes (N, T, D) sequences" % (sequence,))):
                if given is not None and nd not in ndims:
                    raise InvalidArgument("x is %d-D and y is %d-D; %s" % (ndims[0], ndims[1], what),
                                          _native.E_SHAPE)
            _input.agree(ctx, ins)
            ix, iy = ins
            if ix.rows != iy.rows or ix.views != iy.views:
                raise InvalidArgument("y gives %d samples but x gives %d; their layouts do not pair rows"
                                      % (iy.rows, ix.rows), _native.E_SHAPE)
            n, nv = ix.rows, max(ix.views, 1)
            if n < 2:
                raise InvalidArgument("x gives %d sample%s: similarity needs at least 2" % (n, "" if n == 1 else "s"),
                                      _native.E_SHAPE)
            moms = [Moments(ix.cols, iy.cols) for _ in range(nv)]
            for m in moms:
                m._ctx.check(_native.lib.simrep_moments_set_precision(m._ctx.ptr, m._handle(), int(o.precision)))
                for k, inp in enumerate(ins):  # layouts read as float64: the stored dtype's rounding
                    m._ctx.check(_native.lib.simrep_moments_note_dtype(m._ctx.ptr, m._handle(), k, inp.dtype))
            rows = [(np.empty((n, ix.cols)), np.empty((n, iy.cols))) for _ in range(nv)] if rbf else None
            block = _input.block_rows(ins)
            for r0 in range(0, n, block):
                k = min(block, n - r0)
                vx, vy = ix.read(ctx, r0, k), iy.read(ctx, r0, k)
                for v in range(nv):
                    moms[v]._update_views(vx[v], vy[v], ("x", "y"))
                    if rbf:
                        _native.lib.simrep_matrix_to_double(ctypes.byref(vx[v]), rows[v][0][r0:].ctypes.data, ix.cols)
                        _native.lib.simrep_matrix_to_double(ctypes.byref(vy[v]), rows[v][1][r0:].ctypes.data, iy.cols)
            steps, errors = [], {}
            # features x samples already: the layout hint is for the other reading
            quiet = _native.WARN_LAYOUT if features_first else 0
            # The measures' messages name a path spec by its path, as the CLI's.
            labels = [os.fsdecode(a) if _input.is_path(a) else nm
                      for a, nm in ((x, "x"), (y, "y"))]
            names = labels if labels != ["x", "y"] else None
            for v in range(nv):
                res = Results()
                if linear:
                    m = moms[v]
                    res = _run_measures(ctx, lambda codes, count, out: _native.lib.simrep_compare_moments(
                        ctx.ptr, m._handle(), buf, codes, count, out), linear, buf, coefs, ix.cols, iy.cols, n, warn,
                        names, quiet=quiet)
                if of_rows:
                    mx, _ = _arrays.describe(rows[v][0], _native.F64)
                    my, _ = _arrays.describe(rows[v][1], _native.F64)
                    more = _run_measures(ctx, lambda codes, count, out: _native.lib.simrep_compare(
                        ctx.ptr, ctypes.byref(mx), ctypes.byref(my), buf, codes, count, out), of_rows, buf, coefs,
                        ix.cols, iy.cols, n, warn, names, quiet=quiet)
                    res.update(more)
                    res.errors.update(more.errors)
                errors.update(res.errors)
                steps.append({mid: res[mid] for mid in ids if mid not in errors})
        finally:
            for m in moms:
                m.close()
            for i in ins:
                i.close(ctx)
            if msk is not None:
                msk.close(ctx)
    out = Results()
    out.errors = errors
    if nv == 1 and sequence != "per-step":
        out.update(steps[0])
        return out
    # The CLI's per-step JSON: the curve, and its mean at the top (the
    # chance level too, when every step has one).
    for mid in [m for m in ids if m not in errors]:
        out[mid] = dict(steps[-1][mid])
        for key in ("kept", "rank"):  # the fewest of any step, per side (the CLI's)
            if key in out[mid]:
                out[mid][key] = [min(s[mid][key][side] for s in steps) for side in (0, 1)]
        out[mid]["per_step"] = [s[mid]["similarity"] for s in steps]
        out[mid]["per_step_distance"] = [s[mid]["distance"] for s in steps]
        out[mid]["similarity"] = float(np.mean(out[mid]["per_step"]))
        out[mid]["distance"] = float(np.mean(out[mid]["per_step_distance"]))
        chances = [s[mid].get("chance") for s in steps]
        out[mid].pop("chance", None)
        if all(c is not None for c in chances):
            out[mid]["chance"] = sum(c / len(chances) for c in chances)
            out[mid]["per_step_chance"] = chances
    return out


def compare(x, y, measures=None, *, features_first=False, coefs=False, conv=None, conv_mode=None, resize=None,
            sequence=None, mask=None, warn=True, bootstrap=None, permutations=None, seed=None, ci=None, ci_method=None,
            unit_rows=None, threads=None, max_memory=None, buckets=None, segments=None, **options):
    """Similarity of two representations x (n x p) and y (n x q).

    x, y: numpy arrays or torch tensors, float16/bfloat16/float32/float64
    (integers are converted), rows = samples, unless features_first=True
    (the google/svcca layout, neurons x datapoints).  C order, Fortran order
    and strided views are read in place, never copied.  Either may also be
    a path spec as the CLI takes it (str, bytes or os.PathLike: "a.npy",
    "b.npz:key", "c.safetensors:name"), streamed from the file.

    measures: a list of ids, a comma-separated string, "all" (every measure
    linear in n: simrep.ALL) or "all+kernel" (the O(n^2) measures of the rows
    too); default the CLI's (cca, svcca, pwcca, cka).  simrep.MEASURES lists
    the ids.

    **options: the measure options, named as simrep.OPTIONS (the CLI's
    flags with '_' for '-': epsilon, svcca_keep, svcca_dims, svcca_rule,
    pwcca_variant, rbf_sigma, ...; simrep.options() says what each is and
    its valid values), checked by the library.  coefs: add each measure's
    coefficients as "coefs" (canonical correlations; pwcca's "weights"), as
    numpy arrays.

    conv ("nhwc" or "nchw") with conv_mode ("positions", the default:
    every spatial position of every image is a sample; "pool"; "flatten")
    and resize ("interp", "pool-to", "dft": maps of different sizes), or
    sequence ("flatten", "per-step", "first", "last", "mean") for (N, T, D)
    arrays, with mask for padded sequences: an (N, T) array or tensor (1 =
    token, 0 = padding, e.g. a tokenizer's attention_mask), (N,) lengths, or
    a path spec; flatten then takes every valid token as a sample, mean
    averages the valid tokens, first/last take the first/last valid one.
    These are the CLI's --conv/--conv-mode/--resize/--sequence/--mask, read
    by the same library code (arrays in place; x and y may also be path
    specs); dftcca: use the CLI.  With sequence="per-step" each measure also
    has "per_step" and "per_step_distance" (one value per time step) and its
    similarity/distance are their means.

    Returns {id: {"similarity", "distance", ...}} with the keys of the CLI's
    JSON "measures" object (the outputs of simrep.measures()[id], and the
    options it echoes: "variant", "sigma", ...).  The CLI's warnings are issued as SimrepWarning (warn=False
    silences them).

    Uncertainty (docs/statistics.md; the CLI's options of the same names):
    bootstrap=B adds "ci" (the interval at level ci=0.95, ci_method
    "percentile" or "basic"), "se", "bias", "bootstrap", "distance_ci",
    "distance_se"; permutations=K adds "null" {"mean", "sd", "p",
    "permutations"} and "adjusted"; both add "chance" where a closed form
    exists, and the returned dict's .statistics says how (units, buckets,
    segments, seed).  seed=S fixes every random choice (the same S gives the
    CLI's numbers whatever threads=); unit_rows=K makes K consecutive rows
    one unit (default: a row; an image with conv positions; a sequence with
    sequence="flatten" or "per-step", its valid tokens with mask= and
    "flatten", units of different sizes that the bootstrap pools by tokens;
    permutations then need unit_rows).  With sequence="per-step" every step
    gets "per_step_ci", "per_step_se", "per_step_null", "per_step_adjusted"
    and the top keys are those of the curve's mean.  max_memory (bytes,
    shared by the steps), buckets, segments as the CLI.

    Raises InvalidArgument (a ValueError) for bad options or shapes,
    OutOfMemory (a MemoryError), simrep.Error for NaN/Inf in the data or an
    undefined measure, each with the library's message.
    """
    ids = _measure_list(measures)
    buf, o = _options(**options)
    so = None
    if any(v is not None for v in (bootstrap, permutations, seed, ci, ci_method, unit_rows, threads, max_memory,
                                   buckets, segments)):
        so = _stats.options(bootstrap, permutations, seed, ci, ci_method, unit_rows, threads, max_memory, buckets,
                            segments, warn=warn)
        if not (so.bootstrap or so.permutations):
            so = None
    # Path specs ("a.npy", "b.npz:key", "c.safetensors:name") are read as the
    # CLI reads them: streamed through the library's inputs.
    from . import _input
    paths = _input.is_path(x) or _input.is_path(y)
    layout = paths or any(v is not None for v in (conv, conv_mode, resize, sequence, mask))
    if layout and so is None:
        return _compare_through_layout(x, y, ids, buf, o, coefs, warn, conv, conv_mode, resize, sequence, mask,
                                       features_first)
    keep_units = None
    if layout:
        # Statistics resample whole items (an image's positions, a
        # sequence's steps or valid tokens): the layouts' rows are
        # materialized first.
        (views_x, views_y), item = _layout_views([x, y], ["x", "y"], conv, conv_mode, sequence, resize, mask,
                                                 features_first)
        if sequence == "per-step":
            return _compare_steps_statistics(x, y, ids, buf, o, so, coefs, warn, conv, conv_mode, resize, mask,
                                             views_x, views_y, max_memory)
        if isinstance(item, np.ndarray):  # masked flatten: a sequence's valid tokens are a unit
            if unit_rows is None:
                keep_units = _stats.set_units(so, item)
        else:
            if unit_rows is not None and int(unit_rows) % item:
                raise InvalidArgument("unit_rows=%r must be a whole number of items of %d rows" % (unit_rows, item))
            if unit_rows is None:
                so.unit_rows = item
        x, y, features_first = views_x[0], views_y[0], False
    mx, keep_x = _arrays.matrix(x, "x", features_first)
    my, keep_y = _arrays.matrix(y, "y", features_first)
    if mx.rows != my.rows:
        # The hint only where read the other way round they would pair.
        raise InvalidArgument("y has %d samples but x has %d; rows of x and y must come from the same inputs%s"
                              % (my.rows, mx.rows, "" if mx.cols != my.cols else
                                 " (read as samples x features they would pair: leave out features_first=True if "
                                 "the arrays are samples x features)" if features_first else
                                 " (read as features x samples they would pair: pass features_first=True if the "
                                 "arrays are features x samples)"),
                              _native.E_SHAPE)
    for name, m in (("x", mx), ("y", my)):
        if m.cols < 1:
            raise InvalidArgument("%s has no features (shape gives 0 %s)"
                                  % (name, "rows" if features_first else "columns"), _native.E_SHAPE)
    with Context() as ctx:
        out = _run_measures(
            ctx, lambda codes, count, res: _native.lib.simrep_compare(
                ctx.ptr, ctypes.byref(mx), ctypes.byref(my), buf, codes, count, res),
            ids, buf, coefs, mx.cols, my.cols, mx.rows, warn,
            # features x samples already: the layout hint is for the other reading
            quiet=_native.WARN_LAYOUT if features_first else 0)
        if so is not None:
            ok = [mid for mid in ids if mid in out]
            # the moments' measures through one pass (simrep_stats_compute),
            # the rows' through simrep_stats_rows, as the CLI
            rows = [mid for mid in ok if _BY_ID[mid][1]["family"] == "rows"]
            moments = [mid for mid in ok if mid not in rows]
            if moments or not rows:
                added, out.statistics = _stats.compute(ctx, mx, my, so, buf, moments, lambda mid: _BY_ID[mid][0])
                for mid in moments:
                    out[mid].update(added[mid])
            if rows:
                for mid in rows:  # what each gets is the registry's to say, as the CLI warns
                    if warn and so.bootstrap and "bootstrap" not in _BY_ID[mid][1]["statistics"]:
                        warnings.warn("%s gets no bootstrap interval: the library has no resampling of it "
                                      "(docs/statistics.md)" % mid,
                                      SimrepWarning, stacklevel=2)
                added, info = _stats.compute_rows(ctx, mx, my, so, buf, rows, lambda mid: _BY_ID[mid][0])
                if not moments:
                    out.statistics = info
                for mid in rows:
                    out[mid].update(added[mid])
        del keep_units  # unit_starts pointed into it until here
        return out


def _compare_steps_statistics(x, y, ids, buf, o, so, coefs, warn, conv, conv_mode, resize, mask, views_x, views_y,
                              max_memory):
    """sequence="per-step" with bootstrap/permutations: the curve as
    compare() gives it, then a resampling state per step over the
    materialized views (simrep_stats_compute_steps: resample b draws the
    same sequences at every step), the CLI's keys added: the mean's
    statistics at the top, "per_step_ci", "per_step_null", ... per step."""
    out = _compare_through_layout(x, y, ids, buf, o, coefs, warn, conv, conv_mode, resize, "per-step", mask)
    t = len(views_x)
    # --max-memory is shared by the steps' states, as in the CLI (1 GiB by default).
    so.max_memory = (float(max_memory) if max_memory is not None else 1024.0 ** 3) / t
    mxs = [_arrays.describe(v, _native.F64)[0] for v in views_x]
    mys = [_arrays.describe(v, _native.F64)[0] for v in views_y]
    ok = [mid for mid in ids if mid in out]
    for mid in ok:  # as the CLI warns
        if warn and _BY_ID[mid][1]["family"] == "rows":
            warnings.warn("%s gets no bootstrap interval and no permutation null: the rows measures are not "
                          "resampled with --sequence per-step (docs/statistics.md)" % mid, SimrepWarning, stacklevel=3)
    with Context() as ctx:
        steps, mean, out.statistics = _stats.compute_steps(ctx, mxs, mys, so, buf, ok, lambda mid: _BY_ID[mid][0])
    for mid in ok:
        out[mid].update(mean[mid])
        out[mid].update(_stats.steps_keys(steps, mid))
    return out


class Results(dict):
    """simrep.compare's answer: {measure id: {...}}; .statistics is the CLI
    JSON's "statistics" object when bootstrap or permutations ran, else None.
    .errors: {measure id: simrep.Error} for the measures undefined for these
    data (pwcca whose weights are all zero, cka_debiased with n < 4, ...),
    which are not keys: results[id] raises that error (the CLI's JSON lists
    them under "errors")."""
    statistics = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.errors = {}

    def __missing__(self, key):
        if key in self.errors:
            raise self.errors[key]
        raise KeyError(key)


def _prepare_pairs(ctx, moments, buf, ids):
    """simrep_pairs_prepare for the measures ids (free with simrep_pairs_free)."""
    codes = (ctypes.c_int * len(ids))(*[_BY_ID[m][0] for m in ids])
    pairs = ctypes.c_void_p()
    ctx.check(_native.lib.simrep_pairs_prepare(ctx.ptr, moments, buf, codes, len(ids), ctypes.byref(pairs)))
    return pairs


def _moments_from_state(*args):
    """Moments(*features) loaded with state (the last argument); pickles of
    two-input Moments carry (p, q, state)."""
    m = Moments(*args[:-1])
    m._load(args[-1])
    return m


def _check_features(features):
    if len(features) < 2:
        raise InvalidArgument("Moments(p, q, ...) takes the feature counts of at least 2 inputs (got %d)"
                              % len(features))
    for k, v in enumerate(features):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            name = ("p", "q")[k] if len(features) == 2 else "input %d" % k
            raise InvalidArgument("Moments(p, q, ...) needs at least 1 feature per input (%s = %r)" % (name, v))
    return tuple(int(v) for v in features)


class Moments:
    """Streaming joint moments of x (p features) and y (q features), or of
    K >= 2 inputs at once.

    m = simrep.Moments(p, q)
    for xb, yb in batches:        # any number of rows per block, any dtype/layout
        m.update(xb, yb)
    m.compare(measures=["cca", "cka"])   # == simrep.compare on all the rows

    m = simrep.Moments(p1, p2, p3, ...)  # K inputs: the library's many-input moments
    m.update(b1, b2, b3, ...)             # the same rows of every input
    m.matrix(["cka", "pwcca"])            # every pair, as simrep.matrix
    m.compare(pair=(0, 2))                # one pair

    Partial Moments (threads, files, processes) combine with merge(); a
    Moments pickles (its state is n, means and the (sum of features)^2
    scatter); allreduce(comm) (mpi4py) and all_reduce(group)
    (torch.distributed) merge the Moments of every rank.  The kernel measure
    cka_rbf needs the rows themselves, not moments: use simrep.compare for it.
    """

    def __init__(self, *features):
        features = _check_features(features)
        self._lock = threading.Lock()
        self._ctx = Context()
        ptr = ctypes.c_void_p()
        self._ptr = None
        if len(features) == 2:
            st = _native.lib.simrep_moments_new(self._ctx.ptr, features[0], features[1], ctypes.byref(ptr))
        else:
            arr = (ctypes.c_int64 * len(features))(*features)
            st = _native.lib.simrep_moments_new_multi(self._ctx.ptr, len(features), arr, ctypes.byref(ptr))
        self._ctx.check(st)
        self._ptr = ptr
        self._features = features

    # -- lifetime
    def close(self):
        """Free the C state now (otherwise done when the object is collected)."""
        if getattr(self, "_ptr", None):
            _native.lib.simrep_moments_free(self._ctx.ptr, self._ptr)
            self._ptr = None
        if getattr(self, "_ctx", None):
            self._ctx.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _handle(self):
        if not self._ptr:
            raise InvalidArgument("this Moments was closed")
        return self._ptr

    # -- sizes
    @property
    def n(self):
        """Samples folded in so far."""
        return int(_native.lib.simrep_moments_n(self._handle()))

    @property
    def features(self):
        """The feature count of every input (p, q for two)."""
        return self._features

    @property
    def inputs(self):
        """K, the number of inputs."""
        return len(self._features)

    @property
    def p(self):
        """Features of input 0 (x)."""
        return self._features[0]

    @property
    def q(self):
        """Features of input 1 (y)."""
        return self._features[1]

    def __repr__(self):
        if not self._ptr:
            return "<simrep.Moments (closed)>"
        if self.inputs == 2:
            return "<simrep.Moments p=%d q=%d n=%d>" % (self.p, self.q, self.n)
        return "<simrep.Moments features=%s n=%d>" % (list(self._features), self.n)

    # -- accumulation
    def update(self, *blocks, features_first=False):
        """Fold in the same rows of every input: update(x_block, y_block)
        (rows x p and rows x q), or K blocks for K inputs; blocks of any
        size, dtype and layout (read in place).  NaN/Inf raises simrep.Error
        naming x_block or y_block (block k for K > 2), the row (counted from
        the first row ever given) and the column; on error the Moments is
        unchanged.  Returns self."""
        if len(blocks) != self.inputs:
            raise InvalidArgument("update() takes one block per input: %d inputs, %d blocks"
                                  % (self.inputs, len(blocks)))
        if self.inputs == 2:
            mx, kx = _arrays.matrix(blocks[0], "x_block", features_first)
            my, ky = _arrays.matrix(blocks[1], "y_block", features_first)
            return self._update_views(mx, my, ("x_block", "y_block"))
        names = ["block %d" % k for k in range(self.inputs)]
        views = (_native.Matrix * self.inputs)()
        keep = []
        for k, b in enumerate(blocks):
            views[k], kb = _arrays.matrix(b, names[k], features_first)
            keep.append(kb)
        return self._update_multi(views, names)

    def _update_views(self, mx, my, names):
        """update() from Matrix descriptors (names: the arguments' names for messages)."""
        with self._lock, self._ctx.named(names):
            self._ctx.check(_native.lib.simrep_moments_update(self._ctx.ptr, self._handle(), ctypes.byref(mx),
                                                              ctypes.byref(my)))
        return self

    def _update_multi(self, views, names):
        """update() of K inputs from a ctypes array of Matrix (the library's
        messages name input k names[k])."""
        with self._lock, self._ctx.named(names):
            self._ctx.check(_native.lib.simrep_moments_update_multi(self._ctx.ptr, self._handle(), views))
        return self

    def note_dtype(self, input, dtype):
        """Declare that the rows of input (0-based; past and future) were
        stored as dtype (numpy/torch dtype or name) before they were
        converted to what update() gets, e.g. float32 activations turned
        into float64: the CCA family then treats the covariance directions
        at that dtype's rounding level as noise (noise_ulps).  Every
        update() records its blocks' own dtype; the coarsest counts.
        Returns self."""
        code = _arrays.dtype_code(dtype)
        if not isinstance(input, (int, np.integer)) or not 0 <= input < self.inputs:
            raise InvalidArgument("note_dtype: input must be 0..%d, got %r" % (self.inputs - 1, input))
        return self._note_code(int(input), code)

    def _note_code(self, input, code):
        """note_dtype() with the library's dtype code."""
        with self._lock:
            self._ctx.check(_native.lib.simrep_moments_note_dtype(self._ctx.ptr, self._handle(), input, code))
        return self

    def unit_roundoff(self):
        """Per input, the unit roundoff of the coarsest dtype its rows came
        in (2**-24 float32, 2**-53 float64, 2**-11 float16, 2**-8
        bfloat16; 0.0 before any rows)."""
        with self._lock:
            return [float(_native.lib.simrep_moments_unit_roundoff(self._handle(), k)) for k in range(self.inputs)]

    def merge(self, other):
        """self += other (exact pairwise merge of the two sample sets).  Returns self."""
        if not isinstance(other, Moments):
            raise InvalidArgument("merge() takes a simrep.Moments, not %s" % type(other).__name__)
        if other is self:
            other = self.copy()
        first, second = sorted((self, other), key=id)  # one lock order for every pair: no deadlock
        with first._lock, second._lock:
            self._ctx.check(_native.lib.simrep_moments_merge(self._ctx.ptr, self._handle(), other._handle()))
        return self

    def __iadd__(self, other):
        return self.merge(other)

    def copy(self):
        out = Moments.__new__(Moments)
        out._lock = threading.Lock()
        out._ctx = Context()
        out._ptr = None
        out._features = self._features
        ptr = ctypes.c_void_p()
        with self._lock:
            out._ctx.check(_native.lib.simrep_moments_clone(out._ctx.ptr, self._handle(), ctypes.byref(ptr)))
        out._ptr = ptr
        return out

    # -- contents
    def means(self):
        """The column means of every input as float64 arrays: (mean of x,
        mean of y) for two inputs, a list of K arrays for more."""
        head, rest = np.zeros(self.p), np.zeros(sum(self._features) - self.p)
        with self._lock:
            _native.lib.simrep_moments_means(self._handle(), head.ctypes.data, rest.ctypes.data)
        if self.inputs == 2:
            return head, rest
        return [head] + np.split(rest, np.cumsum(self._features[1:-1]))

    def scatter(self):
        """The joint centered scatter, (sum of features) square:
        [[Sxx, Sxy], [Syx, Syy]] for two inputs, blocks in input order."""
        d = sum(self._features)
        out = np.zeros((d, d))
        with self._lock:
            _native.lib.simrep_moments_scatter(self._handle(), out.ctypes.data, d)
        return out

    # -- pickling (and MPI-style transport): the library's flat state
    def state(self):
        """The raw state as a float64 array (simrep_moments_save)."""
        with self._lock:
            out = np.zeros(_native.lib.simrep_moments_state_len(self._handle()))
            _native.lib.simrep_moments_save(self._handle(), out.ctypes.data)
        return out

    def _load(self, state):
        state = np.ascontiguousarray(np.frombuffer(state, dtype=np.float64) if isinstance(state, bytes)
                                     else state, dtype=np.float64)
        size = _native.lib.simrep_moments_state_len(self._handle())
        if state.ndim != 1 or state.size != size:
            raise InvalidArgument("a Moments state for features %s has %d values, got %d"
                                  % (", ".join(map(str, self._features)), size, state.size))
        with self._lock:
            self._ctx.check(_native.lib.simrep_moments_load(self._ctx.ptr, self._handle(), state.ctypes.data))

    def _merge_states(self, states):
        """Load the merge of the rows of states (one per rank) in rank order:
        the same operations on every rank, so the same bits."""
        total = _moments_from_state(*self._features, states[0])
        try:
            for r in range(1, len(states)):
                part = _moments_from_state(*self._features, states[r])
                total.merge(part)
                part.close()
            self._load(total.state())
        finally:
            total.close()
        return self

    def _mismatch(self, call, shapes):
        return InvalidArgument("Moments.%s: the ranks' Moments differ in size (features per rank: %s)"
                               % (call, "; ".join(", ".join(str(v) for v in s) for s in shapes)))

    def allreduce(self, comm):
        """Make every rank's Moments the merge of all ranks' (mpi4py).

        comm is an mpi4py communicator (e.g. MPI.COMM_WORLD); every rank of
        it calls allreduce at the same time with a Moments of the same
        feature counts.  Afterwards each one holds the moments of all the
        rows folded in on any rank, identical bits on every rank, equal to
        one Moments fed every row (to round-off: the exact pairwise merge).
        Pickle-free: the flat states travel as float64 buffers
        (comm.Allgather; size x (sum of features)^2 doubles per rank,
        independent of the rows) and are merged in rank order on every rank.
        A data-parallel training job gets exact full-data similarity with no
        extra pass:

            m = simrep.Moments(p, q)
            for xb, yb in my_batches: m.update(xb, yb)
            m.allreduce(MPI.COMM_WORLD).compare(["cca", "cka"])

        Returns self.  Raises InvalidArgument (on every rank) when the
        ranks' feature counts differ.  (torch.distributed: all_reduce.)"""
        size = comm.Get_size()
        k = np.array([self.inputs], dtype=np.int64)
        ks = np.zeros(size, dtype=np.int64)
        comm.Allgather(k, ks)
        if (ks == self.inputs).all():
            shape = np.array(self._features, dtype=np.int64)
            shapes = np.zeros((size, self.inputs), dtype=np.int64)
            comm.Allgather(shape, shapes)
            shapes = shapes.tolist()
            if all(tuple(s) == self._features for s in shapes):
                mine = self.state()
                states = np.zeros((size, mine.size))
                comm.Allgather(mine, states)
                return self._merge_states(states)
        else:
            shapes = [["%d inputs" % v] for v in ks]
        raise self._mismatch("allreduce", shapes)

    def all_reduce(self, group=None):
        """Make every rank's Moments the merge of all ranks' (torch.distributed).

        The torch.distributed counterpart of allreduce() for jobs started by
        torchrun or torch.multiprocessing (DistributedDataParallel training,
        sharded evaluation): every process of group (None: the default
        group, after torch.distributed.init_process_group) calls it at the
        same time with a Moments of the same feature counts, and afterwards
        every one holds the moments of every rank's rows: identical bits on
        every rank (the states are all-gathered as float64 tensors and
        merged in rank order on each), equal to one Moments fed every row to
        round-off (exact pairwise merges, no averaging of per-batch values).

            m = simrep.Moments(p, q)
            for xb, yb in my_shard: m.update(xb, yb)
            m.all_reduce().compare(["cka", "pwcca"])

        gloo sends CPU tensors; with an nccl group the states go through the
        current CUDA device.  Traffic: world size x (sum of features)^2
        doubles per rank, independent of the rows.  Returns self.  Raises
        InvalidArgument (on every rank) when the ranks' feature counts
        differ, and when torch.distributed is not initialized."""
        import torch
        import torch.distributed as dist
        if not (dist.is_available() and dist.is_initialized()):
            raise InvalidArgument("Moments.all_reduce: torch.distributed is not initialized (call "
                                  "torch.distributed.init_process_group first, or run under torchrun)")
        size = dist.get_world_size(group)
        device = torch.device("cpu")
        if dist.get_backend(group) == "nccl":
            device = torch.device("cuda", torch.cuda.current_device())

        def gather(values, dtype):
            mine = torch.as_tensor(values, dtype=dtype).to(device)
            out = [torch.empty_like(mine) for _ in range(size)]
            dist.all_gather(out, mine, group=group)
            return [o.cpu().numpy() for o in out]

        ks = gather([self.inputs], torch.int64)
        if all(int(v[0]) == self.inputs for v in ks):
            shapes = [s.tolist() for s in gather(list(self._features), torch.int64)]
            if all(tuple(s) == self._features for s in shapes):
                return self._merge_states(gather(self.state(), torch.float64))
        else:
            shapes = [["%d inputs" % int(v[0])] for v in ks]
        raise self._mismatch("all_reduce", shapes)

    @classmethod
    def from_state(cls, *args):
        """Moments.from_state(p, q, state) (or from_state(*features, state)):
        rebuild a Moments from state() (e.g. after sending it between processes)."""
        if len(args) < 3:
            raise InvalidArgument("from_state(p, q, ..., state) takes the feature counts and the state")
        return _moments_from_state(*args)

    def __reduce__(self):
        return (_moments_from_state, tuple(self._features) + (self.state().tobytes(),))

    # -- measures
    def compare(self, measures=None, *, pair=None, coefs=False, warn=True, **options):
        """The measures of the data folded in so far; the same dict as
        simrep.compare.  Measures of the moments only: the rows family
        (cka_rbf, ...) needs the rows themselves.  pair=(i, j): inputs i
        (as x) and j (as y) of a K-input Moments (default (0, 1), the only
        pair of two inputs)."""
        ids = _measure_list(measures)
        rows = [m for m in ids if _BY_ID[m][1]["family"] == "rows"]
        if rows:
            raise InvalidArgument(
                "%s needs the rows themselves, not moments (O(n^2) in the samples): call "
                "simrep.compare(x, y, measures=%r) on the full data instead" % (", ".join(rows), rows))
        buf, o = _options(**options)
        i, j = self._pair(pair)
        with self._lock:
            n = self.n
            if (i, j) == (0, 1) and self.inputs == 2:
                return _run_measures(
                    self._ctx, lambda codes, count, res: _native.lib.simrep_compare_moments(
                        self._ctx.ptr, self._handle(), buf, codes, count, res),
                    ids, buf, coefs, self.p, self.q, n, warn)
            pairs = _prepare_pairs(self._ctx, self._handle(), buf, ids)
            try:
                return _run_measures(
                    self._ctx, lambda codes, count, res: _native.lib.simrep_pairs_compare(
                        self._ctx.ptr, pairs, i, j, codes, count, res),
                    ids, buf, coefs, self._features[i], self._features[j], n, warn,
                    pair=("input %d" % i, "input %d" % j))
            finally:
                _native.lib.simrep_pairs_free(self._ctx.ptr, pairs)

    def _pair(self, pair):
        if pair is None:
            if self.inputs != 2:
                raise InvalidArgument("a Moments of %d inputs has %d pairs: give pair=(i, j), or use matrix()"
                                      % (self.inputs, self.inputs * (self.inputs - 1) // 2))
            return 0, 1
        try:
            i, j = (int(v) for v in pair)
        except (TypeError, ValueError):
            raise InvalidArgument("pair is two input indices (i, j), not %r" % (pair,)) from None
        if not (0 <= i < self.inputs and 0 <= j < self.inputs) or i == j:
            raise InvalidArgument("pair=(%d, %d): two different inputs in 0..%d" % (i, j, self.inputs - 1))
        return i, j

    def matrix(self, measures=None, names=None, groups=None, **options):
        """Every pair of the inputs: the dict simrep.matrix returns (n,
        names, groups, kept, measures {id: {similarity, distance: K x K}},
        group_summary), from the moments alone (measures of the moments
        only; options as compare).
        Each input's own work (dead features, whitening) is done once."""
        from ._matrix import matrix_result, pairs_matrix
        K = self.inputs
        names = [str(i) for i in range(K)] if names is None else [str(s) for s in names]
        groups = [""] * K if groups is None else [str(g) for g in groups]
        if len(names) != K or len(groups) != K:
            raise InvalidArgument("%d inputs but %d names and %d groups" % (K, len(names), len(groups)))
        ids = _measure_list(measures)
        rows = [m for m in ids if _BY_ID[m][1]["family"] == "rows"]
        if rows:
            raise InvalidArgument("%s needs the rows themselves, not moments: use simrep.matrix on the arrays"
                                  % ", ".join(rows))
        buf, o = _options(**options)
        with self._lock:
            n = self.n
            sim, dist, kept = pairs_matrix(self._ctx, self._handle(), names, ids, buf)
        return matrix_result(n, names, groups, dict(zip(names, self._features)) | kept, ids, sim, dist)

    def cca_details(self, epsilon=None):
        """The CCA with google/svcca's intermediate matrices
        (simrep_cca_details_compute), as a dict of numpy arrays: kept_x,
        kept_y (indices), rho, u (kp x kp), vt (kq x kq), wx, wy (the
        whitening matrices in the reference's rescaled units), mean_x, mean_y."""
        buf, o = _options(epsilon=epsilon)
        d = _native.CcaDetails()
        with self._lock:
            st = _native.lib.simrep_cca_details_compute(self._ctx.ptr, self._handle(), buf, ctypes.byref(d))
            try:
                self._ctx.check(st)

                def mat(ptr, r, c):  # column-major in C
                    if r * c == 0:
                        return np.zeros((r, c))
                    return np.ctypeslib.as_array(ptr, shape=(r * c,)).reshape((r, c), order="F").copy()

                def ints(ptr, count):
                    if count == 0:
                        return np.zeros(0, dtype=np.int64)
                    return np.ctypeslib.as_array(ptr, shape=(count,)).astype(np.int64)

                return {"p": d.p, "q": d.q, "kp": d.kp, "kq": d.kq, "k": d.k,
                        "kept_x": ints(d.kept_x, d.kp), "kept_y": ints(d.kept_y, d.kq),
                        "rho": _doubles(d.rho, d.k), "u": mat(d.u, d.kp, d.kp), "vt": mat(d.vt, d.kq, d.kq),
                        "wx": mat(d.wx, d.kp, d.kp), "wy": mat(d.wy, d.kq, d.kq),
                        "mean_x": _doubles(d.mean_x, d.p), "mean_y": _doubles(d.mean_y, d.q)}
            finally:
                _native.lib.simrep_cca_details_clear(self._ctx.ptr, ctypes.byref(d))
