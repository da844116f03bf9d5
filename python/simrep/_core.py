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
import threading
import warnings

import numpy as np

from . import _arrays, _native
from ._errors import Context, InvalidArgument, NotAvailable

DEFAULT_MEASURES = ("cca", "svcca", "pwcca", "cka")  # the CLI's default
CCA_FAMILY = ("cca", "cca_r2", "svcca", "pwcca")

_INFOS = _native.measure_infos()
# Measures of two samples x features matrices; "all" means these, as in the
# CLI without --conv.  Measures of conv feature maps (dftcca) need the conv
# input support, which the package does not have yet.
MEASURES = tuple(info["id"] for _, info in _INFOS if not info["needs_maps"])
_BY_ID = {info["id"]: (code, info) for code, info in _INFOS}

_SVCCA_RULES = {"variance": _native.SVCCA_VARIANCE, "singular-values": _native.SVCCA_SINGULAR_VALUES,
                "singular_values": _native.SVCCA_SINGULAR_VALUES}
_PWCCA_VARIANTS = {"google": _native.PWCCA_GOOGLE, "ding": _native.PWCCA_DING}


class SimrepWarning(UserWarning):
    """Caveats about a result (the CLI's "warnings"): few samples for the
    CCA family, dead features left out."""

    __module__ = "simrep"


def measures():
    """Every measure the library knows: {id: {title, similarity, distance,
    invariances, reference, needs_rows, needs_maps, higher_is_more_similar}}
    (`simrep measures`)."""
    return {info["id"]: dict(info) for _, info in _INFOS}


def _measure_list(ms):
    if ms is None:
        ms = DEFAULT_MEASURES
    elif isinstance(ms, str):
        ms = MEASURES if ms == "all" else [s.strip() for s in ms.split(",") if s.strip()]
    out = []
    for m in ms:
        if m == "all":
            out.extend(x for x in MEASURES if x not in out)
            continue
        if m in _BY_ID and _BY_ID[m][1]["needs_maps"]:
            raise NotAvailable("%s compares conv feature maps, which the Python package cannot pass yet (it comes "
                               "with conv input support); use `simrep compare --conv ... -m %s` meanwhile" % (m, m))
        if m not in _BY_ID:
            raise InvalidArgument("unknown measure %r (ids: %s, or 'all')" % (m, ", ".join(MEASURES)))
        if m not in out:
            out.append(m)
    if not out:
        raise InvalidArgument("no measures given (ids: %s, or 'all')" % ", ".join(MEASURES))
    return out


def _options(epsilon=None, svcca_keep=None, svcca_dims=None, svcca_rule=None, rbf_sigma=None,
             pwcca_variant=None):
    """The option buffer for the library, checked like the CLI checks its flags."""
    buf, o = _native.new_options()
    if epsilon is not None:
        epsilon = float(epsilon)
        if not epsilon >= 0:
            raise InvalidArgument("epsilon must be >= 0 (got %r)" % epsilon)
        o.epsilon = epsilon
    if svcca_keep is not None and svcca_dims is not None:
        raise InvalidArgument("svcca_keep and svcca_dims are alternatives; give one")
    if svcca_keep is not None:
        svcca_keep = float(svcca_keep)
        if not 0 < svcca_keep <= 1:
            raise InvalidArgument("svcca_keep is a fraction in (0, 1] (got %r)" % svcca_keep)
        o.svcca_keep = svcca_keep
    if svcca_dims is not None:
        if isinstance(svcca_dims, bool) or int(svcca_dims) != svcca_dims or svcca_dims < 1:
            raise InvalidArgument("svcca_dims takes a whole number >= 1 (got %r)" % (svcca_dims,))
        o.svcca_dims = int(svcca_dims)
    if svcca_rule is not None:
        if svcca_rule not in _SVCCA_RULES:
            raise InvalidArgument("svcca_rule is 'variance' or 'singular-values' (got %r)" % (svcca_rule,))
        o.svcca_rule = _SVCCA_RULES[svcca_rule]
    if rbf_sigma is not None:
        rbf_sigma = float(rbf_sigma)
        if not (rbf_sigma > 0 and np.isfinite(rbf_sigma)):
            raise InvalidArgument("rbf_sigma must be > 0 (got %r)" % rbf_sigma)
        o.rbf_sigma = rbf_sigma
    if pwcca_variant is not None:
        if pwcca_variant not in _PWCCA_VARIANTS:
            raise InvalidArgument("pwcca_variant is 'google' or 'ding' (got %r)" % (pwcca_variant,))
        o.pwcca_variant = _PWCCA_VARIANTS[pwcca_variant]
    return buf, o


