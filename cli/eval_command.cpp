// `fastbert eval squad`: EM/F1 of a predictions file; of a checkpoint whose
// logits the training side computes (fastbert-train predict) over windows this
// process tokenizes; of a .fbm file run by the runtime engine in-process; or
// of logits any engine computed over a features file.
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "commands.h"
#include "fastbert/common/atomic_file.h"
#include "fastbert/common/error.h"
#include "fastbert/common/output_paths.h"
#include "fastbert/common/threads.h"
#include "fastbert/export/checkpoint_reader.h"
#include "fastbert/formats/squad_features.h"
#include "fastbert/runtime/engine.h"
#include "fastbert/runtime/squad/squad_dataset.h"
#include "fastbert/runtime/squad/squad_metric.h"
#include "fastbert/runtime/squad/squad_postprocess.h"
#include "fastbert/runtime/squad/squad_runner.h"
#include "fastbert/runtime/squad/squad_windows.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"
#include "option_checks.h"
#include "training_tool.h"

namespace fastbert::cli {
namespace fs = std::filesystem;

namespace {

struct EvalArgs {
  std::string data;
  std::string predictions;
  std::string model;
  std::string predictions_out;
  std::string logits_out;
  std::string features;
  std::string logits;
  SquadWindowOptions windows;
  SquadPostprocessOptions postprocess;
  int batch_size = 32;
  int threads = 0;
};

// A private directory for the intermediate HDF5 files, removed on every exit path.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "fastbert-eval-XXXXXX").string();
    if (!::mkdtemp(pattern.data()))
      throw Error("cannot create a temporary directory in " + fs::temp_directory_path().string());
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Same layout as the official script's output.
void print_score(const SquadScore& score) {
  std::cout << "{\"exact_match\": " << nlohmann::json(score.exact_match).dump()
            << ", \"f1\": " << nlohmann::json(score.f1).dump() << "}" << std::endl;
  if (score.missing > 0)
    std::cerr << score.missing << " of " << score.questions << " questions have no prediction and score 0\n";
}

// Turns a model's logits over the windows of `features` into answers (and
// writes them to --predictions-out when asked).
SquadPredictionMap answer_questions(const EvalArgs& args, const SquadDataset& data, const SquadFeatures& features,
                                    const SquadLogits& logits) {
  // The logits of --model, for scoring them again or comparing engines on the
  // same windows (`fastbert prepare` with the same window options makes them).
  if (!args.logits_out.empty()) write_squad_logits(args.logits_out, logits);
  std::unordered_map<std::string, size_t> question_of;
  for (size_t i = 0; i < data.questions.size(); ++i) question_of.emplace(data.questions[i].id, i);
  std::vector<std::string_view> contexts;
  contexts.reserve(features.example_ids.size());
  for (const auto& id : features.example_ids) {
    auto it = question_of.find(id);
    if (it == question_of.end()) throw Error("features hold question id '" + id + "', which is not in " + args.data);
    contexts.push_back(data.contexts[data.questions[it->second].context]);
  }
  const auto answers = postprocess_squad(features, logits, contexts, args.postprocess);
  SquadPredictionMap predictions;
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (size_t i = 0; i < answers.size(); ++i) {
    predictions[features.example_ids[i]] = answers[i].text;
    out[features.example_ids[i]] = answers[i].text;
  }
  if (!args.predictions_out.empty()) write_file_atomic(args.predictions_out, out.dump(2) + "\n");
  return predictions;
}

// Before any window is made: a window longer than the model's position table
// would only be refused once every window exists (gigabytes for --max-seq 100000).
void refuse_windows_longer_than_the_model(const EvalArgs& args, int64_t max_position) {
  if (args.windows.max_seq > max_position)
    throw Error("--max-seq " + std::to_string(args.windows.max_seq) + " exceeds the " + std::to_string(max_position) +
                " positions of " + args.model);
}

// The runtime engine on a packed .fbm file, in this process.
SquadPredictionMap predict_with_engine(const EvalArgs& args, const SquadDataset& data) {
  Engine engine(args.model);
  refuse_windows_longer_than_the_model(args, engine.config().max_position);
  const SquadFeatures features = make_squad_features(data, engine.tokenizer(), args.windows);
  const auto t0 = std::chrono::steady_clock::now();
  const SquadLogits logits = run_squad(engine, features, args.batch_size);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cerr << "engine predicted " << data.questions.size() << " questions (" << features.num_windows()
            << " windows) in " << seconds << " s: " << static_cast<double>(data.questions.size()) / seconds
            << " examples/s, " << static_cast<double>(features.num_windows()) / seconds << " windows/s\n";
  return answer_questions(args, data, features, logits);
}

SquadPredictionMap predict_with_checkpoint(const EvalArgs& args, const SquadDataset& data) {
  const fs::path model(args.model);
  if (model.extension() == ".fbm") return predict_with_engine(args, data);
  std::error_code ec;
  if (!fs::is_directory(model, ec))
    throw Error(args.model + ": not a checkpoint directory (expected config.json, model.safetensors, vocab.txt)");

  refuse_windows_longer_than_the_model(args, read_checkpoint_config(model).max_position);
  const auto tokenizer = load_tokenizer(model);
  const SquadFeatures features = make_squad_features(data, *tokenizer, args.windows);
  TempDir tmp;
  const fs::path features_path = tmp.path() / "features.h5";
  const fs::path logits_path = tmp.path() / "logits.h5";
  write_squad_features(features_path, features);

  const auto t0 = std::chrono::steady_clock::now();
  const int rc = run_training_tool({"predict", "--checkpoint", model.string(), "--features", features_path.string(),
                                    "--out", logits_path.string(), "--batch-size", std::to_string(args.batch_size),
                                    "--threads", std::to_string(num_threads())});
  if (rc != 0) throw Error("fastbert-train predict failed (exit status " + std::to_string(rc) + ")");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  std::cerr << "predicted " << data.questions.size() << " questions (" << features.num_windows() << " windows) in "
            << seconds << " s: " << static_cast<double>(data.questions.size()) / seconds << " examples/s, "
            << static_cast<double>(features.num_windows()) / seconds << " windows/s\n";
  return answer_questions(args, data, features, read_squad_logits(logits_path));
}

void run_eval_squad(const EvalArgs& args) {
  const int sources = !args.predictions.empty() + !args.model.empty() + !args.logits.empty();
  if (sources != 1)
    throw Error(
        "eval squad needs exactly one of --predictions FILE, --model CHECKPOINT_DIR or --logits FILE "
        "(with --features)");
  if (args.logits.empty() != args.features.empty())
    throw Error("--logits and --features go together: the logits are rows of that features file");
  refuse_outputs_over_inputs({{"--data", args.data},
                              {"--predictions", args.predictions},
                              {"--model", args.model},
                              {"--features", args.features},
                              {"--logits", args.logits}},
                             {{"--predictions-out", args.predictions_out}, {"--logits-out", args.logits_out}});
  if (!args.logits_out.empty() && args.model.empty())
    throw Error("--logits-out needs --model: it keeps the logits that model computed");
  set_num_threads(args.threads);
  const SquadDataset data = read_squad(args.data);
  SquadPredictionMap predictions;
  if (!args.predictions.empty()) {
    predictions = read_squad_predictions(args.predictions);
  } else if (!args.model.empty()) {
    predictions = predict_with_checkpoint(args, data);
  } else {
    predictions = answer_questions(args, data, read_squad_features(args.features), read_squad_logits(args.logits));
  }
  print_score(evaluate_squad(data, predictions));
}

}  // namespace

void register_eval(CLI::App& app) {
  auto* eval = app.add_subcommand("eval", "Evaluate predictions or a model");
  eval->require_subcommand(1);
  auto args = std::make_shared<EvalArgs>();
  auto* squad = eval->add_subcommand("squad", "SQuAD v1.1 exact match and F1 (official definition)");
  squad->add_option("--data", args->data, "SQuAD v1.1 JSON with gold answers")->required()->check(CLI::ExistingFile);
  squad->add_option("--predictions", args->predictions, "JSON object question id -> answer text")
      ->check(CLI::ExistingFile);
  squad->add_option("--model", args->model, "training checkpoint directory, or a packed .fbm file (runtime engine)");
  squad->add_option("--logits", args->logits, "start/end logits (HDF5) of a model over --features")
      ->check(CLI::ExistingFile);
  squad->add_option("--features", args->features, "the features file the logits were computed on")
      ->check(CLI::ExistingFile);
  squad->add_option("--predictions-out", args->predictions_out,
                    "write the answers here, question id -> text (with --model or --logits)");
  squad->add_option("--logits-out", args->logits_out,
                    "write the model's logits here (HDF5, rows = the windows of fastbert prepare with the same "
                    "window options; with --model)");
  squad->add_option("--max-seq", args->windows.max_seq, "tokens per window")
      ->capture_default_str()
      ->check(integer_in(8, kMaxSequence));
  squad->add_option("--doc-stride", args->windows.doc_stride, "context tokens between window starts")
      ->capture_default_str()
      ->check(integer_in(1, kMaxSequence));
  squad->add_option("--max-query", args->windows.max_query, "question tokens kept")
      ->capture_default_str()
      ->check(integer_in(1, kMaxSequence));
  squad->add_option("--n-best", args->postprocess.n_best, "start/end candidates per window")
      ->capture_default_str()
      ->check(integer_in(1, kMaxSequence));
  squad->add_option("--max-answer-length", args->postprocess.max_answer_length, "longest answer in tokens")
      ->capture_default_str()
      ->check(integer_in(1, kMaxSequence));
  squad->add_option("--batch-size", args->batch_size, "windows per forward pass")
      ->capture_default_str()
      ->check(integer_in(1, kMaxBatch));
  squad->add_option("--threads", args->threads, "worker threads (0 = all cores)")
      ->capture_default_str()
      ->check(thread_count());
  squad->callback([args] { run_eval_squad(*args); });
}

}  // namespace fastbert::cli
