#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/train/rank_group.h"

namespace fastbert {

// The gradients of a model's parameters, summed over the ranks in a few flat
// buckets while backward still runs, as c10d's DDP Reducer does.
//
// Buckets follow the parameters in reverse, the order backward finishes
// them; the first is small (1 MiB), so that its all-reduce starts early, the
// others hold up to `cap_bytes` (DDP's 25 MiB). A hook after each parameter's
// gradient accumulation marks it ready; once every member of a bucket is
// ready its gradients are copied into the bucket and its all-reduce starts,
// buckets always in the same order on every rank (the backend pairs the
// ranks' all-reduces by order). One all-reduce per bucket instead of one per
// parameter (MiniLM has 101).
//
// Use per step: arm() before the step's last backward (the earlier
// micro-batches only accumulate), then finish() after it. Not thread-safe:
// one training loop owns it; the hooks run on the thread that runs backward.
class GradientBuckets {
 public:
  GradientBuckets(std::vector<torch::Tensor> parameters, RankGroup& group,
                  int64_t cap_bytes = int64_t{25} << 20, int64_t first_cap_bytes = int64_t{1} << 20);
  ~GradientBuckets();  // removes the hooks: the model may outlive this
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // The next backward completes the step's gradients: its hooks start the sums.
  void arm();
  // Each parameter's gradient becomes its sum over the ranks. Buckets that
  // backward did not complete (a parameter without a gradient on this rank,
  // or no backward at all) start now, such a parameter contributing zeros and
  // having a gradient after. Throws as RankGroup::finish_sums. `what` names
  // the step in errors.
  void finish(const std::string& what);

  std::size_t num_buckets() const { return buckets_.size(); }
  // The parameters of bucket `b`, as indices into the constructor's list.
  const std::vector<std::size_t>& bucket_members(std::size_t b) const { return buckets_[b].members; }
  // How many buckets this step's backward has started so far (0 again after
  // finish(): read it before, as a step without backward on this rank gives 0).
  std::size_t started_during_backward() const { return next_to_start_; }

 private:
  struct Bucket {
    std::vector<std::size_t> members;  // indices into parameters_
    std::vector<int64_t> offsets;
    torch::Tensor flat;
    std::size_t ready = 0;
  };
  void parameter_ready(std::size_t bucket);
  void start(Bucket& b);

  std::vector<torch::Tensor> parameters_;
  RankGroup& group_;
  std::vector<Bucket> buckets_;
  // Held here because a parameter keeps only a weak reference to its
  // accumulator: without these, each backward would make a new one, without the hook.
  std::vector<std::shared_ptr<torch::autograd::Node>> accumulators_;
  std::vector<uintptr_t> hook_keys_;
  bool armed_ = false;
  std::size_t next_to_start_ = 0;  // until finish(), only backward's hooks move it
};

}  // namespace fastbert
