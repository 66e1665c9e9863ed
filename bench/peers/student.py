"""A trained sparse student (a `fastbert train` snapshot, e.g.
out/minilm/frontier/snapshots/s80) as the sparse weights of every engine.

The snapshot's encoder Linears are multiplied by its block masks
(masks.safetensors: 1 keeps a 4x1 block) and written with its config,
tokenizer and quantization.json (the QAT activation scales that fastbert's
sparse int8 export uses, as bench/run-compression.sh exports it) into one
directory that fastbert and the peers all read: whatever the snapshot's
weights hold inside a pruned block, every engine runs the same zeros. The
count of nonzero weights the masks removed goes to sparse_source.json (a
snapshot of fastbert train applies its masks at every step, so it is 0).

    python student.py --snapshot DIR --out DIR
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

from sparse_weights import BLOCK_ROWS, ENCODER_LINEAR, write_checkpoint

MASK_SUFFIX = ".mask"


def read_masks(path: Path) -> dict:
    if not path.is_file():
        raise SystemExit(f"{path}: no such file; a pruned snapshot of `fastbert train` has its block masks there "
                         "(expected OUTPUT/snapshots/sNN of a recipe with a prune stage)")
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata() or {}
        block = (meta.get("block_rows"), meta.get("block_cols"))
        if meta.get("format") != "fastbert-block-masks":
            raise SystemExit(f"{path}: metadata 'format' is {meta.get('format')!r}, expected 'fastbert-block-masks'")
        if block != (str(BLOCK_ROWS), "1"):
            raise SystemExit(f"{path}: masks of {block[0]}x{block[1]} blocks; the peers' sparse rows need "
                             f"{BLOCK_ROWS}x1 (the runtime's sparse int8 block)")
        return {k[:-len(MASK_SUFFIX)]: f.get_tensor(k) for k in f.keys() if k.endswith(MASK_SUFFIX)}


def apply_masks(tensors: dict, masks: dict, masks_file: Path) -> int:
    """Zeroes every pruned block in place; returns how many nonzero weights that removed."""
    if not masks:
        raise SystemExit(f"{masks_file}: holds no '<layer>.weight{MASK_SUFFIX}' tensors")
    removed = 0
    for name, mask in masks.items():
        if not ENCODER_LINEAR.match(name):
            raise SystemExit(f"{masks_file}: mask '{name}{MASK_SUFFIX}' is of no encoder Linear weight")
        if name not in tensors:
            raise SystemExit(f"{masks_file}: mask '{name}{MASK_SUFFIX}' has no weight '{name}' in model.safetensors")
        w = tensors[name]
        want = (w.shape[0] // BLOCK_ROWS, w.shape[1])
        if mask.shape != want:
            raise SystemExit(f"{masks_file}: mask '{name}{MASK_SUFFIX}' is {list(mask.shape)}, expected {list(want)} "
                             f"for the {list(w.shape)} weight in {BLOCK_ROWS}x1 blocks")
        keep = np.repeat(mask != 0, BLOCK_ROWS, axis=0)
        removed += int(np.count_nonzero(w[~keep]))
        tensors[name] = np.where(keep, w, np.float32(0)).astype(np.float32)
    return removed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshot", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    a = ap.parse_args()
    if a.out.resolve() == a.snapshot.resolve():
        raise SystemExit("--out is the --snapshot directory; refusing to overwrite the input")
    weights = a.snapshot / "model.safetensors"
    if not weights.is_file():
        raise SystemExit(f"{weights}: no such file (expected a snapshot directory of `fastbert train`)")
    quantization = a.snapshot / "quantization.json"
    if not quantization.is_file():
        raise SystemExit(f"{quantization}: no such file; the student's sparse int8 export uses its own QAT scales "
                         "(a snapshot of a stage with `quantize: {mode: qat}` has them)")
    masks_file = a.snapshot / "masks.safetensors"
    tensors = load_file(str(weights))
    removed = apply_masks(tensors, read_masks(masks_file), masks_file)
    report = a.snapshot / "compression_report.json"
    trained = json.loads(report.read_text()).get("sparsity") if report.is_file() else None
    sparsity = write_checkpoint(a.out, tensors, a.snapshot, {
        "source": "student", "checkpoint": str(a.snapshot.resolve()),
        "description": f"the trained student {a.snapshot} (fastbert train snapshot, masks applied)",
        "int8_scales": "the student's own QAT scales (quantization.json)",
        "nonzero_weights_removed_by_masks": removed, "compression_report_sparsity": trained},
        extra_files=("quantization.json", "masks.safetensors", "compression_report.json"))
    print(f"student {a.snapshot}: {sparsity:.3f} zero blocks, {removed} nonzero weights removed by its masks "
          f"-> {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
