#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/runtime/tokenizers/sentencepiece_tokenizer.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"
#include "fastbert/runtime/tokenizers/wordpiece_tokenizer.h"

namespace fastbert {
namespace fs = std::filesystem;

namespace {

// Hugging Face writes do_lower_case into tokenizer_config.json; absent means
// the BERT default (true).
bool read_do_lower_case(const fs::path& dir) {
  const fs::path config = dir / "tokenizer_config.json";
  std::error_code ec;
  if (!fs::is_regular_file(config, ec)) return true;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(config));
  } catch (const nlohmann::json::exception& e) {
    throw Error(config.string() + ": invalid JSON: " + e.what());
  }
  if (!j.is_object() || !j.contains("do_lower_case")) return true;
  if (!j["do_lower_case"].is_boolean()) throw Error(config.string() + ": 'do_lower_case' must be true or false");
  return j["do_lower_case"].get<bool>();
}

std::unique_ptr<Tokenizer> load_file(const fs::path& file) {
  if (file.extension() == ".model") return std::make_unique<SentencePieceTokenizer>(file);
  WordPieceOptions options;
  options.do_lower_case = read_do_lower_case(file.parent_path().empty() ? fs::path(".") : file.parent_path());
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
