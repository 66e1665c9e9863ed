// bf16 attention with AVX512-BF16: vdpbf16ps multiplies pairs of bf16 and
// accumulates in fp32, at twice the fp32 FMA rate. Per (batch, head) the
// thread packs the head once; scores and the softmax stay fp32, only the
// GEMM inputs are rounded to bf16.
//
// Layouts (each 32-bit lane holds a pair along the reduction dimension):
//   Q -> qp[d/2][query]  K -> kp[d/2][key]   (the same packing, Q scaled)
//   P -> pp[j/2][query]  V -> vp[j/2][d]
// so that every product broadcasts its scalar operand from one row of
// consecutive dwords (immediate offsets from one pointer) and loads its
// vector operand whole. The AMX path's layouts (Kᵀ rows per key, V rows per
// feature: attention_bf16_pack.h) cost this path a base register per
// broadcast row: the compiler spilled them and re-read pointers inside the
// inner loops; now each inner loop is one vector load and 16 broadcast +
// vdpbf16ps pairs from one pointer. Measured (Zen 4, 2 threads, B = 8,
// S = 128, 12 heads, u8 output, median of 7 runs of 50 calls, 4 runs each,
// interleaved with the previous layout): head_dim 32 0.730-0.744 ->
// 0.664-0.677 ms, head_dim 64 1.40-1.50 -> 1.29-1.33 ms, with the same
// output bytes. K needs no transpose any more; V takes the one K had.
//
// The softmax is the AMX path's: pass 1 keeps each query's max while the
// scores are computed, pass 2 forms each weight 2^(s - max) once (log2(e)
// is folded into Q with the scale), and the output is divided by the sum
// as it is stored.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "attention_kernels.h"
#include "../math/quantize_u8.h"
#include "attention_bf16_pack.h"

namespace fastbert::detail {

namespace {

constexpr int kQ = kBf16QueryBlock;

struct PairsHeadLayout {
  int dh_pairs;      // head_dim / 2
  int64_t stride;    // uint32 per qp and kp row: seq_len rounded up to 16
  int64_t v_rows;    // rows of vp: key pairs rounded up to 16 (zero tail)
  int64_t p_rows;    // rows of pp: key pairs
  size_t qp_bytes, kp_bytes, vp_bytes, scores_bytes, pp_bytes;

  explicit PairsHeadLayout(const AttentionShape& s) {
    dh_pairs = s.head_dim / 2;
    stride = round_up(s.seq_len, 16);
    p_rows = (s.seq_len + 1) / 2;
    v_rows = round_up(p_rows, 16);
    qp_bytes = kp_bytes = round_up_64(sizeof(uint32_t) * dh_pairs * stride);
    vp_bytes = round_up_64(sizeof(uint32_t) * v_rows * s.head_dim);
    scores_bytes = round_up_64(sizeof(float) * 2 * p_rows * kQ);
    pp_bytes = round_up_64(sizeof(uint32_t) * p_rows * kQ);
  }
  size_t total() const { return qp_bytes + kp_bytes + vp_bytes + scores_bytes + pp_bytes; }
};

struct PairsHeadBuffers {
  uint32_t* qp;
  uint32_t* kp;
  uint32_t* vp;
  float* scores;
  uint32_t* pp;
  PairsHeadBuffers(char* ws, const PairsHeadLayout& l)
      : qp(reinterpret_cast<uint32_t*>(ws)),
        kp(reinterpret_cast<uint32_t*>(ws + l.qp_bytes)),
        vp(reinterpret_cast<uint32_t*>(ws + l.qp_bytes + l.kp_bytes)),
        scores(reinterpret_cast<float*>(ws + l.qp_bytes + l.kp_bytes + l.vp_bytes)),
        pp(reinterpret_cast<uint32_t*>(ws + l.qp_bytes + l.kp_bytes + l.vp_bytes + l.scores_bytes)) {}
};

// dst[d/2][t] = (scale * src[d][t], scale * src[d+1][t]) for t < len, zeros
// up to the next multiple of 16.
FASTBERT_TARGET_AVX512_BF16 void pack_pairs_along_features(const float* src, int64_t ld, int dh_pairs, int len,
                                                          float scale, uint32_t* dst, int64_t stride) {
  const __m512 s = _mm512_set1_ps(scale);
  for (int dp = 0; dp < dh_pairs; ++dp) {
    const float* r0 = src + 2 * dp * ld;
    for (int t = 0; t < len; t += 16) {
      const __mmask16 m = bf16_lane_mask(len - t);
      _mm512_store_si512(dst + dp * stride + t, bf16_pairs(_mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, r0 + t)),
                                                           _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, r0 + ld + t))));
    }
  }
}

