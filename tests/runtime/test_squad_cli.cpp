#include <gtest/gtest.h>

#include <sys/resource.h>

#include <cstdio>
#include <iostream>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/formats/squad_features.h"
#include "run_command.h"
#include "squad_json.h"
#include "test_dir.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

using fastbert::testing::run_command;

class SquadCli : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "ckpt");
    fs::create_directories(dir_ / "tmp");
    std::string vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nwho\nwhere\nwhat\n?\n.\n,\n##s\n";
    for (const char* w : {"the", "broncos", "won", "in", "santa", "clara", "denver", "game", "bowl", "super", "50", "a",
                          "long", "story", "about", "many", "things"})
      vocab += std::string(w) + "\n";
    write_file_atomic(dir_ / "ckpt" / "vocab.txt", vocab);
    // eval checks --max-seq against it before any window is made (the oracle
    // tool that stands in for fastbert-train reads no weights).
    write_file_atomic(dir_ / "ckpt" / "config.json",
                      R"({"vocab_size": 28, "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                          "intermediate_size": 64, "max_position_embeddings": 64, "type_vocab_size": 2})");
    std::string context = "The Denver Broncos won Super Bowl 50 in Santa Clara.";
    for (int i = 0; i < 20; ++i) context += " A long story about many things.";
    context += " The game, Santa Clara's.";
    testing::write_squad_json(dir_ / "squad.json", context,
                              {{"q-who", "Who won?", "Denver Broncos", 4},
                               {"q-where", "Where?", "Santa Clara", int64_t(context.size()) - 14}});
    fastbert_ = std::string(FASTBERT_BINARY_DIR) + "/cli/fastbert";
  }

  fastbert::testing::TestDir dir_{"fastbert-test-cli"};
  std::string fastbert_;
};

TEST_F(SquadCli, PrepareWritesReadableFeaturesAndReportsCounts) {
  const auto [rc, out] =
      run_command(fastbert_ + " prepare --data " + (dir_ / "squad.json").string() + " --tokenizer " + (dir_ / "ckpt").string() +
          " --out " + (dir_ / "f.h5").string() + " --max-seq 32 --doc-stride 8");
  ASSERT_EQ(rc, 0) << out;
  const SquadFeatures f = read_squad_features(dir_ / "f.h5");
  EXPECT_EQ(f.max_seq, 32);
  EXPECT_EQ(f.doc_stride, 8);
  EXPECT_EQ(f.example_ids, (std::vector<std::string>{"q-who", "q-where"}));
  EXPECT_GT(f.num_windows(), 4);
  EXPECT_NE(out.find("examples: 2 (0 with the answer in no window"), std::string::npos) << out;
  EXPECT_NE(out.find("windows: " + std::to_string(f.num_windows())), std::string::npos) << out;
}

// 6,000 questions over 300 contexts of ~700 tokens, at max_seq 64 and
// doc_stride 16: about 250,000 windows, a features file of ~330 MB. Writing
// every window at once held all of them (the file's size and more); prepare
// streams blocks of questions, so it stays far below the file.
TEST_F(SquadCli, PrepareOfALargeFileStaysUnder100MBPeakMemoryWhileWritingMoreThan300MB) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory and quarantine of freed blocks (256 MB) are not prepare's memory";
#endif
  std::string context = "The Denver Broncos won Super Bowl 50 in Santa Clara.";
  for (int i = 0; i < 110; ++i) context += " A long story about many things.";
  nlohmann::json paragraphs = nlohmann::json::array();
  for (int c = 0; c < 300; ++c) {
    std::vector<testing::SquadQuestion> qas;
    for (int q = 0; q < 20; ++q)
      qas.push_back({"q" + std::to_string(c) + "-" + std::to_string(q), "Who won?", "Denver Broncos", 4});
    paragraphs.push_back(testing::squad_paragraph(context, qas));
  }
  testing::write_squad_json(dir_ / "large.json", paragraphs);
  const auto [rc, out] = run_command(fastbert_ + " prepare --data " + (dir_ / "large.json").string() + " --tokenizer " +
                                     (dir_ / "ckpt").string() + " --out " + (dir_ / "large.h5").string() +
                                     " --max-seq 64 --doc-stride 16 2>&1");
  ASSERT_EQ(rc, 0) << out;
  // Linux keeps, for RUSAGE_CHILDREN, the largest peak RSS of any reaped
  // descendant: the fastbert process under popen's shell.
  rusage usage{};
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &usage), 0);
  const double peak_mb = usage.ru_maxrss / 1024.0;
  const double file_mb = static_cast<double>(fs::file_size(dir_ / "large.h5")) / (1 << 20);
  std::cout << "prepare: peak RSS " << peak_mb << " MB, features file " << file_mb << " MB\n";
  EXPECT_GT(file_mb, 300) << "the test needs a file larger than the bound";
  EXPECT_LT(peak_mb, 100) << "peak RSS " << peak_mb << " MB while writing " << file_mb << " MB";
  EXPECT_NE(out.find("examples: 6000 "), std::string::npos) << out;
  const SquadFeatures f = read_squad_features(dir_ / "large.h5");
  ASSERT_EQ(f.example_ids.size(), 6000u);
  EXPECT_EQ(f.example_ids[2048], "q102-8") << "ids stay in order across blocks";
  EXPECT_EQ(f.example_index.back(), 5999);
}

