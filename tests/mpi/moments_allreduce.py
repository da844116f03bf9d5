"""Run under mpirun -np K: simrep.Moments.allreduce equals one Moments of all
the rows (tests/mpi/test_mpi.py launches it).  Each rank folds an uneven,
possibly empty, share of the rows; after allreduce every rank must hold the
same bits, and the measures must equal those of a single Moments fed every
row to 1e-10 relative (the merge is exact up to round-off).  Exits 0 when
every check passes; prints "rank R ok" lines for the test to count."""
import sys

import numpy as np
from mpi4py import MPI

import simrep

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
rng = np.random.default_rng(7)
n, p, q = 503, 11, 6
x = rng.normal(size=(n, p)) + 100.0  # a large mean: the merge must not cancel
y = x[:, :q] @ rng.normal(size=(q, q)) + 0.3 * rng.normal(size=(n, q))
# Uneven shares, the last rank's empty when size > 2.
cuts = [0] + [int(n * (r + 1) ** 2 / size ** 2) for r in range(size)]
if size > 2:
    cuts[-2] = cuts[-1]
lo, hi = cuts[rank], cuts[rank + 1]

m = simrep.Moments(p, q)
for b in range(lo, hi, 64):
    m.update(x[b:min(b + 64, hi)], y[b:min(b + 64, hi)].astype(np.float32 if rank % 2 else np.float64))
m.allreduce(comm)

whole = simrep.Moments(p, q)
whole.update(x, np.concatenate([y[cuts[r]:cuts[r + 1]].astype(np.float32 if r % 2 else np.float64)
                                for r in range(size)]))
measures = ["cca", "cca_r2", "svcca", "pwcca", "cka", "cka_debiased", "procrustes"]
got, want = m.compare(measures, warn=False), whole.compare(measures, warn=False)
bad = []
if m.n != n:
    bad.append("n %d != %d" % (m.n, n))
for k in measures:
    a, b = got[k]["similarity"], want[k]["similarity"]
    if not abs(a - b) <= 1e-10 * max(abs(b), 1e-300):
        bad.append("%s %.17g != %.17g" % (k, a, b))
states = np.zeros((size, m.state().size))
comm.Allgather(m.state(), states)
if not (states == states[0]).all():
    bad.append("ranks hold different states")
try:
    simrep.Moments(p + (rank == size - 1), q).allreduce(comm)
    bad.append("mismatched sizes accepted")
except simrep.InvalidArgument:
    pass
print("rank %d %s" % (rank, "ok" if not bad else "FAIL " + "; ".join(bad)), flush=True)
sys.exit(1 if bad else 0)
