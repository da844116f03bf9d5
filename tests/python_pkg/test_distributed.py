"""Moments.all_reduce over torch.distributed: 2 processes (gloo, spawned by
dist_moments.py) end with identical bits, equal to one process fed every
row; ranks whose Moments differ in size all raise instead of hanging;
compare_models(all_reduce=True) over each rank's batches equals one process
over all of them."""

import os
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import simrep  # noqa: E402
import simrep.torch  # noqa: E402
import dist_moments  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MEASURES = ["cca", "svcca", "pwcca", "cka", "cka_debiased", "procrustes"]


def test_all_reduce_two_processes_equals_one(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, os.path.join(HERE, "dist_moments.py"), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for r in range(dist_moments.SIZE):
        assert (tmp_path / ("rank%d.txt" % r)).read_text() == "ok"
    states = [np.load(tmp_path / ("rank%d.npy" % r)) for r in range(dist_moments.SIZE)]
    assert all((s == states[0]).all() for s in states), "ranks hold different states"

    x, y, z, cuts = dist_moments.data()
    len2 = simrep.Moments(9, 5).state().size
    two = simrep.Moments.from_state(9, 5, states[0][:len2])
    three = simrep.Moments.from_state(9, 5, 6, states[0][len2:])
    whole2 = simrep.Moments(9, 5).update(x, y)
    whole3 = simrep.Moments(9, 5, 6).update(x, y, z)
    for got, want, pair in ((two, whole2, None), (three, whole3, (0, 1)), (three, whole3, (2, 1))):
        assert got.n == len(x)
        a = got.compare(MEASURES, pair=pair, warn=False)
        b = want.compare(MEASURES, pair=pair, warn=False)
        for m in MEASURES:
            assert a[m]["similarity"] == pytest.approx(b[m]["similarity"], rel=1e-10, abs=0), m

    # compare_models(all_reduce=True) on each rank's batches == one process on all of them
    got = [np.load(tmp_path / ("rank%d_models.npy" % r)) for r in range(dist_moments.SIZE)]
    assert (got[0] == got[1]).all()
    net_a, net_b, batches = dist_moments.models()
    whole = simrep.torch.compare_models(net_a, net_b, batches, ["0", "2"], ["0", "2"], ["cka", "cca"], warn=False)
    want = np.stack([whole["measures"][m]["similarity"] for m in ("cka", "cca")])
    assert whole["n"] == 180
    np.testing.assert_allclose(got[0], want, rtol=1e-10, atol=0)


def test_all_reduce_needs_an_initialized_group():
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        pytest.skip("a process group is already initialized")
    with pytest.raises(simrep.InvalidArgument, match="torch.distributed is not initialized"):
        simrep.Moments(2, 2).all_reduce()
