#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace fastbert {

struct SquadAnswer {
  std::string text;
  int64_t begin = 0;  // byte offset into the UTF-8 context (JSON answer_start counts code points)
};

struct SquadQuestion {
  std::string id;
  std::string question;
  int32_t context = 0;  // index into SquadDataset::contexts
  std::vector<SquadAnswer> answers;
};

// A SQuAD v1.1 file: paragraphs' contexts stored once, questions in file order.
struct SquadDataset {
  std::vector<std::string> contexts;
  std::vector<SquadQuestion> questions;
};

// Throws fastbert::Error naming the source and the JSON path of the first bad
// field (e.g. "dev.json: data[3].paragraphs[0].qas[2].answers[0].answer_start: ...").
SquadDataset parse_squad(std::string_view json_text, const std::string& source_name);
SquadDataset read_squad(const std::filesystem::path& path);

}  // namespace fastbert
