#!/usr/bin/python3
"""Benchmark of the measures computed from the rows against plain compare.

    /usr/bin/python3 bench/bench_rows.py [--n 20000] [--p 128] [--threads 1] [--bin PATH]

float32 X (n x p) and Y (n x p, a noisy linear map of X) are written as .npy
into a temporary directory (--tmpdir; rsa's rank comparisons also spill
there through TMPDIR), then each command is timed as a whole process, best
of --repeats (default 1 for the rows measures, which take minutes, and 3 for
the baseline):

  baseline  `simrep compare X Y` (its default measures: one pass over the
            data, the moments);
  rows      `simrep compare X Y -m M [options]` for cka_rbf (the rows
            measure that was already there), rsa with each comparison,
            mutual_knn and cknna; and cka_lange, a moments measure, for
            contrast.

OPENBLAS_NUM_THREADS is pinned (--threads, default 1) for every command, and
the machine's load average is recorded before and after each timing (the
machine is shared: compare ratios taken in one run, not times across runs).
Results go to bench/results_rows.json and a markdown table on stdout.
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

CASES = [
    ("cka_rbf", ["-m", "cka_rbf"]),
    ("rsa pearson", ["-m", "rsa", "--rsa-compare", "pearson"]),
    ("rsa spearman", ["-m", "rsa", "--rsa-compare", "spearman"]),
    ("rsa kendall", ["-m", "rsa", "--rsa-compare", "kendall"]),
    ("mutual_knn", ["-m", "mutual_knn"]),
    ("cknna", ["-m", "cknna"]),
    ("cka_lange", ["-m", "cka_lange"]),
]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=20000, help="samples (default 20000)")
    ap.add_argument("--p", type=int, default=128, help="features of each input (default 128)")
    ap.add_argument("--threads", type=int, default=1, help="OPENBLAS_NUM_THREADS (default 1)")
    ap.add_argument("--bin", default=str(REPO / "build" / "simrep"), help="simrep binary")
    ap.add_argument("--repeats", type=int, default=1, help="best of this many for the rows measures (default 1)")
    ap.add_argument("--only", default="", help="comma-separated case names (default all)")
    ap.add_argument("--tmpdir", default=None, help="inputs and rsa's spill files (default: system temp)")
    ap.add_argument("--out", default=str(HERE / "results_rows.json"))
    return ap.parse_args()


def timed(cmd, env, repeats):
    """Best wall time of repeats runs, with the load average around them."""
    best, load0 = None, os.getloadavg()[0]
    for _ in range(repeats):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        dt = time.perf_counter() - t0
        if proc.returncode != 0:
            sys.exit("failed: %s\n%s" % (" ".join(cmd), proc.stderr))
        best = dt if best is None else min(best, dt)
    return best, load0, os.getloadavg()[0], proc.stdout


def main():
    args = parse_args()
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads))
    only = set(filter(None, args.only.split(",")))
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        env["TMPDIR"] = tmp
        x = rng.standard_normal((args.n, args.p)).astype(np.float32)
        y = (x @ rng.standard_normal((args.p, args.p)).astype(np.float32) * 0.1
             + rng.standard_normal((args.n, args.p)).astype(np.float32))
        fx, fy = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        np.save(fx, x)
        np.save(fy, y)
        base_cmd = [args.bin, "compare", fx, fy, "--format", "json"]
        base, l0, l1, _ = timed(base_cmd, env, 3)
        rows = [{"case": "compare (default measures)", "seconds": base, "ratio": 1.0, "load": [l0, l1],
                 "command": " ".join(base_cmd[1:])}]
        print("baseline %.3f s (load %.1f -> %.1f)" % (base, l0, l1), file=sys.stderr)
        for name, extra in CASES:
            if only and name not in only:
                continue
            cmd = base_cmd + extra
            t, l0, l1, out = timed(cmd, env, args.repeats)
            value = list(json.loads(out)["measures"].values())[0]["similarity"]
            rows.append({"case": name, "seconds": t, "ratio": t / base, "load": [l0, l1], "value": value,
                         "command": " ".join(cmd[1:])})
            print("%-14s %.2f s (%.0fx; load %.1f -> %.1f)" % (name, t, t / base, l0, l1), file=sys.stderr)
    result = {"n": args.n, "p": args.p, "q": args.p, "threads": args.threads, "machine": platform.node(),
              "cpus": os.cpu_count(), "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print("| case | seconds | x plain compare | load before -> after |")
    print("|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f | %.1f | %.1f -> %.1f |" % (r["case"], r["seconds"], r["ratio"], r["load"][0],
                                                       r["load"][1]))


if __name__ == "__main__":
    main()
