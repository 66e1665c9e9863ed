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

using Problem = testing::SpmmProblem<testing::Family4x1>;
using testing::EpilogueCase;
using testing::expect_matches_reference;
using testing::Family4x1;
using testing::kEpilogues;
using testing::ulp_distance;

class SpmmOnIsa : public ::testing::TestWithParam<Isa> {};

TEST_P(SpmmOnIsa, MatchesReferenceOnEveryShapeAndEpilogueWithUint8Activations) {
  testing::expect_every_shape_and_epilogue_matches_with_uint8_activations<Family4x1>(GetParam());
}

TEST_P(SpmmOnIsa, MatchesReferenceWithInt8ActivationsAndStridedRows) {
  testing::expect_int8_activations_and_strided_rows_match<Family4x1>(GetParam());
}

TEST_P(SpmmOnIsa, MatchesReferenceAcrossTokenBlocksOfLongInputs) {
  // K = 4100 makes the primitive split M = 600 into blocks of 256, 256, 88
  // tokens, each copied out of X with its power-of-two-free stride.
  const Problem p(12, 4100, 600, 0.9, 77, 40);
  expect_matches_reference(GetParam(), p, kEpilogues[0], ActivationType::u8, "blocks");
  expect_matches_reference(GetParam(), p, kEpilogues[5], ActivationType::u8, "blocks");
  expect_matches_reference(GetParam(), p, kEpilogues[7], ActivationType::s8, "blocks");
}

TEST_P(SpmmOnIsa, LargeAlignedOutputsMatchReference) {
  // 8 MiB of aligned output: the JIT kernel switches to streaming stores.
  const int64_t n = 64, k = 8, m = 32768 + 16;
  const Problem p(n, k, m, 0.25, 5);
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
                   p.reference_args(want.data(), f32, false, 0.01f, 9));
    EXPECT_EQ(std::memcmp(got.get(), want.data(), want.size() * 4), 0) << (f32 ? "f32" : "s32");
  }
}

TEST_P(SpmmOnIsa, EmptyGroupsOutputOnlyTheBias) {
  // Groups 1 and 3 of 4 have no blocks at all; group 0 is full.
  const int64_t n = 16, k = 24, m = 70;
  Problem p(n, k, m, 0.0, 9);
  for (int64_t r = 4; r < 8; ++r)
    for (int64_t c = 0; c < k; ++c) p.mask[r * k + c] = 0, p.dense[r * k + c] = 0;
  for (int64_t r = 12; r < 16; ++r)
    for (int64_t c = 0; c < k; ++c) p.mask[r * k + c] = 0, p.dense[r * k + c] = 0;
  p.repack();
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
  Problem p(n, k, m, 0.5, 21);
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
  testing::expect_zero_tokens_is_a_no_op_and_bad_arguments_are_rejected<Family4x1>(GetParam());
}

INSTANTIATE_TEST_SUITE_P(AllSupported, SpmmOnIsa, ::testing::ValuesIn(supported_isas()),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(isa_name(i.param)); });

TEST(Spmm, ReportsTheMicrokernelFamilyOfItsIsa) { testing::expect_every_isa_reports_the_family_microkernel<Family4x1>(); }

TEST(Spmm, CorruptPackedMatrixIsRejected) {
  const Problem p(8, 8, 4, 0.5, 1);
  auto bad = std::make_shared<BlockSparseMatrix>(*p.w);
  bad->columns[0] = 99;
  EXPECT_THROW(SpmmPrimitive(bad, SpmmDesc{}), Error);
  bad = std::make_shared<BlockSparseMatrix>(*p.w);
  bad->values.pop_back();
  EXPECT_THROW(SpmmPrimitive(bad, SpmmDesc{}), Error);
}

TEST(GeluCubic, IsWithin6e6OfExactGeluEverywhere) {
  double worst = 0.0;
  for (float x = -12.0f; x <= 12.0f; x += 1.0f / 1024) {
    const double want = 0.5 * x * (1.0 + std::erf(double(x) / std::sqrt(2.0)));
    worst = std::max(worst, std::fabs(double(gelu_scalar(x)) - want));
  }
  EXPECT_LT(worst, 6e-6);
  EXPECT_GT(worst, 1e-7) << "a cubic on 32 segments cannot be this exact: is the sweep running?";
}

TEST(GeluCubic, IsReluBeyondSixKeepsNaNAndMapsBothZerosToPlusZero) {
  for (float x : {6.0f, 7.5f, 1e6f, INFINITY}) EXPECT_EQ(gelu_scalar(x), x);
  for (float x : {-6.0f, -7.5f, -1e6f, -INFINITY}) EXPECT_NEAR(gelu_scalar(x), 0.0f, 1e-12f);
  EXPECT_TRUE(std::isnan(gelu_scalar(NAN)));
  for (float x : {0.0f, -0.0f}) EXPECT_FALSE(std::signbit(gelu_scalar(x))) << x;
}

// One input column, weight 1, four rows with different biases: the epilogue
// sees 4 x 256 inputs over [-8, 8) and must give gelu_scalar's bits on every path.
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
      ASSERT_EQ(y[size_t(r * 256 + i)], gelu_scalar(affine)) << isa_name(GetParam()) << " input " << affine;
    }
}

}  // namespace
}  // namespace fastbert::kernels
