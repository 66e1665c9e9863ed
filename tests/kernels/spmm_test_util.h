#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "fastbert/kernels/block_sparse.h"
#include "fastbert/kernels/reference.h"
#include "fastbert/kernels/spmm.h"

namespace fastbert::kernels::testing {

// Distance in units in the last place between two finite floats.
inline int64_t ulp_distance(float a, float b) {
  if (a == b) return 0;
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  return std::llabs(int64_t(ia) - int64_t(ib));
}

// SpmmArgs over X (K rows of ldx tokens) into Y (N rows of ldy), with the
// residual, when given, laid out like Y.
inline SpmmArgs spmm_args(const void* x, int64_t ldx, int64_t m, void* y, int64_t ldy, const float* bias,
                          const float* residual, float x_scale, int32_t zp) {
  SpmmArgs a;
  a.x = x;
  a.ldx = ldx;
  a.m = m;
  a.x_scale = x_scale;
  a.x_zero_point = zp;
  a.bias = bias;
  a.residual = residual;
  a.ldr = ldy;
  a.y = y;
  a.ldy = ldy;
  return a;
}

inline Epilogue make(OutputType out, bool gelu = false, float out_scale = 1.0f, int32_t out_zp = 0) {
  Epilogue e;
  e.output = out;
  e.gelu = gelu;
  e.out_scale = out_scale;
  e.out_zero_point = out_zp;
  return e;
}

struct EpilogueCase {
  const char* name;
  Epilogue e;
  bool bias, residual;
};

// Every output type with and without bias, GELU and residual: what each
// SpMM-shaped primitive is checked on against reference_spmm.
inline const EpilogueCase kEpilogues[] = {
    {"s32", make(OutputType::s32), false, false},
    {"f32", make(OutputType::f32), false, false},
    {"f32_bias", make(OutputType::f32), true, false},
    {"f32_bias_gelu", make(OutputType::f32, true), true, false},
    {"f32_bias_residual", make(OutputType::f32), true, true},
    {"f32_bias_gelu_residual", make(OutputType::f32, true), true, true},
    {"u8_bias_gelu", make(OutputType::u8, true, 0.05f, 7), true, false},
    {"s8_bias_residual", make(OutputType::s8, false, 0.08f, -3), true, true},
    {"u8_residual", make(OutputType::u8, false, 0.1f, 128), false, true},
};

// One randomly filled SpMM problem: weights, activations (K x ldx), bias,
// residual, and output buffers for the kernel and the reference.
struct SpmmProblem {
  int64_t n, k, m, ldx, ldy;
  std::vector<uint8_t> mask;
  std::vector<int8_t> dense;
  std::shared_ptr<BlockSparseMatrix> w;
  std::vector<uint8_t> x;
  std::vector<float> bias, residual;

  SpmmProblem(int64_t n_, int64_t k_, int64_t m_, double sparsity, uint64_t seed, int64_t pad = 0)
      : n(n_), k(k_), m(m_), ldx(m_ + pad), ldy(m_ + pad) {
    std::mt19937_64 rng(seed);
    mask = random_block_mask_4x1(n, k, sparsity, seed);
    std::uniform_int_distribution<int> wd(-128, 127), xd(0, 255);
    dense.resize(size_t(n * k));
    for (size_t i = 0; i < dense.size(); ++i) dense[i] = mask[i] ? int8_t(wd(rng)) : 0;
    std::vector<float> scales(static_cast<size_t>(n));
    std::uniform_real_distribution<float> sd(0.001f, 0.02f);
    for (auto& s : scales) s = sd(rng);
    w = std::make_shared<BlockSparseMatrix>(pack_4x1(dense.data(), n, k, mask.data(), scales.data()));
    x.resize(size_t(std::max<int64_t>(1, k * ldx)));
    for (auto& v : x) v = uint8_t(xd(rng));
    std::normal_distribution<float> nd(0.0f, 2.0f);
    bias.resize(size_t(n));
    for (auto& v : bias) v = nd(rng);
    residual.resize(size_t(std::max<int64_t>(1, n * ldy)));
    for (auto& v : residual) v = nd(rng);
  }

  SpmmArgs args(void* y, bool with_bias, bool with_residual, float x_scale, int32_t zp) const {
    return spmm_args(x.data(), ldx, m, y, ldy, with_bias ? bias.data() : nullptr,
                     with_residual ? residual.data() : nullptr, x_scale, zp);
  }
};

}  // namespace fastbert::kernels::testing
