// Two-pass row softmax with AVX2 (see softmax_twopass_avx512f.cpp).
#include <cmath>

#include "../math/exp_split_avx2.h"
#include "../math/partial_vector_avx2.h"
#include "softmax_kernels.h"

namespace fastbert::detail {

namespace {
FASTBERT_TARGET_AVX2 inline float reduce_max(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_movehdup_ps(m));
  return _mm_cvtss_f32(m);
}
FASTBERT_TARGET_AVX2 inline float reduce_add(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
}  // namespace

FASTBERT_TARGET_AVX2 void softmax_row_twopass_avx2(const float* x, float* y, int64_t n) {
  // Two independent (value, exponent) sums against the latency chain.
  __m256 sum = _mm256_setzero_ps(), sum_b = _mm256_setzero_ps();
  __m256 sum_n = _mm256_set1_ps(-INFINITY), sum_n_b = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    accumulate_exp_split_avx2(exp_split_avx2(_mm256_loadu_ps(x + i)), sum, sum_n);
    accumulate_exp_split_avx2(exp_split_avx2(_mm256_loadu_ps(x + i + 8)), sum_b, sum_n_b);
  }
  for (; i < n; i += 8) {
    const __m256i m = first_lanes_avx2(n - i);
    __m256 s = sum, sn = sum_n;
    accumulate_exp_split_avx2(exp_split_avx2(_mm256_maskload_ps(x + i, m)), s, sn);
    sum = _mm256_blendv_ps(sum, s, _mm256_castsi256_ps(m));
    sum_n = _mm256_blendv_ps(sum_n, sn, _mm256_castsi256_ps(m));
  }
  {
    const __m256 n_max = _mm256_max_ps(sum_n, sum_n_b);
    sum = _mm256_add_ps(_mm256_mul_ps(sum, exp2_nonpositive_int_avx2(_mm256_sub_ps(sum_n, n_max))),
                        _mm256_mul_ps(sum_b, exp2_nonpositive_int_avx2(_mm256_sub_ps(sum_n_b, n_max))));
    sum_n = n_max;
  }
  const float n_max = reduce_max(sum_n);
  const float total = reduce_add(_mm256_mul_ps(sum, exp2_nonpositive_int_avx2(_mm256_sub_ps(sum_n, _mm256_set1_ps(n_max)))));
  const __m256 inv = _mm256_set1_ps(1.0f / total);
  const __m256 n_ref = _mm256_set1_ps(n_max);
  for (int64_t i = 0; i < n; i += 8)
    store_first_avx2(y + i, n - i, normalized_exp_avx2(load_first_avx2(x + i, n - i), inv, n_ref));
}

}  // namespace fastbert::detail
