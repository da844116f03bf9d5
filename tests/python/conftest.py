"""Helpers of the Python tests of the simrep CLI.

The binary comes from SIMREP_BIN (default <repo>/build/simrep).  Under
SIMREP_SANITIZED=1 it is the AddressSanitizer build: about 3-10x slower, so
the heaviest cases shrink or skip (each says why).

Tests write their input files into pytest's tmp_path with the writers below,
which produce every layout the parsers must read (npy v1/v2/v3, C and Fortran
order, both byte orders, npz stored and deflated, safetensors by hand).
"""

import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
GOLDEN = Path(os.environ.get("SIMREP_GOLDEN", REPO / "tests" / "golden"))
SANITIZED = os.environ.get("SIMREP_SANITIZED", "") not in ("", "0")

sys.path.insert(0, str(HERE))
import reference_numpy as ref  # noqa: E402  (the tests import it too)

# A hang, not slowness: every CLI call in the suite takes well under a second
# on the optimized build; the ASan build is slower, hence the margin.
TIMEOUT = 120.0 if SANITIZED else 60.0


def simrep_bin():
    path = os.environ.get("SIMREP_BIN", str(REPO / "build" / "simrep"))
    path = Path(path)
    if not path.is_absolute():
        path = REPO / path
    return path


class Run:
    """The outcome of one CLI call."""

    def __init__(self, args, proc, elapsed):
        self.args = args
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed

    def __repr__(self):
        return ("simrep %s\n  exit %s (%.2fs)\n  stdout: %s\n  stderr: %s"
                % (" ".join(self.args), self.code, self.elapsed,
                   self.stdout[:2000], self.stderr[:2000]))

    def json(self):
        assert self.code == 0, repr(self)
        try:
            return json.loads(self.stdout)
        except ValueError as e:
            raise AssertionError("stdout is not one JSON object (%s)\n%r" % (e, self))


def run(*args, timeout=TIMEOUT, env=None):
    """Run simrep with args (converted to str); never raises on a failing exit."""
    exe = simrep_bin()
    if not exe.exists():
        pytest.fail("simrep binary not found at %s (build it with make, or set SIMREP_BIN)" % exe)
    args = [str(a) for a in args]
    e = dict(os.environ)
    e.setdefault("OPENBLAS_NUM_THREADS", "1")
    if env:
        e.update(env)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([str(exe)] + args, capture_output=True, text=True,
                              errors="replace", timeout=timeout, env=e)
    except subprocess.TimeoutExpired:
        pytest.fail("simrep %s: no answer after %.0f s (hang?)" % (" ".join(args), timeout))
    return Run(args, proc, time.monotonic() - t0)


def compare(x, y, *opts, measures=None):
    """simrep compare x y -m measures --format json opts...; the parsed JSON.
    measures: by default the ones reference_numpy.py implements (the
    measures computed from the rows have their own tests, test_rows.py)."""
    if measures is None:
        measures = ",".join(ref.ALL_MEASURES)
    return run("compare", x, y, "-m", measures, "--format", "json", *opts).json()


def assert_error(r, code, names=None, contains=()):
    """The contract for errors: the given exit code, a one-line stderr message
    "simrep: error: <file>: <what>" naming the file (after any warnings about
    the options), nothing that looks like a crash (signals give negative
    codes from subprocess, ASan/shells use >128)."""
    assert r.code >= 0 and r.code < 128, "crashed: %r" % r
    assert r.code == code, "expected exit %d: %r" % (code, r)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    # warnings about the options may come first (e.g. too few resamples)
    while lines and lines[0].startswith("simrep: warning: ") and len(lines) > 1:
        lines = lines[1:]
    assert lines, "no message on stderr: %r" % r
    assert lines[0].startswith("simrep: error: "), r
    err = "\n".join(lines)
    assert "AddressSanitizer" not in err and "runtime error" not in err, r
    if names is not None:
        assert str(names) in lines[0], "message does not name %s: %r" % (names, r)
    for c in contains:
        assert c.lower() in err.lower(), "message lacks %r: %r" % (c, r)


# ---------------------------------------------------------------- writers

def write_npy(path, a, version=(1, 0), fortran=False):
    """An .npy file of a as it is (dtype and byte order kept), in the given
    format version and memory order."""
    a = np.asfortranarray(a) if fortran else np.ascontiguousarray(a)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, a, version=version)
    return Path(path)


def npy_bytes(a, version=(1, 0), fortran=False):
    import io
    a = np.asfortranarray(a) if fortran else np.ascontiguousarray(a)
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, version=version)
    return buf.getvalue()


def npy_raw(header_dict_text, data=b"", version=(1, 0), pad=True, header_len=None, magic=b"\x93NUMPY"):
    """An .npy file built by hand from a header dict text, for lying headers."""
    h = header_dict_text.encode("latin1")
    hl_size = 2 if version == (1, 0) else 4
    if pad:
        total = len(magic) + 2 + hl_size + len(h) + 1
        h = h + b" " * ((64 - total % 64) % 64) + b"\n"
    if header_len is None:
        header_len = len(h)
    fmt = "<H" if hl_size == 2 else "<I"
    return magic + bytes(version) + struct.pack(fmt, header_len) + h + data


def write_safetensors(path, tensors, metadata=None):
    """A safetensors file by hand: u64 LE header length, JSON header, data.
    tensors: {name: (dtype_name, array)}; dtype_name is F16/BF16/F32/F64
    (or BOOL/U8/I32/I64, for token masks).
    BF16 arrays are passed as float32 and stored by truncating the low
    16 bits (round toward zero)."""
    header = {}
    blobs = []
    off = 0
    for name, (dt, a) in tensors.items():
        a = np.ascontiguousarray(a)
        if dt == "BF16":
            bits = np.ascontiguousarray(a, dtype="<f4").view("<u4")
            raw = (bits >> 16).astype("<u2").tobytes()
        else:
            npdt = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "BOOL": "|u1", "U8": "|u1", "I32": "<i4",
                    "I64": "<i8"}[dt]
            raw = a.astype(npdt).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    return write_safetensors_raw(path, json.dumps(header).encode(), b"".join(blobs))


def write_safetensors_raw(path, header_bytes, data, header_len=None):
    if header_len is None:
        header_len = len(header_bytes)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", header_len) + header_bytes + data)
    return Path(path)


def bf16_round(a):
    """The float32 values of a after bf16 truncation (what write_safetensors stores)."""
    bits = np.ascontiguousarray(a, dtype="<f4").view("<u4")
    return ((bits >> 16) << 16).astype("<u4").view("<f4").astype(np.float64)


# ------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def golden_expected():
    with open(GOLDEN / "expected.json") as f:
        return json.load(f)


def golden_cases():
    with open(GOLDEN / "expected.json") as f:
        return sorted(json.load(f))


def load_f64(path):
    return np.load(path).astype(np.float64)


def spec_path(spec):
    """The file part of a spec, the part the message must name."""
    s = str(spec)
    for ext in (".npz:", ".safetensors:"):
        if ext in s:
            return s[:s.index(ext) + len(ext) - 1]
    return s
