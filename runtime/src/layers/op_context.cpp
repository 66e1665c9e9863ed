#include "layers/op_context.h"

#include "fastbert/kernels/layer_norm.h"
#include "fastbert/kernels/quantize.h"

namespace fastbert::layers {

void OpContext::run_linear(const Linear& l, const LinearIo& io, int64_t layer, const char* name) {
  if (options_.linear_input_observer && !l.int8())
    options_.linear_input_observer(layer, name, io.x, l.in_features(), io.m, io.ld);
  const char* kind = l.format() == fbm::LinearFormat::sparse_4x1_int8 ? "linear_sparse" : "linear_dense";
  const double seconds = timed(kind, [&] { l.forward(io); });
  if (options_.profile) profile_->linear_seconds[name] += seconds;
}

void OpContext::ensure_u8(const Linear& l, const float* x, int64_t count, uint8_t* u8, HeldQuant* held) {
  if (!l.int8() || (*held && **held == l.input_quant())) return;
  timed("other", [&] { kernels::quantize_u8(x, count, l.input_quant().scale, l.input_quant().zero_point, u8); });
  *held = l.input_quant();
}

void OpContext::layer_norm_into(const Activations& a, int64_t features, float epsilon, const char* kind,
                                const float* x, const float* residual, const float* gamma, const float* beta,
                                const Linear* next, HeldQuant* held) {
  LayerNormArgs n;
  n.features = features;
  n.tokens = a.m;
  n.x = x;
  n.ld_x = a.ld;
  n.residual = residual;
  n.ld_residual = a.ld;
  n.gamma = gamma;
  n.beta = beta;
  n.epsilon = epsilon;
  n.y = a.x;
  n.ld_y = a.ld;
  *held = std::nullopt;
  if (next && next->int8()) {
    n.y_u8 = a.u8_a;
    n.ld_y_u8 = a.ld;
    n.u8_scale = next->input_quant().scale;
    n.u8_zero_point = next->input_quant().zero_point;
    *held = next->input_quant();
  }
  timed(kind, [&] { layer_norm(n); });
}

}  // namespace fastbert::layers
