#include "fastbert/kernels/gelu.h"

#include <cmath>
#include <string>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/isa.h"
#include "gelu_kernels.h"

namespace fastbert {

const std::vector<GeluKernel>& gelu_kernels() {
  using kernels::Isa;
  static const std::vector<GeluKernel> table = {
      {Isa::avx512bw, "gelu_avx512f", 16, detail::gelu_row_avx512f},
      {Isa::avx2, "gelu_avx2", 8, detail::gelu_row_avx2},
      {Isa::reference, "gelu_reference", 1, detail::gelu_row_reference},
  };
  return table;
}

void gelu(const GeluArgs& a) { gelu(a, kernels::select_kernel(gelu_kernels())); }

void gelu(const GeluArgs& a, const GeluKernel& kernel) {
  kernels::require_cpu_isa(kernel.isa, std::string("gelu: ") + kernel.name);
  auto fail = [](const std::string& what) { throw Error("gelu: " + what); };
  if (a.rows <= 0 || a.cols <= 0)
    fail("rows=" + std::to_string(a.rows) + " and cols=" + std::to_string(a.cols) + " must be positive");
  if (!a.x) fail("x must not be null");
  if (!a.y && !a.y_u8) fail("no output: set y, y_u8 or both");
  auto check_ld = [&](const char* name, const void* p, int64_t ld) {
    if (p && ld < a.cols) fail(std::string(name) + "=" + std::to_string(ld) + " must be >= cols=" + std::to_string(a.cols));
  };
  check_ld("ld_x", a.x, a.ld_x);
  check_ld("ld_y", a.y, a.ld_y);
  check_ld("ld_y_u8", a.y_u8, a.ld_y_u8);
  if (a.y_u8) {
    if (!(a.u8_scale > 0) || !std::isfinite(a.u8_scale))
      fail("u8_scale=" + std::to_string(a.u8_scale) + " must be finite and positive");
    if (a.u8_zero_point < 0 || a.u8_zero_point > 255)
      fail("u8_zero_point=" + std::to_string(a.u8_zero_point) + " is outside 0..255");
  }
  auto row = kernel.row;
  const float inv_scale = 1.0f / a.u8_scale;
  // About 1 ns per element on one core (the vector paths' rational erf).
#pragma omp parallel for schedule(static) num_threads(threads_for_work(1.0 * double(a.rows * a.cols)))
  for (int64_t r = 0; r < a.rows; ++r) {
    const detail::GeluRowOutput out{a.y ? a.y + r * a.ld_y : nullptr, a.y_u8 ? a.y_u8 + r * a.ld_y_u8 : nullptr,
                                    inv_scale, a.u8_zero_point};
    row(a.x + r * a.ld_x, a.cols, a.bias ? a.bias[r] : 0.0f, out);
  }
}

void gelu(float* x, int64_t rows, int64_t cols, int64_t ld, const float* bias) {
  GeluArgs a;
  a.rows = rows, a.cols = cols;
  a.x = x, a.ld_x = ld, a.bias = bias;
  a.y = x, a.ld_y = ld;
  gelu(a);
}

}  // namespace fastbert
