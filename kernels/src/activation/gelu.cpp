#include "fastbert/kernels/gelu.h"

#include <cmath>
#include <string>

#include "fastbert/common/error.h"
#include "fastbert/kernels/ops_isa.h"
#include "gelu_kernels.h"

namespace fastbert {

void gelu(float* x, int64_t rows, int64_t cols, int64_t ld, const float* bias, GeluPath path) {
  if (rows <= 0 || cols <= 0)
    throw Error("gelu: rows=" + std::to_string(rows) + " and cols=" + std::to_string(cols) + " must be positive");
  if (!x) throw Error("gelu: x must not be null");
  if (ld < cols) throw Error("gelu: ld=" + std::to_string(ld) + " must be >= cols=" + std::to_string(cols));
  // FASTBERT_ISA caps the automatic choice only; an explicit path runs when
  // the CPU has it.
  const OpsIsa isa = ops_isa();
  if (path == GeluPath::automatic)
    path = isa >= OpsIsa::avx512f ? GeluPath::avx512f : isa == OpsIsa::avx2 ? GeluPath::avx2 : GeluPath::reference;
  const OpsIsa cpu = ops_cpu_isa();
  if ((path == GeluPath::avx512f && cpu < OpsIsa::avx512f) || (path == GeluPath::avx2 && cpu < OpsIsa::avx2))
    throw Error(std::string("gelu: the requested SIMD path needs an ISA this CPU lacks (it supports ") +
                ops_isa_name(cpu) + ")");
  void (*row)(float*, int64_t, float) = path == GeluPath::avx512f ? detail::gelu_row_avx512f
                                        : path == GeluPath::avx2  ? detail::gelu_row_avx2
                                                                  : detail::gelu_row_reference;
#pragma omp parallel for schedule(static) if (rows * cols > 32768)
  for (int64_t r = 0; r < rows; ++r) row(x + r * ld, cols, bias ? bias[r] : 0.0f);
}

}  // namespace fastbert
