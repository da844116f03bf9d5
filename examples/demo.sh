#!/bin/sh
# `make demo`: simrep on real activations bundled in examples/data/, written
# by `make findings` (examples/findings/run.py --demo-data): 10 MLPs (3
# hidden ReLU layers of 128 units + 10 logits) trained on 2,000 Fashion-MNIST
# images, 5 on the true labels (gen0-gen4, "generalizing") and 5 on a fixed
# random permutation of them (mem0-mem4, "memorizing", ~100% training
# accuracy, chance on held-out images); the activations are those of the
# first 1,500 held-out test images, float16.  One manifest per layer
# (examples/data/<layer>.csv).  No torch needed: only the simrep binary.
#
# What it shows (Morcos et al. 2018, section 3.1): networks that generalize
# are more similar to each other than networks that memorize, increasingly
# so in later layers.  Figures go to $DEMO_OUT (default build/demo).
set -e
cd "$(dirname "$0")/.."
SIMREP=${SIMREP:-build/simrep}
OUT=${DEMO_OUT:-build/demo}
D=examples/data
mkdir -p "$OUT"

echo "== simrep info $D/gen0.npz   (one network: a key per layer, n = 1500 held-out images)"
$SIMREP info $D/gen0.npz
echo
echo "== two generalizing networks, last hidden layer, every measure"
$SIMREP compare $D/gen0.npz:relu3 $D/gen1.npz:relu3 -m all 2>/dev/null
echo
echo "== a generalizing against a memorizing network, same layer"
$SIMREP compare $D/gen0.npz:relu3 $D/mem0.npz:relu3 2>/dev/null
echo
echo "== simrep matrix per layer: the 10 networks, all 45 pairs; distance within and between the groups"
echo "   (generalizing = true labels, memorizing = shuffled labels; mean, std, pairs)"
for layer in relu1 relu2 relu3 logits; do
    echo
    echo "-- $layer: simrep matrix --manifest $D/$layer.csv -m pwcca,cka -o $OUT/$layer"
    mkdir -p "$OUT/$layer"
    # The full table goes to a file, the dead-feature warnings (ReLU units silent on
    # every held-out image) too; the group summaries are printed.
    $SIMREP matrix --manifest $D/$layer.csv -m pwcca,cka -o "$OUT/$layer" \
        >"$OUT/$layer/matrix.txt" 2>"$OUT/$layer/warnings.txt"
    sed -n '/distance by group/,/^$/p' "$OUT/$layer/matrix.txt" | sed '/^$/d'
    [ -s "$OUT/$layer/warnings.txt" ] &&
        echo "   ($(wc -l <"$OUT/$layer/warnings.txt") warnings about dead units: $OUT/$layer/warnings.txt)"
done
echo
echo "Expected (Morcos et al. 2018): 'within generalizing' well below 'within memorizing' in every"
echo "layer.  Figures (SVG: clustered heatmaps, MDS maps, within/between bars):"
for layer in relu1 relu2 relu3 logits; do
    echo "  $OUT/$layer/  ($(cd "$OUT/$layer" && ls *.svg | tr '\n' ' '))"
done
echo "Similarity matrices: $OUT/<layer>/matrix.txt.  The full report (five findings, figures):"
echo "examples/findings/report/report.md (and docs/findings.md); rerun it with: make findings"
