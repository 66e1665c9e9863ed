#pragma once
// The per-ISA attention implementations behind attention(). Each gets
// validated arguments, a workspace of `threads` slices of
// per_thread_workspace_bytes(...) bytes (64-byte aligned), runs an OpenMP
// team of `threads`, and writes only the valid queries (the caller zeroes the
// padded ones).
#include <omp.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../round_up.h"
#include "fastbert/kernels/attention.h"

namespace fastbert::detail {

// The bf16 and int8 paths fold log2(e) into the score scale (pack_bf16_head's
// q_scale, the int8 paths' score factor), so that softmax weights are
// 2^(s - max).
constexpr float kLog2e = 1.44269504088896341f;

// The int8 paths' per-(sequence, head) scale: the one that maps max |x| to
// 127 (1 for an all-zero head). Both int8 paths use this one rule, which
// their bit-identity rests on.
inline float int8_symmetric_scale(float max_abs_value) { return max_abs_value > 0 ? max_abs_value / 127.0f : 1.0f; }

// Query lanes one register tile covers, per path.
constexpr int kAttentionQueryBlockAvx512 = 16;
constexpr int kAttentionQueryBlockAvx2 = 8;

size_t attention_thread_bytes_fp32_reference(const AttentionShape& s);
size_t attention_thread_bytes_fp32_avx512f(const AttentionShape& s);
size_t attention_thread_bytes_fp32_avx2(const AttentionShape& s);
size_t attention_thread_bytes_bf16_avx512bf16(const AttentionShape& s);
size_t attention_thread_bytes_bf16_amx(const AttentionShape& s);
size_t attention_thread_bytes_int8_avx512vnni(const AttentionShape& s);
size_t attention_thread_bytes_int8_avx2(const AttentionShape& s);

void attention_fp32_reference(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads);
void attention_fp32_avx512f(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads);
void attention_fp32_avx2(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads);
void attention_bf16_avx512bf16(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads);
void attention_bf16_amx(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads);
void attention_int8_avx512vnni(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads);
void attention_int8_avx2(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads);

// Where a path stores output: fp32 and/or u8, either may be null.
struct AttentionOutput {
  float* f32;
  int64_t ld_f32;
  uint8_t* u8;
  int64_t ld_u8;
  float inv_scale;
  int32_t zero_point;

  static AttentionOutput of(const AttentionArgs& a) {
    return {a.out, a.ld_out, a.out_u8, a.ld_out_u8, 1.0f / a.out_u8_scale, a.out_u8_zero_point};
  }
  // The same output moved to feature row `row`, token `col`.
  AttentionOutput at(int64_t row, int64_t col) const {
    return {f32 ? f32 + row * ld_f32 + col : nullptr, ld_f32, u8 ? u8 + row * ld_u8 + col : nullptr, ld_u8,
            inv_scale, zero_point};
  }
};

inline int valid_length(const AttentionArgs& a, int b) {
  return a.valid_lengths ? a.valid_lengths[b] : a.shape.seq_len;
}

// The fp32 paths' loop over tasks: one per (head, sequence, block of kQ
// valid queries), head-major so that consecutive tasks read adjacent runs of
// the same feature rows (see attention_bf16_amx.cpp). Each calls
// query_block(a, q, k, v, out, valid keys, queries in the block, scores) with
// the feature-major Q/K/V/output of its head moved to the block's first query
// (K/V to the sequence's first key) and `scores` its thread's workspace slice.
template <int kQ, class QueryBlock>
void for_each_query_block(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads,
                          QueryBlock query_block) {
  const AttentionShape& s = a.shape;
  const int blocks = (s.seq_len + kQ - 1) / kQ;
  const int dh = s.head_dim;
#pragma omp parallel for collapse(3) schedule(dynamic) num_threads(threads)
  for (int h = 0; h < s.heads; ++h) {
    for (int b = 0; b < s.batch; ++b) {
      for (int qb = 0; qb < blocks; ++qb) {
        const int len = valid_length(a, b);
        const int i0 = qb * kQ;
        if (i0 >= len) continue;
        float* scores = reinterpret_cast<float*>(workspace + thread_bytes * size_t(omp_get_thread_num()));
        const int64_t t0 = int64_t(b) * s.seq_len;
        const int64_t rows = int64_t(h) * dh;
        query_block(a, a.q + rows * a.ld_in + t0 + i0, a.k + rows * a.ld_in + t0, a.v + rows * a.ld_in + t0,
                    AttentionOutput::of(a).at(rows, t0 + i0), len, std::min(kQ, len - i0), scores);
      }
    }
  }
}

// The per-head paths' loop, run by every thread of an OpenMP team: one task
// per (head, sequence) with valid keys, head-major so that consecutive tasks
// read adjacent runs of the same feature rows (sequence b + 1 follows b in a
// row), which the hardware prefetchers can follow; batch-major jumped to new
// rows every task. Each task packs its head once and reuses it, hot in L2,
// for all its query blocks. head(h, b, len, first token, first feature row).
template <class Head>
void for_each_head_in_team(const AttentionArgs& a, Head head) {
  const AttentionShape& s = a.shape;
#pragma omp for collapse(2) schedule(dynamic)
  for (int h = 0; h < s.heads; ++h)
    for (int b = 0; b < s.batch; ++b) {
      const int len = valid_length(a, b);
      if (len > 0) head(len, int64_t(b) * s.seq_len, int64_t(h) * s.head_dim);
    }
}

inline size_t round_up_64(size_t bytes) { return (bytes + 63) / 64 * 64; }

}  // namespace fastbert::detail
