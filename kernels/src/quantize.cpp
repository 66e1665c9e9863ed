#include "fastbert/kernels/quantize.h"

#include <cmath>
#include <string>

#include "fastbert/common/error.h"
#include "fastbert/common/threads.h"
#include "math/quantize_u8.h"

namespace fastbert::kernels {

void quantize_u8(const float* x, int64_t count, float scale, int32_t zero_point, uint8_t* out) {
  if (!(scale > 0) || !std::isfinite(scale))
    throw Error("quantize_u8: scale " + std::to_string(scale) + " must be finite and positive");
  if (zero_point < 0 || zero_point > 255)
    throw Error("quantize_u8: zero point " + std::to_string(zero_point) + " is outside 0..255");
  const float inv_scale = 1.0f / scale;
  // About 0.5 ns per element on one core.
#pragma omp parallel for schedule(static) num_threads(threads_for_work(0.5 * double(count)))
  for (int64_t i = 0; i < count; ++i) out[i] = detail::quantize_u8(x[i], inv_scale, zero_point);
}

}  // namespace fastbert::kernels
