// LayerNorm as defined, one token at a time, statistics in double.
#include <cmath>

#include "layer_norm_kernels.h"

namespace fastbert::detail {

void layer_norm_reference(const LayerNormArgs& a) {
  const float inv_scale = 1.0f / a.u8_scale;
#pragma omp parallel for schedule(static) num_threads(layer_norm_threads(a))
  for (int64_t m = 0; m < a.tokens; ++m) {
    auto z = [&](int64_t f) {
      return double(a.x[f * a.ld_x + m]) + (a.x_bias ? double(a.x_bias[f]) : 0.0) +
             (a.residual ? double(a.residual[f * a.ld_residual + m]) : 0.0);
    };
    double mean = 0;
    for (int64_t f = 0; f < a.features; ++f) mean += z(f);
    mean /= double(a.features);
    double var = 0;
    for (int64_t f = 0; f < a.features; ++f) var += (z(f) - mean) * (z(f) - mean);
    var /= double(a.features);
    const double inv_std = 1.0 / std::sqrt(var + a.epsilon);
    for (int64_t f = 0; f < a.features; ++f) {
      const float y = float((z(f) - mean) * inv_std * a.gamma[f] + a.beta[f]);
      if (a.y) a.y[f * a.ld_y + m] = y;
      if (a.y_u8) a.y_u8[f * a.ld_y_u8 + m] = quantize_u8(y, inv_scale, a.u8_zero_point);
    }
  }
}

}  // namespace fastbert::detail
