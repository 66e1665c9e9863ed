// GELU (erf form) with AVX2; see gelu_avx512f.cpp.
#include <algorithm>

#include "../math/exp_split_avx2.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"

namespace fastbert::detail {

FASTBERT_TARGET_AVX2 void gelu_row_avx2(const float* x, int64_t n, float bias, const GeluRowOutput& out) {
  const __m256 b = _mm256_set1_ps(bias);
  const __m256 inv_scale = _mm256_set1_ps(out.inv_scale);
  const __m256i zero_point = _mm256_set1_epi32(out.zero_point);
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n - i < 8 ? n - i : 8)),
                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 v = _mm256_add_ps(_mm256_maskload_ps(x + i, m), b);
    const __m256 a = _mm256_mul_ps(_mm256_andnot_ps(sign_bit, v), _mm256_set1_ps(kInvSqrt2));
    const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(a, _mm256_set1_ps(kErfP), _mm256_set1_ps(1.0f)));
    __m256 poly = _mm256_set1_ps(kErfA5);
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA4));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA3));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA2));
    poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA1));
    const ExpSplit256 e = exp_split_avx2(_mm256_mul_ps(_mm256_xor_ps(a, sign_bit), a));
    const __m256 erfc = _mm256_mul_ps(_mm256_mul_ps(poly, t), _mm256_mul_ps(e.p, exp2_nonpositive_int_avx2(e.n)));
    const __m256 negative = _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ);
    const __m256 one_plus_erf = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), erfc, negative);
    const __m256 y = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), v), one_plus_erf);
    if (out.y) _mm256_maskstore_ps(out.y + i, m, y);
    if (out.q) store_quantized_u8_avx2(out.q + i, std::min<int64_t>(8, n - i), y, inv_scale, zero_point);
  }
}

}  // namespace fastbert::detail
