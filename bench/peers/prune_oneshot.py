"""One-shot magnitude pruning of a Hugging Face BERT checkpoint in 4x1 blocks:
the sparse weights of every engine when no trained student is given.

Every encoder Linear (query, key, value, attention output, intermediate,
output) loses the given fraction of its 4x1 blocks (4 consecutive output rows
of one input column, the runtime's sparse block) with the smallest summed
|w|, per layer. Embeddings, pooler and qa_outputs stay dense, as in fastbert's
own pruning (docs/compression.md). No training follows, so the accuracy is far
below a trained student's (bench/peers/student.py); the comparison is then of
engines only.

    python prune_oneshot.py --checkpoint DIR --out DIR [--sparsity 0.8]
"""
import argparse
import sys
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from sparse_weights import BLOCK_ROWS, ENCODER_LINEAR, write_checkpoint


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
    pruned = [name for name in tensors if ENCODER_LINEAR.match(name)]
    for name in pruned:
        tensors[name] = prune_blocks(tensors[name], a.sparsity)
    sparsity = write_checkpoint(a.out, tensors, a.checkpoint, {
        "source": "one-shot", "checkpoint": str(a.checkpoint.resolve()),
        "description": f"one-shot magnitude pruning of {a.checkpoint} (prune_oneshot.py: 4x1 blocks, per layer, "
                       f"{a.sparsity:g} of each encoder Linear's blocks, no training after)",
        "int8_scales": None})
    print(f"pruned {len(pruned)} linears to {sparsity:.3f} zero blocks -> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
