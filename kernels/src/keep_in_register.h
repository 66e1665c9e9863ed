#pragma once
// keep_in_register(acc): an empty asm that takes and returns an accumulator
// in a vector register, written after each multiply-add step of an AVX2
// microkernel's loop. Without it GCC 12 compiled such loops (8 ymm
// accumulators, with their inputs 15-16 of the 16 registers) with a copy of
// every accumulator per step and some accumulators on the stack, so each
// step waited on a store-to-load round trip: the int8 attention's scores and
// P·V and the 4x1 SpMM ran at about half their vpmaddwd rate on AMD EPYC
// Zen 3 (measurements next to the users: attention_int8_avx2.cpp,
// spmm_4x1_avx2.cpp). It also keeps GCC from reassociating the integer sums
// into longer-lived temporaries; int32 addition is exact, so the bits are
// the same either way.
#include <immintrin.h>

#include "target.h"

namespace fastbert::detail {

FASTBERT_TARGET_AVX2 inline void keep_in_register(__m256i& v) { asm("" : "+x"(v)); }

}  // namespace fastbert::detail
