// The AVX512BW scheme (widen to int16, vpmaddwd on weight pairs; exact) on
// ymm, 4 tokens a vector; partial dwords added once per tile by vphaddd.
#include <immintrin.h>

#include "spmm_1x4_microkernels.h"
#include "../keep_in_register.h"
#include "../target.h"

namespace fastbert::kernels {

FASTBERT_TARGET_AVX2 void spmm_1x4_avx2(const Spmm1x4RowTask& t) {
  constexpr int kVectors = 8;  // 4 tokens each (16 int16)
  int64_t m0 = 0;
  for (; m0 + 4 * kVectors <= t.m; m0 += 4 * kVectors) {
    __m256i acc[kVectors];
    for (int v = 0; v < kVectors; ++v) acc[v] = _mm256_setzero_si256();
    for (int64_t b = 0; b < t.blocks; ++b) {
      const uint8_t* x = t.x + int64_t(t.quads[b]) * t.ldq_bytes + m0 * 4;
      const int8_t* wb = t.values + 4 * b;
      const uint64_t pattern = uint64_t(uint16_t(int16_t(wb[0]))) | (uint64_t(uint16_t(int16_t(wb[1]))) << 16) |
                               (uint64_t(uint16_t(int16_t(wb[2]))) << 32) | (uint64_t(uint16_t(int16_t(wb[3]))) << 48);
      const __m256i w = _mm256_set1_epi64x(int64_t(pattern));
      for (int v = 0; v < kVectors; ++v) {
        const __m256i xv = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 16 * v)));
        acc[v] = _mm256_add_epi32(acc[v], _mm256_madd_epi16(xv, w));
        detail::keep_in_register(acc[v]);
      }
    }
    const __m256i init = _mm256_set1_epi32(t.acc_init);
    for (int v = 0; v < kVectors; v += 2) {
      // hadd: a0 a1 | b0 b1 | a2 a3 | b2 b3 (64-bit lanes, tokens) -> a0..a3 b0..b3.
      const __m256i sum = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[v], acc[v + 1]), 0xD8);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.acc + m0 + 4 * v), _mm256_add_epi32(sum, init));
    }
  }
  spmm_1x4_reference_tail(t, m0);
}

}  // namespace fastbert::kernels