// 16 pairs (v[t], v[t+1]) of keys t = key0, key0 + 2, ... of one feature row,
// zero past len: vcvtne2ps2bf16 of two consecutive vectors already leaves
// adjacent keys adjacent.
FASTBERT_TARGET_AVX512_BF16 inline __m512i key_pairs_of_row(const float* row, int key0, int len) {
  const __m512 lo = _mm512_maskz_loadu_ps(bf16_lane_mask(len - key0), row + key0);
  const __m512 hi = _mm512_maskz_loadu_ps(bf16_lane_mask(len - key0 - 16), row + key0 + 16);
  return (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
}

// vp[j/2][d] = (V[d][j], V[d][j+1]); pairs past the keys are zeros (a padded
// key must add 0 * 0, never 0 * stale bits that may be NaN).
FASTBERT_TARGET_AVX512_BF16 void pack_v_pairs_along_keys(const float* v, int64_t ld, int dh, int len,
                                                        const PairsHeadLayout& lay, uint32_t* vp) {
  const int d_vector_end = dh / 16 * 16;
  for (int64_t jp0 = 0; jp0 < lay.v_rows; jp0 += 16) {
    const int key0 = int(2 * jp0);
    for (int d0 = 0; d0 < d_vector_end; d0 += 16) {
      __m512i r[16];
      for (int u = 0; u < 16; ++u) r[u] = key_pairs_of_row(v + (d0 + u) * ld, key0, len);
      transpose_16x16_epi32(r);
      for (int t = 0; t < 16; ++t) _mm512_storeu_si512(vp + (jp0 + t) * dh + d0, r[t]);
    }
    for (int d = d_vector_end; d < dh; ++d) {
      alignas(64) uint32_t pairs[16];
      _mm512_store_si512(pairs, key_pairs_of_row(v + d * ld, key0, len));
      for (int t = 0; t < 16; ++t) vp[(jp0 + t) * dh + d] = pairs[t];
    }
  }
}

// Scores of NK keys for the 16 queries (already scaled: the scale is in Q),
// stored as Sᵀ rows, and each query's running max. kp points at the first
// key of the tile in row 0.
template <int NK>
FASTBERT_TARGET_AVX512_BF16 inline void score_tile(const uint32_t* qp, const uint32_t* kp, int64_t stride,
                                                  int dh_pairs, float* scores, __m512& max_score) {
  __m512 c[NK];
  for (int r = 0; r < NK; ++r) c[r] = _mm512_setzero_ps();
  for (int dp = 0; dp < dh_pairs; ++dp) {
    const __m512bh qd = (__m512bh)_mm512_load_si512(qp + dp * stride);
    const uint32_t* k = kp + dp * stride;
    for (int r = 0; r < NK; ++r) c[r] = _mm512_dpbf16_ps(c[r], qd, (__m512bh)_mm512_set1_epi32(int(k[r])));
  }
  for (int r = 0; r < NK; ++r) {
    _mm512_store_ps(scores + r * kQ, c[r]);
    max_score = _mm512_max_ps(max_score, c[r]);
  }
}

// O rows d..d+ND of the 16 queries: the unnormalised weights times V, then
// divided by each query's sum (times inv_sum) as they are stored. vp points
// at feature d of key pair 0.
template <int ND>
FASTBERT_TARGET_AVX512_BF16 inline void output_tile(const uint32_t* pp, const uint32_t* vp, int dh, int pairs,
                                                   __mmask16 lanes, __m512 inv_sum, const AttentionOutput& o) {
  __m512 c[ND];
  for (int r = 0; r < ND; ++r) c[r] = _mm512_setzero_ps();
  for (int jp = 0; jp < pairs; ++jp) {
    const __m512bh pj = (__m512bh)_mm512_load_si512(pp + jp * kQ);
    const uint32_t* v = vp + int64_t(jp) * dh;
    for (int r = 0; r < ND; ++r) c[r] = _mm512_dpbf16_ps(c[r], pj, (__m512bh)_mm512_set1_epi32(int(v[r])));
  }
  const __m512 inv_scale = _mm512_set1_ps(o.inv_scale);
  const __m512i zero_point = _mm512_set1_epi32(o.zero_point);
  for (int r = 0; r < ND; ++r) {
    const __m512 y = _mm512_mul_ps(c[r], inv_sum);
    if (o.f32) _mm512_mask_storeu_ps(o.f32 + r * o.ld_f32, lanes, y);
    if (o.u8) store_quantized_u8_avx512(o.u8 + r * o.ld_u8, lanes, y, inv_scale, zero_point);
  }
}

FASTBERT_TARGET_AVX512_BF16 void query_block(const PairsHeadLayout& lay, int dh, const uint32_t* qp,
                                            const PairsHeadBuffers& buf, const AttentionOutput& o, int len, int nq) {
  const __mmask16 lanes = bf16_lane_mask(nq);
  // Two max chains, so that vmaxps latency does not serialise the key tiles.
  __m512 max_a = _mm512_set1_ps(-INFINITY), max_b = max_a;
  const int dhp = lay.dh_pairs;
  const int64_t st = lay.stride;
  float* scores = buf.scores;

  int j = 0;
  for (; j + 32 <= len; j += 32) {
    score_tile<16>(qp, buf.kp + j, st, dhp, scores + j * kQ, max_a);
    score_tile<16>(qp, buf.kp + j + 16, st, dhp, scores + (j + 16) * kQ, max_b);
  }
  for (; j + 16 <= len; j += 16) score_tile<16>(qp, buf.kp + j, st, dhp, scores + j * kQ, max_a);
  for (; j + 4 <= len; j += 4) score_tile<4>(qp, buf.kp + j, st, dhp, scores + j * kQ, max_b);
  for (; j < len; ++j) score_tile<1>(qp, buf.kp + j, st, dhp, scores + j * kQ, max_a);

  const int pairs = (len + 1) / 2;
  const __m512 sum = exp_to_bf16_pairs(scores, len, _mm512_max_ps(max_a, max_b), buf.pp, pairs);
  const __m512 inv_sum = _mm512_div_ps(_mm512_set1_ps(1.0f), sum);
  int d = 0;
  for (; d + 16 <= dh; d += 16) output_tile<16>(buf.pp, buf.vp + d, dh, pairs, lanes, inv_sum, o.at(d, 0));
  for (; d + 4 <= dh; d += 4) output_tile<4>(buf.pp, buf.vp + d, dh, pairs, lanes, inv_sum, o.at(d, 0));
  for (; d < dh; ++d) output_tile<1>(buf.pp, buf.vp + d, dh, pairs, lanes, inv_sum, o.at(d, 0));
}

}  // namespace

