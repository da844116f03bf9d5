"""Two processes (multiprocessing spawn, gloo on CPU) each fold an
uneven share of the same rows into a simrep.Moments and call all_reduce();
test_distributed.py runs this script and checks what the ranks write to
OUTDIR: rank<R>.npy (the state after all_reduce, the K = 2 and the K = 3
Moments concatenated), rank<R>_models.npy (compare_models(..., all_reduce=
True) of two small models over this rank's batches) and rank<R>.txt ("ok"
or what went wrong).

    /usr/bin/python3 dist_moments.py OUTDIR
"""
import os
import sys

import multiprocessing as mp

import numpy as np

SIZE = 2


def data():
    """The rows of the test and the share boundaries (rank 0 gets 1/4)."""
    rng = np.random.default_rng(11)
    n = 301
    x = rng.normal(size=(n, 9)) + 50.0  # a large mean: the merge must not cancel
    y = x[:, :4] @ rng.normal(size=(4, 5)) + 0.3 * rng.normal(size=(n, 5))
    z = np.tanh(x[:, 2:8]) + 0.1 * rng.normal(size=(n, 6))
    return x, y.astype(np.float32), z, [0, n // 4, n]


def models():
    """Two small models, the same on every rank, and 6 batches of inputs."""
    import torch
    torch.manual_seed(5)
    a = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4))
    b = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    g = torch.Generator().manual_seed(6)
    return a, b, [torch.randn(30, 6, generator=g) for _ in range(6)]


def worker(rank, outdir, init):
    # torch is imported by the ranks only: the parent would spend seconds of
    # CPU importing it for nothing.
    import torch
    import torch.distributed as dist
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=SIZE)
    import simrep
    bad = []
    x, y, z, cuts = data()
    lo, hi = cuts[rank], cuts[rank + 1]
    two = simrep.Moments(9, 5)
    three = simrep.Moments(9, 5, 6)
    for b in range(lo, hi, 40):
        e = min(b + 40, hi)
        two.update(torch.from_numpy(x[b:e]), y[b:e])
        three.update(x[b:e], y[b:e], z[b:e])
    if two.all_reduce() is not two:
        bad.append("all_reduce does not return self")
    three.all_reduce(group=dist.new_group([0, 1]))
    for m in (two, three):
        if m.n != len(x):
            bad.append("n = %d after all_reduce, want %d" % (m.n, len(x)))
    try:  # every rank must raise, none may hang
        simrep.Moments(9 + rank, 5).all_reduce()
        bad.append("different feature counts accepted")
    except simrep.InvalidArgument as e:
        if "features per rank: 9, 5; 10, 5" not in str(e):
            bad.append("mismatch message: %s" % e)
    try:
        (simrep.Moments(9, 5) if rank else simrep.Moments(9, 5, 6)).all_reduce()
        bad.append("different input counts accepted")
    except simrep.InvalidArgument as e:
        if "3 inputs; 2 inputs" not in str(e):
            bad.append("mismatch message: %s" % e)
    np.save(os.path.join(outdir, "rank%d.npy" % rank), np.concatenate([two.state(), three.state()]))
    import simrep.torch
    net_a, net_b, batches = models()
    res = simrep.torch.compare_models(net_a, net_b, batches[rank::SIZE], ["0", "2"], ["0", "2"], ["cka", "cca"],
                                      all_reduce=True, warn=False)
    np.save(os.path.join(outdir, "rank%d_models.npy" % rank),
            np.stack([res["measures"][m]["similarity"] for m in ("cka", "cca")]))
    with open(os.path.join(outdir, "rank%d.txt" % rank), "w") as f:
        f.write("; ".join(bad) or "ok")
    dist.destroy_process_group()


if __name__ == "__main__":
    out = os.path.abspath(sys.argv[1])
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=worker, args=(r, out, "file://" + os.path.join(out, "rendezvous")))
             for r in range(SIZE)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    sys.exit(max(abs(p.exitcode) for p in procs))