def _doubles(ptr, count):
    if not ptr or count <= 0:
        return np.zeros(0)
    return np.ctypeslib.as_array(ptr, shape=(count,)).copy()


def _results_to_dict(ids, results, o, coefs, p, q, n, warn, stacklevel):
    out = {}
    seen = 0
    cca = None
    for mid, r in zip(ids, results):
        d = {"similarity": float(r.similarity), "distance": float(r.distance)}
        if mid in CCA_FAMILY:
            d["kept"] = [int(r.kept_p), int(r.kept_q)]
            cca = r
        if mid == "svcca":
            d["dims"] = [int(r.dims_p), int(r.dims_q)]
        if mid == "cca":
            d["reference_mean"] = float(r.reference_mean)
        if mid == "pwcca":
            d["variant"] = "ding" if o.pwcca_variant == _native.PWCCA_DING else "google"
        if mid == "cka_rbf":
            d["sigma"] = float(o.rbf_sigma)
        if coefs and r.coefs:
            d["coefs"] = _doubles(r.coefs, r.ncoefs)
            if r.weights:
                d["weights"] = _doubles(r.weights, r.ncoefs)
        seen |= r.warnings
        out[mid] = d
    if warn and cca is not None:
        # The CLI's warning texts (cli/compare.c).
        if seen & _native.WARN_FEW_SAMPLES:
            k = max(cca.kept_p, cca.kept_q)
            warnings.warn("n = %d samples is less than 10 x %d kept features: CCA-family values are biased "
                          "toward 1%s" % (n, k, " (with n <= p + q every canonical correlation can be 1 "
                                          "whatever the data)" if n <= cca.kept_p + cca.kept_q else ""),
                          SimrepWarning, stacklevel=stacklevel)
        for side, kept, total in (("x", cca.kept_p, p), ("y", cca.kept_q, q)):
            if kept < total:
                warnings.warn("%s: %d of %d features are constant (dead, variance <= %g x the largest) and were "
                              "left out of the CCA family" % (side, total - kept, total, o.epsilon),
                              SimrepWarning, stacklevel=stacklevel)
    return out


def _run_measures(ctx, call, ids, o, coefs, p, q, n, warn, names=None):
    """call(codes, count, results) -> status; results converted and cleared."""
    count = len(ids)
    codes = (ctypes.c_int * count)(*[_BY_ID[m][0] for m in ids])
    results = (_native.Result * count)()
    st = call(codes, count, results)
    try:
        ctx.check(st, names)
        return _results_to_dict(ids, results, o, coefs, p, q, n, warn, stacklevel=4)
    finally:
        for i in range(count):
            _native.lib.simrep_result_clear(ctx.ptr, ctypes.byref(results[i]))



_CONV_MODES = ("positions", "pool", "flatten")
_SEQUENCE_MODES = ("flatten", "per-step", "last", "mean")


def _layout(a, name, conv, conv_mode, sequence):
    """The samples x features views of a conv map or a sequence, as the CLI's
    --conv/--conv-mode/--sequence define them (README, "Conv layers"):
    a list of 2-D arrays, one per time step for sequence="per-step", else
    one.  Reshapes of C-order arrays are views; NCHW positions, pooling and
    the mean over time make a copy.  Different spatial sizes (the CLI's
    --resize) are not handled here."""
    if conv is None and sequence is None:
        return None
    arr = np.asarray(a) if not hasattr(a, "detach") else a.detach().cpu().numpy()
    if conv is not None:
        if conv not in ("nhwc", "nchw"):
            raise InvalidArgument("conv is 'nhwc' or 'nchw' (got %r)" % (conv,))
        mode = conv_mode or "positions"
        if mode not in _CONV_MODES:
            raise InvalidArgument("conv_mode is one of %s (got %r)" % (", ".join(_CONV_MODES), mode))
        if arr.ndim != 4:
            raise InvalidArgument("%s is %d-D %s; conv=%r takes 4-D maps" % (name, arr.ndim, arr.shape, conv))
        nhwc = arr if conv == "nhwc" else arr.transpose(0, 2, 3, 1)
        n, h, w, ch = nhwc.shape
        if mode == "positions":
            return [nhwc.reshape(n * h * w, ch)]
        if mode == "pool":
            return [nhwc.mean(axis=(1, 2), dtype=np.float64)]
        return [arr.reshape(n, -1)]  # numpy's reshape order of the array as given
    if sequence not in _SEQUENCE_MODES:
        raise InvalidArgument("sequence is one of %s (got %r)" % (", ".join(_SEQUENCE_MODES), sequence))
    if arr.ndim != 3:
        raise InvalidArgument("%s is %d-D %s; sequence=%r takes (N, T, D)" % (name, arr.ndim, arr.shape, sequence))
    n, t, d = arr.shape
    if sequence == "flatten":
        return [arr.reshape(n * t, d)]
    if sequence == "last":
        return [arr[:, -1, :]]
    if sequence == "mean":
        return [arr.mean(axis=1, dtype=np.float64)]
    return [arr[:, s, :] for s in range(t)]

