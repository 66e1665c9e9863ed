#pragma once
#include <cstdint>

#include "fastbert/kernels/isa.h"

namespace fastbert::kernels {

// One output row of the 1x4 SpMM over a range of tokens, int32 out:
//   acc[i] = acc_init + sum over the row's blocks b of
//            dot(values[4b..4b+3], X_quads[quads[b]][i][0..3]).
// Every ISA path shares this interface; the primitive (spmm_1x4.cpp) applies
// the epilogue on the row's accumulators while they are in L1.
struct Spmm1x4RowTask {
  const uint8_t* x = nullptr;  // quad row 0 of the [K/4][M][4] activations, at the first token of the range
  int64_t ldq_bytes = 0;       // bytes between quad rows
  int64_t m = 0;               // tokens in the range (at most kSpmm1x4MaxTokens)
  const int32_t* quads = nullptr;  // the row's block quad indices
  const int8_t* values = nullptr;  // 4 per block
  int64_t blocks = 0;
  int32_t acc_init = 0;  // zero-point compensation
  int32_t* acc = nullptr;  // m values
};

// The primitive never gives a microkernel more tokens than this per call.
constexpr int64_t kSpmm1x4MaxTokens = 128;

using Spmm1x4Microkernel = void (*)(const Spmm1x4RowTask&);

void spmm_1x4_reference(const Spmm1x4RowTask& t);
void spmm_1x4_avx2(const Spmm1x4RowTask& t);
void spmm_1x4_avx512bw(const Spmm1x4RowTask& t);
void spmm_1x4_avxvnni(const Spmm1x4RowTask& t);
void spmm_1x4_avx512vnni(const Spmm1x4RowTask& t);

// Tokens [m_begin, m) of a task by the reference loop (vector kernels' tails).
void spmm_1x4_reference_tail(const Spmm1x4RowTask& t, int64_t m_begin);

// The family's table, best first (the order of the ISA lattice): the
// primitive runs the first entry at or below SpmmDesc::isa that the CPU has;
// its tests and the benchmark iterate the same table.
struct Spmm1x4MicrokernelEntry {
  Isa isa;
  const char* name;
  Spmm1x4Microkernel fn;
};
inline constexpr Spmm1x4MicrokernelEntry kSpmm1x4Microkernels[] = {
    {Isa::avx512_vnni, "spmm_1x4_avx512vnni", spmm_1x4_avx512vnni},
    {Isa::avx512bw, "spmm_1x4_avx512bw", spmm_1x4_avx512bw},
    {Isa::avx_vnni, "spmm_1x4_avxvnni", spmm_1x4_avxvnni},
    {Isa::avx2, "spmm_1x4_avx2", spmm_1x4_avx2},
    {Isa::reference, "spmm_1x4_reference", spmm_1x4_reference},
};

}  // namespace fastbert::kernels
