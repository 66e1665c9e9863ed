#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "fastbert/common/error.h"
#include "spmm_test_util.h"

namespace fastbert::kernels {
namespace {

using testing::SpmmProblem;
using testing::ulp_distance;
using testing::EpilogueCase;
using testing::kEpilogues;
using testing::make;

struct Shape {
  int64_t n, k, m;
  double sparsity;
  int64_t pad;
};

// M = 1, odd M, M past one JIT tile and past one token block, K and N not
// multiples of 4/16/64, 0 % and 100 % sparsity, strided rows.
const Shape kShapes[] = {
    {1, 1, 1, 0.0, 0},    {4, 4, 1, 0.5, 3},     {7, 13, 3, 0.3, 0},   {13, 29, 63, 0.7, 1},
    {37, 70, 65, 0.9, 0}, {64, 96, 128, 0.8, 0}, {100, 130, 129, 0.5, 5}, {33, 65, 200, 1.0, 0},
    {20, 50, 600, 0.75, 7}, {8, 40, 17, 0.0, 0}, {6, 300, 77, 0.95, 0},
};

// Runs one problem through the primitive and the reference and compares:
// integers exactly, floats within 1 ulp.
void expect_matches_reference(Isa isa, const SpmmProblem& p, const EpilogueCase& ec, ActivationType act,
                              const std::string& what) {
  SpmmDesc desc;
  desc.isa = isa;
  desc.activation = act;
  desc.epilogue = ec.e;
  const SpmmPrimitive prim(p.w, desc);
  const size_t elems = size_t(std::max<int64_t>(1, p.n * p.ldy));
  std::vector<int32_t> got(elems, 0x7f7f7f7f), want(elems, 0x7f7f7f7f);
  const float x_scale = 0.037f;
  const int32_t zp = act == ActivationType::u8 ? 113 : 0;
  prim.execute(p.args(got.data(), ec.bias, ec.residual, x_scale, zp));
  reference_spmm(p.dense.data(), p.w->scales.data(), p.n, p.k, act, ec.e,
                 p.args(want.data(), ec.bias, ec.residual, x_scale, zp));
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
        ok = ulp_distance(a, b) <= 1;
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
  // The padding between rows of Y is never written.
  if (size == 4 && p.ldy > p.m) {
    EXPECT_EQ(got[size_t(p.ldy - 1)], 0x7f7f7f7f) << what;
  }
}

class SpmmOnIsa : public ::testing::TestWithParam<Isa> {};

TEST_P(SpmmOnIsa, MatchesReferenceOnEveryShapeAndEpilogueWithUint8Activations) {
  for (const Shape& s : kShapes) {
    const SpmmProblem p(s.n, s.k, s.m, s.sparsity, uint64_t(s.n * 1000 + s.m));
    for (const EpilogueCase& ec : kEpilogues)
      expect_matches_reference(GetParam(), p, ec, ActivationType::u8,
                               std::to_string(s.n) + "x" + std::to_string(s.k) + " m=" + std::to_string(s.m));
  }
}

TEST_P(SpmmOnIsa, MatchesReferenceWithInt8ActivationsAndStridedRows) {
  for (const Shape& s : kShapes) {
    const SpmmProblem p(s.n, s.k, s.m, s.sparsity, uint64_t(s.k * 77 + s.m), s.pad);
    for (const EpilogueCase& ec : {kEpilogues[0], kEpilogues[5], kEpilogues[7]})
      expect_matches_reference(GetParam(), p, ec, ActivationType::s8,
                               std::to_string(s.n) + "x" + std::to_string(s.k) + " m=" + std::to_string(s.m));
  }
}

TEST_P(SpmmOnIsa, MatchesReferenceAcrossTokenBlocksOfLongInputs) {
  // K = 4100 makes the primitive split M = 600 into blocks of 256, 256, 88
  // tokens, each copied out of X with its power-of-two-free stride.
  const SpmmProblem p(12, 4100, 600, 0.9, 77, 40);
  expect_matches_reference(GetParam(), p, kEpilogues[0], ActivationType::u8, "blocks");
  expect_matches_reference(GetParam(), p, kEpilogues[5], ActivationType::u8, "blocks");
  expect_matches_reference(GetParam(), p, kEpilogues[7], ActivationType::s8, "blocks");
}

TEST_P(SpmmOnIsa, LargeAlignedOutputsMatchReference) {
  // 8 MiB of aligned output: the JIT kernel switches to streaming stores.
  const int64_t n = 64, k = 8, m = 32768 + 16;
  const SpmmProblem p(n, k, m, 0.25, 5);
  for (OutputType out : {OutputType::s32, OutputType::f32}) {
    SpmmDesc desc;
    desc.isa = GetParam();
    desc.epilogue.output = out;
    const SpmmPrimitive prim(p.w, desc);
    const bool f32 = out == OutputType::f32;
    std::unique_ptr<int32_t, decltype(&std::free)> got(
        static_cast<int32_t*>(std::aligned_alloc(64, size_t(n * m) * 4)), &std::free);
    std::vector<int32_t> want(size_t(n * m));
    prim.execute(p.args(got.get(), f32, false, 0.01f, 9));
    reference_spmm(p.dense.data(), p.w->scales.data(), n, k, ActivationType::u8, desc.epilogue,
                   p.args(want.data(), f32, false, 0.01f, 9));
    EXPECT_EQ(std::memcmp(got.get(), want.data(), want.size() * 4), 0) << (f32 ? "f32" : "s32");
  }
}

TEST_P(SpmmOnIsa, EmptyGroupsOutputOnlyTheBias) {
  // Groups 1 and 3 of 4 have no blocks at all; group 0 is full.
  const int64_t n = 16, k = 24, m = 70;
  SpmmProblem p(n, k, m, 0.0, 9);
  for (int64_t r = 4; r < 8; ++r)
    for (int64_t c = 0; c < k; ++c) p.mask[r * k + c] = 0, p.dense[r * k + c] = 0;
  for (int64_t r = 12; r < 16; ++r)
    for (int64_t c = 0; c < k; ++c) p.mask[r * k + c] = 0, p.dense[r * k + c] = 0;
  p.w = std::make_shared<BlockSparseMatrix>(pack_4x1(p.dense.data(), n, k, p.mask.data(), p.w->scales.data()));
  ASSERT_EQ(p.w->group_chunk_begin[2] - p.w->group_chunk_begin[1], 0);
  SpmmDesc desc;
  desc.isa = GetParam();
  const SpmmPrimitive prim(p.w, desc);
  std::vector<float> y(size_t(n * m));
  prim.execute(p.args(y.data(), true, false, 0.5f, 0));
  for (int64_t i = 0; i < m; ++i) {
    EXPECT_EQ(y[size_t(5 * m + i)], p.bias[5]);
    EXPECT_EQ(y[size_t(15 * m + i)], p.bias[15]);
  }
  expect_matches_reference(GetParam(), p, kEpilogues[4], ActivationType::u8, "empty groups");
}

// The per-row epilogue terms are kept from one call to the next: a new
// input scale, zero point or bias array must replace them.
TEST_P(SpmmOnIsa, ACallWithOtherInputQuantizationOrBiasIsNotServedStaleTerms) {
  const int64_t n = 12, k = 20, m = 33;
  SpmmProblem p(n, k, m, 0.5, 21);
  SpmmDesc desc;
  desc.isa = GetParam();
  const SpmmPrimitive prim(p.w, desc);
  std::vector<float> other_bias(p.bias.size());
  for (size_t i = 0; i < other_bias.size(); ++i) other_bias[i] = p.bias[i] + 3.0f;
  struct Call {
    float x_scale;
    int32_t zp;
    const float* bias;
  };
  for (const Call& c : {Call{0.5f, 3, p.bias.data()}, Call{0.25f, 3, p.bias.data()}, Call{0.25f, 200, p.bias.data()},
                        Call{0.25f, 200, other_bias.data()}, Call{0.25f, 200, nullptr}, Call{0.5f, 3, p.bias.data()}}) {
    std::vector<float> got(size_t(n * m)), want(size_t(n * m));
    SpmmArgs a = p.args(got.data(), true, false, c.x_scale, c.zp);
    a.bias = c.bias;
    prim.execute(a);
    a.y = want.data();
    reference_spmm(p.dense.data(), p.w->scales.data(), n, k, ActivationType::u8, desc.epilogue, a);
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_LE(ulp_distance(got[i], want[i]), 4) << "x_scale " << c.x_scale << " zp " << c.zp << " at " << i;
  }
}

TEST_P(SpmmOnIsa, ZeroTokensIsANoOpAndBadArgumentsAreRejected) {
  const SpmmProblem p(8, 8, 4, 0.5, 1);
  SpmmDesc desc;
  desc.isa = GetParam();
  const SpmmPrimitive prim(p.w, desc);
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
  EXPECT_THROW(SpmmPrimitive(p.w, desc), Error);
  desc.epilogue = Epilogue{};
  desc.epilogue.output = OutputType::u8;
  desc.epilogue.out_scale = 0.0f;
  EXPECT_THROW(SpmmPrimitive(p.w, desc), Error);
}

INSTANTIATE_TEST_SUITE_P(AllSupported, SpmmOnIsa, ::testing::ValuesIn(supported_isas()),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(isa_name(i.param)); });

TEST(Spmm, ReportsTheMicrokernelFamilyOfItsIsa) {
  const SpmmProblem p(8, 8, 4, 0.5, 1);
  for (Isa isa : supported_isas()) {
    SpmmDesc desc;
    desc.isa = isa;
    const std::string name = SpmmPrimitive(p.w, desc).implementation();
    EXPECT_EQ(name.rfind("spmm_4x1_", 0), 0u) << name;
  }
}

TEST(Spmm, CorruptPackedMatrixIsRejected) {
  const SpmmProblem p(8, 8, 4, 0.5, 1);
  auto bad = std::make_shared<BlockSparseMatrix>(*p.w);
  bad->columns[0] = 99;
  EXPECT_THROW(SpmmPrimitive(bad, SpmmDesc{}), Error);
  bad = std::make_shared<BlockSparseMatrix>(*p.w);
  bad->values.pop_back();
  EXPECT_THROW(SpmmPrimitive(bad, SpmmDesc{}), Error);
}

TEST(Gelu, RationalErfIsCloseToStdErf) {
  for (float x = -6.0f; x <= 6.0f; x += 0.01f) {
    const double want = 0.5 * x * (1.0 + std::erf(double(x) / std::sqrt(2.0)));
    EXPECT_NEAR(gelu_erf(x), want, 1e-6 + 1e-6 * std::fabs(want)) << x;
  }
}

// One input column, weight 1, four rows with different biases: the epilogue
// sees 4 x 256 inputs over [-8, 8) and must give gelu_erf's bits on every path.
TEST_P(SpmmOnIsa, GeluEpilogueGivesTheScalarBitsOverItsRange) {
  const std::vector<int8_t> w = {1, 1, 1, 1};
  auto packed = std::make_shared<BlockSparseMatrix>(pack_4x1(w.data(), 4, 1, nullptr, std::vector<float>(4, 1.0f).data()));
  std::vector<uint8_t> x(256);
  for (int i = 0; i < 256; ++i) x[size_t(i)] = uint8_t(i);
  const float bias[4] = {0.0f, 0.013f, 0.029f, 0.047f};
  SpmmDesc desc;
  desc.isa = GetParam();
  desc.epilogue.gelu = true;
  const SpmmPrimitive prim(packed, desc);
  std::vector<float> y(4 * 256);
  SpmmArgs a;
  a.x = x.data();
  a.ldx = 256;
  a.m = 256;
  a.x_scale = 0.0625f;
  a.x_zero_point = 128;
  a.bias = bias;
  a.y = y.data();
  a.ldy = 256;
  prim.execute(a);
  for (int r = 0; r < 4; ++r)
    for (int i = 0; i < 256; ++i) {
      const float affine = std::fma(float(i - 128), 0.0625f, bias[r]);
      ASSERT_EQ(y[size_t(r * 256 + i)], gelu_erf(affine)) << isa_name(GetParam()) << " input " << affine;
    }
}

}  // namespace
}  // namespace fastbert::kernels
