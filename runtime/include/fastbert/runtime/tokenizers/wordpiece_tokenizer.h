#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fastbert/runtime/tokenizers/tokenizer.h"

namespace fastbert {

struct WordPieceOptions {
  bool do_lower_case = true;  // also strips accents (NFD, drop Mn), as BERT uncased
  int max_input_chars_per_word = 100;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
};

// BERT's tokenizer as Hugging Face BertTokenizer runs it: BasicTokenizer
// (clean text, split CJK ideographs, lower-case and strip accents, split
// punctuation) then greedy longest-match-first WordPiece with "##"
// continuations; a word with no full match, or longer than
// max_input_chars_per_word code points, becomes one [UNK].
class WordPieceTokenizer : public Tokenizer {
 public:
  // vocab: one token per line, id = line number.
  WordPieceTokenizer(std::vector<std::string> vocab, WordPieceOptions options = {});
  static WordPieceTokenizer from_file(const std::filesystem::path& vocab_txt, WordPieceOptions options = {});
  // The vocabulary's text, one token per line; errors name `source`.
  static WordPieceTokenizer from_text(std::string_view text, const std::string& source, WordPieceOptions options = {});

  Encoding encode(std::string_view text) const override;
  int32_t token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  int32_t vocab_size() const override { return static_cast<int32_t>(vocab_.size()); }
  int32_t cls_id() const override { return cls_id_; }
  int32_t sep_id() const override { return sep_id_; }
  int32_t pad_id() const override { return pad_id_; }
  int32_t unk_id() const override { return unk_id_; }
  std::string description() const override;
  const WordPieceOptions& options() const { return options_; }

  // Convenience for tests and debugging: the token strings of encode(text).
  std::vector<std::string> tokenize(std::string_view text) const;

 private:
  int32_t required_id(const std::string& token) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int32_t> ids_;
  WordPieceOptions options_;
  std::string source_;
  int32_t cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, unk_id_ = -1;
};

}  // namespace fastbert
