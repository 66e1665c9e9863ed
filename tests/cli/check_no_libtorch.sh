#!/usr/bin/env bash
# Fails when the given binary depends, directly or transitively, on LibTorch.
set -euo pipefail
bin=$1
deps=$(ldd "$bin")
if grep -E 'libtorch|libc10|libcaffe2' <<<"$deps"; then
  echo "FAIL: $bin links LibTorch" >&2
  exit 1
fi
echo "ok: $bin does not link LibTorch ($(wc -l <<<"$deps") libraries checked)"
