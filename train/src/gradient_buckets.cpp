#include "fastbert/train/gradient_buckets.h"

#include <torch/csrc/autograd/utils/lambda_post_hook.h>

namespace fastbert {

GradientBuckets::GradientBuckets(std::vector<torch::Tensor> parameters, RankGroup& group, int64_t cap_bytes,
                                 int64_t first_cap_bytes)
    : parameters_(std::move(parameters)), group_(group) {
  // Reverse order: backward reaches the last layers (and the QA head) first
  // and the embeddings last. A bucket holds one dtype on one device, so that
  // it is one flat tensor.
  std::vector<std::size_t> owner(parameters_.size());
  for (std::size_t n = parameters_.size(); n-- > 0;) {
    const torch::Tensor& p = parameters_[n];
    const int64_t bytes = p.numel() * static_cast<int64_t>(p.element_size());
    Bucket* open = buckets_.empty() ? nullptr : &buckets_.back();
    if (open) {
      const torch::Tensor& first = parameters_[open->members.front()];
      const int64_t used = open->offsets.back() * static_cast<int64_t>(first.element_size());
      const int64_t cap = buckets_.size() == 1 ? first_cap_bytes : cap_bytes;
      if (first.scalar_type() != p.scalar_type() || first.device() != p.device() || used + bytes > cap)
        open = nullptr;
    }
    if (!open) {
      buckets_.emplace_back();
      open = &buckets_.back();
      open->offsets.push_back(0);
    }
    open->members.push_back(n);
    open->offsets.push_back(open->offsets.back() + p.numel());
    owner[n] = buckets_.size() - 1;
  }
  for (Bucket& b : buckets_) b.flat = torch::empty({b.offsets.back()}, parameters_[b.members.front()].options());

  for (std::size_t n = 0; n < parameters_.size(); ++n) {
    if (!parameters_[n].requires_grad()) continue;  // never ready: its bucket starts in finish()
    std::shared_ptr<torch::autograd::Node> acc = torch::autograd::impl::grad_accumulator(parameters_[n]);
    const std::size_t bucket = owner[n];
    // After accumulation: the parameter's .grad() is its final gradient of
    // the step once the armed backward has been through it.
    hook_keys_.push_back(acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [this, bucket](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          parameter_ready(bucket);
          return outputs;
        })));
    accumulators_.push_back(std::move(acc));
  }
}

GradientBuckets::~GradientBuckets() {
  for (std::size_t i = 0; i < accumulators_.size(); ++i) accumulators_[i]->del_post_hook(hook_keys_[i]);
}

void GradientBuckets::arm() { armed_ = true; }

void GradientBuckets::parameter_ready(std::size_t bucket) {
  if (!armed_) return;  // an earlier micro-batch: its gradients only accumulate
  buckets_[bucket].ready += 1;
  // In bucket order only, so that every rank starts the same sums in the same
  // order even if a later bucket completes first.
  while (next_to_start_ < buckets_.size() &&
         buckets_[next_to_start_].ready == buckets_[next_to_start_].members.size()) {
    start(buckets_[next_to_start_++]);
  }
}

void GradientBuckets::start(Bucket& b) {
  torch::NoGradGuard no_grad;
  for (std::size_t k = 0; k < b.members.size(); ++k) {
    const torch::Tensor& grad = parameters_[b.members[k]].grad();
    torch::Tensor slot = b.flat.narrow(0, b.offsets[k], b.offsets[k + 1] - b.offsets[k]);
    if (grad.defined()) slot.copy_(grad.reshape({-1}));
    else slot.zero_();
  }
  group_.start_sum(b.flat);
}

void GradientBuckets::finish(const std::string& what) {
  armed_ = false;
  while (next_to_start_ < buckets_.size()) start(buckets_[next_to_start_++]);
  group_.finish_sums(what);
  torch::NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    for (std::size_t k = 0; k < b.members.size(); ++k) {
      torch::Tensor& p = parameters_[b.members[k]];
      torch::Tensor slot = b.flat.narrow(0, b.offsets[k], b.offsets[k + 1] - b.offsets[k]).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(slot);
      else p.mutable_grad() = slot.clone();
    }
    b.ready = 0;
  }
  next_to_start_ = 0;
}

}  // namespace fastbert
