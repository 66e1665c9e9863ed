// DenseInt8Primitive: the dense int8 matmul on the SpMM's feature-major
// layout (AMX tiles, AVX512-VNNI, AVX-VNNI or AVX2 kernels), with the SpMM's epilogue,
// against reference_spmm bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fastbert/common/error.h"
#include "fastbert/kernels/dense_int8.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/kernels/reference.h"
#include "spmm_test_util.h"

namespace fastbert::kernels {
namespace {

using testing::make;

struct DenseProblem {
  int64_t n, k, m, ldx, ldy;
  std::vector<int8_t> w;
  std::vector<float> scales, bias, residual;
  std::vector<uint8_t> x;

  DenseProblem(int64_t n_, int64_t k_, int64_t m_, uint64_t seed, int64_t pad = 0)
      : n(n_), k(k_), m(m_), ldx(m_ + pad), ldy(m_ + pad) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> wd(-128, 127), xd(0, 255);
    std::uniform_real_distribution<float> sd(0.001f, 0.02f);
    std::normal_distribution<float> nd(0.0f, 2.0f);
    w.resize(size_t(n * k));
    for (auto& v : w) v = int8_t(wd(rng));
    scales.resize(size_t(n));
    for (auto& v : scales) v = sd(rng);
    bias.resize(size_t(n));
    for (auto& v : bias) v = nd(rng);
    residual.resize(size_t(n * ldy));
    for (auto& v : residual) v = nd(rng);
    x.resize(size_t(k * ldx));
    for (auto& v : x) v = uint8_t(xd(rng));
  }
  SpmmArgs args(void* y, bool with_bias, bool with_residual) const {
    return testing::spmm_args(x.data(), ldx, m, y, ldy, with_bias ? bias.data() : nullptr,
                              with_residual ? residual.data() : nullptr, 0.031f, 101);
  }
};

// The primitive's own tests, where it builds: at reference it declines, and
// IsaEnvironment.DenseInt8IsBitExactOnFullRangeActivationsOrDeclinedAtTheForcedLevel checks that.
class DenseInt8 : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!DenseInt8Primitive::builds_at_isa_cap())
      GTEST_SKIP() << "cap " << isa_name(isa_cap()) << ": the primitive declines";
  }
};

// One level per kernel this process can build at the cap: AVX2, AVX-VNNI
// (ymm, any level below avx512_vnni on a CPU that has it), AVX512-VNNI and
// the AMX tiles.
std::vector<Isa> dense_levels() {
  std::vector<Isa> levels;
  if (isa_allowed(Isa::avx2)) levels.push_back(Isa::avx2);
  if (isa_allowed(Isa::avx_vnni)) levels.push_back(std::min(isa_cap(), Isa::avx512bw));
  if (isa_allowed(Isa::avx512_vnni)) levels.push_back(Isa::avx512_vnni);
  if (isa_allowed(Isa::amx)) levels.push_back(Isa::amx);
  return levels;
}

