// int8 attention for CPUs with AVX2 and no VNNI: the quantization, softmax
// and scaling of attention_int8_avx512vnni.cpp, with the int8 values widened
// to int16 pairs and multiplied by vpmaddwd, which is exact (the products of
// 2 pairs fit int32), so every int32 sum, and so every output bit, is the
// VNNI path's. Per (batch, head):
//   Q -> qq[d/2][query]  pairs (Q8[d], Q8[d+1])   K -> kq[d/2][key] pairs
//   P -> pq[j/2][query]  pairs of u8 weights      V -> vq[d][key]   int16
// (V's own layout already holds the key pairs P·V reduces over). vpmaddwd
// is signed on both sides, so Q needs neither the +128 nor the key
// compensation of vpdpbusd.
//
// Its tiles' accumulators are pinned to registers (keep_in_register.h):
// before, GCC kept one on the stack. Measured on AMD EPYC Zen 3
// (attention_speed, 1 thread, H = 12, min ms of 3 interleaved runs):
// see docs/kernels.md.
//
// Why (AMD EPYC Zen 3, no AVX-512, 2 threads, H = 12, attention_speed
// medians): 1.7-2.9x fp32_avx2, e.g. B = 8, S = 128, head_dim 64 3.97 ms
// against 7.90 and head_dim 32 2.15 against 4.43 (docs/kernels.md).
// vpmaddwd does 16 multiply-adds where an fp32 FMA does 8, and the softmax
// forms each exponential once where the fp32 path's two-pass softmax forms
// it twice.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "attention_kernels.h"
#include "../math/exp_split_avx2.h"
#include "../math/partial_vector_avx2.h"
#include "../keep_in_register.h"
#include "../math/quantize_u8.h"
#include "../target.h"

namespace fastbert::detail {

namespace {

constexpr int kQ = kAttentionQueryBlockAvx2;

struct PairsHeadLayout {
  int dh_pairs;     // head_dim / 2
  int64_t stride;   // dwords per qq and kq row: seq_len rounded up to 8
  int64_t p_rows;   // rows of pq: key pairs
  int64_t v_stride; // int16 per vq row: seq_len rounded up to 16 (zero tail)
  size_t qq_bytes, kq_bytes, vq_bytes, scores_bytes, pq_bytes;

