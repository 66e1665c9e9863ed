#pragma once
#include <cstdint>

#include "fastbert/kernels/epilogue.h"
#include "fastbert/kernels/spmm.h"

namespace fastbert::kernels {

// Plain loops that define what the fast kernels must compute; the tests compare
// against these.

// The SpMM oracle on a dense int8 weight matrix (rows x cols, row-major) with
// per-row scales: int32 accumulation, then the same epilogue stages.
void reference_spmm(const int8_t* weights, const float* w_scales, int64_t rows, int64_t cols, ActivationType activation,
                    const Epilogue& epilogue, const SpmmArgs& args);

// C (m x n) = A (m x k) x B (k x n), fp32, arbitrary leading dimensions;
// trans_a / trans_b mean the operand is stored transposed (A as k x m, B as n x k).
void reference_gemm_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool trans_a, const float* b,
                        int64_t ldb, bool trans_b, float* c, int64_t ldc);

}  // namespace fastbert::kernels
