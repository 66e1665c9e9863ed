#include "fastbert/kernels/layer_norm.h"

#include <cmath>
#include <string>

#include "fastbert/common/error.h"
#include "fastbert/kernels/isa.h"
#include "layer_norm_kernels.h"

namespace fastbert {

const char* layer_norm_path_name(LayerNormPath path) {
  switch (path) {
    case LayerNormPath::automatic: return "automatic";
    case LayerNormPath::avx512f: return "avx512f";
    case LayerNormPath::avx2: return "avx2";
    case LayerNormPath::reference: return "reference";
  }
  return "unknown";
}

void layer_norm(const LayerNormArgs& a, LayerNormPath path) {
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

  // FASTBERT_ISA caps the automatic choice only; an explicit path runs when
  // the CPU has it, so tests cover every path whatever the environment says.
  OpsIsa isa = ops_isa();
  if (path != LayerNormPath::automatic) {
    const OpsIsa wanted = path == LayerNormPath::avx512f ? OpsIsa::avx512f
                          : path == LayerNormPath::avx2  ? OpsIsa::avx2
                                                         : OpsIsa::reference;
    if (wanted > ops_cpu_isa())
      fail(std::string("path ") + layer_norm_path_name(path) + " needs an ISA this CPU lacks (it supports " +
           ops_isa_name(ops_cpu_isa()) + ")");
    isa = wanted;
  }
  if (isa >= OpsIsa::avx512f) detail::layer_norm_avx512f(a);
  else if (isa == OpsIsa::avx2) detail::layer_norm_avx2(a);
  else detail::layer_norm_reference(a);
}

}  // namespace fastbert