def compare(x, y, measures=None, *, features_first=False, epsilon=None, svcca_keep=None, svcca_dims=None,
            svcca_rule=None, rbf_sigma=None, pwcca_variant=None, coefs=False, conv=None, conv_mode=None,
            sequence=None, warn=True):
    """Similarity of two representations x (n x p) and y (n x q).

    x, y: numpy arrays or torch tensors, float16/bfloat16/float32/float64
    (integers are converted), rows = samples, unless features_first=True
    (the google/svcca layout, neurons x datapoints).  C order, Fortran order
    and strided views are read in place, never copied.

    measures: a list of ids, a comma-separated string, or "all"; default
    the CLI's (cca, svcca, pwcca, cka).  simrep.MEASURES lists the ids.

    Options mirror the CLI flags: epsilon (dead-feature threshold and CCA
    ridge, relative to the largest variance; 1e-10), svcca_keep (0.99) or
    svcca_dims, svcca_rule ("variance" or "singular-values"), rbf_sigma
    (1.0), pwcca_variant ("google" or "ding"), coefs (add the canonical
    correlations as "coefs", and pwcca's "weights", as numpy arrays).

    conv ("nhwc" or "nchw") with conv_mode ("positions", the default:
    every spatial position of every image is a sample; "pool"; "flatten"),
    or sequence ("flatten", "per-step", "last", "mean") for (N, T, D)
    arrays, as the CLI's --conv/--conv-mode/--sequence (maps of different
    spatial sizes and dftcca: use the CLI).  With sequence="per-step" each
    measure also has "per_step" and "per_step_distance" (one value per time
    step) and its similarity/distance are their means.

    Returns {id: {"similarity", "distance", ...}} with the keys of the CLI's
    JSON "measures" object ("kept", "dims", "reference_mean", "variant",
    "sigma").  The CLI's warnings are issued as SimrepWarning (warn=False
    silences them).

    Raises InvalidArgument (a ValueError) for bad options or shapes,
    OutOfMemory (a MemoryError), simrep.Error for NaN/Inf in the data or an
    undefined measure, each with the library's message.
    """
    ids = _measure_list(measures)
    buf, o = _options(epsilon, svcca_keep, svcca_dims, svcca_rule, rbf_sigma, pwcca_variant)
    if conv_mode is not None and conv is None:
        raise InvalidArgument("conv_mode applies to conv maps: give conv='nhwc' or conv='nchw' too")
    views_x = _layout(x, "x", conv, conv_mode, sequence)
    if views_x is not None:
        views_y = _layout(y, "y", conv, conv_mode, sequence)
        if len(views_x) != len(views_y):
            raise InvalidArgument("x has %d time steps but y has %d; sequence='per-step' needs the same T"
                                  % (len(views_x), len(views_y)), _native.E_SHAPE)
        opts = dict(epsilon=epsilon, svcca_keep=svcca_keep, svcca_dims=svcca_dims, svcca_rule=svcca_rule,
                    rbf_sigma=rbf_sigma, pwcca_variant=pwcca_variant, coefs=coefs, warn=warn)
        steps = [compare(vx, vy, ids, **opts) for vx, vy in zip(views_x, views_y)]
        if len(steps) == 1 and sequence != "per-step":
            return steps[0]
        # The CLI's per-step JSON: the curve, and its mean at the top.
        out = {}
        for mid in ids:
            out[mid] = dict(steps[-1][mid])
            out[mid]["per_step"] = [s[mid]["similarity"] for s in steps]
            out[mid]["per_step_distance"] = [s[mid]["distance"] for s in steps]
            out[mid]["similarity"] = float(np.mean(out[mid]["per_step"]))
            out[mid]["distance"] = float(np.mean(out[mid]["per_step_distance"]))
        return out
    mx, keep_x = _arrays.matrix(x, "x", features_first)
    my, keep_y = _arrays.matrix(y, "y", features_first)
    if mx.rows != my.rows:
        raise InvalidArgument("y has %d samples but x has %d; rows of x and y must come from the same inputs%s"
                              % (my.rows, mx.rows, "" if features_first else
                                 " (if your arrays are features x samples, pass features_first=True)"),
                              _native.E_SHAPE)
    for name, m in (("x", mx), ("y", my)):
        if m.cols < 1:
            raise InvalidArgument("%s has no features (shape gives 0 %s)"
                                  % (name, "rows" if features_first else "columns"), _native.E_SHAPE)
    with Context() as ctx:
        return _run_measures(
            ctx, lambda codes, count, res: _native.lib.simrep_compare(
                ctx.ptr, ctypes.byref(mx), ctypes.byref(my), buf, codes, count, res),
            ids, o, coefs, mx.cols, my.cols, mx.rows, warn)


