"""ctypes bindings of include/simrep.h (the public API only).

The shared library is found, in order, at:
  1. $SIMREP_LIBRARY (a path to libsimrep.so);
  2. libsimrep.so next to this file (what `make install-python` installs);
  3. <repository>/build/libsimrep.so (running from the source tree after `make`);
  4. the system's libsimrep.so (ctypes.util.find_library).

ctypes.CDLL releases the GIL for the duration of every foreign call, so the
computation runs in parallel with other Python threads.

Ctrl-C: Python runs its SIGINT handler only between bytecodes of the main
thread, never during a foreign call, so a long compare used to take effect
only when it returned.  The calls that can take long (LONG_CALLS) are
therefore made, from the main thread, on a helper thread while the main
thread waits in a join with a timeout, with a SIGINT handler that only sets
the context's cancel flag (simrep_ctx_set_cancel): the library stops within
a block or tile and frees its work, and KeyboardInterrupt is raised once
the helper has returned (so nothing is freed under a running call).  Only
while SIGINT has Python's default handler (KeyboardInterrupt); a program
with its own handler, other threads, and the helper itself call directly.

Struct layouts mirror the header by hand (ctypes has no header parser).
simrep_options is append-only and filled by simrep_options_init, so it lives
in an oversized buffer: a library that appended fields writes them into the
slack instead of past the end of the object.  simrep_result is passed as an
array, so its size must match the library's exactly; the header promises
append-only fields, which would change that size, and the library offers no
way to ask for it at run time (see the package's notes).
"""

import ctypes
import ctypes.util
import os
import signal
import threading
from ctypes import POINTER, c_char_p, c_double, c_int, c_int64, c_size_t, c_uint, c_void_p

# simrep_status
OK = 0
E_NOMEM = 1
E_INVALID = 2
E_IO = 3
E_FORMAT = 4
E_UNSUPPORTED = 5
E_SHAPE = 6
E_NONFINITE = 7
E_DEGENERATE = 8
E_NUMERIC = 9
E_NOTFOUND = 10
E_CANCELLED = 11

# simrep_dtype
F16, BF16, F32, F64 = 0, 1, 2, 3

# simrep_svcca_rule, simrep_pwcca_variant
SVCCA_VARIANCE, SVCCA_SINGULAR_VALUES = 0, 1
PWCCA_GOOGLE, PWCCA_DING = 0, 1

# result warning flags
WARN_FEW_SAMPLES = 1
WARN_DEAD_FEATURES = 2


class Matrix(ctypes.Structure):
    _fields_ = [("data", c_void_p), ("dtype", c_int), ("rows", c_int64), ("cols", c_int64),
                ("row_stride", c_int64), ("col_stride", c_int64)]


class Options(ctypes.Structure):
    _fields_ = [("epsilon", c_double), ("svcca_rule", c_int), ("svcca_keep", c_double),
                ("svcca_dims", c_int64), ("pwcca_variant", c_int), ("rbf_sigma", c_double),
                ("rsa_rdm", c_int), ("rsa_compare", c_int), ("knn", c_int64), ("rsa_memory", c_double),
                ("shape_alpha", c_double), ("ridge", c_double), ("precision", c_int),
                ("rbf_memory", c_double), ("noise_ulps", c_double)]


# Room for fields a newer library appends to simrep_options (see above).
OPTIONS_BUFFER_SIZE = 1024


class Result(ctypes.Structure):
    _fields_ = [("measure", c_int), ("similarity", c_double), ("distance", c_double),
                ("kept_p", c_int64), ("kept_q", c_int64), ("dims_p", c_int64), ("dims_q", c_int64),
                ("reference_mean", c_double), ("warnings", c_uint), ("coefs", POINTER(c_double)),
                ("ncoefs", c_int64), ("weights", POINTER(c_double)), ("has_chance", c_int), ("chance", c_double),
                ("reverse", c_double), ("reverse_distance", c_double),
                # appended with the rounding rule
                ("rank_p", c_int64), ("rank_q", c_int64), ("shrunk_p", c_int64), ("shrunk_q", c_int64)]


