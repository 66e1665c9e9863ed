#pragma once
// Helpers shared by the kernels_ops tests: deterministic random data and
// FASTBERT_ISA scoped to one test.
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace fastbert::test {

inline std::vector<float> random_floats(size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

class ScopedIsaEnv {
 public:
  explicit ScopedIsaEnv(const char* value) {
    if (const char* old = std::getenv("FASTBERT_ISA")) old_ = old, had_ = true;
    if (value) setenv("FASTBERT_ISA", value, 1);
    else unsetenv("FASTBERT_ISA");
  }
  ~ScopedIsaEnv() {
    if (had_) setenv("FASTBERT_ISA", old_.c_str(), 1);
    else unsetenv("FASTBERT_ISA");
  }

 private:
  std::string old_;
  bool had_ = false;
};

}  // namespace fastbert::test
