"""Write the findings report (Markdown + SVG) from compare.py's results.

    /usr/bin/python3 examples/findings/report.py --work build/findings --out examples/findings/report

Design.  results.json (compare.py) holds every number; this file only
formats: one section per finding with a table of the numbers, a verdict
computed from them (each finding is stated as the inequalities the papers
report, and the verdict says which hold, with the values), and figures:
curves drawn here (svgplot.py) and the matrix figures simrep matrix wrote
(clustered heatmap, MDS, group bars, training lines), copied from the work
directory under stable names.  Nothing in the text is typed by hand after
a run: rerunning `make findings` regenerates the numbers and the words
that depend on them.
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import svgplot  # noqa: E402

M = ["pwcca", "cka"]
MNAME = {"pwcca": "PWCCA", "cka": "linear CKA"}


def f3(v):
    return "%.3f" % v


def _copy(src, dst, copied):
    if os.path.exists(src):
        shutil.copyfile(src, dst)
        copied.append(os.path.basename(dst))
        return True
    return False


VERDICT = {True: "**holds**", False: "**does not hold**", None: "**within noise**"}

SUMMARY = []   # (finding, claim, verdict, numbers), filled by the sections, printed at the top


def _holds(ok):
    return VERDICT[ok]


def _claim(finding, claim, ok, numbers):
    """ok: True (holds), False (does not hold) or None (within noise: the
    difference the claim is about is inside the uncertainty)."""
    SUMMARY.append((finding, claim, ok, numbers))
    return _holds(ok)


# Uncertainty (issue 11).  A claim is about a difference (gen-gen below
# mem-mem, a gap larger in one layer than in the one below, distance
# falling with width), so the verdict rests on the 95% interval of that
# difference: bootstrap over the networks, the networks of each group
# resampled with replacement (pairs of a network with itself left out),
# and the same resampled networks used for every quantity they enter (both
# layers of a depth comparison: a paired bootstrap).  The claim holds when
# the interval excludes 0 in the claimed direction, does not hold when it
# excludes 0 in the opposite direction, and is within noise otherwise.
# The distance matrices are the CSVs simrep matrix wrote in the work
# directory (matrices/EXPERIMENT/LAYER/MEASURE_distance.csv).  Overlap of
# the two means' own intervals (simrep matrix --bootstrap, shown in the
# text) is not the test: it ignores the pairing and is too conservative.

BOOT = 2000   # bootstrap replicates of every difference
LEVEL = 95


def read_distance(path):
    """(names, distance matrix) of a simrep matrix MEASURE_distance.csv."""
    with open(path) as f:
        rows = [ln.rstrip("\n").split(",") for ln in f if ln.strip()]
    names = rows[0][1:]
    return names, np.array([[float(v) for v in r[1:]] for r in rows[1:]])


def resample(groups, seed=0, boot=BOOT):
    """(boot + 1, K) network indices: row 0 the networks as they are, then
    each group's networks resampled with replacement within the group."""
    groups = list(groups)
    rng = np.random.default_rng(seed)
    R = np.tile(np.arange(len(groups)), (boot + 1, 1))
    for g in dict.fromkeys(groups):
        pos = np.array([i for i, x in enumerate(groups) if x == g])
        R[1:, pos] = pos[rng.integers(0, len(pos), size=(boot, len(pos)))]
    return R


def group_means(D, groups, R):
    """{key: (boot + 1,) mean distance} for each resampling of R: "within" and
    "between" keys as in simrep matrix's group summary ("a" and "a|b"), plus
    "within" / "between" pooled over every within- / between-group pair (the
    permutation test's statistic is between minus within).  A resampled pair
    of a network with itself is left out; a mean with no pair is NaN."""
    D = np.asarray(D, dtype=float)
    names = list(dict.fromkeys(groups))
    gid = np.array([names.index(x) for x in groups])
    Dr = D[R[:, :, None], R[:, None, :]]
    valid = (R[:, :, None] != R[:, None, :]) & np.triu(np.ones((len(gid), len(gid)), bool), 1)[None]

    def mean(mask):
        w = valid & mask[None]
        n = w.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, (Dr * w).sum(axis=(1, 2)) / np.maximum(n, 1), np.nan)

    same = gid[:, None] == gid[None, :]
    out = {"within": mean(same), "between": mean(~same)}
    for a, ga in enumerate(names):
        out[ga] = mean((gid[:, None] == a) & (gid[None, :] == a))
        for b in range(a + 1, len(names)):
            m = ((gid[:, None] == a) & (gid[None, :] == b)) | ((gid[:, None] == b) & (gid[None, :] == a))
            out[ga + "|" + names[b]] = mean(m)
    return out


def permutation_p(D, groups, perms=999, seed=0):
    """(p_greater, p_less) of between minus within (pooled over pairs) under
    relabelling the networks (the groups' sizes kept): p_greater is what
    simrep matrix --permutations reports, p_less the opposite direction's
    (between nearer than within beyond chance)."""
    D = np.asarray(D, dtype=float)
    lab = np.array([list(dict.fromkeys(groups)).index(x) for x in groups])
    rng = np.random.default_rng(seed)
    L = np.vstack([lab] + [rng.permutation(lab) for _ in range(perms)])
    up = np.triu(np.ones((len(lab), len(lab)), bool), 1)[None]
    same = (L[:, :, None] == L[:, None, :]) & up
    diff = (~(L[:, :, None] == L[:, None, :])) & up
    stat = (D[None] * diff).sum(axis=(1, 2)) / diff.sum(axis=(1, 2)) - (D[None] * same).sum(axis=(1, 2)) / same.sum(axis=(1, 2))
    eps = 1e-12 * max(1.0, abs(stat[0]))
    return (float(np.sum(stat >= stat[0] - eps)) / (perms + 1), float(np.sum(stat <= stat[0] + eps)) / (perms + 1))


