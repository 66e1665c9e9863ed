#pragma once
// fp32 -> u8 activation quantization shared by the kernel epilogues:
//   q = clamp(round_half_even(y * (1/scale)) + zero_point, 0, 255)
// The value is bounded before the float->int conversion so that an absurd y
// saturates to 0 or 255 instead of wrapping through INT_MIN. The scalar and
// SIMD versions do exactly the same float operations, so every path's u8
// output is bit-identical to quantizing its own fp32 output.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace fastbert::detail {

constexpr float kQuantizeBound = 1e9f;

inline uint8_t quantize_u8(float y, float inv_scale, int32_t zero_point) {
  const float scaled = std::min(std::max(y * inv_scale, -kQuantizeBound), kQuantizeBound);
  const int32_t q = int32_t(std::nearbyint(scaled)) + zero_point;
  return uint8_t(std::min(255, std::max(0, q)));
}

__attribute__((target("avx512f,avx512bw,avx512vl"))) inline void store_quantized_u8_avx512(
    uint8_t* out, __mmask16 mask, __m512 y, __m512 inv_scale, __m512i zero_point) {
  const __m512 bound = _mm512_set1_ps(kQuantizeBound);
  const __m512 scaled = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(y, inv_scale), _mm512_sub_ps(_mm512_setzero_ps(), bound)), bound);
  __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(scaled), zero_point);
  q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_setzero_si512()), _mm512_set1_epi32(255));
  _mm_mask_storeu_epi8(out, mask, _mm512_cvtepi32_epi8(q));
}

// AVX2 has no masked byte store: the n <= 8 bytes go through a small buffer.
__attribute__((target("avx2,fma"))) inline void store_quantized_u8_avx2(uint8_t* out, int64_t n, __m256 y,
                                                                       __m256 inv_scale, __m256i zero_point) {
  const __m256 bound = _mm256_set1_ps(kQuantizeBound);
  const __m256 scaled = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(y, inv_scale), _mm256_sub_ps(_mm256_setzero_ps(), bound)), bound);
  __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(scaled), zero_point);
  q = _mm256_min_epi32(_mm256_max_epi32(q, _mm256_setzero_si256()), _mm256_set1_epi32(255));
  alignas(32) int32_t buf[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(buf), q);
  for (int64_t t = 0; t < n; ++t) out[t] = uint8_t(buf[t]);
}

}  // namespace fastbert::detail
