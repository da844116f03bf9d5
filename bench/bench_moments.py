#!/usr/bin/python3
"""The moments measures of issue 12 against plain compare, timed in one run.

    /usr/bin/python3 bench/bench_moments.py [--n 50000] [--p 512] [--threads 1] [--repeats 1] [--bin PATH]

Inputs: bench_common.write_inputs's float32 .npy X (n x p) and Y (n x p:
ReLU and tanh of a shared latent plus noise), written to a temporary
directory (--tmpdir) and removed afterwards.

Each case is a whole `simrep compare X Y --format json` process started by
bench_common's launcher (wall and the child's own CPU time, user + system),
best of --repeats (default 1), in the order below:

  baseline         simrep compare X Y  (its default measures cca, svcca,
                   pwcca, cka: one pass over the data, the moments)
  one measure      -m M for each of the measures computed from the moments
                   that issue 12 added (cka_angular, shape_angular at
                   --shape-alpha 1 and 0.5, shape_euclidean, linreg without
                   and with --ridge, cka_lange), each with the same pass
  all              the default measures and all of those in one process
  baseline again   last, so that its difference from the first is the
                   run's own noise

So "x plain compare" is what a user pays for that measure alone against the
usual run, and the pass (the DSYRK over n rows) is in both.
OPENBLAS_NUM_THREADS is pinned (--threads, default 1) for every command, and
the load average is recorded before and after each timing: the machine is
shared, so compare ratios taken in one run (and CPU seconds, which suffer
less from other work than wall seconds), not times across runs.  Results go
to bench/results_moments.json and a markdown table on stdout.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

NEW = "cka_angular,shape_angular,shape_euclidean,linreg,cka_lange"
CASES = [
    ("cka_angular", ["-m", "cka_angular"]),
    ("shape_angular (alpha 1)", ["-m", "shape_angular"]),
    ("shape_angular --shape-alpha 0.5", ["-m", "shape_angular", "--shape-alpha", "0.5"]),
    ("shape_euclidean", ["-m", "shape_euclidean"]),
    ("linreg", ["-m", "linreg"]),
    ("linreg --ridge 1", ["-m", "linreg", "--ridge", "1"]),
    ("cka_lange", ["-m", "cka_lange"]),
    ("all: defaults + the new measures", ["-m", "cca,svcca,pwcca,cka," + NEW]),
]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=50000, help="samples (default 50000)")
    ap.add_argument("--p", type=int, default=512, help="features of each input (default 512)")
    ap.add_argument("--threads", type=int, default=1, help="OPENBLAS_NUM_THREADS (default 1)")
    ap.add_argument("--repeats", type=int, default=1, help="best of this many (default 1)")
    ap.add_argument("--only", default="", help="comma-separated case names (default all)")
    ap.add_argument("--bin", default=str(REPO / "build" / "simrep"), help="simrep binary")
    ap.add_argument("--tmpdir", default=None, help="where the inputs go (default: system temp)")
    ap.add_argument("--out", default=str(HERE / "results_moments.json"))
    return ap.parse_args()


A = parse_args()
# The launcher forked by bench_common inherits the environment: pin first.
os.environ["OPENBLAS_NUM_THREADS"] = str(A.threads)
sys.path.insert(0, str(HERE))
import bench_common  # noqa: E402  (forks the launcher before numpy is imported)


def timed(cmd):
    """Best of A.repeats runs: wall, CPU, load before and after, stdout."""
    best, load0 = None, os.getloadavg()[0]
    for _ in range(A.repeats):
        r = bench_common.launch(cmd)
        if r["code"] != 0:
            sys.exit("failed: %s\n%s" % (" ".join(map(str, cmd)), r["stderr"]))
        if best is None or r["wall"] < best["wall"]:
            best = r
    return best, load0, os.getloadavg()[0]


def main():
    only = set(filter(None, A.only.split(",")))
    rows = []
    with tempfile.TemporaryDirectory(dir=A.tmpdir) as tmp:
        fx, fy = bench_common.write_inputs(Path(tmp), A.p, A.p, A.n)
        base_cmd = [A.bin, "compare", str(fx), str(fy), "--format", "json"]
        cases = [("plain compare (cca, svcca, pwcca, cka)", [])]
        cases += [c for c in CASES if not only or c[0] in only]
        cases += [("plain compare again (last: the run's noise)", [])]
        base = None
        for name, extra in cases:
            r, l0, l1 = timed(base_cmd + extra)
            base = base or r
            measures = json.loads(r["stdout"])["measures"]
            rows.append({"case": name, "seconds": r["wall"], "cpu": r["cpu"], "ratio": r["wall"] / base["wall"],
                         "cpu_ratio": r["cpu"] / base["cpu"], "load": [l0, l1],
                         "similarity": {k: v.get("similarity") for k, v in measures.items()},
                         "command": " ".join(["simrep", "compare", "X.npy", "Y.npy", "--format", "json"] + extra)})
            print("%-36s %7.2f s wall %7.2f s CPU (x%.2f; load %.1f -> %.1f)"
                  % (name, r["wall"], r["cpu"], r["wall"] / base["wall"], l0, l1), file=sys.stderr)
    bench_common.stop_launcher()
    result = {"n": A.n, "p": A.p, "q": A.p, "dtype": "float32", "threads": A.threads, "repeats": A.repeats,
              "machine": platform.node(), "cpus": os.cpu_count(),
              "note": "shared machine: ratios within this run, not times across runs", "rows": rows}
    Path(A.out).write_text(json.dumps(result, indent=1) + "\n")
    print("| case | wall s | CPU s | x plain compare (wall) | x plain compare (CPU) | load before -> after |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f | %.2f | %.2f | %.2f | %.1f -> %.1f |" % (r["case"], r["seconds"], r["cpu"], r["ratio"],
                                                                   r["cpu_ratio"], r["load"][0], r["load"][1]))


if __name__ == "__main__":
    main()
