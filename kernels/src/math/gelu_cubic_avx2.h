#pragma once
// gelu_cubic::gelu on 8 lanes with AVX2: the same float operations in the
// same order, so every element has the bits of the scalar formula. Shared
// by the GELU op and the SpMM epilogue.
#include <immintrin.h>

#include <cstdint>

#include "../target.h"
#include "gelu_cubic.h"

namespace fastbert::detail {

// The four coefficients of each lane's segment i (0..31): one 16-byte load
// of by_segment[i] per lane, then a 4x4 transpose in each 128-bit half
// (lanes 0-3 low, 4-7 high). AVX2 has no two-register permute; picking each
// coefficient from its 32-entry table took 4 vpermps and 3 vblendvps, 28
// shuffles a vector, and 4 vgatherdps were slower still. Measured on AMD
// EPYC Zen 3 (1 thread, 2^18 values in L2, medians of 31): the GELU alone
// 1.24 ns a value with permutes, 0.65 with these loads. The indices leave
// the vector as four 64-bit halves: GCC's 8 vpextrd took 0.73, storing the
// vector and reading the indices back 0.84 (a stalled store forward).
struct GeluCubicCoefficientsAvx2 {
  __m256 c0, c1, c2, c3;
};
FASTBERT_TARGET_AVX2 inline GeluCubicCoefficientsAvx2 gelu_cubic_coefficients_avx2(
    const kernels::gelu_cubic::Table& tb, __m256i i) {
  const __m256i offset = _mm256_slli_epi32(i, 4);  // bytes: 16 a segment
  const __m128i low = _mm256_castsi256_si128(offset), high = _mm256_extracti128_si256(offset, 1);
  const uint64_t q0 = uint64_t(_mm_cvtsi128_si64(low)), q1 = uint64_t(_mm_extract_epi64(low, 1));
  const uint64_t q2 = uint64_t(_mm_cvtsi128_si64(high)), q3 = uint64_t(_mm_extract_epi64(high, 1));
  const char* base = reinterpret_cast<const char*>(tb.by_segment);
  auto segment = [base](uint64_t bytes) { return reinterpret_cast<const float*>(base + uint32_t(bytes)); };
  // Row r holds lanes r (low half) and r + 4 (high half).
  const __m256 r0 = _mm256_loadu2_m128(segment(q2), segment(q0));
  const __m256 r1 = _mm256_loadu2_m128(segment(q2 >> 32), segment(q0 >> 32));
  const __m256 r2 = _mm256_loadu2_m128(segment(q3), segment(q1));
  const __m256 r3 = _mm256_loadu2_m128(segment(q3 >> 32), segment(q1 >> 32));
  const __m256d t0 = _mm256_castps_pd(_mm256_unpacklo_ps(r0, r1)), t1 = _mm256_castps_pd(_mm256_unpackhi_ps(r0, r1));
  const __m256d t2 = _mm256_castps_pd(_mm256_unpacklo_ps(r2, r3)), t3 = _mm256_castps_pd(_mm256_unpackhi_ps(r2, r3));
  return {_mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2)), _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2)),
          _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3)), _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3))};
}

FASTBERT_TARGET_AVX2 inline __m256 gelu_cubic_avx2(__m256 x, const kernels::gelu_cubic::Table& tb) {
  namespace gc = kernels::gelu_cubic;
  const __m256 ax = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
  const __m256 u = _mm256_mul_ps(_mm256_min_ps(ax, _mm256_set1_ps(gc::kRange)), _mm256_set1_ps(gc::kSegmentsPerUnit));
  const __m256i i = _mm256_min_epi32(_mm256_cvttps_epi32(u), _mm256_set1_epi32(gc::kSegments - 1));
  const __m256 f = _mm256_sub_ps(u, _mm256_cvtepi32_ps(i));
  const GeluCubicCoefficientsAvx2 k = gelu_cubic_coefficients_avx2(tb, i);
  __m256 c = _mm256_fmadd_ps(k.c3, f, k.c2);
  c = _mm256_fmadd_ps(c, f, k.c1);
  c = _mm256_fmadd_ps(c, f, k.c0);
  return _mm256_add_ps(_mm256_max_ps(_mm256_setzero_ps(), x), c);
}

}  // namespace fastbert::detail
