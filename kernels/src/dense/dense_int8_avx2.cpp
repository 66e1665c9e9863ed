// The AVX2 dense int8 kernel (no VNNI): vpmaddwd on activations widened to
// int16, for the quad-layout team loop.
#include <immintrin.h>

#include "../keep_in_register.h"
#include "../target.h"
#include "dense_int8_kernels.h"
#include "quad_gemm_team.h"
#include "quad_reorder.h"

namespace fastbert::detail {
namespace {

constexpr int kRows = Avx2Int8Weights::kRows;

// 4 rows x 8 tokens (2 vectors of 4 tokens' quads), twice for the group's
// 8 rows. Per quad the 2 loads are widened once for 4 rows (the 1x4 SpMM
// widens once per row). vpmaddwd's product needs a register of its own
// before vpaddd, so 4 x 3 vectors (12 accumulators, 3 activations, a weight
// and the product: 17 ymm) spilled, and ran at 45-50 GMAC/s in L1 against
// 65 at 4 x 2 and 44-54 at 8 x 1 (AMD EPYC Zen 3, 1 thread, K = 768;
// vpmaddwd + vpaddd peak 77 GMAC/s, vpmaddwd alone 96). Activations widened
// once per call into an int16 copy instead (read straight from memory by
// vpmaddwd) ran at 62.
//
// vpmaddwd leaves two partial dwords per token (weights 0-1 and 2-3 of the
// quad), which one vphaddd per row adds at the end (as spmm_1x4_avx2). With
// `accumulate` the sums are added to those already in `out` (the K chunks
// before).
FASTBERT_TARGET_AVX2 void tile_madd(const int64_t* w, const uint8_t* xq, int64_t ldb, int64_t quads, int32_t* out,
                                    int64_t ld_out, bool accumulate) {
  constexpr int kHalf = kRows / 2;
  for (int half = 0; half < 2; ++half) {
    __m256i acc[kHalf][2];
#pragma GCC unroll 4
    for (int r = 0; r < kHalf; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    for (int64_t q = 0; q < quads; ++q) {
      const __m128i* xv = reinterpret_cast<const __m128i*>(xq + q * ldb);
      const __m256i x0 = _mm256_cvtepu8_epi16(_mm_load_si128(xv)), x1 = _mm256_cvtepu8_epi16(_mm_load_si128(xv + 1));
      const int64_t* wq = w + q * kRows + half * kHalf;
#pragma GCC unroll 4
      for (int r = 0; r < kHalf; ++r) {
        const __m256i wr = _mm256_set1_epi64x(wq[r]);
        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x0, wr));
        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x1, wr));
        keep_in_register(acc[r][0]);
        keep_in_register(acc[r][1]);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < kHalf; ++r) {
      // hadd: a0 a1 | b0 b1 | a2 a3 | b2 b3 (64-bit lanes, tokens) -> a0..a3 b0..b3.
      __m256i sums = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[r][0], acc[r][1]), 0xD8);
      __m256i* to = reinterpret_cast<__m256i*>(out + (half * kHalf + r) * ld_out);
      if (accumulate) sums = _mm256_add_epi32(sums, _mm256_loadu_si256(to));
      _mm256_storeu_si256(to, sums);
    }
  }
}

struct Avx2 {
  static constexpr int kVectorTokens = 4;
  static constexpr int kWidestTile = 2;
  // K in chunks of 1536: for 3072x768 the whole of K at once (24 KiB of
  // quads a tile, 48 KiB of the group's weights) missed L1 and took 20.7 /
  // 6.13 ms at M = 384 / 128, chunks of 192 quads 17.7 / 5.76 (medians of 4
  // interleaved runs, AMD EPYC Zen 3, 1 thread). Chunks of 384 were level
  // with 192 on 3072x768 and keep K = 1536 in one pass, which two chunks of
  // 192 made 2-3 % slower.
  static constexpr int64_t kChunkQuads = 384;
  static constexpr auto reorder = reorder_quad_row_avx2;
  static constexpr auto tile2 = tile_madd;
};

}  // namespace

void dense_int8_avx2(const Avx2Int8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                     uint8_t* workspace, const DenseRowsEpilogue& epilogue) {
  if (m > 0) run_quad_gemm_team<Avx2>(w, static_cast<const uint8_t*>(x), ldx, m, x_signed, workspace, epilogue);
}

}  // namespace fastbert::detail
