#include "fastbert/runtime/squad/squad_dataset.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "unicode/unicode.h"

namespace fastbert {

namespace {

using json = nlohmann::json;

class Parser {
 public:
  explicit Parser(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& path, const std::string& problem) const {
    throw Error(source_ + ": " + path + ": " + problem);
  }

  const json& field(const json& obj, const std::string& path, const char* key, json::value_t type,
                    const char* type_name) const {
    if (!obj.is_object()) fail(path, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(path, std::string("missing field '") + key + "'");
    const bool ok = type == json::value_t::number_integer ? it->is_number_integer() : it->type() == type;
    if (!ok) fail(path + "." + key, std::string("expected ") + type_name + ", got " + it->type_name());
    return *it;
  }

  SquadDataset parse(const json& root) {
    SquadDataset out;
    // Answers, features and predictions are keyed by question id: a second
    // question with the same id would be answered from the other's context.
    std::unordered_map<std::string, std::string> where_id;
    const json& data = field(root, "(root)", "data", json::value_t::array, "an array");
    for (size_t a = 0; a < data.size(); ++a) {
      const std::string apath = "data[" + std::to_string(a) + "]";
      const json& paragraphs = field(data[a], apath, "paragraphs", json::value_t::array, "an array");
      for (size_t p = 0; p < paragraphs.size(); ++p) {
        const std::string ppath = apath + ".paragraphs[" + std::to_string(p) + "]";
        const std::string& context =
            field(paragraphs[p], ppath, "context", json::value_t::string, "a string").get_ref<const std::string&>();
        const int32_t context_index = static_cast<int32_t>(out.contexts.size());
        out.contexts.push_back(context);
        const std::vector<int64_t> char_to_byte = code_point_offsets(context);
        const json& qas = field(paragraphs[p], ppath, "qas", json::value_t::array, "an array");
        for (size_t q = 0; q < qas.size(); ++q) {
          const std::string qpath = ppath + ".qas[" + std::to_string(q) + "]";
          SquadQuestion question;
          question.context = context_index;
          question.id = field(qas[q], qpath, "id", json::value_t::string, "a string").get<std::string>();
          if (const auto [first, fresh] = where_id.emplace(question.id, qpath + ".id"); !fresh)
            fail(qpath + ".id", "question id \"" + question.id + "\" is also the id of " + first->second +
                                    "; every question needs its own id");
          question.question = field(qas[q], qpath, "question", json::value_t::string, "a string").get<std::string>();
          const json& answers = field(qas[q], qpath, "answers", json::value_t::array, "an array");
          if (answers.empty())
            fail(qpath + ".answers", "no answers (SQuAD v2 unanswerable questions are not supported)");
          for (size_t k = 0; k < answers.size(); ++k) {
            const std::string kpath = qpath + ".answers[" + std::to_string(k) + "]";
            SquadAnswer answer;
            answer.text = field(answers[k], kpath, "text", json::value_t::string, "a string").get<std::string>();
            const json& start_json =
                field(answers[k], kpath, "answer_start", json::value_t::number_integer, "an integer");
            const int64_t start = start_json.is_number_unsigned() && start_json.get<uint64_t>() > INT64_MAX
                                      ? -1
                                      : start_json.get<int64_t>();
            if (start < 0 || start >= static_cast<int64_t>(char_to_byte.size()))
              fail(kpath + ".answer_start", start_json.dump() + " is outside the context (" +
                                                std::to_string(char_to_byte.size() - 1) + " characters)");
            answer.begin = char_to_byte[static_cast<size_t>(start)];
            if (context.compare(static_cast<size_t>(answer.begin), answer.text.size(), answer.text) != 0)
              fail(kpath, "answer text \"" + answer.text + "\" is not at answer_start " + std::to_string(start) +
                              " of the context");
            question.answers.push_back(std::move(answer));
          }
          out.questions.push_back(std::move(question));
        }
      }
    }
    return out;
  }

 private:
  // Byte offset of every code point, plus the end (Python indexes code points).
  static std::vector<int64_t> code_point_offsets(const std::string& text) {
    std::vector<int64_t> out;
    out.reserve(text.size() + 1);
    for (size_t pos = 0; pos < text.size();) {
      out.push_back(static_cast<int64_t>(pos));
      size_t len = 0;
      unicode::decode(text, pos, &len);
      pos += len;
    }
    out.push_back(static_cast<int64_t>(text.size()));
    return out;
  }

  std::string source_;
};

}  // namespace

SquadDataset parse_squad(std::string_view json_text, const std::string& source_name) {
  json root;
  try {
    root = json::parse(json_text.begin(), json_text.end());
  } catch (const json::exception& e) {
    throw Error(source_name + ": invalid JSON: " + e.what());
  }
  return Parser(source_name).parse(root);
}

SquadDataset read_squad(const std::filesystem::path& path) { return parse_squad(read_file(path), path.string()); }

}  // namespace fastbert
