// GELU by gelu_cubic, the formula of the SpMM epilogues (scalar).
#include "../math/gelu_cubic.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"

namespace fastbert::detail {

void gelu_row_reference(const float* x, int64_t n, float bias, const GeluRowOutput& out) {
  const kernels::gelu_cubic::Table& table = kernels::gelu_cubic::table();
  for (int64_t i = 0; i < n; ++i) {
    const float y = kernels::gelu_cubic::gelu(x[i] + bias, table);
    if (out.y) out.y[i] = y;
    if (out.q) out.q[i] = quantize_u8(y, out.inv_scale, out.zero_point);
  }
}

}  // namespace fastbert::detail
