// Data-parallel training on c10d (Gloo): ranks as real fastbert-train
// processes, on loopback and across two network namespaces, against the
// single-process run of the same global batch and seed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "fastbert/common/atomic_file.h"
#include "fastbert/formats/safetensors.h"
#include "fastbert/train/commands.h"
#include "fastbert/train/gradient_buckets.h"
#include "fastbert/train/rank_env.h"
#include "fastbert/train/rank_group.h"
#include "fastbert/train/trainer.h"
#include "training_fixtures.h"

extern char** environ;

namespace fastbert {
namespace {
namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::TestDir;
using Clock = std::chrono::steady_clock;

const std::string kTool = std::string(FASTBERT_BINARY_DIR) + "/cli/fastbert-train";

// The relative difference to which 2 ranks reproduce the single-process
// losses: the same windows and weights, only summed in another order (the
// tiny model has no dropout, so no random draw differs either).
constexpr double kLossTolerance = 1e-4;

// Prune with snip-momentum (its scores come from the summed gradients), then
// quantization-aware training (calibrated on every rank): 24 + 6 steps of 8
// windows on 96 windows.
fs::path write_recipe(const TestDir& dir, const std::string& name, int64_t epochs = 2, int64_t timeout_s = 60,
                      uint64_t seed = 5, int64_t save_every = 4) {
  if (!fs::exists(dir / "train.h5")) write_squad_features(dir / "train.h5", testing::copy_span_task(96, 3));
  BertConfig config = testing::tiny_config();
  config.hidden_dropout_prob = config.attention_probs_dropout_prob = 0;
  testing::write_config_only_checkpoint(dir / "init", config);
  const std::string e = std::to_string(epochs), s = std::to_string(seed), every = std::to_string(save_every);
  const std::string text = "model: init\noutput: " + name +
                           "\nthreads: 1\ndistributed:\n  timeout_s: " + std::to_string(timeout_s) +
                           "\ndata:\n  train: train.h5\n  max_seq: 32\n  max_query: 4\nstages:\n"
                           "  - name: prune\n    epochs: " + e +
                           "\n    batch_size: 8\n    learning_rate: 5.0e-3\n    warmup: 0.1\n    seed: " + s +
                           "\n    save_every_steps: " + every +
                           "\n    log_every_steps: 1\n"
                           "    prune:\n      block: [4, 1]\n      criterion: snip_momentum\n"
                           "      start_step: 2\n      end_step: 16\n      update_every_steps: 2\n"
                           "      target_sparsity: 0.5\n"
                           "  - name: qat\n    epochs: 1\n    max_steps: 6\n    batch_size: 8\n"
                           "    learning_rate: 2.0e-4\n    seed: 6\n    save_every_steps: " + every +
                           "\n    quantize:\n      mode: qat\n      calibration: minmax\n"
                           "      calibration_batches: 2\n";
  write_file_atomic(dir / (name + ".yaml"), text);
  return dir / (name + ".yaml");
}

TrainOptions quiet() {
  TrainOptions o;
  o.log = false;
  return o;
}

int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// A child process with stdout and stderr in `log`: posix_spawn, since this
// process has LibTorch's threads by now and a forked child may not allocate.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env, const fs::path& log) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string v = *e;
    bool ours = false;
    for (const char* k : {"RANK=", "WORLD_SIZE=", "LOCAL_RANK=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=", "MASTER_PORT="})
      ours = ours || v.rfind(k, 0) == 0;
    if (!ours) env.push_back(v);
  }
  env.insert(env.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> cargv, cenv;
  std::vector<std::string> args = argv;
  for (auto& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, cargv[0], &actions, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

std::vector<std::string> rank_env(int rank, int world, const std::string& addr, int port) {
  return {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank), "WORLD_SIZE=" + std::to_string(world),
          "MASTER_ADDR=" + addr, "MASTER_PORT=" + std::to_string(port)};
}

// The wait status of `pid` once it exits, or none after `limit` (then it is killed).
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool exited_ok(const std::optional<int>& status) { return status && WIFEXITED(*status) && WEXITSTATUS(*status) == 0; }

// The block masks of a masks.safetensors, without the snip-momentum scores
// (floats, which the order of a sum may change in the last bit).
std::map<std::string, std::string> masks_of(const fs::path& file) {
  std::map<std::string, std::string> out;
  for (const SafetensorsTensor& t : read_safetensors(file).tensors)
    if (t.dtype == SafetensorsDType::U8) out[t.name] = t.data;
  return out;
}

std::string text_of(const fs::path& file) { return fs::exists(file) ? read_file(file) : std::string(); }

bool wait_for_text(const fs::path& log, const std::string& text, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    if (text_of(log).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::vector<std::vector<double>> losses_of(const fs::path& run) {
  return json::parse(read_file(run / "checkpoint-last" / "trainer_state.json"))["losses"]
      .get<std::vector<std::vector<double>>>();
}

void expect_same_curve(const std::vector<std::vector<double>>& expected, const std::vector<std::vector<double>>& got,
                       double tolerance) {
  ASSERT_EQ(expected.size(), got.size());
  for (std::size_t s = 0; s < expected.size(); ++s) {
    ASSERT_EQ(expected[s].size(), got[s].size()) << "stage " << s;
    for (std::size_t i = 0; i < expected[s].size(); ++i)
      ASSERT_NEAR(expected[s][i], got[s][i], tolerance * std::max(1.0, std::abs(expected[s][i])))
          << "stage " << s << " step " << i + 1;
  }
}

// Two ranks of `recipe` on loopback started by `fastbert-train --nproc 2`.
std::optional<int> run_two_local_ranks(const TestDir& tmp, const fs::path& recipe, const std::string& log_name,
                                       std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {kTool, "train", recipe.string(), "--nproc", "2"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const pid_t pid = spawn(argv, {}, tmp / log_name);
  if (pid < 0) return std::nullopt;
  return wait_exit(pid, std::chrono::seconds(180));
}

TEST(DataParallel, StepSharesOfTheRanksAreDisjointAndCoverEveryWindowOfTheEpoch) {
  const int64_t n = 103, per_step = 8;  // the last step is partial (7 windows)
  for (int world : {1, 2, 3, 5, 8, 11}) {
    const std::vector<int64_t> order = epoch_order(n, 7, 1);
    std::multiset<int64_t> seen;
    for (int64_t begin = 0; begin < n; begin += per_step) {
      const int64_t end = std::min(n, begin + per_step);
      std::set<int64_t> step;
      std::size_t smallest = SIZE_MAX, largest = 0;
      for (int r = 0; r < world; ++r) {
        const std::vector<int64_t> share = rank_share(order, begin, end, r, world);
        smallest = std::min(smallest, share.size());
        largest = std::max(largest, share.size());
        for (int64_t w : share) {
          EXPECT_TRUE(step.insert(w).second) << "window " << w << " in two shares, world " << world;
          seen.insert(w);
        }
      }
      EXPECT_EQ(step, std::set<int64_t>(order.begin() + begin, order.begin() + end)) << "world " << world;
      EXPECT_LE(largest - smallest, 1u) << "world " << world;
    }
    ASSERT_EQ(seen.size(), static_cast<std::size_t>(n)) << "world " << world;
    for (int64_t w = 0; w < n; ++w) EXPECT_EQ(seen.count(w), 1u) << "window " << w << ", world " << world;
  }
}

// A process group of this process alone: its sums are the identity, so what
// GradientBuckets leaves in .grad() is exactly what it copied out and back.
struct GroupOfOne {
  GroupOfOne() {
    env.master_addr = "127.0.0.1";
    env.master_port = free_loopback_port();
    RankGroupOptions o;
    o.timeout = std::chrono::seconds(30);
    group = std::make_unique<RankGroup>(env, o);
  }
  RankEnv env;
  std::unique_ptr<RankGroup> group;
};

// Four 48x48 layers (9.4 KB weights) in buckets of at most 12 KB: one per
// layer, and the first of them small enough for the last bias alone.
torch::nn::Sequential four_layers() {
  torch::manual_seed(3);
  return torch::nn::Sequential(torch::nn::Linear(48, 48), torch::nn::Tanh(), torch::nn::Linear(48, 48),
                               torch::nn::Tanh(), torch::nn::Linear(48, 48), torch::nn::Tanh(),
                               torch::nn::Linear(48, 48));
}

torch::Tensor loss_of(torch::nn::Sequential& net, uint64_t seed) {
  torch::manual_seed(seed);
  return net->forward(torch::randn({5, 48})).pow(2).mean();
}

std::vector<torch::Tensor> grads_of(torch::nn::Sequential& net) {
  std::vector<torch::Tensor> out;
  for (const auto& p : net->parameters()) out.push_back(p.grad().clone());
  return out;
}

TEST(GradientBuckets, EveryBucketStartsDuringTheArmedBackwardLastLayerFirst) {
  GroupOfOne one;
  auto net = four_layers();
  const std::vector<torch::Tensor> params = net->parameters();
  GradientBuckets buckets(params, *one.group, 12 << 10, 200);
  ASSERT_GE(buckets.num_buckets(), 4u);
  EXPECT_EQ(buckets.bucket_members(0), std::vector<std::size_t>{params.size() - 1});  // the last layer's bias
  buckets.arm();
  loss_of(net, 1).backward();
  EXPECT_EQ(buckets.started_during_backward(), buckets.num_buckets());
  const std::vector<torch::Tensor> expected = grads_of(net);
  buckets.finish("the test step");
  const std::vector<torch::Tensor> got = grads_of(net);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(torch::equal(expected[i], got[i])) << "parameter " << i;
}

TEST(GradientBuckets, EarlierMicroBatchesOnlyAccumulateAndTheArmedBackwardSumsTheirTotal) {
  GroupOfOne one;
  auto reference = four_layers();
  loss_of(reference, 1).backward();
  loss_of(reference, 2).backward();
  const std::vector<torch::Tensor> expected = grads_of(reference);

  auto net = four_layers();
  GradientBuckets buckets(net->parameters(), *one.group, 12 << 10, 200);
  loss_of(net, 1).backward();  // not armed: nothing may start from half a step's gradients
  buckets.arm();
  loss_of(net, 2).backward();
  EXPECT_EQ(buckets.started_during_backward(), buckets.num_buckets());
  buckets.finish("the test step");
  const std::vector<torch::Tensor> got = grads_of(net);
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(torch::equal(expected[i], got[i])) << "parameter " << i;
}

TEST(GradientBuckets, AParameterThatBackwardDidNotReachIsSummedAtFinishAsZeros) {
  GroupOfOne one;
  auto net = four_layers();
  torch::nn::Linear unused(48, 48);  // first in the list: its bucket is the last to start
  std::vector<torch::Tensor> params = unused->parameters();
  for (const auto& p : net->parameters()) params.push_back(p);
  GradientBuckets buckets(params, *one.group, 12 << 10, 200);
  buckets.arm();
  loss_of(net, 1).backward();
  EXPECT_LT(buckets.started_during_backward(), buckets.num_buckets());
  EXPECT_GT(buckets.started_during_backward(), 0u);
  buckets.finish("the test step");
  EXPECT_EQ(buckets.started_during_backward(), 0u) << "each step counts afresh";
  ASSERT_TRUE(unused->weight.grad().defined());
  EXPECT_EQ(unused->weight.grad().abs().sum().item<double>(), 0.0);
  // The next step starts again from the first bucket.
  buckets.arm();
  loss_of(net, 2).backward();
  EXPECT_GT(buckets.started_during_backward(), 0u);
  buckets.finish("the second test step");
}

TEST(DataParallel, TwoRanksOnLoopbackReproduceTheSingleProcessLossCurveAndMasks) {
  TestDir tmp;
  const TrainReport single = run_train_command(write_recipe(tmp, "single"), quiet());
  ASSERT_TRUE(single.finished);
  const auto status = run_two_local_ranks(tmp, write_recipe(tmp, "two"), "two.log");
  ASSERT_TRUE(exited_ok(status)) << text_of(tmp / "two.log");
  expect_same_curve(losses_of(tmp / "single"), losses_of(tmp / "two"), kLossTolerance);
  const auto masks = masks_of(tmp / "single/final/masks.safetensors");
  EXPECT_EQ(masks.size(), 12u);
  EXPECT_TRUE(masks == masks_of(tmp / "two/final/masks.safetensors"));
  const json report = json::parse(read_file(tmp / "two/train_report.json"));
  EXPECT_EQ(report["world_size"], 2);
  EXPECT_EQ(report["windows_trained"], 30 * 8);
  EXPECT_GT(report["last_run"]["windows_per_s_per_rank"].get<double>(), 0);
  EXPECT_GT(report["last_run"]["allreduce_wait_seconds_per_step"].get<double>(), 0);
  // Every step started its gradient all-reduce inside backward.
  EXPECT_EQ(report["last_run"]["buckets_started_during_backward"].get<double>(), 1.0);
  // Only rank 0 logs progress, with the rates of both.
  EXPECT_NE(text_of(tmp / "two.log").find("windows/s (2 ranks"), std::string::npos) << text_of(tmp / "two.log");
}

// The binary's progress lines carry jemalloc's view of the heap (the memory
// note of cli/train_allocator.cpp): live bytes never exceed resident ones.
TEST(TrainBinary, ProgressLinesStateTheLiveAndResidentHeap) {
  TestDir tmp;
  const pid_t pid = spawn({kTool, "train", write_recipe(tmp, "one").string(), "--stop-after-steps", "3"}, {},
                          tmp / "one.log");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(exited_ok(wait_exit(pid, std::chrono::seconds(120)))) << text_of(tmp / "one.log");
  std::istringstream lines(text_of(tmp / "one.log"));
  int progress_lines = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("] step ") == std::string::npos) continue;
    ++progress_lines;
    const auto at = line.find("heap ");
    ASSERT_NE(at, std::string::npos) << line;
    double live = 0, resident = 0;
    ASSERT_EQ(std::sscanf(line.c_str() + at, "heap %lf MB live, %lf MB resident", &live, &resident), 2) << line;
    EXPECT_GT(live, 0) << line;
    EXPECT_LE(live, resident) << line;
  }
  EXPECT_EQ(progress_lines, 3) << text_of(tmp / "one.log");
}

TEST(DataParallel, RunOfTwoRanksResumedWithOneRankContinuesTheSingleProcessCurve) {
  TestDir tmp;
  const TrainReport single = run_train_command(write_recipe(tmp, "single"), quiet());
  ASSERT_TRUE(single.finished);
  const fs::path recipe = write_recipe(tmp, "split");
  // Stopped inside the prune stage, between two mask updates.
  const auto status = run_two_local_ranks(tmp, recipe, "two.log", {"--stop-after-steps", "9"});
  ASSERT_TRUE(exited_ok(status)) << text_of(tmp / "two.log");
  ASSERT_EQ(losses_of(tmp / "split")[0].size(), 9u);
  const TrainReport resumed = run_train_command(recipe, quiet());
  ASSERT_TRUE(resumed.finished);
  EXPECT_TRUE(resumed.resumed);
  EXPECT_EQ(resumed.world_size, 1);
  expect_same_curve(losses_of(tmp / "single"), losses_of(tmp / "split"), kLossTolerance);
  EXPECT_TRUE(masks_of(tmp / "single/final/masks.safetensors") == masks_of(tmp / "split/final/masks.safetensors"));
}

// One rank killed (SIGKILL) or frozen (SIGSTOP) in the middle of training;
// the other must exit with an error naming it.
void expect_survivor_names_the_lost_rank(int lost, int signal, int64_t timeout_s, std::chrono::seconds within) {
  TestDir tmp;
  const fs::path recipe = write_recipe(tmp, "run", /*epochs=*/400, timeout_s);
  const int port = free_loopback_port();
  pid_t pids[2];
  for (int r = 0; r < 2; ++r) {
    pids[r] = spawn({kTool, "train", recipe.string()}, rank_env(r, 2, "127.0.0.1", port),
                    tmp / ("rank" + std::to_string(r) + ".log"));
    ASSERT_GT(pids[r], 0);
  }
  ASSERT_TRUE(wait_for_text(tmp / "rank0.log", "[prune] step 5/", std::chrono::seconds(60)))
      << text_of(tmp / "rank0.log") << text_of(tmp / "rank1.log");
  ::kill(pids[lost], signal);
  const auto lost_at = Clock::now();
  const int survivor = 1 - lost;
  const auto status = wait_exit(pids[survivor], within + std::chrono::seconds(30));
  const double took = std::chrono::duration<double>(Clock::now() - lost_at).count();
  ::kill(pids[lost], SIGKILL);
  ::waitpid(pids[lost], nullptr, 0);
  const std::string log = text_of(tmp / ("rank" + std::to_string(survivor) + ".log"));
  ASSERT_TRUE(status) << "rank " << survivor << " still ran 30 s after the deadline:\n" << log;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << log;
  EXPECT_LE(took, std::chrono::duration<double>(within).count()) << log;
  EXPECT_NE(log.find("error: rank " + std::to_string(survivor) + ": "), std::string::npos) << log;
  EXPECT_NE(log.find("rank " + std::to_string(lost) + (lost == 0 ? ", which serves" : " has died or hangs")),
            std::string::npos)
      << log;
}

TEST(DataParallel, KilledRankEndsTheOtherWithAnErrorNamingItWellWithinTheTimeout) {
  // A dead peer closes its connections: noticed at once, not after the timeout.
  expect_survivor_names_the_lost_rank(/*lost=*/1, SIGKILL, /*timeout_s=*/60, std::chrono::seconds(20));
}

TEST(DataParallel, KilledRankZeroEndsTheOtherWithAnErrorNamingIt) {
  expect_survivor_names_the_lost_rank(/*lost=*/0, SIGKILL, /*timeout_s=*/60, std::chrono::seconds(20));
}

TEST(DataParallel, HungRankEndsTheOtherWithAnErrorNamingItWithinTheTimeout) {
  // A frozen peer keeps its connections open: only the timeout (5 s) and the
  // answer window (3 s) end the wait.
  expect_survivor_names_the_lost_rank(/*lost=*/1, SIGSTOP, /*timeout_s=*/5, std::chrono::seconds(5 + 3 + 4));
}

TEST(DataParallel, LauncherReportsTheRankThatWasKilledAndStopsTheOthers) {
  TestDir tmp;
  const fs::path recipe = write_recipe(tmp, "run", /*epochs=*/400);
  const pid_t launcher = spawn({kTool, "train", recipe.string(), "--nproc", "2"}, {}, tmp / "launcher.log");
  ASSERT_GT(launcher, 0);
  ASSERT_TRUE(wait_for_text(tmp / "launcher.log", "[prune] step 3/", std::chrono::seconds(60)))
      << text_of(tmp / "launcher.log");
  std::vector<pid_t> children;
  for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(launcher) + "/task")) {
    std::istringstream in(text_of(entry.path() / "children"));
    for (pid_t p; in >> p;) children.push_back(p);
  }
  ASSERT_EQ(children.size(), 2u);
  // Which child is rank 1: its environment says.
  const std::string env1 = text_of("/proc/" + std::to_string(children[1]) + "/environ");
  if (env1.find(std::string("RANK=1\0", 7)) == std::string::npos) std::swap(children[0], children[1]);
  ::kill(children[1], SIGKILL);
  const auto status = wait_exit(launcher, std::chrono::seconds(30));
  const std::string log = text_of(tmp / "launcher.log");
  ASSERT_TRUE(status) << log;
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGKILL) << log;
  EXPECT_NE(log.find("error: rank 1 (pid " + std::to_string(children[1]) + ") was killed by signal 9"),
            std::string::npos)
      << log;
  EXPECT_NE(::kill(children[0], 0), 0) << "rank 0 outlived the launcher";
}

