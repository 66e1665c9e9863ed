#include "fastbert/train/trainer.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <string_view>

#include "fastbert/common/atomic_file.h"
#include "fastbert/common/bounded_number.h"
#include "fastbert/common/error.h"
#include "fastbert/common/output_paths.h"
#include "fastbert/common/threads.h"
#include "fastbert/model/bert_config.h"
#include "fastbert/model/checkpoint.h"
#include "fastbert/train/autocast_scope.h"
#include "fastbert/train/batch.h"
#include "fastbert/train/gradient_buckets.h"
#include "fastbert/train/output_lock.h"
#include "fastbert/train/rank_group.h"
#include "fastbert/train/stage_plan.h"
#include "fastbert/train/stage_compression.h"

namespace fastbert {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kStateFile = "trainer_state.json";
constexpr const char* kOptimizerFile = "optimizer.pt";
constexpr const char* kWeightsFile = "model.safetensors";

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Dropout draws from torch's global generator; re-seeding it from the step
// makes each step's randomness independent of what ran before it, so a run
// resumed at step k draws exactly what the uninterrupted run drew. Each rank
// draws its own masks for its own windows (rank 0 those of a single process).
void seed_step(uint64_t seed, std::size_t stage, int64_t step, int rank) {
  uint64_t x = splitmix64(splitmix64(seed) ^ splitmix64((static_cast<uint64_t>(stage) << 40) ^ static_cast<uint64_t>(step)));
  if (rank > 0) x = splitmix64(x ^ (0x72616e6bULL + static_cast<uint64_t>(rank)));
  torch::manual_seed(x);
}

uint64_t tensor_digest(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().contiguous().cpu();
  return std::hash<std::string_view>{}(
      std::string_view(static_cast<const char*>(c.data_ptr()), static_cast<std::size_t>(c.nbytes())));
}

struct TrainerState {
  std::size_t stage = 0;
  int64_t step = 0;  // optimizer steps done within `stage`
  bool stage_done = false;
  std::string resume_key;
  int64_t num_windows = 0;
  std::vector<std::vector<double>> losses;  // per stage
  double train_seconds = 0;
  int64_t examples_seen = 0;

  json to_json(const Recipe& r) const {
    return {{"format", "fastbert-trainer-state"},
            {"version", 1},
            {"stage", stage},
            {"stage_name", r.stages.at(stage).name},
            {"step", step},
            {"stage_done", stage_done},
            {"resume_key", resume_key},
            {"num_windows", num_windows},
            {"losses", losses},
            {"train_seconds", train_seconds},
            {"examples_seen", examples_seen}};
  }

