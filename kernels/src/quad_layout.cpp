#include "fastbert/kernels/quad_layout.h"

#include <algorithm>

namespace fastbert::kernels {

void reorder_to_quads(const uint8_t* x, int64_t ldx, int64_t k, int64_t m, uint8_t* xq, int64_t ldq) {
  for (int64_t q = 0; q < quad_rows(k); ++q) {
    uint8_t* out = xq + q * ldq * 4;
    for (int j = 0; j < 4; ++j) {
      const int64_t f = 4 * q + j;
      if (f < k) {
        const uint8_t* in = x + f * ldx;
        for (int64_t i = 0; i < m; ++i) out[i * 4 + j] = in[i];
      } else {
        for (int64_t i = 0; i < m; ++i) out[i * 4 + j] = 0;
      }
    }
  }
}

void reorder_from_quads(const uint8_t* xq, int64_t ldq, int64_t k, int64_t m, uint8_t* x, int64_t ldx) {
  for (int64_t f = 0; f < k; ++f) {
    const uint8_t* in = xq + (f / 4) * ldq * 4 + f % 4;
    uint8_t* out = x + f * ldx;
    for (int64_t i = 0; i < m; ++i) out[i] = in[i * 4];
  }
}

}  // namespace fastbert::kernels
