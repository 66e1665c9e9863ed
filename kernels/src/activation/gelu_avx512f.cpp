// GELU with AVX-512F: gelu_cubic::gelu's float operations in its order (the
// coefficient tables picked by vpermt2ps, Horner steps as fused
// multiply-adds), so every element has the bits of the scalar formula and of
// the SpMM epilogues.
#include <immintrin.h>

#include "../math/gelu_cubic.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"
#include "../target.h"

namespace fastbert::detail {
namespace gc = kernels::gelu_cubic;
namespace {

// Entry i (0..31) of a 32-float table, per lane.
FASTBERT_TARGET_AVX512BW inline __m512 lookup(const float* table, __m512i i) {
  return _mm512_permutex2var_ps(_mm512_load_ps(table), i, _mm512_load_ps(table + 16));
}

// _mm512_min_ps(a, b) is a < b ? a : b and _mm512_max_ps(a, b) a > b ? a : b,
// as gelu_cubic::gelu writes its comparisons.
FASTBERT_TARGET_AVX512BW inline __m512 gelu_cubic_avx512(__m512 x, const gc::Table& tb) {
  const __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF)));
  const __m512 u = _mm512_mul_ps(_mm512_min_ps(ax, _mm512_set1_ps(gc::kRange)), _mm512_set1_ps(gc::kSegmentsPerUnit));
  const __m512i i = _mm512_min_epi32(_mm512_cvttps_epi32(u), _mm512_set1_epi32(gc::kSegments - 1));
  const __m512 f = _mm512_sub_ps(u, _mm512_cvtepi32_ps(i));
  __m512 c = _mm512_fmadd_ps(lookup(tb.c[3], i), f, lookup(tb.c[2], i));
  c = _mm512_fmadd_ps(c, f, lookup(tb.c[1], i));
  c = _mm512_fmadd_ps(c, f, lookup(tb.c[0], i));
  return _mm512_add_ps(_mm512_max_ps(_mm512_setzero_ps(), x), c);
}

}  // namespace

FASTBERT_TARGET_AVX512BW void gelu_row_avx512f(const float* x, int64_t n, float bias,
                                                                         const GeluRowOutput& out) {
  const __m512 b = _mm512_set1_ps(bias);
  const __m512 inv_scale = _mm512_set1_ps(out.inv_scale);
  const __m512i zero_point = _mm512_set1_epi32(out.zero_point);
  const gc::Table& table = gc::table();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), b);
    const __m512 y = gelu_cubic_avx512(v, table);
    if (out.y) _mm512_mask_storeu_ps(out.y + i, m, y);
    if (out.q) store_quantized_u8_avx512(out.q + i, m, y, inv_scale, zero_point);
  }
}

}  // namespace fastbert::detail
