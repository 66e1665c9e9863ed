#!/bin/sh
# Runtime benchmark on a random BERT-base-shaped checkpoint with 80 % 4x1
# block sparsity (no trained model needed):
#   scripts/bench-runtime.sh [WORK_DIR=/tmp/fastbert-bench-runtime] [BUILD_DIR=build]
# Exports it sparse int8, dense int8 and fp32, and times the three and
# LibTorch fp32 on the same checkpoint in one `fastbert bench model` run
# (interleaved rounds, medians) at sequence 128 and 384, batch 1 and 8, with
# --profile. The JSON result lands in WORK_DIR/runtime.json.
set -eu
work=${1:-/tmp/fastbert-bench-runtime}
build=${2:-build}
seconds=${MIN_SECONDS:-1}
threads=${THREADS:-2}
mkdir -p "$work"
[ -f "$work/ckpt/model.safetensors" ] || "$build/tests/engine/make_random_bert" "$work/ckpt"
fb="$build/cli/fastbert"
"$fb" export --checkpoint "$work/ckpt" --out "$work/sparse.fbm" | tail -1
"$fb" export --checkpoint "$work/ckpt" --out "$work/dense.fbm" --sparse-threshold 1.0 | tail -1
"$fb" export --checkpoint "$work/ckpt" --out "$work/fp32.fbm" --precision fp32 | tail -1
"$fb" bench model --model "sparse_int8=$work/sparse.fbm,dense_int8=$work/dense.fbm,fp32=$work/fp32.fbm" \
  --batch 1,8 --seq 128,384 --profile --latency-ms 100 --min-seconds "$seconds" --threads "$threads" \
  --compare-checkpoint "$work/ckpt" --json "$work/runtime.json"
