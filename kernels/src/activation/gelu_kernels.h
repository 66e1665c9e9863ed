#pragma once
// Per-ISA GELU rows behind gelu(): y = gelu(x + bias) on n contiguous floats,
// y and/or its u8 quantization (q) written, either may be null. Every path
// computes kernels/src/math/gelu_cubic.h's gelu bit for bit.
#include <cstdint>

#include "fastbert/kernels/gelu.h"

namespace fastbert::detail {

using fastbert::GeluRowOutput;

void gelu_row_reference(const float* x, int64_t n, float bias, const GeluRowOutput& out);
void gelu_row_avx512f(const float* x, int64_t n, float bias, const GeluRowOutput& out);
void gelu_row_avx2(const float* x, int64_t n, float bias, const GeluRowOutput& out);

}  // namespace fastbert::detail
