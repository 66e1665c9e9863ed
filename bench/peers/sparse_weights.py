"""The sparse weights every engine's sparse row runs: a Hugging Face BERT QA
checkpoint directory plus `sparse_source.json`, which says where its zeros
came from (prune_oneshot.py or student.py write it) and measures them.

The block is the runtime's sparse block, 4x1: 4 consecutive output rows of
one input column. Only the encoder Linears are pruned (query, key, value,
attention output, intermediate, output); embeddings and qa_outputs stay
dense, as in fastbert's own pruning (docs/compression.md).
"""
import json
import re
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

ENCODER_LINEAR = re.compile(
    r"^bert\.encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|"
    r"intermediate\.dense|output\.dense)\.weight$")
BLOCK_ROWS = 4
SOURCE_FILE = "sparse_source.json"
# What a checkpoint directory needs besides its weights (config, tokenizer).
CHECKPOINT_FILES = ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def zero_blocks(w: np.ndarray) -> np.ndarray:
    """[out/4, in] booleans: which 4x1 blocks of `w` are all zero."""
    out_features, in_features = w.shape
    return ~np.any(w.reshape(out_features // BLOCK_ROWS, BLOCK_ROWS, in_features) != 0, axis=1)


def block_sparsity(tensors: dict) -> float:
    """Fraction of all-zero 4x1 blocks over every encoder Linear (the
    `sparsity` of fastbert's compression_report.json)."""
    zeros = total = 0
    for name, w in tensors.items():
        if ENCODER_LINEAR.match(name):
            z = zero_blocks(w)
            zeros += int(z.sum())
            total += z.size
    if not total:
        raise SystemExit("no encoder Linear weights with Hugging Face BERT names (bert.encoder.layer.N....weight)")
    return zeros / total


def write_checkpoint(out: Path, tensors: dict, like: Path, source: dict, extra_files=()) -> float:
    """`tensors` as `out`/model.safetensors beside `like`'s config and tokenizer
    files (and `extra_files` of `like`), with `source` and the measured block
    sparsity in `out`/sparse_source.json. Returns that sparsity."""
    sparsity = block_sparsity(tensors)
    out.mkdir(parents=True, exist_ok=True)
    for name in CHECKPOINT_FILES + tuple(extra_files):
        if (like / name).is_file():
            shutil.copy2(like / name, out / name)
    # transformers refuses a safetensors file without format metadata.
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    (out / SOURCE_FILE).write_text(json.dumps(dict(source, block_sparsity=sparsity), indent=1) + "\n")
    return sparsity


def read_source(checkpoint: Path) -> dict:
    f = checkpoint / SOURCE_FILE
    if not f.is_file():
        raise SystemExit(f"{f}: missing (prune_oneshot.py or student.py writes it beside the sparse weights)")
    return json.loads(f.read_text())
