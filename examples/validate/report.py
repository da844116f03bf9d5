"""WORK/results.json (run.py) -> OUT/report.md, its figures and pages.

Every number is read from the run's validate outputs; the verdicts on the
literature's claims are conditions on those numbers, written next to them
(a claim "reproduces" only when the condition holds beyond the bootstrap
intervals where it says so).  The figures are the ones `simrep validate -o`
drew (the library's renderer); each test's page is its index.html.
"""

import json
import os
import shutil

import numpy as np

CCA_FAMILY = ("cca", "cca_r2", "svcca", "pwcca")


def _tests(run):
    """{measure: {"rho", "tau", "bad", "rho_p", "perm_p", "ci": [lo, hi] or None, "n", "refs"}} of one
    test (moments and rows runs merged); rho etc. are means over the references."""
    out = {}
    for part in ("moments", "rows"):
        doc = run.get(part)
        if not doc:
            continue
        for m in doc["measures"]:
            t = [f["tests"][m] for f in doc["references"]]
            ci = None
            if len(t) == 1 and "rho_ci" in t[0]:
                ci = t[0]["rho_ci"]
            out[m] = {"rho": doc["summary"][m]["rho"], "tau": doc["summary"][m]["tau"],
                      "bad": doc["summary"][m]["bad_fraction"], "rho_p": doc["summary"][m]["rho_p"],
                      "perm_p": float(np.mean([q.get("rho_permutation_p", np.nan) for q in t])),
                      "ci": ci, "n": doc["n"], "refs": len(t), "rows": t[0]["rows"]}
    return out


def _merge_layers(runs):
    """Several runs of one test (pca per layer): means over them, intervals of the mean by combining the
    per-run bootstrap intervals is not defined, so per-run intervals are listed instead."""
    per = [_tests(r) for r in runs]
    out = {}
    for m in per[0]:
        vals = [p[m] for p in per if m in p]
        out[m] = {k: float(np.mean([v[k] for v in vals])) for k in ("rho", "tau", "bad", "rho_p", "perm_p")}
        out[m].update(n=vals[0]["n"], refs=sum(v["refs"] for v in vals), rows=vals[0]["rows"],
                      cis=[v["ci"] for v in vals])
        out[m]["ci"] = vals[0]["ci"] if len(vals) == 1 else None
    return out


def _fmt_ci(ci):
    return "[%.2f, %.2f]" % tuple(ci) if ci else ""


def _ranking_table(t, extra=None, extra_head=None):
    order = sorted(t, key=lambda m: (-t[m]["rho"], -t[m]["tau"], m))
    head = "| rank | measure | n | rho | 95% CI | p(rho>0) | perm p | tau | bad fraction |"
    sep = "|---:|---|---:|---:|---|---:|---:|---:|---:|"
    if extra_head:
        head += " %s |" % extra_head
        sep += "---:|"
    lines = [head, sep]
    for i, m in enumerate(order):
        v = t[m]
        ci = _fmt_ci(v.get("ci")) or "; ".join(_fmt_ci(c) for c in v.get("cis", []) if c)
        row = "| %d | %s | %d | %.3f | %s | %.2g | %.3g | %.3f | %.3f |" % (
            i + 1, m, v["n"], v["rho"], ci, v["rho_p"], v["perm_p"], v["tau"], v["bad"])
        if extra:
            row += " %s |" % extra(m)
        lines.append(row)
    return "\n".join(lines), order


def _specificity(run, meta):
    """Depth test: per measure, mean over references of (mean distance to the same layer of other seeds) /
    (mean distance to the other layers), and the fraction of references whose every other-seed same-layer
    row is closer than every other-layer row."""
    layer_of = {r["name"]: r["layer"] for r in meta}
    seed_of = {r["name"]: r["seed"] for r in meta}
    out = {}
    for part in ("moments", "rows"):
        doc = run.get(part)
        if not doc:
            continue
        for m in doc["measures"]:
            ratios, clean = [], []
            for f in doc["references"]:
                ref = f["reference"]
                same = [r["distance"][m] for r in f["rows"] if layer_of[r["name"]] == layer_of[ref]
                        and seed_of[r["name"]] != seed_of[ref]]
                other = [r["distance"][m] for r in f["rows"] if layer_of[r["name"]] != layer_of[ref]]
                if same and other:
                    ratios.append(np.mean(same) / max(np.mean(other), 1e-300))
                    clean.append(max(same) < min(other))
            out[m] = (float(np.mean(ratios)), float(np.mean(clean)))
    return out