class MeasureInfo(ctypes.Structure):
    _fields_ = [("id", c_char_p), ("title", c_char_p), ("similarity", c_char_p), ("distance", c_char_p),
                ("higher_is_more_similar", c_int), ("invariances", c_char_p), ("reference", c_char_p),
                ("needs_rows", c_int), ("needs_maps", c_int),
                # appended with the registry
                ("family", c_int), ("options", c_uint), ("outputs", c_uint), ("similarity_min", c_double),
                ("similarity_max", c_double), ("distance_min", c_double), ("distance_max", c_double),
                ("invariant", c_uint), ("metric", c_int), ("paper", c_char_p),
                # appended (issue 10)
                ("time_in_n", c_int),
                # appended (issue 11, rows measures): SIMREP_STATS_* bits
                ("statistics", c_uint)]


class ErrorInfo(ctypes.Structure):
    _fields_ = [("status", c_int), ("input", c_int), ("file", c_char_p), ("byte_begin", ctypes.c_uint64),
                ("byte_end", ctypes.c_uint64), ("row", c_int64), ("column", c_int64), ("detail", c_char_p),
                ("option", c_char_p)]


class OptionInfo(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("metavar", c_char_p), ("help", c_char_p), ("kind", c_int),
                ("min", c_double), ("max", c_double), ("min_open", c_int), ("max_open", c_int),
                ("choices", c_char_p), ("valid", c_char_p), ("json_key", c_char_p), ("excludes", c_char_p)]


# simrep_family, simrep_option_kind
FAMILY_CCA, FAMILY_MOMENTS, FAMILY_ROWS, FAMILY_MAPS = 0, 1, 2, 3
OPTION_REAL, OPTION_INTEGER, OPTION_CHOICE = 0, 1, 2
# SIMREP_OUT_*: the result fields beyond similarity and distance
OUT_KEPT, OUT_DIMS, OUT_REFERENCE_MEAN, OUT_COEFS, OUT_WEIGHTS, OUT_REVERSE, OUT_RANK = 1, 2, 4, 8, 16, 32, 64
# SIMREP_WARN_* beyond the two above
WARN_FEW_SAMPLES_X, WARN_FEW_SAMPLES_Y, WARN_DEAD_X, WARN_DEAD_Y = 4, 8, 16, 32
WARN_MIXED_PRECISION, WARN_RECOMPUTED = 64, 128
WARN_LAYOUT = 256  # x and y wider than long and equally wide: features x samples read the other way?
WARN_ROUNDING, WARN_ROUNDING_X, WARN_ROUNDING_Y = 512, 1024, 2048
WARN_RIDGE, WARN_RIDGE_X, WARN_RIDGE_Y = 4096, 8192, 16384
WARN_FEW_SAMPLES_RANK, WARN_FEW_SAMPLES_RANK_X, WARN_FEW_SAMPLES_RANK_Y = 32768, 65536, 131072


class CcaDetails(ctypes.Structure):
    _fields_ = [("p", c_int64), ("q", c_int64), ("kp", c_int64), ("kq", c_int64), ("k", c_int64),
                ("kept_x", POINTER(c_int64)), ("kept_y", POINTER(c_int64)), ("rho", POINTER(c_double)),
                ("u", POINTER(c_double)), ("vt", POINTER(c_double)), ("wx", POINTER(c_double)),
                ("wy", POINTER(c_double)), ("mean_x", POINTER(c_double)), ("mean_y", POINTER(c_double))]


class Linkage(ctypes.Structure):
    _fields_ = [("leaves", c_int64), ("left", POINTER(c_int64)), ("right", POINTER(c_int64)),
                ("size", POINTER(c_int64)), ("height", POINTER(c_double)), ("order", POINTER(c_int64))]


class Figure(ctypes.Structure):
    _fields_ = [("svg", c_void_p), ("len", c_size_t), ("width", c_double), ("height", c_double),
                ("lo", c_double), ("hi", c_double), ("decimals", c_int), ("numbered", c_int),
                ("unplaced", c_int64)]


_STRS = POINTER(c_char_p)
_DBLS = POINTER(c_double)
_I64S = POINTER(c_int64)
_INTS = POINTER(c_int)


class Heatmap(ctypes.Structure):
    _fields_ = [("title", c_char_p), ("subtitle", c_char_p), ("scale_label", c_char_p), ("rows", c_int64),
                ("cols", c_int64), ("values", _DBLS), ("ld", c_int64), ("row_labels", _STRS),
                ("col_labels", _STRS), ("row_order", _I64S), ("col_order", _I64S), ("tree", POINTER(Linkage)),
                ("self", c_int), ("lo", c_double), ("hi", c_double), ("row_group", _INTS),
                ("group_names", _STRS), ("ngroups", c_int)]


