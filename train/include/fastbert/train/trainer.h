#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fastbert/formats/squad_features.h"
#include "fastbert/train/training_windows.h"
#include "fastbert/train/recipe.h"

namespace fastbert {

class RankGroup;

struct TrainOptions {
  int threads = -1;  // < 0: the recipe's setting
  // > 0: stop after this many optimizer steps in this process, leaving a
  // checkpoint behind exactly as if the process had been killed right after
  // saving it. Tests use it to prove that resuming reproduces the run.
  int64_t stop_after_steps = 0;
  bool log = true;  // progress lines on stderr (rank 0 only)
  std::optional<CommBackend> backend;  // --backend: overrides the recipe's distributed.backend
  std::optional<TrainDevice> device;   // --device: overrides the recipe's device
  // This process's rank of a data-parallel run; null for a single process.
  // Each optimizer step's windows are split over the ranks, gradients summed
  // over them, and only rank 0 writes files.
  RankGroup* ranks = nullptr;
  // Appended to each progress line when set: the executable's allocator
  // knows how much of the process's memory is live and how much it merely
  // keeps (fastbert-train: jemalloc's statistics, train_allocator.cpp).
  std::function<std::string()> memory_note;
};

struct StageReport {
  std::string name;
  int64_t total_steps = 0;
  int64_t warmup_steps = 0;
  std::vector<double> losses;  // one per optimizer step, resumed runs included
};

struct TrainReport {
  std::vector<StageReport> stages;
  bool finished = false;           // every stage ran to its last step
  bool resumed = false;            // started from OUTPUT/checkpoint-last
  int64_t steps_run = 0;           // optimizer steps taken by this process
  int64_t examples_run = 0;        // windows processed by this process
  double seconds = 0;              // wall time of this process's steps
  double train_seconds_total = 0;  // over every run that contributed, from the checkpoint
  int64_t examples_total = 0;
  std::filesystem::path final_dir;  // OUTPUT/final once finished
  int world_size = 1;
  int64_t rank_examples_run = 0;  // windows this rank computed (examples_run counts every rank's)
  // Waiting for the gradient all-reduces after backward: the part that backward
  // did not hide (the wait for the slowest rank included).
  double allreduce_seconds = 0;
  // Gradient buckets started inside backward, and in all (the rest started after it).
  int64_t buckets_started_during_backward = 0;
  int64_t buckets_started = 0;
};

// Runs (or resumes) every stage of `recipe` on windows already in memory.
// Checkpoints go to OUTPUT/checkpoint-last (atomic), the last stage's model to
// OUTPUT/final, both in Hugging Face layout.
TrainReport train_recipe(const Recipe& recipe, const TrainingWindows& windows, const TrainOptions& options);
// The same on windows in memory (tests, small runs).
TrainReport train_recipe(const Recipe& recipe, const SquadFeatures& features, const TrainOptions& options);

// The device of a run: --device, else the recipe's `device:`. Throws
// fastbert::Error for cuda, saying why: a LibTorch built without CUDA (as
// Debian's), no GPU visible, or, with both, that this trainer keeps the model,
// batches, masks and quantization state in host memory (CPU only for now).
TrainDevice training_device(const Recipe& recipe, const TrainOptions& options);

// Where a stage with `snapshot: true` keeps the model it ends with.
std::filesystem::path snapshot_dir(const Recipe& recipe, const StageSettings& stage);

// The learning rate of optimizer step `step` (0-based) under a linear warm-up
// to `base` over `warmup` steps, then a linear decay to 0 at `total`; the same
// schedule as transformers' get_linear_schedule_with_warmup.
double linear_schedule_lr(double base, int64_t step, int64_t warmup, int64_t total);

// The order in which an epoch visits the windows: a permutation of [0, n)
// that depends only on (seed, epoch), so a resumed run sees the same batches.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);

// The windows of one optimizer step, [begin, end) of an epoch's order, that
// rank `rank` of `world` computes: a contiguous run, the ranks' sizes differing
// by at most one. Over the ranks the shares are disjoint and make up the step.
std::vector<int64_t> rank_share(const std::vector<int64_t>& order, int64_t begin, int64_t end, int rank, int world);

// epoch_order regrouped so that each optimizer step of `per_step` windows
// holds windows of similar length (less padding to compute), as transformers'
// group_by_length: the shuffled order is cut into chunks of 50 steps, each
// chunk sorted by length and its full steps shuffled. Only the epoch's last
// step may be partial. Depends only on (lengths, per_step, seed, epoch).
std::vector<int64_t> grouped_epoch_order(const std::vector<int64_t>& lengths, int64_t per_step, uint64_t seed,
                                         int64_t epoch);

}  // namespace fastbert
