#!/usr/bin/python3
"""cka_rbf at large n (issue 15, item 3): simrep with and without its
distance tiles kept between passes, against the CKA notebook's in-memory
numpy n x n computation where that fits, in one run.

    /usr/bin/python3 bench/bench_rbf.py [--sizes 8000,20000,50000] [--p 256] [--threads 2]
                                        [--numpy-mib 4096] [--all-mib 4096] [--repeats 1] [--bin PATH]

Inputs: bench_common.write_inputs' correlated float32 activations, n x p
and n x p.  Contenders, each its own process (wall, CPU = user + system,
peak RSS), all with OPENBLAS_NUM_THREADS = --threads:
  simrep_recompute  simrep compare X Y -m cka_rbf --rbf-memory 0 (every pass
                    recomputes every tile's dgemm)
  simrep_default    the same with the default --rbf-memory (1024 MiB)
  simrep_all        --rbf-memory large enough for every tile (2 x the upper
                    triangle's tiles), where that is at most --all-mib and
                    more than the default
  numpy             bench_peers.py's transcription of the notebook's gram_rbf
                    + center + cka (n x n float64 Grams), where 3 n^2 doubles
                    fit in --numpy-mib
Every value is checked against simrep_recompute (bit for bit for simrep;
the difference for numpy).  Results and the load before and after each size
go to bench/results_rbf.json.
"""

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="8000,20000,50000")
    ap.add_argument("--p", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--numpy-mib", type=float, default=4096, help="largest 3 n^2 doubles for numpy (MiB)")
    ap.add_argument("--all-mib", type=float, default=4096, help="largest --rbf-memory for simrep_all (MiB)")
    ap.add_argument("--skip", default="", help="comma-separated contenders to leave out")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--bin", default=str(REPO / "build" / "simrep"))
    ap.add_argument("--out", default=str(HERE / "results_rbf.json"))
    ap.add_argument("--tmpdir", default=None)
    return ap.parse_args()


A = parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(A.threads)
os.environ["OMP_NUM_THREADS"] = str(A.threads)
sys.path.insert(0, str(HERE))
import bench_common  # noqa: E402  (forks the launcher before numpy is imported)

import json  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

TILE = 256


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def all_tiles_mib(n):
    rows = (n + TILE - 1) // TILE
    return 2 * rows * (rows + 1) // 2 * TILE * TILE * 8 / 2 ** 20


def run(cmd, kind):
    best = None
    for _ in range(A.repeats):
        r = bench_common.launch(cmd)
        if r["code"] != 0:
            return {"error": "exit %d: %s" % (r["code"], r["stderr"][-500:]), "command": " ".join(map(str, cmd))}
        if best is None or r["wall"] < best["wall"]:
            best = r
    out = json.loads(best["stdout"])
    value = out["measures"]["cka_rbf"]["similarity"] if kind == "simrep" else out["similarity"]
    return {"wall_s": best["wall"], "cpu_s": best["cpu"], "peak_rss_mib": best["maxrss_kib"] / 1024.0,
            "value": value, "command": " ".join(map(str, cmd))}


def main():
    skip = set(s for s in A.skip.split(",") if s)
    results = {"command": " ".join(["/usr/bin/python3", "bench/bench_rbf.py"] + sys.argv[1:]),
               "threads": A.threads, "p": A.p, "machine": platform.platform(), "cpus": os.cpu_count(),
               "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "sizes": []}
    with tempfile.TemporaryDirectory(dir=A.tmpdir) as tmp:
        d = Path(tmp)
        for n in [int(s) for s in A.sizes.split(",")]:
            fx, fy = bench_common.write_inputs(d, A.p, A.p, n)
            base = [A.bin, "compare", str(fx), str(fy), "-m", "cka_rbf", "--format", "json"]
            need = all_tiles_mib(n)
            cont = [("simrep_recompute", base + ["--rbf-memory", "0"], "simrep"),
                    ("simrep_default", base, "simrep")]
            if 1024 < need <= A.all_mib:
                cont.append(("simrep_all", base + ["--rbf-memory", "%.0f" % (need + 1)], "simrep"))
            if 3 * n * n * 8 / 2 ** 20 <= A.numpy_mib:
                cont.append(("numpy", [sys.executable, str(HERE / "bench_peers.py"), "--threads", str(A.threads),
                                       "--worker", "kornblith_rbf", str(fx), str(fy)], "worker"))
            row = {"n": n, "p": A.p, "tiles_mib": need, "load_before": load()}
            for name, cmd, kind in cont:
                if name in skip:
                    continue
                row[name] = run(cmd, kind)
                print("n=%d %s: %s" % (n, name, {k: v for k, v in row[name].items() if k != "command"}),
                      flush=True)
            row["load_after"] = load()
            ref = row.get("simrep_recompute", {}).get("value")
            for name in ("simrep_default", "simrep_all", "numpy"):
                r = row.get(name)
                if r and "value" in r and ref is not None:
                    r["diff_vs_recompute"] = r["value"] - ref
                    if name != "numpy" and r["value"] != ref:
                        sys.exit("n=%d: %s differs from the recomputation: %r vs %r" % (n, name, r["value"], ref))
                    if "wall_s" in row.get("simrep_recompute", {}):
                        r["wall_vs_recompute"] = r["wall_s"] / row["simrep_recompute"]["wall_s"]
                        r["cpu_vs_recompute"] = r["cpu_s"] / row["simrep_recompute"]["cpu_s"]
            if "numpy" in row and "wall_s" in row["numpy"]:
                for name in ("simrep_recompute", "simrep_default", "simrep_all"):
                    if name in row and "wall_s" in row[name]:
                        row[name]["wall_vs_numpy"] = row[name]["wall_s"] / row["numpy"]["wall_s"]
                        row[name]["cpu_vs_numpy"] = row[name]["cpu_s"] / row["numpy"]["cpu_s"]
            results["sizes"].append(row)
            Path(A.out).write_text(json.dumps(results, indent=1) + "\n")
            os.unlink(fx)
            os.unlink(fy)
    bench_common.stop_launcher()
    for row in results["sizes"]:
        print("n = %d (load %s -> %s):" % (row["n"], row["load_before"], row["load_after"]))
        for name in ("simrep_recompute", "simrep_default", "simrep_all", "numpy"):
            r = row.get(name)
            if r and "wall_s" in r:
                print("  %-17s %8.1f s wall %8.1f s CPU %7.0f MiB%s%s" % (
                    name, r["wall_s"], r["cpu_s"], r["peak_rss_mib"],
                    "  %.2fx recompute (CPU %.2fx)" % (r["wall_vs_recompute"], r["cpu_vs_recompute"])
                    if "wall_vs_recompute" in r else "",
                    "  %.2fx numpy (CPU %.2fx)" % (r["wall_vs_numpy"], r["cpu_vs_numpy"]) if "wall_vs_numpy" in r
                    else ""))


if __name__ == "__main__":
    main()
