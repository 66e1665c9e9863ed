#include "fastbert/train/commands.h"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/model/bert_config.h"
#include "fastbert/model/checkpoint.h"
#include "fastbert/train/predict.h"
#include "fastbert/train/rank_group.h"

extern char** environ;

namespace fastbert {
namespace fs = std::filesystem;

namespace {

fs::path fastbert_executable() {
  if (const char* env = std::getenv("FASTBERT_BIN"); env && *env) return env;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot locate the running executable: " + ec.message());
  return self.parent_path() / "fastbert";
}

// Tokenizing needs the runtime side (SentencePiece), which must not be loaded
// into this LibTorch process: it runs as a child.
void run_child(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (int rc = ::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ); rc != 0)
    throw Error("cannot run " + args[0] + ": " + std::strerror(rc) + " (set FASTBERT_BIN to the fastbert executable)");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error(std::string("waitpid failed: ") + std::strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string cmd;
    for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
    throw Error("`" + cmd + "` failed" +
                (WIFEXITED(status) ? " with exit status " + std::to_string(WEXITSTATUS(status))
                                   : " (killed by signal " + std::to_string(WTERMSIG(status)) + ")"));
  }
}

}  // namespace

fs::path training_features_path(const Recipe& r) {
  const fs::path& train = r.data.train;
  if (!fs::exists(train)) throw Error(r.source.string() + ": data.train " + train.string() + ": no such file");
  if (train.extension() != ".json") return train;
  const fs::path out = r.output / ("features-train-s" + std::to_string(r.data.max_seq) + "-d" +
                                   std::to_string(r.data.doc_stride) + "-q" + std::to_string(r.data.max_query) + ".h5");
  if (fs::exists(out)) return out;
  fs::create_directories(r.output);
  std::fprintf(stderr, "preparing %s -> %s\n", train.string().c_str(), out.string().c_str());
  run_child({fastbert_executable().string(), "prepare", "--data", train.string(), "--tokenizer", r.model.string(),
             "--out", out.string(), "--max-seq", std::to_string(r.data.max_seq), "--doc-stride",
             std::to_string(r.data.doc_stride), "--max-query", std::to_string(r.data.max_query)});
  if (!fs::exists(out)) throw Error("`fastbert prepare` did not write " + out.string());
  return out;
}

std::unique_ptr<RankGroup> join_ranks_from_environment(const Recipe& recipe, const TrainOptions& options) {
  // A device or backend that cannot work is refused before any rank waits for another.
  training_device(recipe, options);
  const CommBackend backend = options.backend.value_or(recipe.distributed.backend);
  if (!comm_backend_available(backend))
    throw Error(std::string(options.backend ? "--backend nccl" : recipe.source.string() +
                                                                     ": key 'distributed.backend': nccl") +
                ": this fastbert-train is built against a LibTorch without CUDA and NCCL; use gloo, or build the "
                "training side against a CUDA LibTorch (docs/distributed-training.md)");
  const std::optional<RankEnv> env = rank_env_from_environment();
  if (!env) return nullptr;
  RankGroupOptions o;
  o.backend = backend;
  o.timeout = std::chrono::seconds(recipe.distributed.timeout_s);
  return std::make_unique<RankGroup>(*env, o);
}

fs::path training_features_path(const Recipe& recipe, RankGroup* ranks) {
  if (!ranks) return training_features_path(recipe);
  fs::path path;
  if (ranks->rank() == 0) path = training_features_path(recipe);
  ranks->barrier("waiting for rank 0 to prepare the training features");
  if (ranks->rank() != 0) path = training_features_path(recipe);  // now prepared: only looked up
  return path;
}

namespace {
ModelLimits limits_of(const fs::path& config_json) {
  const BertConfig c = BertConfig::load(config_json);
  return ModelLimits{c.vocab_size, c.type_vocab_size, c.max_position_embeddings};
}
}  // namespace

