#include <gtest/gtest.h>

#include "fastbert/common/error.h"
#include "fastbert/train/recipe.h"

namespace fastbert {
namespace {

const char* kValid = R"(model: models/tiny
output: runs/tiny
threads: 2
data:
  train: data/train.json
  max_seq: 128
  doc_stride: 64
  max_query: 32
stages:
  - name: finetune
    epochs: 2
    batch_size: 16
    grad_accum: 2
    learning_rate: 3.0e-5
    warmup: 0.1
    weight_decay: 0.01
    seed: 7
    save_every_steps: 50
    log_every_steps: 5
)";

std::string error_of(const std::string& text) {
  try {
    Recipe::parse(text, "/work/recipes/recipe.yaml");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  const auto pos = s.find(from);
  EXPECT_NE(pos, std::string::npos) << from;
  return s.replace(pos, from.size(), to);
}

TEST(Recipe, ValidRecipeParsesWithPathsRelativeToTheRecipe) {
  const Recipe r = Recipe::parse(kValid, "/work/recipes/recipe.yaml");
  EXPECT_EQ(r.model, "/work/recipes/models/tiny");
  EXPECT_EQ(r.output, "/work/recipes/runs/tiny");
  EXPECT_EQ(r.data.train, "/work/recipes/data/train.json");
  EXPECT_EQ(r.threads, 2);
  EXPECT_EQ(r.data.max_seq, 128);
  EXPECT_EQ(r.data.doc_stride, 64);
  ASSERT_EQ(r.stages.size(), 1u);
  const StageSettings& s = r.stages[0];
  EXPECT_EQ(s.name, "finetune");
  EXPECT_EQ(s.epochs, 2);
  EXPECT_EQ(s.batch_size, 16);
  EXPECT_EQ(s.grad_accum, 2);
  EXPECT_DOUBLE_EQ(s.learning_rate, 3e-5);
  EXPECT_DOUBLE_EQ(s.warmup_fraction, 0.1);
  EXPECT_EQ(s.warmup_steps, -1);
  EXPECT_EQ(s.seed, 7u);
}

TEST(Recipe, WarmupAsWholeNumberIsSteps) {
  const Recipe r = Recipe::parse(replace(kValid, "warmup: 0.1", "warmup: 100"), "r.yaml");
  EXPECT_EQ(r.stages[0].warmup_steps, 100);
}

TEST(Recipe, GroupByLengthIsABoolean) {
  EXPECT_FALSE(Recipe::parse(kValid, "r.yaml").stages[0].group_by_length);
  const std::string on = replace(kValid, "    seed: 7\n", "    seed: 7\n    group_by_length: true\n");
  EXPECT_TRUE(Recipe::parse(on, "r.yaml").stages[0].group_by_length);
  const std::string bad = replace(kValid, "    seed: 7\n", "    seed: 7\n    group_by_length: maybe\n");
  EXPECT_NE(error_of(bad).find("key 'stages[0].group_by_length': expected true or false"), std::string::npos)
      << error_of(bad);
}

TEST(Recipe, PrecisionIsFp32OrBf16AndOnlyBf16ChangesTheResumeKey) {
  const Recipe fp32 = Recipe::parse(kValid, "r.yaml");
  EXPECT_EQ(fp32.stages[0].precision, Precision::Fp32);
  const Recipe bf16 = Recipe::parse(replace(kValid, "    seed: 7\n", "    seed: 7\n    precision: bf16\n"), "r.yaml");
  EXPECT_EQ(bf16.stages[0].precision, Precision::Bf16);
  // A checkpoint written in fp32 is not resumed as if it were bf16, while
  // recipes saying "fp32" resume checkpoints of recipes written before the key existed.
  EXPECT_NE(fp32.resume_key(0), bf16.resume_key(0));
  const Recipe explicit_fp32 =
      Recipe::parse(replace(kValid, "    seed: 7\n", "    seed: 7\n    precision: fp32\n"), "r.yaml");
  EXPECT_EQ(fp32.resume_key(0), explicit_fp32.resume_key(0));
  const std::string msg = error_of(replace(kValid, "    seed: 7\n", "    seed: 7\n    precision: fp16\n"));
  EXPECT_EQ(msg, "/work/recipes/recipe.yaml:18:16: key 'stages[0].precision': expected fp32 or bf16, got \"fp16\"");
}

TEST(Recipe, WrongTypeNamesKeyLineAndColumn) {
  const std::string msg = error_of(replace(kValid, "epochs: 2", "epochs: x"));
  EXPECT_EQ(msg, "/work/recipes/recipe.yaml:11:13: key 'stages[0].epochs': expected a positive integer, got \"x\"");
}

TEST(Recipe, ImpossibleValuesAreRefused) {
  EXPECT_NE(error_of(replace(kValid, "batch_size: 16", "batch_size: 0")).find("key 'stages[0].batch_size'"),
            std::string::npos);
  EXPECT_NE(error_of(replace(kValid, "warmup: 0.1", "warmup: 1.5")).find(":15:13: key 'stages[0].warmup'"),
            std::string::npos)
      << error_of(replace(kValid, "warmup: 0.1", "warmup: 1.5"));
  EXPECT_NE(error_of(replace(kValid, "learning_rate: 3.0e-5", "learning_rate: -1")).find("learning_rate"),
            std::string::npos);
  EXPECT_NE(error_of(replace(kValid, "max_query: 32", "max_query: 200")).find("key 'data.max_query'"),
            std::string::npos);
  EXPECT_NE(error_of(replace(kValid, "train: data/train.json", "train: data/train.txt")).find("key 'data.train'"),
            std::string::npos);
}

TEST(Recipe, UnknownKeyIsRefusedWithItsPosition) {
  const std::string msg = error_of(replace(kValid, "    seed: 7", "    sed: 7"));
  EXPECT_NE(msg.find("recipe.yaml:17:5: key 'stages[0].sed': unknown key"), std::string::npos) << msg;
  const std::string top = error_of(std::string(kValid) + "extra: 1\n");
  EXPECT_NE(top.find(":20:1: key 'extra': unknown key"), std::string::npos) << top;
}

TEST(Recipe, MissingRequiredKeyIsNamed) {
  const std::string msg = error_of(replace(kValid, "output: runs/tiny\n", ""));
  EXPECT_NE(msg.find("key 'output': missing (required)"), std::string::npos) << msg;
  EXPECT_NE(error_of("model: m\noutput: o\ndata: {train: t.h5}\nstages: []\n").find("non-empty list"),
            std::string::npos);
}

TEST(Recipe, InvalidYamlNamesLineAndColumn) {
  const std::string msg = error_of("model: [unclosed\noutput: x\n");
  EXPECT_NE(msg.find("recipe.yaml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not valid YAML"), std::string::npos) << msg;
}

TEST(Recipe, DuplicateStageNamesAreRefused) {
  std::string text = kValid;
  text += "  - name: finetune\n    epochs: 1\n";
  EXPECT_NE(error_of(text).find("duplicate stage name"), std::string::npos) << error_of(text);
}

TEST(Recipe, ResumeKeyIgnoresLoggingButNotTrainingSettings) {
  const Recipe a = Recipe::parse(kValid, "/r/recipe.yaml");
  const Recipe b = Recipe::parse(replace(kValid, "log_every_steps: 5", "log_every_steps: 1"), "/r/recipe.yaml");
  const Recipe c = Recipe::parse(replace(kValid, "seed: 7", "seed: 8"), "/r/recipe.yaml");
  EXPECT_EQ(a.resume_key(0), b.resume_key(0));
  EXPECT_NE(a.resume_key(0), c.resume_key(0));
}

}  // namespace
}  // namespace fastbert
