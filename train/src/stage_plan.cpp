#include "fastbert/train/stage_plan.h"

#include <algorithm>
#include <string>

#include "fastbert/common/error.h"

namespace fastbert {

StagePlan plan_stage(const StageSettings& s, int64_t num_windows) {
  StagePlan p;
  if (s.batch_size < 1 || s.grad_accum < 1 || s.epochs < 1 ||
      __builtin_mul_overflow(s.batch_size, s.grad_accum, &p.per_step))
    throw Error("stage " + s.name + ": batch_size " + std::to_string(s.batch_size) + " x grad_accum " +
                std::to_string(s.grad_accum) + " is not a positive step size");
  p.steps_per_epoch = num_windows / p.per_step + (num_windows % p.per_step != 0);
  if (__builtin_mul_overflow(p.steps_per_epoch, s.epochs, &p.total_steps))
    throw Error("stage " + s.name + ": epochs " + std::to_string(s.epochs) + " x " +
                std::to_string(p.steps_per_epoch) + " steps per epoch overflows the step count");
  if (s.max_steps > 0) p.total_steps = std::min(p.total_steps, s.max_steps);
  p.warmup_steps = s.warmup_steps >= 0 ? std::min(s.warmup_steps, p.total_steps)
                                       : static_cast<int64_t>(s.warmup_fraction * static_cast<double>(p.total_steps));
  // A post-training quantization stage only calibrates.
  if (s.quantize.enabled && s.quantize.mode == QuantMode::Ptq) p.total_steps = p.warmup_steps = 0;
  return p;
}

}  // namespace fastbert
