#!/usr/bin/python3
"""matrix's cost per pair against one dgesdd of a p x p matrix per pair plus
one data pass (issue 15, item 4), measured in one run.

    /usr/bin/python3 bench/bench_matrix_pairs.py [--nets 10] [--layers 4] [--n 2000] [--p 256]
                                                 [--threads 1] [--repeats 2] [--bin PATH]

Inputs: bench_matrix.py's nets x layers float32 .npy activations of n x p
(default 10 x 4 of 2,000 x 256: 40 inputs, 780 pairs).

Timed, alternating, best of --repeats, all with OPENBLAS_NUM_THREADS =
--threads (default 1: CPU times are then what a pair costs, and they suffer
less than wall times from a machine shared with other work):
  matrix      simrep matrix --manifest M.csv -m cca,svcca,pwcca,cka --threads T
              (its own process: CPU = user + system of the child, and wall)
  matrix cka  the same with -m cka: the pass, the reading and the cheap
              per-pair CKA, so matrix - matrix cka is the CCA family's share
  dgesdd      LAPACK dgesdd (jobz 'A', as numpy.linalg.svd and pwcca) of a
              p x p matrix, called in this process from the OpenBLAS simrep
              links, CPU time per call (median of 20)
  pass        one float64 DSYRK of the joint n x (K p) matrix in this process
              (the compute floor of matrix's single data pass)
Ratios:
  total    = matrix / (pairs x dgesdd + pass)         (the issue's target: <= 2)
  total'   = matrix / (pairs x dgesdd + matrix cka)   (simrep's own pass, reading
             and conversion included, as the pass: under load the DSYRK
             called from this process has measured slower than simrep's)
  per pair = (matrix - matrix cka) / pairs / dgesdd   (the CCA family's pair cost)
The load average is recorded before and after; results go to
bench/results_matrix_pairs.json.
"""

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", type=int, default=10)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--p", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="--threads and OPENBLAS_NUM_THREADS (default 1)")
    ap.add_argument("--measures", default="cca,svcca,pwcca,cka")
    ap.add_argument("--repeats", type=int, default=2, help="best of this many rounds (default 2)")
    ap.add_argument("--bin", default=str(REPO / "build" / "simrep"))
    ap.add_argument("--out", default=str(HERE / "results_matrix_pairs.json"))
    ap.add_argument("--tmpdir", default=None)
    return ap.parse_args()


A = parse_args()
# OpenBLAS reads its thread count when it is loaded (bench_common loads it).
os.environ["OPENBLAS_NUM_THREADS"] = str(A.threads)
sys.path.insert(0, str(HERE))
import bench_common  # noqa: E402  (forks the launcher before numpy is imported)
import bench_matrix  # noqa: E402

import ctypes  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402


def load():
    with open("/proc/loadavg") as f:
        return [float(v) for v in f.read().split()[:3]]


