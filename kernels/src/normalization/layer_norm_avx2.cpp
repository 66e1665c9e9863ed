// AVX2 twin of layer_norm_avx512f.cpp: 32 tokens per block, masked loads for
// the tail.
#include <immintrin.h>

#include "../math/partial_vector_avx2.h"
#include "layer_norm_kernels.h"
#include "../target.h"


namespace fastbert::detail {

namespace {

constexpr int kVectors = 4;
constexpr int kBlock = kLayerNormTileAvx2;
static_assert(kBlock == 8 * kVectors);

// n: the valid tokens of the vector (<= 0: none, >= 8: all).
FASTBERT_TARGET_AVX2 inline __m256 load_z(const LayerNormArgs& a, int64_t m, int64_t f, int64_t n) {
  __m256 z = load_first_avx2(a.x + f * a.ld_x + m, n);
  if (a.x_bias) z = _mm256_add_ps(z, _mm256_set1_ps(a.x_bias[f]));
  if (a.residual) z = _mm256_add_ps(z, load_first_avx2(a.residual + f * a.ld_residual + m, n));
  return z;
}

FASTBERT_TARGET_AVX2 void normalize_block(const LayerNormArgs& a, int64_t m0, int64_t count) {
  __m256 shift[kVectors], s1[kVectors], s2[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    shift[v] = load_z(a, m0 + 8 * v, 0, count - 8 * v);
    s1[v] = s2[v] = _mm256_setzero_ps();
  }
  for (int64_t f = 1; f < a.features; ++f) {
    for (int v = 0; v < kVectors; ++v) {
      const __m256 d = _mm256_sub_ps(load_z(a, m0 + 8 * v, f, count - 8 * v), shift[v]);
      s1[v] = _mm256_add_ps(s1[v], d);
      s2[v] = _mm256_fmadd_ps(d, d, s2[v]);
    }
  }
  const __m256 inv_n = _mm256_set1_ps(1.0f / float(a.features));
  __m256 mean[kVectors], inv_std[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const __m256 mean_shifted = _mm256_mul_ps(s1[v], inv_n);
    __m256 var = _mm256_fnmadd_ps(mean_shifted, mean_shifted, _mm256_mul_ps(s2[v], inv_n));
    var = _mm256_max_ps(var, _mm256_setzero_ps());
    mean[v] = _mm256_add_ps(shift[v], mean_shifted);
    inv_std[v] = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_sqrt_ps(_mm256_add_ps(var, _mm256_set1_ps(a.epsilon))));
  }

  const __m256 inv_scale = _mm256_set1_ps(1.0f / a.u8_scale);
  const __m256i zero_point = _mm256_set1_epi32(a.u8_zero_point);
  for (int64_t f = 0; f < a.features; ++f) {
    const __m256 g = _mm256_set1_ps(a.gamma[f]);
    const __m256 b = _mm256_set1_ps(a.beta[f]);
    for (int v = 0; v < kVectors; ++v) {
      const int64_t n = std::min<int64_t>(8, count - 8 * v);
      if (n <= 0) break;
      const int64_t m = m0 + 8 * v;
      const __m256 y = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_sub_ps(load_z(a, m, f, n), mean[v]), inv_std[v]), g, b);
      if (a.y) store_first_avx2(a.y + f * a.ld_y + m, n, y);
      if (a.y_u8) store_quantized_u8_avx2(a.y_u8 + f * a.ld_y_u8 + m, n, y, inv_scale, zero_point);
    }
  }
}

}  // namespace

void layer_norm_avx2(const LayerNormArgs& a) {
  const int64_t blocks = (a.tokens + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(layer_norm_threads(a))
  for (int64_t blk = 0; blk < blocks; ++blk)
    normalize_block(a, blk * kBlock, std::min<int64_t>(kBlock, a.tokens - blk * kBlock));
}

}  // namespace fastbert::detail
