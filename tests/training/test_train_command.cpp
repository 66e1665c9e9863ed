// The file-level commands of fastbert-train: training from a features file,
// predict, and a real SIGKILL in the middle of a run followed by a resume.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/model/checkpoint.h"
#include "fastbert/train/commands.h"
#include "fastbert/train/predict.h"
#include "training_fixtures.h"

namespace fastbert {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TestDir;

// A recipe in `dir` training a config-only tiny model on dir/train.h5.
fs::path write_recipe(const TestDir& dir, const std::string& output, int64_t epochs, int64_t save_every) {
  testing::write_config_only_checkpoint(dir / "init", testing::tiny_config());
  const std::string text = "model: init\noutput: " + output +
                           "\nthreads: 1\ndata:\n  train: train.h5\n  max_seq: 32\n  max_query: 4\n"
                           "stages:\n  - name: finetune\n    epochs: " +
                           std::to_string(epochs) +
                           "\n    batch_size: 8\n    learning_rate: 1.0e-3\n    warmup: 0.1\n    seed: 5\n"
                           "    save_every_steps: " +
                           std::to_string(save_every) + "\n";
  write_file_atomic(dir / (output + ".yaml"), text);
  return dir / (output + ".yaml");
}

TrainOptions quiet() {
  TrainOptions o;
  o.log = false;
  return o;
}

TEST(TrainCommand, TrainsFromAFeaturesFileAndWritesReport) {
  TestDir tmp;
  write_squad_features(tmp / "train.h5", testing::copy_span_task(40, 1));
  const TrainReport report = run_train_command(write_recipe(tmp, "run", 1, 100), quiet());
  ASSERT_TRUE(report.finished);
  EXPECT_EQ(report.stages[0].losses.size(), 5u);
  EXPECT_TRUE(fs::exists(tmp / "run" / "final" / "model.safetensors"));
  const json r = json::parse(read_file(tmp / "run" / "train_report.json"));
  EXPECT_EQ(r["train_windows"], 40);
  EXPECT_EQ(r["windows_trained"], 40);
  EXPECT_GT(r["train_examples_per_s"].get<double>(), 0.0);
}

TEST(TrainCommand, PredictWritesTheLogitsOfEveryWindow) {
  TestDir tmp;
  const SquadFeatures f = testing::copy_span_task(9, 2);
  write_squad_features(tmp / "dev.h5", f);
  torch::manual_seed(1);
  BertForQuestionAnswering model(testing::tiny_config());
  save_bert_qa(model, tmp / "ckpt", {});
  run_predict_command(tmp / "ckpt", tmp / "dev.h5", tmp / "logits.h5", 4, 1);
  const SquadLogits written = read_squad_logits(tmp / "logits.h5");
  const SquadLogits expected = predict_logits(model, f, 9);
  ASSERT_EQ(written.num_windows(), 9);
  ASSERT_EQ(written.start_logits.size(), expected.start_logits.size());
  for (std::size_t i = 0; i < expected.start_logits.size(); ++i) {
    EXPECT_NEAR(written.start_logits[i], expected.start_logits[i], 1e-4);
    EXPECT_NEAR(written.end_logits[i], expected.end_logits[i], 1e-4);
  }
}

// Peak RSS in MB of `fastbert-train train RECIPE`, run as a child.
double peak_rss_mb_of_training(const fs::path& recipe) {
  const std::string tool = std::string(FASTBERT_BINARY_DIR) + "/cli/fastbert-train";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(tool.c_str(), tool.c_str(), "train", recipe.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  rusage usage{};
  if (pid < 0 || ::wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return -1;
  return usage.ru_maxrss / 1024.0;
}

TEST(TrainCommand, TrainingReadsTheFeaturesFileABatchAtATimeSoItsMemoryDoesNotGrowWithTheFile) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's shadow memory and quarantine of freed blocks are not the trainer's memory";
#endif
  // The same 4 steps of 8 windows, from a file of 512 windows and from one
  // of 80,000 (about 200 MB): before batches were read on demand, the
  // trainer held the whole file and its peak grew by the file's size.
  TestDir tmp;
  const int64_t seq = 128;
  testing::write_config_only_checkpoint(tmp / "init", testing::tiny_config(64, seq));
  auto recipe = [&](const std::string& name) {
    write_file_atomic(tmp / (name + ".yaml"),
                      "model: init\noutput: " + name + "\nthreads: 1\ndata:\n  train: " + name +
                          ".h5\n  max_seq: 128\n  max_query: 4\nstages:\n  - name: finetune\n    max_steps: 4\n"
                          "    batch_size: 8\n    learning_rate: 1.0e-3\n    seed: 5\n    group_by_length: true\n");
    return tmp / (name + ".yaml");
  };
  write_squad_features(tmp / "small.h5", testing::copy_span_task(512, 1, 64, seq));
  write_squad_features(tmp / "large.h5", testing::copy_span_task(80000, 1, 64, seq));
  const double file_mb = static_cast<double>(fs::file_size(tmp / "large.h5")) / (1 << 20);
  ASSERT_GT(file_mb, 150) << "the test needs a file much larger than the bound";
  const double small = peak_rss_mb_of_training(recipe("small"));
  const double large = peak_rss_mb_of_training(recipe("large"));
  ASSERT_GT(small, 0) << "training on small.h5 failed";
  ASSERT_GT(large, 0) << "training on large.h5 failed";
  std::cout << "fastbert-train peak RSS: " << small << " MB on 512 windows, " << large << " MB on 80,000 windows ("
            << file_mb << " MB file)\n";
  EXPECT_LT(large - small, file_mb / 10) << "peak RSS grew by " << large - small << " MB for a " << file_mb
                                         << " MB file";
}

TEST(TrainCommand, RunKilledWithSigkillResumesToTheSameLossCurve) {
  TestDir tmp;
  write_squad_features(tmp / "train.h5", testing::copy_span_task(160, 3));
  const fs::path reference = write_recipe(tmp, "reference", 8, 1000);  // 160 steps
  const fs::path killed = write_recipe(tmp, "killed", 8, 3);
  const TrainReport full = run_train_command(reference, quiet());
  ASSERT_TRUE(full.finished);

  const std::string tool = std::string(FASTBERT_BINARY_DIR) + "/cli/fastbert-train";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(tool.c_str(), tool.c_str(), "train", killed.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const fs::path state_file = tmp / "killed" / "checkpoint-last" / "trainer_state.json";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  int64_t step_seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(state_file)) {
      try {
        step_seen = json::parse(read_file(state_file))["step"].get<int64_t>();
      } catch (const std::exception&) {
        step_seen = 0;  // replaced between exists() and read: look again
      }
      if (step_seen >= 12) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "fastbert-train finished before it could be killed";
  ASSERT_GE(step_seen, 12);

  const json state = json::parse(read_file(state_file));
  EXPECT_FALSE(state["stage_done"].get<bool>());
  const TrainReport resumed = run_train_command(killed, quiet());
  ASSERT_TRUE(resumed.finished);
  EXPECT_TRUE(resumed.resumed);
  EXPECT_LT(resumed.steps_run, full.steps_run);
  const auto& a = full.stages[0].losses;
  const auto& b = resumed.stages[0].losses;
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6) << "step " << i + 1;
}

// Two trainers on one output would load the same checkpoint and overwrite
// each other's saves: while one runs, a second is refused, naming the first.
// (RunKilledWithSigkillResumesToTheSameLossCurve shows that a killed holder
// leaves no lock behind.)
TEST(TrainCommand, SecondTrainerOnTheSameOutputIsRefusedWhileTheFirstRuns) {
  TestDir tmp;
  write_squad_features(tmp / "train.h5", testing::copy_span_task(160, 3));
  const fs::path recipe = write_recipe(tmp, "run", 40, 3);  // 800 steps: still running when checked
  const std::string tool = std::string(FASTBERT_BINARY_DIR) + "/cli/fastbert-train";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::execl(tool.c_str(), tool.c_str(), "train", recipe.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const fs::path state_file = tmp / "run" / "checkpoint-last" / "trainer_state.json";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(state_file) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::string message;
  try {
    run_train_command(recipe, quiet());
  } catch (const Error& e) {
    message = e.what();
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the first trainer finished before the second was started";
  EXPECT_NE(message.find((tmp / "run").string() + " is being written by another training process (pid " +
                         std::to_string(pid) + ")"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace fastbert
