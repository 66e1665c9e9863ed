#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fastbert {

// Tokenized SQuAD windows: the one thing that crosses from the runtime side
// (tokenizers) to the training side (LibTorch), as an HDF5 file.
//
// HDF5 layout (all datasets contiguous; N windows, S = max_seq, E examples):
//   /input_ids        int32 [N,S]
//   /token_type_ids   int32 [N,S]
//   /attention_mask   int32 [N,S]     1 = real token, 0 = padding
//   /start_positions  int32 [N]       token index of the answer start; 0 ([CLS]) when
//   /end_positions    int32 [N]       the window does not contain the answer
//   /offsets          int32 [N,S,2]   [begin,end) byte offsets of each context token
//                                     in its UTF-8 context; -1,-1 for question,
//                                     special and padding tokens
//   /example_index    int32 [N]       row into /example_ids
//   /example_ids      variable-length string [E]   SQuAD question ids
//   optional /teacher_start_logits, /teacher_end_logits  float32 [N,S]
//   attributes on "/": format = "fastbert-squad-features", version = 1,
//                      max_seq, doc_stride, max_query (int64), tokenizer (string)
struct SquadFeatures {
  int64_t max_seq = 384;
  int64_t doc_stride = 128;
  int64_t max_query = 64;
  std::string tokenizer;  // description of the tokenizer that produced the ids

  std::vector<int32_t> input_ids;
  std::vector<int32_t> token_type_ids;
  std::vector<int32_t> attention_mask;
  std::vector<int32_t> start_positions;
  std::vector<int32_t> end_positions;
  std::vector<int32_t> offsets;
  std::vector<int32_t> example_index;
  std::vector<std::string> example_ids;
  std::vector<float> teacher_start_logits;  // empty unless precomputed
  std::vector<float> teacher_end_logits;

  int64_t num_windows() const { return static_cast<int64_t>(start_positions.size()); }
  // Throws fastbert::Error naming the first inconsistent array.
  void validate() const;
};

// Atomic: the file appears under `path` only when complete.
void write_squad_features(const std::filesystem::path& path, const SquadFeatures& f);
// Throws fastbert::Error with the path and the problem for a missing, truncated
// or foreign file and for any dataset of the wrong type or shape.
SquadFeatures read_squad_features(const std::filesystem::path& path);

// Start/end logits of a model over the windows of a features file, row for row:
//   /start_logits, /end_logits  float32 [N,S]; attribute format = "fastbert-logits".
// The training side writes them for a checkpoint; the runtime side turns them
// into answers, so one metric serves every engine.
struct SquadLogits {
  int64_t max_seq = 0;
  std::vector<float> start_logits;
  std::vector<float> end_logits;
  int64_t num_windows() const { return max_seq ? static_cast<int64_t>(start_logits.size()) / max_seq : 0; }
};
void write_squad_logits(const std::filesystem::path& path, const SquadLogits& logits);
SquadLogits read_squad_logits(const std::filesystem::path& path);

}  // namespace fastbert