def difference(d):
    """(value, [lo, hi], verdict) of a difference d ((boot + 1,): row 0 the
    observed value) CLAIMED POSITIVE: True when its interval is above 0,
    False when below 0, None when it contains 0."""
    reps = d[1:][np.isfinite(d[1:])]
    lo, hi = np.percentile(reps, [(100 - LEVEL) / 2, (100 + LEVEL) / 2])
    return float(d[0]), [float(lo), float(hi)], (True if lo > 0 else False if hi < 0 else None)


def _dtext(v, c):
    return "%+.3f [%+.3f, %+.3f]" % (v, c[0], c[1])


def experiment_means(work, exp, layers, measure, seed=0):
    """{layer: group_means} of an experiment's per-layer matrices, every layer
    with the same resampled networks (paired across layers)."""
    out, R, names0 = {}, None, None
    for layer in layers:
        names, D = read_distance(os.path.join(work, "matrices", exp, layer, measure + "_distance.csv"))
        groups = _manifest_groups(os.path.join(work, "matrices", exp, layer, "manifest.csv"), names)
        if R is None:
            R, names0 = resample(groups, seed), names
        assert names == names0, (exp, layer)
        out[layer] = group_means(D, groups, R)
        out[layer]["p_less"] = permutation_p(D, groups)[1]
    return out


def _manifest_groups(path, names):
    import csv
    with open(path, newline="") as f:
        g = {r["name"]: r["group"] for r in csv.DictReader(f)}
    return [g[n] for n in names]


def width_slope(work, widths, layer, measure):
    """(boot + 1,) slope of within-group distance against log2(width), the
    networks of each width resampled independently (different networks)."""
    x = np.log2([int(w[1:]) for w in widths])
    ys = []
    for k, w in enumerate(widths):
        d = os.path.join(work, "matrices", "width", w, layer)
        names, D = read_distance(os.path.join(d, measure + "_distance.csv"))
        groups = _manifest_groups(os.path.join(d, "manifest.csv"), names)
        ys.append(group_means(D, groups, resample(groups, seed=k + 1))[w])
    Y = np.array(ys)
    xc = (x - x.mean())[:, None]
    return (xc * (Y - Y.mean(axis=0))).sum(axis=0) / (xc ** 2).sum()


def _ci(summary, part, key):
    """The interval of a group summary's mean (part "within"/"between"), or None."""
    v = summary.get(part + "_ci", {}).get(key)
    return v if v and None not in v else None


def _all(statuses):
    """A claim over several comparisons: holds if every one holds beyond
    the noise, does not hold if one fails beyond it, else within noise."""
    if any(s is False for s in statuses):
        return False
    return True if all(s is True for s in statuses) else None


def _p(summary, key):
    t = summary.get("tests", {}).get(key)
    return t["p"] if t and t.get("p") is not None else None


def _ci_text(c):
    return "[%.3f, %.3f]" % tuple(c) if c else "[-]"


