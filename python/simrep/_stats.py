"""Bootstrap intervals, permutation nulls and chance levels (issue 11):
ctypes over simrep_stats_* and simrep_group_tests, the same library calls
as the CLI's --bootstrap/--permutations, so the same seed gives the same
numbers (docs/statistics.md)."""

import ctypes
import os
import warnings
from ctypes import POINTER, byref, c_double, c_int, c_int64, c_uint64, c_void_p

import numpy as np

from . import _native
from ._errors import Context, InvalidArgument, SimrepWarning

lib = _native.lib

INTERVALS = {"percentile": 0, "basic": 1}


class StatsOptions(ctypes.Structure):
    _fields_ = [("bootstrap", c_int64), ("permutations", c_int64), ("ci", c_double), ("seed", c_uint64),
                ("unit_rows", c_int64), ("buckets", c_int64), ("segments", c_int64), ("max_memory", c_double),
                ("threads", c_int), ("interval", c_int), ("unit_starts", c_void_p), ("units", c_int64)]


class StatsInfo(ctypes.Structure):
    _fields_ = [("units", c_int64), ("unit_rows", c_int64), ("buckets", c_int64), ("exact_bootstrap", c_int),
                ("segments", c_int64), ("segment_units", c_int64), ("memory", c_double),
                ("min_unit_rows", c_int64), ("max_unit_rows", c_int64)]


class StatsResult(ctypes.Structure):
    _fields_ = [("measure", c_int), ("resampled", c_int), ("similarity", c_double), ("bootstrap", c_int64),
                ("ci_low", c_double), ("ci_high", c_double), ("se", c_double), ("boot_mean", c_double),
                ("distance_ci_low", c_double), ("distance_ci_high", c_double), ("distance_se", c_double),
                ("permutations", c_int64), ("null_mean", c_double), ("null_sd", c_double), ("p_value", c_double),
                ("adjusted", c_double), ("has_chance", c_int), ("chance", c_double)]


class GroupTest(ctypes.Structure):
    _fields_ = [("a", c_int), ("b", c_int), ("within", c_double), ("between", c_double), ("statistic", c_double),
                ("permutations", c_int64), ("null_mean", c_double), ("null_sd", c_double), ("p_value", c_double)]


_PROTOTYPES = {
    "simrep_stats_options_init": (None, [POINTER(StatsOptions)]),
    "simrep_stats_options_warnings": (ctypes.c_uint, [POINTER(StatsOptions)]),
    "simrep_stats_warning_text": (c_int, [ctypes.c_uint, POINTER(StatsOptions), ctypes.c_char_p, ctypes.c_size_t]),
    "simrep_stats_new": (c_int, [c_void_p, c_int64, c_int64, c_int64, POINTER(StatsOptions), POINTER(c_void_p)]),
    "simrep_stats_free": (None, [c_void_p, c_void_p]),
    "simrep_stats_next": (c_int, [c_void_p, c_int64, POINTER(c_int64), POINTER(c_int64)]),
    "simrep_stats_update": (c_int, [c_void_p, c_void_p, POINTER(_native.Matrix), POINTER(_native.Matrix)]),
    "simrep_stats_get_info": (None, [c_void_p, POINTER(StatsInfo)]),
    "simrep_stats_moments": (c_int, [c_void_p, c_void_p, c_void_p]),
    "simrep_stats_compute": (c_int, [c_void_p, c_void_p, c_void_p, c_void_p, POINTER(c_int), c_int,
                                     POINTER(StatsResult)]),
    "simrep_stats_compute_steps": (c_int, [c_void_p, POINTER(c_void_p), POINTER(c_void_p), c_int64, c_void_p,
                                           POINTER(c_int), c_int, POINTER(StatsResult), POINTER(StatsResult)]),
    "simrep_stats_rows": (c_int, [c_void_p, POINTER(_native.Matrix), POINTER(_native.Matrix), POINTER(StatsOptions),
                                  c_void_p, POINTER(c_int), c_int, POINTER(StatsResult), POINTER(StatsInfo)]),
    "simrep_group_tests": (c_int, [c_void_p, c_int64, c_void_p, c_int64, POINTER(c_int), c_int, c_int64, c_int64,
                                   c_double, c_uint64, POINTER(GroupTest), c_void_p, c_void_p]),
}
for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args

