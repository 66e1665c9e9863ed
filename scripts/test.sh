#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test; fuzzes the
# .fbm loader for a minute; then the runtime side again under AddressSanitizer
# + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"$(nproc)"
scripts/fuzz-fbm.sh 60 build-fuzz "${BUILD_DIR:-build}"
scripts/test-sanitize.sh
