#pragma once
// The AMX path's packing of one (batch, head) into bf16 "VNNI" pairs (each
// 32-bit lane holds two bf16 along the reduction dimension), and the pieces
// both bf16 paths share (pair conversion, the 16x16 transpose, the softmax
// pass that writes P). The vdpbf16ps path packs K and V its own way
// (attention_bf16_avx512bf16.cpp says why):
//   Q  -> qp[d/2][query]  pairs (Q[d][i], Q[d+1][i])
//   K  -> kt[key][d]      Kᵀ: (K[d][j], K[d+1][j]) adjacent
//   V  -> vb[d][key]      V's own layout: (V[d][j], V[d][j+1]) adjacent
//   P  -> pp[j/2][query]  pairs (P[j][i], P[j+1][i]), written by softmax pass 2
// and the softmax passes over an fp32 score block Sᵀ[key][16 queries].
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../math/exp_split_avx512f.h"
#include "attention_kernels.h"
#include "../target.h"


namespace fastbert::detail {

constexpr int kBf16QueryBlock = kAttentionQueryBlockAvx512;

struct Bf16HeadLayout {
  int dh_pairs;       // head_dim / 2
  int64_t q_stride;   // uint32 pairs per qp row: seq_len rounded up to 16
  int64_t key_rows;   // rows of kt and of the score block: seq_len rounded up to key_align
  int64_t v_stride;   // bf16 per vb row: seq_len rounded up to key_align (zero tail)
  int64_t p_rows;     // uint32 rows of pp: key_rows / 2 (zero tail)
  size_t qp_bytes, kt_bytes, vb_bytes, scores_bytes, pp_bytes;

  // key_align: 32 for AMX (one tile's K dimension).
  Bf16HeadLayout(const AttentionShape& s, int key_align) {
    dh_pairs = s.head_dim / 2;
    q_stride = (s.seq_len + kBf16QueryBlock - 1) / kBf16QueryBlock * kBf16QueryBlock;
    key_rows = (s.seq_len + key_align - 1) / key_align * key_align;
    v_stride = key_rows;
    p_rows = key_rows / 2;
    qp_bytes = round_up_64(sizeof(uint32_t) * dh_pairs * q_stride);
    kt_bytes = round_up_64(sizeof(uint16_t) * key_rows * s.head_dim);
    vb_bytes = round_up_64(sizeof(uint16_t) * s.head_dim * v_stride);
    scores_bytes = round_up_64(sizeof(float) * key_rows * kBf16QueryBlock);
    pp_bytes = round_up_64(sizeof(uint32_t) * p_rows * kBf16QueryBlock);
  }
  size_t total() const { return qp_bytes + kt_bytes + vb_bytes + scores_bytes + pp_bytes; }
};

struct Bf16HeadBuffers {
  uint32_t* qp;
  uint32_t* kt;  // as pairs: kt[key * dh_pairs + d/2]
  uint16_t* vb;
  float* scores;
  uint32_t* pp;
  Bf16HeadBuffers(char* ws, const Bf16HeadLayout& l)
      : qp(reinterpret_cast<uint32_t*>(ws)),
        kt(reinterpret_cast<uint32_t*>(ws + l.qp_bytes)),
        vb(reinterpret_cast<uint16_t*>(ws + l.qp_bytes + l.kt_bytes)),
        scores(reinterpret_cast<float*>(ws + l.qp_bytes + l.kt_bytes + l.vb_bytes)),
        pp(reinterpret_cast<uint32_t*>(ws + l.qp_bytes + l.kt_bytes + l.vb_bytes + l.scores_bytes)) {}
};

// 16 pairs (lo[i], hi[i]) rounded to bf16 (nearest even), lo in the low half:
// one conversion of both vectors, then one word permutation to interleave.
FASTBERT_TARGET_AVX512_BF16 inline __m512i bf16_pairs(__m512 lo, __m512 hi) {
  const __m512i interleave = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                              22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(interleave, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

FASTBERT_TARGET_AVX512BW inline __mmask16 bf16_lane_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}

// In-register transpose of a 16x16 block of 32-bit elements (rows r[0..15]).
FASTBERT_TARGET_AVX512BW inline void transpose_16x16_epi32(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_i32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_i32x4(r[i + 8], r[i + 12], 0xDD);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_i32x4(t[i], t[i + 8], 0xDD);
    r[i + 4] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0x88);
    r[i + 12] = _mm512_shuffle_i32x4(t[i + 4], t[i + 12], 0xDD);
  }
}

