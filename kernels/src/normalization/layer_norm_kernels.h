#pragma once
// Per-ISA LayerNorm implementations behind layer_norm(); they get validated
// arguments and parallelise over token blocks themselves.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../math/quantize_u8.h"
#include "fastbert/common/threads.h"
#include "fastbert/kernels/layer_norm.h"

namespace fastbert::detail {

// Threads for one call: about 1 ns per element on one core (two passes
// over features x tokens, the vector paths; an estimate, see threads.h).
inline int layer_norm_threads(const LayerNormArgs& a) { return threads_for_work(1.0 * double(a.features * a.tokens)); }

// Tokens per register block of the vector paths (4 vectors).
constexpr int kLayerNormTileAvx512 = 64;
constexpr int kLayerNormTileAvx2 = 32;

void layer_norm_reference(const LayerNormArgs& a);
void layer_norm_avx512f(const LayerNormArgs& a);
void layer_norm_avx2(const LayerNormArgs& a);

}  // namespace fastbert::detail
