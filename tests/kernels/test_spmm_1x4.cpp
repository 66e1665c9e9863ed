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

using testing::ulp_distance;
using testing::EpilogueCase;
using testing::kEpilogues;
using testing::make;

// A random 1x4-pruned problem: X feature-major (for the reference) and the
// same X in the quad layout (for the primitive), both with row stride ldx.
struct Problem1x4 {
  int64_t n, k, m, ldx, ldy;
  std::vector<uint8_t> mask, x, xq;
  std::vector<int8_t> dense;
  std::vector<float> scales, bias, residual;
  std::shared_ptr<BlockSparse1x4Matrix> w;

  Problem1x4(int64_t n_, int64_t k_, int64_t m_, double sparsity, uint64_t seed, int64_t pad = 0)
      : n(n_), k(k_), m(m_), ldx(m_ + pad), ldy(m_ + pad) {
    std::mt19937_64 rng(seed);
    mask = random_block_mask_1x4(n, k, sparsity, seed);
    std::uniform_int_distribution<int> wd(-128, 127), xd(0, 255);
    dense.resize(size_t(n * k));
    for (size_t i = 0; i < dense.size(); ++i) dense[i] = mask[i] ? int8_t(wd(rng)) : 0;
    scales.resize(size_t(n));
    std::uniform_real_distribution<float> sd(0.001f, 0.02f);
    for (auto& s : scales) s = sd(rng);
    repack();
    x.resize(size_t(std::max<int64_t>(1, k * ldx)));
    for (auto& v : x) v = uint8_t(xd(rng));
    xq.assign(size_t(std::max<int64_t>(1, quad_layout_bytes(k, ldx))), 0xEE);
    reorder_to_quads(x.data(), ldx, k, m, xq.data(), ldx);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    bias.resize(size_t(n));
    for (auto& v : bias) v = nd(rng);
    residual.resize(size_t(std::max<int64_t>(1, n * ldy)));
    for (auto& v : residual) v = nd(rng);
  }
  void repack() { w = std::make_shared<BlockSparse1x4Matrix>(pack_1x4(dense.data(), n, k, mask.data(), scales.data())); }

  SpmmArgs args(const void* input, void* y, bool with_bias, bool with_residual, float x_scale, int32_t zp) const {
    return testing::spmm_args(input, ldx, m, y, ldy, with_bias ? bias.data() : nullptr,
                              with_residual ? residual.data() : nullptr, x_scale, zp);
  }
};

struct Shape {
  int64_t n, k, m;
  double sparsity;
  int64_t pad;
};

// M = 1, odd M, M past one 128-token tile with a partial one, K not a
// multiple of 4/16/64, 0 % and 100 % sparsity, strided rows.
const Shape kShapes[] = {
    {1, 1, 1, 0.0, 0},     {4, 4, 1, 0.5, 3},       {7, 13, 3, 0.3, 0},     {13, 29, 63, 0.7, 1},
    {37, 70, 65, 0.9, 0},  {64, 96, 128, 0.8, 0},   {100, 130, 129, 0.5, 5}, {33, 65, 200, 1.0, 0},
    {20, 50, 600, 0.75, 7}, {8, 40, 17, 0.0, 0},    {6, 300, 77, 0.95, 0},   {17, 771, 300, 0.85, 2},
};

// The primitive against reference_spmm on the dense weights, compared bit for
// bit (floats by their bits: both apply the same epilogue code path rules).
void expect_bit_exact(Isa isa, const Problem1x4& p, const EpilogueCase& ec, ActivationType act, const std::string& what) {
  SpmmDesc desc;
  desc.isa = isa;
  desc.activation = act;
  desc.epilogue = ec.e;
  const Spmm1x4Primitive prim(p.w, desc);
  const size_t elems = size_t(std::max<int64_t>(1, p.n * p.ldy));
  std::vector<int32_t> got(elems, 0x7f7f7f7f), want(elems, 0x7f7f7f7f);
  const float x_scale = 0.037f;
  const int32_t zp = act == ActivationType::u8 ? 113 : 0;
  prim.execute(p.args(p.xq.data(), got.data(), ec.bias, ec.residual, x_scale, zp));
  reference_spmm(p.dense.data(), p.scales.data(), p.n, p.k, act, ec.e,
                 p.args(p.x.data(), want.data(), ec.bias, ec.residual, x_scale, zp));
  const int size = output_size(ec.e.output);
  int failures = 0;
  for (int64_t r = 0; r < p.n && failures < 5; ++r)
    for (int64_t i = 0; i < p.m && failures < 5; ++i) {
      const size_t at = size_t(r * p.ldy + i);
      const bool ok = size == 4 ? got[at] == want[at]
                                : reinterpret_cast<const uint8_t*>(got.data())[at] ==
                                      reinterpret_cast<const uint8_t*>(want.data())[at];
      if (!ok) {
        ++failures;
        ADD_FAILURE() << what << " " << isa_name(isa) << " " << ec.name << " row " << r << " token " << i;
      }
    }
  if (size == 4 && p.ldy > p.m) {
    EXPECT_EQ(got[size_t(p.ldy - 1)], 0x7f7f7f7f) << what << ": padding written";
  }
}

