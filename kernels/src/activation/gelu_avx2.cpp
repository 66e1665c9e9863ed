// GELU with AVX2: gelu_cubic::gelu's float operations in its order, the
// coefficients loaded by segment and transposed; see gelu_avx512f.cpp.
#include <immintrin.h>

#include <algorithm>

#include "../math/gelu_cubic_avx2.h"
#include "../math/partial_vector_avx2.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"
#include "../target.h"

namespace fastbert::detail {
namespace gc = kernels::gelu_cubic;

FASTBERT_TARGET_AVX2 void gelu_row_avx2(const float* x, int64_t n, float bias, const GeluRowOutput& out) {
  const __m256 b = _mm256_set1_ps(bias);
  const __m256 inv_scale = _mm256_set1_ps(out.inv_scale);
  const __m256i zero_point = _mm256_set1_epi32(out.zero_point);
  const gc::Table& table = gc::table();
  for (int64_t i = 0; i < n; i += 8) {
    const __m256 v = _mm256_add_ps(load_first_avx2(x + i, n - i), b);
    const __m256 y = gelu_cubic_avx2(v, table);
    if (out.y) store_first_avx2(out.y + i, n - i, y);
    if (out.q) store_quantized_u8_avx2(out.q + i, std::min<int64_t>(8, n - i), y, inv_scale, zero_point);
  }
}

}  // namespace fastbert::detail
