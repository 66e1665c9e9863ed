// bf16 attention with AMX (TDPBF16PS): one tile instruction multiplies a
// 16x32 by a 32x16 bf16 block into 16x16 fp32 sums. The operands are exactly
// the packed layouts of attention_bf16_pack.h:
//   Sᵀ[16 keys][16 queries] += kt[16 keys][32 d] · qp[16 d-pairs][16 queries]
//   O[16 d][16 queries]     += vb[16 d][32 keys] · pp[16 key-pairs][16 queries]
// so scores land in the same Sᵀ block the AVX-512 softmax passes read, and
// the output tiles are stored feature-major straight into the activations.
// Tiles: 0..3 accumulators, 4 and 6 the A operand, 5 and 7 the B operand.
//
// The softmax here is two passes over the L1-resident score block as well,
// but not the (value, exponent) algorithm of the vector paths: pass 1 takes
// each query's max, pass 2 forms e^(s - max) once, packs it and sums it, and
// the division by the sum is deferred to the output tiles (one multiply per
// 16 outputs). The pair-sum needs e^s twice; measured on this path at B=1,
// S=384 it was 18 % slower (1.47 vs 1.24 ms on one core).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../amx/tile_config.h"
#include "../math/quantize_u8.h"
#include "attention_bf16_pack.h"
#include "attention_kernels.h"
#include "../target.h"

