#pragma once
#include <cstdint>
#include <vector>

#include "fastbert/kernels/isa.h"

namespace fastbert {

// y = gelu(x + bias[row]) on a [rows][cols] matrix (row strides ld_*), where
// gelu(v) = v/2 * (1 + erf(v/sqrt(2))) as in BERT. With feature-major
// activations a row is a feature, so bias is the FFN's first bias. Optional
// u8 output for the next int8 GEMM: y_u8 = clamp(round_half_even(y / u8_scale)
// + u8_zero_point, 0, 255), bit-identical to quantizing this call's fp32 y.
// y and y_u8 are each optional (at least one); y may be x (same ld). For
// epilogues that cannot fuse GELU into the GEMM. Every path computes the
// piecewise cubic of the SpMM epilogues (gelu_scalar in epilogue.h, absolute
// error < 6e-6), the same float operations in the same order, so the dense
// and the sparse paths give the same bits.
struct GeluArgs {
  int64_t rows = 0;
  int64_t cols = 0;
  const float* x = nullptr;
  int64_t ld_x = 0;
  const float* bias = nullptr;  // [rows], optional
  float* y = nullptr;
  int64_t ld_y = 0;
  uint8_t* y_u8 = nullptr;
  int64_t ld_y_u8 = 0;
  float u8_scale = 1.0f;
  int32_t u8_zero_point = 0;
};

// Where one row's results go: y and/or its u8 quantization q (either null).
struct GeluRowOutput {
  float* y;
  uint8_t* q;
  float inv_scale;
  int32_t zero_point;
};

// One implementation: its level of the ISA lattice, its name, the floats one
// register covers, and its row function y = gelu(x + bias) over n floats
// (gelu() splits the rows over threads).
struct GeluKernel {
  kernels::Isa isa;
  const char* name;
  int tile;
  void (*row)(const float* x, int64_t n, float bias, const GeluRowOutput& out);
};

// Every implementation, best first; the op, its tests and its benchmark all
// use this table.
const std::vector<GeluKernel>& gelu_kernels();

// Runs select_kernel(gelu_kernels()) (isa.h). Throws fastbert::Error for a
// bad shape, stride, missing buffer or u8 parameters.
void gelu(const GeluArgs& args);
// Runs `kernel`, whatever FASTBERT_ISA says; one whose level the CPU lacks
// is refused with kernels::unsupported_isa_message.
void gelu(const GeluArgs& args, const GeluKernel& kernel);

// In place: x = gelu(x + bias[row]).
void gelu(float* x, int64_t rows, int64_t cols, int64_t ld, const float* bias);

}  // namespace fastbert