def _violations(nets, rng):
    """Monotonicity: per measure, the violation rate over (reference i, rows j, k) with |i - j| < |i - k|
    where d(i, j) > d(i, k), per network; mean and a 95% bootstrap interval over networks."""
    out = {}
    for part in ("moments", "rows"):
        docs = [n[part] for n in nets if n.get(part)]
        if not docs:
            continue
        for m in docs[0]["measures"]:
            rates = []
            for doc in docs:
                bad = tot = 0
                for f in doc["references"]:
                    i = f["score"]
                    pts = [(abs(r["score"] - i), r["distance"][m]) for r in f["rows"]]
                    for a in pts:
                        for b in pts:
                            if a[0] < b[0]:
                                tot += 1
                                bad += a[1] > b[1]
                rates.append(bad / tot)
            rates = np.array(rates)
            boots = [rates[rng.integers(0, len(rates), len(rates))].mean() for _ in range(2000)]
            out[m] = (float(rates.mean()), [float(x) for x in np.quantile(boots, [0.025, 0.975])],
                      float(np.mean([doc["summary"][m]["rho"] for doc in docs])))
    return out


def _copy(src, dst):
    if os.path.exists(src):
        shutil.copyfile(src, dst)
        return True
    return False


def write(work, out):
    with open(os.path.join(work, "results.json")) as f:
        res = json.load(f)
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.endswith((".svg", ".png", ".html", ".md")):
            os.remove(os.path.join(out, name))
    c, tm = res["config"], res["timing"]
    T = res["tests"]
    runs_dir = os.path.join(work, "runs")
    L = []
    L.append("# Which measure tracks function: the offline benchmark (`make validate`)\n")
    L.append("Generated by `examples/validate/run.py --config %s` (`make validate`) from networks trained in the "
             "same run; every number below is computed in that run from the outputs of `simrep validate`, and the verdicts are "
             "conditions on those numbers. Training %.0f s, probes + validate %.0f s (wall, 2 cores, load "
             "average %s before, %s after)." % (tm["config"], tm["train_s"], tm["validate_s"],
                                                 tm["load_before"][0], tm["load_after"][0]))
    L.append("\nData: %s (%s training images, %d held-out images; measures of the rows (%s) on the first %d of "
             "them, their cost being O(n^2) per pair). Uncertainty: %d bootstrap resamples of the rows (networks) "
             "of each validate (95%% percentile intervals of rho, shown when a test has one reference) and %d "
             "permutations (perm p); rho, tau, bad fraction and p are means over a test's references.\n"
             % (c["dataset"], c["n_train"], c["n_eval"], ", ".join(res["measures"]["rows"]), c["rows_n"],
                c["bootstrap"], c["permutations"]))
    accs = res["networks"]
    L.append("Networks: %d trained (held-out accuracy %.2f to %.2f).\n"
             % (len(accs), min(v["eval_acc"] for v in accs.values()), max(v["eval_acc"] for v in accs.values())))
    ranks = {}
    verdicts = []

    def add_ranks(test, order, key):
        """Competition ranks (1, 1, 3): measures whose shown values are equal share a rank."""
        for i, m in enumerate(order):
            first = next(j for j, o in enumerate(order) if key(o) == key(m))
            ranks.setdefault(m, {})[test] = first + 1

    def rho_key(t):
        return lambda m: (round(t[m]["rho"], 3), round(t[m]["tau"], 3))

    def significance(t):
        sig = [m for m in t if t[m]["perm_p"] < 0.05]
        if not sig:
            return ("No measure's rho is significant here (every permutation p >= 0.05): the scores of the rows "
                    "differ too little, or too noisily, for this test to separate the measures; read the ranking "
                    "as weak.\n")
        return "%d of %d measures have a permutation p below 0.05.\n" % (len(sig), len(t))

    # depth
    for arch in ("mlp", "cnn"):
        key = "depth_" + arch
        if key not in T:
            continue
        t = _tests(T[key])
        spec = _specificity(T[key], T[key]["rows_meta"])
        table, order = _ranking_table(t, lambda m: "%.2f / %.0f%%" % (spec[m][0], 100 * spec[m][1]),
                                      "seed/layer distance ratio / same layer closest")
        add_ranks(key, order, rho_key(t))
        L.append("## Layer depth vs seed (Ding et al.'s first test), %s\n" % arch.upper())
        L.append("Rows: every layer of %d seeds; score: a linear probe's accuracy on the layer; each layer's best "
                 "seed is a reference compared with every row. Extra column: mean distance to the same layer of the "
                 "other seeds divided by the mean distance to the other layers (lower: more specific to function, "
                 "less to the seed), and how often every other seed's same layer is closer than every other layer.\n"
                 % len({r["seed"] for r in T[key]["rows_meta"]}))
        L.append(table + "\n")
        L.append(significance(t))
        if arch == "mlp":
            fig = "depth_mlp_ranking.svg"
            if _copy(os.path.join(runs_dir, key, "ranking.svg"), os.path.join(out, fig)):
                L.append("![ranking](%s)\n" % fig)
            cca_r = [spec[m][0] for m in CCA_FAMILY if m in spec]
            oth = {m: spec[m][0] for m in ("cka", "procrustes") if m in spec}
            ok = cca_r and all(min(cca_r) > v for v in oth.values())
            verdicts.append("**CCA family not specific (Ding et al.: CCA-type measures react to the seed, not only to "
                            "function).** Seed/layer distance ratio in the MLP depth test: %s against %s. %s" % (
                                ", ".join("%s %.2f" % (m, spec[m][0]) for m in CCA_FAMILY if m in spec),
                                ", ".join("%s %.2f" % kv for kv in oth.items()),
                                "Reproduces in the point estimates (means over %d references; no interval is computed "
                                "for this ratio): every CCA-family measure puts another seed's same layer relatively "
                                "further than CKA and Procrustes do." % len(T[key]["moments"]["references"]) if ok else
                                "Does not reproduce here: some CCA-family measure is as specific as CKA or "
                                "Procrustes by this ratio."))

    # pca
    if T.get("pca"):
        layers = sorted(T["pca"])
        t = _merge_layers([T["pca"][l] for l in layers])
        table, order = _ranking_table(t)
        add_ranks("pca", order, rho_key(t))
        L.append("## Principal-component deletion (Ding et al.)\n")
        L.append("Rows: layers %s of every seed with its k lowest-variance principal components projected out, k in "
                 "%s; score: the probe's accuracy on what is left; reference: the best seed with nothing deleted "
                 "(per layer; means over the layers, one interval per layer).\n" % (", ".join(layers), c["pca_k"]))
        L.append(table + "\n")
        L.append(significance(t))
        for l in layers:
            meta = T["pca"][l]["rows_meta"]
            ks = sorted({r["k"] for r in meta})
            accs_k = ["k=%d: %.3f" % (k, np.mean([float(r["score"]) for r in meta if r["k"] == k])) for k in ks]
            L.append("Probe accuracy at %s, mean over seeds: %s.\n" % (l, ", ".join(accs_k)))
        fig = "pca_ranking.svg"
        if _copy(os.path.join(runs_dir, "pca_" + layers[-1], "ranking.svg"), os.path.join(out, fig)):
            L.append("![ranking](%s)\n" % fig)
        for m in ("cka", "procrustes", "pwcca"):
            f = "pca_%s_%s_scatter.svg" % (layers[-1], m)
            if _copy(os.path.join(runs_dir, "pca_" + layers[-1], m + "_scatter.svg"), os.path.join(out, f)):
                L.append("![%s](%s)\n" % (m, f))
        if "cka" in t and "procrustes" in t:
            med = float(np.median([v["rho"] for v in t.values()]))
            ok = t["cka"]["rho"] < t["procrustes"]["rho"] and t["cka"]["rho"] < med
            # Beyond the noise: in every layer, CKA's whole interval below Procrustes' rho.
            per = [_tests(T["pca"][l]) for l in layers]
            strong = all(p["cka"]["ci"] and p["cka"]["ci"][1] < p["procrustes"]["rho"] for p in per)
            verdicts.append("**CKA insensitive to deleting low-variance principal components (Ding et al.).** "
                            "PC-deletion rho: cka %.3f, procrustes %.3f, median of all measures %.3f. %s" % (
                                t["cka"]["rho"], t["procrustes"]["rho"], med,
                                ("Reproduces: CKA's distance follows the probe's accuracy less than Procrustes' "
                                 "and than most measures, %s." % (
                                     "beyond the noise (CKA's 95% interval lies below Procrustes' rho in every "
                                     "layer)" if strong else "but only in the point estimates: CKA's 95% interval "
                                     "reaches Procrustes' rho in some layer, so this run cannot tell them apart"))
                                if ok else "Does not reproduce here: CKA ranks at or above Procrustes or the median."))

    # labels
    if "labels" in T:
        t = _tests(T["labels"])
        table, order = _ranking_table(t)
        add_ranks("labels", order, rho_key(t))
        L.append("## Label randomization (ReSi)\n")
        L.append("Rows: every layer of networks trained with %s of their training labels random (%d seeds each); "
                 "score: the fraction of true labels; reference: the first 0%% network, per layer (means over the "
                 "layers).\n" % ("/".join("%d%%" % round(100 * f) for f in c["noise_fractions"]), c["noise_seeds"]))
        L.append(table + "\n")
        L.append(significance(t))
        fig = "labels_ranking.svg"
        if _copy(os.path.join(runs_dir, "labels", "ranking.svg"), os.path.join(out, fig)):
            L.append("![ranking](%s)\n" % fig)

    # monotonicity
    rng = np.random.default_rng(0)
    for arch in ("mlp", "cnn"):
        key = "monotone_" + arch
        if key not in T:
            continue
        v = _violations(T[key]["nets"], rng)
        order = sorted(v, key=lambda m: (v[m][0], -v[m][2], m))
        add_ranks(key, order, lambda m: (round(v[m][0], 3), round(v[m][2], 3)))
        L.append("## Layer monotonicity (ReSi), %s\n" % arch.upper())
        L.append("Within each of %d networks, each layer against the others: a violation is a pair of layers where "
                 "the nearer one (in depth) is further away by the measure. Rate: mean over networks, 95%% bootstrap "
                 "interval over networks; rho: Spearman of distance against layer distance, mean over networks and "
                 "references.\n" % len(T[key]["nets"]))
        L.append("| rank | measure | violation rate | 95% CI | rho |\n|---:|---|---:|---|---:|")
        for m in order:
            L.append("| %d | %s | %.3f | [%.3f, %.3f] | %.3f |" % (ranks[m][key], m, v[m][0], v[m][1][0], v[m][1][1],
                                                                 v[m][2]))
        L.append("")

    # overall
    tests = sorted({t for r in ranks.values() for t in r})
    L.append("## Ranking over the tests\n")
    L.append("Rank of each measure in each test (1 = best: highest rho; lowest violation rate for monotonicity; "
             "measures whose shown values are equal share a rank) and the mean rank.\n")
    L.append("| measure | " + " | ".join(tests) + " | mean rank |\n|---|" + "---:|" * (len(tests) + 1))
    overall = sorted(ranks, key=lambda m: (np.mean(list(ranks[m].values())), m))
    for m in overall:
        L.append("| %s | %s | %.1f |" % (m, " | ".join(str(ranks[m].get(t, "")) for t in tests),
                                          np.mean(list(ranks[m].values()))))
    L.append("")
    L.append("## The literature's claims, checked\n")
    for v in verdicts:
        L.append("- " + v)
    L.append("\nCaveats: small networks on small images, a ridge probe instead of logistic regression, few seeds "
             "(the intervals say how much that matters); measures of the rows at fewer samples than those of the "
             "moments. Regenerate with `make validate` (about %d minutes here).\n"
             % max(1, round((tm["train_s"] + tm["validate_s"]) / 60)))
    pages = []
    # One page is kept with the report (the others hold a scatter of 125 labelled points per measure, about
    # 0.4-0.7 MB each); every test's page is in WORK/runs/<test>/index.html after a run.
    for key in ("pca_" + (sorted(T["pca"])[-1] if T.get("pca") else ""),):
        src = os.path.join(runs_dir, key, "index.html")
        if _copy(src, os.path.join(out, key + ".html")):
            pages.append("[%s](%s.html)" % (key, key))
    if pages:
        L.append("The page `simrep validate -o` wrote for the PC deletion test (figures for every measure): %s; "
                 "every test's page is in build/validate/runs/<test>/index.html after `make validate`.\n"
                 % ", ".join(pages))
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(L))
    with open(os.path.join(out, "ranking.json"), "w") as f:
        json.dump({"overall": overall, "ranks": ranks}, f, indent=1)
