#!/usr/bin/python3
"""Write the fuzz seed corpus under fuzz/corpus/<target>/ (run once; the files
are committed, so the fuzzers and `make check`'s replay need no numpy).

Small, valid inputs of every container variant the parsers handle, so the
fuzzers start from deep inside each parser: npy v1/v2/v3, C and Fortran order,
big-endian, every supported dtype and a few unsupported ones; npz stored,
deflated and ZIP64; safetensors with one and several tensors; selectors.
(fuzz/corpus/manifest/ is written by hand: a few CSV lines.)  Inputs the
fuzzers found that add coverage were merged in afterwards with libFuzzer's
-merge=1; running this script again rewrites only the seeds.
"""
import io
import json
import os
import struct
import sys
import zipfile
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a)
    else:
        np.lib.format.write_array(b, a, version=version)
    return b.getvalue()


def npz_bytes(members, compressed, zip64=False):
    b = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(b, "w", method) as z:
        for k, a in members.items():
            with z.open(k + ".npy", "w", force_zip64=zip64) as f:
                f.write(npy_bytes(a))
    return b.getvalue()


def zip64_bytes(members, compressed):
    """A ZIP archive with every ZIP64 structure (what zipfile writes only for
    members over 4 GiB): 0xFFFFFFFF sizes and offsets in the central
    directory widened by the ZIP64 extra field, a ZIP64 end record and its
    locator."""
    out, cd = b"", b""
    for k, a in members.items():
        name = (k + ".npy").encode()
        raw = npy_bytes(a)
        if compressed:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            data, method = c.compress(raw) + c.flush(), 8
        else:
            data, method = raw, 0
        crc = zlib.crc32(raw)
        off = len(out)
        local_extra = struct.pack("<HHQQ", 1, 16, len(raw), len(data))
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0, method, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(name), len(local_extra)) + name + local_extra + data
        extra = struct.pack("<HHQQQ", 1, 24, len(raw), len(data), off)
        cd += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, 0, method, 0, 0, crc, 0xFFFFFFFF,
                          0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, 0xFFFFFFFF) + name + extra
    cd_off = len(out)
    out += cd
    z64 = len(out)
    n = len(members)
    out += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(cd), cd_off)
    out += struct.pack("<4sIQI", b"PK\x06\x07", 0, z64, 1)
    out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return out


