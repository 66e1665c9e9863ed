#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "fastbert/common/atomic_file.h"
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
  EXPECT_EQ(msg, "/work/recipes/recipe.yaml:11:13: key 'stages[0].epochs': \"x\" is not an integer in [1, 10000]");
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

// yaml-cpp 0.7 keeps both of two equal keys and lookups see the first: the
// second, maybe the one the user meant, would be ignored without a word.
TEST(Recipe, DuplicateKeysAreRefusedWithBothPositions) {
  const std::string top = error_of(replace(kValid, "threads: 2\n", "threads: 2\nthreads: 1\n"));
  EXPECT_EQ(top, "/work/recipes/recipe.yaml:4:1: key 'threads': duplicate key (first given at line 3, column 1)");
  const std::string stage = error_of(replace(kValid, "    epochs: 2\n", "    epochs: 2\n    epochs: 20\n"));
  EXPECT_EQ(stage,
            "/work/recipes/recipe.yaml:12:5: key 'stages[0].epochs': duplicate key (first given at line 11, column 5)");
  const std::string data = error_of(replace(kValid, "  max_seq: 128\n", "  max_seq: 128\n  max_seq: 64\n"));
  EXPECT_NE(data.find("key 'data.max_seq': duplicate key"), std::string::npos) << data;
}

// Every integer key has a stated range and one message: key, value, range
// (once "error: stoll" for warmup and block, or a step count that overflowed).
TEST(Recipe, IntegersOutOfRangeNameTheKeyTheValueAndTheRange) {
  auto expect = [](const std::string& from, const std::string& to, const std::string& want) {
    const std::string msg = error_of(replace(kValid, from, to));
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
    EXPECT_EQ(msg.find("stoll"), std::string::npos) << msg;
  };
  expect("threads: 2", "threads: 100000000", ":3:10: key 'threads': 100000000 is out of range [0, 1024]");
  expect("threads: 2", "threads: -1", "key 'threads': -1 is out of range [0, 1024]");
  expect("warmup: 0.1", "warmup: 99999999999999999999",
         ":15:13: key 'stages[0].warmup': 99999999999999999999 is out of range [0, 1099511627776]");
  expect("epochs: 2", "epochs: 9223372036854775807",
         "key 'stages[0].epochs': 9223372036854775807 is out of range [1, 10000]");
  expect("batch_size: 16", "batch_size: 9223372036854775807",
         "key 'stages[0].batch_size': 9223372036854775807 is out of range [1, 65536]");
  expect("grad_accum: 2", "grad_accum: 99999999999999999999999", "key 'stages[0].grad_accum': 99999999999999999999999 is out of range");
  expect("seed: 7", "seed: -3", "key 'stages[0].seed': -3 is out of range [0, 9223372036854775807]");
  expect("max_seq: 128", "max_seq: 100000", "key 'data.max_seq': 100000 is out of range [8, 8192]");
  expect("    seed: 7\n", "    seed: 7\n    prune: {block: [99999999999999999999, 1], target_sparsity: 0.5}\n",
         "key 'stages[0].prune.block[0]': 99999999999999999999 is out of range [1, 256]");
}

TEST(Recipe, MaxSeqBeyondTheModelsPositionsIsRefusedBeforeAnyDataIsPrepared) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("fastbert-test-recipe-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "models" / "tiny");
  write_file_atomic(dir / "models" / "tiny" / "config.json",
                    R"({"vocab_size": 30, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                        "intermediate_size": 64, "max_position_embeddings": 64})");
  std::string msg;
  try {
    Recipe::parse(kValid, dir / "recipe.yaml");
  } catch (const Error& e) {
    msg = e.what();
  }
  std::filesystem::remove_all(dir);
  EXPECT_NE(msg.find("recipe.yaml:6:12: key 'data.max_seq': 128 exceeds the 64 positions (max_position_embeddings) of "),
            std::string::npos)
      << msg;
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