class Scatter(ctypes.Structure):
    _fields_ = [("title", c_char_p), ("subtitle", c_char_p), ("xlabel", c_char_p), ("ylabel", c_char_p),
                ("n", c_int64), ("x", _DBLS), ("y", _DBLS), ("labels", _STRS), ("group", _INTS),
                ("group_names", _STRS), ("ngroups", c_int), ("equal_aspect", c_int)]


class Bars(ctypes.Structure):
    _fields_ = [("title", c_char_p), ("subtitle", c_char_p), ("ylabel", c_char_p), ("n", c_int64),
                ("labels", _STRS), ("value", _DBLS), ("err_lo", _DBLS), ("err_hi", _DBLS),
                ("err_label", c_char_p), ("colour", _INTS), ("note", _STRS), ("points", POINTER(_DBLS)),
                ("npoints", _I64S)]


class Lines(ctypes.Structure):
    _fields_ = [("title", c_char_p), ("subtitle", c_char_p), ("xlabel", c_char_p), ("ylabel", c_char_p),
                ("nseries", c_int), ("names", _STRS), ("npoints", _I64S), ("x", POINTER(_DBLS)),
                ("y", POINTER(_DBLS)), ("y_lo", POINTER(_DBLS)), ("y_hi", POINTER(_DBLS)), ("colour", _INTS),
                ("dash", _INTS), ("y_from_zero", c_int), ("colour_names", _STRS), ("ncolours", c_int),
                ("dash_names", _STRS), ("ndashes", c_int)]


_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    env = os.environ.get("SIMREP_LIBRARY")
    if env:
        return [env]  # an explicit choice is never second-guessed
    out = [os.path.join(_HERE, "libsimrep.so"),
           os.path.join(os.path.dirname(os.path.dirname(_HERE)), "build", "libsimrep.so")]
    found = ctypes.util.find_library("simrep")
    if found:
        out.append(found)
    return out


def _load():
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(path + " (missing)")
            continue
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    raise ImportError("simrep: cannot load libsimrep.so; build it with `make` in the repository or set "
                      "SIMREP_LIBRARY to its path. Tried: " + "; ".join(tried))


lib, library_path = _load()

