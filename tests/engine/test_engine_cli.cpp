// `fastbert export`, `fastbert eval squad --model x.fbm` and `fastbert bench
// model`, run as a user runs them, on a tiny random checkpoint.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "run_command.h"
#include "squad_json.h"
#include "test_dir.h"
#include "tiny_bert.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;

using fastbert::testing::run_command;

class EngineCli : public ::testing::Test {
 protected:
  void SetUp() override {
    model_.write_checkpoint(dir_ / "ckpt");
    const std::string context =
        "the denver broncos won the super bowl 50 game in santa clara . it was a long story about many things , "
        "and the team of the city was on the game for it .";
    std::vector<testing::SquadQuestion> qas;
    const char* questions[] = {"who won ?", "where was the game ?", "what was it about ?", "who was the team ?",
                               "what city ?", "what game was it ?"};
    for (int i = 0; i < 6; ++i) qas.push_back({"q" + std::to_string(i), questions[i], "denver broncos", 4});
    testing::write_squad_json(dir_ / "squad.json", context, qas);
    fastbert_ = std::string(FASTBERT_BINARY_DIR) + "/cli/fastbert";
    train_tool_ = fs::path(FASTBERT_BINARY_DIR) / "cli" / "fastbert-train";
  }

  double eval_f1(const std::string& model, std::string* predictions = nullptr) {
    const auto [rc, out] = run_command(fastbert_ + " eval squad --data " + (dir_ / "squad.json").string() + " --model " +
                               model + " --max-seq 32 --doc-stride 8 --max-query 8 --threads 1 --predictions-out " +
                               (dir_ / "preds.json").string() + " 2>/dev/null");
    EXPECT_EQ(rc, 0) << out;
    if (predictions) *predictions = read_file(dir_ / "preds.json");
    return nlohmann::json::parse(out).at("f1").get<double>();
  }

  testing::TinyBert model_{testing::TinyBertSpec{}};
  testing::TestDir dir_{"fastbert-test-engine-cli"};
  std::string fastbert_;
  fs::path train_tool_;
};

TEST_F(EngineCli, ExportPrintsPerLayerSummaryAndEvalRunsTheFbm) {
  const auto [rc, out] = run_command(fastbert_ + " export --checkpoint " + (dir_ / "ckpt").string() + " --out " +
                             (dir_ / "m.fbm").string() + " --precision fp32 2>&1");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("encoder/layer_1/intermediate"), std::string::npos) << out;
  EXPECT_NE(out.find("128x64"), std::string::npos) << out;
  EXPECT_NE(out.find("dense_fp32"), std::string::npos) << out;
  EXPECT_NE(out.find("fp32 checkpoint (model.safetensors)"), std::string::npos) << out;
  std::string preds;
  const double f1 = eval_f1((dir_ / "m.fbm").string(), &preds);
  EXPECT_GE(f1, 0.0);
  EXPECT_EQ(nlohmann::json::parse(preds).size(), 6u) << preds;
}

TEST_F(EngineCli, Fp32ExportScoresTheCheckpointsF1Within01) {
  if (!fs::exists(train_tool_)) GTEST_SKIP() << "fastbert-train is not built (FASTBERT_BUILD_TRAINING=OFF)";
  ASSERT_EQ(run_command(fastbert_ + " export --checkpoint " + (dir_ / "ckpt").string() + " --out " +
                (dir_ / "m.fbm").string() + " --precision fp32 >/dev/null 2>&1")
                .first,
            0);
  std::string ck_preds, fbm_preds;
  const double ck = eval_f1((dir_ / "ckpt").string(), &ck_preds);
  const double fbm = eval_f1((dir_ / "m.fbm").string(), &fbm_preds);
  EXPECT_NEAR(fbm, ck, 0.1);
  EXPECT_EQ(nlohmann::json::parse(fbm_preds), nlohmann::json::parse(ck_preds));
}

