#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/runtime/squad/squad_metric.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

TEST(SquadMetric, NormalizeLowerCasesDropsPunctuationArticlesAndExtraSpaces) {
  EXPECT_EQ(normalize_answer("The  Denver Broncos!"), "denver broncos");
  EXPECT_EQ(normalize_answer("an apple, a pear and THE end."), "apple pear and end");
  // Articles only as whole words: "another", "theory", "Anna" stay.
  EXPECT_EQ(normalize_answer("another theory of Anna"), "another theory of anna");
  // Punctuation goes before articles are matched, so "the-end" becomes "theend".
  EXPECT_EQ(normalize_answer("the-end"), "theend");
  EXPECT_EQ(normalize_answer("(a)"), "");
  EXPECT_EQ(normalize_answer("\t1,000\u00A0km "), "1000 km");
  // Non-ASCII punctuation is kept, non-ASCII letters are lower-cased.
  EXPECT_EQ(normalize_answer("Ä \u2014 Éa"), "ä \u2014 éa");
  // A letter next to "a" makes it part of a word (Unicode \w).
  EXPECT_EQ(normalize_answer("éa a"), "éa");
  // Python's str.lower: capital sigma is final at the end of a word.
  EXPECT_EQ(normalize_answer("ΟΔΟΣ Σ"), "οδος σ");
}

TEST(SquadMetric, ExactMatchIgnoresCaseArticlesAndPunctuation) {
  EXPECT_EQ(exact_match_score("the Eiffel Tower.", "Eiffel tower"), 1.0);
  EXPECT_EQ(exact_match_score("Eiffel", "Eiffel tower"), 0.0);
  EXPECT_EQ(exact_match_score("", ""), 1.0);
}

TEST(SquadMetric, F1CountsSharedTokensWithMultiplicity) {
  // pred: [paris, paris, france]; gold: [paris, france, capital]: 2 shared,
  // precision 2/3, recall 2/3.
  EXPECT_NEAR(f1_score("Paris paris, France", "the capital: Paris France"), 2.0 / 3.0, 1e-12);
  // pred 1 token of gold's 5 ("the" dropped): precision 1, recall 1/5, F1 = 1/3.
  EXPECT_NEAR(f1_score("Broncos", "The Denver Broncos team of 2015"), 1.0 / 3.0, 1e-12);
  EXPECT_EQ(f1_score("a", "the"), 0.0);  // both normalise to nothing: official v1.1 gives 0
  EXPECT_EQ(f1_score("cat", "dog"), 0.0);
}

SquadDataset two_questions() {
  SquadDataset d;
  d.contexts = {"Denver Broncos won Super Bowl 50 in Santa Clara."};
  d.questions.push_back({"q1", "Who won?", 0, {{"Denver Broncos", 0}, {"Broncos", 7}}});
  d.questions.push_back({"q2", "Where?", 0, {{"Santa Clara", 36}}});
  return d;
}

TEST(SquadMetric, EvaluateTakesBestGoldAndCountsMissingPredictionsAsZero) {
  const SquadDataset d = two_questions();
  SquadScore s = evaluate_squad(d, {{"q1", "the broncos"}, {"q2", "Santa Clara, California"}});
  EXPECT_DOUBLE_EQ(s.exact_match, 50.0);
  // q1: EM with "Broncos"; q2: precision 2/3, recall 1 -> 0.8.
  EXPECT_DOUBLE_EQ(s.f1, 100.0 * (1.0 + 0.8) / 2);
  s = evaluate_squad(d, {{"q1", "Denver"}, {"unknown-id", "x"}});
  EXPECT_EQ(s.missing, 1);
  EXPECT_EQ(s.questions, 2);
  EXPECT_DOUBLE_EQ(s.exact_match, 0.0);
  EXPECT_NEAR(s.f1, 100.0 * (2 * 1 * 0.5 / 1.5) / 2, 1e-9);
}

TEST(SquadMetric, PredictionsFileMustMapIdsToStrings) {
  const fs::path path = fs::temp_directory_path() / ("fastbert-test-preds-" + std::to_string(::getpid()) + ".json");
  write_file_atomic(path, R"({"q1": "a", "q2": 3})");
  try {
    read_squad_predictions(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'q2' must be a string"), std::string::npos) << e.what();
  }
  write_file_atomic(path, R"(["q1"])");
  EXPECT_THROW(read_squad_predictions(path), Error);
  write_file_atomic(path, R"({"q1": "x")");
  EXPECT_THROW(read_squad_predictions(path), Error);
  fs::remove(path);
}

// The official script's numbers for a predictions file of mixed quality.
TEST(SquadMetric, ReproducesOfficialScoresOnSharedMetricCheck) {
  const fs::path squad = fs::path(FASTBERT_SOURCE_DIR) / ".." / "shared" / "data" / "squad";
  if (!fs::exists(squad / "metric-check" / "expected.json") || !fs::exists(squad / "dev.json"))
    GTEST_SKIP() << "SQuAD data not found at " << squad << " (../shared/data/squad next to the source tree)";
  const auto expected = nlohmann::json::parse(read_file(squad / "metric-check" / "expected.json"));
  const SquadScore s = evaluate_squad(read_squad(squad / "dev.json"),
                                      read_squad_predictions(squad / "metric-check" / "dev-predictions.json"));
  EXPECT_NEAR(s.exact_match, expected.at("exact_match").get<double>(), 1e-9);
  EXPECT_NEAR(s.f1, expected.at("f1").get<double>(), 1e-9);
  EXPECT_EQ(s.questions, 1746);
}

}  // namespace
}  // namespace fastbert
