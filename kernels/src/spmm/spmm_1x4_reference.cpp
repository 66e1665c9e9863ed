#include <cstring>

#include "spmm_1x4_microkernels.h"

namespace fastbert::kernels {

void spmm_1x4_reference_tail(const Spmm1x4RowTask& t, int64_t m_begin) {
  for (int64_t i = m_begin; i < t.m; ++i) {
    int32_t acc = t.acc_init;
    for (int64_t b = 0; b < t.blocks; ++b) {
      const uint8_t* x = t.x + int64_t(t.quads[b]) * t.ldq_bytes + i * 4;
      for (int j = 0; j < 4; ++j) acc += int32_t(t.values[b * 4 + j]) * int32_t(x[j]);
    }
    t.acc[i] = acc;
  }
}

void spmm_1x4_reference(const Spmm1x4RowTask& t) { spmm_1x4_reference_tail(t, 0); }

}  // namespace fastbert::kernels