size_t attention_thread_bytes_bf16_avx512bf16(const AttentionShape& s) { return PairsHeadLayout(s).total(); }

void attention_bf16_avx512bf16(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads) {
  const AttentionShape& s = a.shape;
  const PairsHeadLayout lay(s);
  const int dh = s.head_dim;
#pragma omp parallel num_threads(threads)
  {
    const PairsHeadBuffers buf(workspace + thread_bytes * size_t(omp_get_thread_num()), lay);
    for_each_head_in_team(a, [&](int len, int64_t t0, int64_t rows) {
      const int64_t in = rows * a.ld_in + t0;
      pack_pairs_along_features(a.q + in, a.ld_in, lay.dh_pairs, len, a.scale * kLog2e, buf.qp, lay.stride);
      pack_pairs_along_features(a.k + in, a.ld_in, lay.dh_pairs, len, 1.0f, buf.kp, lay.stride);
      pack_v_pairs_along_keys(a.v + in, a.ld_in, dh, len, lay, buf.vp);
      for (int i0 = 0; i0 < len; i0 += kQ)
        query_block(lay, dh, buf.qp + i0, buf, AttentionOutput::of(a).at(rows, t0 + i0), len, std::min(kQ, len - i0));
    });
  }
}

}  // namespace fastbert::detail
