#pragma once
#include <cstdint>

namespace fastbert::kernels {

// out[i] = clamp(round_half_even(x[i] * (1/scale)) + zero_point, 0, 255): the
// rule of every fused u8 output (LayerNorm, GELU, attention, the SpMM
// epilogues), for the places where no neighbouring kernel can fuse it (an
// input shared by layers with different activation ranges). Parallel over
// the calling thread's OpenMP team. scale must be finite and positive and
// zero_point in 0..255, otherwise fastbert::Error.
void quantize_u8(const float* x, int64_t count, float scale, int32_t zero_point, uint8_t* out);

}  // namespace fastbert::kernels
