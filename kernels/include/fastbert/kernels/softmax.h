#pragma once
#include <cstdint>
#include <vector>

#include "fastbert/kernels/isa.h"

namespace fastbert {

// One implementation: its level of the ISA lattice, its name, the floats one
// register covers, and its row function (softmax() splits rows over threads).
struct SoftmaxKernel {
  kernels::Isa isa;
  const char* name;
  int tile;
  void (*row)(const float* x, float* y, int64_t n);
};

// Every implementation, best first: the two-pass ones, then the classic
// three-pass ones, kept to measure against (after the two-pass reference, so
// never chosen by default). The op, its tests and its benchmark all use it.
const std::vector<SoftmaxKernel>& softmax_kernels();

// Row-wise softmax of a row-major [rows][cols] matrix, y may equal x. The
// two-pass paths read x twice: pass 1 sums the exponentials as a (value,
// exponent) pair, which needs no max and cannot overflow (Dukhan &
// Ablavatski 2020); pass 2 normalises. Inputs are clamped to +-1e4 first, so
// -inf works as a mask (a row of only -inf comes out uniform, not NaN).
// Runs select_kernel(softmax_kernels()) (isa.h). Throws fastbert::Error for
// a bad shape or stride.
void softmax(const float* x, int64_t ld_x, float* y, int64_t ld_y, int64_t rows, int64_t cols);
// Runs `kernel`, whatever FASTBERT_ISA says; one whose level the CPU lacks
// is refused with kernels::unsupported_isa_message.
void softmax(const float* x, int64_t ld_x, float* y, int64_t ld_y, int64_t rows, int64_t cols,
             const SoftmaxKernel& kernel);

}  // namespace fastbert
