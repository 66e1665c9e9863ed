#!/usr/bin/env bash
# Issue 17's model-level target: sparse int8 against the runtime's own dense
# int8 on random-weight models shaped like MiniLM (hidden 384, 6 layers, 12
# heads, intermediate 1536) and BERT-base (768, 12, 12, 3072), 4x1 blocks at
# 0 % (dense), 80 % and 90 %, all six exports timed in one interleaved
# `fastbert bench model` run with --profile (seq 128, batch 1 and 8; timing
# does not depend on the weights' values). Writes
# bench/results/model_sparsity.json: the run's own JSON plus, per shape and
# sparsity, the speed-up over that shape's dense int8 and the linears' share
# of the time. Run it on an otherwise idle machine (pause training runs).
#
#   bench/run-model-sparsity.sh            (ROUNDS=5 MIN_SECONDS=2 THREADS=nproc
#                                           RESULTS=bench/results/model_sparsity.json)
#
# FASTBERT_ISA is recorded in the file (fastbert_isa): model_sparsity_vnni.json
# is a Sapphire Rapids run at FASTBERT_ISA=avx512_bf16, the CPU without AMX.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
fb=${FASTBERT:-$build/cli/fastbert}
make_random=${MAKE_RANDOM_BERT:-$build/tests/engine/make_random_bert}
out=${OUT:-out/model-sparsity}
results=${RESULTS:-bench/results/model_sparsity.json}
rounds=${ROUNDS:-5}
min_seconds=${MIN_SECONDS:-2}
threads=${THREADS:-$(nproc)}
mkdir -p "$out" bench/results

models=()
model() {  # shape hidden layers heads intermediate sparsity_percent
  local name=$1-s$6 fbm=$out/$1-s$6-int8.fbm
  if [ ! -f "$fbm" ]; then
    "$make_random" "$out/$name-ckpt" "$2" "$3" "$4" "$5" "$(awk -v p="$6" 'BEGIN { print p / 100 }')" >/dev/null
    "$fb" export --checkpoint "$out/$name-ckpt" --out "$fbm" --precision int8 >/dev/null
    rm -rf "${out:?}/$name-ckpt"
  fi
  models+=("$name=$fbm")
}
for sparsity in 0 80 90; do
  model minilm 384 6 12 1536 "$sparsity"
  model bertbase 768 12 12 3072 "$sparsity"
done

list=$(IFS=,; echo "${models[*]}")
"$fb" bench model --model "$list" --batch 1,8 --seq 128 --rounds "$rounds" --min-seconds "$min_seconds" \
  --threads "$threads" --profile --json "$out/run.json" | tee "$out/run.txt"

# Speed-up of every export over the dense export of its shape, per (seq,
# batch), and the share of the time its linears took (dense or sparse).
jq --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
  --arg isa "${FASTBERT_ISA:-unset}" '
  def shape: sub("^fastbert_"; "") | sub("-s[0-9]+$"; "");
  def sparsity: capture("-s(?<p>[0-9]+)$").p | tonumber;
  . as $run
  | [.seq_per_s[] | select(.engine | test("-s0$"))] as $dense
  | {protocol: "bench/run-model-sparsity.sh: random-weight MiniLM- and BERT-base-shaped models, 4x1 block-sparse int8 exports at 0/80/90 %, one interleaved fastbert bench model run (median of the rounds) with --profile",
     cpu: $cpu, fastbert_isa: $isa, loadavg_after: $load, threads: .threads, rounds: .rounds, vnni_peak_gops_1_thread, int8_peak_gops_1_thread, int8_peak,
     speedup_over_dense_int8: [.seq_per_s[] | . as $r
       | ($dense[] | select((.engine | shape) == ($r.engine | shape) and .seq == $r.seq and .batch == $r.batch)) as $d
       | ($run.profile[] | select(.engine == $r.engine and .seq == $r.seq and .batch == $r.batch)) as $p
       | {shape: ($r.engine | shape), sparsity: ($r.engine | sparsity), seq: $r.seq, batch: $r.batch,
          seq_per_s: $r.value, p90_ms: $r.p90_ms, speedup: ($r.value / $d.value),
          linear_share: ([$p.share | to_entries[] | select(.key | startswith("linear")) | .value] | add)}],
     run: $run}' "$out/run.json" >"$results"
jq -r '.speedup_over_dense_int8[] | "\(.shape) \(.sparsity)% seq \(.seq) batch \(.batch): \(.seq_per_s | . * 10 | round / 10) seq/s, \(.speedup | . * 100 | round / 100)x dense int8, linears \(.linear_share * 100 | round)% of the time"' "$results"
echo "wrote $results"
