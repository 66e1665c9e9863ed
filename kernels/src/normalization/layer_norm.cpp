#include "fastbert/kernels/layer_norm.h"

#include <cmath>
#include <string>

#include "fastbert/common/error.h"
#include "fastbert/kernels/isa.h"
#include "layer_norm_kernels.h"

namespace fastbert {

const std::vector<LayerNormKernel>& layer_norm_kernels() {
  using kernels::Isa;
  static const std::vector<LayerNormKernel> table = {
      {Isa::avx512bw, "layer_norm_avx512f", detail::kLayerNormTileAvx512, detail::layer_norm_avx512f},
      {Isa::avx2, "layer_norm_avx2", detail::kLayerNormTileAvx2, detail::layer_norm_avx2},
      {Isa::reference, "layer_norm_reference", 1, detail::layer_norm_reference},
  };
  return table;
}

namespace {

void check_args(const LayerNormArgs& a) {
  auto fail = [](const std::string& what) { throw Error("layer_norm: " + what); };
  if (a.features <= 0 || a.tokens <= 0)
    fail("features=" + std::to_string(a.features) + " and tokens=" + std::to_string(a.tokens) + " must be positive");
  if (!a.x || !a.gamma || !a.beta) fail("x, gamma and beta must not be null");
  if (!a.y && !a.y_u8) fail("no output: set y, y_u8 or both");
  auto check_ld = [&](const char* name, const void* p, int64_t ld) {
    if (p && ld < a.tokens)
      fail(std::string(name) + "=" + std::to_string(ld) + " is smaller than tokens=" + std::to_string(a.tokens));
  };
  check_ld("ld_x", a.x, a.ld_x);
  check_ld("ld_residual", a.residual, a.ld_residual);
  check_ld("ld_y", a.y, a.ld_y);
  check_ld("ld_y_u8", a.y_u8, a.ld_y_u8);
  if (!(a.epsilon >= 0) || !std::isfinite(a.epsilon)) fail("epsilon=" + std::to_string(a.epsilon) + " must be finite and >= 0");
  if (a.y_u8) {
    if (!(a.u8_scale > 0) || !std::isfinite(a.u8_scale))
      fail("u8_scale=" + std::to_string(a.u8_scale) + " must be finite and positive");
    if (a.u8_zero_point < 0 || a.u8_zero_point > 255)
      fail("u8_zero_point=" + std::to_string(a.u8_zero_point) + " is outside 0..255");
  }

}

}  // namespace

void layer_norm(const LayerNormArgs& args) { layer_norm(args, kernels::select_kernel(layer_norm_kernels())); }

void layer_norm(const LayerNormArgs& args, const LayerNormKernel& kernel) {
  kernels::require_cpu_isa(kernel.isa, std::string("layer_norm: ") + kernel.name);
  check_args(args);
  kernel.run(args);
}

}  // namespace fastbert
