"""Tests of the simrep Python package (python/simrep), separate from
tests/python (which tests the CLI).

The package under test is <repo>/python (put first on sys.path here) over
the library named by SIMREP_LIBRARY (default <repo>/build/libsimrep.so);
the CLI used for parity checks is SIMREP_BIN (default <repo>/build/simrep).
`make check-pkg` sets both to the build being tested.

Not run on the AddressSanitizer build (SIMREP_SANITIZED=1): an ASan
libsimrep.so cannot be loaded into a Python that is not itself started with
the ASan runtime preloaded, so the whole directory is skipped there; the
library code is covered under ASan by tests/unit and tests/python.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
GOLDEN = Path(os.environ.get("SIMREP_GOLDEN", REPO / "tests" / "golden"))
SANITIZED = os.environ.get("SIMREP_SANITIZED", "") not in ("", "0")

# Before the library (and OpenBLAS) load: one BLAS thread, so timings in the
# GIL test mean something on a 2-core machine.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO / "tests" / "python"))

if SANITIZED:
    collect_ignore_glob = ["test_*.py"]


def golden_cases():
    with open(GOLDEN / "expected.json") as f:
        return sorted(json.load(f))


@pytest.fixture(scope="session")
def golden_expected():
    with open(GOLDEN / "expected.json") as f:
        return json.load(f)


def golden_arrays(case):
    return np.load(GOLDEN / (case + "_x.npy")), np.load(GOLDEN / (case + "_y.npy"))


def simrep_bin():
    path = Path(os.environ.get("SIMREP_BIN", str(REPO / "build" / "simrep")))
    return path if path.is_absolute() else REPO / path


def cli_json(*args):
    """simrep compare ... --format json: the parsed output."""
    exe = simrep_bin()
    if not exe.exists():
        pytest.fail("simrep binary not found at %s (make, or set SIMREP_BIN)" % exe)
    proc = subprocess.run([str(exe), "compare"] + [str(a) for a in args] + ["--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def random_pair(seed, n=300, p=12, q=9, shared=4, dtype=np.float64):
    """x (n x p), y (n x q) sharing a few latent directions."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, shared))
    x = z @ rng.standard_normal((shared, p)) + 0.5 * rng.standard_normal((n, p))
    y = np.tanh(z @ rng.standard_normal((shared, q))) + 0.5 * rng.standard_normal((n, q))
    return x.astype(dtype), y.astype(dtype)
