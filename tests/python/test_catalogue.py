"""The rest of the bad-input catalogue (issue 6), beside test_cli_errors.py.

test_cli_errors.BAD_FILES covers most of the issue's list; this file adds
what it lacked: zip members that lie about their sizes in each way a ZIP can
(compressed size, uncompressed size, the deflate bound, CRC, local header,
ZIP64 fields), descr and shape texts that overflow while being parsed (the
fuzzers found one), safetensors headers that nest or repeat, paths that are
not regular files, and all-zero inputs for every measure on its own.  The
contract is the same: exit 1 (data) or 2 (usage), "simrep: error: <file>: ..."
naming the bad file, and an answer in well under a second (FAST).

Numerical edge cases through the CLI are at the end (float16 at 65504).
"""

import json
import struct
import zlib

import numpy as np
import pytest

from conftest import (SANITIZED, assert_error, compare, npy_raw, run, spec_path, write_npy,
                      write_safetensors_raw)

N = 50
# "Well under a second": every case takes a few milliseconds on the
# optimized build; the bound leaves room for a loaded CI machine, and the
# ASan build's slower start-up.
FAST = 3.0 if SANITIZED else 1.0


def good(tmp_path, n=N, p=4, name="good.npy", seed=0):
    return write_npy(tmp_path / name, np.random.default_rng(seed).standard_normal((n, p)))


def hdr(descr="<f8", shape="(50, 4)"):
    return "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)


def npy_member(shape=(N, 4)):
    a = np.random.default_rng(1).standard_normal(shape)
    return npy_raw(hdr(shape=str(tuple(shape)))) + a.tobytes()


def deflate(raw):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(raw) + c.flush()


def zip_one(raw, method=8, usize=None, csize=None, crc=None, data=None, local_off=None, flags=0,
            zip64=True, z64_off=None, short_extra=False, name="x.npy"):
    """A one-member ZIP built by hand so every field can lie.  With zip64 the
    sizes and offset are in ZIP64 extra fields and a ZIP64 end record, as
    numpy writes members over 4 GiB."""
    if data is None:
        data = deflate(raw) if method == 8 else raw
    usize = len(raw) if usize is None else usize
    csize = len(data) if csize is None else csize
    crc = zlib.crc32(raw) if crc is None else crc
    nm = name.encode()
    if zip64:
        lex = struct.pack("<HHQQ", 1, 16, usize, csize)
        local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, flags, method, 0, 0, crc, 0xFFFFFFFF,
                            0xFFFFFFFF, len(nm), len(lex)) + nm + lex + data
        cex = struct.pack("<HHQQQ", 1, 24, usize, csize, 0 if local_off is None else local_off)
        if short_extra:
            cex = struct.pack("<HHQ", 1, 8, usize)
        cd = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, flags, method, 0, 0, crc, 0xFFFFFFFF,
                         0xFFFFFFFF, len(nm), len(cex), 0, 0, 0, 0, 0xFFFFFFFF) + nm + cex
    else:
        local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0, crc, csize, usize,
                            len(nm), 0) + nm + data
        cd = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, method, 0, 0, crc, csize, usize,
                         len(nm), 0, 0, 0, 0, 0, 0 if local_off is None else local_off) + nm
    out = local
    cd_off = len(out)
    out += cd
    if zip64:
        z64 = len(out)
        out += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, 1, 1, len(cd), cd_off)
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, z64 if z64_off is None else z64_off, 1)
        out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), cd_off, 0)
    return out


def npz(content_fn, key="x"):
    def make(tmp_path):
        path = tmp_path / "bad.npz"
        path.write_bytes(content_fn())
        return "%s:%s" % (path, key) if key else str(path)
    return make


def npy(content_fn):
    def make(tmp_path):
        path = tmp_path / "bad.npy"
        path.write_bytes(content_fn())
        return str(path)
    return make


def st(header, data=b""):
    def make(tmp_path):
        h = header if isinstance(header, bytes) else json.dumps(header).encode()
        return "%s:t" % write_safetensors_raw(tmp_path / "bad.safetensors", h, data)
    return make


def st_tensor(shape=(N, 4), offsets=(0, N * 4 * 8), dtype="F64"):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def f8(n=N, p=4):
    return np.random.default_rng(2).standard_normal((n, p)).tobytes()


RAW = npy_member()
BIG_HDR = npy_raw(hdr(shape="(1000000, 1000000)"))


def not_regular(tmp_path):
    return "/dev/null"


def npz_directory(tmp_path):
    d = tmp_path / "adir.npz"
    d.mkdir()
    return "%s:x" % d


