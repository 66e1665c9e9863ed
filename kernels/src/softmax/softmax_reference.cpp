// Scalar softmax rows: the textbook three-pass definition, and the two-pass
// algorithm with exp(x) kept as p * 2^n (see exp_split_avx512f.h) written out
// plainly for CPUs without AVX2.
#include <algorithm>
#include <cmath>

#include "softmax_kernels.h"

namespace fastbert::detail {

namespace {
constexpr float kClamp = 1e4f;
float clamp(float x) { return std::min(std::max(x, -kClamp), kClamp); }
}  // namespace

void softmax_row_threepass_reference(const float* x, float* y, int64_t n) {
  float max_x = -kClamp;
  for (int64_t i = 0; i < n; ++i) max_x = std::max(max_x, clamp(x[i]));
  float sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += (y[i] = std::exp(clamp(x[i]) - max_x));
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) y[i] *= inv;
}

void softmax_row_twopass_reference(const float* x, float* y, int64_t n) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr double kLn2 = 0.693147180559945309;
  auto split = [&](float v, float& p, int& e) {
    v = clamp(v);
    e = int(std::nearbyint(v * kLog2e));
    p = float(std::exp(double(v) - e * kLn2));
  };
  float sum = 0;
  int sum_e = INT32_MIN / 2;
  for (int64_t i = 0; i < n; ++i) {
    float p;
    int e;
    split(x[i], p, e);
    const int e_max = std::max(sum_e, e);
    sum = std::ldexp(sum, std::max(sum_e - e_max, -200)) + std::ldexp(p, e - e_max);
    sum_e = e_max;
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < n; ++i) {
    float p;
    int e;
    split(x[i], p, e);
    y[i] = std::ldexp(p * inv, e - sum_e);
  }
}

}  // namespace fastbert::detail
