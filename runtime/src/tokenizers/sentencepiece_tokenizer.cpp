#include "fastbert/runtime/tokenizers/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <cstdint>

#include "fastbert/common/error.h"
#include "unicode/unicode.h"

namespace fastbert {

SentencePieceTokenizer::SentencePieceTokenizer(std::string source, SentencePieceOptions options)
    : sp_(std::make_unique<sentencepiece::SentencePieceProcessor>()), source_(std::move(source)), options_(options) {}

SentencePieceTokenizer::SentencePieceTokenizer(const std::filesystem::path& model_file, SentencePieceOptions options)
    : SentencePieceTokenizer(model_file.string(), options) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_file, ec))
    throw Error(model_file.string() + ": SentencePiece model not found");
  const auto status = sp_->Load(model_file.string());
  if (!status.ok()) throw Error(model_file.string() + ": cannot load SentencePiece model: " + status.ToString());
  find_special_pieces();
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::from_bytes(std::string_view model_bytes,
                                                                           const std::string& source,
                                                                           SentencePieceOptions options) {
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer(source, options));
  const auto status = t->sp_->LoadFromSerializedProto(absl::string_view(model_bytes.data(), model_bytes.size()));
  if (!status.ok()) throw Error(source + ": cannot load SentencePiece model: " + status.ToString());
  t->find_special_pieces();
  return t;
}

void SentencePieceTokenizer::find_special_pieces() {
  unk_id_ = sp_->unk_id();
  cls_id_ = first_present({"[CLS]", "<cls>", "<s>"});
  sep_id_ = first_present({"[SEP]", "<sep>", "</s>"});
  pad_id_ = first_present({"<pad>", "[PAD]"});
  if (pad_id_ < 0) pad_id_ = sp_->pad_id();
  if (cls_id_ < 0 || sep_id_ < 0)
    throw Error(source_ + ": SentencePiece model has no classifier/separator pieces " +
                "([CLS]/<cls>/<s> and [SEP]/<sep>/</s>) needed for question answering");
  if (pad_id_ < 0) throw Error(source_ + ": SentencePiece model has no padding piece (<pad>/[PAD])");
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

int32_t SentencePieceTokenizer::first_present(std::initializer_list<const char*> pieces) const {
  for (const char* p : pieces) {
    const int id = sp_->PieceToId(p);
    // PieceToId answers unk_id for unknown pieces.
    if (id >= 0 && id != sp_->unk_id() && sp_->IdToPiece(id) == p) return id;
  }
  return -1;
}

Encoding SentencePieceTokenizer::encode(std::string_view text) const {
  // Offsets are int32, like the features file that stores them.
  if (text.size() > static_cast<size_t>(INT32_MAX))
    throw Error("text of " + std::to_string(text.size()) + " bytes is too long to tokenize");
  const bool prepare = options_.lower_case || options_.strip_accents;
  const unicode::MappedText prepared =
      prepare ? unicode::prepare_text(text, options_.lower_case, options_.strip_accents) : unicode::MappedText{};
  const std::string_view input = prepare ? std::string_view(prepared.text) : text;
  const auto spt = sp_->EncodeAsImmutableProto(absl::string_view(input.data(), input.size()));
  Encoding enc;
  const size_t n = spt.pieces_size();
  enc.ids.reserve(n);
  enc.offsets.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const auto piece = spt.pieces(static_cast<int>(i));
    enc.ids.push_back(static_cast<int32_t>(piece.id()));
    TokenOffset offset{static_cast<int32_t>(piece.begin()), static_cast<int32_t>(piece.end())};
    if (prepare) {
      const auto original = prepared.original_span(offset.begin, offset.end, static_cast<int32_t>(text.size()));
      offset = TokenOffset{original.begin, original.end};
    }
    enc.offsets.push_back(offset);
  }
  return enc;
}

int32_t SentencePieceTokenizer::token_to_id(std::string_view token) const {
  const int id = sp_->PieceToId(absl::string_view(token.data(), token.size()));
  if (id == sp_->unk_id() && sp_->IdToPiece(id) != token) return -1;
  return id;
}

std::string SentencePieceTokenizer::id_to_token(int32_t id) const {
  if (id < 0 || id >= vocab_size()) throw Error("token id " + std::to_string(id) + " is outside the vocabulary");
  return sp_->IdToPiece(id);
}

int32_t SentencePieceTokenizer::vocab_size() const { return sp_->GetPieceSize(); }

std::string SentencePieceTokenizer::description() const {
  return "sentencepiece:" + source_ + (options_.lower_case ? " (lower-case)" : "") +
         (options_.strip_accents ? " (no accents)" : "");
}

}  // namespace fastbert
