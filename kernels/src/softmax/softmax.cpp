#include "fastbert/kernels/softmax.h"

#include <string>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/isa.h"
#include "softmax_kernels.h"

namespace fastbert {

const std::vector<SoftmaxKernel>& softmax_kernels() {
  using kernels::Isa;
  static const std::vector<SoftmaxKernel> table = {
      {Isa::avx512bw, "softmax_twopass_avx512f", 16, detail::softmax_row_twopass_avx512f},
      {Isa::avx2, "softmax_twopass_avx2", 8, detail::softmax_row_twopass_avx2},
      {Isa::reference, "softmax_twopass_reference", 1, detail::softmax_row_twopass_reference},
      {Isa::avx512bw, "softmax_threepass_avx512f", 16, detail::softmax_row_threepass_avx512f},
      {Isa::reference, "softmax_threepass_reference", 1, detail::softmax_row_threepass_reference},
  };
  return table;
}

void softmax(const float* x, int64_t ld_x, float* y, int64_t ld_y, int64_t rows, int64_t cols) {
  softmax(x, ld_x, y, ld_y, rows, cols, kernels::select_kernel(softmax_kernels()));
}

void softmax(const float* x, int64_t ld_x, float* y, int64_t ld_y, int64_t rows, int64_t cols,
             const SoftmaxKernel& kernel) {
  kernels::require_cpu_isa(kernel.isa, std::string("softmax: ") + kernel.name);
  if (rows <= 0 || cols <= 0)
    throw Error("softmax: rows=" + std::to_string(rows) + " and cols=" + std::to_string(cols) + " must be positive");
  if (!x || !y) throw Error("softmax: x and y must not be null");
  if (ld_x < cols || ld_y < cols)
    throw Error("softmax: ld_x=" + std::to_string(ld_x) + " and ld_y=" + std::to_string(ld_y) +
                " must be >= cols=" + std::to_string(cols));
  auto row = kernel.row;
  // About 1 ns per element on one core (two passes, one exponential each).
#pragma omp parallel for schedule(static) num_threads(threads_for_work(1.0 * double(rows * cols)))
  for (int64_t r = 0; r < rows; ++r) row(x + r * ld_x, y + r * ld_y, cols);
}

}  // namespace fastbert
