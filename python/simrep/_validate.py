"""simrep.validate and simrep.rank_test: which measure tracks function
(issue 14), as `simrep validate` does.

rank_test(x, y) is the library's simrep_rank_test (Spearman's rho and
Kendall's tau-b of x against y with one-sided p-values, Ding et al.'s bad
fraction, bootstrap intervals over the rows and permutation p-values from
the library's seeded streams): the CLI's numbers for the same values.

validate(inputs, scores, ...) takes the families and references by the
CLI's rules (validate.c: 'best' per layer, or named rows; a reference's own
layer, or every row with across_layers=True; the reference among its rows),
computes the distances with simrep.matrix (per family: one pass over the
family's inputs; every pair of the family is computed, of which the
reference's are used) and tests them with rank_test.  The result has the
structure of `simrep validate --format json` (without "manifest").
"""

import ctypes
from ctypes import POINTER, byref, c_double, c_int, c_int64, c_uint64, c_void_p

import numpy as np

from . import _native, _stats
from ._errors import Context, InvalidArgument

lib = _native.lib


class RankOptions(ctypes.Structure):
    _fields_ = [("bootstrap", c_int64), ("permutations", c_int64), ("ci", c_double), ("seed", c_uint64),
                ("fraction", c_double)]


class RankResult(ctypes.Structure):
    _fields_ = [("n", c_int64), ("rho", c_double), ("rho_p", c_double), ("tau", c_double), ("tau_p", c_double),
                ("tau_exact", c_int), ("bad", c_int64), ("bad_fraction", c_double), ("bootstrap", c_int64),
                ("rho_ci_low", c_double), ("rho_ci_high", c_double), ("tau_ci_low", c_double),
                ("tau_ci_high", c_double), ("permutations", c_int64), ("rho_perm_p", c_double),
                ("tau_perm_p", c_double)]


for _name, (_res, _args) in {
    "simrep_rank_options_init": (None, [POINTER(RankOptions)]),
    "simrep_rank_test": (c_int, [c_void_p, c_int64, c_void_p, c_void_p, POINTER(RankOptions), POINTER(RankResult)]),
}.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args

if lib.simrep_struct_size(b"simrep_rank_result") != ctypes.sizeof(RankResult):
    raise ImportError("simrep: the loaded library's simrep_rank_result does not match this package")


def _rank_options(bootstrap, permutations, seed, ci, fraction, warn=True):
    o = RankOptions()
    lib.simrep_rank_options_init(byref(o))
    so = _stats.options(bootstrap, permutations, seed, ci, None, None, 1, None, None, None, warn=warn)
    o.bootstrap, o.permutations, o.seed, o.ci = so.bootstrap, so.permutations, so.seed, so.ci
    if fraction is not None:
        o.fraction = float(fraction)
    return o


def _test_dict(r):
    out = {"rows": r.n, "rho": r.rho, "rho_p": r.rho_p, "tau": r.tau, "tau_p": r.tau_p,
           "tau_exact": bool(r.tau_exact), "bad": r.bad, "bad_fraction": r.bad_fraction}
    if r.bootstrap > 0:
        out.update(bootstrap=r.bootstrap, rho_ci=[r.rho_ci_low, r.rho_ci_high], tau_ci=[r.tau_ci_low, r.tau_ci_high])
    if r.permutations > 0:
        out.update(permutations=r.permutations, rho_permutation_p=r.rho_perm_p, tau_permutation_p=r.tau_perm_p)
    return out


