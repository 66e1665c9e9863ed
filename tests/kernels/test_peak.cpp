#include <gtest/gtest.h>

#include "fastbert/kernels/isa.h"
#include "fastbert/kernels/peak.h"

namespace fastbert::kernels {
namespace {

TEST(VnniPeak, MeasuresAPlausibleRate) {
  if (!cpu_supports(Isa::avx512_vnni)) GTEST_SKIP() << "no AVX512-VNNI on this CPU";
  const double gops = measure_vnni_peak_gops(1, 0.02);
  // One core: at least 1 vpdpbusd per 4 cycles at 1 GHz, at most 2 per cycle at 6 GHz.
  EXPECT_GT(gops, 2.0 * 64 * 0.25);
  EXPECT_LT(gops, 2.0 * 64 * 2 * 6.0);
}

}  // namespace
}  // namespace fastbert::kernels
