// `fastbert-train`: the training side (LibTorch) in its own executable, since
// LibTorch and Debian's libsentencepiece cannot share a process. `fastbert
// train|prune|distill|quantize ...` exec this program with the same arguments.
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <string>

#include "fastbert/common/error.h"
#include "fastbert/common/output_paths.h"
#include "fastbert/train/bench_forward.h"
#include "fastbert/train/trainer.h"
#include "option_checks.h"
#include "fastbert/train/commands.h"
#include "fastbert/train/compression_commands.h"
#include "fastbert/train/local_ranks.h"
#include "fastbert/train/rank_env.h"
#include "run_app.h"
#include "train_allocator.h"

namespace {

// This program's command line, for --nproc to start the ranks with, and the
// status that main returns when it did.
std::vector<std::string> command_line;
int launcher_status = -1;

// The options every training command shares: threads, a split run, and how
// to run as several ranks. Returns --nproc's value.
std::shared_ptr<int> add_training_options(CLI::App* cmd, fastbert::TrainOptions& options) {
  options.memory_note = fastbert::cli::allocator_memory_note;
  cmd->add_option("--threads", options.threads, "threads (default: the recipe's; 0 = all cores, shared by the ranks)")
      ->check(fastbert::cli::thread_count());
  cmd->add_option("--stop-after-steps", options.stop_after_steps,
                  "save a checkpoint and stop after this many steps (to split a long run)")
      ->check(fastbert::cli::integer_in(0, fastbert::kMaxSteps));
  auto nproc = std::make_shared<int>(1);
  cmd->add_option("--nproc", *nproc,
                  "run as this many data-parallel ranks on this host (or let torchrun set RANK, WORLD_SIZE, ...)")
      ->check(fastbert::cli::integer_in(1, fastbert::kMaxRanks));
  cmd->add_option_function<std::string>(
         "--backend",
         [&options](const std::string& v) {
           options.backend = v == "nccl" ? fastbert::CommBackend::Nccl : fastbert::CommBackend::Gloo;
         },
         "collectives between ranks: gloo or nccl (default: the recipe's distributed.backend, else gloo)")
      ->check(CLI::IsMember({"gloo", "nccl"}));
  cmd->add_option_function<std::string>(
         "--device",
         [&options](const std::string& v) {
           options.device = v == "cuda" ? fastbert::TrainDevice::Cuda : fastbert::TrainDevice::Cpu;
         },
         "cpu or cuda (default: the recipe's device, else cpu)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  return nproc;
}

// With --nproc N > 1 this process only starts and supervises the N ranks.
bool launched_ranks(int nproc) {
  if (nproc <= 1) return false;
  launcher_status = fastbert::run_local_ranks(nproc, fastbert::without_nproc_option(command_line));
  return true;
}

void register_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "fine-tune a model as a recipe says (resumes from OUTPUT/checkpoint-last)");
  auto recipe = std::make_shared<std::string>();
  auto options = std::make_shared<fastbert::TrainOptions>();
  cmd->add_option("recipe", *recipe, "recipe YAML file")->required();
  auto nproc = add_training_options(cmd, *options);
  cmd->callback([recipe, options, nproc] {
    if (!launched_ranks(*nproc)) fastbert::run_train_command(*recipe, *options);
  });
}

// prune|distill|quantize --recipe R.yaml: only the stages with that section,
// into OUTPUT/<kind>.
void register_stage_kind(CLI::App& app, const std::string& kind) {
  auto* cmd = app.add_subcommand(kind, "run only the stages of a recipe that have a '" + kind +
                                           ":' section (output in OUTPUT/" + kind + ")");
  auto recipe = std::make_shared<std::string>();
  auto options = std::make_shared<fastbert::TrainOptions>();
  cmd->add_option("--recipe", *recipe, "recipe YAML file")->required();
  auto nproc = add_training_options(cmd, *options);
  cmd->callback([recipe, options, kind, nproc] {
    if (!launched_ranks(*nproc)) fastbert::run_stage_kind_command(*recipe, kind, *options);
  });
}

