#pragma once
#include <torch/torch.h>

#include <utility>
#include <vector>

#include "fastbert/model/bert_qa.h"

namespace fastbert {

// KL(teacher || student) of the start and of the end distributions, both
// softened by `temperature`, averaged over the two and over the batch, and
// scaled by T^2 (Hinton et al.) so its gradient does not shrink with T.
// Padding positions (attention_mask 0) are left out of both distributions.
torch::Tensor distillation_kl(const QaLogits& student, const QaLogits& teacher, const torch::Tensor& attention_mask,
                              double temperature);

// Mean squared error between mapped hidden states over the real tokens,
// averaged over the pairs. Student and teacher must have the same hidden size.
torch::Tensor hidden_state_mse(const std::vector<torch::Tensor>& student, const std::vector<torch::Tensor>& teacher,
                               const std::vector<std::pair<int64_t, int64_t>>& layer_map,
                               const torch::Tensor& attention_mask);

}  // namespace fastbert
