#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "fastbert/runtime/tokenizers/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace fastbert {

// Text preparation some SentencePiece models expect before the model's own
// normaliser (ALBERT: do_lower_case, keep_accents in tokenizer_config.json).
struct SentencePieceOptions {
  bool lower_case = false;     // Python str.lower
  bool strip_accents = false;  // NFKD, then drop combining characters
};

// A SentencePiece model (unigram or BPE) through libsentencepiece; offsets are
// the byte spans SentencePiece reports for each piece. Special tokens are the
// model's own pieces: [CLS]/<cls>/<s> and [SEP]/<sep>/</s>, <pad>/[PAD] (or
// the model's pad id), and its unk id. With lower-casing or accent stripping,
// offsets still point into the text given to encode().
class SentencePieceTokenizer : public Tokenizer {
 public:
  explicit SentencePieceTokenizer(const std::filesystem::path& model_file, SentencePieceOptions options = {});
  // A model held in memory (the bytes of a .model file); errors name `source`
  // (e.g. "model.fbm: dataset 'tokenizer_sentencepiece_model'").
  static std::unique_ptr<SentencePieceTokenizer> from_bytes(std::string_view model_bytes, const std::string& source,
                                                            SentencePieceOptions options = {});
  ~SentencePieceTokenizer() override;

  Encoding encode(std::string_view text) const override;
  int32_t token_to_id(std::string_view token) const override;
  std::string id_to_token(int32_t id) const override;
  int32_t vocab_size() const override;
  int32_t cls_id() const override { return cls_id_; }
  int32_t sep_id() const override { return sep_id_; }
  int32_t pad_id() const override { return pad_id_; }
  int32_t unk_id() const override { return unk_id_; }
  std::string description() const override;

 private:
  SentencePieceTokenizer(std::string source, SentencePieceOptions options);
  // Finds the special pieces once sp_ holds the model.
  void find_special_pieces();
  int32_t first_present(std::initializer_list<const char*> pieces) const;

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string source_;
  SentencePieceOptions options_;
  int32_t cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, unk_id_ = -1;
};

}  // namespace fastbert
