// LayerNorm with AVX-512F on feature-major activations: the reduction runs
// down the feature rows while the lanes run along tokens, so a block of 64
// tokens is normalised with plain vertical adds, no horizontal reductions.
// Statistics are shifted by each token's first feature value (sums of
// z - z0), which keeps one pass accurate where sum(z²) - n·mean² would
// cancel; a second pass writes y and its u8 quantization.
#include <immintrin.h>

#include "layer_norm_kernels.h"
#include "../target.h"


namespace fastbert::detail {

namespace {

constexpr int kVectors = 4;
constexpr int kBlock = kLayerNormTileAvx512;
static_assert(kBlock == 16 * kVectors);

FASTBERT_TARGET_AVX512BW void normalize_block(const LayerNormArgs& a, int64_t m0, int64_t count) {
  __mmask16 mask[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const int64_t n = count - 16 * v;
    mask[v] = n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
  }
  const float* x = a.x + m0;
  const float* r = a.residual ? a.residual + m0 : nullptr;
  auto load_z = [&](int64_t f, int v) FASTBERT_TARGET_AVX512BW {
    __m512 z = _mm512_maskz_loadu_ps(mask[v], x + f * a.ld_x + 16 * v);
    if (a.x_bias) z = _mm512_add_ps(z, _mm512_set1_ps(a.x_bias[f]));
    if (r) z = _mm512_add_ps(z, _mm512_maskz_loadu_ps(mask[v], r + f * a.ld_residual + 16 * v));
    return z;
  };

  __m512 shift[kVectors], s1[kVectors], s2[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    shift[v] = load_z(0, v);
    s1[v] = s2[v] = _mm512_setzero_ps();
  }
  for (int64_t f = 1; f < a.features; ++f) {
    for (int v = 0; v < kVectors; ++v) {
      const __m512 d = _mm512_sub_ps(load_z(f, v), shift[v]);
      s1[v] = _mm512_add_ps(s1[v], d);
      s2[v] = _mm512_fmadd_ps(d, d, s2[v]);
    }
  }
  const __m512 inv_n = _mm512_set1_ps(1.0f / float(a.features));
  __m512 mean[kVectors], inv_std[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const __m512 mean_shifted = _mm512_mul_ps(s1[v], inv_n);
    __m512 var = _mm512_fnmadd_ps(mean_shifted, mean_shifted, _mm512_mul_ps(s2[v], inv_n));
    var = _mm512_max_ps(var, _mm512_setzero_ps());
    mean[v] = _mm512_add_ps(shift[v], mean_shifted);
    inv_std[v] = _mm512_div_ps(_mm512_set1_ps(1.0f),
                               _mm512_sqrt_ps(_mm512_add_ps(var, _mm512_set1_ps(a.epsilon))));
  }

  const __m512 inv_scale = _mm512_set1_ps(1.0f / a.u8_scale);
  const __m512i zero_point = _mm512_set1_epi32(a.u8_zero_point);
  for (int64_t f = 0; f < a.features; ++f) {
    const __m512 g = _mm512_set1_ps(a.gamma[f]);
    const __m512 b = _mm512_set1_ps(a.beta[f]);
    for (int v = 0; v < kVectors; ++v) {
      if (!mask[v]) continue;
      const __m512 y = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_sub_ps(load_z(f, v), mean[v]), inv_std[v]), g, b);
      if (a.y) _mm512_mask_storeu_ps(a.y + f * a.ld_y + m0 + 16 * v, mask[v], y);
      if (a.y_u8) store_quantized_u8_avx512(a.y_u8 + f * a.ld_y_u8 + m0 + 16 * v, mask[v], y, inv_scale, zero_point);
    }
  }
}

}  // namespace

void layer_norm_avx512f(const LayerNormArgs& a) {
  const int64_t blocks = (a.tokens + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) num_threads(layer_norm_threads(a))
  for (int64_t blk = 0; blk < blocks; ++blk)
    normalize_block(a, blk * kBlock, std::min<int64_t>(kBlock, a.tokens - blk * kBlock));
}

}  // namespace fastbert::detail
