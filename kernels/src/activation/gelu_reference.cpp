// GELU by erf_rational, the formula of the SpMM epilogues (scalar).
#include "../math/erf_rational.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"

namespace fastbert::detail {

void gelu_row_reference(const float* x, int64_t n, float bias, const GeluRowOutput& out) {
  for (int64_t i = 0; i < n; ++i) {
    const float y = kernels::erf_rational::gelu(x[i] + bias);
    if (out.y) out.y[i] = y;
    if (out.q) out.q[i] = quantize_u8(y, out.inv_scale, out.zero_point);
  }
}

}  // namespace fastbert::detail
