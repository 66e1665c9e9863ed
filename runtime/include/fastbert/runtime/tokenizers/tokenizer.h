#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fastbert/formats/tokenizer_spec.h"

namespace fastbert {

// [begin, end) byte offsets of a token in the text given to encode(). Answers
// are spans of the original context, so every token keeps where it came from
// even when normalisation (lower-casing, accent stripping) changed its bytes.
struct TokenOffset {
  int32_t begin = 0;
  int32_t end = 0;
  bool operator==(const TokenOffset& o) const { return begin == o.begin && end == o.end; }
};

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<TokenOffset> offsets;  // one per id
};

// A subword tokenizer without special tokens: encode() returns the pieces of
// the text only; callers add [CLS]/[SEP] themselves (the SQuAD windowing does).
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual Encoding encode(std::string_view text) const = 0;
  // -1 when the token is not in the vocabulary.
  virtual int32_t token_to_id(std::string_view token) const = 0;
  virtual std::string id_to_token(int32_t id) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual int32_t cls_id() const = 0;
  virtual int32_t sep_id() const = 0;
  virtual int32_t pad_id() const = 0;
  virtual int32_t unk_id() const = 0;
  // Human-readable identity, stored with prepared features ("wordpiece:...").
  virtual std::string description() const = 0;
};

// The tokenizer `spec` describes, from `data`: the text of a WordPiece
// vocabulary or the bytes of a SentencePiece model. Errors name `source`.
std::unique_ptr<Tokenizer> make_tokenizer(const TokenizerSpec& spec, std::string_view data, const std::string& source);

// make_tokenizer of read_tokenizer_spec(path) (formats/tokenizer_spec.h): a
// vocab.txt, a SentencePiece .model file, or a directory holding either, with
// the options of tokenizer_config.json beside it.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path);

}  // namespace fastbert
