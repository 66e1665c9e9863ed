#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "fastbert/train/training_windows.h"
#include "fastbert/model/bert_qa.h"
#include "fastbert/prune/block_pruner.h"
#include "fastbert/quantize/quantization_file.h"
#include "fastbert/train/batch.h"
#include "fastbert/train/recipe.h"

namespace fastbert {

// What the prune/distill/quantize sections of a recipe add to the trainer's
// loop. It lives for a whole train_recipe call because masks and quantization
// parameters carry over from stage to stage: a stage after a prune stage keeps
// re-applying the final masks, and the int8 parameters of a quantize stage are
// written with every later checkpoint.
class StageCompression {
 public:
  // `resume_dir`: the checkpoint the model was loaded from (empty for a fresh
  // run); its masks.safetensors and quantization.json are picked up. A fresh
  // run picks up the masks.safetensors of the recipe's model instead.
  // `windows` must outlive this.
  StageCompression(const Recipe& recipe, BertForQuestionAnswering model, const TrainingWindows& windows,
                   const std::filesystem::path& resume_dir);
  ~StageCompression();

  // Before the first step of stage `s` (also when resuming inside it).
  void begin_stage(std::size_t s, int64_t total_steps, int64_t steps_done, bool log);
  // Before the micro-batches of optimizer step `step` (0-based), on every rank
  // alike: QAT calibrates here when the step reaches quantize.start_step.
  void begin_step(int64_t step);
  // Forward pass and loss of one micro-batch (`rows`: its windows).
  torch::Tensor loss(const Batch& batch, const std::vector<int64_t>& rows);
  void before_optimizer_step();
  void after_optimizer_step(int64_t steps_done);
  // After the last step of the stage: post-training calibration for ptq.
  void end_stage(bool log);

  // A hash of the masks and quantization parameters, which every rank of a
  // data-parallel run must hold identically.
  uint64_t digest() const;

  // True when the current stage adds nothing to plain fine-tuning.
  bool plain() const;

  // masks.safetensors, quantization.json and compression_report.json into
  // `dir` (each atomic), when there is something to write.
  void write_files(const std::filesystem::path& dir);

 private:
  void calibrate(int64_t batches, int64_t batch_size, uint64_t seed);
  torch::Tensor teacher_rows(const std::vector<float>& logits, const std::vector<int64_t>& rows, int64_t length) const;

  const Recipe& recipe_;
  BertForQuestionAnswering model_;
  const TrainingWindows& windows_;
  std::filesystem::path resume_dir_;
  std::size_t stage_ = 0;
  std::unique_ptr<BlockPruner> pruner_;
  bool pruner_frozen_ = false;
  BertForQuestionAnswering teacher_{nullptr};
  std::filesystem::path teacher_dir_;
  std::vector<float> teacher_start_, teacher_end_;  // precomputed here, [N, max_seq]
  bool teacher_logits_in_batches_ = false;          // precomputed in the features file
  std::optional<Quantization> quantization_;
  bool fake_quant_ = false;
};

}  // namespace fastbert
