"""Arrays are read in place: the simrep_matrix handed to the library points
at the caller's memory with the caller's strides.

The library is wrapped by a recorder that reads the Matrix descriptors of
every simrep_compare / simrep_moments_update call; a copy anywhere in the
package would show up as a data pointer outside the caller's buffer."""

import ctypes

import numpy as np
import pytest

import simrep
from simrep import _native
from conftest import random_pair


class Recorder:
    """Stands in for the CDLL: forwards every call, records the matrices."""

    def __init__(self, real):
        self.real = real
        self.seen = []

    def __getattr__(self, name):
        f = getattr(self.real, name)
        if name not in ("simrep_compare", "simrep_moments_update", "simrep_cka_rbf"):
            return f

        def wrapper(*args):
            for a in args:
                obj = getattr(a, "_obj", None)  # ctypes.byref(...)
                if isinstance(obj, _native.Matrix):
                    self.seen.append((obj.data, obj.dtype, obj.rows, obj.cols, obj.row_stride, obj.col_stride))
            return f(*args)
        return wrapper


@pytest.fixture
def recorder(monkeypatch):
    rec = Recorder(_native.lib)
    monkeypatch.setattr(_native, "lib", rec)
    return rec


def address(a):
    return a.__array_interface__["data"][0]


def layouts(base):
    """(label, view of base's memory, expected element strides)."""
    n, p = base.shape
    c = np.ascontiguousarray(base)
    f = np.asfortranarray(base)
    big = np.zeros((n, 3 * p), dtype=base.dtype)
    big[:, 1::3] = base
    rows = np.zeros((2 * n, p), dtype=base.dtype)
    rows[::2] = base
    return [
        ("C", c, (p, 1)),
        ("F", f, (1, n)),
        ("column slice", big[:, 1::3], (3 * p, 3)),
        ("row slice", rows[::2], (2 * p, 1)),
        ("transposed F", np.asfortranarray(base.T).T, (p, 1)),
        ("transposed C", np.ascontiguousarray(base.T).T, (1, n)),
    ]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_compare_reads_every_layout_in_place(recorder, dtype):
    x0, y0 = random_pair(11, n=120, p=7, q=5, dtype=dtype)
    want = simrep.compare(x0, y0, "all+kernel", warn=False)
    codes = {np.float16: _native.F16, np.float32: _native.F32, np.float64: _native.F64}
    for (lx, x, sx), (ly, y, sy) in zip(layouts(x0), reversed(layouts(y0))):
        recorder.seen.clear()
        got = simrep.compare(x, y, "all+kernel", warn=False)
        assert recorder.seen, "no matrix reached the library"
        # simrep_compare for the linear measures and simrep_cka_rbf for the
        # kernel one: every descriptor is the caller's memory.
        for data, code, rows, cols, rs, cs in recorder.seen:
            assert code == codes[dtype]
            if cols == x0.shape[1]:
                assert (data, rows, rs, cs) == (address(x), 120, *sx), lx
            else:
                assert (data, rows, rs, cs) == (address(y), 120, *sy), ly
        for mid in want:
            assert abs(got[mid]["similarity"] - want[mid]["similarity"]) <= 1e-10, (lx, ly, mid)


def test_moments_update_reads_in_place(recorder):
    x0, y0 = random_pair(12, n=90, p=6, q=4, dtype=np.float32)
    m = simrep.Moments(6, 4)
    xs = layouts(x0)
    ys = layouts(y0)
    for (lx, x, sx), (ly, y, sy) in zip(xs, ys):
        recorder.seen.clear()
        m.update(x[10:50], y[10:50])
        (dx, _, _, _, rsx, csx), (dy, _, _, _, rsy, csy) = recorder.seen
        assert dx == address(x[10:50]) and (rsx, csx) == sx, lx
        assert dy == address(y[10:50]) and (rsy, csy) == sy, ly


def test_features_first_is_a_transposed_view(recorder):
    x0, y0 = random_pair(13, n=100, p=5, q=3)
    xt = np.ascontiguousarray(x0.T)
    simrep.compare(xt, y0.T, ["cka"], features_first=True)
    data, _, rows, cols, rs, cs = recorder.seen[0]
    assert (data, rows, cols, rs, cs) == (address(xt), 100, 5, 1, 100)


def test_copies_only_where_documented(recorder):
    """Negative strides and non-native byte order cannot be described: they
    are copied (documented in simrep/_arrays.py) and still give the same
    values."""
    x0, y0 = random_pair(14, n=80, p=4, q=3)
    want = simrep.compare(x0, y0, ["cca", "cka"])
    rev = x0[::-1]
    swapped = y0.astype(">f8")
    got = simrep.compare(rev, swapped[::-1], ["cca", "cka"])
    assert recorder.seen[0][0] != address(rev)
    for mid in want:  # rows permuted together: same values
        assert abs(got[mid]["similarity"] - want[mid]["similarity"]) <= 1e-12


torch = pytest.importorskip("torch")


def test_torch_tensors_in_place_and_bfloat16(recorder):
    torch.manual_seed(0)
    x = torch.randn(64, 6)
    y = torch.randn(64, 10)[:, ::2]  # strided
    simrep.compare(x, y, ["cka"])
    (dx, cx, _, _, rsx, csx), (dy, cy, _, _, rsy, csy) = recorder.seen
    assert dx == x.data_ptr() and (cx, rsx, csx) == (_native.F32, 6, 1)
    assert dy == y.data_ptr() and (cy, rsy, csy) == (_native.F32, 10, 2)
    recorder.seen.clear()
    xb, yb = x.bfloat16(), y.bfloat16()
    got = simrep.compare(xb, yb, ["cca", "cka"])
    assert recorder.seen[0][0] == xb.data_ptr() and recorder.seen[0][1] == _native.BF16
    want = simrep.compare(xb.float().numpy(), yb.float().numpy(), ["cca", "cka"])
    for mid in want:  # bf16 values are exact in float32: the same data
        assert abs(got[mid]["similarity"] - want[mid]["similarity"]) <= 1e-12
    xr = torch.randn(64, 6, requires_grad=True)
    simrep.compare(xr, y, ["cka"])  # detached, not an error
