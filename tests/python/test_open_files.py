"""Descriptors and the manifest's size (issue 10, item 9).

A pass of `simrep matrix` holds its inputs open; with more inputs than the
process may open (RLIMIT_NOFILE, its soft limit first raised to the hard
one), they are read in tiles of inputs, any two of which fit, with a
warning that says what limit would make it one pass.  Manifests of 1,021
rows and more failed with "Too many open files" under `ulimit -n 1024`.
A manifest larger than 64 MiB is refused before it is read.
"""
import os
import resource
import subprocess

import numpy as np
import pytest

from conftest import run, simrep_bin, write_npy


def linear_cka(x, y):
    x = x - x.mean(0)
    y = y - y.mean(0)
    return np.linalg.norm(x.T @ y) ** 2 / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y))


def nofile(limit):
    def pre():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    return pre


@pytest.mark.parametrize("K,limit", [(60, 64), (1100, 1024)])
def test_more_inputs_than_descriptors(tmp_path, K, limit):
    rng = np.random.default_rng(K)
    xs = [rng.normal(size=(20, 3)) for _ in range(K)]
    for i, x in enumerate(xs):
        write_npy(tmp_path / ("a%d.npy" % i), x)
    (tmp_path / "m.csv").write_text("name,path\n" + "".join("a%d,a%d.npy\n" % (i, i) for i in range(K)))
    r = subprocess.run([str(simrep_bin()), "matrix", "--manifest", str(tmp_path / "m.csv"), "-m", "cka",
                        "--format", "csv"], capture_output=True, text=True, timeout=600, preexec_fn=nofile(limit),
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-2000:]
    (warning,) = r.stderr.splitlines()
    assert warning.startswith("simrep: warning: %d inputs, but this process may hold only " % K), warning
    assert "ulimit -n %d" % limit in warning and "makes it one" in warning, warning
    rows = r.stdout.splitlines()[1:]
    assert len(rows) == K * (K - 1) // 2
    for row in rows[:: max(1, len(rows) // 200)] + rows[-3:]:
        _, a, b, sim, _ = row.split(",")
        assert abs(float(sim) - linear_cka(xs[int(a[1:])], xs[int(b[1:])])) < 1e-12, row


def test_manifest_size_is_capped(tmp_path):
    m = tmp_path / "huge.csv"
    with open(m, "wb") as f:
        f.write(b"name,path\n")
        f.truncate(65 * 1024 * 1024)  # sparse: nothing is written
    r = run("matrix", "--manifest", m, "-m", "cka")
    assert r.code == 1 and r.stderr.count("\n") == 1, r
    assert "huge.csv" in r.stderr and "a manifest may hold at most 64 MiB" in r.stderr, r.stderr


@pytest.mark.parametrize("resize", ["pool-to", "interp"])
def test_conv_sizes_agreed_in_groups(tmp_path, resize):
    """Conv maps of different sizes: the target size is settled over the
    whole manifest even when the shapes are read a few inputs at a time."""
    rng = np.random.default_rng(5)
    K = 24
    for i in range(K):
        write_npy(tmp_path / ("c%d.npy" % i), rng.normal(size=(10, 4 + (i * 7) % 5, 3 + (i * 5) % 6, 2)))
    (tmp_path / "m.csv").write_text("name,path\n" + "".join("c%d,c%d.npy\n" % (i, i) for i in range(K)))
    args = [str(simrep_bin()), "matrix", "--manifest", str(tmp_path / "m.csv"), "-m", "cka", "--conv", "nhwc",
            "--resize", resize, "--format", "json"]
    whole = subprocess.run(args, capture_output=True, text=True, timeout=300)
    few = subprocess.run(args, capture_output=True, text=True, timeout=300, preexec_fn=nofile(40))
    assert whole.returncode == 0 and few.returncode == 0, (whole.stderr, few.stderr)
    assert "may hold only" in few.stderr and "may hold only" not in whole.stderr
    import json
    a, b = json.loads(whole.stdout), json.loads(few.stdout)
    assert a["passes"] == 1 and b["passes"] > 1
    assert np.allclose(a["measures"]["cka"]["similarity"], b["measures"]["cka"]["similarity"], rtol=0, atol=1e-12)
