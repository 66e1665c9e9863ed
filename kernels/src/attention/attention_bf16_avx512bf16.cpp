// bf16 attention with AVX512-BF16: vdpbf16ps multiplies pairs of bf16 and
// accumulates in fp32, at twice the fp32 FMA rate. Per (batch, head) the
// thread first packs the head into the layouts the instruction wants (each
// 32-bit lane holds a pair along the reduction dimension):
//   Q  -> qp[d/2][query]  pairs (Q[d][i], Q[d+1][i])   read as vectors
//   K  -> kt[key][d]      Kᵀ, so (K[d][j], K[d+1][j]) is one 32-bit broadcast
//   V  -> vb[d][key]      V's own layout, (V[d][j], V[d][j+1]) is a broadcast
//   P  -> pp[j/2][query]  pairs (P[j][i], P[j+1][i]), written by softmax pass 2
// Scores and the softmax stay fp32; only the GEMM inputs are rounded to bf16.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "attention_kernels.h"
#include "../math/exp_split_avx512f.h"

#define FASTBERT_TARGET_AVX512BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace fastbert::detail {

namespace {

constexpr int kQ = kAttentionQueryBlockAvx512;

struct HeadLayout {
  int dh_pairs;       // head_dim / 2
  int64_t q_stride;   // uint32 pairs per qp row: seq_len rounded up to kQ
  int64_t v_stride;   // bf16 per vb row: seq_len rounded up to even
  size_t qp_bytes, kt_bytes, vb_bytes, scores_bytes, pp_bytes;

  explicit HeadLayout(const AttentionShape& s) {
    dh_pairs = s.head_dim / 2;
    q_stride = (s.seq_len + kQ - 1) / kQ * kQ;
    v_stride = (s.seq_len + 1) / 2 * 2;
    qp_bytes = round_up_64(sizeof(uint32_t) * dh_pairs * q_stride);
    kt_bytes = round_up_64(sizeof(uint16_t) * s.seq_len * s.head_dim);
    vb_bytes = round_up_64(sizeof(uint16_t) * s.head_dim * v_stride);
    scores_bytes = round_up_64(sizeof(float) * s.seq_len * kQ);
    pp_bytes = round_up_64(sizeof(uint32_t) * (v_stride / 2) * kQ);
  }
  size_t total() const { return qp_bytes + kt_bytes + vb_bytes + scores_bytes + pp_bytes; }
};

// 16 pairs (lo[i], hi[i]) rounded to bf16 (nearest even), lo in the low half.
FASTBERT_TARGET_AVX512BF16 inline __m512i bf16_pairs(__m512 lo, __m512 hi) {
  const __m512i l = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(lo));
  const __m512i h = _mm512_cvtepu16_epi32((__m256i)_mm512_cvtneps_pbh(hi));
  return _mm512_or_si512(l, _mm512_slli_epi32(h, 16));
}

FASTBERT_TARGET_AVX512BF16 inline __mmask16 lane_mask(int n) {
  return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
}

FASTBERT_TARGET_AVX512BF16 void pack_head(const float* q, const float* k, const float* v, int64_t ld, int dh,
                                          int len, const HeadLayout& lay, uint32_t* qp, uint32_t* kt,
                                          uint16_t* vb) {
  for (int dp = 0; dp < lay.dh_pairs; ++dp) {
    const float* q0 = q + 2 * dp * ld;
    const float* k0 = k + 2 * dp * ld;
    for (int i = 0; i < len; i += 16) {
      const __mmask16 m = lane_mask(len - i);
      _mm512_store_si512(qp + dp * lay.q_stride + i,
                         bf16_pairs(_mm512_maskz_loadu_ps(m, q0 + i), _mm512_maskz_loadu_ps(m, q0 + ld + i)));
      alignas(64) uint32_t pairs[16];
      _mm512_store_si512(pairs, bf16_pairs(_mm512_maskz_loadu_ps(m, k0 + i), _mm512_maskz_loadu_ps(m, k0 + ld + i)));
      const int n = std::min(16, len - i);
      for (int t = 0; t < n; ++t) kt[int64_t(i + t) * lay.dh_pairs + dp] = pairs[t];
    }
  }
  for (int d = 0; d < dh; ++d) {
    for (int j = 0; j < len; j += 16) {
      const __mmask16 m = lane_mask(len - j);
      _mm256_mask_storeu_epi16(vb + d * lay.v_stride + j, m,
                               (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, v + d * ld + j)));
    }
    if (len % 2) vb[d * lay.v_stride + len] = 0;
  }
}

template <int NK>
FASTBERT_TARGET_AVX512BF16 inline void score_tile(const uint32_t* qp, int64_t q_stride, const uint32_t* kt,
                                                  int dh_pairs, __m512 scale, float* scores, __m512& sum,
                                                  __m512& sum_n) {
  __m512 c[NK];
  for (int r = 0; r < NK; ++r) c[r] = _mm512_setzero_ps();
  for (int dp = 0; dp < dh_pairs; ++dp) {
    const __m512bh qd = (__m512bh)_mm512_load_si512(qp + dp * q_stride);
    for (int r = 0; r < NK; ++r)
      c[r] = _mm512_dpbf16_ps(c[r], qd, (__m512bh)_mm512_set1_epi32(int(kt[r * dh_pairs + dp])));
  }
  for (int r = 0; r < NK; ++r) {
    const __m512 x = _mm512_mul_ps(c[r], scale);
    _mm512_store_ps(scores + r * kQ, x);
    accumulate_exp_split_avx512f(exp_split_avx512f(x), sum, sum_n);
  }
}

