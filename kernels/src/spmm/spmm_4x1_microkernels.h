#pragma once
#include <cstdint>
#include <vector>

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
  const int32_t* pairs = nullptr;    // the same weights as int16 pairs (pack_4x1_int16_pairs), for kernels that take them
  int64_t chunks = 0;
  const int32_t* acc_init = nullptr;  // 4 values (zero-point compensation)
  int32_t* acc = nullptr;             // 4 rows of m
  int64_t ld_acc = 0;
};

using Spmm4x1Microkernel = void (*)(const Spmm4x1GroupTask&);

// The weights of the vpmaddwd kernels that take them: per chunk 8 dwords, at
// [8 * chunk + 4 * p + r] the int16 pair (w[r][2p], w[r][2p + 1]) of row r and
// the chunk's columns 2p and 2p + 1, so that a kernel broadcasts each from
// memory (a load) instead of assembling it from two bytes for every token
// tile (scalar work and a shuffle: measured in spmm_4x1_avx2.cpp).
std::vector<int32_t> pack_4x1_int16_pairs(const int8_t* values, int64_t chunks);

void spmm_4x1_reference(const Spmm4x1GroupTask& t);
void spmm_4x1_avx2(const Spmm4x1GroupTask& t);
void spmm_4x1_avx512bw(const Spmm4x1GroupTask& t);
void spmm_4x1_avxvnni(const Spmm4x1GroupTask& t);

// Tokens [m_begin, m) of a task, by the reference loop (vector kernels' tails).
void spmm_4x1_reference_tail(const Spmm4x1GroupTask& t, int64_t m_begin);

}  // namespace fastbert::kernels
