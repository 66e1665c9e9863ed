// fp32 attention with AVX-512F. Scores are computed transposed, Sᵀ[key][query],
// 16 queries per zmm, so that the softmax over keys is a lane-wise reduction
// over rows and P·V can broadcast V straight from its feature-major rows: no
// transposes, no packing, and the output is stored feature-major directly.
#include <cmath>

#include "attention_kernels.h"
#include "../math/exp_split_avx512f.h"
#include "../math/quantize_u8.h"

namespace fastbert::detail {

namespace {

constexpr int kQ = kAttentionQueryBlockAvx512;

// Sᵀ[j0 .. j0+NK) for the query block; pass 1 of the softmax rides along.
template <int NK>
FASTBERT_TARGET_AVX512BW inline void score_tile(const float* q, const float* k, int64_t ld, int dh,
                                               __mmask16 lanes, __m512 scale, float* scores,
                                               __m512& sum, __m512& sum_n) {
  __m512 c[NK];
  for (int r = 0; r < NK; ++r) c[r] = _mm512_setzero_ps();
  for (int d = 0; d < dh; ++d) {
    const __m512 qd = _mm512_maskz_loadu_ps(lanes, q + d * ld);
    const float* kd = k + d * ld;
    for (int r = 0; r < NK; ++r) c[r] = _mm512_fmadd_ps(qd, _mm512_set1_ps(kd[r]), c[r]);
  }
  for (int r = 0; r < NK; ++r) {
    const __m512 x = _mm512_mul_ps(c[r], scale);
    _mm512_store_ps(scores + r * kQ, x);
    accumulate_exp_split_avx512f(exp_split_avx512f(x), sum, sum_n);
  }
}

// O[d0 .. d0+ND)[queries] = Σ_j P[j][queries] · V[d][j]
template <int ND>
FASTBERT_TARGET_AVX512BW inline void output_tile(const float* probs, const float* v, int64_t ld, int len,
                                                __mmask16 lanes, const AttentionOutput& o) {
  __m512 c[ND];
  for (int r = 0; r < ND; ++r) c[r] = _mm512_setzero_ps();
  for (int j = 0; j < len; ++j) {
    const __m512 pj = _mm512_load_ps(probs + j * kQ);
    for (int r = 0; r < ND; ++r) c[r] = _mm512_fmadd_ps(pj, _mm512_set1_ps(v[r * ld + j]), c[r]);
  }
  const __m512 inv_scale = _mm512_set1_ps(o.inv_scale);
  const __m512i zero_point = _mm512_set1_epi32(o.zero_point);
  for (int r = 0; r < ND; ++r) {
    if (o.f32) _mm512_mask_storeu_ps(o.f32 + r * o.ld_f32, lanes, c[r]);
    if (o.u8) store_quantized_u8_avx512(o.u8 + r * o.ld_u8, lanes, c[r], inv_scale, zero_point);
  }
}

FASTBERT_TARGET_AVX512BW void query_block(const AttentionArgs& a, const float* q, const float* k,
                                         const float* v, const AttentionOutput& o, int len, int nq, float* scores) {
  const int dh = a.shape.head_dim;
  const int64_t ld = a.ld_in;
  const __mmask16 lanes = __mmask16((1u << nq) - 1);
  const __m512 scale = _mm512_set1_ps(a.scale);
  __m512 sum = _mm512_setzero_ps();
  __m512 sum_n = _mm512_set1_ps(-INFINITY);

  // Pass 1: scores and the (value, exponent) running sum of their exponentials.
  int j = 0;
  for (; j + 16 <= len; j += 16) score_tile<16>(q, k + j, ld, dh, lanes, scale, scores + j * kQ, sum, sum_n);
  for (; j + 4 <= len; j += 4) score_tile<4>(q, k + j, ld, dh, lanes, scale, scores + j * kQ, sum, sum_n);
  for (; j < len; ++j) score_tile<1>(q, k + j, ld, dh, lanes, scale, scores + j * kQ, sum, sum_n);

  // Pass 2: normalise in place (the block stays in L1), then multiply into V.
  const __m512 inv_sum = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
  for (j = 0; j < len; ++j)
    _mm512_store_ps(scores + j * kQ, normalized_exp_avx512f(_mm512_load_ps(scores + j * kQ), inv_sum, sum_n));
  int d = 0;
  for (; d + 16 <= dh; d += 16) output_tile<16>(scores, v + d * ld, ld, len, lanes, o.at(d, 0));
  for (; d + 4 <= dh; d += 4) output_tile<4>(scores, v + d * ld, ld, len, lanes, o.at(d, 0));
  for (; d < dh; ++d) output_tile<1>(scores, v + d * ld, ld, len, lanes, o.at(d, 0));
}

}  // namespace

size_t attention_thread_bytes_fp32_avx512f(const AttentionShape& s) {
  return sizeof(float) * size_t(s.seq_len) * kQ;
}

void attention_fp32_avx512f(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads) {
  for_each_query_block<kQ>(a, workspace, thread_bytes, threads, query_block);
}

}  // namespace fastbert::detail
