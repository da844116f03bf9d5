"""Ctrl-C and SIGTERM (issue 10, item 7), through the CLI: a compare or a
matrix stopped in the middle of a long pass (cka_rbf's O(n^2) tiles, the
streaming of a large file) exits 130 (143 for SIGTERM) within about a
second, says so in one line, prints no partial result and leaves no
temporary file in TMPDIR.  Before, SIGINT killed the process by the signal
(no cleanup; a -o DIR run left what it had written).
"""

import os
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import SANITIZED, simrep_bin, write_npy

# cka_rbf on 20,000 rows takes minutes; the signal comes after 1 s.
N, P = 20000, 16
# Seconds from the signal to the exit (one tile row: ~0.05 s).  The latency
# promise is asserted on the optimized build (check-python); under ASan the
# run is several times slower and LeakSanitizer scans the heap at exit, which
# on a busy 2-core machine took 3-8 s: there the run must still stop cleanly
# (exit code, message, no temporary files, no leaks), within a loose bound.
BOUND = 20.0 if SANITIZED else 2.0


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("interrupt")
    r = np.random.default_rng(0)
    x = r.standard_normal((N, P)).astype(np.float32)
    write_npy(tmp / "x.npy", x)
    write_npy(tmp / "y.npy", x + r.standard_normal((N, P)).astype(np.float32))
    (tmp / "m.csv").write_text("name,path\na,x.npy\nb,y.npy\nc,x.npy\n")
    return tmp


CASES = [
    ("compare cka_rbf", ["compare", "{d}/x.npy", "{d}/y.npy", "-m", "cka_rbf,cca"], signal.SIGINT, 130),
    ("compare SIGTERM", ["compare", "{d}/x.npy", "{d}/y.npy", "-m", "cka_rbf"], signal.SIGTERM, 143),
    ("matrix -o", ["matrix", "--manifest", "{d}/m.csv", "-m", "cka_rbf,cka", "-o", "{out}"], signal.SIGINT, 130),
]


@pytest.mark.parametrize("name,args,sig,code", CASES, ids=[c[0] for c in CASES])
def test_interrupted_run_stops_and_cleans_up(big, tmp_path, name, args, sig, code):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "out"
    env = dict(os.environ, TMPDIR=str(tmpdir), OPENBLAS_NUM_THREADS="1")
    argv = [str(simrep_bin())] + [a.format(d=big, out=out) for a in args]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(1.0)
    assert p.poll() is None, "finished before the signal: make the case longer"
    t = time.monotonic()
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=60)
    took = time.monotonic() - t
    assert p.returncode == code, (p.returncode, stderr)
    assert took <= BOUND, took
    lines = [l for l in stderr.splitlines() if l.strip() and not l.startswith("\r")]
    assert lines and lines[-1].startswith("simrep: interrupted"), stderr
    assert "error" not in stderr and "AddressSanitizer" not in stderr, stderr
    assert stdout == ""
    assert list(tmpdir.iterdir()) == []
    assert not out.exists() or list(out.iterdir()) == [], sorted(out.iterdir())
