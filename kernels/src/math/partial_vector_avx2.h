#pragma once
// Loads and stores of the first n (<= 8) floats of a ymm for the AVX2 paths.
// A whole vector takes a plain load or store: vmaskmovps stores are
// microcoded on AMD Zen 2/3, and with one on every vector the SpMM's fp32
// epilogue ran 5x slower on an EPYC Zen 3 (1536 x 128 values: 0.22-0.25 ms
// against 0.046-0.053 for the compiled scalar loop). Only a tail is masked.
#include <immintrin.h>

#include <cstdint>

#include "../target.h"

namespace fastbert::detail {

// Lanes 0..n-1 set (n clamped to 0..8).
FASTBERT_TARGET_AVX2 inline __m256i first_lanes_avx2(int64_t n) {
  const int lanes = int(n < 0 ? 0 : n > 8 ? 8 : n);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

FASTBERT_TARGET_AVX2 inline __m256 load_first_avx2(const float* p, int64_t n) {
  return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, first_lanes_avx2(n));
}

FASTBERT_TARGET_AVX2 inline __m256i load_first_epi32_avx2(const int32_t* p, int64_t n) {
  return n >= 8 ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                : _mm256_maskload_epi32(p, first_lanes_avx2(n));
}

FASTBERT_TARGET_AVX2 inline void store_first_avx2(float* p, int64_t n, __m256 y) {
  if (n >= 8)
    _mm256_storeu_ps(p, y);
  else
    _mm256_maskstore_ps(p, first_lanes_avx2(n), y);
}

}  // namespace fastbert::detail
