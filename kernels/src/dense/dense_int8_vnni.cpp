// The VNNI dense int8 kernels: AVX512-VNNI (zmm) and AVX-VNNI (ymm), two
// sets of target-compiled parts for the quad-layout team loop.
#include <immintrin.h>
#include <omp.h>

#include "../target.h"
#include "dense_int8_kernels.h"
#include "quad_gemm_team.h"
#include "quad_reorder.h"

namespace fastbert::detail {
namespace {

constexpr int kRows = VnniInt8Weights::kRows;

// 8 rows x kVectors * 16 tokens over all quads of K: 8 * kVectors
// accumulators (24 of the 32 zmm at 3 vectors), per quad kVectors loads of
// the activations' quads and 8 broadcasts of one row's 4 weights each.
template <int kVectors>
FASTBERT_TARGET_AVX512_VNNI void tile_avx512(const int32_t* w, const uint8_t* xq, int64_t ldb, int64_t quads,
                                             int32_t* out, int64_t ld_out) {
  __m512i acc[kRows][kVectors];
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm512_setzero_si512();
  for (int64_t q = 0; q < quads; ++q) {
    __m512i x[kVectors];
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) x[v] = _mm512_load_si512(xq + q * ldb + 64 * v);
    const int32_t* wq = w + q * kRows;
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m512i wr = _mm512_set1_epi32(wq[r]);
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], x[v], wr);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < kRows; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kVectors; ++v) _mm512_store_si512(out + r * ld_out + 16 * v, acc[r][v]);
}

// The ymm version: 16 registers hold 4 rows x 3 vectors of 8 tokens, so the
// 8 rows of a group are two passes of 4.
template <int kVectors>
FASTBERT_TARGET_AVX_VNNI void tile_avx2(const int32_t* w, const uint8_t* xq, int64_t ldb, int64_t quads, int32_t* out,
                                        int64_t ld_out) {
  constexpr int kHalf = kRows / 2;
  for (int half = 0; half < 2; ++half) {
    __m256i acc[kHalf][kVectors];
#pragma GCC unroll 4
    for (int r = 0; r < kHalf; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm256_setzero_si256();
    for (int64_t q = 0; q < quads; ++q) {
      __m256i x[kVectors];
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v)
        x[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(xq + q * ldb + 32 * v));
      const int32_t* wq = w + q * kRows + half * kHalf;
#pragma GCC unroll 4
      for (int r = 0; r < kHalf; ++r) {
        const __m256i wr = _mm256_set1_epi32(wq[r]);
#pragma GCC unroll 4
        for (int v = 0; v < kVectors; ++v) acc[r][v] = _mm256_dpbusd_avx_epi32(acc[r][v], x[v], wr);
      }
    }
#pragma GCC unroll 4
    for (int r = 0; r < kHalf; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < kVectors; ++v)
        _mm256_store_si256(reinterpret_cast<__m256i*>(out + (half * kHalf + r) * ld_out + 8 * v), acc[r][v]);
  }
}

// One ISA's parts: its reorder and its tiles of 3, 2 and 1 vectors.
struct Avx512Vnni {
  static constexpr int kVectorTokens = 16;
  static constexpr int kWidestTile = 3;
  static constexpr int64_t kChunkQuads = 0;
  static constexpr auto reorder = reorder_quad_row;
  static constexpr auto tile3 = tile_avx512<3>;
  static constexpr auto tile2 = tile_avx512<2>;
  static constexpr auto tile1 = tile_avx512<1>;
};
struct AvxVnni {
  static constexpr int kVectorTokens = 8;
  static constexpr int kWidestTile = 3;
  static constexpr int64_t kChunkQuads = 0;
  static constexpr auto reorder = reorder_quad_row_avx2;
  static constexpr auto tile3 = tile_avx2<3>;
  static constexpr auto tile2 = tile_avx2<2>;
  static constexpr auto tile1 = tile_avx2<1>;
};

}  // namespace

int64_t dense_int8_quad_workspace_bytes(int64_t quads, int64_t m) {
  return quads * padded_tokens(m) * 4 * omp_get_max_threads();
}

void dense_int8_avx512vnni(const VnniInt8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                           uint8_t* workspace, const DenseRowsEpilogue& epilogue) {
  if (m > 0) run_quad_gemm_team<Avx512Vnni>(w, static_cast<const uint8_t*>(x), ldx, m, x_signed, workspace, epilogue);
}

void dense_int8_avxvnni(const VnniInt8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                        uint8_t* workspace, const DenseRowsEpilogue& epilogue) {
  if (m > 0) run_quad_gemm_team<AvxVnni>(w, static_cast<const uint8_t*>(x), ldx, m, x_signed, workspace, epilogue);
}

}  // namespace fastbert::detail
