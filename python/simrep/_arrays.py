"""From numpy arrays and torch tensors to simrep_matrix views, without copies.

A simrep_matrix is a data pointer, a dtype and row/column strides in
elements, so a float16/float32/float64 array in C order, Fortran order or
any sliced or transposed view is passed as it is: the library reads the
caller's memory.  A copy is made only when the memory cannot be described
that way, and each case is listed here:
  - a negative stride (a[::-1]) or a stride that is not a whole number of
    elements (a view into a structured array);
  - a dtype the library does not read: integers and bools, longdouble
    (converted to float64), non-native byte order (converted to native);
  - a torch tensor that is not on the CPU (moved to the CPU first).
bfloat16 (not a numpy dtype) is read as its 16-bit pattern: torch bfloat16
tensors through tensor.view(torch.int16), and ml_dtypes' numpy bfloat16.
"""

import sys

import numpy as np

from . import _native

_FLOAT_CODES = {2: _native.F16, 4: _native.F32, 8: _native.F64}


def _is_torch_tensor(a):
    mod = type(a).__module__ or ""
    if not mod.startswith("torch"):
        return False
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(a, torch.Tensor)


def to_array(a, name):
    """(ndarray, simrep dtype code) for a, sharing a's memory when possible.
    The array is the one to describe; for bfloat16 it holds the raw bits."""
    if _is_torch_tensor(a):
        import torch
        t = a.detach()
        if t.device.type != "cpu":
            t = t.cpu()
        if t.dtype == torch.bfloat16:
            return t.view(torch.int16).numpy(), _native.BF16
        if t.dtype in (torch.float16, torch.float32, torch.float64):
            arr = t.numpy()
        elif t.is_complex():
            raise ValueError("%s: complex tensors are not supported (dtype %s)" % (name, t.dtype))
        else:
            arr = t.numpy()
    else:
        arr = np.asarray(a)
    dt = arr.dtype
    if dt.name == "bfloat16":  # ml_dtypes' numpy extension type
        return arr.view(np.uint16), _native.BF16
    if dt.kind == "f" and dt.itemsize in _FLOAT_CODES:
        if not dt.isnative:
            arr = arr.astype(dt.newbyteorder("="))
        return arr, _FLOAT_CODES[dt.itemsize]
    if dt.kind in "biuf":
        return arr.astype(np.float64), _native.F64
    raise ValueError("%s: dtype %s is not supported (float16, bfloat16, float32 or float64; integers are "
                     "converted)" % (name, dt))


_DTYPE_NAMES = {"float16": _native.F16, "half": _native.F16, "bfloat16": _native.BF16, "float32": _native.F32,
                "float": _native.F32, "single": _native.F32, "float64": _native.F64, "double": _native.F64}


def dtype_code(dtype):
    """The simrep dtype code of a numpy dtype, a torch dtype or a name
    ("float32", "bfloat16", ...)."""
    name = str(dtype)
    name = name[len("torch."):] if name.startswith("torch.") else name
    if name not in _DTYPE_NAMES:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            pass
    if name not in _DTYPE_NAMES:
        raise ValueError("dtype %r: expected float16, bfloat16, float32 or float64" % (dtype,))
    return _DTYPE_NAMES[name]


def check_2d(arr, name, hint=""):
    if arr.ndim != 2:
        if arr.ndim > 2:
            msg = ("%s has shape %s: simrep compares 2-D samples x features arrays; flatten the other axes "
                   "(e.g. a.reshape(len(a), -1))%s" % (name, tuple(arr.shape), hint))
        else:
            msg = "%s has shape %s: expected a 2-D samples x features array" % (name, tuple(arr.shape))
        raise ValueError(msg)


def describe(arr, code):
    """A Matrix describing the 2-D arr in place, and the array to keep alive
    while it is used (arr itself, or a contiguous copy; see the module doc)."""
    item = arr.dtype.itemsize
    s0, s1 = arr.strides
    if s0 < 0 or s1 < 0 or s0 % item or s1 % item:
        arr = np.ascontiguousarray(arr)
        s0, s1 = arr.strides
    m = _native.Matrix()
    m.data = arr.__array_interface__["data"][0]
    m.dtype = code
    m.rows, m.cols = arr.shape
    m.row_stride = s0 // item
    m.col_stride = s1 // item
    return m, arr


def matrix(a, name, features_first=False, hint=""):
    """to_array + 2-D check + describe: (Matrix, keepalive)."""
    arr, code = to_array(a, name)
    check_2d(arr, name, hint)
    if features_first:
        arr = arr.T
    return describe(arr, code)