SquadFeatures read_features_for_model(const fs::path& features, const fs::path& config_json) {
  return read_squad_features(features, limits_of(config_json));
}

TrainingWindows open_windows_for_model(const fs::path& features, const fs::path& config_json) {
  return TrainingWindows(SquadFeaturesReader::open(features, limits_of(config_json)));
}

TrainReport run_train_command(const fs::path& recipe_path, const TrainOptions& options) {
  const Recipe recipe = Recipe::load(recipe_path);
  const std::unique_ptr<RankGroup> ranks = join_ranks_from_environment(recipe, options);
  const fs::path features_path = training_features_path(recipe, ranks.get());
  const TrainingWindows windows = open_windows_for_model(features_path, recipe.model / "config.json");
  TrainOptions with_ranks = options;
  with_ranks.ranks = ranks.get();
  TrainReport report = train_recipe(recipe, windows, with_ranks);
  if (report.finished && (!ranks || ranks->rank() == 0)) {
    const double rate = report.train_seconds_total > 0 ? report.examples_total / report.train_seconds_total : 0;
    // This process's own steps: the rates of the world size it ran with.
    const double run_rate = report.seconds > 0 ? report.examples_run / report.seconds : 0;
    const double steps = std::max<int64_t>(1, report.steps_run);
    nlohmann::json j = {{"recipe", fs::weakly_canonical(recipe_path).string()},
                        {"features", fs::weakly_canonical(features_path).string()},
                        {"train_windows", windows.num_windows()},
                        {"train_examples", windows.num_examples()},
                        {"max_seq", recipe.data.max_seq},
                        {"train_seconds", report.train_seconds_total},
                        {"windows_trained", report.examples_total},
                        {"train_examples_per_s", rate},
                        {"world_size", report.world_size},
                        {"last_run",
                         {{"steps", report.steps_run},
                          {"seconds", report.seconds},
                          {"windows_per_s_total", run_rate},
                          {"windows_per_s_per_rank",
                           report.seconds > 0 ? report.rank_examples_run / report.seconds : 0},
                          {"allreduce_wait_seconds_per_step", report.allreduce_seconds / steps},
                          {"buckets_started_during_backward",
                           report.buckets_started > 0 ? static_cast<double>(report.buckets_started_during_backward) /
                                                            static_cast<double>(report.buckets_started)
                                                      : 0.0}}},
                        {"final_loss", report.stages.back().losses.empty() ? 0.0 : report.stages.back().losses.back()},
                        {"model", fs::weakly_canonical(report.final_dir).string()}};
    write_file_atomic(recipe.output / "train_report.json", j.dump(2) + "\n");
    std::fprintf(stderr, "trained %lld windows in %.1f s (%.2f windows/s); model in %s\n",
                 static_cast<long long>(report.examples_total), report.train_seconds_total, rate,
                 report.final_dir.string().c_str());
    if (report.world_size > 1)
      std::fprintf(stderr,
                   "this run: %d ranks, %.2f windows/s in total, %.2f windows/s on rank 0, all-reduce wait after backward "
                   "%.1f ms/step (%.1f %% of the time)\n",
                   report.world_size, run_rate, report.seconds > 0 ? report.rank_examples_run / report.seconds : 0,
                   1e3 * report.allreduce_seconds / steps,
                   report.seconds > 0 ? 100 * report.allreduce_seconds / report.seconds : 0);
  }
  return report;
}

void run_predict_command(const fs::path& checkpoint, const fs::path& features_path, const fs::path& out,
                         int64_t batch_size, int threads) {
  set_num_threads(threads);
  torch::set_num_threads(num_threads());
  BertForQuestionAnswering model = load_bert_qa(checkpoint);
  const SquadFeatures features = read_features_for_model(features_path, checkpoint / "config.json");
  const SquadLogits logits = predict_logits(model, features, batch_size, /*log_progress=*/true);
  write_squad_logits(out, logits);
}

}  // namespace fastbert
