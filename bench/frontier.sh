#!/usr/bin/env bash
# The accuracy-speed frontier of one progressive compression run: every
# snapshot of RECIPE (stages with `snapshot: true`, one per sparsity level,
# each ending in QAT) exported to sparse int8, and the dense teacher exported to
# fp32 and dense int8; dev EM/F1 of each .fbm from `fastbert eval squad`, and
# sequences/s of all of them in one interleaved `fastbert bench model` run.
#   bench/frontier.sh RECIPE TEACHER_CKPT DEV_JSON CALIBRATION_H5 OUT_JSON OUT_PNG [eval window options...]
# OUT_JSON: a list of {sparsity, precision, f1, em, seq_per_s} (seq_per_s as
# in runtime.json); beside it OUT_JSON's stem + .md (the table) and the work
# files in OUTPUT/measured/. Environment: FASTBERT (the binary), THREADS (2),
# ROUNDS (3), SEQS (128,384), BATCHES (1,8).
set -euo pipefail
[ $# -ge 6 ] || { sed -n 2,12p "$0" >&2; exit 2; }
recipe=$1 teacher=$2 dev=$3 calibration=$4 out_json=$5 out_png=$6
shift 6
windows=("$@")
fb=${FASTBERT:-build/cli/fastbert}
threads=${THREADS:-2}
output=$(dirname "$recipe")/$(sed -n 's/^output: *//p' "$recipe")
work=$output/measured
mkdir -p "$work"

evaluate() { "$fb" eval squad --model "$1" --data "$dev" "${windows[@]}" --threads "$threads" > "$2"; }

models=() rows=()
add() {  # add LABEL FBM SPARSITY PRECISION
  evaluate "$2" "$work/eval-$1.json"
  models+=("$1=$2")
  rows+=("$(jq -c --arg l "$1" --argjson s "$3" --arg p "$4" '{label: $l, sparsity: $s, precision: $p, f1: .f1, em: .exact_match}' \
    "$work/eval-$1.json")")
}

"$fb" export --checkpoint "$teacher" --out "$work/dense-fp32.fbm" --precision fp32 >/dev/null
"$fb" export --checkpoint "$teacher" --out "$work/dense-int8.fbm" --precision int8 \
  --calibration-data "$calibration" --calibration-windows 128 >/dev/null
add dense_fp32 "$work/dense-fp32.fbm" 0 fp32
add dense_int8 "$work/dense-int8.fbm" 0 int8
shopt -s nullglob
snapshots=("$output"/snapshots/*/)
((${#snapshots[@]})) || { echo "error: no snapshots in $output/snapshots (run fastbert train $recipe first)" >&2; exit 1; }
for dir in "${snapshots[@]}"; do
  name=$(basename "$dir")
  [ -f "$dir/quantization.json" ] || { echo "error: $dir has no quantization.json (its stage must end in QAT)" >&2; exit 1; }
  sparsity=$(jq '.sparsity' "$dir/compression_report.json")
  "$fb" export --checkpoint "$dir" --out "$work/$name-int8.fbm" --precision int8 >/dev/null
  add "$name" "$work/$name-int8.fbm" "$sparsity" int8
done

# Speed: every export in one run, interleaved round by round, medians.
"$fb" bench model --model "$(IFS=,; echo "${models[*]}")" --batch "${BATCHES:-1,8}" --seq "${SEQS:-128,384}" \
  --threads "$threads" --rounds "${ROUNDS:-3}" --json "$work/bench.json" >&2

printf '%s\n' "${rows[@]}" | jq -s --slurpfile b "$work/bench.json" '
  [ .[] as $r | ($b[0].seq_per_s | map(select(.engine == "fastbert_" + $r.label))) as $speed
    | $r + {seq_per_s: [ $speed[] | del(.engine) ]} ]
  | map(. + {cpu: $b[0].cpu, vnni_peak_gops_1_thread: $b[0].vnni_peak_gops_1_thread, threads: $b[0].threads})
  | sort_by(.sparsity, .precision)' > "$out_json"

# Table and plot: F1 against the speed-up over dense int8 (seq 128, batch 8 where measured).
table=${out_json%.json}.md
jq -r '
  (map(select(.label == "dense_int8"))[0].seq_per_s) as $base
  | "| model | sparsity | precision | dev EM | dev F1 | " + ($base | map("seq \(.seq) b\(.batch) seq/s") | join(" | ")) + " | speed-up vs dense int8 (seq \($base[-1].seq) b\($base[-1].batch)) |",
    "|" + ([range(0; 6 + ($base | length))] | map("---") | join("|")) + "|",
    (.[] | . as $r | "| \(.label) | \(.sparsity * 1000 | round / 10) % | \(.precision) | \(.em * 100 | round / 100) | \(.f1 * 100 | round / 100) | "
      + ($r.seq_per_s | map(.value * 10 | round / 10 | tostring) | join(" | "))
      + " | \(($r.seq_per_s[-1].value / $base[-1].value) * 100 | round / 100)x |")' "$out_json" > "$table"
cat "$table"
data=$work/plot.dat
jq -r '(map(select(.label == "dense_int8"))[0].seq_per_s[-1].value) as $b
  | .[] | "\(.seq_per_s[-1].value / $b) \(.f1) \(.label)"' "$out_json" > "$data"
point=$(jq -r '.[0].seq_per_s[-1] | "seq \(.seq), batch \(.batch)"' "$out_json")
cpu=$(jq -r '.[0].cpu // "this CPU"' "$out_json")
gnuplot <<GP
set terminal pngcairo size 900,600 noenhanced
set output "$out_png"
set title "Dev F1 against speed-up over dense int8 ($point, $threads threads, $cpu)"
set xlabel "speed-up over the dense int8 export"
set ylabel "dev F1"
set grid
set key off
plot "$data" using 1:2 with points pt 7 ps 1.5, "" using 1:2:3 with labels offset 0,1.2
GP
echo "wrote $out_json, $table, $out_png" >&2