namespace fastbert::detail {

namespace {

constexpr int kQ = kBf16QueryBlock;
constexpr int kKeyAlign = 32;  // keys per A tile row (64 bytes of bf16)
// From this many keys on, the packed Kᵀ and V of a head (4 bytes per key
// and head dimension) stream from L2, and 32-query blocks pay off (measured:
// 13 % faster at 384 keys with head_dim 64 and 5 % with 32; 12 % slower at 128).
constexpr int kLongHeadKeys = 192;

// Each query's max over keys [j0, j1) of a score block, into m[4] (four
// chains, so that vmaxps latency does not serialise the keys).
FASTBERT_TARGET_AMX inline void max_rows(const float* scores, int j0, int j1, __m512 m[4]) {
  int j = j0;
  for (; j + 4 <= j1; j += 4)
    for (int u = 0; u < 4; ++u) m[u] = _mm512_max_ps(m[u], _mm512_load_ps(scores + (j + u) * kQ));
  for (; j < j1; ++j) m[0] = _mm512_max_ps(m[0], _mm512_load_ps(scores + j * kQ));
}

FASTBERT_TARGET_AMX inline __m512 max_of(const __m512 m[4]) {
  return _mm512_max_ps(_mm512_max_ps(m[0], m[1]), _mm512_max_ps(m[2], m[3]));
}

// Sᵀ for the query block, 32 keys per step, and each query's max over keys
// into m[4] (softmax pass 1 on the rows just stored, still in L1, while the
// tile unit computes the next 32 keys: measured 10 % faster than a separate
// pass at 384 keys). Key rows past len hold sums of stale kt rows and are
// never read.
FASTBERT_TARGET_AMX void scores_amx(const Bf16HeadLayout& lay, int dh, const uint32_t* qp, const uint32_t* kt,
                                    int len, float* scores, __m512 m[4]) {
  const int64_t q_stride_bytes = lay.q_stride * 4;
  const int64_t kt_stride_bytes = int64_t(dh) * 2;
  const char* kt_bytes = reinterpret_cast<const char*>(kt);
  if (dh == 64) {
    // BERT's head size: both Q tiles stay loaded for the whole key loop.
    _tile_loadd(5, qp, q_stride_bytes);
    _tile_loadd(7, qp + 16 * lay.q_stride, q_stride_bytes);
    for (int j = 0; j < len; j += 32) {
      const char* k0 = kt_bytes + int64_t(j) * kt_stride_bytes;
      const char* k1 = k0 + 16 * kt_stride_bytes;
      _tile_zero(0);
      _tile_zero(1);
      _tile_loadd(4, k0, kt_stride_bytes);
      _tile_dpbf16ps(0, 4, 5);
      _tile_loadd(6, k1, kt_stride_bytes);
      _tile_dpbf16ps(1, 6, 5);
      _tile_loadd(4, k0 + 64, kt_stride_bytes);
      _tile_dpbf16ps(0, 4, 7);
      _tile_loadd(6, k1 + 64, kt_stride_bytes);
      _tile_dpbf16ps(1, 6, 7);
      _tile_stored(0, scores + int64_t(j) * kQ, 64);
      _tile_stored(1, scores + int64_t(j + 16) * kQ, 64);
      max_rows(scores, j, std::min(len, j + 32), m);
    }
    return;
  }
  for (int j = 0; j < len; j += 32) {
    _tile_zero(0);
    _tile_zero(1);
    for (int kc = 0; kc < dh / 32; ++kc) {
      _tile_loadd(5, qp + int64_t(kc) * 16 * lay.q_stride, q_stride_bytes);
      _tile_loadd(4, kt_bytes + int64_t(j) * kt_stride_bytes + kc * 64, kt_stride_bytes);
      _tile_loadd(6, kt_bytes + int64_t(j + 16) * kt_stride_bytes + kc * 64, kt_stride_bytes);
      _tile_dpbf16ps(0, 4, 5);
      _tile_dpbf16ps(1, 6, 5);
    }
    _tile_stored(0, scores + int64_t(j) * kQ, 64);
    _tile_stored(1, scores + int64_t(j + 16) * kQ, 64);
    max_rows(scores, j, std::min(len, j + 32), m);
  }
}

// The softmax normalisation, deferred to here: every row of an output tile is
// 16 queries, so dividing by each query's sum is one multiply per row.
FASTBERT_TARGET_AMX inline void store_rows(const AttentionOutput& o, const float* tile, int nq, __m512 inv_sum) {
  const __mmask16 m = bf16_lane_mask(nq);
  const __m512 inv_scale = _mm512_set1_ps(o.inv_scale);
  const __m512i zero_point = _mm512_set1_epi32(o.zero_point);
  for (int r = 0; r < 16; ++r) {
    const __m512 y = _mm512_mul_ps(_mm512_load_ps(tile + r * 16), inv_sum);
    if (o.f32) _mm512_mask_storeu_ps(o.f32 + r * o.ld_f32, m, y);
    if (o.u8) store_quantized_u8_avx512(o.u8 + r * o.ld_u8, m, y, inv_scale, zero_point);
  }
}

// O[d0 .. d0+64) for the query block (dh - d0 >= 64).
FASTBERT_TARGET_AMX void output_64_amx(const Bf16HeadLayout& lay, const uint32_t* pp, const uint16_t* vb, int d0,
                                       int key_pairs, const AttentionOutput& o, int nq, float* tmp, __m512 inv_sum) {
  const int64_t vs_bytes = lay.v_stride * 2;
  const char* v0 = reinterpret_cast<const char*>(vb + int64_t(d0) * lay.v_stride);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int jp = 0; jp < key_pairs; jp += 16) {
    const char* vj = v0 + int64_t(jp) * 4;
    _tile_loadd(5, pp + int64_t(jp) * kQ, 64);
    _tile_loadd(4, vj, vs_bytes);
    _tile_dpbf16ps(0, 4, 5);
    _tile_loadd(6, vj + 16 * vs_bytes, vs_bytes);
    _tile_dpbf16ps(1, 6, 5);
    _tile_loadd(4, vj + 32 * vs_bytes, vs_bytes);
    _tile_dpbf16ps(2, 4, 5);
    _tile_loadd(6, vj + 48 * vs_bytes, vs_bytes);
    _tile_dpbf16ps(3, 6, 5);
  }
  _tile_stored(0, tmp, 64);
  store_rows(o.at(d0, 0), tmp, nq, inv_sum);
  _tile_stored(1, tmp, 64);
  store_rows(o.at(d0 + 16, 0), tmp, nq, inv_sum);
  _tile_stored(2, tmp, 64);
  store_rows(o.at(d0 + 32, 0), tmp, nq, inv_sum);
  _tile_stored(3, tmp, 64);
  store_rows(o.at(d0 + 48, 0), tmp, nq, inv_sum);
}

// O[d0 .. d0+32) for the query block (the head_dim % 64 == 32 remainder).
FASTBERT_TARGET_AMX void output_32_amx(const Bf16HeadLayout& lay, const uint32_t* pp, const uint16_t* vb, int d0,
                                       int key_pairs, const AttentionOutput& o, int nq, float* tmp, __m512 inv_sum) {
  const int64_t vs_bytes = lay.v_stride * 2;
  const char* v0 = reinterpret_cast<const char*>(vb + int64_t(d0) * lay.v_stride);
  _tile_zero(0);
  _tile_zero(1);
  for (int jp = 0; jp < key_pairs; jp += 16) {
    const char* vj = v0 + int64_t(jp) * 4;
    _tile_loadd(5, pp + int64_t(jp) * kQ, 64);
    _tile_loadd(4, vj, vs_bytes);
    _tile_dpbf16ps(0, 4, 5);
    _tile_loadd(6, vj + 16 * vs_bytes, vs_bytes);
    _tile_dpbf16ps(1, 6, 5);
  }
  _tile_stored(0, tmp, 64);
  store_rows(o.at(d0, 0), tmp, nq, inv_sum);
  _tile_stored(1, tmp, 64);
  store_rows(o.at(d0 + 16, 0), tmp, nq, inv_sum);
}

// Softmax pass 2 over one 16-query score block whose per-query max is known:
// 2^(s - max) as bf16 pairs (zero up to a whole tile of key pairs) and their
// sum; P·V runs on the unnormalised weights and the output tiles are divided
// by the sum as they are stored. Returns 1 / sum. (Scores are in log2 units:
// Q was pre-scaled by scale·log2(e) when packed.)
FASTBERT_TARGET_AMX inline __m512 softmax_to_bf16_pairs(const float* scores, int len, const __m512 m[4], uint32_t* pp,
                                                        int key_pairs) {
  return _mm512_div_ps(_mm512_set1_ps(1.0f), exp_to_bf16_pairs(scores, len, max_of(m), pp, key_pairs));
}

FASTBERT_TARGET_AMX void query_block(const Bf16HeadLayout& lay, int dh, const Bf16HeadBuffers& buf, int i0,
                                     const AttentionOutput& o, int len, int nq, float* tmp) {
  __m512 m[4];
  for (auto& v : m) v = _mm512_set1_ps(-INFINITY);
  scores_amx(lay, dh, buf.qp + i0, buf.kt, len, buf.scores, m);
  const int key_pairs = ((len + 1) / 2 + 15) / 16 * 16;
  const __m512 inv_sum = softmax_to_bf16_pairs(buf.scores, len, m, buf.pp, key_pairs);
  int d0 = 0;
  for (; d0 + 64 <= dh; d0 += 64) output_64_amx(lay, buf.pp, buf.vb, d0, key_pairs, o, nq, tmp, inv_sum);
  if (d0 < dh) output_32_amx(lay, buf.pp, buf.vb, d0, key_pairs, o, nq, tmp, inv_sum);
}

// 32 queries (two 16-query halves a and b) of a head_dim that is a multiple
// of 32: every K and V tile loaded from L2 feeds two products instead of one,
// halving that traffic per query. nq_b = queries in the second half (1..16).
FASTBERT_TARGET_AMX void query_block_32(const Bf16HeadLayout& lay, int dh, const Bf16HeadBuffers& buf,
                                        float* scores_b, uint32_t* pp_b, int i0, const AttentionOutput& o, int len,
                                        int nq_b, float* tmp) {
  const int64_t qs_bytes = lay.q_stride * 4;
  const int64_t kt_bytes = int64_t(dh) * 2;
  const char* kt = reinterpret_cast<const char*>(buf.kt);
  const uint32_t* qa = buf.qp + i0;
  const uint32_t* qb = qa + 16;
  __m512 m_a[4], m_b[4];
  for (int u = 0; u < 4; ++u) m_a[u] = m_b[u] = _mm512_set1_ps(-INFINITY);
  for (int j = 0; j < len; j += 32) {
    const char* k0 = kt + int64_t(j) * kt_bytes;
    const char* k1 = k0 + 16 * kt_bytes;
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int kc = 0; kc < dh / 32; ++kc) {
      _tile_loadd(5, qa + kc * 16 * lay.q_stride, qs_bytes);
      _tile_loadd(7, qb + kc * 16 * lay.q_stride, qs_bytes);
      _tile_loadd(4, k0 + kc * 64, kt_bytes);
      _tile_dpbf16ps(0, 4, 5);
      _tile_dpbf16ps(2, 4, 7);
      _tile_loadd(6, k1 + kc * 64, kt_bytes);
      _tile_dpbf16ps(1, 6, 5);
      _tile_dpbf16ps(3, 6, 7);
    }
    _tile_stored(0, buf.scores + int64_t(j) * kQ, 64);
    _tile_stored(1, buf.scores + int64_t(j + 16) * kQ, 64);
    _tile_stored(2, scores_b + int64_t(j) * kQ, 64);
    _tile_stored(3, scores_b + int64_t(j + 16) * kQ, 64);
    // Softmax pass 1 on the keys just stored, as in scores_amx.
    max_rows(buf.scores, j, std::min(len, j + 32), m_a);
    max_rows(scores_b, j, std::min(len, j + 32), m_b);
  }
  const int key_pairs = ((len + 1) / 2 + 15) / 16 * 16;
  const __m512 inv_a = softmax_to_bf16_pairs(buf.scores, len, m_a, buf.pp, key_pairs);
  const __m512 inv_b = softmax_to_bf16_pairs(scores_b, len, m_b, pp_b, key_pairs);
  const int64_t vs_bytes = lay.v_stride * 2;
  for (int d0 = 0; d0 < dh; d0 += 32) {
    const char* v0 = reinterpret_cast<const char*>(buf.vb + int64_t(d0) * lay.v_stride);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    for (int jp = 0; jp < key_pairs; jp += 16) {
      const char* vj = v0 + int64_t(jp) * 4;
      _tile_loadd(5, buf.pp + int64_t(jp) * kQ, 64);
      _tile_loadd(7, pp_b + int64_t(jp) * kQ, 64);
      _tile_loadd(4, vj, vs_bytes);
      _tile_dpbf16ps(0, 4, 5);
      _tile_dpbf16ps(2, 4, 7);
      _tile_loadd(6, vj + 16 * vs_bytes, vs_bytes);
      _tile_dpbf16ps(1, 6, 5);
      _tile_dpbf16ps(3, 6, 7);
    }
    _tile_stored(0, tmp, 64);
    store_rows(o.at(d0, 0), tmp, 16, inv_a);
    _tile_stored(1, tmp, 64);
    store_rows(o.at(d0 + 16, 0), tmp, 16, inv_a);
    _tile_stored(2, tmp, 64);
    store_rows(o.at(d0, 16), tmp, nq_b, inv_b);
    _tile_stored(3, tmp, 64);
    store_rows(o.at(d0 + 16, 16), tmp, nq_b, inv_b);
  }
}

}  // namespace

