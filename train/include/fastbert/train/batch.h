#pragma once
#include <torch/torch.h>

#include <vector>

#include "fastbert/formats/squad_features.h"

namespace fastbert {

// Windows gathered into int64 tensors. Trailing positions that are padding in
// every selected window are cut off: they cannot change the real tokens'
// outputs (attention masks them) and SQuAD windows are often much shorter
// than max_seq, so this saves a large share of the compute.
struct Batch {
  torch::Tensor input_ids, token_type_ids, attention_mask;  // [B,L], L <= max_seq
  torch::Tensor start_positions, end_positions;             // [B]
  // float32 [B,L], defined when the windows carry precomputed teacher logits.
  torch::Tensor teacher_start_logits, teacher_end_logits;
  int64_t length = 0;  // L
};

// Gathered in host memory, then moved to `device` (the model's).
Batch make_batch(const SquadFeatures& features, const std::vector<int64_t>& rows,
                 torch::Device device = torch::kCPU);

// Throws fastbert::Error naming the first array whose size does not fit
// num_windows x max_seq, or an answer position outside the window.
void check_features_shape(const SquadFeatures& features);

}  // namespace fastbert
