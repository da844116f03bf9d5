"""Compare the trained networks with simrep and reduce the matrices to the
numbers each finding is about.

    /usr/bin/python3 examples/findings/compare.py --config full --work build/findings

Design.  Every comparison of many networks goes through one function,
matrix(rows, outdir): it writes outdir/manifest.csv (name, path, group and
optionally layer and step columns; paths relative to the manifest) and
runs `simrep matrix --manifest ... --format json -o outdir`, which leaves
the CSV matrices and SVG figures (clustered heatmap, MDS, within/between
bars, training lines) in outdir and returns the JSON (distance matrices,
group_summary, clustering, mds, training).  BACKEND = "pairwise" swaps in a
stand-in with the same return shape built from simrep.compare pair by pair
(no figures); it predates `simrep matrix` and stays as a cross-check.
Per-time-step curves of the LSTM use `simrep compare --sequence per-step`
(a matrix has one value per pair, not a curve).  Conv maps go in as
(N, C, H, W) with `--conv nchw`, every spatial position of every held-out
image being a sample (SVCCA's convention).

One manifest per (experiment, layer): simrep matrix's group summary pools
every pair of a group, so mixing layers in one manifest would mix layers
in the within/between means.  The width experiment uses one manifest per
(width, layer): only within-group pairs are needed, and the joint moments
of all widths at once would cost (sum of features)^2 per sample.

simrep's warnings (stderr; n below 10 x features, dead features) are
collected per run and summarized in the results.
"""

import argparse
import csv
import itertools
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

import experiments  # noqa: E402

SIMREP = os.environ.get("SIMREP_BIN", os.path.join(ROOT, "build", "simrep"))
MEASURES = ["pwcca", "cka"]
BACKEND = "matrix"
THREADS = 2
# Uncertainty of every group summary (issue 11): p-values of between vs
# within from relabelling the networks, intervals of the group means from
# resampling them.  Both work on the distance matrix: no extra pass.
STATS = ["--permutations", "999", "--bootstrap", "1000", "--seed", "0"]


def write_manifest(path, rows):
    cols = ["name", "path", "group"] + [c for c in ("layer", "step") if any(c in r for r in rows)]
    base = os.path.dirname(os.path.abspath(path))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            file, _, key = r["path"].rpartition(":")
            w.writerow([r["name"], os.path.relpath(file, base) + ":" + key] + [r.get(c, "") for c in cols[2:]])


def matrix(rows, outdir, measures=MEASURES, args=()):
    """Every pair of rows ({name, path 'file.npz:key', group[, layer, step]}) compared; the JSON of simrep matrix
    plus "stderr_warnings"."""
    os.makedirs(outdir, exist_ok=True)
    manifest = os.path.join(outdir, "manifest.csv")
    write_manifest(manifest, rows)
    if BACKEND == "pairwise":
        return _pairwise(rows, measures, args)
    cmd = [SIMREP, "matrix", "--manifest", manifest, "-m", ",".join(measures), "--format", "json",
           "--threads", str(THREADS), "-o", outdir] + STATS + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    res = json.loads(p.stdout)
    res["stderr_warnings"] = [ln for ln in p.stderr.splitlines() if ln.strip()] + list(res.get("warnings", []))
    return res


def _load(spec, args):
    file, _, key = spec.rpartition(":")
    a = np.load(file)[key]  # in its stored dtype, as matrix reads it: its rounding sets the CCA family's rank
    if a.ndim == 4 and "--conv" in args:          # NCHW, positions as samples, as simrep's --conv nchw does
        a = a.transpose(0, 2, 3, 1).reshape(-1, a.shape[1])
    return a.reshape(len(a), -1)


