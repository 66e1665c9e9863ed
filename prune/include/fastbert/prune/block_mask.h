#pragma once
#include <torch/torch.h>

namespace fastbert {

// A block is `rows` consecutive output rows x `cols` consecutive input columns
// of a Linear weight [out, in]; the runtime's sparse format stores 4x1 blocks.
struct BlockShape {
  int64_t rows = 4;
  int64_t cols = 1;
};

// Sum of `score` [out, in] over each block: [out / rows, in / cols]. Throws
// fastbert::Error when the weight shape is not a multiple of the block.
torch::Tensor block_scores(const torch::Tensor& score, BlockShape block, const std::string& name);

// A block-level mask [out / rows, in / cols] expanded to the weight's shape.
torch::Tensor expand_block_mask(const torch::Tensor& block_mask, BlockShape block);

// Keep-mask (bool, same shape as `scores`) that drops exactly `num_pruned`
// blocks, those with the lowest scores; ties go to the lower flat index so the
// result is deterministic.
torch::Tensor prune_lowest(const torch::Tensor& scores, int64_t num_pruned);

}  // namespace fastbert
