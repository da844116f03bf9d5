"""An input replaced or rewritten while simrep matrix runs (issue 10, item
5): with --max-memory tiling every pass opens the inputs again, and a file
replaced meanwhile gave a matrix mixing old and new data with exit 0.  Now
each pass checks that it opened the file the first pass read (device,
inode, size, modification time) and that nothing rewrote it while read:
exit 1 naming the manifest line and the file.
"""

import os
import subprocess
import time

import numpy as np
import pytest

from conftest import SANITIZED, simrep_bin, write_npy

N = 3000 if SANITIZED else 5000


@pytest.fixture
def manifest(tmp_path):
    r = np.random.default_rng(0)
    for i in range(4):
        write_npy(tmp_path / ("i%d.npy" % i), r.standard_normal((N, 8)))
    (tmp_path / "m.csv").write_text("name,path\n" + "".join("n%d,i%d.npy\n" % (i, i) for i in range(4)))
    return tmp_path


def replace(path):
    tmp = path.with_suffix(".new.npy")
    np.save(tmp, np.random.default_rng(1).standard_normal((N, 8)))
    os.rename(tmp, path)


def rewrite_in_place(path):
    with open(path, "r+b") as f:
        f.seek(-800, os.SEEK_END)
        f.write(np.random.default_rng(2).standard_normal(100).tobytes())


def bytes_read(pid):
    try:
        with open("/proc/%d/io" % pid) as f:
            return int(next(l for l in f if l.startswith("rchar:")).split()[1])
    except (OSError, StopIteration, ValueError):
        return 0


@pytest.mark.parametrize("change", [replace, rewrite_in_place], ids=lambda f: f.__name__)
def test_input_changed_between_passes(manifest, change):
    args = [str(simrep_bin()), "matrix", "--manifest", str(manifest / "m.csv"), "-m", "cka_rbf,cka", "--threads", "1",
            "--max-memory", "700K" if N == 5000 else "450K", "--format", "json"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    # Changed once the first pass has read two inputs (their identities, and
    # i3's, recorded before): i3, in the last tile, is read by later passes.
    enough = 2 * os.path.getsize(manifest / "i0.npy")
    deadline = time.monotonic() + 120
    while p.poll() is None and time.monotonic() < deadline and bytes_read(p.pid) < enough:
        time.sleep(0.005)
    if p.poll() is not None:
        pytest.skip("the run ended before the file could be changed (a very fast machine)")
    change(manifest / "i3.npy")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 1, (p.returncode, err)
    assert out == ""
    line = err.strip().splitlines()[-1]
    assert line.startswith("simrep: error: ") and "i3.npy" in line and "m.csv:5" in line, err
    assert "replaced or modified" in line or "changed while it was read" in line, err