TEST_F(SquadCli, PrepareLimitKeepsTheFirstQuestions) {
  const auto [rc, out] = run_command(fastbert_ + " prepare --data " + (dir_ / "squad.json").string() + " --tokenizer " +
                             (dir_ / "ckpt").string() + " --out " + (dir_ / "f.h5").string() + " --limit 1");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(read_squad_features(dir_ / "f.h5").example_ids, (std::vector<std::string>{"q-who"}));
}

TEST_F(SquadCli, EvalWithModelRunsPredictAndScoresItsAnswers) {
  const std::string tool = std::string(FASTBERT_BINARY_DIR) + "/tests/runtime/oracle_predict_tool";
  const auto [rc, out] = run_command("TMPDIR=" + (dir_ / "tmp").string() + " FASTBERT_TRAIN_BIN=" + tool + " ORACLE_ARGS_LOG=" +
                             (dir_ / "args.txt").string() + " " + fastbert_ + " eval squad --data " +
                             (dir_ / "squad.json").string() + " --model " + (dir_ / "ckpt").string() +
                             " --max-seq 32 --doc-stride 8 --batch-size 4 --threads 1 --predictions-out " +
                             (dir_ / "preds.json").string() + " 2>/dev/null");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "{\"exact_match\": 100.0, \"f1\": 100.0}\n");
  const auto preds = nlohmann::json::parse(read_file(dir_ / "preds.json"));
  EXPECT_EQ(preds.at("q-who"), "Denver Broncos");
  EXPECT_EQ(preds.at("q-where"), "Santa Clara");
  const std::string args = read_file(dir_ / "args.txt");
  EXPECT_NE(args.find("predict\n--checkpoint\n" + (dir_ / "ckpt").string() + "\n--features\n"), std::string::npos)
      << args;
  EXPECT_NE(args.find("--batch-size\n4\n--threads\n1\n"), std::string::npos) << args;
  // The temporary features and logits were made under TMPDIR and are gone.
  EXPECT_NE(args.find((dir_ / "tmp" / "fastbert-eval-").string()), std::string::npos) << args;
  EXPECT_TRUE(fs::is_empty(dir_ / "tmp"));
}

TEST_F(SquadCli, EvalWithLogitsScoresAnyEnginesOutputOverAFeaturesFile) {
  const std::string tool = std::string(FASTBERT_BINARY_DIR) + "/tests/runtime/oracle_predict_tool";
  const std::string features = (dir_ / "f.h5").string(), logits = (dir_ / "l.h5").string();
  ASSERT_EQ(run_command(fastbert_ + " prepare --data " + (dir_ / "squad.json").string() + " --tokenizer " +
                (dir_ / "ckpt" / "vocab.txt").string() + " --out " + features + " --max-seq 24 --doc-stride 4")
                .first,
            0);
  ASSERT_EQ(run_command(tool + " predict --features " + features + " --out " + logits).first, 0);
  const auto [rc, out] = run_command(fastbert_ + " eval squad --data " + (dir_ / "squad.json").string() + " --features " +
                             features + " --logits " + logits);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "{\"exact_match\": 100.0, \"f1\": 100.0}\n");
  // Logits of the wrong file: features in place of logits.
  const auto [rc2, out2] = run_command(fastbert_ + " eval squad --data " + (dir_ / "squad.json").string() + " --features " +
                               features + " --logits " + features + " 2>&1");
  EXPECT_EQ(rc2, 1);
  EXPECT_NE(out2.find("not a logits file (another kind of fastbert file"), std::string::npos) << out2;
}

