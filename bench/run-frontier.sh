#!/usr/bin/env bash
# Issue 12's frontier on all-MiniLM-L6-v2 and ../shared/data/squad: the
# full-data dense teacher (recipes/minilm-squad-full.yaml, resumable), its
# progressive 50/70/80/90 % 4x1 students (recipes/minilm-squad-frontier.yaml,
# resumable), then bench/frontier.sh on dev.json. Writes
# bench/results/squad-dense.json (the teacher), bench/results/frontier.json,
# frontier.md, frontier.png, and through bench/run-compression.sh the 80 %
# student's compression.json and runtime.json. Tens of CPU-hours on 2 cores: run the two
# `fastbert train` steps in pieces first (--stop-after-steps), and this script
# with nothing else running when it measures speed.
set -euo pipefail
cd "$(dirname "$0")/.."
fb=${FASTBERT:-build/cli/fastbert}
data=../shared/data/squad
[ -f "$data/squad-train-v1.json" ] && [ -f "$data/dev.json" ] ||
  { echo "skipped: $data/squad-train-v1.json or dev.json not found (the shared SQuAD data)" >&2; exit 0; }
out=out/minilm
threads=${THREADS:-2}
teacher=$out/full/final
features=$out/full/features-train-s256-d128-q64.h5
windows=(--max-seq 256 --doc-stride 128)
scripts/fetch-minilm.sh
"$fb" train recipes/minilm-squad-full.yaml
[ -f "$out/eval-full-checkpoint.json" ] ||
  "$fb" eval squad --model "$teacher" --data "$data/dev.json" "${windows[@]}" --threads "$threads" > "$out/eval-full-checkpoint.json"
questions() { jq '[.data[].paragraphs[].qas[]] | length' "$1"; }
jq -n --slurpfile e "$out/eval-full-checkpoint.json" --slurpfile r "$out/full/train_report.json" \
  --argjson tq "$(questions "$data/squad-train-v1.json")" --argjson dq "$(questions "$data/dev.json")" '{
    model: "all-MiniLM-L6-v2 + QA head (recipes/minilm-squad-full.yaml)",
    train_questions: $tq, dev_questions: $dq, max_seq: 256, epochs: 2,
    dev_em: $e[0].exact_match, dev_f1: $e[0].f1,
    train_seconds: $r[0].train_seconds, train_examples_per_s: $r[0].train_examples_per_s }' \
  > bench/results/squad-dense.json
cat bench/results/squad-dense.json

"$fb" train recipes/minilm-squad-frontier.yaml
FASTBERT=$fb bench/frontier.sh recipes/minilm-squad-frontier.yaml "$teacher" "$data/dev.json" "$features" \
  bench/results/frontier.json bench/results/frontier.png "${windows[@]}"

# The 80 % student against its teacher: compression.json and runtime.json.
FASTBERT=$fb bench/run-compression.sh
