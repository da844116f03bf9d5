"""The whole findings pipeline: train, compare, report (and the demo's data).

    /usr/bin/python3 examples/findings/run.py                  # what `make findings` runs
    /usr/bin/python3 examples/findings/run.py --config ci --work /tmp/f --no-report

Design.  Three stages with files between them, each also runnable alone:
train.py (networks -> WORK/nets/*.npz activations on held-out images),
compare.py (simrep matrix per experiment and layer -> WORK/results.json and
WORK/matrices/), report.py (results.json -> report.md + SVG).  This script
chains them, times each stage, records the machine's load average (the
development machine is shared; a loaded machine stretches the wall time)
and how many networks it trained and how many it found in WORK/nets
(stderr, and the report's method section),
and with --demo-data writes the bundle `make demo` reads: the
generalizing/memorizing networks of finding 1, the first demo_samples
held-out images (>= 10 x the widest layer, so simrep's sample-size
warning stays quiet), float16 .npz per network and one manifest per layer.
"""

import argparse
import csv
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402
import experiments  # noqa: E402
import report  # noqa: E402
import train  # noqa: E402


def write_demo_data(config, work, dest):
    """examples/data/: gen0..gen4 and mem0..mem4 .npz (keys = layers) and one manifest per layer."""
    import common    # torch: imported here, after the training pool has forked its workers
    c = experiments.CONFIGS[config]
    exps = experiments.plan(config)
    n = c.get("demo_samples", c["n_eval"])
    os.makedirs(dest, exist_ok=True)
    for f in os.listdir(dest):
        if f.endswith(".npz") or f.endswith(".csv"):
            os.remove(os.path.join(dest, f))
    rows, layers = [], None
    for group, short in (("generalizing", "gen"), ("memorizing", "mem")):
        for i, spec in enumerate(exps["memorization"]["groups"][group]):
            with np.load(os.path.join(work, "nets", spec["name"] + ".npz")) as z:
                layers = list(z.files)
                acts = {k: np.ascontiguousarray(z[k][:n], dtype=np.float16) for k in layers}
            common.save_npz(os.path.join(dest, "%s%d.npz" % (short, i)), acts)
            rows.append(("%s%d" % (short, i), group, spec["name"]))
    for layer in layers:
        with open(os.path.join(dest, "%s.csv" % layer), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["name", "path", "group", "network"])
            for name, group, net in rows:
                w.writerow([name, "%s.npz:%s" % (name, layer), group, net])
    return layers, n


def train_stage(config, work, jobs):
    """Train (or find in work/nets) every network of config; says on stderr
    how many were trained and how many reused, and returns (trained, reused)."""
    infos = train.train_all(config, work, jobs, log=lambda s: print(s, flush=True))
    trained, reused = train.count(infos)
    print("findings: %d networks trained, %d reused from %s/nets (same spec: not retrained)"
          % (trained, reused, work), file=sys.stderr, flush=True)
    return trained, reused


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="full", choices=sorted(experiments.CONFIGS))
    ap.add_argument("--work", default="build/findings")
    ap.add_argument("--out", default=os.path.join(HERE, "report"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--demo-data", default=None, help="also write the demo bundle into this directory")
    ap.add_argument("--no-report", action="store_true")
    a = ap.parse_args()
    load0, t0 = os.getloadavg(), time.time()
    print("findings: training (%s, %d processes) into %s/nets" % (a.config, a.jobs, a.work), flush=True)
    trained, reused = train_stage(a.config, a.work, a.jobs)
    t1 = time.time()
    print("findings: comparing with %s matrix" % compare.SIMREP, flush=True)
    res = compare.compare_all(a.config, a.work, os.path.join(a.work, "matrices"),
                              log=lambda s: print(s, flush=True))
    t2 = time.time()
    load1 = os.getloadavg()
    res["timing"] = ("Training %.0f s, comparisons %.0f s (wall clock) on %d cores; load average %.1f at the start "
                     "and %.1f at the end (the machine is shared)." % (t1 - t0, t2 - t1, os.cpu_count(), load0[0],
                                                                       load1[0]))
    res["networks"] = {"trained": trained, "reused": reused}
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    if not a.no_report:
        report.write(a.work, a.out)
        print("findings: report in %s/report.md" % a.out)
    if a.demo_data:
        layers, n = write_demo_data(a.config, a.work, a.demo_data)
        print("findings: demo data (%d networks x %s, n = %d) in %s" % (10, ", ".join(layers), n, a.demo_data))
    print("findings: %s" % res["timing"])


if __name__ == "__main__":
    main()
