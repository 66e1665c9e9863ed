#pragma once
// AVX2 twin of exp_split_avx512f.h: exp(x) as p * 2^n, without vscalefps, so
// 2^k (k <= 0) is built in the exponent bits and flushed to zero below 2^-126.
#include <immintrin.h>
#include "../target.h"


namespace fastbert::detail {

struct ExpSplit256 {
  __m256 p;
  __m256 n;
};

FASTBERT_TARGET_AVX2 inline ExpSplit256 exp_split_avx2(__m256 x) {
  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(1e4f)), _mm256_set1_ps(-1e4f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(0x1.715476p+0f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 t = _mm256_fmadd_ps(n, _mm256_set1_ps(-0x1.62E43p-1f), x);
  t = _mm256_fmadd_ps(n, _mm256_set1_ps(0x1.05C61p-29f), t);
  __m256 p = _mm256_set1_ps(0x1.0F9F9Cp-7f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0x1.573A1Ap-5f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0x1.555A80p-3f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0x1.FFFDC6p-2f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0x1.FFFFF6p-1f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f));
  return {p, n};
}

// 2^k for integer-valued k <= 0; 0 for k < -126 (and for k = -inf).
FASTBERT_TARGET_AVX2 inline __m256 exp2_nonpositive_int_avx2(__m256 k) {
  k = _mm256_max_ps(k, _mm256_set1_ps(-127.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
  return _mm256_castsi256_ps(bits);
}

// exp2_bf16_accuracy_avx512f's twin, for x <= 0: the same rounding, f and
// polynomial, so the same p; 2^n built in the exponent bits, exact where
// vscalefps's is normal. Below 2^-126, where vscalefps gives a subnormal,
// this gives 0 or a subnormal of the product: the same after the int8 path
// scales by 255 and rounds (both round to 0).
FASTBERT_TARGET_AVX2 inline __m256 exp2_bf16_accuracy_avx2(__m256 x) {
  const __m256 n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_sub_ps(x, n);
  __m256 p = _mm256_set1_ps(0x1.c2a1b2p-5f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.f00c64p-3f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0x1.62f5fcp-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
  return _mm256_mul_ps(p, exp2_nonpositive_int_avx2(n));
}

FASTBERT_TARGET_AVX2 inline void accumulate_exp_split_avx2(ExpSplit256 e, __m256& sum, __m256& sum_n) {
  const __m256 n_max = _mm256_max_ps(sum_n, e.n);
  sum = _mm256_fmadd_ps(sum, exp2_nonpositive_int_avx2(_mm256_sub_ps(sum_n, n_max)),
                        _mm256_mul_ps(e.p, exp2_nonpositive_int_avx2(_mm256_sub_ps(e.n, n_max))));
  sum_n = n_max;
}

FASTBERT_TARGET_AVX2 inline __m256 normalized_exp_avx2(__m256 x, __m256 inv_sum, __m256 sum_n) {
  const ExpSplit256 e = exp_split_avx2(x);
  return _mm256_mul_ps(_mm256_mul_ps(e.p, inv_sum), exp2_nonpositive_int_avx2(_mm256_sub_ps(e.n, sum_n)));
}

}  // namespace fastbert::detail
