// vpmaddubsw would saturate (255 * 127 * 2 > 32767), so both operands are
// widened to int16 and multiplied pairwise by vpmaddwd: exact, half the rate.
// The weights come as int16 pairs packed once per layer
// (pack_4x1_int16_pairs).
#include <immintrin.h>

#include "spmm_4x1_microkernels.h"
#include "../keep_in_register.h"
#include "../target.h"

namespace fastbert::kernels {

std::vector<int32_t> pack_4x1_int16_pairs(const int8_t* values, int64_t chunks) {
  std::vector<int32_t> pairs(size_t(chunks) * 8);
  for (int64_t ch = 0; ch < chunks; ++ch)
    for (int p = 0; p < 2; ++p)
      for (int r = 0; r < 4; ++r) {
        const int8_t* w = values + ch * 16 + r * 4 + 2 * p;
        pairs[size_t(ch * 8 + p * 4 + r)] =
            int32_t(uint32_t(uint16_t(int16_t(w[0]))) | (uint32_t(uint16_t(int16_t(w[1]))) << 16));
      }
  return pairs;
}

FASTBERT_TARGET_AVX2 void spmm_4x1_avx2(const Spmm4x1GroupTask& t) {
  int64_t m0 = 0;
  for (; m0 + 16 <= t.m; m0 += 16) {
    __m256i acc[4][2];
    for (int r = 0; r < 4; ++r) acc[r][0] = acc[r][1] = _mm256_set1_epi32(t.acc_init[r]);
    for (int64_t ch = 0; ch < t.chunks; ++ch) {
      const int32_t* c = t.columns + ch * 4;
      const int32_t* pairs = t.pairs + ch * 8;
      for (int p = 0; p < 2; ++p) {
        const __m256i xa = _mm256_cvtepu8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.x + c[2 * p] * t.ldx + m0)));
        const __m256i xb = _mm256_cvtepu8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(t.x + c[2 * p + 1] * t.ldx + m0)));
        const __m256i lo = _mm256_unpacklo_epi16(xa, xb);  // tokens 0-3 | 8-11
        const __m256i hi = _mm256_unpackhi_epi16(xa, xb);  // tokens 4-7 | 12-15
        for (int r = 0; r < 4; ++r) {
          const __m256i wv = _mm256_set1_epi32(pairs[p * 4 + r]);
          acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(lo, wv));
          acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(hi, wv));
          detail::keep_in_register(acc[r][0]);
          detail::keep_in_register(acc[r][1]);
        }
      }
    }
    for (int r = 0; r < 4; ++r) {
      int32_t* out = t.acc + r * t.ld_acc + m0;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(acc[r][0], acc[r][1], 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), _mm256_permute2x128_si256(acc[r][0], acc[r][1], 0x31));
    }
  }
  spmm_4x1_reference_tail(t, m0);
}

}  // namespace fastbert::kernels
