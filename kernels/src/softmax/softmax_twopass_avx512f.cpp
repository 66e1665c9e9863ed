// Row softmax with AVX-512F: the two-pass algorithm, and the classic
// three-pass one it replaces (kept to measure the difference).
#include <cmath>

#include "../math/exp_split_avx512f.h"
#include "softmax_kernels.h"

namespace fastbert::detail {

namespace {
FASTBERT_TARGET_AVX512F inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
}
}  // namespace

FASTBERT_TARGET_AVX512F void softmax_row_twopass_avx512f(const float* x, float* y, int64_t n) {
  __m512 sum = _mm512_setzero_ps();
  __m512 sum_n = _mm512_set1_ps(-INFINITY);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    __m512 s = sum, sn = sum_n;
    accumulate_exp_split_avx512f(exp_split_avx512f(_mm512_maskz_loadu_ps(m, x + i)), s, sn);
    sum = _mm512_mask_mov_ps(sum, m, s);
    sum_n = _mm512_mask_mov_ps(sum_n, m, sn);
  }
  // Lanes to one (value, exponent): lanes that saw nothing hold 0 * 2^-inf = 0.
  const float n_max = _mm512_reduce_max_ps(sum_n);
  const float total = _mm512_reduce_add_ps(_mm512_scalef_ps(sum, _mm512_sub_ps(sum_n, _mm512_set1_ps(n_max))));
  const __m512 inv = _mm512_set1_ps(1.0f / total);
  const __m512 n_ref = _mm512_set1_ps(n_max);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, normalized_exp_avx512f(_mm512_maskz_loadu_ps(m, x + i), inv, n_ref));
  }
}

FASTBERT_TARGET_AVX512F void softmax_row_threepass_avx512f(const float* x, float* y, int64_t n) {
  __m512 max_x = _mm512_set1_ps(-1e4f);
  for (int64_t i = 0; i < n; i += 16)
    max_x = _mm512_mask_max_ps(max_x, tail_mask(n - i), max_x, _mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
  const __m512 shift = _mm512_set1_ps(_mm512_reduce_max_ps(max_x));
  __m512 sum = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    const ExpSplit512 e = exp_split_avx512f(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), shift));
    const __m512 ex = _mm512_scalef_ps(e.p, e.n);
    sum = _mm512_mask_add_ps(sum, m, sum, ex);
    _mm512_mask_storeu_ps(y + i, m, ex);
  }
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, y + i), inv));
  }
}

}  // namespace fastbert::detail
