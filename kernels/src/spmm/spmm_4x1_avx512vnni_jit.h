#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "fastbert/kernels/epilogue.h"

namespace fastbert::kernels {

// Arguments of one call of the generated code: one 4-row group times a range
// of tokens (full 64-token tiles, then an optional masked tail tile).
struct Spmm4x1JitArgs {
  const uint8_t* x;          // X at the first token of the range
  int64_t ldx;               // bytes between rows of X
  const int32_t* columns;    // the group's chunk columns
  const int8_t* values;      // the group's chunk values
  int64_t chunks;
  void* y;                   // output row 0 of the group, first token
  int64_t ldy_bytes;
  int64_t full_tiles;
  uint64_t tail_load_mask;   // bit i: token i of the tail tile exists; 0 = no tail
  uint16_t tail_store_mask[4];  // per 16-token output vector of the tail tile
  const int32_t* acc_init;   // 4 values: zero-point compensation
  const float* scale;        // 4 values (all but s32 output)
  const float* bias;         // 4 values (all but s32 output)
  int64_t rows;              // valid rows of the group (1..4)
  const float* residual;     // residual row 0 of the group, first token (with a residual)
  int64_t ldr_bytes;
  const float* constants;    // Spmm4x1JitConstants (GELU, u8/s8 output)
};

// The epilogue the generated code applies, in the order of kernels::Epilogue:
// fma(acc, scale, bias), GELU, + residual, then store as f32 or requantize.
struct Spmm4x1JitEpilogue {
  OutputType output = OutputType::f32;
  bool gelu = false;
  bool residual = false;
  // Full tiles stored with non-temporal stores (f32 output only; rows must be
  // 64-byte aligned), for outputs far larger than the caches, where the
  // read-for-ownership of ordinary stores would double the memory traffic.
  bool streaming = false;
  bool operator<(const Spmm4x1JitEpilogue& o) const;
};

// The floats the generated epilogue broadcasts from memory, per primitive:
// GELU's range constants (its coefficient tables are gelu_cubic::table(),
// which the code addresses directly) and the requantization.
struct Spmm4x1JitConstants {
  float values[24];
  explicit Spmm4x1JitConstants(const Epilogue& e);
};

// Generated once per epilogue and cached for the process: the sparsity
// pattern is data (column lists read by the loop), not code, so one kernel
// serves every layer and the code stays small, in L1i.
using Spmm4x1JitFn = void (*)(const Spmm4x1JitArgs*);
Spmm4x1JitFn spmm_4x1_avx512vnni_jit(const Spmm4x1JitEpilogue& epilogue);

constexpr int kSpmm4x1JitTile = 64;

}  // namespace fastbert::kernels
