#pragma once
// gelu_cubic::gelu on 8 lanes with AVX2: the same float operations in the
// same order, the coefficients gathered (AVX2 has no two-register permute),
// so every element has the bits of the scalar formula. Shared by the GELU op
// and the SpMM epilogue.
#include <immintrin.h>

#include "../target.h"
#include "gelu_cubic.h"

namespace fastbert::detail {

FASTBERT_TARGET_AVX2 inline __m256 gelu_cubic_avx2(__m256 x, const kernels::gelu_cubic::Table& tb) {
  namespace gc = kernels::gelu_cubic;
  const __m256 ax = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
  const __m256 u = _mm256_mul_ps(_mm256_min_ps(ax, _mm256_set1_ps(gc::kRange)), _mm256_set1_ps(gc::kSegmentsPerUnit));
  const __m256i i = _mm256_min_epi32(_mm256_cvttps_epi32(u), _mm256_set1_epi32(gc::kSegments - 1));
  const __m256 f = _mm256_sub_ps(u, _mm256_cvtepi32_ps(i));
  __m256 c = _mm256_fmadd_ps(_mm256_i32gather_ps(tb.c[3], i, 4), f, _mm256_i32gather_ps(tb.c[2], i, 4));
  c = _mm256_fmadd_ps(c, f, _mm256_i32gather_ps(tb.c[1], i, 4));
  c = _mm256_fmadd_ps(c, f, _mm256_i32gather_ps(tb.c[0], i, 4));
  return _mm256_add_ps(_mm256_max_ps(_mm256_setzero_ps(), x), c);
}

}  // namespace fastbert::detail