std::string name(const Shape& s) {
  return std::to_string(s.n) + "x" + std::to_string(s.k) + " m=" + std::to_string(s.m) + " sparsity " +
         std::to_string(s.sparsity);
}

class Spmm1x4OnIsa : public ::testing::TestWithParam<Isa> {};

TEST_P(Spmm1x4OnIsa, IsBitExactWithTheReferenceOnEveryShapeAndEpilogueWithUint8Activations) {
  for (const Shape& s : kShapes) {
    const Problem1x4 p(s.n, s.k, s.m, s.sparsity, uint64_t(s.n * 1000 + s.m));
    for (const EpilogueCase& ec : kEpilogues) expect_bit_exact(GetParam(), p, ec, ActivationType::u8, name(s));
  }
}

TEST_P(Spmm1x4OnIsa, IsBitExactWithInt8ActivationsAndStridedRows) {
  for (const Shape& s : kShapes) {
    const Problem1x4 p(s.n, s.k, s.m, s.sparsity, uint64_t(s.k * 77 + s.m), s.pad);
    for (const EpilogueCase& ec : {kEpilogues[0], kEpilogues[5], kEpilogues[7]})
      expect_bit_exact(GetParam(), p, ec, ActivationType::s8, name(s));
  }
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
  prim.execute(p.args(p.xq.data(), y.data(), true, false, 0.5f, 0));
  for (int64_t i = 0; i < m; ++i) {
    EXPECT_EQ(y[size_t(3 * m + i)], p.bias[3]);
    EXPECT_EQ(y[size_t(11 * m + i)], p.bias[11]);
  }
  expect_bit_exact(GetParam(), p, kEpilogues[4], ActivationType::u8, "empty rows");
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
      Spmm1x4Primitive(p.w, desc).execute(p.args(p.xq.data(), plain.data(), ec.bias, ec.residual, 0.05f, 17));
      desc.output_layout = ActivationLayout::quads;
      std::vector<uint8_t> quads(size_t(quad_layout_bytes(p.n, p.ldy)), 0xAB);
      Spmm1x4Primitive(p.w, desc).execute(p.args(p.xq.data(), quads.data(), ec.bias, ec.residual, 0.05f, 17));
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
  const Problem1x4 p(8, 8, 4, 0.5, 1);
  SpmmDesc desc;
  desc.isa = GetParam();
  const Spmm1x4Primitive prim(p.w, desc);
  std::vector<float> y(32, 1.5f);
  SpmmArgs a = p.args(p.xq.data(), y.data(), false, false, 1.0f, 0);
  a.m = 0;
  prim.execute(a);
  EXPECT_EQ(y[0], 1.5f);
  a = p.args(p.xq.data(), y.data(), false, false, 1.0f, 0);
  a.ldy = 2;
  EXPECT_THROW(prim.execute(a), Error);
  a = p.args(p.xq.data(), y.data(), false, false, 1.0f, 0);
  a.ldx = 1;
  EXPECT_THROW(prim.execute(a), Error);
  a.m = -1;
  EXPECT_THROW(prim.execute(a), Error);
  desc.output_layout = ActivationLayout::quads;  // f32 output in the quad layout
  EXPECT_THROW(Spmm1x4Primitive(p.w, desc), Error);
  desc = SpmmDesc{};
  desc.isa = GetParam();
  desc.epilogue.output = OutputType::s32;
  desc.epilogue.gelu = true;
  EXPECT_THROW(Spmm1x4Primitive(p.w, desc), Error);
}

INSTANTIATE_TEST_SUITE_P(AllSupported, Spmm1x4OnIsa, ::testing::ValuesIn(supported_isas()),
                         [](const ::testing::TestParamInfo<Isa>& i) { return std::string(isa_name(i.param)); });

TEST(Spmm1x4, ReportsTheMicrokernelOfItsIsa) {
  const Problem1x4 p(8, 8, 4, 0.5, 1);
  for (Isa isa : supported_isas()) {
    SpmmDesc desc;
    desc.isa = isa;
    const std::string got = Spmm1x4Primitive(p.w, desc).implementation();
    EXPECT_EQ(got.rfind("spmm_1x4_", 0), 0u) << got;
  }
}

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