// Keys len .. v_stride of vb are written as zeros: a padded key must add
// 0 * 0, never 0 * (stale bits that may be NaN).
FASTBERT_TARGET_AVX512_BF16 inline void pack_bf16_head(const float* q, const float* k, const float* v, int64_t ld,
                                                      int dh, int len, const Bf16HeadLayout& lay,
                                                      const Bf16HeadBuffers& buf, float q_scale = 1.0f) {
  // q_scale folds the score scale into Q (exact for BERT's 1/8).
  const __m512 qs = _mm512_set1_ps(q_scale);
  for (int dp = 0; dp < lay.dh_pairs; ++dp) {
    const float* q0 = q + 2 * dp * ld;
    for (int i = 0; i < len; i += 16) {
      const __mmask16 m = bf16_lane_mask(len - i);
      _mm512_store_si512(buf.qp + dp * lay.q_stride + i,
                         bf16_pairs(_mm512_mul_ps(qs, _mm512_maskz_loadu_ps(m, q0 + i)),
                                    _mm512_mul_ps(qs, _mm512_maskz_loadu_ps(m, q0 + ld + i))));
    }
  }
  // Kᵀ in 16 keys x 16 d-pairs blocks transposed in registers; a head_dim
  // that is not a multiple of 32 takes the scalar scatter for its last pairs.
  const int dp_vector_end = lay.dh_pairs / 16 * 16;
  for (int i = 0; i < len; i += 16) {
    const __mmask16 m = bf16_lane_mask(len - i);
    const int n = std::min(16, len - i);
    for (int dp0 = 0; dp0 < dp_vector_end; dp0 += 16) {
      __m512i r[16];
      for (int u = 0; u < 16; ++u) {
        const float* k0 = k + 2 * (dp0 + u) * ld + i;
        r[u] = bf16_pairs(_mm512_maskz_loadu_ps(m, k0), _mm512_maskz_loadu_ps(m, k0 + ld));
      }
      transpose_16x16_epi32(r);
      for (int t = 0; t < n; ++t) _mm512_storeu_si512(buf.kt + int64_t(i + t) * lay.dh_pairs + dp0, r[t]);
    }
    for (int dp = dp_vector_end; dp < lay.dh_pairs; ++dp) {
      const float* k0 = k + 2 * dp * ld + i;
      alignas(64) uint32_t pairs[16];
      _mm512_store_si512(pairs, bf16_pairs(_mm512_maskz_loadu_ps(m, k0), _mm512_maskz_loadu_ps(m, k0 + ld)));
      for (int t = 0; t < n; ++t) buf.kt[int64_t(i + t) * lay.dh_pairs + dp] = pairs[t];
    }
  }
  for (int d = 0; d < dh; ++d) {
    uint16_t* row = buf.vb + d * lay.v_stride;
    for (int64_t j = 0; j < lay.v_stride; j += 16) {
      const __mmask16 load = bf16_lane_mask(len - j);
      const __mmask16 store = bf16_lane_mask(lay.v_stride - j);
      _mm256_mask_storeu_epi16(row + j, store, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(load, v + d * ld + j)));
    }
  }
}

// Scores are in log2 units (log2(e) was folded into Q with the scale), so
// the weights are 2^(s - max) = e^(scale·q·k - max).
// 2^(s - max) of keys 0..len as bf16 pairs, zero for the padded pairs up to
// pad_pairs; returns the sum of the fp32 weights. (Summing the bf16-rounded
// weights, exactly what P·V multiplies, cost 2 more operations per pair and
// 6-12 % of the attention time at 384 keys; the rounding errors of the
// weights are unbiased and cancel in the sum.)
FASTBERT_TARGET_AVX512_BF16 inline __m512 exp_to_bf16_pairs(const float* scores, int len, __m512 max_score, uint32_t* pp,
                                                    int pad_pairs) {
  __m512 sum = _mm512_setzero_ps(), sum_hi = _mm512_setzero_ps();
  const int pairs = (len + 1) / 2;
  for (int jp = 0; jp < pairs; ++jp) {
    const __m512 p0 = exp2_bf16_accuracy_avx512f(_mm512_sub_ps(_mm512_load_ps(scores + 2 * jp * kBf16QueryBlock), max_score));
    const __m512 p1 = 2 * jp + 1 < len
                          ? exp2_bf16_accuracy_avx512f(_mm512_sub_ps(_mm512_load_ps(scores + (2 * jp + 1) * kBf16QueryBlock), max_score))
                          : _mm512_setzero_ps();
    _mm512_store_si512(pp + jp * kBf16QueryBlock, bf16_pairs(p0, p1));
    // Two sums, so the adds do not wait on each other.
    sum = _mm512_add_ps(sum, p0);
    sum_hi = _mm512_add_ps(sum_hi, p1);
  }
  sum = _mm512_add_ps(sum, sum_hi);
  for (int jp = pairs; jp < pad_pairs; ++jp) _mm512_store_si512(pp + jp * kBf16QueryBlock, _mm512_setzero_si512());
  return sum;
}


}  // namespace fastbert::detail
