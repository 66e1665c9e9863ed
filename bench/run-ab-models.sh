#!/usr/bin/env bash
# Two fastbert binaries (before / after a change) on the same .fbm models,
# interleaved: ROUNDS alternations of one `fastbert bench model` round each
# (A then B), so that a noisy stretch of a shared machine hits both; per
# model, seq and batch the median sequences/s and p50 of each binary and
# their ratio. Writes RESULTS (JSON). Run it on an otherwise idle machine.
#
#   A=/path/to/old/fastbert B=build/cli/fastbert MODELS=name=file.fbm,... \
#     RESULTS=bench/results/x.json bench/run-ab-models.sh
#   (ROUNDS=5 MIN_SECONDS=2 THREADS=nproc BATCH=1,8 SEQ=128 NOTE="what A and B are")
set -euo pipefail
cd "$(dirname "$0")/.."
: "${A:?A: the binary before}" "${B:?B: the binary after}" "${MODELS:?MODELS: name=file.fbm,...}"
: "${RESULTS:?RESULTS: the JSON file to write}"
rounds=${ROUNDS:-5}
min_seconds=${MIN_SECONDS:-2}
threads=${THREADS:-$(nproc)}
batch=${BATCH:-1,8}
seq=${SEQ:-128}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for ((r = 0; r < rounds; ++r)); do
  for side in A B; do
    "${!side}" bench model --model "$MODELS" --batch "$batch" --seq "$seq" --rounds 1 --min-seconds "$min_seconds" \
      --threads "$threads" --json "$tmp/$side-$r.json" >/dev/null
  done
done

mkdir -p "$(dirname "$RESULTS")"
jq -s --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" --arg note "${NOTE:-}" \
  --arg a "$A" --arg b "$B" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson rounds "$rounds" \
  --arg isa "${FASTBERT_ISA:-unset}" '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  (.[0].threads) as $threads
  | [.[] | .side as $s | .seq_per_s[] | . + {side: $s}] as $all
  | {protocol: "bench/run-ab-models.sh: binaries A and B alternated, one fastbert bench model round each, \($rounds) rounds; medians",
     note: $note, cpu: $cpu, fastbert_isa: $isa, threads: $threads, loadavg_after: $load, a: $a, b: $b,
     results: [$all | group_by([.engine, .seq, .batch])[]
       | {engine: .[0].engine, seq: .[0].seq, batch: .[0].batch,
          a_seq_per_s: ([.[] | select(.side == "A") | .value] | median),
          b_seq_per_s: ([.[] | select(.side == "B") | .value] | median),
          a_p50_ms: ([.[] | select(.side == "A") | .p50_ms] | median),
          b_p50_ms: ([.[] | select(.side == "B") | .p50_ms] | median),
          a_rounds: [.[] | select(.side == "A") | .value], b_rounds: [.[] | select(.side == "B") | .value]}
       | . + {b_over_a: (.b_seq_per_s / .a_seq_per_s)}]}' \
  <(for f in "$tmp"/*.json; do jq --arg s "$(basename "$f" | cut -d- -f1)" '. + {side: $s}' "$f"; done) >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
jq -r '.results[] | "\(.engine) seq \(.seq) batch \(.batch): A \(.a_seq_per_s * 100 | round / 100) seq/s, B \(.b_seq_per_s * 100 | round / 100) seq/s, B/A \(.b_over_a * 100 | round / 100)"' "$RESULTS"