TEST_F(SquadCli, EvalWithModelWritesTheLogitsItScoredRowForRowThePreparedWindows) {
  const std::string tool = std::string(FASTBERT_BINARY_DIR) + "/tests/runtime/oracle_predict_tool";
  const std::string features = (dir_ / "f.h5").string(), logits = (dir_ / "l.h5").string();
  const std::string windows = " --max-seq 24 --doc-stride 4";
  ASSERT_EQ(run_command(fastbert_ + " prepare --data " + (dir_ / "squad.json").string() + " --tokenizer " +
                        (dir_ / "ckpt").string() + " --out " + features + windows)
                .first,
            0);
  const auto [rc, out] = run_command("FASTBERT_TRAIN_BIN=" + tool + " " + fastbert_ + " eval squad --data " +
                                     (dir_ / "squad.json").string() + " --model " + (dir_ / "ckpt").string() + windows +
                                     " --threads 1 --logits-out " + logits + " 2>/dev/null");
  ASSERT_EQ(rc, 0) << out;
  const SquadFeatures f = read_squad_features(features);
  const SquadLogits l = read_squad_logits(logits);
  EXPECT_EQ(l.max_seq, f.max_seq);
  EXPECT_EQ(l.num_windows(), f.num_windows());
  const auto [rc2, out2] = run_command(fastbert_ + " eval squad --data " + (dir_ / "squad.json").string() +
                                       " --features " + features + " --logits " + logits);
  ASSERT_EQ(rc2, 0) << out2;
  EXPECT_EQ(out2, out);
  // Without a model there are no logits to keep.
  const auto [rc3, out3] = run_command(fastbert_ + " eval squad --data " + (dir_ / "squad.json").string() +
                                       " --features " + features + " --logits " + logits + " --logits-out " +
                                       (dir_ / "again.h5").string() + " 2>&1");
  EXPECT_EQ(rc3, 1);
  EXPECT_NE(out3.find("--logits-out needs --model"), std::string::npos) << out3;
}

TEST_F(SquadCli, EvalWithPredictionsPrintsOfficialJson) {
  write_file_atomic(dir_ / "p.json", R"({"q-who": "the Broncos", "q-where": "Santa Clara, California"})");
  const auto [rc, out] = run_command(fastbert_ + " eval squad --data " + (dir_ / "squad.json").string() + " --predictions " +
                             (dir_ / "p.json").string());
  ASSERT_EQ(rc, 0) << out;
  // who: best F1 2/3 (1 of 2 gold tokens); where: 0.8.
  const auto j = nlohmann::json::parse(out);
  EXPECT_DOUBLE_EQ(j.at("exact_match").get<double>(), 0.0);
  EXPECT_NEAR(j.at("f1").get<double>(), 100.0 * (2.0 / 3.0 + 0.8) / 2, 1e-9);
}

TEST_F(SquadCli, EvalRejectsMissingFbmModelsAndMissingInputsClearly) {
  auto [rc, out] = run_command(fastbert_ + " eval squad --data " + (dir_ / "squad.json").string() + " --model x.fbm 2>&1");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("x.fbm: no such model file"), std::string::npos) << out;
  std::tie(rc, out) = run_command(fastbert_ + " eval squad --data " + (dir_ / "squad.json").string() + " 2>&1");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("exactly one of --predictions"), std::string::npos) << out;
  std::tie(rc, out) = run_command(fastbert_ + " eval squad --data " + (dir_ / "squad.json").string() + " --logits " +
                          (dir_ / "squad.json").string() + " 2>&1");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("--logits and --features go together"), std::string::npos) << out;
  std::tie(rc, out) = run_command(fastbert_ + " prepare --data " + (dir_ / "squad.json").string() + " --tokenizer " +
                          (dir_ / "nothing").string() + " --out " + (dir_ / "f.h5").string() + " 2>&1");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("tokenizer not found"), std::string::npos) << out;
}

}  // namespace
}  // namespace fastbert
