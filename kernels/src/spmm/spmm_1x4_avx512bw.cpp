// Without VNNI: the 4 activations of a token are widened to int16 and
// multiplied by vpmaddwd against the row's weights as two int16 pairs (exact:
// vpmaddubsw would saturate), giving per token two partial dwords, (x0 w0 +
// x1 w1) and (x2 w2 + x3 w3). They are accumulated apart and added once per
// tile, by two permutes that also restore token order.
#include <immintrin.h>

#include "spmm_1x4_microkernels.h"
#include "../target.h"

namespace fastbert::kernels {

namespace {

FASTBERT_TARGET_AVX512BW inline __m512i weight_pairs(const int8_t* w) {
  const uint64_t pattern = uint64_t(uint16_t(int16_t(w[0]))) | (uint64_t(uint16_t(int16_t(w[1]))) << 16) |
                           (uint64_t(uint16_t(int16_t(w[2]))) << 32) | (uint64_t(uint16_t(int16_t(w[3]))) << 48);
  return _mm512_set1_epi64(int64_t(pattern));
}

}  // namespace

FASTBERT_TARGET_AVX512BW void spmm_1x4_avx512bw(const Spmm1x4RowTask& t) {
  constexpr int kVectors = 8;  // 8 tokens each (32 int16)
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  int64_t m0 = 0;
  for (; m0 + 8 * kVectors <= t.m; m0 += 8 * kVectors) {
    __m512i acc[kVectors];
    for (int v = 0; v < kVectors; ++v) acc[v] = _mm512_setzero_si512();
    for (int64_t b = 0; b < t.blocks; ++b) {
      const uint8_t* x = t.x + int64_t(t.quads[b]) * t.ldq_bytes + m0 * 4;
      const __m512i w = weight_pairs(t.values + 4 * b);
      for (int v = 0; v < kVectors; ++v) {
        const __m512i xv =
            _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32 * v)));
        acc[v] = _mm512_add_epi32(acc[v], _mm512_madd_epi16(xv, w));
      }
    }
    const __m512i init = _mm512_set1_epi32(t.acc_init);
    for (int v = 0; v < kVectors; v += 2) {
      const __m512i sum = _mm512_add_epi32(_mm512_permutex2var_epi32(acc[v], even, acc[v + 1]),
                                           _mm512_permutex2var_epi32(acc[v], odd, acc[v + 1]));
      _mm512_storeu_si512(t.acc + m0 + 8 * v, _mm512_add_epi32(sum, init));
    }
  }
  spmm_1x4_reference_tail(t, m0);
}

}  // namespace fastbert::kernels
