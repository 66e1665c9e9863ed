#pragma once
#include <cstdint>

#include "fastbert/prune/prune_settings.h"

namespace fastbert {

// Sparsity as a function of the optimizer step. Before start_step nothing is
// pruned (0); from start_step to end_step it moves from `initial` to `target`;
// after end_step it stays at `target`.
//   cubic (Zhu & Gupta 2017): target + (initial - target) * (1 - p)^3
//   exponential: the kept fraction shrinks geometrically,
//                1 - (1 - initial) * ((1 - target) / (1 - initial))^p
//   linear: initial + (target - initial) * p
// with p = (step - start_step) / (end_step - start_step).
struct SparsitySchedule {
  ScheduleKind kind = ScheduleKind::Cubic;
  int64_t start_step = 0;
  int64_t end_step = 0;
  double initial = 0.0;
  double target = 0.0;

  double at(int64_t step) const;
};

}  // namespace fastbert
