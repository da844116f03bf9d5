"""Data, models and the training loop shared by the findings pipeline.

Design.  Every network of every experiment is described by a flat dict, its
*spec* (kind, width, labels, seed, optimizer, learning rate, ...).  A spec
is all a worker process needs: train_one(spec, workdir) loads the data,
trains, and writes the activations of the network's layers on the HELD-OUT
samples (never the training samples) to workdir/nets/<name>.npz, one key
per layer, float16, captured with simrep.torch.capture.  Specs with a
checkpoint list also write <name>@<step>.npz at each listed optimizer step
(step 0 = initialization) and at the last step, on the first
checkpoint_eval held-out samples.  Workers share nothing, so the experiments run
in a process pool with one torch thread each (tiny networks get slower,
not faster, with more threads).

Data.  "fashion": Fashion-MNIST from Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist), 28 x 28 images average-pooled 2 x 2
to 14 x 14 (4x less work in the first layer; accuracy drops by about a
point); the training subset is the first n_train training images, the
held-out samples the first n_eval test images.  "digits": scikit-learn's
bundled load_digits (1,797 8 x 8 images, no package beyond python3-sklearn),
shuffled once with a fixed seed, the first n_train for training and the
rest held out; the CI test uses it.

Memorizing networks (Morcos et al. 2018, section 3.1) get the training
labels through one fixed random permutation, the same for the whole
group, so what differs between them is only the initialization and batch
order, as for the generalizing group.  Training stops at the first epoch
whose training accuracy reaches target_acc (or after max_epochs).

Float16 storage: activations here are O(1) to O(100), far from float16's
range limits, and its relative precision (5e-4) is below the seed-to-seed
spread of every measure by orders of magnitude.
"""

import collections
import functools
import gzip
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn

FASHION_DIR = "/usr/share/datasets/fashion-mnist"
LABEL_PERMUTATION_SEED = 12345   # the fixed label shuffle of the memorizing groups
DIGITS_SPLIT_SEED = 0


def _idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


@functools.lru_cache(maxsize=4)
def load_data(dataset, n_train, n_eval):
    """(x_train, y_train, x_eval, y_eval): images float32 (N, 1, H, W),
    standardized with the training subset's pixel mean and std; labels int64."""
    if dataset == "fashion":
        def images(part, n):
            x = _idx(os.path.join(FASHION_DIR, part + "-images-idx3-ubyte.gz"), 16).reshape(-1, 28, 28)[:n]
            x = x.astype(np.float32).reshape(n, 14, 2, 14, 2).mean(axis=(2, 4)) / 255.0
            return x[:, None]
        def labels(part, n):
            return _idx(os.path.join(FASHION_DIR, part + "-labels-idx1-ubyte.gz"), 8)[:n].astype(np.int64)
        if not os.path.isdir(FASHION_DIR):
            raise SystemExit("findings: %s is missing: apt-get install dataset-fashion-mnist" % FASHION_DIR)
        xtr, ytr = images("train", n_train), labels("train", n_train)
        xev, yev = images("t10k", n_eval), labels("t10k", n_eval)
    elif dataset == "digits":
        from sklearn.datasets import load_digits
        d = load_digits()
        order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(d.target))
        x = (d.images[order] / 16.0).astype(np.float32)[:, None]
        y = d.target[order].astype(np.int64)
        if n_train + n_eval > len(y):
            raise ValueError("digits has %d images, not %d + %d" % (len(y), n_train, n_eval))
        xtr, ytr, xev, yev = x[:n_train], y[:n_train], x[n_train:n_train + n_eval], y[n_train:n_train + n_eval]
    else:
        raise ValueError("unknown dataset %r" % dataset)
    mean, std = xtr.mean(), xtr.std()
    return (xtr - mean) / std, ytr, (xev - mean) / std, yev


def shuffled_labels(y):
    return y[np.random.default_rng(LABEL_PERMUTATION_SEED).permutation(len(y))]


def randomized_labels(y, fraction):
    """Labels "random<f>" (ReSi's label randomization, examples/validate): a
    fixed fraction f of the training labels (the same samples for every
    network of that f) replaced by uniformly random classes."""
    rng = np.random.default_rng(LABEL_PERMUTATION_SEED)
    pick = rng.permutation(len(y))[:int(round(fraction * len(y)))]
    y = y.copy()
    y[pick] = rng.integers(0, 10, size=len(pick))
    return y


