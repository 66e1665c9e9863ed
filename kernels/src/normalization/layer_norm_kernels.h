#pragma once
// Per-ISA LayerNorm implementations behind layer_norm(); they get validated
// arguments and parallelise over token blocks themselves.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../math/quantize_u8.h"
#include "fastbert/kernels/layer_norm.h"

namespace fastbert::detail {

void layer_norm_reference(const LayerNormArgs& a);
void layer_norm_avx512f(const LayerNormArgs& a);
void layer_norm_avx2(const LayerNormArgs& a);

}  // namespace fastbert::detail
