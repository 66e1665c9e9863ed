#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fastbert/distill/distill_settings.h"
#include "fastbert/prune/prune_settings.h"
#include "fastbert/quantize/quantize_settings.h"
#include "fastbert/train/rank_env.h"

namespace fastbert {

// A training recipe (YAML):
//
//   model: ../models/minilm        # initial checkpoint directory (HF layout)
//   output: runs/minilm-squad      # checkpoints, features, final model
//   threads: 2                     # optional; 0 or absent = all cores (shared by the ranks of a host)
//   device: cpu                    # or cuda (a LibTorch with CUDA); --device overrides
//   distributed:                   # used when run as several ranks (docs/distributed-training.md)
//     backend: gloo                # or nccl; --backend overrides
//     timeout_s: 600               # a rank that dies or hangs ends the others within this
//   data:
//     train: ../data/train.json    # SQuAD JSON (prepared on first use) or a features .h5
//     max_seq: 256
//     doc_stride: 128
//     max_query: 64
//   stages:
//     - name: finetune
//       epochs: 2
//       batch_size: 16
//       grad_accum: 1
//       learning_rate: 5.0e-5
//       warmup: 0.1                # a fraction (< 1) of the stage's steps, or a whole number of steps
//       weight_decay: 0.01
//       seed: 42
//       max_steps: 0               # optional cap, 0 = none
//       max_grad_norm: 1.0
//       save_every_steps: 200
//       log_every_steps: 10
//       group_by_length: false     # batch windows of similar length (less padding, faster)
//       precision: fp32            # or bf16: forward matmuls in bfloat16 (mixed precision)
//       snapshot: false            # true: also keep the stage's final model in OUTPUT/snapshots/NAME
//
// Stages run in order, each starting from the model the previous one ended
// with. Paths are relative to the recipe file. Unknown keys, wrong types and
// impossible values are refused before any training, with the line and column
// of the offending key. A stage may also have `prune:`, `distill:` and
// `quantize:` sections (docs/compression.md); a stage without them is plain
// fine-tuning.
struct DataSettings {
  std::filesystem::path train;
  int64_t max_seq = 384;
  int64_t doc_stride = 128;
  int64_t max_query = 64;
};

// bf16: the forward passes (student and teacher) run under LibTorch's CPU
// autocast, so matmuls take bfloat16 inputs (AMX / AVX512-BF16 through
// oneDNN: ~3.6x fp32 on the linears of MiniLM here); weights, gradients,
// optimizer state, losses and saved checkpoints stay fp32.
enum class Precision { Fp32, Bf16 };

struct StageSettings {
  std::string name;
  int64_t epochs = 1;
  int64_t batch_size = 32;
  int64_t grad_accum = 1;
  double learning_rate = 5e-5;
  double warmup_fraction = 0.0;  // used when warmup_steps < 0
  int64_t warmup_steps = -1;
  double weight_decay = 0.01;
  uint64_t seed = 42;
  int64_t max_steps = 0;
  double max_grad_norm = 1.0;
  int64_t save_every_steps = 500;
  int64_t log_every_steps = 10;
  bool group_by_length = false;
  Precision precision = Precision::Fp32;
  // Keep the model this stage ends with (with its masks and quantization
  // parameters) in OUTPUT/snapshots/NAME: a progressive recipe then yields one
  // student per sparsity level in one run. Not part of the resume key: it
  // changes what is kept, not what is computed.
  bool snapshot = false;
  PruneSettings prune;
  DistillSettings distill;
  QuantizeSettings quantize;
};

enum class TrainDevice { Cpu, Cuda };

// How the ranks of a data-parallel run talk. Not part of the resume key: a
// run may resume with another backend or world size.
struct DistributedSettings {
  CommBackend backend = CommBackend::Gloo;
  int64_t timeout_s = 600;
};

struct Recipe {
  std::filesystem::path source;  // the recipe file, for messages
  std::filesystem::path model;
  std::filesystem::path output;
  int threads = 0;
  TrainDevice device = TrainDevice::Cpu;
  DistributedSettings distributed;
  DataSettings data;
  std::vector<StageSettings> stages;

  static Recipe load(const std::filesystem::path& path);
  // `source` is where the text came from: named in errors, and the base for relative paths.
  static Recipe parse(const std::string& yaml_text, const std::filesystem::path& source);

  // The settings that decide what stages [0, stage] compute, as canonical
  // JSON. A checkpoint may only be resumed by a recipe with the same key;
  // logging, saving and thread settings are left out since they do not change
  // the result.
  std::string resume_key(std::size_t stage) const;
};

}  // namespace fastbert