  // Every field is read as what it must be: an integer field holding -5,
  // 1e9 or 2.5 is refused naming the field, never cast.
  static TrainerState load(const fs::path& file, std::size_t num_stages) {
    json j;
    try {
      j = json::parse(read_file(file));
    } catch (const json::exception& e) {
      throw Error(file.string() + ": damaged trainer state (" + e.what() + "); delete the checkpoint to start over");
    }
    auto field = [&](const char* name) -> const json& {
      if (!j.is_object() || !j.contains(name))
        throw Error(file.string() + ": field '" + name + "' missing; delete the checkpoint to start over");
      return j[name];
    };
    auto integer = [&](const char* name, int64_t min, int64_t max) {
      const json& v = field(name);
      if (!v.is_number_integer())
        throw Error(file.string() + ": field '" + name + "': expected an integer, got " + v.dump());
      // A negative value stored as unsigned reads back as a huge one: out of range too.
      if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
        throw Error(file.string() + ": field '" + name + "': " + v.dump() + " is out of range [" + std::to_string(min) +
                    ", " + std::to_string(max) + "]");
      check_bounded(file.string() + ": field '" + name + "'", v.get<int64_t>(), min, max);
      return v.get<int64_t>();
    };
    if (field("format") != "fastbert-trainer-state" || field("version") != 1)
      throw Error(file.string() + ": not a fastbert trainer state of version 1");
    TrainerState s;
    try {
      s.stage = static_cast<std::size_t>(integer("stage", 0, static_cast<int64_t>(num_stages) - 1));
      s.step = integer("step", 0, INT64_MAX);  // checked against the stage's steps once the plan is known
      s.stage_done = field("stage_done").get<bool>();
      s.resume_key = field("resume_key").get<std::string>();
      s.num_windows = integer("num_windows", 1, INT64_MAX);
      s.losses = field("losses").get<std::vector<std::vector<double>>>();
      s.train_seconds = field("train_seconds").get<double>();
      s.examples_seen = integer("examples_seen", 0, INT64_MAX);
    } catch (const json::exception& e) {
      throw Error(file.string() + ": damaged trainer state (" + e.what() + "); delete the checkpoint to start over");
    }
    if (s.losses.size() > num_stages)
      throw Error(file.string() + ": field 'losses' holds " + std::to_string(s.losses.size()) +
                  " stages but the recipe has " + std::to_string(num_stages));
    if (!std::isfinite(s.train_seconds) || s.train_seconds < 0)
      throw Error(file.string() + ": field 'train_seconds': expected a non-negative number, got " +
                  field("train_seconds").dump());
    return s;
  }
};

std::string first_difference(const std::string& saved_key, const std::string& recipe_key) {
  const json patch = json::diff(json::parse(saved_key), json::parse(recipe_key));
  if (patch.empty()) return "?";
  std::string path = patch[0].value("path", "?");
  return path;
}

// What every rank of a data-parallel run must hold identically: the weights,
// the compression state (masks, quantization) and the progress. Wall time is
// left out: it is each rank's own.
uint64_t training_digest(BertForQuestionAnswering& model, const StageCompression& compression,
                         const TrainerState& state, const Recipe& recipe) {
  uint64_t h = splitmix64(compression.digest());
  for (const auto& p : model->named_parameters()) h = splitmix64(h ^ tensor_digest(p.value()));
  for (const auto& b : model->named_buffers()) h = splitmix64(h ^ tensor_digest(b.value()));
  json progress = state.to_json(recipe);
  progress.erase("train_seconds");
  return splitmix64(h ^ std::hash<std::string>{}(progress.dump()));
}

// AdamW without weight decay on biases and LayerNorm weights (the BERT recipe).
std::unique_ptr<torch::optim::AdamW> make_optimizer(BertForQuestionAnswering& model, const StageSettings& s) {
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model->named_parameters()) {
    const std::string& n = p.key();
    const bool exempt =
        n.size() >= 5 && (n.compare(n.size() - 5, 5, ".bias") == 0 || n.find("LayerNorm.") != std::string::npos);
    (exempt ? no_decay : decay).push_back(p.value());
  }
  auto opts = torch::optim::AdamWOptions(s.learning_rate).betas({0.9, 0.999}).eps(1e-8);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(opts).weight_decay(s.weight_decay)));
  groups.emplace_back(no_decay,
                      std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(opts).weight_decay(0)));
  return std::make_unique<torch::optim::AdamW>(std::move(groups), opts);
}

}  // namespace

fs::path snapshot_dir(const Recipe& recipe, const StageSettings& stage) {
  return recipe.output / "snapshots" / stage.name;
}

