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

// Questions [begin, end), with only the contexts they use.
SquadDataset question_range(const SquadDataset& data, int64_t begin, int64_t end) {
  SquadDataset out;
  std::vector<int32_t> remap(data.contexts.size(), -1);
  for (int64_t i = begin; i < end; ++i) {
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

// Questions are tokenized and written this many at a time, so memory holds
// one block of windows, not the file: the full SQuAD v1.1 training set at
// seq 384 is 88,641 windows and 685 MB of features, which the whole-file
// version held at once (847 MB peak RSS, 207 MB with blocks of 2,048
// questions, most of it the parsed JSON). Blocks are counted in questions,
// so long contexts cut into many windows make a block larger (42 windows a
// question in the memory test): 512 questions keep that block near 30 MB
// and still give the tokenizer's threads enough contexts to share.
constexpr int64_t kQuestionsPerBlock = 512;

void run_prepare(const PrepareArgs& args) {
  refuse_outputs_over_inputs({{"--data", args.data}, {"--tokenizer", args.tokenizer}}, {{"--out", args.out}});
  set_num_threads(args.threads);
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
  const SquadDataset data = read_squad(args.data);
  const auto tokenizer = load_tokenizer(args.tokenizer);
  const int64_t total = args.limit > 0 ? std::min<int64_t>(args.limit, static_cast<int64_t>(data.questions.size()))
                                       : static_cast<int64_t>(data.questions.size());
  SquadFeaturesWriter writer(args.out);
  int64_t answered = 0, unanswerable = 0;
  auto last_progress = Clock::now();
  for (int64_t begin = 0; begin < total || begin == 0; begin += kQuestionsPerBlock) {
    const int64_t end = std::min(total, begin + kQuestionsPerBlock);
    const SquadFeatures block = make_squad_features(question_range(data, begin, end), *tokenizer, args.windows);
    writer.append(block);
    std::vector<bool> example_answered(block.example_ids.size(), false);
    for (int64_t w = 0; w < block.num_windows(); ++w) {
      if (block.start_positions[w] == 0) continue;
      ++answered;
      example_answered[block.example_index[w]] = true;
    }
    unanswerable += std::count(example_answered.begin(), example_answered.end(), false);
    if (seconds_since(last_progress) >= 5 && end < total) {
      std::cerr << "prepare: " << end << "/" << total << " questions, " << writer.num_windows() << " windows, "
                << static_cast<int64_t>(seconds_since(t0)) << " s\n";
      last_progress = Clock::now();
    }
    if (end >= total) break;
  }
  const int64_t windows = writer.num_windows();
  writer.finish();
  std::cout << "examples: " << total << " (" << unanswerable << " with the answer in no window: only [CLS] to learn)\n"
            << "windows: " << windows << " (" << answered << " holding their answer)\n"
            << "max_seq " << args.windows.max_seq << ", doc_stride " << args.windows.doc_stride << ", max_query "
            << args.windows.max_query << ", tokenizer " << tokenizer->description() << "\n"
            << "wrote " << args.out << " in " << seconds_since(t0) << " s\n";
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
