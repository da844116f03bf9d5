#!/usr/bin/python3
"""Benchmark of `simrep matrix` against the same pairs done one by one with
`simrep compare` (the closing note of issue #3).

    /usr/bin/python3 bench/bench_matrix.py [--nets 10] [--layers 4] [--n 2000] [--p 256]
                                           [--threads 2] [--pairs-sample 0] [--bin PATH]

Inputs: nets x layers float32 .npy files of n x p activations (default 10
networks x 4 layers of 2,000 x 256: 40 inputs, 780 pairs), written to a
temporary directory with a manifest (name, path, group = network, layer).
Layers of one network share structure (each is a random map of the previous
one plus noise), so the measures see real, not random, similarity.

Timed (whole processes, wall clock, best of --repeats for the matrix):
  matrix   simrep matrix --manifest M.csv -m MEASURES --format json --threads T
  pairs    simrep compare X Y -m MEASURES --format json for each of the
           K(K-1)/2 pairs, one after the other (with --pairs-sample S > 0,
           a random S of them, and the total extrapolated: the pairs all
           have the same shape, so their cost is uniform)
Both run with OPENBLAS_NUM_THREADS=T; the matrix sets its BLAS pool to one
thread itself while its T pair threads run (T threads each calling a
T-threaded OpenBLAS contend for its one pool: the matrix took 3x longer
before it did).  The matrix values are checked
against the compare values of every timed pair (to 1e-9).  Results go to
bench/results_matrix.json.
"""

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MEASURES = "cca,svcca,pwcca,cka"


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", type=int, default=10)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--p", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2, help="--threads and OPENBLAS_NUM_THREADS (default 2)")
    ap.add_argument("--measures", default=MEASURES)
    ap.add_argument("--pairs-sample", type=int, default=0, help="time only this many pairs (0: all)")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many matrix runs (default 2)")
    ap.add_argument("--bin", default=str(REPO / "build" / "simrep"))
    ap.add_argument("--out", default=str(HERE / "results_matrix.json"))
    ap.add_argument("--tmpdir", default=None)
    return ap.parse_args()


def make_data(d, nets, layers, n, p):
    import numpy as np
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, p))
    lines = ["name,path,group,layer"]
    for k in range(nets):
        h = x
        for l in range(layers):
            h = np.tanh(h @ (rng.standard_normal((p, p)) / np.sqrt(p))) + 0.1 * rng.standard_normal((n, p))
            name = "net%d_l%d" % (k, l)
            np.save(d / (name + ".npy"), h.astype(np.float32))
            lines.append("%s,%s.npy,net%d,l%d" % (name, name, k, l))
    (d / "manifest.csv").write_text("\n".join(lines) + "\n")
    return [l.split(",")[0] for l in lines[1:]]


def timed(cmd, env):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr))
    return dt, p.stdout


def main():
    a = parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads))
    env_matrix = env
    with tempfile.TemporaryDirectory(dir=a.tmpdir) as tmp:
        d = Path(tmp)
        names = make_data(d, a.nets, a.layers, a.n, a.p)
        K = len(names)
        man = d / "manifest.csv"
        cmd = [a.bin, "matrix", "--manifest", str(man), "-m", a.measures, "--format", "json",
               "--threads", str(a.threads)]
        best, out = None, None
        for _ in range(a.repeats):
            dt, out = timed(cmd, env_matrix)
            best = dt if best is None else min(best, dt)
        mat = json.loads(out)
        print("matrix: %d inputs, %d pairs: %.2f s (OPENBLAS_NUM_THREADS=%d simrep %s)"
              % (K, K * (K - 1) // 2, best, a.threads, " ".join(cmd[1:])))

        pairs = [(i, j) for i in range(K) for j in range(i + 1, K)]
        timed_pairs = pairs
        if a.pairs_sample and a.pairs_sample < len(pairs):
            timed_pairs = random.Random(0).sample(pairs, a.pairs_sample)
        total, worst = 0.0, 0.0
        for i, j in timed_pairs:
            dt, out = timed([a.bin, "compare", str(d / (names[i] + ".npy")), str(d / (names[j] + ".npy")),
                             "-m", a.measures, "--format", "json"], env)
            total += dt
            c = json.loads(out)
            for mid, r in c["measures"].items():
                worst = max(worst, abs(mat["measures"][mid]["similarity"][i][j] - r["similarity"]))
        pairs_s = total * len(pairs) / len(timed_pairs)
        print("pairs one by one with simrep compare: %.2f s for %d pairs%s" %
              (pairs_s, len(pairs), "" if timed_pairs is pairs else
               " (extrapolated from %d timed, %.2f s)" % (len(timed_pairs), total)))
        print("ratio (pairs / matrix): %.1fx; largest |difference| of a similarity: %.1e" %
              (pairs_s / best, worst))
        if worst > 1e-9:
            sys.exit("matrix and compare disagree by %g" % worst)
        res = {"nets": a.nets, "layers": a.layers, "n": a.n, "p": a.p, "inputs": K, "pairs": len(pairs),
               "measures": a.measures, "threads": a.threads, "matrix_s": best, "pairs_s": pairs_s,
               "pairs_timed": len(timed_pairs), "ratio": pairs_s / best, "max_abs_diff": worst,
               "command": " ".join(["/usr/bin/python3", "bench/bench_matrix.py"] + sys.argv[1:]),
               "machine": platform.platform(), "cpus": os.cpu_count()}
        Path(a.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
