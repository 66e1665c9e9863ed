#!/usr/bin/env bash
# The main job on the built-in default: installs, builds, then runs the whole
# pipeline on a tiny BERT and synthetic SQuAD-style data that fastbert makes
# itself: make-demo -> (prepare) -> train -> eval.
# OUT_DIR (default out/demo) receives everything it writes.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
fastbert=build/cli/fastbert
out=${OUT_DIR:-out/demo}

step() { printf '\n== %s\n' "$*" >&2; }

step "make the built-in data and tiny model in $out"
$fastbert make-demo --out "$out"

step "train (tokenises the data with fastbert prepare on first use; resumes if interrupted)"
$fastbert train recipes/demo.yaml

step "evaluate the trained checkpoint on the held-out dev split"
$fastbert eval squad --model "$out/run/final" --data "$out/dev.json" --max-seq 96 --doc-stride 48 \
  --predictions-out "$out/dev-predictions.json"

step "kernel benchmark, one shape (full tables: bench/run-kernels.sh)"
$fastbert bench kernels --shape 768x768 --m 128 --sparsity 80,90
