#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace fastbert {

// The int8 numerics shared with `fastbert export` and the runtime (which
// reproduce them without LibTorch; docs/checkpoint.md states them):
//   weights, symmetric per output channel: scale = max|w_row| / 127 (1 for an
//     all-zero row), q = clamp(round_half_even(w / scale), -127, 127)
//   activations, asymmetric u8: min' = min(min, 0), max' = max(max, 0),
//     scale = (max' - min') / 255 (1 when both are 0),
//     zero_point = clamp(round_half_even(-min' / scale), 0, 255),
//     q = clamp(round_half_even(x / scale) + zero_point, 0, 255)
// Dequantized values are q * scale and (q - zero_point) * scale.

struct ActivationQuant {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

torch::Tensor weight_scales(const torch::Tensor& weight);  // [out] float32
torch::Tensor quantize_weight(const torch::Tensor& weight, const torch::Tensor& scales);  // int8 [out, in]
ActivationQuant activation_quant(float min, float max);

// Forward: the value after quantize -> dequantize. Backward: the straight-
// through estimator; the gradient passes unchanged where the value was not
// clamped (for weights nothing is clamped, since the scale covers max|w|).
torch::Tensor fake_quantize_weight(const torch::Tensor& weight);
torch::Tensor fake_quantize_activation(const torch::Tensor& x, ActivationQuant q);

}  // namespace fastbert