def _moments_from_state(p, q, state):
    m = Moments(p, q)
    m._load(state)
    return m


class Moments:
    """Streaming joint moments of x (p features) and y (q features).

    m = simrep.Moments(p, q)
    for xb, yb in batches:        # any number of rows per block, any dtype/layout
        m.update(xb, yb)
    m.compare(measures=["cca", "cka"])   # == simrep.compare on all the rows

    Partial Moments (threads, files, processes) combine with merge(); a
    Moments pickles (its state is n, means and the (p+q)^2 scatter).  The
    kernel measure cka_rbf needs the rows themselves, not moments: use
    simrep.compare for it.
    """

    def __init__(self, p, q):
        for name, v in (("p", p), ("q", q)):
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise InvalidArgument("Moments(p, q) needs p >= 1 and q >= 1 features (%s = %r)" % (name, v))
        self._lock = threading.Lock()
        self._ctx = Context()
        ptr = ctypes.c_void_p()
        self._ptr = None
        self._ctx.check(_native.lib.simrep_moments_new(self._ctx.ptr, int(p), int(q), ctypes.byref(ptr)))
        self._ptr = ptr

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
    def p(self):
        return int(_native.lib.simrep_moments_p(self._handle()))

    @property
    def q(self):
        return int(_native.lib.simrep_moments_q(self._handle()))

    def __repr__(self):
        if not self._ptr:
            return "<simrep.Moments (closed)>"
        return "<simrep.Moments p=%d q=%d n=%d>" % (self.p, self.q, self.n)

    # -- accumulation
    def update(self, x_block, y_block, *, features_first=False):
        """Fold in rows of x (rows x p) and y (rows x q); blocks of any size,
        dtype and layout (read in place).  NaN/Inf raises simrep.Error naming
        x_block or y_block, the row (counted from the first row ever given)
        and the column; on error the Moments is unchanged.  Returns self."""
        mx, kx = _arrays.matrix(x_block, "x_block", features_first)
        my, ky = _arrays.matrix(y_block, "y_block", features_first)
        return self._update_views(mx, my, ("x_block", "y_block"))

    def _update_views(self, mx, my, names):
        """update() from Matrix descriptors (names: the arguments' names for messages)."""
        with self._lock:
            self._ctx.check(_native.lib.simrep_moments_update(self._ctx.ptr, self._handle(), ctypes.byref(mx),
                                                              ctypes.byref(my)), names)
        return self

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
        ptr = ctypes.c_void_p()
        with self._lock:
            out._ctx.check(_native.lib.simrep_moments_clone(out._ctx.ptr, self._handle(), ctypes.byref(ptr)))
        out._ptr = ptr
        return out

    # -- contents
    def means(self):
        """(mean of x's p columns, mean of y's q columns) as float64 arrays."""
        mx, my = np.zeros(self.p), np.zeros(self.q)
        with self._lock:
            _native.lib.simrep_moments_means(self._handle(), mx.ctypes.data, my.ctypes.data)
        return mx, my

    def scatter(self):
        """The (p+q) x (p+q) centered scatter [[Sxx, Sxy], [Syx, Syy]]."""
        d = self.p + self.q
        out = np.zeros((d, d))
        with self._lock:
            _native.lib.simrep_moments_scatter(self._handle(), out.ctypes.data, d)
        return out

    # -- pickling (and MPI-style transport): the library's flat state
    def state(self):
        """The raw state as a float64 array (simrep_moments_save)."""
        size = _native.lib.simrep_moments_state_size(self.p, self.q)
        out = np.zeros(size)
        with self._lock:
            _native.lib.simrep_moments_save(self._handle(), out.ctypes.data)
        return out

    def _load(self, state):
        state = np.ascontiguousarray(np.frombuffer(state, dtype=np.float64) if isinstance(state, bytes)
                                     else state, dtype=np.float64)
        size = _native.lib.simrep_moments_state_size(self.p, self.q)
        if state.ndim != 1 or state.size != size:
            raise InvalidArgument("a Moments state for p = %d, q = %d has %d values, got %d"
                                  % (self.p, self.q, size, state.size))
        with self._lock:
            self._ctx.check(_native.lib.simrep_moments_load(self._ctx.ptr, self._handle(), state.ctypes.data))

    def allreduce(self, comm):
        """Make every rank's Moments the merge of all ranks' (mpi4py).

        comm is an mpi4py communicator (e.g. MPI.COMM_WORLD); every rank of
        it calls allreduce at the same time with a Moments of the same p and
        q.  Afterwards each one holds the moments of all the rows folded in
        on any rank, identical bits on every rank, equal to one Moments fed
        every row (to round-off: the exact pairwise merge).  Pickle-free:
        the flat states travel as float64 buffers (comm.Allgather; size x
        (p+q)^2 doubles per rank, independent of the rows) and are merged in
        rank order on every rank.  A data-parallel training job gets exact
        full-data similarity with no extra pass:

            m = simrep.Moments(p, q)
            for xb, yb in my_batches: m.update(xb, yb)
            m.allreduce(MPI.COMM_WORLD).compare(["cca", "cka"])

        Returns self.  Raises InvalidArgument (on every rank) when the
        ranks' p and q differ."""
        shape = np.array([self.p, self.q], dtype=np.int64)
        shapes = np.zeros((comm.Get_size(), 2), dtype=np.int64)
        comm.Allgather(shape, shapes)
        if not (shapes == shape).all():
            raise InvalidArgument("Moments.allreduce: the ranks' Moments differ in size (p, q per rank: %s)"
                                  % ", ".join("%d, %d" % (a, b) for a, b in shapes))
        mine = self.state()
        states = np.zeros((comm.Get_size(), mine.size))
        comm.Allgather(mine, states)
        total = _moments_from_state(self.p, self.q, states[0])
        try:
            for r in range(1, states.shape[0]):
                part = _moments_from_state(self.p, self.q, states[r])
                total.merge(part)
                part.close()
            self._load(total.state())
        finally:
            total.close()
        return self

    @classmethod
    def from_state(cls, p, q, state):
        """Rebuild a Moments from state() (e.g. after sending it between processes)."""
        return _moments_from_state(p, q, state)

    def __reduce__(self):
        return (_moments_from_state, (self.p, self.q, self.state().tobytes()))

    # -- measures
    def compare(self, measures=None, *, epsilon=None, svcca_keep=None, svcca_dims=None, svcca_rule=None,
                pwcca_variant=None, coefs=False, warn=True):
        """The measures of the data folded in so far; the same dict as
        simrep.compare.  Linear measures only: cka_rbf needs the rows."""
        ids = _measure_list(measures)
        rows = [m for m in ids if _BY_ID[m][1]["needs_rows"]]
        if rows:
            raise InvalidArgument(
                "%s needs the rows themselves, not moments (it is a kernel measure, O(n^2)): call "
                "simrep.compare(x, y, measures=%r) on the full data instead" % (", ".join(rows), rows))
        buf, o = _options(epsilon, svcca_keep, svcca_dims, svcca_rule, None, pwcca_variant)
        with self._lock:
            p, q, n = self.p, self.q, self.n
            return _run_measures(
                self._ctx, lambda codes, count, res: _native.lib.simrep_compare_moments(
                    self._ctx.ptr, self._handle(), buf, codes, count, res),
                ids, o, coefs, p, q, n, warn)

    def cca_details(self, epsilon=None):
        """The CCA with google/svcca's intermediate matrices
        (simrep_cca_details_compute), as a dict of numpy arrays: kept_x,
        kept_y (indices), rho, u (kp x kp), vt (kq x kq), wx, wy (the
        whitening matrices in the reference's rescaled units), mean_x, mean_y."""
        buf, o = _options(epsilon)
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
