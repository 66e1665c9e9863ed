#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fastbert/train/rank_group.h"

namespace fastbert {

// The gradients of a model's parameters, copied into a few flat buckets of at
// most `cap_bytes` each (DDP's default cap) and summed over the ranks after
// backward: one all-reduce per bucket, all in flight at once, instead of one
// per parameter (MiniLM has 101).
class GradientBuckets {
 public:
  explicit GradientBuckets(std::vector<torch::Tensor> parameters, int64_t cap_bytes = int64_t{25} << 20);

  // Each parameter's gradient becomes its sum over the ranks. A parameter
  // without a gradient on this rank contributes zeros, and has one after.
  void sum_over_ranks(RankGroup& group, const std::string& what);

  std::size_t num_buckets() const { return buckets_.size(); }

 private:
  struct Bucket {
    std::vector<std::size_t> members;  // indices into parameters_
    std::vector<int64_t> offsets;
    torch::Tensor flat;
  };
  std::vector<torch::Tensor> parameters_;
  std::vector<Bucket> buckets_;
};

}  // namespace fastbert
