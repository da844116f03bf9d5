"""Arrays and files read through the library's layouts (simrep_input).

Conv maps (4-D), sequences (3-D) and token masks become samples x features
blocks in the library (include/simrep.h, "conv maps and sequences" and
"Token masks"), exactly as for the CLI: an in-memory array is handed over
as a simrep_source over its memory (simrep_source_open_memory, no copy for
C- or Fortran-contiguous arrays; other strides are made contiguous first),
a path spec is opened by the library's file readers.  So simrep.compare,
simrep.matrix and simrep.torch.compare_models read 3-D and 4-D activations
with the CLI's conventions, and masks are checked by one set of rules.

Struct layouts mirror the header by hand, like _native; simrep_layout is
append-only and lives in an oversized buffer filled by simrep_layout_init,
and the library's struct sizes are checked at import.
"""

import ctypes
import os
from ctypes import POINTER, c_char_p, c_int, c_int64, c_void_p

import numpy as np

from . import _arrays, _native
from ._errors import InvalidArgument

_lib = _native.lib


class Layout(ctypes.Structure):
    _fields_ = [("features_first", c_int), ("conv", c_int), ("conv_mode", c_int), ("resize", c_int),
                ("sequence", c_int), ("mask", c_void_p)]


class InputDims(ctypes.Structure):
    _fields_ = [("ndim", c_int), ("items", c_int64), ("height", c_int64), ("width", c_int64),
                ("channels", c_int64), ("out_height", c_int64), ("out_width", c_int64), ("steps", c_int64),
                ("samples", c_int64), ("features", c_int64), ("rows_per_item", c_int64), ("views", c_int64),
                ("item_elements", c_int64)]


# Room for fields a newer library appends to simrep_layout.
_LAYOUT_BUFFER_SIZE = 512

_PROTOTYPES = {
    "simrep_layout_init": (None, [c_void_p]),
    "simrep_source_open_memory": (c_int, [c_void_p, c_void_p, c_int, c_int, POINTER(c_int64), c_int, c_char_p,
                                          POINTER(c_void_p)]),
    "simrep_input_open": (c_int, [c_void_p, c_char_p, c_void_p, POINTER(c_void_p)]),
    "simrep_input_from_source": (c_int, [c_void_p, c_void_p, c_void_p, POINTER(c_void_p)]),
    "simrep_input_free": (None, [c_void_p, c_void_p]),
    "simrep_input_dims_get": (None, [c_void_p, POINTER(InputDims)]),
    "simrep_input_item_row": (c_int64, [c_void_p, c_int64]),
    "simrep_input_dtype": (ctypes.c_int, [c_void_p]),
    "simrep_inputs_agree": (c_int, [c_void_p, POINTER(c_void_p), c_int]),
    "simrep_input_read": (c_int, [c_void_p, c_void_p, c_int64, c_int64, POINTER(_native.Matrix)]),
    "simrep_mask_open": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
    "simrep_mask_from_memory": (c_int, [c_void_p, c_void_p, c_char_p, c_int, POINTER(c_int64), c_int, c_char_p,
                                        POINTER(c_void_p)]),
    "simrep_mask_free": (None, [c_void_p, c_void_p]),
    "simrep_mask_items": (c_int64, [c_void_p]),
    "simrep_mask_steps": (c_int64, [c_void_p]),
    "simrep_mask_tokens": (c_int64, [c_void_p]),
}
for _name, (_res, _args) in _PROTOTYPES.items():
    _f = getattr(_lib, _name)
    _f.restype = _res
    _f.argtypes = _args

for _name, _struct in (("simrep_input_dims", InputDims), ("simrep_layout", Layout)):
    if _lib.simrep_struct_size(_name.encode()) < ctypes.sizeof(_struct):
        raise ImportError("simrep: %s has a smaller %s than this package expects; rebuild the library and the "
                          "package from the same source" % (_native.library_path, _name))

CONV = {"nhwc": 1, "nchw": 2}
CONV_MODES = {"positions": 0, "pool": 1, "flatten": 2}
RESIZE = {"interp": 1, "pool-to": 2, "dft": 3}
SEQUENCES = {"flatten": 1, "per-step": 2, "last": 3, "mean": 4, "first": 5}


