#!/usr/bin/env bash
# Load benchmark of `fastbert serve` on loopback, bounded in time (about 2
# minutes): wrk (Debian) posts real SQuAD dev questions to /v1/qa at 1, 8, 32
# and 128 connections, then overloads a server with a small queue to show the
# 503s; `fastbert bench model` runs the same model at the server's batch and
# the mean window length the served questions made, in the same run, so the
# serving overhead is a measured ratio. Writes bench/results/serve.json.
#
# MODEL=path.fbm to use your model; by default a random-weight model of
# MiniLM-L6's shape (384 hidden, 6 layers, 12 heads, 1536 intermediate), 80 %
# 4x1 block-sparse int8, the student of docs/compression.md, made here.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
fb=$build/cli/fastbert
seconds=${SECONDS_PER_RUN:-8}
threads=${THREADS:-2}
batch=${BATCH:-16}
dev=../shared/data/squad/dev.json
out=out/bench-serve
mkdir -p "$out"
command -v wrk >/dev/null || { echo "wrk is not installed (scripts/install-deps.sh)" >&2; exit 1; }
[ -f "$dev" ] || { echo "skipped: $dev not found (the shared SQuAD data)" >&2; exit 0; }

model=${MODEL:-}
if [ -z "$model" ]; then
  model=$out/minilm-shape-sparse80-int8.fbm
  if [ ! -f "$model" ]; then
    "$build/tests/engine/make_random_bert" "$out/random-ckpt" 384 6 12 1536 0.8
    "$fb" export --checkpoint "$out/random-ckpt" --out "$model" --precision int8 >/dev/null
  fi
fi
# Real questions, each with its paragraph: one /v1/qa body per line.
jq -c '.data[].paragraphs[] | .context as $c | .qas[] | {question: .question, context: $c}' "$dev" \
  | head -n 2000 > "$out/bodies.jsonl"

server_pid=
stop_server() { [ -n "$server_pid" ] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" || true; server_pid=; }
trap stop_server EXIT
start_server() {  # extra options...
  "$fb" serve --model "$model" --port 0 --threads "$threads" --max-batch "$batch" --max-delay-ms 2 --quiet "$@" \
    > "$out/ready.txt" 2> "$out/server.log" &
  server_pid=$!
  for _ in $(seq 300); do grep -q ready "$out/ready.txt" 2>/dev/null && break; sleep 0.1; done
  port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out/ready.txt")
  [ -n "$port" ] || { cat "$out/server.log" >&2; exit 1; }
  cat "$out/ready.txt" >&2
}
load() {  # connections seconds
  BODIES=$out/bodies.jsonl wrk -t "$(($1 < 2 ? 1 : 2))" -c "$1" -d "${2}s" --timeout 10s -s bench/serve-load.lua \
    "http://127.0.0.1:$port" | grep '^{"requests"'
}
metric() { curl -s "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

start_server --max-queue 256
load 8 2 > /dev/null  # warm: every sequence bucket the questions reach
runs=()
for c in 1 8 32 128; do
  r=$(load "$c" "$seconds")
  echo "concurrency $c: $r" >&2
  runs+=("$(jq -c --argjson c "$c" '{concurrency: $c, rps, p50_ms, p99_ms, non2xx}' <<< "$r")")
done
windows=$(metric 'fastbert_request_windows_sum{model="'"$(basename "$model" .fbm)"'"}')
requests=$(metric 'fastbert_request_windows_count{model="'"$(basename "$model" .fbm)"'"}')
tokens=$(metric 'fastbert_window_tokens_sum{model="'"$(basename "$model" .fbm)"'"}')
stop_server

# Above the queue limit: 8 questions may wait, 64 connections ask.
start_server --max-queue 8
overload=$(load 64 "$seconds")
echo "overload (64 connections, --max-queue 8): $overload" >&2
stop_server

# The engine alone at the server's batch and the served windows' mean length
# rounded up to the engine's 32-token bucket.
seq=$(awk -v t="$tokens" -v w="$windows" 'BEGIN { s = int((t / w + 31) / 32) * 32; print (s < 32 ? 32 : s) }')
"$fb" bench model --model "$model" --batch "$batch" --seq "$seq" --threads "$threads" --rounds 3 \
  --json "$out/bench-model.json" >&2
bench_seq_per_s=$(jq '.seq_per_s[0].value' "$out/bench-model.json")

printf '%s\n' "${runs[@]}" | jq -s --arg model "$model" --argjson b "$bench_seq_per_s" --argjson batch "$batch" \
  --argjson seq "$seq" --argjson tokens "$(awk -v t="$tokens" -v w="$windows" 'BEGIN { print t / w }')" \
  --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson wpr "$(awk -v w="$windows" -v r="$requests" 'BEGIN { print w / r }')" \
  --argjson overload "$overload" --argjson threads "$threads" --arg cpu "$(lscpu | sed -n 's/^Model name: *//p')" '{
    model: $model, bench_model_seq_per_s: $b, batch: $batch, runs: .,
    seq: $seq, mean_window_tokens: $tokens, windows_per_request: $wpr, threads: $threads,
    windows_per_s_at_32_over_bench_model: ((.[] | select(.concurrency == 32) | .rps) * $wpr / $b),
    overload: ($overload + {concurrency: 64, max_queue: 8}),
    machine: ($cpu + ", " + ($threads | tostring) + " engine threads; wrk and the server share the cores; load average at the end " + $load)
  }' > bench/results/serve.json
cat bench/results/serve.json
