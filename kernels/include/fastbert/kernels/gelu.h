#pragma once
#include <cstdint>

namespace fastbert {

// `automatic` picks the best path the CPU supports, capped by FASTBERT_ISA;
// an explicit path ignores the cap (tests use it to reach every path) and
// throws fastbert::Error only when the CPU lacks its instructions.
enum class GeluPath { automatic, avx512f, avx2, reference };

// x = gelu(x + bias[row]) in place on a [rows][cols] matrix with row stride ld,
// where gelu(v) = v/2 * (1 + erf(v/sqrt(2))) as in BERT. With feature-major
// activations a row is a feature, so bias is the linear layer's bias; nullptr
// for none. For epilogues that cannot fuse GELU into the GEMM. The SIMD paths
// evaluate erf to within 1.5e-7 (Abramowitz & Stegun 7.1.26), never forming
// 1 + erf(v) for v < 0 so that the negative tail keeps its precision.
// Throws fastbert::Error for a bad shape or stride.
void gelu(float* x, int64_t rows, int64_t cols, int64_t ld, const float* bias,
          GeluPath path = GeluPath::automatic);

}  // namespace fastbert