def _choice(option, value, table):
    if value not in table:
        names = ["'%s'" % k for k in table]
        raise InvalidArgument("%s is %s or %s (got %r)" % (option, ", ".join(names[:-1]), names[-1], value))
    return table[value]


class Mask:
    """A simrep_mask: a path spec ("mask.npy", "batch.npz:attention_mask"),
    or an (N, T) array / tensor (1 = token, 0 = padding: a tokenizer's
    attention_mask, bool or 0/1 numbers) or (N,) lengths.  The library
    checks the values (errors name label)."""

    def __init__(self, ctx, mask, label="mask"):
        self.ptr = ctypes.c_void_p()
        if is_path(mask):
            ctx.check(_lib.simrep_mask_open(ctx.ptr, os.fsencode(mask), ctypes.byref(self.ptr)))
            return
        if hasattr(mask, "detach"):  # a torch tensor (bool, int64 attention mask, ...)
            mask = mask.detach().cpu().numpy()
        arr = np.asarray(mask)
        if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
            arr = np.ascontiguousarray(arr)
        fortran = int(arr.flags.f_contiguous and not arr.flags.c_contiguous)
        shape = (c_int64 * max(arr.ndim, 1))(*arr.shape)
        ctx.check(_lib.simrep_mask_from_memory(ctx.ptr, arr.ctypes.data if arr.size else None,
                                               arr.dtype.str.encode(), arr.ndim, shape, fortran, label.encode(),
                                               ctypes.byref(self.ptr)))

    @property
    def tokens(self):
        return int(_lib.simrep_mask_tokens(self.ptr))

    @property
    def items(self):
        return int(_lib.simrep_mask_items(self.ptr))

    def close(self, ctx):
        if self.ptr:
            _lib.simrep_mask_free(ctx.ptr, self.ptr)
            self.ptr = ctypes.c_void_p()


def layout(features_first=False, conv=None, conv_mode=None, resize=None, sequence=None, mask=None,
           per_step=True):
    """A simrep_layout in a buffer (keep it alive while inputs use it) from
    the CLI's option values; mask is a Mask or None."""
    if conv_mode is not None and conv is None:
        raise InvalidArgument("conv_mode applies to conv maps: give conv='nhwc' or conv='nchw' too")
    if resize is not None and conv is None:
        raise InvalidArgument("resize applies to conv maps: give conv='nhwc' or conv='nchw' too")
    if mask is not None and sequence is None:
        raise InvalidArgument("mask says which steps of (N, T, D) sequences are tokens: give sequence='flatten' "
                              "(every token a sample), 'first', 'last' or 'mean' too")
    if sequence == "per-step" and not per_step:
        raise InvalidArgument("sequence='per-step' gives one value per time step, which a matrix does not hold: "
                              "use 'flatten', 'first', 'last' or 'mean' (or simrep.compare for per-step curves)")
    buf = ctypes.create_string_buffer(_LAYOUT_BUFFER_SIZE)
    _lib.simrep_layout_init(buf)
    lay = Layout.from_buffer(buf)
    lay.features_first = int(bool(features_first))
    if conv is not None:
        lay.conv = _choice("conv", conv, CONV)
    if conv_mode is not None:
        lay.conv_mode = _choice("conv_mode", conv_mode, CONV_MODES)
    if resize is not None:
        lay.resize = _choice("resize", resize, RESIZE)
    if sequence is not None:
        lay.sequence = _choice("sequence", sequence, SEQUENCES)
    lay.mask = mask.ptr.value if mask is not None else None
    return buf


def is_path(item):
    """Whether an input is a path spec ("a.npy", "b.npz:key",
    "c.safetensors:name") rather than an array: str, bytes or os.PathLike."""
    return isinstance(item, (str, bytes, os.PathLike))


