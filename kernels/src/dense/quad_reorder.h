#pragma once
// Feature-major activations to the quad layout [K/4][M][4] (quad_layout.h),
// one quad row at a time, with AVX-512 or AVX2: the B operand of the AMX
// tile kernel and the activation vectors of the VNNI dense kernels, built
// per call.
#include <immintrin.h>

#include <cstdint>

#include "../target.h"

namespace fastbert::detail {

// vshufi32x4 over all 16 dwords. The masked form, with `a` as its merge
// source: GCC 12's plain _mm512_shuffle_i32x4 merges into
// _mm512_undefined_epi32(), which -Wmaybe-uninitialized reports here.
template <int kLanes>
FASTBERT_TARGET_AVX512BW inline __m512i shuffle_lanes(__m512i a, __m512i b) {
  return _mm512_mask_shuffle_i32x4(a, __mmask16(0xFFFF), a, b, kLanes);
}

// Feature-major rows 4q..4q+3 (null rows read as zeros) to one quad row,
// 64 tokens at a time: byte unpacks give each 128-bit lane the quads of 4 of
// its 16 tokens, and a 4x4 transpose of the lanes puts the 16-token runs in
// order. Tokens m..m_pad (m_pad a multiple of 16) are zeros; every byte
// stored is XORed with `flip` (0x80 turns s8 into u8 + 128).
FASTBERT_TARGET_AVX512BW inline void reorder_quad_row(const uint8_t* const rows[4], int64_t m, int64_t m_pad,
                                                      uint8_t flip, uint8_t* out) {
  const __m512i flip_bits = _mm512_set1_epi8(char(flip));
  for (int64_t t = 0; t < m_pad; t += 64) {
    const __mmask64 in = t + 64 <= m ? ~__mmask64{0} : (t < m ? (__mmask64{1} << (m - t)) - 1 : 0);
    __m512i r[4];
    for (int j = 0; j < 4; ++j) r[j] = rows[j] ? _mm512_maskz_loadu_epi8(in, rows[j] + t) : _mm512_setzero_si512();
    const __m512i ab_lo = _mm512_unpacklo_epi8(r[0], r[1]), ab_hi = _mm512_unpackhi_epi8(r[0], r[1]);
    const __m512i cd_lo = _mm512_unpacklo_epi8(r[2], r[3]), cd_hi = _mm512_unpackhi_epi8(r[2], r[3]);
    const __m512i q0 = _mm512_unpacklo_epi16(ab_lo, cd_lo), q1 = _mm512_unpackhi_epi16(ab_lo, cd_lo);
    const __m512i q2 = _mm512_unpacklo_epi16(ab_hi, cd_hi), q3 = _mm512_unpackhi_epi16(ab_hi, cd_hi);
    const __m512i t0 = shuffle_lanes<0x44>(q0, q1), t1 = shuffle_lanes<0x44>(q2, q3);
    const __m512i t2 = shuffle_lanes<0xEE>(q0, q1), t3 = shuffle_lanes<0xEE>(q2, q3);
    const __m512i o[4] = {shuffle_lanes<0x88>(t0, t1), shuffle_lanes<0xDD>(t0, t1), shuffle_lanes<0x88>(t2, t3),
                          shuffle_lanes<0xDD>(t2, t3)};
    for (int j = 0; j < 4 && t + 16 * j < m_pad; ++j)
      _mm512_store_si512(out + (t + 16 * j) * 4, _mm512_xor_si512(o[j], flip_bits));
  }
}

// The same with AVX2 (for the AVX-VNNI kernel), 16 tokens at a time in
// 128-bit registers; a partial last run is staged through a zeroed buffer.
FASTBERT_TARGET_AVX2 inline void reorder_quad_row_avx2(const uint8_t* const rows[4], int64_t m, int64_t m_pad,
                                                       uint8_t flip, uint8_t* out) {
  const __m128i flip_bits = _mm_set1_epi8(char(flip));
  for (int64_t t = 0; t < m_pad; t += 16) {
    __m128i r[4];
    for (int j = 0; j < 4; ++j) {
      if (!rows[j] || t >= m) {
        r[j] = _mm_setzero_si128();
      } else if (t + 16 <= m) {
        r[j] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows[j] + t));
      } else {
        alignas(16) uint8_t part[16] = {};
        for (int64_t i = t; i < m; ++i) part[i - t] = rows[j][i];
        r[j] = _mm_load_si128(reinterpret_cast<const __m128i*>(part));
      }
    }
    const __m128i ab_lo = _mm_unpacklo_epi8(r[0], r[1]), ab_hi = _mm_unpackhi_epi8(r[0], r[1]);
    const __m128i cd_lo = _mm_unpacklo_epi8(r[2], r[3]), cd_hi = _mm_unpackhi_epi8(r[2], r[3]);
    __m128i* o = reinterpret_cast<__m128i*>(out + t * 4);
    _mm_store_si128(o + 0, _mm_xor_si128(_mm_unpacklo_epi16(ab_lo, cd_lo), flip_bits));
    _mm_store_si128(o + 1, _mm_xor_si128(_mm_unpackhi_epi16(ab_lo, cd_lo), flip_bits));
    _mm_store_si128(o + 2, _mm_xor_si128(_mm_unpacklo_epi16(ab_hi, cd_hi), flip_bits));
    _mm_store_si128(o + 3, _mm_xor_si128(_mm_unpackhi_epi16(ab_hi, cd_hi), flip_bits));
  }
}

// All of X (k rows of m bytes, ldx apart) into `quads` quad rows of m_pad
// tokens, ldb bytes apart, with one of the two quad-row functions above.
// Rows from k on read as zeros.
template <class ReorderRow>
inline void reorder_to_quads(ReorderRow reorder_row, const uint8_t* x, int64_t ldx, int64_t k, int64_t quads,
                             int64_t m, int64_t m_pad, uint8_t flip, uint8_t* out, int64_t ldb) {
  for (int64_t q = 0; q < quads; ++q) {
    const uint8_t* rows[4];
    for (int j = 0; j < 4; ++j) rows[j] = 4 * q + j < k ? x + (4 * q + j) * ldx : nullptr;
    reorder_row(rows, m, m_pad, flip, out + q * ldb);
  }
}

}  // namespace fastbert::detail