TEST(DataParallel, RanksThatStartFromDifferentModelsAreRefusedNamingTheRank) {
  TestDir tmp;
  // Another seed: the fresh question-answering head of rank 1 differs.
  const fs::path recipes[2] = {write_recipe(tmp, "a", 2, 60, 5), write_recipe(tmp, "b", 2, 60, 6)};
  const int port = free_loopback_port();
  pid_t pids[2];
  for (int r = 0; r < 2; ++r)
    pids[r] = spawn({kTool, "train", recipes[r].string()}, rank_env(r, 2, "127.0.0.1", port),
                    tmp / ("rank" + std::to_string(r) + ".log"));
  for (int r = 0; r < 2; ++r) {
    const auto status = wait_exit(pids[r], std::chrono::seconds(60));
    const std::string log = text_of(tmp / ("rank" + std::to_string(r) + ".log"));
    EXPECT_TRUE(status && WIFEXITED(*status) && WEXITSTATUS(*status) == 1) << log;
    EXPECT_NE(log.find("the model and progress loaded differs between rank 0 and rank(s) 1"), std::string::npos)
        << log;
  }
  EXPECT_FALSE(fs::exists(tmp / "a/checkpoint-last"));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(DataParallel, CudaDeviceIsRefusedSayingWhyBeforeAnyWork) {
  TestDir tmp;
  const fs::path recipe = write_recipe(tmp, "run");
  TrainOptions o = quiet();
  o.device = TrainDevice::Cuda;
  const std::string from_option = error_of([&] { run_train_command(recipe, o); });
  EXPECT_EQ(from_option.rfind("--device cuda: ", 0), 0u) << from_option;
  if (!torch::cuda::is_available()) {
    EXPECT_NE(from_option.find("LibTorch"), std::string::npos) << from_option;
  }
  std::string text = read_file(recipe);
  write_file_atomic(recipe, "device: cuda\n" + text);
  const std::string from_recipe = error_of([&] { run_train_command(recipe, quiet()); });
  EXPECT_NE(from_recipe.find(recipe.string() + ": key 'device': cuda: "), std::string::npos) << from_recipe;
  EXPECT_FALSE(fs::exists(tmp / "run/checkpoint-last"));
}

TEST(DataParallel, NcclBackendIsRefusedByALibTorchWithoutIt) {
  if (comm_backend_available(CommBackend::Nccl)) GTEST_SKIP() << "this LibTorch has NCCL";
  TestDir tmp;
  const fs::path recipe = write_recipe(tmp, "run");
  TrainOptions o = quiet();
  o.backend = CommBackend::Nccl;
  const std::string e = error_of([&] { run_train_command(recipe, o); });
  EXPECT_EQ(e.rfind("--backend nccl: this fastbert-train is built against a LibTorch without CUDA and NCCL", 0), 0u)
      << e;
}

TEST(DataParallel, RecipeDistributedKeysAreCheckedNamingTheKey) {
  TestDir tmp;
  const fs::path recipe = write_recipe(tmp, "run");
  const std::string text = read_file(recipe);
  auto error_with = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    t.replace(t.find(from), from.size(), to);
    return error_of([&] { Recipe::parse(t, recipe); });
  };
  EXPECT_NE(error_with("timeout_s: 60", "timeout_s: 0").find("key 'distributed.timeout_s': 0 is out of range [1, 86400]"),
            std::string::npos);
  EXPECT_NE(error_with("timeout_s: 60", "backend: mpi").find("key 'distributed.backend': expected one of gloo|nccl"),
            std::string::npos);
  EXPECT_NE(error_with("timeout_s: 60", "timeout: 60").find("key 'distributed.timeout': unknown key"),
            std::string::npos);
  const Recipe r = Recipe::parse(text, recipe);
  EXPECT_EQ(r.distributed.timeout_s, 60);
  EXPECT_EQ(r.distributed.backend, CommBackend::Gloo);
  EXPECT_EQ(r.device, TrainDevice::Cpu);
}

