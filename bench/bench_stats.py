#!/usr/bin/python3
"""Cost of simrep compare's statistics (issue 11) against a plain compare.

    /usr/bin/python3 bench/bench_stats.py [--threads T] [--repeats R] [--bin PATH]

For each (p, q, n), float32 X (n x p) and Y (n x q) sharing a few latent
directions are written as .npy into a temporary directory, and the whole
process is timed (wall clock, and user + system CPU, which a busy machine
disturbs less), with its peak RSS (GNU time's report of that child):

  plain         simrep compare X Y --format json        (cca, svcca, pwcca, cka)
  bootstrap     ... --bootstrap 200
  permutations  ... --permutations 100

each the best of --repeats runs (default 2; peak RSS by GNU time, from the
time package), in the same session, so the
ratios bootstrap/plain and permutations/plain compare like with like.
OPENBLAS_NUM_THREADS and --threads are both T (default 2).  The machine
load (os.getloadavg) is recorded before and after.  Results go to
bench/results_stats.json.

Target (issue 11): bootstrap 200 within 3x a plain compare at 128+128 x 200,000.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SIZES = [(128, 128, 200000), (512, 512, 50000)]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--bin", default=str(REPO / "build" / "simrep"))
    ap.add_argument("--out", default=str(HERE / "results_stats.json"))
    ap.add_argument("--tmpdir", default=None)
    ap.add_argument("--sizes", default=None, help="p,q,n;p,q,n (default: the issue's two)")
    return ap.parse_args()


def timed(cmd, env):
    """Wall time and peak RSS (MiB) of one run of cmd, measured by GNU time
    (its child's ru_maxrss: simrep alone, not this Python process, whose
    pages a fork would count)."""
    t0 = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S"] + cmd, capture_output=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), proc.stderr.decode()))
    rss_kib, user, sys_ = proc.stderr.decode().strip().splitlines()[-1].split()
    return wall, int(rss_kib) / 1024.0, float(user) + float(sys_)


def main():
    a = parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(a.threads))
    sizes = SIZES if not a.sizes else [tuple(int(v) for v in s.split(",")) for s in a.sizes.split(";")]
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=a.tmpdir) as tmp:
        for p, q, n in sizes:
            r = np.random.default_rng(0)
            z = r.normal(size=(n, 8)).astype(np.float32)
            x = np.empty((n, p), np.float32)
            y = np.empty((n, q), np.float32)
            for i0 in range(0, n, 20000):  # in chunks: bounded memory while writing
                i1 = min(n, i0 + 20000)
                x[i0:i1] = r.normal(size=(i1 - i0, p)).astype(np.float32)
                y[i0:i1] = r.normal(size=(i1 - i0, q)).astype(np.float32)
                x[i0:i1, :8] += z[i0:i1]
                y[i0:i1, :8] += z[i0:i1] * 0.5
            px, py = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
            np.save(px, x)
            np.save(py, y)
            del x, y, z
            base = [a.bin, "compare", px, py, "--format", "json", "--threads", str(a.threads)]
            runs = {"plain": base, "bootstrap": base + ["--bootstrap", "200"],
                    "permutations": base + ["--permutations", "100"]}
            res = {}
            for name, cmd in runs.items():
                best = None
                for _ in range(a.repeats):
                    wall, rss, cpu = timed(cmd, env)
                    if best is None or wall < best[0]:
                        best = (wall, rss, cpu)
                res[name] = {"seconds": best[0], "peak_rss_mib": best[1], "cpu_seconds": best[2],
                             "command": " ".join(cmd[1:])}
                print("%4d+%-4d x %7d  %-13s %8.2f s wall %8.2f s CPU  %7.1f MiB"
                      % (p, q, n, name, best[0], best[2], best[1]), flush=True)
            row = {"p": p, "q": q, "n": n, "runs": res,
                   "bootstrap_ratio": res["bootstrap"]["seconds"] / res["plain"]["seconds"],
                   "permutations_ratio": res["permutations"]["seconds"] / res["plain"]["seconds"],
                   "bootstrap_cpu_ratio": res["bootstrap"]["cpu_seconds"] / res["plain"]["cpu_seconds"],
                   "permutations_cpu_ratio": res["permutations"]["cpu_seconds"] / res["plain"]["cpu_seconds"]}
            print("%4d+%-4d x %7d  bootstrap 200 = %.2fx plain (CPU %.2fx), permutations 100 = %.2fx plain (CPU %.2fx)"
                  % (p, q, n, row["bootstrap_ratio"], row["bootstrap_cpu_ratio"], row["permutations_ratio"],
                     row["permutations_cpu_ratio"]), flush=True)
            rows.append(row)
    doc = {"threads": a.threads, "repeats": a.repeats, "load_before": load_before, "load_after": os.getloadavg(),
           "machine": platform.platform(), "cpus": os.cpu_count(), "results": rows}
    Path(a.out).write_text(json.dumps(doc, indent=1) + "\n")
    print("load average before %s, after %s" % (tuple(round(v, 2) for v in load_before),
                                                 tuple(round(v, 2) for v in doc["load_after"])))


if __name__ == "__main__":
    main()
