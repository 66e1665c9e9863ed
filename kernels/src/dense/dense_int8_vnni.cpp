// The VNNI dense int8 kernels: AVX512-VNNI (zmm) and AVX-VNNI (ymm), one
// team loop over two sets of target-compiled parts.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "../round_up.h"
#include "../target.h"
#include "dense_int8_kernels.h"
#include "quad_reorder.h"

namespace fastbert::detail {
namespace {

constexpr int kRows = VnniInt8Weights::kRows;
// Tokens of one epilogue span: 8 rows x 512 int32 sums (16 KiB) stay in L1.
// Spans of 48 tokens with the 8-row groups inside them (each tile's quads
// reused from L1 across groups) measured 6-11 % slower (Sapphire Rapids, 1
// thread, 768x768 to 768x3072).
constexpr int64_t kSpanTokens = 512;
// The quad copy's tokens are padded to whole 16-token vectors.
constexpr int64_t kPadTokens = 16;

int64_t padded_tokens(int64_t m) { return round_up(m, kPadTokens); }

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
  static constexpr auto reorder = reorder_quad_row;
  static constexpr auto tile3 = tile_avx512<3>;
  static constexpr auto tile2 = tile_avx512<2>;
  static constexpr auto tile1 = tile_avx512<1>;
};
struct AvxVnni {
  static constexpr int kVectorTokens = 8;
  static constexpr auto reorder = reorder_quad_row_avx2;
  static constexpr auto tile3 = tile_avx2<3>;
  static constexpr auto tile2 = tile_avx2<2>;
  static constexpr auto tile1 = tile_avx2<1>;
};

template <class Parts>
void run_team(const VnniInt8Weights& w, const uint8_t* x, int64_t ldx, int64_t m, bool x_signed, uint8_t* xq,
              const DenseRowsEpilogue& epilogue) {
  constexpr int64_t kT = Parts::kVectorTokens;
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
      const int64_t t_end = std::min(m_pad, t_begin + kSpanTokens), ld = t_end - t_begin;
      const int32_t* wg = w.group(g);
      int64_t t = t_begin;
      for (; t + 3 * kT <= t_end; t += 3 * kT) Parts::tile3(wg, mine + t * 4, ldb, quads, sums + (t - t_begin), ld);
      if (t + 2 * kT <= t_end) {
        Parts::tile2(wg, mine + t * 4, ldb, quads, sums + (t - t_begin), ld);
        t += 2 * kT;
      }
      if (t < t_end) Parts::tile1(wg, mine + t * 4, ldb, quads, sums + (t - t_begin), ld);
      const int rows = int(std::min<int64_t>(kRows, w.rows() - g * kRows));
      const int64_t tokens = std::min(m, t_end) - t_begin;
      epilogue(g * kRows, rows, t_begin, tokens, sums, ld);
    }
  }
}

}  // namespace

VnniInt8Weights::VnniInt8Weights(const int8_t* w, int64_t n, int64_t k)
    : n_(n), k_(k), quads_((k + 3) / 4), groups_((n + kRows - 1) / kRows) {
  data_.assign(size_t(groups_ * quads_ * kRows), 0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < k; ++c) {
      int32_t& dword = data_[size_t(((r / kRows) * quads_ + c / 4) * kRows + r % kRows)];
      dword = int32_t(uint32_t(dword) | uint32_t(uint8_t(w[r * k + c])) << (8 * (c % 4)));
    }
}

int64_t dense_int8_vnni_workspace_bytes(const VnniInt8Weights& w, int64_t m) {
  return w.quads() * padded_tokens(m) * 4 * omp_get_max_threads();
}

void dense_int8_avx512vnni(const VnniInt8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                           uint8_t* workspace, const DenseRowsEpilogue& epilogue) {
  if (m > 0) run_team<Avx512Vnni>(w, static_cast<const uint8_t*>(x), ldx, m, x_signed, workspace, epilogue);
}

void dense_int8_avxvnni(const VnniInt8Weights& w, const void* x, int64_t ldx, int64_t m, bool x_signed,
                        uint8_t* workspace, const DenseRowsEpilogue& epilogue) {
  if (m > 0) run_team<AvxVnni>(w, static_cast<const uint8_t*>(x), ldx, m, x_signed, workspace, epilogue);
}

}  // namespace fastbert::detail
