#include <gtest/gtest.h>

#include "fastbert/common/error.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/kernels/reference.h"
#include "fastbert/kernels/spmm.h"

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

namespace fastbert::kernels {
namespace {

TEST(Isa, NamesRoundTrip) {
  for (Isa isa : {Isa::reference, Isa::avx2, Isa::avx512bw, Isa::avx_vnni, Isa::avx512_vnni})
    EXPECT_EQ(parse_isa(isa_name(isa)), isa);
  EXPECT_THROW(parse_isa("sse9"), Error);
}

TEST(Isa, OverrideSelectsEverySupportedLevelAndEmptyMeansBest) {
  for (Isa isa : supported_isas()) EXPECT_EQ(isa_from_override(isa_name(isa)), isa);
  EXPECT_EQ(isa_from_override(""), best_cpu_isa());
  EXPECT_TRUE(cpu_supports(Isa::reference));
}

TEST(Isa, OverrideRefusesLevelsTheCpuLacksWithAClearError) {
  for (Isa isa : {Isa::avx2, Isa::avx512bw, Isa::avx_vnni, Isa::avx512_vnni}) {
    if (cpu_supports(isa)) continue;
    try {
      isa_from_override(isa_name(isa));
      FAIL() << "expected an error for " << isa_name(isa);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("does not support"), std::string::npos) << e.what();
    }
  }
  try {
    isa_from_override("avx1024");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("avx1024"), std::string::npos);
  }
}

TEST(Isa, AmxOverrideKeepsTheBestGemmLevelAndCapsNoOpsTier) {
  if (ops_cpu_isa() >= OpsIsa::amx_bf16) EXPECT_EQ(isa_from_override("amx"), best_cpu_isa());
  EXPECT_EQ(ops_isa_cap_from_name("amx"), OpsIsa::amx_bf16);
  EXPECT_EQ(ops_isa_cap_from_name("avx512_vnni"), OpsIsa::avx512bf16);
  EXPECT_EQ(ops_isa_cap_from_name("avx512bw"), OpsIsa::avx512f);
  EXPECT_EQ(ops_isa_cap_from_name("avx_vnni"), OpsIsa::avx2);
  EXPECT_EQ(ops_isa_cap_from_name("reference"), OpsIsa::reference);
  EXPECT_THROW(ops_isa_cap_from_name("avx1024"), Error);
}

TEST(Isa, AmxOverrideIsRefusedOnACpuWithoutAmx) {
  if (ops_cpu_isa() >= OpsIsa::amx_bf16)
    GTEST_SKIP() << "this CPU has AMX tiles: FASTBERT_ISA=amx is rightly accepted, its refusal needs a CPU without";
  try {
    isa_from_override("amx");
    FAIL() << "FASTBERT_ISA=amx was accepted on a CPU without AMX";
  } catch (const Error& e) {
    // The same words as for any other level the CPU lacks.
    EXPECT_NE(std::string(e.what()).find("FASTBERT_ISA=amx asks for an instruction set this CPU does not support"),
              std::string::npos)
        << e.what();
  }
}

TEST(Isa, DefaultHonoursTheEnvironment) {
  // default_isa() reads FASTBERT_ISA once; whatever it holds in this process,
  // the default must equal what the override rule makes of it.
  const char* env = std::getenv("FASTBERT_ISA");
  EXPECT_EQ(default_isa(), isa_from_override(env ? env : ""));
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
    EXPECT_THROW(default_isa(), Error);
    return;
  }
  EXPECT_EQ(SpmmDesc{}.isa, wanted);
  const int64_t n = 9, k = 11, m = 70;
  std::vector<int8_t> w(size_t(n * k));
  std::vector<uint8_t> x(size_t(k * m));
  for (size_t i = 0; i < w.size(); ++i) w[i] = int8_t((i * 37) % 255 - 127) * (i % 3 == 0);
  for (size_t i = 0; i < x.size(); ++i) x[i] = uint8_t(i * 101);
  const auto packed = std::make_shared<BlockSparseMatrix>(pack_4x1(w.data(), n, k));
  SpmmDesc desc;
  desc.epilogue.output = OutputType::s32;
  const SpmmPrimitive prim(packed, desc);
  std::string family = env;
  family.erase(std::remove(family.begin(), family.end(), '_'), family.end());
  EXPECT_NE(std::string(prim.implementation()).find(family), std::string::npos) << prim.implementation();
  std::vector<int32_t> got(size_t(n * m)), want(got.size());
  SpmmArgs a;
  a.x = x.data(), a.ldx = m, a.m = m, a.x_zero_point = 3, a.y = got.data(), a.ldy = m;
  prim.execute(a);
  a.y = want.data();
  reference_spmm(w.data(), packed->scales.data(), n, k, ActivationType::u8, desc.epilogue, a);
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace fastbert::kernels
