#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fastbert/common/error.h"
#include "fastbert/kernels/block_sparse.h"
#include "fastbert/kernels/quad_layout.h"
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

// The two block shapes of the SpMM primitive, as the tests built over both
// see them: how a random problem of the family is masked and packed, what
// layout its primitive reads X in, and how close its f32 output must come to
// reference_spmm's.
struct Family4x1 {
  using Matrix = BlockSparseMatrix;
  using Primitive = SpmmPrimitive;
  static constexpr const char* kImplementationPrefix = "spmm_4x1_";
  // f32 outputs within 1 ulp of the reference: what the 4x1 suite has
  // always required (the 1x4 one requires the bits).
  static constexpr int64_t kF32Ulps = 1;
  static std::vector<uint8_t> random_mask(int64_t n, int64_t k, double sparsity, uint64_t seed) {
    return random_block_mask_4x1(n, k, sparsity, seed);
  }
  static Matrix pack(const int8_t* dense, int64_t n, int64_t k, const uint8_t* mask, const float* scales) {
    return pack_4x1(dense, n, k, mask, scales);
  }
  // The 4x1 family reads X feature-major, as it is.
  static std::vector<uint8_t> kernel_input(const std::vector<uint8_t>& x, int64_t, int64_t, int64_t) { return x; }
};

struct Family1x4 {
  using Matrix = BlockSparse1x4Matrix;
  using Primitive = Spmm1x4Primitive;
  static constexpr const char* kImplementationPrefix = "spmm_1x4_";
  static constexpr int64_t kF32Ulps = 0;  // bit for bit
  static std::vector<uint8_t> random_mask(int64_t n, int64_t k, double sparsity, uint64_t seed) {
    return random_block_mask_1x4(n, k, sparsity, seed);
  }
  static Matrix pack(const int8_t* dense, int64_t n, int64_t k, const uint8_t* mask, const float* scales) {
    return pack_1x4(dense, n, k, mask, scales);
  }
  // The 1x4 family reads X in the quad layout, with the same row stride.
  static std::vector<uint8_t> kernel_input(const std::vector<uint8_t>& x, int64_t k, int64_t m, int64_t ldx) {
    std::vector<uint8_t> xq(size_t(std::max<int64_t>(1, quad_layout_bytes(k, ldx))), 0xEE);
    reorder_to_quads(x.data(), ldx, k, m, xq.data(), ldx);
    return xq;
  }
};

// One randomly filled SpMM problem of a family: weights, activations X
// (K rows of ldx tokens, feature-major for the reference and in the family's
// layout for the primitive), bias, residual laid out like Y (N rows of ldy).
template <class Family>
struct SpmmProblem {
  int64_t n, k, m, ldx, ldy;
  std::vector<uint8_t> mask;
  std::vector<int8_t> dense;
  std::vector<float> scales;
  std::shared_ptr<typename Family::Matrix> w;
  std::vector<uint8_t> x, kernel_x;
  std::vector<float> bias, residual;

  SpmmProblem(int64_t n_, int64_t k_, int64_t m_, double sparsity, uint64_t seed, int64_t pad = 0)
      : n(n_), k(k_), m(m_), ldx(m_ + pad), ldy(m_ + pad) {
    std::mt19937_64 rng(seed);
    mask = Family::random_mask(n, k, sparsity, seed);
    std::uniform_int_distribution<int> wd(-128, 127), xd(0, 255);
    dense.resize(size_t(n * k));
    for (size_t i = 0; i < dense.size(); ++i) dense[i] = mask[i] ? int8_t(wd(rng)) : 0;
    scales.resize(size_t(n));
    std::uniform_real_distribution<float> sd(0.001f, 0.02f);
    for (auto& s : scales) s = sd(rng);
    repack();
    x.resize(size_t(std::max<int64_t>(1, k * ldx)));
    for (auto& v : x) v = uint8_t(xd(rng));
    kernel_x = Family::kernel_input(x, k, m, ldx);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    bias.resize(size_t(n));
    for (auto& v : bias) v = nd(rng);
    residual.resize(size_t(std::max<int64_t>(1, n * ldy)));
    for (auto& v : residual) v = nd(rng);
  }