_PROTOTYPES = {
    "simrep_strerror": (c_char_p, [c_int]),
    "simrep_ctx_new": (c_void_p, [c_void_p]),
    "simrep_ctx_free": (None, [c_void_p]),
    "simrep_ctx_message": (c_char_p, [c_void_p]),
    "simrep_ctx_status": (c_int, [c_void_p]),
    "simrep_options_init": (None, [c_void_p]),
    "simrep_measure_get_info": (POINTER(MeasureInfo), [c_int]),
    "simrep_measure_from_id": (c_int, [c_char_p]),
    "simrep_result_clear": (None, [c_void_p, POINTER(Result)]),
    "simrep_moments_new": (c_int, [c_void_p, c_int64, c_int64, POINTER(c_void_p)]),
    "simrep_moments_free": (None, [c_void_p, c_void_p]),
    "simrep_moments_clone": (c_int, [c_void_p, c_void_p, POINTER(c_void_p)]),
    "simrep_moments_update": (c_int, [c_void_p, c_void_p, POINTER(Matrix), POINTER(Matrix)]),
    "simrep_moments_merge": (c_int, [c_void_p, c_void_p, c_void_p]),
    "simrep_moments_note_dtype": (c_int, [c_void_p, c_void_p, c_int, c_int]),
    "simrep_moments_unit_roundoff": (c_double, [c_void_p, c_int]),
    "simrep_moments_n": (c_int64, [c_void_p]),
    "simrep_moments_p": (c_int64, [c_void_p]),
    "simrep_moments_q": (c_int64, [c_void_p]),
    "simrep_moments_means": (None, [c_void_p, c_void_p, c_void_p]),
    "simrep_moments_scatter": (None, [c_void_p, c_void_p, c_int64]),
    "simrep_moments_state_size": (c_int64, [c_int64, c_int64]),
    "simrep_moments_save": (None, [c_void_p, c_void_p]),
    "simrep_moments_load": (c_int, [c_void_p, c_void_p, c_void_p]),
    "simrep_compare_moments": (c_int, [c_void_p, c_void_p, c_void_p, POINTER(c_int), c_int, POINTER(Result)]),
    "simrep_compare": (c_int, [c_void_p, POINTER(Matrix), POINTER(Matrix), c_void_p, POINTER(c_int), c_int,
                               POINTER(Result)]),
    "simrep_cka_rbf": (c_int, [c_void_p, POINTER(Matrix), POINTER(Matrix), c_double, POINTER(c_double)]),
    "simrep_cca_details_compute": (c_int, [c_void_p, c_void_p, c_void_p, POINTER(CcaDetails)]),
    "simrep_cca_details_clear": (None, [c_void_p, POINTER(CcaDetails)]),
    "simrep_dtype_size": (c_size_t, [c_int]),
    "simrep_version": (c_char_p, []),
    "simrep_matrix_to_double": (None, [POINTER(Matrix), c_void_p, c_int64]),
    "simrep_moments_new_multi": (c_int, [c_void_p, c_int, POINTER(c_int64), POINTER(c_void_p)]),
    "simrep_moments_set_precision": (c_int, [c_void_p, c_void_p, c_int]),
    "simrep_moments_update_multi": (c_int, [c_void_p, c_void_p, POINTER(Matrix)]),
    "simrep_pairs_prepare": (c_int, [c_void_p, c_void_p, c_void_p, POINTER(c_int), c_int, POINTER(c_void_p)]),
    "simrep_pairs_compare": (c_int, [c_void_p, c_void_p, c_int, c_int, POINTER(c_int), c_int, POINTER(Result)]),
    "simrep_pairs_free": (None, [c_void_p, c_void_p]),
    "simrep_source_open": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
    "simrep_source_set_layout": (c_int, [c_void_p, c_void_p, c_int]),
    "simrep_source_samples": (c_int64, [c_void_p]),
    "simrep_source_features": (c_int64, [c_void_p]),
    "simrep_source_read": (c_int, [c_void_p, c_void_p, c_int64, c_int64, POINTER(Matrix)]),
    "simrep_source_free": (None, [c_void_p, c_void_p]),
    "simrep_struct_size": (c_size_t, [c_char_p]),
    "simrep_family_id": (c_char_p, [c_int]),
    "simrep_ctx_error": (None, [c_void_p, POINTER(ErrorInfo)]),
    "simrep_ctx_set_names": (None, [c_void_p, POINTER(c_char_p), c_int]),
    "simrep_family_name": (c_char_p, [c_int]),
    "simrep_output_key": (c_char_p, [c_uint]),
    "simrep_invariance_name": (c_char_p, [c_uint]),
    "simrep_default_measures": (c_int, [POINTER(c_int), c_int]),
    "simrep_all_measures": (c_int, [POINTER(c_int), c_int, c_uint]),
    "simrep_option_get_info": (POINTER(OptionInfo), [c_int]),
    "simrep_option_from_name": (c_int, [c_char_p]),
    "simrep_options_set": (c_int, [c_void_p, c_void_p, c_char_p, c_char_p]),
    "simrep_options_get": (c_double, [c_void_p, c_int]),
    "simrep_warning_text": (c_char_p, [c_uint]),
    "simrep_warnings_of_side": (c_uint, [c_uint, c_int]),
    "simrep_mds": (c_int, [c_void_p, c_int64, c_void_p, c_int64, c_int64, c_void_p, c_void_p]),
    "simrep_cluster_average": (c_int, [c_void_p, c_int64, c_void_p, c_int64, POINTER(Linkage)]),
    "simrep_linkage_clear": (None, [c_void_p, POINTER(Linkage)]),
    "simrep_figure_clear": (None, [c_void_p, POINTER(Figure)]),
    "simrep_heatmap_init": (None, [POINTER(Heatmap)]),
    "simrep_plot_heatmap": (c_int, [c_void_p, POINTER(Heatmap), POINTER(Figure)]),
    "simrep_scatter_init": (None, [POINTER(Scatter)]),
    "simrep_plot_scatter": (c_int, [c_void_p, POINTER(Scatter), POINTER(Figure)]),
    "simrep_bars_init": (None, [POINTER(Bars)]),
    "simrep_plot_bars": (c_int, [c_void_p, POINTER(Bars), POINTER(Figure)]),
    "simrep_lines_init": (None, [POINTER(Lines)]),
    "simrep_plot_lines": (c_int, [c_void_p, POINTER(Lines), POINTER(Figure)]),
    "simrep_elide": (c_size_t, [c_char_p, c_int64, c_char_p, c_size_t]),
    "simrep_figure_title": (c_size_t, [c_char_p, c_char_p, c_char_p, c_int64, c_int64, c_char_p, c_size_t]),
}

