"""One engine, driven by bench.py over JSON lines on stdin/stdout.

Runs in either environment: .venv (pytorch, onnxruntime) or .venv-deepsparse
(deepsparse); it imports only numpy and the engine's own package. Inputs come
as .npz files of int64 input_ids / token_type_ids / attention_mask [N, S];
logits go out as .npy [2, N, S] (start, end), raw, as the engine computed them.

Requests (one JSON object a line) and replies:
  {"cmd": "load", "engine": E, "model": PATH, "threads": T, "batch": B, "seq": S}
      -> {"threads": T', "checks": {...}}  (what the engine reports it runs with)
  {"cmd": "bench", "inputs": NPZ, "min_seconds": X, "min_runs": K}
      -> {"latencies_ms": [...]}  one forward pass of the whole batch each
  {"cmd": "logits", "inputs": NPZ, "out": NPY} -> {"windows": N}
  {"cmd": "quit"}
Engines: pytorch-fp32, pytorch-int8 (quantize_dynamic on Linear; MODEL is a
Hugging Face checkpoint directory), onnxruntime (MODEL is an .onnx file),
deepsparse (an .onnx file; compiled for one batch and sequence length).
"""
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np

NAMES = ("input_ids", "attention_mask", "token_type_ids")


class PyTorch:
    def __init__(self, model, threads, int8):
        import torch
        from transformers import BertForQuestionAnswering
        torch.set_num_threads(threads)
        self.torch = torch
        m = BertForQuestionAnswering.from_pretrained(model, local_files_only=True).eval()
        if int8:
            m = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = m
        self.threads = torch.get_num_threads()
        self.checks = {"torch": torch.__version__, "intra_op_threads": self.threads,
                       "quantized_linears": sum(type(x).__name__ == "Linear" and "quantized" in type(x).__module__
                                                for x in m.modules())}

    def run(self, feeds):
        with self.torch.inference_mode():
            out = self.model(**{k: self.torch.from_numpy(v) for k, v in feeds.items()})
        return out.start_logits.numpy(), out.end_logits.numpy()


class OnnxRuntime:
    def __init__(self, model, threads):
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "1")
        self.session = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
        got = self.session.get_session_options()
        self.threads = got.intra_op_num_threads
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.checks = {"onnxruntime": ort.__version__, "intra_op_threads": got.intra_op_num_threads,
                       "inter_op_threads": got.inter_op_num_threads, "providers": self.session.get_providers()}

    def run(self, feeds):
        start, end = self.session.run(["start_logits", "end_logits"], {k: feeds[k] for k in self.inputs})
        return start, end


class DeepSparse:
    def __init__(self, model, threads, batch, seq):
        import deepsparse
        # DeepSparse rewrites the file it compiles when input shapes are set:
        # it gets a private copy.
        self.tmp = tempfile.mkdtemp(prefix="peers-deepsparse-")
        private = os.path.join(self.tmp, os.path.basename(model))
        shutil.copy2(model, private)
        self.engine = deepsparse.Engine(model=private, batch_size=batch, num_cores=threads,
                                        input_shapes=[[batch, seq]] * 3)
        self.batch = batch
        self.threads = self.engine.num_cores
        self.input_names = [i.name for i in __import__("onnx").load(private, load_external_data=False).graph.input]
        self.checks = {"deepsparse": deepsparse.__version__, "num_cores": self.engine.num_cores,
                       "num_streams": getattr(self.engine, "num_streams", None),
                       "fraction_of_supported_ops": getattr(self.engine, "fraction_of_supported_ops", None),
                       "cpu_avx_type": getattr(self.engine, "cpu_avx_type", None),
                       "cpu_vnni": getattr(self.engine, "cpu_vnni", None)}

    def run(self, feeds):
        n = feeds["input_ids"].shape[0]
        starts, ends = [], []
        for b in range(0, n, self.batch):
            part = {k: v[b:b + self.batch] for k, v in feeds.items()}
            rows = part["input_ids"].shape[0]
            if rows < self.batch:  # a compiled engine takes whole batches: repeat the last window
                part = {k: np.concatenate([v, np.repeat(v[-1:], self.batch - rows, axis=0)]) for k, v in part.items()}
            start, end = self.engine.run([part[k] for k in self.input_names])
            starts.append(start[:rows])
            ends.append(end[:rows])
        return np.concatenate(starts), np.concatenate(ends)


def load(req):
    e, model, threads = req["engine"], req["model"], int(req["threads"])
    if e in ("pytorch-fp32", "pytorch-int8"):
        return PyTorch(model, threads, e == "pytorch-int8")
    if e == "onnxruntime":
        return OnnxRuntime(model, threads)
    if e == "deepsparse":
        return DeepSparse(model, threads, int(req["batch"]), int(req["seq"]))
    raise ValueError(f"unknown engine '{e}'")


def read_inputs(path):
    with np.load(path) as z:
        return {k: np.ascontiguousarray(z[k].astype(np.int64)) for k in NAMES}


def main():
    engine = None
    out = sys.stdout
    sys.stdout = sys.stderr  # engines' chatter goes to stderr; replies alone to the pipe
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["cmd"] == "load":
                engine = load(req)
                reply = {"threads": engine.threads, "checks": engine.checks}
            elif req["cmd"] == "bench":
                feeds = read_inputs(req["inputs"])
                engine.run(feeds)  # warm-up
                ms = []
                t_begin = time.perf_counter()
                while len(ms) < req.get("min_runs", 3) or time.perf_counter() - t_begin < req["min_seconds"]:
                    t0 = time.perf_counter()
                    engine.run(feeds)
                    ms.append((time.perf_counter() - t0) * 1e3)
                reply = {"latencies_ms": ms}
            elif req["cmd"] == "logits":
                feeds = read_inputs(req["inputs"])
                batch = int(req.get("batch", 32))
                starts, ends = [], []
                for b in range(0, feeds["input_ids"].shape[0], batch):
                    s, e = engine.run({k: v[b:b + batch] for k, v in feeds.items()})
                    starts.append(np.asarray(s, dtype=np.float32))
                    ends.append(np.asarray(e, dtype=np.float32))
                np.save(req["out"], np.stack([np.concatenate(starts), np.concatenate(ends)]))
                reply = {"windows": int(feeds["input_ids"].shape[0])}
            elif req["cmd"] == "quit":
                break
            else:
                raise ValueError(f"unknown command '{req['cmd']}'")
        except Exception as exc:  # reported to bench.py, which stops with it
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