for _name, _struct in (("simrep_stats_options", StatsOptions), ("simrep_stats_info", StatsInfo),
                       ("simrep_stats_result", StatsResult), ("simrep_group_test", GroupTest)):
    if lib.simrep_struct_size(_name.encode()) != ctypes.sizeof(_struct):
        raise ImportError("simrep: %s has sizeof(%s) = %d but this package expects %d; rebuild the library and "
                          "the package from the same source" % (_native.library_path, _name,
                                                                lib.simrep_struct_size(_name.encode()),
                                                                ctypes.sizeof(_struct)))

# Rows per read: the CLI's block for 2-D inputs (about 4 Mi elements).
_BLOCK_ELEMENTS = 4 * 1024 * 1024


def _count(name, v, lo=0):
    if v is None:
        return 0
    if isinstance(v, bool) or int(v) != v or v < lo or v > 10 ** 7:
        raise InvalidArgument("%s must be a whole number from %d to 10^7 (got %r)" % (name, lo, v))
    return int(v)


def options(bootstrap, permutations, seed, ci, ci_method, unit_rows, threads, max_memory, buckets, segments,
            warn=True):
    """The library's options from the keywords (None: the default), checked
    as the CLI checks its flags; with warn, a SimrepWarning for keywords that
    change nothing without bootstrap/permutations and the library's about
    the options (too few resamples or permutations: the CLI's words)."""
    o = StatsOptions()
    lib.simrep_stats_options_init(byref(o))
    o.bootstrap = _count("bootstrap", bootstrap)
    if o.bootstrap == 1:
        raise InvalidArgument("bootstrap must be 0 (none) or a whole number from 2 to 10^7 (got 1: one resample "
                              "gives no standard error)")
    o.permutations = _count("permutations", permutations)
    if seed is not None:
        if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2 ** 53:
            raise InvalidArgument("seed must be a whole number from 0 to 2^53 - 1 (got %r)" % (seed,))
        o.seed = int(seed)
    if ci is not None:
        if not 0 < float(ci) < 1:
            raise InvalidArgument("ci must be a level in (0, 1) such as 0.95 (got %r)" % (ci,))
        o.ci = float(ci)
    if ci_method is not None:
        if ci_method not in INTERVALS:
            raise InvalidArgument("ci_method is 'percentile' or 'basic' (got %r)" % (ci_method,))
        o.interval = INTERVALS[ci_method]
    o.unit_rows = max(1, _count("unit_rows", unit_rows, 1)) if unit_rows is not None else 1
    o.threads = _count("threads", threads, 1) if threads is not None else (os.cpu_count() or 1)
    o.max_memory = float(max_memory) if max_memory is not None else 0.0
    o.buckets = _count("buckets", buckets, 1) if buckets is not None else 0
    o.segments = _count("segments", segments, 2) if segments is not None else 0
    if warn:
        for text in _option_notes(o, (seed, unit_rows), (ci, ci_method, buckets), (segments,)):
            warnings.warn(text, SimrepWarning, stacklevel=3)
    return o


def _option_notes(o, for_either, for_bootstrap, for_permutations):
    """What the options change nothing about, then the library's notes."""
    notes = []
    given = lambda vals: any(v is not None for v in vals)  # noqa: E731
    if given(for_either) and not (o.bootstrap or o.permutations):
        notes.append("seed and unit_rows change nothing without bootstrap or permutations")
    if given(for_bootstrap) and not o.bootstrap:
        notes.append("ci, ci_method and buckets change nothing without bootstrap (they shape its intervals)")
    if given(for_permutations) and not o.permutations:
        notes.append("segments changes nothing without permutations")
    flags = lib.simrep_stats_options_warnings(byref(o))
    buf = ctypes.create_string_buffer(512)
    for bit in range(32):
        if flags & (1 << bit):
            lib.simrep_stats_warning_text(1 << bit, byref(o), buf, len(buf))
            notes.append(buf.value.decode())
    return notes


