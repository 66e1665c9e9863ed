// `fastbert-train`: the training side (LibTorch) in its own executable, since
// LibTorch and Debian's libsentencepiece cannot share a process. `fastbert
// train|prune|distill|quantize ...` exec this program with the same arguments.
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

#include <torch/torch.h>

#include <iostream>
#include <string>

#include "fastbert/common/error.h"
#include "fastbert/train/bench_forward.h"
#include "fastbert/train/trainer.h"
#if FASTBERT_HAVE_FEATURES_FILE
#include "fastbert/train/commands.h"
#endif

namespace {

void register_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "fine-tune a model as a recipe says (resumes from OUTPUT/checkpoint-last)");
  auto recipe = std::make_shared<std::string>();
  auto options = std::make_shared<fastbert::TrainOptions>();
  cmd->add_option("recipe", *recipe, "recipe YAML file")->required();
  cmd->add_option("--threads", options->threads, "threads (default: the recipe's; 0 = all cores)");
  cmd->add_option("--stop-after-steps", options->stop_after_steps,
                  "save a checkpoint and stop after this many steps (to split a long run)");
  cmd->callback([recipe, options] {
#if FASTBERT_HAVE_FEATURES_FILE
    fastbert::run_train_command(*recipe, *options);
#else
    throw fastbert::Error("this build has no features-file support (fastbert_formats was not built)");
#endif
  });
}

void register_predict(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "write the start/end logits of a checkpoint for every window of a features file");
  struct Args {
    std::string checkpoint, features, out;
    int64_t batch_size = 32;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--checkpoint", a->checkpoint, "checkpoint directory (Hugging Face layout)")->required();
  cmd->add_option("--features", a->features, "features .h5 written by `fastbert prepare`")->required();
  cmd->add_option("--out", a->out, "logits .h5 to write")->required();
  cmd->add_option("--batch-size", a->batch_size, "windows per forward pass")->check(CLI::PositiveNumber);
  cmd->add_option("--threads", a->threads, "threads (0 = all cores)");
  cmd->callback([a] {
#if FASTBERT_HAVE_FEATURES_FILE
    fastbert::run_predict_command(a->checkpoint, a->features, a->out, a->batch_size, a->threads);
#else
    throw fastbert::Error("this build has no features-file support (fastbert_formats was not built)");
#endif
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
  cmd->add_option("--batch", a->batch, "windows per forward pass")->check(CLI::PositiveNumber);
  cmd->add_option("--seq", a->seq, "tokens per window")->check(CLI::PositiveNumber);
  cmd->add_option("--threads", a->threads, "threads (0 = all cores)");
  cmd->add_option("--min-seconds", a->min_seconds, "measure at least this long");
  cmd->callback([a] {
    if (a->threads > 0) torch::set_num_threads(a->threads);
    const fastbert::ForwardTiming t = fastbert::bench_forward(a->checkpoint, a->batch, a->seq, a->min_seconds);
    std::cout << "{\"engine\": \"libtorch_fp32\", \"batch\": " << a->batch << ", \"seq\": " << a->seq
              << ", \"seq_per_s\": " << t.seq_per_s << ", \"p50_ms\": " << t.p50_ms << ", \"p90_ms\": " << t.p90_ms
              << ", \"p99_ms\": " << t.p99_ms << ", \"iterations\": " << t.iterations << "}" << std::endl;
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fastbert-train: the LibTorch training side of fastbert"};
  app.require_subcommand(1);
  register_train(app);
  register_predict(app);
  register_bench_forward(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const fastbert::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "error: " << e.msg() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
