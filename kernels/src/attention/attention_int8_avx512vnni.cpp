// int8 attention with AVX512-VNNI: Q·Kᵀ and P·V as vpdpbusd (u8 x s8 quads,
// int32 sums), which multiplies 4 pairs per lane where vdpbf16ps multiplies
// 2. Per (batch, head) the thread quantizes the head once, symmetric, with
// the head's own scales (max |x| / 127 of Q, K and V over its valid tokens):
//   Q -> qq[d/4][query]  u8 = s8 + 128     K -> kq[d/4][key]  s8
//   P -> pq[j/4][query]  u8 = round(255 p) V -> vq[j/4][d]    s8
// (one dword holds 4 bytes along the reduction dimension). Q's +128 makes it
// unsigned for vpdpbusd; each key's score starts from -128 · Σ_d K8[d][key]
// to take it back out, so the int32 sum is exactly Σ Q8·K8.
//
// The softmax is the bf16 paths': scores in log2 units (log2(e) and the
// score scale are folded into the dequantization factor), pass 1 keeps each
// query's max, pass 2 forms 2^(s - max) in (0, 1] once and rounds it to
// u8 (the max weighs 255). The output is divided by the sum of those u8
// weights, so the weights P·V multiplies sum to exactly 1.
//
// Why int8 (measured on Zen 4, 2 threads, B = 8, S = 128, 12 heads, u8
// output, 3 interleaved runs of 7 x 50 calls against the vdpbf16ps path):
// head_dim 32 0.53-0.55 ms against 0.66-0.71, head_dim 64 0.95-1.17 against
// 1.30-1.43. A MiniLM-shaped 90 % sparse int8 model at batch 8 went from
// 3.12x to 3.52-3.71x its dense int8 (bench/results/model_sparsity.json).
// Accuracy: the full-data MiniLM teacher, int8 export, dev.json (1,746
// questions, seq 256): F1 78.78 / EM 68.90 with this path, 78.86 / 68.90
// with bf16 attention, 78.91 / 68.84 with fp32.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "attention_kernels.h"
#include "../math/exp_split_avx512f.h"
#include "../math/quantize_u8.h"
#include "attention_bf16_pack.h"
#include "../target.h"

namespace fastbert::detail {

namespace {

constexpr int kQ = kAttentionQueryBlockAvx512;

struct QuadsHeadLayout {
  int dh_quads;     // head_dim / 4
  int64_t stride;   // dwords per qq and kq row: seq_len rounded up to 16
  int64_t p_rows;   // rows of pq: key quads
  int64_t v_rows;   // rows of vq: key quads rounded up to 16 (zero tail)
  size_t qq_bytes, kq_bytes, comp_bytes, vq_bytes, scores_bytes, pq_bytes;

  explicit QuadsHeadLayout(const AttentionShape& s) {
    dh_quads = s.head_dim / 4;
    stride = round_up(s.seq_len, 16);
    p_rows = (s.seq_len + 3) / 4;
    v_rows = round_up(p_rows, 16);
    qq_bytes = kq_bytes = round_up_64(sizeof(uint32_t) * dh_quads * stride);
    comp_bytes = round_up_64(sizeof(int32_t) * stride);
    vq_bytes = round_up_64(sizeof(uint32_t) * v_rows * s.head_dim);
    scores_bytes = round_up_64(sizeof(float) * 4 * p_rows * kQ);
    pq_bytes = round_up_64(sizeof(uint32_t) * p_rows * kQ);
  }
  size_t total() const { return qq_bytes + kq_bytes + comp_bytes + vq_bytes + scores_bytes + pq_bytes; }
};

struct QuadsHeadBuffers {
  uint32_t* qq;
  uint32_t* kq;
  int32_t* comp;  // -128 · Σ_d K8[d][key]
  uint32_t* vq;
  float* scores;
  uint32_t* pq;
  QuadsHeadBuffers(char* ws, const QuadsHeadLayout& l) {
    qq = reinterpret_cast<uint32_t*>(ws);
    kq = reinterpret_cast<uint32_t*>(ws += l.qq_bytes);
    comp = reinterpret_cast<int32_t*>(ws += l.kq_bytes);
    vq = reinterpret_cast<uint32_t*>(ws += l.comp_bytes);
    scores = reinterpret_cast<float*>(ws += l.vq_bytes);
    pq = reinterpret_cast<uint32_t*>(ws += l.scores_bytes);
  }
};

// max |x| over rows 0..rows of x[row][0..len].
FASTBERT_TARGET_AVX512_VNNI float max_abs(const float* x, int64_t ld, int rows, int len) {
  __m512 m = _mm512_setzero_ps();
  for (int r = 0; r < rows; ++r)
    for (int t = 0; t < len; t += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_maskz_loadu_ps(bf16_lane_mask(len - t), x + r * ld + t)));
  return _mm512_reduce_max_ps(m);
}

// round(x / scale) as int32 in -127..127 (|x| <= 127 · scale by construction;
// the clamp only guards the last rounding).
FASTBERT_TARGET_AVX512_VNNI inline __m512i quantize_s8_lanes(__m512 x, __m512 inv_scale) {
  const __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(x, inv_scale));
  return _mm512_min_epi32(_mm512_max_epi32(q, _mm512_set1_epi32(-127)), _mm512_set1_epi32(127));
}

