// GELU with AVX-512F (math/gelu_cubic_avx512.h): every element has the bits
// of the scalar formula and of the SpMM epilogues.
#include <immintrin.h>

#include "../math/gelu_cubic_avx512.h"
#include "../math/quantize_u8.h"
#include "gelu_kernels.h"
#include "../target.h"

namespace fastbert::detail {
namespace gc = kernels::gelu_cubic;

FASTBERT_TARGET_AVX512BW void gelu_row_avx512f(const float* x, int64_t n, float bias,
                                                                         const GeluRowOutput& out) {
  const __m512 b = _mm512_set1_ps(bias);
  const __m512 inv_scale = _mm512_set1_ps(out.inv_scale);
  const __m512i zero_point = _mm512_set1_epi32(out.zero_point);
  const gc::Table& table = gc::table();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1);
    const __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, x + i), b);
    const __m512 y = gelu_cubic_avx512(v, table);
    if (out.y) _mm512_mask_storeu_ps(out.y + i, m, y);
    if (out.q) store_quantized_u8_avx512(out.q + i, m, y, inv_scale, zero_point);
  }
}

}  // namespace fastbert::detail
