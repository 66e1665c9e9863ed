#!/usr/bin/env bash
# The real run of issue 2 on all-MiniLM-L6-v2 and ../shared/data/squad: dense
# fine-tuning (recipes/minilm-squad.yaml, resumable) and the checkpoint's dev
# EM/F1. Writes bench/results/squad-dense.json. About 50 minutes on 2 idle
# cores. bench/run-compression.sh goes on from its checkpoint (the teacher).
set -euo pipefail
cd "$(dirname "$0")/.."
fb=${FASTBERT:-build/cli/fastbert}
data=../shared/data/squad
[ -f "$data/train.json" ] || { echo "skipped: $data/train.json not found (the shared SQuAD data)" >&2; exit 0; }
out=out/minilm
threads=${THREADS:-2}
mkdir -p "$out"
ckpt=$out/run/final
windows=(--max-seq 256 --doc-stride 128)
if [ -z "${RESULTS_ONLY:-}" ]; then  # RESULTS_ONLY=1: only re-assemble the JSON from $out
scripts/fetch-minilm.sh

"$fb" train recipes/minilm-squad.yaml

"$fb" eval squad --model "$ckpt" --data "$data/dev.json" "${windows[@]}" --threads "$threads" \
  --predictions-out "$out/dev-predictions-checkpoint.json" > "$out/eval-checkpoint.json"
fi

questions() { jq '[.data[].paragraphs[].qas[]] | length' "$1"; }
jq -n --slurpfile e "$out/eval-checkpoint.json" --slurpfile r "$out/run/train_report.json" \
  --argjson tq "$(questions "$data/train.json")" --argjson dq "$(questions "$data/dev.json")" '{
    model: "all-MiniLM-L6-v2 + QA head (recipes/minilm-squad.yaml)",
    train_questions: $tq, dev_questions: $dq, max_seq: 256, epochs: 2,
    dev_em: $e[0].exact_match, dev_f1: $e[0].f1,
    train_seconds: $r[0].train_seconds, train_examples_per_s: $r[0].train_examples_per_s }' \
  > bench/results/squad-dense.json
cat bench/results/squad-dense.json
