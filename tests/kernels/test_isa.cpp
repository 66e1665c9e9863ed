#include <gtest/gtest.h>

#include "fastbert/common/error.h"
#include "fastbert/kernels/isa.h"

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

TEST(Isa, DefaultHonoursTheEnvironment) {
  // default_isa() reads FASTBERT_ISA once; whatever it holds in this process,
  // the default must equal what the override rule makes of it.
  const char* env = std::getenv("FASTBERT_ISA");
  EXPECT_EQ(default_isa(), isa_from_override(env ? env : ""));
}

}  // namespace
}  // namespace fastbert::kernels
