#pragma once
// Helpers shared by the kernels_ops tests: deterministic random data.
#include <random>
#include <vector>

namespace fastbert::test {

inline std::vector<float> random_floats(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

}  // namespace fastbert::test
