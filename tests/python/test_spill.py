"""Spills of deflated npz members honour TMPDIR and say where and how much
when there is no room (issue 10, item 12).  A Fortran-order member of a
compressed .npz is read by rows, so it is inflated once to a temporary file;
that file used to go to /tmp whatever TMPDIR said (tmpfile()), and a full
disk said only "writing the inflated member to a temporary file failed".
"""

import os
import resource
import signal

import numpy as np
import pytest

from conftest import assert_error, compare, run, write_npy

N, P = 3000, 40  # 0.9 MiB inflated


@pytest.fixture
def inputs(tmp_path):
    r = np.random.default_rng(0)
    x = np.asfortranarray(r.standard_normal((N, P)))
    np.savez_compressed(tmp_path / "f.npz", x=x)
    y = write_npy(tmp_path / "y.npy", x[:, :5] + r.standard_normal((N, 5)))
    return "%s:x" % (tmp_path / "f.npz"), y, tmp_path


def test_spill_goes_to_tmpdir(inputs):
    x, y, tmp = inputs
    want = compare(x, y, measures="cca,cka")
    (tmp / "spill").mkdir()
    got = run("compare", x, y, "-m", "cca,cka", "--format", "json", env={"TMPDIR": str(tmp / "spill")}).json()
    assert got["measures"] == want["measures"]
    assert list((tmp / "spill").iterdir()) == []  # unlinked at once: nothing left
    # a TMPDIR that does not exist is named, not silently replaced by /tmp
    r = run("compare", x, y, env={"TMPDIR": str(tmp / "missing")})
    assert_error(r, 1, names=tmp / "f.npz", contains=(str(tmp / "missing"), "TMPDIR"))


def limit_file_size():
    """The child can write at most 64 KiB per file (a full disk, for it)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))


def test_full_tmpdir_says_where_and_how_much(inputs):
    import subprocess
    from conftest import simrep_bin
    x, y, tmp = inputs
    env = dict(os.environ, TMPDIR=str(tmp), OPENBLAS_NUM_THREADS="1")
    p = subprocess.run([str(simrep_bin()), "compare", x, str(y)], capture_output=True, text=True, env=env,
                       preexec_fn=limit_file_size, timeout=60)
    assert p.returncode == 1, p.stderr
    line = p.stderr.strip().splitlines()[0]
    assert line.startswith("simrep: error: %s" % (tmp / "f.npz")), line
    assert str(tmp) in line and "MiB" in line and "TMPDIR" in line, line
    assert "%.1f MiB" % ((N * P * 8 + 128) / 1048576.0) in line or "0.9 MiB" in line, line