def st_bytes(tensors, meta=None):
    header, data = {}, b""
    for k, (dt, a) in tensors.items():
        raw = a.tobytes()
        header[k] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    if meta:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    rng = np.random.default_rng(6)
    a = rng.standard_normal((5, 3))
    # npy
    write("npy", "f8_c_v1.npy", npy_bytes(a))
    write("npy", "f4_c_v2.npy", npy_bytes(a.astype("<f4"), (2, 0)))
    write("npy", "f2_c_v3.npy", npy_bytes(a.astype("<f2"), (3, 0)))
    write("npy", "f8_fortran.npy", npy_bytes(np.asfortranarray(a)))
    write("npy", "f4_fortran_be.npy", npy_bytes(np.asfortranarray(a.astype(">f4"))))
    write("npy", "f8_be.npy", npy_bytes(a.astype(">f8")))
    write("npy", "f2_be.npy", npy_bytes(a.astype(">f2")))
    write("npy", "f16_large.npy", npy_bytes(np.array([[65504, -65504], [1, 2], [3, 4]], dtype="<f2")))
    write("npy", "nan.npy", npy_bytes(np.array([[1.0, np.nan], [2.0, np.inf]])))
    write("npy", "empty_rows.npy", npy_bytes(np.zeros((0, 4))))
    write("npy", "empty_cols.npy", npy_bytes(np.zeros((4, 0))))
    write("npy", "one_row.npy", npy_bytes(np.ones((1, 7), dtype="<f4")))
    write("npy", "scalar.npy", npy_bytes(np.float64(3.5)))
    write("npy", "vector.npy", npy_bytes(np.arange(6.0)))
    write("npy", "conv4d.npy", npy_bytes(np.zeros((2, 2, 2, 2), dtype="<f4")))
    write("npy", "seq3d.npy", npy_bytes(np.zeros((2, 3, 2), dtype="<f4")))
    write("npy", "int64.npy", npy_bytes(np.arange(6).reshape(2, 3)))
    write("npy", "complex.npy", npy_bytes(np.zeros((2, 2), dtype=complex)))
    write("npy", "unicode.npy", npy_bytes(np.array([["ab", "c"]])))
    write("npy", "bool.npy", npy_bytes(np.zeros((2, 2), dtype=bool)))
    write("npy", "structured.npy", npy_bytes(np.zeros((2,), dtype=[("a", "<f4"), ("b", "<i2")])))
    write("npy", "trailing.npy", npy_bytes(a) + b"trailing bytes")
    # npz
    mem = {"x": a, "y": np.asfortranarray(a.astype("<f4")), "be": a.astype(">f8"), "h": a.astype("<f2")}
    write("npz", "stored.npz", npz_bytes(mem, False))
    write("npz", "deflated.npz", npz_bytes(mem, True))
    write("npz", "zip64_stored.npz", npz_bytes({"x": a}, False, zip64=True))
    write("npz", "zip64_deflated.npz", npz_bytes({"x": np.asfortranarray(a)}, True, zip64=True))
    write("npz", "single_deflated.npz", npz_bytes({"arr_0": np.zeros((40, 3), dtype="<f4")}, True))
    write("npz", "unsupported.npz", npz_bytes({"i": np.arange(4).reshape(2, 2), "s": np.array(["a"])}, True))
    write("npz", "empty.npz", npz_bytes({}, False))
    write("npz", "zip64_full_stored.npz", zip64_bytes({"x": a, "y": a.astype("<f2")}, False))
    write("npz", "zip64_full_deflated.npz", zip64_bytes({"x": np.asfortranarray(a), "b": a.astype(">f4")}, True))
    big = np.tile(np.arange(8, dtype="<f4"), (600, 1))  # 19 KiB inflating from a few hundred bytes
    write("npz", "deflated_multichunk.npz", npz_bytes({"arr_0": np.asfortranarray(big)}, True))
    # safetensors
    write("safetensors", "one.safetensors", st_bytes({"w": ("F32", a.astype("<f4"))}))
    write("safetensors", "many.safetensors",
          st_bytes({"a": ("F64", a), "b": ("F16", a.astype("<f2")), "c": ("BF16", np.zeros((2, 3), "<u2")),
                    "i": ("I64", np.arange(4))}, meta={"format": "pt"}))
    write("safetensors", "scalar.safetensors", st_bytes({"s": ("F32", np.zeros((), "<f4"))}))
    write("safetensors", "empty_header.safetensors", st_bytes({}))
    # selectors: the spec, a newline, then the bytes of the file it names
    # (see fuzz_selector.c)
    npz = npz_bytes(mem, False)
    npzd = npz_bytes(mem, True)
    one = npz_bytes({"only": a.astype("<f4")}, True)
    st = st_bytes({"w": ("F32", a.astype("<f4")), "layer.0:out": ("F16", a.astype("<f2"))})
    for i, (spec, data) in enumerate([
            ("acts.npz:x", npz), ("acts.npz:y", npzd), ("ARCH.NPZ:be", npz), ("a.npz:", one), ("a.npz", one),
            ("a.npz:h", npzd), ("x.npz:missing", npz), ("m.safetensors:w", st),
            ("model.safetensors:layer.0:out", st), ("weights.safetensors", st),
            ("dir:with:colons/a.npy", npy_bytes(a)), ("x.npy:key", npy_bytes(a)), ("plain", b""), (":", b""),
            ("a.npz:" + "k" * 300, npz)]):
        write("selector", "spec%02d" % i, spec.encode() + b"\n" + data)


if __name__ == "__main__":
    sys.exit(main())
