"""Exceptions: the library's status codes as Python exceptions.

Every failure of a library call raises a subclass of simrep.Error carrying
.status (the simrep_status code), .status_name (simrep_strerror) and the
context's detailed message.  Two of them are also the built-in exception a
Python user expects to catch:
  SIMREP_E_INVALID, SIMREP_E_SHAPE  -> InvalidArgument (a ValueError)
  SIMREP_E_NOMEM                    -> OutOfMemory (a MemoryError)
everything else (NaN/Inf in the data, a degenerate measure, LAPACK failure)
-> simrep.Error.  Argument checks done in Python raise InvalidArgument too.
"""

import contextlib
import ctypes

from . import _native


class SimrepWarning(UserWarning):
    """Caveats about a result (the CLI's "warnings"): few samples for the
    CCA family, dead features left out, too few resamples."""

    __module__ = "simrep"


class Error(Exception):
    """A simrep library error.  .status is the simrep_status code; where it
    happened, as the library says (simrep_ctx_error; None when not known):
    .input (the index of the input at fault: 0 for x, 1 for y, k of a
    matrix), .file, .byte_range ((begin, end) of that file), .row, .column,
    .option (the option the failure is about: "max_memory", "unit_starts")
    and .detail (the message without the input's or file's name)."""

    input = file = byte_range = row = column = option = None
    detail = ""

    __module__ = "simrep"

    def __init__(self, message, status=_native.E_INVALID):
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def status_name(self):
        return _native.strerror(self.status)


class InvalidArgument(Error, ValueError):
    """A bad argument or mismatched shapes (SIMREP_E_INVALID, SIMREP_E_SHAPE)."""

    __module__ = "simrep"


class OutOfMemory(Error, MemoryError):
    """An allocation failed (SIMREP_E_NOMEM)."""

    __module__ = "simrep"


class NotAvailable(Error, NotImplementedError):
    """An option this version of simrep does not offer yet."""

    __module__ = "simrep"

    def __init__(self, message):
        super().__init__(message, _native.E_UNSUPPORTED)


_CLASSES = {_native.E_INVALID: InvalidArgument, _native.E_SHAPE: InvalidArgument,
            _native.E_NOMEM: OutOfMemory}

def from_status(status, message, info=None):
    """The exception for a status; info (a dict from the context's
    simrep_ctx_error) becomes its .input, .file, .byte_range, .row, .column
    and .detail."""
    if not message:
        message = _native.strerror(status)
    e = _CLASSES.get(status, Error)(message, status)
    for key, value in (info or {}).items():
        setattr(e, key, value)
    return e


class Context:
    """A simrep_ctx for one call or one object (never shared by two threads)."""

    def __init__(self):
        self.ptr = _native.lib.simrep_ctx_new(None)
        if not self.ptr:
            raise OutOfMemory("out of memory allocating a simrep context", _native.E_NOMEM)
        # Ctrl-C during a long call sets it (_native._Cancellable).
        self._cancel = ctypes.c_int(0)
        _native.lib.simrep_ctx_set_cancel(self.ptr, ctypes.byref(self._cancel))
        _native.CANCEL_FLAGS[self.ptr] = self._cancel

    def check(self, status, pair=None):
        """Raise the library's failure: its message (naming the inputs as
        named() set), and where it happened as attributes (see Error).
        pair: the names of a call's two inputs; a failure about neither
        alone (out of memory for the pair, a LAPACK failure on their joint
        covariance) is "<x> and <y>: <message>", as the CLI says it."""
        if status != _native.OK:
            msg = (_native.lib.simrep_ctx_message(self.ptr) or b"").decode("utf-8", "replace")
            info = self.error_info()
            if pair and info["input"] is None and not info["file"] and status not in (_native.E_INVALID,
                                                                                      _native.E_CANCELLED):
                msg = "%s and %s: %s" % (pair[0], pair[1], msg or _native.strerror(status))
            raise from_status(status, msg, info)

    def error_info(self):
        """simrep_ctx_error: which input, file, bytes and cell the last
        failure concerns (None where not known), and its detail."""
        e = _native.ErrorInfo()
        _native.lib.simrep_ctx_error(self.ptr, ctypes.byref(e))
        text = lambda b: (b or b"").decode("utf-8", "replace")  # noqa: E731
        return {"input": e.input if e.input >= 0 else None, "file": text(e.file) or None,
                "byte_range": (e.byte_begin, e.byte_end) if e.byte_end > e.byte_begin else None,
                "row": e.row if e.row >= 0 else None, "column": e.column if e.column >= 0 else None,
                "option": text(e.option) or None, "detail": text(e.detail)}

    @contextlib.contextmanager
    def named(self, names):
        """Within the block, the library's messages name input k names[k]
        (simrep_ctx_set_names) instead of "x"/"y"/"input k"."""
        if not names:
            yield self
            return
        arr = (ctypes.c_char_p * len(names))(*[str(n).encode() for n in names])
        _native.lib.simrep_ctx_set_names(self.ptr, arr, len(names))
        try:
            yield self
        finally:
            _native.lib.simrep_ctx_set_names(self.ptr, None, 0)

    def close(self):
        if self.ptr:
            _native.CANCEL_FLAGS.pop(self.ptr, None)
            _native.lib.simrep_ctx_free(self.ptr)
            self.ptr = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass
