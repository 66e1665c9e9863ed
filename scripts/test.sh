#!/usr/bin/env bash
# The test command: installs dependencies, builds, runs every test; fuzzes
# every reader of user files for 20 s each (scripts/fuzz.sh); then the runtime side again under AddressSanitizer
# + UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j"$(nproc)"
scripts/fuzz.sh 20 build-fuzz "${BUILD_DIR:-build}"
scripts/test-sanitize.sh
