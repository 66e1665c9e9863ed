// Row softmax with AVX-512F: the two-pass algorithm, and the classic
// three-pass one it replaces (kept to measure the difference).
#include <cmath>

#include "../math/exp_split_avx512f.h"
#include "softmax_kernels.h"

namespace fastbert::detail {

namespace {
FASTBERT_TARGET_AVX512BW inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
}
}  // namespace

FASTBERT_TARGET_AVX512BW void softmax_row_twopass_avx512f(const float* x, float* y, int64_t n) {
  // Four independent (value, exponent) sums: one would serialise every
  // vector on the max -> scalef -> add latency chain.
  constexpr int kChains = 4;
  __m512 sum[kChains], sum_n[kChains];
  for (int c = 0; c < kChains; ++c) sum[c] = _mm512_setzero_ps(), sum_n[c] = _mm512_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 16 * kChains <= n; i += 16 * kChains)
    for (int c = 0; c < kChains; ++c)
      accumulate_exp_split_avx512f(exp_split_avx512f(_mm512_loadu_ps(x + i + 16 * c)), sum[c], sum_n[c]);
  for (; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    __m512 s = sum[0], sn = sum_n[0];
    accumulate_exp_split_avx512f(exp_split_avx512f(_mm512_maskz_loadu_ps(m, x + i)), s, sn);
    sum[0] = _mm512_mask_mov_ps(sum[0], m, s);
    sum_n[0] = _mm512_mask_mov_ps(sum_n[0], m, sn);
  }
  // Chains and lanes to one (value, exponent): lanes that saw nothing hold
  // 0 * 2^-inf = 0.
  __m512 n_max_v = sum_n[0];
  for (int c = 1; c < kChains; ++c) n_max_v = _mm512_max_ps(n_max_v, sum_n[c]);
  const float n_max = _mm512_reduce_max_ps(n_max_v);
  __m512 total_v = _mm512_setzero_ps();
  for (int c = 0; c < kChains; ++c)
    total_v = _mm512_add_ps(total_v, _mm512_scalef_ps(sum[c], _mm512_sub_ps(sum_n[c], _mm512_set1_ps(n_max))));
  const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(total_v));
  const __m512 n_ref = _mm512_set1_ps(n_max);
  for (i = 0; i < n; i += 16) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, normalized_exp_avx512f(_mm512_maskz_loadu_ps(m, x + i), inv, n_ref));
  }
}

FASTBERT_TARGET_AVX512BW void softmax_row_threepass_avx512f(const float* x, float* y, int64_t n) {
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
