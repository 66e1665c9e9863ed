#!/usr/bin/env bash
# Installs every Debian package fastbert needs to build, test and run.
# Idempotent: does nothing when all packages are present.
set -euo pipefail
PACKAGES=(
  build-essential cmake ccache pkg-config git python3 python3-venv
  libtorch-dev libopenblas0-openmp libgloo-dev libjemalloc-dev iproute2
  libdnnl-dev ocl-icd-opencl-dev opencl-headers
  libxbyak-dev libsentencepiece-dev libyaml-cpp-dev libhdf5-dev hdf5-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libutf8proc-dev libspdlog-dev libfmt-dev
  libcpp-httplib-dev libmicrohttpd-dev wrk chromium gnuplot-nox jq curl
  clang libclang-rt-14-dev
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