TEST_F(DenseInt8, IsBitExactWithTheSpmmReferenceForEveryEpilogueActivationTypeAndImplementation) {
  struct Case {
    Epilogue e;
    bool bias, residual;
  };
  const Case cases[] = {{make(OutputType::s32), false, false},
                        {make(OutputType::f32), true, false},
                        {make(OutputType::f32, true), true, true},
                        {make(OutputType::u8, true, 0.05f, 7), true, false},
                        {make(OutputType::s8, false, 0.08f, -3), true, true}};
  // Shapes across the AMX blocks' edges (32 rows, 32 tokens, 64 K-bytes)
  // the VNNI tiles' (8 rows, 48 / 32 / 16 tokens, 512-token spans) and the
  // AVX2 tiles' (4-row halves, 8 / 4 tokens, K in chunks of 1536).
  for (auto [n, k, m, pad] : {std::tuple{1, 1, 1, 0}, {7, 13, 3, 2}, {33, 64, 32, 0}, {37, 70, 65, 0},
                              {9, 20, 97, 1}, {64, 130, 129, 5}, {96, 768, 200, 0}, {17, 36, 530, 0},
                              {10, 1543, 37, 0}}) {
    const DenseProblem p(n, k, m, uint64_t(n * 31 + m), pad);
    for (Isa level : dense_levels())
    for (ActivationType act : {ActivationType::u8, ActivationType::s8})
      for (const Case& c : cases) {
        SpmmDesc desc;
        desc.activation = act;
        desc.epilogue = c.e;
        desc.isa = level;
        const DenseInt8Primitive prim(p.w.data(), p.scales.data(), n, k, desc);
        std::vector<int32_t> got(size_t(n * p.ldy), 0x7f7f7f7f), want(got.size(), 0x7f7f7f7f);
        prim.execute(p.args(got.data(), c.bias, c.residual));
        reference_spmm(p.w.data(), p.scales.data(), n, k, act, c.e, p.args(want.data(), c.bias, c.residual));
        const int size = output_size(c.e.output);
        for (int64_t r = 0; r < n; ++r)
          for (int64_t i = 0; i < m; ++i) {
            const size_t at = size_t(r * p.ldy + i);
            if (size == 4)
              ASSERT_EQ(got[at], want[at]) << prim.implementation() << " " << n << "x" << k << " m=" << m
                                           << " output " << int(c.e.output) << " row " << r;
            else
              ASSERT_EQ(reinterpret_cast<const uint8_t*>(got.data())[at], reinterpret_cast<const uint8_t*>(want.data())[at])
                  << prim.implementation() << " " << n << "x" << k << " m=" << m << " output " << int(c.e.output)
                  << " row " << r;
          }
      }
  }
}

// The largest products of both signs, all of one sign along K: every pair
// of them overflows int16 (2 x 255 x -128), where a vpmaddubsw kernel would
// saturate, and the sums reach -1e8 over BERT's largest K.
TEST_F(DenseInt8, SumsTheExtremeProductsOfTheLargestKWithoutSaturating) {
  DenseProblem p(9, 3072, 13, 17);
  for (int64_t r = 0; r < p.n; ++r)
    for (int64_t c = 0; c < p.k; ++c) p.w[size_t(r * p.k + c)] = r % 2 ? 127 : -128;
  std::fill(p.x.begin(), p.x.end(), uint8_t(255));
  for (Isa level : dense_levels())
    for (ActivationType act : {ActivationType::u8, ActivationType::s8}) {
      SpmmDesc desc;
      desc.activation = act;
      desc.epilogue = make(OutputType::s32);
      desc.isa = level;
      const DenseInt8Primitive prim(p.w.data(), p.scales.data(), p.n, p.k, desc);
      std::vector<int32_t> got(size_t(p.n * p.ldy)), want(got.size());
      prim.execute(p.args(got.data(), false, false));
      reference_spmm(p.w.data(), p.scales.data(), p.n, p.k, act, desc.epilogue, p.args(want.data(), false, false));
      EXPECT_EQ(got, want) << prim.implementation() << (act == ActivationType::s8 ? " s8" : " u8");
    }
}

// The runtime adds the residual in place (residual and output one array):
// every output must still see its own residual value, not a sum written
// before it was read.
TEST_F(DenseInt8, AddsAResidualThatIsItsOwnOutputArray) {
  for (Isa level : dense_levels()) {
    const DenseProblem p(70, 96, 77, 11, 3);
    SpmmDesc desc;
    desc.epilogue = make(OutputType::f32, true);
    desc.isa = level;
    const DenseInt8Primitive prim(p.w.data(), p.scales.data(), p.n, p.k, desc);
    std::vector<float> in_place = p.residual, want(p.residual.size());
    SpmmArgs a = p.args(in_place.data(), true, true);
    a.residual = in_place.data();
    prim.execute(a);
    reference_spmm(p.w.data(), p.scales.data(), p.n, p.k, ActivationType::u8, desc.epilogue,
                   p.args(want.data(), true, true));
    for (int64_t r = 0; r < p.n; ++r)
      for (int64_t i = 0; i < p.m; ++i)
        ASSERT_EQ(in_place[size_t(r * p.ldy + i)], want[size_t(r * p.ldy + i)])
            << prim.implementation() << " row " << r << " token " << i;
  }
}