// Sets environment variables for one scope.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> vars) : vars_(std::move(vars)) {
    for (const auto& [k, v] : vars_) ::setenv(k.c_str(), v.c_str(), 1);
  }
  ~ScopedEnv() {
    for (const auto& [k, v] : vars_) ::unsetenv(k.c_str());
  }

 private:
  std::vector<std::pair<std::string, std::string>> vars_;
};

TEST(DataParallel, RankEnvironmentIsCheckedNamingTheVariable) {
  EXPECT_FALSE(rank_env_from_environment().has_value());
  {
    ScopedEnv env({{"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}});
    EXPECT_NE(error_of([] { rank_env_from_environment(); }).find("environment variable RANK is not set"),
              std::string::npos);
  }
  {
    ScopedEnv env({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"LOCAL_RANK", "0"}, {"MASTER_ADDR", "127.0.0.1"},
                   {"MASTER_PORT", "29500"}});
    EXPECT_EQ(error_of([] { rank_env_from_environment(); }), "environment variable RANK: 2 is out of range [0, 1]");
  }
  {
    ScopedEnv env({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.1"},
                   {"MASTER_PORT", "70000"}});
    EXPECT_EQ(error_of([] { rank_env_from_environment(); }),
              "environment variable MASTER_PORT: 70000 is out of range [1, 65535]");
  }
  ScopedEnv env({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                 {"MASTER_ADDR", "10.0.0.1"}, {"MASTER_PORT", "29500"}});
  const RankEnv e = *rank_env_from_environment();
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 2);
  EXPECT_EQ(e.master_addr, "10.0.0.1");
  EXPECT_EQ(e.master_port, 29500);
}

// Two network namespaces joined by a veth pair: two "hosts" with their own
// addresses, deleted again however the test ends.
class TwoHosts {
 public:
  static std::string skip_reason() {
    if (::geteuid() != 0) return "needs root to create network namespaces (ip netns)";
    if (std::system("ip -V >/dev/null 2>&1") != 0) return "needs iproute2's `ip` (apt-get install iproute2)";
    return "";
  }
  TwoHosts() : tag_(std::to_string(::getpid() % 100000)) {
    const std::string a = ns(0), b = ns(1), va = "fbva" + tag_, vb = "fbvb" + tag_;
    ok_ = sh("ip netns add " + a) && sh("ip netns add " + b) && sh("ip link add " + va + " type veth peer name " + vb) &&
          sh("ip link set " + va + " netns " + a) && sh("ip link set " + vb + " netns " + b) &&
          sh("ip -n " + a + " addr add " + address(0) + "/24 dev " + va) &&
          sh("ip -n " + b + " addr add " + address(1) + "/24 dev " + vb) && sh("ip -n " + a + " link set " + va + " up") &&
          sh("ip -n " + b + " link set " + vb + " up") && sh("ip -n " + a + " link set lo up") &&
          sh("ip -n " + b + " link set lo up");
  }
  ~TwoHosts() {
    for (int h = 0; h < 2; ++h) sh("ip netns del " + ns(h) + " 2>/dev/null");  // takes its veth end along
  }
  bool ok() const { return ok_; }
  std::string ns(int host) const { return "fbdp" + tag_ + (host ? "b" : "a"); }
  static std::string address(int host) { return host ? "10.213.7.2" : "10.213.7.1"; }

 private:
  static bool sh(const std::string& command) { return std::system((command + " >/dev/null").c_str()) == 0; }
  std::string tag_;
  bool ok_ = false;
};

TEST(DataParallel, TwoRanksInTwoNetworkNamespacesGiveTheLoopbackResult) {
  if (const std::string why = TwoHosts::skip_reason(); !why.empty()) GTEST_SKIP() << why;
  TwoHosts hosts;
  if (!hosts.ok()) GTEST_SKIP() << "cannot create network namespaces and a veth pair here (ip netns add failed)";
  TestDir tmp;
  const auto loopback = run_two_local_ranks(tmp, write_recipe(tmp, "loopback"), "loopback.log");
  ASSERT_TRUE(exited_ok(loopback)) << text_of(tmp / "loopback.log");

  const fs::path recipe = write_recipe(tmp, "hosts");
  pid_t pids[2];
  for (int r = 0; r < 2; ++r) {
    // Each rank in its own namespace: it sees only its veth end and its own loopback.
    std::vector<std::string> env = rank_env(r, 2, TwoHosts::address(0), 29431);
    pids[r] = spawn({"ip", "netns", "exec", hosts.ns(r), kTool, "train", recipe.string()}, env,
                    tmp / ("host" + std::to_string(r) + ".log"));
    ASSERT_GT(pids[r], 0);
  }
  for (int r = 0; r < 2; ++r) {
    const auto status = wait_exit(pids[r], std::chrono::seconds(120));
    ASSERT_TRUE(exited_ok(status)) << text_of(tmp / ("host" + std::to_string(r) + ".log"));
  }
  // The same windows, weights and sums in the same order: bit for bit the loopback run.
  expect_same_curve(losses_of(tmp / "loopback"), losses_of(tmp / "hosts"), 0.0);
  EXPECT_EQ(read_file(tmp / "loopback/final/masks.safetensors"), read_file(tmp / "hosts/final/masks.safetensors"));
  EXPECT_EQ(read_file(tmp / "loopback/final/model.safetensors"), read_file(tmp / "hosts/final/model.safetensors"));
}

}  // namespace
}  // namespace fastbert
