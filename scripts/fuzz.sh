#!/bin/sh
# Fuzzes every reader of user files for a bounded time each (tests/fuzz):
#   scripts/fuzz.sh [SECONDS_PER_TARGET=20] [FUZZ_BUILD_DIR=build-fuzz] [BUILD_DIR=build]
# .fbm models, tokenized-data and logits .h5, safetensors, quantization.json,
# SQuAD JSON and recipes: 7 targets, 20 s each by default (under 3 minutes
# with the builds cached). Seeds come from the regular (gcc) build
# (make_fuzz_seeds, recipes/); the targets are built with clang + libFuzzer +
# ASan. A crash input is written to tests/fuzz/regressions/<target>/ (commit
# it: tests/export/test_fuzz_regressions.cpp replays that folder in ctest) and
# the script fails.
set -eu
seconds=${1:-20}
fuzz_build=${2:-build-fuzz}
build=${3:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
targets="fbm_loader_fuzz squad_features_fuzz squad_logits_fuzz safetensors_fuzz quantization_json_fuzz squad_json_fuzz recipe_fuzz"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target make_fuzz_seeds
CC=clang CXX=clang++ cmake -S "$root" -B "$fuzz_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFASTBERT_FUZZ=ON -DFASTBERT_BUILD_TRAINING=OFF >/dev/null
# shellcheck disable=SC2086
cmake --build "$fuzz_build" -j"${JOBS:-2}" --target $targets
seeds="$fuzz_build/fuzz-seeds"
"$build/tests/engine/make_fuzz_seeds" "$seeds"
mkdir -p "$seeds/recipe_fuzz"
cp "$root"/recipes/*.yaml "$seeds/recipe_fuzz/"
failed=""
for t in $targets; do
  corpus="$fuzz_build/fuzz-corpus/$t"
  crashes="$root/tests/fuzz/regressions/$t"
  mkdir -p "$corpus" "$crashes"
  echo "== $t: $seconds s"
  # HDF5 keeps global state, so leaks at exit are not what this run looks for;
  # a corrupt header makes HDF5 ask malloc for terabytes, which fails (NULL, an
  # HDF5 error, a fastbert::Error) in production: let ASan return NULL too.
  if ! ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$fuzz_build/tests/fuzz/$t" "$corpus" "$seeds/$t" \
      -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=4096 -malloc_limit_mb=2000000000 -timeout=20 \
      -artifact_prefix="$crashes/" -print_final_stats=1 2>"$fuzz_build/$t.log"; then
    tail -n 40 "$fuzz_build/$t.log"
    failed="$failed $t"
  else
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$fuzz_build/$t.log" | tr '\n' ' '
    echo
  fi
done
rmdir "$root"/tests/fuzz/regressions/*/ 2>/dev/null || true
if [ -n "$failed" ]; then
  echo "fuzz: crash in$failed; inputs in tests/fuzz/regressions/<target>/" >&2
  exit 1
fi