template <int ND>
FASTBERT_TARGET_AVX512BF16 inline void output_tile(const uint32_t* pp, const uint16_t* vb, int64_t v_stride,
                                                   int pairs, __mmask16 lanes, float* o, int64_t ld_out) {
  __m512 c[ND];
  for (int r = 0; r < ND; ++r) c[r] = _mm512_setzero_ps();
  for (int jp = 0; jp < pairs; ++jp) {
    const __m512bh pj = (__m512bh)_mm512_load_si512(pp + jp * kQ);
    for (int r = 0; r < ND; ++r) {
      const uint32_t vv = *reinterpret_cast<const uint32_t*>(vb + r * v_stride + 2 * jp);
      c[r] = _mm512_dpbf16_ps(c[r], pj, (__m512bh)_mm512_set1_epi32(int(vv)));
    }
  }
  for (int r = 0; r < ND; ++r) _mm512_mask_storeu_ps(o + r * ld_out, lanes, c[r]);
}

FASTBERT_TARGET_AVX512BF16 void query_block(const HeadLayout& lay, int dh, float scale_value, const uint32_t* qp,
                                            const uint32_t* kt, const uint16_t* vb, float* o, int64_t ld_out,
                                            int len, int nq, float* scores, uint32_t* pp) {
  const __mmask16 lanes = lane_mask(nq);
  const __m512 scale = _mm512_set1_ps(scale_value);
  __m512 sum = _mm512_setzero_ps();
  __m512 sum_n = _mm512_set1_ps(-INFINITY);
  const int dhp = lay.dh_pairs;
  const int64_t qs = lay.q_stride;

  int j = 0;
  for (; j + 16 <= len; j += 16) score_tile<16>(qp, qs, kt + j * dhp, dhp, scale, scores + j * kQ, sum, sum_n);
  for (; j + 4 <= len; j += 4) score_tile<4>(qp, qs, kt + j * dhp, dhp, scale, scores + j * kQ, sum, sum_n);
  for (; j < len; ++j) score_tile<1>(qp, qs, kt + j * dhp, dhp, scale, scores + j * kQ, sum, sum_n);

  const __m512 inv_sum = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
  const int pairs = (len + 1) / 2;
  for (int jp = 0; jp < pairs; ++jp) {
    const __m512 p0 = normalized_exp_avx512f(_mm512_load_ps(scores + 2 * jp * kQ), inv_sum, sum_n);
    const __m512 p1 = 2 * jp + 1 < len
                          ? normalized_exp_avx512f(_mm512_load_ps(scores + (2 * jp + 1) * kQ), inv_sum, sum_n)
                          : _mm512_setzero_ps();
    _mm512_store_si512(pp + jp * kQ, bf16_pairs(p0, p1));
  }
  int d = 0;
  const int64_t vs = lay.v_stride;
  for (; d + 16 <= dh; d += 16) output_tile<16>(pp, vb + d * vs, vs, pairs, lanes, o + d * ld_out, ld_out);
  for (; d + 4 <= dh; d += 4) output_tile<4>(pp, vb + d * vs, vs, pairs, lanes, o + d * ld_out, ld_out);
  for (; d < dh; ++d) output_tile<1>(pp, vb + d * vs, vs, pairs, lanes, o + d * ld_out, ld_out);
}

}  // namespace

size_t attention_thread_bytes_bf16_avx512bf16(const AttentionShape& s) { return HeadLayout(s).total(); }

void attention_bf16_avx512bf16(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads) {
  const AttentionShape& s = a.shape;
  const HeadLayout lay(s);
  const int dh = s.head_dim;
  // One task per (batch, head): the packed head is reused by all its query
  // blocks while it is hot in L2.
#pragma omp parallel for collapse(2) schedule(dynamic) num_threads(threads)
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      const int len = valid_length(a, b);
      if (len == 0) continue;
      char* ws = workspace + thread_bytes * size_t(omp_get_thread_num());
      auto* qp = reinterpret_cast<uint32_t*>(ws);
      auto* kt = reinterpret_cast<uint32_t*>(ws + lay.qp_bytes);
      auto* vb = reinterpret_cast<uint16_t*>(ws + lay.qp_bytes + lay.kt_bytes);
      auto* scores = reinterpret_cast<float*>(ws + lay.qp_bytes + lay.kt_bytes + lay.vb_bytes);
      auto* pp = reinterpret_cast<uint32_t*>(ws + lay.qp_bytes + lay.kt_bytes + lay.vb_bytes + lay.scores_bytes);
      const int64_t t0 = int64_t(b) * s.seq_len;
      const int64_t rows = int64_t(h) * dh;
      pack_head(a.q + rows * a.ld_in + t0, a.k + rows * a.ld_in + t0, a.v + rows * a.ld_in + t0, a.ld_in, dh, len,
                lay, qp, kt, vb);
      for (int i0 = 0; i0 < len; i0 += kQ)
        query_block(lay, dh, a.scale, qp + i0, kt, vb, a.out + rows * a.ld_out + t0 + i0, a.ld_out, len,
                    std::min(kQ, len - i0), scores, pp);
    }
  }
}

}  // namespace fastbert::detail