// Four int32 byte values per lane into one dword: b0 | b1 << 8 | b2 << 16 | b3 << 24.
FASTBERT_TARGET_AVX512_VNNI inline __m512i quad_of(__m512i b0, __m512i b1, __m512i b2, __m512i b3) {
  const __m512i low = _mm512_set1_epi32(0xFF);
  const __m512i lo = _mm512_or_si512(_mm512_and_si512(b0, low), _mm512_slli_epi32(_mm512_and_si512(b1, low), 8));
  const __m512i hi = _mm512_or_si512(_mm512_slli_epi32(_mm512_and_si512(b2, low), 16), _mm512_slli_epi32(b3, 24));
  return _mm512_or_si512(lo, hi);
}

// dst[d/4][t] = quads of round(src[d..d+3][t] / scale) (+ 128 when add_128),
// zero (or 128) past len up to the next multiple of 16.
FASTBERT_TARGET_AVX512_VNNI void pack_quads_along_features(const float* src, int64_t ld, int dh_quads, int len,
                                                          float scale, bool add_128, uint32_t* dst, int64_t stride) {
  const __m512 inv = _mm512_set1_ps(1.0f / scale);
  const __m512i offset = _mm512_set1_epi32(add_128 ? 128 : 0);
  for (int dq = 0; dq < dh_quads; ++dq) {
    const float* r0 = src + 4 * dq * ld;
    for (int t = 0; t < len; t += 16) {
      const __mmask16 m = bf16_lane_mask(len - t);
      __m512i b[4];
      for (int u = 0; u < 4; ++u)
        b[u] = _mm512_add_epi32(quantize_s8_lanes(_mm512_maskz_loadu_ps(m, r0 + u * ld + t), inv), offset);
      _mm512_store_si512(dst + dq * stride + t, quad_of(b[0], b[1], b[2], b[3]));
    }
  }
}

// comp[key] = -128 · Σ_d K8[d][key], from the packed quads (vpdpbusd of
// bytes 1 with the s8 quads sums each quad).
FASTBERT_TARGET_AVX512_VNNI void key_compensation(const uint32_t* kq, int dh_quads, int len, int64_t stride,
                                                 int32_t* comp) {
  const __m512i ones = _mm512_set1_epi8(1);
  for (int t = 0; t < len; t += 16) {
    __m512i s = _mm512_setzero_si512();
    for (int dq = 0; dq < dh_quads; ++dq) s = _mm512_dpbusd_epi32(s, ones, _mm512_load_si512(kq + dq * stride + t));
    _mm512_store_si512(comp + t, _mm512_mullo_epi32(s, _mm512_set1_epi32(-128)));
  }
}

// 16 quads of keys key0 .. key0 + 63 of one feature row, s8, zero past len.
FASTBERT_TARGET_AVX512_VNNI inline __m512i key_quads_of_row(const float* row, int key0, int len, __m512 inv) {
  __m128i b[4];
  for (int u = 0; u < 4; ++u) {
    const int k = key0 + 16 * u;
    b[u] = _mm512_cvtepi32_epi8(quantize_s8_lanes(_mm512_maskz_loadu_ps(bf16_lane_mask(len - k), row + k), inv));
  }
  const __m512i v = _mm512_castsi128_si512(b[0]);
  return _mm512_inserti64x4(_mm512_inserti32x4(v, b[1], 1),
                            _mm256_inserti128_si256(_mm256_castsi128_si256(b[2]), b[3], 1), 1);
}

