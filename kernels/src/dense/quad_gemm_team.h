#pragma once
// The team loop of the quad-layout dense kernels (VNNI zmm and ymm, AVX2):
// each OpenMP thread reorders X into its own quad copy, then takes work
// items of 8 output rows x up to kSpanTokens tokens, runs the ISA's tiles
// across the span and hands the span's sums to the epilogue while they are
// in L1. An ISA's Parts name its vector width in tokens, its quad-row
// reorder, its widest tile (kWidestTile vectors: 3, with tiles of 2 and 1
// for the tails, or 2, which covers whole spans alone), and kChunkQuads: 0
// to run each tile over all of K, else the quads of K a chunk (the tiles
// then take an `accumulate` flag).
#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "../round_up.h"
#include "dense_int8_kernels.h"
#include "quad_reorder.h"

namespace fastbert::detail {

// Tokens of one epilogue span: 8 rows x 512 int32 sums (16 KiB) stay in L1.
// Spans of 48 tokens with the 8-row groups inside them (each tile's quads
// reused from L1 across groups) measured 6-11 % slower (Sapphire Rapids, 1
// thread, 768x768 to 768x3072, VNNI).
constexpr int64_t kSpanTokens = 512;
// The quad copy's tokens are padded to whole 16-token vectors.
constexpr int64_t kPadTokens = 16;

inline int64_t padded_tokens(int64_t m) { return round_up(m, kPadTokens); }

// The tiles of one span (tokens t_begin..t_end of the quad copy xq) over
// `quads` quads of K: the widest tile across it, then any narrower ones on
// the tail. `accumulate`: for Parts that chunk K, whether the tiles add to
// the sums of the chunks before instead of storing.
template <class Parts, class Word, class... Accumulate>
inline void run_span_tiles(const Word* w, const uint8_t* xq, int64_t ldb, int64_t quads, int32_t* sums,
                           int64_t t_begin, int64_t t_end, Accumulate... accumulate) {
  constexpr int64_t kT = Parts::kVectorTokens;
  const int64_t ld = t_end - t_begin;
  int64_t t = t_begin;
  if constexpr (Parts::kWidestTile == 3) {
    for (; t + 3 * kT <= t_end; t += 3 * kT) Parts::tile3(w, xq + t * 4, ldb, quads, sums + (t - t_begin), ld, accumulate...);
    if (t + 2 * kT <= t_end) {
      Parts::tile2(w, xq + t * 4, ldb, quads, sums + (t - t_begin), ld, accumulate...);
      t += 2 * kT;
    }
    if (t < t_end) Parts::tile1(w, xq + t * 4, ldb, quads, sums + (t - t_begin), ld, accumulate...);
  } else {
    // Spans are whole multiples of kPadTokens, so 2-vector tiles cover them.
    static_assert(Parts::kWidestTile == 2 && kPadTokens % (2 * kT) == 0, "tiles of 3, 2 and 1 vectors, or of 2");
    for (; t < t_end; t += 2 * kT) Parts::tile2(w, xq + t * 4, ldb, quads, sums + (t - t_begin), ld, accumulate...);
  }
}

template <class Parts, class Word>
void run_quad_gemm_team(const QuadWeights<Word>& w, const uint8_t* x, int64_t ldx, int64_t m, bool x_signed,
                        uint8_t* xq, const DenseRowsEpilogue& epilogue) {
  constexpr int kRows = QuadWeights<Word>::kRows;
  static_assert(kPadTokens % Parts::kVectorTokens == 0, "spans must be whole vectors");
  const int64_t quads = w.quads(), m_pad = padded_tokens(m), ldb = m_pad * 4;
  const int64_t spans = (m_pad + kSpanTokens - 1) / kSpanTokens;
#pragma omp parallel num_threads(omp_get_max_threads())
  {
    // Each thread its own quad copy of X (as the AMX kernel: a shared one
    // moves between the cores' caches every call).
    uint8_t* const mine = xq + omp_get_thread_num() * quads * ldb;
    reorder_to_quads(Parts::reorder, x, ldx, w.cols(), quads, m, m_pad, x_signed ? 0x80 : 0, mine, ldb);
    alignas(64) int32_t sums[kRows * kSpanTokens];
#pragma omp for schedule(static) nowait
    for (int64_t item = 0; item < w.groups() * spans; ++item) {
      const int64_t g = item / spans, t_begin = item % spans * kSpanTokens;
      const int64_t t_end = std::min(m_pad, t_begin + kSpanTokens);
      const Word* wg = w.group(g);
      if constexpr (Parts::kChunkQuads == 0) {
        run_span_tiles<Parts>(wg, mine, ldb, quads, sums, t_begin, t_end);
      } else {
        // K in chunks, each across the whole span: the group's weights of
        // one chunk stay in L1 from tile to tile.
        for (int64_t q0 = 0; q0 < quads; q0 += Parts::kChunkQuads)
          run_span_tiles<Parts>(wg + q0 * kRows, mine + q0 * ldb, ldb, std::min<int64_t>(Parts::kChunkQuads, quads - q0),
                                sums, t_begin, t_end, q0 > 0);
      }
      const int rows = int(std::min<int64_t>(kRows, w.rows() - g * kRows));
      const int64_t tokens = std::min(m, t_end) - t_begin;
      epilogue(g * kRows, rows, t_begin, tokens, sums, t_end - t_begin);
    }
  }
}

}  // namespace fastbert::detail
