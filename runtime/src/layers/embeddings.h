#pragma once
#include <cstdint>

#include "fastbert/runtime/fbm_file.h"

namespace fastbert::layers {

// word + position + token type embeddings, written feature-major
// (x[h][b*seq_bucket + s]); LayerNorm follows in the engine so that it can
// fuse the first layer's input quantization. The tables stay in the mapping.
class Embeddings {
 public:
  explicit Embeddings(const fbm::FbmFile& file);
  // Rows of `input_ids`/`token_type_ids` have `seq` entries; positions at or
  // past `seq` (bucket padding) use id 0, type 0. Throws fastbert::Error for
  // an id outside the vocabulary or a type outside type_vocab_size.
  void forward(const int32_t* input_ids, const int32_t* token_type_ids, int64_t batch, int64_t seq,
               int64_t seq_bucket, float* x, int64_t ld) const;
  const float* gamma() const { return gamma_; }
  const float* beta() const { return beta_; }

 private:
  fbm::ModelConfig config_;
  const float* word_ = nullptr;
  const float* position_ = nullptr;
  const float* token_type_ = nullptr;
  const float* gamma_ = nullptr;
  const float* beta_ = nullptr;
};

}  // namespace fastbert::layers
