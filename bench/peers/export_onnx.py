"""A Hugging Face BERT QA checkpoint to the ONNX files the peers run.

    python export_onnx.py --checkpoint DIR --out-dir DIR --calibration NPZ [--kinds fp32,int8-dynamic,...]

Writes into --out-dir:
  fp32.onnx          torch.onnx.export, opset 14 (DeepSparse 1.8 lacks opset 17's
                     LayerNormalization), dynamic batch and sequence axes
  int8-dynamic.onnx  onnxruntime quantize_dynamic (MatMul weights s8 per tensor,
                     activations u8 quantized at run time)
  int8-qdq.onnx      onnxruntime quantize_static, QDQ, s8 weights per channel,
                     u8 activations calibrated (min/max) on real SQuAD windows
  int8-qop.onnx      quantize_static in the QOperator form (QLinearMatMul),
                     per tensor: the only int8 form DeepSparse 1.8 runs as sparse int8
                     (per-channel QDQ is unsupported, per-tensor QDQ ignores sparsity)
Inputs input_ids, attention_mask, token_type_ids (int64 [batch, seq]);
outputs start_logits, end_logits (float32 [batch, seq]), raw (no padding mask).
"""
import argparse
import sys
from pathlib import Path

import numpy as np

INPUTS = ["input_ids", "attention_mask", "token_type_ids"]
OUTPUTS = ["start_logits", "end_logits"]


def export_fp32(checkpoint: Path, out: Path, opset: int) -> None:
    import torch
    from transformers import BertForQuestionAnswering
    model = BertForQuestionAnswering.from_pretrained(str(checkpoint), local_files_only=True,
                                                     attn_implementation="eager").eval()
    model.config.return_dict = False
    dummy = tuple(torch.ones(2, 16, dtype=torch.int64) for _ in INPUTS)
    axes = {n: {0: "batch", 1: "sequence"} for n in INPUTS + OUTPUTS}
    with torch.inference_mode():
        torch.onnx.export(model, dummy, str(out), input_names=INPUTS, output_names=OUTPUTS,
                          dynamic_axes=axes, opset_version=opset, do_constant_folding=True, dynamo=False)


def keep_used_opsets(path: Path) -> None:
    """onnxruntime's pre-processing stamps opset imports of domains no node uses
    (ai.onnx.ml 5 among them), which DeepSparse's bundled runtime refuses."""
    import onnx
    model = onnx.load(str(path))
    used = {n.domain for n in model.graph.node} | {""}
    kept = [o for o in model.opset_import if o.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    onnx.save(model, str(path))


def activation_matmuls(path: Path) -> list:
    """Names of the MatMul nodes none of whose inputs is a weight."""
    import onnx
    graph = onnx.load(str(path)).graph
    weights = {i.name for i in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and not any(x in weights for x in n.input)]


class Windows:
    """onnxruntime's CalibrationDataReader over real windows, a few at a time."""

    def __init__(self, npz: Path, count: int, batch: int = 8):
        with np.load(npz) as z:
            self.data = {k: z[k][:count].astype(np.int64) for k in INPUTS}
        self.batch, self.at = batch, 0

    def get_next(self):
        n = self.data["input_ids"].shape[0]
        if self.at >= n:
            return None
        feeds = {k: v[self.at:self.at + self.batch] for k, v in self.data.items()}
        self.at += self.batch
        return feeds

    def rewind(self):
        self.at = 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--out-dir", required=True, type=Path)
    ap.add_argument("--calibration", type=Path, help="npz of real windows for the static int8 forms")
    ap.add_argument("--calibration-windows", type=int, default=64)
    ap.add_argument("--kinds", default="fp32,int8-dynamic,int8-qdq,int8-qop")
    ap.add_argument("--opset", type=int, default=14)
    a = ap.parse_args()
    kinds = a.kinds.split(",")
    unknown = set(kinds) - {"fp32", "int8-dynamic", "int8-qdq", "int8-qop"}
    if unknown:
        raise SystemExit(f"--kinds: unknown {sorted(unknown)}")
    a.out_dir.mkdir(parents=True, exist_ok=True)
    fp32 = a.out_dir / "fp32.onnx"
    export_fp32(a.checkpoint, fp32, a.opset)
    from onnxruntime.quantization import (CalibrationMethod, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process
    pre = a.out_dir / "fp32-pre.onnx"  # shape-inferred, for the quantizers
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)  # symbolic inference gives up on BERT
    if "int8-dynamic" in kinds:
        quantize_dynamic(str(pre), str(a.out_dir / "int8-dynamic.onnx"), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"])
    for kind, fmt, per_channel in (("int8-qdq", QuantFormat.QDQ, True), ("int8-qop", QuantFormat.QOperator, False)):
        if kind not in kinds:
            continue
        if a.calibration is None:
            raise SystemExit(f"{kind} needs --calibration")
        # DeepSparse runs a QLinearMatMul of two activations (attention scores,
        # context) outside its own engine (fraction_of_supported_ops 0.978):
        # in the QOperator form only the Linears, whose weights are the sparse
        # ones, are quantized.
        exclude = activation_matmuls(pre) if kind == "int8-qop" else []
        quantize_static(str(pre), str(a.out_dir / f"{kind}.onnx"), Windows(a.calibration, a.calibration_windows),
                        quant_format=fmt, per_channel=per_channel, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"], nodes_to_exclude=exclude,
                        calibrate_method=CalibrationMethod.MinMax)
    pre.unlink()
    for kind in kinds:
        if kind != "fp32":
            keep_used_opsets(a.out_dir / f"{kind}.onnx")
    print(f"wrote {', '.join(kinds)} into {a.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
