#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/formats/file_header.h"

namespace fastbert {
namespace hdf5 {
class File;
}

// The two kinds of file (fastbert/formats/file_header.h). Format 1 had no
// file header and stored the question ids as HDF5 variable-length strings;
// format 2 refuses it, naming the remedy.
inline constexpr file_header::Kind kSquadFeaturesFileKind{
    {'\x89', 'F', 'B', 'F', '\r', '\n', '\x1a', '\n'}, 2, 0, "tokenized-data file", "re-run fastbert prepare"};
inline constexpr file_header::Kind kSquadLogitsFileKind{
    {'\x89', 'F', 'B', 'L', '\r', '\n', '\x1a', '\n'}, 2, 0, "logits file",
    "write it again (fastbert-train predict, or see docs/data-files.md)"};

// Tokenized SQuAD windows: the one thing that crosses from the runtime side
// (tokenizers) to the training side (LibTorch), as an HDF5 file. Layout and
// the rules a reader checks: docs/data-files.md. In short: the fastbert file
// header (fastbert/formats/file_header.h, magic "\x89FBF\r\n\x1a\n", format
// 2), then N windows of S = max_seq tokens over E questions:
//   /input_ids, /token_type_ids, /attention_mask   int32 [N,S]
//   /start_positions, /end_positions               int32 [N]   0 ([CLS]) = no answer
//   /offsets                                       int32 [N,S,2] [begin,end) bytes in
//                                                  the context; -1,-1 outside it
//   /example_index                                 int32 [N]   question of the window
//   /example_id_bytes                              uint8 [B]   the E question ids, concatenated
//   /example_id_offsets                            int64 [E+1] id e = bytes [o[e], o[e+1])
//   optional /teacher_start_logits, /teacher_end_logits  float32 [N,S]
//   attributes max_seq, doc_stride, max_query (int64), tokenizer (string)
// The per-window datasets are chunked by kWindowsPerChunk windows, so a reader
// can read a batch of windows without reading the file.
struct SquadFeatures {
  static constexpr int64_t kWindowsPerChunk = 256;

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
  // Both teacher logit arrays hold a value for every token of every window.
  bool has_teacher_logits() const {
    const auto cells = static_cast<std::size_t>(num_windows() * max_seq);
    return cells > 0 && teacher_start_logits.size() == cells && teacher_end_logits.size() == cells;
  }
  // Throws fastbert::Error naming the first inconsistent array or value: sizes
  // that disagree, an attention mask other than 0/1, negative ids, offsets
  // that are not [begin, end) pairs, answer positions outside the window,
  // example indices outside the ids, non-finite teacher logits. For a block
  // of a larger file: windows are named counting from `first_window`, and
  // example indices are checked against `num_examples` (default: the ids held).
  void validate(int64_t first_window = 0, int64_t num_examples = -1) const;
};

// What a reader that knows its model checks on top of validate(): token ids
// below vocab_size and token types below type_vocab_size (LibTorch would say
// "index out of range in self"), windows no longer than max_position. Zero =
// unknown, not checked.
struct ModelLimits {
  int64_t vocab_size = 0;
  int64_t type_vocab_size = 0;
  int64_t max_position = 0;
};

// Writes a features file block of windows by block, so that a writer of a
// large file (fastbert prepare on the full training set) holds one block at a
// time, not every window. Each block is a SquadFeatures of its own: its
// example_index counts within its own example_ids, and every block must agree
// with the first on max_seq, doc_stride, max_query, tokenizer and on carrying
// teacher logits. Atomic: the file appears under `path` only at finish();
// a writer destroyed before that leaves nothing behind. Not thread-safe.
class SquadFeaturesWriter {
 public:
  explicit SquadFeaturesWriter(const std::filesystem::path& path);
  ~SquadFeaturesWriter();
  SquadFeaturesWriter(const SquadFeaturesWriter&) = delete;
  SquadFeaturesWriter& operator=(const SquadFeaturesWriter&) = delete;

  // Validates the block (SquadFeatures::validate) and appends it.
  void append(const SquadFeatures& block);
  int64_t num_windows() const;
  int64_t num_examples() const;
  // Writes the question ids and the file header, and moves the file into place.
  void finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One block: SquadFeaturesWriter with a single append. Atomic.
void write_squad_features(const std::filesystem::path& path, const SquadFeatures& f);
// Throws fastbert::Error with the path and the problem for a missing,
// truncated, damaged, foreign or older file, any dataset of the wrong type or
// shape, and any value validate() or `limits` refuses.
SquadFeatures read_squad_features(const std::filesystem::path& path, const ModelLimits& limits = {});

// A features file read a batch of windows at a time, for a reader that should
// not hold the whole file (training on the full SQuAD set: 97k windows of 256
// tokens are 500 MB, of which the trainer needs one batch at a time). open()
// refuses everything read_squad_features refuses, checking the file one block
// of windows at a time, and keeps only what is small: the answer positions,
// each window's count of real tokens and the question count. Not thread-safe
// (one HDF5 file handle); cheap to move.
class SquadFeaturesReader {
 public:
  static SquadFeaturesReader open(const std::filesystem::path& path, const ModelLimits& limits = {});
  ~SquadFeaturesReader();
  SquadFeaturesReader(SquadFeaturesReader&&) noexcept;
  SquadFeaturesReader& operator=(SquadFeaturesReader&&) noexcept;

  int64_t num_windows() const { return static_cast<int64_t>(start_positions_.size()); }
  int64_t max_seq() const { return attributes_.max_seq; }
  int64_t num_examples() const { return num_examples_; }
  bool has_teacher_logits() const { return teacher_logits_; }
  const std::vector<int32_t>& start_positions() const { return start_positions_; }
  const std::vector<int32_t>& end_positions() const { return end_positions_; }
  // Attention-mask sum of each window.
  const std::vector<int32_t>& real_tokens() const { return real_tokens_; }

  // The windows `rows` (each in [0, num_windows)), in that order, as a block:
  // tokens, answer positions and teacher logits when the file has them;
  // offsets, example_index and example_ids are left empty. Only the chunks
  // holding those windows are read.
  SquadFeatures read(const std::vector<int64_t>& rows) const;

 private:
  explicit SquadFeaturesReader(std::unique_ptr<hdf5::File> file);
  std::unique_ptr<hdf5::File> file_;
  SquadFeatures attributes_;  // max_seq, doc_stride, max_query, tokenizer; no windows
  int64_t num_examples_ = 0;
  bool teacher_logits_ = false;
  std::vector<int32_t> start_positions_, end_positions_, real_tokens_;
};

// Start/end logits of a model over the windows of a features file, row for row
// (docs/data-files.md): the fastbert file header (magic "\x89FBL\r\n\x1a\n",
// format 2), then /start_logits, /end_logits float32 [N,S], chunked like the
// features. The training side writes them for a checkpoint; the runtime side
// turns them into answers, so one metric serves every engine.
struct SquadLogits {
  int64_t max_seq = 0;
  std::vector<float> start_logits;
  std::vector<float> end_logits;
  int64_t num_windows() const { return max_seq ? static_cast<int64_t>(start_logits.size()) / max_seq : 0; }
};
void write_squad_logits(const std::filesystem::path& path, const SquadLogits& logits);
// Refuses, besides what read_squad_features refuses for its file, NaN or
// infinite logits.
SquadLogits read_squad_logits(const std::filesystem::path& path);

}  // namespace fastbert
