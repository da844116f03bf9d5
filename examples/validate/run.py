"""The offline benchmark of the measures (issue 14): `make validate`.

    /usr/bin/python3 examples/validate/run.py                       # what make validate runs
    /usr/bin/python3 examples/validate/run.py --config ci --work /tmp/v --out /tmp/v/report

Four tests from the literature, on networks trained here (MLPs and a small
CNN on Fashion-MNIST at 14 x 14; scikit-learn's digits for the ci config),
each asked of every measure in the library's registry (`simrep measures`,
the conv-maps one aside) through `simrep validate`:

  depth     Ding et al. 2021, layer depth vs seed: the layers of several
            seeds of one architecture; score = a linear probe's accuracy on
            each layer; each layer's best-probing seed is a reference
            compared with every row (--across-layers).  Also: how much closer
            the same layer of another seed is than the other layers
            (specificity to seeds).
  pca       Ding et al., principal-component deletion: a layer with its k
            lowest-variance principal components projected out, for a grid of
            k and every seed; score = the probe's accuracy on what is left;
            reference = the best seed with nothing deleted, per layer.
  labels    ReSi (Klabunde et al. 2024), label randomization: networks
            trained with 0/25/50/75/100% of their training labels random;
            score = the fraction of true labels; reference = a 0% network,
            per layer.
  monotone  ReSi, layer monotonicity: within one network, each layer against
            the others; score = depth, so |score difference| = layer
            distance; plus the violation rate (ordered triples where a
            nearer layer is further away).

Measures of the moments run at all held-out samples, measures of the rows
at the first rows_n (their cost is O(n^2) per pair): two validate runs per
test, one table.  Uncertainty: --bootstrap and --permutations over the rows
of each validate (the networks), and bootstrap over networks for the
violation rates.  Every number in the report is computed here from this
run; the verdicts are conditions on those numbers (report.py).

Design: stages with files between them, as examples/findings does
(training reuses its common.train_one in a pool of 2 single-thread
processes, skipping networks already trained with the same spec);
WORK/acts holds the 2-D float16 activations, WORK/manifests the
manifests, WORK/runs the validate outputs; report.py turns
WORK/results.json into OUT/report.md (+ figures, the HTML pages).
"""

import argparse
import csv
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "examples", "findings"))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402


def _own_module(name):
    """examples/validate/NAME.py by its path: examples/findings has modules of
    the same names (report.py), and importing its train.py puts that directory
    first on sys.path."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("validate_" + name, os.path.join(HERE, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CONFIGS = {
    "full": {"dataset": "fashion", "n_train": 6000, "n_eval": 2500, "rows_n": 800,
             "depth_seeds": 5, "depth": 4, "width": 64, "epochs": 6, "cnn_seeds": 3, "cnn_width": 12, "cnn_epochs": 3,
             "pca_layers": ["relu2", "relu4"], "pca_k": [0, 8, 16, 24, 32, 40, 48, 56, 60, 62],
             "noise_fractions": [0.0, 0.25, 0.5, 0.75, 1.0], "noise_seeds": 3, "noise_n_train": 2000,
             "noise_width": 128, "noise_epochs": 150, "bootstrap": 1000, "permutations": 1000},
    "ci": {"dataset": "digits", "n_train": 900, "n_eval": 800, "rows_n": 200,
           "depth_seeds": 3, "depth": 3, "width": 32, "epochs": 8, "cnn_seeds": 0, "cnn_width": 8, "cnn_epochs": 2,
           "pca_layers": ["relu2"], "pca_k": [0, 8, 16, 24, 28, 31],
           "noise_fractions": [0.0, 0.5, 1.0], "noise_seeds": 2, "noise_n_train": 600,
           "noise_width": 64, "noise_epochs": 60, "bootstrap": 200, "permutations": 200},
}

SIMREP = os.environ.get("SIMREP_BIN", os.path.join(REPO, "build", "simrep"))


def spec(c, kind, seed, labels="true", width=None, depth=None, epochs=None, n_train=None):
    s = {"dataset": c["dataset"], "n_train": n_train or c["n_train"], "n_eval": c["n_eval"], "kind": kind,
         "width": width or c["width"], "depth": depth or c["depth"], "labels": labels, "seed": seed,
         "optimizer": "adam", "lr": 1e-3, "batch": 100, "target_acc": None if labels == "true" else 0.99,
         "max_epochs": epochs or c["epochs"]}
    s["name"] = "v-%s-%s%d-d%d-%s-n%d-e%d-s%d" % (c["dataset"], kind, s["width"], s["depth"], labels, s["n_train"],
                                                 s["max_epochs"], seed)
    return s


def plan(c):
    depth = [spec(c, "mlp", s) for s in range(c["depth_seeds"])]
    cnn = [spec(c, "cnn", s, width=c["cnn_width"], epochs=c["cnn_epochs"]) for s in range(c["cnn_seeds"])]
    noise = {f: [spec(c, "mlp", s, labels="true" if f == 0 else "random%g" % f, width=c["noise_width"], depth=3,
                      epochs=c["noise_epochs"], n_train=c["noise_n_train"]) for s in range(c["noise_seeds"])]
             for f in c["noise_fractions"]}
    return depth, cnn, noise


# ------------------------------------------------------------------ probes

def probe_accuracy(a, labels):
    """A linear probe: ridge least squares on one-hot labels (lambda = 1e-3
    x the mean feature variance, features standardized) fit on the first
    half of the held-out samples, accuracy on the second half.  A closed
    form, so hundreds of probes cost seconds; Ding et al. use logistic
    regression, whose accuracy ranks representations alike for this
    purpose."""
    a = np.asarray(a, np.float64)
    h = len(a) // 2
    mu, sd = a[:h].mean(0), a[:h].std(0)
    sd[sd < 1e-8] = 1.0
    z = (a - mu) / sd
    z = np.hstack([z, np.ones((len(z), 1))])
    y = np.eye(10)[labels]
    g = z[:h].T @ z[:h]
    g += 1e-3 * np.trace(g) / len(g) * np.eye(len(g))
    w = np.linalg.solve(g, z[:h].T @ y[:h])
    return float(np.mean((z[h:] @ w).argmax(1) == labels[h:]))


def delete_low_pcs(a, k):
    """a with its k lowest-variance principal directions projected out
    (the mean kept), as Ding et al.'s deletion test."""
    if k == 0:
        return a
    a = np.asarray(a, np.float64)
    mu = a.mean(0)
    _, _, vt = np.linalg.svd(a - mu, full_matrices=False)
    low = vt[len(vt) - k:]
    return a - (a - mu) @ low.T @ low


