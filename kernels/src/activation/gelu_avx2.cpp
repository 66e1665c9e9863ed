// GELU with AVX2: erf_rational::gelu's float operations in its order; see
// gelu_avx512f.cpp.
#include <immintrin.h>

#include <algorithm>
#include <iterator>

#include "../math/erf_rational.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"
#include "../target.h"

namespace fastbert::detail {
namespace er = kernels::erf_rational;

FASTBERT_TARGET_AVX2 void gelu_row_avx2(const float* x, int64_t n, float bias, const GeluRowOutput& out) {
  const __m256 b = _mm256_set1_ps(bias);
  const __m256 inv_scale = _mm256_set1_ps(out.inv_scale);
  const __m256i zero_point = _mm256_set1_epi32(out.zero_point);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n - i < 8 ? n - i : 8)),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 v = _mm256_add_ps(_mm256_maskload_ps(x + i, m), b);
    const __m256 a = _mm256_mul_ps(v, _mm256_set1_ps(er::kInvSqrt2));
    const __m256 xc = _mm256_min_ps(_mm256_set1_ps(er::kClamp), _mm256_max_ps(_mm256_set1_ps(-er::kClamp), a));
    const __m256 x2 = _mm256_mul_ps(xc, xc);
    __m256 p = _mm256_fmadd_ps(x2, _mm256_set1_ps(er::kP[0]), _mm256_set1_ps(er::kP[1]));
    for (size_t k = 2; k < std::size(er::kP); ++k) p = _mm256_fmadd_ps(x2, p, _mm256_set1_ps(er::kP[k]));
    p = _mm256_mul_ps(xc, p);
    __m256 q = _mm256_fmadd_ps(x2, _mm256_set1_ps(er::kQ[0]), _mm256_set1_ps(er::kQ[1]));
    for (size_t k = 2; k < std::size(er::kQ); ++k) q = _mm256_fmadd_ps(x2, q, _mm256_set1_ps(er::kQ[k]));
    const __m256 erf = _mm256_div_ps(p, q);
    const __m256 h = _mm256_mul_ps(_mm256_set1_ps(0.5f), v);
    const __m256 y = _mm256_fmadd_ps(h, erf, h);
    if (out.y) _mm256_maskstore_ps(out.y + i, m, y);
    if (out.q) store_quantized_u8_avx2(out.q + i, std::min<int64_t>(8, n - i), y, inv_scale, zero_point);
  }
}

}  // namespace fastbert::detail
