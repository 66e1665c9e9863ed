#!/usr/bin/env bash
# The main job on the built-in default: installs, builds, then runs the whole
# pipeline on a tiny BERT and synthetic SQuAD-style data that fastbert makes
# itself: make-demo -> (prepare) -> train -> prune+distill+quantize at three
# sparsity levels -> export -> eval (checkpoint and runtime) -> bench -> the
# table of F1 and speed. Everything goes to out/demo.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
fastbert=build/cli/fastbert
out=out/demo  # the recipes name this folder
windows=(--max-seq 128 --doc-stride 64 --max-query 32)

step() { printf '\n== %s\n' "$*" >&2; }

step "make the built-in data and tiny model in $out"
$fastbert make-demo --out "$out"

step "fine-tune the dense teacher (tokenises with fastbert prepare on first use; resumes if interrupted)"
$fastbert train recipes/demo.yaml

step "dense teacher on the held-out dev split (LibTorch, through fastbert-train predict)"
$fastbert eval squad --model "$out/run/final" --data "$out/dev.json" "${windows[@]}"

step "the accuracy-speed frontier: prune to 50, 80 and 90 % in 4x1 blocks while distilling from the teacher, QAT at each level"
$fastbert train recipes/tiny-frontier.yaml

step "export every level to sparse int8 and the teacher to fp32 and dense int8; dev F1 of each, and speed in one interleaved run"
SEQS=128 BATCHES=1,8 FASTBERT=$fastbert bench/frontier.sh recipes/tiny-frontier.yaml "$out/run/final" "$out/dev.json" \
  "$out/run/features-train-s128-d64-q32.h5" "$out/frontier.json" "$out/frontier.png" "${windows[@]}" > /dev/null
cp "$out/frontier/measured/dense-fp32.fbm" "$out/teacher-fp32.fbm"
cp "$out/frontier/measured/s80-int8.fbm" "$out/student-sparse80-int8.fbm"

step "both exports on the dev split, in the runtime"
$fastbert eval squad --model "$out/teacher-fp32.fbm" --data "$out/dev.json" "${windows[@]}"
$fastbert eval squad --model "$out/student-sparse80-int8.fbm" --data "$out/dev.json" "${windows[@]}" \
  --predictions-out "$out/dev-predictions.json"

step "serve the student over HTTP: one dev question to POST /v1/qa, then SIGTERM (docs/serve.md)"
$fastbert serve --model "demo=$out/student-sparse80-int8.fbm" --port 0 --quiet "${windows[@]}" \
  > "$out/serve-ready.txt" &
serve_pid=$!
trap 'kill -TERM $serve_pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do grep -q ready "$out/serve-ready.txt" 2>/dev/null && break; sleep 0.1; done
cat "$out/serve-ready.txt"
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out/serve-ready.txt")
[ -n "$port" ] || { echo "fastbert serve did not become ready" >&2; exit 1; }
question=$(jq -c '.data[0].paragraphs[0] | {question: .qas[0].question, context: .context}' "$out/dev.json")
echo "$question" | jq -c '{question}'
curl -sf -X POST "http://127.0.0.1:$port/v1/qa" -H 'Content-Type: application/json' -d "$question"
echo
kill -TERM "$serve_pid"
wait "$serve_pid"
trap - EXIT

step "runtime speed: sparse int8 student vs LibTorch fp32 teacher, same run"
$fastbert bench model --model "$out/student-sparse80-int8.fbm" --batch 1,8 --seq 128 --profile \
  --compare-checkpoint "$out/run/final"

step "kernel benchmark, one shape (full tables: bench/run-kernels.sh)"
$fastbert bench kernels --shape 768x768 --m 128 --sparsity 80,90

step "the frontier: dev F1 and sequences/s of the teacher and its students, measured together ($out/frontier.json, $out/frontier.png)"
cat "$out/frontier.md"
