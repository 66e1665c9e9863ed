#include "fastbert/kernels/softmax.h"

#include <string>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/isa.h"
#include "softmax_kernels.h"

namespace fastbert {

const char* softmax_path_name(SoftmaxPath path) {
  switch (path) {
    case SoftmaxPath::automatic: return "automatic";
    case SoftmaxPath::twopass_avx512f: return "twopass_avx512f";
    case SoftmaxPath::twopass_avx2: return "twopass_avx2";
    case SoftmaxPath::twopass_reference: return "twopass_reference";
    case SoftmaxPath::threepass_avx512f: return "threepass_avx512f";
    case SoftmaxPath::threepass_reference: return "threepass_reference";
  }
  return "unknown";
}

void softmax(const float* x, int64_t ld_x, float* y, int64_t ld_y, int64_t rows, int64_t cols, SoftmaxPath path) {
  if (rows <= 0 || cols <= 0)
    throw Error("softmax: rows=" + std::to_string(rows) + " and cols=" + std::to_string(cols) + " must be positive");
  if (!x || !y) throw Error("softmax: x and y must not be null");
  if (ld_x < cols || ld_y < cols)
    throw Error("softmax: ld_x=" + std::to_string(ld_x) + " and ld_y=" + std::to_string(ld_y) +
                " must be >= cols=" + std::to_string(cols));
  // FASTBERT_ISA caps the automatic choice only; an explicit path runs when
  // the CPU has it.
  const OpsIsa isa = ops_isa();
  if (path == SoftmaxPath::automatic)
    path = isa >= OpsIsa::avx512f ? SoftmaxPath::twopass_avx512f
           : isa == OpsIsa::avx2  ? SoftmaxPath::twopass_avx2
                                  : SoftmaxPath::twopass_reference;
  const OpsIsa cpu = ops_cpu_isa();
  const bool needs_avx512 = path == SoftmaxPath::twopass_avx512f || path == SoftmaxPath::threepass_avx512f;
  if ((needs_avx512 && cpu < OpsIsa::avx512f) || (path == SoftmaxPath::twopass_avx2 && cpu < OpsIsa::avx2))
    throw Error(std::string("softmax: path ") + softmax_path_name(path) + " needs an ISA this CPU lacks (it supports " +
                ops_isa_name(cpu) + ")");
  void (*row)(const float*, float*, int64_t) = detail::softmax_row_twopass_reference;
  switch (path) {
    case SoftmaxPath::twopass_avx512f: row = detail::softmax_row_twopass_avx512f; break;
    case SoftmaxPath::twopass_avx2: row = detail::softmax_row_twopass_avx2; break;
    case SoftmaxPath::threepass_avx512f: row = detail::softmax_row_threepass_avx512f; break;
    case SoftmaxPath::threepass_reference: row = detail::softmax_row_threepass_reference; break;
    default: break;
  }
  // About 1 ns per element on one core (two passes, one exponential each).
#pragma omp parallel for schedule(static) num_threads(threads_for_work(1.0 * double(rows * cols)))
  for (int64_t r = 0; r < rows; ++r) row(x + r * ld_x, y + r * ld_y, cols);
}

}  // namespace fastbert
