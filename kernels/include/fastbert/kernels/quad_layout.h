#pragma once
#include <cstdint>

namespace fastbert::kernels {

// The activation layout of the 1x4 SpMM, u8 or s8 [K/4][M][4] ("VNNI
// layout"): quad row q holds, for every token i, the 4 features 4q..4q+3 as
// one dword at byte (q * ldq + i) * 4. A 1x4 block's 4 weights then meet 16
// tokens' quads in one contiguous 64-byte load, with no shuffle. When K is
// not a multiple of 4 the last quad's missing features are zeros.
//
// ldq is counted in tokens (dwords) between quad rows, >= m.
inline int64_t quad_rows(int64_t k) { return (k + 3) / 4; }
inline int64_t quad_layout_bytes(int64_t k, int64_t ldq) { return quad_rows(k) * ldq * 4; }

// Feature-major X (K x M bytes, rows ldx apart) to the quad layout, and back.
void reorder_to_quads(const uint8_t* x, int64_t ldx, int64_t k, int64_t m, uint8_t* xq, int64_t ldq);
void reorder_from_quads(const uint8_t* xq, int64_t ldq, int64_t k, int64_t m, uint8_t* x, int64_t ldx);

}  // namespace fastbert::kernels
