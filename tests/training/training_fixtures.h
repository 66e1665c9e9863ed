#pragma once
// Helpers shared by the training-side tests: tiny BERT configs and a
// synthetic "copy the span" SQuAD-like task (temporary directories:
// tests/support/test_dir.h).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>
#include <string>

#include "fastbert/common/atomic_file.h"
#include "fastbert/formats/squad_features.h"
#include "fastbert/model/bert_config.h"
#include "test_dir.h"

namespace fastbert::testing {

inline BertConfig tiny_config(int64_t vocab = 64, int64_t max_pos = 32) {
  BertConfig c;
  c.vocab_size = vocab;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.intermediate_size = 64;
  c.max_position_embeddings = max_pos;
  return c;
}

// A checkpoint directory with config.json only: loading it gives a randomly
// initialised model.
inline std::filesystem::path write_config_only_checkpoint(const std::filesystem::path& dir, const BertConfig& c) {
  std::filesystem::create_directories(dir);
  write_file_atomic(dir / "config.json", c.to_json().dump(2));
  return dir;
}

// Windows "[CLS] q [SEP] context [SEP] pad..." where the question q is a span
// of the context (1-3 tokens, every context token distinct) and the answer is
// that span. Token ids: 0 pad, 1 [CLS], 2 [SEP], 3.. content.
inline SquadFeatures copy_span_task(int64_t windows, uint64_t seed, int64_t vocab = 64, int64_t max_seq = 32,
                                    int64_t context_len = 20) {
  std::mt19937_64 rng(seed);
  SquadFeatures f;
  f.max_seq = max_seq;
  f.doc_stride = max_seq;
  f.max_query = 4;
  f.tokenizer = "synthetic copy-span";
  std::vector<int32_t> content(static_cast<std::size_t>(vocab - 3));
  for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<int32_t>(i + 3);
  for (int64_t w = 0; w < windows; ++w) {
    std::shuffle(content.begin(), content.end(), rng);
    const int64_t qlen = 1 + static_cast<int64_t>(rng() % 3);
    const int64_t span = static_cast<int64_t>(rng() % static_cast<uint64_t>(context_len - qlen + 1));
    std::vector<int32_t> ids = {1}, types = {0};
    for (int64_t i = 0; i < qlen; ++i) ids.push_back(content[span + i]), types.push_back(0);
    ids.push_back(2), types.push_back(0);
    const int64_t ctx_start = static_cast<int64_t>(ids.size());
    for (int64_t i = 0; i < context_len; ++i) ids.push_back(content[i]), types.push_back(1);
    ids.push_back(2), types.push_back(1);
    std::vector<int32_t> mask(ids.size(), 1);
    ids.resize(max_seq, 0), types.resize(max_seq, 0), mask.resize(max_seq, 0);
    f.input_ids.insert(f.input_ids.end(), ids.begin(), ids.end());
    f.token_type_ids.insert(f.token_type_ids.end(), types.begin(), types.end());
    f.attention_mask.insert(f.attention_mask.end(), mask.begin(), mask.end());
    f.start_positions.push_back(static_cast<int32_t>(ctx_start + span));
    f.end_positions.push_back(static_cast<int32_t>(ctx_start + span + qlen - 1));
    for (int64_t j = 0; j < max_seq; ++j) {
      const bool in_ctx = j >= ctx_start && j < ctx_start + context_len;
      f.offsets.push_back(in_ctx ? static_cast<int32_t>(j - ctx_start) : -1);
      f.offsets.push_back(in_ctx ? static_cast<int32_t>(j - ctx_start + 1) : -1);
    }
    f.example_index.push_back(static_cast<int32_t>(w));
    f.example_ids.push_back("q" + std::to_string(w));
  }
  return f;
}

}  // namespace fastbert::testing