void register_teacher_logits(CLI::App& app) {
  auto* cmd = app.add_subcommand("teacher-logits",
                                 "store a teacher's start/end logits in a features file for distillation");
  struct Args {
    std::string teacher, features;
    int64_t batch_size = 32;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--teacher", a->teacher, "teacher checkpoint directory")->required();
  cmd->add_option("--features", a->features, "features .h5 (rewritten atomically with the logits)")->required();
  cmd->add_option("--batch-size", a->batch_size, "windows per forward pass")
      ->check(fastbert::cli::integer_in(1, fastbert::kMaxBatch));
  cmd->add_option("--threads", a->threads, "threads (0 = all cores)")->check(fastbert::cli::thread_count());
  cmd->callback([a] {
    fastbert::run_teacher_logits_command(a->teacher, a->features, a->batch_size, a->threads);
  });
}

void register_predict(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("predict", "write the start/end logits of a checkpoint for every window of a features file");
  struct Args {
    std::string checkpoint, features, out;
    int64_t batch_size = 32;
    int threads = 0;
    bool int8 = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint directory (Hugging Face layout)")->required();
  cmd->add_option("--features", a->features, "features .h5 written by `fastbert prepare`")->required();
  cmd->add_option("--out", a->out, "logits .h5 to write")->required();
  cmd->add_option("--batch-size", a->batch_size, "windows per forward pass")
      ->check(fastbert::cli::integer_in(1, fastbert::kMaxBatch));
  cmd->add_option("--threads", a->threads, "threads (0 = all cores)")->check(fastbert::cli::thread_count());
  cmd->add_flag("--int8", a->int8, "fake-quantize every linear as the checkpoint's quantization.json says");
  cmd->callback([a] {
    fastbert::refuse_outputs_over_inputs({{"--checkpoint", a->checkpoint}, {"--features", a->features}},
                                         {{"--out", a->out}});
    if (a->int8)
      fastbert::run_predict_int8_command(a->checkpoint, a->features, a->out, a->batch_size, a->threads);
    else
      fastbert::run_predict_command(a->checkpoint, a->features, a->out, a->batch_size, a->threads);
  });
}

// Timing of the LibTorch fp32 forward for `fastbert bench model --compare-checkpoint`:
// prints one JSON object per run on stdout.
void register_bench_forward(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench-forward", "time LibTorch fp32 forward passes of a checkpoint (one JSON line)");
  struct Args {
    std::string checkpoint;
    int64_t batch = 8, seq = 128;
    int threads = 0;
    double min_seconds = 2.0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint directory (Hugging Face layout)")->required();
  cmd->add_option("--batch", a->batch, "windows per forward pass")
      ->check(fastbert::cli::integer_in(1, fastbert::kMaxBatch));
  cmd->add_option("--seq", a->seq, "tokens per window")
      ->check(fastbert::cli::integer_in(1, fastbert::kMaxSequence));
  cmd->add_option("--threads", a->threads, "threads (0 = all cores)")->check(fastbert::cli::thread_count());
  cmd->add_option("--min-seconds", a->min_seconds, "measure at least this long")
      ->check(fastbert::cli::number_in(0, 3600));
  cmd->callback([a] {
    if (a->threads > 0) at::set_num_threads(a->threads);
    const fastbert::ForwardTiming t = fastbert::bench_forward(a->checkpoint, a->batch, a->seq, a->min_seconds);
    std::cout << "{\"engine\": \"libtorch_fp32\", \"batch\": " << a->batch << ", \"seq\": " << a->seq
              << ", \"seq_per_s\": " << t.seq_per_s << ", \"p50_ms\": " << t.p50_ms << ", \"p90_ms\": " << t.p90_ms
              << ", \"p99_ms\": " << t.p99_ms << ", \"iterations\": " << t.iterations << "}" << std::endl;
  });
}

}  // namespace

int main(int argc, char** argv) {
  // libgomp's threads spin only briefly before they sleep (a MiniLM training
  // step measured 72 s under libgomp's default spin and 8 s passive on 2
  // loaded cores): fastbert/common/threads.h sets GOMP_SPINCOUNT for every
  // executable, before libgomp starts.
  // Memory comes from jemalloc, linked in and configured never to purge
  // (train_allocator.cpp).
  // Messages and progress go to stderr; stdout stays free for results.
  spdlog::set_default_logger(spdlog::stderr_color_mt("fastbert-train"));
  CLI::App app{"fastbert-train: the LibTorch training side of fastbert"};
  app.require_subcommand(1);
  register_train(app);
  register_predict(app);
  register_teacher_logits(app);
  for (const char* kind : {"prune", "distill", "quantize"}) register_stage_kind(app, kind);
  register_bench_forward(app);
  command_line.assign(argv, argv + argc);
  const int status = fastbert::cli::run_app(app, argc, argv, [](const std::exception& e) -> std::string {
    if (const auto* torch_error = dynamic_cast<const c10::Error*>(&e)) return torch_error->msg();
    return e.what();
  });
  return status == 0 && launcher_status >= 0 ? launcher_status : status;
}
