#include "fastbert/kernels/gelu.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include <cstring>
#include <memory>

#include "fastbert/common/error.h"
#include "fastbert/kernels/block_sparse.h"
#include "fastbert/kernels/epilogue.h"
#include "fastbert/kernels/isa.h"
#include "fastbert/kernels/quantize.h"
#include "fastbert/kernels/spmm.h"
#include "ops_test_util.h"

namespace fastbert {
namespace {

bool cpu_runs(const GeluKernel& path) { return kernels::cpu_supports(path.isa); }

// gelu(x, rows, cols, ld, bias) in place through one entry of the table.
void gelu_in_place(float* x, int64_t rows, int64_t cols, int64_t ld, const float* bias, const GeluKernel& kernel) {
  GeluArgs a;
  a.rows = rows, a.cols = cols;
  a.x = x, a.ld_x = ld, a.bias = bias;
  a.y = x, a.ld_y = ld;
  gelu(a, kernel);
}

class GeluPathTest : public ::testing::TestWithParam<GeluKernel> {};

TEST_P(GeluPathTest, MatchesErfDefinitionWithRowBiasWithin6e6) {
  const GeluKernel& path = GetParam();
  if (!cpu_runs(path)) GTEST_SKIP() << "path not supported by this CPU";
  const int64_t rows = 5, cols = 37, ld = 41;
  std::vector<float> x = test::random_floats(size_t(rows * ld), 4, -8.0f, 8.0f);
  x[0] = 0.0f, x[1] = -0.0f, x[2] = 1e-30f, x[3] = -30.0f, x[4] = 30.0f;
  const std::vector<float> bias = test::random_floats(size_t(rows), 5);
  std::vector<float> y = x;
  gelu_in_place(y.data(), rows, cols, ld, bias.data(), path);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < ld; ++c) {
      const float got = y[r * ld + c];
      if (c >= cols) {
        ASSERT_EQ(got, x[r * ld + c]) << "touched the stride padding";
        continue;
      }
      const double v = double(x[r * ld + c]) + bias[r];
      const double want = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
      ASSERT_NEAR(got, want, 6e-6 * std::max(1.0, std::abs(v))) << "v=" << v;
    }
  }
}

TEST_P(GeluPathTest, FusedU8OutputIsExactlyQuantizingTheFp32OutputAndXIsUntouched) {
  const GeluKernel& path = GetParam();
  if (!cpu_runs(path)) GTEST_SKIP() << "path not supported by this CPU";
  const int64_t rows = 6, cols = 45, ld = 48;
  const std::vector<float> x = test::random_floats(size_t(rows * ld), 8, -4.0f, 4.0f);
  const std::vector<float> bias = test::random_floats(size_t(rows), 9);
  std::vector<float> y(x.size(), NAN);
  std::vector<uint8_t> q(x.size(), 0xAB);
  GeluArgs a;
  a.rows = rows, a.cols = cols;
  a.x = x.data(), a.ld_x = ld, a.bias = bias.data();
  a.y = y.data(), a.ld_y = ld;
  a.y_u8 = q.data(), a.ld_y_u8 = ld;
  a.u8_scale = 0.015f, a.u8_zero_point = 20;  // negative tail and large values both saturate
  const std::vector<float> x_before = x;
  gelu(a, path);
  EXPECT_EQ(x, x_before) << "out of place must not write x";
  int saturated = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const float yv = y[r * ld + c];
      const int want = std::min(255, std::max(0, int(std::nearbyint(yv * (1.0f / 0.015f))) + 20));
      ASSERT_EQ(int(q[r * ld + c]), want) << "r=" << r << " c=" << c << " y=" << yv;
      saturated += want == 0 || want == 255;
    }
    for (int64_t c = cols; c < ld; ++c) ASSERT_EQ(q[r * ld + c], 0xAB) << "wrote past the row";
  }
  EXPECT_GT(saturated, 0) << "the data should exercise the clamp";
}


bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

