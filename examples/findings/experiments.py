"""The experiments of the findings report, as lists of network specs.

Design.  plan(config) returns {experiment: {"groups": {group: [spec, ...]},
...}} for the five findings; a spec (see common.py) names one network.
Specs are plain dicts whose name is derived from every field that changes
training, so an identical network asked for by two experiments (the
width-128 group of finding 2 is the generalizing group of finding 1) has
one name and is trained once.

Two configs:
  full  Fashion-MNIST at 14 x 14, the report's numbers (`make findings`,
        under 10 minutes on 2 cores);
  ci    scikit-learn's digits (8 x 8), few and small networks, for
        tests/findings (under 2 minutes): findings 1 and 2 only.
Sizes follow the n >= 10 x features rule for held-out samples: the MLP
experiments capture 6,000 test images (width 512 needs 5,120); the
checkpoints of finding 4 use the first 2,000 (width 128 needs 1,280).
"""

FULL = {
    "dataset": "fashion", "n_train": 2000, "n_eval": 6000, "n_eval_small": 2000,
    "seeds": 5, "width": 128, "widths": [32, 64, 128, 256, 512],
    "lrs": [0.001, 0.01, 0.1], "lr_seeds": 4, "lr_epochs": 30,
    "checkpoints": [0, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560], "dynamics_nets": 3,
    "cnn_width": 16, "cnn_seeds": 4, "cnn_epochs": 15, "lstm_width": 32, "lstm_seeds": 4, "lstm_epochs": 30,
    "max_epochs": 300, "demo_samples": 1500,
}

CI = {
    "dataset": "digits", "n_train": 1000, "n_eval": 797,
    "seeds": 3, "width": 64, "widths": [16, 64], "max_epochs": 400,
}

CONFIGS = {"full": FULL, "ci": CI}


def _spec(c, kind, width, labels="true", seed=0, optimizer="adam", lr=1e-3, target_acc=0.999, max_epochs=None,
          n_eval=None, **extra):
    s = {"dataset": c["dataset"], "n_train": c["n_train"], "n_eval": n_eval or c["n_eval"], "kind": kind,
         "width": width, "depth": 3, "labels": labels, "seed": seed, "optimizer": optimizer, "lr": lr,
         "batch": 100, "target_acc": target_acc, "max_epochs": max_epochs or c["max_epochs"]}
    s.update(extra)
    tag = "%s%d-%s-%s%g" % (kind, width, labels, optimizer, lr)
    if target_acc is None:
        tag += "-e%d" % s["max_epochs"]
    if extra.get("checkpoints"):
        tag += "-ckpt"
    s["name"] = "%s-%s-s%d" % (c["dataset"], tag, seed)
    return s


def plan(config):
    c = CONFIGS[config]
    seeds = range(c["seeds"])
    ckpt = {"checkpoints": c["checkpoints"], "checkpoint_eval": c["n_eval_small"]} if "checkpoints" in c else {}
    gen = [_spec(c, "mlp", c["width"], "true", s, **ckpt) for s in seeds]
    mem = [_spec(c, "mlp", c["width"], "shuffled", s) for s in seeds]
    exps = {
        "memorization": {"groups": {"generalizing": gen, "memorizing": mem}},
        "width": {"groups": {"w%d" % w: gen if w == c["width"] else [_spec(c, "mlp", w, "true", s) for s in seeds]
                             for w in c["widths"]}},
    }
    if config == "ci":
        return exps
    exps["learning_rate"] = {"groups": {"lr%g" % lr: [_spec(c, "mlp", c["width"], "true", s, optimizer="sgd", lr=lr,
                                                             target_acc=None, max_epochs=c["lr_epochs"])
                                                       for s in range(c["lr_seeds"])] for lr in c["lrs"]}}
    exps["dynamics"] = {"groups": {g["name"]: [g] for g in gen[:c["dynamics_nets"]]}}
    exps["cnn"] = {"groups": {"cnn": [_spec(c, "cnn", c["cnn_width"], "true", s, target_acc=None,
                                            max_epochs=c["cnn_epochs"], n_eval=c["n_eval_small"])
                                      for s in range(c["cnn_seeds"])]}}
    exps["lstm"] = {"groups": {"lstm": [_spec(c, "lstm", c["lstm_width"], "true", s, target_acc=None,
                                              max_epochs=c["lstm_epochs"], n_eval=c["n_eval_small"])
                                        for s in range(c["lstm_seeds"])]}}
    return exps


def all_specs(exps):
    """Every distinct spec of a plan, most expensive first (a pool finishes sooner)."""
    seen = {}
    for e in exps.values():
        for group in e["groups"].values():
            for s in group:
                seen[s["name"]] = s
    def cost(s):
        w = s["width"]
        return (w * w + 200 * w) * (s["max_epochs"] if s.get("target_acc") is None else 60) * \
            (3 if s["labels"] == "shuffled" else 1) * (20 if s["kind"] != "mlp" else 1)
    return sorted(seen.values(), key=cost, reverse=True)
