#!/usr/bin/python3
"""Regenerate the example activations in examples/data/ (run with Debian's
/usr/bin/python3 and python3-numpy).

Two small ReLU networks ("net_a", "net_b") with different random weights read
the same 2,000 inputs, which lie near a 12-dimensional subspace of a
64-dimensional space (as real data lie near low-dimensional manifolds).  Each
network's two hidden layers (96 and 48 units) are saved in one .npz, float32,
samples x features.  A third file holds activations of an unrelated input
set, the "different data" baseline.  The demo compares them: the same layer of
the two networks should be far more similar than either is to the baseline,
and some ReLU units are dead, which simrep reports.

These are stand-ins until the findings pipeline ships activations of trained
networks; the generator is deterministic (seed 2026).
"""
import os
import numpy as np

rng = np.random.default_rng(2026)
n, d_in, d_latent = 2000, 64, 12
latent = rng.standard_normal((n, d_latent))
inputs = latent @ rng.standard_normal((d_latent, d_in)) + 0.1 * rng.standard_normal((n, d_in))


def network(x, seed):
    r = np.random.default_rng(seed)
    w1 = r.standard_normal((x.shape[1], 96)) / np.sqrt(x.shape[1])
    b1 = 0.1 * r.standard_normal(96)
    b1[:4] = -50.0  # four units that never fire: dead features
    h1 = np.maximum(x @ w1 + b1, 0)
    w2 = r.standard_normal((96, 48)) / np.sqrt(96)
    h2 = np.maximum(h1 @ w2, 0)
    return h1.astype(np.float32), h2.astype(np.float32)


out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
os.makedirs(out, exist_ok=True)
a1, a2 = network(inputs, 1)
b1, b2 = network(inputs, 2)
other = rng.standard_normal((n, d_in))
c1, c2 = network(other, 1)
np.savez_compressed(os.path.join(out, "net_a.npz"), hidden1=a1, hidden2=a2)
np.savez_compressed(os.path.join(out, "net_b.npz"), hidden1=b1, hidden2=b2)
np.savez_compressed(os.path.join(out, "net_a_other_inputs.npz"), hidden1=c1, hidden2=c2)
print("wrote", out)
