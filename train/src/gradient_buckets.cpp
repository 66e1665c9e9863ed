#include "fastbert/train/gradient_buckets.h"

namespace fastbert {

GradientBuckets::GradientBuckets(std::vector<torch::Tensor> parameters, int64_t cap_bytes)
    : parameters_(std::move(parameters)) {
  // A bucket holds one dtype on one device, so that it is one flat tensor.
  for (std::size_t i = 0; i < parameters_.size(); ++i) {
    const torch::Tensor& p = parameters_[i];
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    Bucket* open = buckets_.empty() ? nullptr : &buckets_.back();
    if (open) {
      const torch::Tensor& first = parameters_[open->members.front()];
      const int64_t used = open->offsets.back() * static_cast<int64_t>(first.element_size());
      if (first.scalar_type() != p.scalar_type() || first.device() != p.device() || used + bytes > cap_bytes)
        open = nullptr;
    }
    if (!open) {
      buckets_.emplace_back();
      open = &buckets_.back();
      open->offsets.push_back(0);
    }
    open->members.push_back(i);
    open->offsets.push_back(open->offsets.back() + p.numel());
  }
  for (Bucket& b : buckets_) {
    const torch::Tensor& first = parameters_[b.members.front()];
    b.flat = torch::empty({b.offsets.back()}, first.options());
  }
}

void GradientBuckets::sum_over_ranks(RankGroup& group, const std::string& what) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> flats;
  for (Bucket& b : buckets_) {
    for (std::size_t k = 0; k < b.members.size(); ++k) {
      const torch::Tensor& grad = parameters_[b.members[k]].grad();
      torch::Tensor slot = b.flat.narrow(0, b.offsets[k], b.offsets[k + 1] - b.offsets[k]);
      if (grad.defined()) slot.copy_(grad.reshape({-1}));
      else slot.zero_();
    }
    flats.push_back(b.flat);
  }
  group.sum_in_place(flats, what);
  for (Bucket& b : buckets_) {
    for (std::size_t k = 0; k < b.members.size(); ++k) {
      torch::Tensor& p = parameters_[b.members[k]];
      torch::Tensor slot = b.flat.narrow(0, b.offsets[k], b.offsets[k + 1] - b.offsets[k]).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(slot);
      else p.mutable_grad() = slot.clone();
    }
  }
}

}  // namespace fastbert
