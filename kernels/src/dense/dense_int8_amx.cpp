#include "dense_int8_kernels.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "../amx/tile_config.h"
#include "../round_up.h"
#include "quad_reorder.h"
#include "../target.h"

namespace fastbert::detail {
namespace {

int64_t padded_tokens(int64_t m) { return round_up(m, kAmxBlockTokens); }

// The epilogue of the previous work item, run a row at a time between the
// tile instructions of the next, so that its vector work overlaps the tiles'
// (TMUL runs beside the vector ports; a whole panel's epilogue after its
// tiles left it in series with them).
struct PendingRows {
  const DenseRowsEpilogue* epilogue = nullptr;
  const int32_t* acc = nullptr;
  int64_t ld_acc = 0, row0 = 0, t0 = 0, tokens = 0;
  int rows = 0, done = 0;
  void run_until(int target) {
    for (; done < target; ++done) (*epilogue)(row0 + done, 1, t0, tokens, acc + done * ld_acc, ld_acc);
  }
  void finish() { run_until(rows); }
};

// One 32-row x 32-token block over all of K: tiles 0..3 the sums (rows
// 0-15 / 16-31 x tokens 0-15 / 16-31), 4 and 5 the two A row panels, 6 and 7
// the two B token panels. After each K step, `pending` runs up to its share
// of rows (step / steps of the work item's).
template <bool kSigned>
FASTBERT_TARGET_AMX void block_2x2(const int8_t* a, int64_t lda, const uint8_t* b, int64_t ldb, int64_t k_steps,
                                   int32_t* acc, int64_t ld_acc, PendingRows& pending, int64_t& step,
                                   int64_t steps) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t s = 0; s < k_steps; ++s) {
    const int8_t* ap = a + s * kAmxKStep;
    const uint8_t* bp = b + s * (kAmxKStep / 4) * ldb;
    _tile_loadd(4, ap, lda);
    _tile_loadd(5, ap + 16 * lda, lda);
    _tile_loadd(6, bp, ldb);
    _tile_loadd(7, bp + 64, ldb);
    if constexpr (kSigned) {
      _tile_dpbssd(0, 4, 6);
      _tile_dpbssd(1, 4, 7);
      _tile_dpbssd(2, 5, 6);
      _tile_dpbssd(3, 5, 7);
    } else {
      _tile_dpbsud(0, 4, 6);
      _tile_dpbsud(1, 4, 7);
      _tile_dpbsud(2, 5, 6);
      _tile_dpbsud(3, 5, 7);
    }
    pending.run_until(int(pending.rows * ++step / steps));
  }
  const int64_t ld = ld_acc * 4;
  _tile_stored(0, acc, ld);
  _tile_stored(1, acc + 16, ld);
  _tile_stored(2, acc + 16 * ld_acc, ld);
  _tile_stored(3, acc + 16 * ld_acc + 16, ld);
}

