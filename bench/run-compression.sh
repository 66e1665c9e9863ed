#!/usr/bin/env bash
# The 80 % student of issue 12's frontier on all-MiniLM-L6-v2
# (OUTPUT/snapshots/s80 of recipes/minilm-squad-frontier.yaml, made by
# bench/run-frontier.sh, which calls this script at its end) against its
# full-data teacher (recipes/minilm-squad-full.yaml). On
# ../shared/data/squad/dev.json: EM/F1 of the teacher checkpoint, the student in
# fp32 and int8 (runtime .fbm exports); and, measured in one run on the same
# machine (interleaved rounds, medians), sequences/s of the sparse int8 export,
# the teacher's dense int8 and fp32 exports and LibTorch fp32 on the student's
# checkpoint. Writes bench/results/compression.json and
# bench/results/runtime.json. RESULTS_ONLY=1 re-assembles the JSON from
# out/minilm.
set -euo pipefail
cd "$(dirname "$0")/.."
fb=${FASTBERT:-build/cli/fastbert}
data=../shared/data/squad
[ -f "$data/dev.json" ] || { echo "skipped: $data/dev.json not found (the shared SQuAD data)" >&2; exit 0; }
out=out/minilm
threads=${THREADS:-2}
recipe=recipes/minilm-squad-frontier.yaml
teacher=$out/full/final
student=$out/frontier/snapshots/s80
windows=(--max-seq 256 --doc-stride 128)
evaluate() { "$fb" eval squad --model "$1" --data "$data/dev.json" "${windows[@]}" --threads "$threads" > "$2"; }
if [ -z "${RESULTS_ONLY:-}" ]; then
  for d in "$teacher" "$student"; do
    [ -f "$d/model.safetensors" ] || { echo "error: $d not found: run bench/run-frontier.sh first" >&2; exit 1; }
  done
  [ -f "$out/eval-full-checkpoint.json" ] || evaluate "$teacher" "$out/eval-full-checkpoint.json"
  "$fb" export --checkpoint "$teacher" --out "$out/minilm-fp32.fbm" --precision fp32
  "$fb" export --checkpoint "$teacher" --out "$out/minilm-int8.fbm" --precision int8 \
    --calibration-data "$out/full/features-train-s256-d128-q64.h5" --calibration-windows 128
  "$fb" export --checkpoint "$student" --out "$out/sparse80-fp32.fbm" --precision fp32
  "$fb" export --checkpoint "$student" --out "$out/sparse80-int8.fbm" --precision int8 | tee "$out/export-sparse80-int8.txt"
  for m in minilm-fp32 minilm-int8 sparse80-fp32 sparse80-int8; do
    evaluate "$out/$m.fbm" "$out/eval-$m.json"
  done

  # Speed in one run: the three exports and LibTorch fp32 on the student's
  # checkpoint, interleaved round by round (median of 3 rounds each).
  "$fb" bench model --model "sparse_int8=$out/sparse80-int8.fbm,dense_int8=$out/minilm-int8.fbm,fp32=$out/minilm-fp32.fbm" \
    --batch 1,8 --seq 128,384 --threads "$threads" --rounds 3 --profile --compare-checkpoint "$student" \
    --json "$out/bench-runtime.json"
fi

f1() { jq '.f1' "$1"; }
jq -n --arg recipe "$recipe" --slurpfile r "$out/frontier/train_report.json" \
  --slurpfile c "$student/compression_report.json" \
  --argjson teacher "$(f1 "$out/eval-full-checkpoint.json")" \
  --argjson fp32 "$(f1 "$out/eval-sparse80-fp32.json")" --argjson int8 "$(f1 "$out/eval-sparse80-int8.json")" '{
    recipe: $recipe, block: "4x1",
    sparsity: $c[0].sparsity,
    teacher_f1: $teacher,
    teacher_f1_source: "fastbert eval squad on dev.json of the teacher checkpoint out/minilm/full/final (LibTorch), trained on the full SQuAD v1.1 training set (recipes/minilm-squad-full.yaml)",
    sparse_fp32_f1: $fp32, sparse_int8_f1: $int8,
    train_seconds: $r[0].train_seconds,
    notes: "dev.json (1746 questions), seq 256 / stride 128. teacher: the dense fine-tuned checkpoint (LibTorch); sparse fp32 / int8: the final student exported to .fbm at fp32 / int8 and run by the runtime. sparsity: fraction of zero 4x1 blocks over all encoder linears. train_seconds: the training steps of every stage of the whole frontier run (all four levels; the 80 % student is its third snapshot), summed over the resumed pieces." }' \
  > bench/results/compression.json

jq -n --slurpfile c "$out/eval-full-checkpoint.json" \
  --slurpfile f "$out/eval-minilm-fp32.json" --slurpfile i "$out/eval-minilm-int8.json" \
  --slurpfile sf "$out/eval-sparse80-fp32.json" --slurpfile si "$out/eval-sparse80-int8.json" \
  --slurpfile b "$out/bench-runtime.json" \
  --argjson sf32 "$(stat -c %s "$out/minilm-fp32.fbm")" --argjson si8 "$(stat -c %s "$out/minilm-int8.fbm")" \
  --argjson ss8 "$(stat -c %s "$out/sparse80-int8.fbm")" \
  --argjson sc "$(stat -c %s "$teacher/model.safetensors")" '{
    model: "all-MiniLM-L6-v2 QA on dev.json: the dense teacher (checkpoint, fp32 and dense int8 exports) and its 80 % 4x1 sparse int8 student (snapshot s80 of recipes/minilm-squad-frontier.yaml)",
    f1_checkpoint: $c[0].f1, f1_fp32_export: $f[0].f1, f1_int8_export: $i[0].f1,
    f1_sparse_fp32_export: $sf[0].f1, f1_sparse_int8_export: $si[0].f1,
    fbm_bytes_fp32: $sf32, fbm_bytes_int8: $si8, fbm_bytes_sparse_int8: $ss8, checkpoint_bytes: $sc,
    threads: $b[0].threads, rounds: $b[0].rounds, vnni_peak_gops_1_thread: $b[0].vnni_peak_gops_1_thread,
    seq_per_s: $b[0].seq_per_s, profile: $b[0].profile }' \
  > bench/results/runtime.json
cat bench/results/compression.json bench/results/runtime.json
