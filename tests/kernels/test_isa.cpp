#include <gtest/gtest.h>

#include "fastbert/common/error.h"
#include "fastbert/kernels/dense_matmul.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/kernels/reference.h"
#include "fastbert/kernels/spmm.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

namespace fastbert::kernels {
namespace {

TEST(Isa, EveryLevelHasOneSpellingAndOtherSpellingsAreRefused) {
  for (Isa isa : all_isas()) EXPECT_EQ(parse_isa(isa_name(isa)), isa);
  for (const char* other : {"avx512vnni", "avx512f", "avx512bf16", "amx_bf16", "AVX2", "sse9", ""}) {
    try {
      parse_isa(other);
      FAIL() << "accepted '" << other << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("expected one of: reference, avx2, avx_vnni, avx512bw, avx512_vnni, "
                                           "avx512_bf16, amx"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(Isa, LatticeIsOrderedLowestFirstAndTheCpuAlwaysHasTheReference) {
  const std::vector<Isa>& all = all_isas();
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  EXPECT_EQ(all.front(), Isa::reference);
  EXPECT_TRUE(cpu_supports(Isa::reference));
  EXPECT_EQ(supported_isas().front(), Isa::reference);
  EXPECT_EQ(best_cpu_isa(), supported_isas().back());
}

TEST(Isa, CapFromEverySupportedLevelIsThatLevelAndEmptyMeansBest) {
  for (Isa isa : supported_isas()) EXPECT_EQ(isa_cap_from(isa_name(isa)), isa);
  EXPECT_EQ(isa_cap_from(""), best_cpu_isa());
}

TEST(Isa, LevelsTheCpuLacksAreRefusedWithTheOneMessage) {
  for (Isa isa : all_isas()) {
    if (cpu_supports(isa)) continue;
    const std::string value = isa_name(isa);
    try {
      isa_cap_from(value);
      FAIL() << "expected an error for " << value;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), unsupported_isa_message("FASTBERT_ISA=" + value, isa));
      EXPECT_NE(std::string(e.what()).find("FASTBERT_ISA=" + value + " asks for an instruction set this CPU does not "
                                           "support: " + value),
                std::string::npos)
          << e.what();
    }
  }
  try {
    isa_cap_from("avx1024");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("avx1024"), std::string::npos);
  }
}

TEST(Isa, CapHonoursTheEnvironmentTheProcessStartedWith) {
  // isa_cap() read FASTBERT_ISA at its first call (a test of this binary may
  // change the variable later: the cap must not follow it).
  const char* env = std::getenv("FASTBERT_ISA");
  if (env && *env && !cpu_supports(parse_isa(env))) {
    EXPECT_THROW(isa_cap(), Error);
    return;
  }
  EXPECT_EQ(isa_cap(), isa_cap_from(env ? env : ""));
  EXPECT_TRUE(isa_allowed(Isa::reference));
  for (Isa isa : all_isas()) EXPECT_EQ(isa_allowed(isa), isa <= isa_cap() && cpu_supports(isa)) << isa_name(isa);
}

}  // namespace
}  // namespace fastbert::kernels

namespace fastbert::kernels {
namespace {

// Under FASTBERT_ISA=<level> (see tests/kernels/CMakeLists.txt) a default
// SpmmDesc must pick that level's microkernels and compute the reference
// result; on a CPU without the level, the default must be refused instead.
TEST(IsaEnvironment, DefaultSpmmDescUsesTheForcedLevel) {
  const char* env = std::getenv("FASTBERT_ISA");
  if (!env) GTEST_SKIP() << "FASTBERT_ISA not set; the ctest variants set it";
  const Isa wanted = parse_isa(env);
  if (!cpu_supports(wanted)) {
    EXPECT_THROW(isa_cap(), Error);
    return;
  }
  EXPECT_EQ(SpmmDesc{}.isa, wanted);
  // The best entry of the 4x1 table at or below the forced level.
  std::string best;
  for (const SpmmKernel& k : spmm_4x1_kernels())
    if (best.empty() && k.isa <= wanted && cpu_supports(k.isa)) best = k.name;
  const int64_t n = 9, k = 11, m = 70;
  std::vector<int8_t> w(size_t(n * k));
  std::vector<uint8_t> x(size_t(k * m));
  for (size_t i = 0; i < w.size(); ++i) w[i] = int8_t((i * 37) % 255 - 127) * (i % 3 == 0);
  for (size_t i = 0; i < x.size(); ++i) x[i] = uint8_t(i * 101);
  const auto packed = std::make_shared<BlockSparseMatrix>(pack_4x1(w.data(), n, k));
  SpmmDesc desc;
  desc.epilogue.output = OutputType::s32;
  const SpmmPrimitive prim(packed, desc);
  EXPECT_EQ(prim.implementation(), best);
  std::vector<int32_t> got(size_t(n * m)), want(got.size());
  SpmmArgs a;
  a.x = x.data(), a.ldx = m, a.m = m, a.x_zero_point = 3, a.y = got.data(), a.ldy = m;
  prim.execute(a);
  a.y = want.data();
  reference_spmm(w.data(), packed->scales.data(), n, k, ActivationType::u8, desc.epilogue, a);
  EXPECT_EQ(got, want);
}

// oneDNN's dense int8 under FASTBERT_ISA=<level>: no code above the level
// (its implementation name carries the ISA it was generated for) and the
// integer reference's result. Activations stay below 128: without VNNI,
// oneDNN's u8 x s8 kernels sum pairs of products in int16 (vpmaddubsw),
// which saturates for full-range inputs (measured: 5379 for 2931 at avx2).
TEST(IsaEnvironment, DenseInt8RunsNoInstructionsAboveTheForcedLevel) {
  const char* env = std::getenv("FASTBERT_ISA");
  if (!env) GTEST_SKIP() << "FASTBERT_ISA not set; the ctest variants set it";
  if (!cpu_supports(parse_isa(env))) GTEST_SKIP() << "refused level (DefaultSpmmDescUsesTheForcedLevel checks)";
  const int64_t m = 5, k = 64, n = 16;
  std::vector<int8_t> w(size_t(n * k));
  std::vector<uint8_t> x(size_t(m * k));
  for (size_t i = 0; i < w.size(); ++i) w[i] = int8_t(int(i * 37 % 255) - 127);
  for (size_t i = 0; i < x.size(); ++i) x[i] = uint8_t(i * 101 % 128);
  const std::vector<float> w_scales(size_t(n), 1.0f);
  const DenseLinear lin(DenseLinearDesc{m, k, n, DenseType::u8, false, false, 1.0f, 0}, w.data(), w_scales.data(),
                        nullptr);
  const std::string impl = lin.implementation();
  const Isa wanted = parse_isa(env);
  if (wanted < Isa::avx512bw) {
    EXPECT_EQ(impl.find("avx512"), std::string::npos) << impl;
  }
  if (wanted < Isa::avx2) {
    EXPECT_EQ(impl.find("avx"), std::string::npos) << impl;
  }
  if (wanted < Isa::amx) {
    EXPECT_EQ(impl.find("amx"), std::string::npos) << impl;
  }
  std::vector<float> y(size_t(m * n));
  lin.execute(x.data(), y.data());
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      int32_t acc = 0;
      for (int64_t p = 0; p < k; ++p) acc += int32_t(w[j * k + p]) * int32_t(x[i * k + p]);
      ASSERT_EQ(y[i * n + j], float(acc)) << impl;
    }
}

}  // namespace
}  // namespace fastbert::kernels