for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args

lib.simrep_ctx_set_cancel.restype = None
lib.simrep_ctx_set_cancel.argtypes = [c_void_p, c_void_p]

# The cancel flag of every live Context, by its simrep_ctx pointer (the
# first argument of every call that takes one).
CANCEL_FLAGS = {}


class _Helper:
    """One daemon thread that makes the long calls of the main thread (a
    thread per call cost about ten times a small Moments.update).  The main
    thread hands a call over and waits for it with a timeout, so that its
    SIGINT handler runs (see the module's docstring)."""

    def __init__(self):
        self._go = threading.Semaphore(0)
        self._thread = None
        self._job = None

    def _loop(self):
        while True:
            self._go.acquire()
            fn, args, box, done = self._job
            try:
                box["value"] = fn(*args)
            except BaseException as e:  # noqa: B902 (re-raised in the caller's thread)
                box["error"] = e
            done.release()

    def call(self, fn, args, on_wait):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="simrep-calls", daemon=True)
            self._thread.start()
        box, done = {}, threading.Lock()
        done.acquire()
        self._job = (fn, args, box, done)
        self._go.release()
        while not done.acquire(timeout=0.05):
            on_wait()
        if "error" in box:
            raise box["error"]
        return box["value"]


_HELPER = _Helper()

# Calls on matrices of fewer elements than this take well under 10 ms: made
# directly (the hand-over costs about as much as a 64 x 32 update).
_SMALL = 1 << 18


def _small(args):
    """Whether the matrices passed (byref(Matrix) or arrays of them) hold
    fewer than _SMALL elements in all; False when there are none (the
    measures' work is not visible from the arguments)."""
    total, seen = 0, False
    for a in args:
        obj = getattr(a, "_obj", a)
        if isinstance(obj, Matrix):
            seen, total = True, total + obj.rows * obj.cols
        elif isinstance(obj, ctypes.Array) and issubclass(obj._type_, Matrix):
            seen, total = True, total + sum(m.rows * m.cols for m in obj)
    return seen and total < _SMALL