  // Packs the weights again after a test edited mask and dense.
  void repack() {
    w = std::make_shared<typename Family::Matrix>(Family::pack(dense.data(), n, k, mask.data(), scales.data()));
  }

  // The arguments for the primitive (X in its layout) and for reference_spmm.
  SpmmArgs args(void* y, bool with_bias, bool with_residual, float x_scale, int32_t zp) const {
    return args_over(kernel_x.data(), y, with_bias, with_residual, x_scale, zp);
  }
  SpmmArgs reference_args(void* y, bool with_bias, bool with_residual, float x_scale, int32_t zp) const {
    return args_over(x.data(), y, with_bias, with_residual, x_scale, zp);
  }

 private:
  SpmmArgs args_over(const void* input, void* y, bool with_bias, bool with_residual, float x_scale, int32_t zp) const {
    return spmm_args(input, ldx, m, y, ldy, with_bias ? bias.data() : nullptr, with_residual ? residual.data() : nullptr,
                     x_scale, zp);
  }
};

struct Shape {
  int64_t n, k, m;
  double sparsity;
  int64_t pad;
};

// M = 1, odd M, M past one JIT tile (and a partial 128-token one) and past
// one token block, K and N not multiples of 4/16/64, 0 % and 100 % sparsity,
// strided rows.
inline const Shape kShapes[] = {
    {1, 1, 1, 0.0, 0},      {4, 4, 1, 0.5, 3},    {7, 13, 3, 0.3, 0},      {13, 29, 63, 0.7, 1},
    {37, 70, 65, 0.9, 0},   {64, 96, 128, 0.8, 0}, {100, 130, 129, 0.5, 5}, {33, 65, 200, 1.0, 0},
    {20, 50, 600, 0.75, 7}, {8, 40, 17, 0.0, 0},   {6, 300, 77, 0.95, 0},   {17, 771, 300, 0.85, 2},
};

inline std::string name(const Shape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.k) + " m=" + std::to_string(s.m) + " sparsity " +
         std::to_string(s.sparsity);
}

// Runs one problem through the family's primitive and through reference_spmm
// on the dense weights and compares: integers exactly, floats within the
// family's ulps (0: by their bits). Rows' padding in Y is never written.
template <class Family>
void expect_matches_reference(Isa isa, const SpmmProblem<Family>& p, const EpilogueCase& ec, ActivationType act,
                              const std::string& what) {
  SpmmDesc desc;
  desc.isa = isa;
  desc.activation = act;
  desc.epilogue = ec.e;
  const typename Family::Primitive prim(p.w, desc);
  const size_t elems = size_t(std::max<int64_t>(1, p.n * p.ldy));
  std::vector<int32_t> got(elems, 0x7f7f7f7f), want(elems, 0x7f7f7f7f);
  const float x_scale = 0.037f;
  const int32_t zp = act == ActivationType::u8 ? 113 : 0;
  prim.execute(p.args(got.data(), ec.bias, ec.residual, x_scale, zp));
  reference_spmm(p.dense.data(), p.scales.data(), p.n, p.k, act, ec.e,
                 p.reference_args(want.data(), ec.bias, ec.residual, x_scale, zp));
  const int size = output_size(ec.e.output);
  int failures = 0;
  for (int64_t r = 0; r < p.n && failures < 5; ++r) {
    for (int64_t i = 0; i < p.m && failures < 5; ++i) {
      const size_t at = size_t(r * p.ldy + i);
      bool ok;
      std::string detail;
      if (ec.e.output == OutputType::f32) {
        const float a = reinterpret_cast<const float*>(got.data())[at];
        const float b = reinterpret_cast<const float*>(want.data())[at];
        ok = got[at] == want[at] || (Family::kF32Ulps > 0 && ulp_distance(a, b) <= Family::kF32Ulps);
        detail = std::to_string(a) + " vs " + std::to_string(b);
      } else if (size == 4) {
        ok = got[at] == want[at];
        detail = std::to_string(got[at]) + " vs " + std::to_string(want[at]);
      } else {
        const uint8_t a = reinterpret_cast<const uint8_t*>(got.data())[at];
        const uint8_t b = reinterpret_cast<const uint8_t*>(want.data())[at];
        ok = a == b;
        detail = std::to_string(a) + " vs " + std::to_string(b);
      }
      if (!ok) {
        ++failures;
        ADD_FAILURE() << what << " " << isa_name(isa) << " " << ec.name << " row " << r << " token " << i << ": "
                      << detail;
      }
    }
  }
  if (size == 4 && p.ldy > p.m) {
    EXPECT_EQ(got[size_t(p.ldy - 1)], 0x7f7f7f7f) << what << ": padding written";
  }
}

