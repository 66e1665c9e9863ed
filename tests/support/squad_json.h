#pragma once
// The SQuAD v1.1 files the command-line and export tests feed to `prepare`,
// `eval` and the calibration: one article, its paragraphs, one answer per
// question.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"

namespace fastbert::testing {

struct SquadQuestion {
  std::string id, question, answer;
  int64_t answer_start;  // byte offset of `answer` in the context
};

inline nlohmann::json squad_paragraph(const std::string& context, const std::vector<SquadQuestion>& questions) {
  nlohmann::json qas = nlohmann::json::array();
  for (const SquadQuestion& q : questions)
    qas.push_back({{"id", q.id},
                   {"question", q.question},
                   {"answers", {{{"text", q.answer}, {"answer_start", q.answer_start}}}}});
  return {{"context", context}, {"qas", qas}};
}

// Writes `paragraphs` (an array of squad_paragraph) as the one article of a
// SQuAD v1.1 file.
inline void write_squad_json(const std::filesystem::path& file, const nlohmann::json& paragraphs) {
  write_file_atomic(file, nlohmann::json{{"version", "1.1"}, {"data", {{{"title", "t"}, {"paragraphs", paragraphs}}}}}
                              .dump());
}

inline void write_squad_json(const std::filesystem::path& file, const std::string& context,
                             const std::vector<SquadQuestion>& questions) {
  write_squad_json(file, nlohmann::json::array({squad_paragraph(context, questions)}));
}

}  // namespace fastbert::testing
