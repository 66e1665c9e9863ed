#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/runtime/tokenizers/sentencepiece_tokenizer.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"
#include "fastbert/runtime/tokenizers/wordpiece_tokenizer.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {

// Hugging Face keeps tokenizer options in tokenizer_config.json beside the
// vocabulary; a missing file or key means the given default.
class TokenizerConfig {
 public:
  explicit TokenizerConfig(const fs::path& dir) : path_(dir / "tokenizer_config.json") {
    std::error_code ec;
    if (!fs::is_regular_file(path_, ec)) return;
    try {
      json_ = nlohmann::json::parse(read_file(path_));
    } catch (const nlohmann::json::exception& e) {
      throw Error(path_.string() + ": invalid JSON: " + e.what());
    }
    if (!json_.is_object()) throw Error(path_.string() + ": expected a JSON object");
  }

  bool flag(const char* key, bool fallback) const {
    if (!json_.is_object() || !json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_boolean()) throw Error(path_.string() + ": '" + key + "' must be true or false");
    return json_[key].get<bool>();
  }

 private:
  fs::path path_;
  nlohmann::json json_;
};

std::unique_ptr<Tokenizer> load_file(const fs::path& file) {
  const TokenizerConfig config(file.parent_path().empty() ? fs::path(".") : file.parent_path());
  if (file.extension() == ".model") {
    // ALBERT-style models lower-case and strip accents before SentencePiece;
    // models without such keys leave the text to SentencePiece's normaliser.
    SentencePieceOptions options;
    options.lower_case = config.flag("do_lower_case", false);
    options.strip_accents = !config.flag("keep_accents", true);
    return std::make_unique<SentencePieceTokenizer>(file, options);
  }
  WordPieceOptions options;
  options.do_lower_case = config.flag("do_lower_case", true);
  return std::make_unique<WordPieceTokenizer>(WordPieceTokenizer::from_file(file, options));
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const char* name : {"vocab.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model"}) {
      if (fs::is_regular_file(path / name, ec)) return load_file(path / name);
    }
    throw Error(path.string() +
                ": no tokenizer in this directory (looked for vocab.txt, spiece.model, "
                "sentencepiece.bpe.model, tokenizer.model)");
  }
  if (!fs::exists(path, ec)) throw Error(path.string() + ": tokenizer not found");
  return load_file(path);
}

}  // namespace fastbert
