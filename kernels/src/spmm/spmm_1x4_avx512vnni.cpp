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
}  // namespace

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) void spmm_1x4_avx512vnni(const Spmm1x4RowTask& t) {
  __m512i acc[kVectors];
  for (int v = 0; v < kVectors; ++v) acc[v] = _mm512_set1_epi32(t.acc_init);
  if (t.m == kSpmm1x4MaxTokens) {
    for (int64_t b = 0; b < t.blocks; ++b) {
      const uint8_t* x = t.x + int64_t(t.quads[b]) * t.ldq_bytes;
      int32_t quad;
      __builtin_memcpy(&quad, t.values + 4 * b, 4);
      const __m512i w = _mm512_set1_epi32(quad);
      for (int v = 0; v < kVectors; ++v) acc[v] = _mm512_dpbusd_epi32(acc[v], _mm512_loadu_si512(x + 64 * v), w);
    }
    for (int v = 0; v < kVectors; ++v) _mm512_storeu_si512(t.acc + 16 * v, acc[v]);
    return;
  }
  // A partial tile: masked loads (masked-off lanes never fault) and stores.
  __mmask16 mask[kVectors];
  for (int v = 0; v < kVectors; ++v) {
    const int64_t valid = std::clamp<int64_t>(t.m - 16 * v, 0, 16);
    mask[v] = __mmask16((uint32_t(1) << valid) - 1);
  }
  const int live = int((t.m + 15) / 16);
  for (int64_t b = 0; b < t.blocks; ++b) {
    const uint8_t* x = t.x + int64_t(t.quads[b]) * t.ldq_bytes;
    int32_t quad;
    __builtin_memcpy(&quad, t.values + 4 * b, 4);
    const __m512i w = _mm512_set1_epi32(quad);
    for (int v = 0; v < kVectors; ++v)
      if (v < live) acc[v] = _mm512_dpbusd_epi32(acc[v], _mm512_maskz_loadu_epi32(mask[v], x + 64 * v), w);
  }
  for (int v = 0; v < live; ++v) _mm512_mask_storeu_epi32(t.acc + 16 * v, mask[v], acc[v]);
}

}  // namespace fastbert::kernels