namespace {

std::string format_duration(double seconds) {
  const int64_t s = static_cast<int64_t>(std::max(0.0, seconds));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return buf;
}

// A model directory (weights, config, tokenizer files, masks, quantization
// parameters; with `optimizer`, also the resume state), replaced atomically.
void write_model_dir(const fs::path& dir, BertForQuestionAnswering& model, const Recipe& recipe,
                     StageCompression& compression, torch::optim::AdamW* optimizer = nullptr,
                     const TrainerState* state = nullptr) {
  AtomicPath out(dir);
  fs::create_directories(out.temp_path());
  write_bert_qa_files(model, out.temp_path(), recipe.model);
  compression.write_files(out.temp_path());
  if (optimizer) torch::save(*optimizer, (out.temp_path() / kOptimizerFile).string());
  if (state) write_file_atomic(out.temp_path() / kStateFile, state->to_json(recipe).dump(1) + "\n");
  out.commit();
}

void save_checkpoint(const fs::path& dir, BertForQuestionAnswering& model, torch::optim::AdamW* optimizer,
                     const TrainerState& state, const Recipe& recipe, StageCompression& compression) {
  write_model_dir(dir, model, recipe, compression, optimizer, &state);
}

void write_snapshot(const Recipe& recipe, const StageSettings& stage, BertForQuestionAnswering& model,
                    StageCompression& compression, bool log) {
  const fs::path dir = snapshot_dir(recipe, stage);
  write_model_dir(dir, model, recipe, compression);
  if (log) std::fprintf(stderr, "stage %s: snapshot in %s\n", stage.name.c_str(), dir.string().c_str());
}

// The resumed checkpoint's parts against each other and the recipe, before
// any step: weights present and of the recipe's model, progress inside the
// stage. A damaged or foreign checkpoint-last is refused, never trained on.
void check_resumed_progress(const TrainerState& state, const fs::path& state_file, const Recipe& recipe,
                            int64_t num_windows) {
  const StageSettings& st = recipe.stages[state.stage];
  const StagePlan plan = plan_stage(st, num_windows);
  check_bounded(state_file.string() + ": field 'step' (stage '" + st.name + "' has " +
                    std::to_string(plan.total_steps) + " steps)",
                state.step, 0, plan.total_steps);
  if (state.stage_done && state.step != plan.total_steps)
    throw Error(state_file.string() + ": field 'stage_done' is true at step " + std::to_string(state.step) +
                " of the " + std::to_string(plan.total_steps) + " steps of stage '" + st.name + "'");
  const std::size_t losses = state.stage < state.losses.size() ? state.losses[state.stage].size() : 0;
  if (static_cast<int64_t>(losses) != state.step)
    throw Error(state_file.string() + ": field 'losses' holds " + std::to_string(losses) + " losses for stage '" +
                st.name + "' but field 'step' is " + std::to_string(state.step));
}

BertForQuestionAnswering load_resumed_model(const fs::path& ckpt_dir, const Recipe& recipe) {
  const fs::path weights = ckpt_dir / kWeightsFile;
  std::error_code ec;
  if (!fs::is_regular_file(weights, ec))
    throw Error(weights.string() + ": missing; " + ckpt_dir.string() +
                " cannot be resumed without its weights (delete it to start over)");
  const BertConfig saved = BertConfig::load(ckpt_dir / "config.json");
  const BertConfig wanted = BertConfig::load(recipe.model / "config.json");
  if (saved.to_json() != wanted.to_json()) {
    const json patch = json::diff(wanted.to_json(), saved.to_json());
    throw Error((ckpt_dir / "config.json").string() + ": key '" + patch[0].value("path", "/?").substr(1) +
                "' differs from " + (recipe.model / "config.json").string() +
                ": the checkpoint is of another model than the recipe's (delete it to start over)");
  }
  CheckpointLoadInfo info;
  BertForQuestionAnswering model = load_bert_qa(ckpt_dir, &info);
  if (info.qa_head_initialised)
    throw Error(weights.string() + ": holds no qa_outputs tensors; a checkpoint of this trainer always has them");
  return model;
}

// torch::load fills AdamW's moments whatever their shapes; a state written
// for other parameters would only fail (or broadcast) inside step().
void check_optimizer_matches_parameters(torch::optim::AdamW& optimizer, const fs::path& file) {
  auto& state = optimizer.state();
  for (const auto& group : optimizer.param_groups())
    for (const auto& p : group.params()) {
#if TORCH_VERSION_MAJOR >= 2
      auto it = state.find(p.unsafeGetTensorImpl());  // how LibTorch keys it
#else
      auto it = state.find(c10::guts::to_string(p.unsafeGetTensorImpl()));
#endif
      if (it == state.end()) continue;  // a parameter that has had no gradient yet
      const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
      if (s.exp_avg().sizes() != p.sizes() || s.exp_avg_sq().sizes() != p.sizes())
        throw Error(file.string() + ": optimizer state of shape " + c10::str(s.exp_avg().sizes()) +
                    " for a parameter of shape " + c10::str(p.sizes()) +
                    ": it was written for other parameters (delete the checkpoint to start over)");
    }
  if (state.empty()) throw Error(file.string() + ": holds no optimizer state although the stage has taken steps");
}

torch::Device torch_device(TrainDevice device, int local_rank) {
  if (device == TrainDevice::Cpu) return torch::kCPU;
  const auto gpus = static_cast<int>(torch::cuda::device_count());
  if (local_rank >= gpus)
    throw Error("LOCAL_RANK " + std::to_string(local_rank) + " trains on cuda:" + std::to_string(local_rank) +
                ", but this host has " + std::to_string(gpus) + " GPU(s) visible: start at most " +
                std::to_string(gpus) + " ranks per host");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
}

}  // namespace

