#include "layers/embeddings.h"

#include <algorithm>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"

namespace fastbert::layers {

Embeddings::Embeddings(const fbm::FbmFile& file) : config_(file.config()) {
  const int64_t h = config_.hidden_size;
  word_ = file.array<float>("embeddings/word", {config_.vocab_size, h}).data;
  position_ = file.array<float>("embeddings/position", {config_.max_position, h}).data;
  token_type_ = file.array<float>("embeddings/token_type", {config_.type_vocab_size, h}).data;
  gamma_ = file.array<float>("embeddings/layer_norm_gamma", {h}).data;
  beta_ = file.array<float>("embeddings/layer_norm_beta", {h}).data;
}

void Embeddings::forward(const int32_t* input_ids, const int32_t* token_type_ids, int64_t batch, int64_t seq,
                         int64_t seq_bucket, float* x, int64_t ld) const {
  const int64_t h = config_.hidden_size;
  for (int64_t i = 0; i < batch * seq; ++i) {
    if (input_ids[i] < 0 || input_ids[i] >= config_.vocab_size)
      throw Error("input id " + std::to_string(input_ids[i]) + " at row " + std::to_string(i / seq) + ", position " +
                  std::to_string(i % seq) + " is outside the vocabulary of " + std::to_string(config_.vocab_size));
    if (token_type_ids[i] < 0 || token_type_ids[i] >= config_.type_vocab_size)
      throw Error("token type " + std::to_string(token_type_ids[i]) + " at row " + std::to_string(i / seq) +
                  " is outside 0.." + std::to_string(config_.type_vocab_size - 1));
  }
  const int64_t m_total = batch * seq_bucket;
  // Blocks of 16 tokens: their 16 embedding rows stay in L1 while each feature
  // row of x gets 64 contiguous bytes (one token at a time would write one
  // float per cache line, 4 KiB apart when m is a power of two).
  constexpr int64_t kTokens = 16;
  // About 1 ns per element on one core (three rows gathered and summed).
#pragma omp parallel for schedule(static) num_threads(threads_for_work(1.0 * double(m_total * h)))
  for (int64_t m0 = 0; m0 < m_total; m0 += kTokens) {
    const int64_t count = std::min(kTokens, m_total - m0);
    const float* w[kTokens];
    const float* t[kTokens];
    const float* p[kTokens];
    for (int64_t j = 0; j < count; ++j) {
      const int64_t b = (m0 + j) / seq_bucket, s = (m0 + j) % seq_bucket;
      const bool real = s < seq;
      w[j] = word_ + (real ? input_ids[b * seq + s] : 0) * h;
      t[j] = token_type_ + (real ? token_type_ids[b * seq + s] : 0) * h;
      p[j] = position_ + s * h;
    }
    for (int64_t f = 0; f < h; ++f) {
      float* row = x + f * ld + m0;
      for (int64_t j = 0; j < count; ++j) row[j] = w[j][f] + p[j][f] + t[j][f];
    }
  }
}

}  // namespace fastbert::layers
