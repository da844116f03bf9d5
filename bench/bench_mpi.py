#!/usr/bin/python3
"""Scaling study of simrep under MPI (issue 7): compare and matrix on 1, 2
and 4 ranks, with the communication volume each rank reports.

    make B=build && /usr/bin/python3 bench/bench_mpi.py [--bin build/simrep] [--quick]

Not a test: it prints a table and writes bench/results_mpi.json.  Every
run uses OPENBLAS_NUM_THREADS=1 (one core per rank).  On the 2-core machine
this was written on, 4 ranks are oversubscribed (mpirun --oversubscribe):
they time-share 2 cores, so the 4-rank column shows the overhead of the
extra ranks, not a speed-up.

Communication model.  Data-parallel compare: each rank reads n/K rows and
sends its moments state once up the binomial tree: 8 (1 + (p+q) + (p+q)^2
+ ...) bytes, O((p+q)^2), independent of n (the "bytes sent" column is
what simrep_moments_save writes, per rank, from SIMREP_MPI_STATS).  Rank
0 receives log2(K) states.  matrix: the K-input moments state, O((sum
p)^2), goes up the tree and is broadcast back; each prepared input's
state (O(p^2)) goes to the ranks whose pairs need it; results (a few
doubles per pair) to rank 0.  Reading is the part that scales with n and
is split K ways.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def run(cmd, env):
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
    sent = [float(b) for b in re.findall(r"simrep: mpi: rank \d+ of \d+: (\d+) bytes sent", p.stderr)]
    return dt, sent, p.stdout


def best_of(reps, cmd, env):
    runs = [run(cmd, env) for _ in range(reps)]
    return min(runs, key=lambda r: r[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(REPO / "build" / "simrep"))
    ap.add_argument("--quick", action="store_true", help="smaller data (a smoke run)")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    mpirun = shutil.which("mpirun")
    if not mpirun:
        sys.exit("mpirun not found (apt-get install openmpi-bin)")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", SIMREP_MPI_STATS="1")
    base = [mpirun, "--oversubscribe", "--allow-run-as-root", "-np"]
    tmp = Path(tempfile.mkdtemp(prefix="simrep_bench_mpi_"))
    rng = np.random.default_rng(0)

    n, p, q = (40000, 64, 64) if args.quick else (400000, 128, 128)
    x = rng.normal(size=(n, p)).astype(np.float32)
    y = (x[:, :q] @ rng.normal(size=(q, q)).astype(np.float32) + rng.normal(size=(n, q)).astype(np.float32))
    np.save(tmp / "x.npy", x)
    np.save(tmp / "y.npy", y)
    del x, y
    K, nm, pm = (8, 5000, 64) if args.quick else (16, 20000, 128)
    rows = ["name,path"]
    for i in range(K):
        np.save(tmp / ("in%d.npy" % i), rng.normal(size=(nm, pm)).astype(np.float32))
        rows.append("in%d,in%d.npy" % (i, i))
    (tmp / "m.csv").write_text("\n".join(rows) + "\n")

    jobs = {
        "compare": (["compare", "-m", "cca,svcca,pwcca,cka,cka_debiased,procrustes", "--format", "json",
                     str(tmp / "x.npy"), str(tmp / "y.npy")],
                    "n = %d, p = q = %d, float32 (%.0f MB per file)" % (n, p, n * p * 4 / 1e6)),
        "matrix": (["matrix", "--manifest", str(tmp / "m.csv"), "-m", "cca,svcca,pwcca,cka", "--format", "json",
                    "--threads", "1"],
                   "%d inputs of %d x %d, float32, %d pairs" % (K, nm, pm, K * (K - 1) // 2)),
    }
    results = {"machine_cores": os.cpu_count(), "oversubscribed_above": os.cpu_count(), "runs": []}
    for name, (cmd, what) in jobs.items():
        alone, _, out1 = best_of(args.reps, [args.bin] + cmd, env)
        results["runs"].append({"job": name, "what": what, "ranks": 1, "launcher": "none", "seconds": alone,
                                "bytes_sent_per_rank": [0]})
        ref = json.loads(out1)
        for k in (1, 2, 4):
            dt, sent, out = best_of(args.reps, base + [str(k), args.bin] + cmd, env)
            got = json.loads(out)
            if name == "compare":
                diff = max(abs(got["measures"][m]["similarity"] - ref["measures"][m]["similarity"])
                           for m in ref["measures"])
            else:
                diff = max(float(np.max(np.abs(np.array(got["measures"][m]["similarity"]) -
                                               np.array(ref["measures"][m]["similarity"]))))
                           for m in ref["measures"])
            results["runs"].append({"job": name, "what": what, "ranks": k, "launcher": "mpirun", "seconds": dt,
                                    "bytes_sent_per_rank": sent, "max_abs_diff_vs_alone": diff})
    state = 8 * (1 + (p + q) + (p + q) ** 2)
    results["model"] = {"compare_state_bytes_approx": state,
                        "matrix_joint_state_bytes_approx": 8 * (K * pm) ** 2}
    shutil.rmtree(tmp)

    print("simrep under MPI (OPENBLAS_NUM_THREADS=1; %d cores: 4 ranks are oversubscribed)" % os.cpu_count())
    print("%-8s %-9s %6s %9s %10s  %s" % ("job", "launcher", "ranks", "seconds", "speed-up", "MB sent per rank (max)"))
    for r in results["runs"]:
        t1 = next(s["seconds"] for s in results["runs"] if s["job"] == r["job"] and s["launcher"] == "none")
        print("%-8s %-9s %6d %9.2f %10.2f  %.3f%s" % (r["job"], r["launcher"], r["ranks"], r["seconds"],
                                                     t1 / r["seconds"], max(r["bytes_sent_per_rank"] or [0]) / 1e6,
                                                     "  (diff %.1e)" % r["max_abs_diff_vs_alone"]
                                                     if "max_abs_diff_vs_alone" in r else ""))
    for name, (cmd, what) in jobs.items():
        print("%s: %s" % (name, what))
    print("model: a compare rank sends its moments once, 8 (1 + (p+q) + (p+q)^2) ~ %.2f MB whatever n"
          % (state / 1e6))
    out = REPO / "bench" / ("results_mpi_quick.json" if args.quick else "results_mpi.json")
    out.write_text(json.dumps(results, indent=1) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
