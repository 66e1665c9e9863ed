// The 1x4 block-sparse int8 kernel for AVX512-VNNI (intrinsics).
//
// Per block (one output row, input quad q) and 128-token tile: one dword
// broadcast of the block's 4 weights, then 8 contiguous 64-byte loads of
// X_quads[q][m..m+127][0..3], each feeding one vpdpbusd into one of 8
// accumulators. No shuffles: per vpdpbusd 1 + 1/8 loads, so the load ports
// bound it, not port 5 as in the 4x1 kernel's interleave.
//
// Register/L1-only ceiling of this loop (peak.cpp,
// measure_vnni_1x4_inner_loop_ceiling_gops), measured on AMD EPYC Zen 4, 1
// thread, beside other load (load average 5-7), 3 runs: 8 vectors a tile
// 393-399 GOP/s = 83-84 % of the measured vpdpbusd peak (473 GOP/s); 4 vectors
// (two accumulator sets) 79-80 %; 2, 6 and 12 vectors 41-57 %. Later, with
// the tile 64-byte aligned and the load average at 11-13, the same loop read
// 36-77 % (8 vectors: 41-70 %) while the register-only loops stayed at the
// peak: this loop's loads and L1 are what other load on the core takes. In the same
// runs the 4x1 interleave mix (8 unpacks + 16 vpdpbusd, no loads) ran at
// 100 % of the peak: Zen 4 issues the byte/word unpacks on pipes that do not
// take vpdpbusd, so the port-5 bound that caps 4x1 on Sapphire Rapids (62.8 %)
// does not exist here, while this loop's 1 + 1/8 zmm loads per vpdpbusd do
// (Zen 4 loads at most one zmm per cycle per port pair). Which family wins on
// real layers is measured by `fastbert bench kernels` (both families).
#include <immintrin.h>

#include <algorithm>

#include "spmm_1x4_microkernels.h"

namespace fastbert::kernels {

namespace {
constexpr int kVectors = 8;  // 16 tokens each: one 128-token tile
static_assert(kVectors * 16 == kSpmm1x4MaxTokens, "one call is one tile");

// acc += x (u8) . w (s8) per dword. GCC 12 compiles _mm512_dpbusd_epi32 in
// this loop with two register copies per vpdpbusd (it does not tie the
// accumulator to the destination); the asm form ties it.
__attribute__((target("avx512f,avx512vnni"), always_inline)) inline __m512i dpbusd(__m512i acc, __m512i x, __m512i w) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(x), "v"(w));
  return acc;
}
}  // namespace

namespace {

// The first kLive vectors of a tile; with kMasked, each load and store under
// its token mask (masked-off lanes never fault). A compile-time count keeps
// the accumulators in registers.
template <int kLive, bool kMasked>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void tile(const Spmm1x4RowTask& t,
                                                                           const __mmask16* mask) {
  // Locals, so that no store can alias them and the loop keeps them in registers.
  const uint8_t* const x0 = t.x;
  const int64_t ldq = t.ldq_bytes, blocks = t.blocks;
  const int32_t* const quads = t.quads;
  const int8_t* const values = t.values;
  __mmask16 m[kLive];
  for (int v = 0; v < kLive; ++v) m[v] = kMasked ? mask[v] : __mmask16(0xFFFF);
  __m512i acc[kLive];
  for (int v = 0; v < kLive; ++v) acc[v] = _mm512_set1_epi32(t.acc_init);
  for (int64_t b = 0; b < blocks; ++b) {
    const uint8_t* x = x0 + int64_t(quads[b]) * ldq;
    int32_t quad;
    __builtin_memcpy(&quad, values + 4 * b, 4);
    const __m512i w = _mm512_set1_epi32(quad);
    for (int v = 0; v < kLive; ++v) {
      const __m512i xv = kMasked ? _mm512_maskz_loadu_epi32(m[v], x + 64 * v) : _mm512_loadu_si512(x + 64 * v);
      acc[v] = dpbusd(acc[v], xv, w);
    }
  }
  for (int v = 0; v < kLive; ++v)
    if (kMasked)
      _mm512_mask_storeu_epi32(t.acc + 16 * v, m[v], acc[v]);
    else
      _mm512_storeu_si512(t.acc + 16 * v, acc[v]);
}

}  // namespace

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void spmm_1x4_avx512vnni(const Spmm1x4RowTask& t) {
  if (t.m == kSpmm1x4MaxTokens) return tile<kVectors, false>(t, nullptr);
  __mmask16 mask[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const int64_t valid = std::clamp<int64_t>(t.m - 16 * v, 0, 16);
    mask[v] = __mmask16((uint32_t(1) << valid) - 1);
  }
  switch ((t.m + 15) / 16) {
    case 1: return tile<1, true>(t, mask);
    case 2: return tile<2, true>(t, mask);
    case 3: return tile<3, true>(t, mask);
    case 4: return tile<4, true>(t, mask);
    case 5: return tile<5, true>(t, mask);
    case 6: return tile<6, true>(t, mask);
    case 7: return tile<7, true>(t, mask);
    case 8: return tile<8, true>(t, mask);
  }
}

}  // namespace fastbert::kernels
