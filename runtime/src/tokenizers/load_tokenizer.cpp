#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/runtime/tokenizers/sentencepiece_tokenizer.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"
#include "fastbert/runtime/tokenizers/wordpiece_tokenizer.h"

namespace fastbert {

std::unique_ptr<Tokenizer> make_tokenizer(const TokenizerSpec& spec, std::string_view data, const std::string& source) {
  if (spec.kind == TokenizerKind::sentencepiece) {
    SentencePieceOptions options;
    options.lower_case = spec.do_lower_case;
    options.strip_accents = spec.strip_accents;
    return SentencePieceTokenizer::from_bytes(data, source, options);
  }
  WordPieceOptions options;
  options.do_lower_case = spec.do_lower_case;
  return std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::from_text(data, source, options));
}

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path) {
  const TokenizerSpec spec = read_tokenizer_spec(path);
  return make_tokenizer(spec, read_file(spec.file), spec.file.string());
}

}  // namespace fastbert
