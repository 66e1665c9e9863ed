#include "fastbert/prune/block_mask.h"

#include "fastbert/common/error.h"

namespace fastbert {

torch::Tensor block_scores(const torch::Tensor& score, BlockShape block, const std::string& name) {
  if (score.dim() != 2 || score.size(0) % block.rows != 0 || score.size(1) % block.cols != 0)
    throw Error(name + ": weight of shape [" + std::to_string(score.size(0)) + ", " +
                std::to_string(score.dim() > 1 ? score.size(1) : 0) + "] cannot be cut into " +
                std::to_string(block.rows) + "x" + std::to_string(block.cols) + " blocks");
  const int64_t r = score.size(0) / block.rows, c = score.size(1) / block.cols;
  return score.reshape({r, block.rows, c, block.cols}).sum({1, 3});
}

torch::Tensor expand_block_mask(const torch::Tensor& block_mask, BlockShape block) {
  return block_mask.repeat_interleave(block.rows, 0).repeat_interleave(block.cols, 1);
}

torch::Tensor prune_lowest(const torch::Tensor& scores, int64_t num_pruned) {
  auto flat = scores.reshape({-1});
  auto keep = torch::ones({flat.size(0)}, flat.options().dtype(torch::kBool));
  if (num_pruned > 0) {
    auto order = std::get<1>(torch::sort(flat, /*stable=*/true, /*dim=*/0, /*descending=*/false));
    keep.index_fill_(0, order.slice(0, 0, std::min(num_pruned, flat.size(0))), false);
  }
  return keep.reshape(scores.sizes());
}

}  // namespace fastbert
