// fp32 attention with AVX2 + FMA for CPUs without AVX-512: the layout and the
// two-pass softmax of attention_fp32_avx512f.cpp with 8 queries per ymm.
#include <cmath>

#include "attention_kernels.h"
#include "../math/exp_split_avx2.h"
#include "../math/partial_vector_avx2.h"
#include "../math/quantize_u8.h"

namespace fastbert::detail {

namespace {

constexpr int kQ = kAttentionQueryBlockAvx2;

template <int NK>
FASTBERT_TARGET_AVX2 inline void score_tile(const float* q, const float* k, int64_t ld, int dh, __m256i lanes,
                                            __m256 scale, float* scores, __m256& sum, __m256& sum_n) {
  __m256 c[NK];
  for (int r = 0; r < NK; ++r) c[r] = _mm256_setzero_ps();
  for (int d = 0; d < dh; ++d) {
    const __m256 qd = _mm256_maskload_ps(q + d * ld, lanes);
    const float* kd = k + d * ld;
    for (int r = 0; r < NK; ++r) c[r] = _mm256_fmadd_ps(qd, _mm256_broadcast_ss(kd + r), c[r]);
  }
  for (int r = 0; r < NK; ++r) {
    const __m256 x = _mm256_mul_ps(c[r], scale);
    _mm256_store_ps(scores + r * kQ, x);
    accumulate_exp_split_avx2(exp_split_avx2(x), sum, sum_n);
  }
}

template <int ND>
FASTBERT_TARGET_AVX2 inline void output_tile(const float* probs, const float* v, int64_t ld, int len,
                                             __m256i lanes, int nq, const AttentionOutput& o) {
  __m256 c[ND];
  for (int r = 0; r < ND; ++r) c[r] = _mm256_setzero_ps();
  for (int j = 0; j < len; ++j) {
    const __m256 pj = _mm256_load_ps(probs + j * kQ);
    for (int r = 0; r < ND; ++r) c[r] = _mm256_fmadd_ps(pj, _mm256_broadcast_ss(v + r * ld + j), c[r]);
  }
  const __m256 inv_scale = _mm256_set1_ps(o.inv_scale);
  const __m256i zero_point = _mm256_set1_epi32(o.zero_point);
  for (int r = 0; r < ND; ++r) {
    if (o.f32) store_first_avx2(o.f32 + r * o.ld_f32, nq, c[r]);
    if (o.u8) store_quantized_u8_avx2(o.u8 + r * o.ld_u8, nq, c[r], inv_scale, zero_point);
  }
}

FASTBERT_TARGET_AVX2 void query_block(const AttentionArgs& a, const float* q, const float* k, const float* v,
                                      const AttentionOutput& o, int len, int nq, float* scores) {
  const int dh = a.shape.head_dim;
  const int64_t ld = a.ld_in;
  const __m256i lanes = first_lanes_avx2(nq);
  const __m256 scale = _mm256_set1_ps(a.scale);
  __m256 sum = _mm256_setzero_ps();
  __m256 sum_n = _mm256_set1_ps(-INFINITY);

  int j = 0;
  for (; j + 8 <= len; j += 8) score_tile<8>(q, k + j, ld, dh, lanes, scale, scores + j * kQ, sum, sum_n);
  for (; j < len; ++j) score_tile<1>(q, k + j, ld, dh, lanes, scale, scores + j * kQ, sum, sum_n);

  const __m256 inv_sum = _mm256_div_ps(_mm256_set1_ps(1.0f), sum);
  for (j = 0; j < len; ++j)
    _mm256_store_ps(scores + j * kQ, normalized_exp_avx2(_mm256_load_ps(scores + j * kQ), inv_sum, sum_n));
  int d = 0;
  for (; d + 8 <= dh; d += 8) output_tile<8>(scores, v + d * ld, ld, len, lanes, nq, o.at(d, 0));
  for (; d < dh; ++d) output_tile<1>(scores, v + d * ld, ld, len, lanes, nq, o.at(d, 0));
}

}  // namespace

size_t attention_thread_bytes_fp32_avx2(const AttentionShape& s) {
  return sizeof(float) * size_t(s.seq_len) * kQ;
}

void attention_fp32_avx2(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads) {
  for_each_query_block<kQ>(a, workspace, thread_bytes, threads, query_block);
}

}  // namespace fastbert::detail
