#pragma once
// exp(x) kept as p * 2^n (p in [sqrt(1/2), sqrt(2)], n an integer held in a
// float) so that a sum of exponentials can be carried as a (value, exponent)
// pair without ever forming e^x itself: it cannot overflow, and no separate
// max pass is needed (Dukhan & Ablavatski, "The Two-Pass Softmax Algorithm",
// 2020). Coefficients: the degree-5 minimax polynomial of XNNPACK's
// avx512f-p5-scalef exp kernels.
#include <immintrin.h>
#include "../target.h"


namespace fastbert::detail {

struct ExpSplit512 {
  __m512 p;
  __m512 n;
};

FASTBERT_TARGET_AVX512BW inline ExpSplit512 exp_split_avx512f(__m512 x) {
  // Beyond +-1e4 a softmax input means masked (-inf) or garbage; the clamp
  // keeps the range reduction exact and turns -inf into a zero weight.
  x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(1e4f)), _mm512_set1_ps(-1e4f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(0x1.715476p+0f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 t = _mm512_fmadd_ps(n, _mm512_set1_ps(-0x1.62E43p-1f), x);
  t = _mm512_fmadd_ps(n, _mm512_set1_ps(0x1.05C61p-29f), t);
  __m512 p = _mm512_set1_ps(0x1.0F9F9Cp-7f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0x1.573A1Ap-5f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0x1.555A80p-3f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0x1.FFFDC6p-2f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0x1.FFFFF6p-1f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.0f));
  return {p, n};
}

// Adds p * 2^n to the running sum (sum * 2^sum_n) and keeps the larger
// exponent, so the running value stays in [~0.7, count * 1.42].
FASTBERT_TARGET_AVX512BW inline void accumulate_exp_split_avx512f(ExpSplit512 e, __m512& sum,
                                                                  __m512& sum_n) {
  const __m512 n_max = _mm512_max_ps(sum_n, e.n);
  sum = _mm512_add_ps(_mm512_scalef_ps(sum, _mm512_sub_ps(sum_n, n_max)),
                      _mm512_scalef_ps(e.p, _mm512_sub_ps(e.n, n_max)));
  sum_n = n_max;
}

// e^x / (sum * 2^sum_n), given inv_sum = 1 / sum.
FASTBERT_TARGET_AVX512BW inline __m512 normalized_exp_avx512f(__m512 x, __m512 inv_sum,
                                                              __m512 sum_n) {
  const ExpSplit512 e = exp_split_avx512f(x);
  return _mm512_scalef_ps(_mm512_mul_ps(e.p, inv_sum), _mm512_sub_ps(e.n, sum_n));
}

// 2^x for x <= 0 (results rounded to bf16 afterwards): x = n + f with
// f in [-1/2, 1/2], 2^f by a degree-3 polynomial (relative error 1.0e-4,
// fitted for this range), 2^n by vscalefps, which flushes to 0 below the
// float range. Seven operations where e^x takes nine: callers that control
// their inputs fold log2(e) into them. x must be finite: any finite x keeps
// f in range, and vscalefps takes an n of any size (no clamp needed).
FASTBERT_TARGET_AVX512BW inline __m512 exp2_bf16_accuracy_avx512f(__m512 x) {
  const __m512 n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 f = _mm512_sub_ps(x, n);
  __m512 p = _mm512_set1_ps(0x1.c2a1b2p-5f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.f00c64p-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0x1.62f5fcp-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

}  // namespace fastbert::detail
