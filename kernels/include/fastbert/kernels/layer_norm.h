#pragma once
#include <cstdint>
#include <vector>

#include "fastbert/kernels/isa.h"

namespace fastbert {

// Post-attention / post-FFN LayerNorm of BERT on feature-major activations
// ([features][tokens], row stride ld): every token (column) is normalised over
// its features, with the residual add fused in front and an optional u8
// quantization for the next int8 GEMM fused behind:
//   z = x + x_bias[feature] + residual     (x_bias and residual optional)
//   y = (z - mean(z)) / sqrt(var(z) + epsilon) * gamma + beta
//   y_u8 = clamp(round_half_even(y / u8_scale) + u8_zero_point, 0, 255)
// y and y_u8 are each optional (at least one). y may alias x or residual when
// it has the same row stride: each element is read before it is written.
// y_u8 equals quantizing this call's own fp32 y exactly, bit for bit.
//
// Tokens are independent, so a caller may normalise any token range (offset
// the pointers, set tokens) — e.g. each block of 64..256 tokens right after
// the GEMM wrote it, while x and residual are still in L2: over a whole
// B=8, S=384 batch from memory it runs at ~3-4 GB/s on this shared machine
// (7.5-9.6 ms on one core). Rows that are a multiple of 4 KiB apart share
// cache sets: ld = 3072 took 9.6 ms, ld = 3088 7.5 ms (one core, 768 features).
struct LayerNormArgs {
  int64_t features = 0;
  int64_t tokens = 0;
  const float* x = nullptr;
  int64_t ld_x = 0;
  const float* x_bias = nullptr;  // [features]: the bias of the GEMM that produced x
  const float* residual = nullptr;
  int64_t ld_residual = 0;
  const float* gamma = nullptr;  // [features]
  const float* beta = nullptr;   // [features]
  float epsilon = 1e-12f;        // BERT's value
  float* y = nullptr;
  int64_t ld_y = 0;
  uint8_t* y_u8 = nullptr;
  int64_t ld_y_u8 = 0;
  float u8_scale = 1.0f;
  int32_t u8_zero_point = 0;
};

// One implementation: its level of the ISA lattice, its name, the tokens one
// register block covers, and its code (which gets validated arguments and
// splits tokens over threads itself).
struct LayerNormKernel {
  kernels::Isa isa;
  const char* name;
  int tile;
  void (*run)(const LayerNormArgs&);
};

// Every implementation, best first; the op, its tests and its benchmark all
// use this table.
const std::vector<LayerNormKernel>& layer_norm_kernels();

// Runs select_kernel(layer_norm_kernels()) (isa.h). Throws fastbert::Error
// for a bad shape, stride, missing buffer or a non-positive/non-finite scale
// or zero point outside 0..255.
void layer_norm(const LayerNormArgs& args);
// Runs `kernel`, whatever FASTBERT_ISA says (tests and benchmarks reach
// every entry so); one whose level the CPU lacks is refused with
// kernels::unsupported_isa_message.
void layer_norm(const LayerNormArgs& args, const LayerNormKernel& kernel);

}  // namespace fastbert
