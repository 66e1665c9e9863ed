#pragma once
// erf(x) by the rational approximation of Eigen/XLA (absolute error < 2e-7)
// and GELU built on it. The SpMM epilogues evaluate exactly these float
// operations in this order, Horner steps as fused multiply-adds, in C++ and
// in the JIT kernel, so every path gives the same bits.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <iterator>

namespace fastbert::kernels::erf_rational {

inline constexpr float kClamp = 4.0f;
inline constexpr float kInvSqrt2 = 0.70710678118654752f;
// p(x) = x * P(x^2), q(x) = Q(x^2), Horner from the highest power.
inline constexpr float kP[7] = {-2.72614225801306e-10f, 2.77068142495902e-08f, -2.10102402082508e-06f,
                                -5.69250639462346e-05f, -7.34990630326855e-04f, -2.95459980854025e-03f,
                                -1.60960333262415e-02f};
inline constexpr float kQ[5] = {-1.45660718464996e-05f, -2.13374055278905e-04f, -1.68282697438203e-03f,
                                -7.37332916720468e-03f, -1.42647390514189e-02f};

inline float erf(float a) {
  const float x = std::min(std::max(a, -kClamp), kClamp);
  const float x2 = x * x;
  float p = std::fma(x2, kP[0], kP[1]);
  for (size_t i = 2; i < std::size(kP); ++i) p = std::fma(x2, p, kP[i]);
  p = x * p;
  float q = std::fma(x2, kQ[0], kQ[1]);
  for (size_t i = 2; i < std::size(kQ); ++i) q = std::fma(x2, q, kQ[i]);
  return p / q;
}

// 0.5 x (1 + erf(x / sqrt 2)) as one fma on h = 0.5 x.
inline float gelu(float x) {
  const float h = 0.5f * x;
  return std::fma(h, erf(x * kInvSqrt2), h);
}

}  // namespace fastbert::kernels::erf_rational
