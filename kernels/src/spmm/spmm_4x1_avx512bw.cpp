// The AVX2 scheme (widen to int16, vpmaddwd; exact) on zmm, 32 tokens a step.
#include <immintrin.h>

#include "spmm_4x1_microkernels.h"
#include "../target.h"

namespace fastbert::kernels {

FASTBERT_TARGET_AVX512BW void spmm_4x1_avx512bw(const Spmm4x1GroupTask& t) {
  const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);
  const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);
  int64_t m0 = 0;
  for (; m0 + 32 <= t.m; m0 += 32) {
    __m512i acc[4][2];
    for (int r = 0; r < 4; ++r) acc[r][0] = acc[r][1] = _mm512_set1_epi32(t.acc_init[r]);
    for (int64_t ch = 0; ch < t.chunks; ++ch) {
      const int32_t* c = t.columns + ch * 4;
      const int8_t* w = t.values + ch * 16;
      for (int p = 0; p < 2; ++p) {
        const __m512i xa = _mm512_cvtepu8_epi16(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.x + c[2 * p] * t.ldx + m0)));
        const __m512i xb = _mm512_cvtepu8_epi16(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.x + c[2 * p + 1] * t.ldx + m0)));
        const __m512i lo = _mm512_unpacklo_epi16(xa, xb);  // per 8-token lane: tokens 0-3
        const __m512i hi = _mm512_unpackhi_epi16(xa, xb);  // per lane: tokens 4-7
        for (int r = 0; r < 4; ++r) {
          const uint32_t pair = uint32_t(uint16_t(int16_t(w[r * 4 + 2 * p]))) |
                                (uint32_t(uint16_t(int16_t(w[r * 4 + 2 * p + 1]))) << 16);
          const __m512i wv = _mm512_set1_epi32(int32_t(pair));
          acc[r][0] = _mm512_add_epi32(acc[r][0], _mm512_madd_epi16(lo, wv));
          acc[r][1] = _mm512_add_epi32(acc[r][1], _mm512_madd_epi16(hi, wv));
        }
      }
    }
    for (int r = 0; r < 4; ++r) {
      int32_t* out = t.acc + r * t.ld_acc + m0;
      _mm512_storeu_si512(out, _mm512_permutex2var_epi64(acc[r][0], first, acc[r][1]));
      _mm512_storeu_si512(out + 16, _mm512_permutex2var_epi64(acc[r][0], second, acc[r][1]));
    }
  }
  spmm_4x1_reference_tail(t, m0);
}

}  // namespace fastbert::kernels