def _pairwise(rows, measures, args):
    """The stand-in for simrep matrix: simrep.compare on every pair (same JSON keys for what is used here)."""
    import warnings
    import simrep
    acts = [_load(r["path"], args) for r in rows]
    K = len(rows)
    res = {"n": len(acts[0]), "names": [r["name"] for r in rows], "groups": [r["group"] for r in rows],
           "measures": {m: {"distance": np.zeros((K, K)).tolist()} for m in measures}, "stderr_warnings": []}
    for i, j in itertools.combinations(range(K), 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = simrep.compare(acts[i], acts[j], measures=measures)
        res["stderr_warnings"] += [str(w.message) for w in caught]
        for m in measures:
            res["measures"][m]["distance"][i][j] = res["measures"][m]["distance"][j][i] = r[m]["distance"]
    res["group_summary"] = {m: group_summary(res["measures"][m]["distance"], res["groups"]) for m in measures}
    return res


def group_summary(dist, groups):
    """Mean distance within each group and between each two groups (what simrep matrix's group_summary holds)."""
    d = np.asarray(dist)
    names = list(dict.fromkeys(groups))
    g = np.array([names.index(x) for x in groups])
    out = {"within": {}, "between": {}}
    for a, b in itertools.combinations_with_replacement(range(len(names)), 2):
        ia, ib = np.where(g == a)[0], np.where(g == b)[0]
        vals = [d[i, j] for i in ia for j in ib if (a != b or i < j)]
        if vals:
            key = names[a] if a == b else names[a] + "|" + names[b]
            out["within" if a == b else "between"][key] = float(np.mean(vals))
    return out


def per_step(x, y, measures=MEASURES):
    """`simrep compare --sequence per-step`: {measure: per-step distances} for two (N, T, D) arrays."""
    cmd = [SIMREP, "compare", x, y, "--sequence", "per-step", "-m", ",".join(measures), "--format", "json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    r = json.loads(p.stdout)
    return {m: r["measures"][m]["per_step_distance"] for m in measures}, r.get("warnings", [])


def nearest_neighbour_agreement(dist, groups):
    """Fraction of inputs whose nearest other input is in their own group."""
    d = np.array(dist, dtype=float)
    np.fill_diagonal(d, np.inf)
    return float(np.mean([groups[i] == groups[int(np.argmin(d[i]))] for i in range(len(groups))]))


# ------------------------------------------------------------------ experiments

def _npz(work, spec, step=None):
    return os.path.join(work, "nets", spec["name"] + ("" if step is None else "@%d" % step) + ".npz")


def _summaries(res):
    out = {m: res["group_summary"][m] for m in res["group_summary"]}
    return out


def _warnings(all_warnings):
    few = [w for w in all_warnings if "less than 10 x" in w or "10 x" in w]
    dead = [w for w in all_warnings if "dead" in w]
    return {"total": len(all_warnings), "few_samples": len(few), "dead_features": len(dead),
            "few_samples_examples": few[:3], "dead_examples": dead[:3]}


def compare_group_layers(name, exp, infos, work, outdir, args_for=lambda layer: ()):
    """One matrix per layer over every network of the experiment (group column = the experiment's group)."""
    specs = [(g, s) for g, ss in exp["groups"].items() for s in ss]
    layers = infos[specs[0][1]["name"]]["layers"]
    per_layer, warns = {}, []
    for layer in layers:
        rows = [{"name": s["name"], "path": _npz(work, s) + ":" + layer, "group": g} for g, s in specs]
        res = matrix(rows, os.path.join(outdir, name, layer), args=args_for(layer))
        warns += res["stderr_warnings"]
        per_layer[layer] = {"n": res["n"], "summary": _summaries(res),
                            "kept": {i["name"]: [i["features"], i["kept"]] for i in res.get("inputs", [])},
                            "nn_agreement": {m: nearest_neighbour_agreement(res["measures"][m]["distance"],
                                                                            res["groups"]) for m in MEASURES}}
    return {"layers": layers, "per_layer": per_layer, "warnings": _warnings(warns)}


def compare_width(exp, infos, work, outdir):
    out, warns = {}, []
    for g, specs in exp["groups"].items():
        layers = infos[specs[0]["name"]]["layers"]
        out[g] = {}
        for layer in layers:
            rows = [{"name": s["name"], "path": _npz(work, s) + ":" + layer, "group": g} for s in specs]
            res = matrix(rows, os.path.join(outdir, "width", g, layer))
            warns += res["stderr_warnings"]
            out[g][layer] = {m: res["group_summary"][m]["within"][g] for m in MEASURES}
            out[g][layer].update({m + "_ci": res["group_summary"][m].get("within_ci", {}).get(g) for m in MEASURES})
            out[g][layer]["n"] = res["n"]
    return {"widths": out, "layers": layers, "warnings": _warnings(warns)}


def compare_dynamics(exp, infos, work, outdir):
    out, warns = {}, []
    for g, (spec,) in exp["groups"].items():
        info = infos[spec["name"]]
        steps = sorted(set(s for s in spec["checkpoints"] if s <= info["final_step"]) | {info["final_step"]})
        rows = [{"name": "%s@%d" % (layer, st), "path": _npz(work, spec, st) + ":" + layer, "group": "net",
                 "layer": layer, "step": st} for layer in info["layers"] for st in steps]
        res = matrix(rows, os.path.join(outdir, "dynamics", g))
        warns += res["stderr_warnings"]
        names = res["names"]
        curves = {}
        for layer in info["layers"]:
            fin = names.index("%s@%d" % (layer, steps[-1]))
            curves[layer] = {m: [res["measures"][m]["distance"][names.index("%s@%d" % (layer, st))][fin]
                                 for st in steps] for m in MEASURES}
        out[g] = {"steps": steps, "curves": curves, "n": res["n"], "epochs": info["epochs"]}
    return {"nets": out, "warnings": _warnings(warns)}


def compare_lstm(exp, infos, work, outdir):
    specs = exp["groups"]["lstm"]
    curves, warns = {m: [] for m in MEASURES}, []
    tmp = os.path.join(outdir, "lstm")
    os.makedirs(tmp, exist_ok=True)
    for a, b in itertools.combinations(specs, 2):
        c, w = per_step(_npz(work, a) + ":lstm", _npz(work, b) + ":lstm")
        warns += w
        for m in MEASURES:
            curves[m].append(c[m])
    # Morcos et al. section 4's view: within one network, the hidden state at step t against the last step
    # (simrep.compare on the (N, D) slices; float16 strided views are read in place)
    import warnings
    import simrep
    to_last = {m: [] for m in MEASURES}
    for s in specs:
        with np.load(_npz(work, s)) as z:
            seq = z["lstm"]
        rows = {m: [] for m in MEASURES}
        for t in range(seq.shape[1]):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                r = simrep.compare(seq[:, t], seq[:, -1], measures=MEASURES)
            warns += [str(w.message) for w in caught]
            for m in MEASURES:
                rows[m].append(r[m]["distance"])
        for m in MEASURES:
            to_last[m].append(rows[m])
    mean = {m: np.mean(curves[m], axis=0).tolist() for m in MEASURES}
    std = {m: np.std(curves[m], axis=0, ddof=1).tolist() for m in MEASURES}
    pairs = len(curves[MEASURES[0]])
    # the last step against the classifier output, as a matrix (seed-to-seed distance of the final state)
    last = compare_group_layers("lstm", exp, infos, work, outdir,
                                args_for=lambda layer: ("--sequence", "last") if layer == "lstm" else ())
    # the curves of every pair and every network too: report.py's bootstrap over the networks resamples them
    return {"per_step_mean": mean, "per_step_std": std, "pairs": pairs, "matrix": last,
            "to_last_mean": {m: np.mean(to_last[m], axis=0).tolist() for m in MEASURES},
            "to_last_std": {m: np.std(to_last[m], axis=0, ddof=1).tolist() for m in MEASURES},
            "nets": [s["name"] for s in specs],
            "per_step_pairs": {"pairs": [[i, j] for i, j in itertools.combinations(range(len(specs)), 2)],
                               **{m: [list(map(float, c)) for c in curves[m]] for m in MEASURES}},
            "to_last_nets": {m: [list(map(float, c)) for c in to_last[m]] for m in MEASURES},
            "warnings": _warnings(warns)}


def compare_all(config, work, outdir, log=print):
    exps = experiments.plan(config)
    infos = {}
    for f in os.listdir(os.path.join(work, "nets")):
        if f.endswith(".json"):
            with open(os.path.join(work, "nets", f)) as fh:
                i = json.load(fh)
            infos[i["spec"]["name"]] = i
    results = {"config": config, "measures": MEASURES, "backend": BACKEND,
               "nets": {n: {k: infos[n][k] for k in ("train_acc", "eval_acc", "epochs", "seconds")} for n in infos}}
    log("  memorization"); results["memorization"] = compare_group_layers("memorization", exps["memorization"],
                                                                         infos, work, outdir)
    log("  width"); results["width"] = compare_width(exps["width"], infos, work, outdir)
    if "learning_rate" in exps:
        log("  learning rate")
        results["learning_rate"] = compare_group_layers("learning_rate", exps["learning_rate"], infos, work, outdir)
        log("  dynamics"); results["dynamics"] = compare_dynamics(exps["dynamics"], infos, work, outdir)
        log("  cnn")
        results["cnn"] = compare_group_layers("cnn", exps["cnn"], infos, work, outdir,
                                              args_for=lambda l: ("--conv", "nchw") if l in ("relu1", "relu2") else ())
        log("  lstm"); results["lstm"] = compare_lstm(exps["lstm"], infos, work, outdir)
    results["groups"] = {e: {g: [s["name"] for s in ss] for g, ss in exps[e]["groups"].items()} for e in exps}
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="full", choices=sorted(experiments.CONFIGS))
    ap.add_argument("--work", default="build/findings")
    a = ap.parse_args()
    res = compare_all(a.config, a.work, os.path.join(a.work, "matrices"))
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
