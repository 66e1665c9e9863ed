#pragma once
// gelu_cubic::gelu with AVX2 on a block of values: the same float operations
// in the same order, so every element has the bits of the scalar formula.
// Shared by the GELU op and the SpMM epilogue.
#include <immintrin.h>

#include <cstdint>

#include "../target.h"
#include "gelu_cubic.h"

namespace fastbert::detail {

// The most values gelu_cubic_block_avx2 takes at once: its segment offsets
// and positions live on the stack meanwhile (1 KiB).
inline constexpr int64_t kGeluCubicBlockAvx2 = 128;

// gelu_cubic::gelu in place on the first `vectors` ymm of `y` (32-byte
// aligned, at most kGeluCubicBlockAvx2 values), in two passes: the first
// finds every lane's segment and position in it and stores them, the second
// loads each lane's four coefficients by one 16-byte load of
// by_segment[segment] at a scalar offset read back from the stack, then
// transposes them (4x4 in each 128-bit half) and evaluates the cubic.
//
// AVX2 has no two-register permute: picking each coefficient from its
// 32-entry table took 4 vpermps and 3 vblendvps, 28 shuffles a vector, and 4
// vgatherdps were slower still. Loading by segment one vector at a time
// needed the 8 offsets in general registers at once: moved out of the vector
// (vmovq, vpextrq, shifts) they sat on one long dependency chain per vector,
// and stored and read back at once they stalled the store forward. Measured
// on AMD EPYC Zen 3 (1 thread, 1536 x 128 values, GELU + u8 store, medians
// of 31, interleaved): 1.08 ns a value one vector at a time (offsets moved
// by vmovq / vpextrq), 0.85 in blocks of 32, 0.72 of 64, 0.63 of 128, 0.62
// of 256 and 0.63 of 512; the permutes had taken 1.24 ns for the GELU alone,
// the gathers about twice the permutes.
FASTBERT_TARGET_AVX2 inline void gelu_cubic_block_avx2(float* y, int64_t vectors,
                                                      const kernels::gelu_cubic::Table& tb) {
  namespace gc = kernels::gelu_cubic;
  alignas(32) float position[kGeluCubicBlockAvx2];
  alignas(32) int32_t offset[kGeluCubicBlockAvx2];  // bytes into tb.by_segment: 16 a segment
  for (int64_t v = 0; v < vectors; ++v) {
    const __m256 x = _mm256_load_ps(y + 8 * v);
    const __m256 ax = _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
    const __m256 u = _mm256_mul_ps(_mm256_min_ps(ax, _mm256_set1_ps(gc::kRange)), _mm256_set1_ps(gc::kSegmentsPerUnit));
    const __m256i i = _mm256_min_epi32(_mm256_cvttps_epi32(u), _mm256_set1_epi32(gc::kSegments - 1));
    _mm256_store_ps(position + 8 * v, _mm256_sub_ps(u, _mm256_cvtepi32_ps(i)));
    _mm256_store_si256(reinterpret_cast<__m256i*>(offset + 8 * v), _mm256_slli_epi32(i, 4));
  }
  const char* base = reinterpret_cast<const char*>(tb.by_segment);
  auto segment = [base](int32_t bytes) { return reinterpret_cast<const float*>(base + bytes); };
  for (int64_t v = 0; v < vectors; ++v) {
    const int32_t* o = offset + 8 * v;
    // Row r holds lanes r (low half) and r + 4 (high half).
    const __m256 r0 = _mm256_loadu2_m128(segment(o[4]), segment(o[0]));
    const __m256 r1 = _mm256_loadu2_m128(segment(o[5]), segment(o[1]));
    const __m256 r2 = _mm256_loadu2_m128(segment(o[6]), segment(o[2]));
    const __m256 r3 = _mm256_loadu2_m128(segment(o[7]), segment(o[3]));
    const __m256d t0 = _mm256_castps_pd(_mm256_unpacklo_ps(r0, r1)), t1 = _mm256_castps_pd(_mm256_unpackhi_ps(r0, r1));
    const __m256d t2 = _mm256_castps_pd(_mm256_unpacklo_ps(r2, r3)), t3 = _mm256_castps_pd(_mm256_unpackhi_ps(r2, r3));
    const __m256 c0 = _mm256_castpd_ps(_mm256_unpacklo_pd(t0, t2)), c1 = _mm256_castpd_ps(_mm256_unpackhi_pd(t0, t2));
    const __m256 c2 = _mm256_castpd_ps(_mm256_unpacklo_pd(t1, t3)), c3 = _mm256_castpd_ps(_mm256_unpackhi_pd(t1, t3));
    const __m256 f = _mm256_load_ps(position + 8 * v);
    __m256 c = _mm256_fmadd_ps(c3, f, c2);
    c = _mm256_fmadd_ps(c, f, c1);
    c = _mm256_fmadd_ps(c, f, c0);
    const __m256 x = _mm256_load_ps(y + 8 * v);
    _mm256_store_ps(y + 8 * v, _mm256_add_ps(_mm256_max_ps(_mm256_setzero_ps(), x), c));
  }
}

}  // namespace fastbert::detail
