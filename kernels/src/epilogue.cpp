#include "fastbert/kernels/epilogue.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "fastbert/kernels/isa.h"
#include "math/gelu_cubic.h"
#include "math/gelu_cubic_avx2.h"
#include "math/gelu_cubic_avx512.h"
#include "math/partial_vector_avx2.h"
#include "math/quantize_u8.h"
#include "target.h"

namespace fastbert::kernels {
namespace {

// Quantizes `count` values by the runtime's one rule (math/quantize_u8.h).
template <typename T>
__attribute__((always_inline)) inline void quantize(const float* y, float inv_scale, int32_t zero_point, T* out,
                                                    int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = detail::quantize<T>(y[i], inv_scale, zero_point);
}

// GELU and the residual, in place on `n` values of `y` (at most a chunk);
// `residual` may alias the output but not `y`.
__attribute__((always_inline)) inline void post_ops_in_place(const Epilogue& e, float* y, const float* residual,
                                                             int64_t n) {
  if (e.gelu) {
    const gelu_cubic::Table& table = gelu_cubic::table();
    for (int64_t i = 0; i < n; ++i) y[i] = gelu_cubic::gelu(y[i], table);
  }
  if (residual)
    for (int64_t i = 0; i < n; ++i) y[i] += residual[i];
}

__attribute__((always_inline)) inline void epilogue_body(const Epilogue& e, const int32_t* acc,
                                                         int32_t compensation, float scale, float bias,
                                                         const float* residual, void* out, int64_t count) {
  if (e.output == OutputType::s32) {
    int32_t* o = static_cast<int32_t*>(out);
    for (int64_t i = 0; i < count; ++i) o[i] = acc[i] + compensation;
    return;
  }
  // An fp32 output without a residual (which may alias it) is computed in
  // place; everything else in a chunk on the stack. Going through the stack
  // buffer and two inlined memcpys (`rep movsq`) took 60 % of this
  // function's time on Sapphire Rapids (DenseInt8Primitive, 128 values a
  // row, perf annotate).
  constexpr int64_t kStep = 256;
  float buf[kStep];
  const bool in_place = e.output == OutputType::f32 && !residual;
  for (int64_t i0 = 0; i0 < count; i0 += kStep) {
    const int64_t n = std::min(kStep, count - i0);
    float* y = in_place ? static_cast<float*>(out) + i0 : buf;
    // fma, as the fused vector epilogues do: one rounding.
    for (int64_t i = 0; i < n; ++i) y[i] = std::fma(float(acc[i0 + i] + compensation), scale, bias);
    post_ops_in_place(e, y, residual ? residual + i0 : nullptr, n);
    switch (e.output) {
      case OutputType::f32:
        if (!in_place) {
          float* o = static_cast<float*>(out) + i0;
          for (int64_t i = 0; i < n; ++i) o[i] = buf[i];
        }
        break;
      case OutputType::u8:
        quantize(buf, 1.0f / e.out_scale, e.out_zero_point, static_cast<uint8_t*>(out) + i0, n);
        break;
      case OutputType::s8:
        quantize(buf, 1.0f / e.out_scale, e.out_zero_point, static_cast<int8_t*>(out) + i0, n);
        break;
      case OutputType::s32:
        break;  // returned above
    }
  }
}

// The same loops compiled three times: for AVX-512, for AVX2 with FMA
// (FASTBERT_TARGET_AVX2, where std::fma becomes an instruction, not a libm
// call) and for the baseline.
// This file is built with -ffp-contract=off, so all give the bits of the
// scalar reference.
#define FASTBERT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,prefer-vector-width=512")))

FASTBERT_AVX512 void epilogue_body_avx512(const Epilogue& e, const int32_t* acc, int32_t compensation, float scale,
                                          float bias, const float* residual, void* out, int64_t count) {
  epilogue_body(e, acc, compensation, scale, bias, residual, out, count);
}
// GCC 12 reports the _mm512_undefined_*() pass-through operands inside the
// intrinsics as "may be used uninitialized" here (not in the GELU op's file,
// which inlines the same code): a false positive, silenced for this function.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// fp32 and u8 outputs with intrinsics: the compiler kept the GELU's table
// lookups scalar, and the dense int8 layer's epilogue took 28 % of a dense
// BERT-base's time on Sapphire Rapids with AMX (batch 8, seq 128, perf).
// The same operations in the same order as epilogue_body (fma, GELU of
// math/gelu_cubic_avx512.h, residual, the u8 store of math/quantize_u8.h),
// so the bits are the scalar ones. s8 and s32 take epilogue_body.
FASTBERT_TARGET_AVX512BW void epilogue_avx512(const Epilogue& e, const int32_t* acc, int32_t compensation,
                                              float scale, float bias, const float* residual, void* out,
                                              int64_t count) {
  if (e.output != OutputType::f32 && e.output != OutputType::u8)
    return epilogue_body_avx512(e, acc, compensation, scale, bias, residual, out, count);
  const __m512i comp = _mm512_set1_epi32(compensation);
  const __m512 sc = _mm512_set1_ps(scale), b = _mm512_set1_ps(bias);
  const __m512 inv_scale = _mm512_set1_ps(1.0f / e.out_scale);
  const __m512i zero_point = _mm512_set1_epi32(e.out_zero_point);
  const gelu_cubic::Table& table = gelu_cubic::table();
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = count - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (count - i)) - 1);
    const __m512i a = _mm512_add_epi32(_mm512_maskz_loadu_epi32(m, acc + i), comp);
    __m512 y = _mm512_fmadd_ps(_mm512_cvtepi32_ps(a), sc, b);
    if (e.gelu) y = detail::gelu_cubic_avx512(y, table);
    if (residual) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, residual + i));
    if (e.output == OutputType::f32)
      _mm512_mask_storeu_ps(static_cast<float*>(out) + i, m, y);
    else
      detail::store_quantized_u8_avx512(static_cast<uint8_t*>(out) + i, m, y, inv_scale, zero_point);
  }
}
#pragma GCC diagnostic pop
FASTBERT_TARGET_AVX2 void epilogue_body_avx2(const Epilogue& e, const int32_t* acc, int32_t compensation,
                                             float scale, float bias, const float* residual, void* out, int64_t count) {
  epilogue_body(e, acc, compensation, scale, bias, residual, out, count);
}
// With GELU, epilogue_avx512's operations on 8 lanes, a block of values at
// a time (the GELU's lookups want blocks: math/gelu_cubic_avx2.h): the
// compiled loop kept the GELU scalar here too. Without GELU the compiled
// loop is faster. Measured on AMD EPYC Zen 3 (1 thread, 1536 rows of 128
// values, medians of 41): GELU + u8 0.32-0.45 ms here with permuted
// coefficients, 0.23-0.28 with the coefficients loaded by segment one vector
// at a time, 0.64-0.81 gathered, against 1.50-1.73 compiled; fp32 with or
// without a residual 0.11 ms here against 0.05-0.13 compiled. In blocks
// (this code; 1536 rows of 1024 values, 5 interleaved runs): GELU + u8
// 0.68-0.70 ns a value against 1.12-1.14 one vector at a time, GELU +
// residual fp32 0.78-0.80 against 0.86-0.88.
FASTBERT_TARGET_AVX2 void epilogue_avx2(const Epilogue& e, const int32_t* acc, int32_t compensation, float scale,
                                        float bias, const float* residual, void* out, int64_t count) {
  if (!e.gelu || (e.output != OutputType::f32 && e.output != OutputType::u8))
    return epilogue_body_avx2(e, acc, compensation, scale, bias, residual, out, count);
  const __m256i comp = _mm256_set1_epi32(compensation);
  const __m256 sc = _mm256_set1_ps(scale), b = _mm256_set1_ps(bias);
  const __m256 inv_scale = _mm256_set1_ps(1.0f / e.out_scale);
  const __m256i zero_point = _mm256_set1_epi32(e.out_zero_point);
  const gelu_cubic::Table& table = gelu_cubic::table();
  alignas(32) float y[detail::kGeluCubicBlockAvx2];
  for (int64_t i0 = 0; i0 < count; i0 += detail::kGeluCubicBlockAvx2) {
    const int64_t n = std::min(detail::kGeluCubicBlockAvx2, count - i0);
    for (int64_t j = 0; j < n; j += 8) {
      const __m256i a = _mm256_add_epi32(detail::load_first_epi32_avx2(acc + i0 + j, n - j), comp);
      _mm256_store_ps(y + j, _mm256_fmadd_ps(_mm256_cvtepi32_ps(a), sc, b));
    }
    detail::gelu_cubic_block_avx2(y, (n + 7) / 8, table);
    if (residual)
      for (int64_t j = 0; j < n; j += 8)
        _mm256_store_ps(y + j, _mm256_add_ps(_mm256_load_ps(y + j), detail::load_first_avx2(residual + i0 + j, n - j)));
    if (e.output == OutputType::f32)
      for (int64_t j = 0; j < n; j += 8)
        detail::store_first_avx2(static_cast<float*>(out) + i0 + j, n - j, _mm256_load_ps(y + j));
    else
      for (int64_t j = 0; j < n; j += 8)
        detail::store_quantized_u8_avx2(static_cast<uint8_t*>(out) + i0 + j, std::min<int64_t>(8, n - j),
                                        _mm256_load_ps(y + j), inv_scale, zero_point);
  }
}
void epilogue_default(const Epilogue& e, const int32_t* acc, int32_t compensation, float scale, float bias,
                      const float* residual, void* out, int64_t count) {
  epilogue_body(e, acc, compensation, scale, bias, residual, out, count);
}

enum class Variant { avx512, avx2, baseline };

// Follows the GEMM level (FASTBERT_ISA included), so a forced lower level
// runs no AVX-512 at all.
Variant variant() {
  static const Variant v = [] {
    if (isa_allowed(Isa::avx512bw)) return Variant::avx512;
    if (isa_allowed(Isa::avx2)) return Variant::avx2;
    return Variant::baseline;
  }();
  return v;
}

}  // namespace

void apply_epilogue(const Epilogue& e, const int32_t* acc, int32_t compensation, float scale, float bias,
                    const float* residual, void* out, int64_t count) {
  switch (variant()) {
    case Variant::avx512: return epilogue_avx512(e, acc, compensation, scale, bias, residual, out, count);
    case Variant::avx2: return epilogue_avx2(e, acc, compensation, scale, bias, residual, out, count);
    case Variant::baseline: return epilogue_default(e, acc, compensation, scale, bias, residual, out, count);
  }
}

float gelu_scalar(float x) { return gelu_cubic::gelu(x); }

}  // namespace fastbert::kernels
