#!/bin/sh
# The main job on the bundled example activations (examples/data/, made by
# examples/make_example_data.py): what the files hold, then the same layer of
# two networks compared with every measure, then a layer against activations
# of unrelated inputs (the "no shared structure" baseline).
set -e
cd "$(dirname "$0")/.."
SIMREP=${SIMREP:-build/simrep}
echo "== simrep info examples/data/net_a.npz"
$SIMREP info examples/data/net_a.npz
echo
echo "== the same layer (hidden2) of two networks with different random weights, every measure"
$SIMREP compare examples/data/net_a.npz:hidden2 examples/data/net_b.npz:hidden2 -m all
echo
echo "== hidden1 of net_a against net_a's hidden1 on unrelated inputs (baseline: low similarity)"
$SIMREP compare examples/data/net_a.npz:hidden1 examples/data/net_a_other_inputs.npz:hidden1
echo
echo "== the same comparison as JSON, for scripts (simrep compare ... --format json)"
$SIMREP compare examples/data/net_a.npz:hidden2 examples/data/net_b.npz:hidden2 -m cca,cka --format json
