// GELU with AVX2: gelu_cubic::gelu's float operations in its order, the
// coefficients gathered; see gelu_avx512f.cpp.
#include <immintrin.h>

#include <algorithm>

#include "../math/gelu_cubic.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"
#include "../target.h"

namespace fastbert::detail {
namespace gc = kernels::gelu_cubic;
namespace {

FASTBERT_TARGET_AVX2 inline __m256 gelu_cubic_avx2(__m256 x, const gc::Table& tb) {
  const __m256 ax = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
  const __m256 u = _mm256_mul_ps(_mm256_min_ps(ax, _mm256_set1_ps(gc::kRange)), _mm256_set1_ps(gc::kSegmentsPerUnit));
  const __m256i i = _mm256_min_epi32(_mm256_cvttps_epi32(u), _mm256_set1_epi32(gc::kSegments - 1));
  const __m256 f = _mm256_sub_ps(u, _mm256_cvtepi32_ps(i));
  __m256 c = _mm256_fmadd_ps(_mm256_i32gather_ps(tb.c[3], i, 4), f, _mm256_i32gather_ps(tb.c[2], i, 4));
  c = _mm256_fmadd_ps(c, f, _mm256_i32gather_ps(tb.c[1], i, 4));
  c = _mm256_fmadd_ps(c, f, _mm256_i32gather_ps(tb.c[0], i, 4));
  return _mm256_add_ps(_mm256_max_ps(_mm256_setzero_ps(), x), c);
}

}  // namespace

FASTBERT_TARGET_AVX2 void gelu_row_avx2(const float* x, int64_t n, float bias, const GeluRowOutput& out) {
  const __m256 b = _mm256_set1_ps(bias);
  const __m256 inv_scale = _mm256_set1_ps(out.inv_scale);
  const __m256i zero_point = _mm256_set1_epi32(out.zero_point);
  const gc::Table& table = gc::table();
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n - i < 8 ? n - i : 8)),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 v = _mm256_add_ps(_mm256_maskload_ps(x + i, m), b);
    const __m256 y = gelu_cubic_avx2(v, table);
    if (out.y) _mm256_maskstore_ps(out.y + i, m, y);
    if (out.q) store_quantized_u8_avx2(out.q + i, std::min<int64_t>(8, n - i), y, inv_scale, zero_point);
  }
}

}  // namespace fastbert::detail
