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
echo "== a generalizing against a memorizing network, same layer, with 95% intervals (200 resamples of the"
echo "   images) and a permutation null (100 re-pairings of the images): chance level, p, adjusted similarity"
$SIMREP compare $D/gen0.npz:relu3 $D/mem0.npz:relu3 --bootstrap 200 --permutations 100 2>&1
echo
echo "== simrep matrix per layer: the 10 networks, all 45 pairs; distance within and between the groups"
echo "   (generalizing = true labels, memorizing = shuffled labels; mean, std, pairs), 95% intervals over the"
echo "   networks (--bootstrap 1000) and the p-value of between vs within from relabelling them (--permutations 999)"
for layer in relu1 relu2 relu3 logits; do
    echo
    echo "-- $layer: simrep matrix --manifest $D/$layer.csv -m pwcca,cka --permutations 999 --bootstrap 1000 -o $OUT/$layer"
    mkdir -p "$OUT/$layer"
    # The full table goes to a file, the dead-feature warnings (ReLU units silent on
    # every held-out image) too; the group summaries are printed.
    $SIMREP matrix --manifest $D/$layer.csv -m pwcca,cka --permutations 999 --bootstrap 1000 -o "$OUT/$layer" \
        >"$OUT/$layer/matrix.txt" 2>"$OUT/$layer/warnings.txt"
    sed -n '/distance by group/,/^$/p' "$OUT/$layer/matrix.txt" | sed '/^$/d'
    [ -s "$OUT/$layer/warnings.txt" ] &&
        echo "   ($(wc -l <"$OUT/$layer/warnings.txt") warnings about dead units: $OUT/$layer/warnings.txt)"
done
echo
echo "Expected (Morcos et al. 2018): 'within generalizing' well below 'within memorizing' in every"
echo "layer, their intervals apart.  With 5 + 5 networks only 126 relabellings differ, so the smallest"
echo "possible p is about 1/126 = 0.008.  Figures (SVG: clustered heatmaps, MDS maps, within/between bars):"
for layer in relu1 relu2 relu3 logits; do
    echo "  $OUT/$layer/  ($(cd "$OUT/$layer" && ls *.svg | tr '\n' ' '))"
done
echo "Similarity matrices: $OUT/<layer>/matrix.txt.  The full report (five findings, figures):"
echo "examples/findings/report/report.md (and docs/findings.md); rerun it with: make findings"