TEST_F(EngineCli, BenchModelReportsThroughputLatencyBudgetAndProfile) {
  const auto windows = model_.random_windows(3, 32, 1);
  model_.write_quantization(dir_ / "ckpt", windows);
  ASSERT_EQ(run_command(fastbert_ + " export --checkpoint " + (dir_ / "ckpt").string() + " --out " +
                (dir_ / "m.fbm").string() + " >/dev/null 2>&1")
                .first,
            0);
  // Two models (one labelled, one named by its file) measured in interleaved rounds.
  fs::copy_file(dir_ / "m.fbm", dir_ / "copy.fbm");
  std::string cmd = fastbert_ + " bench model --model first=" + (dir_ / "m.fbm").string() + "," +
                    (dir_ / "copy.fbm").string() +
                    " --batch 1,2 --seq 32 --rounds 2 --min-seconds 0.05 --threads 1 --latency-ms 10000 --profile "
                    "--json " +
                    (dir_ / "b.json").string();
  const bool compare = fs::exists(train_tool_);
  if (compare) cmd += " --compare-checkpoint " + (dir_ / "ckpt").string();
  const auto [rc, out] = run_command(cmd + " 2>&1");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("best throughput with p90 <= 10000.0 ms"), std::string::npos) << out;
  EXPECT_NE(out.find("profile: attention"), std::string::npos) << out;
  const auto j = nlohmann::json::parse(read_file(dir_ / "b.json"));
  EXPECT_EQ(j.at("rounds"), 2);
  EXPECT_EQ(j.at("models").at("first"), (dir_ / "m.fbm").string());
  EXPECT_GE(j.at("vnni_peak_gops_1_thread").get<double>(), 0.0);
  // Any CPU with AVX2 (every machine of this project) has an int8 peak to report.
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_GT(j.at("int8_peak_gops_1_thread").get<double>(), 0.0);
    EXPECT_FALSE(j.at("int8_peak").get<std::string>().empty());
  }
  ASSERT_EQ(j.at("seq_per_s").size(), compare ? 6u : 4u) << j.dump();
  for (const auto& row : j.at("seq_per_s")) EXPECT_GT(row.at("value").get<double>(), 0.0) << row.dump();
  EXPECT_EQ(j.at("seq_per_s")[0].at("engine"), "fastbert_first");
  EXPECT_EQ(j.at("seq_per_s")[1].at("engine"), "fastbert_copy");
  if (compare) {
    EXPECT_EQ(j.at("seq_per_s")[2].at("engine"), "libtorch_fp32");
  }
  ASSERT_EQ(j.at("profile").size(), 4u);
  EXPECT_EQ(j.at("profile")[1].at("engine"), "fastbert_copy");
  EXPECT_GT(j.at("profile")[0].at("share").at("attention").get<double>(), 0.0);
}

TEST_F(EngineCli, BenchModelRefusesSameLabelsZeroRoundsAndMissingFilesClearly) {
  ASSERT_EQ(run_command(fastbert_ + " export --checkpoint " + (dir_ / "ckpt").string() + " --out " +
                        (dir_ / "m.fbm").string() + " >/dev/null 2>&1")
                .first,
            0);
  const std::string m = (dir_ / "m.fbm").string();
  const std::string bench = fastbert_ + " bench model --batch 1 --seq 32 --min-seconds 0.01 --threads 1 --model ";
  const std::pair<std::string, std::string> cases[] = {
      {m + "," + m, "two models are labelled 'm'"},
      {"a=" + m + ",a=" + m, "two models are labelled 'a'"},
      {m + " --rounds 0", "--rounds: 0 is out of range [1, 1000]"},
      {"x=" + (dir_ / "absent.fbm").string(), "no such model file"},
  };
  for (const auto& [args, message] : cases) {
    const auto [rc, out] = run_command(bench + args + " 2>&1");
    EXPECT_NE(rc, 0) << args;
    EXPECT_NE(out.find(message), std::string::npos) << args << ": " << out;
  }
}

}  // namespace
}  // namespace fastbert
