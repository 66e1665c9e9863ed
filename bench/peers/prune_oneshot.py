"""One-shot magnitude pruning of a Hugging Face BERT checkpoint in 4x1 blocks.

Every encoder Linear (query, key, value, attention output, intermediate,
output) loses the given fraction of its 4x1 blocks (4 consecutive output rows
of one input column, the runtime's sparse block) with the smallest summed
|w|, per layer. Embeddings, pooler and qa_outputs stay dense, as in fastbert's
own pruning (docs/compression.md). No training follows: the same pruned
weights go to every engine, so the comparison is of engines, not of recipes.

    python prune_oneshot.py --checkpoint DIR --out DIR [--sparsity 0.8]
"""
import argparse
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

ENCODER_LINEAR = re.compile(
    r"^bert\.encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|"
    r"intermediate\.dense|output\.dense)\.weight$")
BLOCK_ROWS = 4


def prune_blocks(w: np.ndarray, sparsity: float) -> np.ndarray:
    out_features, in_features = w.shape
    if out_features % BLOCK_ROWS:
        raise SystemExit(f"weight of {out_features} rows is not a multiple of the {BLOCK_ROWS}-row block")
    blocks = np.abs(w).reshape(out_features // BLOCK_ROWS, BLOCK_ROWS, in_features).sum(axis=1)
    pruned = int(round(sparsity * blocks.size))
    order = np.argsort(blocks, axis=None, kind="stable")  # ties: lower index pruned first
    keep = np.ones(blocks.size, dtype=bool)
    keep[order[:pruned]] = False
    mask = np.repeat(keep.reshape(blocks.shape), BLOCK_ROWS, axis=0)
    return np.where(mask, w, np.float32(0)).astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--sparsity", type=float, default=0.8)
    a = ap.parse_args()
    if not 0 <= a.sparsity < 1:
        raise SystemExit(f"--sparsity: {a.sparsity} is outside [0, 1)")
    src = a.checkpoint / "model.safetensors"
    if not src.is_file():
        raise SystemExit(f"{src}: no such file (expected a Hugging Face checkpoint directory)")
    if a.out.resolve() == a.checkpoint.resolve():
        raise SystemExit("--out is the --checkpoint directory; refusing to overwrite the input")
    tensors = load_file(str(src))
    report = {}
    for name, w in tensors.items():
        if ENCODER_LINEAR.match(name):
            tensors[name] = prune_blocks(w, a.sparsity)
            report[name] = float((tensors[name] == 0).mean())
    if not report:
        raise SystemExit(f"{src}: no encoder Linear weights with Hugging Face BERT names")
    a.out.mkdir(parents=True, exist_ok=True)
    for f in a.checkpoint.iterdir():
        if f.is_file() and f.name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json"):
            shutil.copy2(f, a.out / f.name)
    # transformers refuses a safetensors file without format metadata.
    save_file(tensors, str(a.out / "model.safetensors"), metadata={"format": "pt"})
    (a.out / "oneshot_prune.json").write_text(json.dumps(
        {"criterion": "magnitude", "block": [BLOCK_ROWS, 1], "scope": "per_layer", "sparsity": a.sparsity,
         "zero_fraction": report}, indent=1) + "\n")
    print(f"pruned {len(report)} linears to {np.mean(list(report.values())):.3f} zeros -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
