// GELU as defined, with the C library's erf in double.
#include <cmath>

#include "../math/quantize_u8.h"
#include "gelu_kernels.h"

namespace fastbert::detail {

void gelu_row_reference(const float* x, int64_t n, float bias, const GeluRowOutput& out) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = double(x[i]) + bias;
    const float y = float(0.5 * v * (1.0 + std::erf(v * 0.70710678118654752)));
    if (out.y) out.y[i] = y;
    if (out.q) out.q[i] = quantize_u8(y, out.inv_scale, out.zero_point);
  }
}
}  // namespace fastbert::detail
