// GELU with AVX-512F: erf_rational::gelu's float operations in its order
// (clamp, Horner steps as fused multiply-adds, one true division), so every
// element has the bits of the scalar formula and of the SpMM epilogues.
#include <immintrin.h>

#include <iterator>

#include "../math/erf_rational.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"
#include "../target.h"

namespace fastbert::detail {
namespace er = kernels::erf_rational;

FASTBERT_TARGET_AVX512BW void gelu_row_avx512f(const float* x, int64_t n, float bias,
                                                                         const GeluRowOutput& out) {
  const __m512 b = _mm512_set1_ps(bias);
  const __m512 inv_scale = _mm512_set1_ps(out.inv_scale);
  const __m512i zero_point = _mm512_set1_epi32(out.zero_point);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), b);
    // std::min(std::max(a, -c), c) with its NaN behaviour: max_ps(c, a) is (c > a) ? c : a.
    const __m512 a = _mm512_mul_ps(v, _mm512_set1_ps(er::kInvSqrt2));
    const __m512 xc = _mm512_min_ps(_mm512_set1_ps(er::kClamp), _mm512_max_ps(_mm512_set1_ps(-er::kClamp), a));
    const __m512 x2 = _mm512_mul_ps(xc, xc);
    __m512 p = _mm512_fmadd_ps(x2, _mm512_set1_ps(er::kP[0]), _mm512_set1_ps(er::kP[1]));
    for (size_t k = 2; k < std::size(er::kP); ++k) p = _mm512_fmadd_ps(x2, p, _mm512_set1_ps(er::kP[k]));
    p = _mm512_mul_ps(xc, p);
    __m512 q = _mm512_fmadd_ps(x2, _mm512_set1_ps(er::kQ[0]), _mm512_set1_ps(er::kQ[1]));
    for (size_t k = 2; k < std::size(er::kQ); ++k) q = _mm512_fmadd_ps(x2, q, _mm512_set1_ps(er::kQ[k]));
    const __m512 erf = _mm512_div_ps(p, q);
    const __m512 h = _mm512_mul_ps(_mm512_set1_ps(0.5f), v);
    const __m512 y = _mm512_fmadd_ps(h, erf, h);
    if (out.y) _mm512_mask_storeu_ps(out.y + i, m, y);
    if (out.q) store_quantized_u8_avx512(out.q + i, m, y, inv_scale, zero_point);
  }
}

}  // namespace fastbert::detail