# ---------------------------------------------------------------- activations

def layers_2d(work, s):
    """{layer: n x p float32} of a trained network; conv maps (N, C, H, W)
    average-pooled to 2 x 2 (4C features, adaptive_avg_pool2d's windows),
    so every layer is a 2-D input of the same n."""
    out = {}
    with np.load(os.path.join(work, "nets", s["name"] + ".npz")) as z:
        for k in z.files:
            a = z[k].astype(np.float32)
            if a.ndim == 4:
                n, ch, hh, ww = a.shape  # adaptive 2 x 2 average pooling (odd sizes: torch's windows)
                hs = [(0, (hh + 1) // 2), (hh // 2, hh)]
                ws = [(0, (ww + 1) // 2), (ww // 2, ww)]
                a = np.stack([a[:, :, h0:h1, w0:w1].mean(axis=(2, 3)) for h0, h1 in hs for w0, w1 in ws],
                             axis=2).reshape(n, -1)
            out[k] = a
    return out


def save(path, arrays):
    import common
    common.save_npz(path, arrays)


def write_manifest(path, rows, cols):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)


def measure_sets():
    """(moments ids, rows ids) from the library's registry, conv-maps aside."""
    doc = json.loads(subprocess.run([SIMREP, "measures", "--format", "json"], capture_output=True, text=True,
                                    check=True).stdout)
    items = doc["measures"] if isinstance(doc, dict) else doc
    mom, rows = [], []
    for m in items:
        fam = m.get("family")
        if fam == "maps":
            continue
        (rows if fam == "rows" else mom).append(m["id"])
    return mom, rows


def validate(manifest, measures, out, c, *extra):
    cmd = ["nice", "-n", "5", SIMREP, "validate", "--manifest", manifest, "--score", "score", "-m", ",".join(measures),
           "--bootstrap", str(c["bootstrap"]), "--permutations", str(c["permutations"]), "--seed", "0",
           "--format", "json", "-o", out, "--no-png", "--threads", "2"] + list(extra)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("validate failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
    return json.loads(p.stdout)


def run_tests(c, work, log):
    import common
    work = os.path.abspath(work)  # manifests name their paths relative to their own directory
    depth, cnn, noise = plan(c)
    acts, mans, runs = (os.path.join(work, d) for d in ("acts", "manifests", "runs"))
    for d in (acts, mans, runs):
        os.makedirs(d, exist_ok=True)
    _, _, _, yev = common.load_data(c["dataset"], c["n_train"], c["n_eval"])
    yev = np.asarray(yev)
    rn = c["rows_n"]
    mom, rowsm = measure_sets()
    results = {"config": c, "measures": {"moments": mom, "rows": rowsm}, "tests": {}}

    def both(name, rows, extra=(), cols=("name", "path", "layer", "score")):
        """Two validate runs (moments measures at n, rows measures at rows_n)."""
        full = os.path.join(mans, name + ".csv")
        small = os.path.join(mans, name + "_rows.csv")
        write_manifest(full, [{k: r[k] for k in cols} for r in rows], list(cols))
        write_manifest(small, [{**{k: r[k] for k in cols}, "path": r["path"] + "_rows"} for r in rows], list(cols))
        t0 = time.time()
        a = validate(full, mom, os.path.join(runs, name), c, *extra)
        b = validate(small, rowsm, os.path.join(runs, name + "_rows"), c, *extra) if rowsm else None
        log("  %-28s %3d rows  %5.1fs" % (name, len(rows), time.time() - t0))
        return {"moments": a, "rows": b, "rows_n": rn}

    # depth (and the same activations for monotonicity)
    for arch, nets in (("mlp", depth), ("cnn", cnn)):
        if not nets:
            continue
        rows, probe = [], {}
        for s in nets:
            L = layers_2d(work, s)
            path = os.path.join(acts, s["name"] + ".npz")
            save(path, {**{k: v for k, v in L.items()}, **{k + "_rows": v[:rn] for k, v in L.items()}})
            for li, (k, v) in enumerate(L.items()):
                acc = probe_accuracy(v, yev)
                probe[(s["seed"], k)] = acc
                rows.append({"name": "s%d-%s" % (s["seed"], k), "path": path + ":" + k, "layer": k,
                             "score": "%.6f" % acc, "seed": s["seed"], "depth": li})
        results["tests"]["depth_" + arch] = both("depth_" + arch, rows, ["--across-layers"])
        results["tests"]["depth_" + arch]["rows_meta"] = [{k: r[k] for k in ("name", "layer", "seed", "depth")}
                                                          for r in rows]
        mono = []
        for s in nets:
            mr = [{**r, "score": str(r["depth"])} for r in rows if r["seed"] == s["seed"]]
            refs = ",".join(r["name"] for r in mr)
            mono.append(both("monotone_%s_s%d" % (arch, s["seed"]), mr, ["--across-layers", "--reference", refs]))
        results["tests"]["monotone_" + arch] = {"nets": mono}

    # principal-component deletion
    pca = {}
    for layer in c["pca_layers"]:
        rows = []
        for s in depth:
            v = layers_2d(work, s)[layer]
            arrays = {}
            for k in c["pca_k"]:
                if k >= v.shape[1]:
                    continue
                d = delete_low_pcs(v, k).astype(np.float32)
                arrays["k%d" % k] = d
                arrays["k%d_rows" % k] = d[:rn]
                rows.append({"name": "s%d-k%d" % (s["seed"], k), "layer": layer, "k": k, "seed": s["seed"],
                             "score": "%.6f" % probe_accuracy(d, yev)})
            path = os.path.join(acts, "pca-%s-%s.npz" % (s["name"], layer))
            save(path, arrays)
            for r in rows:
                if r["seed"] == s["seed"] and "path" not in r:
                    r["path"] = path + ":k%d" % r["k"]
        best = max((r for r in rows if r["k"] == 0), key=lambda r: float(r["score"]))
        pca[layer] = both("pca_" + layer, rows, ["--reference", best["name"]])
        pca[layer]["rows_meta"] = [{k: r[k] for k in ("name", "k", "seed", "score")} for r in rows]
    results["tests"]["pca"] = pca

    # label randomization
    rows, lay = [], None
    for f, nets in noise.items():
        for s in nets:
            L = layers_2d(work, s)
            lay = list(L)
            path = os.path.join(acts, s["name"] + ".npz")
            save(path, {**L, **{k + "_rows": v[:rn] for k, v in L.items()}})
            for k in L:
                rows.append({"name": "r%d-s%d-%s" % (round(100 * f), s["seed"], k), "path": path + ":" + k,
                             "layer": k, "score": "%g" % (1 - f), "fraction": f, "seed": s["seed"]})
    refs = ",".join("r0-s0-%s" % k for k in lay)
    results["tests"]["labels"] = both("labels", rows, ["--reference", refs])
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="full", choices=sorted(CONFIGS))
    ap.add_argument("--work", default=os.path.join(REPO, "build", "validate"))
    ap.add_argument("--out", default=os.path.join(HERE, "report"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-report", action="store_true")
    a = ap.parse_args()
    c = CONFIGS[a.config]
    load0, t0 = os.getloadavg(), time.time()
    depth, cnn, noise = plan(c)
    specs = depth + cnn + [s for nets in noise.values() for s in nets]
    print("validate: training %d networks (%s, %d processes) into %s/nets" % (len(specs), a.config, a.jobs, a.work),
          flush=True)
    import train  # examples/findings/train.py: the same pool (fork, one torch thread per worker)
    infos = train.train_specs(specs, a.work, a.jobs, lambda s: print(s, flush=True))
    t1 = time.time()
    print("validate: probes and simrep validate", flush=True)
    res = run_tests(c, a.work, lambda s: print(s, flush=True))
    t2 = time.time()
    res["networks"] = {k: {"train_acc": v["train_acc"], "eval_acc": v["eval_acc"], "epochs": v["epochs"]}
                       for k, v in infos.items()}
    res["timing"] = {"train_s": round(t1 - t0, 1), "validate_s": round(t2 - t1, 1),
                     "load_before": [round(x, 2) for x in load0], "load_after": [round(x, 2) for x in os.getloadavg()],
                     "config": a.config}
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    if not a.no_report:
        report = _own_module("report")
        report.write(a.work, a.out)
        print("validate: report in %s/report.md (%.0f s)" % (a.out, time.time() - t0), flush=True)


if __name__ == "__main__":
    main()