class Input:
    """One simrep_input: an array or tensor read in place (via a memory
    source) or a path spec, through a layout buffer."""

    def __init__(self, ctx, item, name, layout_buf):
        self.name = name
        self.ptr = ctypes.c_void_p()
        self.keep = None
        if is_path(item):  # the file's name as bytes, as given
            ctx.check(_lib.simrep_input_open(ctx.ptr, os.fsencode(item), layout_buf, ctypes.byref(self.ptr)))
        else:
            arr, code = _arrays.to_array(item, name)
            if arr.ndim < 1:
                raise InvalidArgument("%s is a scalar: simrep compares samples x features arrays" % name,
                                      _native.E_SHAPE)
            if not (arr.flags.c_contiguous or arr.flags.f_contiguous):
                arr = np.ascontiguousarray(arr)
            self.keep = arr
            fortran = int(arr.flags.f_contiguous and not arr.flags.c_contiguous)
            shape = (c_int64 * arr.ndim)(*arr.shape)
            src = ctypes.c_void_p()
            ctx.check(_lib.simrep_source_open_memory(ctx.ptr, arr.ctypes.data if arr.size else None, code, arr.ndim,
                                                     shape, fortran, name.encode(), ctypes.byref(src)))
            # the input takes the source over (freed with it, or at once on failure)
            ctx.check(_lib.simrep_input_from_source(ctx.ptr, src, layout_buf, ctypes.byref(self.ptr)))
        self.refresh()

    def refresh(self):
        self.dims = InputDims()
        _lib.simrep_input_dims_get(self.ptr, ctypes.byref(self.dims))
        self.rows, self.cols, self.views = int(self.dims.samples), int(self.dims.features), int(self.dims.views)
        self.dtype = int(_lib.simrep_input_dtype(self.ptr))  # of the stored array (reads may convert)

    def unit_starts(self):
        """The first row of every item that has rows, then the row count
        (int64 offsets: masked flatten's sequences of valid tokens, the
        empty ones left out), as simrep_stats_options.unit_starts takes them."""
        items = int(self.dims.items)
        rows = np.array([_lib.simrep_input_item_row(self.ptr, i) for i in range(items + 1)], dtype=np.int64)
        return np.ascontiguousarray(np.append(rows[:-1][np.diff(rows) > 0], rows[-1]))

    def read(self, ctx, r0, rows):
        """Views of rows [r0, r0 + rows): a ctypes array of self.views
        Matrix (valid until the next read)."""
        views = (_native.Matrix * max(self.views, 1))()
        ctx.check(_lib.simrep_input_read(ctx.ptr, self.ptr, r0, rows, views))
        return views

    def close(self, ctx):
        if self.ptr:
            _lib.simrep_input_free(ctx.ptr, self.ptr)
            self.ptr = ctypes.c_void_p()
        self.keep = None


def materialize(ctx, inp):
    """Every row of an input as float64 arrays, one per view (T for
    per-step), read in blocks."""
    out = [np.empty((inp.rows, inp.cols)) for _ in range(max(inp.views, 1))]
    block = block_rows([inp])
    for r0 in range(0, inp.rows, block):
        k = min(block, inp.rows - r0)
        views = inp.read(ctx, r0, k)
        for v, arr in zip(views, out):
            _lib.simrep_matrix_to_double(ctypes.byref(v), arr[r0:].ctypes.data, inp.cols)
    return out


def agree(ctx, inputs):
    """simrep_inputs_agree: same N (and T, spatial sizes) for every input;
    refreshes their dims."""
    arr = (c_void_p * len(inputs))(*[i.ptr.value for i in inputs])
    ctx.check(_lib.simrep_inputs_agree(ctx.ptr, arr, len(inputs)))
    for i in inputs:
        i.refresh()


def block_rows(inputs, per_row_floor=1):
    """Rows per block: about 4 Mi elements read across the inputs (whole
    items where rows_per_item > 1), as the CLI sizes them."""
    per_row = 0
    rpi = max(max(int(i.dims.rows_per_item), 1) for i in inputs)
    for i in inputs:
        per_row += max(int(i.dims.item_elements), i.cols * max(i.views, 1)) // max(int(i.dims.rows_per_item), 1) + 1
    block = max(per_row_floor, min(8192, (4 * 1024 * 1024) // max(per_row, 1)))
    if rpi > 1:
        block = max(block // rpi, 1) * rpi
    return block
