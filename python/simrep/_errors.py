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

import ctypes
import re

from . import _native


class Error(Exception):
    """A simrep library error.  .status is the simrep_status code."""

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

# The library names the sides of a comparison "x" and "y" at the start of a
# message ("x: NaN at row 3, column 0") or in shape messages ("x has 10 rows
# but y has 9").
_SIDE = re.compile(r"\b(x|y)\b(?=(: | has | ?\(|$))")


def rename_sides(message, names):
    """Replace the library's "x"/"y" by the caller's argument names."""
    if not names or tuple(names) == ("x", "y"):
        return message
    return _SIDE.sub(lambda mo: names[0] if mo.group(1) == "x" else names[1], message)


def from_status(status, message, names=None):
    if not message:
        message = _native.strerror(status)
    message = rename_sides(message, names)
    return _CLASSES.get(status, Error)(message, status)


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

    def check(self, status, names=None):
        if status != _native.OK:
            msg = _native.lib.simrep_ctx_message(self.ptr) or b""
            raise from_status(status, msg.decode("utf-8", "replace"), names)

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