def build_model(spec, image_shape):
    """The network of a spec and the names of the layers to capture, in depth order."""
    _, h, w = image_shape
    kind, width = spec["kind"], spec["width"]
    if kind == "mlp":
        mods, names, d = [("flat", nn.Flatten())], [], h * w
        for i in range(1, spec.get("depth", 3) + 1):
            mods += [("fc%d" % i, nn.Linear(d, width)), ("relu%d" % i, nn.ReLU())]
            names.append("relu%d" % i)
            d = width
        mods.append(("logits", nn.Linear(d, 10)))
        names.append("logits")
        return nn.Sequential(collections.OrderedDict(mods)), names
    if kind == "cnn":
        c1, c2 = width, 2 * width
        mods = [("conv1", nn.Conv2d(1, c1, 3, padding=1)), ("relu1", nn.ReLU()), ("pool1", nn.MaxPool2d(2)),
                ("conv2", nn.Conv2d(c1, c2, 3, padding=1)), ("relu2", nn.ReLU()), ("pool2", nn.MaxPool2d(2)),
                ("flat", nn.Flatten()), ("fc", nn.Linear(c2 * (h // 4) * (w // 4), 64)), ("relu3", nn.ReLU()),
                ("logits", nn.Linear(64, 10))]
        return nn.Sequential(collections.OrderedDict(mods)), ["relu1", "relu2", "relu3", "logits"]
    if kind == "lstm":
        return RowLSTM(w, width), ["lstm", "logits"]
    raise ValueError("unknown kind %r" % kind)


class RowLSTM(nn.Module):
    """Reads an image row by row (one time step per row), classifies from the last step."""

    def __init__(self, row, hidden):
        super().__init__()
        self.lstm = nn.LSTM(row, hidden, batch_first=True)
        self.logits = nn.Linear(hidden, 10)

    def forward(self, x):
        seq, _ = self.lstm(x[:, 0])          # (N, H rows, W pixels) -> (N, T, hidden)
        return self.logits(seq[:, -1])


def _capture(model, layers, x_eval):
    import simrep.torch
    batches = [torch.from_numpy(x_eval[i:i + 1000]) for i in range(0, len(x_eval), 1000)]
    return simrep.torch.capture(model, layers, batches)


def save_npz(path, acts):
    """float16 .npz, deflated, byte-identical for identical arrays (np.savez stamps the current time
    on every member, which would make each rerun a new binary in git)."""
    import io
    import zipfile
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in acts.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(v, dtype=np.float16), allow_pickle=False)
            info = zipfile.ZipInfo(k + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buf.getvalue())
    os.replace(tmp, path)


def train_one(spec, workdir):
    """Train the network of spec; write nets/<name>.npz (+ checkpoints) and
    nets/<name>.json (accuracies, epochs, seconds).  Returns the json dict.
    Skips the work when the json exists with the same spec (reruns are cheap):
    the dict returned then carries "reused": True (not written to the json)."""
    torch.set_num_threads(1)
    nets = os.path.join(workdir, "nets")
    os.makedirs(nets, exist_ok=True)
    info_path = os.path.join(nets, spec["name"] + ".json")
    if os.path.exists(info_path):
        with open(info_path) as f:
            info = json.load(f)
        if info.get("spec") == spec:
            return dict(info, reused=True)
    t0 = time.time()
    xtr, ytr, xev, yev = load_data(spec["dataset"], spec["n_train"], spec["n_eval"])
    if spec["labels"] == "shuffled":
        ytr = shuffled_labels(ytr)
    elif spec["labels"].startswith("random"):
        ytr = randomized_labels(ytr, float(spec["labels"][len("random"):]))
    torch.manual_seed(spec["seed"])
    model, layers = build_model(spec, xtr.shape[1:])
    if spec["optimizer"] == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    else:
        opt = torch.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec.get("momentum", 0.9))
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    gen = torch.Generator().manual_seed(spec["seed"])
    checkpoints = sorted(spec.get("checkpoints", []))
    step, epoch, train_acc = 0, 0, 0.0

    def checkpoint():
        x = xev[:spec.get("checkpoint_eval") or len(xev)]
        save_npz(os.path.join(nets, "%s@%d.npz" % (spec["name"], step)), _capture(model, layers, x))

    def accuracy(x, y):
        model.eval()
        with torch.no_grad():
            acc = sum((model(x[i:i + 2000]).argmax(1) == y[i:i + 2000]).sum().item() for i in range(0, len(y), 2000))
        model.train()
        return acc / len(y)

    if 0 in checkpoints:
        checkpoint()
    model.train()
    while epoch < spec["max_epochs"]:
        perm = torch.randperm(len(yt), generator=gen)
        for i in range(0, len(yt), spec["batch"]):
            idx = perm[i:i + spec["batch"]]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
            step += 1
            if step in checkpoints:
                checkpoint()
        epoch += 1
        if spec.get("target_acc") is not None:
            train_acc = accuracy(xt, yt)
            if train_acc >= spec["target_acc"]:
                break
    train_acc = accuracy(xt, yt)
    if checkpoints and step not in checkpoints:
        checkpoint()
    acts = _capture(model, layers, xev)
    save_npz(os.path.join(nets, spec["name"] + ".npz"), acts)
    info = {"spec": spec, "train_acc": train_acc, "eval_acc": accuracy(torch.from_numpy(xev), torch.from_numpy(yev)),
            "epochs": epoch, "steps": step, "seconds": round(time.time() - t0, 2), "layers": layers,
            "shapes": {k: list(v.shape) for k, v in acts.items()}, "final_step": step}
    with open(info_path + ".tmp", "w") as f:
        json.dump(info, f, indent=1)
    os.replace(info_path + ".tmp", info_path)
    return info