// The dense fp32 path (gelu() after the sgemm) and the sparse int8 path
// (GELU fused into the SpMM epilogue, JIT or intrinsics) compute GELU by one
// formula: on a sweep of pre-activations, every GELU path gives the bits of
// the epilogue's gelu_scalar, and the SpMM of every ISA gives the bits of
// gelu() of its own pre-activations.
TEST(Gelu, DenseAndSparsePathsComputeGeluByOneFormulaBitForBit) {
  std::vector<float> sweep;
  for (float v = -12.0f; v <= 12.0f; v += 1.0f / 4096) sweep.push_back(v);
  // Segment ends, the range end and its neighbours, infinities and NaN.
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 0.1875f, -0.1875f, 5.8125f, 5.999999f, -5.999999f, 6.0f, -6.0f,
                  6.000001f, 30.0f, -30.0f, 1e6f, INFINITY, -INFINITY, NAN})
    sweep.push_back(v);
  for (const GeluKernel& path : gelu_kernels()) {
    if (!cpu_runs(path)) continue;
    std::vector<float> y(sweep.size());
    GeluArgs a;
    a.rows = 1, a.cols = static_cast<int64_t>(sweep.size());
    a.x = sweep.data(), a.ld_x = a.cols;
    a.y = y.data(), a.ld_y = a.cols;
    gelu(a, path);
    for (size_t i = 0; i < sweep.size(); ++i)
      ASSERT_TRUE(same_bits(y[i], kernels::gelu_scalar(sweep[i])))
          << path.name << " x=" << sweep[i] << ": " << y[i] << " vs " << kernels::gelu_scalar(sweep[i]);
  }

  // A sparse weight with one 1 per row: output (n, t) is
  // gelu(fma(t - 128, w_scale[n], bias[n])), 64 rows x 256 tokens of
  // pre-activations spread over about [-12, 12].
  const int64_t n = 64, k = 4, m = 256;
  std::vector<int8_t> w(n * k, 0);
  std::vector<float> w_scale(n), bias(n);
  for (int64_t r = 0; r < n; ++r) {
    w[r * k + r % k] = 1;
    w_scale[r] = 12.0f / 128 * (1.0f + 0.013f * float(r));
    bias[r] = 0.0371f * float(r - n / 2);
  }
  auto packed = std::make_shared<const kernels::BlockSparseMatrix>(kernels::pack_4x1(w.data(), n, k, nullptr, w_scale.data()));
  std::vector<uint8_t> x(k * m);
  for (int64_t f = 0; f < k; ++f)
    for (int64_t t = 0; t < m; ++t) x[f * m + t] = static_cast<uint8_t>(t);
  std::vector<float> pre(n * m), want(n * m);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t t = 0; t < m; ++t) pre[r * m + t] = std::fma(float(t - 128), 1.0f * w_scale[r], bias[r]);
  want = pre;
  gelu(want.data(), n, m, m, nullptr);  // the dense path
  for (kernels::Isa isa : kernels::supported_isas()) {
    kernels::SpmmDesc desc;
    desc.epilogue.gelu = true;
    desc.isa = isa;
    const kernels::SpmmPrimitive spmm(packed, desc);
    std::vector<float> got(n * m);
    kernels::SpmmArgs args;
    args.x = x.data(), args.ldx = m, args.m = m;
    args.x_scale = 1.0f, args.x_zero_point = 128;
    args.bias = bias.data();
    args.y = got.data(), args.ldy = m;
    spmm.execute(args);
    for (int64_t i = 0; i < n * m; ++i)
      ASSERT_TRUE(same_bits(got[i], want[i])) << kernels::isa_name(isa) << " row " << i / m << " token " << i % m
                                               << ": " << got[i] << " vs dense " << want[i];
  }
}


// The stand-alone quantizer is the fused one: quantizing GELU's fp32 output
// gives the u8 GELU wrote itself, on every path, saturation included.
TEST(QuantizeU8, EqualsTheFusedU8OutputOfEveryGeluPathAndRefusesABadScale) {
  const int64_t cols = 1000;
  const std::vector<float> x = test::random_floats(size_t(cols), 21, -6.0f, 6.0f);
  for (const GeluKernel& path : gelu_kernels()) {
    if (!cpu_runs(path)) continue;
    std::vector<float> y(x.size());
    std::vector<uint8_t> fused(x.size()), separate(x.size());
    GeluArgs a;
    a.rows = 1, a.cols = cols;
    a.x = x.data(), a.ld_x = cols;
    a.y = y.data(), a.ld_y = cols;
    a.y_u8 = fused.data(), a.ld_y_u8 = cols;
    a.u8_scale = 0.013f, a.u8_zero_point = 17;
    gelu(a, path);
    kernels::quantize_u8(y.data(), cols, 0.013f, 17, separate.data());
    EXPECT_EQ(separate, fused) << path.name;
  }
  std::vector<uint8_t> out(4);
  const float v[4] = {1e30f, -1e30f, 0.5f, -0.5f};
  kernels::quantize_u8(v, 4, 1.0f, 3, out.data());
  EXPECT_EQ(out, (std::vector<uint8_t>{255, 0, 3, 3})) << "saturation and round half to even";
  EXPECT_THROW(kernels::quantize_u8(v, 4, 0.0f, 3, out.data()), Error);
  EXPECT_THROW(kernels::quantize_u8(v, 4, 1.0f, 256, out.data()), Error);
}

INSTANTIATE_TEST_SUITE_P(AllPaths, GeluPathTest,
                         ::testing::ValuesIn(gelu_kernels()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(Gelu, InPlaceFormComputesGeluAndRefusesBadArguments) {
  std::vector<float> x = {-1.0f, 0.0f, 1.0f, 2.0f};
  gelu(x.data(), 1, 4, 4, nullptr);
  EXPECT_NEAR(x[0], -0.15865525f, 6e-6);
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_NEAR(x[2], 0.84134475f, 6e-6);
  EXPECT_NEAR(x[3], 1.95449974f, 6e-6);
  EXPECT_THROW(gelu(x.data(), 1, 4, 3, nullptr), Error) << "ld < cols";
  GeluArgs a;
  a.rows = 1, a.cols = 4, a.x = x.data(), a.ld_x = 4;
  EXPECT_THROW(gelu(a), Error) << "no output";
}

}  // namespace
}  // namespace fastbert
