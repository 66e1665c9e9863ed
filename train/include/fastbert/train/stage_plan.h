#pragma once
#include <cstdint>

#include "fastbert/train/recipe.h"

namespace fastbert {

// How a stage's windows become optimizer steps: the trainer runs this plan
// and the compression stage checks its step numbers against it.
struct StagePlan {
  int64_t per_step;  // windows per optimizer step
  int64_t steps_per_epoch;
  int64_t total_steps;
  int64_t warmup_steps;
};

// Throws fastbert::Error when the step count would overflow (the recipe's
// ranges prevent it; a Recipe built in code is checked here).
StagePlan plan_stage(const StageSettings& s, int64_t num_windows);

}  // namespace fastbert
