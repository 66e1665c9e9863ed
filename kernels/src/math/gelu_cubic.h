#pragma once
// GELU, x * Phi(x), as relu(x) + g(|x|) with g(t) = -t * Phi(-t), and g a
// piecewise cubic: 32 segments on [0, 6], each the Hermite interpolant of g
// and g' at its ends (computed once, in double, from erfc). Absolute error
// below 6e-6 everywhere (the test GeluCubic.IsWithin6e6OfExactGeluEverywhere
// sweeps it), far below the u8 step of a GELU output (about 0.04 on BERT);
// relu(x) for |x| >= 6, where |g| < 6e-9, up to the rounding of the last
// segment's Horner sum (1e-16). gelu(-0) = +0, as relu(-0) + g(0) = -0 + +0.
//
// Why not the rational erf of Eigen/XLA (error 2e-7) used before: it is 15
// multiplies or fused multiply-adds and a true division per vector, and in
// the 4x1 SpMM's fused epilogue that made the MiniLM intermediate layer
// (384 -> 1536, GELU, u8) 2.9x as slow as the output layer (1536 -> 384)
// with the same multiply-adds at 90 % sparsity (bench/results/
// model_sparsity.json, session 8): the epilogue, not the products, was the
// cost. Here a vector is 1 multiply, 3 fused multiply-adds and 4 two-register
// table lookups (vpermt2ps on AVX-512; on AVX2 one 16-byte load per lane
// and a transpose).
//
// Every path (the JIT epilogue, the vector and scalar epilogues, gelu()'s
// rows) evaluates exactly these float operations in this order, so all give
// the same bits, NaN included (NaN in, NaN out).
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace fastbert::kernels::gelu_cubic {

inline constexpr int kSegments = 32;          // one vpermt2ps over two registers
inline constexpr float kRange = 6.0f;         // |g(6)| = 5.9e-9
inline constexpr float kSegmentsPerUnit = float(kSegments) / kRange;

// c[k][i]: the coefficient of f^k in g on segment i, f in [0, 1] the position in it.
// by_segment[i][k]: the same numbers with a segment's four together, one
// 16-byte load each (AVX2 looks them up so: math/gelu_cubic_avx2.h).
struct Table {
  alignas(64) float c[4][kSegments];
  alignas(64) float by_segment[kSegments][4];
};

inline Table make_table() {
  const double w = double(kRange) / kSegments;
  const double inv_sqrt_2pi = 0.3989422804014326779;
  auto g = [](double t) { return -t * 0.5 * std::erfc(t / std::sqrt(2.0)); };
  auto dg = [&](double t) { return t * inv_sqrt_2pi * std::exp(-0.5 * t * t) - 0.5 * std::erfc(t / std::sqrt(2.0)); };
  Table table{};
  for (int i = 0; i < kSegments; ++i) {
    const double a = i * w, b = a + w;
    // The last segment ends at 0 with slope 0 (g(6) = -5.9e-9 is dropped).
    const bool last = i == kSegments - 1;
    const double f0 = g(a), f1 = last ? 0.0 : g(b), d0 = dg(a) * w, d1 = last ? 0.0 : dg(b) * w;
    table.c[0][i] = float(f0) + 0.0f;  // g(0) = +0, not -0
    table.c[1][i] = float(d0);
    table.c[2][i] = float(3.0 * (f1 - f0) - 2.0 * d0 - d1);
    table.c[3][i] = float(2.0 * (f0 - f1) + d0 + d1);
    for (int k = 0; k < 4; ++k) table.by_segment[i][k] = table.c[k][i];
  }
  return table;
}

inline const Table& table() {
  static const Table t = make_table();
  return t;
}

// Comparisons written as the SIMD min/max instructions evaluate them
// ((a < b) ? a : b and (a > b) ? a : b), so NaN takes the same way on every path.
inline float gelu(float x, const Table& tb) {
  const float ax = std::fabs(x);
  const float t = ax < kRange ? ax : kRange;  // NaN -> kRange
  const float u = t * kSegmentsPerUnit;
  const int32_t i = std::min(int32_t(u), int32_t(kSegments - 1));
  const float f = u - float(i);
  float c = std::fma(tb.c[3][i], f, tb.c[2][i]);
  c = std::fma(c, f, tb.c[1][i]);
  c = std::fma(c, f, tb.c[0][i]);
  const float relu = 0.0f > x ? 0.0f : x;  // NaN stays NaN
  return relu + c;
}

inline float gelu(float x) { return gelu(x, table()); }

}  // namespace fastbert::kernels::gelu_cubic
