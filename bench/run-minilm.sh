#!/usr/bin/env bash
# The real run of issues 2 and 4 on all-MiniLM-L6-v2 and ../shared/data/squad:
# dense fine-tuning (recipes/minilm-squad.yaml, resumable), the checkpoint's
# dev EM/F1, its fp32 and int8 exports and their dev EM/F1, and the runtime vs
# LibTorch fp32 speed measured in one run. Writes bench/results/squad-dense.json
# and bench/results/runtime.json. Several hours of CPU on 2 cores: run it on an
# otherwise idle machine.
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
"$fb" export --checkpoint "$ckpt" --out "$out/minilm-fp32.fbm" --precision fp32
"$fb" export --checkpoint "$ckpt" --out "$out/minilm-int8.fbm" --precision int8 \
  --calibration-data "$out/run/features-train-s256-d128-q64.h5" --calibration-windows 128
for p in fp32 int8; do
  "$fb" eval squad --model "$out/minilm-$p.fbm" --data "$data/dev.json" "${windows[@]}" --threads "$threads" \
    > "$out/eval-$p.json"
done
"$fb" bench model --model "$out/minilm-int8.fbm" --batch 1,8 --seq 128,384 --threads "$threads" --profile \
  --compare-checkpoint "$ckpt" --json "$out/bench-int8.json"
"$fb" bench model --model "$out/minilm-fp32.fbm" --batch 1,8 --seq 128,384 --threads "$threads" \
  --json "$out/bench-fp32.json"
fi

questions() { jq '[.data[].paragraphs[].qas[]] | length' "$1"; }
jq -n --slurpfile e "$out/eval-checkpoint.json" --slurpfile r "$out/run/train_report.json" \
  --argjson tq "$(questions "$data/train.json")" --argjson dq "$(questions "$data/dev.json")" '{
    model: "all-MiniLM-L6-v2 + QA head (recipes/minilm-squad.yaml)",
    train_questions: $tq, dev_questions: $dq, max_seq: 256, epochs: 2,
    dev_em: $e[0].exact_match, dev_f1: $e[0].f1,
    train_seconds: $r[0].train_seconds, train_examples_per_s: $r[0].train_examples_per_s }' \
  > bench/results/squad-dense.json
jq -n --slurpfile c "$out/eval-checkpoint.json" --slurpfile f "$out/eval-fp32.json" --slurpfile i "$out/eval-int8.json" \
  --slurpfile bi "$out/bench-int8.json" --slurpfile bf "$out/bench-fp32.json" \
  --argjson sf "$(stat -c %s "$out/minilm-fp32.fbm")" --argjson si "$(stat -c %s "$out/minilm-int8.fbm")" \
  --argjson sc "$(stat -c %s "$ckpt/model.safetensors")" '{
    model: "all-MiniLM-L6-v2 QA, dense (no pruning yet), dev.json",
    f1_checkpoint: $c[0].f1, f1_fp32_export: $f[0].f1, f1_int8_export: $i[0].f1,
    fbm_bytes_fp32: $sf, fbm_bytes_int8: $si, checkpoint_bytes: $sc,
    seq_per_s: ([$bi[0].seq_per_s[] | if .engine == "fastbert" then .engine = "fastbert_dense_int8" else . end]
      + [$bf[0].seq_per_s[] | select(.engine == "fastbert") | .engine = "fastbert_fp32"]) }' \
  > bench/results/runtime.json
cat bench/results/squad-dense.json bench/results/runtime.json
