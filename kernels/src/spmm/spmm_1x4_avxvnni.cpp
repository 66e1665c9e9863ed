// VEX vpdpbusd on ymm: the AVX512-VNNI scheme at 8 tokens a vector, 64
// tokens a step (8 accumulators), the rest by the reference loop.
#include <immintrin.h>

#include "spmm_1x4_microkernels.h"
#include "../target.h"

namespace fastbert::kernels {

FASTBERT_TARGET_AVX_VNNI void spmm_1x4_avxvnni(const Spmm1x4RowTask& t) {
  constexpr int kVectors = 8;
  int64_t m0 = 0;
  for (; m0 + 8 * kVectors <= t.m; m0 += 8 * kVectors) {
    __m256i acc[kVectors];
    for (int v = 0; v < kVectors; ++v) acc[v] = _mm256_set1_epi32(t.acc_init);
    for (int64_t b = 0; b < t.blocks; ++b) {
      const uint8_t* x = t.x + int64_t(t.quads[b]) * t.ldq_bytes + m0 * 4;
      int32_t quad;
      __builtin_memcpy(&quad, t.values + 4 * b, 4);
      const __m256i w = _mm256_set1_epi32(quad);
      for (int v = 0; v < kVectors; ++v)
        acc[v] = _mm256_dpbusd_avx_epi32(acc[v], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + 32 * v)), w);
    }
    for (int v = 0; v < kVectors; ++v)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(t.acc + m0 + 8 * v), acc[v]);
  }
  spmm_1x4_reference_tail(t, m0);
}

}  // namespace fastbert::kernels
