"""Memory budgets count everything, against the limits that apply (issue
10, item 10).

matrix: --max-memory counts the K x K results (similarity and distance per
measure, the clustering/MDS matrix, the pair bookkeeping) before a pass
gets the rest; results alone beyond it are refused before anything is
allocated.  compare: the up-front check for very wide inputs uses the
memory this process may use (RLIMIT_AS, the cgroup's memory.max or v1
memory.limit_in_bytes, of its cgroup and every ancestor), not only the
machine's.  Sizes are printed in B, KiB, MiB or GiB.
"""
import json
import os
import resource
import subprocess

import numpy as np
import pytest

from conftest import SANITIZED, run, simrep_bin, write_npy


def results_bytes(K, measures=1):
    return K * K * (8 * (2 * measures + 1) + 24)


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    d = tmp_path_factory.mktemp("budget")
    rng = np.random.default_rng(0)
    for i in range(3):
        write_npy(d / ("a%d.npy" % i), rng.normal(size=(50, 6)))
    (d / "m.csv").write_text("name,path\n" + "".join("a%d,a%d.npy\n" % (i, i) for i in range(3)))
    return d / "m.csv"


# (--max-memory, what the one error line says)
SIZES = [
    ("1", ["3 inputs: the K x K results of 1 measure", "need %d B, more than --max-memory 1 B" % results_bytes(3)]),
    ("700", ["need 1.12 KiB together", "more than the %d B left of --max-memory 700 B" % (700 - results_bytes(3))]),
    ("1600", None),  # 1152 B for the pair's moments fit in the 1168 B left
]


@pytest.mark.parametrize("budget,says", SIZES, ids=[s[0] for s in SIZES])
def test_sizes_in_readable_units(three, budget, says):
    r = run("matrix", "--manifest", three, "-m", "cka", "--max-memory", budget, "--format", "json")
    if says is None:
        assert r.code == 0, r
        return
    assert r.code == 1 and r.stdout == "", r
    (line,) = r.stderr.splitlines()
    for s in says:
        assert s in line, line
    assert "0.00 GiB" not in line


def test_results_count_against_the_budget(tmp_path):
    """200 inputs of 3 features: one pass's moments (600^2 doubles, 2.7 MiB)
    fit in 4 MiB, but not with the results (1.8 MiB) beside them: two or
    more passes, the same values; and 1 MiB does not hold the results."""
    K = 200
    rng = np.random.default_rng(1)
    for i in range(K):
        write_npy(tmp_path / ("a%d.npy" % i), rng.normal(size=(30, 3)))
    m = tmp_path / "m.csv"
    m.write_text("name,path\n" + "".join("a%d,a%d.npy\n" % (i, i) for i in range(K)))
    one = run("matrix", "--manifest", m, "-m", "cka", "--max-memory", "64M", "--format", "json")
    tiled = run("matrix", "--manifest", m, "-m", "cka", "--max-memory", "4M", "--format", "json")
    assert one.code == 0 and tiled.code == 0, (one, tiled)
    a, b = one.json(), tiled.json()
    assert a["passes"] == 1 and b["passes"] > 1, b["passes"]
    assert np.allclose(a["measures"]["cka"]["similarity"], b["measures"]["cka"]["similarity"], rtol=0, atol=1e-12)
    r = run("matrix", "--manifest", m, "-m", "cka", "--max-memory", "1M")
    assert r.code == 1 and r.stdout == "", r
    assert "200 inputs: the K x K results of 1 measure" in r.stderr and "need 1.83 MiB" in r.stderr, r.stderr
    assert "more than --max-memory 1.00 MiB" in r.stderr, r.stderr


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    d = tmp_path_factory.mktemp("wide")
    rng = np.random.default_rng(2)
    for name, p in (("w", 1200), ("v", 6000)):
        for k in (1, 2):
            write_npy(d / ("%s%d.npy" % (name, k)), rng.normal(size=(3, p)).astype(np.float32))
    return d


# (name, /proc/self/cgroup lines, {file under the root: content})
CGROUPS = [
    ("v2_ancestor", "0::/a/b\n", {"a/memory.max": "67108864\n", "a/b/memory.max": "max\n"}),
    ("v2_own", "0::/a/b\n", {"a/memory.max": "max\n", "a/b/memory.max": "67108864\n"}),
    ("v1", "4:memory:/x\n2:cpu:/y\n", {"memory/x/memory.limit_in_bytes": "67108864\n"}),
    ("v2_unlimited", "0::/a\n", {"a/memory.max": "max\n"}),
]


@pytest.mark.parametrize("name,self_cgroup,files", CGROUPS, ids=[c[0] for c in CGROUPS])
def test_wide_inputs_against_the_cgroup_limit(wide, tmp_path, name, self_cgroup, files):
    """1200 + 1200 features need 87.9 MiB of joint scatter: more than a
    64 MiB cgroup allows, though far less than the machine has."""
    (tmp_path / "self.cgroup").write_text(self_cgroup)
    for f, text in files.items():
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / f).write_text(text)
    r = run("compare", wide / "w1.npy", wide / "w2.npy", "-m", "cka", env={"SIMREP_CGROUP_ROOT": str(tmp_path)})
    if name == "v2_unlimited":
        assert r.code == 0, r
        return
    assert r.code == 1, r
    file = "memory.limit_in_bytes" if name == "v1" else "memory.max"
    assert r.stderr.splitlines() == [
        "simrep: error: %s and %s: 1200 + 1200 features need 87.9 MiB for the joint scatter ((p+q)^2 doubles, "
        "twice), more than this process's cgroup memory limit (%s), 64.0 MiB; compare fewer features (e.g. "
        "--conv-mode pool, or a subset of the units)" % (wide / "w1.npy", wide / "w2.npy", file)], r.stderr


@pytest.mark.skipif(SANITIZED, reason="AddressSanitizer reserves more address space than the limit")
def test_wide_inputs_against_the_address_space_limit(wide):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))  # 1.5 GiB
    r = subprocess.run([str(simrep_bin()), "compare", str(wide / "v1.npy"), str(wide / "v2.npy"), "-m", "cka"],
                       capture_output=True, text=True, timeout=120, preexec_fn=limit,
                       env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    assert r.returncode == 1, r.stderr
    assert "6000 + 6000 features need 2.15 GiB" in r.stderr, r.stderr
    assert "more than this process's address-space limit (ulimit -v), 1.50 GiB" in r.stderr, r.stderr
