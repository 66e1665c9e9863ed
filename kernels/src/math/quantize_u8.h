#pragma once
// The one activation quantization rule of the runtime (u8 for the next int8
// GEMM's input, s8 where an epilogue asks for it):
//   q = clamp(round_half_even(y * (1/scale)) + zero_point, lo, hi)
// The scalar form bounds the value before rounding, so an absurd y saturates
// instead of wrapping through INT_MIN, and rounds by the 1.5 * 2^23 trick
// (exact for the bounded value): plain float operations that vectorise. The
// SIMD stores below do the same with the CPU's round-to-nearest-even
// conversion, so every path's output is bit-identical to quantizing its own
// fp32 output. Users: the SpMM epilogues, LayerNorm, GELU, attention, and
// kernels::quantize_u8 (kernels/quantize.h) where nothing can fuse it.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include "../target.h"

namespace fastbert::detail {

constexpr float kQuantizeBound = 1e9f;

template <class T>
__attribute__((always_inline)) inline T quantize(float y, float inv_scale, int32_t zero_point) {
  static_assert(std::is_same_v<T, uint8_t> || std::is_same_v<T, int8_t>);
  constexpr float lo = std::is_same_v<T, uint8_t> ? 0.0f : -128.0f;
  constexpr float hi = std::is_same_v<T, uint8_t> ? 255.0f : 127.0f;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23
  const float zp = float(zero_point);
  float v = y * inv_scale;
  v = std::min(std::max(v, lo - zp - 1.0f), hi - zp + 1.0f);
  v = (v + kRoundMagic) - kRoundMagic;
  v = std::min(std::max(v + zp, lo), hi);
  return T(int32_t(v));
}

inline uint8_t quantize_u8(float y, float inv_scale, int32_t zero_point) {
  return quantize<uint8_t>(y, inv_scale, zero_point);
}

FASTBERT_TARGET_AVX512BW inline void store_quantized_u8_avx512(
    uint8_t* out, __mmask16 mask, __m512 y, __m512 inv_scale, __m512i zero_point) {
  const __m512 bound = _mm512_set1_ps(kQuantizeBound);
  const __m512 scaled = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(y, inv_scale), _mm512_sub_ps(_mm512_setzero_ps(), bound)), bound);
  __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(scaled), zero_point);
  q = _mm512_min_epi32(_mm512_max_epi32(q, _mm512_setzero_si512()), _mm512_set1_epi32(255));
  _mm_mask_storeu_epi8(out, mask, _mm512_cvtepi32_epi8(q));
}

// AVX2 has no masked byte store: 8 bytes are packed and stored at once, a
// partial vector's n < 8 go through a small buffer.
FASTBERT_TARGET_AVX2 inline void store_quantized_u8_avx2(uint8_t* out, int64_t n, __m256 y,
                                                                       __m256 inv_scale, __m256i zero_point) {
  const __m256 bound = _mm256_set1_ps(kQuantizeBound);
  const __m256 scaled = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(y, inv_scale), _mm256_sub_ps(_mm256_setzero_ps(), bound)), bound);
  __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(scaled), zero_point);
  q = _mm256_min_epi32(_mm256_max_epi32(q, _mm256_setzero_si256()), _mm256_set1_epi32(255));
  if (n >= 8) {
    // The lanes are 0..255 already: the saturating packs only narrow them.
    const __m128i words = _mm_packus_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(words, words));
    return;
  }
  alignas(32) int32_t buf[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(buf), q);
  for (int64_t t = 0; t < n; ++t) out[t] = uint8_t(buf[t]);
}

}  // namespace fastbert::detail
