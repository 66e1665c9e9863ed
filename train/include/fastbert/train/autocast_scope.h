#pragma once
#include <ATen/autocast_mode.h>
#include <c10/core/DeviceType.h>

namespace fastbert {

// LibTorch's autocast to bfloat16 for `device` (CPU or CUDA) switched on or
// off for the forward passes built inside the scope, and back to what it was
// when it ends (also when an exception leaves it). Backward replays whatever
// precision each op ran in, so it need not run inside.
class AutocastScope {
 public:
  explicit AutocastScope(bool bf16, c10::DeviceType device = c10::DeviceType::CPU)
      : cuda_(device == c10::DeviceType::CUDA), was_(enabled()) {
    if (bf16) {
      if (cuda_) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
      else at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    }
    set_enabled(bf16);
  }
  ~AutocastScope() {
    set_enabled(was_);
    if (!was_) at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled() const { return cuda_ ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled(); }
  void set_enabled(bool on) const {
    if (cuda_) at::autocast::set_enabled(on);
    else at::autocast::set_cpu_enabled(on);
  }

  bool cuda_;
  bool was_;
};

}  // namespace fastbert
