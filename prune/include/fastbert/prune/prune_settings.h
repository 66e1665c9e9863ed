#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace fastbert {

enum class PruneCriterion { Magnitude, SnipMomentum };
enum class ScheduleKind { Cubic, Exponential, Linear };
enum class PruneScope { Global, PerLayer };

// The `prune:` section of a recipe stage. Plain data (no LibTorch) so the
// recipe parser can hold it.
struct PruneSettings {
  bool enabled = false;
  int64_t block_rows = 4;  // consecutive output rows of a Linear weight [out, in]
  int64_t block_cols = 1;  // consecutive input columns
  PruneCriterion criterion = PruneCriterion::Magnitude;
  ScheduleKind schedule = ScheduleKind::Cubic;
  int64_t start_step = 0;
  int64_t end_step = 0;  // 0: the last step of the stage
  double initial_sparsity = 0.0;
  double target_sparsity = 0.8;
  PruneScope scope = PruneScope::Global;
  double max_layer_sparsity = 1.0;  // cap for global scope; < 1 always
  // Glob patterns (fnmatch, '*' crosses dots) over linear layer names such as
  // "bert.encoder.layer.3.attention.self.query". Empty: every encoder linear.
  std::vector<std::string> layers;
  // "recipe.yaml:LINE:COL" of each pattern, so a pattern that matches no layer
  // of the model (known only once the model is loaded) is reported where it is.
  std::vector<std::string> layer_locations;
  int64_t update_every_steps = 10;
  double momentum = 0.9;  // snip_momentum: score = m * score + (1 - m) * |w * grad|
};

std::string to_string(PruneCriterion c);
std::string to_string(ScheduleKind k);
std::string to_string(PruneScope s);

}  // namespace fastbert
