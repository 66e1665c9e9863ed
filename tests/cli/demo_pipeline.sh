#!/usr/bin/env bash
# The built-in demo trained for real (no mock): `train` makes the demo data,
# fine-tunes the teacher (recipes/demo.yaml) and runs the progressive student
# recipe (recipes/tiny-frontier.yaml) in WORK, as scripts/main-job.sh does;
# the other modes check what it left there.
#   demo_pipeline.sh FASTBERT SOURCE_DIR WORK train|teacher-f1|student-f1|snapshot-export
set -euo pipefail
fb=$1 src=$2 work=$3 mode=$4
demo=$work/out/demo
windows=(--max-seq 128 --doc-stride 64 --max-query 32)
f1() { jq '.f1' "$1"; }
case $mode in
  train)
    rm -rf "$work" && mkdir -p "$work/recipes"
    cp "$src/recipes/demo.yaml" "$src/recipes/tiny-frontier.yaml" "$work/recipes/"
    "$fb" make-demo --out "$demo" >/dev/null
    start=$(date +%s)
    "$fb" train "$work/recipes/demo.yaml" 2>"$work/teacher.log"
    echo "teacher trained in $(($(date +%s) - start)) s"
    "$fb" eval squad --model "$demo/run/final" --data "$demo/dev.json" "${windows[@]}" 2>/dev/null > "$work/eval-teacher.json"
    start=$(date +%s)
    "$fb" train "$work/recipes/tiny-frontier.yaml" 2>"$work/frontier.log"
    echo "frontier (3 levels) trained in $(($(date +%s) - start)) s"
    for level in s50 s80 s90; do
      "$fb" export --checkpoint "$demo/frontier/snapshots/$level" --out "$work/$level-int8.fbm" --precision int8 >/dev/null
      "$fb" eval squad --model "$work/$level-int8.fbm" --data "$demo/dev.json" "${windows[@]}" > "$work/eval-$level-int8.json"
    done
    ;;
  teacher-f1)
    t=$(f1 "$work/eval-teacher.json")
    echo "teacher dev F1 $t"
    jq -e --argjson t "$t" -n '$t >= 90' >/dev/null || { echo "FAIL: teacher dev F1 $t < 90" >&2; exit 1; }
    ;;
  student-f1)
    t=$(f1 "$work/eval-teacher.json")
    for level in s50 s80 s90; do
      s=$(f1 "$work/eval-$level-int8.json")
      sparsity=$(jq '.sparsity' "$demo/frontier/snapshots/$level/compression_report.json")
      echo "$level: block sparsity $sparsity, sparse int8 dev F1 $s (teacher $t)"
      jq -e -n --argjson s "$sparsity" --argjson l "0.${level#s}" '($s - $l) | fabs < 1e-3' >/dev/null ||
        { echo "FAIL: $level has block sparsity $sparsity" >&2; exit 1; }
    done
    s=$(f1 "$work/eval-s80-int8.json")
    jq -e -n --argjson s "$s" --argjson t "$t" '$s >= $t - 3' >/dev/null ||
      { echo "FAIL: the 80 % sparse int8 student's dev F1 $s is more than 3 below the teacher's $t" >&2; exit 1; }
    ;;
  snapshot-export)
    # The same snapshot scored through LibTorch (checkpoint, fp32) and through
    # the runtime (its fp32 .fbm export) by the same metric.
    snap=$demo/frontier/snapshots/s80
    "$fb" eval squad --model "$snap" --data "$demo/dev.json" "${windows[@]}" 2>/dev/null > "$work/eval-s80-checkpoint.json"
    "$fb" export --checkpoint "$snap" --out "$work/s80-fp32.fbm" --precision fp32 >/dev/null
    "$fb" eval squad --model "$work/s80-fp32.fbm" --data "$demo/dev.json" "${windows[@]}" > "$work/eval-s80-fp32.json"
    c=$(f1 "$work/eval-s80-checkpoint.json") e=$(f1 "$work/eval-s80-fp32.json")
    echo "s80 checkpoint F1 $c, its fp32 export $e"
    jq -e -n --argjson c "$c" --argjson e "$e" '($c - $e) | fabs <= 0.1' >/dev/null ||
      { echo "FAIL: the fp32 export scores $e, the checkpoint $c" >&2; exit 1; }
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