  explicit PairsHeadLayout(const AttentionShape& s) {
    dh_pairs = s.head_dim / 2;
    stride = round_up(s.seq_len, kQ);
    p_rows = (s.seq_len + 1) / 2;
    v_stride = round_up(s.seq_len, 16);
    qq_bytes = kq_bytes = round_up_64(sizeof(uint32_t) * dh_pairs * stride);
    vq_bytes = round_up_64(sizeof(int16_t) * s.head_dim * v_stride);
    scores_bytes = round_up_64(sizeof(float) * 2 * p_rows * kQ);
    pq_bytes = round_up_64(sizeof(uint32_t) * p_rows * kQ);
  }
  size_t total() const { return qq_bytes + kq_bytes + vq_bytes + scores_bytes + pq_bytes; }
};

struct PairsHeadBuffers {
  uint32_t* qq;
  uint32_t* kq;
  int16_t* vq;
  float* scores;
  uint32_t* pq;
  PairsHeadBuffers(char* ws, const PairsHeadLayout& l) {
    qq = reinterpret_cast<uint32_t*>(ws);
    kq = reinterpret_cast<uint32_t*>(ws += l.qq_bytes);
    vq = reinterpret_cast<int16_t*>(ws += l.kq_bytes);
    scores = reinterpret_cast<float*>(ws += l.vq_bytes);
    pq = reinterpret_cast<uint32_t*>(ws += l.scores_bytes);
  }
};

// max |x| over rows 0..rows of x[row][0..len].
FASTBERT_TARGET_AVX2 float max_abs(const float* x, int64_t ld, int rows, int len) {
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  __m256 m = _mm256_setzero_ps();
  for (int r = 0; r < rows; ++r)
    for (int t = 0; t < len; t += 8)
      m = _mm256_max_ps(m, _mm256_and_ps(magnitude, load_first_avx2(x + r * ld + t, len - t)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  return *std::max_element(lanes, lanes + 8);
}

// The VNNI path's rounding (attention_int8_avx512vnni.cpp).
FASTBERT_TARGET_AVX2 inline __m256i quantize_s8_lanes(__m256 x, __m256 inv_scale) {
  const __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(x, inv_scale));
  return _mm256_min_epi32(_mm256_max_epi32(q, _mm256_set1_epi32(-127)), _mm256_set1_epi32(127));
}

// Two int32 lanes of int16 range into one dword: lo | hi << 16.
FASTBERT_TARGET_AVX2 inline __m256i pair_of(__m256i lo, __m256i hi) {
  return _mm256_or_si256(_mm256_and_si256(lo, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(hi, 16));
}

// dst[d/2][t] = pairs of round(src[d..d+1][t] / scale), zero past len up to
// the next multiple of 8.
FASTBERT_TARGET_AVX2 void pack_pairs_along_features(const float* src, int64_t ld, int dh_pairs, int len, float scale,
                                                    uint32_t* dst, int64_t stride) {
  const __m256 inv = _mm256_set1_ps(1.0f / scale);
  for (int dp = 0; dp < dh_pairs; ++dp) {
    const float* r0 = src + 2 * dp * ld;
    for (int t = 0; t < len; t += 8) {
      const __m256i lo = quantize_s8_lanes(load_first_avx2(r0 + t, len - t), inv);
      const __m256i hi = quantize_s8_lanes(load_first_avx2(r0 + ld + t, len - t), inv);
      _mm256_store_si256(reinterpret_cast<__m256i*>(dst + dp * stride + t), pair_of(lo, hi));
    }
  }
}

// vq[d][j] = round(V[d][j] / scale) as int16, zero past len up to v_stride.
FASTBERT_TARGET_AVX2 void pack_v_rows(const float* v, int64_t ld, int dh, int len, float scale, int64_t v_stride,
                                      int16_t* vq) {
  const __m256 inv = _mm256_set1_ps(1.0f / scale);
  for (int d = 0; d < dh; ++d) {
    const float* row = v + d * ld;
    for (int t = 0; t < v_stride; t += 16) {
      const __m256i a = quantize_s8_lanes(load_first_avx2(row + t, len - t), inv);
      const __m256i b = quantize_s8_lanes(load_first_avx2(row + t + 8, len - t - 8), inv);
      // packs works per 128-bit lane: a0-3 b0-3 a4-7 b4-7, put back in order.
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(vq + d * v_stride + t),
                          _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
    }
  }
}

// Scores of NK keys for the 8 queries, in log2 units (times alpha), stored
// as Sᵀ rows, and each query's running max. kq points at the tile's first key.
template <int NK>
FASTBERT_TARGET_AVX2 inline void score_tile(const uint32_t* qq, const uint32_t* kq, int64_t stride, int dh_pairs,
                                            __m256 alpha, float* scores, __m256& max_score) {
  __m256i c[NK];
  for (int r = 0; r < NK; ++r) c[r] = _mm256_setzero_si256();
  for (int dp = 0; dp < dh_pairs; ++dp) {
    const __m256i qd = _mm256_load_si256(reinterpret_cast<const __m256i*>(qq + dp * stride));
    const uint32_t* k = kq + dp * stride;
    for (int r = 0; r < NK; ++r) {
      c[r] = _mm256_add_epi32(c[r], _mm256_madd_epi16(qd, _mm256_set1_epi32(int(k[r]))));
      keep_in_register(c[r]);
    }
  }
  for (int r = 0; r < NK; ++r) {
    const __m256 s = _mm256_mul_ps(_mm256_cvtepi32_ps(c[r]), alpha);
    _mm256_store_ps(scores + r * kQ, s);
    max_score = _mm256_max_ps(max_score, s);
  }
}

// The u8 weight round(255 · 2^(s - max)) of key j's scores.
FASTBERT_TARGET_AVX2 inline __m256i u8_weight(const float* scores, int j, __m256 max_score) {
  return _mm256_cvtps_epi32(_mm256_mul_ps(
      _mm256_set1_ps(255.0f), exp2_bf16_accuracy_avx2(_mm256_sub_ps(_mm256_load_ps(scores + j * kQ), max_score))));
}

// The u8 weights of keys 0..len as pairs, zero for the key up to the next
// pair; returns their sum.
FASTBERT_TARGET_AVX2 inline __m256i exp_to_u8_pairs(const float* scores, int len, __m256 max_score, uint32_t* pq) {
  __m256i sum = _mm256_setzero_si256();
  for (int jp = 0; jp < (len + 1) / 2; ++jp) {
    const __m256i w0 = u8_weight(scores, 2 * jp, max_score);
    const __m256i w1 = 2 * jp + 1 < len ? u8_weight(scores, 2 * jp + 1, max_score) : _mm256_setzero_si256();
    sum = _mm256_add_epi32(sum, _mm256_add_epi32(w0, w1));
    _mm256_store_si256(reinterpret_cast<__m256i*>(pq + jp * kQ), pair_of(w0, w1));
  }
  return sum;
}

// O rows d..d+ND of the 8 queries: the u8 weights times V8, times factor
// (V's scale over each query's weight sum) as they are stored. vq points at
// row d.
template <int ND>
FASTBERT_TARGET_AVX2 inline void output_tile(const uint32_t* pq, const int16_t* vq, int64_t v_stride, int pairs,
                                             int nq, __m256 factor, const AttentionOutput& o) {
  __m256i c[ND];
  for (int r = 0; r < ND; ++r) c[r] = _mm256_setzero_si256();
  for (int jp = 0; jp < pairs; ++jp) {
    const __m256i pj = _mm256_load_si256(reinterpret_cast<const __m256i*>(pq + jp * kQ));
    const int16_t* v = vq + 2 * jp;
    for (int r = 0; r < ND; ++r) {
      int32_t pair;
      __builtin_memcpy(&pair, v + r * v_stride, sizeof pair);
      c[r] = _mm256_add_epi32(c[r], _mm256_madd_epi16(pj, _mm256_set1_epi32(pair)));
      keep_in_register(c[r]);
    }
  }
  const __m256 inv_scale = _mm256_set1_ps(o.inv_scale);
  const __m256i zero_point = _mm256_set1_epi32(o.zero_point);
  // Unrolled, so that c[] is registers and not an array on the stack.
#pragma GCC unroll 8
  for (int r = 0; r < ND; ++r) {
    const __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(c[r]), factor);
    if (o.f32) store_first_avx2(o.f32 + r * o.ld_f32, nq, y);
    if (o.u8) store_quantized_u8_avx2(o.u8 + r * o.ld_u8, nq, y, inv_scale, zero_point);
  }
}

FASTBERT_TARGET_AVX2 void query_block(const PairsHeadLayout& lay, int dh, const uint32_t* qq,
                                      const PairsHeadBuffers& buf, float score_factor, float v_scale,
                                      const AttentionOutput& o, int len, int nq) {
  const __m256 alpha = _mm256_set1_ps(score_factor);
  // Two max chains, so that vmaxps latency does not serialise the key tiles.
  __m256 max_a = _mm256_set1_ps(-INFINITY), max_b = max_a;
  const int dhp = lay.dh_pairs;
  const int64_t st = lay.stride;
  float* scores = buf.scores;

  int j = 0;
  for (; j + 16 <= len; j += 16) {
    score_tile<8>(qq, buf.kq + j, st, dhp, alpha, scores + j * kQ, max_a);
    score_tile<8>(qq, buf.kq + j + 8, st, dhp, alpha, scores + (j + 8) * kQ, max_b);
  }
  for (; j + 8 <= len; j += 8) score_tile<8>(qq, buf.kq + j, st, dhp, alpha, scores + j * kQ, max_a);
  for (; j + 4 <= len; j += 4) score_tile<4>(qq, buf.kq + j, st, dhp, alpha, scores + j * kQ, max_b);
  for (; j < len; ++j) score_tile<1>(qq, buf.kq + j, st, dhp, alpha, scores + j * kQ, max_a);

  const __m256i sum = exp_to_u8_pairs(scores, len, _mm256_max_ps(max_a, max_b), buf.pq);
  // The max key weighs 255, so every valid query's sum is at least 255.
  const __m256 factor =
      _mm256_div_ps(_mm256_set1_ps(v_scale), _mm256_cvtepi32_ps(_mm256_max_epi32(sum, _mm256_set1_epi32(1))));
  const int pairs = (len + 1) / 2;
  int d = 0;
  for (; d + 8 <= dh; d += 8)
    output_tile<8>(buf.pq, buf.vq + d * lay.v_stride, lay.v_stride, pairs, nq, factor, o.at(d, 0));
  for (; d + 2 <= dh; d += 2)
    output_tile<2>(buf.pq, buf.vq + d * lay.v_stride, lay.v_stride, pairs, nq, factor, o.at(d, 0));
}

}  // namespace

size_t attention_thread_bytes_int8_avx2(const AttentionShape& s) { return PairsHeadLayout(s).total(); }

void attention_int8_avx2(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads) {
  const AttentionShape& s = a.shape;
  const PairsHeadLayout lay(s);
  const int dh = s.head_dim;
#pragma omp parallel num_threads(threads)
  {
    const PairsHeadBuffers buf(workspace + thread_bytes * size_t(omp_get_thread_num()), lay);
    for_each_head_in_team(a, [&](int len, int64_t t0, int64_t rows) {
      const int64_t in = rows * a.ld_in + t0;
      const float q_scale = int8_symmetric_scale(max_abs(a.q + in, a.ld_in, dh, len));
      const float k_scale = int8_symmetric_scale(max_abs(a.k + in, a.ld_in, dh, len));
      const float v_scale = int8_symmetric_scale(max_abs(a.v + in, a.ld_in, dh, len));
      pack_pairs_along_features(a.q + in, a.ld_in, lay.dh_pairs, len, q_scale, buf.qq, lay.stride);
      pack_pairs_along_features(a.k + in, a.ld_in, lay.dh_pairs, len, k_scale, buf.kq, lay.stride);
      pack_v_rows(a.v + in, a.ld_in, dh, len, v_scale, lay.v_stride, buf.vq);
      const float score_factor = q_scale * k_scale * a.scale * kLog2e;
      for (int i0 = 0; i0 < len; i0 += kQ)
        query_block(lay, dh, buf.qq + i0, buf, score_factor, v_scale, AttentionOutput::of(a).at(rows, t0 + i0), len,
                    std::min(kQ, len - i0));
    });
  }
}

}  // namespace fastbert::detail
