#!/usr/bin/env bash
# Latency of the runtime beside competing busy processes (issue 17, item 5):
# `fastbert bench model` at seq 128, batch 1 and 8, p50/p90/p99, once on the
# machine as it is ("quiet") and once with one busy loop per core beside it
# ("busy": `sh -c 'while :; do :; done'`, bounded by `timeout`). Models: the
# demo's shape (hidden 64, 2 layers, 4 heads, 256 intermediate) and MiniLM's
# (384, 6, 12, 1536), random weights, 80 % 4x1 block-sparse int8 (timing does
# not depend on the weights' values; MODEL=path.fbm adds a model of yours).
#
#   bench/run-contention.sh [LABEL=FASTBERT_BINARY ...]
#
# Several binaries (e.g. before=old/fastbert after=build-rt/cli/fastbert) are
# measured interleaved, quiet then busy, so they see the same background load;
# default: this checkout's build. Writes bench/results/contention.json (or RESULTS). Bounded:
# every bench run and every busy loop is capped by `timeout`, and the loops are
# ended by their own process ids.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-rt}
make_random=${MAKE_RANDOM_BERT:-$build/tests/engine/make_random_bert}
out=${OUT:-out/contention}
results=${RESULTS:-bench/results/contention.json}
threads=${THREADS:-$(nproc)}
busy=${BUSY:-$(nproc)}
rounds=${ROUNDS:-3}
min_seconds=${MIN_SECONDS:-2}
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("current=$build/cli/fastbert")
fb=${binaries[-1]#*=}
mkdir -p "$out"

model() {  # name hidden layers heads intermediate
  local fbm=$out/$1-sparse80-int8.fbm
  if [ ! -f "$fbm" ]; then
    "$make_random" "$out/$1-ckpt" "$2" "$3" "$4" "$5" 0.8
    "$fb" export --checkpoint "$out/$1-ckpt" --out "$fbm" --precision int8 >/dev/null
  fi
  echo "$1=$fbm"
}
models="$(model demo 64 2 4 256),$(model minilm 384 6 12 1536)"
[ -n "${MODEL:-}" ] && models="$models,own=$MODEL"

bench() {  # condition
  for spec in "${binaries[@]}"; do
    local label=${spec%%=*} binary=${spec#*=}
    echo "== $label, $1"
    timeout 900 "$binary" bench model --model "$models" --batch 1,8 --seq 128 --rounds "$rounds" \
      --min-seconds "$min_seconds" --threads "$threads" --json "$out/$label-$1.json" | tee "$out/$label-$1.txt"
  done
}

bench quiet
pids=()
for _ in $(seq "$busy"); do
  timeout 1800 sh -c 'while :; do :; done' &
  pids+=($!)
done
stop_busy() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_busy EXIT
bench busy
stop_busy
trap - EXIT

[ -f "$results" ] || echo '{}' >"$results"
for spec in "${binaries[@]}"; do
  jq --arg name "${spec%%=*}" --arg cpu "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
    --arg kernel "$(uname -r)" --argjson cores "$(nproc)" --argjson busy "$busy" --argjson threads "$threads" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --slurpfile quiet "$out/${spec%%=*}-quiet.json" --slurpfile hot "$out/${spec%%=*}-busy.json" '
    .protocol = "bench/run-contention.sh: fastbert bench model, seq 128, batch 1 and 8, rounds interleaved, latency percentiles over every pass of every round; quiet = the machine as it is, busy = one `sh -c \"while :; do :; done\"` per core beside it; binaries interleaved per condition" |
    .models = "random-weight 80 % 4x1 block-sparse int8 exports (tests/engine/make_random_bert): demo = shaped like the demo model (hidden 64, 2 layers, 4 heads, intermediate 256), minilm = shaped like MiniLM (384, 6, 12, 1536)" |
    .machine_note = (env.MACHINE_NOTE // "quiet is the machine as it was (its load average is in each run), not necessarily an idle one") |
    .runs[$name] = {cpu: $cpu, kernel: $kernel, cores: $cores, threads: $threads, busy_processes: $busy,
                    loadavg_after: $load, quiet: $quiet[0].seq_per_s, busy: $hot[0].seq_per_s}' \
    "$results" >"$results.tmp"
  mv "$results.tmp" "$results"
done
echo "wrote $results"
