#include <gtest/gtest.h>

#include "fastbert/common/error.h"
#include "fastbert/runtime/squad/squad_dataset.h"

namespace fastbert {
namespace {

std::string error_of(const std::string& json) {
  try {
    parse_squad(json, "bad.json");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(SquadDataset, ParsesV11AndConvertsAnswerStartFromCodePointsToBytes) {
  // "Crème" has 5 code points and 6 bytes, so answer_start 6 ("brûlée") is byte 7.
  const SquadDataset d = parse_squad(R"({"version": "1.1", "data": [{"title": "T", "paragraphs": [
      {"context": "Crème brûlée is sweet.", "qas": [
        {"id": "a1", "question": "What?", "answers": [{"text": "brûlée", "answer_start": 6},
                                                        {"text": "sweet", "answer_start": 16}]}]},
      {"context": "Second.", "qas": [{"id": "a2", "question": "Q", "answers": [{"text": "Second", "answer_start": 0}]}]}
    ]}]})",
                                     "ok.json");
  ASSERT_EQ(d.contexts.size(), 2u);
  ASSERT_EQ(d.questions.size(), 2u);
  EXPECT_EQ(d.questions[0].id, "a1");
  EXPECT_EQ(d.questions[0].answers[0].begin, 7);
  EXPECT_EQ(d.questions[0].answers[1].begin, 19);
  EXPECT_EQ(d.questions[1].context, 1);
}

// Answers, windows and predictions are keyed by question id: two questions
// with one id in different paragraphs got answers from the other's context.
TEST(SquadDataset, DuplicateQuestionIdsAreRefusedWithBothLocations) {
  const std::string msg = error_of(R"({"version": "1.1", "data": [{"title": "T", "paragraphs": [
      {"context": "First.", "qas": [{"id": "q", "question": "Q", "answers": [{"text": "First", "answer_start": 0}]}]}]},
      {"title": "U", "paragraphs": [
      {"context": "Second.", "qas": [{"id": "q", "question": "Q", "answers": [{"text": "Second", "answer_start": 0}]}]}
    ]}]})");
  EXPECT_EQ(msg,
            "bad.json: data[1].paragraphs[0].qas[0].id: question id \"q\" is also the id of "
            "data[0].paragraphs[0].qas[0].id; every question needs its own id");
}

TEST(SquadDataset, BadJsonNamesTheFieldPath) {
  EXPECT_NE(error_of("{\"data\": [").find("bad.json: invalid JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"version": "1.1"})").find("(root): missing field 'data'"), std::string::npos);
  EXPECT_NE(
      error_of(R"({"data": [{"paragraphs": [{"qas": []}]}]})").find("data[0].paragraphs[0]: missing field 'context'"),
      std::string::npos);
  const std::string base =
      R"({"data": [{"paragraphs": [{"context": "abc def", "qas": [{"id": "x", "question": "q", "answers": [)";
  EXPECT_NE(error_of(base + R"({"text": "abc", "answer_start": "0"}]}]}]}]})")
                .find("data[0].paragraphs[0].qas[0].answers[0].answer_start: expected an integer, got string"),
            std::string::npos)
      << error_of(base + R"({"text": "abc", "answer_start": "0"}]}]}]}]})");
  EXPECT_NE(error_of(base + R"({"text": "abc", "answer_start": 99}]}]}]}]})")
                .find("answers[0].answer_start: 99 is outside the context"),
            std::string::npos);
  EXPECT_NE(error_of(base + R"({"text": "xyz", "answer_start": 4}]}]}]}]})")
                .find("qas[0].answers[0]: answer text \"xyz\" is not at answer_start 4"),
            std::string::npos);
  EXPECT_NE(error_of(base + R"(]}]}]}]})").find("qas[0].answers: no answers"), std::string::npos);
  EXPECT_NE(error_of(R"({"data": [{"paragraphs": [{"context": "c", "qas": [{"question": "q", "answers": []}]}]}]})")
                .find("qas[0]: missing field 'id'"),
            std::string::npos);
}

}  // namespace
}  // namespace fastbert
