#pragma once
// Reading a training checkpoint directory without LibTorch: config.json,
// model.safetensors (Hugging Face BERT names, with or without the "bert."
// prefix), the tokenizer files and, when the compression stage wrote it,
// quantization.json. Everything the export needs from the training side's
// file formats is read here, in one place.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "fastbert/formats/fbm_format.h"
#include "fastbert/formats/tokenizer_spec.h"

namespace fastbert {

struct LinearQuantization {
  std::vector<float> weight_scales;  // per output row
  float input_scale = 1.0f;
  int32_t input_zero_point = 0;
};

// The checkpoint's tokenizer: its spec (formats/tokenizer_spec.h) and the
// file it names, checked to load and to fit the embeddings.
struct CheckpointTokenizer {
  TokenizerSpec spec;
  std::vector<std::string> vocab;  // WordPiece: the tokens, id = index
  std::string model_bytes;         // SentencePiece: the .model file
};

struct Checkpoint {
  std::filesystem::path dir;
  fbm::ModelConfig config;
  CheckpointTokenizer tokenizer;
  // fp32 tensors by name without the "bert." prefix ("encoder.layer.0...", "qa_outputs.weight").
  std::map<std::string, std::vector<float>> tensors;
  // By linear name without the "bert." prefix; empty without quantization.json.
  std::map<std::string, LinearQuantization> quantization;
  bool has_quantization = false;
  int64_t weights_bytes = 0;  // size of model.safetensors

  // The tensor `name` with exactly `shape`, else fastbert::Error naming the file.
  const std::vector<float>& tensor(const std::string& name, const std::vector<int64_t>& shape) const;
  std::map<std::string, std::vector<int64_t>> tensor_shapes;
};

// Throws fastbert::Error naming the file and key of anything missing or malformed.
Checkpoint read_checkpoint(const std::filesystem::path& dir);

// config.json of a checkpoint directory alone, validated as read_checkpoint
// does: commands check their sizes against the model before any work.
fbm::ModelConfig read_checkpoint_config(const std::filesystem::path& dir);

// The checkpoint name of linear `name` (fbm::kLayerLinears) of `layer`, e.g.
// "encoder.layer.0.attention.self.query".
std::string checkpoint_linear_name(int64_t layer, const std::string& name);

}  // namespace fastbert