# (id, maker, contains)
CASES = [
    # ZIP members that lie about their size, and other lying ZIP fields.
    ("zip_usize_larger", npz(lambda: zip_one(RAW, usize=len(RAW) + 800)), ("archive says",)),
    ("zip_usize_smaller", npz(lambda: zip_one(RAW, usize=len(RAW) - 800)), ("archive says",)),
    ("zip_usize_beyond_deflate_bound", npz(lambda: zip_one(BIG_HDR + b"\0" * 1000, usize=len(BIG_HDR) + 8 * 10 ** 12)),
     ("1032",)),
    ("zip_usize_32bit_beyond_bound", npz(lambda: zip_one(npy_raw(hdr(shape="(5000, 100)")) + b"\0" * 100, zip64=False,
                                                         usize=len(npy_raw(hdr(shape="(5000, 100)"))) + 4000000)),
     ("1032",)),
    ("zip_csize_beyond_file", npz(lambda: zip_one(RAW, csize=10 ** 9)), ("beyond the end",)),
    ("zip_csize_beyond_file_32bit", npz(lambda: zip_one(RAW, csize=10 ** 9, zip64=False)), ()),
    ("zip_stored_sizes_differ", npz(lambda: zip_one(RAW, method=0, csize=len(RAW) - 8)), ()),
    ("zip_stored_member_short", npz(lambda: zip_one(RAW, method=0, usize=len(RAW) + 8, csize=len(RAW) + 8)), ()),
    ("zip_deflate_stream_short", npz(lambda: zip_one(RAW, data=deflate(RAW[:len(RAW) // 2]))), ("truncated",)),
    ("zip_deflate_stream_long", npz(lambda: zip_one(RAW, data=deflate(RAW + b"\0" * 64))), ()),
    ("zip_deflate_not_deflate", npz(lambda: zip_one(RAW, data=b"\xff" * 300)), ()),
    ("zip_deflate_empty", npz(lambda: zip_one(RAW, data=b"")), ()),
    ("zip_crc_mismatch", npz(lambda: zip_one(RAW, crc=0x1234)), ("crc",)),
    ("zip_local_offset_beyond_file", npz(lambda: zip_one(RAW, local_off=10 ** 12)), ()),
    ("zip_local_offset_not_header", npz(lambda: zip_one(RAW, local_off=7)), ()),
    ("zip64_end_offset_beyond", npz(lambda: zip_one(RAW, z64_off=2 ** 63)), ("zip64",)),
    ("zip64_extra_short", npz(lambda: zip_one(RAW, short_extra=True)), ()),
    ("zip_encrypted", npz(lambda: zip_one(RAW, flags=1)), ("encrypted",)),
    ("zip_method_bzip2", npz(lambda: zip_one(RAW, method=12, data=RAW)), ("method",)),
    ("zip_member_not_npy", npz(lambda: zip_one(RAW, name="x.txt")), ()),
    ("zip_member_npy_garbage", npz(lambda: zip_one(b"garbage" * 40)), ()),
    ("zip_key_too_long", npz(lambda: zip_one(RAW), key="k" * 300), ()),
    ("zip_eocd_only", npz(lambda: struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0, 0, 0, 0, 0), key=None), ()),
    ("zip_entries_overflow", npz(lambda: struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 65535, 65535, 46, 0, 0),
                                 key=None), ()),
    # npy texts that overflow while parsed (fuzz/regressions/npy).
    ("npy_descr_long_digits", npy(lambda: npy_raw(hdr(descr="<f" + "9" * 25), f8())), ("dtype",)),
    ("npy_descr_digit_kind", npy(lambda: npy_raw(hdr(descr="3797087813462222222222"), f8())), ()),
    ("npy_zero_rows_huge_features", npy(lambda: npy_raw(hdr(shape="(0, 1000000000000)"))), ()),
    ("npy_huge_rows_zero_features", npy(lambda: npy_raw(hdr(shape="(4444444444444444498, 0)"))), ()),
    ("npy_shape_many_dims", npy(lambda: npy_raw(hdr(shape="(" + "1, " * 40 + ")"), f8())), ()),
    ("npy_descr_deep_nesting", npy(lambda: npy_raw("{'descr': " + "[" * 20000 + "]" * 20000
                                                  + ", 'fortran_order': False, 'shape': (50, 4), }", f8())),
     ("nesting",)),
    # safetensors headers that nest, repeat or overflow.
    ("st_deep_nesting", st(b'{"__metadata__": {"a": ' + b"[" * 100000 + b"]" * 100000 + b"}}", f8()), ("nesting",)),
    ("st_deep_nesting_in_tensor", st(b'{"t": {"dtype": "F64", "shape": [50, 4], "data_offsets": [0, 1600], "x": '
                                     + b'{"a":' * 50000 + b"1" + b"}" * 50000 + b"}}", f8()), ("nesting",)),
    ("st_duplicate_name", st(b'{"t": %s, "t": %s}' % (json.dumps(st_tensor()).encode(), json.dumps(st_tensor()).encode()),
                              f8()), ()),
    ("st_shape_product_overflow", st({"t": st_tensor(shape=(2 ** 40, 2 ** 40))}, f8()), ()),
    ("st_shape_huge_number", st(b'{"t": {"dtype": "F64", "shape": [1e400, 4], "data_offsets": [0, 1600]}}', f8()), ()),
    ("st_offsets_not_ints", st({"t": st_tensor(offsets=(0.5, 1600))}, f8()), ()),
    ("st_header_len_zero", lambda tmp_path: "%s:t" % write_safetensors_raw(tmp_path / "bad.safetensors", b"{}",
                                                                           f8(), header_len=0), ()),
    ("st_bad_utf8_escape", st(b'{"t\\ud800": 1}', f8()), ()),
    # Paths that are not regular files.
    ("not_a_regular_file", not_regular, ()),
    ("npz_is_a_directory", npz_directory, ()),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_catalogue(case, tmp_path):
    name, maker, contains = case
    bad = str(maker(tmp_path))
    y = good(tmp_path)
    for xs, ys in ((bad, y), (y, bad)):
        r = run("compare", xs, ys, timeout=60)
        assert r.elapsed < FAST, r
        assert_error(r, 1, names=spec_path(bad), contains=contains)
    r = run("info", spec_path(bad), timeout=60)
    assert r.elapsed < FAST, r
    assert 0 <= r.code <= 1, r
    if r.code:
        assert_error(r, 1, names=spec_path(bad))


# ------------------------------------------------- degenerate data, per measure

MEASURES = ["cca", "cca_r2", "svcca", "pwcca", "cka", "cka_debiased", "cka_rbf", "procrustes",
            "procrustes_angular"]


@pytest.mark.parametrize("side", ["x", "y"])
@pytest.mark.parametrize("measure", MEASURES)
def test_all_zero_side(measure, side, tmp_path):
    """An all-zero layer: every measure on its own is an error naming it."""
    zero = write_npy(tmp_path / "zero.npy", np.zeros((N, 3)))
    other = good(tmp_path)
    args = (zero, other) if side == "x" else (other, zero)
    r = run("compare", *args, "-m", measure)
    assert r.elapsed < FAST, r
    assert_error(r, 1, names=zero)


@pytest.mark.parametrize("measure", MEASURES)
def test_one_sample(measure, tmp_path):
    """n = 1: an error for every measure (test_cli_errors checks a few)."""
    x = good(tmp_path, n=1, p=3, name="x.npy")
    y = good(tmp_path, n=1, p=2, name="y.npy", seed=1)
    r = run("compare", x, y, "-m", measure)
    assert r.elapsed < FAST, r
    assert_error(r, 1)


def test_one_sample_names_a_file(tmp_path):
    x = good(tmp_path, n=1, p=3, name="x.npy")
    y = good(tmp_path, n=1, p=2, name="y.npy", seed=1)
    r = run("compare", x, y, "-m", "cca")
    assert_error(r, 1)
    assert str(x) in r.stderr or str(y) in r.stderr, r


# ------------------------------------------------- numerical edge cases (CLI)

def test_float16_extremes_match_float64(tmp_path):
    """float16 at +-65504 (its largest finite value) reads exactly, in either
    byte order and memory order: every measure equals the float64 file's
    bit for bit (same numbers after conversion), and is finite."""
    rng = np.random.default_rng(65504)
    a = np.round(rng.uniform(-2000, 2000, (120, 6)))
    a[:, 0] = np.where(np.arange(120) % 3, 65504.0, -65504.0)
    a[::7, 3] = 65504.0
    y = rng.standard_normal((120, 4)) + a[:, 1:5] / 1000
    yp = write_npy(tmp_path / "y.npy", y)
    want = compare(write_npy(tmp_path / "xd.npy", a), yp)["measures"]
    assert set(want) >= set(MEASURES), want
    for x in (write_npy(tmp_path / "xh.npy", a.astype("<f2")),
              write_npy(tmp_path / "xb.npy", a.astype(">f2"), fortran=True)):
        got = compare(x, yp)["measures"]
        for m in MEASURES:
            assert np.isfinite(got[m]["similarity"]) and np.isfinite(got[m]["distance"]), (m, got[m])
            assert got[m]["similarity"] == want[m]["similarity"], (m, got[m], want[m])


def test_features_beyond_memory_are_refused_before_allocating(tmp_path):
    """A small but genuinely wide file (2 x 50,000 float16, 200 KB) would need
    (p+q)^2 doubles twice: refused up front, naming the files and the size."""
    w = tmp_path / "wide.npy"
    np.save(w, np.zeros((2, 50000), np.float16) + np.arange(2, dtype=np.float16)[:, None])
    r = run("compare", w, w)
    assert r.elapsed < FAST, r
    assert_error(r, 1, names=w, contains=("GiB for the joint scatter",))
