#pragma once
// gelu_cubic::gelu on 16 lanes with AVX-512: the same float operations in
// the same order (the coefficient tables picked by vpermt2ps, Horner steps
// as fused multiply-adds), so every element has the bits of the scalar
// formula. Shared by the GELU op and the dense epilogue.
#include <immintrin.h>

#include "../target.h"
#include "gelu_cubic.h"

namespace fastbert::detail {

// Entry i (0..31) of a 32-float table, per lane.
FASTBERT_TARGET_AVX512BW inline __m512 gelu_cubic_lookup(const float* table, __m512i i) {
  return _mm512_permutex2var_ps(_mm512_load_ps(table), i, _mm512_load_ps(table + 16));
}

// _mm512_min_ps(a, b) is a < b ? a : b and _mm512_max_ps(a, b) a > b ? a : b,
// as gelu_cubic::gelu writes its comparisons.
FASTBERT_TARGET_AVX512BW inline __m512 gelu_cubic_avx512(__m512 x, const kernels::gelu_cubic::Table& tb) {
  namespace gc = kernels::gelu_cubic;
  const __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7FFFFFFF)));
  const __m512 u = _mm512_mul_ps(_mm512_min_ps(ax, _mm512_set1_ps(gc::kRange)), _mm512_set1_ps(gc::kSegmentsPerUnit));
  const __m512i i = _mm512_min_epi32(_mm512_cvttps_epi32(u), _mm512_set1_epi32(gc::kSegments - 1));
  const __m512 f = _mm512_sub_ps(u, _mm512_cvtepi32_ps(i));
  __m512 c = _mm512_fmadd_ps(gelu_cubic_lookup(tb.c[3], i), f, gelu_cubic_lookup(tb.c[2], i));
  c = _mm512_fmadd_ps(c, f, gelu_cubic_lookup(tb.c[1], i));
  c = _mm512_fmadd_ps(c, f, gelu_cubic_lookup(tb.c[0], i));
  return _mm512_add_ps(_mm512_max_ps(_mm512_setzero_ps(), x), c);
}

}  // namespace fastbert::detail
