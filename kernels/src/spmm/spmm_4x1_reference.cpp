#include "spmm_4x1_microkernels.h"

namespace fastbert::kernels {

void spmm_4x1_reference_tail(const Spmm4x1GroupTask& t, int64_t m_begin) {
  for (int r = 0; r < 4; ++r) {
    for (int64_t m = m_begin; m < t.m; ++m) {
      int32_t acc = t.acc_init[r];
      for (int64_t ch = 0; ch < t.chunks; ++ch)
        for (int j = 0; j < 4; ++j)
          acc += int32_t(t.values[ch * 16 + r * 4 + j]) * int32_t(t.x[t.columns[ch * 4 + j] * t.ldx + m]);
      t.acc[r * t.ld_acc + m] = acc;
    }
  }
}

void spmm_4x1_reference(const Spmm4x1GroupTask& t) { spmm_4x1_reference_tail(t, 0); }

}  // namespace fastbert::kernels