class _Cancellable:
    """A library function whose first argument is a simrep_ctx, made
    interruptible by Ctrl-C (see the module's docstring).  Attribute access
    (restype, argtypes) goes to the ctypes function itself."""

    def __init__(self, fn):
        object.__setattr__(self, "_fn", fn)

    def __getattr__(self, name):
        return getattr(self._fn, name)

    def __setattr__(self, name, value):
        setattr(self._fn, name, value)

    def __call__(self, ctx, *args):
        flag = CANCEL_FLAGS.get(ctx)
        if (flag is None or threading.current_thread() is not threading.main_thread() or _small(args)
                or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
            return self._fn(ctx, *args)
        pending = []

        def on_sigint(signum, frame):
            # No exception while the call runs: one raised between two
            # bytecodes here could leave the call running on arrays its
            # caller then frees.
            pending.append(signum)
            flag.value = 1

        signal.signal(signal.SIGINT, on_sigint)
        try:
            value = _HELPER.call(self._fn, (ctx,) + args, lambda: None)
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            flag.value = 0
        if pending:
            raise KeyboardInterrupt
        return value


# The calls that can run long: streaming, measures, the O(n^2) passes, file
# opens that may spill a deflated member.
LONG_CALLS = ("simrep_moments_update", "simrep_moments_update_multi", "simrep_moments_merge",
              "simrep_compare_moments", "simrep_compare", "simrep_cka_rbf", "simrep_cca_details_compute",
              "simrep_pairs_prepare", "simrep_pairs_prepare_some", "simrep_pairs_compare", "simrep_source_open",
              "simrep_source_read", "simrep_input_open", "simrep_input_read", "simrep_inputs_agree",
              "simrep_stats_update", "simrep_stats_compute", "simrep_dftcca_update", "simrep_dftcca_compute",
              "simrep_group_tests", "simrep_mds")
for _name in LONG_CALLS:
    try:
        setattr(lib, _name, _Cancellable(getattr(lib, _name)))
    except AttributeError:  # a library without it: the package does not call it either
        pass


def _check_abi():
    """The structs this module lays out must be the library's: results are
    passed as arrays, so a size mismatch would misplace every element."""
    for name, struct in (("simrep_result", Result), ("simrep_matrix", Matrix),
                         ("simrep_cca_details", CcaDetails), ("simrep_measure_info", MeasureInfo),
                         ("simrep_option_info", OptionInfo), ("simrep_error_info", ErrorInfo),
                         ("simrep_linkage", Linkage), ("simrep_figure", Figure), ("simrep_heatmap", Heatmap),
                         ("simrep_scatter", Scatter), ("simrep_bars", Bars), ("simrep_lines", Lines)):
        size = lib.simrep_struct_size(name.encode())
        if size != ctypes.sizeof(struct):
            raise ImportError("simrep: %s (version %s) has sizeof(%s) = %d but this package expects %d; "
                              "rebuild the library and the package from the same source"
                              % (library_path, lib.simrep_version().decode(), name, size, ctypes.sizeof(struct)))


_check_abi()


def strerror(status):
    return lib.simrep_strerror(status).decode("utf-8", "replace")


def new_options():
    """A zeroed, oversized buffer holding simrep_options with the library's
    defaults, and the Options view of its known fields."""
    buf = ctypes.create_string_buffer(OPTIONS_BUFFER_SIZE)
    lib.simrep_options_init(buf)
    return buf, Options.from_buffer(buf)


def _bits(mask, name):
    """The names of the set bits of a registry bitmask (name(bit) is NULL past the last)."""
    out = []
    for b in range(32):
        text = name(1 << b)
        if text is None:
            return out
        if mask & (1 << b):
            out.append(text.decode())
    return out


def option_infos():
    """Every option the library knows, in enum order: [(enum, info dict)]
    (name, metavar, help, kind, min, max, min_open, max_open, choices (a
    list), valid, json_key, excludes)."""
    out = []
    i = 0
    while True:
        p = lib.simrep_option_get_info(i)
        if not p:
            return out
        o = p.contents
        text = lambda v: v.decode() if v else None  # noqa: E731
        out.append((i, {"name": o.name.decode(), "metavar": o.metavar.decode(), "help": o.help.decode(),
                        "kind": o.kind, "min": o.min, "max": o.max, "min_open": bool(o.min_open),
                        "max_open": bool(o.max_open),
                        "choices": o.choices.decode().split("|") if o.choices else None,
                        "valid": o.valid.decode(), "json_key": text(o.json_key), "excludes": text(o.excludes)}))
        i += 1


_OPTION_NAMES = [info["name"] for _, info in option_infos()]


def measure_infos():
    """Every measure the library knows, in enum order: [(enum, info dict)]."""
    out = []
    i = 0
    while True:
        p = lib.simrep_measure_get_info(i)
        if not p:
            return out
        inf = p.contents
        out.append((i, {
            "id": inf.id.decode(), "title": inf.title.decode(), "similarity": inf.similarity.decode(),
            "distance": inf.distance.decode(), "higher_is_more_similar": bool(inf.higher_is_more_similar),
            "invariances": inf.invariances.decode(), "reference": inf.reference.decode(),
            "needs_rows": bool(inf.needs_rows), "needs_maps": bool(inf.needs_maps),
            "family": lib.simrep_family_id(inf.family).decode(),
            "computed_from": lib.simrep_family_name(inf.family).decode(),
            "options": [_OPTION_NAMES[b] for b in range(len(_OPTION_NAMES)) if inf.options & (1 << b)],
            "outputs": _bits(inf.outputs, lib.simrep_output_key),
            "similarity_range": (inf.similarity_min, inf.similarity_max),
            "distance_range": (inf.distance_min, inf.distance_max),
            "invariant_to": _bits(inf.invariant, lib.simrep_invariance_name),
            "metric": bool(inf.metric), "paper": inf.paper.decode(), "time_in_n": inf.time_in_n,
            "statistics": [k for b, k in ((1, "bootstrap"), (2, "permutations")) if inf.statistics & b],
            "_outputs": inf.outputs, "_options": inf.options}))
        i += 1


ALL_QUADRATIC = 1  # SIMREP_ALL_QUADRATIC


def all_measures(flags=0):
    """The ids "all" means (flags ALL_QUADRATIC: "all+kernel"), the library's rule."""
    n = lib.simrep_all_measures(None, 0, flags)
    ids = (c_int * max(n, 1))()
    lib.simrep_all_measures(ids, n, flags)
    return [ids[k] for k in range(n)]


def default_measures():
    """The ids the library offers when none are named."""
    n = lib.simrep_default_measures(None, 0)
    ids = (c_int * max(n, 1))()
    lib.simrep_default_measures(ids, n)
    return [ids[k] for k in range(n)]
