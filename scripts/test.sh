#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test; then the
# runtime side again under AddressSanitizer + UBSan. (The .fbm loader fuzzer,
# scripts/fuzz-fbm.sh, is not run here until tests/fuzz/open-crashes is empty.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"$(nproc)"
scripts/test-sanitize.sh
