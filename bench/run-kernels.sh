#!/usr/bin/env bash
# Reproduces bench/results/kernels.csv, kernels.png and kernels_fresh.csv:
# both SpMM families (4x1 on feature-major activations, 1x4 on the
# [K/4][M][4] quad layout) on the same dense weights, against oneDNN's dense
# int8 restricted to AVX512-VNNI (no AMX), on the BERT-base shapes at M = 128
# and 384, from dense to 90 % block sparsity. One interleaved run per file
# (all engines sampled in turn, medians). One thread timed by its own CPU
# clock, so that other processes on a shared machine do not count; then the
# same on 2 threads by the wall clock (kernels_2threads.csv), which is only
# meaningful when both cores are otherwise idle (check `uptime`).
set -euo pipefail
cd "$(dirname "$0")/.."
FASTBERT=${FASTBERT:-build/cli/fastbert}
mkdir -p bench/results
# The committed kernels*.csv compare against VNNI and state its peak: on a
# CPU without it they would be overwritten by AVX2 timings against a peak of
# 0. There (AVX2 only: AMD EPYC Zen 2/3, session 14) the SpMM families are
# measured against the runtime's own dense int8 (dense_int8_avx2, exact
# vpmaddwd) and oneDNN's AVX2 int8 (vpmaddubsw, which saturates), with the
# points between 0 and 50 % that place the crossover: kernels_avx2*.csv.
if ! grep -qw avx512_vnni /proc/cpuinfo; then
  if ! grep -qw avx2 /proc/cpuinfo; then
    echo "bench/run-kernels.sh: this CPU has neither AVX512-VNNI nor AVX2; bench/results/ left as it is" >&2
    exit 2
  fi
  avx2_points=(--shape 768x768,768x3072,3072x768,384x384,384x1536,1536x384 --m 128,384 --sparsity 0,30,40,50,70,80,90)
  "$FASTBERT" bench kernels --threads 1 --cpu-time "${avx2_points[@]}" --csv bench/results/kernels_avx2.csv "$@"
  "$FASTBERT" bench kernels --threads 2 "${avx2_points[@]}" --csv bench/results/kernels_avx2_2threads.csv "$@"
  exit 0
fi
points=(--shape 768x768,768x3072,3072x768 --m 128,384 --sparsity 0,50,70,80,90)
(
  export DNNL_MAX_CPU_ISA=AVX512_CORE_VNNI
  "$FASTBERT" bench kernels --threads 1 --cpu-time "${points[@]}" \
    --csv bench/results/kernels.csv --plot bench/results/kernels.png "$@"
  "$FASTBERT" bench kernels --threads 1 --cpu-time --fresh "${points[@]}" --csv bench/results/kernels_fresh.csv "$@"
  "$FASTBERT" bench kernels --threads 2 "${points[@]}" --csv bench/results/kernels_2threads.csv "$@"
)
# On a CPU with AMX: the same against oneDNN's AMX int8 (token-major, and
# the runtime's own DenseInt8Primitive, which the crossover sparsity of
# runtime/src/layers/linear.cpp chooses against), with the points between
# 50 and 90 % that place the crossover (kernels_amx*.csv).
if grep -qw amx_int8 /proc/cpuinfo; then
  amx_points=(--shape 768x768,768x3072,3072x768 --m 128,384 --sparsity 0,50,60,70,75,80,85,90)
  "$FASTBERT" bench kernels --threads 1 --cpu-time "${amx_points[@]}" \
    --csv bench/results/kernels_amx.csv --plot bench/results/kernels_amx.png "$@"
  "$FASTBERT" bench kernels --threads 2 "${amx_points[@]}" --csv bench/results/kernels_amx_2threads.csv "$@"
  # MiniLM's shapes (hidden 384, intermediate 1536), where the crossover
  # sits lower than on BERT-base's.
  minilm_points=(--shape 384x384,384x1536,1536x384 --m 128,384 --sparsity 0,60,70,75,80,85,90)
  "$FASTBERT" bench kernels --threads 1 --cpu-time "${minilm_points[@]}" --csv bench/results/kernels_amx_minilm.csv "$@"
  "$FASTBERT" bench kernels --threads 2 "${minilm_points[@]}" --csv bench/results/kernels_amx_minilm_2threads.csv "$@"
  # The same CPU without AMX (as an Intel guest that hides it runs): the
  # runtime's dense int8 is then the AVX512-VNNI kernel, and the points
  # between 0 and 60 % place its crossover (kernels_vnni*.csv).
  vnni_points=(--shape 768x768,768x3072,3072x768,384x384,384x1536,1536x384 --m 128,384 --sparsity 0,30,40,50,60)
  FASTBERT_ISA=avx512_bf16 "$FASTBERT" bench kernels --threads 1 --cpu-time "${vnni_points[@]}" \
    --csv bench/results/kernels_vnni.csv "$@"
  FASTBERT_ISA=avx512_bf16 "$FASTBERT" bench kernels --threads 2 "${vnni_points[@]}" \
    --csv bench/results/kernels_vnni_2threads.csv "$@"
  # And at AVX-VNNI (ymm): the dense kernel's narrow variant against the 4x1
  # SpMM's AVX-VNNI path.
  FASTBERT_ISA=avx_vnni "$FASTBERT" bench kernels --threads 1 --cpu-time \
    --shape 768x768,768x3072,3072x768,384x1536 --m 128,384 --sparsity 0,30,50,70 \
    --csv bench/results/kernels_avxvnni.csv "$@"
fi
