#include "layers/encoder_layer.h"

#include <cmath>

#include "fastbert/kernels/attention.h"
#include "fastbert/kernels/gelu.h"
#include "fastbert/kernels/quantize.h"

namespace fastbert::layers {

EncoderLayer::EncoderLayer(const fbm::FbmFile& f, int64_t index, double int8_dense_below_sparsity)
    : config_(f.config()), index_(index) {
  const int64_t h = config_.hidden_size, inter = config_.intermediate_size;
  auto load = [&](const char* name, int64_t n, int64_t k, const LinearFusion& wanted) {
    return load_linear(f, index, name, n, k, wanted, int8_dense_below_sparsity);
  };
  LinearFusion none, residual;
  residual.residual = true;
  query_ = load("query", h, h, none);
  key_ = load("key", h, h, none);
  value_ = load("value", h, h, none);
  attention_output_ = load("attention_output", h, h, residual);
  output_ = load("output", h, inter, residual);
  LinearFusion gelu;
  gelu.gelu = true;
  gelu.output_u8 = output_->int8();
  gelu.output = output_->input_quant();
  intermediate_ = load("intermediate", inter, h, gelu);
  const std::string p = fbm::layer_prefix(index);
  ln1_gamma_ = f.array<float>(p + "attention_layer_norm_gamma", {h}).data;
  ln1_beta_ = f.array<float>(p + "attention_layer_norm_beta", {h}).data;
  ln2_gamma_ = f.array<float>(p + "output_layer_norm_gamma", {h}).data;
  ln2_beta_ = f.array<float>(p + "output_layer_norm_beta", {h}).data;
}

std::array<const Linear*, fbm::kLinearsPerLayer> EncoderLayer::linears() const {
  return {query_.get(), key_.get(), value_.get(), attention_output_.get(), intermediate_.get(), output_.get()};
}

bool EncoderLayer::any_int8() const {
  for (const Linear* l : linears())
    if (l->int8()) return true;
  return false;
}

void EncoderLayer::forward(const Activations& a, OpContext& ops, const Linear* next_query, HeldQuant* held) const {
  const int64_t m = a.m, ld = a.ld, h = config_.hidden_size, inter = config_.intermediate_size;
  const float epsilon = static_cast<float>(config_.layer_norm_eps);
  float* x = a.x;
  uint8_t* u8_a = a.u8_a;
  float* qkv[3] = {a.q, a.k, a.v};
  const Linear* qkv_layers[3] = {query_.get(), key_.get(), value_.get()};
  for (int j = 0; j < 3; ++j) {
    ops.ensure_u8(*qkv_layers[j], x, h * ld, u8_a, held);
    LinearIo io;
    io.m = m;
    io.ld = ld;
    io.x = x;
    io.x_u8 = u8_a;
    io.y = qkv[j];
    ops.run_linear(*qkv_layers[j], io, index_, fbm::kLayerLinears[j]);
  }

  // Attention writes the input of the output projection in its type.
  AttentionArgs aa;
  aa.shape = {static_cast<int>(a.batch), static_cast<int>(a.seq), static_cast<int>(config_.num_heads),
              static_cast<int>(config_.head_dim())};
  aa.q = a.q;
  aa.k = a.k;
  aa.v = a.v;
  aa.ld_in = ld;
  aa.valid_lengths = a.valid_lengths;
  aa.scale = 1.0f / std::sqrt(static_cast<float>(config_.head_dim()));
  const Linear& ao = *attention_output_;
  if (ao.int8()) {
    aa.out_u8 = u8_a;
    aa.ld_out_u8 = ld;
    aa.out_u8_scale = ao.input_quant().scale;
    aa.out_u8_zero_point = ao.input_quant().zero_point;
    *held = ao.input_quant();
  } else {
    aa.out = a.ctx;
    aa.ld_out = ld;
  }
  ops.timed("attention",
            [&] { fastbert::attention(aa, a.attention_workspace, a.attention_workspace_bytes, a.attention_path); });

  LinearIo io;
  io.m = m;
  io.ld = ld;
  io.x = a.ctx;
  io.x_u8 = u8_a;
  io.residual = x;
  io.y = a.tmp;
  ops.run_linear(ao, io, index_, "attention_output");
  ops.layer_norm_into(a, h, epsilon, "layernorm", a.tmp, ao.fusion().residual ? nullptr : x, ln1_gamma_, ln1_beta_,
                      intermediate_.get(), held);

  // FFN: intermediate (+ GELU, fused into the sparse epilogue) then output.
  const Linear& il = *intermediate_;
  const Linear& ol = *output_;
  ops.ensure_u8(il, x, h * ld, u8_a, held);
  io = LinearIo();
  io.m = m;
  io.ld = ld;
  io.x = x;
  io.x_u8 = u8_a;
  io.y = a.inter;
  io.y_u8 = a.u8_b;
  ops.run_linear(il, io, index_, "intermediate");
  if (!il.fusion().gelu) {
    GeluArgs g;
    g.rows = inter;
    g.cols = m;
    g.x = a.inter;
    g.ld_x = ld;
    g.y = a.inter;
    g.ld_y = ld;
    if (ol.int8()) {
      g.y = nullptr;
      g.y_u8 = a.u8_b;
      g.ld_y_u8 = ld;
      g.u8_scale = ol.input_quant().scale;
      g.u8_zero_point = ol.input_quant().zero_point;
    }
    ops.timed("other", [&] { gelu(g); });
  } else if (ol.int8() && !il.fusion().output_u8) {
    ops.timed("other", [&] {
      kernels::quantize_u8(a.inter, inter * ld, ol.input_quant().scale, ol.input_quant().zero_point, a.u8_b);
    });
  }
  io = LinearIo();
  io.m = m;
  io.ld = ld;
  io.x = a.inter;
  io.x_u8 = a.u8_b;
  io.residual = x;
  io.y = a.tmp;
  ops.run_linear(ol, io, index_, "output");
  ops.layer_norm_into(a, h, epsilon, "layernorm", a.tmp, ol.fusion().residual ? nullptr : x, ln2_gamma_, ln2_beta_,
                      next_query, held);
}

}  // namespace fastbert::layers
