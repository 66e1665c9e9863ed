#include "fastbert/train/compression_commands.h"

#include <cstdio>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/model/checkpoint.h"
#include "fastbert/quantize/quantization_file.h"
#include "fastbert/train/commands.h"
#include "fastbert/train/predict.h"
#include "fastbert/train/rank_group.h"

namespace fastbert {
namespace fs = std::filesystem;

Recipe stages_of_kind(const Recipe& recipe, const std::string& kind) {
  Recipe out = recipe;
  out.stages.clear();
  for (const auto& s : recipe.stages) {
    const bool match = (kind == "prune" && s.prune.enabled) || (kind == "distill" && s.distill.enabled) ||
                       (kind == "quantize" && s.quantize.enabled);
    if (match) out.stages.push_back(s);
  }
  if (out.stages.empty())
    throw Error(recipe.source.string() + ": no stage has a '" + kind + ":' section (nothing to " + kind + ")");
  out.output = recipe.output / kind;
  return out;
}

TrainReport run_stage_kind_command(const fs::path& recipe_path, const std::string& kind, const TrainOptions& options) {
  const Recipe full = Recipe::load(recipe_path);
  const Recipe recipe = stages_of_kind(full, kind);
  // The prepared features of the whole recipe serve every kind.
  const std::unique_ptr<RankGroup> ranks = join_ranks_from_environment(full, options);
  const TrainingWindows windows =
      open_windows_for_model(training_features_path(full, ranks.get()), full.model / "config.json");
  TrainOptions with_ranks = options;
  with_ranks.ranks = ranks.get();
  TrainReport report = train_recipe(recipe, windows, with_ranks);
  if (report.finished && (!ranks || ranks->rank() == 0))
    std::fprintf(stderr, "%s: %zu %s stage(s) done in %.1f s; model in %s\n", recipe_path.string().c_str(),
                 recipe.stages.size(), kind.c_str(), report.train_seconds_total, report.final_dir.string().c_str());
  return report;
}

void run_teacher_logits_command(const fs::path& teacher_dir, const fs::path& features_path, int64_t batch_size,
                                int threads) {
  set_num_threads(threads);
  torch::set_num_threads(num_threads());
  BertForQuestionAnswering teacher = load_bert_qa(teacher_dir);
  SquadFeatures features = read_features_for_model(features_path, teacher_dir / "config.json");
  const SquadLogits logits = predict_logits(teacher, features, batch_size);
  features.teacher_start_logits = logits.start_logits;
  features.teacher_end_logits = logits.end_logits;
  write_squad_features(features_path, features);
  std::fprintf(stderr, "%s: teacher logits of %s stored for %lld windows\n", features_path.string().c_str(),
               teacher_dir.string().c_str(), static_cast<long long>(features.num_windows()));
}

void run_predict_int8_command(const fs::path& checkpoint, const fs::path& features_path, const fs::path& out,
                              int64_t batch_size, int threads) {
  set_num_threads(threads);
  torch::set_num_threads(num_threads());
  BertForQuestionAnswering model = load_bert_qa(checkpoint);
  const Quantization q = Quantization::load(checkpoint / "quantization.json");
  for (const auto& name : all_linear_names(model))
    if (!q.layers.count(name))
      throw Error((checkpoint / "quantization.json").string() + ": no entry for linear layer '" + name + "'");
  const SquadFeatures features = read_features_for_model(features_path, checkpoint / "config.json");
  write_squad_logits(out, predict_logits(model, features, batch_size, /*log_progress=*/true, q.fake_quant_linear()));
}

}  // namespace fastbert
