#include "fastbert/quantize/int8_numerics.h"

#include <algorithm>
#include <cmath>

namespace fastbert {

torch::Tensor weight_scales(const torch::Tensor& weight) {
  auto max_abs = weight.detach().abs().amax(1).to(torch::kFloat32);
  return torch::where(max_abs.gt(0), max_abs / 127.0f, torch::ones_like(max_abs));
}

torch::Tensor quantize_weight(const torch::Tensor& weight, const torch::Tensor& scales) {
  // torch::round rounds half to even.
  return torch::round(weight.detach().to(torch::kFloat32) / scales.unsqueeze(1)).clamp(-127, 127).to(torch::kInt8);
}

ActivationQuant activation_quant(float min, float max) {
  min = std::min(min, 0.0f);
  max = std::max(max, 0.0f);
  ActivationQuant q;
  q.scale = max > min ? (max - min) / 255.0f : 1.0f;
  q.zero_point = static_cast<int32_t>(std::clamp(std::nearbyint(-min / q.scale), 0.0f, 255.0f));
  return q;
}

torch::Tensor fake_quantize_weight(const torch::Tensor& weight) {
  auto scales = weight_scales(weight).unsqueeze(1).to(weight.dtype());
  auto fq = torch::round(weight.detach() / scales).clamp(-127, 127) * scales;
  // fq + 0 with the gradient of `weight`: exactly fq in the forward pass.
  return fq + (weight - weight.detach());
}

torch::Tensor fake_quantize_activation(const torch::Tensor& input, ActivationQuant q) {
  // In fp32 even under bf16 autocast: bf16 holds x / scale to 8 bits, which
  // would round u8 codes above 128 to even ones.
  const auto x = input.to(torch::kFloat32);
  auto unclamped = torch::round(x.detach() / q.scale) + q.zero_point;
  auto inside = unclamped.ge(0).logical_and(unclamped.le(255)).to(x.dtype());
  auto fq = (unclamped.clamp(0, 255) - q.zero_point) * q.scale;
  auto passed = x * inside;
  return fq + (passed - passed.detach());
}

}  // namespace fastbert
