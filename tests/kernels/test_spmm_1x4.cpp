// The 1x4 family: packing, the quad activation layout, and the primitive on
// every ISA level this CPU (and FASTBERT_ISA) allows, against the reference.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/kernels/block_sparse.h"
#include "fastbert/kernels/quad_layout.h"
#include "fastbert/kernels/reference.h"
#include "fastbert/kernels/spmm.h"
#include "spmm_test_util.h"

namespace fastbert::kernels {
namespace {

using Problem1x4 = testing::SpmmProblem<testing::Family1x4>;
using testing::EpilogueCase;
using testing::expect_matches_reference;
using testing::Family1x4;
using testing::kEpilogues;
using testing::name;
using testing::Shape;

class Spmm1x4OnIsa : public ::testing::TestWithParam<Isa> {};

TEST_P(Spmm1x4OnIsa, IsBitExactWithTheReferenceOnEveryShapeAndEpilogueWithUint8Activations) {
  testing::expect_every_shape_and_epilogue_matches_with_uint8_activations<Family1x4>(GetParam());
}

TEST_P(Spmm1x4OnIsa, IsBitExactWithInt8ActivationsAndStridedRows) {
  testing::expect_int8_activations_and_strided_rows_match<Family1x4>(GetParam());
}

TEST_P(Spmm1x4OnIsa, EmptyRowsOutputOnlyTheBias) {
  const int64_t n = 16, k = 24, m = 70;
  Problem1x4 p(n, k, m, 0.0, 9);
  for (int64_t r : {3, 4, 11})
    for (int64_t c = 0; c < k; ++c) p.mask[size_t(r * k + c)] = 0, p.dense[size_t(r * k + c)] = 0;
  p.repack();
  ASSERT_EQ(p.w->row_block_begin[4], p.w->row_block_begin[3]);
  SpmmDesc desc;
  desc.isa = GetParam();
  const Spmm1x4Primitive prim(p.w, desc);
  std::vector<float> y(size_t(n * m));
  prim.execute(p.args(y.data(), true, false, 0.5f, 0));
  for (int64_t i = 0; i < m; ++i) {
    EXPECT_EQ(y[size_t(3 * m + i)], p.bias[3]);
    EXPECT_EQ(y[size_t(11 * m + i)], p.bias[11]);
  }
  expect_matches_reference(GetParam(), p, kEpilogues[4], ActivationType::u8, "empty rows");
}

// A producing layer writes the next layer's [N/4][M][4] input directly: it
// must hold the bytes of its feature-major output, reordered.
TEST_P(Spmm1x4OnIsa, QuadLayoutWrittenByTheEpilogueEqualsAReorderOfTheFeatureMajorOutput) {
  for (const Shape& s : {Shape{13, 29, 63, 0.7, 1}, Shape{37, 70, 65, 0.9, 0}, Shape{30, 130, 300, 0.5, 4},
                         Shape{1, 8, 1, 0.0, 0}}) {
    const Problem1x4 p(s.n, s.k, s.m, s.sparsity, uint64_t(s.n + s.m));
    for (const EpilogueCase& ec : {kEpilogues[6], kEpilogues[7], kEpilogues[8]}) {
      SpmmDesc desc;
      desc.isa = GetParam();
      desc.epilogue = ec.e;
      std::vector<uint8_t> plain(size_t(p.n * p.ldy), 0xAB);
      Spmm1x4Primitive(p.w, desc).execute(p.args(plain.data(), ec.bias, ec.residual, 0.05f, 17));
      desc.output_layout = ActivationLayout::quads;
      std::vector<uint8_t> quads(size_t(quad_layout_bytes(p.n, p.ldy)), 0xAB);
      Spmm1x4Primitive(p.w, desc).execute(p.args(quads.data(), ec.bias, ec.residual, 0.05f, 17));
      std::vector<uint8_t> want(quads.size(), 0xAB);
      reorder_to_quads(plain.data(), p.ldy, p.n, p.m, want.data(), p.ldy);
      for (int64_t q = 0; q < quad_rows(p.n); ++q)
        for (int64_t i = 0; i < p.m * 4; ++i) {
          const size_t at = size_t(q * p.ldy * 4 + i);
          ASSERT_EQ(int(quads[at]), int(want[at])) << name(s) << " " << ec.name << " quad " << q << " byte " << i;
        }
    }
  }
}

TEST_P(Spmm1x4OnIsa, ZeroTokensIsANoOpAndBadArgumentsAreRejected) {
  testing::expect_zero_tokens_is_a_no_op_and_bad_arguments_are_rejected<Family1x4>(GetParam());
  SpmmDesc desc;
  desc.isa = GetParam();
  desc.output_layout = ActivationLayout::quads;  // f32 output in the quad layout
  EXPECT_THROW(Spmm1x4Primitive(Problem1x4(8, 8, 4, 0.5, 1).w, desc), Error);
}

INSTANTIATE_TEST_SUITE_P(AllSupported, Spmm1x4OnIsa, ::testing::ValuesIn(supported_isas()),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(isa_name(i.param)); });

TEST(Spmm1x4, ReportsTheMicrokernelOfItsIsa) { testing::expect_every_isa_reports_the_family_microkernel<Family1x4>(); }

TEST(Spmm1x4, TheFourByOneFamilyRefusesTheQuadLayout) {
  const std::vector<int8_t> w(16, 1);
  SpmmDesc desc;
  desc.epilogue.output = OutputType::u8;
  desc.output_layout = ActivationLayout::quads;
  EXPECT_THROW(SpmmPrimitive(std::make_shared<BlockSparseMatrix>(pack_4x1(w.data(), 4, 4)), desc), Error);
}

TEST(Spmm1x4, CorruptPackedMatrixIsRejected) {
  const Problem1x4 p(8, 8, 4, 0.5, 1);
  ASSERT_GT(p.w->blocks(), 0);
  auto bad = std::make_shared<BlockSparse1x4Matrix>(*p.w);
  bad->quads[0] = 2;  // K = 8 has quads 0 and 1
  EXPECT_THROW(Spmm1x4Primitive(bad, SpmmDesc{}), Error);
  bad = std::make_shared<BlockSparse1x4Matrix>(*p.w);
  bad->values.pop_back();
  EXPECT_THROW(Spmm1x4Primitive(bad, SpmmDesc{}), Error);
  bad = std::make_shared<BlockSparse1x4Matrix>(*p.w);
  bad->row_block_begin[1] = bad->row_block_begin[2] + 1;
  EXPECT_THROW(Spmm1x4Primitive(bad, SpmmDesc{}), Error);
}

TEST(BlockSparse1x4, PackUnpackRoundTripsOnOddShapes) {
  for (auto [rows, cols, sparsity] : {std::tuple{1, 1, 0.0}, {5, 7, 0.4}, {9, 33, 0.8}, {64, 130, 0.9}, {3, 4, 1.0}}) {
    const Problem1x4 p(rows, cols, 1, sparsity, uint64_t(rows * cols));
    EXPECT_EQ(unpack(*p.w), p.dense) << rows << "x" << cols;
    EXPECT_EQ(p.w->quads_per_row(), (cols + 3) / 4);
    for (int64_t r = 0; r < rows; ++r) {
      int32_t sum = 0;
      for (int64_t c = 0; c < cols; ++c) sum += p.dense[size_t(r * cols + c)];
      EXPECT_EQ(p.w->row_sums[size_t(r)], sum);
    }
  }
}

TEST(BlockSparse1x4, RandomMaskDropsTheRequestedFractionOfQuads) {
  const auto mask = random_block_mask_1x4(64, 130, 0.8, 3);
  std::vector<int8_t> dense(mask.size());
  for (size_t i = 0; i < mask.size(); ++i) dense[i] = mask[i] ? 1 : 0;
  const BlockSparse1x4Matrix w = pack_1x4(dense.data(), 64, 130, mask.data());
  EXPECT_EQ(w.blocks(), std::llround(0.2 * 64 * 33));
  EXPECT_NEAR(w.density(), 0.2, 1e-3);
}

TEST(BlockSparse1x4, PackRejectsMaskThatSplitsAQuadAndWeightOutsideTheMask) {
  std::vector<int8_t> dense(4 * 8, 0);
  std::vector<uint8_t> mask(4 * 8, 0);
  mask[1 * 8 + 4] = mask[1 * 8 + 5] = mask[1 * 8 + 6] = 1;  // row 1, quad 1, column 7 dropped
  try {
    pack_1x4(dense.data(), 4, 8, mask.data());
    FAIL() << "split quad accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("(row 1, column 7)"), std::string::npos) << e.what();
  }
  mask.assign(mask.size(), 0);
  dense[2 * 8 + 3] = 5;
  try {
    pack_1x4(dense.data(), 4, 8, mask.data());
    FAIL() << "weight outside the mask accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight (row 2, column 3) is 5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pack_1x4(dense.data(), -1, 8), Error);
}

TEST(QuadLayout, ReorderRoundTripsAndPadsTheLastQuadWithZeros) {
  const int64_t k = 11, m = 5, ldx = 7, ldq = 6;
  std::vector<uint8_t> x(size_t(k * ldx));
  for (size_t i = 0; i < x.size(); ++i) x[i] = uint8_t(i * 37 + 1);
  std::vector<uint8_t> xq(size_t(quad_layout_bytes(k, ldq)), 0xEE);
  reorder_to_quads(x.data(), ldx, k, m, xq.data(), ldq);
  for (int64_t f = 0; f < k; ++f)
    for (int64_t i = 0; i < m; ++i) ASSERT_EQ(xq[size_t(((f / 4) * ldq + i) * 4 + f % 4)], x[size_t(f * ldx + i)]);
  for (int64_t i = 0; i < m; ++i) EXPECT_EQ(xq[size_t((2 * ldq + i) * 4 + 3)], 0) << "padding feature 11, token " << i;
  std::vector<uint8_t> back(x.size(), 0);
  reorder_from_quads(xq.data(), ldq, k, m, back.data(), ldx);
  for (int64_t f = 0; f < k; ++f)
    for (int64_t i = 0; i < m; ++i) EXPECT_EQ(back[size_t(f * ldx + i)], x[size_t(f * ldx + i)]);
}

}  // namespace
}  // namespace fastbert::kernels