// Per thread: the packed head, a second score block and P for the second
// query half, and one 16x16 fp32 tile to stage output stores.
size_t attention_thread_bytes_bf16_amx(const AttentionShape& s) {
  const Bf16HeadLayout lay(s, kKeyAlign);
  return lay.total() + lay.scores_bytes + lay.pp_bytes + sizeof(float) * 16 * 16;
}

FASTBERT_TARGET_AMX void attention_bf16_amx(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads) {
  const AttentionShape& s = a.shape;
  const Bf16HeadLayout lay(s, kKeyAlign);
  const int dh = s.head_dim;
#pragma omp parallel num_threads(threads)
  {
    // Tile configuration is per thread state.
    configure_full_tiles();
    char* ws = workspace + thread_bytes * size_t(omp_get_thread_num());
    const Bf16HeadBuffers buf(ws, lay);
    float* scores_b = reinterpret_cast<float*>(ws + lay.total());
    uint32_t* pp_b = reinterpret_cast<uint32_t*>(ws + lay.total() + lay.scores_bytes);
    float* tmp = reinterpret_cast<float*>(ws + lay.total() + lay.scores_bytes + lay.pp_bytes);
    // Until session 10 a batch divisible by the threads ran whole sequences
    // per thread, in token order, to read the Q, K, V that each thread's
    // token range of the linears had written; the linears no longer split
    // by tokens (kernels/src/spmm/spmm.cpp), so that order lost its reason
    // and this path takes the head-major loop of the others. Measured on
    // Sapphire Rapids (session 11, three interleaved pairs of runs, batch 8,
    // 90 % random-weight exports): MiniLM at seq 128 909-1,061 sequences/s
    // in the old order, 966-988 head-major; at seq 384 213-247 and 224-256;
    // BERT-base 179-198 and 183-198: the same within the noise.
    for_each_head_in_team(a, [&](int len, int64_t t0, int64_t rows) {
      pack_bf16_head(a.q + rows * a.ld_in + t0, a.k + rows * a.ld_in + t0, a.v + rows * a.ld_in + t0, a.ld_in,
                     dh, len, lay, buf, a.scale * kLog2e);
      int i0 = 0;
      // Short heads (Kᵀ and V of 128 keys are 32 KB) stay in L1 anyway,
      // and there the 16-query blocks measured 12 % faster.
      if (dh % 32 == 0 && len > kLongHeadKeys)
        for (; i0 + kQ < len; i0 += 2 * kQ)
          query_block_32(lay, dh, buf, scores_b, pp_b, i0, AttentionOutput::of(a).at(rows, t0 + i0), len,
                         std::min(kQ, len - i0 - kQ), tmp);
      for (; i0 < len; i0 += kQ)
        query_block(lay, dh, buf, i0, AttentionOutput::of(a).at(rows, t0 + i0), len, std::min(kQ, len - i0), tmp);
    });
    _tile_release();
  }
}

}  // namespace fastbert::detail