def dgesdd_cpu(p, calls=20):
    """CPU seconds of one dgesdd('A') of a p x p matrix (median of calls)."""
    import numpy as np
    lib = ctypes.CDLL(bench_common.BLAS_LIB)
    f = lib.dgesdd_
    rng = np.random.default_rng(1)
    a0 = np.asfortranarray(rng.standard_normal((p, p)) / np.sqrt(p))
    s = np.zeros(p)
    u = np.zeros((p, p), order="F")
    vt = np.zeros((p, p), order="F")
    iw = np.zeros(8 * p, dtype=np.int32)
    i, c = ctypes.c_int, ctypes.c_char_p
    ptr = lambda z: z.ctypes.data_as(ctypes.c_void_p)  # noqa: E731
    info = i(0)

    def call(a, work, lwork):
        f(c(b"A"), ctypes.byref(i(p)), ctypes.byref(i(p)), ptr(a), ctypes.byref(i(p)), ptr(s), ptr(u),
          ctypes.byref(i(p)), ptr(vt), ctypes.byref(i(p)), ptr(work), ctypes.byref(i(lwork)), ptr(iw),
          ctypes.byref(info), ctypes.c_size_t(1))
        if info.value != 0:
            sys.exit("dgesdd failed: info %d" % info.value)

    q = np.zeros(1)
    call(a0.copy(order="F"), q, -1)
    work = np.zeros(int(q[0]))
    times = []
    for _ in range(calls):
        a = a0.copy(order="F")
        t0 = time.process_time()
        call(a, work, len(work))
        times.append(time.process_time() - t0)
    times.sort()
    return times[len(times) // 2]


def pass_cpu(n, m):
    """CPU seconds of one float64 DSYRK of an n x m matrix (the floor of the pass)."""
    import numpy as np
    z = np.asfortranarray(np.random.default_rng(2).standard_normal((n, m)))
    t0 = time.process_time()
    bench_common.syrk(z)
    return time.process_time() - t0


def run_matrix(man, measures):
    r = bench_common.launch([A.bin, "matrix", "--manifest", str(man), "-m", measures, "--format", "json",
                             "--threads", str(A.threads)])
    if r["code"] != 0:
        sys.exit("simrep matrix failed:\n" + r["stderr"])
    return r


def main():
    with tempfile.TemporaryDirectory(dir=A.tmpdir) as tmp:
        d = Path(tmp)
        names = bench_matrix.make_data(d, A.nets, A.layers, A.n, A.p)
        K = len(names)
        pairs = K * (K - 1) // 2
        man = d / "manifest.csv"
        load_before = load()
        best = {"matrix": None, "matrix_wall": None, "cka": None, "cka_wall": None, "gesdd": None, "pass": None}

        def keep(key, v):
            best[key] = v if best[key] is None else min(best[key], v)

        for rnd in range(A.repeats):
            keep("gesdd", dgesdd_cpu(A.p))
            r = run_matrix(man, A.measures)
            keep("matrix", r["cpu"])
            keep("matrix_wall", r["wall"])
            r = run_matrix(man, "cka")
            keep("cka", r["cpu"])
            keep("cka_wall", r["wall"])
            keep("pass", pass_cpu(A.n, K * A.p))
            keep("gesdd", dgesdd_cpu(A.p))
            print("round %d: %s" % (rnd + 1, ", ".join("%s %.4g" % kv for kv in best.items())), flush=True)
        load_after = load()
        bench_common.stop_launcher()
        base = pairs * best["gesdd"] + best["pass"]
        total = best["matrix"] / base
        per_pair = (best["matrix"] - best["cka"]) / pairs
        res = {
            "inputs": K, "pairs": pairs, "n": A.n, "p": A.p, "measures": A.measures, "threads": A.threads,
            "matrix_cpu_s": best["matrix"], "matrix_wall_s": best["matrix_wall"],
            "matrix_cka_cpu_s": best["cka"], "matrix_cka_wall_s": best["cka_wall"],
            "dgesdd_cpu_s": best["gesdd"], "pass_dsyrk_cpu_s": best["pass"],
            "ratio_total": total, "ratio_total_own_pass": best["matrix"] / (pairs * best["gesdd"] + best["cka"]),
            "cca_family_per_pair_s": per_pair,
            "ratio_per_pair": per_pair / best["gesdd"],
            "load_before": load_before, "load_after": load_after,
            "command": " ".join(["/usr/bin/python3", "bench/bench_matrix_pairs.py"] + sys.argv[1:]),
            "machine": platform.platform(), "cpus": os.cpu_count(),
            "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        print("%d inputs of %d x %d, %d pairs, %s, %d thread(s), load %s -> %s"
              % (K, A.n, A.p, pairs, A.measures, A.threads, load_before, load_after))
        print("matrix %.2f s CPU (%.2f wall); matrix -m cka %.2f s CPU; dgesdd %.2f ms; pass (DSYRK %d x %d) %.2f s"
              % (best["matrix"], best["matrix_wall"], best["cka"], 1e3 * best["gesdd"], A.n, K * A.p, best["pass"]))
        print("matrix / (pairs x dgesdd + pass) = %.2f (target <= 2); with matrix -m cka as the pass: %.2f"
              % (total, res["ratio_total_own_pass"]))
        print("CCA family per pair: %.2f ms = %.2f dgesdd" % (1e3 * per_pair, per_pair / best["gesdd"]))
        Path(A.out).write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
