#include "fastbert/formats/tokenizer_spec.h"

#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"

namespace fastbert {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kTokenizerFiles[] = {"vocab.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model"};

// Hugging Face keeps tokenizer options in tokenizer_config.json beside the
// vocabulary; a missing file or key means the given default.
class TokenizerConfig {
 public:
  explicit TokenizerConfig(const fs::path& dir) : path_(dir / "tokenizer_config.json") {
    std::error_code ec;
    if (!fs::is_regular_file(path_, ec)) return;
    try {
      json_ = json::parse(read_file(path_));
    } catch (const json::exception& e) {
      throw Error(path_.string() + ": invalid JSON (" + e.what() + ")");
    }
    if (!json_.is_object()) throw Error(path_.string() + ": expected a JSON object");
  }

  bool flag(const char* key, bool fallback) const {
    if (!json_.is_object() || !json_.contains(key) || json_[key].is_null()) return fallback;
    if (!json_[key].is_boolean()) throw Error(path_.string() + ": key '" + key + "' must be true or false");
    return json_[key].get<bool>();
  }

 private:
  fs::path path_;
  json json_;
};

TokenizerSpec spec_of_file(const fs::path& file) {
  const TokenizerConfig config(file.parent_path().empty() ? fs::path(".") : file.parent_path());
  TokenizerSpec spec;
  spec.file = file;
  if (file.extension() == ".model") {
    spec.kind = TokenizerKind::sentencepiece;
    spec.do_lower_case = config.flag("do_lower_case", false);
    spec.strip_accents = !config.flag("keep_accents", true);
  } else {
    spec.kind = TokenizerKind::wordpiece;
    spec.do_lower_case = config.flag("do_lower_case", true);
  }
  return spec;
}

}  // namespace

TokenizerSpec read_tokenizer_spec(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const char* name : kTokenizerFiles)
      if (fs::is_regular_file(path / name, ec)) return spec_of_file(path / name);
    throw Error(path.string() +
                ": no tokenizer in this directory (looked for vocab.txt, spiece.model, "
                "sentencepiece.bpe.model, tokenizer.model)");
  }
  if (!fs::exists(path, ec)) throw Error(path.string() + ": tokenizer not found");
  return spec_of_file(path);
}

std::string tokenizer_spec_to_json(const TokenizerSpec& spec) {
  nlohmann::ordered_json j;
  j["kind"] = spec.kind == TokenizerKind::sentencepiece ? "sentencepiece" : "wordpiece";
  j["do_lower_case"] = spec.do_lower_case;
  j["strip_accents"] = spec.strip_accents;
  return j.dump();
}

TokenizerSpec tokenizer_spec_from_json(std::string_view text, const std::string& source) {
  TokenizerSpec spec;
  std::string key = "tokenizer";
  try {
    const json j = json::parse(text);
    key = "tokenizer.kind";
    const std::string kind = j.at("kind").get<std::string>();
    if (kind == "wordpiece") spec.kind = TokenizerKind::wordpiece;
    else if (kind == "sentencepiece") spec.kind = TokenizerKind::sentencepiece;
    else throw Error(source + ": manifest 'tokenizer.kind' is '" + kind + "' (expected wordpiece or sentencepiece)");
    key = "tokenizer.do_lower_case";
    spec.do_lower_case = j.at("do_lower_case").get<bool>();
    key = "tokenizer.strip_accents";
    spec.strip_accents = j.contains("strip_accents") ? j.at("strip_accents").get<bool>() : false;
  } catch (const json::exception& e) {
    throw Error(source + ": damaged .fbm manifest: key '" + key + "' missing or of the wrong type (" + e.what() + ")");
  }
  return spec;
}

std::vector<std::string> parse_wordpiece_vocab(std::string_view text, const std::string& source) {
  std::vector<std::string> vocab;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(begin, end - begin);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    vocab.emplace_back(line);
    begin = end + 1;
  }
  if (vocab.empty()) throw Error(source + ": WordPiece vocabulary is empty");
  return vocab;
}

}  // namespace fastbert