def rank_test(x, y, *, bootstrap=None, permutations=None, seed=None, ci=None, fraction=None):
    """Spearman's rho and Kendall's tau-b of x (distances) against y (score
    differences), one-sided p-values for a positive association, and the
    fraction of rows in the lowest `fraction` (0.2) of x and the highest of
    y; bootstrap=B adds percentile intervals ("rho_ci", "tau_ci") over the
    rows, permutations=K permutation p-values.  Returns the dict of one
    entry of `simrep validate`'s "tests"."""
    x = np.ascontiguousarray(np.asarray(x, dtype=np.float64).ravel())
    y = np.ascontiguousarray(np.asarray(y, dtype=np.float64).ravel())
    if x.shape != y.shape:
        raise InvalidArgument("x has %d values but y has %d" % (x.size, y.size))
    o = _rank_options(bootstrap, permutations, seed, ci, fraction)
    r = RankResult()
    with Context() as ctx:
        ctx.check(lib.simrep_rank_test(ctx.ptr, x.size, x.ctypes.data, y.ctypes.data, byref(o), byref(r)))
    return _test_dict(r)


def _families(names, scores, layers, reference, across_layers):
    """[(layer or None, reference index, [row indices])] by the CLI's rules."""
    K = len(names)
    keys = layers if layers is not None else [None] * K
    order = []
    for k in keys:
        if k not in order:
            order.append(k)
    ref, warnings = {}, []
    if reference == "best":
        for layer in order:
            idx = [i for i in range(K) if keys[i] == layer]
            best = max(idx, key=lambda i: (scores[i], -i))
            ties = sum(1 for i in idx if i != best and scores[i] == scores[best])
            if ties:
                warnings.append("%d other row%s%s share%s the highest score %g with '%s'; the first in the manifest "
                                "is the reference" % (ties, "" if ties == 1 else "s",
                                                      " of layer '%s'" % layer if layer is not None else "",
                                                      "s" if ties == 1 else "", scores[best], names[best]))
            ref[layer] = best
    else:
        wanted = reference.split(",") if isinstance(reference, str) else list(reference)
        for nm in wanted:
            if nm not in names:
                raise InvalidArgument("reference %r: no input is named so" % (nm,))
            i = names.index(nm)
            if keys[i] in ref and ref[keys[i]] != i:
                raise InvalidArgument("two references for layer %r: %r and %r (one per layer)"
                                      % (keys[i], names[ref[keys[i]]], nm))
            ref[keys[i]] = i
        for layer in order:
            if layer not in ref and not across_layers:
                raise InvalidArgument("layer %r has no reference: name one input per layer, use reference='best', "
                                      "or across_layers=True" % (layer,))
    fams = []
    for layer in order:
        if layer not in ref:
            continue
        rows = list(range(K)) if across_layers else [i for i in range(K) if keys[i] == layer]
        r = ref[layer]
        if len(rows) < 3:
            raise InvalidArgument("the reference %r has %d rows to rank (itself included); a rank correlation "
                                  "needs at least 3" % (names[r], len(rows)))
        if len({abs(scores[i] - scores[r]) for i in rows}) < 2:
            raise InvalidArgument("every row compared with %r has the same score difference to it: there is no "
                                  "ranking of function to test" % names[r])
        fams.append((layer, r, rows))
    return fams, warnings


