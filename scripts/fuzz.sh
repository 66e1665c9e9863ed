#!/bin/sh
# Fuzzes the .fbm loader (tests/fuzz/fbm_loader_fuzz.cpp) for a bounded time:
#   scripts/fuzz-fbm.sh [SECONDS=60] [FUZZ_BUILD_DIR=build-fuzz] [BUILD_DIR=build]
# Seeds the corpus with real exports (fp32, dense int8, sparse int8) made by
# the regular (gcc) build, builds the loader with clang + libFuzzer + ASan, and
# fails on any crash.
set -eu
seconds=${1:-60}
fuzz_build=${2:-build-fuzz}
build=${3:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target make_fbm_seeds
CC=clang CXX=clang++ cmake -S "$root" -B "$fuzz_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFASTBERT_FUZZ=ON -DFASTBERT_BUILD_TRAINING=OFF >/dev/null
cmake --build "$fuzz_build" -j"${JOBS:-2}" --target fbm_loader_fuzz
corpus="$fuzz_build/fbm-fuzz-corpus"
mkdir -p "$corpus"
"$build/tests/engine/make_fbm_seeds" "$corpus"
# HDF5 keeps global state, so leaks at exit are not what this run looks for;
# a corrupt header makes HDF5 ask malloc for terabytes, which fails (NULL, an
# HDF5 error, a fastbert::Error) in production: let ASan return NULL too.
ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$fuzz_build/tests/fuzz/fbm_loader_fuzz" "$corpus" \
  -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=4096 -malloc_limit_mb=2000000000 -timeout=20 -print_final_stats=1