def memorization(r, out, figs, work):
    mem = r["memorization"]
    layers = mem["layers"]
    s = ["## 1. Generalizing vs memorizing networks (Morcos et al. 2018, §3.1)", ""]
    g = r["groups"]["memorization"]
    accs = {k: [r["nets"][n]["train_acc"] for n in v] for k, v in g.items()}
    evs = {k: [r["nets"][n]["eval_acc"] for n in v] for k, v in g.items()}
    s.append("%d MLPs trained on the true labels (generalizing) and %d on one fixed random permutation of them "
             "(memorizing), identical otherwise. Training accuracy: generalizing %.3f-%.3f, memorizing %.3f-%.3f; "
             "held-out accuracy: generalizing %.3f-%.3f, memorizing %.3f-%.3f (chance 0.1). Distances are on "
             "n = %d held-out images."
             % (len(g["generalizing"]), len(g["memorizing"]), min(accs["generalizing"]), max(accs["generalizing"]),
                min(accs["memorizing"]), max(accs["memorizing"]), min(evs["generalizing"]), max(evs["generalizing"]),
                min(evs["memorizing"]), max(evs["memorizing"]), mem["per_layer"][layers[0]]["n"]))
    s.append("")
    s.append("| layer | " + " | ".join("%s %s" % (MNAME[m], c) for m in M for c in ("gen-gen", "mem-mem", "gen-mem")) + " |")
    s.append("|---|" + "---|" * 6)
    for l in layers:
        row = []
        for m in M:
            sm = mem["per_layer"][l]["summary"][m]
            row += [sm["within"]["generalizing"], sm["within"]["memorizing"], sm["between"]["generalizing|memorizing"]]
        s.append("| %s | %s |" % (l, " | ".join(f3(v) for v in row)))
    s.append("")
    for m in M:
        series = []
        for key, lab, dash, dx in (("generalizing", "gen-gen", False, -7), ("memorizing", "mem-mem", False, 0),
                                   ("generalizing|memorizing", "gen-mem", True, 7)):
            part = "between" if "|" in key else "within"
            cis = [_ci(mem["per_layer"][l]["summary"][m], part, key) for l in layers]
            series.append({"label": lab, "x": list(range(len(layers))), "dash": dash, "xoff": dx,
                           "y": [mem["per_layer"][l]["summary"][m][part][key] for l in layers],
                           "lo": [c and c[0] for c in cis], "hi": [c and c[1] for c in cis]})
        name = "memorization_%s.svg" % m
        svgplot.line_plot(os.path.join(out, name), series, "%s distance within and between groups" % MNAME[m],
                          "layer", "%s distance (mean, 95%% interval)" % MNAME[m], xcats=layers, ymin=0)
        figs.append(name)
        s.append("![%s distance by layer](%s)" % (MNAME[m], name))
    s.append("")
    s.append("Points: the mean distance over the pairs of networks of each kind; error bars: its 95% interval (simrep "
             "matrix --bootstrap 1000: the networks resampled), the intervals quoted in the summary. Whether two "
             "bars overlap is not the test: the verdicts rest on the interval of each difference, drawn below.")
    s.append("")
    gaps_fig = {}
    # verdicts: 95% intervals of the differences (paired bootstrap over the networks), permutation p-values
    for m in M:
        sms = [mem["per_layer"][l]["summary"][m] for l in layers]
        gg = [sm["within"]["generalizing"] for sm in sms]
        mm = [sm["within"]["memorizing"] for sm in sms]
        gm = [sm["between"]["generalizing|memorizing"] for sm in sms]
        cm = [_ci(sm, "within", "memorizing") for sm in sms]
        hidden = [i for i, l in enumerate(layers) if l != "logits"]
        bm = experiment_means(work, "memorization", layers, m)
        gap = [difference(bm[l]["memorizing"] - bm[l]["generalizing"]) for l in layers]
        gaps = ", ".join("%s %s" % (layers[i], _dtext(*gap[i][:2])) for i in range(len(layers)))
        ok = _all([g[2] for g in gap])
        gaps_fig[m] = (gap, ok)
        s.append("- %s: generalizing nets closer to each other than memorizing nets in every layer: %s "
                 "(mem-mem minus gen-gen with its 95%% interval: %s)."
                 % (MNAME[m], _claim(1, "%s: gen-gen < mem-mem in every layer" % MNAME[m], ok, gaps), gaps))
        steps = [difference((bm[layers[j]]["memorizing"] - bm[layers[j]]["generalizing"])
                            - (bm[layers[i]]["memorizing"] - bm[layers[i]]["generalizing"]))
                 for i, j in zip(hidden, hidden[1:])]
        inc = _all([st[2] for st in steps])
        gtxt = "gaps %s; steps %s" % (
            ", ".join("%s %+.3f" % (layers[i], gap[i][0]) for i in hidden),
            ", ".join("%s-%s %s" % (layers[j], layers[i], _dtext(*st[:2]))
                      for (i, j), st in zip(zip(hidden, hidden[1:]), steps)))
        s.append("  The gap grows with depth over the hidden layers (each step's increase with its paired "
                 "interval: the same networks in both layers): %s (%s)."
                 % (_claim(1, "%s: the gap grows with depth (hidden layers)" % MNAME[m], inc, gtxt), gtxt))
        ps = [_p(sm, "generalizing|memorizing") for sm in sms]
        seps = [difference(bm[l]["between"] - bm[l]["within"]) for l in layers]
        lv = [True if (p is not None and p < 0.05 and d[0] > 0) else
              (False if d[2] is False or bm[l]["p_less"] < 0.05 else None) for l, p, d in zip(layers, ps, seps)]
        ptxt = ", ".join("%s %s p = %s, %.3g" % (layers[i], _dtext(*seps[i][:2]), "-" if ps[i] is None else
                                                 "%.3g" % ps[i], bm[layers[i]]["p_less"]) for i in range(len(layers)))
        # Not a claim of the paper (it compares gen-gen with mem-mem), so not in the summary: the permutation
        # test of the group summary, whose smallest possible p is about 2 / C(g + h, g) for g + h networks.
        s.append("  Between-group pairs farther apart than within-group pairs in every layer (holds where the "
                 "permutation p < 0.05, does not hold where between minus within is below 0 beyond its 95%% "
                 "interval or the opposite direction's permutation p < 0.05): %s (between minus within, p, "
                 "opposite direction's p: %s)." % (_holds(_all(lv)), ptxt))
        # "about as far" = within 25%: holds when the interval of gen-mem / mem-mem - 1 (paired: both sides
        # contain the memorizing networks) lies inside +-25%, does not hold when it lies outside
        last = hidden[-1]
        relb = bm[layers[last]]["generalizing|memorizing"] / bm[layers[last]]["memorizing"] - 1
        rel = relb[0]
        _, rc, _ = difference(relb)
        about = difference(0.25 - np.abs(relb))[2]
        num = "%s gen-mem %.3f %s, mem-mem %.3f %s (%+.0f%% [%+.0f%%, %+.0f%%])" % (
            layers[last], gm[last], _ci_text(_ci(sms[last], "between", "generalizing|memorizing")), mm[last],
            _ci_text(cm[last]), 100 * rel, 100 * rc[0], 100 * rc[1])
        s.append("  In the last hidden layer, gen-mem (%.3f) is about as far as mem-mem (%.3f): %s (%+.0f%% "
                 "[%+.0f%%, %+.0f%%]; 'about' = within 25%%, holds when the interval is inside +-25%%, does not "
                 "hold when it is outside)." % (gm[last], mm[last], _claim(
                     1, "%s: gen-mem about as far as mem-mem in the last hidden layer" % MNAME[m], about, num),
                     100 * rel, 100 * rc[0], 100 * rc[1]))
    s.append("")
    word = {True: "holds", False: "does not hold", None: "within noise"}
    series = [{"label": "%s (claim %s)" % (MNAME[m], word[gaps_fig[m][1]]), "x": list(range(len(layers))),
               "y": [g[0] for g in gaps_fig[m][0]], "lo": [g[1][0] for g in gaps_fig[m][0]],
               "hi": [g[1][1] for g in gaps_fig[m][0]], "xoff": -4 + 8 * k} for k, m in enumerate(M)]
    svgplot.line_plot(os.path.join(out, "memorization_gap.svg"), series, "mem-mem minus gen-gen distance, by layer",
                      "layer", "difference of mean distances (95% interval)", xcats=layers, R=180,
                      hlines=[(0.0, "0: no difference")])
    figs.append("memorization_gap.svg")
    s.append("![gap by layer](memorization_gap.svg)")
    s.append("")
    s.append("The claim 'gen-gen < mem-mem in every layer' as a figure: the difference mem-mem minus gen-gen per layer, "
             "error bars its 95%% interval (bootstrap over the networks, %d replicates, each group's networks "
             "resampled: the interval the verdict uses). It holds in a layer whose bar lies above 0, does not hold "
             "where it lies below 0, and is within noise where it crosses 0. 'The gap grows with depth' compares "
             "neighbouring layers on the same resampled networks (paired): its intervals are the steps quoted above, "
             "not something to read off two bars." % BOOT)
    s.append("")
    s.append("The memorizing networks share one label permutation (the same targets on the training images). That may "
             "be why, by CKA, they are closer to each other than to the generalizing networks in every layer (a "
             "permutation per network was not tried).")
    s.append("")
    s.append("Heatmap of the last hidden layer (simrep matrix, PWCCA similarity, clustered):")
    s.append("")
    s.append("![heatmap](memorization_%s_pwcca_heatmap.svg)" % layers[-2])
    s.append("")
    return s


