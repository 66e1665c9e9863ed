#pragma once
// Per-ISA GELU rows behind gelu(): y = gelu(x + bias) on n contiguous floats,
// y and/or its u8 quantization (q) written, either may be null.
#include <cstdint>

namespace fastbert::detail {

struct GeluRowOutput {
  float* y;
  uint8_t* q;
  float inv_scale;
  int32_t zero_point;
};

void gelu_row_reference(const float* x, int64_t n, float bias, const GeluRowOutput& out);
void gelu_row_avx512f(const float* x, int64_t n, float bias, const GeluRowOutput& out);
void gelu_row_avx2(const float* x, int64_t n, float bias, const GeluRowOutput& out);

// Abramowitz & Stegun 7.1.26: for v >= 0, erfc(v) = t·P(t)·e^{-v²} with
// t = 1/(1 + kErfP·v), |error| <= 1.5e-7. GELU uses erfc of |v|/sqrt(2)
// directly: 1 + erf(v) = 2 - erfc(v) for v >= 0 and erfc(-v) for v < 0.
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f, kErfA4 = -1.453152027f,
                kErfA5 = 1.061405429f;
constexpr float kInvSqrt2 = 0.70710678118654752f;

}  // namespace fastbert::detail
