#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/model/bert_qa.h"
#include "fastbert/prune/block_mask.h"
#include "fastbert/prune/prune_settings.h"
#include "fastbert/prune/sparsity_schedule.h"

namespace fastbert {

struct SafetensorsFile;

struct LayerSparsity {
  std::string name;      // the Linear's name, e.g. bert.encoder.layer.0.intermediate.dense
  int64_t blocks = 0;
  int64_t pruned_blocks = 0;
  double sparsity() const { return blocks ? static_cast<double>(pruned_blocks) / static_cast<double>(blocks) : 0.0; }
};

// The encoder linear layers that can be pruned: the six of every encoder
// layer. Embeddings, pooler and qa_outputs are never candidates.
std::vector<std::string> encoder_linear_names(BertForQuestionAnswering& model);
torch::nn::Linear find_linear(BertForQuestionAnswering& model, const std::string& name);

// Selected layers of `patterns` (empty: all encoder linears). Throws
// fastbert::Error naming the pattern (and its recipe location if given) when
// a pattern matches no encoder linear.
std::vector<std::string> select_layers(const std::vector<std::string>& candidates,
                                       const std::vector<std::string>& patterns,
                                       const std::vector<std::string>& locations);

// Gradual block pruning of a model's linear layers. Masks live here, keyed by
// layer, and are multiplied into the weights after every optimizer step so
// pruned weights stay exactly zero whatever the optimizer does.
class BlockPruner {
 public:
  BlockPruner(BertForQuestionAnswering model, PruneSettings settings, int64_t stage_steps);

  // After backward, before the optimizer step: accumulate the snip-momentum
  // score from the gradients (no-op for magnitude).
  void observe_gradients();
  // After the optimizer step numbered `step` (1-based count of steps done):
  // recompute masks when the schedule says so, then zero pruned weights.
  void after_optimizer_step(int64_t steps_done);
  // Recompute every mask for sparsity `s` now.
  void prune_to(double sparsity);
  void apply_masks();

  const SparsitySchedule& schedule() const { return schedule_; }
  std::vector<LayerSparsity> report() const;
  double overall_sparsity() const;
  const std::vector<std::string>& layers() const { return names_; }
  // Block-level keep mask [out / rows, in / cols] of a layer.
  const torch::Tensor& block_mask(const std::string& layer) const;
  // Takes over a mask (e.g. from an earlier prune stage); apply_masks() applies it.
  void set_block_mask(const std::string& layer, const torch::Tensor& mask);
  BlockShape block() const { return block_; }

  // masks.safetensors: one U8 tensor "<layer>.weight.mask" [out/rows, in/cols]
  // per pruned layer (1 = kept block), metadata block_rows/block_cols, plus
  // "<layer>.weight.score" F32 for snip-momentum so a resumed run continues
  // with the same scores.
  void save(const std::filesystem::path& file) const;
  void load(const std::filesystem::path& file);
  // The same from a file already read; `file` names it in errors.
  void load(const SafetensorsFile& f, const std::filesystem::path& file);

 private:
  // The one way masks_ change, so that weight_masks_ never goes stale.
  void set_mask(std::size_t i, torch::Tensor block_mask);

  BertForQuestionAnswering model_;
  PruneSettings settings_;
  SparsitySchedule schedule_;
  BlockShape block_;
  std::vector<std::string> names_;
  std::vector<torch::nn::Linear> linears_;
  std::vector<torch::Tensor> masks_;   // bool, block level
  // masks_[i] expanded to its weight's shape and dtype, made once per mask
  // change rather than at every step's apply_masks() (undefined: to remake).
  std::vector<torch::Tensor> weight_masks_;
  std::vector<torch::Tensor> scores_;  // snip-momentum, weight level
};

// A pruner holding the masks of a pruned checkpoint's masks.safetensors (its
// layers and block shape), already applied: training that goes on from that
// checkpoint re-applies them after every step so its pruned weights stay zero.
std::unique_ptr<BlockPruner> pruner_of_mask_file(BertForQuestionAnswering model, const std::filesystem::path& file);

}  // namespace fastbert
