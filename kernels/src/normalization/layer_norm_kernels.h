#pragma once
// Per-ISA LayerNorm implementations behind layer_norm(); they get validated
// arguments and parallelise over token blocks themselves.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "fastbert/kernels/layer_norm.h"

namespace fastbert::detail {

void layer_norm_reference(const LayerNormArgs& a);
void layer_norm_avx512f(const LayerNormArgs& a);
void layer_norm_avx2(const LayerNormArgs& a);

// Bound before the float->int conversion so that an absurd y saturates to 0 or
// 255 instead of wrapping through INT_MIN. Every path quantizes with exactly
// these float operations, so y_u8 is bit-identical to quantizing y.
constexpr float kQuantizeBound = 1e9f;

inline uint8_t quantize_u8(float y, float inv_scale, int32_t zero_point) {
  const float scaled = std::min(std::max(y * inv_scale, -kQuantizeBound), kQuantizeBound);
  const int32_t q = int32_t(std::nearbyint(scaled)) + zero_point;
  return uint8_t(std::min(255, std::max(0, q)));
}

}  // namespace fastbert::detail
