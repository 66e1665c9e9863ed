#!/usr/bin/env bash
# Makes the two virtual environments bench/peers/run.sh needs, from PyPI:
#   .venv             torch, transformers, onnx, onnxruntime, h5py, torchmetrics, matplotlib
#   .venv-deepsparse  deepsparse 1.8.0 (pins its own numpy and onnx)
# Idempotent: an environment whose requirements file has not changed is kept.
# No wheel cache is kept (torch and its CUDA libraries are several GB).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}  # Debian 12: python3 3.11 + python3-venv (scripts/install-deps.sh)
"$PYTHON" -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] <= (3, 11) else 1)' || {
  echo "setup.sh: deepsparse 1.8.0 needs Python 3.8-3.11; $("$PYTHON" --version) found (set PYTHON=...)" >&2
  exit 1
}

make_env() {  # make_env DIR REQUIREMENTS
  local dir=$1 req=$2 stamp=$1/.requirements
  if [[ -f $stamp ]] && cmp -s "$req" "$stamp"; then
    echo "setup.sh: $dir is up to date"
    return
  fi
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/python" -m pip install --no-cache-dir --quiet --upgrade pip==24.3.1
  "$dir/bin/python" -m pip install --no-cache-dir --quiet -r "$req"
  cp "$req" "$stamp"
  echo "setup.sh: made $dir"
}

make_env .venv requirements.txt
make_env .venv-deepsparse requirements-deepsparse.txt
.venv/bin/python -c 'import torch, onnxruntime, transformers, h5py; print("torch", torch.__version__, "onnxruntime", onnxruntime.__version__)'
.venv-deepsparse/bin/python -c 'import deepsparse; print("deepsparse", deepsparse.__version__)'