// vq[j/4][d] = quads of V8[d][j..j+3]; quads past the keys are zeros.
FASTBERT_TARGET_AVX512_VNNI void pack_v_quads_along_keys(const float* v, int64_t ld, int dh, int len, float scale,
                                                        const QuadsHeadLayout& lay, uint32_t* vq) {
  const __m512 inv = _mm512_set1_ps(1.0f / scale);
  const int d_vector_end = dh / 16 * 16;
  for (int64_t jq0 = 0; jq0 < lay.v_rows; jq0 += 16) {
    const int key0 = int(4 * jq0);
    for (int d0 = 0; d0 < d_vector_end; d0 += 16) {
      __m512i r[16];
      for (int u = 0; u < 16; ++u) r[u] = key_quads_of_row(v + (d0 + u) * ld, key0, len, inv);
      transpose_16x16_epi32(r);
      for (int t = 0; t < 16; ++t) _mm512_storeu_si512(vq + (jq0 + t) * dh + d0, r[t]);
    }
    for (int d = d_vector_end; d < dh; ++d) {
      alignas(64) uint32_t quads[16];
      _mm512_store_si512(quads, key_quads_of_row(v + d * ld, key0, len, inv));
      for (int t = 0; t < 16; ++t) vq[(jq0 + t) * dh + d] = quads[t];
    }
  }
}

// Scores of NK keys for the 16 queries, in log2 units (times alpha), stored
// as Sᵀ rows, and each query's running max. kq and comp point at the tile's
// first key.
template <int NK>
FASTBERT_TARGET_AVX512_VNNI inline void score_tile(const uint32_t* qq, const uint32_t* kq, const int32_t* comp,
                                                  int64_t stride, int dh_quads, __m512 alpha, float* scores,
                                                  __m512& max_score) {
  __m512i c[NK];
  for (int r = 0; r < NK; ++r) c[r] = _mm512_set1_epi32(comp[r]);
  for (int dq = 0; dq < dh_quads; ++dq) {
    const __m512i qd = _mm512_load_si512(qq + dq * stride);
    const uint32_t* k = kq + dq * stride;
    for (int r = 0; r < NK; ++r) c[r] = _mm512_dpbusd_epi32(c[r], qd, _mm512_set1_epi32(int(k[r])));
  }
  for (int r = 0; r < NK; ++r) {
    const __m512 s = _mm512_mul_ps(_mm512_cvtepi32_ps(c[r]), alpha);
    _mm512_store_ps(scores + r * kQ, s);
    max_score = _mm512_max_ps(max_score, s);
  }
}

// u8 weights round(255 · 2^(s - max)) of keys 0..len as quads, zero for the
// keys up to the next quad; returns their sum.
FASTBERT_TARGET_AVX512_VNNI inline __m512i exp_to_u8_quads(const float* scores, int len, __m512 max_score,
                                                          uint32_t* pq) {
  __m512i sum = _mm512_setzero_si512();
  const __m512 full = _mm512_set1_ps(255.0f);
  const int quads = (len + 3) / 4;
  for (int jq = 0; jq < quads; ++jq) {
    __m512i w[4];
    for (int u = 0; u < 4; ++u) {
      const int j = 4 * jq + u;
      w[u] = j < len ? _mm512_cvtps_epi32(_mm512_mul_ps(
                           full, exp2_bf16_accuracy_avx512f(_mm512_sub_ps(_mm512_load_ps(scores + j * kQ), max_score))))
                     : _mm512_setzero_si512();
      sum = _mm512_add_epi32(sum, w[u]);
    }
    _mm512_store_si512(pq + jq * kQ, quad_of(w[0], w[1], w[2], w[3]));
  }
  return sum;
}

// O rows d..d+ND of the 16 queries: the u8 weights times V8, times factor
// (V's scale over each query's weight sum) as they are stored. vq points at
// feature d of key quad 0.
template <int ND>
FASTBERT_TARGET_AVX512_VNNI inline void output_tile(const uint32_t* pq, const uint32_t* vq, int dh, int quads,
                                                   __mmask16 lanes, __m512 factor, const AttentionOutput& o) {
  __m512i c[ND];
  for (int r = 0; r < ND; ++r) c[r] = _mm512_setzero_si512();
  for (int jq = 0; jq < quads; ++jq) {
    const __m512i pj = _mm512_load_si512(pq + jq * kQ);
    const uint32_t* v = vq + int64_t(jq) * dh;
    for (int r = 0; r < ND; ++r) c[r] = _mm512_dpbusd_epi32(c[r], pj, _mm512_set1_epi32(int(v[r])));
  }
  const __m512 inv_scale = _mm512_set1_ps(o.inv_scale);
  const __m512i zero_point = _mm512_set1_epi32(o.zero_point);
  for (int r = 0; r < ND; ++r) {
    const __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(c[r]), factor);
    if (o.f32) _mm512_mask_storeu_ps(o.f32 + r * o.ld_f32, lanes, y);
    if (o.u8) store_quantized_u8_avx512(o.u8 + r * o.ld_u8, lanes, y, inv_scale, zero_point);
  }
}

