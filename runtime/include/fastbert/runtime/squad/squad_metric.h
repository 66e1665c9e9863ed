#pragma once
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>

#include "fastbert/runtime/squad/squad_dataset.h"

namespace fastbert {

// The official SQuAD v1.1 evaluation (evaluate-v1.1.py), reproduced exactly:
// normalize = lower-case, drop ASCII punctuation, drop the words a/an/the,
// collapse whitespace; EM and bag-of-tokens F1; max over gold answers.
std::string normalize_answer(std::string_view text);
double exact_match_score(std::string_view prediction, std::string_view gold);
double f1_score(std::string_view prediction, std::string_view gold);

struct SquadScore {
  double exact_match = 0;  // percent
  double f1 = 0;           // percent
  int64_t questions = 0;
  int64_t missing = 0;  // questions without a prediction (scored 0)
};

using SquadPredictionMap = std::unordered_map<std::string, std::string>;

// Mean over every question of `data`; a missing prediction scores 0.
SquadScore evaluate_squad(const SquadDataset& data, const SquadPredictionMap& predictions);

// A predictions file: one JSON object of question id -> answer text.
SquadPredictionMap read_squad_predictions(const std::filesystem::path& path);

}  // namespace fastbert