// The claims both families' tests make, each once.

template <class Family>
void expect_every_shape_and_epilogue_matches_with_uint8_activations(Isa isa) {
  for (const Shape& s : kShapes) {
    const SpmmProblem<Family> p(s.n, s.k, s.m, s.sparsity, uint64_t(s.n * 1000 + s.m));
    for (const EpilogueCase& ec : kEpilogues) expect_matches_reference(isa, p, ec, ActivationType::u8, name(s));
  }
}

template <class Family>
void expect_int8_activations_and_strided_rows_match(Isa isa) {
  for (const Shape& s : kShapes) {
    const SpmmProblem<Family> p(s.n, s.k, s.m, s.sparsity, uint64_t(s.k * 77 + s.m), s.pad);
    for (const EpilogueCase& ec : {kEpilogues[0], kEpilogues[5], kEpilogues[7]})
      expect_matches_reference(isa, p, ec, ActivationType::s8, name(s));
  }
}

// M = 0 leaves Y alone; a short ldy or ldx, a negative M, GELU on s32 output
// and a zero output scale are refused.
template <class Family>
void expect_zero_tokens_is_a_no_op_and_bad_arguments_are_rejected(Isa isa) {
  const SpmmProblem<Family> p(8, 8, 4, 0.5, 1);
  SpmmDesc desc;
  desc.isa = isa;
  const typename Family::Primitive prim(p.w, desc);
  std::vector<float> y(32, 1.5f);
  SpmmArgs a = p.args(y.data(), false, false, 1.0f, 0);
  a.m = 0;
  prim.execute(a);
  EXPECT_EQ(y[0], 1.5f);
  a = p.args(y.data(), false, false, 1.0f, 0);
  a.ldy = 2;
  EXPECT_THROW(prim.execute(a), Error);
  a = p.args(y.data(), false, false, 1.0f, 0);
  a.ldx = 1;
  EXPECT_THROW(prim.execute(a), Error);
  a.m = -1;
  EXPECT_THROW(prim.execute(a), Error);
  desc.epilogue.output = OutputType::s32;
  desc.epilogue.gelu = true;
  EXPECT_THROW(typename Family::Primitive(p.w, desc), Error);
  desc.epilogue = Epilogue{};
  desc.epilogue.output = OutputType::u8;
  desc.epilogue.out_scale = 0.0f;
  EXPECT_THROW(typename Family::Primitive(p.w, desc), Error);
}

// Every supported ISA level reports an implementation of the family.
template <class Family>
void expect_every_isa_reports_the_family_microkernel() {
  const SpmmProblem<Family> p(8, 8, 4, 0.5, 1);
  for (Isa isa : supported_isas()) {
    SpmmDesc desc;
    desc.isa = isa;
    const std::string got = typename Family::Primitive(p.w, desc).implementation();
    EXPECT_EQ(got.rfind(Family::kImplementationPrefix, 0), 0u) << got;
  }
}

}  // namespace fastbert::kernels::testing
