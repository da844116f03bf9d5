#!/usr/bin/python3
"""Example inputs for `simrep matrix` (docs/matrix.md).

    /usr/bin/python3 examples/make_matrix_data.py [DIR]     (default /tmp/simrep-matrix)

Writes small float32 .npy activations and three manifests into DIR:

  groups.csv    6 "networks" in two groups (generalize: a shared signal with
                little noise; memorize: the same signal with much more), one
                layer each: the within/between group comparison
  training.csv  3 layers at 5 checkpoints converging to their final
                representation, lower layers earlier: training dynamics
  depth.csv     two networks of 4 layers each: layer x layer depth matrices

Everything is synthetic (numpy random maps); it runs in about a second.
"""

import sys
from pathlib import Path

import numpy as np


def main():
    d = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/simrep-matrix")
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    n = 1000
    signal = rng.standard_normal((n, 16))

    lines = ["name,path,group,seed"]
    for g, noise in (("generalize", 0.5), ("memorize", 2.0)):
        for s in range(3):
            a = np.tanh(signal @ rng.standard_normal((16, 32)) / 4) + noise * 0.3 * rng.standard_normal((n, 32))
            np.save(d / ("%s%d.npy" % (g, s)), a.astype(np.float32))
            lines.append("%s%d,%s%d.npy,%s,%d" % (g, s, g, s, g, s))
    (d / "groups.csv").write_text("\n".join(lines) + "\n")

    steps = [0, 1000, 2000, 5000, 10000]
    layers = ["conv1", "conv2", "fc"]
    final = {l: rng.standard_normal((n, 24)) for l in layers}
    lines = ["name,path,layer,step"]
    for s in steps:
        for li, l in enumerate(layers):
            w = (s / steps[-1]) ** (0.4 * (1 + 2 * li))  # lower layers converge first
            a = w * final[l] + (1 - w) * rng.standard_normal((n, 24))
            np.save(d / ("%s_%d.npy" % (l, s)), a.astype(np.float32))
            lines.append("%s@%d,%s_%d.npy,%s,%d" % (l, s, l, s, l, s))
    (d / "training.csv").write_text("\n".join(lines) + "\n")

    lines = ["name,path,group,layer"]
    for net in ("netA", "netB"):
        h = signal
        for l in range(4):
            h = np.tanh(h @ rng.standard_normal((h.shape[1], 24)) / np.sqrt(h.shape[1]))
            h = h + 0.2 * rng.standard_normal(h.shape)
            np.save(d / ("%s_l%d.npy" % (net, l)), h.astype(np.float32))
            lines.append("%s.l%d,%s_l%d.npy,%s,l%d" % (net, l, net, l, net, l))
    (d / "depth.csv").write_text("\n".join(lines) + "\n")
    print("wrote groups.csv, training.csv, depth.csv and their .npy files to %s" % d)


if __name__ == "__main__":
    main()
