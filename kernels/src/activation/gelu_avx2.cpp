// GELU with AVX2: gelu_cubic::gelu's float operations in its order, the
// coefficients loaded by segment a block at a time (math/gelu_cubic_avx2.h);
// see gelu_avx512f.cpp.
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
  alignas(32) float y[kGeluCubicBlockAvx2];
  for (int64_t i0 = 0; i0 < n; i0 += kGeluCubicBlockAvx2) {
    const int64_t block = std::min(kGeluCubicBlockAvx2, n - i0);
    for (int64_t j = 0; j < block; j += 8)
      _mm256_store_ps(y + j, _mm256_add_ps(load_first_avx2(x + i0 + j, block - j), b));
    gelu_cubic_block_avx2(y, (block + 7) / 8, table);
    for (int64_t j = 0; j < block; j += 8) {
      const __m256 v = _mm256_load_ps(y + j);
      if (out.y) store_first_avx2(out.y + i0 + j, block - j, v);
      if (out.q) store_quantized_u8_avx2(out.q + i0 + j, std::min<int64_t>(8, block - j), v, inv_scale, zero_point);
    }
  }
}

}  // namespace fastbert::detail
