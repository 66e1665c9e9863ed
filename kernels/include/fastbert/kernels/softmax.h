#pragma once
#include <cstdint>

namespace fastbert {

// An explicit path ignores the FASTBERT_ISA cap (tests use it to reach every
// path) and throws fastbert::Error only when the CPU lacks its instructions.
enum class SoftmaxPath {
  automatic,            // best two-pass path the CPU supports, capped by FASTBERT_ISA
  twopass_avx512f,
  twopass_avx2,
  twopass_reference,    // scalar two-pass
  threepass_avx512f,    // max, exp+sum, normalise: the classic, kept to measure against
  threepass_reference,  // the textbook definition in scalar code
};

const char* softmax_path_name(SoftmaxPath path);

// Row-wise softmax of a row-major [rows][cols] matrix, y may equal x. The
// two-pass paths read x twice: pass 1 sums the exponentials as a (value,
// exponent) pair, which needs no max and cannot overflow (Dukhan &
// Ablavatski 2020); pass 2 normalises. Inputs are clamped to +-1e4 first, so
// -inf works as a mask (a row of only -inf comes out uniform, not NaN).
// Throws fastbert::Error for a bad shape or stride.
void softmax(const float* x, int64_t ld_x, float* y, int64_t ld_y, int64_t rows, int64_t cols,
             SoftmaxPath path = SoftmaxPath::automatic);

}  // namespace fastbert