def width(r, out, figs, work):
    w = r["width"]
    widths = sorted(w["widths"], key=lambda k: int(k[1:]))
    layers = w["layers"]
    s = ["## 2. Width (Morcos et al. 2018, §3.2)", ""]
    ng = len(r["groups"]["width"][widths[0]])
    s.append("Groups of %d MLPs (true labels, trained to ~100%% training accuracy) at widths %s; mean distance "
             "between the networks of a group (%d pairs), on n = %d held-out images."
             % (ng, ", ".join(x[1:] for x in widths), ng * (ng - 1) // 2, w["widths"][widths[0]][layers[0]]["n"]))
    s.append("")
    s.append("| width | " + " | ".join("%s %s" % (MNAME[m], l) for m in M for l in layers) + " |")
    s.append("|---|" + "---|" * (len(layers) * len(M)))
    for g in widths:
        s.append("| %s | %s |" % (g[1:], " | ".join(f3(w["widths"][g][l][m]) for m in M for l in layers)))
    s.append("")
    n = w["widths"][widths[0]][layers[0]]["n"]
    s.append("The samples per feature go from %.0f (width %s) to %.1f (width %s), all above the 10 of simrep's "
             "warning." % (n / int(widths[0][1:]), widths[0][1:], n / int(widths[-1][1:]), widths[-1][1:]))
    s.append("")
    xs = [int(g[1:]) for g in widths]
    word = {True: "falls", False: "rises", None: "within noise"}
    # the trend over all widths: slope of the distance against log2(width), each width's networks resampled
    slopes_of = {m: {l: difference(-width_slope(work, widths, l, m)) for l in layers} for m in M}
    for m in M:
        series = []
        for k, l in enumerate(layers):
            cis = [w["widths"][g][l].get(m + "_ci") for g in widths]
            cis = [c if c and None not in c else None for c in cis]
            v, c, ok = slopes_of[m][l]
            series.append({"label": "%s %+.3f [%+.3f, %+.3f] %s" % (l, -v, -c[1], -c[0], word[ok]), "x": xs,
                           "y": [w["widths"][g][l][m] for g in widths], "xoff": 5 * k - 7.5,
                           "lo": [c and c[0] for c in cis], "hi": [c and c[1] for c in cis]})
        name = "width_%s.svg" % m
        svgplot.line_plot(os.path.join(out, name), series, "%s distance within a group, by width (legend: slope per doubling, 95%% interval)" % MNAME[m],
                          "width (units per hidden layer)", "%s distance (mean, 95%% interval)" % MNAME[m], logx=True,
                          ymin=0, width=720, R=290)
        figs.append(name)
        s.append("![%s by width](%s)" % (MNAME[m], name))
    s.append("")
    s.append("Points: the mean distance between the networks of one width; error bars: its 95%% interval (simrep "
             "matrix --bootstrap 1000, the networks resampled), as in the summary. The verdict is on the trend: "
             "the legend gives each layer's least-squares slope per doubling of the width with its 95%% interval "
             "(bootstrap over the networks, %d replicates, each width's networks resampled) and the verdict it "
             "gives: falls (the claim holds) when the interval is below 0, rises (does not hold) when above 0, "
             "within noise when it contains 0." % BOOT)
    s.append("")
    for m in M:
        def val(g, l):
            return w["widths"][g][l][m]

        def ci(g, l):
            c = w["widths"][g][l].get(m + "_ci")
            return c if c and None not in c else None

        slopes = slopes_of[m]
        for l in layers:
            v, c, ok = slopes[l]
            _claim(2, "%s %s: within-group distance falls with width" % (MNAME[m], l), ok,
                   " -> ".join("%.3f %s" % (val(g, l), _ci_text(ci(g, l))) for g in widths)
                   + "; slope per doubling %+.3f [%+.3f, %+.3f]" % (-v, -c[1], -c[0]))
        word = {True: "falls", False: "**rises**", None: "within noise"}
        s.append("- %s: within-group distance against width (slope per doubling of the width, least squares over "
                 "the %d widths, with its 95%% interval; each width's networks resampled): %s; smallest vs largest "
                 "width: %s."
                 % (MNAME[m], len(widths),
                    ", ".join("%s %+.3f [%+.3f, %+.3f] %s" % (l, -slopes[l][0], -slopes[l][1][1], -slopes[l][1][0],
                                                             word[slopes[l][2]]) for l in layers),
                    ", ".join("%s %.3f -> %.3f" % (l, w["widths"][widths[0]][l][m], w["widths"][widths[-1]][l][m])
                              for l in layers)))
    s.append("")
    return s


def learning_rate(r, out, figs, work):
    lr = r["learning_rate"]
    layers = lr["layers"]
    groups = list(r["groups"]["learning_rate"])
    s = ["## 3. Learning rates (Morcos et al. 2018, §3.3)", ""]
    nets = r["groups"]["learning_rate"]
    s.append("%d groups of %d MLPs trained with SGD (momentum 0.9) for the same number of epochs at learning rates "
             "%s. Accuracy (train / held-out): %s."
             % (len(groups), len(nets[groups[0]]), ", ".join(g[2:] for g in groups),
                "; ".join("%s %.3f / %.3f" % (g, np.mean([r["nets"][n]["train_acc"] for n in nets[g]]),
                                              np.mean([r["nets"][n]["eval_acc"] for n in nets[g]])) for g in groups)))
    s.append("")
    s.append("| layer | measure | " + " | ".join("within %s" % g for g in groups) + " | between (mean) | nearest neighbour in own group |")
    s.append("|---|---|" + "---|" * (len(groups) + 2))
    for l in layers:
        for m in M:
            sm = lr["per_layer"][l]["summary"][m]
            s.append("| %s | %s | %s | %s | %.0f%% |" % (l, MNAME[m], " | ".join(f3(sm["within"][g]) for g in groups),
                                                       f3(np.mean(list(sm["between"].values()))),
                                                       100 * lr["per_layer"][l]["nn_agreement"][m]))
    s.append("")
    s.append("The groups also differ in how far training got in the fixed number of epochs (training accuracy "
             "above), so a clustering by learning rate here is also a clustering by training progress.")
    s.append("")
    show = layers[-2]
    s.append("Clustered heatmap and MDS of %s (simrep matrix, PWCCA):" % show)
    s.append("")
    s.append("![heatmap](learning_rate_%s_pwcca_heatmap.svg) ![MDS](learning_rate_%s_pwcca_mds.svg)" % (show, show))
    s.append("")
    sizes = [len(nets[g]) for g in groups]
    chance = float(sum(k * (k - 1) for k in sizes)) / (sum(sizes) * (sum(sizes) - 1))
    fig = []
    for m in M:
        strict = [l for l in layers if max(lr["per_layer"][l]["summary"][m]["within"].values())
                  < min(lr["per_layer"][l]["summary"][m]["between"].values())]
        # the verdict: between-group pairs farther than within-group pairs beyond chance (relabelling the
        # networks, all groups at once: p < 0.05) with nearest neighbours in their own group above chance;
        # does not hold where between minus within is below 0 beyond its 95% interval or beyond chance
        bm = experiment_means(work, "learning_rate", layers, m)
        ps = {l: _p(lr["per_layer"][l]["summary"][m], "all") for l in layers}
        nn = {l: lr["per_layer"][l]["nn_agreement"][m] for l in layers}
        sep = {l: difference(bm[l]["between"] - bm[l]["within"]) for l in layers}
        lv = {l: True if (ps[l] is not None and ps[l] < 0.05 and sep[l][0] > 0 and nn[l] > chance)
              else (False if sep[l][2] is False or bm[l]["p_less"] < 0.05 else None) for l in layers}
        fig.append({"label": "%s (claim %s)" % (MNAME[m], {True: "holds", False: "does not hold",
                                                           None: "within noise"}[_all(lv.values())]),
                    "x": list(range(len(layers))), "y": [sep[l][0] for l in layers],
                    "lo": [sep[l][1][0] for l in layers], "hi": [sep[l][1][1] for l in layers],
                    "notes": ["p %s" % ("-" if ps[l] is None else "%.3g" % ps[l]) for l in layers],
                    "xoff": -4 + 8 * len(fig)})
        s.append("- %s: between-group pairs farther apart than within-group pairs beyond chance (permutation "
                 "p < 0.05) and nearest neighbours in their own group above chance (%.0f%%) in: %s (between minus "
                 "within with its 95%% interval, p, nearest neighbour: %s). Every within-group mean below every "
                 "between-group mean (descriptive, not the verdict) in: %s."
                 % (MNAME[m], 100 * chance, ", ".join(l for l in layers if lv[l]) or "**no layer**",
                    ", ".join("%s %s p = %s nn %.0f%%" % (l, _dtext(*sep[l][:2]), "-" if ps[l] is None else
                                                          "%.3g" % ps[l], 100 * nn[l]) for l in layers),
                    ", ".join(strict) or "no layer"))
        _claim(3, "%s: the networks cluster by learning rate" % MNAME[m], _all(lv.values()),
               "clusters in %d of %d layers; between - within: %s; p: %s; nearest neighbour in own group: %s" % (
                   sum(1 for l in layers if lv[l]), len(layers),
                   ", ".join("%s %s" % (l, _dtext(*sep[l][:2])) for l in layers),
                   ", ".join("%s %s" % (l, "-" if ps[l] is None else "%.3g" % ps[l]) for l in layers),
                   ", ".join("%s %.0f%%" % (l, 100 * nn[l]) for l in layers)))
    s.append("")
    svgplot.line_plot(os.path.join(out, "learning_rate_separation.svg"), fig,
                      "between minus within learning-rate group, by layer", "layer",
                      "difference of mean distances (95% interval)", xcats=layers, R=200,
                      hlines=[(0.0, "0: no separation")])
    figs.append("learning_rate_separation.svg")
    s.append("![separation by layer](learning_rate_separation.svg)")
    s.append("")
    s.append("The clustering claim as a figure: between-group minus within-group mean distance per layer, error bars "
             "its 95%% interval (bootstrap over the networks, %d replicates, each group's networks resampled), "
             "labels the permutation p-value (simrep matrix --permutations 999, the networks relabelled). A layer "
             "clusters by learning rate where p < 0.05 and the nearest neighbours agree above chance (%.0f%%, in "
             "the text above); it does not where the bar lies below 0; within noise otherwise. The bootstrap over "
             "groups of 4 networks is wider than the permutation null, so a bar may touch 0 where p is small."
             % (BOOT, 100 * chance))
    s.append("")
    return s


def dynamics(r, out, figs):
    d = r["dynamics"]["nets"]
    s = ["## 4. Training dynamics (Raghu et al. 2017; Morcos et al. 2018, §4)", ""]
    first = next(iter(d))
    s.append("Checkpoints of %d generalizing networks of finding 1 at optimizer steps %s (20 steps per epoch); "
             "each layer at each checkpoint against the same layer at the last step, n = %d held-out images."
             % (len(d), ", ".join(str(x) for x in d[first]["steps"]), d[first]["n"]))
    s.append("")
    layers = list(d[first]["curves"])
    for m in M:
        v = d[first]
        series = [{"label": l, "x": [x + 1 for x in v["steps"]], "y": v["curves"][l][m]} for l in layers]
        name = "dynamics_%s.svg" % m
        svgplot.line_plot(os.path.join(out, name), series,
                          "%s distance to the final representation (net %s)" % (MNAME[m], first.split("-")[-1]),
                          "optimizer step + 1", "%s distance" % MNAME[m], logx=True, ymin=0)
        figs.append(name)
        s.append("![%s dynamics](%s)" % (MNAME[m], name))
    s.append("")
    # first checkpoint at which each layer is within 0.05 (pwcca) / 0.05 (cka) of its final representation
    thr = 0.05
    s.append("Distance to the final representation (%s / %s) and the first checkpoint where it is below %.2f:"
             % (MNAME["pwcca"], MNAME["cka"], thr))
    s.append("")
    for net, v in d.items():
        s.append("| %s | " % net.split("-")[-1] + " | ".join("step %d" % x for x in v["steps"])
                 + " | converged at (pwcca / cka) |")
        s.append("|---|" + "---|" * (len(v["steps"]) + 1))
        for l in layers:
            conv = []
            for m in M:
                c = next((st for st, x in zip(v["steps"], v["curves"][l][m]) if x < thr), None)
                conv.append(str(c))
            s.append("| %s | %s | %s |" % (l, " | ".join("%.2f / %.2f" % (a, b) for a, b in
                                                          zip(v["curves"][l]["pwcca"], v["curves"][l]["cka"])),
                                          " / ".join(conv)))
        s.append("")
    for m in M:
        orders = []
        for net, v in d.items():
            conv = [next((i for i, x in enumerate(v["curves"][l][m]) if x < thr), len(v["steps"])) for l in layers]
            hidden = [c for l, c in zip(layers, conv) if l != "logits"]
            orders.append(all(hidden[i] <= hidden[i + 1] for i in range(len(hidden) - 1)))
        s.append("- %s: hidden layers converge bottom-up (each no later than the next; ties allowed) in %d of %d networks."
                 % (MNAME[m], sum(orders), len(orders)))
        v0 = d[first]
        _claim(4, "%s: lower layers converge first (first checkpoint below %.2f; ties allowed)" % (MNAME[m], thr),
               sum(orders) == len(orders),
               "bottom-up in %d of %d networks; net %s mean distance to final over the checkpoints: %s"
               % (sum(orders), len(orders), first.split("-")[-1],
                  ", ".join("%s %.3f" % (l, np.mean(v0["curves"][l][m])) for l in layers)))
    s.append("")
    s.append("simrep matrix's training figure for net 0 (PWCCA):")
    s.append("")
    s.append("![training](dynamics_pwcca_training.svg)")
    s.append("")
    return s


def lstm_intervals(ls, seed=0):
    """The LSTM curves' bootstrap over the networks, from the per-pair and
    per-network curves compare.py keeps: ({measure: (T, boot + 1) seed-vs-seed
    mean over the resampled networks' pairs}, {measure: (T, boot + 1) mean
    step-vs-last curve of the resampled networks}); row 0 of each is the
    observed mean.  None without those curves (an older results.json)."""
    if "to_last_nets" not in ls:
        return None
    k = len(ls["nets"])
    R = resample(["lstm"] * k, seed)
    pairs = ls["per_step_pairs"]["pairs"]
    seed_vs_seed, to_last = {}, {}
    for m in M:
        C = np.array(ls["per_step_pairs"][m])                  # (pairs, T)
        rows = []
        for t in range(C.shape[1]):
            D = np.zeros((k, k))
            for (i, j), v in zip(pairs, C[:, t]):
                D[i, j] = D[j, i] = v
            rows.append(group_means(D, ["lstm"] * k, R)["lstm"])
        seed_vs_seed[m] = np.array(rows)
        to_last[m] = np.array(ls["to_last_nets"][m])[R].mean(axis=1).T   # (T, boot + 1)
    return seed_vs_seed, to_last


def _pct(rows):
    """(lo, hi) lists: the 95% percentile interval of each row's replicates (columns 1:)."""
    q = [np.nanpercentile(r[1:], [(100 - LEVEL) / 2, (100 + LEVEL) / 2]) for r in rows]
    return [float(a) for a, _ in q], [float(b) for _, b in q]


def cnn_lstm(r, out, figs):
    s = ["## 5. A small CNN and an LSTM", ""]
    c = r["cnn"]
    n_cnn = len(r["groups"]["cnn"]["cnn"])
    acc = np.mean([r["nets"][n]["eval_acc"] for n in r["groups"]["cnn"]["cnn"]])
    s.append("**CNN** (conv 3x3 x16, max-pool, conv 3x3 x32, max-pool, fc 64, 10 outputs; %d seeds, held-out "
             "accuracy %.3f). Conv layers are compared with `--conv nchw`: every spatial position of every held-out "
             "image is a sample and the channels are the features (relu1: %d x 14 x 14 samples x 16; relu2: "
             "%d x 7 x 7 x 32). Mean distance between the %d seeds:"
             % (n_cnn, acc, c["per_layer"]["relu3"]["n"], c["per_layer"]["relu3"]["n"], n_cnn))
    s.append("")
    s.append("| layer | samples | PWCCA | linear CKA |")
    s.append("|---|---|---|---|")
    for l in c["layers"]:
        sm = c["per_layer"][l]["summary"]
        s.append("| %s | %d | %s | %s |" % (l, c["per_layer"][l]["n"], f3(sm["pwcca"]["within"]["cnn"]),
                                           f3(sm["cka"]["within"]["cnn"])))
    s.append("")
    pw = {l: c["per_layer"][l]["summary"]["pwcca"]["within"]["cnn"] for l in c["layers"]}
    s.append("- The conv layers (positions as samples) differ more between seeds (PWCCA %.3f, %.3f) than the "
             "fully connected layers (%.3f, %.3f)." % (pw["relu1"], pw["relu2"], pw["relu3"], pw["logits"]))
    s.append("")
    ls = r["lstm"]
    n_lstm = len(r["groups"]["lstm"]["lstm"])
    acc = np.mean([r["nets"][n]["eval_acc"] for n in r["groups"]["lstm"]["lstm"]])
    T = len(ls["per_step_mean"]["pwcca"])
    s.append("**LSTM** (32 units) reading each 14 x 14 image row by row, one row per time step, classifying "
             "from the last step (%d seeds, held-out accuracy %.3f). `simrep compare --sequence per-step` gives, "
             "for each pair of seeds, the distance of the hidden states at each of the %d steps (n = %d held-out "
             "images per step); the mean over the %d pairs:"
             % (n_lstm, acc, T, ls["matrix"]["per_layer"]["lstm"]["n"], ls["pairs"]))
    s.append("")
    THR = 0.2
    boot = lstm_intervals(ls)
    series = []
    for k, m in enumerate(M):
        for curve, reps, lab, dash in (("per_step_mean", 0, "seed vs seed", False),
                                       ("to_last_mean", 1, "step vs last", True)):
            e = {"err": ls[curve.replace("mean", "std")][m]} if boot is None else \
                dict(zip(("lo", "hi"), _pct(boot[reps][m])))
            series.append(dict(e, label="%s, %s" % (MNAME[m], lab), x=list(range(1, T + 1)), y=ls[curve][m],
                               dash=dash, colour=svgplot.COLOURS[k], xoff=2 if dash else -2))
    svgplot.line_plot(os.path.join(out, "lstm_per_step.svg"), series, "LSTM hidden state along the sequence",
                      "time step (image row)", "distance (mean, 95% interval)" if boot else "distance",
                      ymin=0, width=640, R=200, hlines=[(THR, "claim: step vs last > %.1f" % THR)])
    figs.append("lstm_per_step.svg")
    s.append("![per step](lstm_per_step.svg)")
    s.append("")
    bars = ("95%% interval (bootstrap over the %d networks, %d replicates; with so few networks a coarse one)"
            % (n_lstm, BOOT)) if boot else "± sd"
    s.append("Solid: seed vs seed, the mean over the pairs of networks. Dashed: Morcos et al.'s view of a sequence, "
             "the hidden state at step t against the hidden state at the last step of the same network "
             "(`simrep.compare` on the (n, 32) slices), the mean over the %d networks. Error bars: %s. Dotted: the "
             "threshold of the claim below." % (n_lstm, bars))
    s.append("")
    s.append("| step | " + " | ".join(str(t) for t in range(1, T + 1)) + " |")
    s.append("|---|" + "---|" * T)
    for m in M:
        s.append("| %s seed vs seed | %s |" % (MNAME[m], " | ".join("%.2f" % v for v in ls["per_step_mean"][m])))
    for m in M:
        s.append("| %s step vs last | %s |" % (MNAME[m], " | ".join("%.2f" % v for v in ls["to_last_mean"][m])))
    s.append("")
    p, q = ls["per_step_mean"]["pwcca"], ls["to_last_mean"]["pwcca"]
    s.append("- Seed vs seed, the PWCCA distance rises from %.3f at step 1 to %.3f at step %d (largest %.3f at step "
             "%d): after the first rows (little read yet) every network's state is nearly the same up to a linear "
             "map; the states diverge as the networks read more of the image."
             % (p[0], p[-1], T, max(p), int(np.argmax(p)) + 1))
    mid = T // 2 - 1
    if boot is None:
        ok, num = q[mid] > THR, "%.3f at step %d" % (q[mid], mid + 1)
    else:   # holds when the interval of the mid-sequence distance minus the threshold is above 0
        _, c, ok = difference(boot[1]["pwcca"][mid] - THR)
        num = "%.3f [%.3f, %.3f] at step %d" % (q[mid], c[0] + THR, c[1] + THR, mid + 1)
    s.append("- Within a network the hidden state keeps changing along the sequence: PWCCA distance to the last "
             "step %.3f at step 1, %s, %.3f at step %d (Morcos et al. §4: the hidden state is highly "
             "variable over a sequence, even up to linear transforms): %s."
             % (q[0], num, q[-2], T - 1, _claim(5, "LSTM: the hidden state varies along the sequence "
                                                   "(PWCCA distance to the last step > %.1f mid-sequence)" % THR,
                                                ok, num)))
    s.append("")
    s.append("Not done at this scale: a memorizing CNN or LSTM group (memorizing 2,000 shuffled labels takes a small "
             "CNN over 100 epochs, about 90 s per network here, beyond the 10-minute budget), so finding 1 is "
             "shown on MLPs only; the CNN and LSTM sections compare seeds.")
    s.append("")
    return s


def warnings_section(r):
    s = ["## simrep's warnings", ""]
    s.append("| experiment | n < 10 x features | dead features left out |")
    s.append("|---|---|---|")
    ex = []
    for e in ("memorization", "width", "learning_rate", "dynamics", "cnn", "lstm"):
        if e in r:
            w = r[e]["warnings"]
            s.append("| %s | %d | %d |" % (e, w["few_samples"], w["dead_features"]))
            ex += w["dead_examples"][:1] + w["few_samples_examples"][:1]
    s.append("")
    s.append("The sample-size warning stays quiet: every comparison has n >= 10 x the features of each side. "
             "Dead-feature warnings are ReLU units that are zero on every held-out image (or LSTM/logit "
             "features that never vary); they carry no signal and simrep leaves them out of the CCA family, "
             "as SVCCA does. Examples: " + "; ".join("`%s`" % x for x in ex[:3]) if ex else
             "No warnings: every comparison has n >= 10 x the features of each side and no dead features.")
    s.append("")
    return s


def networks_line(n):
    """The method section's line saying how many networks this run trained
    and how many it took from the work directory's cache (train.py skips a
    network whose json holds the same spec)."""
    total = n["trained"] + n["reused"]
    if not n["reused"]:
        return "Networks: all %d trained in this run." % total
    return ("Networks: %d of %d trained in this run, %d reused from the work directory's cache (nets/ of an earlier "
            "run: a network whose json holds the same spec is not retrained, so its activations and training "
            "numbers are that run's); every comparison below was computed in this run."
            % (n["trained"], total, n["reused"]))


def write(work, out):
    with open(os.path.join(work, "results.json")) as f:
        r = json.load(f)
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        if old.endswith(".svg") or old == "report.md":
            os.remove(os.path.join(out, old))
    figs = []
    mx = os.path.join(work, "matrices")
    copied = []
    lay = r["memorization"]["layers"]
    _copy(os.path.join(mx, "memorization", lay[-2], "pwcca_heatmap.svg"),
          os.path.join(out, "memorization_%s_pwcca_heatmap.svg" % lay[-2]), copied)
    s = ["# Findings: the CCA papers' results on networks trained here", "",
         "Generated by `make findings` (examples/findings/: train.py, compare.py, report.py) from config `%s`: "
         "Fashion-MNIST (Debian's dataset-fashion-mnist) at 14 x 14 pixels, MLPs with 3 hidden ReLU layers "
         "trained with one torch thread per process; every comparison is on held-out test images, never on the "
         "training images. Comparisons of many networks are `simrep matrix` runs (one per experiment and layer; "
         "manifests and every figure under the work directory's matrices/). Measures: PWCCA (Morcos et al. 2018) "
         "and linear CKA (Kornblith et al. 2019), as distances (1 - similarity)." % r["config"], ""]
    if "networks" in r:
        s += [networks_line(r["networks"]), ""]
    intro_len = len(s)
    del SUMMARY[:]
    s += memorization(r, out, figs, work)
    s += width(r, out, figs, work)
    if "learning_rate" in r:
        lay = r["learning_rate"]["layers"]
        for kind in ("heatmap", "mds"):
            _copy(os.path.join(mx, "learning_rate", lay[-2], "pwcca_%s.svg" % kind),
                  os.path.join(out, "learning_rate_%s_pwcca_%s.svg" % (lay[-2], kind)), copied)
        s += learning_rate(r, out, figs, work)
        net0 = next(iter(r["dynamics"]["nets"]))
        _copy(os.path.join(mx, "dynamics", net0, "pwcca_training.svg"), os.path.join(out, "dynamics_pwcca_training.svg"),
              copied)
        s += dynamics(r, out, figs)
        s += cnn_lstm(r, out, figs)
    s += warnings_section(r)
    summary = ["## Summary", "", "Each claim of the papers as an inequality on the numbers below; verdicts are computed "
               "by report.py from this run. A claim about a difference holds where the 95%% interval of that "
               "difference excludes 0 in the claimed direction, does not hold where it excludes 0 in the opposite "
               "direction, and is **within noise** otherwise. The intervals are a bootstrap over the networks "
               "(%d replicates; the networks of each group resampled, the same resampled networks for every "
               "quantity they enter, e.g. both layers of a depth comparison); the clustering claim rests on the "
               "permutation p-value (simrep matrix --permutations 999: the networks relabelled) and the nearest "
               "neighbours. The intervals shown next to single means are simrep matrix --bootstrap 1000's. The "
               "training-dynamics claim (finding 4: each network against its own checkpoints) has no interval. "
               "The figures' error bars are these intervals (each caption says which), and the verdicts' own "
               "intervals are drawn where a figure shows the quantity a verdict is about (the gap of finding 1, "
               "the learning-rate groups' separation with its p-values, the LSTM's distance to the last step) or "
               "given in its legend (the width slopes)." % BOOT, "",
               "| finding | claim | verdict | numbers |", "|---|---|---|---|"]
    summary += ["| %d | %s | %s | %s |" % (f, c, {True: "holds", False: "**does not hold**", None: "*within noise*"}[ok],
                                          n) for f, c, ok, n in SUMMARY]
    summary.append("")
    s = s[:intro_len] + summary + s[intro_len:]
    if "timing" in r:
        s += ["## Run", "", r["timing"], ""]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(s))
    return figs + copied


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="build/findings")
    ap.add_argument("--out", default=os.path.join(HERE, "report"))
    a = ap.parse_args()
    write(a.work, a.out)


if __name__ == "__main__":
    main()
