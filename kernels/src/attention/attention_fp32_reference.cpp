// The definition of attention, written for clarity rather than speed: the
// other paths are tested against it. Sums in double, classic three-pass
// softmax (max, exponentials and their sum, normalise).
#include <omp.h>

#include <cmath>

#include "../math/quantize_u8.h"
#include "attention_kernels.h"

namespace fastbert::detail {

size_t attention_thread_bytes_fp32_reference(const AttentionShape& s) {
  return sizeof(double) * size_t(s.seq_len);
}

void attention_fp32_reference(const AttentionArgs& a, char* workspace, size_t thread_bytes, int threads) {
  const AttentionShape& s = a.shape;
  const int dh = s.head_dim;
#pragma omp parallel for collapse(2) schedule(dynamic) num_threads(threads)
  for (int b = 0; b < s.batch; ++b) {
    for (int h = 0; h < s.heads; ++h) {
      double* p = reinterpret_cast<double*>(workspace + thread_bytes * size_t(omp_get_thread_num()));
      const int len = valid_length(a, b);
      const int64_t t0 = int64_t(b) * s.seq_len;
      const float* q = a.q + int64_t(h) * dh * a.ld_in + t0;
      const float* k = a.k + int64_t(h) * dh * a.ld_in + t0;
      const float* v = a.v + int64_t(h) * dh * a.ld_in + t0;
      const AttentionOutput o = AttentionOutput::of(a).at(int64_t(h) * dh, t0);
      for (int i = 0; i < len; ++i) {
        double max_score = -INFINITY;
        for (int j = 0; j < len; ++j) {
          double dot = 0;
          for (int d = 0; d < dh; ++d) dot += double(q[d * a.ld_in + i]) * k[d * a.ld_in + j];
          p[j] = dot * a.scale;
          max_score = std::fmax(max_score, p[j]);
        }
        double sum = 0;
        for (int j = 0; j < len; ++j) sum += (p[j] = std::exp(p[j] - max_score));
        for (int j = 0; j < len; ++j) p[j] /= sum;
        for (int d = 0; d < dh; ++d) {
          double out = 0;
          for (int j = 0; j < len; ++j) out += p[j] * v[d * a.ld_in + j];
          if (o.f32) o.f32[d * o.ld_f32 + i] = float(out);
          if (o.u8) o.u8[d * o.ld_u8 + i] = quantize_u8(float(out), o.inv_scale, o.zero_point);
        }
      }
    }
  }
}

}  // namespace fastbert::detail
