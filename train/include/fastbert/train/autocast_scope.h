#pragma once
#include <ATen/autocast_mode.h>

namespace fastbert {

// LibTorch's CPU autocast to bfloat16 switched on or off for the forward
// passes built inside the scope, and back to what it was when it ends (also
// when an exception leaves it). Backward replays whatever precision each op
// ran in, so it need not run inside.
class AutocastScope {
 public:
  explicit AutocastScope(bool bf16) : was_(at::autocast::is_cpu_enabled()) {
    if (bf16) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    at::autocast::set_cpu_enabled(bf16);
  }
  ~AutocastScope() {
    at::autocast::set_cpu_enabled(was_);
    if (!was_) at::autocast::clear_cache();
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool was_;
};

}  // namespace fastbert
