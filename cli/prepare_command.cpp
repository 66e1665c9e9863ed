// `fastbert prepare`: SQuAD JSON -> tokenized windows in an HDF5 features file,
// the input of every training-side command.
#include <algorithm>
#include <chrono>
#include <iostream>

#include "commands.h"
#include "fastbert/common/output_paths.h"
#include "fastbert/common/threads.h"
#include "fastbert/formats/squad_features.h"
#include "fastbert/runtime/squad/squad_dataset.h"
#include "fastbert/runtime/squad/squad_windows.h"
#include "fastbert/runtime/tokenizers/tokenizer.h"
#include "option_checks.h"

namespace fastbert::cli {

namespace {

struct PrepareArgs {
  std::string data;
  std::string tokenizer;
  std::string out;
  SquadWindowOptions windows;
  int threads = 0;
  int64_t limit = 0;
};

// The first `limit` questions, with only the contexts they use.
SquadDataset first_questions(const SquadDataset& data, int64_t limit) {
  if (limit <= 0 || limit >= static_cast<int64_t>(data.questions.size())) return data;
  SquadDataset out;
  std::vector<int32_t> remap(data.contexts.size(), -1);
  for (int64_t i = 0; i < limit; ++i) {
    SquadQuestion q = data.questions[i];
    if (remap[q.context] < 0) {
      remap[q.context] = static_cast<int32_t>(out.contexts.size());
      out.contexts.push_back(data.contexts[q.context]);
    }
    q.context = remap[q.context];
    out.questions.push_back(std::move(q));
  }
  return out;
}

void run_prepare(const PrepareArgs& args) {
  refuse_outputs_over_inputs({{"--data", args.data}, {"--tokenizer", args.tokenizer}}, {{"--out", args.out}});
  set_num_threads(args.threads);
  const auto t0 = std::chrono::steady_clock::now();
  const SquadDataset data = first_questions(read_squad(args.data), args.limit);
  const auto tokenizer = load_tokenizer(args.tokenizer);
  const SquadFeatures features = make_squad_features(data, *tokenizer, args.windows);
  write_squad_features(args.out, features);
  int64_t answered = 0;
  std::vector<bool> example_answered(features.example_ids.size(), false);
  for (int64_t w = 0; w < features.num_windows(); ++w) {
    if (features.start_positions[w] == 0) continue;
    ++answered;
    example_answered[features.example_index[w]] = true;
  }
  const auto unanswerable = std::count(example_answered.begin(), example_answered.end(), false);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "examples: " << data.questions.size() << " (" << unanswerable
            << " with the answer in no window: only [CLS] to learn)\n"
            << "windows: " << features.num_windows() << " (" << answered << " holding their answer)\n"
            << "max_seq " << args.windows.max_seq << ", doc_stride " << args.windows.doc_stride << ", max_query "
            << args.windows.max_query << ", tokenizer " << features.tokenizer << "\n"
            << "wrote " << args.out << " in " << seconds << " s\n";
}

}  // namespace

void register_prepare(CLI::App& app) {
  auto args = std::make_shared<PrepareArgs>();
  auto* cmd = app.add_subcommand("prepare", "Tokenize SQuAD v1.1 JSON into an HDF5 features file");
  cmd->add_option("--data", args->data, "SQuAD v1.1 JSON file")->required()->check(CLI::ExistingFile);
  cmd->add_option("--tokenizer", args->tokenizer,
                  "vocab.txt, SentencePiece .model, or a checkpoint directory holding one")
      ->required();
  cmd->add_option("--out", args->out, "output features file (.h5)")->required();
  cmd->add_option("--max-seq", args->windows.max_seq, "tokens per window")
      ->capture_default_str()
      ->check(integer_in(8, kMaxSequence));
  cmd->add_option("--doc-stride", args->windows.doc_stride, "context tokens between window starts")
      ->capture_default_str()
      ->check(integer_in(1, kMaxSequence));
  cmd->add_option("--max-query", args->windows.max_query, "question tokens kept")
      ->capture_default_str()
      ->check(integer_in(1, kMaxSequence));
  cmd->add_option("--threads", args->threads, "worker threads (0 = all cores)")
      ->capture_default_str()
      ->check(thread_count());
  cmd->add_option("--limit", args->limit, "keep only the first N questions (0 = all)")
      ->capture_default_str()
      ->check(integer_in(0, INT64_MAX));
  cmd->callback([args] { run_prepare(*args); });
}

}  // namespace fastbert::cli
