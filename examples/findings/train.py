"""Train every network of a findings config in a process pool.

    /usr/bin/python3 examples/findings/train.py --config full --work build/findings --jobs 2

Design.  The plan (experiments.py) is flattened to its distinct specs,
most expensive first, and handed to a pool of --jobs worker processes
(fork), each running common.train_one with one torch thread and one
OpenBLAS thread; the parent never touches torch before the pool starts,
so the forked workers inherit no thread pools.  Results land in
WORK/nets/ (activations, per-network json); a rerun skips networks whose
json already holds the same spec, so an interrupted run resumes.
Rejected: one process training networks in sequence with more threads
(these networks are too small for torch's intra-op threads to pay off)
and threads in one process (the GIL serializes the Python training loop).
"""

import argparse
import concurrent.futures
import multiprocessing
import os
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

import experiments  # noqa: E402


def _worker(spec, work):
    import common
    return common.train_one(spec, work)


def train_all(config, work, jobs=2, log=print):
    """Train every network of config into work/nets; returns {name: info}
    (info["reused"] is True for a network found in work/nets, see count)."""
    return train_specs(experiments.all_specs(experiments.plan(config)), work, jobs, log)


def train_specs(specs, work, jobs=2, log=print):
    """Train the networks of specs (common.train_one's dicts, most expensive
    first) into work/nets in a pool of jobs processes; returns {name: info}.
    examples/validate trains its own specs with it."""
    infos, t0 = {}, time.time()
    ctx = multiprocessing.get_context("fork")
    with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futures = {pool.submit(_worker, s, work): s["name"] for s in specs}
        for f in concurrent.futures.as_completed(futures):
            info = f.result()
            infos[futures[f]] = info
            log("  [%3d/%d %5.0fs] %-44s train %.3f  held-out %.3f  %3d epochs  %5.1fs%s"
                % (len(infos), len(specs), time.time() - t0, futures[f], info["train_acc"], info["eval_acc"],
                   info["epochs"], info["seconds"], "  (reused)" if info.get("reused") else ""))
    return infos


def count(infos):
    """(trained, reused): how many networks of a train_specs result were
    trained in this run and how many were found in work/nets with the same
    spec (their activations are the cached run's)."""
    reused = sum(1 for i in infos.values() if i.get("reused"))
    return len(infos) - reused, reused


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="full", choices=sorted(experiments.CONFIGS))
    ap.add_argument("--work", default="build/findings")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    train_all(a.config, a.work, a.jobs)


if __name__ == "__main__":
    main()