FASTBERT_TARGET_AMX void run_team(const AmxInt8Weights& w, const uint8_t* x, int64_t ldx, int64_t m, bool x_signed,
                                  uint8_t* xq, const DenseRowsEpilogue& epilogue) {
  const int64_t k = w.cols(), k_pad = w.padded_cols(), m_pad = padded_tokens(m);
  const int64_t quads = k_pad / 4, panels = w.padded_rows() / kAmxBlockRows;
  const int64_t ldb = m_pad * 4;
  // As many threads as the workspace has copies of X (its size is
  // computed from the same omp_get_max_threads()).
#pragma omp parallel num_threads(omp_get_max_threads())
  {
    configure_full_tiles();
    // Every thread reorders all of X into its own copy: with one shared
    // copy, each half written by one thread, every call moved half of it
    // between the cores' caches (and waited at a barrier), and 2 threads
    // were slower than 1 on MiniLM's 384x1536 at M = 128 (0.067 against
    // 0.053 ms; with own copies 0.032; 768x768: 0.054 -> 0.034). The
    // reorder is about 3 % of one thread's time.
    uint8_t* const mine = xq + omp_get_thread_num() * k_pad * m_pad;
    reorder_to_quads(reorder_quad_row, x, ldx, k, quads, m, m_pad, 0, mine, ldb);
    // Work items are a 32-row panel of W by up to kAmxEpilogueTokens
    // tokens: the panel (32 x K bytes, in L1 for K <= 768) meets each of the
    // span's token blocks in turn, and the epilogue then runs on rows of
    // the whole span. Handing it each 32 x 32 block instead (a call per row
    // of 32 sums) made the epilogue 38 % of the time of 768x768 at M = 128
    // on Sapphire Rapids (perf). Threads share out the panels; giving each
    // thread its own tokens instead (its own part of the reorder, no
    // barrier, all of W) measured 1.4-1.8x slower on 2 threads (768x768 at
    // M = 128: 0.086 against 0.049 ms; 3072x768: 0.220 against 0.128).
    // Two sum buffers: one filling from the tiles, one draining into the
    // epilogue.
    alignas(64) int32_t acc[2][kAmxBlockRows * kAmxEpilogueTokens];
    int filling = 0;
    PendingRows pending;
    pending.epilogue = &epilogue;
    const int64_t spans = (m_pad + kAmxEpilogueTokens - 1) / kAmxEpilogueTokens;
    const int64_t k_steps = k_pad / kAmxKStep;
#pragma omp for schedule(static) nowait
    for (int64_t item = 0; item < panels * spans; ++item) {
      const int64_t p = item / spans, t_begin = item % spans * kAmxEpilogueTokens;
      const int64_t t_end = std::min(m_pad, t_begin + kAmxEpilogueTokens), ld_acc = t_end - t_begin;
      const int64_t row0 = p * kAmxBlockRows;
      const int8_t* a = w.data() + row0 * k_pad;
      int32_t* sums = acc[filling];
      int64_t step = 0;
      const int64_t steps = (ld_acc / kAmxBlockTokens) * k_steps;
      for (int64_t t0 = t_begin; t0 < t_end; t0 += kAmxBlockTokens) {
        const uint8_t* b = mine + t0 * 4;
        if (x_signed)
          block_2x2<true>(a, k_pad, b, ldb, k_steps, sums + (t0 - t_begin), ld_acc, pending, step, steps);
        else
          block_2x2<false>(a, k_pad, b, ldb, k_steps, sums + (t0 - t_begin), ld_acc, pending, step, steps);
      }
      pending.finish();
      const int rows = int(std::min<int64_t>(kAmxBlockRows, w.rows() - row0));
      const int64_t tokens = std::min(m, t_end) - t_begin;
      pending.acc = sums;
      pending.ld_acc = ld_acc;
      pending.row0 = row0;
      pending.t0 = t_begin;
      pending.tokens = tokens;
      pending.rows = rows;
      pending.done = 0;
      filling ^= 1;
    }
    pending.finish();
    _tile_release();
  }
}

}  // namespace

void AmxInt8Weights::Free::operator()(int8_t* p) const { std::free(p); }

AmxInt8Weights::AmxInt8Weights(const int8_t* w, int64_t n, int64_t k)
    : n_(n), k_(k), n_pad_(round_up(n, kAmxBlockRows)), k_pad_(round_up(k, kAmxKStep)) {
  data_.reset(static_cast<int8_t*>(std::aligned_alloc(64, size_t(n_pad_ * k_pad_))));
  if (!data_) throw std::bad_alloc();
  std::memset(data_.get(), 0, size_t(n_pad_ * k_pad_));
  for (int64_t r = 0; r < n; ++r) std::memcpy(data_.get() + r * k_pad_, w + r * k, size_t(k));
}

int64_t dense_int8_amx_workspace_bytes(const AmxInt8Weights& w, int64_t m) {
  return w.padded_cols() * padded_tokens(m) * omp_get_max_threads();
}

void dense_int8_amx(const AmxInt8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                    uint8_t* workspace, const DenseRowsEpilogue& epilogue) {
  if (m <= 0) return;
  run_team(w, static_cast<const uint8_t*>(x), ldx, m, x_signed, workspace, epilogue);
}

}  // namespace fastbert::detail
