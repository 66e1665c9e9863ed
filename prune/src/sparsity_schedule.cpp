#include "fastbert/prune/sparsity_schedule.h"

#include <algorithm>
#include <cmath>

namespace fastbert {

double SparsitySchedule::at(int64_t step) const {
  if (step < start_step) return 0.0;
  if (step >= end_step) return target;
  const double p = static_cast<double>(step - start_step) / static_cast<double>(end_step - start_step);
  switch (kind) {
    case ScheduleKind::Cubic: return target + (initial - target) * std::pow(1.0 - p, 3);
    case ScheduleKind::Exponential: return 1.0 - (1.0 - initial) * std::pow((1.0 - target) / (1.0 - initial), p);
    case ScheduleKind::Linear: return initial + (target - initial) * p;
  }
  return target;
}

}  // namespace fastbert
