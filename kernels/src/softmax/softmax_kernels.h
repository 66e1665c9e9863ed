#pragma once
// Per-ISA row softmax implementations behind softmax(); one row per call, the
// dispatcher parallelises over rows.
#include <cstdint>

namespace fastbert::detail {

void softmax_row_twopass_reference(const float* x, float* y, int64_t n);
void softmax_row_threepass_reference(const float* x, float* y, int64_t n);
void softmax_row_twopass_avx512f(const float* x, float* y, int64_t n);
void softmax_row_threepass_avx512f(const float* x, float* y, int64_t n);
void softmax_row_twopass_avx2(const float* x, float* y, int64_t n);

}  // namespace fastbert::detail
