#include "fastbert/runtime/squad/squad_metric.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <vector>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "unicode/unicode.h"

namespace fastbert {

namespace {

bool is_ascii_punctuation(char32_t cp) {  // Python's string.punctuation
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
}

std::vector<char32_t> to_code_points(std::string_view text) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t len = 0;
    out.push_back(unicode::decode(text, pos, &len));
    pos += len;
  }
  return out;
}

// re.sub(r'\b(a|an|the)\b', ' ', text) with Python's Unicode \w.
std::vector<char32_t> remove_articles(const std::vector<char32_t>& s) {
  static const std::u32string kArticles[] = {U"the", U"an", U"a"};
  std::vector<char32_t> out;
  out.reserve(s.size());
  const size_t n = s.size();
  for (size_t i = 0; i < n;) {
    const bool boundary_before = i == 0 || !unicode::is_python_word(s[i - 1]);
    bool replaced = false;
    if (boundary_before) {
      for (const auto& article : kArticles) {
        const size_t len = article.size();
        if (i + len <= n && std::equal(article.begin(), article.end(), s.begin() + static_cast<std::ptrdiff_t>(i)) &&
            (i + len == n || !unicode::is_python_word(s[i + len]))) {
          out.push_back(U' ');
          i += len;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(s[i++]);
  }
  return out;
}

std::vector<std::string> normalized_tokens(std::string_view text) {
  std::vector<char32_t> chars;
  for (char32_t cp : to_code_points(unicode::python_lower(text)))
    if (!is_ascii_punctuation(cp)) chars.push_back(cp);
  chars = remove_articles(chars);
  std::vector<std::string> tokens;
  std::string current;
  bool in_token = false;
  for (char32_t cp : chars) {
    if (unicode::is_python_space(cp)) {
      if (in_token) tokens.push_back(current);
      current.clear();
      in_token = false;
    } else {
      unicode::append_utf8(current, cp);
      in_token = true;
    }
  }
  if (in_token) tokens.push_back(current);
  return tokens;
}

}  // namespace

std::string normalize_answer(std::string_view text) {
  std::string out;
  for (const auto& token : normalized_tokens(text)) {
    if (!out.empty()) out.push_back(' ');
    out += token;
  }
  return out;
}

double exact_match_score(std::string_view prediction, std::string_view gold) {
  return normalize_answer(prediction) == normalize_answer(gold) ? 1.0 : 0.0;
}

double f1_score(std::string_view prediction, std::string_view gold) {
  const auto pred = normalized_tokens(prediction);
  const auto truth = normalized_tokens(gold);
  std::unordered_map<std::string, int64_t> counts;
  for (const auto& t : truth) ++counts[t];
  int64_t same = 0;
  for (const auto& t : pred) {
    auto it = counts.find(t);
    if (it != counts.end() && it->second > 0) {
      --it->second;
      ++same;
    }
  }
  if (same == 0) return 0.0;
  const double precision = static_cast<double>(same) / static_cast<double>(pred.size());
  const double recall = static_cast<double>(same) / static_cast<double>(truth.size());
  return (2 * precision * recall) / (precision + recall);
}

SquadScore evaluate_squad(const SquadDataset& data, const SquadPredictionMap& predictions) {
  SquadScore score;
  double em = 0, f1 = 0;
  for (const auto& q : data.questions) {
    ++score.questions;
    auto it = predictions.find(q.id);
    if (it == predictions.end()) {
      ++score.missing;
      continue;
    }
    double best_em = 0, best_f1 = 0;
    for (const auto& answer : q.answers) {
      best_em = std::max(best_em, exact_match_score(it->second, answer.text));
      best_f1 = std::max(best_f1, f1_score(it->second, answer.text));
    }
    em += best_em;
    f1 += best_f1;
  }
  if (score.questions > 0) {
    score.exact_match = 100.0 * em / static_cast<double>(score.questions);
    score.f1 = 100.0 * f1 / static_cast<double>(score.questions);
  }
  return score;
}

SquadPredictionMap read_squad_predictions(const std::filesystem::path& path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": invalid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(path.string() + ": predictions must be a JSON object of question id -> answer text");
  SquadPredictionMap out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string())
      throw Error(path.string() + ": prediction for '" + it.key() + "' must be a string, got " +
                  it.value().type_name());
    out.emplace(it.key(), it.value().get<std::string>());
  }
  return out;
}

}  // namespace fastbert