def _rows(m, r0, rows):
    """A view of rows [r0, r0 + rows) of a Matrix (same dtype and strides)."""
    size = lib.simrep_dtype_size(m.dtype)
    return _native.Matrix(m.data + r0 * m.row_stride * size if m.data else m.data, m.dtype, rows, m.cols,
                          m.row_stride, m.col_stride)


def set_units(o, starts):
    """Units of different sizes: starts (int64 offsets, units + 1 of them)
    into the options; returns what must stay alive while o is used."""
    starts = np.ascontiguousarray(starts, dtype=np.int64)
    o.unit_starts = starts.ctypes.data
    o.units = len(starts) - 1
    return starts


def compute(ctx, mx, my, o, opts_buf, ids, codes_of):
    """Fold x and y (Matrix views of n rows) into a Moments and the
    resampling state in the order the library asks for, then compute.
    Returns ({id: dict of added keys}, info dict)."""
    _, out, info = compute_steps(ctx, [mx], [my], o, opts_buf, ids, codes_of)
    return out, info


def compute_steps(ctx, mxs, mys, o, opts_buf, ids, codes_of):
    """The same for the T views of a curve (sequence="per-step"): a state
    and a Moments per step, fed the same rows, resampled alike
    (simrep_stats_compute_steps).  Returns ([{id: keys} per step] (None for
    one view), {id: keys} (of the curve's mean for several), info dict)."""
    t = len(mxs)
    n, p, q = mxs[0].rows, mxs[0].cols, mys[0].cols
    sts = (c_void_p * t)()
    ms = (c_void_p * t)()
    try:
        for v in range(t):
            h = c_void_p()
            ctx.check(lib.simrep_stats_new(ctx.ptr, p, q, n, byref(o), byref(h)))
            sts[v] = h.value
            h = c_void_p()
            ctx.check(lib.simrep_moments_new(ctx.ptr, p, q, byref(h)))
            ms[v] = h.value
        block = max(256, min(8192, _BLOCK_ELEMENTS // (p + q)))
        r0, rows = c_int64(), c_int64()
        while True:
            more = [lib.simrep_stats_next(sts[v], block, byref(r0), byref(rows)) for v in range(t)]
            if not more[0]:
                break
            for v in range(t):
                bx, by = _rows(mxs[v], r0.value, rows.value), _rows(mys[v], r0.value, rows.value)
                ctx.check(lib.simrep_stats_update(ctx.ptr, sts[v], byref(bx), byref(by)))
                if not o.bootstrap:  # with a bootstrap the buckets sum to the moments (as the CLI does)
                    ctx.check(lib.simrep_moments_update(ctx.ptr, ms[v], byref(bx), byref(by)))
        for v in range(t):
            if o.bootstrap:
                ctx.check(lib.simrep_stats_moments(ctx.ptr, sts[v], ms[v]))
        codes = (c_int * len(ids))(*[codes_of(i) for i in ids])
        res = (StatsResult * (len(ids) * t))()
        mean = (StatsResult * len(ids))()
        ctx.check(lib.simrep_stats_compute_steps(ctx.ptr, sts, ms, t, opts_buf, codes, len(ids), res,
                                                 mean if t > 1 else None))
        info = StatsInfo()
        lib.simrep_stats_get_info(sts[0], byref(info))
    finally:
        for v in range(t):
            if sts[v]:
                lib.simrep_stats_free(ctx.ptr, sts[v])
            if ms[v]:
                lib.simrep_moments_free(ctx.ptr, ms[v])
    steps = [{mid: result_keys(res[v * len(ids) + i], o) for i, mid in enumerate(ids)} for v in range(t)]
    if t == 1:
        return None, steps[0], info_dict(info, o)
    return steps, {mid: result_keys(r, o) for mid, r in zip(ids, mean)}, info_dict(info, o)


def compute_rows(ctx, mx, my, o, opts_buf, ids, codes_of):
    """The rows measures' bootstrap and permutations (simrep_stats_rows,
    as the CLI's compare): ({id: dict of added keys}, info dict)."""
    codes = (c_int * len(ids))(*[codes_of(i) for i in ids])
    res = (StatsResult * len(ids))()
    info = StatsInfo()
    ctx.check(lib.simrep_stats_rows(ctx.ptr, byref(mx), byref(my), byref(o), opts_buf, codes, len(ids), res,
                                    byref(info)))
    return {mid: result_keys(r, o) for mid, r in zip(ids, res)}, info_dict(info, o)


def steps_keys(steps, mid):
    """The CLI's per-step keys of one measure (cli_stats_json_steps) from
    each step's added keys."""
    d = {}
    per = [s[mid] for s in steps]
    if all("chance" in e for e in per):
        d["per_step_chance"] = [e["chance"] for e in per]
    if all("ci" in e for e in per):
        d["per_step_ci"] = [e["ci"] for e in per]
        d["per_step_se"] = [e["se"] for e in per]
    if all("null" in e for e in per):
        d["per_step_null"] = [e["null"] for e in per]
        d["per_step_adjusted"] = [e["adjusted"] for e in per]
    return d


def result_keys(r, o):
    """The keys the CLI's JSON adds to a measure (cli/stats.c)."""
    d = {}
    if r.has_chance:
        d["chance"] = r.chance
    if not r.resampled:
        return d
    if r.bootstrap > 0:
        d["ci"] = [r.ci_low, r.ci_high]
        d["se"] = r.se
        d["bias"] = r.boot_mean - r.similarity
        d["bootstrap"] = r.bootstrap
        d["distance_ci"] = [r.distance_ci_low, r.distance_ci_high]
        d["distance_se"] = r.distance_se
    if r.permutations > 0:
        d["null"] = {"mean": r.null_mean, "sd": r.null_sd, "p": r.p_value, "permutations": r.permutations}
        d["adjusted"] = r.adjusted
    return d


def info_dict(info, o):
    d = {"units": info.units, "unit_rows": info.unit_rows or None}
    if not info.unit_rows:  # units of different sizes (masked sequences)
        d["unit_rows_range"] = [info.min_unit_rows, info.max_unit_rows]
    return dict(d, **{"seed": o.seed, "level": o.ci,
            "ci_method": "basic" if o.interval == 1 else "percentile", "bootstrap": o.bootstrap,
            "buckets": info.buckets, "exact_bootstrap": bool(info.exact_bootstrap),
            "permutations": o.permutations, "segments": info.segments, "segment_units": info.segment_units})


def group_tests(dist, labels, groups, permutations, bootstrap, ci, seed):
    """simrep_group_tests on an N x N distance matrix: (tests, within_ci,
    between_ci) with tests a list of dicts, pairs of groups first and the
    all-groups test (a = b = -1) last."""
    d = np.ascontiguousarray(dist, dtype=np.float64)
    n = d.shape[0]
    lab = (c_int * n)(*[int(v) for v in labels])
    ntests = groups * (groups - 1) // 2 + 1
    tests = (GroupTest * ntests)()
    wci = np.zeros((groups, 2))
    bci = np.zeros((groups, groups, 2))
    with Context() as ctx:
        ctx.check(lib.simrep_group_tests(ctx.ptr, n, d.ctypes.data, n, lab, groups, int(permutations),
                                         int(bootstrap), float(ci), int(seed), tests,
                                         wci.ctypes.data if bootstrap else None,
                                         bci.ctypes.data if bootstrap else None))
    out = [{"a": t.a, "b": t.b, "within": t.within, "between": t.between, "statistic": t.statistic,
            "permutations": t.permutations, "null_mean": t.null_mean, "null_sd": t.null_sd, "p": t.p_value}
           for t in tests]
    return out, wci, bci
