#pragma once
#include <cstdint>
#include <filesystem>
#include <utility>
#include <vector>

namespace fastbert {

// The `distill:` section of a recipe stage (plain data for the recipe parser).
struct DistillSettings {
  bool enabled = false;
  std::filesystem::path teacher;  // dense fine-tuned checkpoint directory
  double temperature = 2.0;
  double alpha = 0.9;  // loss = alpha * KL * T^2 + (1 - alpha) * hard loss (+ hidden MSE)
  // (student hidden index, teacher hidden index); 0 = embeddings output, i = after layer i.
  std::vector<std::pair<int64_t, int64_t>> layer_map;
  double hidden_weight = 0.0;
  bool precompute_logits = false;
};

}  // namespace fastbert
