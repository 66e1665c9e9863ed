#pragma once
#include <string>

#include "fastbert/kernels/isa.h"

namespace fastbert::kernels {

// The int8 multiply-accumulate peak of this machine, measured with a JIT loop
// of independent vpdpbusd zmm instructions (no loads, 24 accumulators) on
// `threads` threads at once. Returned in GOP/s counting a MAC as 2 ops. Needs
// AVX512-VNNI; returns 0 without it.
double measure_vnni_peak_gops(int threads, double seconds = 0.2);

// The exact int8 multiply-accumulate peak of a CPU without VNNI: a JIT loop
// of independent vpmaddwd ymm (16 MACs of int16-widened bytes each) whose
// products vpaddd adds into 6 accumulators, as the AVX2 kernels do. Same
// units; needs AVX2 (0 without it). vpmaddubsw, which multiplies bytes
// directly at twice the rate, saturates u8 x s8 pairs, so it is no peak of
// exact int8.
double measure_avx2_int8_peak_gops(int threads, double seconds = 0.2);

// The int8 peak this CPU's speed figures are measured against: VNNI's
// (measure_vnni_peak_gops) where the CPU has AVX512-VNNI, else the exact AVX2
// multiply-accumulate's (measure_avx2_int8_peak_gops), so that a CPU without
// VNNI reports its own yardstick rather than 0. Both on `threads` threads
// and on 1; gops 0 on a CPU with neither.
struct Int8Peak {
  double gops = 0, gops_1_thread = 0;
  Isa isa = Isa::avx2;    // whose loop was measured: avx512_vnni or avx2
  const char* name = "";  // "VNNI" or "AVX2 exact int8"
  const char* loop = "";  // what was measured, in words
};
Int8Peak measure_int8_peak(int threads, double seconds = 0.2);

// The rate of vpdpbusd MACs in the register-only instruction mix of one 4x1
// SpMM chunk (8 unpacks that interleave 4 input rows + 16 vpdpbusd), same
// units: the ceiling of the 4x1 microkernel on this core before any load,
// gather or epilogue. Needs AVX512-VNNI; returns 0 without it.
double measure_vnni_4x1_interleave_ceiling_gops(int threads, double seconds = 0.2);

// The rate of vpdpbusd MACs in the inner loop of the 1x4 SpMM with its data
// in L1 (register/L1-only, no epilogue): per block a scaled quad index, one
// weight-dword broadcast and `tile_vectors` (1..12) activation loads each
// feeding one vpdpbusd. Same units; needs AVX512-VNNI (0 without it, and for
// a tile_vectors outside 1..12).
double measure_vnni_1x4_inner_loop_ceiling_gops(int threads, int tile_vectors, double seconds = 0.2);

// The processor's model name as the OS reports it (/proc/cpuinfo), to be
// printed next to every speed figure; "unknown CPU" where it is not readable.
std::string cpu_model_name();

}  // namespace fastbert::kernels
