#pragma once
// Per-ISA GELU rows behind gelu(): y = gelu(x + bias) on n contiguous floats.
#include <cstdint>

namespace fastbert::detail {

void gelu_row_reference(float* x, int64_t n, float bias);
void gelu_row_avx512f(float* x, int64_t n, float bias);
void gelu_row_avx2(float* x, int64_t n, float bias);

// Abramowitz & Stegun 7.1.26: for v >= 0, erfc(v) = t·P(t)·e^{-v²} with
// t = 1/(1 + kErfP·v), |error| <= 1.5e-7. GELU uses erfc of |v|/sqrt(2)
// directly: 1 + erf(v) = 2 - erfc(v) for v >= 0 and erfc(-v) for v < 0.
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f, kErfA4 = -1.453152027f,
                kErfA5 = 1.061405429f;
constexpr float kInvSqrt2 = 0.70710678118654752f;

}  // namespace fastbert::detail