// Run by the kernels_forced_isa_<level> variants (FASTBERT_ISA set): the
// primitive's kernels need AVX2 at least, so at reference it must decline
// (the SpMM runs instead, with its own exact paths) and at every level it
// builds it must give the SpMM's numbers on full-range inputs (where
// vpmaddubsw would saturate: 255 x -128 twice).
TEST(IsaEnvironment, DenseInt8IsBitExactOnFullRangeActivationsOrDeclinedAtTheForcedLevel) {
  if (const char* env = std::getenv("FASTBERT_ISA"); env && !cpu_supports(parse_isa(env)))
    GTEST_SKIP() << "refused level (DefaultSpmmDescUsesTheForcedLevel checks)";
  const DenseProblem p(16, 256, 9, 5);  // u8 activations over 0..255, weights over -128..127
  SpmmDesc desc;
  desc.epilogue = make(OutputType::s32);
  if (!DenseInt8Primitive::builds_at_isa_cap()) {
    try {
      DenseInt8Primitive(p.w.data(), p.scales.data(), p.n, p.k, desc);
      FAIL() << "built at cap " << isa_name(isa_cap());
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("declined at ISA level"), std::string::npos) << e.what();
    }
    return;
  }
  const DenseInt8Primitive prim(p.w.data(), p.scales.data(), p.n, p.k, desc);
  std::vector<int32_t> got(size_t(p.n * p.ldy)), want(got.size());
  prim.execute(p.args(got.data(), false, false));
  reference_spmm(p.w.data(), p.scales.data(), p.n, p.k, ActivationType::u8, desc.epilogue, p.args(want.data(), false, false));
  EXPECT_EQ(got, want) << prim.implementation() << " at cap " << isa_name(isa_cap());
}

TEST_F(DenseInt8, RunsItsBestImplementationAtTheCapAndRejectsBadArguments) {
  const DenseProblem p(8, 16, 4, 3);
  const DenseInt8Primitive prim(p.w.data(), p.scales.data(), 8, 16, SpmmDesc{});
  const char* best = isa_allowed(Isa::amx)           ? "dense_int8_amx"
                     : isa_allowed(Isa::avx512_vnni) ? "dense_int8_avx512vnni"
                     : isa_allowed(Isa::avx_vnni)    ? "dense_int8_avxvnni"
                                                     : "dense_int8_avx2";
  EXPECT_EQ(prim.implementation(), best) << "at cap " << isa_name(isa_cap());
  EXPECT_EQ(DenseInt8Primitive::implementation_at(isa_cap()), best);
  EXPECT_EQ(DenseInt8Primitive::implementation_at(Isa::avx2), "dense_int8_avx2");
  EXPECT_EQ(DenseInt8Primitive::implementation_at(Isa::reference), "");
  if (isa_allowed(Isa::avx_vnni)) {
    SpmmDesc ymm;
    ymm.isa = std::min(isa_cap(), Isa::avx512bw);
    EXPECT_EQ(DenseInt8Primitive(p.w.data(), p.scales.data(), 8, 16, ymm).implementation(), "dense_int8_avxvnni");
  }
  SpmmDesc avx2;
  avx2.isa = Isa::avx2;
  EXPECT_EQ(DenseInt8Primitive(p.w.data(), p.scales.data(), 8, 16, avx2).implementation(), "dense_int8_avx2");
  SpmmDesc reference;
  reference.isa = Isa::reference;
  EXPECT_THROW(DenseInt8Primitive(p.w.data(), p.scales.data(), 8, 16, reference), Error);
  std::vector<float> y(32);
  SpmmArgs a = p.args(y.data(), false, false);
  a.ldy = 3;
  EXPECT_THROW(prim.execute(a), Error);
  a = p.args(y.data(), false, false);
  a.x = nullptr;
  EXPECT_THROW(prim.execute(a), Error);
  std::vector<float> bad_scales(8, 1.0f);
  bad_scales[5] = 0.0f;
  EXPECT_THROW(DenseInt8Primitive(p.w.data(), bad_scales.data(), 8, 16, SpmmDesc{}), Error);
  SpmmDesc quads;
  quads.epilogue.output = OutputType::u8;
  quads.output_layout = ActivationLayout::quads;
  EXPECT_THROW(DenseInt8Primitive(p.w.data(), p.scales.data(), 8, 16, quads), Error);
}

}  // namespace
}  // namespace fastbert::kernels
