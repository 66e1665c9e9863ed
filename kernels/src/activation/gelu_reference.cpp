// GELU as defined, with the C library's erf in double.
#include <cmath>

#include "gelu_kernels.h"

namespace fastbert::detail {

void gelu_row_reference(float* x, int64_t n, float bias) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = double(x[i]) + bias;
    x[i] = float(0.5 * v * (1.0 + std::erf(v * 0.70710678118654752)));
  }
}
}  // namespace fastbert::detail