def validate(inputs, scores, names=None, measures=None, *, layers=None, reference="best", across_layers=False,
             bootstrap=None, permutations=None, seed=None, ci=None, warn=True, **options):
    """Which measure's distances track a functional score (Ding, Denain &
    Steinhardt 2021), as `simrep validate`.

    inputs: arrays / tensors / path specs (or a dict {name: input}) of the
    same n samples; scores: one finite number per input (probe accuracy,
    loss); layers: one name per input (the manifest's layer column);
    reference: "best" (the highest score per layer) or the names of the
    references (a list or comma-separated, one per layer); across_layers:
    compare each reference with every input, not only its layer's.
    measures and options (features_first, conv, sequence, ... and the
    measures' options) as simrep.matrix; bootstrap, permutations, seed, ci
    as simrep.rank_test.

    Returns {"score", "reference", "across_layers", "n", "inputs",
    "fraction", "statistics", "measures", "references": [{"layer",
    "reference", "score", "rows": [{"name", "layer"?, "score",
    "score_difference", "distance": {id: d}}], "tests": {id: {...}}}],
    "summary": {id: {"references", "rho", "rho_p", "tau", "tau_p",
    "bad_fraction"}}, "ranking": [ids], "warnings": [...]}.
    """
    from ._matrix import matrix
    if isinstance(inputs, dict):
        if names is not None:
            raise InvalidArgument("give names either as the dict's keys or as names=, not both")
        names = [str(k) for k in inputs]
        inputs = list(inputs.values())
    inputs = list(inputs)
    K = len(inputs)
    names = [str(i) for i in range(K)] if names is None else [str(s) for s in names]
    if len(names) != K or len(set(names)) != K:
        raise InvalidArgument("validate needs one distinct name per input (%d inputs, %d names)" % (K, len(names)))
    scores = [float(s) for s in scores]
    if len(scores) != K or not all(np.isfinite(scores)):
        raise InvalidArgument("scores= needs one finite number per input (%d inputs)" % K)
    if K < 3:
        raise InvalidArgument("validate needs at least 3 inputs (a reference and 2 to rank; got %d)" % K)
    if layers is not None:
        layers = [str(x) for x in layers]
        if len(layers) != K or not all(layers):
            raise InvalidArgument("layers= needs one non-empty name per input (%d inputs)" % K)
    o = _rank_options(bootstrap, permutations, seed, ci, None, warn=warn)
    fams, warns = _families(names, scores, layers, reference, across_layers)
    dist, ids, n = {}, None, None
    groups = [fams[0][2]] if across_layers else [f[2] for f in fams]
    for rows in groups:
        r = matrix([inputs[i] for i in rows], names=[names[i] for i in rows], measures=measures, warn=False,
                   **options)
        ids = list(r["measures"])
        n = r["n"]
        warns += [w for w in r["warnings"] if w not in warns]
        for a, i in enumerate(rows):
            for b, j in enumerate(rows):
                for m in ids:
                    dist[(m, i, j)] = float(r["measures"][m]["distance"][a, b])
    refs = []
    for layer, ref, rows in fams:
        x_rows = []
        for i in rows:
            row = {"name": names[i]}
            if layers is not None:
                row["layer"] = layers[i]
            row.update(score=scores[i], score_difference=abs(scores[i] - scores[ref]),
                       distance={m: (0.0 if i == ref else dist[(m, ref, i)]) for m in ids})
            x_rows.append(row)
        tests = {}
        for m in ids:
            res = RankResult()
            x = np.array([row["distance"][m] for row in x_rows])
            y = np.array([row["score_difference"] for row in x_rows])
            with Context() as ctx:
                ctx.check(lib.simrep_rank_test(ctx.ptr, x.size, x.ctypes.data, y.ctypes.data, byref(o), byref(res)))
            tests[m] = _test_dict(res)
        refs.append({"layer": layer, "reference": names[ref], "score": scores[ref], "rows": x_rows, "tests": tests})
    summary = {}
    for m in ids:
        t = [f["tests"][m] for f in refs]
        # Plain sums in reference order, as the CLI adds them (same bits).
        summary[m] = {"references": len(t), **{k: sum(q[k] for q in t) / len(t)
                                               for k in ("rho", "rho_p", "tau", "tau_p", "bad_fraction")}}
    ranking = sorted(ids, key=lambda m: (-summary[m]["rho"], -summary[m]["tau"], ids.index(m)))
    out = {"reference": reference if isinstance(reference, str) else ",".join(reference),
           "across_layers": bool(across_layers), "n": n, "inputs": K, "fraction": o.fraction,
           "statistics": {"bootstrap": o.bootstrap, "permutations": o.permutations, "ci": o.ci, "seed": o.seed},
           "measures": ids, "references": refs, "summary": summary, "ranking": ranking, "warnings": warns}
    if warn:
        import warnings as _w
        from ._core import SimrepWarning
        for w in warns:
            _w.warn(w, SimrepWarning, stacklevel=2)
    return out
