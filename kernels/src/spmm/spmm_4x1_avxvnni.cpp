// VEX vpdpbusd on ymm, 32 tokens a step: the 4 gathered input rows are
// interleaved byte-wise then word-wise so that each dword lane holds the 4
// inputs of one token, and the 4 weights of a row are broadcast.
#include <immintrin.h>

#include "spmm_4x1_microkernels.h"
#include "../target.h"

namespace fastbert::kernels {

FASTBERT_TARGET_AVX_VNNI void spmm_4x1_avxvnni(const Spmm4x1GroupTask& t) {
  int64_t m0 = 0;
  for (; m0 + 32 <= t.m; m0 += 32) {
    __m256i acc[4][4];
    for (int r = 0; r < 4; ++r)
      for (int q = 0; q < 4; ++q) acc[r][q] = _mm256_set1_epi32(t.acc_init[r]);
    for (int64_t ch = 0; ch < t.chunks; ++ch) {
      const int32_t* c = t.columns + ch * 4;
      const int8_t* w = t.values + ch * 16;
      __m256i x[4];
      for (int j = 0; j < 4; ++j)
        x[j] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.x + c[j] * t.ldx + m0));
      const __m256i a_lo = _mm256_unpacklo_epi8(x[0], x[1]), a_hi = _mm256_unpackhi_epi8(x[0], x[1]);
      const __m256i b_lo = _mm256_unpacklo_epi8(x[2], x[3]), b_hi = _mm256_unpackhi_epi8(x[2], x[3]);
      // v[q] lane L holds tokens 16L + 4q .. 16L + 4q + 3.
      const __m256i v[4] = {_mm256_unpacklo_epi16(a_lo, b_lo), _mm256_unpackhi_epi16(a_lo, b_lo),
                            _mm256_unpacklo_epi16(a_hi, b_hi), _mm256_unpackhi_epi16(a_hi, b_hi)};
      for (int r = 0; r < 4; ++r) {
        int32_t quad;
        __builtin_memcpy(&quad, w + r * 4, 4);
        const __m256i wv = _mm256_set1_epi32(quad);
        for (int q = 0; q < 4; ++q) acc[r][q] = _mm256_dpbusd_avx_epi32(acc[r][q], v[q], wv);
      }
    }
    for (int r = 0; r < 4; ++r) {
      int32_t* out = t.acc + r * t.ld_acc + m0;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm256_permute2x128_si256(acc[r][0], acc[r][1], 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), _mm256_permute2x128_si256(acc[r][2], acc[r][3], 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16), _mm256_permute2x128_si256(acc[r][0], acc[r][1], 0x31));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 24), _mm256_permute2x128_si256(acc[r][2], acc[r][3], 0x31));
    }
  }
  spmm_4x1_reference_tail(t, m0);
}

}  // namespace fastbert::kernels