TrainDevice training_device(const Recipe& recipe, const TrainOptions& options) {
  const TrainDevice device = options.device.value_or(recipe.device);
  if (device == TrainDevice::Cpu) return device;
  const std::string asked = options.device ? "--device cuda" : recipe.source.string() + ": key 'device': cuda";
#ifndef FASTBERT_TORCH_CUDA
  throw Error(asked + ": this fastbert-train is built against a LibTorch without CUDA (Debian's libtorch-dev is "
                      "CPU-only); use cpu, or build the training side against a CUDA LibTorch "
                      "(docs/distributed-training.md)");
#else
  if (!torch::cuda::is_available())
    throw Error(asked + ": LibTorch has CUDA but sees no GPU (torch::cuda::is_available() is false: no device, "
                        "driver or CUDA_VISIBLE_DEVICES)");
  return device;
#endif
}

double linear_schedule_lr(double base, int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return base * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  return base *
         std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  uint64_t state = splitmix64(seed) ^ splitmix64(0x5eed0000ULL + static_cast<uint64_t>(epoch));
  // Fisher-Yates with our own generator: std::shuffle's output is not
  // specified by the standard and could differ between library versions.
  for (int64_t i = n - 1; i > 0; --i) {
    state = splitmix64(state);
    const int64_t j = static_cast<int64_t>(state % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

std::vector<int64_t> grouped_epoch_order(const std::vector<int64_t>& lengths, int64_t per_step, uint64_t seed,
                                         int64_t epoch) {
  const int64_t n = static_cast<int64_t>(lengths.size());
  std::vector<int64_t> order = epoch_order(n, seed, epoch);
  const int64_t chunk = per_step * 50;
  uint64_t state = splitmix64(seed ^ 0x67726f7570ULL) ^ splitmix64(static_cast<uint64_t>(epoch));
  std::vector<int64_t> out;
  out.reserve(order.size());
  for (int64_t begin = 0; begin < n; begin += chunk) {
    const int64_t end = std::min(n, begin + chunk);
    std::vector<int64_t> part(order.begin() + begin, order.begin() + end);
    std::stable_sort(part.begin(), part.end(), [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
    const int64_t full = static_cast<int64_t>(part.size()) / per_step;
    std::vector<int64_t> steps(static_cast<std::size_t>(full));
    for (int64_t i = 0; i < full; ++i) steps[i] = i;
    for (int64_t i = full - 1; i > 0; --i) {
      state = splitmix64(state);
      std::swap(steps[i], steps[static_cast<int64_t>(state % static_cast<uint64_t>(i + 1))]);
    }
    for (int64_t st : steps) out.insert(out.end(), part.begin() + st * per_step, part.begin() + (st + 1) * per_step);
    out.insert(out.end(), part.begin() + full * per_step, part.end());  // partial: only in the last chunk
  }
  return out;
}

std::vector<int64_t> rank_share(const std::vector<int64_t>& order, int64_t begin, int64_t end, int rank, int world) {
  const int64_t n = end - begin;
  const int64_t first = begin + n * rank / world, last = begin + n * (rank + 1) / world;
  return std::vector<int64_t>(order.begin() + first, order.begin() + last);
}

TrainReport train_recipe(const Recipe& recipe, const SquadFeatures& features, const TrainOptions& options) {
  return train_recipe(recipe, TrainingWindows(features), options);
}

TrainReport train_recipe(const Recipe& recipe, const TrainingWindows& windows, const TrainOptions& options) {
  const int64_t n = windows.num_windows();
  if (n <= 0) throw Error("no training windows in the features");
  if (windows.max_seq() != recipe.data.max_seq)
    throw Error("the training features have max_seq " + std::to_string(windows.max_seq()) + " but " +
                recipe.source.string() + " asks for data.max_seq " + std::to_string(recipe.data.max_seq));
  for (const StageSettings& st : recipe.stages) plan_stage(st, n);  // step counts that overflow: before any work

  {
    std::vector<NamedPath> inputs = {{"model", recipe.model}, {"data.train", recipe.data.train}};
    for (std::size_t i = 0; i < recipe.stages.size(); ++i)
      if (recipe.stages[i].distill.enabled)
        inputs.push_back({"stages[" + std::to_string(i) + "].distill.teacher", recipe.stages[i].distill.teacher});
    refuse_outputs_over_inputs(inputs, {{"output/checkpoint-last", recipe.output / "checkpoint-last"},
                                        {"output/final", recipe.output / "final"}});
  }
  const TrainDevice train_device = training_device(recipe, options);
  RankGroup* const ranks = options.ranks;
  const int rank = ranks ? ranks->rank() : 0;
  const int world = ranks ? ranks->world_size() : 1;
  const bool writer = rank == 0;  // only rank 0 writes checkpoints and logs progress
  const bool log = options.log && writer;
  const int threads = options.threads >= 0 ? options.threads : recipe.threads;
  set_num_threads(threads);
  // The thread count is the host's: its ranks share it.
  if (ranks && ranks->env().local_world_size > 1)
    set_num_threads(std::max(1, num_threads() / ranks->env().local_world_size));
  torch::set_num_threads(num_threads());

  const fs::path ckpt_dir = recipe.output / "checkpoint-last";
  const fs::path final_dir = recipe.output / "final";
  std::optional<OutputLock> output_lock;
  if (writer) output_lock.emplace(recipe.output);

  TrainReport report;
  report.world_size = world;
  TrainerState state;
  BertForQuestionAnswering model{nullptr};
  if (fs::exists(ckpt_dir / kStateFile)) {
    state = TrainerState::load(ckpt_dir / kStateFile, recipe.stages.size());
    const std::string key = recipe.resume_key(state.stage);
    if (state.resume_key != key)
      throw Error(ckpt_dir.string() + " was written by a different recipe (first difference at '" +
                  first_difference(state.resume_key, key) +
                  "'); resuming would not give the same result. "
                  "Restore the recipe or delete " +
                  recipe.output.string() + " to start over");
    if (state.num_windows != n)
      throw Error(ckpt_dir.string() + " was trained on " + std::to_string(state.num_windows) +
                  " windows but the features now have " + std::to_string(n) + "; delete it to start over");
    check_resumed_progress(state, ckpt_dir / kStateFile, recipe, n);
    model = load_resumed_model(ckpt_dir, recipe);
    report.resumed = true;
  } else {
    torch::manual_seed(recipe.stages.front().seed);  // fresh weights (QA head, demo model) depend on the seed only
    model = load_bert_qa(recipe.model);
    state.resume_key = recipe.resume_key(0);
    state.num_windows = n;
  }
  // Model, teacher, batches, masks and losses live on the training device
  // (one GPU per local rank); checkpoints and digests go through host memory.
  const torch::Device device = torch_device(train_device, ranks ? ranks->env().local_rank : 0);
  model->to(device);
  state.losses.resize(recipe.stages.size());
  StageCompression compression(recipe, model, windows, report.resumed ? ckpt_dir : fs::path());
  // Each rank loaded the model and progress itself: from the same files they are the same.
  if (ranks)
    ranks->check_identical(training_digest(model, compression, state, recipe), "the model and progress loaded",
                           "every rank must start from the same files (one shared OUTPUT directory, the same "
                           "recipe, model and data) and run the same fastbert-train");
  std::unique_ptr<GradientBuckets> buckets;
  if (ranks) buckets = std::make_unique<GradientBuckets>(model->parameters(), *ranks);

  const auto started = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  const double seconds_before = state.train_seconds;
  auto check_ranks_agree = [&](const std::string& when) {
    if (ranks)
      ranks->check_identical(training_digest(model, compression, state, recipe),
                             "the model, masks and quantization " + when,
                             "the ranks diverged although they started alike (a fastbert-train or LibTorch that "
                             "differs between hosts?)");
  };

  bool stopped = false;
  for (std::size_t s = state.stage; s < recipe.stages.size() && !stopped; ++s) {
    const StageSettings& st = recipe.stages[s];
    const StagePlan plan = plan_stage(st, n);
    const bool resuming_mid_stage = report.resumed && s == state.stage && !state.stage_done;
    if (s == state.stage && state.stage_done) {  // finished earlier; its model is the one loaded
      // A run killed between the stage's last checkpoint and its snapshot.
      if (writer && st.snapshot && !fs::exists(snapshot_dir(recipe, st) / "model.safetensors"))
        write_snapshot(recipe, st, model, compression, log);
      continue;
    }
    if (!resuming_mid_stage) {
      state.stage = s;
      state.step = 0;
      state.stage_done = false;
      state.resume_key = recipe.resume_key(s);
      state.losses[s].clear();
    }
    compression.begin_stage(s, plan.total_steps, state.step, log);
    auto optimizer = make_optimizer(model, st);
    if (resuming_mid_stage && state.step > 0) {
      const fs::path opt_file = ckpt_dir / kOptimizerFile;
      if (!fs::exists(opt_file)) throw Error(opt_file.string() + ": missing; the checkpoint cannot be resumed");
      try {
        torch::load(*optimizer, opt_file.string(), device);
      } catch (const c10::Error& e) {
        throw Error(opt_file.string() + ": cannot be read (" + e.msg() + ")");
      }
      check_optimizer_matches_parameters(*optimizer, opt_file);
    }
    // Each rank's share of a step goes through in micro-batches of its part
    // of the recipe's batch; the gradient is the same however it is split.
    const int64_t micro_batch = std::max<int64_t>(1, st.batch_size / world);
    if (log && state.step < plan.total_steps)
      std::fprintf(stderr, "stage %s: %lld windows, %lld steps of %lld windows (%lld warm-up)%s, %s step %lld\n",
                   st.name.c_str(), static_cast<long long>(n), static_cast<long long>(plan.total_steps),
                   static_cast<long long>(plan.per_step), static_cast<long long>(plan.warmup_steps),
                   world > 1 ? (" over " + std::to_string(world) + " ranks (micro-batches of " +
                                std::to_string(micro_batch) + " per rank)")
                                   .c_str()
                             : "",
                   state.step ? "resuming after" : "starting at", static_cast<long long>(state.step));

    model->train();
    std::vector<int64_t> order;
    int64_t order_epoch = -1;
    std::vector<int64_t> lengths;
    if (st.group_by_length) lengths.assign(windows.real_tokens().begin(), windows.real_tokens().end());
    double window_loss_sum = 0, log_allreduce = 0;
    int64_t log_windows = 0, log_rank_windows = 0, log_steps = 0;
    auto log_started = std::chrono::steady_clock::now();
    while (state.step < plan.total_steps) {
      const int64_t step = state.step;
      const int64_t epoch = step / plan.steps_per_epoch;
      if (epoch != order_epoch) {
        order = st.group_by_length ? grouped_epoch_order(lengths, plan.per_step, st.seed, epoch)
                                   : epoch_order(n, st.seed, epoch);
        order_epoch = epoch;
      }
      const int64_t begin = (step % plan.steps_per_epoch) * plan.per_step;
      const int64_t end = std::min(n, begin + plan.per_step);
      const std::vector<int64_t> share = rank_share(order, begin, end, rank, world);
      seed_step(st.seed, s, step, rank);
      const double lr = linear_schedule_lr(st.learning_rate, step, plan.warmup_steps, plan.total_steps);
      for (auto& group : optimizer->param_groups()) static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);

      optimizer->zero_grad();
      compression.begin_step(step);
      double step_loss = 0;
      const int64_t share_size = static_cast<int64_t>(share.size());
      for (int64_t mb = 0; mb < share_size; mb += micro_batch) {
        const int64_t mb_end = std::min(share_size, mb + micro_batch);
        const std::vector<int64_t> rows(share.begin() + mb, share.begin() + mb_end);
        const Batch batch = windows.batch(rows, device);
        // Weighted so that the gradient, summed over micro-batches and ranks,
        // is the mean over the step's windows however they are split.
        const double weight = static_cast<double>(mb_end - mb) / static_cast<double>(end - begin);
        torch::Tensor loss;
        {
          const AutocastScope precision(st.precision == Precision::Bf16, device.type());
          if (compression.plain()) {
            auto logits = model(batch.input_ids, batch.token_type_ids, batch.attention_mask);
            loss = qa_loss(logits, batch.attention_mask, batch.start_positions, batch.end_positions) * weight;
          } else {
            loss = compression.loss(batch, rows) * weight;
          }
        }
        // The step's last backward sums each bucket over the ranks as soon
        // as backward has finished its gradients.
        if (buckets && mb_end == share_size) buckets->arm();
        loss.backward();
        step_loss += loss.item<double>();
      }
      if (ranks) {
        const auto reduce_started = std::chrono::steady_clock::now();
        const std::string what = "stage " + st.name + " step " + std::to_string(step + 1);
        report.buckets_started_during_backward += static_cast<int64_t>(buckets->started_during_backward());
        report.buckets_started += static_cast<int64_t>(buckets->num_buckets());
        buckets->finish("the gradients of " + what);
        step_loss = ranks->sum(step_loss, "the loss of " + what);
        const double reduce_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - reduce_started).count();
        report.allreduce_seconds += reduce_s;
        log_allreduce += reduce_s;
      }
      if (!std::isfinite(step_loss))
        throw Error("stage " + st.name + " step " + std::to_string(step + 1) +
                    ": the loss is not finite; lower the learning rate");
      if (st.max_grad_norm > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), st.max_grad_norm);
      compression.before_optimizer_step();
      optimizer->step();
      compression.after_optimizer_step(step + 1);

      state.step = step + 1;
      state.losses[s].push_back(step_loss);
      state.examples_seen += end - begin;
      report.steps_run += 1;
      report.examples_run += end - begin;
      report.rank_examples_run += share_size;
      window_loss_sum += step_loss;
      log_windows += end - begin;
      log_rank_windows += share_size;
      log_steps += 1;
      state.train_seconds = seconds_before + elapsed();

      const bool last = state.step == plan.total_steps;
      const bool stop_now = options.stop_after_steps > 0 && report.steps_run >= options.stop_after_steps && !last;
      if (log && (state.step % st.log_every_steps == 0 || last || stop_now)) {
        const double window_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - log_started).count();
        const double rate = log_windows / std::max(1e-9, window_s);
        const double eta = (plan.total_steps - state.step) * plan.per_step / std::max(1e-9, rate);
        std::string ranks_part;
        if (world > 1) {
          char buf[128];
          std::snprintf(buf, sizeof(buf), " (%d ranks, %.1f on rank 0)  all-reduce wait %.1f ms/step", world,
                        log_rank_windows / std::max(1e-9, window_s), 1e3 * log_allreduce / log_steps);
          ranks_part = buf;
        }
        const std::string memory_part = options.memory_note ? "  " + options.memory_note() : "";
        std::fprintf(stderr, "[%s] step %lld/%lld  loss %.4f  lr %.3g  %.1f windows/s%s  elapsed %s  eta %s%s\n",
                     st.name.c_str(), static_cast<long long>(state.step), static_cast<long long>(plan.total_steps),
                     window_loss_sum / log_steps, lr, rate, ranks_part.c_str(), format_duration(elapsed()).c_str(),
                     format_duration(eta).c_str(), memory_part.c_str());
        window_loss_sum = 0;
        log_allreduce = 0;
        log_windows = 0;
        log_rank_windows = 0;
        log_steps = 0;
        log_started = std::chrono::steady_clock::now();
      }
      if (last) break;
      if (state.step % st.save_every_steps == 0 || stop_now) {
        check_ranks_agree("at step " + std::to_string(state.step) + " of stage " + st.name);
        if (writer) save_checkpoint(ckpt_dir, model, optimizer.get(), state, recipe, compression);
      }
      if (stop_now) {
        stopped = true;
        break;
      }
    }
    if (stopped) break;
    state.stage_done = true;
    compression.end_stage(log);
    check_ranks_agree("at the end of stage " + st.name);
    // A finished stage needs no optimizer state: the next one starts afresh.
    if (writer) save_checkpoint(ckpt_dir, model, nullptr, state, recipe, compression);
    if (writer && st.snapshot) write_snapshot(recipe, st, model, compression, log);
  }

  report.finished = !stopped && state.stage + 1 == recipe.stages.size() && state.stage_done;
  if (report.finished) {
    if (writer && (!fs::exists(final_dir / "model.safetensors") || report.steps_run > 0))
      write_model_dir(final_dir, model, recipe, compression);
    report.final_dir = final_dir;
    if (log && report.steps_run == 0)
      std::fprintf(stderr, "%s: already trained to the last step; the model is in %s\n", recipe.source.string().c_str(),
                   final_dir.string().c_str());
  }
  // The other ranks finish only once rank 0 has written everything, so that
  // a launcher that sees them all exit sees the run complete.
  if (ranks) ranks->barrier("the end of training");
  for (std::size_t s = 0; s < recipe.stages.size(); ++s) {
    const StagePlan plan = plan_stage(recipe.stages[s], n);
    report.stages.push_back({recipe.stages[s].name, plan.total_steps, plan.warmup_steps, state.losses[s]});
  }
  report.seconds = elapsed();
  report.train_seconds_total = state.train_seconds;
  report.examples_total = state.examples_seen;
  return report;
}

}  // namespace fastbert
