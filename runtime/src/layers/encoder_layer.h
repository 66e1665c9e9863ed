#pragma once
// One BERT encoder layer on feature-major activations: Q, K, V projections,
// multi-head attention, output projection + residual + LayerNorm, then the
// FFN (intermediate + GELU, output + residual + LayerNorm). Fusions keep an
// int8 linear's input quantized once, by whichever op writes it: LayerNorm
// and attention write u8 directly, the intermediate's SpMM epilogue applies
// GELU and writes the output linear's u8 input, the projections add the
// residual in their epilogue.
#include <array>
#include <cstdint>
#include <memory>

#include "fastbert/runtime/fbm_file.h"
#include "layers/linear.h"
#include "layers/op_context.h"

namespace fastbert::layers {

class EncoderLayer {
 public:
  // Layer `index` of `file`; throws fastbert::Error naming the file for a
  // missing or malformed array.
  // Int8 linears below `int8_dense_below_sparsity` run dense (load_linear).
  EncoderLayer(const fbm::FbmFile& file, int64_t index, double int8_dense_below_sparsity);

  // Reads a.x (and a.u8_a when *held says it is current), leaves the
  // layer's output in a.x and, when `next_query` is int8, in a.u8_a
  // quantized for it.
  void forward(const Activations& a, OpContext& ops, const Linear* next_query, HeldQuant* held) const;

  const Linear& query() const { return *query_; }
  // In fbm::kLayerLinears order.
  std::array<const Linear*, fbm::kLinearsPerLayer> linears() const;
  bool any_int8() const;

 private:
  fbm::ModelConfig config_;
  int64_t index_ = 0;
  std::unique_ptr<Linear> query_, key_, value_, attention_output_, intermediate_, output_;
  const float* ln1_gamma_ = nullptr;
  const float* ln1_beta_ = nullptr;
  const float* ln2_gamma_ = nullptr;
  const float* ln2_beta_ = nullptr;
};

}  // namespace fastbert::layers
