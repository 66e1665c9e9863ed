#!/usr/bin/env bash
# One command: fastbert beside PyTorch, ONNX Runtime and DeepSparse on one
# checkpoint, interleaved, with F1 (bench/peers/README.md). Extra arguments go
# to bench.py (e.g. --rounds 3 --batch 1,8 --seq 128,384 --f1-questions 500).
#   CHECKPOINT         fine-tuned Hugging Face QA checkpoint (dense)  (default out/minilm/full/final)
#   SPARSE_CHECKPOINT  its trained sparse student for every sparse row, a fastbert train snapshot
#                      (e.g. out/minilm/frontier/snapshots/s80)   (default: one-shot pruning of CHECKPOINT)
#   DATA               SQuAD dev JSON for F1                   (default ../shared/data/squad/dev.json)
#   CALIB              SQuAD JSON for int8 calibration         (default ../shared/data/squad/train.json)
set -euo pipefail
cd "$(dirname "$0")/../.."
bench/peers/setup.sh
exec bench/peers/.venv/bin/python bench/peers/bench.py \
  --checkpoint "${CHECKPOINT:-out/minilm/full/final}" \
  ${SPARSE_CHECKPOINT:+--sparse-checkpoint "$SPARSE_CHECKPOINT"} \
  --data "${DATA:-../shared/data/squad/dev.json}" \
  --calibration-data "${CALIB:-../shared/data/squad/train.json}" "$@"
