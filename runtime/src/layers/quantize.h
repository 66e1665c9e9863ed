#pragma once
#include <cstdint>

#include "layers/linear.h"

namespace fastbert::layers {

// u8 activation quantization, the rule of the kernels' fused outputs:
// clamp(round_half_even(x / scale) + zero_point, 0, 255). For the few places
// where no neighbouring kernel can fuse it (an input shared by layers with
// different activation ranges).
void quantize_u8(const float* x, int64_t count, const QuantParams& q, uint8_t* out);

}  // namespace fastbert::layers
