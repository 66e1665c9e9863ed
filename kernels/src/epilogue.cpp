#include "fastbert/kernels/epilogue.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "fastbert/kernels/isa.h"
#include "math/gelu_cubic.h"
#include "math/quantize_u8.h"

namespace fastbert::kernels {
namespace {

// Quantizes `count` values by the runtime's one rule (math/quantize_u8.h).
template <typename T>
__attribute__((always_inline)) inline void quantize(const float* y, float inv_scale, int32_t zero_point, T* out,
                                                    int64_t count) {
  for (int64_t i = 0; i < count; ++i) out[i] = detail::quantize<T>(y[i], inv_scale, zero_point);
}

__attribute__((always_inline)) inline void post_ops_body(const Epilogue& e, const float* y, const float* residual,
                                                         void* out, int64_t count) {
  // Work in a small stack buffer so that fp32-to-fp32 can run in place and
  // every stage is a simple loop the compiler vectorises.
  constexpr int64_t kStep = 256;
  float buf[kStep];
  for (int64_t i0 = 0; i0 < count; i0 += kStep) {
    const int64_t n = std::min(kStep, count - i0);
    if (e.gelu) {
      const gelu_cubic::Table& table = gelu_cubic::table();
      for (int64_t i = 0; i < n; ++i) buf[i] = gelu_cubic::gelu(y[i0 + i], table);
    } else {
      std::memcpy(buf, y + i0, size_t(n) * sizeof(float));
    }
    if (residual)
      for (int64_t i = 0; i < n; ++i) buf[i] += residual[i0 + i];
    switch (e.output) {
      case OutputType::f32:
      case OutputType::s32:  // s32 never reaches the fp32 stages; treated as f32 bits
        std::memcpy(static_cast<float*>(out) + i0, buf, size_t(n) * sizeof(float));
        break;
      case OutputType::u8:
        quantize(buf, 1.0f / e.out_scale, e.out_zero_point, static_cast<uint8_t*>(out) + i0, n);
        break;
      case OutputType::s8:
        quantize(buf, 1.0f / e.out_scale, e.out_zero_point, static_cast<int8_t*>(out) + i0, n);
        break;
    }
  }
}

__attribute__((always_inline)) inline void epilogue_body(const Epilogue& e, const int32_t* acc,
                                                         int32_t compensation, float scale, float bias,
                                                         const float* residual, void* out, int64_t count) {
  if (e.output == OutputType::s32) {
    int32_t* o = static_cast<int32_t*>(out);
    for (int64_t i = 0; i < count; ++i) o[i] = acc[i] + compensation;
    return;
  }
  constexpr int64_t kStep = 256;
  float buf[kStep];
  for (int64_t i0 = 0; i0 < count; i0 += kStep) {
    const int64_t n = std::min(kStep, count - i0);
    // fma, as the fused vector epilogues do: one rounding.
    for (int64_t i = 0; i < n; ++i) buf[i] = std::fma(float(acc[i0 + i] + compensation), scale, bias);
    void* o = e.output == OutputType::f32 ? static_cast<void*>(static_cast<float*>(out) + i0)
                                          : static_cast<void*>(static_cast<uint8_t*>(out) + i0);
    post_ops_body(e, buf, residual ? residual + i0 : nullptr, o, n);
  }
}

// The same loops compiled three times: for AVX-512, for AVX2 with FMA (where
// std::fma becomes an instruction, not a libm call) and for the baseline.
// This file is built with -ffp-contract=off, so all give the bits of the
// scalar reference.
#define FASTBERT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,prefer-vector-width=512")))
#define FASTBERT_AVX2 __attribute__((target("avx2,fma")))

FASTBERT_AVX512 void epilogue_avx512(const Epilogue& e, const int32_t* acc, int32_t compensation, float scale,
                                     float bias, const float* residual, void* out, int64_t count) {
  epilogue_body(e, acc, compensation, scale, bias, residual, out, count);
}
FASTBERT_AVX2 void epilogue_avx2(const Epilogue& e, const int32_t* acc, int32_t compensation, float scale,
                                 float bias, const float* residual, void* out, int64_t count) {
  epilogue_body(e, acc, compensation, scale, bias, residual, out, count);
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
