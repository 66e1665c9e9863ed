#include "layers/quantize.h"

#include <algorithm>
#include <cmath>

namespace fastbert::layers {

void quantize_u8(const float* x, int64_t count, const QuantParams& q, uint8_t* out) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) {
    // nearbyint rounds half to even in the default rounding mode.
    const float v = std::nearbyint(x[i] / q.scale) + static_cast<float>(q.zero_point);
    out[i] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
  }
}

}  // namespace fastbert::layers