FASTBERT_TARGET_AVX512_VNNI void query_block(const QuadsHeadLayout& lay, int dh, const uint32_t* qq,
                                            const QuadsHeadBuffers& buf, float score_factor, float v_scale,
                                            const AttentionOutput& o, int len, int nq) {
  const __mmask16 lanes = bf16_lane_mask(nq);
  const __m512 alpha = _mm512_set1_ps(score_factor);
  // Two max chains, so that vmaxps latency does not serialise the key tiles.
  __m512 max_a = _mm512_set1_ps(-INFINITY), max_b = max_a;
  const int dhq = lay.dh_quads;
  const int64_t st = lay.stride;
  float* scores = buf.scores;

  int j = 0;
  for (; j + 32 <= len; j += 32) {
    score_tile<16>(qq, buf.kq + j, buf.comp + j, st, dhq, alpha, scores + j * kQ, max_a);
    score_tile<16>(qq, buf.kq + j + 16, buf.comp + j + 16, st, dhq, alpha, scores + (j + 16) * kQ, max_b);
  }
  for (; j + 16 <= len; j += 16) score_tile<16>(qq, buf.kq + j, buf.comp + j, st, dhq, alpha, scores + j * kQ, max_a);
  for (; j + 4 <= len; j += 4) score_tile<4>(qq, buf.kq + j, buf.comp + j, st, dhq, alpha, scores + j * kQ, max_b);
  for (; j < len; ++j) score_tile<1>(qq, buf.kq + j, buf.comp + j, st, dhq, alpha, scores + j * kQ, max_a);

  const __m512i sum = exp_to_u8_quads(scores, len, _mm512_max_ps(max_a, max_b), buf.pq);
  // The max key weighs 255, so every valid query's sum is at least 255.
  const __m512 factor = _mm512_div_ps(_mm512_set1_ps(v_scale), _mm512_cvtepi32_ps(_mm512_max_epi32(sum, _mm512_set1_epi32(1))));
  const int quads = (len + 3) / 4;
  int d = 0;
  for (; d + 16 <= dh; d += 16) output_tile<16>(buf.pq, buf.vq + d, dh, quads, lanes, factor, o.at(d, 0));
  for (; d + 4 <= dh; d += 4) output_tile<4>(buf.pq, buf.vq + d, dh, quads, lanes, factor, o.at(d, 0));
}

}  // namespace

size_t attention_thread_bytes_int8_avx512vnni(const AttentionShape& s) { return QuadsHeadLayout(s).total(); }

void attention_int8_avx512vnni(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads) {
  const AttentionShape& s = a.shape;
  const QuadsHeadLayout lay(s);
  const int dh = s.head_dim;
#pragma omp parallel num_threads(threads)
  {
    const QuadsHeadBuffers buf(workspace + thread_bytes * size_t(omp_get_thread_num()), lay);
    for_each_head_in_team(a, [&](int len, int64_t t0, int64_t rows) {
      const int64_t in = rows * a.ld_in + t0;
      const float q_scale = int8_symmetric_scale(max_abs(a.q + in, a.ld_in, dh, len));
      const float k_scale = int8_symmetric_scale(max_abs(a.k + in, a.ld_in, dh, len));
      const float v_scale = int8_symmetric_scale(max_abs(a.v + in, a.ld_in, dh, len));
      pack_quads_along_features(a.q + in, a.ld_in, lay.dh_quads, len, q_scale, true, buf.qq, lay.stride);
      pack_quads_along_features(a.k + in, a.ld_in, lay.dh_quads, len, k_scale, false, buf.kq, lay.stride);
      key_compensation(buf.kq, lay.dh_quads, len, lay.stride, buf.comp);
      pack_v_quads_along_keys(a.v + in, a.ld_in, dh, len, v_scale, lay, buf.vq);
      const float score_factor = q_scale * k_scale * a.scale * kLog2e;
      for (int i0 = 0; i0 < len; i0 += kQ)
        query_block(lay, dh, buf.qq + i0, buf, score_factor, v_scale, AttentionOutput::of(a).at(rows, t0 + i0), len,
                    std::min(kQ, len - i0));
    });
  }
}

}  // namespace fastbert::detail
