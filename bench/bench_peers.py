#!/usr/bin/python3
"""simrep side by side with the reference algorithms, in one run.

    /usr/bin/python3 bench/bench_peers.py [--quick] [--threads T] [--bin PATH] [--out FILE]

For each size (p + q features x n samples; float32 .npy files written to a
temporary directory, the same files for everyone) every contender runs as
its own process, started from a small launcher forked before numpy is
imported, so that the wall time and peak RSS (os.wait4) are those of that
process alone (reading the files, Python and numpy start-up included):

  simrep_f64     build/simrep compare X Y -m cca,svcca,pwcca,cka (float64, the default)
  simrep_mixed   the same with --precision mixed
  simrep_cka     build/simrep compare X Y -m cka (one measure, like the CKA peers)
  simrep_cka_mixed  the same with --precision mixed
  google         google/svcca's cca_core.get_cca_similarity + pwcca.compute_pwcca
                 (numpy, float64 as the reference converts), as transcribed in
                 tests/python_pkg/svcca_reference.py (the reference algorithm,
                 written for the tests, not copied)
  kornblith_cka  the Kornblith et al. notebook's feature_space_linear_cka on the
                 arrays as loaded (float32: numpy runs SGEMMs), our transcription
  kornblith_rbf  the notebook's gram_rbf + cka (n x n Grams); only where 3 n^2
                 doubles fit in --rbf-mib (else "n/a")
  simrep_rbf     build/simrep compare X Y -m cka_rbf, where kornblith_rbf runs
  torch_cka      linear CKA as the deep-learning packages compute it: float32
                 torch tensors on the CPU, centred, |YᵀX|_F^2 / (|XᵀX|_F |YᵀY|_F)

Every contender's similarity is checked against simrep float64 (cka_rbf:
simrep's cka_rbf; the differences go into the JSON).  Each figure is the best of --repeats runs
(default 3; 1 for contenders over 20 s).  A floor column gives one float64
DSYRK of the joint n x (p+q) matrix (OpenBLAS through ctypes, in this
process), as bench_compare.py does.  OPENBLAS_NUM_THREADS = --threads for
every process (torch: torch.set_num_threads too).  The JSON records the
command, the threads, `uptime` before and after each size, and every row.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

SIZES = [(64, 64, 5000), (256, 256, 10000), (512, 512, 50000), (1024, 1024, 50000), (128, 128, 200000)]
# Scaling: n at p = q = 256 (the cost per row should stay flat), p at
# n = 20,000 (the O(p^3) decompositions show as p grows).
SCALE_N = [(256, 256, n) for n in (5000, 20000, 80000)]
SCALE_P = [(p, p, 20000) for p in (64, 256, 1024)]
QUICK = [(64, 64, 5000), (256, 256, 10000)]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bin", default=str(REPO / "build" / "simrep"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--rbf-mib", type=float, default=4096, help="largest 3 n^2 doubles for the numpy RBF (MiB)")
    ap.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    ap.add_argument("--only-sizes", default="", help="e.g. 512x50000,1024x50000 (p=q)")
    ap.add_argument("--out", default=str(HERE / "results_peers.json"))
    ap.add_argument("--tmpdir", default=None)
    ap.add_argument("--worker", nargs=3, metavar=("KIND", "X", "Y"), help=argparse.SUPPRESS)
    return ap.parse_args()


ARGS = parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)


# ------------------------------------------------------------------ workers
# One contender in this process: load, compute, print {"similarity": ..., "compute_s": ...}.

def worker(kind, fx, fy):
    t0 = time.perf_counter()
    import numpy as np
    if kind == "google":
        sys.path.insert(0, str(REPO / "tests" / "python_pkg"))
        import svcca_reference as g
        x = np.load(fx).astype(np.float64).T  # the reference takes neurons x datapoints
        y = np.load(fy).astype(np.float64).T
        res = g.get_cca_similarity(x, y, epsilon=1e-10, compute_dirns=False)
        pw = g.compute_pwcca(x, y, epsilon=1e-10)
        out = {"similarity": float(np.mean(res["cca_coef1"])), "pwcca": float(pw[0])}
    elif kind == "kornblith_cka":
        x, y = np.load(fx), np.load(fy)  # float32, as a user's activations
        x = x - np.mean(x, 0, keepdims=True)
        y = y - np.mean(y, 0, keepdims=True)
        dot = np.linalg.norm(x.T.dot(y)) ** 2
        nx, ny = np.linalg.norm(x.T.dot(x)), np.linalg.norm(y.T.dot(y))
        out = {"similarity": float(dot / (nx * ny))}
    elif kind == "kornblith_rbf":
        def gram_rbf(a, threshold=1.0):
            dot = a.dot(a.T)
            sq = np.diag(dot)
            d2 = -2 * dot + sq[:, None] + sq[None, :]
            med = np.median(d2)
            return np.exp(-d2 / (2 * threshold ** 2 * med))

        def center(g):
            means = np.mean(g, 0, dtype=np.float64)
            means -= np.mean(means) / 2
            g = g - means[:, None]
            g -= means[None, :]
            return g

        x, y = np.load(fx).astype(np.float64), np.load(fy).astype(np.float64)
        gx = center(gram_rbf(x))
        gy = center(gram_rbf(y))
        hsic = gx.ravel().dot(gy.ravel())
        out = {"similarity": float(hsic / (np.linalg.norm(gx) * np.linalg.norm(gy)))}
    elif kind == "torch_cka":
        import torch
        torch.set_num_threads(ARGS.threads)
        x = torch.from_numpy(np.load(fx))
        y = torch.from_numpy(np.load(fy))
        x = x - x.mean(0, keepdim=True)
        y = y - y.mean(0, keepdim=True)
        dot = torch.linalg.norm(y.T @ x) ** 2
        out = {"similarity": float(dot / (torch.linalg.norm(x.T @ x) * torch.linalg.norm(y.T @ y)))}
    else:
        raise SystemExit("unknown worker %s" % kind)
    out["compute_s"] = time.perf_counter() - t0
    print(json.dumps(out))


if ARGS.worker:
    worker(*ARGS.worker)
    sys.exit(0)


# ------------------------------------------------------------------ launcher
# bench_common forks the launcher at import (before numpy), so ru_maxrss is
# each contender's own.

sys.path.insert(0, str(HERE))
from bench_common import launch, stop_launcher, syrk, write_inputs  # noqa: E402

import numpy as np  # noqa: E402



def uptime():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def simrep_cmd(fx, fy, measures, mixed):
    cmd = [ARGS.bin, "compare", fx, fy, "-m", measures, "--format", "json"]
    return cmd + (["--precision", "mixed"] if mixed else [])


def contenders(p, q, n):
    rbf_ok = 3 * n * n * 8 / 2 ** 20 <= ARGS.rbf_mib
    me = [sys.executable, str(Path(__file__).resolve()), "--threads", str(ARGS.threads), "--worker"]
    out = [
        ("simrep_f64", lambda fx, fy: simrep_cmd(fx, fy, "cca,svcca,pwcca,cka", False), "simrep"),
        ("simrep_mixed", lambda fx, fy: simrep_cmd(fx, fy, "cca,svcca,pwcca,cka", True), "simrep"),
        ("simrep_cka", lambda fx, fy: simrep_cmd(fx, fy, "cka", False), "simrep"),
        ("simrep_cka_mixed", lambda fx, fy: simrep_cmd(fx, fy, "cka", True), "simrep"),
        ("google", lambda fx, fy: me + ["google", fx, fy], "worker"),
        ("kornblith_cka", lambda fx, fy: me + ["kornblith_cka", fx, fy], "worker"),
        ("torch_cka", lambda fx, fy: me + ["torch_cka", fx, fy], "worker"),
    ]
    if rbf_ok:
        out += [("simrep_rbf", lambda fx, fy: simrep_cmd(fx, fy, "cka_rbf", False), "simrep"),
                ("kornblith_rbf", lambda fx, fy: me + ["kornblith_rbf", fx, fy], "worker")]
    skip = set(s for s in ARGS.skip.split(",") if s)
    return [c for c in out if c[0] not in skip]


def similarity_of(name, kind, stdout):
    d = json.loads(stdout)
    if kind == "worker":
        return d
    ms = d["measures"]
    out = {}
    for m in ms:
        out[m] = ms[m]["similarity"]
    out["warnings"] = d.get("warnings", [])
    return out


def run_one(name, cmd, kind):
    best = None
    for rep in range(ARGS.repeats):
        r = launch(cmd)
        if r["code"] != 0:
            return {"error": "exit %d: %s" % (r["code"], r["stderr"][-500:]), "command": " ".join(map(str, cmd))}
        if best is None or r["wall"] < best["wall"]:
            best = r
        if r["wall"] > 20:
            break
    return {"wall_s": best["wall"], "cpu_s": best["cpu"], "peak_rss_mib": best["maxrss_kib"] / 1024.0,
            "values": similarity_of(name, kind, best["stdout"]), "command": " ".join(map(str, cmd)),
            "runs": rep + 1}


def floor_of(fx, fy):
    x = np.load(fx, mmap_mode="r")
    y = np.load(fy, mmap_mode="r")
    z = np.empty((x.shape[0], x.shape[1] + y.shape[1]), order="F")
    z[:, :x.shape[1]] = x
    z[:, x.shape[1]:] = y
    best = None
    for _ in range(ARGS.repeats):
        t0 = time.perf_counter()
        syrk(z)
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    del z
    return best


def main():
    sizes = QUICK if ARGS.quick else SIZES + SCALE_N + SCALE_P
    if ARGS.only_sizes:
        want = set(tuple(int(v) for v in s.split("x")) for s in ARGS.only_sizes.split(","))
        sizes = [s for s in sizes if (s[0], s[2]) in want]
    seen, rows = set(), []
    t_start = time.strftime("%Y-%m-%d %H:%M:%S")
    print("bench_peers: threads %d, %s; load %s" % (ARGS.threads, ARGS.bin, uptime()), flush=True)
    with tempfile.TemporaryDirectory(prefix="simrep_peers_", dir=ARGS.tmpdir) as tmp:
        d = Path(tmp)
        for p, q, n in sizes:
            if (p, q, n) in seen:
                continue
            seen.add((p, q, n))
            fx, fy = write_inputs(d, p, q, n)
            row = {"p": p, "q": q, "n": n, "load_before": uptime()}
            row["floor_s"] = floor_of(fx, fy)
            for name, make, kind in contenders(p, q, n):
                row[name] = run_one(name, make(fx, fy), kind)
                r = row[name]
                print("  %5d+%-5d x %7d  %-17s %s" % (
                    p, q, n, name, r.get("error") or "%.3f s  %.0f MiB" % (r["wall_s"], r["peak_rss_mib"])),
                    flush=True)
            row["load_after"] = uptime()
            ref = dict(row.get("simrep_f64", {}).get("values", {}))
            ref.update(row.get("simrep_rbf", {}).get("values", {}))
            for name in list(row):
                v = row[name].get("values") if isinstance(row[name], dict) else None
                if not v or name == "simrep_f64":
                    continue
                # the same quantity simrep computed: a worker's "similarity" is
                # google's mean rho (cca), a CKA peer's cka, the RBF peer's cka_rbf
                same = "cka_rbf" if "rbf" in name else "cka" if "cka" in name else "cca"
                diffs = {}
                for key, refkey in (("cca", "cca"), ("pwcca", "pwcca"), ("cka", "cka"), ("svcca", "svcca"),
                                    ("similarity", same)):
                    if key in v and refkey in ref and isinstance(v[key], float):
                        diffs[key] = abs(v[key] - ref[refkey])
                row[name]["abs_diff_vs_simrep"] = diffs
            rows.append(row)
            for f in (fx, fy):
                os.unlink(f)
    result = {"command": " ".join([sys.executable] + sys.argv), "threads": ARGS.threads,
              "env": {k: os.environ.get(k) for k in ("OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
              "cpus": os.cpu_count(), "numpy": np.__version__, "started": t_start,
              "finished": time.strftime("%Y-%m-%d %H:%M:%S"), "rows": rows}
    with open(ARGS.out, "w") as f:
        json.dump(result, f, indent=1)
    stop_launcher()
    print("written %s" % ARGS.out)


if __name__ == "__main__":
    main()
