#!/usr/bin/env bash
# Reproduces bench/results/: the full kernel benchmark against oneDNN as it
# chooses (AMX int8 on Sapphire Rapids) and against oneDNN limited to
# AVX512-VNNI, cache-hot; then fresh activations on the issue's key points.
# Run on an otherwise idle machine (check `uptime`): 2-thread timings are only
# meaningful when both cores are free.
set -euo pipefail
cd "$(dirname "$0")/.."
FASTBERT=${FASTBERT:-build/cli/fastbert}
mkdir -p bench/results
"$FASTBERT" bench kernels --csv bench/results/kernels.csv --plot bench/results/kernels.png "$@"
DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI "$FASTBERT" bench kernels \
  --csv bench/results/kernels_onednn_vnni.csv --plot bench/results/kernels_onednn_vnni.png "$@"
DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI "$FASTBERT" bench kernels --fresh \
  --shape 768x768,768x3072,3072x768 --m 128,384 --sparsity 70,80,90 \
  --csv bench/results/kernels_fresh_onednn_vnni.csv "$@"
