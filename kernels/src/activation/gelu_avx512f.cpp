// GELU (erf form) with AVX-512F; the erf approximation is in gelu_kernels.h.
#include "../math/exp_split_avx512f.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"

namespace fastbert::detail {

__attribute__((target("avx512f,avx512bw,avx512vl"))) void gelu_row_avx512f(const float* x, int64_t n, float bias,
                                                                         const GeluRowOutput& out) {
  const __m512 b = _mm512_set1_ps(bias);
  const __m512 inv_scale = _mm512_set1_ps(out.inv_scale);
  const __m512i zero_point = _mm512_set1_epi32(out.zero_point);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), b);
    const __m512 a = _mm512_mul_ps(_mm512_abs_ps(v), _mm512_set1_ps(kInvSqrt2));
    // t = 1 / den by vrcp14ps and one Newton step (~2^-28 relative): vdivps
    // alone would bound this loop at ~1 cycle per element.
    const __m512 den = _mm512_fmadd_ps(a, _mm512_set1_ps(kErfP), _mm512_set1_ps(1.0f));
    const __m512 r0 = _mm512_rcp14_ps(den);
    const __m512 t = _mm512_mul_ps(r0, _mm512_fnmadd_ps(den, r0, _mm512_set1_ps(2.0f)));
    __m512 poly = _mm512_set1_ps(kErfA5);
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA4));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA3));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA2));
    poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA1));
    const ExpSplit512 e = exp_split_avx512f(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a));
    const __m512 erfc = _mm512_mul_ps(_mm512_mul_ps(poly, t), _mm512_scalef_ps(e.p, e.n));
    const __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    const __m512 one_plus_erf = _mm512_mask_blend_ps(negative, _mm512_sub_ps(_mm512_set1_ps(2.0f), erfc), erfc);
    const __m512 y = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), one_plus_erf);
    if (out.y) _mm512_mask_storeu_ps(out.y + i, m, y);
    if (out.q) store_quantized_u8_avx512(out.q + i, m, y, inv_scale, zero_point);
  }
}

}  // namespace fastbert::detail
