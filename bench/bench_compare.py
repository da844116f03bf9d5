#!/usr/bin/python3
"""Benchmark of `simrep compare` against its compute floor and numpy.

    /usr/bin/python3 bench/bench_compare.py [--quick] [--threads T] [--bin PATH]

For each (p, q, n), float32 X (n x p) and Y (n x q) are written as .npy into
a temporary directory, and three things are timed:

  simrep  the whole process `simrep compare X Y -m <seven linear measures>
          --format json` (reading the files included), best of 3, with its
          peak RSS from os.wait4's rusage (ru_maxrss of that child alone,
          started from a small launcher process: see start_launcher);
  floor   one float64 DSYRK of the joint n x (p+q) matrix, C = ZᵀZ, called
          directly from libopenblas through ctypes (no numpy dispatch to
          guess about), best of 3.  Every linear measure needs at least the
          joint scatter matrix, and a single SYRK is the cheapest way to get
          it, so simrep cannot be much faster than this;
  numpy   tests/python/reference_numpy.py computing the same seven measures
          from the float32 files loaded and converted to float64 (load
          included), best of 3 for small sizes, once for n*(p+q) > 5e6.

OPENBLAS_NUM_THREADS is set (default 2, --threads) for simrep and numpy alike,
before numpy is imported.  OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as
the environment has them and printed.  Results go to bench/results.json.

Targets (the project plan; docs/speed.md): at 512+512 x 50,000, simrep <= 1.5x floor and
peak RSS <= 128 MiB.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

SIZES = [(64, 64, 5000), (256, 256, 10000), (512, 512, 50000), (1024, 1024, 50000)]
QUICK_SIZES = [(64, 64, 5000), (256, 256, 10000)]
MEASURES = ["cca", "cca_r2", "svcca", "pwcca", "cka", "cka_debiased", "procrustes"]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the two small sizes")
    ap.add_argument("--threads", type=int, default=2, help="OPENBLAS_NUM_THREADS (default 2)")
    ap.add_argument("--bin", default=str(REPO / "build" / "simrep"), help="simrep binary")
    ap.add_argument("--repeats", type=int, default=3, help="best of this many (default 3)")
    ap.add_argument("--no-numpy", action="store_true", help="skip the numpy timing")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    ap.add_argument("--tmpdir", default=None, help="where to write the inputs (default: system temp)")
    return ap.parse_args()


ARGS = parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)


from bench_common import BLAS_LIB, launch, stop_launcher, syrk, write_inputs  # noqa: E402  (forks the launcher)

import numpy as np  # noqa: E402  (after OPENBLAS_NUM_THREADS is set)

sys.path.insert(0, str(REPO / "tests" / "python"))
import reference_numpy as ref  # noqa: E402


# ------------------------------------------------------------------ inputs

# ------------------------------------------------------------------ simrep

def time_simrep(exe, fx, fy, repeats):
    cmd = [exe, "compare", str(fx), str(fy), "-m", ",".join(MEASURES), "--format", "json"]
    best, rss, out = None, 0, None
    for _ in range(repeats):
        r = launch(cmd)
        if r["code"] != 0:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r["code"], r["stderr"]))
        best = r["wall"] if best is None else min(best, r["wall"])
        rss = max(rss, r["maxrss_kib"])  # KiB on Linux
        out = json.loads(r["stdout"])
    return best, rss / 1024.0, out, " ".join(cmd)


# ------------------------------------------------------------------ floor

def time_floor(fx, fy, repeats):
    x = np.load(fx, mmap_mode="r")
    y = np.load(fy, mmap_mode="r")
    n, p = x.shape
    z = np.empty((n, p + y.shape[1]), order="F")
    z[:, :p] = x
    z[:, p:] = y
    c = syrk(z)
    # Check the call did what it says (upper triangle of ZᵀZ), on a corner.
    k = min(8, z.shape[1])
    want = z[:, :k].T @ z[:, :k]
    assert np.allclose(np.triu(c[:k, :k]), np.triu(want), rtol=1e-10, atol=1e-8), "dsyrk check failed"
    best = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        syrk(z)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best


# ------------------------------------------------------------------ numpy

def numpy_once(fx, fy):
    t0 = time.perf_counter()
    x = np.load(fx).astype(np.float64)
    y = np.load(fy).astype(np.float64)
    res = ref.compute_all(x, y, MEASURES)
    return time.perf_counter() - t0, res


def time_numpy(fx, fy, n, p, q, repeats):
    reps = repeats if n * (p + q) <= 5e6 else 1
    best, res = None, None
    for _ in range(reps):
        dt, res = numpy_once(fx, fy)
        best = dt if best is None else min(best, dt)
    return best, res, reps


# ------------------------------------------------------------------ main

def main():
    exe = ARGS.bin
    if not Path(exe).exists():
        sys.exit("simrep binary not found at %s (make build/simrep)" % exe)
    env_info = {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    print("simrep bench: %s" % exe)
    for k, v in env_info.items():
        print("  %s=%s" % (k, v if v is not None else "(unset)"))
    print("  floor: dsyrk_ from %s" % (BLAS_LIB or "numpy matmul (dsyrk_ not found)"))
    print("  cpu: %s, %d cpus; numpy %s" % (platform.processor() or platform.machine(), os.cpu_count(), np.__version__))
    print("  measures: %s" % ",".join(MEASURES))
    sizes = QUICK_SIZES if ARGS.quick else SIZES
    rows = []
    hdr = "%5s %5s %7s %9s %9s %8s %9s %8s %9s %8s" % (
        "p", "q", "n", "simrep_s", "floor_s", "sim/flr", "numpy_s", "np/sim", "rss_MiB", "max|d|")
    print()
    print(hdr)
    with tempfile.TemporaryDirectory(prefix="simrep_bench_", dir=ARGS.tmpdir) as tmp:
        d = Path(tmp)
        for p, q, n in sizes:
            fx, fy = write_inputs(d, p, q, n)
            t_sim, rss, out, cmd = time_simrep(exe, fx, fy, ARGS.repeats)
            t_floor = time_floor(fx, fy, ARGS.repeats)
            t_np, res, np_reps = (None, None, 0) if ARGS.no_numpy else time_numpy(fx, fy, n, p, q, ARGS.repeats)
            maxdiff = None
            if res is not None:
                maxdiff = max(abs(out["measures"][m]["similarity"] - res[m]["similarity"]) for m in MEASURES)
            row = {
                "p": p, "q": q, "n": n, "simrep_s": t_sim, "floor_s": t_floor,
                "simrep_over_floor": t_sim / t_floor, "numpy_s": t_np,
                "numpy_over_simrep": (t_np / t_sim) if t_np else None, "numpy_repeats": np_reps,
                "simrep_peak_rss_mib": rss, "max_abs_diff_vs_numpy": maxdiff, "command": cmd,
            }
            rows.append(row)
            print("%5d %5d %7d %9.3f %9.3f %8.2f %9s %8s %9.1f %8s" % (
                p, q, n, t_sim, t_floor, t_sim / t_floor,
                "%.3f" % t_np if t_np else "-", "%.1f" % (t_np / t_sim) if t_np else "-",
                rss, "%.1e" % maxdiff if maxdiff is not None else "-"), flush=True)
            for f in (fx, fy):
                os.unlink(f)
    target = [r for r in rows if (r["p"], r["q"], r["n"]) == (512, 512, 50000)]
    verdict = None
    if target:
        r = target[0]
        verdict = {"simrep_over_floor": r["simrep_over_floor"], "ok_time": r["simrep_over_floor"] <= 1.5,
                   "peak_rss_mib": r["simrep_peak_rss_mib"], "ok_rss": r["simrep_peak_rss_mib"] <= 128}
        print("\ntarget 512+512 x 50000: simrep/floor %.2f (<= 1.5: %s), peak RSS %.1f MiB (<= 128: %s)" % (
            r["simrep_over_floor"], "yes" if verdict["ok_time"] else "NO",
            r["simrep_peak_rss_mib"], "yes" if verdict["ok_rss"] else "NO"))
    result = {"env": env_info, "threads": ARGS.threads, "blas": BLAS_LIB, "cpus": os.cpu_count(),
              "numpy": np.__version__, "measures": MEASURES, "repeats": ARGS.repeats,
              "quick": ARGS.quick, "rows": rows, "target_512": verdict,
              "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    with open(ARGS.out, "w") as f:
        json.dump(result, f, indent=1)
    stop_launcher()
    print("results written to %s" % ARGS.out)


if __name__ == "__main__":
    main()
