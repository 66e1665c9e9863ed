#pragma once
#include <cstdint>

namespace fastbert::kernels {

// One 4-row group times a range of tokens, int32 out. The intrinsic
// microkernels (fallback ISAs) and the reference share this interface; the
// JIT kernel has its own, with the epilogue fused.
struct Spmm4x1GroupTask {
  const uint8_t* x = nullptr;  // X at the first token of the range
  int64_t ldx = 0;
  int64_t m = 0;               // tokens in the range
  const int32_t* columns = nullptr;  // 4 per chunk
  const int8_t* values = nullptr;    // 16 per chunk
  int64_t chunks = 0;
  const int32_t* acc_init = nullptr;  // 4 values (zero-point compensation)
  int32_t* acc = nullptr;             // 4 rows of m
  int64_t ld_acc = 0;
};

using Spmm4x1Microkernel = void (*)(const Spmm4x1GroupTask&);

void spmm_4x1_reference(const Spmm4x1GroupTask& t);
void spmm_4x1_avx2(const Spmm4x1GroupTask& t);
void spmm_4x1_avx512bw(const Spmm4x1GroupTask& t);
void spmm_4x1_avxvnni(const Spmm4x1GroupTask& t);

// Tokens [m_begin, m) of a task, by the reference loop (vector kernels' tails).
void spmm_4x1_reference_tail(const Spmm4x1GroupTask& t, int64_t m_begin);

}  // namespace fastbert::kernels
