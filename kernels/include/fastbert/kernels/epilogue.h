#pragma once
#include <cstdint>

namespace fastbert::kernels {

enum class OutputType { s32, f32, u8, s8 };

// What happens to the int32 accumulator of output (n, m), in this order:
//   acc' = acc - x_zero_point * row_sum[n]            (exact, int32)
//   s32 output: acc' is the result.
//   y    = fma(float(acc'), x_scale * w_scale[n], bias[n])
//   y    = gelu(y)                                     if gelu (gelu_scalar)
//   y   += residual[n, m]                              if a residual is given
//   f32 output: y; u8/s8: clamp(round_half_even(y / out_scale) + out_zero_point).
struct Epilogue {
  OutputType output = OutputType::f32;
  bool gelu = false;
  float out_scale = 1.0f;       // u8/s8 output only
  int32_t out_zero_point = 0;   // u8/s8 output only
};

// GELU, x * Phi(x), as a piecewise cubic (absolute error < 6e-6) in one fixed
// sequence of float operations and fused multiply-adds
// (kernels/src/math/gelu_cubic.h), so the JIT kernel, the vectorised and
// scalar loops and the reference all give the same bits.
float gelu_scalar(float x);

// All stages for `count` consecutive int32 accumulators of one output row.
void apply_epilogue(const Epilogue& e, const int32_t* acc, int32_t compensation, float scale, float bias,
                    const float* residual, void* out, int64_t count);

inline int output_size(OutputType t) { return t == OutputType::s32 || t == OutputType::f32 ? 4 : 1; }

}  // namespace fastbert::kernels
